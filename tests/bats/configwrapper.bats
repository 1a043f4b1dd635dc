#!/usr/bin/env bats
# The six configwrapper entry points: arguments, output and exit codes as the original's.
# Run plain (in-process) and with ADT_BATS_AGENT=1 (through the agent).

load helpers

setup_file() { start_services; }
teardown_file() { stop_services; }
setup() { new_machine; }

@test "PutToConfigDatastore.sh: a value under a place becomes a zero-byte key" {
  run "${WRAPPERS}/PutToConfigDatastore.sh" 10.0.0.7 webserverips
  assert_success
  assert_output ""
  run "${WRAPPERS}/ListFromConfigDatastore.sh" webserverips/
  assert_output "10.0.0.7"
}

@test "PutToConfigDatastore.sh: the 2025-07 form (place is the whole key) and the bucket root" {
  "${WRAPPERS}/PutToConfigDatastore.sh" 10.0.0.9 autoscalerip/10.0.0.9 no
  "${WRAPPERS}/PutToConfigDatastore.sh" INSTALLED_SUCCESSFULLY
  run "${WRAPPERS}/ListFromConfigDatastore.sh" "" recursive fullpath
  assert_line --partial "s3://${BUCKET}/autoscalerip/10.0.0.9"
  assert_line --partial "s3://${BUCKET}/INSTALLED_SUCCESSFULLY"
  assert_equal "${#lines[@]}" 2
}

@test "PutToConfigDatastore.sh: a file is uploaded; 'yes' removes it afterwards, 'no' keeps it" {
  echo "<?php // config" > wordpress_config.php
  run "${WRAPPERS}/PutToConfigDatastore.sh" wordpress_config.php "" no
  assert_success
  [ -f wordpress_config.php ]
  run "${WRAPPERS}/PutToConfigDatastore.sh" wordpress_config.php "" yes
  assert_success
  [ ! -f wordpress_config.php ]
  run "${WRAPPERS}/GetFromConfigDatastore.sh" wordpress_config.php "${BATS_TEST_TMPDIR}/runtime"
  assert_success
  run cat "${BATS_TEST_TMPDIR}/runtime/wordpress_config.php"
  assert_output "<?php // config"
}

@test "PutToConfigDatastore.sh: bad arguments are usage errors (exit 2)" {
  run "${WRAPPERS}/PutToConfigDatastore.sh"
  assert_failure 2
  assert_output --partial "Usage:"
  run "${WRAPPERS}/PutToConfigDatastore.sh" a b maybe
  assert_failure 2
}

@test "GetFromConfigDatastore.sh: to a directory, to a file path, and a missing key" {
  echo "db settings" > drupal_settings.php
  "${WRAPPERS}/PutToConfigDatastore.sh" drupal_settings.php
  rm drupal_settings.php
  run "${WRAPPERS}/GetFromConfigDatastore.sh" drupal_settings.php
  assert_success
  [ "$(cat drupal_settings.php)" = "db settings" ]
  run "${WRAPPERS}/GetFromConfigDatastore.sh" drupal_settings.php "${BATS_TEST_TMPDIR}/r/drupal_settings.php"
  assert_success
  [ "$(cat "${BATS_TEST_TMPDIR}/r/drupal_settings.php")" = "db settings" ]
  run "${WRAPPERS}/GetFromConfigDatastore.sh" nothing_here.php
  assert_failure 1
  assert_output "Key doesn't exist"
  run "${WRAPPERS}/GetFromConfigDatastore.sh"
  assert_failure 2
}

@test "ListFromConfigDatastore.sh: base names, s3cmd prefix matching, empty when nothing matches" {
  for ip in 10.0.0.1 10.0.0.12 10.0.0.2; do "${WRAPPERS}/PutToConfigDatastore.sh" "$ip" beenonline; done
  run "${WRAPPERS}/ListFromConfigDatastore.sh" beenonline/10.0.0.1
  assert_success
  assert_output "$(printf '10.0.0.1\n10.0.0.12')"
  run "${WRAPPERS}/ListFromConfigDatastore.sh" "beenonline/*"
  assert_equal "${#lines[@]}" 3
  run "${WRAPPERS}/ListFromConfigDatastore.sh" webserverips/
  assert_success
  assert_output ""
  run "${WRAPPERS}/ListFromConfigDatastore.sh" x sideways
  assert_failure 2
}

