"""Exoscale: the driver and the DNS against the fake (tests/services/cloudfakes/exoscale.py), which validates every
request and response against the specification the `exoscale` SDK ships and checks every request's
EXO2-HMAC-SHA256 signature. What the conformance suite does not cover: the signature itself, IAM-forbidden
operations, labels, the backing hook, leases, problems() in detail, user data past the API's limit, DNS."""

from __future__ import annotations

import base64
import gzip
import os
import threading
import time
import uuid

import pytest
import requests
from exoscale_auth import ExoscaleV2Auth

from adt.cloud.base import Placement, UserData, tags
from adt.cloud.exoscale import USER_DATA_LIMIT, ExoscaleDriver, encoded_user_data, labels
from adt.dns import provider
from adt.dns.exoscale import ExoscaleDns
from adt.errors import AdtError
from tests.services.cloudfakes.exoscale import ExoscaleFake

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9+aW1hZ2luYXJ5LWtleS1mb3ItdGVzdHMtb25seQ adt@test"


@pytest.fixture(scope="module")
def served():
    fake = ExoscaleFake().start()
    try:
        yield fake
        fake.check()
    finally:
        fake.stop()


@pytest.fixture
def fake(served):
    served.scopes = None
    served.backing = None
    served.instance_limit = 20
    served.faults.__init__()
    yield served
    served.scopes = None
    served.backing = None
    served.faults.__init__()
    for name in served.servers():  # what a test left: through the API, as the driver would
        ExoscaleDriver(served.credentials, Placement("ch-gva-2", build=_build_of(served, name)), served.url
                       ).destroy_server(name)  # fmt: skip


def _build_of(fake, name):
    return fake.labels(name).get("adt-build", "")


def driver_for(fake, build="t1", region="ch-gva-2", image=None, credentials=None):
    placement = Placement(region, fake.default_image if image is None else image, build, f"adt-{build}")
    return ExoscaleDriver(credentials or fake.credentials, placement, fake.url, sleep=time.sleep)


def machine(role="ws"):
    return f"{role}-ch-gva-2-t1{'-1' if role == 'ws' else ''}-{uuid.uuid4().hex[:6]}"


# -- the signature -------------------------------------------------------------------------------------------------
def test_a_request_signed_with_the_secret_is_accepted_and_any_other_is_refused(fake):
    url = f"{fake.url}/instance"
    assert requests.get(url, auth=ExoscaleV2Auth(fake.key, fake.secret), timeout=10).status_code == 200
    assert requests.get(url, auth=ExoscaleV2Auth(fake.key, "not-the-secret"), timeout=10).status_code == 401
    assert requests.get(url, auth=ExoscaleV2Auth("EXOotherkey", fake.secret), timeout=10).status_code == 401
    assert requests.get(url, timeout=10).status_code == 401  # unsigned
    # signed query arguments: the values are part of the signature
    signed = requests.Request("GET", url, params={"labels": "adt-build=t1"}).prepare()
    ExoscaleV2Auth(fake.key, fake.secret)(signed)
    with requests.Session() as session:
        assert session.send(signed, timeout=10).status_code == 200
        signed.prepare_url(url, {"labels": "adt-build=t2"})  # the same signature on another value
        assert session.send(signed, timeout=10).status_code == 401
        late = requests.Request("GET", url).prepare()
        ExoscaleV2Auth(fake.key, fake.secret)._sign_request(late, int(time.time()) - 1)  # expired
        assert session.send(late, timeout=10).status_code == 401
        body = requests.Request("POST", f"{fake.url}/security-group", json={"name": "adt-sig-test"}).prepare()
        ExoscaleV2Auth(fake.key, fake.secret)(body)
        body.prepare_body(None, None, json={"name": "adt-other"})  # the body changed after signing
        assert session.send(body, timeout=10).status_code == 401
    assert requests.get(f"{fake.url}/zone", timeout=10).status_code == 200  # list-zones is public


