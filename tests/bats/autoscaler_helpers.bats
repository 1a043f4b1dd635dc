#!/usr/bin/env bats
# The autoscaler helpers (ConnectToAutoscaler.sh, ExecuteOnAutoscaler.sh, CopyToAutoscaler.sh,
# CopyFromAutoscaler.sh) and the machine choice every helper shares: their arguments, which machine they
# reach, and the errors. The build is a build_environment and the local driver's machine records (held by
# PID 1, so they count as running) on loopback addresses where nothing listens on the SSH port: the ssh
# or scp that a helper starts names the machine it was pointed at, and fails at once.

setup() {
  bats_load_library bats-support
  bats_load_library bats-assert
  ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/../.." && pwd)"
  H="${ROOT}/helperscripts"
  export PATH="${ROOT}/.venv/bin:/usr/bin:/bin"
  export ADT_BUILD_HOME="${BATS_TEST_TMPDIR}/home" ADT_BUILDHOME_FILE="${BATS_TEST_TMPDIR}/none"
  export ADT_LOCAL_STATE="${BATS_TEST_TMPDIR}/state"
  build="${ADT_BUILD_HOME}/runtimedata/local/as1"
  mkdir -p "${build}"
  echo local > "${ADT_BUILD_HOME}/runtimedata/ACTIVE_CLOUDHOST"
  echo as1 > "${ADT_BUILD_HOME}/runtimedata/ACTIVE_BUILD_IDENTIFIER"
  printf 'SSH_PORT=1\nREGION=local\nVPC_IP_RANGE=10.190.0.0/24\nSERVER_USER=XbatsX\n' > "${build}/build_environment"
  switch="$(python -c 'from adt.cloud.local import LocalDriver; print(LocalDriver("10.190.0.0/24").switch)')"
  cd "${BATS_TEST_TMPDIR}"
}

machine() {  # machine NAME ADDRESS
  mkdir -p "${ADT_LOCAL_STATE}/$1"
  printf '{"name": "%s", "ip": "%s", "switch": "%s", "holder": 1, "role": "%s"}\n' "$1" "$2" "${switch}" \
    "$(python -c "from adt.cloud.base import role_of; print(role_of('$1'))")" > "${ADT_LOCAL_STATE}/$1/machine.json"
}

two_autoscalers() {
  machine NO-2-as-local-as1-Xq 127.0.0.62
  machine NO-1-as-local-as1-Xq 127.0.0.61
  machine ws-local-as1-0-Xq-init-1 127.0.0.71
}

@test "the four autoscaler helpers are adt fleet's connect, exec, copy-to and copy-from with a machine choice" {
  for pair in ConnectToAutoscaler:"connect [OPTIONS]" ExecuteOnAutoscaler:"exec [OPTIONS] COMMAND" \
      CopyToAutoscaler:"copy-to [OPTIONS] [LOCAL_FILE]" CopyFromAutoscaler:"copy-from [OPTIONS] [REMOTE_FILE]"; do
    run "$H/${pair%%:*}.sh" --help
    assert_success
    assert_line --index 0 "Usage: adt fleet ${pair#*:}"
    assert_output --partial "--machine, --ip N|IP|NAME"
  done
}

@test "with no autoscaler, each helper says so" {
  machine ws-local-as1-0-Xq-init-1 127.0.0.71
  run "$H/ExecuteOnAutoscaler.sh" hostname
  assert_failure 1
  assert_output "adt: no running autoscaler in build local/as1"
  run "$H/ConnectToAutoscaler.sh"
  assert_failure 1
  assert_output "adt: no running autoscaler in build local/as1"
}

@test "one autoscaler is reached without a choice" {
  machine NO-1-as-local-as1-Xq 127.0.0.61
  run "$H/ExecuteOnAutoscaler.sh" "hostname"
  assert_failure 255
  assert_output --partial "127.0.0.61 port 1"
}

@test "several autoscalers and no terminal: an error that lists them by number" {
  two_autoscalers
  run "$H/ExecuteOnAutoscaler.sh" hostname
  assert_failure 1
  assert_line --index 0 "adt: build local/as1 has 2 autoscalers: say which"
  assert_line --index 1 \
    "  hint: pass --machine with a number, an address or a name: 1: 127.0.0.61 (NO-1-as-local-as1-Xq), 2: 127.0.0.62 (NO-2-as-local-as1-Xq)"
}

@test "--machine chooses by number, address or name; --ip still works" {
  two_autoscalers
  run "$H/ExecuteOnAutoscaler.sh" hostname --machine 2
  assert_failure 255
  assert_output --partial "127.0.0.62 port 1"
  run "$H/ConnectToAutoscaler.sh" --machine NO-1-as-local-as1-Xq
  assert_failure 255
  assert_output --partial "127.0.0.61 port 1"
  run "$H/ExecuteOnAutoscaler.sh" hostname --ip 127.0.0.62
  assert_output --partial "127.0.0.62 port 1"
  run "$H/ExecuteOnWebserver.sh" hostname --machine 1
  assert_output --partial "127.0.0.71 port 1"
}

@test "a choice that is not a machine of the role names the ones there are" {
  two_autoscalers
  run "$H/ExecuteOnAutoscaler.sh" hostname --machine 3
  assert_failure 1
  assert_line --index 0 "adt: build local/as1 has no autoscaler number 3 (it has 2)"
  run "$H/ExecuteOnAutoscaler.sh" hostname --machine 127.0.0.71
  assert_failure 1
  assert_line --index 0 "adt: 127.0.0.71 is not an autoscaler of local/as1"
}

@test "CopyToAutoscaler.sh and CopyFromAutoscaler.sh take the file first and reach the chosen machine" {
  two_autoscalers
  echo note > note.txt
  run "$H/CopyToAutoscaler.sh" note.txt --machine 1 --remote-dir /tmp
  assert_failure 1
  assert_output --partial "copying note.txt to 127.0.0.61"
  run "$H/CopyToAutoscaler.sh" missing.txt --machine 1
  assert_failure 1
  assert_output "adt: missing.txt does not exist"
  run "$H/CopyFromAutoscaler.sh" notes/today.log --machine 127.0.0.62 --local-dir got
  assert_failure 1
  assert_output --partial "copying /home/XbatsX/notes/today.log from 127.0.0.62"
}