@test "ListFromConfigDatastore.sh: a literal compare works as callers use it" {
  "${WRAPPERS}/PutToConfigDatastore.sh" INSTALLED_SUCCESSFULLY
  [ "$("${WRAPPERS}/ListFromConfigDatastore.sh" INSTALLED_SUCCESSFULLY)" = "INSTALLED_SUCCESSFULLY" ]
}

@test "CheckConfigDatastore.sh: 1 for a present prefix, 0 for absent or empty" {
  "${WRAPPERS}/PutToConfigDatastore.sh" 10.0.0.4 databaseip
  run "${WRAPPERS}/CheckConfigDatastore.sh" databaseip
  assert_output "1"
  run "${WRAPPERS}/CheckConfigDatastore.sh" databaseip/10.0.0.4
  assert_output "1"
  run "${WRAPPERS}/CheckConfigDatastore.sh" webserverips
  assert_success
  assert_output "0"
  run "${WRAPPERS}/CheckConfigDatastore.sh"
  assert_output "0"
}

@test "DeleteFromConfigDatastore.sh: one key, a wildcard, and 'yes' for a prefix" {
  for k in 1 2 3; do "${WRAPPERS}/PutToConfigDatastore.sh" "10.0.0.$k" webserverips; done
  "${WRAPPERS}/PutToConfigDatastore.sh" STATIC_SCALE:3
  "${WRAPPERS}/PutToConfigDatastore.sh" STATIC_SCALE:4
  run "${WRAPPERS}/DeleteFromConfigDatastore.sh" webserverips/10.0.0.1
  assert_success
  assert_equal "$("${WRAPPERS}/ListFromConfigDatastore.sh" webserverips/ | tr '\n' ' ')" "10.0.0.2 10.0.0.3 "
  run "${WRAPPERS}/DeleteFromConfigDatastore.sh" "webserverips/*"
  assert_success
  assert_equal "$("${WRAPPERS}/CheckConfigDatastore.sh" webserverips)" "0"
  run "${WRAPPERS}/DeleteFromConfigDatastore.sh" STATIC_SCALE: yes
  assert_success
  assert_equal "$("${WRAPPERS}/ListFromConfigDatastore.sh" "")" ""
  run "${WRAPPERS}/DeleteFromConfigDatastore.sh" x perhaps
  assert_failure 2
}

@test "DeleteFromConfigDatastore.sh: the January 2026 form <key> <local> <recursive> prints s3cmd's lines" {
  "${WRAPPERS}/PutToConfigDatastore.sh" INSTALLED_SUCCESSFULLY
  "${WRAPPERS}/PutToConfigDatastore.sh" backuplock.web-1.file
  "${WRAPPERS}/PutToConfigDatastore.sh" 10.0.0.7 webserverips
  "${WRAPPERS}/PutToConfigDatastore.sh" 10.0.0.8 webserverips/sub
  run "${WRAPPERS}/DeleteFromConfigDatastore.sh" INSTALLED_SUCCESSFULLY yes no
  assert_success
  assert_output "delete: 's3://${BUCKET}/INSTALLED_SUCCESSFULLY'"
  run "${WRAPPERS}/DeleteFromConfigDatastore.sh" "backuplock.*.file" yes no
  assert_success
  assert_output "delete: 's3://${BUCKET}/backuplock.web-1.file'"
  run "${WRAPPERS}/DeleteFromConfigDatastore.sh" webserverips/ no yes
  assert_success
  assert_output "$(printf "delete: 's3://%s/webserverips/10.0.0.7'\ndelete: 's3://%s/webserverips/sub/10.0.0.8'" "${BUCKET}" "${BUCKET}")"
  assert_equal "$("${WRAPPERS}/ListFromConfigDatastore.sh" "")" ""
  run "${WRAPPERS}/DeleteFromConfigDatastore.sh" x no perhaps
  assert_failure 2
  run "${WRAPPERS}/DeleteFromConfigDatastore.sh" x no no no
  assert_failure 2
}

