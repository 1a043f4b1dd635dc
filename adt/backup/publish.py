"""What every temporal backup shares: periodicities, generations, and publishing an upload safely.

An archive is always streamed to a temporary key first. Only once it is whole are the generations shifted
(`X` -> `X.BACKUP` -> `X.BACKUP.2` …, the oldest beyond BACKUPGENERATIONS dropped) and the new one copied to
the live key with its checksum metadata. A failure at any point before that leaves the live key and every
older generation exactly as they were.
"""

from __future__ import annotations

import os
import time
from typing import Dict, List

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
    """s3transfer's settings for the server-side copies of `publish` and the spooled download of a database
    restore: parts as the uploads', as many at a time, as many held in memory."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, max_concurrency=CONCURRENCY)
    # s3transfer's own limits, which boto3's constructor does not take
    config.max_in_memory_upload_chunks = CONCURRENCY
    config.max_in_memory_download_chunks = CONCURRENCY
    return config


def temporary_key(archive: str) -> str:
    return f"{archive}.partial-{os.getpid()}-{int(time.time())}"


def ensure_bucket(client, bucket: str) -> None:
    try:
        client.head_bucket(Bucket=bucket)
    except s3.s3_errors() as exc:
        if s3.error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        client.create_bucket(Bucket=bucket)


def exists(client, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
        return True
    except s3.s3_errors() as exc:
        if s3.error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def publish(client, bucket: str, temporary: str, archive: str, size: int, keep: int, metadata: Dict[str, str]) -> None:
    """Check the temporary object is whole, shift the generations, copy it live, drop the temporary key."""
    head = client.head_object(Bucket=bucket, Key=temporary)
    if head["ContentLength"] != size:
        client.delete_object(Bucket=bucket, Key=temporary)
        raise AdtError(f"the uploaded archive has {head['ContentLength']} bytes, {size} were sent")
    keys = generation_keys(archive, keep)
    for older, newer in reversed(list(zip(keys[1:], keys[:-1]))):  # oldest first, so nothing is overwritten unread
        if exists(client, bucket, newer):
            client.copy(
                {"Bucket": bucket, "Key": newer},
                bucket,
                older,
                ExtraArgs={"MetadataDirective": "COPY"},
                Config=transfer_config(),
            )
    client.copy(
        {"Bucket": bucket, "Key": temporary},
        bucket,
        archive,
        ExtraArgs={"Metadata": dict(metadata, size=str(size)), "MetadataDirective": "REPLACE"},
        Config=transfer_config(),
    )
    client.delete_object(Bucket=bucket, Key=temporary)


def download(client, bucket: str, key: str, target) -> None:
    client.download_fileobj(bucket, key, target, Config=transfer_config())
