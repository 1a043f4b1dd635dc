"""A webserver's install of the published certificate (RenewSSLCertificate.sh, `adt ssl install`): pairs of a test
CA published to a real S3 (SeaweedFS) as the build machine publishes them, installed into the machine's live
directory, served by a real nginx on 127.x.y.z:443 with the config the webserver bootstrap writes, read back with
`openssl s_client`."""

from __future__ import annotations

import os
import random
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from adt.errors import AdtError
from adt.machine import bootstrap
from adt.net import site_page
from adt.settings.machine import MachineSettings
from adt.ssl import install as ssl_install
from adt.ssl.pair import machine_directory
from tests.services.testca import TestCA


class CA(TestCA):
    """The tests' CA, its leaves with 16-digit serials (openssl prints a serial by bytes: no leading zero to
    guess), each as the two files the build publishes."""

    __test__ = False

    def pair(self, names, mismatched: bool = False) -> "Pair":
        leaf = self.issue(names, serial=random.getrandbits(62) | (1 << 62))
        key = self.issue(names).privkey if mismatched else leaf.privkey  # another certificate's key
        return Pair(leaf.serial, {"fullchain.pem": leaf.fullchain, "privkey.pem": key})


class Pair:
    def __init__(self, serial: str, files: dict):
        self.serial, self._files = serial, files
        self.fullchain = files["fullchain.pem"]

    def files(self) -> dict:
        return dict(self._files)


@pytest.fixture(scope="module")
def ca():
    return CA()