def test_a_wrong_secret_is_one_line_naming_exoscale_and_401(fake):
    wrong = driver_for(fake, credentials={"ACCESS_KEY": fake.key, "SECRET_KEY": "not-the-secret"})
    with pytest.raises(AdtError, match=r"^exoscale refused the API key and secret \(401 Unauthorized\)") as refused:
        wrong.list_servers()
    assert fake.secret not in str(refused.value) and "not-the-secret" not in str(refused.value)
    with pytest.raises(AdtError, match="ACCESS_KEY and SECRET_KEY are both needed"):
        ExoscaleDriver({"ACCESS_KEY": fake.key}, Placement("ch-gva-2"), fake.url)


def test_an_operation_the_keys_role_does_not_allow_is_named(fake):
    fake.scopes = {"list-instances", "list-instance-types", "list-templates", "list-private-networks",
                   "create-private-network", "get-operation", "get-ssh-key", "register-ssh-key"}  # fmt: skip
    with pytest.raises(AdtError, match=r"may not create-instance \(403 Forbidden\).*needs the create-instance"):
        driver_for(fake).create_server(machine(), "small", UserData(), 22, KEY)
    assert fake.servers() == []


# -- servers -------------------------------------------------------------------------------------------------------
def test_a_machine_carries_its_build_and_role_as_labels_and_its_lease_as_private_address(fake):
    driver = driver_for(fake)
    name = machine("db")
    server = driver.create_server(name, "tiny", UserData(), 1035, KEY)
    assert labels("t1", "database") == {"adt-build": "t1", "adt-role": "database"}
    assert fake.labels(name) == {"adt-build": "t1", "adt-role": "database"}
    assert fake.tags(name) == sorted(tags("t1", "database"))
    assert server.role == "database" and server.status == "running"
    assert server.private_ip.startswith("10.0.0.") and server.public_ip.startswith("194.182.")
    # a listing is one call once the lease is known; a driver that never saw the machine reads the lease once
    before = len(fake.calls)
    assert [s.private_ip for s in driver.list_servers(name)] == [server.private_ip]
    assert len(fake.calls) - before == 1
    fresh = driver_for(fake)
    before = len(fake.calls)
    assert [s.private_ip for s in fresh.list_servers(name)] == [server.private_ip]
    assert [method for method, _ in fake.calls[before:]] == ["GET", "GET"]
    assert fake.calls[before][1] == "/v2/instance" and fake.calls[before + 1][1].startswith("/v2/private-network/")
    before = len(fake.calls)
    fresh.list_servers()
    assert len(fake.calls) - before == 1
    # another build's driver neither sees nor destroys it
    other = driver_for(fake, build="t2")
    assert other.list_servers() == []
    other.destroy_server(name)
    assert name in fake.servers()
    driver.destroy_server(name)
    assert name not in fake.servers()


def test_slow_operations_are_polled_with_back_off(fake):
    fake.faults.slow_actions = 0.6
    driver = driver_for(fake)
    name = machine()
    started = time.monotonic()
    server = driver.create_server(name, "small", UserData(), 22, KEY)
    assert time.monotonic() - started >= 0.6 and server.status == "running"
    polls = sum(1 for method, path in fake.calls if path.startswith("/v2/operation/"))
    assert 0 < polls < 40  # back-off, not a busy loop (a fixed 3 s pause, as the SDK's wait, would be 1 per step)
    fake.faults.slow_actions = 0
    driver.destroy_server(name)


def test_a_machine_missing_from_listings_is_still_listed_and_destroyed_by_the_driver_that_made_it(fake):
    fake.faults.stale = 30
    driver = driver_for(fake)
    name = machine()
    server = driver.create_server(name, "small", UserData(), 22, KEY)
    assert driver_for(fake).list_servers(name) == []  # the API's listing lags
    assert driver.list_servers(name) == [server]  # its maker reads it by id meanwhile
    driver.destroy_server(name)
    assert name not in fake.servers()
    assert driver.list_servers(name) == []


