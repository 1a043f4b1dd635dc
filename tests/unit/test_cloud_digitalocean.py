"""The DigitalOcean driver and DNS against the DigitalOcean fake (which validates every request and response against
DigitalOcean's published OpenAPI specification): what the conformance suite does not cover — the DNS records,
paging of other listings, token scopes, lost create answers, the `backing` hook, problems() — and the fake's own
behaviour that the suite relies on."""

from __future__ import annotations

import base64
import random
import threading
import time

import pytest

from adt import cloud, dns
from adt.cloud.base import Placement, UserData, tags
from adt.cloud.digitalocean import firewall_name, inbound_rules, key_fingerprint, scope_of
from adt.cloud.userdata import cloud_config
from adt.errors import AdtError
from adt.firewall.policy import Rule
from tests.services.cloudfakes.digitalocean import DigitalOceanFake, fingerprint

KEY = "ssh-ed25519 " + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + bytes(range(32))).decode()
PORT = 1035
ALL_SCOPES = {
    "account:read", "ssh_key:read", "ssh_key:create", "droplet:read", "droplet:create", "droplet:delete",
    "droplet:update", "tag:create", "image:read", "vpc:read", "vpc:create", "vpc:delete", "regions:read",
    "sizes:read", "snapshot:read", "snapshot:delete", "image:delete", "firewall:read", "firewall:create",
    "firewall:update", "firewall:delete", "domain:read", "domain:create", "domain:update", "domain:delete",
}


@pytest.fixture(scope="module")
def shared_fake():
    server = DigitalOceanFake().start()  # one for the module: its validator takes a second to build
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake(shared_fake):
    shared_fake.reset()
    yield shared_fake
    shared_fake.check()


def driver_for(fake, build="t1", region="lon1", image="debian-13-x64", token=None):
    placement = Placement(region, image, build, f"adt-{build}")
    return cloud.driver("digitalocean", credentials={"TOKEN": token or fake.token}, placement=placement,
                        api_url=fake.url)


def dns_for(fake, token=None):
    values = {"DNS_CHOICE": "digitalocean", "DNS_SECURITY_KEY": token or fake.token, "DNS_API_URL": fake.url}
    return dns.provider(values)


def create(driver, name, **options):
    return driver.create_server(name, "s-1vcpu-1gb", UserData(), PORT, KEY, **options)


def droplet_named(fake, name):
    return next(d for d in fake.droplets.values() if d["name"] == name)


# -- pure parts ----------------------------------------------------------------------------------------------------
def test_the_key_fingerprint_is_digitaloceans_md5_form():
    assert key_fingerprint(KEY) == fingerprint(KEY)
    assert len(key_fingerprint(KEY).split(":")) == 16
    with pytest.raises(AdtError, match="not an OpenSSH public key"):
        key_fingerprint("not a key")


def test_firewall_rules_group_sources_by_protocol_and_port():
    rules = [Rule("tcp", 22, "10.0.0.1/32"), Rule("tcp", 22, "10.0.0.2/32"), Rule("icmp", 0, "0.0.0.0/0"),
             Rule("tcp", 22, "10.0.0.1/32")]
    assert inbound_rules(rules) == [
        {"protocol": "icmp", "ports": "0", "sources": {"addresses": ["0.0.0.0/0"]}},
        {"protocol": "tcp", "ports": "22", "sources": {"addresses": ["10.0.0.1/32", "10.0.0.2/32"]}},
    ]
    assert firewall_name("ws_lon1 t1") == "adt-ws-lon1-t1"


def test_each_call_names_the_scope_digitalocean_asks_for():
    assert scope_of("GET", "/droplets") == "droplet:read"
    assert scope_of("DELETE", "/droplets/12") == "droplet:delete"
    assert scope_of("POST", "/droplets/12/actions") == "droplet:update"
    assert scope_of("GET", "/droplets/12/actions/7") == "droplet:read"
    assert scope_of("PUT", "/firewalls/ab-cd") == "firewall:update"
    assert scope_of("GET", "/vpcs/ab/members") == "vpc:read"
    assert scope_of("PATCH", "/droplets") == ""


