"""One conformance suite that every cloud driver passes: `local` on real machines of this computer, and the four
providers' drivers (DigitalOcean, Exoscale, Linode, Vultr) against their fakes, which validate every request and
response against the provider's published API (tests/services/cloudfakes). The driver under test is the real one.

The first part runs on every driver; the second only where a provider's API is in play (faults, tokens, paging,
quotas), so it is parametrized over the four providers, not skipped for `local`.
"""

from __future__ import annotations

import importlib
import subprocess
import uuid
from pathlib import Path

import pytest

from adt import cloud
from adt.cloud.base import Placement, UserData, first_boot, role_of
from adt.cloud.userdata import cloud_config
from adt.errors import AdtError
from adt.firewall.policy import Rule
from adt.settings.providers import PROVIDERS

VPC = "10.197.0.0/24"  # this suite's own range for the local cloud host
PORT = 1035
FAKES = {
    "digitalocean": ("tests.services.cloudfakes.digitalocean", "DigitalOceanFake"),
    "exoscale": ("tests.services.cloudfakes.exoscale", "ExoscaleFake"),
    "linode": ("tests.services.cloudfakes.linode", "LinodeFake"),
    "vultr": ("tests.services.cloudfakes.vultr", "VultrFake"),
}
DRIVERS = ("local", *FAKES)


def make_fake(name: str):
    module, cls = FAKES[name]
    return getattr(importlib.import_module(module), cls)().start()


def region_of(name: str, fake) -> str:
    return getattr(fake, "default_region", "") or PROVIDERS[name]["regions"][0]


def size_of(name: str, fake) -> str:
    return getattr(fake, "default_size", "") or PROVIDERS[name]["sizes"][0]


def provider_driver(name: str, fake, build: str = "t1", credentials=None):
    placement = Placement(region_of(name, fake), fake.default_image, build, f"adt-{build}")
    return cloud.driver(name, credentials=credentials or fake.credentials, placement=placement, api_url=fake.url)


class Subject:
    """A driver under test and what the suite reads beside it: its fake (None for local)."""

    def __init__(self, name: str, driver, fake, key: str, size: str, tmp: Path):
        self.name, self.driver, self.fake, self.key, self.size, self.tmp = name, driver, fake, key, size, tmp
        self.region = getattr(driver, "placement", Placement("local")).region if fake else "local"

    def machine(self, role_prefix: str = "ws", build: str = "t1") -> str:
        number = "-1" if role_prefix == "ws" else ""
        return f"{role_prefix}-{self.region}-{build}{number}-{uuid.uuid4().hex[:6]}"

    def user_data_of(self, name: str) -> str:
        if self.fake is not None:
            return self.fake.user_data(name)
        return self.driver.host_path(name, "/home/homedir.dat").read_text()

    def create(self, name: str, user_data: UserData = None, image=None):
        data = user_data or first_boot(role_of(name), "www-data", "WEBSITEURL:www.example.com\n", adt="true")
        return self.driver.create_server(name, self.size, data, PORT, self.key, image=image)


