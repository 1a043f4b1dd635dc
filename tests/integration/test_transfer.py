"""The one multipart upload path (adt.backup.transfer) against SeaweedFS and moto: one PUT for an archive of one
part, parts in any order, bounded concurrency, abort on any failure, nothing sent in a dry run."""

import base64
import hashlib
import io
import os
import threading
import time

import pytest

from adt import run
from adt.backup import transfer
from adt.datastore.endpoints import Endpoint
from adt.errors import AdtError
from tests.integration.conftest import scratch_bucket

S3_SERVERS = ("seaweedfs", "moto")
PART = transfer.PART_SIZE


@pytest.fixture
def bucket(s3_server):
    """A bucket of the test's own, removed afterwards."""
    yield from scratch_bucket(s3_server, "transfer")


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
    upload = upload_to(s3_server, bucket)
    assert transfer.upload_stream(io.BytesIO(data), [upload], sizes.append) == size
    body, etag = stored(s3_server, bucket)
    assert body == data and "-" not in etag  # a multipart object's ETag ends with -<parts>
    assert etag == upload.expected_etag() == hashlib.md5(data).hexdigest() and upload.confirm(size)
    assert sizes == [size] and leftovers(s3_server, bucket)[1] == []


def test_a_larger_archive_goes_in_parts_in_order(s3_server, bucket):
    data = os.urandom(2 * PART + 12345)
    seen = []
    upload = upload_to(s3_server, bucket)
    size = transfer.upload_stream(io.BufferedReader(io.BytesIO(data), 1000), [upload], seen.append)
    body, etag = stored(s3_server, bucket)
    assert body == data and etag.endswith("-3") and size == len(data)
    assert etag == upload.expected_etag() and upload.confirm(size)
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


@pytest.mark.parametrize("size", [10, 2 * PART])
def test_nothing_is_visible_until_commit_has_passed(s3_server, bucket, size):
    """The archive goes to its live key, but a failing `commit` (tar's exit status, the archive's check)
    leaves nothing there; a passing one sees every part stored and the key still absent."""
    def failing():
        assert leftovers(s3_server, bucket)[0] == []
        raise OSError("tar: file changed as we read it")

    with pytest.raises(OSError, match="file changed as we read it"):
        transfer.upload_stream(io.BytesIO(b"z" * size), [upload_to(s3_server, bucket)], commit=failing)
    assert leftovers(s3_server, bucket) == ([], [])
    seen = []
    upload = upload_to(s3_server, bucket)
    transfer.upload_stream(io.BytesIO(b"z" * size), [upload], commit=lambda: seen.append(leftovers(s3_server, bucket)))
    assert seen[0][0] == [] and len(seen[0][1]) == (1 if size > PART else 0)  # parts stored, not completed
    assert leftovers(s3_server, bucket) == (["archive.partial"], []) and upload.confirm(size)


def test_every_part_carries_its_md5_and_confirm_checks_the_stored_object(s3_server, bucket):
    """The server refuses a part that does not arrive as sent (Content-MD5); `confirm` compares the stored
    object's size (an error) and ETag (False: only a read can tell) with what was sent."""
    upload = upload_to(s3_server, bucket)
    sent = []

    def note(request, **_):
        sent.append(request.headers["Content-MD5"].decode())

    upload.client.meta.events.register("before-send.s3.UploadPart", note)
    data = os.urandom(2 * PART + 5)
    try:
        transfer.upload_stream(io.BytesIO(data), [upload])
    finally:
        upload.client.meta.events.unregister("before-send.s3.UploadPart", note)
    pieces = [data[:PART], data[PART:2 * PART], data[2 * PART:]]
    assert sorted(sent) == sorted(base64.b64encode(hashlib.md5(p).digest()).decode() for p in pieces)
    assert upload.expected_etag() == transfer.etag_of([hashlib.md5(p).digest() for p in pieces], True)
    assert upload.confirm(len(data))
    s3_server.client().put_object(Bucket=bucket, Key="archive.partial", Body=bytes(len(data)))
    assert not upload.confirm(len(data))
    with pytest.raises(AdtError, match=r"endpoint 1: transfer-\w+/archive.partial has 5 bytes, 7 were sent"):
        s3_server.client().put_object(Bucket=bucket, Key="archive.partial", Body=b"12345")
        upload.confirm(7)


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
