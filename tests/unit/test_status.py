"""`adt status`: the pure report (observations in, JSON-ready dict out), its text table, the parts that fail soft,
the local driver's reading of its native firewall, and the command's exit status."""

import json
import os
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adt.build import status as st_
from adt.build.config import BuildConfig
from adt.build.status import Unavailable, age, dns_view, render, report, size, soft
from adt.cli import main
from adt.cloud.base import Image, role_of
from adt.cloud.local import LocalDriver, native_bound
from adt.errors import AdtError

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=timezone.utc).timestamp()
MACHINES = [
    {"name": "NO-1-as-lon1-b1-Xab", "role": "autoscaler", "address": "10.0.0.4", "public_address": "203.0.113.4",
     "status": "running"},
    {"name": "db-lon1-b1-Xab", "role": "database", "address": "10.0.0.3", "public_address": "203.0.113.3",
     "status": "running"},
    {"name": "ws-lon1-b1-0-Xab-init-1", "role": "webserver", "address": "10.0.0.2", "public_address": "203.0.113.2",
     "status": "running"},
    {"name": "ws-lon1-b1-0-Xab-init-2", "role": "webserver", "address": "10.0.0.5", "public_address": "203.0.113.5",
     "status": "running"},
    {"name": "ws-lon1-b1-0-Xab-init-3", "role": "webserver", "address": "10.0.0.6", "public_address": "203.0.113.6",
     "status": "stopped"},
]
RECORDS = [{"id": "r1", "name": "www.example.com", "ip": "203.0.113.2", "ttl": 120},
           {"id": "r9", "name": "www.example.com", "ip": "203.0.113.9", "ttl": 120}]
BACKUPS = [
    {"period": "hourly", "kind": "website", "bucket": "www-example-com-hourly", "key": "applicationsourcecode.tar.gz",
     "modified": NOW - 1800, "size": 3 * 1024 * 1024},
    {"period": "hourly", "kind": "database", "bucket": "www-example-com-db-hourly", "key": "example-DB-backup.tar.gz",
     "modified": NOW - 7200, "size": 900},
    {"period": "daily", "kind": "website", "bucket": "www-example-com-daily", "key": "applicationsourcecode.tar.gz"},
    {"period": "daily", "kind": "database", "bucket": "www-example-com-db-daily", "key": "example-DB-backup.tar.gz",
     "state": "unavailable: AccessDenied"},
]
IMAGE = Image("img-1", "nightly", "webserver", "ws-lon1-b1-0-Xab-init-1", NOW - 86400 * 3, 2 * 1024 ** 3)


AUTOSCALERS = [
    {"name": "NO-1-as-lon1-b1-Xab", "address": "10.0.0.4",
     "plan": {"autoscaler": 1, "desired": 2, "webservers": {"ws-lon1-b1-1-Xab-init-1": "in-service",
                                                             "ws-lon1-b1-1-xab-k2p9": "dead"},
              "actions": [{"kind": "create", "name": "ws-lon1-b1-1-xab-q7rt", "ip": "", "reason": "1 of 2 counted"}],
              "transitions": []},
     "events": [{"time": NOW - 60, "autoscaler": 1, "webserver": "ws-lon1-b1-1-xab-k2p9", "ip": "10.0.0.7",
                 "action": "dns-remove", "reason": "a liveness probe failed", "result": "removed"}]},
    {"name": "NO-2-as-lon1-b1-Xab", "address": "10.0.0.8", "unavailable": "ssh: connect to host 10.0.0.8: refused"},
]


def full(**changes):
    parts = dict(machines=MACHINES, dns=RECORDS, backups=BACKUPS, active_firewalls="3",
                 native={"db-lon1-b1-Xab": 4, "ws-lon1-b1-0-Xab-init-1": None}, snapshots=[IMAGE], now=NOW,
                 autoscalers=AUTOSCALERS)
    parts.update(changes)
    return report("lon1/b1", "www.example.com", **parts)


