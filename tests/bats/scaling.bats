#!/usr/bin/env bats
# The scaling entry points: helperscripts/AdjustScaling.sh on the build machine, and on an autoscaler
# utilities/processing/ScalingUpdateEvent.sh and ManuallyScale.sh: their arguments, output, exit codes, and the
# scaling profile they leave in both layouts on a real SeaweedFS.

load helpers

setup_file() { start_services; }
teardown_file() { stop_services; }

setup() {
  new_machine
  AS="${ROOT}/utilities/processing"
  AS_SETTINGS="${ADT_HOME}/runtime/autoscaler_configuration_settings.dat"
  rm "${SETTINGS}"
  write_autoscaler_settings 2 10
  export ADT_BUILD_HOME="${BATS_TEST_TMPDIR}/buildhome" ADT_BUILDHOME_FILE="${BATS_TEST_TMPDIR}/none"
  BUILD_ENV="${ADT_BUILD_HOME}/runtimedata/local/sc1/build_environment"
  mkdir -p "$(dirname "${BUILD_ENV}")"
  echo local > "${ADT_BUILD_HOME}/runtimedata/ACTIVE_CLOUDHOST"
  echo sc1 > "${ADT_BUILD_HOME}/runtimedata/ACTIVE_BUILD_IDENTIFIER"
  write_build_environment 1
  SCALING="$(echo "${WEBSITE}" | tr . -)-scaling-local-lon1"
}

write_autoscaler_settings() {  # NOAUTOSCALERS MAXWEBSERVERS
  cat > "${AS_SETTINGS}" <<SETTINGS
WEBSITEURL:${WEBSITE}
SERVERUSER:BatUser
CLOUDHOST:local
REGION:lon1
NOAUTOSCALERS:$1
MAXWEBSERVERS:$2
S3ACCESSKEY:${ADT_S3_ACCESS_KEY}
S3SECRETKEY:${ADT_S3_SECRET_KEY}
S3LOCATION:us-east-1
S3HOSTBASE:${ADT_S3_ENDPOINT}
SETTINGS
}

write_build_environment() {  # PRODUCTION
  cat > "${BUILD_ENV}" <<ENVIRONMENT
WEBSITE_URL=${WEBSITE}
SERVER_USER=BatUser
REGION=lon1
PRODUCTION=$1
NO_AUTOSCALERS=2
MAX_WEBSERVERS=10
S3_HOST_BASE=${ADT_S3_ENDPOINT}
S3_ACCESS_KEY=${ADT_S3_ACCESS_KEY}
S3_SECRET_KEY=${ADT_S3_SECRET_KEY}
S3_LOCATION=us-east-1
ENVIRONMENT
}

keys() {  # keys BUCKET: every key, one a line
  python - "$1" <<'PY'
import os, sys
import boto3
client = boto3.client("s3", endpoint_url=os.environ["ADT_S3_ENDPOINT"], region_name="us-east-1",
                      aws_access_key_id=os.environ["ADT_S3_ACCESS_KEY"],
                      aws_secret_access_key=os.environ["ADT_S3_SECRET_KEY"])
try:
    for item in client.list_objects_v2(Bucket=sys.argv[1]).get("Contents", []):
        print(item["Key"])
except client.exceptions.NoSuchBucket:
    pass
PY
}

@test "each script's --help names its command and arguments" {
  run "${ROOT}/helperscripts/AdjustScaling.sh" --help
  assert_success
  assert_line --index 0 "Usage: adt scale adjust [OPTIONS] [COUNT]..."
  assert_output --partial "--total N"
  for script in ScalingUpdateEvent ManuallyScale; do
    run "${AS}/${script}.sh" --help
    assert_success
    assert_line --index 0 "Usage: adt scale update-event [OPTIONS] TOTAL"
  done
}

@test "ScalingUpdateEvent.sh <total>: split over the autoscalers, both layouts, the local marker" {
  mkdir -p "${ADT_HOME}/runtime/scaling"
  touch "${ADT_HOME}/runtime/scaling/STATIC_SCALE:2:2"
  run "${AS}/ScalingUpdateEvent.sh" 5
  assert_success
  assert_output "autoscaler-1:3 autoscaler-2:2"
  run keys "${SCALING}"
  assert_output "$(printf 'autoscaler-1/STATIC_SCALE:3\nautoscaler-2/STATIC_SCALE:2')"
  run keys "${BUCKET}"
  assert_output "STATIC_SCALE:3:2"
  run ls "${ADT_HOME}/runtime/scaling"
  assert_output "STATIC_SCALE:5"
}

@test "ManuallyScale.sh <total> again replaces the counts, one object per autoscaler" {
  "${AS}/ManuallyScale.sh" 5
  run "${AS}/ManuallyScale.sh" 2
  assert_success
  assert_output "autoscaler-1:1 autoscaler-2:1"
  run keys "${SCALING}"
  assert_output "$(printf 'autoscaler-1/STATIC_SCALE:1\nautoscaler-2/STATIC_SCALE:1')"
  run keys "${BUCKET}"
  assert_output "STATIC_SCALE:1:1"
}

@test "the update event's usage errors exit 2" {
  run "${AS}/ScalingUpdateEvent.sh"
  assert_failure 2
  assert_output --partial "Missing argument 'TOTAL'"
  run "${AS}/ManuallyScale.sh" three
  assert_failure 2
  assert_output --partial "TOTAL must be a whole number >= 0, not 'three'"
  run "${AS}/ManuallyScale.sh" 2.5
  assert_failure 2
  run "${AS}/ManuallyScale.sh" 1 2
  assert_failure 2
  assert_output --partial "Got unexpected extra argument (2)"
  run keys "${SCALING}"
  assert_output ""
}

