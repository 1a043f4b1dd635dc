"""The configuration datastore: a bucket whose object names carry the machines' shared settings.

Reads (list, check, get) come from the first endpoint; writes (put, delete) go to every endpoint and
fail if any one fails, after trying them all. A missing bucket reads as empty and is created on the
first put, so a fresh build needs no separate "mount" step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator, List, Optional

from adt.datastore import client as s3
from adt.datastore import keys
from adt.datastore.endpoints import Endpoint, endpoints_from_settings
from adt.datastore.naming import check_bucket_name, config_bucket
from adt.errors import AdtError
from adt.fs import atomic_writer


@dataclass(frozen=True)
class Entry:
    key: str
    size: int
    modified: Optional[datetime]
    is_dir: bool = False


class ConfigDatastore:
    def __init__(self, endpoints: List[Endpoint], bucket: str):
        if not endpoints:
            raise AdtError("no S3 endpoint is configured", "set S3HOSTBASE and the other S3* settings")
        self.endpoints = endpoints
        self.bucket = bucket

    @classmethod
    def from_settings(cls, settings) -> "ConfigDatastore":
        url = settings.value("WEBSITEURLORIGINAL") or settings.require("WEBSITEURL")
        name = config_bucket(url, settings.require("SERVERUSER"))
        check_bucket_name(name, f"WEBSITEURL and SERVERUSER in {settings.path}")
        return cls(endpoints_from_settings(settings), name)

    # -- plumbing ------------------------------------------------------------------------------
    def _do(self, endpoint: Endpoint, action: str, fn: Callable):
        try:
            return fn(s3.s3_client(endpoint))
        except s3.s3_errors() as exc:
            raise s3.describe(exc, endpoint, self.bucket, action) from None

    def on_first(self, action: str, fn: Callable):
        """fn(client) against the first (authoritative) endpoint; an S3 failure becomes one AdtError line."""
        return self._do(self.endpoints[0], action, fn)

    def _each_endpoint(self, action: str, fn: Callable) -> list:
        """fn(client) on every endpoint, all tried even when one fails; their results, in endpoint order."""
        failures, results = [], []
        for endpoint in self.endpoints:
            try:
                results.append(self._do(endpoint, action, fn))
            except AdtError as exc:
                failures.append(exc)
        if failures:
            if len(failures) == 1:
                raise failures[0]
            raise AdtError("; ".join(f.message for f in failures), failures[0].hint)
        return results

    def _pages(self, client, prefix: str, delimiter: str = "") -> Iterator[dict]:
        """ListObjectsV2 pages (a plain loop: botocore's paginator loads another model per process)."""
        kwargs = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        while True:
            try:
                page = client.list_objects_v2(**kwargs)
            except s3.s3_errors() as exc:
                if s3.is_missing_bucket(exc):
                    return
                raise
            yield page
            if not page.get("IsTruncated") or not page.get("NextContinuationToken"):
                return
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def _entries(self, client, prefix: str, recursive: bool) -> List[Entry]:
        found: List[Entry] = []
        dirs: List[Entry] = []
        for page in self._pages(client, prefix, "" if recursive else "/"):
            for item in page.get("CommonPrefixes", []) or []:
                dirs.append(Entry(item["Prefix"], 0, None, True))
            for item in page.get("Contents", []) or []:
                found.append(Entry(item["Key"], int(item.get("Size", 0)), item.get("LastModified")))
        return dirs + found  # s3cmd prints DIR lines first

    # -- reads (first endpoint) ----------------------------------------------------------------
    def list(self, key: str = "", recursive: bool = True) -> List[Entry]:
        """Entries whose key starts with `key` cut at its first `*` (as the January 2026 List)."""
        prefix = keys.list_prefix(key)
        return self._do(self.endpoints[0], "list", lambda c: self._entries(c, prefix, recursive))

    def check(self, key: str) -> bool:
        if not key:
            return False
        prefix = keys.strip_wildcard(key)

        def probe(client) -> bool:
            for page in self._pages(client, prefix, "/"):
                if page.get("KeyCount", 0) or page.get("Contents") or page.get("CommonPrefixes"):
                    return True
            return False

        return self._do(self.endpoints[0], "check", probe)

    def get(self, key: str, target: Path) -> bool:
        """Download `key` to `target` atomically; False when there is no such key."""

        def fetch(client) -> bool:
            try:
                response = client.get_object(Bucket=self.bucket, Key=key)
            except s3.s3_errors() as exc:
                if s3.error_code(exc) in ("NoSuchKey", "404", "NoSuchBucket"):
                    return False
                raise
            with atomic_writer(target) as out:
                for chunk in response["Body"].iter_chunks(1 << 20):
                    out.write(chunk)
            return True

        return self._do(self.endpoints[0], "get", fetch)

    # -- writes (every endpoint) ---------------------------------------------------------------
    def with_bucket(self, client, fn: Callable):
        """fn(); when the bucket is missing (S3 servers such as AWS create none on write), create it and
        call fn() again."""
        try:
            return fn()
        except s3.s3_errors() as exc:
            if not s3.is_missing_bucket(exc):
                raise
        try:
            client.create_bucket(Bucket=self.bucket)
        except s3.s3_errors() as exc:
            if s3.error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        return fn()

    def put(self, key: str, source: Optional[Path] = None) -> None:
        """Store `source` under `key`, or a zero-byte marker when there is no source."""

        def upload(client):
            def once():
                if source is None:
                    return client.put_object(Bucket=self.bucket, Key=key, Body=b"")
                return client.upload_file(str(source), self.bucket, key)

            return self.with_bucket(client, once)

        self._each_endpoint("put", upload)

    def delete(self, key: str, recursive: bool = False) -> List[str]:
        """Delete one key; with `recursive`, every key that starts with it (one trailing `*` dropped);
        a key holding `*` (not recursive) deletes what it matches, as s3cmd's wildcards do.

        Returns the keys deleted, as s3cmd names them (a single key counts even when it was absent);
        with several endpoints, those of every endpoint, first endpoint's first. A missing bucket
        deletes nothing.
        """

        def remove(client):
            if recursive:
                doomed = [e.key for e in self._entries(client, keys.strip_wildcard(key), True)]
            elif "*" in key:
                listed = self._entries(client, keys.wildcard_prefix(key), keys.wildcard_is_recursive(key))
                doomed = keys.wildcard_matches(key, [e.key for e in listed if not e.is_dir])
            else:
                doomed = [key]
            for start in range(0, len(doomed), 1000):
                batch = [{"Key": k} for k in doomed[start : start + 1000]]
                try:
                    result = client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
                except s3.s3_errors() as exc:
                    if s3.is_missing_bucket(exc):
                        return []
                    raise
                errors = result.get("Errors") or []
                if errors:
                    first = errors[0]
                    raise AdtError(
                        f"S3 endpoint refused to delete {first.get('Key')} from bucket "
                        f"{self.bucket}: {first.get('Code')} ({len(errors)} key(s) not deleted)"
                    )
            return doomed

        deleted: List[str] = []
        for each in self._each_endpoint("delete", remove):
            seen = set(deleted)
            deleted.extend(k for k in each if k not in seen)
        return deleted