def test_the_backing_hook_gives_the_machine_its_address(fake):
    made, gone = [], []
    release = threading.Event()

    class Backing:
        def create(self, name, user_data):
            made.append((name, user_data))
            release.wait(5)
            return "127.0.0.77"

        def destroy(self, name):
            gone.append(name)

    fake.backing = Backing()
    driver = driver_for(fake)
    name = machine()
    threading.Timer(0.3, release.set).start()
    server = driver.create_server(name, "small", UserData(files={"/etc/x": ("y\n", 0o600)}), 22, KEY)
    assert server.public_ip == server.private_ip == "127.0.0.77"
    assert made[0][0] == name and made[0][1].startswith("#cloud-config") and '"path": "/etc/x"' in made[0][1]
    driver.destroy_server(name)
    deadline = time.monotonic() + 5
    while not gone and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gone == [name]


def test_user_data_past_the_apis_limit_is_gzipped_and_too_much_is_refused():
    small = "#cloud-config\n{}\n"
    assert base64.b64decode(encoded_user_data(small)).decode() == small
    large = "#cloud-config\n" + "a" * 40000 + "\n"  # compresses well
    packed = encoded_user_data(large)
    assert len(packed) <= USER_DATA_LIMIT and gzip.decompress(base64.b64decode(packed)).decode() == large
    noise = "#cloud-config\n" + base64.b64encode(os.urandom(30000)).decode()
    with pytest.raises(AdtError, match="user data is too large"):
        encoded_user_data(noise)


def test_a_machine_made_from_a_promoted_snapshot_keeps_its_role_and_source(fake):
    driver = driver_for(fake)
    name = machine("db")
    driver.create_server(name, "small", UserData(), 22, KEY)
    image = driver.snapshot(name, "db-backup-1")
    driver.destroy_server(name)
    [listed] = driver.list_snapshots(name)
    assert (listed.id, listed.label, listed.role, listed.source) == (image, "db-backup-1", "database", name)
    assert fake.snapshots == {}, "the instance snapshot is removed once promoted"
    driver.delete_snapshot(image)
    driver.delete_snapshot(image)  # gone already: nothing to do
    assert driver.list_snapshots(name) == []


def test_the_network_stays_while_a_machine_uses_it(fake):
    driver = driver_for(fake, build="net")
    name = machine()
    driver.create_server(name, "small", UserData(), 22, KEY)
    driver.remove_network()
    assert "adt-net" in fake.private_networks()
    driver.destroy_server(name)
    driver.remove_network()
    assert "adt-net" not in fake.private_networks()


# -- before anything is made ---------------------------------------------------------------------------------------
def test_problems_are_all_named_at_once(fake):
    assert driver_for(fake).problems(["small", "standard.medium"]) == []
    found = driver_for(fake, region="nowhere-9", image="Windows 95").problems(["small", "huge-ish", "gpu.tiny"])
    assert len(found) == 4, found
    assert "no zone 'nowhere-9'" in found[0]
    assert any("'huge-ish'" in p for p in found) and any("'gpu.tiny'" in p for p in found)
    assert any("no template 'Windows 95'" in p for p in found)
    fake.instance_limit = 0
    assert driver_for(fake).problems(["small"]) == ["exoscale: the instance quota is reached (0 of 0) — ask Exoscale "
                                                    "support for more"]  # fmt: skip
    fake.instance_limit = 20
    wrong = driver_for(fake, credentials={"ACCESS_KEY": fake.key, "SECRET_KEY": "nope"}).problems(["small"])
    assert len(wrong) == 1 and "401" in wrong[0]
    fake.scopes = {"list-instance-types", "list-templates", "get-template"}
    forbidden = driver_for(fake).problems(["small"])
    assert forbidden == ["exoscale: the API key may not get-quota (403 Forbidden): its IAM role needs the get-quota "
                         "operation"]  # fmt: skip