# -- DNS -----------------------------------------------------------------------------------------------------------
def test_dns_adds_lists_and_deletes_a_records_of_the_exact_name(fake):
    fake.add_domain("example.com")
    provider = dns_for(fake)
    assert provider.find_zone("example.com") == "example.com"
    assert provider.find_zone("example.org") == ""
    assert provider.add("www.example.com", "192.0.2.10") is True
    assert provider.add("www.example.com", "192.0.2.10") is False, "adding what is there changes nothing"
    assert provider.add("www.example.com", "192.0.2.11", ttl=120) is True
    assert provider.add("other.example.com", "192.0.2.12") is True
    fake.domains["example.com"]["records"][999] = {
        "id": 999, "type": "TXT", "name": "www", "data": "v=spf1 -all", "priority": None, "port": None, "ttl": 60,
        "weight": None, "flags": None, "tag": None,
    }
    records = provider.records("www.example.com")
    assert [(r.name, r.ip, r.ttl) for r in records] == [
        ("www.example.com", "192.0.2.10", 60), ("www.example.com", "192.0.2.11", 120)
    ]
    assert {r["name"] for r in fake.dns_records("example.com") if r["type"] == "A"} == {"www", "other"}
    assert provider.record_id("www.example.com", "192.0.2.11") == records[1].id
    assert provider.delete("www.example.com", "192.0.2.10") is True
    assert provider.delete("www.example.com", "192.0.2.10") is False, "deleting what is not there changes nothing"
    assert provider.ips("www.example.com") == ["192.0.2.11"]
    assert provider.ips("other.example.com") == ["192.0.2.12"]


def test_dns_keeps_digitaloceans_shortest_ttl_and_follows_pages(fake):
    fake.add_domain("example.com")
    provider = dns_for(fake)
    provider.add("www.example.com", "192.0.2.1", ttl=5)
    assert provider.records("www.example.com")[0].ttl == 30
    for n in range(2, 6):
        provider.add("www.example.com", f"192.0.2.{n}")
    fake.faults.page_size = 2
    before = len(fake.calls)
    assert provider.ips("www.example.com") == [f"192.0.2.{n}" for n in range(1, 6)]
    assert len(fake.calls) - before == 3, "one call a page, the zone found once"


def test_dns_errors_name_the_zone_the_token_and_the_scope(fake):
    fake.add_domain("example.com")
    with pytest.raises(AdtError, match="no zone example.org"):
        dns_for(fake).add("www.example.org", "192.0.2.1")
    with pytest.raises(AdtError, match=r"no DNS_SECURITY_KEY \(DNSSECURITYKEY\)"):
        dns.provider({"DNS_CHOICE": "digitalocean"})
    with pytest.raises(AdtError, match=r"DigitalOcean DNS refused the token \(401"):
        dns_for(fake, token="dop_v1_wrong").records("www.example.com")
    fake.scopes = {"domain:read"}
    with pytest.raises(AdtError, match="needs the domain:create scope"):
        dns_for(fake).add("www.example.com", "192.0.2.1")
    assert fake.dns_records("example.com") == []


# -- machines ------------------------------------------------------------------------------------------------------
def test_a_droplet_is_made_tagged_in_the_vpc_with_the_key_and_its_user_data(fake):
    driver = driver_for(fake)
    data = UserData(files={"/etc/adt/x": ("y\n", 0o600)}, command=["adt", "machine", "bootstrap"])
    server = driver.create_server("ws-lon1-t1-1-abc", "s-1vcpu-1gb", data, PORT, KEY)
    droplet = droplet_named(fake, "ws-lon1-t1-1-abc")
    vpc = next(v for v in fake.vpcs.values() if v["name"] == "adt-t1")
    assert droplet["tags"] == tags("t1", "webserver")
    assert droplet["vpc_uuid"] == vpc["id"] and vpc["region"] == "lon1"
    assert droplet["ssh_keys"] == [fake.keys()[0]["id"]] and fake.keys()[0]["name"] == "adt-t1"
    assert droplet["user_data"] == cloud_config(data, PORT, KEY)
    assert droplet["image"]["slug"] == "debian-13-x64"
    assert (server.status, server.role, server.id) == ("running", "webserver", str(droplet["id"]))
    assert server.public_ip == droplet["public_ip"] and server.private_ip == droplet["private_ip"]
    create(driver, "db-lon1-t1-abc")
    assert len(fake.keys()) == 1 and len([v for v in fake.vpcs.values() if v["name"] == "adt-t1"]) == 1


def test_user_data_over_digitaloceans_limit_is_refused_before_anything_is_made(fake):
    noise = base64.b64encode(random.Random(7).randbytes(60000)).decode()  # gzip cannot shrink it
    data = UserData(files={"/etc/adt/big": (noise, 0o600)})
    with pytest.raises(AdtError, match=r"user data of ws-lon1-t1-1-big is \d+ bytes, over the 64 KiB"):
        driver_for(fake).create_server("ws-lon1-t1-1-big", "s-1vcpu-1gb", data, PORT, KEY)
    assert fake.calls == [] and fake.servers() == []


