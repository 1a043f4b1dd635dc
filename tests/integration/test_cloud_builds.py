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
import urllib.request
from pathlib import Path

import pytest

from adt.datastore.seaweed import SeaweedS3
from adt.settings.providers import PROVIDERS
from adt.settings.template import Template
from tests.integration.conftest import BIN, ROOT
from tests.integration.test_cloud_conformance import FAKES
from tests.services.cloudfakes.backing import LocalBacking

VPC = "10.198.0.0/24"  # this suite's own range: the machines behind the fakes


@pytest.fixture(scope="module")
def backing(tmp_path_factory):
    state = tmp_path_factory.mktemp("cloudbuild-state")
    machines = LocalBacking(VPC, state)
    storage = SeaweedS3(tmp_path_factory.mktemp("cloudbuild-s3"), ip=machines.gateway).start()
    yield machines, storage
    storage.stop()
    machines.close()


def template_for(cloudhost: str, fake, storage, gateway: str, path: Path) -> Path:
    """The local template's site and application (WordPress, as the local machines have it), on `cloudhost`:
    its region, sizes and credentials, the S3 endpoint and the build machine's address on the machines' net."""
    template = Template.load(ROOT / "templates" / "local" / "local1.tmpl")
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
        "S3_HOST_BASE": storage.endpoint,
        "S3_ACCESS_KEY": key,
        "S3_SECRET_KEY": secret,
        "S3_LOCATION": "US",
        "VPC_IP_RANGE": VPC,
        "BUILD_MACHINE_IP": gateway,
        "DNS_CHOICE": "NONE",
        "BUILDOS": "debian",
        "BUILDOS_VERSION": "12",
        **fake.credentials,
    }
    for name, value in values.items():
        template = template.set(name, value)
    template.save(path)
    return path


@pytest.mark.parametrize("cloudhost", tuple(FAKES))
def test_a_development_build_on_the_provider(cloudhost, backing, tmp_path):
    machines, storage = backing
    module, cls = FAKES[cloudhost]
    fake = getattr(importlib.import_module(module), cls)()
    fake.backing = machines
    fake.start()
    home = tmp_path / "home"
    home.mkdir()
    template = template_for(cloudhost, fake, storage, machines.gateway, tmp_path / "cloud.tmpl")
    env = {**os.environ, "BUILD_HOME": str(home), "PATH": f"{BIN}:{os.environ['PATH']}",
           f"ADT_API_URL_{cloudhost.upper()}": fake.url}
    destroy = [str(BIN / "adt"), "destroy", "-c", cloudhost, "-b", "ctest", "--yes"]
    try:
        built = subprocess.run([str(ROOT / "ExpeditedAgileDeploymentToolkit.sh"), cloudhost, "debian", "1", "ctest",
                                "--template-file", str(template), "--json"], env=env, capture_output=True, text=True,
                               timeout=900)
        assert built.returncode == 0, built.stderr[-3000:]
        info = json.loads(built.stdout)
        with urllib.request.urlopen(info["url"] + "wp-admin/install.php", timeout=10) as response:
            body = response.read().decode()
        assert "WordPress" in body and "Error establishing a database connection" not in body
        names = fake.servers()
        assert len(names) == 2 and {n.split("-")[0] for n in names} == {"ws", "db"}
        for name in names:  # the provider's own firewall for each, the build machine's SSH among its rules
            assert ("tcp", 2222, f"{machines.gateway}/32") in fake.firewall_rules(name)  # local1.tmpl's SSH_PORT
        gone = subprocess.run(destroy, env=env, capture_output=True, text=True, timeout=300)
        assert gone.returncode == 0, gone.stderr
        assert fake.servers() == []
        fake.check()
    finally:
        if fake.servers():
            subprocess.run(destroy, env=env, capture_output=True, text=True, timeout=300)
        fake.stop()
