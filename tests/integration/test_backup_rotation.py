"""The generations' shift (adt.backup.publish.Rotation) against SeaweedFS and moto: prepared by server-side
copies that stay invisible, made in one step by `commit`, dropped whole by `abort`."""


import pytest

from adt.backup.publish import Rotation
from tests.integration.conftest import scratch_bucket

S3_SERVERS = ("seaweedfs", "moto")
LIVE = "archive.tar.gz"


@pytest.fixture
def bucket(s3_server):
    yield from scratch_bucket(s3_server, "rotation")


@pytest.fixture
def seaweed_bucket(s3):
    """moto ignores CopySourceIfMatch on a part copy: that test runs on SeaweedFS (as AWS, it honours it)."""
    yield from scratch_bucket(s3, "rotation")


def contents(client, bucket):
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def test_commit_shifts_every_generation_with_its_metadata(s3_server, bucket):
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key=LIVE, Body=b"newest" * 1000, Metadata={"sha256": "abc"})
    client.put_object(Bucket=bucket, Key=f"{LIVE}.BACKUP", Body=b"")  # an empty one has no part to copy
    client.put_object(Bucket=bucket, Key=f"{LIVE}.BACKUP.2", Body=b"oldest, dropped")
    rotation = Rotation(client, bucket, LIVE, 3).start()
    rotation.thread.join()
    assert contents(client, bucket)[f"{LIVE}.BACKUP.2"] == b"oldest, dropped"  # prepared, nothing visible yet
    rotation.commit()
    assert contents(client, bucket) == {LIVE: b"newest" * 1000, f"{LIVE}.BACKUP": b"newest" * 1000,
                                        f"{LIVE}.BACKUP.2": b""}
    assert client.head_object(Bucket=bucket, Key=f"{LIVE}.BACKUP")["Metadata"] == {"sha256": "abc"}
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_abort_leaves_every_generation_as_it_was(s3_server, bucket):
    client = s3_server.client()
    for key, body in ((LIVE, b"live"), (f"{LIVE}.BACKUP", b"previous")):
        client.put_object(Bucket=bucket, Key=key, Body=body)
    before = contents(client, bucket)
    rotation = Rotation(client, bucket, LIVE, 2).start()
    rotation.thread.join()
    rotation.abort()
    assert contents(client, bucket) == before
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_a_first_backup_has_nothing_to_shift(s3_server, bucket):
    client = s3_server.client()
    rotation = Rotation(client, bucket, LIVE, 2).start()
    rotation.commit()
    assert contents(client, bucket) == {}


def test_a_source_replaced_meanwhile_fails_the_commit(s3, seaweed_bucket, monkeypatch):
    """Every copied part comes from the version seen (CopySourceIfMatch): a live key replaced by someone else
    between the look and the copy is not shifted half old, half new."""
    from adt.backup import publish

    bucket, client = seaweed_bucket, s3.client()
    client.put_object(Bucket=bucket, Key=LIVE, Body=b"seen")
    real = publish._head

    def head_then_replaced(client_, bucket_, key):
        answer = real(client_, bucket_, key)
        client.put_object(Bucket=bucket, Key=LIVE, Body=b"replaced meanwhile")
        return answer

    monkeypatch.setattr(publish, "_head", head_then_replaced)
    rotation = Rotation(client, bucket, LIVE, 2).start()
    with pytest.raises(Exception, match="PreconditionFailed|pre-condition"):
        rotation.commit()
    rotation.abort()
    assert contents(client, bucket) == {LIVE: b"replaced meanwhile"}