def test_the_report_s_json_shape():
    got = full()
    assert json.loads(json.dumps(got)) == got  # plain JSON all the way down
    assert list(got) == ["build", "website", "generated", "machines", "dns", "tls", "backups", "firewall",
                         "snapshots", "autoscalers"]
    assert got["tls"] == {"in_use": False}  # its cases: tests/unit/test_ssl_served.py
    assert got["autoscalers"] == {"items": AUTOSCALERS}
    assert (got["build"], got["website"], got["generated"]) == ("lon1/b1", "www.example.com", "2026-12-02T12:00:00Z")
    assert got["machines"] == {"items": MACHINES}
    assert got["dns"] == {"name": "www.example.com", "records": RECORDS, "listed": ["203.0.113.2"],
                          "missing": ["203.0.113.5"], "stale": ["203.0.113.9"]}  # the stopped webserver is not live
    assert got["backups"]["items"] == [
        {"period": "hourly", "kind": "website", "bucket": "www-example-com-hourly",
         "key": "applicationsourcecode.tar.gz", "state": "present", "modified": "2026-12-02T11:30:00Z",
         "age_seconds": 1800, "size": 3145728},
        {"period": "hourly", "kind": "database", "bucket": "www-example-com-db-hourly",
         "key": "example-DB-backup.tar.gz", "state": "present", "modified": "2026-12-02T10:00:00Z",
         "age_seconds": 7200, "size": 900},
        {"period": "daily", "kind": "website", "bucket": "www-example-com-daily", "key": "applicationsourcecode.tar.gz",
         "state": "none", "modified": None, "age_seconds": None, "size": None},
        {"period": "daily", "kind": "database", "bucket": "www-example-com-db-daily", "key": "example-DB-backup.tar.gz",
         "state": "unavailable: AccessDenied", "modified": None, "age_seconds": None, "size": None}]
    assert got["firewall"] == {"active": "3", "layers": ["on-machine", "native"], "native": {"in_use": True, "items": [
        {"machine": "db-lon1-b1-Xab", "applied": True, "rules": 4},
        {"machine": "ws-lon1-b1-0-Xab-init-1", "applied": False, "rules": None}]}}
    assert got["snapshots"] == {"items": [{"id": "img-1", "name": "nightly", "role": "webserver",
                                           "source": "ws-lon1-b1-0-Xab-init-1", "created": "2026-11-29T12:00:00Z",
                                           "size": 2147483648}]}


def test_every_part_can_be_unavailable_on_its_own():
    gone = Unavailable("connection refused")
    got = full(machines=gone, dns=gone, backups=gone, native=gone, snapshots=gone)
    for part in ("machines", "dns", "backups", "snapshots"):
        assert got[part] == {"unavailable": "connection refused"}
    assert got["firewall"]["native"] == {"in_use": True, "unavailable": "connection refused"}
    # the records, when the machines are unknown: listed but not compared
    assert full(machines=gone)["dns"] == {"name": "www.example.com", "records": RECORDS, "listed": None,
                                          "missing": None, "stale": None}
    text = render(got)
    for title in ("machines", "dns www.example.com", "backups", "snapshots"):
        assert f"\n{title}: unavailable: connection refused\n" in f"\n{text}"
    assert "  native: unavailable: connection refused\n" in text


@pytest.mark.parametrize("active, layers, native", [
    ("0", [], {"in_use": False}), ("1", ["on-machine"], {"in_use": False}),
    ("2", ["native"], {"in_use": True, "items": []}), ("3", ["on-machine", "native"], {"in_use": True, "items": []})])
def test_active_firewalls_names_the_layers(active, layers, native):
    got = full(active_firewalls=active, native={})["firewall"]
    assert got == {"active": active, "layers": layers, "native": native}


def test_an_unknown_active_firewalls_is_said():
    got = full(active_firewalls="7")["firewall"]
    assert got == {"active": "7", "layers": [], "native": {"in_use": False},
                   "unavailable": "ACTIVE_FIREWALLS='7' is not one of 0, 1, 2, 3"}
    assert "firewall (ACTIVE_FIREWALLS=7: none): unavailable: ACTIVE_FIREWALLS='7' is not one" in render(full(
        active_firewalls="7"))


