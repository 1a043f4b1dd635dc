#!/usr/bin/env bats
# The fleet helpers against a real development fleet on the local cloud host (built once for the file):
# ConnectTo*, ExecuteOn*, CopyTo*, CopyFrom* (webserver and database) and ShutdownInfrastructure.sh.

setup_file() {
  ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/../.." && pwd)"
  export BUILD_HOME="${BATS_FILE_TMPDIR}/buildhome" ADT_LOCAL_STATE="${BATS_FILE_TMPDIR}/state"
  export PATH="${ROOT}/.venv/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  mkdir -p "${BUILD_HOME}"
  adt template set VPC_IP_RANGE=10.174.0.0/24 "$(cp "${ROOT}/templates/local/local1.tmpl" "${BATS_FILE_TMPDIR}/t1.tmpl" && echo "${BATS_FILE_TMPDIR}/t1.tmpl")" --force
  "${ROOT}/ExpeditedAgileDeploymentToolkit.sh" local debian 1 bats --template-file "${BATS_FILE_TMPDIR}/t1.tmpl" \
    > "${BATS_FILE_TMPDIR}/build.log" 2>&1 || { cat "${BATS_FILE_TMPDIR}/build.log" >&3; return 1; }
}

teardown_file() {
  adt destroy -c local -b bats --yes >/dev/null 2>&1 || true
}

setup() {
  bats_load_library bats-support
  bats_load_library bats-assert
  ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/../.." && pwd)"
  H="${ROOT}/helperscripts"
  cd "${BATS_TEST_TMPDIR}"
}

@test "ExecuteOnWebserver.sh runs one command string there and passes its exit status" {
  run "$H/ExecuteOnWebserver.sh" "hostname; exit 4"
  assert_failure 4
  assert_output --partial "ws-local-bats-"
}

@test "ExecuteOnDatabase.sh reaches the database machine" {
  run "$H/ExecuteOnDatabase.sh" "hostname"
  assert_success
  assert_output --partial "db-local-bats-"
}

@test "ConnectToWebserver.sh and ConnectToDatabase.sh open a shell (commands on stdin here)" {
  run bash -c "echo 'ls /var/www/html/wp-config.php' | '$H/ConnectToWebserver.sh'"
  assert_success
  assert_output --partial "/var/www/html/wp-config.php"
  run bash -c "echo hostname | '$H/ConnectToDatabase.sh'"
  assert_output --partial "db-local-bats-"
}

@test "CopyToWebserver.sh and CopyFromWebserver.sh move a file both ways" {
  echo "round trip" > note.txt
  run "$H/CopyToWebserver.sh" note.txt
  assert_success
  assert_output --partial "copied note.txt to 10.174.0."
  run "$H/CopyFromWebserver.sh" note.txt --local-dir back
  assert_success
  assert_equal "$(cat back/note.txt)" "round trip"
}

@test "CopyToDatabase.sh and CopyFromDatabase.sh, and a missing local file" {
  echo "to the db" > db.txt
  run "$H/CopyToDatabase.sh" db.txt --remote-dir /var/www
  assert_success
  run "$H/CopyFromDatabase.sh" /var/www/db.txt --local-dir got
  assert_equal "$(cat got/db.txt)" "to the db"
  run "$H/CopyToDatabase.sh" no-such-file
  assert_failure 1
  assert_output --partial "no-such-file does not exist"
}

@test "helpers name a machine that is not in the build" {
  run "$H/ExecuteOnWebserver.sh" hostname --ip 10.174.0.99
  assert_failure 1
  assert_output --partial "10.174.0.99 is not a webserver of local/bats"
}

@test "ShutdownInfrastructure.sh asks, and 'n' keeps the fleet" {
  run bash -c "echo n | '$H/ShutdownInfrastructure.sh'"
  assert_failure 1
  assert_output --partial "Are you sure"
  run "$H/ExecuteOnWebserver.sh" true
  assert_success
}

@test "ShutdownInfrastructure.sh: 'y' destroys every machine of the build" {
  run bash -c "echo y | '$H/ShutdownInfrastructure.sh'"
  assert_success
  assert_output --partial "taking the SHUTDOWN backup of the website"
  assert_output --partial "www-adt-demo-local-shutdown/applicationsourcecode.tar.gz verified"
  assert_output --partial "shut down 2 machine(s) of local/bats"
  run "$H/ExecuteOnWebserver.sh" true
  assert_failure 1
  assert_output --partial "no running webserver in build local/bats"
}
