#!/usr/bin/env bats
# RenewSSLCertificate.sh on a webserver: the published pair installed once, then nothing new; nothing published
# and a broken pair are failures that say why. A real SeaweedFS; the pair made by openssl (nginx not running here:
# nothing to reload).

load helpers

setup_file() { start_services; }
teardown_file() { stop_services; }

setup() {
  new_machine
  RENEW="${ROOT}/providerscripts/security/ssl/RenewSSLCertificate.sh"
  LIVE="${ADT_HOME}/ssl/live/${WEBSITE}"
}

# a self-signed pair for the site in ./<dir>/ (fullchain.pem, privkey.pem)
make_pair() {
  mkdir -p "$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/privkey.pem" \
    -out "$1/fullchain.pem" -days 2 -subj "/CN=${WEBSITE}" -addext "subjectAltName=DNS:${WEBSITE}" 2>/dev/null
}

publish() {
  "${WRAPPERS}/PutToConfigDatastore.sh" "$1/fullchain.pem" "ssl/${WEBSITE}" no
  "${WRAPPERS}/PutToConfigDatastore.sh" "$1/privkey.pem" "ssl/${WEBSITE}" no
}

@test "RenewSSLCertificate.sh: nothing published fails and says where it looked" {
  run "${RENEW}"
  assert_failure 1
  assert_output --partial "no certificate for ${WEBSITE} is published (looked in s3://${BUCKET}/ssl/${WEBSITE}/)"
  [ ! -e "${LIVE}" ]
}

@test "RenewSSLCertificate.sh: a published pair is installed root's 0400, then there is nothing new" {
  make_pair one
  publish one
  run "${RENEW}"
  assert_success
  assert_output --partial "installed the certificate for ${WEBSITE} (serial "
  cmp one/fullchain.pem "${LIVE}/fullchain.pem"
  run stat -c '%U %a' "${LIVE}/privkey.pem" "${LIVE}"
  assert_output "root 400
root 700"
  run "${RENEW}"
  assert_success
  assert_output --partial "nothing new: the live certificate of ${WEBSITE} is the published one"
}

@test "RenewSSLCertificate.sh: a key that is not the certificate's is never installed (exit 1)" {
  make_pair one
  publish one
  "${RENEW}"
  make_pair two
  make_pair three
  mkdir mixed
  cp two/fullchain.pem three/privkey.pem mixed/
  publish mixed
  run "${RENEW}"
  assert_failure 1
  assert_output --partial "privkey.pem is not the key of the certificate in fullchain.pem (the live pair stays in service)"
  cmp one/fullchain.pem "${LIVE}/fullchain.pem"
  cmp one/privkey.pem "${LIVE}/privkey.pem"
}