# -- DNS -----------------------------------------------------------------------------------------------------------
def test_dns_records_are_added_listed_and_deleted(fake):
    fake.add_domain("adt-demo.uk")
    values = {"DNS_CHOICE": "exoscale", "DNS_SECURITY_KEY": f"{fake.key}:{fake.secret}", "DNS_API_URL": fake.url}
    dns = provider(values)
    assert isinstance(dns, ExoscaleDns)
    assert dns.add("www.adt-demo.uk", "192.0.2.10") is True
    assert dns.add("www.adt-demo.uk", "192.0.2.10") is False
    assert dns.add("www.adt-demo.uk", "192.0.2.11", ttl=120) is True
    assert fake.a_records("adt-demo.uk") == [("www", "192.0.2.10", 60), ("www", "192.0.2.11", 120)]
    assert sorted(dns.ips("www.adt-demo.uk")) == ["192.0.2.10", "192.0.2.11"]
    record = dns.record_id("www.adt-demo.uk", "192.0.2.11")
    assert record and [r.ip for r in dns.records("www.adt-demo.uk") if r.id == record] == ["192.0.2.11"]
    assert dns.delete("www.adt-demo.uk", "192.0.2.11") is True
    assert dns.delete("www.adt-demo.uk", "192.0.2.11") is False
    assert dns.ips("www.adt-demo.uk") == ["192.0.2.10"]
    assert dns.ips("shop.adt-demo.uk") == []  # another name of the zone
    with pytest.raises(AdtError, match="the exoscale DNS has no zone example.org"):
        dns.add("www.example.org", "192.0.2.1")


def test_dns_credentials_are_key_colon_secret_and_a_wrong_one_is_named(fake):
    with pytest.raises(AdtError, match=r"DNS_SECURITY_KEY \(DNSSECURITYKEY\) as <key>:<secret>"):
        ExoscaleDns({"DNSSECURITYKEY": "just-a-token"}, fake.url)
    wrong = ExoscaleDns({"DNSSECURITYKEY": f"{fake.key}:not-it"}, fake.url)
    with pytest.raises(AdtError, match=r"exoscale DNS refused the key and secret of DNS_SECURITY_KEY \(401"):
        wrong.find_zone("adt-demo.uk")
    fake.faults.rate_limited, fake.faults.retry_after, fake.faults.errors = 1, 0.1, 1
    ok = ExoscaleDns({"DNSSECURITYKEY": f"{fake.key}:{fake.secret}"}, fake.url)
    assert ok.find_zone("nowhere.example") == ""
    assert ok.calls == 3  # a 429 and a 500, retried


def test_retrying_backs_off_on_what_is_worth_a_retry_and_raises_the_rest_as_it_is():
    from adt.httpapi import retrying

    class Answer:
        def __init__(self, status, retry_after=None):
            self.status_code, self.headers = status, ({"Retry-After": retry_after} if retry_after else {})

    def failing(*errors):
        left = list(errors)

        def call():
            if left:
                raise left.pop(0)
            return "done"

        return call

    pauses = []
    too_many = requests.HTTPError(response=Answer(429, "2"))
    lost = requests.ConnectionError("reset")
    busy = requests.HTTPError(response=Answer(503))
    assert retrying(failing(too_many, lost, busy), sleep=pauses.append) == "done"
    assert pauses[0] == 2.0 and len(pauses) == 3  # Retry-After honoured, the others backed off
    refused = requests.HTTPError(response=Answer(403))
    with pytest.raises(requests.HTTPError) as raised:  # not worth a retry: at once, as it is
        retrying(failing(refused), sleep=pauses.append)
    assert raised.value is refused and len(pauses) == 3
    with pytest.raises(requests.ConnectionError):  # the last attempt's failure
        retrying(failing(*[requests.ConnectionError("reset")] * 3), attempts=3, sleep=pauses.append)
    with pytest.raises(ValueError):  # no HTTP failure at all
        retrying(failing(ValueError("a bug")), sleep=pauses.append)
    assert len(pauses) == 5