@pytest.fixture(scope="module")
def build_key(tmp_path_factory):
    folder = tmp_path_factory.mktemp("conformance-key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "key")], check=True)
    return (folder / "key.pub").read_text().strip()


@pytest.fixture(scope="module", params=DRIVERS)
def subject(request, build_key, tmp_path_factory):
    name = request.param
    tmp = tmp_path_factory.mktemp(f"conformance-{name}")
    if name == "local":
        from adt.cloud.local import LocalDriver

        driver = LocalDriver(VPC, state_dir=str(tmp / "state"))
        yield Subject(name, driver, None, build_key, "local", tmp)
        for server in driver.list_servers():
            driver.destroy_server(server.name)
        for image in driver.list_snapshots():
            driver.delete_snapshot(image.id)
        driver.remove_network(force=True)
        return
    fake = make_fake(name)
    try:
        yield Subject(name, provider_driver(name, fake), fake, build_key, size_of(name, fake), tmp)
        fake.check()
    finally:
        fake.stop()


@pytest.fixture(params=tuple(FAKES))
def provider(request, build_key, tmp_path):
    """A provider's driver on a fake of its own, for the tests that switch faults on."""
    fake = make_fake(request.param)
    try:
        yield Subject(request.param, provider_driver(request.param, fake), fake, build_key,
                      size_of(request.param, fake), tmp_path)
        fake.check()
    finally:
        fake.stop()


# -- every driver --------------------------------------------------------------------------------------------------
def test_a_created_machine_runs_with_its_addresses_and_its_user_data(subject):
    name = subject.machine("ws")
    data = first_boot("webserver", "www-data", "WEBSITEURL:www.example.com\n", adt="true")
    server = subject.create(name, data)
    try:
        assert server.name == name and server.status == "running" and server.role == "webserver"
        assert server.private_ip and server.public_ip
        listed = {s.name: s for s in subject.driver.list_servers(name)}
        assert listed[name].private_ip == server.private_ip and listed[name].id == server.id
        if subject.fake is not None:  # what the provider received is the machine's cloud-init document
            assert subject.user_data_of(name) == cloud_config(data, PORT, subject.key)
        else:
            assert subject.user_data_of(name) == "/home/www-data\n"
    finally:
        subject.driver.destroy_server(name)
    assert name not in {s.name for s in subject.driver.list_servers()}


def test_listing_filters_by_name_and_the_key_is_registered_once(subject):
    names = [subject.machine("ws"), subject.machine("db")]
    try:
        for name in names:
            subject.create(name)
        assert {s.name for s in subject.driver.list_servers(f"-{subject.region}-t1")} >= set(names)
        assert [s.name for s in subject.driver.list_servers(names[1])] == [names[1]]
        assert subject.driver.list_servers("no-such-machine-anywhere") == []
        if subject.fake is not None:
            assert len(subject.fake.keys()) == 1, "the build's key is registered with the provider once"
    finally:
        for name in names:
            subject.driver.destroy_server(name)


def test_destroying_a_machine_that_is_gone_changes_nothing(subject):
    """Idempotent, as the autoscaler and every clean-up need: a destroy that raced another is not an error."""
    name = subject.machine("ws")
    subject.create(name)
    subject.driver.destroy_server(name)
    subject.driver.destroy_server(name)
    subject.driver.destroy_server("ws-nowhere-t1-1-missing")
    assert name not in {s.name for s in subject.driver.list_servers()}


def test_a_snapshot_is_listed_a_machine_is_made_from_it_and_it_is_deleted(subject):
    name = subject.machine("db")
    subject.create(name)
    try:
        label = f"adt-{name}-snap"
        image_id = subject.driver.snapshot(name, label)
        images = {i.id: i for i in subject.driver.list_snapshots(label)}
        assert image_id in images and images[image_id].label == label
        copy = subject.machine("db")
        try:
            server = subject.create(copy, image=image_id)
            assert server.status == "running"
        finally:
            subject.driver.destroy_server(copy)
    finally:
        subject.driver.destroy_server(name)  # the image outlives its source (Exoscale: promoted to a template)
    assert image_id in {i.id for i in subject.driver.list_snapshots(label)}
    subject.driver.delete_snapshot(image_id)
    assert image_id not in {i.id for i in subject.driver.list_snapshots(label)}


def test_the_native_firewall_holds_exactly_the_rules_and_is_updated_in_place(subject):
    name = subject.machine("ws")
    subject.create(name)
    first = [Rule("tcp", PORT, "10.0.0.1/32"), Rule("tcp", 443, "0.0.0.0/0"), Rule("icmp", 0, "10.0.0.0/8")]
    second = [Rule("tcp", PORT, "10.0.0.1/32"), Rule("tcp", 80, "0.0.0.0/0")]
    try:
        made = subject.driver.apply_native_firewall(name, first)
        if subject.fake is not None:
            assert subject.fake.firewall_rules(name) == {r.key() for r in first}
        else:
            assert subject.driver.native_firewall(name) == 2  # the tcp rules (icmp passes the bridge)
        again = subject.driver.apply_native_firewall(name, second)
        assert again == made, "updated in place, not a second firewall"
        if subject.fake is not None:
            assert subject.fake.firewall_rules(name) == {r.key() for r in second}
        else:
            assert subject.driver.native_firewall(name) == 2
    finally:
        subject.driver.destroy_server(name)


def test_the_network_is_made_once(subject):
    first = subject.driver.ensure_network()
    assert first and subject.driver.ensure_network() == first


# -- providers only ------------------------------------------------------------------------------------------------
def test_rate_limits_and_server_errors_are_retried(provider):
    provider.fake.faults.retry_after = 0.2
    provider.fake.faults.rate_limited = 2
    provider.fake.faults.errors = 2
    assert provider.driver.list_servers() == []
    statuses = provider.fake.calls
    assert len(statuses) >= 5  # two 429s, two 500s, then the answer


def test_a_wrong_token_is_one_line_naming_the_provider(provider):
    credentials = {k: "wrong" + v[5:] for k, v in provider.fake.credentials.items()}
    driver = provider_driver(provider.name, provider.fake, credentials=credentials)
    with pytest.raises(AdtError, match=f"(?i){provider.name}") as refused:
        driver.list_servers()
    assert "\n" not in str(refused.value) and "wrong" not in str(refused.value)


def test_a_failed_create_leaves_no_machine(provider):
    name = provider.machine("ws")
    provider.fake.faults.errors = 1000
    with pytest.raises(AdtError):
        provider.create(name)
    provider.fake.faults.errors = 0
    assert name not in provider.fake.servers()
    assert provider.driver.list_servers(name) == []


def test_a_machine_slow_to_start_and_missing_from_listings_is_waited_for(provider):
    provider.fake.faults.slow_actions = 1.0
    provider.fake.faults.stale = 1.5
    name = provider.machine("ws")
    server = provider.create(name)
    assert server.status == "running" and server.private_ip
    provider.fake.faults.slow_actions = provider.fake.faults.stale = 0
    provider.driver.destroy_server(name)
    assert name not in provider.fake.servers()


def test_listing_follows_every_page_and_costs_one_call_a_page(provider):
    names = [provider.machine("ws") for _ in range(5)]
    for name in names:
        provider.create(name)
    other = provider_driver(provider.name, provider.fake, build="t2")  # another build's machine is not listed
    stranger = f"ws-{provider.region}-t2-1-{uuid.uuid4().hex[:6]}"
    other.create_server(stranger, provider.size, UserData(), PORT, provider.key)
    try:
        before = len(provider.fake.calls)
        assert {s.name for s in provider.driver.list_servers()} == set(names)
        assert len(provider.fake.calls) - before == 1  # one call for up to a page
        if getattr(provider.fake, "paged", True):  # Exoscale's listings have no pages: one answer holds all
            provider.fake.faults.page_size = 2
            before = len(provider.fake.calls)
            assert {s.name for s in provider.driver.list_servers()} == set(names)
            assert len(provider.fake.calls) - before == 3  # 2 + 2 + 1
            provider.fake.faults.page_size = None
        provider.driver.destroy_server(stranger)  # not this build's: nothing happens to it
        assert stranger in provider.fake.servers()
    finally:
        provider.fake.faults.page_size = None
        for name in names:
            provider.driver.destroy_server(name)
        other.destroy_server(stranger)


def test_problems_are_none_for_a_good_setup_and_all_named_for_a_bad_one(provider):
    assert provider.driver.problems([provider.size]) == []
    placement = Placement("nowhere-9", "no-such-image", "t1", "adt-t1")
    bad = cloud.driver(provider.name, credentials=provider.fake.credentials, placement=placement,
                       api_url=provider.fake.url)
    found = bad.problems(["no-such-size"])
    text = "\n".join(found)
    assert len(found) >= 3, found
    for word in ("nowhere-9", "no-such-size", "no-such-image"):
        assert word in text, (word, found)


def test_the_original_toolkits_machines_of_the_build_are_adopted_once(provider):
    """A fleet that mixes the original's machines (untagged, found by name) with adt's: adopt() tags this build's
    (the mark -<region>-<build>- in the name) and nothing else, once."""
    region = provider.region
    ours = [f"ws-{region}-t1-1-orig01", f"db-{region}-t1-orig02"]
    others = [f"ws-{region}-t9-1-orig03", "mailhost-orig04"]
    for name in ours + others:
        provider.fake.add_untagged(name)
    assert provider.driver.list_servers() == []
    from adt.run import dry_running

    with dry_running(True):  # a dry run names them and changes nothing
        assert provider.driver.adopt() == sorted(ours)
    assert provider.driver.list_servers() == []
    assert provider.driver.adopt() == sorted(ours)
    listed = {s.name: s.role for s in provider.driver.list_servers()}
    assert listed == {ours[0]: "webserver", ours[1]: "database"}
    provider.driver.destroy_server(ours[0])
    assert ours[0] not in provider.fake.servers()
    assert provider.driver.adopt() == []
    assert [s.name for s in provider.driver.list_servers()] == [ours[1]]
    assert set(others) <= set(provider.fake.servers())
    other_build = provider_driver(provider.name, provider.fake, build="t9")
    assert other_build.list_servers() == [], "the other build's machine was left untagged"
    provider.driver.destroy_server(ours[1])


def test_machines_made_side_by_side_register_the_key_once(provider):
    """The build makes its database and webserver at once, through one driver: one key on the account."""
    from concurrent.futures import ThreadPoolExecutor

    names = [provider.machine("ws"), provider.machine("db")]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(provider.create, names))
    try:
        assert len(provider.fake.keys()) == 1, provider.fake.keys()
    finally:
        for name in names:
            provider.driver.destroy_server(name)
