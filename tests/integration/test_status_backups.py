"""`adt status` reads the latest backup of each period from a real S3 server (head_object only), and one that does
not answer is one "unavailable" line, soon."""

import time
import uuid

import pytest

from adt.build.config import BuildConfig
from adt.build.status import observe_backups, soft

S3_SERVERS = ("seaweedfs", "moto")


@pytest.fixture
def build(tmp_path, s3_server):
    """A build whose website has an hourly website and database backup, and nothing else."""
    website = f"www.st{uuid.uuid4().hex[:10]}.example.com"
    dashed = website.replace(".", "-")
    key, secret = s3_server.state["rw"]
    values = {"WEBSITE_URL": website, "S3_HOST_BASE": s3_server.endpoint, "S3_ACCESS_KEY": key,
              "S3_SECRET_KEY": secret, "S3_LOCATION": "us-east-1"}
    client = s3_server.client()
    made = {f"{dashed}-hourly": ("applicationsourcecode.tar.gz", b"w" * 1500),
            f"{dashed}-db-hourly": (f"{website.split('.')[1]}-DB-backup.tar.gz", b"d" * 700)}
    for bucket, (name, body) in made.items():
        client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key=name, Body=body)
    yield BuildConfig(tmp_path, "local", "st1", values)
    for bucket, (name, _) in made.items():
        client.delete_object(Bucket=bucket, Key=name)
        client.delete_bucket(Bucket=bucket)


def test_the_latest_archive_of_each_period_with_its_time_and_size(build):
    found = {(e["period"], e["kind"]): e for e in observe_backups(build)}
    assert sorted({period for period, _ in found}) == sorted(
        ["hourly", "daily", "weekly", "monthly", "bimonthly", "manual", "shutdown"])
    dashed = build.value("WEBSITE_URL").replace(".", "-")
    website, database = found[("hourly", "website")], found[("hourly", "database")]
    assert (website["bucket"], website["key"], website["size"]) == (
        f"{dashed}-hourly", "applicationsourcecode.tar.gz", 1500)
    assert (database["bucket"], database["size"]) == (f"{dashed}-db-hourly", 700)
    assert abs(website["modified"] - time.time()) < 120
    assert "modified" not in found[("daily", "website")] and "state" not in found[("daily", "database")]  # none


def test_an_endpoint_that_does_not_answer_is_one_reason(build):
    build.values["S3_HOST_BASE"] = "http://127.0.0.1:1"
    started = time.monotonic()
    got = soft(lambda: observe_backups(build))
    assert "Could not connect to the endpoint URL" in got.reason
    assert time.monotonic() - started < 30