class Site:
    """One webserver: its settings (the ssl bucket named by DNSCHOICE and SSLGENERATIONSERVICE), the buckets the
    build publishes to, and (once started) nginx serving the live pair on its own loopback address."""

    def __init__(self, machine, server):
        machine.write_settings(DNSCHOICE="cloudflare", SSLGENERATIONSERVICE="LETSENCRYPT", SERVEHTTPS="1")
        self.machine, self.server = machine, server
        self.website = machine.website
        self.home = machine.home
        self.settings = MachineSettings.load(machine.settings_path)
        self.ssl_bucket = f"{self.website.replace('.', '-')}-cloudflare-lets-ssl"
        self.live = machine_directory(self.home, self.website)
        self.client = server.client()
        self.buckets = []
        self.ip = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        self.dir = Path(tempfile.mkdtemp(prefix="adt-ssl-site-", dir="/var/tmp"))  # www-data reads the webroot
        self.dir.chmod(0o755)
        self.nginx = None

    def publish(self, files: dict, config_bucket: bool = False) -> None:
        """Objects as the build machine writes them: the ssl bucket's root, or the config bucket's ssl/<URL>/."""
        bucket = self.machine.bucket if config_bucket else self.ssl_bucket
        prefix = f"ssl/{self.website}/" if config_bucket else ""
        if bucket not in self.buckets:
            self.client.create_bucket(Bucket=bucket)
            self.buckets.append(bucket)
        for name, data in files.items():
            self.client.put_object(Bucket=bucket, Key=prefix + name, Body=data)

    def install(self, reload=True, **kwargs) -> str:
        return ssl_install.install(self.settings, self.home, reload=self.reload if reload else None, **kwargs)

    @property
    def config(self) -> Path:
        return self.dir / "nginx.conf"

    def reload(self) -> None:
        bootstrap.reload_nginx(self.config, self.dir / "log" / "nginx-error.log")

    def start(self) -> None:
        """nginx with the webserver's own config (bootstrap.nginx_config), port 80 and 443 on this site's address."""
        for sub in ("run/nginx", "log", "www"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "www" / "index.html").write_text(f"<title>{self.website}</title>\n")
        for path in (self.dir / "www", self.dir / "www" / "index.html"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        self.config.write_text(bootstrap.nginx_config(self.ip, self.website, self.live, self.dir / "run",
                                                      self.dir / "log", self.dir / "www"))
        self.nginx = subprocess.Popen(["nginx", "-e", str(self.dir / "log" / "nginx-error.log"), "-c", str(self.config),
                                       "-g", "daemon off;"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                if site_page(self.ip, self.website, timeout=2, tls=True)[0] == 200:
                    return
            except OSError:
                pass
            assert self.nginx.poll() is None, self.nginx.stderr.read().decode()
            assert time.monotonic() < deadline, "nginx did not serve HTTPS"
            time.sleep(0.05)

    def served_serial(self) -> str:
        """The serial of the certificate nginx serves for the site (openssl s_client, SNI = the site)."""
        shown = subprocess.run(["openssl", "s_client", "-connect", f"{self.ip}:443", "-servername", self.website],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        serial = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=shown.stdout, capture_output=True,
                                timeout=10)
        return serial.stdout.decode().strip().partition("serial=")[2]

    def serves(self, serial: str, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout  # a reload is a signal: the new workers take over a moment later
        while self.served_serial() != serial:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self) -> None:
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)  # nginx's graceful stop, of the master this test started
            try:
                self.nginx.wait(10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()
        for bucket in self.buckets:
            for item in self.client.list_objects_v2(Bucket=bucket).get("Contents", []):
                self.client.delete_object(Bucket=bucket, Key=item["Key"])
            self.client.delete_bucket(Bucket=bucket)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def site(plain_machine, s3_server):
    site = Site(plain_machine, s3_server)
    yield site
    site.stop()


def test_first_install_is_private_to_root_and_served_over_https(site, ca):
    first = ca.pair([site.website])
    site.publish(first.files())
    said = site.install(reload=False)
    assert said.startswith(f"installed the certificate for {site.website} (serial {first.serial}, expires ")
    for name, data in first.files().items():
        path = site.live / name
        assert path.read_bytes() == data
        assert stat.S_IMODE(path.stat().st_mode) == 0o400 and path.stat().st_uid == 0
    assert stat.S_IMODE(site.live.stat().st_mode) == 0o700 and not (site.live / "previous").exists()
    assert not [p for p in site.live.parent.iterdir() if p.name.startswith(".")]  # no staging left behind
    site.start()
    assert site.served_serial() == first.serial
    assert site_page(site.ip, site.website, timeout=5)[0] == 200  # port 80 serves as before


def test_a_new_pair_is_served_after_install_and_the_old_one_kept_an_unchanged_one_is_a_no_op(site, ca):
    first, second = ca.pair([site.website]), ca.pair([site.website])
    site.publish(first.files())
    site.install(reload=False)
    site.start()
    assert site.install().startswith(f"nothing new: the live certificate of {site.website} is the published one")
    site.publish(second.files())
    said = site.install()
    assert f"serial {second.serial}" in said and said.endswith("; nginx reloaded")
    assert site.serves(second.serial)
    assert {n: (site.live / "previous" / n).read_bytes() for n in first.files()} == first.files()
    assert stat.S_IMODE((site.live / "previous" / "privkey.pem").stat().st_mode) == 0o400
    assert site.install().startswith("nothing new")


def test_half_a_new_pair_or_a_key_not_matching_is_never_installed_and_the_old_one_still_served(site, ca):
    first = ca.pair([site.website])
    site.publish(first.files())
    site.install(reload=False)
    site.start()
    half = ca.pair([site.website])
    site.publish({"fullchain.pem": half.fullchain})  # the key still the live one's
    with pytest.raises(AdtError, match="only fullchain.pem of the published pair .* differs from the live one"):
        site.install()
    mismatched = ca.pair([site.website], mismatched=True)
    site.publish(mismatched.files())
    with pytest.raises(AdtError, match="not installing the published pair .*: privkey.pem is not the key of the "
                                       "certificate in fullchain.pem .the live pair stays in service"):
        site.install()
    assert {n: (site.live / n).read_bytes() for n in first.files()} == first.files()
    assert site.served_serial() == first.serial


def test_a_client_polling_https_during_install_and_reload_sees_no_failed_request(site, ca):
    site.publish(ca.pair([site.website]).files())
    site.install(reload=False)
    site.start()
    answers, failures, stop = [], [], threading.Event()

    def poll():
        while not stop.is_set():
            try:
                answers.append(site_page(site.ip, site.website, timeout=5, tls=True)[0])
            except OSError as error:
                failures.append(repr(error))

    pollers = [threading.Thread(target=poll) for _ in range(3)]
    for poller in pollers:
        poller.start()
    try:
        for _ in range(3):
            new = ca.pair([site.website])
            site.publish(new.files())
            site.install()
            assert site.serves(new.serial)
        time.sleep(0.3)
    finally:
        stop.set()
        for poller in pollers:
            poller.join()
    assert failures == [] and len(answers) > 30 and set(answers) == {200}


def test_a_pair_nginx_cannot_take_puts_the_previous_one_back(site, ca):
    first = ca.pair([site.website])
    site.publish(first.files())
    site.install(reload=False)
    site.config.write_text(bootstrap.nginx_config(site.ip, site.website, site.live, site.dir / "run", site.dir / "log",
                                                  site.dir / "www"))  # a config, no nginx running on it
    (site.dir / "log").mkdir()
    (site.dir / "run" / "nginx").mkdir(parents=True)
    site.publish(ca.pair([site.website]).files())
    with pytest.raises(AdtError, match="nginx did not take the new certificate .*: reloading nginx failed"):
        site.install()
    assert {n: (site.live / n).read_bytes() for n in first.files()} == first.files()


def test_the_older_config_bucket_layout_is_read_when_the_ssl_bucket_has_none(site, ca):
    pair = ca.pair([site.website])
    site.publish(pair.files(), config_bucket=True)
    assert f"serial {pair.serial}" in site.install(reload=False)
    assert (site.live / "fullchain.pem").read_bytes() == pair.fullchain


def test_nothing_published_says_where_it_looked(site):
    with pytest.raises(AdtError, match=rf"no certificate for {site.website} is published \(looked in "
                                       rf"s3://{site.ssl_bucket}/ or s3://{site.machine.bucket}/ssl/{site.website}/\)"):
        site.install()
    assert not site.live.exists()


def test_two_runs_never_race(site, ca):
    site.publish(ca.pair([site.website]).files())
    with ssl_install.locked(site.home, 0):
        with pytest.raises(AdtError, match=rf"another certificate install is in progress \(pid {os.getpid()}, "
                                           r"waited 0.3 s\)"):
            site.install(reload=False, lock_wait=0.3)
    assert not site.live.exists()


def test_first_boot_fails_clearly_without_a_pair_and_keeps_a_sound_live_one(site, ca):
    with pytest.raises(AdtError, match=f"this webserver cannot serve HTTPS for {site.website}: no certificate"):
        ssl_install.ensure(site.settings, site.home, attempts=2, pause=0)
    good = ca.pair([site.website])
    site.publish(good.files())
    assert f"serial {good.serial}" in ssl_install.ensure(site.settings, site.home, attempts=2, pause=0)
    site.publish(ca.pair(["www.elsewhere.example"]).files())  # a snapshot machine, a wrong pair published
    said = ssl_install.ensure(site.settings, site.home, attempts=1, pause=0)
    assert said.startswith(f"serving the certificate already in {site.live} (serial {good.serial}")
    assert os.path.isdir(site.live)
