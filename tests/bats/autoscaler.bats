#!/usr/bin/env bats
# The autoscaler's cron entry points (cron/PerformScalingFromCron.sh, cron/DeadOrAliveFromCron.sh) and
# `adt autoscaler`: on a development fleet they do nothing; on a production one they start the service once,
# which waits until the fleet is built, then records every cycle in its event log (here each cycle fails: this
# machine has no cloud API, and says so).

load helpers

setup_file() { start_services; }
teardown_file() { stop_services; }

setup() {
  new_machine
  rm "${SETTINGS}"
  export ADT_AUTOSCALER_LOCK="${BATS_TEST_TMPDIR}/run/autoscaler.lock"
  export ADT_AUTOSCALER_EVENTS="${BATS_TEST_TMPDIR}/log/autoscaler-events.jsonl"
  export ADT_AUTOSCALER_NUMBER=1
  AS_SETTINGS="${ADT_HOME}/runtime/autoscaler_configuration_settings.dat"
  write_settings 0
}

teardown() {
  adt autoscaler stop >/dev/null 2>&1 || true
}

write_settings() {  # PRODUCTION
  cat > "${AS_SETTINGS}" <<SETTINGS
WEBSITEURL:${WEBSITE}
SERVERUSER:BatUser
CLOUDHOST:local
REGION:lon1
BUILDIDENTIFIER:bats
PRODUCTION:$1
NOWEBSERVERS:1
NOAUTOSCALERS:1
SCALINGINTERVAL:1
DNSCHOICE:NONE
S3ACCESSKEY:${ADT_S3_ACCESS_KEY}
S3SECRETKEY:${ADT_S3_SECRET_KEY}
S3LOCATION:us-east-1
S3HOSTBASE:${ADT_S3_ENDPOINT}
SETTINGS
}

@test "the cron entry points do nothing on a development fleet" {
  for entry in PerformScalingFromCron.sh DeadOrAliveFromCron.sh; do
    run "${ROOT}/cron/${entry}"
    assert_success
    assert_output "not a production fleet (PRODUCTION is not 1): no scaling"
  done
  [ ! -e "${BATS_TEST_TMPDIR}/run/autoscaler.pid" ]
  [ ! -e "${ADT_AUTOSCALER_EVENTS}" ]
}

@test "before the fleet is built the service only waits, and says so once" {
  write_settings 1
  run "${ROOT}/cron/PerformScalingFromCron.sh"
  assert_success
  for _ in $(seq 100); do [ -s "${ADT_AUTOSCALER_EVENTS}" ] && break; sleep 0.1; done
  sleep 3  # three more cycles
  run adt autoscaler events
  assert_success
  assert_output --regexp '^[0-9-]+ [0-9:]+ - wait: the fleet is not built yet, or SWITCH_OFF_SCALING is set -> nothing done$'
}

@test "on a production fleet the cron lines start the service once, and stop ends it" {
  write_settings 1
  ( cd "${BATS_TEST_TMPDIR}" && touch INSTALLED_SUCCESSFULLY && adt --role autoscaler config put INSTALLED_SUCCESSFULLY )
  run "${ROOT}/cron/PerformScalingFromCron.sh"
  assert_success
  assert_output --regexp '^autoscaler service started \([0-9]+\)$'
  pid="$(echo "${output}" | tr -dc 0-9)"
  for _ in $(seq 100); do [ -s "${ADT_AUTOSCALER_EVENTS}" ] && break; sleep 0.1; done
  run "${ROOT}/cron/DeadOrAliveFromCron.sh"  # it runs: nothing more is started
  assert_success
  assert_output ""
  run adt autoscaler events --json
  assert_success
  assert_line --partial '"action": "cycle"'
  assert_line --partial 'CLOUDAPIURL is not in this autoscaler'
  run adt autoscaler stop
  assert_success
  assert_output "autoscaler service ${pid} stopped"
  ! kill -0 "${pid}" 2>/dev/null
  run adt autoscaler stop
  assert_output "the autoscaler service is not running"
}

@test "a second service refuses to run beside the first" {
  write_settings 1
  run "${ROOT}/cron/PerformScalingFromCron.sh"
  assert_success
  for _ in $(seq 100); do [ -s "${ADT_AUTOSCALER_LOCK%.lock}.pid" ] && break; sleep 0.1; done
  run adt autoscaler run
  assert_failure 1
  assert_output --partial "adt: the autoscaler service runs already"
}

@test "events prints the latest decisions, oldest first" {
  mkdir -p "$(dirname "${ADT_AUTOSCALER_EVENTS}")"
  printf '%s\n' \
    '{"time": 1796200000, "autoscaler": 1, "webserver": "ws-lon1-bats-1-batu-a1b2", "ip": "10.0.0.5", "action": "create", "reason": "1 of 2 counted", "result": "created at 10.0.0.5"}' \
    'not json' \
    '{"time": 1796200060, "autoscaler": 1, "webserver": "ws-lon1-bats-1-batu-a1b2", "ip": "10.0.0.5", "action": "dns-add", "reason": "serves the site", "result": "added"}' \
    > "${ADT_AUTOSCALER_EVENTS}"
  run env TZ=UTC adt autoscaler events --last 1
  assert_success
  assert_output "2026-12-02 08:27:40 ws-lon1-bats-1-batu-a1b2 dns-add: serves the site -> added"
  run env TZ=UTC adt autoscaler events
  assert_success
  assert_line --index 0 "2026-12-02 08:26:40 ws-lon1-bats-1-batu-a1b2 create: 1 of 2 counted -> created at 10.0.0.5"
  [ "${#lines[@]}" -eq 2 ]
}

@test "a bad option is a usage error" {
  run adt autoscaler run --interval soon
  assert_failure 2
  assert_output --partial "Invalid value for '--interval'"
  run adt autoscaler events --last many
  assert_failure 2
}

@test "plan on a machine that is no autoscaler asks the build's autoscalers, and says when there is no build" {
  rm "${AS_SETTINGS}"
  export ADT_BUILD_HOME="${BATS_TEST_TMPDIR}/buildhome" ADT_BUILDHOME_FILE="${BATS_TEST_TMPDIR}/none"
  mkdir -p "${ADT_BUILD_HOME}/runtimedata"
  run adt autoscaler plan
  assert_failure 1
  assert_output --partial "adt: no build given and ${ADT_BUILD_HOME}/runtimedata/ACTIVE_CLOUDHOST is not set"
  run adt autoscaler plan --help
  assert_success
  assert_output --partial "What the next cycle would do"
}
