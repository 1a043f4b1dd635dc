"""The Vultr driver and DNS against the Vultr fake (validated against Vultr's published OpenAPI document), for what
the conformance suite does not cover: DNS records, cursor pagination, the fake's `backing` hook, problems() (adt
doctor), ACL errors, the root password a create answers with, dry runs, the fake's own validation."""

from __future__ import annotations

import threading
import time

import pytest

from adt import run
from adt.cloud import driver
from adt.cloud.base import Placement, UserData, tags
from adt.cloud.vultr import VultrDriver
from adt.dns import provider
from adt.dns.vultr import VultrDns
from adt.errors import AdtError
from adt.firewall.policy import Rule
from tests.services.cloudfakes.vultr import VultrFake

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnlyForTheVultrFake adt@test"


@pytest.fixture(scope="module")
def server():
    with VultrFake() as started:
        yield started


@pytest.fixture
def fake(server):
    server.reset()
    yield server
    server.check()


def make_driver(fake: VultrFake, region: str = "lhr", os_image: str = "", build: str = "t1") -> VultrDriver:
    made = driver(
        "vultr",
        credentials=fake.credentials,
        placement=Placement(region, os_image=os_image or fake.default_image, build=build, vpc=f"adt-{build}"),
        api_url=fake.url,
    )
    made.client.sleep = lambda seconds: None  # retries are immediate here: the fake's Retry-After is not awaited
    return made


def create(cloud: VultrDriver, name: str, **options):
    return cloud.create_server(name, "vc2-1c-1gb", UserData(command=["adt", "machine"]), 1035, KEY, **options)


# -- DNS --------------------------------------------------------------------------------------------
def dns(fake: VultrFake) -> VultrDns:
    made = provider({"DNS_CHOICE": "vultr", "DNS_SECURITY_KEY": fake.token, "DNS_API_URL": fake.url})
    assert isinstance(made, VultrDns)
    made.client.sleep = lambda seconds: None
    return made


def test_dns_round_robin_against_the_fake(fake):
    fake.add_domain("adt-demo.uk")
    records = dns(fake)
    assert records.find_zone("adt-demo.uk") == "adt-demo.uk"
    assert records.find_zone("other.uk") == ""
    assert records.add("www.adt-demo.uk", "203.0.113.7") is True
    assert records.add("www.adt-demo.uk", "203.0.113.7") is False
    assert records.add("www.adt-demo.uk", "203.0.113.8", ttl=120) is True
    # Vultr keeps names relative to the domain
    assert sorted((r["name"], r["data"], r["ttl"]) for r in fake.domains["adt-demo.uk"]["records"]) == [
        ("www", "203.0.113.7", 60),
        ("www", "203.0.113.8", 120),
    ]
    assert records.ips("www.adt-demo.uk") == ["203.0.113.7", "203.0.113.8"]
    assert records.record_id("www.adt-demo.uk", "203.0.113.8") == fake.domains["adt-demo.uk"]["records"][1]["id"]
    assert records.delete("www.adt-demo.uk", "203.0.113.7") is True
    assert records.delete("www.adt-demo.uk", "203.0.113.7") is False
    assert records.ips("www.adt-demo.uk") == ["203.0.113.8"]


def test_dns_keeps_other_names_and_types(fake):
    fake.add_domain("adt-demo.uk")
    fake.domains["adt-demo.uk"]["records"] += [
        {"id": "mx1", "type": "MX", "name": "", "data": "mail.adt-demo.uk", "priority": 10, "ttl": 300},
        {"id": "a1", "type": "A", "name": "shop", "data": "203.0.113.9", "priority": 0, "ttl": 300},
    ]
    records = dns(fake)
    assert records.records("www.adt-demo.uk") == []
    records.add("www.adt-demo.uk", "203.0.113.9")
    assert records.delete("www.adt-demo.uk", "203.0.113.9") is True
    assert {r["id"] for r in fake.domains["adt-demo.uk"]["records"]} == {"mx1", "a1"}


def test_dns_reads_every_page_of_records(fake):
    fake.add_domain("adt-demo.uk")
    records = dns(fake)
    for last in range(1, 6):
        records.add("www.adt-demo.uk", f"203.0.113.{last}")
    fake.faults.page_size = 2
    before = len(fake.calls)
    assert records.ips("www.adt-demo.uk") == [f"203.0.113.{n}" for n in range(1, 6)]
    assert len(fake.calls) - before == 3  # three pages (the zone was found by the adds, and is remembered)


