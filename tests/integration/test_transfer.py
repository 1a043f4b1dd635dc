"""The one multipart upload path (adt.backup.transfer) against SeaweedFS and moto: one PUT for an archive of one
part, parts in any order, bounded concurrency, abort on any failure, nothing sent in a dry run."""

import hashlib
import io
import os
import threading
import time
import uuid

import pytest

from adt import run
from adt.backup import transfer
from adt.datastore.endpoints import Endpoint

S3_SERVERS = ("seaweedfs", "moto")
PART = transfer.PART_SIZE


@pytest.fixture
def bucket(s3_server):
    """A bucket of the test's own, removed afterwards: each bucket holds a volume of the session's server."""
    name = f"transfer-{uuid.uuid4().hex[:12]}"
    client = s3_server.client()
    client.create_bucket(Bucket=name)
    yield name
    for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
        client.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    for item in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


def upload_to(server, bucket, key="archive.partial"):
    return transfer.Upload(Endpoint(1, server.endpoint, *server.state["rw"], "us-east-1"), bucket, key)


def stored(server, bucket, key="archive.partial"):
    answer = server.client().get_object(Bucket=bucket, Key=key)
    return answer["Body"].read(), answer["ETag"].strip('"')


def leftovers(server, bucket):
    client = server.client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return keys, client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


@pytest.mark.parametrize("size", [0, 1000, PART])
def test_an_archive_of_one_part_is_one_put(s3_server, bucket, size):
    data = os.urandom(size)
    sizes = []
    assert transfer.upload_stream(io.BytesIO(data), [upload_to(s3_server, bucket)], sizes.append) == (
        size, hashlib.sha256(data).hexdigest())
    body, etag = stored(s3_server, bucket)
    assert body == data and "-" not in etag  # a multipart object's ETag ends with -<parts>
    assert sizes == [size] and leftovers(s3_server, bucket)[1] == []


def test_a_larger_archive_goes_in_parts_in_order(s3_server, bucket):
    data = os.urandom(2 * PART + 12345)
    seen = []
    size, digest = transfer.upload_stream(io.BufferedReader(io.BytesIO(data), 1000), [upload_to(s3_server, bucket)],
                                          seen.append)
    body, etag = stored(s3_server, bucket)
    assert body == data and etag.endswith("-3") and (size, digest) == (len(data), hashlib.sha256(data).hexdigest())
    assert seen == [PART, 2 * PART, len(data)]
    assert leftovers(s3_server, bucket) == (["archive.partial"], [])


def test_parts_in_any_order_to_every_upload(s3_server, bucket):
    """The database archive's part 1 is sent last: its header is known only at the end."""
    pieces = [os.urandom(PART), os.urandom(PART), os.urandom(100)]
    uploads = [upload_to(s3_server, bucket, "one"), upload_to(s3_server, bucket, "two")]
    with transfer.Sender(uploads) as sender:
        sender.send(2, pieces[1])
        sender.send(3, pieces[2])
        sender.send(1, pieces[0])
        sender.finish()
    for key in ("one", "two"):
        assert stored(s3_server, bucket, key)[0] == b"".join(pieces)


class Counting(transfer.Upload):
    """An upload that records how many of its parts are on their way at once."""

    lock = threading.Lock()

    def __init__(self, *args):
        super().__init__(*args)
        self.now = self.most = 0

    def part(self, number, data):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.2)  # long enough for the sender to fill every slot
            super().part(number, data)
        finally:
            with self.lock:
                self.now -= 1


def test_concurrency_and_memory_are_bounded(s3_server, bucket):
    endpoint = Endpoint(1, s3_server.endpoint, *s3_server.state["rw"], "us-east-1")
    uploads = [Counting(endpoint, bucket, "a"), Counting(endpoint, bucket, "b")]
    parts = 3 * transfer.CONCURRENCY
    piece = b"p" * PART
    with transfer.Sender(uploads) as sender:
        for number in range(1, parts + 1):
            sender.send(number, piece)
            assert len(sender.in_flight) <= transfer.CONCURRENCY  # parts held: the bound on memory
        sender.finish()
    assert [u.most for u in uploads] == [transfer.CONCURRENCY] * 2
    assert stored(s3_server, bucket, "a")[1].endswith(f"-{parts}")


class Failing(io.RawIOBase):
    """A stream (tar, a dump) that fails after `good` bytes."""

    def __init__(self, good):
        self.left = good

    def readable(self):
        return True

    def readinto(self, buffer):
        if not self.left:
            raise OSError("the archiver died")
        count = min(len(buffer), self.left)
        buffer[:count] = b"x" * count
        self.left -= count
        return count


def test_a_failing_stream_aborts_every_upload(s3_server, bucket):
    uploads = [upload_to(s3_server, bucket, "one"), upload_to(s3_server, bucket, "two")]
    with pytest.raises(OSError, match="the archiver died"):
        transfer.upload_stream(io.BufferedReader(Failing(2 * PART + 10)), uploads)
    assert leftovers(s3_server, bucket) == ([], [])


def test_a_failing_part_aborts_every_upload(s3_server, bucket, monkeypatch):
    real = transfer.Upload.part

    def part(self, number, data):
        if self.key == "two" and number == 2:
            raise RuntimeError("endpoint two broke")
        real(self, number, data)

    monkeypatch.setattr(transfer.Upload, "part", part)
    uploads = [upload_to(s3_server, bucket, "one"), upload_to(s3_server, bucket, "two")]
    with pytest.raises(RuntimeError, match="endpoint two broke"):
        transfer.upload_stream(io.BytesIO(os.urandom(3 * PART)), uploads)
    assert leftovers(s3_server, bucket) == ([], [])


def test_abort_after_the_archive_was_written_deletes_it(s3_server, bucket):
    """An archiver that fails at its very end (tar's exit status) leaves no temporary object."""
    for size in (10, 2 * PART):
        upload = upload_to(s3_server, bucket)
        transfer.upload_stream(io.BytesIO(b"z" * size), [upload])
        assert leftovers(s3_server, bucket)[0] == ["archive.partial"]
        upload.abort()
        assert leftovers(s3_server, bucket) == ([], [])


def test_a_dry_run_sends_nothing(s3_server, bucket):
    lines = []
    with run.dry_running(echo=lines.append):
        transfer.upload_stream(io.BytesIO(os.urandom(PART + 1)), [upload_to(s3_server, bucket)])
    assert lines == [f"would call: CreateMultipartUpload s3://{bucket}/archive.partial",
                     f"would call: UploadPart s3://{bucket}/archive.partial",
                     f"would call: UploadPart s3://{bucket}/archive.partial",
                     f"would call: CompleteMultipartUpload s3://{bucket}/archive.partial"]
    assert leftovers(s3_server, bucket) == ([], [])


def test_streamed_reads_the_object_once_with_its_checksum(s3_server, bucket):
    data = os.urandom(3 * transfer.READ_CHUNK + 7)
    s3_server.client().put_object(Bucket=bucket, Key="k", Body=data)
    with transfer.streamed(upload_to(s3_server, bucket).client, bucket, "k") as (received, response):
        assert b"".join(received) == data
    assert (received.size, received.sha256.hexdigest()) == (len(data), hashlib.sha256(data).hexdigest())
    assert response["ContentLength"] == len(data)
