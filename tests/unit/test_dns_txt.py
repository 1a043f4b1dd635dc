"""The pure half of TXT records (ACME DNS-01): names in the zone of WEBSITEURL, values, RFC 1035 quoting."""

from __future__ import annotations

import pytest

from adt.dns.base import checked_label, checked_txt_values, quote_txt, txt_name, txt_relative, unquote_txt
from adt.dns.powerdns import replace_txt_rrset, txt_contents
from adt.errors import AdtError


def test_names_are_in_the_zone_of_the_website():
    assert txt_name("WWW.adt-demo.local.") == "_acme-challenge.www.adt-demo.local"
    assert txt_relative("www.adt-demo.local") == "_acme-challenge.www"  # the zone is adt-demo.local
    assert txt_relative("shop.eu.example.org", "_Other.Label") == "_other.label.shop"
    with pytest.raises(AdtError, match="'-bad' is not a DNS label"):
        checked_label("-bad")
    with pytest.raises(AdtError, match="'' is not a DNS label"):
        checked_label("")


def test_values_are_checked_and_kept_once_in_order():
    assert checked_txt_values(["b", "a", "b"]) == ["b", "a"]
    assert checked_txt_values([]) == []
    for bad in ('with "quote"', "back\\slash", "tab\there", "é", "x" * 256):
        with pytest.raises(AdtError, match="is not printable ASCII of at most 255 characters"):
            checked_txt_values([bad])


@pytest.mark.parametrize("value", ["", "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0", "v=spf1 -all", "x" * 600])
def test_quoting_round_trips(value):
    quoted = quote_txt(value)
    assert quoted.startswith('"') and quoted.endswith('"') and unquote_txt(quoted) == value


def test_quoting_splits_long_values_and_escapes():
    assert quote_txt("x" * 300) == '"' + "x" * 255 + '" "' + "x" * 45 + '"'
    assert quote_txt('a"b\\c') == '"a\\"b\\\\c"'
    assert unquote_txt('"a\\"b\\\\c" "\\065"') == 'a"b\\cA'  # RFC 1035 escapes, \DDD included
    assert unquote_txt("raw value") == "raw value"  # a provider that keeps the value unquoted


def test_powerdns_txt_rrset_payloads():
    body = replace_txt_rrset("_acme-challenge.www.adt-demo.local", ["v1", "v2"], 60)
    records = [{"content": '"v1"', "disabled": False}, {"content": '"v2"', "disabled": False}]
    assert body == {"rrsets": [{"name": "_acme-challenge.www.adt-demo.local.", "type": "TXT", "ttl": 60,
                                "changetype": "REPLACE", "records": records}]}  # fmt: skip
    assert replace_txt_rrset("_x.www.adt-demo.local", []) == {
        "rrsets": [{"name": "_x.www.adt-demo.local.", "type": "TXT", "changetype": "DELETE"}]}  # fmt: skip
    zone = {"rrsets": [{"name": "_x.w.z.", "type": "TXT", "records": [{"content": '"a"'}, {"content": '"b"',
            "disabled": True}]}, {"name": "_x.w.z.", "type": "A", "records": [{"content": "10.0.0.1"}]}]}  # fmt: skip
    assert txt_contents(zone, "_x.w.z") == ['"a"']
