"""The pure parts of a webserver's certificate install: what to do with a published pair against the live one, the
one-step exchange of two directories, the webserver's nginx config and crontab with and without HTTPS."""

from __future__ import annotations

import datetime as dt

import pytest

from adt.errors import AdtError
from adt.machine.bootstrap import nginx_config
from adt.machine.scripts import RENEW_SSL, crontab
from adt.ssl.install import decide, exchange
from tests.services.testca import DAY, TestCA

SITE = "www.example.com"
NOW = dt.datetime.now(dt.timezone.utc)
NOTHING = {"fullchain.pem": None, "privkey.pem": None}


def files(leaf, key=None) -> dict:
    return {"fullchain.pem": leaf.fullchain, "privkey.pem": key or leaf.privkey}


@pytest.fixture(scope="module")
def ca():
    return TestCA()


def test_a_sound_new_pair_is_installed_the_live_one_is_nothing_new(ca):
    old, issued = files(ca.issue([SITE])), ca.issue([SITE, "example.com"])
    new = files(issued)
    assert decide(new, NOTHING, SITE, NOW).names == (SITE, "example.com")  # first install
    assert decide(new, old, SITE, NOW).serial == issued.serial
    assert decide(old, old, SITE, NOW) is None


def test_a_wildcard_covers_the_site(ca):
    assert decide(files(ca.issue(["*.example.com"])), NOTHING, SITE, NOW).names == ("*.example.com",)


def test_one_file_new_is_never_installed(ca):
    old, new = files(ca.issue([SITE])), files(ca.issue([SITE]))
    for name in old:
        with pytest.raises(AdtError, match=f"only {name} of the published pair for {SITE} differs"):
            decide({**old, name: new[name]}, old, SITE, NOW)


def test_a_half_present_live_pair_is_replaced_by_a_sound_one(ca):
    new = files(ca.issue([SITE]))
    assert decide(new, {**NOTHING, "fullchain.pem": new["fullchain.pem"]}, SITE, NOW) is not None


@pytest.mark.parametrize("make, message", [
    (lambda ca: files(ca.issue([SITE]), ca.issue([SITE]).privkey), "privkey.pem is not the key of the certificate"),
    (lambda ca: files(ca.issue(["www.other.example"])), f"the certificate is for www.other.example, not {SITE}"),
    (lambda ca: files(ca.issue([SITE], not_before=NOW - 2 * DAY, not_after=NOW - DAY)), "the certificate expired"),
], ids=["key", "name", "expired"])  # fmt: skip
def test_a_broken_pair_is_refused_saying_why(ca, make, message):
    live = files(ca.issue([SITE]))
    with pytest.raises(AdtError, match=f"not installing the published pair for {SITE}: {message}.*stays in service"):
        decide(make(ca), live, SITE, NOW)
    with pytest.raises(AdtError, match=f"not installing the published pair for {SITE}: {message}"):
        decide(make(ca), NOTHING, SITE, NOW)


def test_exchange_swaps_two_directories_in_one_step(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("new")
    (b / "x").write_text("old")
    exchange(a, b)
    assert (b / "x").read_text() == "new" and (a / "x").read_text() == "old"
    with pytest.raises(OSError, match="No such file"):
        exchange(tmp_path / "missing", b)
    assert (b / "x").read_text() == "new"


def test_nginx_serves_443_with_the_live_pair_only_when_given_one(tmp_path):
    plain = nginx_config("10.0.0.5", SITE)
    assert "listen 10.0.0.5:80;\n    server_name www.example.com;" in plain and "443" not in plain
    assert "ssl" not in plain
    tls = nginx_config("10.0.0.5", SITE, tmp_path / "ssl" / "live" / SITE)
    assert (f"listen 10.0.0.5:80;\n    listen 10.0.0.5:443 ssl;\n"
            f"    ssl_certificate {tmp_path}/ssl/live/{SITE}/fullchain.pem;\n"
            f"    ssl_certificate_key {tmp_path}/ssl/live/{SITE}/privkey.pem;\n"
            "    ssl_protocols TLSv1.2 TLSv1.3;\n") in tls
    assert tls.replace(tls[tls.index("\n    listen 10.0.0.5:443"):tls.index("\n    server_name")], "") == plain


def test_a_webserver_serving_https_has_the_originals_daily_line_and_adts_five_minute_check():
    home = "/home/X1"
    plain, tls = crontab("webserver", home), crontab("webserver", home, https=True)
    added = [line for line in tls.splitlines() if line not in plain.splitlines()]
    assert added == [f"35 3 * * * export HOME={home} && {home}/{RENEW_SSL}",
                     f"*/5 * * * * export HOME={home} && {home}/{RENEW_SSL}"]
    assert tls.splitlines()[-1] == plain.splitlines()[-1]  # the agent's line stays last
    for role in ("database", "autoscaler"):
        assert crontab(role, home, https=True) == crontab(role, home)
