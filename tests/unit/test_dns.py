"""DNS round robin: the zone rule against the original's own pipeline, settings lookup, the original's argument
orders, PowerDNS payloads and configuration, and the provider choice."""

import subprocess

import pytest

from adt import run
from adt.dns import provider, setting, zone_name
from adt.dns.base import DnsProvider, original_arguments
from adt.dns.powerdns import (
    PowerDnsApi,
    PowerDnsProvider,
    allow_list,
    canonical,
    checked_ip,
    listen_address,
    pdns_conf,
    records_of,
    replace_rrset,
    zone_body,
)
from adt.errors import AdtError

# adt-autoscaler-scripts autoscaler/AddIPToDNS.sh, verbatim: the zone of WEBSITE_URL
ORIGINAL_ZONE = """/bin/echo ${WEBSITE_URL} | /usr/bin/awk -F'.' '{$1=""}1' | /bin/sed 's/^ //g' | /bin/sed 's/ /./g'"""


@pytest.mark.parametrize(
    "url",
    ["www.adt-demo.local", "adt-demo.local", "shop.eu.example.co.uk", "localhost", "WWW.Example.COM", "a.b"],
)
def test_the_zone_is_the_originals(url):
    original = subprocess.run(
        ["/bin/sh", "-c", ORIGINAL_ZONE], env={"WEBSITE_URL": url}, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert zone_name(url) == original


def test_zone_examples():
    assert zone_name("www.adt-demo.local") == "adt-demo.local"
    assert zone_name("www.adt-demo.local.") == "adt-demo.local"
    assert zone_name("localhost") == ""


def test_settings_are_found_by_either_spelling():
    assert setting({"DNS_CHOICE": "powerdns"}, "DNS_CHOICE") == "powerdns"
    assert setting({"DNSCHOICE": "powerdns"}, "DNS_CHOICE") == "powerdns"
    assert setting({"DNS_API_URL": "", "DNSAPIURL": "http://x"}, "DNS_API_URL") == "http://x"
    assert setting({"DNS_SECURITY_KEY": "a", "DNSSECURITYKEY": "b"}, "DNS_SECURITY_KEY") == "a"
    assert setting({}, "DNS_CHOICE") == ""


def test_the_originals_argument_orders():
    assert original_arguments("zone", ["adt-demo.local", "me@x", "KEY", "powerdns"]) == {
        "zonename": "adt-demo.local", "email": "me@x", "credentials": "KEY", "dns": "powerdns"}  # fmt: skip
    add6 = original_arguments("add", ["z", "e", "k", "www.a.b", "10.0.0.1", "powerdns"])
    assert (add6["websiteurl"], add6["ip"], add6["dns"]) == ("www.a.b", "10.0.0.1", "powerdns")
    add7 = original_arguments("add", ["z", "e", "k", "www.a.b", "10.0.0.1", "true", "powerdns"])
    assert (add7["proxied"], add7["dns"]) == ("true", "powerdns")
    assert original_arguments("records", ["z", "www.a.b", "10.0.0.1"])["ip"] == "10.0.0.1"
    assert original_arguments("delete", ["z", "10.0.0.1", "e", "k", "powerdns", "www.a.b"])["websiteurl"] == "www.a.b"
    assert original_arguments("delete", ["z", "10.0.0.1"]) == {
        "zoneid": "z", "recordid": "10.0.0.1", "email": "", "credentials": "", "dns": "", "websiteurl": ""}  # fmt: skip
    assert original_arguments("ips", [])["websiteurl"] == ""
    with pytest.raises(ValueError, match="at most 7 arguments"):
        original_arguments("add", list("abcdefgh"))
    with pytest.raises(ValueError, match=r"at most 5 arguments \(ZONEID WEBSITEURL EMAIL CREDENTIALS DNS\), not 6"):
        original_arguments("ips", list("abcdef"))


def test_rrset_payloads():
    both = [{"content": "10.0.0.1", "disabled": False}, {"content": "10.0.0.2", "disabled": False}]
    assert replace_rrset("WWW.adt-demo.local", ["10.0.0.1", "10.0.0.2"], 60) == {
        "rrsets": [{"name": "www.adt-demo.local.", "type": "A", "ttl": 60, "changetype": "REPLACE", "records": both}]
    }
    assert replace_rrset("www.adt-demo.local.", []) == {
        "rrsets": [{"name": "www.adt-demo.local.", "type": "A", "changetype": "DELETE"}]}  # fmt: skip
    assert zone_body("adt-demo.local") == {"name": "adt-demo.local.", "kind": "Native", "nameservers": []}
    assert canonical("adt-demo.local..") == "adt-demo.local."


def test_records_of_a_zone_are_the_enabled_a_records_of_the_name():
    zone = {
        "rrsets": [
            {"name": "www.adt-demo.local.", "type": "A", "ttl": 60,
             "records": [{"content": "10.0.0.1", "disabled": False}, {"content": "10.0.0.9", "disabled": True}]},
            {"name": "www.adt-demo.local.", "type": "TXT", "ttl": 60,
             "records": [{"content": '"x"', "disabled": False}]},
            {"name": "db.adt-demo.local.", "type": "A", "ttl": 60,
             "records": [{"content": "10.0.0.3", "disabled": False}]},
        ]
    }  # fmt: skip
    records = records_of(zone, "www.adt-demo.local")
    assert [(r.id, r.name, r.ip, r.ttl) for r in records] == [("10.0.0.1", "www.adt-demo.local", "10.0.0.1", 60)]
    assert records_of({"rrsets": []}, "www.adt-demo.local") == []


def test_pdns_conf_is_the_recipe(tmp_path):
    text = pdns_conf(tmp_path, "10.190.0.1", 53, 8081, "KEY", ["10.190.0.1/32", "10.190.0.5/32"])
    lines = text.splitlines()
    assert "security-poll-suffix=" in lines  # no Internet lookup at start and hourly
    assert {"cache-ttl=0", "query-cache-ttl=0", "negquery-cache-ttl=0", "zone-cache-refresh-interval=0"} <= set(lines)
    assert {"local-address=10.190.0.1", "local-port=53", "webserver-address=10.190.0.1", "webserver-port=8081"} <= set(
        lines
    )
    assert "webserver-allow-from=10.190.0.1/32,10.190.0.5/32" in lines
    assert f"gsqlite3-database={tmp_path / 'pdns.sqlite3'}" in lines and f"socket-dir={tmp_path}" in lines
    assert "api-key=KEY" in lines and "0.0.0.0" not in text


def test_addresses_are_checked():
    assert checked_ip(" 10.0.0.7 ") == "10.0.0.7"
    with pytest.raises(AdtError, match="'10.0.0' is not an IPv4 address"):
        checked_ip("10.0.0")
    with pytest.raises(AdtError, match="not 0.0.0.0"):
        listen_address("0.0.0.0")
    assert allow_list("10.190.0.1", ["10.190.0.5", "10.190.0.1", "10.191.0.0/24"]) == [
        "10.190.0.1/32", "10.190.0.5/32", "10.191.0.0/24"]  # fmt: skip
    with pytest.raises(AdtError, match="'nope' is not an address or a network"):
        allow_list("10.190.0.1", ["nope"])


def test_the_provider_is_chosen_by_dns_choice():
    chosen = provider({"DNSCHOICE": "powerdns", "DNSAPIURL": "http://10.190.0.1:8081/", "DNSSECURITYKEY": "k"})
    assert isinstance(chosen, PowerDnsProvider) and isinstance(chosen, DnsProvider)
    assert chosen.api.url == "http://10.190.0.1:8081"
    with pytest.raises(AdtError, match="DNS_CHOICE is NONE"):
        provider({"DNS_CHOICE": "NONE"})
    with pytest.raises(AdtError, match="DNS_CHOICE is NONE"):
        provider({})
    with pytest.raises(AdtError, match="unknown DNS_CHOICE 'bind'"):
        provider({"DNS_CHOICE": "bind"})
    with pytest.raises(AdtError, match=r"no DNS_API_URL \(DNSAPIURL\)"):
        provider({"DNS_CHOICE": "powerdns", "DNS_SECURITY_KEY": "k"})
    with pytest.raises(AdtError, match=r"no DNS_SECURITY_KEY \(DNSSECURITYKEY\)"):
        provider({"DNS_CHOICE": "powerdns", "DNS_API_URL": "http://10.190.0.1:8081"})


def test_powerdns_is_an_allowed_dns_choice():
    from adt.settings import schema

    assert "powerdns" in schema.BY_NAME["DNS_CHOICE"].choices and "NONE" in schema.BY_NAME["DNS_CHOICE"].choices
    assert not schema.BY_NAME["DNS_API_URL"].in_template


def test_a_write_in_a_dry_run_is_printed_and_not_sent():
    lines = []
    api = PowerDnsApi("http://127.0.0.1:9", "THE-KEY")  # the discard port: a request would fail
    with run.dry_running(echo=lines.append):
        api.patch("adt-demo.local", replace_rrset("www.adt-demo.local", ["10.0.0.1"]))
    assert lines == [
        'would call: PATCH http://127.0.0.1:9/api/v1/servers/localhost/zones/adt-demo.local. {"rrsets": [{"name": '
        '"www.adt-demo.local.", "type": "A", "ttl": 60, "changetype": "REPLACE", "records": [{"content": "10.0.0.1", '
        '"disabled": false}]}]}'
    ]
    with pytest.raises(AdtError, match="cannot reach PowerDNS at http://127.0.0.1:9"):
        api.zone("adt-demo.local")  # reads still run


def test_autoscalers_get_the_dns_entry_points_at_the_originals_paths():
    from adt.machine.scripts import scripts_of

    dns = {
        f"providerscripts/dns/{n}.sh"
        for n in ("GetZoneID", "GetRecordID", "AddRecord", "DeleteRecord", "GetIPAddresses")
    }
    dns |= {f"autoscaler/{n}.sh" for n in ("AddIPToDNS", "RemoveIPFromDNS", "GetDNSIPs")}
    assert dns <= set(scripts_of("autoscaler"))
    assert not dns & set(scripts_of("webserver"))