def test_dns_errors_name_the_problem(fake):
    with pytest.raises(AdtError, match="no zone adt-demo.uk"):
        dns(fake).add("www.adt-demo.uk", "203.0.113.7")
    fake.add_domain("adt-demo.uk")
    with pytest.raises(AdtError, match="not an IPv4 address"):
        dns(fake).add("www.adt-demo.uk", "2001:db8::1")
    with pytest.raises(AdtError, match="no Vultr API key for DNS"):
        VultrDns({}, fake.url)
    wrong = VultrDns({"DNSSECURITYKEY": "wrong"}, fake.url)
    with pytest.raises(AdtError, match=r"vultr DNS refused the token \(401"):
        wrong.find_zone("adt-demo.uk")
    fake.scopes.discard("dns")
    with pytest.raises(AdtError, match="needs the dns scope"):
        dns(fake).find_zone("adt-demo.uk")


def test_dns_dry_run_changes_nothing(fake):
    fake.add_domain("adt-demo.uk")
    records = dns(fake)
    records.add("www.adt-demo.uk", "203.0.113.7")
    said = []
    with run.dry_running(echo=said.append):
        assert records.add("www.adt-demo.uk", "203.0.113.8") is True
        assert records.delete("www.adt-demo.uk", "203.0.113.7") is True
    assert records.ips("www.adt-demo.uk") == ["203.0.113.7"]
    assert [line.split(" ")[:3] for line in said] == [["would", "call:", "POST"], ["would", "call:", "DELETE"]]


# -- pagination and the one-call listing ------------------------------------------------------------
def test_listing_follows_the_cursor_one_call_a_page(fake):
    cloud = make_driver(fake)
    for number in range(5):
        create(cloud, f"ws-{number}-t1")
    other = make_driver(fake, build="t2")
    create(other, "ws-9-t2")
    before = len(fake.calls)
    assert len(cloud.list_servers()) == 5
    assert len(fake.calls) - before == 1  # one page of up to 500
    fake.faults.page_size = 2
    before = len(fake.calls)
    assert sorted(s.name for s in cloud.list_servers()) == [f"ws-{n}-t1" for n in range(5)]
    assert len(fake.calls) - before == 3
    assert all("tag=adt-build-t1" in call and "per_page=500" in call for call in _queries(fake)[-3:])
    assert [s.name for s in cloud.list_servers("ws-3")] == ["ws-3-t1"]
    assert [s.name for s in other.list_servers()] == ["ws-9-t2"]


def _queries(fake):
    return [path for method, path in fake.queries if method == "GET" and path.startswith("/v2/instances?")]


def test_the_fake_refuses_a_bad_cursor_and_validates_requests(fake):
    import httpx

    headers = {"Authorization": f"Bearer {fake.token}"}
    assert httpx.get(f"{fake.url}/instances", params={"cursor": "junk"}, headers=headers).status_code == 400
    answer = httpx.post(f"{fake.url}/instances", json={"region": "lhr", "plan": "vc2-1c-1gb", "os_id": "debian"},
                        headers=headers)
    assert answer.status_code == 400
    assert any("POST /v2/instances" in v for v in fake.violations)
    fake.violations.clear()  # what this test made on purpose


# -- create: what is sent, what is kept -------------------------------------------------------------
def test_create_sends_what_vultr_documents_and_keeps_no_password(fake):
    cloud = make_driver(fake)
    server = create(cloud, "ws-1-t1")
    instance = fake._named("ws-1-t1")
    assert instance["tags"] == tags("t1", "webserver")
    assert instance["hostname"] == "ws-1-t1" and instance["os_id"] == 2136 and instance["plan"] == "vc2-1c-1gb"
    assert instance["_vpcs"] == [cloud.ensure_network()]
    assert instance["_sshkeys"] == [next(iter(fake.ssh_keys))]
    assert server.private_ip == instance["internal_ip"] and server.public_ip == instance["main_ip"]
    password = instance["default_password"]
    assert password not in repr(vars(cloud)) and password not in repr(server)


def test_create_from_a_snapshot_and_the_key_once(fake):
    cloud = make_driver(fake)
    create(cloud, "ws-1-t1")
    image = cloud.snapshot("ws-1-t1", "ws-1-t1-weekly")
    [listed] = cloud.list_snapshots("ws-1")
    assert (listed.id, listed.label, listed.source, listed.role) == (image, "ws-1-t1-weekly", "ws-1-t1", "webserver")
    again = make_driver(fake)  # another driver finds the key by its content
    create(again, "ws-2-t1", image=image)
    assert len(fake.ssh_keys) == 1
    assert fake._named("ws-2-t1")["_snapshot"] == image


def test_an_unknown_os_is_refused_before_anything_is_made(fake):
    with pytest.raises(AdtError, match="vultr has no operating system named 'debian-12'"):
        create(make_driver(fake, os_image="debian-12"), "ws-1-t1")
    assert fake.servers() == []