def test_the_table():
    assert render(full()) == """\
build lon1/b1 (www.example.com) at 2026-12-02T12:00:00Z

machines:
  role        address   state    name
  autoscaler  10.0.0.4  running  NO-1-as-lon1-b1-Xab
  database    10.0.0.3  running  db-lon1-b1-Xab
  webserver   10.0.0.2  running  ws-lon1-b1-0-Xab-init-1
  webserver   10.0.0.5  running  ws-lon1-b1-0-Xab-init-2
  webserver   10.0.0.6  stopped  ws-lon1-b1-0-Xab-init-3

dns www.example.com:
  address      ttl  id
  203.0.113.2  120  r1
  203.0.113.9  120  r9
  missing: 203.0.113.5
  stale: 203.0.113.9

tls: off (no certificate issued for this build, SERVEHTTPS not on)

backups:
  period  kind      state                      age  size     archive
  hourly  website   present                    30m  3.0 MiB  www-example-com-hourly/applicationsourcecode.tar.gz
  hourly  database  present                    2h   900 B    www-example-com-db-hourly/example-DB-backup.tar.gz
  daily   website   none                       -    -        www-example-com-daily/applicationsourcecode.tar.gz
  daily   database  unavailable: AccessDenied  -    -        www-example-com-db-daily/example-DB-backup.tar.gz

firewall (ACTIVE_FIREWALLS=3: on-machine, native):
  machine                  native       rules
  db-lon1-b1-Xab           applied      4
  ws-lon1-b1-0-Xab-init-1  NOT APPLIED  -

snapshots:
  role       name     created               size     id
  webserver  nightly  2026-11-29T12:00:00Z  2.0 GiB  img-1

autoscalers:
  NO-1-as-lon1-b1-Xab 10.0.0.4: keeps 2 webservers (the count in force)
    ws-lon1-b1-1-Xab-init-1: in-service
    ws-lon1-b1-1-xab-k2p9: dead
    next: create ws-lon1-b1-1-xab-q7rt: 1 of 2 counted
    2026-12-02T11:59:00Z ws-lon1-b1-1-xab-k2p9 dns-remove: removed
  NO-2-as-lon1-b1-Xab 10.0.0.8: unavailable: ssh: connect to host 10.0.0.8: refused
"""


def test_the_table_of_an_empty_build():
    text = render(report("local/b2", "", [], [], [], "1", {}, [], NOW))
    assert text.startswith("build local/b2 (no WEBSITE_URL) at 2026-12-02T12:00:00Z\n")
    assert "machines:\n  none\n" in text and "dns:\n  no records\n" in text
    assert "every live webserver is listed, and nothing else" in text
    assert "firewall (ACTIVE_FIREWALLS=1: on-machine):\n  native: not in use\n" in text
    assert text.endswith("snapshots:\n  none\n\nautoscalers:\n  none\n")


@given(st.lists(st.ip_addresses(v=4).map(str), max_size=6), st.lists(st.ip_addresses(v=4).map(str), max_size=6))
def test_dns_listed_missing_and_stale_partition_the_addresses(recorded, live):
    got = dns_view([{"id": str(n), "name": "w", "ip": ip, "ttl": 60} for n, ip in enumerate(recorded)], live)
    assert set(got["listed"]) | set(got["stale"]) == set(recorded)
    assert set(got["listed"]) | set(got["missing"]) == set(live)
    assert not set(got["listed"]) & set(got["stale"]) and not set(got["listed"]) & set(got["missing"])


@pytest.mark.parametrize("seconds, shown", [(None, "-"), (0, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"),
                                            (3600, "1h"), (86399, "23h"), (86400, "1d"), (86400 * 62, "62d")])
def test_age(seconds, shown):
    assert age(seconds) == shown


@pytest.mark.parametrize("count, shown", [(None, "-"), (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"),
                                          (1536, "1.5 KiB"), (1024 ** 2, "1.0 MiB"), (5 * 1024 ** 3, "5.0 GiB"),
                                          (3 * 1024 ** 4, "3072.0 GiB")])
def test_size(count, shown):
    assert size(count) == shown


@given(st.one_of(st.none(), st.integers(0, 2 ** 50)))
def test_age_and_size_are_short(number):
    assert len(age(number)) <= 16 and len(size(number)) <= 20


def test_soft_turns_any_failure_into_one_line():
    def boom(error):
        def observe():
            raise error
        return observe

    assert soft(lambda: [1]) == [1]
    assert soft(boom(AdtError("S3 is down", "start it"))) == Unavailable("S3 is down")
    assert soft(boom(NotImplementedError("the x cloud host cannot list snapshots yet"))) == \
        Unavailable("the x cloud host cannot list snapshots yet")
    assert soft(boom(ValueError("bad\nsecond line"))) == Unavailable("ValueError: bad")
    with pytest.raises(KeyboardInterrupt):
        soft(boom(KeyboardInterrupt()))


NFT_LISTING = json.dumps({"nftables": [
    {"metainfo": {"version": "1.0.6"}}, {"table": {"family": "bridge", "name": "adt", "handle": 1}},
    {"map": {"family": "bridge", "name": "machines", "table": "adt", "type": "ifname", "handle": 2, "map": "verdict",
             "elem": [["v0123456789a", {"jump": {"target": "m_v0123456789a"}}]]}},
    {"chain": {"family": "bridge", "table": "adt", "name": "m_v0123456789a", "handle": 4}},
    {"chain": {"family": "bridge", "table": "adt", "name": "m_v0123456789b", "handle": 8}},
    {"rule": {"family": "bridge", "table": "adt", "chain": "forward", "handle": 3, "expr": [
        {"vmap": {"key": {"meta": {"key": "oifname"}}, "data": "@machines"}}]}},
    {"rule": {"family": "bridge", "table": "adt", "chain": "m_v0123456789a", "handle": 5, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}},
        {"accept": None}]}},
    {"rule": {"family": "bridge", "table": "adt", "chain": "m_v0123456789a", "handle": 6, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 443}},
        {"accept": None}]}},
    {"rule": {"family": "bridge", "table": "adt", "chain": "m_v0123456789a", "handle": 7, "expr": [{"drop": None}]}},
    {"rule": {"family": "bridge", "table": "adt", "chain": "m_v0123456789b", "handle": 9, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}},
        {"accept": None}]}}]})  # as nft 1.0.6 lists it: b's chain exists but its link was unbound