def test_a_lost_create_answer_adopts_the_droplet_it_made(fake):
    driver = driver_for(fake)
    create(driver, "ws-lon1-t1-1-first")
    fake.lose_creates = 1
    server = create(driver, "ws-lon1-t1-1-second")
    assert fake.servers().count("ws-lon1-t1-1-second") == 1, "no second droplet of the same name"
    assert server.id == str(droplet_named(fake, "ws-lon1-t1-1-second")["id"])


def test_a_create_refused_for_a_scope_names_it_and_leaves_nothing(fake):
    driver = driver_for(fake)
    fake.scopes = ALL_SCOPES - {"droplet:create"}
    with pytest.raises(AdtError, match=r"could not create ws-lon1-t1-1-x: .*needs the droplet:create"):
        create(driver, "ws-lon1-t1-1-x")
    fake.scopes = ALL_SCOPES - {"tag:create"}  # DigitalOcean asks for it to tag a droplet at its create
    with pytest.raises(AdtError, match=r"403 Forbidden.*tag:create"):
        create(driver, "ws-lon1-t1-1-x")
    fake.scopes = ALL_SCOPES - {"droplet:read"}
    with pytest.raises(AdtError, match=r"may not GET /droplets \(403 Forbidden\): it needs the droplet:read scope"):
        driver.list_servers()
    assert fake.servers() == []


def test_a_droplet_that_never_comes_up_is_destroyed(fake):
    class Failing:
        destroyed = []

        def create(self, name, user_data):
            raise RuntimeError("no machine")

        def destroy(self, name):
            self.destroyed.append(name)

    fake.backing = Failing()
    with pytest.raises(AdtError, match="is off instead of starting"):
        create(driver_for(fake), "ws-lon1-t1-1-dud")
    assert fake.servers() == [] and fake.destroyed == ["ws-lon1-t1-1-dud"]


def test_the_backing_hook_makes_the_machine_and_its_address(fake):
    release = threading.Event()

    class Backing:
        made, destroyed = [], []

        def create(self, name, user_data):
            self.made.append((name, user_data))
            release.wait(10)
            return "127.0.0.9"

        def destroy(self, name):
            self.destroyed.append(name)

    backing = Backing()
    fake.backing = backing
    driver = driver_for(fake)
    result = {}
    worker = threading.Thread(target=lambda: result.update(server=create(driver, "ws-lon1-t1-1-real")))
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not backing.made and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [s.status for s in driver.list_servers()] == ["pending"], "provisioning until the machine exists"
    finally:
        release.set()
        worker.join(10)
    server = result["server"]
    assert (server.public_ip, server.private_ip, server.status) == ("127.0.0.9", "127.0.0.9", "running")
    assert backing.made[0][1] == fake.user_data("ws-lon1-t1-1-real")
    driver.destroy_server("ws-lon1-t1-1-real")
    deadline = time.monotonic() + 10
    while not backing.destroyed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert backing.destroyed == ["ws-lon1-t1-1-real"]


# -- snapshots, firewalls, the VPC ---------------------------------------------------------------------------------
def test_a_snapshot_waits_for_its_action_and_is_listed_with_its_source(fake):
    driver = driver_for(fake)
    create(driver, "db-lon1-t1-abc")
    fake.faults.slow_actions = 0.3
    image_id = driver.snapshot("db-lon1-t1-abc", "db-lon1-t1-abc")
    fake.faults.slow_actions = 0
    assert [a["status"] for a in fake.actions.values()] == ["completed"]
    (image,) = driver.list_snapshots("db-lon1-t1")
    assert (image.id, image.label, image.source, image.role) == (image_id, "db-lon1-t1-abc", "db-lon1-t1-abc",
                                                                 "database")
    assert image.size > 0 and image.created > 0
    driver.destroy_server("db-lon1-t1-abc")
    (image,) = driver.list_snapshots("db-lon1-t1")
    assert (image.source, image.role) == ("", "database"), "the role read from the label once the source is gone"
    with pytest.raises(AdtError, match="no machine ws-gone"):
        driver.snapshot("ws-gone", "x")


def test_firewalls_are_per_machine_let_everything_out_and_go_with_the_machine(fake):
    driver = driver_for(fake)
    names = [f"ws-lon1-t1-1-m{n}" for n in range(3)]
    for name in names:
        create(driver, name)
        driver.apply_native_firewall(name, [Rule("tcp", 443, "0.0.0.0/0")])
    fake.faults.page_size = 1
    again = driver.apply_native_firewall(names[2], [Rule("tcp", 80, "0.0.0.0/0")])
    fake.faults.page_size = None
    assert len(fake.firewalls) == 3 and again in fake.firewalls, "found on its page, updated in place"
    assert fake.firewall_rules(names[2]) == {("tcp", 80, "0.0.0.0/0")}
    assert fake.firewall_rules(names[0]) == {("tcp", 443, "0.0.0.0/0")}
    outbound = fake.firewalls[again]["outbound_rules"]
    assert {r["protocol"] for r in outbound} == {"tcp", "udp", "icmp"}
    assert all(r["destinations"]["addresses"] == ["0.0.0.0/0", "::/0"] for r in outbound)
    driver.destroy_server(names[2])
    assert again not in fake.firewalls and len(fake.firewalls) == 2


