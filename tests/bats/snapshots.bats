#!/usr/bin/env bats
# ObtainWholeMachineSnapshot.sh: its arguments reach `adt snapshot take`; no build is a clear error.
# (It is run on a live machine in tests/integration/test_local_snapshots.py.)

setup() {
  bats_load_library bats-support
  bats_load_library bats-assert
  ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/../.." && pwd)"
  export PATH="${ROOT}/.venv/bin:/usr/bin:/bin"
  export BUILD_HOME="${BATS_TEST_TMPDIR}/buildhome" ADT_LOCAL_STATE="${BATS_TEST_TMPDIR}/state"
  mkdir -p "${BUILD_HOME}"
  cd "${BATS_TEST_TMPDIR}"
}

@test "ObtainWholeMachineSnapshot.sh --help is adt snapshot take's" {
  run "${ROOT}/helperscripts/ObtainWholeMachineSnapshot.sh" --help
  assert_success
  assert_output --partial "Usage: adt snapshot take [OPTIONS]"
  assert_output --partial "--role [autoscaler|webserver|database|authenticator|reverseproxy]"
}

@test "ObtainWholeMachineSnapshot.sh with no active build exits 1 and says what to pass" {
  run "${ROOT}/helperscripts/ObtainWholeMachineSnapshot.sh" --dry-run
  assert_failure 1
  assert_output --partial "no build given and ${BUILD_HOME}/runtimedata/ACTIVE_CLOUDHOST is not set"
  refute_output --partial "Traceback"
}

@test "ObtainWholeMachineSnapshot.sh: a build with no machines exits 1 naming it" {
  mkdir -p "${BUILD_HOME}/runtimedata/local/empty"
  printf 'VPC_IP_RANGE=10.191.0.0/24\nWEBSITE_URL=www.example.com\n' > "${BUILD_HOME}/runtimedata/local/empty/build_environment"
  run "${ROOT}/helperscripts/ObtainWholeMachineSnapshot.sh" -c local -b empty --role webserver
  assert_failure 1
  assert_output --partial "build local/empty has no machines of webserver"
}

@test "ObtainWholeMachineSnapshot.sh: an unknown role is a usage error" {
  run "${ROOT}/helperscripts/ObtainWholeMachineSnapshot.sh" --role mailserver
  assert_failure 2
  assert_output --partial "Invalid value for '--role'"
}
