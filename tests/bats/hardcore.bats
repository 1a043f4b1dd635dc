#!/usr/bin/env bats
# GenerateHardcoreUserDataScript.sh [stack]: the user data of a hardcore build, from an override template
# (GenerateOverrideTemplate.sh's), written to userdatascripts/<name>.

setup() {
  bats_load_library bats-support
  bats_load_library bats-assert
  ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/../.." && pwd)"
  export PATH="${ROOT}/.venv/bin:/usr/bin:/bin"
  export BUILD_HOME="${BATS_TEST_TMPDIR}/buildhome"
  mkdir -p "${BUILD_HOME}"
  cp -r "${ROOT}/templates" "${BUILD_HOME}/templates"
  cd "${BATS_TEST_TMPDIR}"
  ssh-keygen -q -t ed25519 -N "" -f key -C me@laptop
  "${ROOT}/helperscripts/GenerateOverrideTemplate.sh" stack --cloudhost digitalocean --template 3 --no-input \
    --set BUILD_IDENTIFIER=shop1 --set WEBSITE_URL=www.shop.example.com --set 'S3_SECRET_KEY=s3cr$t"x' >/dev/null 2>&1
  OVERRIDE="${BUILD_HOME}/overridescripts/digitalocean3override.tmpl"
  SCRIPT="${BUILD_HOME}/userdatascripts/do3"
}

@test "GenerateHardcoreUserDataScript.sh: a private bash script that installs adt and runs the whole build" {
  run "${ROOT}/helperscripts/GenerateHardcoreUserDataScript.sh" --override "${OVERRIDE}" --output do3 \
    --ssh-key key.pub --laptop-ip 203.0.113.9 --no-input
  assert_success
  assert_output --partial "userdatascripts/do3: written (0600), the user data of digitalocean template 3"
  assert_output --partial "problem(s) in the template: the build will stop at them"  # the override is incomplete
  [ "$(stat -c %a "${SCRIPT}")" = 600 ]
  [ "$(head -1 "${SCRIPT}")" = "#!/bin/bash" ]
  bash -n "${SCRIPT}"
  shellcheck --severity=warning "${SCRIPT}"
  run tail -1 "${SCRIPT}"
  assert_output "exec adt build digitalocean debian 3 shop1 --template-file /root/adt-hardcore.tmpl --yes"
  grep -q "^export SSH=\"$(cat key.pub)\"$" "${SCRIPT}"
  grep -q '^export SELECTED_TEMPLATE="3"$' "${SCRIPT}"
  grep -q '^export S3_SECRET_KEY="s3cr\\$t\\"x"' "${SCRIPT}"  # the template, quoted as templates are
  grep -q '^AllowUsers agile-user@203.0.113.9$' "${SCRIPT}"
  grep -q '^Port 1035$' "${SCRIPT}"
  grep -q 'clone --quiet --depth 1 --branch main https://github.com/wintersys-projects/adt.git /opt/adt/src' "${SCRIPT}"
  grep -q '^echo /opt/adt/src >/home/buildhome.dat$' "${SCRIPT}"
  ! grep -q ADT_HARDCORE_CREDENTIALS "${SCRIPT}"  # no token: no credentials file
}

@test "GenerateHardcoreUserDataScript.sh: a repository token only in a 0600 credentials file, never a command line" {
  INFRASTRUCTURE_REPOSITORY_TOKEN='ghp_T0k$n' run "${ROOT}/helperscripts/GenerateHardcoreUserDataScript.sh" \
    --override "${OVERRIDE}" --output do3 --ssh-key key.pub --no-input
  assert_success
  run grep -n 'ghp_T0k' "${SCRIPT}"
  assert_output --regexp '^[0-9]+:https://wintersys-projects:ghp_T0k%24n@github.com$'  # one line, the file's
  line="${output%%:*}"
  [ "$(sed -n "$((line - 1))p" "${SCRIPT}")" = "cat >/root/.config/adt/infrastructure-git-credentials <<'ADT_HARDCORE_CREDENTIALS'" ]
  grep -q "credential.helper=store --file=/root/.config/adt/infrastructure-git-credentials" "${SCRIPT}"
  grep -q 'https://wintersys-projects@github.com/wintersys-projects/adt.git' "${SCRIPT}"
  grep -q '^umask 077$' "${SCRIPT}"
  shellcheck --severity=warning "${SCRIPT}"
}

@test "GenerateHardcoreUserDataScript.sh: asks for the override template and the script's name" {
  run bash -c "printf '1\nmine\n' | '${ROOT}/helperscripts/GenerateHardcoreUserDataScript.sh' --ssh-key key.pub"
  assert_success
  assert_output --partial "1: digitalocean3override.tmpl"
  assert_output --partial "userdatascripts/mine: written (0600)"
  bash -n "${BUILD_HOME}/userdatascripts/mine"
}

@test "GenerateHardcoreUserDataScript.sh stack: a StackScript whose fields replace the template's values" {
  run "${ROOT}/helperscripts/GenerateHardcoreUserDataScript.sh" stack --override "${OVERRIDE}" --output do3 \
    --ssh-key key.pub --no-input
  assert_success
  sed -n 2p "${SCRIPT}" | grep -q '^# <UDF name="[A-Z_]*" label='
  grep -q '^# export SELECTED_TEMPLATE="3"$' "${SCRIPT}"
  grep -q "apply_environment" "${SCRIPT}"
  bash -n "${SCRIPT}"
  shellcheck --severity=warning "${SCRIPT}"
}

@test "GenerateHardcoreUserDataScript.sh: without a key for the build machine's user it writes nothing; exit 1" {
  run "${ROOT}/helperscripts/GenerateHardcoreUserDataScript.sh" --override "${OVERRIDE}" --output do3 --no-input
  assert_failure 1
  assert_output --partial "no public key for the build machine's user (SSH, or --ssh-key)"
  [ ! -e "${SCRIPT}" ]
}

@test "GenerateHardcoreUserDataScript.sh: --no-input needs the override and the name" {
  run "${ROOT}/helperscripts/GenerateHardcoreUserDataScript.sh" --no-input --ssh-key key.pub
  assert_failure 2
  assert_output --partial "--no-input needs --override and --output"
}

@test "adt build --user-data: the same user data from any template, the token from the environment only" {
  cp "${OVERRIDE}" any.tmpl
  echo 'export SSH="'"$(cat key.pub)"'"' >> any.tmpl
  INFRASTRUCTURE_REPOSITORY_TOKEN=tok-abc123 run "${ROOT}/ExpeditedAgileDeploymentToolkit.sh" digitalocean debian 3 \
    shop2 --template-file any.tmpl --user-data out.sh
  assert_success
  assert_output --partial "user data of a build machine that builds digitalocean/shop2: out.sh (0600)"
  [ "$(stat -c %a out.sh)" = 600 ]
  bash -n out.sh
  run tail -1 out.sh
  assert_output "exec adt build digitalocean debian 3 shop2 --template-file /root/adt-hardcore.tmpl --yes"
  grep -q 'tok-abc123' out.sh  # in the user data's 0600 credentials file, for the clone
  ! grep -q -- '--user-data' out.sh
}
