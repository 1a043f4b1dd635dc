#!/usr/bin/env bats
# The build machine's certificate entry points: InitialiseNewSSLCertificate.sh [url|none] [yes] [id] [cloudhost]
# (the renewal cron line) and ManuallyUpdateSSLCertificate.sh [--fullchain F --privkey K]: arguments, refusals and
# exit codes. Issuance itself runs against pebble in tests/integration/test_ssl_issue.py.

setup() {
  bats_load_library bats-support
  bats_load_library bats-assert
  ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/../.." && pwd)"
  export PATH="${ROOT}/.venv/bin:/usr/bin:/bin"
  export BUILD_HOME="${BATS_TEST_TMPDIR}/buildhome"
  export ADT_CRON_D="${BATS_TEST_TMPDIR}/cron.d"
  mkdir -p "${BUILD_HOME}/runtimedata/local/t1" "${ADT_CRON_D}"
  printf 'WEBSITE_URL=www.example.com\nSERVER_USER=Xuser\nDNS_CHOICE=powerdns\nSSL_GENERATION_SERVICE=ZEROSSL\n' \
    >"${BUILD_HOME}/runtimedata/local/t1/build_environment"
  cd "${BATS_TEST_TMPDIR}"
}

@test "InitialiseNewSSLCertificate.sh: the original's words, a build that does not exist is named" {
  run "${ROOT}/initscripts/InitialiseNewSSLCertificate.sh" none none nosuch local
  assert_failure 1
  assert_output --partial "build local/nosuch has no build_environment"
  refute_output --partial "Traceback"
}

@test "InitialiseNewSSLCertificate.sh: authenticator certificates (yes) are refused in one line" {
  run "${ROOT}/initscripts/InitialiseNewSSLCertificate.sh" FILLER yes t1 local
  assert_failure 1
  assert_output --partial "authenticator certificates are not built by adt"
}

@test "ManuallyUpdateSSLCertificate.sh: --fullchain without --privkey is a usage error" {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out chain.pem -days 2 \
    -subj "/CN=www.example.com" 2>/dev/null
  run "${ROOT}/helperscripts/ManuallyUpdateSSLCertificate.sh" -c local -b t1 --fullchain chain.pem
  assert_failure 2
  assert_output --partial "give both --fullchain and --privkey, or neither"
}

@test "adt ssl status: no certificate issued says so and exits 1" {
  run adt ssl status -c local -b t1
  assert_failure 1
  assert_output "local/t1: no certificate issued (adt ssl renew issues one)"
}

@test "adt ssl --help lists issue, renew, status, install and initialise" {
  run adt ssl --help
  assert_success
  for word in issue renew status install initialise; do assert_output --partial "  ${word}"; done
}
