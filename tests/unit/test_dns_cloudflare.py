"""Cloudflare's DNS: the original's DNS_SECURITY_KEY forms, proxied records and their TTL, errors that name the
form of the credentials and the missing permission, pagination and races, against the Cloudflare fake (checked
against the official `cloudflare` package's types)."""

from __future__ import annotations

import pytest

from adt import run
from adt.dns import provider
from adt.dns.cloudflare import CloudflareDns, credentials, proxied, record_body, record_ttl
from adt.errors import AdtError
from tests.services.cloudfakes.cloudflare import CloudflareFake

WEBSITE = "www.adt-demo.example"
ZONE = "adt-demo.example"


@pytest.fixture
def fake():
    fake = CloudflareFake().start()
    fake.faults.retry_after = 0.01
    fake.add_zone(ZONE)
    yield fake
    fake.stop()
    fake.check()


def dns(fake: CloudflareFake, **values: str) -> CloudflareDns:
    return CloudflareDns({**fake.credentials, **values}, fake.url)


def test_the_key_forms_are_the_originals():
    headers, form = credentials({"DNS_SECURITY_KEY": "acct123:::tok-en", "DNS_USERNAME": "me@x.example"})
    assert headers == {"Authorization": "Bearer tok-en"} and "API token" in form
    headers, form = credentials({"DNSSECURITYKEY": "abcdef0123", "DNSUSERNAME": "me@x.example"})
    assert headers == {"X-Auth-Email": "me@x.example", "X-Auth-Key": "abcdef0123"} and "Global API Key" in form
    with pytest.raises(AdtError, match=r"no DNS_SECURITY_KEY \(DNSSECURITYKEY\)"):
        credentials({"DNS_USERNAME": "me@x.example"})
    with pytest.raises(AdtError, match="nothing after ':::'"):
        credentials({"DNS_SECURITY_KEY": "acct:::"})
    with pytest.raises(AdtError, match="Global API Key.*DNS_USERNAME is empty"):
        credentials({"DNS_SECURITY_KEY": "abcdef0123"})


def test_proxied_by_default_and_its_ttl_is_automatic():
    assert proxied({}) is True and proxied({"DNS_PROXIED": "true"}) is True
    assert proxied({"DNS_PROXIED": "false"}) is False and proxied({"DNSPROXIED": "0"}) is False
    assert record_ttl(120, True) == 1 and record_ttl(120, False) == 120
    assert record_ttl(30, False) == 60 and record_ttl(1, False) == 1 and record_ttl(999999, False) == 86400
    assert record_body("WWW.adt-demo.example.", "10.0.0.1", 60, True) == {
        "type": "A", "name": WEBSITE, "content": "10.0.0.1", "ttl": 1, "proxied": True}  # fmt: skip


def test_add_list_delete_with_a_token(fake):
    cf = provider({"DNS_CHOICE": "cloudflare", "DNS_API_URL": fake.url, **fake.credentials})
    assert isinstance(cf, CloudflareDns)
    assert cf.find_zone(ZONE) == cf.zone_id(WEBSITE) and cf.find_zone("other.example") == ""
    assert cf.add(WEBSITE, "10.0.0.1") is True and cf.add(WEBSITE, "10.0.0.1") is False
    assert fake.received == [{"type": "A", "name": WEBSITE, "content": "10.0.0.1", "ttl": 1, "proxied": True}]
    (record,) = cf.records(WEBSITE)
    assert (record.name, record.ip, record.ttl) == (WEBSITE, "10.0.0.1", 1) and record.id == fake.a_records(WEBSITE)[0][
        "id"
    ]
    assert cf.delete(WEBSITE, "10.0.0.1") is True and cf.delete(WEBSITE, "10.0.0.1") is False
    assert fake.a_records(WEBSITE) == []


def test_not_proxied_keeps_the_ttl(fake):
    cf = dns(fake, DNS_PROXIED="false")
    assert cf.add(WEBSITE, "10.0.0.2", ttl=120) is True
    assert fake.received[-1] == {"type": "A", "name": WEBSITE, "content": "10.0.0.2", "ttl": 120, "proxied": False}
    assert [(r.ip, r.ttl) for r in cf.records(WEBSITE)] == [("10.0.0.2", 120)]


def test_the_global_api_key_form(fake):
    cf = CloudflareDns(fake.key_credentials, fake.url)
    assert cf.add(WEBSITE, "10.0.0.3") is True and cf.ips(WEBSITE) == ["10.0.0.3"]
    wrong = CloudflareDns({**fake.key_credentials, "DNS_SECURITY_KEY": "f" * 37}, fake.url)
    with pytest.raises(
        AdtError, match=r"Cloudflare refused the Global API Key .*403: 9103 Unknown X-Auth-Key"
    ) as caught:
        wrong.ips(WEBSITE)
    assert "f" * 37 not in str(caught.value) + caught.value.hint


