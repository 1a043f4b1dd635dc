"""A webserver's served certificate against the issued one (`adt.ssl.served.compare`, pure), and the TLS section of
`adt status` it feeds (`adt.build.status.tls_view` and the table)."""

import datetime as dt
import json

import pytest

from adt.build.status import Unavailable, render, report
from adt.errors import AdtError
from adt.ssl.pair import Certificate
from adt.ssl.served import EXPIRED, EXPIRING, NO_TLS, OLDER, OTHER, NoTls, Row, compare

NOW = dt.datetime(2026, 12, 2, 12, 0, 0, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)


def cert(serial: str, issued_days_ago: float, lifetime_days: float = 90) -> Certificate:
    start = NOW - issued_days_ago * DAY
    return Certificate(serial, start, start + lifetime_days * DAY, ("www.example.com",), "CN=Test CA",
                       f"fp-{serial}")


ISSUED = cert("0A0A", 2)  # renewed two days ago
OLD = cert("0909", 62)  # the one before: 28 days left
DYING = cert("0808", 87)  # 3 days left
NEWER = cert("0B0B", 1)


def said(rows):
    return [(row.state, row.warnings) for row in rows]


def test_the_issued_certificate_served_is_current():
    assert compare({"10.0.0.2": ISSUED}, ISSUED, NOW) == [Row("10.0.0.2", "0A0A", ISSUED.not_after, "current", ())]


def test_an_older_certificate_is_a_warning_even_far_from_expiry():
    assert compare({"10.0.0.5": OLD}, ISSUED, NOW) == [Row("10.0.0.5", "0909", OLD.not_after, OLDER, (OLDER,))]


def test_one_that_expires_within_seven_days_is_warned_about_with_the_time_left():
    [row] = compare({"10.0.0.6": DYING}, ISSUED, NOW)
    assert row == Row("10.0.0.6", "0808", DYING.not_after, f"{OLDER}, expires in 3 d 0 h", (OLDER, EXPIRING))
    assert EXPIRING == "expires within 7 d"


@pytest.mark.parametrize("left, state, warnings", [
    (dt.timedelta(days=7), "current", ()),  # exactly a week: not yet
    (dt.timedelta(days=7) - dt.timedelta(seconds=1), "current, expires in 6 d 23 h", (EXPIRING,)),
    (dt.timedelta(hours=5), "current, expires in 5 h 0 min", (EXPIRING,)),
    (dt.timedelta(0), "current, expired just now", (EXPIRED,)),
    (-dt.timedelta(hours=2), "current, expired 2 h 0 min ago", (EXPIRED,)),
])
def test_the_expiry_warning_starts_a_week_before(left, state, warnings):
    issued = Certificate("0C", NOW - 80 * DAY, NOW + left, ("www.example.com",), "CN=Test CA", "fp-0C")
    assert said(compare({"a": issued}, issued, NOW)) == [(state, warnings)]


def test_the_issued_one_expiring_warns_on_every_webserver_serving_it():
    rows = compare({"a": DYING, "b": DYING}, DYING, NOW)
    assert [(r.state, r.warnings) for r in rows] == [("current, expires in 3 d 0 h", (EXPIRING,))] * 2


def test_a_different_certificate_issued_later_is_not_the_published_one():
    assert said(compare({"a": NEWER}, ISSUED, NOW)) == [("newer than published", (OTHER,))]


def test_current_means_the_same_certificate_not_only_the_same_serial():
    same_serial = Certificate("0A0A", ISSUED.not_before - DAY, ISSUED.not_after, ISSUED.names, "CN=Other CA", "fp-x")
    assert said(compare({"a": same_serial}, ISSUED, NOW)) == [(OLDER, (OLDER,))]


def test_no_tls_and_its_reason_are_warnings():
    rows = compare({"a": None, "b": NoTls("10.0.0.3:443", "connection refused"), "c": "reset\nby peer",
                    "d": AdtError("no answer", "hint")}, ISSUED, NOW)
    assert [(r.webserver, r.serial, r.not_after, r.state, r.warnings) for r in rows] == [
        ("a", None, None, NO_TLS, (NO_TLS,)),
        ("b", None, None, "no TLS: connection refused", (NO_TLS,)),  # the address is the row's, not repeated
        ("c", None, None, "no TLS: reset", (NO_TLS,)),  # one line
        ("d", None, None, "no TLS: no answer", (NO_TLS,))]


def test_without_an_issued_certificate_only_expiry_is_judged():
    rows = compare({"a": OLD, "b": DYING}, None, NOW)
    assert [(r.state, r.warnings) for r in rows] == [
        ("served (none issued here to compare)", ()),
        ("served (none issued here to compare), expires in 3 d 0 h", (EXPIRING,))]


def test_rows_keep_the_order_given():
    assert [r.webserver for r in compare({"c": OLD, "a": ISSUED, "b": None}, ISSUED, NOW)] == ["c", "a", "b"]


