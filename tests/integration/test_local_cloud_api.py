"""The local cloud host's HTTP API on a real VPC (10.194.0.0/24): started by adt on the gateway, called from
inside a machine named as an autoscaler with the ApiDriver, as an autoscaler calls its provider; and refused
when the token, the caller, the name, the role, the size or the settings are wrong. The webservers it makes
start their bootstrap, which fails here (no datastore): nothing waits for them to be ready."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from adt import run
from adt.build.cloudapi import CloudApiServer, cloud_api_home
from adt.cloud.api import ApiDriver
from adt.cloud.base import UserData
from adt.cloud.local import LocalDriver
from adt.datastore.seaweed import free_ports
from adt.errors import AdtError

VPC = "10.194.0.0/24"  # this test's own range
AUTOSCALER, OTHER = "NO-1-as-local-t-abcd", "ws-local-t-0-abcd-init-1"
NEW = "ws-local-t-1-abcd-k2p9"
USER = "Xapitest9X"
SETTINGS = f"SERVERUSER:{USER}\nS3SECRETKEY:very-secret-value\nWEBSITEURL:www.example.com\n"
SETTINGS_FILE = f"/home/{USER}/runtime/webserver_configuration_settings.dat"
CLIENT = r"""
import dataclasses, json, sys
from adt.cloud.api import ApiDriver
from adt.cloud.base import UserData
from adt.errors import AdtError
job = json.load(sys.stdin)
api = ApiDriver(job["url"], job["token"], timeout=60, retries=1, backoff=0.01)
try:
    if job["op"] == "create":
        files = {"/home/u/runtime/webserver_configuration_settings.dat": (job["settings"], 0o600)}
        got = dataclasses.asdict(api.create_server(job["name"], "local", UserData(files=files), 2222, job["key"]))
    elif job["op"] == "list":
        got = [dataclasses.asdict(s) for s in api.list_servers(job.get("pattern", ""))]
    else:
        got = api.destroy_server(job["name"])
    print(json.dumps({"ok": got}))
except AdtError as error:
    print(json.dumps({"error": error.message}))
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cloudapi")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "key")], check=True)
    driver = LocalDriver(VPC, state_dir=str(tmp / "state"))
    server = CloudApiServer(cloud_api_home(driver))
    home = tmp / "buildhome"
    for identifier, vpc in (("fw", VPC), ("elsewhere", "10.195.0.0/24")):
        build = home / "runtimedata" / "local" / identifier
        build.mkdir(parents=True)
        (build / "build_environment").write_text(f"VPC_IP_RANGE={vpc}\nACTIVE_FIREWALLS=1\n")
    try:
        for name in (AUTOSCALER, OTHER):
            driver.create_server(name, "local", UserData(), 2222, (tmp / "key.pub").read_text())
        port = free_ports(1, driver.gateway)[0]
        server.start(driver.gateway, port, VPC, home, state_dir=str(driver.state))
        yield {"driver": driver, "server": server, "key": (tmp / "key.pub").read_text().strip(), "home": home,
               "port": port}  # fmt: skip
    finally:
        server.stop()
        for machine in driver.list_servers():
            driver.destroy_server(machine.name)
        driver.remove_network(force=True)


