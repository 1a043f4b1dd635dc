"""Archives to and from the datastore: one multipart upload path for every backup, one streamed read for
every verification and restore.

Upload: an archive goes straight to its live key as a multipart upload, which S3 keeps invisible until it is
completed: the live key changes in one step, only once every part is stored and the caller's `commit` (its
checks of the archive, the rotation of the generations) has passed. Its parts may be sent in any order (a
database archive's part 1 carries a header known only at the end, see gzipstream), at most CONCURRENCY parts
at a time, so memory stays near (CONCURRENCY + 2) x PART_SIZE whatever the archive's size. Every part carries
its Content-MD5, so the server refuses one that does not arrive as sent; the completed object's ETag (the MD5
of the parts' MD5s) and size are then compared with what was sent (`confirm`). An archive that fits in one
part is one PUT (after `commit`); the multipart upload is only begun with the first part that is not the
whole archive. On any failure every upload is aborted: the live key keeps what it held.

Read: `streamed` hands a verifier or a restore the object's bytes once, as they arrive, hashed on the way
(sha256 and size, compared with the object's metadata) while the caller decompresses and reads the tar
stream (gzipstream.Gunzip). Nothing is written to disk.
"""

from __future__ import annotations

import base64
import collections
import concurrent.futures
import contextlib
import hashlib
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from adt.datastore import client as s3

PART_SIZE = 8 * 1024 * 1024
CONCURRENCY = 4  # parts in flight at once (each to every endpoint)
READ_CHUNK = 1 << 20


def etag_of(digests: List[bytes], multipart: bool) -> str:
    """The ETag S3 gives an object made of parts with these MD5 digests: the MD5 of one PUT, or the MD5 of the
    parts' digests followed by `-<parts>` for a multipart upload."""
    if not multipart:
        return digests[0].hex()
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


class Upload:
    """One endpoint's upload of one archive to `key`: parts in any order, then `complete`; or `put` of the
    whole archive in one request. Each part's MD5 is sent with it (the server checks it) and kept, for the
    ETag the stored object must have (`expected_etag`)."""

    def __init__(self, endpoint, bucket: str, key: str, metadata: Optional[Dict[str, str]] = None):
        self.endpoint, self.bucket, self.key = endpoint, bucket, key
        self.metadata = dict(metadata or {})
        self.client = s3.s3_client(endpoint, profile="bulk")
        self.upload_id: Optional[str] = None
        self.parts: Dict[int, str] = {}
        self.digests: Dict[int, bytes] = {}
        self.multipart = False

    def begin(self) -> None:
        if self.upload_id is None:
            answer = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key, Metadata=self.metadata)
            self.upload_id, self.multipart = answer["UploadId"], True

    def part(self, number: int, data: bytes) -> None:
        digest = hashlib.md5(data).digest()
        answer = self.client.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=data,
            ContentMD5=base64.b64encode(digest).decode(),
        )
        self.parts[number], self.digests[number] = answer["ETag"], digest

    def complete(self) -> None:
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in sorted(self.parts.items())]},
        )
        self.upload_id = None

    def put(self, data: bytes) -> None:
        digest = hashlib.md5(data).digest()
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.key,
            Body=data,
            Metadata=self.metadata,
            ContentMD5=base64.b64encode(digest).decode(),
        )
        self.digests, self.multipart = {1: digest}, False

    def expected_etag(self) -> str:
        return etag_of([self.digests[n] for n in sorted(self.digests)], self.multipart)

    def confirm(self, size: int) -> bool:
        """The stored object, by a HEAD: its size must be what was sent (AdtError otherwise); True when its ETag
        is the one its parts' MD5s give, False when the server's ETag says nothing of them (then only a read
        of the object can confirm it)."""
        from adt.errors import AdtError

        head = self.client.head_object(Bucket=self.bucket, Key=self.key)
        if head["ContentLength"] != size:
            raise AdtError(
                f"endpoint {self.endpoint.index}: {self.bucket}/{self.key} has {head['ContentLength']} bytes, "
                f"{size} were sent"
            )
        return head.get("ETag", "").strip('"') == self.expected_etag()

    def abort(self) -> None:
        """Drop an unfinished upload (best effort, with the short-timeout client: the server may be what
        failed; until it is completed the live key is untouched)."""
        if self.upload_id:
            upload_id, self.upload_id = self.upload_id, None
            with contextlib.suppress(Exception):
                s3.s3_client(self.endpoint).abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload_id)