def test_the_local_native_firewall_is_read_from_nft():
    assert native_bound(NFT_LISTING) == {"v0123456789a": 2}
    assert native_bound("") == {}


# -- the command, on a build of the local cloud host with no S3 and no DNS -----------------------------------
@pytest.fixture
def home(tmp_path, monkeypatch):
    for name in ("BUILD_HOME", "ADT_BUILD_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ADT_BUILDHOME_FILE", str(tmp_path / "no-buildhome.dat"))
    monkeypatch.setenv("ADT_LOCAL_STATE", str(tmp_path / "state"))
    build = tmp_path / "home" / "runtimedata" / "local" / "b1"
    build.mkdir(parents=True)
    (build / "build_environment").write_text(
        "SSH_PORT=1035\nREGION=local\nVPC_IP_RANGE=10.191.0.0/24\nWEBSITE_URL=www.example.com\nACTIVE_FIREWALLS=3\n")
    return tmp_path / "home"


def _machine(driver, name, ip):
    record = driver.state / name / "machine.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"name": name, "ip": ip, "switch": driver.switch, "holder": os.getpid(),
                                  "role": role_of(name), "veth": "vnone"}))


def test_status_of_a_build_whose_parts_cannot_be_reached_says_so_and_exits_0(home, capsys):
    driver = LocalDriver("10.191.0.0/24")
    _machine(driver, "ws-local-b1-0-Xab-init-1", "10.191.0.2")
    _machine(driver, "db-local-b1-Xab", "10.191.0.3")
    assert main(["status", "-c", "local", "-b", "b1", "--build-home", str(home), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [(m["role"], m["address"], m["status"]) for m in got["machines"]["items"]] == [
        ("database", "10.191.0.3", "running"), ("webserver", "10.191.0.2", "running")]
    assert got["dns"] == {"unavailable": "no DNS"}
    assert got["backups"]["unavailable"].startswith("build local/b1 has no S3_HOST_BASE in ")
    assert got["firewall"]["layers"] == ["on-machine", "native"]
    assert "unavailable" in got["firewall"]["native"]  # the switch this test never made: nft cannot read it
    assert got["snapshots"] == {"items": []}
    assert got["tls"] == {"in_use": False}  # no certificate issued, no SERVEHTTPS: no webserver is asked
    assert main(["status", "-c", "local", "-b", "b1", "--build-home", str(home)]) == 0
    text = capsys.readouterr().out
    assert "dns www.example.com: unavailable: no DNS\n" in text
    assert "  webserver  10.191.0.2  running  ws-local-b1-0-Xab-init-1\n" in text


def test_status_of_a_build_that_does_not_exist_exits_1(home, capsys):
    assert main(["status", "-c", "local", "-b", "nope", "--build-home", str(home)]) == 1
    assert capsys.readouterr().err.startswith("adt: build local/nope does not exist\n  hint: no ")


def test_a_driver_without_snapshots_or_native_firewall_is_unavailable_not_a_failure(home):
    class Bare:
        name = "bare"

        def list_servers(self, pattern=""):
            return []

    got = st_.status(BuildConfig.load("local", "b1", str(home)), driver=Bare(), now=NOW)
    assert got["snapshots"] == {"unavailable": "the bare cloud host cannot list snapshots"}
    assert got["firewall"]["native"] == {"in_use": True,
                                         "unavailable": "the bare cloud host cannot report its native firewall"}
    assert got["machines"] == {"items": []}
