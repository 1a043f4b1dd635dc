# Shared set-up for the bats suites: a real SeaweedFS per file, a fresh machine home per test.
ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/../.." && pwd)"
WRAPPERS="${ROOT}/providerscripts/datastore/configwrapper"

start_services() {
  "${ROOT}/tests/services/s3.sh" start "${BATS_FILE_TMPDIR}/s3" >/dev/null
  if [ -n "${ADT_BATS_AGENT:-}" ]; then
    mkdir -p "${BATS_FILE_TMPDIR}/agent"
    ADT_AGENT_SOCKET="${BATS_FILE_TMPDIR}/agent/agent.sock" ADT_HOME="${BATS_FILE_TMPDIR}" \
      "${ROOT}/.venv/bin/adt" agent start >/dev/null
  fi
}

stop_services() {
  if [ -n "${ADT_BATS_AGENT:-}" ]; then
    ADT_AGENT_SOCKET="${BATS_FILE_TMPDIR}/agent/agent.sock" "${ROOT}/.venv/bin/adt" agent stop >/dev/null
  fi
  "${ROOT}/tests/services/s3.sh" stop "${BATS_FILE_TMPDIR}/s3"
}

new_machine() {
  bats_load_library bats-support
  bats_load_library bats-assert
  . "${BATS_FILE_TMPDIR}/s3/env"
  export PATH="${ROOT}/.venv/bin:/usr/bin:/bin"
  export ADT_HOME="${BATS_TEST_TMPDIR}/home" ADT_HOMEDIR_FILE="${BATS_TEST_TMPDIR}/none"
  export ADT_AGENT_SOCKET="${BATS_FILE_TMPDIR}/agent/agent.sock"
  [ -n "${ADT_BATS_AGENT:-}" ] && export ADT_AGENT=on || export ADT_AGENT=off
  mkdir -p "${ADT_HOME}/runtime"
  WEBSITE="www.b${BATS_TEST_NUMBER}x$$.example.com"
  BUCKET="$(echo "${WEBSITE}" | tr . -)-config-batu"
  SETTINGS="${ADT_HOME}/runtime/webserver_configuration_settings.dat"
  cat > "${SETTINGS}" <<SETTINGS
WEBSITEURL:${WEBSITE}
SERVERUSER:BatUser
S3ACCESSKEY:${ADT_S3_ACCESS_KEY}
S3SECRETKEY:${ADT_S3_SECRET_KEY}
S3LOCATION:us-east-1
S3HOSTBASE:${ADT_S3_ENDPOINT}
DBNAME:appdb
DBUSERNAME:appuser
SETTINGS
  cd "${BATS_TEST_TMPDIR}"
}