def from_machine(cloud, machine: str, op: str, token: str = "", **job) -> dict:
    """The ApiDriver called inside `machine` (its network, mounts and hostname); the token on standard input."""
    job.update(op=op, url=cloud["server"].url, token=token or cloud["server"].token())
    done = subprocess.run([*cloud["driver"].enter(machine), sys.executable, "-c", CLIENT], input=json.dumps(job),
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def api(cloud, token: str = "") -> ApiDriver:
    """The ApiDriver on the build machine (the gateway, which the API admits too)."""
    return ApiDriver(cloud["server"].url, token or cloud["server"].token(), retries=0)


def test_an_autoscaler_makes_lists_and_removes_a_webserver(cloud):
    driver = cloud["driver"]
    made = from_machine(cloud, AUTOSCALER, "create", name=NEW, settings=SETTINGS, key=cloud["key"])
    assert "error" not in made, made
    assert made["ok"]["name"] == NEW and made["ok"]["role"] == "webserver" and made["ok"]["status"] == "running"
    assert made["ok"]["private_ip"].startswith("10.194.0.")
    listed = from_machine(cloud, AUTOSCALER, "list", pattern="ws-local-t-1-")["ok"]
    assert [s["name"] for s in listed] == [NEW]
    settings = driver.host_path(NEW, SETTINGS_FILE)
    assert settings.read_text() == SETTINGS and stat.S_IMODE(settings.stat().st_mode) == 0o600
    assert driver.host_path(NEW, "/home/homedir.dat").read_text() == f"/home/{USER}\n"
    authorized = driver.state / NEW / "ssh" / "authorized_keys"
    assert authorized.read_text() == cloud["key"] + "\n"
    first_boot = int((driver.state / NEW / "first-boot.pid").read_text())  # the bootstrap was started
    assert first_boot > 0
    gone = from_machine(cloud, AUTOSCALER, "destroy", name=NEW)
    assert gone == {"ok": None}
    assert [s.name for s in driver.list_servers(NEW)] == [] and not (driver.state / NEW).exists()
    assert from_machine(cloud, AUTOSCALER, "list", pattern="ws-local-t-1-") == {"ok": []}
    assert from_machine(cloud, AUTOSCALER, "destroy", name=NEW) == {"ok": None}  # gone already: not an error


def test_a_wrong_token_is_refused(cloud):
    got = from_machine(cloud, AUTOSCALER, "list", token="not-the-token")
    assert " answered 401 to GET /v1/servers?name=: no valid token" in got["error"]


def test_a_machine_that_is_not_an_autoscaler_is_refused(cloud):
    got = from_machine(cloud, OTHER, "create", name=NEW, settings=SETTINGS, key=cloud["key"])
    other_ip = cloud["driver"].list_servers(OTHER)[0].private_ip
    assert f"answered 403 to POST /v1/servers: {other_ip} is neither the build machine nor an autoscaler" in got[
        "error"]  # fmt: skip
    assert [s.name for s in cloud["driver"].list_servers(NEW)] == []


@pytest.mark.parametrize(
    "name, settings, match",
    [
        ("ws-bad_name", SETTINGS, "answered 400 to POST /v1/servers: name 'ws-bad_name' is not a webserver name"),
        ("db-local-t-abcd", SETTINGS, "answered 403 to POST /v1/servers: 'db-local-t-abcd' names a database machine"),
        (NEW, SETTINGS.replace(USER, "../../etc"), "answered 400 to POST /v1/servers: SERVERUSER '../../etc' is not"),
        (NEW, SETTINGS + "K:" + "v" * 70000 + "\n", "answered 413 to POST /v1/servers: the body is larger than 65536"),
    ],
)
def test_bad_requests_are_refused_and_make_nothing(cloud, name, settings, match):
    data = UserData(files={"/home/u/runtime/webserver_configuration_settings.dat": (settings, 0o600)})
    with pytest.raises(AdtError, match=match):
        api(cloud).create_server(name, "local", data, 2222, cloud["key"])
    assert sorted(s.name for s in cloud["driver"].list_servers()) == sorted([AUTOSCALER, OTHER])


def test_only_webservers_are_destroyed_and_unknown_ones_are_404(cloud):
    refusal = f"answered 403 to DELETE /v1/servers/{AUTOSCALER}: '{AUTOSCALER}' names an autoscaler machine"
    with pytest.raises(AdtError, match=refusal):
        api(cloud).call("DELETE", f"/v1/servers/{AUTOSCALER}")
    with pytest.raises(AdtError, match="answered 404 to DELETE /v1/servers/ws-nothing: no machine named ws-nothing"):
        api(cloud).call("DELETE", "/v1/servers/ws-nothing")
    assert [s.name for s in cloud["driver"].list_servers(AUTOSCALER)] == [AUTOSCALER]


def test_a_build_firewall_is_refreshed_and_unknown_builds_are_404(cloud):
    assert api(cloud).refresh_firewall("fw") == ["native firewall not in use (ACTIVE_FIREWALLS=1)"]
    with pytest.raises(AdtError, match="answered 404 to POST /v1/firewalls/nobuild: no build local/nobuild"):
        api(cloud).refresh_firewall("nobuild")
    with pytest.raises(AdtError, match="404 to POST /v1/firewalls/elsewhere: build local/elsewhere is not on this VPC"):
        api(cloud).refresh_firewall("elsewhere")
    with pytest.raises(AdtError, match="answered 400 to POST /v1/firewalls/..%2Fx: build identifier '../x' is not"):
        api(cloud).refresh_firewall("../x")


def test_images_are_listed(cloud):
    assert api(cloud).list_snapshots() == []


def test_a_stalled_client_does_not_hold_up_the_others(cloud):
    stalled = socket.create_connection((cloud["driver"].gateway, cloud["port"]), timeout=10)
    try:
        stalled.sendall(b"POST /v1/servers HTTP/1.1\r\nContent-Length: 100\r\n")  # and nothing more
        assert {s.name for s in api(cloud).list_servers()} == {AUTOSCALER, OTHER}
    finally:
        stalled.close()


def test_files_are_private_and_the_token_is_in_no_argv_and_no_log(cloud):
    server, token = cloud["server"], cloud["server"].token()
    assert stat.S_IMODE(server.directory.stat().st_mode) == 0o700
    for path in (server.token_file, server.config_file, server.state_file, server.log_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    pid = server.state["pid"]
    assert token.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    api(cloud).list_servers("ws-local")
    log = server.log_file.read_text()
    assert f"GET /v1/servers from {cloud['driver'].gateway}: 200" in log
    assert "POST /v1/servers from" in log and ": 413" in log and ": 401" in log
    assert token not in log and "very-secret-value" not in log
    assert "Traceback" not in log and "Exception occurred" not in log  # one line per event, even a failed one


def test_start_again_is_a_no_op_and_stop_ends_only_its_process(cloud):
    server, driver = cloud["server"], cloud["driver"]
    pid, token = server.state["pid"], server.token()
    server.start(driver.gateway, cloud["port"], VPC, cloud["home"], state_dir=str(driver.state))
    assert server.state["pid"] == pid
    with pytest.raises(AdtError, match="already runs on .* with other settings"):
        server.start(driver.gateway, cloud["port"] + 1, VPC, cloud["home"], state_dir=str(driver.state))
    server.stop()
    assert not run.alive(pid) and server.state is None and not server.state_file.exists()
    assert driver.list_servers(AUTOSCALER)[0].status == "running"  # the machines are the cloud's, not the API's
    server.start(driver.gateway, cloud["port"], VPC, cloud["home"], state_dir=str(driver.state))
    assert server.state["pid"] != pid and server.token() == token  # the token outlives a restart
    assert os.path.exists(server.log_file)
