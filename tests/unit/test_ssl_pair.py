"""The pure core of TLS (adt.ssl.pair) and the issuer's pure parts: what a pair says, whether it belongs together,
when it is due, where it lives; which CA directory a template names, where an account is kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adt.errors import AdtError
from adt.ssl import pair as p
from adt.ssl.issuer import DIRECTORIES, Authority, account_directory
from tests.services.testca import DAY, TestCA

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.timezone.utc)
CA = TestCA()


def leaf(names=("www.example.com",), start=NOW - DAY, days=90, serial=None):
    return CA.issue(list(names), not_before=start, not_after=start + days * DAY, serial=serial)


def test_a_pair_that_belongs_together_is_described():
    one = leaf(serial=0x0ABC)
    certificate = p.check_pair(one.fullchain, one.privkey, "www.example.com", NOW)
    assert certificate.serial == "0ABC"  # whole bytes, as openssl prints a serial
    assert certificate.names == ("www.example.com",) and certificate.lifetime == 90 * DAY
    assert certificate.not_after == NOW + 89 * DAY and "adt test CA" in certificate.issuer
    assert len(certificate.fingerprint) == 64


def test_a_key_that_is_not_the_certificates_is_refused():
    with pytest.raises(AdtError, match="privkey.pem is not the key of the certificate in fullchain.pem"):
        p.check_pair(leaf().fullchain, leaf().privkey)


def test_a_certificate_for_another_name_or_expired_is_refused():
    one = leaf(("www.other.com",))
    with pytest.raises(AdtError, match=r"the certificate is for www.other.com, not www.example.com"):
        p.check_pair(one.fullchain, one.privkey, "www.example.com")
    old = leaf(start=NOW - 100 * DAY)
    with pytest.raises(AdtError, match="the certificate expired at"):
        p.check_pair(old.fullchain, old.privkey, "www.example.com", NOW)


def test_files_without_a_certificate_or_key_name_the_file():
    with pytest.raises(AdtError, match="fullchain.pem holds no certificate"):
        p.check_pair(b"", leaf().privkey)
    with pytest.raises(AdtError, match="privkey.pem holds no private key"):
        p.check_pair(leaf().fullchain, leaf().fullchain)
    with pytest.raises(AdtError, match="fullchain.pem holds a certificate that does not parse"):
        p.chain(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")


def test_a_zerossl_privkey_with_the_chain_appended_still_matches():
    one = leaf()
    assert p.check_pair(one.fullchain, one.privkey + one.fullchain).serial == one.serial


def test_wildcards_cover_one_label():
    certificate = p.leaf(leaf(("*.example.com",)).fullchain)
    assert certificate.covers("www.example.com") and certificate.covers("WWW.example.com.")
    assert not certificate.covers("example.com") and not certificate.covers("a.b.example.com")


def test_renewal_at_a_third_of_the_lifetime_left_or_earlier_by_the_ca():
    certificate = p.leaf(leaf(start=NOW, days=90).fullchain)
    assert p.due_by_lifetime(certificate) == NOW + 60 * DAY
    assert p.renewal_time(certificate) == NOW + 60 * DAY
    assert p.renewal_time(certificate, NOW + 10 * DAY) == NOW + 10 * DAY  # the CA's window is earlier
    assert p.renewal_time(certificate, NOW + 80 * DAY) == NOW + 60 * DAY  # never later than the lifetime rule
    six_days = p.leaf(leaf(start=NOW, days=6).fullchain)
    assert p.due_by_lifetime(six_days) == NOW + 4 * DAY


@given(st.integers(min_value=1, max_value=400), st.integers(min_value=0, max_value=400 * 86400))
def test_renewal_is_always_before_expiry_and_after_issuance(days, offset):
    certificate = p.Certificate("01", NOW, NOW + days * DAY, ("a.example",), "CA", "f")
    due = p.renewal_time(certificate, NOW + dt.timedelta(seconds=offset))
    assert certificate.not_before <= due < certificate.not_after


def test_until_reads_as_an_operator_would():
    assert p.until(NOW + dt.timedelta(days=3, hours=4, minutes=5), NOW) == "3 d 4 h"
    assert p.until(NOW + dt.timedelta(hours=2, minutes=5), NOW) == "2 h 5 min"
    assert p.until(NOW + dt.timedelta(minutes=1, seconds=3), NOW) == "1 min 3 s"
    assert p.until(NOW + dt.timedelta(seconds=40), NOW) == "40 s"
    assert p.until(NOW - DAY, NOW) == "now"


def test_where_a_pair_lives_as_the_original_names_it():
    assert p.build_directory(Path("/b/runtimedata/local/t1"), "powerdns", "ZEROSSL", "www.example.com") == Path(
        "/b/runtimedata/local/t1/ssl/powerdns/zero/www.example.com")
    assert p.build_directory(Path("/r"), "cloudflare", "letsencrypt", "w.x") == Path("/r/ssl/cloudflare/lets/w.x")
    assert list(p.config_keys("www.example.com")) == ["ssl/www.example.com/fullchain.pem",
                                                      "ssl/www.example.com/privkey.pem"]
    assert p.machine_directory(Path("/home/X1"), "www.example.com") == Path("/home/X1/ssl/live/www.example.com")
    with pytest.raises(AdtError, match="unknown SSL_GENERATION_SERVICE 'BUYPASS'"):
        p.service_word("BUYPASS")


def test_the_ca_directory_a_template_names():
    assert Authority.from_values({"SSL_GENERATION_SERVICE": "LETSENCRYPT", "SSL_LIVE_CERT": "1"}).directory == \
        "https://acme-v02.api.letsencrypt.org/directory"
    assert Authority.from_values({"SSL_GENERATION_SERVICE": "LETSENCRYPT", "SSL_LIVE_CERT": "0"}).directory == \
        DIRECTORIES[("LETSENCRYPT", "0")] and "staging" in DIRECTORIES[("LETSENCRYPT", "0")]
    zerossl = Authority.from_values({"SSL_EMAIL_ADDRESS": "ops@example.com", "SSL_EAB_KID": "kid"})
    assert zerossl.directory == "https://acme.zerossl.com/v2/DV90"  # the schema's default service
    assert (zerossl.email, zerossl.eab_kid) == ("ops@example.com", "kid")
    private = Authority.from_values({"SSL_ACME_DIRECTORY": "https://127.0.0.1:14000/dir", "SSL_ACME_CA_BUNDLE": "/b"})
    assert (private.directory, private.ca_bundle) == ("https://127.0.0.1:14000/dir", "/b")
    with pytest.raises(AdtError, match="no ACME directory for SSL_GENERATION_SERVICE=BUYPASS"):
        Authority.from_values({"SSL_GENERATION_SERVICE": "BUYPASS"})


def test_one_account_directory_per_ca_directory():
    base = Path("/r/ssl/acme")
    assert account_directory(base, "https://acme-v02.api.letsencrypt.org/directory") == \
        base / "acme-v02.api.letsencrypt.org_directory"
    assert account_directory(base, "https://127.0.0.1:14000/dir") == base / "127.0.0.1_14000_dir"
