"""The build machine's issuer against a real ACME server: Debian's pebble, validating DNS-01 through a real PowerDNS
that adt's own driver writes, its CA trusted by these tests only; the pair published to a real S3 (SeaweedFS).

Renewal is decided by the certificate's lifetime (pebble issues 12-second certificates for that test) and by the
CA's renewal information (RFC 9773), served by a small endpoint in front of pebble (pebble 2.4 has none).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adt.build import ssl as flow
from adt.build.config import BuildConfig
from adt.datastore.seaweed import free_ports
from adt.dns import provider
from adt.dns.powerdns import PowerDnsServer
from adt.errors import AdtError
from adt.settings.runtime import RuntimeData
from adt.ssl import pair as p
from adt.ssl.publish import read
from tests.services.pebble import Pebble, RenewalInfo

ZONE = "adt-tls.local"
ADT = Path(sys.executable).parent / "adt"


@pytest.fixture(scope="module")
def pdns(tmp_path_factory):
    dns_port, api_port = free_ports(2)
    server = PowerDnsServer(tmp_path_factory.mktemp("pdns")).start("127.0.0.1", dns_port, api_port)
    server.ensure_zone(ZONE)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ca(tmp_path_factory, pdns):
    pebble = Pebble(tmp_path_factory.mktemp("pebble"), f"127.0.0.1:{pdns.state['dns_port']}").start()
    ari = RenewalInfo(pebble).start()
    yield pebble, ari
    ari.stop()
    pebble.stop()


def make_build(root: Path, s3, pdns, directory: str, bundle: str, identifier: str) -> BuildConfig:
    key, secret = s3.state["rw"]
    values = {
        "WEBSITE_URL": f"{identifier}.{ZONE}", "SERVER_USER": f"X{identifier}user", "S3_HOST_BASE": s3.endpoint,
        "S3_ACCESS_KEY": key, "S3_SECRET_KEY": secret, "S3_LOCATION": "us-east-1",
        "DNS_CHOICE": "powerdns", "DNS_API_URL": pdns.state["url"], "DNS_SECURITY_KEY": pdns.api_key(),
        "SSL_GENERATION_SERVICE": "LETSENCRYPT", "SSL_LIVE_CERT": "0", "SSL_ACME_DIRECTORY": directory,
        "SSL_ACME_CA_BUNDLE": bundle, "SSL_EMAIL_ADDRESS": "ops@adt-tls.local", "SSL_GENERATION_METHOD": "AUTOMATIC",
    }  # fmt: skip
    runtime = RuntimeData(root)
    runtime.ensure_build_dir("local", identifier)
    runtime.environment_file("local", identifier).write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return BuildConfig(root, "local", identifier, values)


@pytest.fixture
def cron(tmp_path, monkeypatch):
    monkeypatch.setattr(flow, "CRON_DIRECTORY", tmp_path / "cron.d")
    (tmp_path / "cron.d").mkdir()
    return tmp_path / "cron.d"


def dns_of(build):
    return provider(build.values)


def published(build):
    ssl_bucket, config_bucket = flow.buckets(build)
    endpoint = [build.endpoint()]
    website = build.values["WEBSITE_URL"]
    return read(endpoint, ssl_bucket, list(p.PAIR)), read(endpoint, config_bucket, list(p.config_keys(website)))


def verify_chain(pebble: Pebble, fullchain: bytes, tmp_path: Path) -> str:
    (tmp_path / "root.pem").write_bytes(pebble.roots())
    blocks = fullchain.split(b"-----END CERTIFICATE-----")
    (tmp_path / "leaf.pem").write_bytes(blocks[0] + b"-----END CERTIFICATE-----\n")
    (tmp_path / "chain.pem").write_bytes(b"-----END CERTIFICATE-----".join(blocks[1:]).strip() + b"\n")
    return subprocess.run(
        ["openssl", "verify", "-CAfile", str(tmp_path / "root.pem"), "-untrusted", str(tmp_path / "chain.pem"),
         str(tmp_path / "leaf.pem")], capture_output=True, text=True,
    ).stdout  # fmt: skip


def test_issue_publish_then_nothing_due(tmp_path, s3, pdns, ca, cron):
    pebble, ari = ca
    build = make_build(tmp_path, s3, pdns, ari.directory_url, str(pebble.ca_bundle), "t16a")
    WEBSITE = build.values["WEBSITE_URL"]
    started = time.monotonic()
    lines = flow.renew(build, dns=dns_of(build), progress=lambda _: None)
    took = time.monotonic() - started
    assert lines[0].startswith(f"issued {WEBSITE}'s certificate"), lines
    assert took < 30, took
    folder = p.build_directory(build.dir, "powerdns", "LETSENCRYPT", WEBSITE)
    fullchain, privkey = (folder / p.FULLCHAIN).read_bytes(), (folder / p.PRIVKEY).read_bytes()
    certificate = p.check_pair(fullchain, privkey, WEBSITE)
    assert "Pebble" in certificate.issuer
    assert verify_chain(pebble, fullchain, tmp_path).strip().endswith("OK")
    accounts = sorted((build.dir / "ssl" / "acme").rglob("*"))
    assert [a.name for a in accounts if a.is_file()] == ["account-key.pem", "account.json"]
    for path in (folder / p.PRIVKEY, *accounts):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    assert published(build) == ((fullchain, privkey), (fullchain, privkey))
    assert dns_of(build).txt(WEBSITE) == []  # the challenge's records are gone
    line = (cron / "adt-ssl-local-t16a").read_text().splitlines()[-1]
    assert line.startswith("17 */6 * * * root ") and '"none" "none" "t16a" "local"' in line
    assert "InitialiseNewSSLCertificate.sh" in line and not line.lstrip().startswith("#")

    account = sorted((build.dir / "ssl" / "acme").rglob("account.json"))
    before = [a.read_text() for a in account]
    again = flow.renew(build, dns=dns_of(build), progress=lambda _: None)
    assert again[0].startswith(f"nothing due: {WEBSITE}'s certificate {certificate.serial} expires"), again
    assert "a third of its lifetime left" in again[0] and len(again) == 1
    assert (folder / p.FULLCHAIN).read_bytes() == fullchain
    assert [a.read_text() for a in sorted((build.dir / "ssl" / "acme").rglob("account.json"))] == before

    # the datastore lost the pair: the next run that finds nothing due publishes it again
    ssl_bucket, _ = flow.buckets(build)
    s3.client().delete_object(Bucket=ssl_bucket, Key=p.PRIVKEY)
    healed = flow.renew(build, dns=dns_of(build), progress=lambda _: None)
    assert healed[1] == "the datastore did not hold this certificate: published it again"
    assert published(build)[0] == (fullchain, privkey)


def test_renewal_information_moves_renewal_earlier(tmp_path, s3, pdns, ca, cron):
    pebble, ari = ca
    build = make_build(tmp_path, s3, pdns, ari.directory_url, str(pebble.ca_bundle), "t16b")
    WEBSITE = build.values["WEBSITE_URL"]
    flow.renew(build, dns=dns_of(build), progress=lambda _: None)
    first = p.leaf(flow.local_pair(build)[0])
    now = dt.datetime.now(dt.timezone.utc)
    ari.window = (now + dt.timedelta(days=3), now + dt.timedelta(days=4))
    try:
        later = flow.renew(build, dns=dns_of(build), progress=lambda _: None)
        assert "the CA's renewal window" in later[0] and "nothing due" in later[0], later
        ari.window = (now - dt.timedelta(hours=2), now - dt.timedelta(hours=1))
        asked = len(ari.asked)
        lines = flow.renew(build, dns=dns_of(build), progress=lambda _: None)
    finally:
        ari.window = None
    assert len(ari.asked) > asked
    assert lines[0].startswith("issued"), lines
    second = p.leaf(flow.local_pair(build)[0])
    assert second.serial != first.serial
    kept = sorted(p.build_directory(build.dir, "powerdns", "LETSENCRYPT", WEBSITE).glob("fullchain.pem.previous-*"))
    assert [p.leaf(k.read_bytes()).serial for k in kept] == [first.serial]


def test_renewal_by_lifetime_on_short_certificates(tmp_path, s3, pdns, cron):
    pebble = Pebble(tmp_path / "short", f"127.0.0.1:{pdns.state['dns_port']}", validity=12).start()
    try:
        build = make_build(tmp_path, s3, pdns, pebble.directory_url, str(pebble.ca_bundle), "t16c")
        WEBSITE = build.values["WEBSITE_URL"]
        flow.renew(build, dns=dns_of(build), progress=lambda _: None)
        first = p.leaf(flow.local_pair(build)[0])
        assert first.lifetime <= dt.timedelta(seconds=13)
        waiting = flow.renew(build, dns=dns_of(build), progress=lambda _: None)
        assert waiting[0].startswith("nothing due") and "a third of its lifetime left" in waiting[0], waiting
        time.sleep(max(0.0, (p.due_by_lifetime(first) - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 0.5)
        lines = flow.renew(build, dns=dns_of(build), progress=lambda _: None)
        assert lines[0].startswith("issued"), lines
        assert p.leaf(flow.local_pair(build)[0]).serial != first.serial
    finally:
        pebble.stop()


def test_a_ca_that_is_down_keeps_the_old_pair_and_the_next_run_succeeds(tmp_path, s3, pdns, cron):
    pebble = Pebble(tmp_path / "flaky", f"127.0.0.1:{pdns.state['dns_port']}").start()
    try:
        build = make_build(tmp_path, s3, pdns, pebble.directory_url, str(pebble.ca_bundle), "t16d")
        WEBSITE = build.values["WEBSITE_URL"]
        flow.renew(build, dns=dns_of(build), progress=lambda _: None)
        old = flow.local_pair(build)
        pebble.stop()
        env = {**os.environ, "ADT_CRON_D": str(cron)}
        quiet = subprocess.run(  # nothing due: a CA that does not answer changes nothing and fails nothing
            [str(ADT), "ssl", "renew", "-c", "local", "-b", "t16d", "--build-home", str(tmp_path)],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        assert quiet.returncode == 0 and "nothing due" in quiet.stdout, quiet
        assert "the CA's renewal information did not answer" in quiet.stdout
        down = subprocess.run(
            [str(ADT), "ssl", "renew", "--force", "-c", "local", "-b", "t16d", "--build-home", str(tmp_path)],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        assert down.returncode == 1, down
        assert f"the CA at {pebble.directory_url} failed while reading its directory" in down.stderr
        assert "Traceback" not in down.stderr
        assert flow.local_pair(build) == old and published(build)[0] == old
        pebble.start()  # the same address, a CA that forgot every account
        up = subprocess.run(
            [str(ADT), "ssl", "renew", "--force", "-c", "local", "-b", "t16d", "--build-home", str(tmp_path)],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        assert up.returncode == 0, up
        assert "the CA does not know the saved account" in up.stdout
        new = flow.local_pair(build)
        assert new != old and published(build)[0] == new
    finally:
        pebble.stop()


def test_two_runs_never_race(tmp_path, s3, pdns, ca, cron):
    pebble, ari = ca
    build = make_build(tmp_path, s3, pdns, ari.directory_url, str(pebble.ca_bundle), "t16e")
    WEBSITE = build.values["WEBSITE_URL"]
    lock = build.dir / "ssl" / ".lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as held:
        held.write("4242\n")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(AdtError, match=r"another certificate run for local/t16e is in progress \(pid 4242\)"):
            flow.renew(build, dns=dns_of(build), progress=lambda _: None)
    assert flow.local_pair(build) is None


def test_a_pair_from_elsewhere_is_checked_before_it_is_published(tmp_path, s3, pdns, ca, cron):
    pebble, ari = ca
    build = make_build(tmp_path, s3, pdns, ari.directory_url, str(pebble.ca_bundle), "t16f")
    WEBSITE = build.values["WEBSITE_URL"]
    flow.renew(build, dns=dns_of(build), progress=lambda _: None)
    fullchain, privkey = flow.local_pair(build)
    from adt.ssl.issuer import certificate_key

    (tmp_path / "chain.pem").write_bytes(fullchain)
    (tmp_path / "other.pem").write_bytes(certificate_key())
    base = [str(ADT), "ssl", "issue", "-c", "local", "-b", "t16f", "--build-home", str(tmp_path)]
    wrong = subprocess.run(
        [*base, "--fullchain", str(tmp_path / "chain.pem"), "--privkey", str(tmp_path / "other.pem")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert wrong.returncode == 1
    assert "privkey.pem is not the key of the certificate in fullchain.pem" in wrong.stderr
    assert published(build)[0] == (fullchain, privkey)
    status = subprocess.run(
        [str(ADT), "ssl", "status", "-c", "local", "-b", "t16f", "--build-home", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "ADT_CRON_D": str(cron)},
    )  # fmt: skip
    assert status.returncode == 0, status
    serial = p.leaf(fullchain).serial
    assert f"serial {serial}" in status.stdout and "published: yes" in status.stdout


def test_dry_run_issues_nothing(tmp_path, s3, pdns, ca, cron):
    pebble, ari = ca
    WEBSITE = make_build(tmp_path, s3, pdns, ari.directory_url, str(pebble.ca_bundle), "t16g").values["WEBSITE_URL"]
    out = subprocess.run(
        [str(ADT), "ssl", "renew", "--dry-run", "-c", "local", "-b", "t16g", "--build-home", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "ADT_CRON_D": str(cron)},
    )  # fmt: skip
    assert out.returncode == 0, out
    assert f"would issue: a certificate for {WEBSITE} from {ari.directory_url} (no certificate yet)" in out.stdout
    assert not (cron / "adt-ssl-local-t16g").exists()


def test_a_ca_that_wants_an_external_account_binding_gets_one(tmp_path, s3, pdns, cron):
    """ZeroSSL's way: the account is bound to a key id and HMAC key given by the CA (pebble asks for one here)."""
    import base64
    import secrets

    hmac_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    pebble = Pebble(tmp_path / "eab", f"127.0.0.1:{pdns.state['dns_port']}", eab={"kid-adt": hmac_key}).start()
    try:
        build = make_build(tmp_path, s3, pdns, pebble.directory_url, str(pebble.ca_bundle), "t16h")
        with pytest.raises(AdtError, match=f"the CA at {pebble.directory_url} wants an external account binding"):
            flow.renew(build, dns=dns_of(build), progress=lambda _: None)
        build.values.update({"SSL_EAB_KID": "kid-adt", "SSL_EAB_HMAC_KEY": hmac_key})
        lines = flow.renew(build, dns=dns_of(build), progress=lambda _: None)
        assert lines[0].startswith("issued"), lines
        assert hmac_key not in (build.dir / "ssl" / "acme").joinpath(
            next((build.dir / "ssl" / "acme").iterdir()).name, "account.json").read_text()
    finally:
        pebble.stop()