def test_the_os_is_found_by_its_name_in_the_catalogue(fake):
    """OS_IMAGES names Vultr's systems as the original printed them; the id is the catalogue's."""
    from adt.cloud.base import os_image

    create(make_driver(fake, os_image=os_image("vultr", "debian", "12")), "ws-1-t1")
    assert [i["os_id"] for i in fake.instances.values()] == [2136]


def test_a_create_refused_for_the_region_leaves_nothing(fake):
    cloud = make_driver(fake, region="sgp")
    with pytest.raises(AdtError, match="creating ws-1-t1 failed.*not available in the selected region"):
        cloud.create_server("ws-1-t1", "vhf-1c-1gb", UserData(), 1035, KEY)
    assert fake.servers() == []


def test_a_missing_provisioning_permission_is_named(fake):
    cloud = make_driver(fake)
    cloud.ensure_network()
    fake.scopes.discard("provisioning")
    with pytest.raises(AdtError, match="needs the provisioning permission"):
        create(cloud, "ws-1-t1")
    assert fake.servers() == []


# -- the backing hook -------------------------------------------------------------------------------
class Backing:
    def __init__(self, fail: bool = False):
        self.release = threading.Event()
        self.made = {}
        self.destroyed = []
        self.fail = fail

    def create(self, name: str, user_data: str) -> str:
        assert self.release.wait(10)
        if self.fail:
            raise RuntimeError("no room")
        self.made[name] = user_data
        return "10.99.0.7"

    def destroy(self, name: str) -> None:
        self.destroyed.append(name)


def test_backing_makes_the_machine_and_the_instance_waits_for_it(fake):
    fake.backing = backing = Backing()
    cloud = make_driver(fake)
    made = []
    creating = threading.Thread(target=lambda: made.append(create(cloud, "ws-1-t1")))
    creating.start()
    try:
        run_until = time.monotonic() + 10
        while not fake.servers() and time.monotonic() < run_until:
            creating.join(0.02)
        [listed] = make_driver(fake).list_servers()
        assert (listed.status, listed.public_ip) == ("pending", "")
    finally:
        backing.release.set()
        creating.join(10)
    [server] = made
    assert (server.status, server.public_ip, server.private_ip) == ("running", "10.99.0.7", "10.99.0.7")
    assert backing.made["ws-1-t1"] == fake.user_data("ws-1-t1")
    assert backing.made["ws-1-t1"].startswith("#cloud-config\n")
    cloud.destroy_server("ws-1-t1")
    assert backing.destroyed == ["ws-1-t1"]


def test_a_backing_failure_fails_the_create_and_leaves_nothing(fake):
    fake.backing = backing = Backing(fail=True)
    backing.release.set()
    with pytest.raises(AdtError, match="creating ws-1-t1 failed.*disappeared"):
        create(make_driver(fake), "ws-1-t1")
    assert fake.servers() == [] and fake.backing_errors == ["ws-1-t1: no room"]


# -- problems (adt doctor) --------------------------------------------------------------------------
def test_problems_of_a_good_setup_are_none(fake):
    assert make_driver(fake).problems(["vc2-1c-1gb", "vc2-2c-4gb"]) == []


def test_problems_are_reported_all_at_once(fake):
    fake.scopes -= {"firewall", "provisioning"}
    found = make_driver(fake, region="xyz", os_image="9999").problems(["vc2-1c-1gb", "nope"])
    assert found == [
        "vultr: the API key's user lacks the permissions provisioning, firewall (give them in Vultr's control panel,"
        " Users)",
        "vultr has no region 'xyz' (regions: ams, ewr, fra, lhr, sgp)",
        "vultr does not offer the plan 'vc2-1c-1gb' in region 'xyz'",
        "vultr has no plan (size) 'nope'",
        "vultr has no operating system with id '9999'",
    ]


def test_problems_with_a_wrong_token_name_it_and_still_check_the_rest(fake):
    cloud = VultrDriver({"TOKEN": "wrong"}, Placement("lhr", os_image="2136", build="t1"), fake.url)
    found = cloud.problems(["vhf-1c-1gb"])
    assert found == [
        "vultr refused the token (401 Unauthorized) for GET /account",
        "vultr does not offer the plan 'vhf-1c-1gb' in region 'lhr'",
    ]


def test_no_token_is_an_error():
    with pytest.raises(AdtError, match="no Vultr API key"):
        VultrDriver({}, Placement("lhr"))