class Sender:
    """The parts of one archive to every upload (one per endpoint), CONCURRENCY parts in flight at most.
    Used as a context manager: leaving it by an exception aborts every upload."""

    def __init__(self, uploads: List[Upload], concurrency: int = CONCURRENCY):
        self.uploads, self.concurrency = uploads, concurrency
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=concurrency * len(uploads))
        self.in_flight: collections.deque = collections.deque()  # one list of futures per part

    def send(self, number: int, data: bytes) -> None:
        """Part `number` to every upload; waits while CONCURRENCY parts are on their way."""
        while len(self.in_flight) >= self.concurrency:
            self._wait_oldest()
        for upload in self.uploads:
            upload.begin()
        self.in_flight.append([self.pool.submit(upload.part, number, data) for upload in self.uploads])

    def _wait_oldest(self) -> None:
        for future in self.in_flight.popleft():
            future.result()

    def finish(self, whole: Optional[bytes] = None, commit: Callable[[], None] = lambda: None) -> None:
        """Once every part is there, `commit` (the caller's last checks; raising aborts every upload), then
        complete every upload; or, for an archive of one part, `whole`, PUT."""
        while self.in_flight:
            self._wait_oldest()
        commit()
        step = (lambda upload: upload.put(whole)) if whole is not None else (lambda upload: upload.complete())
        for future in [self.pool.submit(step, upload) for upload in self.uploads]:
            future.result()

    def abort(self) -> None:
        for futures in self.in_flight:
            for future in futures:
                future.cancel()
        for futures in self.in_flight:
            concurrent.futures.wait(futures)
        self.in_flight.clear()
        for upload in self.uploads:
            upload.abort()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "Sender":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        try:
            if kind is not None:
                self.abort()
        finally:
            self.close()


def upload_stream(
    stream,
    uploads: List[Upload],
    meter: Callable[[int], None] = lambda _: None,
    tap: Callable[[bytes], None] = lambda _: None,
    commit: Callable[[], None] = lambda: None,
) -> int:
    """Read `stream` (a binary file object, e.g. a pipe) to its end into every upload, parts in order; an
    archive smaller than a part is one PUT. `tap` sees every part as it is sent (a check reading the same
    bytes); `commit` runs once all are stored, before the archive goes live. Returns the bytes sent. Aborts
    every upload on any failure."""
    size = 0
    with Sender(uploads) as sender:
        current, number = _read(stream, PART_SIZE), 0
        while True:
            size += len(current)
            meter(size)
            tap(current)
            following = _read(stream, PART_SIZE) if len(current) == PART_SIZE else b""
            if not following and number == 0:
                sender.finish(current, commit)
                return size
            number += 1
            sender.send(number, current)
            if not following:
                sender.finish(commit=commit)
                return size
            current = following


def _read(stream, size: int) -> bytes:
    """`size` bytes, fewer only at the end of the stream."""
    data = stream.read(size)
    while data and len(data) < size:
        more = stream.read(size - len(data))
        if not more:
            break
        data += more
    return data


class Received:
    """An object's bytes as they arrive, in chunks, hashed on the way: once it is exhausted, `size` and `sha256`
    are the whole object's. (A thread receiving ahead of the reader was measured: no faster on two cores, where
    the S3 server and the decompression already share them.)"""

    def __init__(self, body):
        self.body = body
        self.sha256, self.size = hashlib.sha256(), 0

    def __iter__(self) -> Iterator[bytes]:
        while True:
            data = self.body.read(READ_CHUNK)
            if not data:
                return
            self.sha256.update(data)
            self.size += len(data)
            yield data


@contextlib.contextmanager
def streamed(client, bucket: str, key: str) -> Iterator[Tuple[Received, dict]]:
    """(the object's bytes as they arrive, its GetObject answer); the download stops when the block ends."""
    response = client.get_object(Bucket=bucket, Key=key)
    try:
        yield Received(response["Body"]), response
    finally:
        response["Body"].close()
