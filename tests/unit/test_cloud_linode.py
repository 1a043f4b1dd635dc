"""The Linode driver (linode_api4) and DNS against the Linode fake (responses checked against shapes derived from
Linode's own fixtures, request bodies against the documented fields), for what the conformance suite does not
cover: DNS records, pagination and its call count, the fake's `backing` hook, problems() (adt doctor), scopes,
the root password, the sweep of a failed create, dry runs, and the fake's own validation."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from adt import run
from adt.cloud import driver
from adt.cloud.base import Placement, UserData, tags
from adt.cloud.linode import LinodeDriver, firewall_label
from adt.dns import Record, provider
from adt.dns.linode import LinodeDns
from adt.errors import AdtError
from adt.firewall.policy import Rule
from adt.httpapi import poll
from tests.services.cloudfakes.linode import LinodeFake, conforms, fixture, item_schema

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnlyForTheLinodeFake adt@test"


@pytest.fixture(scope="module")
def server():
    with LinodeFake() as started:
        yield started


@pytest.fixture
def fake(server):
    server.reset()
    server.faults.retry_after = 0.05
    yield server
    server.check()


def make_driver(fake: LinodeFake, region: str = "us-east", os_image: str = "", build: str = "t1") -> LinodeDriver:
    made = driver(
        "linode",
        credentials=fake.credentials,
        placement=Placement(region, os_image=os_image or fake.default_image, build=build, vpc=f"adt-{build}"),
        api_url=fake.url,
    )
    assert isinstance(made, LinodeDriver)
    return made


def create(cloud: LinodeDriver, name: str, **options):
    return cloud.create_server(name, "g6-standard-1", UserData(command=["adt", "machine"]), 1035, KEY, **options)


# -- DNS ---------------------------------------------------------------------------------------------------------
def dns(fake: LinodeFake) -> LinodeDns:
    made = provider({"DNS_CHOICE": "linode", "DNS_SECURITY_KEY": fake.token, "DNS_API_URL": fake.url})
    assert isinstance(made, LinodeDns)
    return made


def test_dns_records_are_added_listed_and_deleted_in_the_zone(fake):
    zone = fake.add_domain("example.org")
    records = dns(fake)
    assert records.zone_id("www.example.org") == str(zone)
    assert records.add("www.example.org", "192.0.2.10") is True
    assert records.add("www.example.org", "192.0.2.10") is False  # there already
    assert records.add("www.example.org", "192.0.2.11", ttl=300) is True
    assert records.add("api.example.org", "192.0.2.12") is True  # another name in the zone: not www's
    stored = {r["target"]: r for r in fake.records[zone].values()}
    assert stored["192.0.2.10"]["name"] == "www" and stored["192.0.2.10"]["type"] == "A"
    found = records.records("www.example.org")
    assert {(r.ip, r.ttl) for r in found} == {("192.0.2.10", 120), ("192.0.2.11", 300)}  # Linode rounds 60 up to 120
    assert all(isinstance(r, Record) and r.name == "www.example.org" for r in found)
    fake.faults.page_size = 1  # every record on a page of its own: all pages are read
    before = len(fake.calls)
    assert sorted(records.ips("www.example.org")) == ["192.0.2.10", "192.0.2.11"]
    assert len(fake.calls) - before == 3  # one call a page (the zone's id is remembered)
    fake.faults.page_size = None
    assert records.record_id("www.example.org", "192.0.2.11") == str(stored["192.0.2.11"]["id"])
    assert records.delete("www.example.org", "192.0.2.10") is True
    assert records.delete("www.example.org", "192.0.2.10") is False
    assert records.ips("www.example.org") == ["192.0.2.11"] and records.ips("api.example.org") == ["192.0.2.12"]


def test_dns_without_the_zone_a_key_or_the_scope_is_one_clear_error(fake):
    with pytest.raises(AdtError, match="the linode DNS has no zone nowhere.test"):
        dns(fake).add("www.nowhere.test", "192.0.2.10")
    with pytest.raises(AdtError, match=r"DNS_CHOICE is linode but no DNS_SECURITY_KEY \(DNSSECURITYKEY\)"):
        provider({"DNS_CHOICE": "linode", "DNS_API_URL": fake.url})
    fake.add_domain("example.org")
    fake.scopes = {"linodes:read_write"}
    with pytest.raises(AdtError, match="needs the domains:read_write scope") as refused:
        dns(fake).ips("www.example.org")
    assert fake.token not in str(refused.value)
    wrong = provider({"DNS_CHOICE": "linode", "DNSSECURITYKEY": "not-the-token", "DNS_API_URL": fake.url})
    with pytest.raises(AdtError, match=r"linode refused the token \(401 Unauthorized\)"):
        wrong.ips("www.example.org")


# -- machines ----------------------------------------------------------------------------------------------------
def test_a_machine_is_made_with_its_tags_vpc_metadata_and_a_password_used_once(fake):
    cloud = make_driver(fake)
    first, second = create(cloud, "ws-us-east-t1-1-aaaaaa"), create(cloud, "db-us-east-t1-bbbbbb")
    instance = fake.instances[int(first.id)]
    assert instance["tags"] == sorted(tags("t1", "webserver")) and instance["region"] == "us-east"
    assert fake.user_data("ws-us-east-t1-1-aaaaaa").startswith("#cloud-config\n")
    vpc_id, subnet = instance["_subnet"]
    assert fake.vpcs[vpc_id]["label"] == "adt-t1" and first.private_ip == instance["_private"]
    assert first.public_ip == instance["ipv4"][0] and first.private_ip != first.public_ip
    passwords = fake.root_passwords
    assert len(passwords["ws-us-east-t1-1-aaaaaa"]) >= 32 and passwords["ws-us-east-t1-1-aaaaaa"] != passwords[
        "db-us-east-t1-bbbbbb"
    ]
    kept = repr(vars(cloud)) + repr(first) + repr(second)
    assert not any(p in kept for p in passwords.values()), "the root password is sent, never kept"
    assert fake.keys() == [KEY.rsplit(" ", 1)[0]]  # registered once, without its comment


def test_listing_is_one_call_a_page_of_the_builds_machines_only(fake):
    cloud = make_driver(fake)
    names = [f"ws-us-east-t1-{n}-abcdef" for n in range(1, 6)]
    for name in names:
        create(cloud, name)
    create(make_driver(fake, build="t2"), "ws-us-east-t2-1-abcdef")
    observer = make_driver(fake)  # another process (the autoscaler): it knows no addresses yet
    before = len(fake.calls)
    listed = observer.list_servers()
    assert [s.name for s in listed] == names and all(s.private_ip.startswith("10.0.0.") for s in listed)
    assert len(fake.calls) - before == 4  # the page, and once the VPC's addresses (the VPC: 2 calls, once)
    before = len(fake.calls)
    assert observer.list_servers("-3-") == [s for s in listed if "-3-" in s.name]
    assert len(fake.calls) - before == 1
    fake.faults.page_size = 2
    before = len(fake.calls)
    assert observer.list_servers() == listed
    assert len(fake.calls) - before == 3
    assert all(path == "/v4/linode/instances" for _, path in fake.calls[-3:])


def test_a_create_that_never_finishes_is_swept_away(fake):
    cloud = make_driver(fake)
    create(cloud, "ws-us-east-t1-1-aaaaaa")  # the VPC and the key exist: the next create goes straight on
    cloud.timeout = 0.3
    fake.faults.slow_actions = 60
    with pytest.raises(AdtError, match="linode: could not create ws-us-east-t1-2-bbbbbb: timed out"):
        create(cloud, "ws-us-east-t1-2-bbbbbb")
    assert fake.servers() == ["ws-us-east-t1-1-aaaaaa"]


def test_a_create_the_api_refuses_names_linodes_reason(fake):
    cloud = make_driver(fake, os_image="linode/nosuch")
    with pytest.raises(AdtError, match="could not create ws-us-east-t1-1-aaaaaa: .*400: image is not valid"):
        create(cloud, "ws-us-east-t1-1-aaaaaa")
    assert fake.servers() == []


def test_destroy_takes_only_the_builds_machine(fake):
    mine, theirs = make_driver(fake), make_driver(fake, build="t2")
    create(theirs, "ws-us-east-t2-1-aaaaaa")
    mine.destroy_server("ws-us-east-t2-1-aaaaaa")  # not this build's: left alone
    assert fake.servers() == ["ws-us-east-t2-1-aaaaaa"]
    theirs.destroy_server("ws-us-east-t2-1-aaaaaa")
    assert fake.servers() == []


def test_the_backing_makes_the_machine_and_its_address(fake):
    class Backing:
        def __init__(self):
            self.release = threading.Event()
            self.made, self.gone = [], []

        def create(self, name: str, user_data: str) -> str:
            self.made.append((name, user_data))
            self.release.wait(10)
            return "192.0.2.50"

        def destroy(self, name: str) -> None:
            self.gone.append(name)

    backing = fake.backing = Backing()
    cloud = make_driver(fake)
    result = {}
    worker = threading.Thread(target=lambda: result.update(server=create(cloud, "ws-us-east-t1-1-aaaaaa")))
    worker.start()
    poll(lambda: fake.instances or None, "the create", 5)
    assert next(iter(fake.instances.values()))["status"] == "provisioning"  # until the backing answers
    backing.release.set()
    worker.join(10)
    server = result["server"]
    assert server.public_ip == server.private_ip == "192.0.2.50" and server.status == "running"
    assert backing.made[0][0] == "ws-us-east-t1-1-aaaaaa" and backing.made[0][1].startswith("#cloud-config")
    cloud.destroy_server("ws-us-east-t1-1-aaaaaa")
    assert poll(lambda: backing.gone or None, "the backing's destroy", 5) == ["ws-us-east-t1-1-aaaaaa"]


# -- firewalls, snapshots ----------------------------------------------------------------------------------------
def test_a_firewall_label_fits_linodes_32_characters_and_stays_apart():
    assert firewall_label("ws-us-east-t1-1-aaaaaa") == "adt-ws-us-east-t1-1-aaaaaa"
    long_one, other = "ws-" + "x" * 40 + "-1", "ws-" + "x" * 40 + "-2"
    assert len(firewall_label(long_one)) == 32 and firewall_label(long_one) == firewall_label(long_one)
    assert firewall_label(long_one) != firewall_label(other)


def test_a_long_named_machine_gets_its_firewall_once(fake):
    cloud = make_driver(fake)
    name = "ws-us-east-t1-1-" + "a" * 30
    create(cloud, name)
    rules = [Rule("tcp", 1035, "192.0.2.1/32"), Rule("tcp", 443, "0.0.0.0/0"), Rule("tcp", 443, "::/0")]
    label = cloud.apply_native_firewall(name, rules)
    assert label == firewall_label(name) and cloud.apply_native_firewall(name, rules[:1]) == label
    assert fake.firewalls_of(name) == [label] and len(fake.firewalls) == 1
    assert fake.firewall_rules(name) == {("tcp", 1035, "192.0.2.1/32")}
    firewall = next(iter(fake.firewalls.values()))
    assert firewall["rules"]["inbound_policy"] == "DROP" and firewall["rules"]["version"] == 2


def test_a_snapshot_is_an_image_of_the_main_disk_waited_for_and_listed_oldest_first(fake):
    cloud = make_driver(fake)
    create(cloud, "db-us-east-t1-aaaaaa")
    fake.faults.slow_actions = 0.3
    first = cloud.snapshot("db-us-east-t1-aaaaaa", "adt-db-one")
    assert fake.images[first]["status"] == "available"
    fake.images[first]["created"] = "2020-01-01T00:00:00"
    second = cloud.snapshot("db-us-east-t1-aaaaaa", "adt-db-two")
    images = cloud.list_snapshots("db-us-east")
    assert [i.id for i in images] == [first, second]
    assert images[0].role == "database" and images[0].source == "db-us-east-t1-aaaaaa" and images[0].size > 0
    assert [i.id for i in cloud.list_snapshots("adt-db-two")] == [second]
    cloud.delete_snapshot(first)
    with pytest.raises(AdtError, match=f"linode: no image {first}"):
        cloud.delete_snapshot(first)


def test_a_dry_run_changes_nothing_and_says_what_it_would_call(fake):
    cloud = make_driver(fake)
    lines = []
    with run.dry_running(echo=lines.append):
        server = create(cloud, "ws-us-east-t1-1-aaaaaa")
        assert cloud.ensure_network() == ""
    assert server.status == "planned" and fake.servers() == [] and fake.vpcs == {}
    assert lines == [
        f"would call: POST {fake.url}/linode/instances (ws-us-east-t1-1-aaaaaa, g6-standard-1, us-east)",
        f"would call: POST {fake.url}/vpcs (adt-t1 in us-east)",
    ]


# -- tokens, scopes, problems ------------------------------------------------------------------------------------
def test_a_token_without_a_scope_is_named(fake):
    cloud = make_driver(fake)
    fake.scopes = {"vpc:read_write", "linodes:read_only", "account:read_write"}
    assert cloud.list_servers() == []
    refused = r"^linode: could not create ws-us-east-t1-1-aaaaaa: the token may not POST /linode/instances \(401\)"
    with pytest.raises(AdtError, match=refused + ": it needs the linodes:read_write scope"):
        cloud.create_server("ws-us-east-t1-1-aaaaaa", "g6-standard-1", UserData(), 1035, KEY.replace("Only", "Some"))


def test_problems_are_all_named_at_once(fake):
    assert make_driver(fake).problems(["g6-standard-1", "g6-nanode-1"]) == []
    fake.scopes = {"linodes:read_write", "images:read_only", "vpc:read_write", "account:read_write"}
    found = make_driver(fake, region="ap-west", os_image="linode/nosuch").problems(["g6-standard-1", "g9-huge"])
    assert found == [
        "linode: the token lacks the scopes images:read_write, firewall:read_write",
        "linode: region ap-west has no Metadata service, which gives machines their user data",
        "linode: region ap-west has no VPCs",
        "linode: no type 'g9-huge' (a size such as g6-standard-2)",
        "linode: no image 'linode/nosuch'",
    ]
    fake.scopes = {"*"}
    assert make_driver(fake, region="mars-1").problems()[0].startswith("linode: no region 'mars-1' (there are ")
    wrong = driver("linode", credentials={"TOKEN": "nope"}, placement=Placement("us-east"), api_url=fake.url)
    assert wrong.problems(["g6-standard-1"]) == [
        "linode refused the token (401 Unauthorized) for GET /profile"
    ]


def test_rate_limits_and_errors_are_retried_with_retry_after_honoured(fake):
    cloud = make_driver(fake)
    fake.faults.retry_after = 0.3
    fake.faults.rate_limited = 1
    started = time.monotonic()
    assert cloud.list_servers() == []
    assert time.monotonic() - started >= 0.3
    fake.faults.errors = 2
    assert cloud.list_servers() == []
    assert fake.calls[-3:] == [("GET", "/v4/linode/instances")] * 3


# -- the fake itself ---------------------------------------------------------------------------------------------
def test_the_fake_refuses_undocumented_request_fields_and_catches_bad_answers(fake):
    headers = {"Authorization": f"Bearer {fake.token}"}
    bad = {"region": "us-east", "type": 1, "colour": "red", "metadata": {"userdata": "x"}}
    answer = httpx.post(f"{fake.url}/linode/instances", json=bad, headers=headers)
    assert answer.status_code == 400
    problem = fake.violations.pop()
    for part in (".type: int, not str", ".colour: not a field Linode documents", ".metadata.userdata: not a field"):
        assert part in problem
    assert ".region: required" not in problem  # it was given
    assert httpx.post(f"{fake.url}/images", json={}, headers=headers).status_code == 400
    assert ".disk_id: required" in fake.violations.pop()
    shape = item_schema("linode_instances.json", "linode_instances_124.json")
    good = dict(fixture("linode_instances_124.json"))
    assert conforms(good, shape) == []
    broken = {**good, "status": 3, "extra": True}
    del broken["label"]
    assert sorted(conforms(broken, shape)) == [
        ".extra: not in Linode's answer",
        ".label: missing",
        ".status: int, not str",
    ]


def test_a_request_past_its_time_out_is_retried_then_one_error(fake, monkeypatch):
    import adt.cloud.linode as linode

    monkeypatch.setattr(linode, "TIMEOUT", (1.0, 0.2))  # the SDK itself sets no time-out at all
    monkeypatch.setattr(linode, "ATTEMPTS", 2)
    cloud = make_driver(fake)
    fake.faults.delay = 0.5
    with pytest.raises(AdtError, match=r"^linode: GET /linode/instances failed: timed out \(is Linode's API"):
        cloud.list_servers()
    assert fake.calls == [("GET", "/v4/linode/instances")] * 2
