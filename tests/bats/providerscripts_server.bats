#!/usr/bin/env bats
# providerscripts/server/*.sh: the original's argument orders reach `adt cloud`, outputs as the original's, usage
# errors exit 2. The cloud is the local cloud host reading machine records of a state folder made here (a live
# record: its holder pid is this test's shell; a stopped one: a pid that is not there), so no root, no network.

bats_require_minimum_version 1.5.0

setup() {
  bats_load_library bats-support
  bats_load_library bats-assert
  ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/../.." && pwd)"
  S="${ROOT}/providerscripts/server"
  export PATH="${ROOT}/.venv/bin:/usr/bin:/bin"
  export BUILD_HOME="${BATS_TEST_TMPDIR}/buildhome" ADT_LOCAL_STATE="${BATS_TEST_TMPDIR}/state"
  export ADT_HOME="${BATS_TEST_TMPDIR}/home" ADT_HOMEDIR_FILE="${BATS_TEST_TMPDIR}/none"
  mkdir -p "${BUILD_HOME}/runtimedata/local/t1" "${ADT_HOME}"
  printf 'VPC_IP_RANGE=10.191.0.0/24\nBUILDOS=debian\nBUILDOS_VERSION=13\n' \
    > "${BUILD_HOME}/runtimedata/local/t1/build_environment"
  echo local > "${BUILD_HOME}/runtimedata/ACTIVE_CLOUDHOST"
  echo t1 > "${BUILD_HOME}/runtimedata/ACTIVE_BUILD_IDENTIFIER"
  switch="$("${ROOT}/.venv/bin/python" -c 'from adt.cloud.local import LocalDriver; print(LocalDriver("10.191.0.0/24").switch)')"
  machine ws-local-t1-0-abcd-init-1 webserver 10.191.0.3 $$
  machine ws-local-t1-1-abcd webserver 10.191.0.4 $$
  machine db-local-t1-abcd database 10.191.0.2 999999999
  cd "${BATS_TEST_TMPDIR}"
}

machine() {  # name role ip holder-pid
  mkdir -p "${ADT_LOCAL_STATE}/$1"
  printf '{"name": "%s", "role": "%s", "ip": "%s", "switch": "%s", "holder": %s, "netns": "adt-bats-%s"}\n' \
    "$1" "$2" "$3" "${switch}" "$4" "$1" > "${ADT_LOCAL_STATE}/$1/machine.json"
}

@test "GetServerIPAddresses.sh <pattern> <cloudhost>: one address a line; the private ones likewise" {
  run "${S}/GetServerIPAddresses.sh" ws- local
  assert_success
  assert_output "$(printf '10.191.0.3\n10.191.0.4')"
  run "${S}/GetServerPrivateIPAddresses.sh" db- local
  assert_success
  assert_output "10.191.0.2"
  run "${S}/GetServerIPAddresses.sh" nothing-like-this local
  assert_success
  assert_output ""
}

@test "ListServerIDs.sh, NumberOfServers.sh <pattern> <cloudhost>" {
  run "${S}/ListServerIDs.sh" -abcd local
  assert_success
  assert_output "$(printf 'db-local-t1-abcd\nws-local-t1-0-abcd-init-1\nws-local-t1-1-abcd')"
  run "${S}/ListServerIDs.sh" -t1-1- local
  assert_output "ws-local-t1-1-abcd"
  run "${S}/NumberOfServers.sh" ws- local
  assert_output "2"
  run "${S}/NumberOfServers.sh" "" local
  assert_output "3"
  run "${S}/NumberOfServers.sh" as- local
  assert_output "0"
}

@test "IsInstanceRunning.sh <pattern> <cloudhost> prints running or not running, exit 0" {
  run "${S}/IsInstanceRunning.sh" ws- local
  assert_success
  assert_output "running"
  run "${S}/IsInstanceRunning.sh" db- local
  assert_success
  assert_output "not running"
  run "${S}/IsInstanceRunning.sh" as- local
  assert_success
  assert_output "not running"
}

@test "GetServerName.sh, GetServerPublicIPAddressByIP.sh, GetServerPrivateIPAddressByIP.sh <ip> <cloudhost>" {
  run "${S}/GetServerName.sh" 10.191.0.4 local
  assert_success
  assert_output "ws-local-t1-1-abcd"
  run "${S}/GetServerName.sh" 10.191.0.99 local
  assert_success
  assert_output ""
  run "${S}/GetServerPublicIPAddressByIP.sh" 10.191.0.2 local
  assert_output "10.191.0.2"
  run "${S}/GetServerPrivateIPAddressByIP.sh" 10.191.0.3 local
  assert_output "10.191.0.3"
  run "${S}/GetServerPrivateIPAddressByIP.sh" not-an-address local
  assert_success
  assert_output ""
  run "${S}/CheckBuildMachineVPC.sh" local 10.191.0.3
  assert_success
  assert_output "10.191.0.3"
}