# -- the section of `adt status` -------------------------------------------------------------------------------
MACHINES = [
    {"name": "ws-lon1-b1-0-Xab-init-1", "role": "webserver", "address": "10.0.0.2", "public_address": "203.0.113.2",
     "status": "running"},
    {"name": "ws-lon1-b1-0-Xab-init-2", "role": "webserver", "address": "10.0.0.5", "public_address": "203.0.113.5",
     "status": "running"},
    {"name": "ws-lon1-b1-0-Xab-init-3", "role": "webserver", "address": "10.0.0.6", "public_address": "203.0.113.6",
     "status": "running"},
]
PATH = "/root/runtimedata/lon1/b1/ssl/powerdns/lets/www.example.com/fullchain.pem"


def status_of(tls):
    return report("lon1/b1", "www.example.com", MACHINES, [], [], "1", {}, [], NOW.timestamp(), [], tls=tls)


def seen(**changes):
    observed = {"in_use": True, "serve_https": True, "path": PATH, "issued": ISSUED,
                "webservers": [(m["name"], m["address"]) for m in MACHINES],
                "served": {"10.0.0.2": ISSUED, "10.0.0.5": DYING, "10.0.0.6": NoTls("10.0.0.6:443", "refused")}}
    observed.update(changes)
    return observed


def test_the_section_s_json():
    got = status_of(seen())
    assert json.loads(json.dumps(got)) == got
    assert got["tls"] == {
        "in_use": True, "serve_https": True, "path": PATH,
        "issued": {"serial": "0A0A", "not_before": "2026-11-30T12:00:00Z", "not_after": "2027-02-28T12:00:00Z",
                   "names": ["www.example.com"], "issuer": "CN=Test CA", "fingerprint": "fp-0A0A", "state": "valid",
                   "warnings": []},
        "webservers": {"items": [
            {"name": "ws-lon1-b1-0-Xab-init-1", "address": "10.0.0.2", "serial": "0A0A",
             "expires": "2027-02-28T12:00:00Z", "state": "current", "warnings": []},
            {"name": "ws-lon1-b1-0-Xab-init-2", "address": "10.0.0.5", "serial": "0808",
             "expires": "2026-12-05T12:00:00Z", "state": "older than published, expires in 3 d 0 h",
             "warnings": [OLDER, EXPIRING]},
            {"name": "ws-lon1-b1-0-Xab-init-3", "address": "10.0.0.6", "serial": None, "expires": None,
             "state": "no TLS: refused", "warnings": [NO_TLS]}],
            "warnings": {OLDER: ["10.0.0.5"], EXPIRING: ["10.0.0.5"], NO_TLS: ["10.0.0.6"]}}}


def section(text: str) -> str:
    return text.split("\n\ntls")[1].split("\n\n")[0]


def test_the_section_s_table():
    assert section(render(status_of(seen()))) == """:
  issued: serial 0A0A, expires 2027-02-28T12:00:00Z (valid), for www.example.com
  address   serial  expires               state                                     name
  10.0.0.2  0A0A    2027-02-28T12:00:00Z  current                                   ws-lon1-b1-0-Xab-init-1
  10.0.0.5  0808    2026-12-05T12:00:00Z  older than published, expires in 3 d 0 h  ws-lon1-b1-0-Xab-init-2
  10.0.0.6  -       -                     no TLS: refused                           ws-lon1-b1-0-Xab-init-3
  older than published: 10.0.0.5
  expires within 7 d: 10.0.0.5
  no TLS: 10.0.0.6"""


def test_all_current_is_said_in_one_line():
    text = section(render(status_of(seen(served={a: ISSUED for a in ("10.0.0.2", "10.0.0.5", "10.0.0.6")}))))
    assert text.endswith("\n  every running webserver serves the issued certificate")
    assert "older" not in text and "no TLS" not in text


def test_the_issued_one_expiring_is_a_warning_of_its_own():
    text = section(render(status_of(seen(issued=DYING, served={}))))
    assert "  issued: serial 0808, expires 2026-12-05T12:00:00Z (expires in 3 d 0 h), for www.example.com\n" in text
    assert "  the issued certificate expires in 3 d 0 h: renew it (adt ssl renew)\n" in text


def test_tls_off_is_one_line():
    for off in (None, {"in_use": False}):
        got = status_of(off)
        assert got["tls"] == {"in_use": False}
        assert "\n\ntls: off (no certificate issued for this build, SERVEHTTPS not on)\n\n" in render(got)


def test_serve_https_without_a_certificate_here_says_none_issued():
    text = section(render(status_of(seen(issued=None, served={"10.0.0.2": OLD}, webservers=[("ws-1", "10.0.0.2")]))))
    assert text.startswith(f":\n  issued: no certificate issued (none at {PATH})\n")
    assert "served (none issued here to compare)" in text and "every running" not in text


def test_what_cannot_be_seen_is_unavailable_not_a_failure():
    got = status_of(seen(issued=Unavailable("fullchain.pem holds no certificate"),
                         webservers=Unavailable("the cloud host does not answer")))
    assert got["tls"]["issued"] == {"unavailable": "fullchain.pem holds no certificate"}
    assert got["tls"]["webservers"] == {"unavailable": "the cloud host does not answer"}
    assert section(render(got)) == """:
  issued: unavailable: fullchain.pem holds no certificate
  webservers: unavailable: the cloud host does not answer"""
    whole = status_of(Unavailable("boom"))
    assert whole["tls"] == {"unavailable": "boom"} and "\n\ntls: unavailable: boom\n" in render(whole)
