"""One DNS conformance suite that every `DnsProvider` passes: PowerDNS (a real pdns_server started by adt, as in
test_dns_powerdns.py), Cloudflare's DNS and the four clouds' DNS against their fakes (which check the traffic
against each provider's published API). And the original's entry points (providerscripts/dns/*.sh, in the
original's argument orders) against each of them. And the TXT records of ACME DNS-01 (`set_txt`, `txt`,
`delete_txt`): in the zone of WEBSITEURL, in the form each API wants, and on PowerDNS answered to `dig`.

Each fake exposes `credentials` (its DNS_SECURITY_KEY / DNS_USERNAME values, or its cloud credentials: TOKEN, or
ACCESS_KEY + SECRET_KEY for Exoscale, which the original's DNS_SECURITY_KEY forms carry), `url`, and a zone made
for the test (`add_zone(name)` or `add_domain(name)`: a zone the user made in the provider's panel).
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import pytest

from adt.dns import DnsProvider, provider
from adt.errors import AdtError
from tests.services.cloudfakes.base import Faults

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EMAIL = "admin@adt-demo.example"

FAKES = {
    "cloudflare": ("tests.services.cloudfakes.cloudflare", "CloudflareFake"),
    "digitalocean": ("tests.services.cloudfakes.digitalocean", "DigitalOceanFake"),
    "exoscale": ("tests.services.cloudfakes.exoscale", "ExoscaleFake"),
    "linode": ("tests.services.cloudfakes.linode", "LinodeFake"),
    "vultr": ("tests.services.cloudfakes.vultr", "VultrFake"),
}
PROVIDERS = ["powerdns", "cloudflare", "digitalocean", "exoscale", "linode", "vultr"]
NAMES = {"powerdns": "PowerDNS", "cloudflare": "Cloudflare", "digitalocean": "DigitalOcean", "exoscale": "Exoscale",
         "linode": "Linode", "vultr": "Vultr"}  # fmt: skip


@dataclass
class Subject:
    """A provider under test: its DNS values, a way to make a zone, and its fake (None for the real PowerDNS)."""

    name: str
    values: Dict[str, str]
    make_zone: Callable[[str], Any]
    wrong_key: str
    fake: Optional[Any] = None

    def dns(self, **changes: str) -> DnsProvider:
        return provider({**self.values, **changes})


def dns_values(name: str, fake) -> Dict[str, str]:
    """The original's DNS values for a fake's credentials: the key forms of DNS_SECURITY_KEY."""
    given = dict(fake.credentials)
    if "DNS_SECURITY_KEY" in given:
        values = given
    elif "TOKEN" in given:
        values = {"DNS_SECURITY_KEY": given["TOKEN"]}
    else:  # Exoscale: <key>:<secret>
        values = {"DNS_SECURITY_KEY": f"{given['ACCESS_KEY']}:{given['SECRET_KEY']}"}
    return {"DNS_USERNAME": EMAIL, **values, "DNS_CHOICE": name, "DNS_API_URL": fake.url}


def wrong(key: str) -> str:
    """The same form of key with the secret part changed."""
    head, sep, secret = key.rpartition(":::") if ":::" in key else key.rpartition(":")
    return f"{head}{sep}{''.join('x' if c != 'x' else 'y' for c in secret)}"


@pytest.fixture(scope="module")
def fakes():
    """The fakes, each started once for the module (loading a provider's specification takes a second or two);
    every test has a zone of its own on them."""
    started: Dict[str, Any] = {}

    def get(name: str):
        if name not in started:
            module, cls = FAKES[name]
            started[name] = getattr(importlib.import_module(module), cls)().start()
        return started[name]

    yield get
    for fake in started.values():
        fake.stop()


@pytest.fixture(params=PROVIDERS)
def subject(request, tmp_path, fakes):
    name = request.param
    if name == "powerdns":
        from adt.datastore.seaweed import free_ports
        from adt.dns.powerdns import PowerDnsServer

        pdns = PowerDnsServer(tmp_path / "pdns").start("127.0.0.1", *free_ports(2))
        values = {"DNS_CHOICE": "powerdns", "DNS_API_URL": pdns.state["url"], "DNS_SECURITY_KEY": pdns.api_key()}
        yield Subject(name, values, pdns.ensure_zone, wrong(pdns.api_key()))
        pdns.stop()
        return
    fake = fakes(name)
    fake.faults = Faults(retry_after=0.01)
    make_zone = getattr(fake, "add_zone", None) or fake.add_domain
    values = dns_values(name, fake)
    yield Subject(name, values, make_zone, wrong(values["DNS_SECURITY_KEY"]), fake)
    fake.check()


@pytest.fixture
def site(subject):
    """A zone of this test's own at the provider, and its website."""
    zone = f"adt-{uuid.uuid4().hex[:10]}.example"
    subject.make_zone(zone)
    return zone, f"www.{zone}"


def test_zones_are_found_by_name(subject, site):
    zone, website = site
    dns = subject.dns()
    assert dns.find_zone(zone) != "" and dns.zone_id(website) == dns.find_zone(zone)
    assert dns.find_zone("missing-zone.example") == ""
    with pytest.raises(AdtError, match="has no zone missing-zone.example"):
        dns.zone_id("www.missing-zone.example")


def test_add_records_ids_delete_and_round_robin(subject, site):
    website = site[1]
    dns = subject.dns()
    assert dns.records(website) == [] and dns.ips(website) == []
    assert dns.add(website, "203.0.113.1") is True
    assert dns.add(website, "203.0.113.1") is False  # already there: nothing changes
    assert dns.add(website, "203.0.113.2") is True  # the round robin: two addresses for one name
    assert sorted(dns.ips(website)) == ["203.0.113.1", "203.0.113.2"]
    records = dns.records(website)
    assert sorted((r.name, r.ip) for r in records) == [(website, "203.0.113.1"), (website, "203.0.113.2")]
    assert len({r.id for r in records}) == 2 and all(r.id and r.ttl > 0 for r in records)
    first = next(r.id for r in records if r.ip == "203.0.113.1")
    assert dns.record_id(website, "203.0.113.1") == first and dns.record_id(website, "203.0.113.9") is None
    assert dns.delete(website, "203.0.113.1") is True
    assert dns.delete(website, "203.0.113.1") is False  # absent: not an error
    assert dns.ips(website) == ["203.0.113.2"]
    assert dns.delete(website, "203.0.113.2") is True and dns.records(website) == []
    other = subject.dns()  # a second client (another autoscaler) sees the same state
    assert other.add(website, "203.0.113.3") is True and dns.ips(website) == ["203.0.113.3"]


@pytest.mark.parametrize("subject", list(FAKES), indirect=True)
def test_a_429_and_a_500_are_retried(subject, site):
    website = site[1]
    dns = subject.dns()
    subject.fake.faults.rate_limited = 1
    assert dns.add(website, "203.0.113.4") is True and subject.fake.faults.rate_limited == 0
    subject.fake.faults.errors = 1
    assert dns.ips(website) == ["203.0.113.4"] and subject.fake.faults.errors == 0


def test_a_wrong_key_is_one_error_naming_the_provider(subject, site):
    website = site[1]
    dns = subject.dns(DNS_SECURITY_KEY=subject.wrong_key)
    with pytest.raises(AdtError) as caught:
        dns.records(website)
    message = str(caught.value)
    assert re.search(NAMES[subject.name], message, re.I), message
    assert "\n" not in message and subject.wrong_key not in message + caught.value.hint
    assert subject.values["DNS_SECURITY_KEY"] not in message + caught.value.hint


def test_the_originals_entry_points(subject, site, tmp_path):
    """providerscripts/dns/*.sh with the original's arguments; the key words given are not used (the settings'
    are), so no caller puts the key in a process's arguments."""
    zone, website = site
    settings = tmp_path / "webserver_configuration_settings.dat"
    lines = [f"WEBSITEURL:{website}"] + [f"{k.replace('_', '')}:{v}" for k, v in subject.values.items()]
    settings.write_text("\n".join(lines) + "\n")
    os.chmod(settings, 0o600)
    env = {**os.environ, "ADT_SETTINGS_FILE": str(settings), "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    choice = subject.name

    def script(name: str, *args: str) -> str:
        done = subprocess.run([ROOT / "providerscripts" / "dns" / name, *args], capture_output=True, text=True,
                              env=env, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    dns = subject.dns()
    zone_id = script("GetZoneID.sh", zone, EMAIL, "KEY", choice).strip()
    assert zone_id == dns.find_zone(zone)
    assert script("AddRecord.sh", zone_id, EMAIL, "KEY", website, "203.0.113.5", "true", choice) == (
        f"added {website} A 203.0.113.5\n")  # fmt: skip
    assert script("AddRecord.sh", zone_id, EMAIL, "KEY", website, "203.0.113.6", choice) == (
        f"added {website} A 203.0.113.6\n")  # fmt: skip
    assert sorted(script("GetIPAddresses.sh", zone_id, website, EMAIL, "KEY", choice).split()) == [
        "203.0.113.5", "203.0.113.6"]  # fmt: skip
    record = script("GetRecordID.sh", zone_id, website, "203.0.113.5", EMAIL, "KEY", choice).strip()
    assert record and record == dns.record_id(website, "203.0.113.5")
    assert script("DeleteRecord.sh", zone_id, record, EMAIL, "KEY", choice, website) == (
        f"deleted {website} A 203.0.113.5\n")  # fmt: skip
    assert dns.ips(website) == ["203.0.113.6"]
    if choice == "cloudflare":  # the build machine's `proxied` word is Cloudflare's proxied flag
        script("AddRecord.sh", zone_id, EMAIL, "KEY", website, "203.0.113.7", "false", choice)
        sent = {
            body["content"]: (body["proxied"], body["ttl"]) for body in subject.fake.received if body["name"] == website
        }
        assert sent == {"203.0.113.5": (True, 1), "203.0.113.6": (True, 1), "203.0.113.7": (False, 60)}


# -- TXT records (ACME DNS-01: `_acme-challenge.<WEBSITEURL>`) ---------------------------------------------------
# two key authorisation digests as ACME makes them (base64url of a SHA-256: 43 characters)
TOKEN_1 = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
TOKEN_2 = "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"


def stored_txt(subject: Subject, zone: str, website: str) -> list:
    """The TXT contents of _acme-challenge.<website> as the provider itself keeps them (the server or the fake)."""
    name = f"_acme-challenge.{website}"
    relative = name[: -len(zone) - 1]
    if subject.name == "powerdns":
        from adt.dns.powerdns import PowerDnsApi

        found = PowerDnsApi(subject.values["DNS_API_URL"], subject.values["DNS_SECURITY_KEY"]).zone(zone) or {}
        return [r["content"] for s in found["rrsets"] if s["name"] == name + "." and s["type"] == "TXT"
                for r in s["records"]]  # fmt: skip
    fake = subject.fake
    with fake.lock:
        if subject.name == "cloudflare":
            return [r["content"] for r in fake.txt_records(name)]
        if subject.name == "digitalocean":
            return [
                r["data"]
                for r in fake.domains[zone]["records"].values()
                if r["type"] == "TXT" and r["name"] == relative
            ]
        if subject.name == "vultr":
            return [r["data"] for r in fake.domains[zone]["records"] if r["type"] == "TXT" and r["name"] == relative]
        if subject.name == "linode":
            domain = next(d["id"] for d in fake.domains.values() if d["domain"] == zone)
            return [r["target"] for r in fake.records[domain].values() if r["type"] == "TXT" and r["name"] == relative]
        domain = next(d["id"] for d in fake.domains.values() if d["unicode-name"] == zone)  # exoscale
        return [r["content"] for r in fake.records[domain].values() if r["type"] == "TXT" and r["name"] == relative]


# how each provider's API wants TXT content: quoted character strings, or the raw value
QUOTED = {"powerdns": True, "cloudflare": True, "vultr": True, "digitalocean": False, "exoscale": False,
          "linode": False}  # fmt: skip


def test_txt_records_are_set_exactly_read_and_deleted(subject, site):
    zone, website = site
    dns = subject.dns()
    assert dns.txt(website) == []
    dns.add(website, "203.0.113.8")  # the round robin is not touched by TXT changes
    dns.set_txt(website, [TOKEN_1])
    assert dns.txt(website) == [TOKEN_1]
    form = (lambda v: f'"{v}"') if QUOTED[subject.name] else (lambda v: v)
    assert stored_txt(subject, zone, website) == [form(TOKEN_1)]  # in the zone of WEBSITEURL, as the API wants it
    dns.set_txt(website, [TOKEN_1])  # again: nothing changes
    assert stored_txt(subject, zone, website) == [form(TOKEN_1)]
    dns.set_txt(website, [TOKEN_1, TOKEN_2, TOKEN_2])  # two challenges for one name (apex and wildcard); once each
    assert sorted(subject.dns().txt(website)) == sorted([TOKEN_1, TOKEN_2])  # a second client sees them
    dns.set_txt(website, [TOKEN_2])
    assert dns.txt(website) == [TOKEN_2] and stored_txt(subject, zone, website) == [form(TOKEN_2)]
    dns.set_txt(website, ["other"], label="_other")  # another label is another name
    assert dns.txt(website, label="_other") == ["other"] and dns.txt(website) == [TOKEN_2]
    dns.delete_txt(website)
    assert dns.txt(website) == [] and stored_txt(subject, zone, website) == []
    dns.delete_txt(website)  # nothing there: not an error
    assert dns.txt(website, label="_other") == ["other"] and dns.ips(website) == ["203.0.113.8"]
    dns.set_txt(website, [], label="_other")  # no values: the records go
    assert dns.txt(website, label="_other") == []


def test_txt_refuses_bad_input_and_a_missing_zone(subject, site):
    website = site[1]
    dns = subject.dns()
    with pytest.raises(AdtError, match="TXT value 'a\"b' is not printable ASCII"):
        dns.set_txt(website, ['a"b'])
    with pytest.raises(AdtError, match="TXT value .* at most 255 characters"):
        dns.set_txt(website, ["x" * 256])
    with pytest.raises(AdtError, match="must be a list of strings"):
        dns.set_txt(website, TOKEN_1)
    with pytest.raises(AdtError, match="'bad label' is not a DNS label"):
        dns.set_txt(website, [TOKEN_1], label="bad label")
    with pytest.raises(AdtError, match="has no zone missing-zone.example"):
        dns.set_txt("www.missing-zone.example", [TOKEN_1])
    with pytest.raises(AdtError, match="has no zone missing-zone.example"):
        dns.delete_txt("www.missing-zone.example")
    assert dns.txt(website) == []


def test_txt_changes_are_only_printed_in_a_dry_run(subject, site):
    from adt import run

    website = site[1]
    dns = subject.dns()
    lines: list = []
    with run.dry_running(echo=lines.append):
        dns.set_txt(website, [TOKEN_1])
    assert dns.txt(website) == [] and len(lines) == 1 and lines[0].startswith("would call: ")
    dns.set_txt(website, [TOKEN_1])
    with run.dry_running(echo=lines.append):
        dns.delete_txt(website)
    assert dns.txt(website) == [TOKEN_1] and len(lines) == 2


@pytest.mark.parametrize("subject", ["cloudflare"], indirect=True)
def test_txt_not_read_back_is_an_error(subject, site):
    """A provider whose listings lag its writes (Cloudflare's fake `stale` fault): set_txt reads back and says so."""
    website = site[1]
    dns = subject.dns()
    subject.fake.faults.stale = 60
    with pytest.raises(AdtError, match=rf"holds TXT _acme-challenge\.{re.escape(website)} = \[\], not \['{TOKEN_1}'\]"):
        dns.set_txt(website, [TOKEN_1])


def test_powerdns_answers_the_txt_query_on_its_dns_port(tmp_path):
    """What the ACME server asks: `dig TXT _acme-challenge.<WEBSITEURL>` at the local PowerDNS, answered at once."""
    from adt.datastore.seaweed import free_ports
    from adt.dns.powerdns import PowerDnsServer

    dns_port, api_port = free_ports(2)
    pdns = PowerDnsServer(tmp_path / "pdns").start("127.0.0.1", dns_port, api_port)
    try:
        pdns.ensure_zone("adt-demo.local")
        dns = provider({"DNS_CHOICE": "powerdns", "DNS_API_URL": pdns.state["url"],
                        "DNS_SECURITY_KEY": pdns.api_key()})  # fmt: skip

        def dig() -> list:
            done = subprocess.run(
                ["dig", "+short", "+time=2", "+tries=1", "@127.0.0.1", "-p", str(dns_port),
                 "_acme-challenge.www.adt-demo.local", "TXT"],
                capture_output=True, text=True, timeout=10, check=True,
            )  # fmt: skip
            return sorted(done.stdout.split())

        dns.set_txt("www.adt-demo.local", [TOKEN_1, TOKEN_2])
        assert dig() == sorted([f'"{TOKEN_1}"', f'"{TOKEN_2}"'])
        dns.set_txt("www.adt-demo.local", [TOKEN_2])
        assert dig() == [f'"{TOKEN_2}"']
        dns.delete_txt("www.adt-demo.local")
        assert dig() == []
    finally:
        pdns.stop()