@test "DeleteFromConfigDatastore.sh: every key of the bucket only with --all-keys" {
  "${WRAPPERS}/PutToConfigDatastore.sh" INSTALLED_SUCCESSFULLY
  run "${WRAPPERS}/DeleteFromConfigDatastore.sh" "" yes
  assert_failure 2
  assert_output --partial "refusing to delete every key of the configuration datastore"
  run "${WRAPPERS}/DeleteFromConfigDatastore.sh" "*" yes
  assert_failure 2
  run "${WRAPPERS}/DeleteFromConfigDatastore.sh" "" no yes
  assert_failure 2
  run "${WRAPPERS}/DeleteFromConfigDatastore.sh" "*"
  assert_failure 2
  assert_output --partial "refusing to delete every key at the root"
  assert_equal "$("${WRAPPERS}/ListFromConfigDatastore.sh" "")" "INSTALLED_SUCCESSFULLY"
  run "${WRAPPERS}/DeleteFromConfigDatastore.sh" "" yes --all-keys
  assert_success
  assert_output "delete: 's3://${BUCKET}/INSTALLED_SUCCESSFULLY'"
}

@test "ListFromConfigDatastore.sh: a pattern is cut at its first '*'; the July form <key> '' fullpath" {
  "${WRAPPERS}/PutToConfigDatastore.sh" backuplock.web-1.file
  "${WRAPPERS}/PutToConfigDatastore.sh" additions1.tar.gz webrootsync/additions
  run "${WRAPPERS}/ListFromConfigDatastore.sh" "backuplock.*.file"
  assert_success
  assert_output "backuplock.web-1.file"
  run "${WRAPPERS}/ListFromConfigDatastore.sh" "webrootsync/additions/additions*.tar.gz"
  assert_output "additions1.tar.gz"
  run "${WRAPPERS}/ListFromConfigDatastore.sh" backuplock "" fullpath
  assert_success
  assert_output --regexp "^[0-9-]+ [0-9:]+ +0  s3://${BUCKET}/backuplock.web-1.file$"
}

@test "GetDBCredential.sh: the settings file first, then line N of the datastore key" {
  run "${WRAPPERS}/GetDBCredential.sh" credentials/shit 1
  assert_success
  assert_output "appdb"
  run "${WRAPPERS}/GetDBCredential.sh" username
  assert_output "appuser"
  run "${WRAPPERS}/GetDBCredential.sh" password
  assert_failure 1
  assert_output --partial "DBPASSWORD"
  printf 'appdb\ns3cr3t\nappuser\n' > shit
  "${WRAPPERS}/PutToConfigDatastore.sh" shit credentials
  run "${WRAPPERS}/GetDBCredential.sh" credentials/shit 2
  assert_success
  assert_output "s3cr3t"
  run "${WRAPPERS}/GetDBCredential.sh" credentials/shit 7
  assert_failure 2
}

@test "wrappers: a missing settings file is one line naming it, exit 1" {
  rm "${SETTINGS}"
  run "${WRAPPERS}/CheckConfigDatastore.sh" anything
  assert_failure 1
  assert_line --index 0 --partial "${ADT_HOME}/runtime"
  refute_output --partial "Traceback"
}

@test "wrappers: work from cron's environment (HOME and a minimal PATH only, /home/homedir.dat style)" {
  echo "${ADT_HOME}" > "${BATS_TEST_TMPDIR}/homedir.dat"
  "${WRAPPERS}/PutToConfigDatastore.sh" CRONKEY
  run env -i HOME=/root PATH=/usr/bin:/bin ADT_HOMEDIR_FILE="${BATS_TEST_TMPDIR}/homedir.dat" \
    ADT_AGENT_SOCKET="${ADT_AGENT_SOCKET}" ADT_AGENT="${ADT_AGENT}" \
    /bin/sh -c "PATH=${ROOT}/.venv/bin:\$PATH ${WRAPPERS}/ListFromConfigDatastore.sh CRONKEY"
  assert_success
  assert_output "CRONKEY"
}
