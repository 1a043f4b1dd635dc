#!/usr/bin/env bats
# helperscripts/PerformRestoreDrill.sh: the restore drill's entry point; what it refuses before anything is built.
# (A drill on a real fleet runs in tests/integration/test_local_production.py.)

bats_require_minimum_version 1.5.0

setup() {
  bats_load_library bats-support
  bats_load_library bats-assert
  ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/../.." && pwd)"
  export PATH="${ROOT}/.venv/bin:/usr/bin:/bin"
  export BUILD_HOME="${BATS_TEST_TMPDIR}/buildhome"
  mkdir -p "${BUILD_HOME}/runtimedata"
  S="${ROOT}/helperscripts/PerformRestoreDrill.sh"
}

@test "--help names the checks, the records and a cron line" {
  run "${S}" --help
  assert_success
  assert_output --partial "Usage: adt drill [OPTIONS]"
  assert_output --partial "drills/<UTC stamp>.json and drills/latest.json"
  assert_output --partial "PerformRestoreDrill.sh --period daily"
  refute_output --partial "digest"
}

@test "a period that is not temporal is refused, exit 1" {
  run "${S}" --period manual -c local -b prod
  assert_failure 1
  assert_output --partial "adt: a drill restores a temporal backup, not 'manual'"
}

@test "without a build and no active one it says which, exit 1" {
  run "${S}"
  assert_failure 1
  assert_output --partial "adt: no build given and"
}

@test "a build that was never built is refused before anything is made, exit 1" {
  run "${S}" -c local -b neverbuilt --period DAILY
  assert_failure 1
  assert_output --partial "adt: build local/neverbuilt has no build_environment"
  [ ! -e "${BUILD_HOME}/runtimedata/ACTIVE_BUILD_IDENTIFIER" ]
}