def test_records_are_waited_for_at_the_zones_nameservers(pdns):
    """The propagation check a provider's DNS-01 waits on, against a real authoritative server: a value answered is
    seen at once, one that is not is waited for until the time-out, a server that does not answer is not one that
    answered."""
    from adt.dns.propagation import answers, wait_visible

    dns = provider({"DNS_CHOICE": "powerdns", "DNS_API_URL": pdns.state["url"], "DNS_SECURITY_KEY": pdns.api_key()})
    server, name = ("127.0.0.1", pdns.state["dns_port"]), f"_acme-challenge.prop.{ZONE}"
    dns.set_txt(f"prop.{ZONE}", ["token-one", "token-two"])
    try:
        assert answers(server, name) == ["token-one", "token-two"]
        assert wait_visible([server], name, ["token-two"], timeout=5) is True
        said = []
        started = time.monotonic()
        assert wait_visible([server], name, ["token-three"], timeout=0.6, interval=0.1, progress=said.append) is False
        assert 0.5 <= time.monotonic() - started < 3
        assert said == [f"  {name} TXT not yet answered by 127.0.0.1:{server[1]} after 0.6 s: asking the CA anyway"]
    finally:
        dns.delete_txt(f"prop.{ZONE}")
    assert answers(server, name) == []
    (silent,) = free_ports(1)
    assert answers(("127.0.0.1", silent), name, timeout=0.3) is None
