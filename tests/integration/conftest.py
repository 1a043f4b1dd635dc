"""Fixtures that start real servers: SeaweedFS and moto (S3), and the adt agent."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from adt.datastore.seaweed import SeaweedS3

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WRAPPERS = ROOT / "providerscripts" / "datastore" / "configwrapper"


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    server = SeaweedS3(tmp_path_factory.mktemp("s3")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_second(tmp_path_factory):
    server = SeaweedS3(tmp_path_factory.mktemp("s3b")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_moto(tmp_path_factory):
    """moto's S3 server: like AWS, it creates no bucket on write."""
    from tests.services.moto import MotoS3

    server = MotoS3(tmp_path_factory.mktemp("moto")).start()
    yield server
    server.stop()


@pytest.fixture
def s3_server(request, s3):
    """The S3 server of the machine fixtures: SeaweedFS, or each of S3_SERVERS in a module that names them."""
    return s3 if getattr(request, "param", "seaweedfs") == "seaweedfs" else request.getfixturevalue("s3_moto")


def scratch_bucket(server, prefix: str):
    """A bucket of the test's own on `server`, emptied (unfinished uploads too) and removed afterwards: each bucket
    holds a volume of the session's SeaweedFS. A generator, for a fixture to `yield from`."""
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    client = server.client()
    client.create_bucket(Bucket=name)
    yield name
    for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
        client.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    for item in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


def pytest_generate_tests(metafunc):
    """A module with `S3_SERVERS = ("seaweedfs", "moto")` runs each of its datastore tests on both servers."""
    servers = getattr(metafunc.module, "S3_SERVERS", None)
    if servers and "s3_server" in metafunc.fixturenames:
        metafunc.parametrize("s3_server", servers, indirect=True)


class Machine:
    """A temporary machine home with a webserver settings file pointing at real S3 endpoints."""

    def __init__(self, root: Path, servers, agent: bool):
        self.root = root
        self.home = root / "home"
        (self.home / "runtime").mkdir(parents=True)
        self.settings_path = self.home / "runtime" / "webserver_configuration_settings.dat"
        self.website = f"www.t{uuid.uuid4().hex[:10]}.example.com"
        self.server_user = "Ab" + uuid.uuid4().hex[:8].upper()
        self.servers = list(servers)
        self.socket = str(root / "agent" / "agent.sock")
        self.env = {
            "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "ADT_HOME": str(self.home),
            "ADT_HOMEDIR_FILE": str(root / "no-homedir.dat"),
            "ADT_AGENT_SOCKET": self.socket,
            "ADT_AGENT": "on" if agent else "off",
            "LANG": "C.UTF-8",
        }
        self.write_settings()
        self.agent = None

    @property
    def bucket(self) -> str:
        return f"{self.website.replace('.', '-')}-config-{self.server_user[:4].lower()}"

    def write_settings(self, **extra):
        lines = {
            "WEBSITEURL": self.website,
            "SERVERUSER": self.server_user,
            "S3ACCESSKEY": "|".join(s.state["rw"][0] for s in self.servers),
            "S3SECRETKEY": "|".join(s.state["rw"][1] for s in self.servers),
            "S3LOCATION": "|".join("us-east-1" for _ in self.servers),
            "S3HOSTBASE": "|".join(s.endpoint for s in self.servers),
            "DBNAME": "appdb",
            "DBUSERNAME": "admin:::appuser",
        }
        lines.update(extra)
        self.settings_path.write_text("".join(f"{k}:{v}\n" for k, v in lines.items() if v is not None))
        os.chmod(self.settings_path, 0o600)

    def run(self, *args, cwd=None, timeout=60, env=None):
        return subprocess.run([str(BIN / "adt"), *args], env={**self.env, **(env or {})}, cwd=cwd or self.root,
                              capture_output=True, text=True, timeout=timeout)

    def wrapper(self, script, *args, cwd=None, timeout=60):
        return subprocess.run([str(WRAPPERS / script), *args], env=self.env, cwd=cwd or self.root,
                              capture_output=True, text=True, timeout=timeout)

    def keys(self, server=None):
        client = (server or self.servers[0]).client()
        try:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
            return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
        except client.exceptions.NoSuchBucket:
            return []

    def start_agent(self):
        log = open(self.root / "agent.log", "ab")
        self.agent = subprocess.Popen([str(BIN / "adt"), "agent", "run", "--socket", self.socket],
                                      env=self.env, stdout=log, stderr=log)
        from adt.agent import running_pid

        deadline = time.monotonic() + 30
        while not running_pid(self.socket):
            assert self.agent.poll() is None, (self.root / "agent.log").read_text()
            assert time.monotonic() < deadline, "agent did not start"
            time.sleep(0.05)

    def stop_agent(self):
        if self.agent and self.agent.poll() is None:
            self.agent.terminate()
            self.agent.wait(timeout=15)


def _machine(tmp_path, servers, agent):
    machine = Machine(tmp_path, servers, agent)
    if agent:
        machine.start_agent()
    return machine


@pytest.fixture(params=["in-process", "agent"])
def machine(request, tmp_path, s3_server):
    m = _machine(tmp_path, [s3_server], request.param == "agent")
    yield m
    m.stop_agent()


@pytest.fixture
def plain_machine(tmp_path, s3_server):
    m = _machine(tmp_path, [s3_server], False)
    yield m
    m.stop_agent()


@pytest.fixture
def agent_machine(tmp_path, s3_server):
    m = _machine(tmp_path, [s3_server], True)
    yield m
    m.stop_agent()


@pytest.fixture
def store(plain_machine):
    from adt.datastore.config import ConfigDatastore
    from adt.settings.machine import MachineSettings

    return ConfigDatastore.from_settings(MachineSettings.load(plain_machine.settings_path))
