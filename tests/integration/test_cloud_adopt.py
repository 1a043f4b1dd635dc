"""`adt cloud adopt` against the DigitalOcean fake (the API at ADT_API_URL_DIGITALOCEAN): the original toolkit's
machines of a build (untagged, its names) are taken in; a dry run prints the calls and changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services.cloudfakes.digitalocean import DigitalOceanFake

ADT = str(Path(sys.executable).parent / "adt")
REGION = DigitalOceanFake.default_region


@pytest.fixture
def fake():
    server = DigitalOceanFake().start()
    yield server
    server.stop()


def adopt(tmp_path: Path, fake, *extra: str) -> subprocess.CompletedProcess:
    """`adt cloud adopt -c digitalocean -b ad1` for a build whose build_environment holds its token and region."""
    home = tmp_path / "buildhome"
    build = home / "runtimedata" / "digitalocean" / "ad1"
    if not build.is_dir():
        build.mkdir(parents=True)
        (build / "build_environment").write_text(f'TOKEN="{fake.credentials["TOKEN"]}"\nREGION="{REGION}"\n')
        (build / "build_environment").chmod(0o600)
    env = {**os.environ, "ADT_API_URL_DIGITALOCEAN": fake.url, "BUILD_HOME": str(home)}
    command = [ADT, "cloud", "adopt", "-c", "digitalocean", "-b", "ad1", *extra]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def tags_of(fake) -> dict:
    with fake.lock:
        return {d["name"]: list(d["tags"]) for d in fake.droplets.values()}


def test_a_dry_run_prints_the_calls_and_changes_nothing_then_adopt_tags_the_builds_machines(tmp_path, fake):
    ours, other = f"ws-{REGION}-ad1-1-orig01", f"ws-{REGION}-ad9-1-orig02"
    fake.add_untagged(ours)
    fake.add_untagged(other)
    fake.calls.clear()
    dry = adopt(tmp_path, fake, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would adopt {ours}" in dry.stdout and other not in dry.stdout + dry.stderr
    assert "/tags/adt-build-ad1/resources" in dry.stdout + dry.stderr  # the call it would make
    assert tags_of(fake) == {ours: [], other: []}
    assert {method for method, _ in fake.calls} == {"GET"}, fake.calls

    done = adopt(tmp_path, fake)
    assert (done.returncode, done.stdout) == (0, f"{ours}\n"), done.stderr
    assert sorted(tags_of(fake)[ours]) == ["adt-build-ad1", "adt-role-webserver"] and tags_of(fake)[other] == []
    again = adopt(tmp_path, fake)
    assert (again.returncode, again.stdout) == (0, "nothing to adopt\n"), again.stderr
    fake.check()


def test_the_help_says_why():
    shown = subprocess.run([ADT, "cloud", "adopt", "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "original" in shown.stdout and "mixes" in shown.stdout