def test_the_vpc_is_removed_only_when_empty(fake):
    driver = driver_for(fake)
    vpc = driver.ensure_network()
    create(driver, "ws-lon1-t1-1-v")
    driver.remove_network()
    assert vpc in fake.vpcs, "a VPC with machines stays"
    with pytest.raises(AdtError, match="cannot remove VPC adt-t1: it still holds ws-lon1-t1-1-v"):
        driver.remove_network(force=True)
    driver.destroy_server("ws-lon1-t1-1-v")
    driver.remove_network()
    assert vpc not in fake.vpcs
    assert driver_for(fake).ensure_network() != vpc
    with pytest.raises(AdtError, match="VPC adt-t1 is in lon1, not in fra1"):
        driver_for(fake, region="fra1").ensure_network()


def test_destroy_touches_only_the_builds_machines(fake):
    mine, theirs = driver_for(fake), driver_for(fake, build="t2")
    create(theirs, "ws-lon1-t2-1-x")
    mine.destroy_server("ws-lon1-t2-1-x")
    assert fake.servers() == ["ws-lon1-t2-1-x"]
    assert mine.list_servers() == [] and [s.name for s in theirs.list_servers("ws")] == ["ws-lon1-t2-1-x"]


# -- before a build ------------------------------------------------------------------------------------------------
def test_problems_name_each_thing_at_once(fake):
    assert driver_for(fake).problems(["s-1vcpu-1gb", "s-2vcpu-4gb"]) == []
    found = driver_for(fake).problems(["g-2vcpu-8gb"])
    assert found == ["DigitalOcean droplet size g-2vcpu-8gb is not offered in lon1"]
    fake.droplet_limit = 1
    fake.account_status = "locked"
    create(driver_for(fake, build="t9"), "ws-lon1-t9-1-x")
    found = driver_for(fake, region="atlantis1", image="debian-7-x64").problems(["s-99"])
    text = "\n".join(found)
    for words in ("account is locked", "droplet limit reached: the account has 1 of its 1", "no region 'atlantis1'",
                  "no droplet size 's-99'", "no image 'debian-7-x64'"):
        assert words in text, (words, found)
    assert len(found) == 5


def test_problems_name_the_missing_scopes_and_a_refused_token(fake):
    fake.scopes = ALL_SCOPES - {"regions:read", "image:read"}
    found = driver_for(fake).problems(["s-1vcpu-1gb"])
    assert len(found) == 3, found  # /regions, /sizes (it needs regions:read too) and /images
    assert "needs the regions:read scope" in found[0] and "needs the image:read scope" in found[2]
    (refused,) = driver_for(fake, token="dop_v1_nope").problems(["s-1vcpu-1gb"])
    assert "DigitalOcean refused the token (401 Unauthorized)" in refused


def test_listings_page_and_meta_follow_the_spec(fake):
    """The fake's paging, which the driver's one-call-a-page relies on: next only while there is more."""
    driver = driver_for(fake)
    for n in range(3):
        create(driver, f"ws-lon1-t1-1-p{n}")
    answer = driver.api.request("GET", "/droplets", params={"tag_name": "adt-build-t1", "per_page": 2})
    assert answer["meta"]["total"] == 3 and len(answer["droplets"]) == 2
    assert "page=2" in answer["links"]["pages"]["next"]
    last = driver.api.request("GET", "/droplets", params={"tag_name": "adt-build-t1", "per_page": 2, "page": 2})
    assert len(last["droplets"]) == 1 and "next" not in last["links"]["pages"]


def test_an_unreachable_api_is_one_line_with_no_token_and_no_query():
    import socket

    from adt.httpapi import ApiClient, ApiError

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/v2"
    client = ApiClient("DigitalOcean", url, {"Authorization": "Bearer dop_v1_SECRET"}, attempts=2, sleep=lambda _: None)
    one_line = r"^DigitalOcean: GET /droplets failed: ConnectError \(is the provider.s API reachable\?\)$"
    with pytest.raises(ApiError, match=one_line) as failed:
        client.request("GET", "/droplets", params={"tag_name": "sig-SECRET"})
    error = failed.value
    shown = f"{error} {error.hint} {error!r} {error.__cause__!r}"
    assert "SECRET" not in shown and error.__suppress_context__
    assert client.calls == 2
