"""The fleet-wide backup locks (`BACKUP_RUNNING`, `DB_BACKUP_RUNNING`): one object in the configuration
datastore, held by exactly one machine at a time.

The original listed the lock and then wrote it, so two machines could both find it absent and both
take it, and each deleted it at the end, whoever held it then. Here:

- The lock lives on the first (authoritative) endpoint only, where every machine, original or adt,
  looks for it. Its content is the holder's token (host, pid, random); original machines only list it
  and read its age (`AgeOfConfigFile.sh`: Last-Modified), so content costs them nothing.
- Where the server honours conditional writes (a probe finds out, once per process), the lock is
  created with `If-None-Match: *`, and a stale one replaced with `If-Match: <its ETag>`: a second writer
  gets 412. Elsewhere it is written plainly.
- Either way the taker then waits a settle delay and reads the lock back: it holds the lock only if
  its own token is there. Servers may check a condition and store the object non-atomically (moto does:
  two of five racing writers both get 200 now and then), and then the later write wins the read-back.
- A taker whose write ended `settle` seconds or more after its check began gives up, even when its
  token is there: it may have overwritten a machine that had already read its own token back. With
  that rule, and a server where a completed write is visible to the next read (AWS, SeaweedFS, moto),
  no two machines hold the lock at once, whatever the delays; the settle delay only decides how
  often a slow round ends with no holder.
- A lock older than `stale_after` (300 s, as the original) is broken, by the same rules, so by one
  machine. Its age is measured by the server's clock (the Date of its answer), not the machines'.
- Release deletes the lock only while it still holds our token (with `If-Match` where supported): a
  lock broken as stale and taken by another machine stays its. A loser's write that lands late
  (SeaweedFS sometimes holds concurrent plain writes to one key for a second) may replace the holder's
  token; that loser gave up, the holder leaves the lock at release, and the next cycle finds it stale.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Dict, Iterator, Optional

from adt.datastore import client as s3

STALE_AFTER = 300.0  # seconds, as the original's BackupFromCron.sh (how long a backup holds it: adt.backup.schedule)
RENEW = 60.0  # seconds between refreshes of a held lock: a backup longer than STALE_AFTER keeps it
SETTLE = 2.0  # seconds between writing the lock and reading it back
PROBE_PREFIX = "adt-lock-probe/"  # never a prefix of a lock name: original machines list locks by prefix
_LOST = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409", "NoSuchKey", "404"}
_NO_ETAG = '"00000000000000000000000000000000"'
_conditional: Dict[str, bool] = {}  # endpoint URL -> whether it honours conditional writes


@dataclass(frozen=True)
class Held:
    name: str
    token: str
    etag: str
    conditional: bool  # taken with conditional writes
    broke_stale: bool  # replaced a stale lock


@dataclass(frozen=True)
class _Seen:
    etag: str
    age: float  # seconds, by the server's clock


def new_token() -> str:
    return f"{socket.gethostname()} {os.getpid()} {secrets.token_hex(8)}"


def _server_now(response) -> datetime:
    date = (response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}).get("date")
    try:
        return parsedate_to_datetime(date) if date else datetime.now(timezone.utc)
    except (TypeError, ValueError):
        return datetime.now(timezone.utc)


def _missing(exc) -> bool:
    return s3.error_code(exc) in ("NoSuchKey", "404", "NotFound")


def _head(store, client, name) -> Optional[_Seen]:
    try:
        response = client.head_object(Bucket=store.bucket, Key=name)
    except s3.s3_errors() as exc:
        if _missing(exc) or s3.is_missing_bucket(exc):
            return None
        raise
    return _Seen(response["ETag"], (_server_now(response) - response["LastModified"]).total_seconds())


def _read(store, client, name):
    """(content, ETag) of the lock, or None when there is none."""
    try:
        response = client.get_object(Bucket=store.bucket, Key=name)
    except s3.s3_errors() as exc:
        if _missing(exc) or s3.is_missing_bucket(exc):
            return None
        raise
    return response["Body"].read(), response["ETag"]


def _refused(call) -> bool:
    """True when the server answered a conditional request with 412, as it must when it honours it."""
    try:
        call()
    except s3.s3_errors() as exc:
        return s3.error_code(exc) in ("PreconditionFailed", "412")
    return False


def conditional_writes(store, client) -> bool:
    """Whether the first endpoint honours If-None-Match and If-Match on writes and deletes (probed once per
    process, on a key of its own that is deleted again)."""
    url = store.endpoints[0].url
    if url in _conditional:
        return _conditional[url]
    probe = PROBE_PREFIX + secrets.token_hex(8)
    try:
        client.put_object(Bucket=store.bucket, Key=probe, Body=b"1", IfNoneMatch="*")
        supported = (
            _refused(lambda: client.put_object(Bucket=store.bucket, Key=probe, Body=b"2", IfNoneMatch="*"))
            and _refused(lambda: client.put_object(Bucket=store.bucket, Key=probe, Body=b"3", IfMatch=_NO_ETAG))
            and _refused(lambda: client.delete_object(Bucket=store.bucket, Key=probe, IfMatch=_NO_ETAG))
        )
    except s3.s3_errors() as exc:
        if s3.is_missing_bucket(exc):
            raise  # the caller creates the bucket and asks again
        supported = False  # e.g. 501 NotImplemented for the header
    finally:
        try:
            client.delete_object(Bucket=store.bucket, Key=probe)
        except s3.s3_errors():
            pass
    _conditional[url] = supported
    return supported


def acquire(
    store,
    name: str,
    stale_after: Optional[float] = None,
    settle: Optional[float] = None,
    conditional: Optional[bool] = None,
) -> Optional[Held]:
    """Take the lock `name` on the first endpoint of `store` (a ConfigDatastore); None when another machine
    holds it. `stale_after` and `settle` default to STALE_AFTER and SETTLE; `conditional` forces the mode
    (True: conditional writes, False: plain writes), by default the server is probed."""
    stale_after = STALE_AFTER if stale_after is None else stale_after
    settle = SETTLE if settle is None else settle
    token = new_token()

    def attempt(client) -> Optional[Held]:
        use_conditional = conditional_writes(store, client) if conditional is None else conditional
        began = time.monotonic()
        seen = _head(store, client, name)
        if seen is not None and seen.age < stale_after:
            return None
        extra = {}
        if use_conditional:
            extra = {"IfMatch": seen.etag} if seen is not None else {"IfNoneMatch": "*"}
        try:
            client.put_object(Bucket=store.bucket, Key=name, Body=token.encode(), **extra)
        except s3.s3_errors() as exc:
            if s3.error_code(exc) in _LOST:
                return None
            raise
        if time.monotonic() - began >= settle:
            return None  # too slow to be sure no one read the lock back in between (module docstring)
        time.sleep(settle)
        back = _read(store, client, name)
        if back is None or back[0] != token.encode():
            return None
        return Held(name, token, back[1], use_conditional, seen is not None)

    return store.on_first(f"take the lock {name}", lambda c: store.with_bucket(c, lambda: attempt(c)))


def _while_ours(store, held: Held, action: str, write) -> bool:
    """write(client, conditions) on the lock if it still holds our token, the conditions making the write
    fail should it change meanwhile (where the server honours them); False when it is not ours any more."""

    def attempt(client) -> bool:
        back = _read(store, client, held.name)
        if back is None or back[0] != held.token.encode():
            return False
        try:
            write(client, {"IfMatch": back[1]} if held.conditional else {})
        except s3.s3_errors() as exc:
            if s3.error_code(exc) in _LOST:
                return False
            raise
        return True

    return store.on_first(f"{action} the lock {held.name}", attempt)


def release(store, held: Held) -> bool:
    """Delete the lock if it still holds our token; False when it was not ours any more."""
    return _while_ours(
        store,
        held,
        "release",
        lambda client, conditions: client.delete_object(Bucket=store.bucket, Key=held.name, **conditions),
    )


def renew(store, held: Held) -> bool:
    """Write the lock again, so its age starts anew, if it still holds our token; False when it is not ours
    any more (nothing is written then)."""
    return _while_ours(
        store,
        held,
        "renew",
        lambda client, conditions: client.put_object(
            Bucket=store.bucket, Key=held.name, Body=held.token.encode(), **conditions
        ),
    )


@contextmanager
def kept(store, held: Held, every: Optional[float] = None) -> Iterator[None]:
    """Renew `held` every RENEW seconds while the block runs, so a backup that takes longer than STALE_AFTER
    is not taken for a dead machine's; a lock found no longer ours is left alone from then on, and a failed
    renewal is tried again at the next turn."""
    from adt.errors import AdtError

    every = RENEW if every is None else every
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            try:
                if not renew(store, held):
                    return
            except AdtError:
                continue

    worker = threading.Thread(target=loop, name=f"renew {held.name}", daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(30)