def test_a_wrong_token_names_the_form_and_never_the_token(fake):
    wrong = dns(fake, DNS_SECURITY_KEY=f"{fake.account_id}:::not-the-token")
    with pytest.raises(
        AdtError, match=r"^Cloudflare refused the API token \(DNS_SECURITY_KEY <account-id>:::<api-token>\)"
    ) as caught:
        wrong.find_zone(ZONE)
    assert "not-the-token" not in str(caught.value) + caught.value.hint and "401" in str(caught.value)


def test_a_token_without_dns_edit_is_one_line_naming_the_permission(fake):
    cf = dns(fake)
    fake.scopes = {"Zone:Zone:Read", "Zone:DNS:Read"}
    with pytest.raises(
        AdtError, match=r"may not add an A record .*403: 10000 Authentication error.*needs the Zone:DNS:Edit permission"
    ) as caught:
        cf.add(WEBSITE, "10.0.0.4")
    assert "\n" not in str(caught.value) and "Zone:DNS:Edit" in caught.value.hint
    fake.scopes = {"Zone:Zone:Read"}
    with pytest.raises(AdtError, match="needs the Zone:DNS:Read permission"):
        cf.records(WEBSITE)
    fake.scopes = set()  # Cloudflare lists no zone the token may not read
    with pytest.raises(AdtError, match=f"has no zone {ZONE} .* the API token .*can see") as caught:
        dns(fake).records(WEBSITE)
    assert "Zone:Zone:Read" in caught.value.hint


def test_pagination_and_a_race(fake):
    cf = dns(fake)
    fake.faults.page_size = 2
    for i in range(5):
        cf.add(WEBSITE, f"10.0.1.{i}")
    assert cf.ips(WEBSITE) == [f"10.0.1.{i}" for i in range(5)]
    # another writer added the address after our look (here: a listing not caught up yet): Cloudflare answers
    # 81058 to our write, which is "already there", not an error
    assert dns(fake).add(WEBSITE, "10.0.2.1") is True
    fake.faults.stale = 60
    assert cf.add(WEBSITE, "10.0.2.1") is False
    assert len(fake.a_records(WEBSITE)) == 6


def test_retries_and_a_dry_run(fake):
    cf = dns(fake)
    fake.faults.rate_limited, fake.faults.errors = 1, 2
    assert cf.add(WEBSITE, "10.0.3.1") is True and fake.faults.errors == 0
    lines = []
    with run.dry_running(echo=lines.append):
        assert cf.add(WEBSITE, "10.0.3.2") is True and cf.delete(WEBSITE, "10.0.3.1") is True
    assert cf.ips(WEBSITE) == ["10.0.3.1"]
    assert lines[0].startswith(f"would call: POST {fake.url}/zones/") and lines[1].startswith("would call: DELETE ")
    assert fake.token not in " ".join(lines)


def test_bad_addresses_and_urls(fake):
    cf = dns(fake)
    with pytest.raises(AdtError, match="'10.0.0.300' is not an IPv4 address"):
        cf.add(WEBSITE, "10.0.0.300")
    with pytest.raises(AdtError, match="has no zone"):
        cf.add("localhost", "10.0.0.1")


def test_the_fake_refuses_what_the_package_types_refuse(fake):
    import httpx

    zone = dns(fake).zone_id(WEBSITE)
    headers = {"Authorization": f"Bearer {fake.token}"}
    wrong_key = {"type": "A", "name": WEBSITE, "content": "10.0.0.1", "ttl": 1, "proxy": True}
    bad = httpx.post(f"{fake.url}/zones/{zone}/dns_records", headers=headers, json=wrong_key)
    assert bad.status_code == 400 and "proxy" in bad.json()["errors"][0]["message"]
    ttl_text = {"type": "A", "name": WEBSITE, "content": "10.0.0.1", "ttl": "60"}
    bad = httpx.post(f"{fake.url}/zones/{zone}/dns_records", headers=headers, json=ttl_text)
    assert bad.status_code == 400 and "ttl" in bad.json()["errors"][0]["message"]
    bad = httpx.get(f"{fake.url}/zones", headers=headers, params={"zone": ZONE})
    assert bad.status_code == 400
    assert len(fake.violations) == 3
    fake.violations.clear()
