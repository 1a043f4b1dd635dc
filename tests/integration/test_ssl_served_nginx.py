"""The certificate a webserver serves, read from a real nginx (TLS with SNI) on loopback addresses of this test's
own, against the one the build issued: `adt.ssl.served.served_certificate` and the TLS section of `adt status`.

One nginx, on 127.<r>.<r>.x:443 (x = 2..6, <r> random so no other test's server is met):
  .2  the issued certificate for www.example.com (SNI), another certificate by default (any other name)
  .3  the certificate before it (issued 60 days ago)
  .4  one that expires in 3 days
  .5  plain HTTP on 443 (a handshake that fails)
  .6  nothing listens
The leaves come from a test CA (tests/services/testca.py), trusted nowhere: the reading is unverified by design.
"""

import datetime as dt
import random
import socket
import subprocess
import time
from types import SimpleNamespace

import pytest

from adt.build.config import BuildConfig
from adt.build.status import render
from adt.build.status import status as observe
from adt.cloud.base import Server
from adt.errors import AdtError
from adt.ssl import pair
from adt.ssl.served import EXPIRING, NO_TLS, OLDER, compare, served_certificate
from tests.services.testca import DAY, TestCA

WEBSITE = "www.example.com"


def _listening(address: str) -> bool:
    try:
        with socket.create_connection((address, 443), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    d = tmp_path_factory.mktemp("served")
    net = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}"
    ip = {n: f"{net}.{n}" for n in range(2, 7)}
    now = dt.datetime.now(dt.timezone.utc)
    ca = TestCA()
    leaves = {
        "issued": ca.issue([WEBSITE], not_before=now - 2 * DAY),
        "default": ca.issue(["other.example.com"]),
        "older": ca.issue([WEBSITE], not_before=now - 60 * DAY),
        "dying": ca.issue([WEBSITE], not_before=now - 87 * DAY, not_after=now + 3 * DAY),
    }
    for name, leaf in leaves.items():
        (d / f"{name}.pem").write_bytes(leaf.fullchain)
        (d / f"{name}.key").write_bytes(leaf.privkey)
        (d / f"{name}.key").chmod(0o600)

    def server(address: str, leaf: str, names: str = "", default: bool = False) -> str:
        return f"""  server {{
    listen {address}:443 ssl{" default_server" if default else ""};
    {f"server_name {names};" if names else ""}
    ssl_certificate {d}/{leaf}.pem;
    ssl_certificate_key {d}/{leaf}.key;
    return 200 "{leaf}\\n";
  }}
"""

    (d / "nginx.conf").write_text(f"""daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
{server(ip[2], "default", default=True)}{server(ip[2], "issued", WEBSITE)}{server(ip[3], "older")}\
{server(ip[4], "dying")}  server {{ listen {ip[5]}:443; return 200 "plain\\n"; }}
}}
""")
    nginx = subprocess.Popen(["nginx", "-c", str(d / "nginx.conf"), "-p", f"{d}/"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=open(d / "nginx.out", "wb"))
    try:
        deadline = time.monotonic() + 15
        while not all(_listening(ip[n]) for n in (2, 3, 4, 5)):
            if nginx.poll() is not None or time.monotonic() > deadline:
                logs = [(d / name).read_text(errors="replace")[-800:] for name in ("nginx.out", "error.log")
                        if (d / name).exists()]
                raise RuntimeError(f"nginx did not start: {' | '.join(logs)}")
            time.sleep(0.05)
        yield SimpleNamespace(ip=ip, leaves=leaves, ca=ca, dir=d)
    finally:
        nginx.terminate()
        try:
            nginx.wait(15)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait()


def test_the_served_certificate_is_the_one_for_the_website_s_name(web):
    issued = web.leaves["issued"]
    got = served_certificate(web.ip[2], WEBSITE, timeout=3)
    assert got == pair.leaf(issued.fullchain)  # serial, validity, names, issuer, fingerprint
    assert got.serial == issued.serial and got.not_after == issued.not_after and got.names == (WEBSITE,)
    # SNI is the website: another name gets the address's default certificate
    assert served_certificate(web.ip[2], "other.example.com", timeout=3).serial == web.leaves["default"].serial


def test_what_does_not_answer_tls_is_one_line_naming_the_address(web):
    with pytest.raises(AdtError, match=rf"^{web.ip[5]}:443 does not answer TLS: TLS handshake failed: "):
        served_certificate(web.ip[5], WEBSITE, timeout=3)
    with pytest.raises(AdtError, match=rf"^{web.ip[6]}:443 does not answer TLS: connection refused \(") as refused:
        served_certificate(web.ip[6], WEBSITE, timeout=3)
    assert refused.value.reason == "connection refused"  # what a status row says after the address


def test_an_older_and_an_expiring_certificate_are_warned_about(web):
    now = dt.datetime.now(dt.timezone.utc)
    issued = pair.leaf(web.leaves["issued"].fullchain)
    served = {web.ip[n]: served_certificate(web.ip[n], WEBSITE, timeout=3) for n in (2, 3, 4)}
    current, older, dying = compare(served, issued, now)
    assert (current.serial, current.state, current.warnings) == (web.leaves["issued"].serial, "current", ())
    assert (older.serial, older.state, older.warnings) == (web.leaves["older"].serial, OLDER, (OLDER,))
    assert dying.serial == web.leaves["dying"].serial and dying.not_after == web.leaves["dying"].not_after
    assert dying.state == f"{OLDER}, expires in 2 d 23 h" and dying.warnings == (OLDER, EXPIRING)


# -- `adt status` on a build whose webservers are those addresses ------------------------------------------------
class Listing:
    """A cloud host's listing of this build's machines (the status reads nothing else of it)."""

    name = "listing"

    def __init__(self, servers):
        self.servers = servers

    def list_servers(self, pattern=""):
        return [s for s in self.servers if pattern in s.name]


@pytest.fixture
def build(tmp_path, web):
    home = tmp_path / "home"
    directory = home / "runtimedata" / "local" / "b1"
    directory.mkdir(parents=True)
    (directory / "build_environment").write_text(
        f"REGION=local\nWEBSITE_URL={WEBSITE}\nDNS_CHOICE=powerdns\nSSL_GENERATION_SERVICE=LETSENCRYPT\n"
        "ACTIVE_FIREWALLS=1\n")
    config = BuildConfig.load("local", "b1", str(home), env={})
    servers = [Server(f"ws-local-b1-0-Xab-init-{n}", str(n), "webserver", f"203.0.113.{n}", web.ip[n], "running")
               for n in range(2, 7)]
    servers.append(Server("ws-local-b1-0-Xab-init-9", "9", "webserver", "203.0.113.9", "127.0.0.9", "stopped"))
    return config, Listing(servers)


def tls_of(config, driver):
    got = observe(config, driver=driver)
    return got["tls"], render(got).split("\n\ntls")[1].split("\n\n")[0]


def test_status_shows_each_running_webserver_against_the_issued_certificate(web, build):
    config, driver = build
    fullchain = pair.build_directory(config.dir, "powerdns", "LETSENCRYPT", WEBSITE) / pair.FULLCHAIN
    fullchain.parent.mkdir(parents=True)
    fullchain.write_bytes(web.leaves["issued"].fullchain)
    started = time.monotonic()
    tls, text = tls_of(config, driver)
    assert time.monotonic() - started < 8  # each webserver within TLS_TIMEOUT, asked at once
    assert tls["in_use"] and tls["path"] == str(fullchain) and tls["issued"]["serial"] == web.leaves["issued"].serial
    rows = {item["address"]: item for item in tls["webservers"]["items"]}
    assert list(rows) == [web.ip[n] for n in range(2, 7)]  # running only: the stopped one is not asked
    assert (rows[web.ip[2]]["serial"], rows[web.ip[2]]["state"]) == (web.leaves["issued"].serial, "current")
    assert rows[web.ip[4]]["expires"] == web.leaves["dying"].not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rows[web.ip[5]]["state"].startswith("no TLS: TLS handshake failed: ")
    assert rows[web.ip[6]]["state"] == "no TLS: connection refused"
    assert tls["webservers"]["warnings"] == {OLDER: [web.ip[3], web.ip[4]], EXPIRING: [web.ip[4]],
                                             NO_TLS: [web.ip[5], web.ip[6]]}
    assert f"\n  {OLDER}: {web.ip[3]}, {web.ip[4]}\n  {EXPIRING}: {web.ip[4]}\n" in text
    assert f"\n  {web.ip[2]}  {web.leaves['issued'].serial}  " in text


def test_status_without_an_issued_certificate_or_serve_https_says_tls_is_off(build):
    config, driver = build
    tls, text = tls_of(config, driver)
    assert tls == {"in_use": False} and text == ": off (no certificate issued for this build, SERVEHTTPS not on)"


def test_status_with_serve_https_and_no_certificate_here_still_asks_the_webservers(web, build):
    config, driver = build
    config.values["SERVEHTTPS"] = "1"
    tls, text = tls_of(config, driver)
    assert tls["issued"] is None and tls["serve_https"]
    assert text.startswith(":\n  issued: no certificate issued (none at ")
    assert [item["serial"] for item in tls["webservers"]["items"][:3]] == [
        web.leaves[name].serial for name in ("issued", "older", "dying")]
