"""`adt doctor digitalocean` against the DigitalOcean fake (the API at ADT_API_URL_DIGITALOCEAN, its DNS at the
template's DNS_API_URL) and a real SeaweedFS (which checks S3 credentials): ready when all is well; every problem
at once, one line each naming its setting, when not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services.cloudfakes.digitalocean import DigitalOceanFake

ROOT = Path(__file__).resolve().parents[2]
ADT = str(Path(sys.executable).parent / "adt")
WEBSITE = "www.adt-doctor.example"


@pytest.fixture
def fake():
    server = DigitalOceanFake().start()
    yield server
    server.stop()


def template(folder: Path, fake, s3, **changes: str) -> Path:
    """digitalocean1.tmpl as shipped, its mandatory values filled for the fake and the S3 server, then `changes`."""
    key, secret = s3.state["rw"]
    values = {
        "S3_ACCESS_KEY": key,
        "S3_SECRET_KEY": secret,
        "S3_HOST_BASE": s3.endpoint,
        "TOKEN": fake.credentials["TOKEN"],
        "DNS_USERNAME": "ops@example.com",
        "DNS_SECURITY_KEY": fake.credentials["TOKEN"],
        "WEBSITE_DISPLAY_NAME": "Doctor",
        "WEBSITE_NAME": "adt-doctor",
        "WEBSITE_URL": WEBSITE,
        "VPC_IP_RANGE": "10.116.0.0/20",
        **changes,
    }
    lines = []
    for line in (ROOT / "templates" / "digitalocean" / "digitalocean1.tmpl").read_text().splitlines():
        name = line[len("export ") :].split("=", 1)[0] if line.startswith("export ") else ""
        if name in values:
            line = f'export {name}="{values.pop(name)}"'
        lines.append(line)
    lines += [f'export {name}="{value}"' for name, value in values.items()]  # DNS_API_URL: not in a template
    path = folder / "digitalocean" / "digitalocean1.tmpl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def doctor(tmp_path: Path, fake, path: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "ADT_API_URL_DIGITALOCEAN": fake.url,
        "BUILD_HOME": str(tmp_path / "buildhome"),
        "ADT_TEMPLATES_DIR": str(path.parent.parent),
    }
    command = [ADT, "doctor", "digitalocean", "-b", "doc1", *extra]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_a_good_setup_is_ready_to_build(tmp_path, fake, s3):
    fake.add_domain("adt-doctor.example")
    done = doctor(tmp_path, fake, template(tmp_path, fake, s3, DNS_API_URL=fake.url))
    assert (done.returncode, done.stdout, done.stderr) == (0, "ready to build\n", "")
    fake.check()  # every request and answer as DigitalOcean's specification has them


def test_every_problem_at_once_each_naming_its_setting(tmp_path, fake, s3):
    fake.droplet_limit = 1
    key = tmp_path / "buildhome" / "runtimedata" / "digitalocean" / "doc1" / "keys"
    key.mkdir(parents=True)
    key = key / "id_ed25519_AGILE_DEPLOYMENT_BUILD_KEY_doc1"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    key.chmod(0o644)
    path = template(
        tmp_path,
        fake,
        s3,
        DNS_API_URL=fake.url,
        REGION="sfo2",  # a region of the template's list the account does not have
        WS_SERVER_TYPE="c-2",  # a size of the template's list the account does not have
        S3_SECRET_KEY="wrong-secret",
    )
    done = doctor(tmp_path, fake, path)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        "cloud: DigitalOcean droplet limit reached: the account has 0 of its 1 droplets and the build needs 2 more "
        "(ask DigitalOcean support to raise the limit)",
        "cloud: REGION: DigitalOcean has no region 'sfo2' "
        "(regions: ams3, blr1, fra1, lon1, nyc1, nyc3, sfo3, sgp1, syd1, tor1)",
        "cloud: WS_SERVER_TYPE: DigitalOcean has no droplet size 'c-2'",
        "dns: WEBSITE_URL: the digitalocean DNS has no zone adt-doctor.example "
        "(for WEBSITE_URL www.adt-doctor.example): add the domain there, or fix DNS_CHOICE and DNS_SECURITY_KEY",
        f"datastore: S3_ACCESS_KEY, S3_SECRET_KEY: {s3.endpoint} refused the credentials (SignatureDoesNotMatch)",
        f"key: {key}: mode 0644: ssh refuses a private key others may read; chmod 600 it",
    ]
    assert "wrong-secret" not in done.stdout + done.stderr


def test_a_wrong_token_is_one_line_naming_token_and_json_says_the_same(tmp_path, fake, s3):
    fake.add_domain("adt-doctor.example")
    path = template(tmp_path, fake, s3, DNS_API_URL=fake.url, TOKEN="dop_v1_wrong")
    done = doctor(tmp_path, fake, path, "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ready"] is False and report["cloudhost"] == "digitalocean" and report["template"] == str(path)
    (problem,) = report["problems"]
    assert problem["area"] == "cloud" and problem["setting"] == "TOKEN"
    assert problem["message"].startswith("DigitalOcean refused the token (401 Unauthorized)")
    assert "dop_v1_wrong" not in done.stdout


def test_a_token_without_a_scope_names_the_scope(tmp_path, fake, s3):
    fake.add_domain("adt-doctor.example")
    fake.scopes = {"account:read", "droplet:read", "regions:read", "image:read", "vpc:read", "domain:read"}
    done = doctor(tmp_path, fake, template(tmp_path, fake, s3, DNS_API_URL=fake.url))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "cloud: TOKEN: DigitalOcean: the token may not GET /sizes (403 Forbidden): it needs the sizes:read "
        "(with regions:read) scope (give the token sizes:read (or full access) in the DigitalOcean control panel, "
        "API > Tokens)"
    ]


def test_a_template_with_problems_reports_them_with_the_others(tmp_path, fake, s3):
    fake.add_domain("adt-doctor.example")
    path = template(tmp_path, fake, s3, DNS_API_URL=fake.url, WEBSITE_NAME="", SSH_PORT="99999")
    done = doctor(tmp_path, fake, path)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        'template: WEBSITE_NAME="": MANDATORY value missing',
        'template: SSH_PORT="99999": out of range; allowed: 1-65535',
    ]
