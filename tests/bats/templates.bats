#!/usr/bin/env bats
# The template entry points: ValidateTemplate.sh, GetVariableValue.sh, SetVariableValue.sh,
# EditTemplate.sh and GenerateOverrideTemplate.sh, with the original arguments.

setup() {
  bats_load_library bats-support
  bats_load_library bats-assert
  ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/../.." && pwd)"
  export PATH="${ROOT}/.venv/bin:/usr/bin:/bin"
  export BUILD_HOME="${BATS_TEST_TMPDIR}/buildhome"
  mkdir -p "${BUILD_HOME}"
  cp -r "${ROOT}/templates" "${BUILD_HOME}/templates"
  cd "${BATS_TEST_TMPDIR}"
}

@test "ValidateTemplate.sh: a valid template exits 0" {
  run "${ROOT}/templatedconfigurations/ValidateTemplate.sh" "${BUILD_HOME}/templates/local/local1.tmpl"
  assert_success
  assert_output --partial "local1.tmpl: valid"
}

@test "ValidateTemplate.sh: every problem at once, naming variable, value and what is allowed; exit 1" {
  t="${BUILD_HOME}/templates/digitalocean/digitalocean3.tmpl"
  sed -i 's/^export REGION="lon1"/export REGION="lon9"/; s/^export NO_AUTOSCALERS="1"/export NO_AUTOSCALERS="0"/' "$t"
  run "${ROOT}/templatedconfigurations/ValidateTemplate.sh" "$t"
  assert_failure 1
  assert_output --partial 'REGION="lon9": not allowed on digitalocean; allowed: nyc1'
  assert_output --partial 'NO_AUTOSCALERS="0", PRODUCTION="1": PRODUCTION needs at least one autoscaler'
  assert_output --partial 'TOKEN="": MANDATORY value missing'
}

@test "ValidateTemplate.sh: a template that does not parse names file and line" {
  printf 'export A="1"\nrm -rf /\n' > bad.tmpl
  run "${ROOT}/templatedconfigurations/ValidateTemplate.sh" bad.tmpl
  assert_failure 1
  assert_output --partial "bad.tmpl:2: expected export NAME="
  refute_output --partial "Traceback"
}

@test "ValidateTemplate.sh: no argument and no current template is a usage error" {
  run "${ROOT}/templatedconfigurations/ValidateTemplate.sh"
  assert_failure 2
}

@test "SetVariableValue.sh and GetVariableValue.sh: the active build's environment" {
  mkdir -p "${BUILD_HOME}/runtimedata"
  echo linode > "${BUILD_HOME}/runtimedata/ACTIVE_CLOUDHOST"
  echo b1 > "${BUILD_HOME}/runtimedata/ACTIVE_BUILD_IDENTIFIER"
  run "${ROOT}/helperscripts/SetVariableValue.sh" REGION=gb-lon
  assert_success
  run "${ROOT}/helperscripts/GetVariableValue.sh" REGION
  assert_success
  assert_output "gb-lon"
  "${ROOT}/helperscripts/SetVariableValue.sh" REGION=us-east
  assert_equal "$(grep -c '^REGION=' "${BUILD_HOME}/runtimedata/linode/b1/build_environment")" 1
  assert_equal "$(stat -c %a "${BUILD_HOME}/runtimedata/linode/b1/build_environment")" 600
  run "${ROOT}/helperscripts/GetVariableValue.sh" UNSET_NAME
  assert_failure 1
  assert_output ""
}

@test "GetVariableValue.sh: prints values as the original (quotes removed), secrets too, for scripts" {
  mkdir -p "${BUILD_HOME}/runtimedata/vultr/b2"
  printf 'TOKEN="vultr-secret"\nWEBSITE_URL=www.example.com\n' > "${BUILD_HOME}/runtimedata/vultr/b2/build_environment"
  echo vultr > "${BUILD_HOME}/runtimedata/ACTIVE_CLOUDHOST"
  echo b2 > "${BUILD_HOME}/runtimedata/ACTIVE_BUILD_IDENTIFIER"
  run "${ROOT}/helperscripts/GetVariableValue.sh" TOKEN
  assert_output "vultr-secret"
  run "${ROOT}/helperscripts/GetVariableValue.sh" WEBSITE_URL
  assert_output "www.example.com"
}

@test "GetVariableValue.sh / SetVariableValue.sh: no active build is a clear error" {
  run "${ROOT}/helperscripts/GetVariableValue.sh" REGION
  assert_failure 1
  assert_output --partial "ACTIVE_CLOUDHOST is not set"
  run "${ROOT}/helperscripts/SetVariableValue.sh" REGION
  assert_failure 2
}

@test "EditTemplate.sh <cloudhost> <file>: edits through \$EDITOR and checks the result" {
  printf '#!/bin/sh\nsed -i "s/^export REGION=\\"lhr\\"/export REGION=\\"ewr\\"/" "$1"\n' > editor.sh
  chmod +x editor.sh
  EDITOR="${BATS_TEST_TMPDIR}/editor.sh" run "${ROOT}/helperscripts/EditTemplate.sh" vultr vultr1.tmpl
  assert_success
  assert_output --partial "vultr1.tmpl: saved"
  grep -q '^export REGION="ewr"' "${BUILD_HOME}/templates/vultr/vultr1.tmpl"
}

@test "EditTemplate.sh: a broken edit leaves the template unchanged" {
  before="$(cat "${BUILD_HOME}/templates/local/local1.tmpl")"
  printf '#!/bin/sh\necho "oops" >> "$1"\n' > editor.sh
  chmod +x editor.sh
  EDITOR="${BATS_TEST_TMPDIR}/editor.sh" run "${ROOT}/helperscripts/EditTemplate.sh" local local1.tmpl
  assert_failure 1
  assert_output --partial "is unchanged"
  assert_equal "$(cat "${BUILD_HOME}/templates/local/local1.tmpl")" "$before"
}

@test "GenerateOverrideTemplate.sh [stack]: writes overridescripts/<ch><N>override.tmpl and the UDF lines" {
  run "${ROOT}/helperscripts/GenerateOverrideTemplate.sh" stack --cloudhost local --template 1 --no-input \
    --set WEBSITE_URL=www.mysite.local --set WEBSITE_NAME=mysite
  assert_success
  assert_output --partial "local1override.tmpl: written, valid"
  grep -q '^export WEBSITE_URL="www.mysite.local"' "${BUILD_HOME}/overridescripts/local1override.tmpl"
  grep -q '<UDF name="WEBSITE_URL" label="WEBSITE URL" default="www.mysite.local" />' \
    "${BUILD_HOME}/overridescripts/local1override.tmpl.stack"
}

@test "GenerateOverrideTemplate.sh: prompts for MANDATORY values; enter keeps, reset empties" {
  run bash -c "printf 'reset\n' | '${ROOT}/helperscripts/GenerateOverrideTemplate.sh' --cloudhost local --template 1"
  assert_success
  grep -q '^export APPLICATION=""' "${BUILD_HOME}/overridescripts/local1override.tmpl"
  assert_output --partial 'APPLICATION="": MANDATORY value missing'
}
