#!/usr/bin/env bats
# The backup and baseline entry points on a machine: Backup.sh and CreateWebrootBaseline.sh,
# with the original arguments, against a real SeaweedFS and a real git repository.

load helpers

setup_file() { start_services; }
teardown_file() { stop_services; }

setup() {
  new_machine
  WEBROOT="${BATS_TEST_TMPDIR}/html"
  mkdir -p "${WEBROOT}/wp-content"
  echo "<?php // ${WEBSITE}" > "${WEBROOT}/index.php"
  echo "body { color: red }" > "${WEBROOT}/wp-content/style.css"
}

@test "Backup.sh: a webserver of an uninstalled fleet does not back up, and says so" {
  run "${ROOT}/application/backupscripts/Backup.sh" HOURLY
  assert_success
  assert_output --partial "not backing up: the fleet is not installed yet"
}

@test "Backup.sh: an unknown periodicity names the ones there are" {
  run "${ROOT}/application/backupscripts/Backup.sh" FORTNIGHTLY
  assert_failure 1
  assert_output --partial "unknown backup periodicity 'FORTNIGHTLY'"
  assert_output --partial "HOURLY, DAILY, WEEKLY, MONTHLY, BIMONTHLY, MANUAL, SHUTDOWN"
}

@test "adt backup website twice: the previous generation is kept as .BACKUP and verifies" {
  run adt backup website DAILY --webroot "${WEBROOT}"
  assert_success
  run adt backup website DAILY --webroot "${WEBROOT}"
  assert_success
  run adt backup verify DAILY --key applicationsourcecode.tar.gz.BACKUP
  assert_success
  assert_output --partial "verified"
}

@test "CreateWebrootBaseline.sh <id>: published to an empty repository, then refused when it is not empty" {
  echo "APPLICATION:wordpress" >> "${SETTINGS}"
  run "${ROOT}/application/backupscripts/CreateWebrootBaseline.sh" shop --webroot "${WEBROOT}" \
    --remote-base "${BATS_TEST_TMPDIR}/git"
  assert_success
  assert_output --partial "published shop-webroot-sourcecode-baseline"
  run git -C "${BATS_TEST_TMPDIR}/git/shop-webroot-sourcecode-baseline.git" show main:index.php
  assert_output "<?php // applicationdomainwww.tld"
  run "${ROOT}/application/backupscripts/CreateWebrootBaseline.sh" shop --webroot "${WEBROOT}" \
    --remote-base "${BATS_TEST_TMPDIR}/git"
  assert_failure 1
  assert_output --partial "is not empty"
}

@test "CreateWebrootBaseline.sh without an identifier asks for one" {
  run bash -c "echo shop2 | '${ROOT}/application/backupscripts/CreateWebrootBaseline.sh' --webroot '${WEBROOT}' --remote-base '${BATS_TEST_TMPDIR}/git'"
  assert_success
  assert_output --partial "published shop2-webroot-sourcecode-baseline"
}

@test "VerifyBackupPresent.sh <period>: verifies this machine's backup of that periodicity, fails on a missing one" {
  run adt backup website WEEKLY --webroot "${WEBROOT}"
  assert_success
  run "${ROOT}/application/backupscripts/VerifyBackupPresent.sh" WEEKLY
  assert_success
  assert_output --partial "verified"
  run "${ROOT}/application/backupscripts/VerifyBackupPresent.sh" MONTHLY
  assert_failure 1
  assert_output --partial "-monthly failed to read applicationsourcecode.tar.gz: NoSuchBucket"
}

@test "StartAgentFromCron.sh: starts the agent once, then says nothing while it runs" {
  export ADT_AGENT_SOCKET="${BATS_TEST_TMPDIR}/agent/agent.sock"
  run "${ROOT}/cron/StartAgentFromCron.sh"
  assert_success
  assert_output --partial "adt agent started"
  run "${ROOT}/cron/StartAgentFromCron.sh"
  assert_success
  assert_output ""
  run adt agent stop
  assert_success
}