@test "GetOperatingSystemVersion.sh <cloudhost> <buildos> <version>: each provider's image" {
  run "${S}/GetOperatingSystemVersion.sh" digitalocean ubuntu 24.04
  assert_output "ubuntu-24-04-x64"
  run "${S}/GetOperatingSystemVersion.sh" digitalocean debian 13
  assert_output "debian-13-x64"
  run "${S}/GetOperatingSystemVersion.sh" exoscale debian 12
  assert_output "Linux Debian 12 (Bookworm) 64-bit"
  run "${S}/GetOperatingSystemVersion.sh" exoscale ubuntu 24.04
  assert_output "Linux Ubuntu 24.04 LTS 64-bit"
  run "${S}/GetOperatingSystemVersion.sh" linode debian 13
  assert_output "linode/debian13"
  run "${S}/GetOperatingSystemVersion.sh" vultr debian 13
  assert_output "Debian 13 x64"  # the name the driver finds the os id by, as the original printed it
  run --separate-stderr "${S}/GetOperatingSystemVersion.sh" digitalocean centos 9
  assert_failure 1
  assert_equal "${stderr_lines[0]}" "adt: no centos 9 image known on digitalocean"
  mkdir -p "${BUILD_HOME}/runtimedata/digitalocean/d1"
  printf 'BUILDOS=ubuntu\nBUILDOS_VERSION=24.04\n' > "${BUILD_HOME}/runtimedata/digitalocean/d1/build_environment"
  run "${S}/GetOperatingSystemVersion.sh" -c digitalocean -b d1  # no words: the build's (the autoscaler's form)
  assert_success
  assert_output "ubuntu-24-04-x64"
  run "${S}/GetOperatingSystemVersion.sh" digitalocean debian
  assert_failure 2
  assert_output --partial "give all three of CLOUDHOST BUILDOS BUILDOS_VERSION, or none"
}

@test "DestroyServer.sh <ip> <cloudhost>: --dry-run changes nothing; then the machine is gone; unknown is exit 1" {
  run "${S}/DestroyServer.sh" 10.191.0.4 local --dry-run
  assert_success
  assert_output "would destroy: ws-local-t1-1-abcd (10.191.0.4, 10.191.0.4) on local"
  [ -f "${ADT_LOCAL_STATE}/ws-local-t1-1-abcd/machine.json" ]
  run "${S}/DestroyServer.sh" 10.191.0.4 local
  assert_success
  assert_output "destroyed ws-local-t1-1-abcd (10.191.0.4)"
  [ ! -e "${ADT_LOCAL_STATE}/ws-local-t1-1-abcd" ]
  run "${S}/NumberOfServers.sh" ws- local
  assert_output "1"
  run --separate-stderr "${S}/DestroyServer.sh" 10.191.0.4 local
  assert_failure 1
  assert_equal "${stderr_lines[0]}" "adt: no machine of build local/t1 has the address or name 10.191.0.4"
}

@test "the autoscaler's DestroyServer.sh <ip> <cloudhost> <private_ip>: the private address finds the machine" {
  run "${S}/DestroyServer.sh" 192.0.2.1 local 10.191.0.3 --dry-run
  assert_success
  assert_output --partial "would destroy: ws-local-t1-0-abcd-init-1"
}

@test "CreateServer.sh <size> <name> --dry-run names the machine and its role; a name of no role is exit 2" {
  printf 'SERVER_USER=Xabcd\nSSH_PORT=2222\n' >> "${BUILD_HOME}/runtimedata/local/t1/build_environment"
  run "${S}/CreateServer.sh" local ws-local-t1-2-abcd --dry-run
  assert_success
  assert_output "would create: ws-local-t1-2-abcd (webserver, size local) on local/t1"
  run "${S}/CreateServer.sh" local mail-local-t1 --dry-run
  assert_failure 2
  assert_output --partial "tells no role adt builds"
}

@test "a fleet machine's settings choose its cloud host; a wrong cloud host word is refused" {
  printf 'CLOUDHOST:local\nVPCIPRANGE:10.191.0.0/24\n' > "${BATS_TEST_TMPDIR}/settings.dat"
  ADT_SETTINGS_FILE="${BATS_TEST_TMPDIR}/settings.dat" BUILD_HOME=/nonexistent run "${S}/NumberOfServers.sh" ws- local
  assert_success
  assert_output "2"
  ADT_SETTINGS_FILE="${BATS_TEST_TMPDIR}/settings.dat" run --separate-stderr "${S}/NumberOfServers.sh" ws- vultr
  assert_failure 1
  assert_equal "${stderr_lines[0]}" "adt: ${BATS_TEST_TMPDIR}/settings.dat is on the local cloud host, not vultr"
}

@test "usage errors exit 2: too many words, an unknown cloud host, a missing address; --help is adt cloud's" {
  run "${S}/NumberOfServers.sh" ws- local extra
  assert_failure 2
  assert_output --partial "at most 2 arguments (PATTERN CLOUDHOST), not 3"
  run "${S}/GetServerIPAddresses.sh" ws- azure
  assert_failure 2
  assert_output --partial "unknown cloud host 'azure'"
  run "${S}/GetServerName.sh"
  assert_failure 2
  assert_output --partial "give the machine's address (IP)"
  run "${S}/DestroyServer.sh" 10.191.0.3 linode -c local
  assert_failure 2
  assert_output --partial "the cloud host word 'linode' is not --cloudhost 'local'"
  run "${S}/GetServerIPAddresses.sh" --help
  assert_success
  assert_output --partial "Usage: adt cloud ips [OPTIONS] [PATTERN] [cloudhost]"
  assert_output --partial "--private"
  run "${S}/DestroyServer.sh" --help
  assert_output --partial "Usage: adt cloud destroy [OPTIONS] IP|NAME [cloudhost] [private_ip]"
}

@test "no build and no machine settings: exit 1 saying what to pass" {
  rm "${BUILD_HOME}/runtimedata/ACTIVE_CLOUDHOST" "${BUILD_HOME}/runtimedata/ACTIVE_BUILD_IDENTIFIER"
  run --separate-stderr "${S}/GetServerIPAddresses.sh" ws- local
  assert_failure 1
  assert_output ""
  assert_equal "${stderr_lines[0]}" "adt: no build given and ${BUILD_HOME}/runtimedata/ACTIVE_BUILD_IDENTIFIER is not set"
}
