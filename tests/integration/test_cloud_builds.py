"""A development build on each provider, with the same code that builds on `local`: the provider's real driver
talks to its fake (which validates every request against the provider's published API), and each server the
fake makes is a real local machine given the user data the driver sent (tests/services/cloudfakes/backing.py).
The build's machines come up from their cloud-init document, the site is served, the native firewalls are the
provider's, and `adt destroy` leaves nothing on the provider.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import time
import http.client
import urllib.parse
from pathlib import Path

import pytest

from adt.datastore.seaweed import SeaweedS3
from adt.settings.providers import PROVIDERS
from adt.settings.template import Template
from tests.integration.conftest import BIN, ROOT
from adt.dns import provider
from tests.integration.test_cloud_conformance import FAKES
from tests.integration.test_dns_conformance import dns_values
from tests.integration.test_local_production import install_and_post
from tests.services.cloudfakes.backing import LocalBacking
from tests.services.pebble import Pebble
from adt.ssl import pair
from adt.ssl.served import served_certificate

VPC = "10.198.0.0/24"  # this suite's own range: the machines behind the fakes


@pytest.fixture(scope="module")
def backing(tmp_path_factory):
    state = tmp_path_factory.mktemp("cloudbuild-state")
    machines = LocalBacking(VPC, state)
    storage = SeaweedS3(tmp_path_factory.mktemp("cloudbuild-s3"), ip=machines.gateway).start()
    # the production fleets' CA: the fakes' DNS is an API with no DNS server behind it, so pebble takes every
    # challenge as valid (the TXT records still go through the provider's driver)
    ca = Pebble(tmp_path_factory.mktemp("cloudbuild-pebble"), "127.0.0.1:9", always_valid=True).start()
    yield machines, storage, ca
    ca.stop()
    storage.stop()
    machines.close()


def template_for(cloudhost: str, fake, storage, gateway: str, path: Path, number: int = 1, **more) -> Path:
    """The local template's site and application (WordPress, as the local machines have it), on `cloudhost`:
    its region, sizes and credentials, the S3 endpoint and the build machine's address on the machines' net;
    `more` values after."""
    template = Template.load(ROOT / "templates" / "local" / f"local{number}.tmpl")
    key, secret = storage.state["rw"]
    region = getattr(fake, "default_region", "") or PROVIDERS[cloudhost]["regions"][0]
    size = getattr(fake, "default_size", "") or PROVIDERS[cloudhost]["sizes"][0]
    values = {
        "CLOUDHOST": cloudhost,
        "REGION": region,
        "DB_SERVER_TYPE": size,
        "WS_SERVER_TYPE": size,
        "AS_SERVER_TYPE": size,
        "AUTH_SERVER_TYPE": size,
        "RP_SERVER_TYPE": size,
        "MACHINE_TYPE": PROVIDERS[cloudhost]["machine_type"],
        "CLOUDHOST_ACCOUNT_ID": "adt-test@example.com",  # Exoscale: the login e-mail; Linode: the user name
        "S3_HOST_BASE": storage.endpoint,
        "S3_ACCESS_KEY": key,
        "S3_SECRET_KEY": secret,
        "S3_LOCATION": "US",
        "VPC_IP_RANGE": VPC,
        "BUILD_MACHINE_IP": gateway,
        "BUILDOS": "debian",
        "BUILDOS_VERSION": "12",
        **fake.credentials,
        **more,
    }
    for name, value in values.items():
        template = template.set(name, value)
    template.save(path)
    return path


def build(env, cloudhost, number, identifier, template):
    result = subprocess.run([str(ROOT / "ExpeditedAgileDeploymentToolkit.sh"), cloudhost, "debian", str(number),
                             identifier, "--template-file", str(template), "--json", "--yes"], env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def destroy(env, cloudhost, identifier):
    result = subprocess.run([str(BIN / "adt"), "destroy", "-c", cloudhost, "-b", identifier, "--yes"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("cloudhost", tuple(FAKES))
def test_development_then_production_on_the_provider(cloudhost, backing, tmp_path):
    """The seed's workflow on a provider: a development build, a post, temporal backups, the development fleet
    destroyed, then production (template 3) from those backups: two webservers in the provider's DNS, an
    autoscaler that keeps them through the provider's API, every webserver serving the post; destroyed, nothing
    is left at the provider."""
    machines, storage, ca = backing
    module, cls = FAKES[cloudhost]
    fake = getattr(importlib.import_module(module), cls)()
    fake.backing = machines
    fake.host = machines.gateway  # the autoscaler calls the provider's API from its machine
    fake.start()
    website = f"www.adt-{cloudhost}.example"
    (getattr(fake, "add_zone", None) or fake.add_domain)(website.split(".", 1)[1])
    home = tmp_path / "home"
    home.mkdir()
    site = {"WEBSITE_URL": website, "WEBSITE_NAME": f"adt-{cloudhost}", **dns_values(cloudhost, fake)}
    dev_template = template_for(cloudhost, fake, storage, machines.gateway, tmp_path / "cloud1.tmpl", **site)
    env = {**os.environ, "BUILD_HOME": str(home), "PATH": f"{BIN}:{os.environ['PATH']}",
           f"ADT_API_URL_{cloudhost.upper()}": fake.url, "ADT_CRON_D": str(tmp_path)}
    built = []
    try:
        built.append("cdev")
        dev = build(env, cloudhost, 1, "cdev", dev_template)
        post, text = install_and_post(dev["url"])
        names = fake.servers()
        assert len(names) == 2 and {n.split("-")[0] for n in names} == {"ws", "db"}
        for name in names:  # the provider's own firewall for each, the build machine's SSH among its rules
            assert ("tcp", 2222, f"{machines.gateway}/32") in fake.firewall_rules(name)  # local1.tmpl's SSH_PORT
        for helper in ("PerformWebsiteBackup.sh", "PerformDatabaseBackup.sh"):
            result = subprocess.run([str(ROOT / "helperscripts" / helper), "--period", "HOURLY"], env=env,
                                    capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, result.stdout + result.stderr
        destroy(env, cloudhost, "cdev")
        built.remove("cdev")
        assert fake.servers() == []
        prod_template = template_for(
            cloudhost, fake, storage, machines.gateway, tmp_path / "cloud3.tmpl", number=3, APPLICATION="wordpress",
            WEBSERVER_CHOICE="NGINX", NO_WEBSERVERS="2", NO_AUTOSCALERS="1", BUILD_ARCHIVE_CHOICE="hourly",
            SSL_ACME_DIRECTORY=ca.directory_url, SSL_ACME_CA_BUNDLE=str(ca.ca_bundle),
            SSL_DNS_PROPAGATION_TIMEOUT="0", **site)  # the fakes' zones have no nameservers to ask (and no lookups out)
        built.append("cprod")
        prod = build(env, cloudhost, 3, "cprod", prod_template)
        assert len(prod["webservers"]) == 2 and len(prod["autoscalers"]) == 1
        issued = pair.leaf(next((home / "runtimedata" / cloudhost / "cprod" / "ssl").rglob("fullchain.pem")).read_bytes())
        for ip in prod["webservers"]:
            status, body = page(ip, website, f"/?p={post}")
            assert status == 200 and text in body, (ip, body[:300])
            assert served_certificate(ip, website).serial == issued.serial, ip  # HTTPS with the build's certificate
        dns = provider(dns_values(cloudhost, fake))
        assert dns.txt(website) == []  # the DNS-01 records, set through the provider's driver, are gone
        assert sorted(dns.ips(website)) == sorted(prod["webservers"])
        roles = sorted(n.split("-")[0] if "-as-" not in n else "as" for n in fake.servers())
        assert roles == ["as", "db", "ws", "ws"], fake.servers()
        # one more webserver: the autoscaler makes it through the provider's API and adds it to the provider's DNS
        adjusted = subprocess.run([str(BIN / "adt"), "scale", "adjust", "-c", cloudhost, "-b", "cprod", "--total",
                                   "3", "--yes"], env=env, capture_output=True, text=True, timeout=60)
        assert adjusted.returncode == 0, adjusted.stderr
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(dns.ips(website)) < 3:
            time.sleep(1)
        webservers = [n for n in fake.servers() if n.startswith("ws-")]
        assert len(webservers) == 3 and len(dns.ips(website)) == 3, (webservers, dns.ips(website))
        new = (set(dns.ips(website)) - set(prod["webservers"])).pop()
        status, body = page(new, website, f"/?p={post}")
        assert status == 200 and text in body, (new, body[:300])
        assert served_certificate(new, website).serial == issued.serial  # fetched at its first boot
        shown = subprocess.run([str(BIN / "adt"), "status", "-c", cloudhost, "-b", "cprod", "--json"], env=env,
                               capture_output=True, text=True, timeout=120)
        assert shown.returncode == 0, shown.stderr
        report = json.loads(shown.stdout)
        assert sorted(report["dns"]["listed"]) == sorted(dns.ips(website)), report["dns"]
        assert report["dns"]["missing"] == [] and report["dns"]["stale"] == []
        assert len([m for m in report["machines"]["items"] if m["role"] == "webserver"]) == 3, report["machines"]
        destroy(env, cloudhost, "cprod")
        built.remove("cprod")
        assert fake.servers() == [] and dns.ips(website) == []
        fake.check()
    finally:
        for identifier in built:
            subprocess.run([str(BIN / "adt"), "destroy", "-c", cloudhost, "-b", identifier, "--yes"], env=env,
                           capture_output=True, text=True, timeout=300)
        fake.stop()


def page(ip, website, path, redirects=3):
    """A page of the site from one webserver, asked for by the site's name (redirects within the site followed on
    the same webserver, as a browser whose DNS points there would)."""
    connection = http.client.HTTPConnection(ip, 80, timeout=60)
    try:
        connection.request("GET", path, headers={"Host": website})
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        location = urllib.parse.urlsplit(response.getheader("Location") or "")
    finally:
        connection.close()
    if response.status in (301, 302) and redirects and location.netloc == website:
        return page(ip, website, location.path + (f"?{location.query}" if location.query else ""), redirects - 1)
    return response.status, body


@pytest.mark.parametrize("cloudhost", tuple(FAKES))
def test_a_dry_run_on_the_provider_prints_the_plan_and_asks_nothing(cloudhost, tmp_path):
    module, cls = FAKES[cloudhost]
    fake = getattr(importlib.import_module(module), cls)().start()
    try:
        home = tmp_path / "home"
        home.mkdir()
        storage = type("Storage", (), {"state": {"rw": ("AK", "SK")}, "endpoint": "https://objects.example.com"})
        template = template_for(cloudhost, fake, storage, "192.0.2.10", tmp_path / "cloud3.tmpl", number=3,
                                WEBSITE_URL=f"www.adt-{cloudhost}.example", WEBSITE_NAME=f"adt-{cloudhost}",
                                APPLICATION="wordpress", NO_WEBSERVERS="2", NO_AUTOSCALERS="1",
                                **dns_values(cloudhost, fake))
        env = {**os.environ, "BUILD_HOME": str(home), "PATH": f"{BIN}:{os.environ['PATH']}",
               f"ADT_API_URL_{cloudhost.upper()}": fake.url}
        planned = subprocess.run([str(BIN / "adt"), "build", cloudhost, "debian", "3", "cplan", "--template-file",
                                  str(template), "--dry-run"], env=env, capture_output=True, text=True, timeout=120)
        assert planned.returncode == 0, planned.stderr
        lines = planned.stdout.splitlines()
        machines = [line for line in lines if line.startswith("would create: the ") and " in " in line
                    and "tags adt-build-cplan" in line]
        assert [line.split()[4].split("-")[0] for line in machines] == ["db", "ws", "ws", "NO"], planned.stdout
        assert sum("would create: the native firewall of" in line for line in lines) == 4
        assert sum(line.startswith("would add: the DNS record") for line in lines) == 2
        assert (f"would issue: a certificate for www.adt-{cloudhost}.example from https://acme.zerossl.com/v2/DV90 "
                f"through DNS-01 at {cloudhost}") in planned.stdout  # the template's ZEROSSL, live
        assert f"dry run of {cloudhost}/cplan: nothing was changed" in lines
        assert fake.calls == [] and fake.servers() == []  # nothing asked of the provider
        assert not (home / "runtimedata" / cloudhost / "cplan").exists()
    finally:
        fake.stop()