# -- firewall, network, dry run ---------------------------------------------------------------------
def test_firewall_rules_are_replaced_in_place_with_v6_and_icmp(fake):
    cloud = make_driver(fake)
    create(cloud, "ws-1-t1")
    first = cloud.apply_native_firewall(
        "ws-1-t1", [Rule("tcp", 1035, "198.51.100.4/32"), Rule("tcp", 443, "::/0"), Rule("icmp", 0, "10.0.0.0/8")]
    )
    assert fake.firewall_rules("ws-1-t1") == {("tcp", 1035, "198.51.100.4/32"), ("tcp", 443, "::/0"),
                                              ("icmp", 0, "10.0.0.0/8")}
    before = len(fake.calls)
    assert cloud.apply_native_firewall("ws-1-t1", [Rule("tcp", 443, "::/0"), Rule("icmp", 0, "10.0.0.0/8"),
                                                   Rule("tcp", 1035, "198.51.100.4")]) == first
    assert [m for m, _ in fake.calls[before:]] == ["GET", "GET", "GET"]  # the same rules: nothing written
    cloud.apply_native_firewall("ws-1-t1", [Rule("tcp", 80, "0.0.0.0/0")])
    assert fake.firewall_rules("ws-1-t1") == {("tcp", 80, "0.0.0.0/0")}
    assert list(fake.firewalls) == [first]
    cloud.destroy_server("ws-1-t1")
    assert fake.firewalls == {}  # the machine's own group went with it


def test_remove_network_keeps_a_used_vpc_unless_forced(fake):
    cloud = make_driver(fake)
    create(cloud, "ws-1-t1")
    cloud.remove_network()
    assert len(fake.vpcs) == 1
    cloud.remove_network(force=True)
    assert fake.vpcs == {} and fake._named("ws-1-t1")["_vpcs"] == []


def test_dry_run_changes_nothing(fake):
    cloud = make_driver(fake)
    create(cloud, "ws-1-t1")
    said = []
    with run.dry_running(echo=said.append):
        assert create(cloud, "ws-2-t1").status == "planned"
        cloud.apply_native_firewall("ws-1-t1", [Rule("tcp", 22, "0.0.0.0/0")])
        assert cloud.snapshot("ws-1-t1", "x") == ""
        cloud.destroy_server("ws-1-t1")
        cloud.remove_network(force=True)
    assert fake.servers() == ["ws-1-t1"] and fake.snapshots == {} and fake.firewalls == {} and len(fake.vpcs) == 1
    assert len(said) == 5 and all(line.startswith("would call: ") for line in said)


def test_destroy_touches_only_this_builds_machines(fake):
    create(make_driver(fake, build="t2"), "ws-1-t1")
    cloud = make_driver(fake)
    cloud.destroy_server("ws-1-t1")  # another build's: left as it is, not an error
    assert fake.servers() == ["ws-1-t1"]
    with pytest.raises(AdtError, match="no machine ws-1-t1 in build t1"):
        cloud.snapshot("ws-1-t1", "x")


def test_a_firewall_group_just_made_is_found_while_listings_lag(fake):
    cloud = make_driver(fake)
    create(cloud, "ws-1-t1")
    fake.faults.stale = 60
    first = cloud.apply_native_firewall("ws-1-t1", [Rule("tcp", 22, "10.0.0.0/8")])
    assert cloud.apply_native_firewall("ws-1-t1", [Rule("tcp", 443, "0.0.0.0/0")]) == first
    assert list(fake.firewalls) == [first] and fake.firewall_rules("ws-1-t1") == {("tcp", 443, "0.0.0.0/0")}
    assert cloud.ensure_network() == cloud.ensure_network() and len(fake.vpcs) == 1
    cloud.destroy_server("ws-1-t1")
    assert fake.servers() == [] and fake.firewalls == {}


def test_a_create_whose_answer_was_lost_is_not_made_twice(fake):
    fake.lost_answers = 1
    server = create(make_driver(fake), "ws-1-t1")
    assert fake.servers() == ["ws-1-t1"] and server.id == fake._named("ws-1-t1")["id"]
    assert [m for m, p in fake.calls if p == "/v2/instances"] == ["POST", "GET"]  # the listing, not a second POST


def test_a_create_that_keeps_failing_leaves_nothing_and_says_so(fake):
    cloud = make_driver(fake)
    create(cloud, "ws-1-t1")  # the VPC and the key are there: the create itself fails
    fake.faults.errors = 1000
    with pytest.raises(AdtError, match="creating ws-2-t1 failed.*answered 500") as failed:
        create(cloud, "ws-2-t1")
    assert "check Vultr's control panel for ws-2-t1: the listing failed" in failed.value.hint
    fake.faults.errors = 0
    assert fake.servers() == ["ws-1-t1"]