@test "a total beyond MAXWEBSERVERS per autoscaler is capped with a warning" {
  write_autoscaler_settings 2 3
  run "${AS}/ScalingUpdateEvent.sh" 9
  assert_success
  assert_line --index 0 \
    "adt: warning: 9 webservers is over the cap of 6 for 2 autoscaler(s) (MAXWEBSERVERS each, at most 20): scaling to 6"
  assert_line --index 1 "autoscaler-1:3 autoscaler-2:3"
  run ls "${ADT_HOME}/runtime/scaling"
  assert_output "STATIC_SCALE:6"
}

@test "the update event without NOAUTOSCALERS says what to do" {
  sed -i '/^NOAUTOSCALERS:/d' "${AS_SETTINGS}"
  run "${AS}/ScalingUpdateEvent.sh" 3
  assert_failure 1
  assert_line --index 0 "adt: NOAUTOSCALERS in ${AS_SETTINGS} is '', not a number of autoscalers >= 1"
  run "${AS}/ScalingUpdateEvent.sh" 3 --autoscalers 3
  assert_success
  assert_output "autoscaler-1:1 autoscaler-2:1 autoscaler-3:1"
}

@test "AdjustScaling.sh refuses a build that is not production" {
  write_build_environment 0
  run "${ROOT}/helperscripts/AdjustScaling.sh" --total 4
  assert_failure 1
  assert_line --index 0 "adt: build local/sc1 is not a production build (PRODUCTION is not 1)"
  run keys "${SCALING}"
  assert_output ""
}

@test "AdjustScaling.sh --total, then --autoscaler N COUNT, then counts: both layouts follow" {
  run "${ROOT}/helperscripts/AdjustScaling.sh" --total 5
  assert_success
  assert_output "$(printf 'autoscaler-1: 3\nautoscaler-2: 2')"
  run "${ROOT}/helperscripts/AdjustScaling.sh" --autoscaler autoscaler-2 4
  assert_success
  assert_output "$(printf 'autoscaler-1: 3\nautoscaler-2: 4')"
  run keys "${SCALING}"
  assert_output "$(printf 'autoscaler-1/STATIC_SCALE:3\nautoscaler-2/STATIC_SCALE:4')"
  run keys "${BUCKET}"
  assert_output "STATIC_SCALE:3:4"
  run "${ROOT}/helperscripts/AdjustScaling.sh" 1 0 --yes
  assert_success
  run keys "${BUCKET}"
  assert_output "STATIC_SCALE:1:0"
}

@test "AdjustScaling.sh caps a count with a warning and refuses an autoscaler the build does not have" {
  "${ROOT}/helperscripts/AdjustScaling.sh" --total 2
  run "${ROOT}/helperscripts/AdjustScaling.sh" --autoscaler 1 30
  assert_success
  assert_line --index 0 "adt: warning: autoscaler-1: 30 is over the cap, 10 kept (MAX_WEBSERVERS, at most 20)"
  assert_line --index 1 "autoscaler-1: 10"
  run "${ROOT}/helperscripts/AdjustScaling.sh" --autoscaler 3 1
  assert_failure 1
  assert_line --index 0 "adt: build local/sc1 has 2 autoscaler(s) (NO_AUTOSCALERS), not autoscaler-3"
}

@test "AdjustScaling.sh usage errors exit 2 and change nothing" {
  run "${ROOT}/helperscripts/AdjustScaling.sh"
  assert_failure 2
  assert_output --partial "give --autoscaler N COUNT, COUNT... or --total N (no terminal to ask on)"
  run "${ROOT}/helperscripts/AdjustScaling.sh" --total 4 2
  assert_failure 2
  assert_output --partial "give either --total or counts, not both"
  run "${ROOT}/helperscripts/AdjustScaling.sh" --autoscaler 1
  assert_failure 2
  assert_output --partial "--autoscaler takes exactly one COUNT"
  run "${ROOT}/helperscripts/AdjustScaling.sh" --autoscaler x 1
  assert_failure 2
  assert_output --partial "'x' is not an autoscaler number"
  run "${ROOT}/helperscripts/AdjustScaling.sh" --total -3
  assert_failure 2
  assert_output --partial "--total must be a whole number >= 0, not '-3'"
  run keys "${SCALING}"
  assert_output ""
}

@test "adt scale show reads an older fleet's profile, and a schedule gives the count in force" {
  adt --role autoscaler config put STATIC_SCALE:4:1
  run adt scale show
  assert_success
  assert_line --index 0 "autoscaler    current  older  in force  cap  schedule (UTC)"
  assert_line --index 1 "autoscaler-1  -        4      4         10   -"
  assert_line --index 2 "autoscaler-2  -        1      1         10   -"
  run adt scale schedule set --autoscaler 2 --rule '* 00:00-24:00 12'
  assert_success
  assert_output "autoscaler-2: 1 rule(s) stored"
  run adt scale show
  assert_line --index 2 "autoscaler-2  -        1      12*->10   10   * 00:00-24:00 12"
  run adt scale schedule set --autoscaler 2 --rule 'mon 9-10 2'
  assert_failure 1
  assert_output --partial "schedule line 1 ('mon 9-10 2') is not '<days> <HH:MM>-<HH:MM> <count>'"
  run adt scale schedule show --autoscaler 2
  assert_output "* 00:00-24:00 12"
  run adt scale schedule clear --autoscaler 2
  assert_success
  run adt scale show --json
  assert_output --partial '"in_force": 1,'
}

@test "AdjustScaling.sh on a build that was never built says so" {
  run "${ROOT}/helperscripts/AdjustScaling.sh" --total 2 -b neverbuilt
  assert_failure 1
  assert_line --index 0 "adt: build local/neverbuilt has no build_environment"
}
