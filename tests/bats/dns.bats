#!/usr/bin/env bats
# The DNS entry points (providerscripts/dns/*.sh, autoscaler/*DNS*.sh) with the original's argument orders,
# against a real PowerDNS on loopback and a real SeaweedFS (the autoscaler scripts' INSTALLED_SUCCESSFULLY gate).

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
  start_services
  read -r DNS_PORT API_PORT <<<"$("${ROOT}/.venv/bin/python" -c 'from adt.datastore.seaweed import free_ports; print(*free_ports(2))')"
  "${ROOT}/.venv/bin/python" -c "
import sys
from adt.dns.powerdns import PowerDnsServer
PowerDnsServer(sys.argv[1]).start('127.0.0.1', int(sys.argv[2]), int(sys.argv[3])).ensure_zone('adt-demo.local')
" "${BATS_FILE_TMPDIR}/pdns" "${DNS_PORT}" "${API_PORT}"
  export DNS_PORT API_PORT
}

teardown_file() {
  "${ROOT}/.venv/bin/python" -c 'import sys; from adt.dns.powerdns import PowerDnsServer; PowerDnsServer(sys.argv[1]).stop()' \
    "${BATS_FILE_TMPDIR}/pdns"
  stop_services
}

setup() {
  new_machine
  WEBSITE="w${BATS_TEST_NUMBER}x$$.adt-demo.local"  # a config bucket of the test's own, in the zone adt-demo.local
  sed -i "s/^WEBSITEURL:.*/WEBSITEURL:${WEBSITE}/" "${SETTINGS}"
  printf 'DNSCHOICE:powerdns\nDNSAPIURL:http://127.0.0.1:%s\nDNSSECURITYKEY:%s\nDNSUSERNAME:me@example.com\n' \
    "${API_PORT}" "$(cat "${BATS_FILE_TMPDIR}/pdns/api-key")" >> "${SETTINGS}"
  D="${ROOT}/providerscripts/dns"
  A="${ROOT}/autoscaler"
}

teardown() {
  for ip in $("${D}/GetIPAddresses.sh" "" "${WEBSITE}" 2>/dev/null); do "${D}/DeleteRecord.sh" "" "${ip}" >/dev/null; done
}

@test "GetZoneID.sh <zonename> <email> <credentials> <dns> prints the zone; a missing zone prints nothing, exit 1" {
  run "${D}/GetZoneID.sh" adt-demo.local me@example.com ignored powerdns
  assert_success
  assert_output "adt-demo.local"
  run --separate-stderr "${D}/GetZoneID.sh" example.org me@example.com ignored powerdns
  assert_failure 1
  assert_output ""
}

@test "AddRecord.sh (both orders), GetRecordID.sh, GetIPAddresses.sh, DeleteRecord.sh" {
  run "${D}/AddRecord.sh" adt-demo.local me@example.com ignored "${WEBSITE}" 10.0.0.1 powerdns
  assert_success
  run "${D}/AddRecord.sh" adt-demo.local me@example.com ignored "${WEBSITE}" 10.0.0.2 true powerdns
  assert_success
  run "${D}/AddRecord.sh" adt-demo.local me@example.com ignored "${WEBSITE}" 10.0.0.2 powerdns
  assert_output "already there: ${WEBSITE} A 10.0.0.2"
  run "${D}/GetIPAddresses.sh" adt-demo.local "${WEBSITE}" me@example.com ignored powerdns
  assert_output "$(printf '10.0.0.1\n10.0.0.2')"
  run dig +short @127.0.0.1 -p "${DNS_PORT}" "${WEBSITE}" A
  assert_line 10.0.0.1
  assert_line 10.0.0.2
  run "${D}/GetRecordID.sh" adt-demo.local "${WEBSITE}" 10.0.0.2 me@example.com ignored powerdns
  assert_success
  assert_output "10.0.0.2"
  run "${D}/GetRecordID.sh" adt-demo.local "${WEBSITE}" 10.0.0.9 me@example.com ignored powerdns
  assert_success
  assert_output ""
  run "${D}/DeleteRecord.sh" adt-demo.local 10.0.0.1 me@example.com ignored powerdns
  assert_success
  run "${D}/DeleteRecord.sh" adt-demo.local 10.0.0.1 me@example.com ignored powerdns "${WEBSITE}"
  assert_success
  assert_output "not there: ${WEBSITE} A 10.0.0.1"
  run "${D}/GetIPAddresses.sh" adt-demo.local "${WEBSITE}" me@example.com ignored powerdns
  assert_output "10.0.0.2"
}

@test "bad arguments are usage errors (exit 2); a wrong key is named" {
  run "${D}/AddRecord.sh" adt-demo.local me@example.com ignored "${WEBSITE}"
  assert_failure 2
  assert_output --partial "give the address to add"
  run "${D}/GetIPAddresses.sh" a b c d e f
  assert_failure 2
  assert_output --partial "at most 5 arguments"
  sed -i 's/^DNSSECURITYKEY:.*/DNSSECURITYKEY:wrong/' "${SETTINGS}"
  run "${D}/GetIPAddresses.sh"
  assert_failure 1
  assert_output --partial "answered 401"
}

@test "the autoscaler's AddIPToDNS.sh, GetDNSIPs.sh, RemoveIPFromDNS.sh act only once the fleet is installed" {
  run "${A}/AddIPToDNS.sh" 10.0.0.5
  assert_success
  assert_output ""
  run "${D}/GetIPAddresses.sh"
  assert_output ""
  "${WRAPPERS}/PutToConfigDatastore.sh" INSTALLED_SUCCESSFULLY
  run "${A}/AddIPToDNS.sh" 10.0.0.5
  assert_success
  run "${A}/AddIPToDNS.sh" 10.0.0.6
  run "${A}/GetDNSIPs.sh"
  assert_output "10.0.0.5 10.0.0.6"
  run "${A}/RemoveIPFromDNS.sh" 10.0.0.5
  assert_success
  run "${A}/RemoveIPFromDNS.sh" 10.0.0.5
  assert_success
  run "${A}/GetDNSIPs.sh"
  assert_output "10.0.0.6"
}
