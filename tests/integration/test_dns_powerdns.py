"""The DNS round robin against a real PowerDNS (pdns_server with gsqlite3) started by adt: on loopback high
ports, and on an address of a network namespace (VPC 10.190.0.0/24) that a machine-like namespace resolves
WEBSITEURL through."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from adt import run
from adt.datastore.seaweed import free_ports
from adt.dns import provider
from adt.dns.powerdns import PowerDnsApi, PowerDnsServer
from adt.errors import AdtError

WEBSITE = "www.adt-demo.local"
ADT = Path(sys.executable).parent / "adt"


def dig(server_ip: str, port: int, name: str = WEBSITE, netns: str = "") -> list:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    out = subprocess.run(
        [*prefix, "dig", "+short", "+time=2", "+tries=1", f"@{server_ip}", "-p", str(port), name, "A"],
        capture_output=True, text=True, check=True, timeout=10,
    ).stdout  # fmt: skip
    return sorted(out.split())


@pytest.fixture
def server(tmp_path):
    dns_port, api_port = free_ports(2)
    pdns = PowerDnsServer(tmp_path / "pdns").start("127.0.0.1", dns_port, api_port)
    pdns.ensure_zone("adt-demo.local")
    yield pdns
    pdns.stop()


def values(pdns: PowerDnsServer) -> dict:
    return {"DNS_CHOICE": "powerdns", "DNS_API_URL": pdns.state["url"], "DNS_SECURITY_KEY": pdns.api_key()}


def test_add_list_delete_idempotent_and_round_robin(server):
    dns = provider(values(server))
    port = server.state["dns_port"]
    assert dns.zone_id(WEBSITE) == "adt-demo.local" and dns.records(WEBSITE) == []
    assert [dns.add(WEBSITE, ip) for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3")] == [True, True, True]
    assert dns.add(WEBSITE, "10.0.0.2") is False  # already there: nothing changes
    assert [(r.id, r.name, r.ip, r.ttl) for r in dns.records(WEBSITE)] == [
        (ip, WEBSITE, ip, 60) for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3")]  # fmt: skip
    assert dig("127.0.0.1", port) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert dns.record_id(WEBSITE, "10.0.0.2") == "10.0.0.2" and dns.record_id(WEBSITE, "10.0.0.9") is None
    assert dns.delete(WEBSITE, "10.0.0.2") is True
    assert dns.delete(WEBSITE, "10.0.0.2") is False  # absent: not an error
    assert dns.ips(WEBSITE) == ["10.0.0.1", "10.0.0.3"] and dig("127.0.0.1", port) == ["10.0.0.1", "10.0.0.3"]
    dns.delete(WEBSITE, "10.0.0.1"), dns.delete(WEBSITE, "10.0.0.3")
    assert dns.ips(WEBSITE) == [] and dig("127.0.0.1", port) == []


def test_errors_name_the_status_and_powerdns_message(server):
    wrong = provider({**values(server), "DNS_SECURITY_KEY": "not-the-key"})
    with pytest.raises(AdtError, match=r"answered 401 to GET .*: Unauthorized") as caught:
        wrong.ips(WEBSITE)
    assert "not the server's" in caught.value.hint
    dns = provider(values(server))
    with pytest.raises(AdtError, match="has no zone example.org"):
        dns.add("www.example.org", "10.0.0.1")
    with pytest.raises(AdtError, match="'10.0.0.300' is not an IPv4 address"):
        dns.add(WEBSITE, "10.0.0.300")
    with pytest.raises(AdtError, match="answered 422 to PATCH .*is not canonical"):
        server.api().patch("adt-demo.local", {"rrsets": [{"name": WEBSITE, "type": "A", "changetype": "DELETE"}]})


def test_a_restart_keeps_records_and_key_and_allow_from_widens_the_api(server):
    dns = provider(values(server))
    dns.add(WEBSITE, "10.0.0.7", ttl=120)
    key, before = server.api_key(), server.state
    server.stop()
    assert server.state is None and not run.alive(before["pid"])
    server.start("127.0.0.1", before["dns_port"], before["api_port"])
    assert server.api_key() == key and [(r.ip, r.ttl) for r in dns.records(WEBSITE)] == [("10.0.0.7", 120)]
    server.allow_api_from(["10.190.0.5", "10.190.0.6"])
    after = server.state
    assert after["pid"] != before["pid"] and after["allow_from"] == ["127.0.0.1/32", "10.190.0.5/32", "10.190.0.6/32"]
    assert (
        "webserver-allow-from=127.0.0.1/32,10.190.0.5/32,10.190.0.6/32" in (server.directory / "pdns.conf").read_text()
    )
    assert dns.ips(WEBSITE) == ["10.0.0.7"] and dig("127.0.0.1", after["dns_port"]) == ["10.0.0.7"]


def test_files_are_private_and_the_key_is_in_no_argv_and_no_log(server):
    key = server.api_key()
    with pytest.raises(AdtError):
        provider({**values(server), "DNS_SECURITY_KEY": "wrong"}).ips(WEBSITE)
    provider(values(server)).add(WEBSITE, "10.0.0.1")
    assert stat.S_IMODE(server.directory.stat().st_mode) == 0o700
    for name in ("pdns.conf", "api-key", "state.json", "pdns.log", "pdns.sqlite3"):
        assert stat.S_IMODE((server.directory / name).stat().st_mode) == 0o600, name
    assert f"api-key={key}" in (server.directory / "pdns.conf").read_text()
    assert key not in json.dumps(server.state)
    cmdline = Path(f"/proc/{server.state['pid']}/cmdline").read_bytes()
    assert cmdline.split(b"\0")[0].endswith(b"pdns_server") and key.encode() not in cmdline
    assert key not in (server.directory / "pdns.log").read_text()


def test_stop_leaves_no_process_and_touches_no_other(tmp_path, server):
    pid = server.state["pid"]
    stranger = subprocess.Popen(["sleep", "30"])
    try:
        (server.directory / "state.json").write_text(json.dumps({**server.state, "pid": stranger.pid}))
        assert server.state is None  # a pid that is not this directory's pdns_server is not ours
        server.stop()
        assert stranger.poll() is None  # never signalled
    finally:
        stranger.kill()
        stranger.wait()
    os.kill(pid, 15)
    os.waitpid(pid, 0)
    fresh = PowerDnsServer(tmp_path / "other").start("127.0.0.1", *free_ports(2))
    fresh_pid = fresh.state["pid"]
    fresh.stop()
    assert not run.alive(fresh_pid) and fresh.state is None and not (fresh.directory / "state.json").exists()
    assert not (fresh.directory / "pdns.controlsocket").exists()


def test_it_never_listens_on_every_address(tmp_path):
    with pytest.raises(AdtError, match="not 0.0.0.0"):
        PowerDnsServer(tmp_path / "p").start("0.0.0.0", *free_ports(2))
    assert not (tmp_path / "p").exists()


def test_the_cli_reads_the_machines_settings_and_dry_run_changes_nothing(tmp_path, server):
    settings = tmp_path / "webserver_configuration_settings.dat"
    settings.write_text(
        f"WEBSITEURL:{WEBSITE}\nDNSCHOICE:powerdns\nDNSAPIURL:{server.state['url']}\n"
        f"DNSSECURITYKEY:{server.api_key()}\n"
    )
    os.chmod(settings, 0o600)

    def adt(*args):
        return subprocess.run([ADT, "--settings", settings, "dns", *args], capture_output=True, text=True, timeout=30)

    assert adt("add", "--ip", "10.0.0.4").stdout == f"added {WEBSITE} A 10.0.0.4\n"
    dry = adt("add", "--dry-run", "--ip", "10.0.0.5")
    assert dry.returncode == 0 and dry.stdout.startswith("would call: PATCH ")
    assert server.api_key() not in dry.stdout
    dry = adt("delete", "--dry-run", "--ip", "10.0.0.4")
    assert '"changetype": "DELETE"' in dry.stdout
    assert adt("ips").stdout == "10.0.0.4\n"
    assert adt("records").stdout == f"10.0.0.4 {WEBSITE} 10.0.0.4 60\n"
    assert adt("zone").stdout == "adt-demo.local\n"
    missing = adt("zone", "example.org")
    assert (missing.returncode, missing.stdout) == (1, "") and "has no zone example.org" in missing.stderr
    for command in ("zone", "records", "add", "delete", "ips"):
        shown = subprocess.run([ADT, "dns", command, "--help"], capture_output=True, text=True)
        assert shown.returncode == 0 and "Usage: adt dns " + command in shown.stdout


@pytest.fixture
def vpc_namespace():
    """A machine-like namespace on a veth pair: host side 10.190.0.1, the machine 10.190.0.2."""
    name, host, inner = f"adtdns{os.getpid() % 10000}", f"adtd{os.getpid() % 10000}h", f"adtd{os.getpid() % 10000}n"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for command in (
            ["ip", "link", "add", host, "type", "veth", "peer", "name", inner],
            ["ip", "link", "set", inner, "netns", name],
            ["ip", "addr", "add", "10.190.0.1/24", "dev", host],
            ["ip", "link", "set", host, "up"],
            ["ip", "-n", name, "addr", "add", "10.190.0.2/24", "dev", inner],
            ["ip", "-n", name, "link", "set", inner, "up"],
            ["ip", "-n", name, "link", "set", "lo", "up"],
        ):
            subprocess.run(command, check=True)
        yield name
    finally:
        subprocess.run(["ip", "link", "del", host], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], check=True)


def test_a_machine_namespace_resolves_the_website_through_it(tmp_path, vpc_namespace):
    pdns = PowerDnsServer(tmp_path / "bridge").start("10.190.0.1", 53, free_ports(1)[0])
    try:
        pdns.ensure_zone("adt-demo.local")
        dns = provider({"DNS_CHOICE": "powerdns"}, pdns.directory)  # the build side: from the server's state
        dns.add(WEBSITE, "10.190.0.11")
        dns.add(WEBSITE, "10.190.0.12")
        assert dig("10.190.0.1", 53, netns=vpc_namespace) == ["10.190.0.11", "10.190.0.12"]
        resolv = tmp_path / "resolv.conf"
        resolv.write_text("nameserver 10.190.0.1\n")
        script = f"mount --bind {resolv} /etc/resolv.conf && getent ahostsv4 {WEBSITE}"
        found = subprocess.run(["ip", "netns", "exec", vpc_namespace, "unshare", "-m", "sh", "-c", script],
                               capture_output=True, text=True, timeout=15)  # fmt: skip
        assert {line.split()[0] for line in found.stdout.splitlines()} == {"10.190.0.11", "10.190.0.12"}, found.stderr

        # the API: refused to the machine until the build allows it, then reachable with the key
        header = tmp_path / "header"
        header.write_text(f"X-API-Key: {pdns.api_key()}\n")
        os.chmod(header, 0o600)
        url = f"{pdns.state['url']}/api/v1/servers/localhost/zones/adt-demo.local."

        def from_machine():
            return subprocess.run(["ip", "netns", "exec", vpc_namespace, "curl", "-s", "-o", "/dev/null", "-w",
                                   "%{http_code}", "--max-time", "5", "-H", f"@{header}", url],
                                  capture_output=True, text=True, timeout=15).stdout  # fmt: skip

        assert from_machine() != "200"
        pdns.allow_api_from(["10.190.0.2"])
        assert from_machine() == "200"
        assert PowerDnsApi(pdns.state["url"], pdns.api_key()).zone("adt-demo.local") is not None
    finally:
        pdns.stop()
