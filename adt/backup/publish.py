"""What every temporal backup shares: periodicities, generations, and publishing an upload safely.

An archive is streamed into a multipart upload to its live key, which stays invisible until it is completed.
Meanwhile the generations' shift (`X` -> `X.BACKUP` -> `X.BACKUP.2` …, the oldest beyond BACKUPGENERATIONS
dropped) is prepared server-side as multipart copies, also invisible (`Rotation`). Only once the new archive
is whole and checked are the copies completed, oldest first, and then the new archive: a failure at any point
before that leaves the live key and every older generation exactly as they were. Nothing is copied twice
(the old flow copied a temporary key into place after the upload, one more server-side copy of the archive).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import List, Optional

from adt.backup.transfer import CONCURRENCY, PART_SIZE
from adt.datastore import client as s3
from adt.errors import AdtError

PERIODS = ("hourly", "daily", "weekly", "monthly", "bimonthly", "manual", "shutdown")


def period_of(text: str) -> str:
    period = text.lower()
    if period not in PERIODS:
        raise AdtError(f"unknown backup periodicity {text!r}", f"use one of: {', '.join(p.upper() for p in PERIODS)}")
    return period


def generations(settings) -> int:
    value = settings.value("BACKUPGENERATIONS") or "2"
    if not value.isdigit() or not 2 <= int(value) <= 50:
        raise AdtError(
            f"BACKUPGENERATIONS {value!r} must be a whole number from 2 to 50",
            "2 keeps the newest and the one before (.BACKUP), as the original",
        )
    return int(value)


def generation_keys(archive: str, count: int) -> List[str]:
    """Newest first: the live key, then `.BACKUP`, then `.BACKUP.2` … (count keys in all)."""
    return [archive, f"{archive}.BACKUP"] + [f"{archive}.BACKUP.{n}" for n in range(2, count)]


def transfer_config():
    """s3transfer's settings for the spooled download of a database restore: parts as the uploads', as many
    at a time, as many held in memory."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, max_concurrency=CONCURRENCY)
    # s3transfer's own limits, which boto3's constructor does not take
    config.max_in_memory_upload_chunks = CONCURRENCY
    config.max_in_memory_download_chunks = CONCURRENCY
    return config


def ensure_bucket(client, bucket: str) -> None:
    try:
        client.head_bucket(Bucket=bucket)
    except s3.s3_errors() as exc:
        if s3.error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        client.create_bucket(Bucket=bucket)


MAX_COPY_PART = 5 * 1024**3  # S3's largest part, for a copied one too


@dataclass
class _Copy:
    """One generation's copy, made as a multipart upload of copied parts (none for an empty object)."""

    key: str
    source: str
    upload_id: Optional[str] = None
    parts: List[dict] = field(default_factory=list)


class Rotation:
    """One endpoint's generations shifted by one (`X.BACKUP.2` <- `X.BACKUP` <- `X`, the oldest beyond
    BACKUPGENERATIONS dropped), prepared while the new archive uploads and made in one step after it.

    Each older key gets a multipart upload whose parts are server-side copies of the newer key as it is now
    (`CopySourceIfMatch` its ETag, so every part comes from that one version), started in a thread by `start`.
    `commit` completes them, oldest first, once the new archive is whole; `abort` drops them. Until `commit`
    nothing is visible: a failed backup leaves every generation exactly as it was."""

    def __init__(self, client, bucket: str, archive: str, keep: int):
        self.client, self.bucket, self.keys = client, bucket, generation_keys(archive, keep)
        self.pending: List[_Copy] = []  # oldest first
        self.error: Optional[BaseException] = None
        self.stopped = False
        self.guard = threading.Lock()
        self.thread = threading.Thread(target=self._prepare, daemon=True)

    def start(self) -> "Rotation":
        self.thread.start()
        return self

    def _prepare(self) -> None:
        try:
            for older, newer in reversed(list(zip(self.keys[1:], self.keys[:-1]))):  # oldest first
                head = _head(self.client, self.bucket, newer)
                if head is not None:
                    self._copy(older, newer, head)
        except BaseException as exc:  # handed to `commit`
            self.error = exc

    def _copy(self, older: str, newer: str, head: dict) -> None:
        step = _Copy(older, newer)
        with self.guard:
            if self.stopped:
                return
            if head["ContentLength"]:  # an empty object has no part to copy: copied whole at commit
                step.upload_id = self.client.create_multipart_upload(
                    Bucket=self.bucket,
                    Key=older,
                    Metadata=head.get("Metadata", {}),
                    ContentType=head.get("ContentType", "binary/octet-stream"),
                )["UploadId"]
            self.pending.append(step)
        size = head["ContentLength"]
        for number, first in enumerate(range(0, size, MAX_COPY_PART), 1):
            if self.stopped:
                return
            answer = self.client.upload_part_copy(
                Bucket=self.bucket,
                Key=older,
                UploadId=step.upload_id,
                PartNumber=number,
                CopySource={"Bucket": self.bucket, "Key": newer},
                CopySourceIfMatch=head["ETag"],
                CopySourceRange=f"bytes={first}-{min(size, first + MAX_COPY_PART) - 1}",
            )
            step.parts.append({"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]})

    def commit(self) -> None:
        """Shift the generations (the copies already made are completed, oldest first)."""
        self.thread.join()
        if self.error is not None:
            raise self.error
        while self.pending:
            step = self.pending[0]
            if step.upload_id is None:
                self.client.copy_object(
                    Bucket=self.bucket, Key=step.key, CopySource={"Bucket": self.bucket, "Key": step.source}
                )
            else:
                self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=step.key,
                    UploadId=step.upload_id,
                    MultipartUpload={"Parts": step.parts},
                )
            self.pending.pop(0)

    def abort(self) -> None:
        """Drop every copy not yet completed (best effort: the server may be what failed)."""
        with self.guard:
            self.stopped = True
            pending, self.pending = self.pending, []
        for step in pending:
            if step.upload_id is not None:
                with contextlib.suppress(Exception):
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=step.key, UploadId=step.upload_id)


def _head(client, bucket: str, key: str) -> Optional[dict]:
    try:
        return client.head_object(Bucket=bucket, Key=key)
    except s3.s3_errors() as exc:
        if s3.error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def download(client, bucket: str, key: str, target) -> None:
    client.download_fileobj(bucket, key, target, Config=transfer_config())
