"""Website backups: the webroot as `applicationsourcecode.tar.gz` in the `<U>-<period>` bucket.

The archive is the original's format (gzip tar, `./`-relative paths, with the marker `XXXXXX-DO_NOT_REMOVE`),
streamed from `tar | igzip` straight into a multipart upload to the live key (adt.backup.transfer): nothing the
size of the archive is staged on disk, and nothing is visible until the upload is completed. While it is
sent, the same bytes are read as a gzip tar (every CRC, every header, the marker), and the generations'
shift (`.BACKUP`, `.BACKUP.2`, …) is prepared server-side (adt.backup.publish.Rotation). Only when tar has
exited cleanly and that reading found the archive whole are the generations shifted and the upload
completed. The stored object is then confirmed by its size and ETag (the MD5s of the parts as sent, each
checked by the server on arrival); a server whose ETag says nothing of them gets the object read back.
Every endpoint gets and confirms its own copy.
"""

from __future__ import annotations

import collections
import gzip
import os
import queue
import shutil
import stat
import tarfile
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

from adt import run
from adt.backup import gzipstream, transfer
from adt.backup.publish import Rotation, ensure_bucket, generations, period_of
from adt.datastore import client as s3
from adt.datastore.endpoints import Endpoint, endpoints_from_settings
from adt.datastore.naming import backup_bucket, check_bucket_name
from adt.errors import AdtError
from adt.fs import restore_target, swap_in, webroot_relative

ARCHIVE = "applicationsourcecode.tar.gz"
MARKER = "XXXXXX-DO_NOT_REMOVE"


def compressor() -> str:
    """The fastest gzip writer here: igzip (ISA-L) keeps up with tar on one core; else pigz on every core."""
    if shutil.which("igzip"):
        return "igzip -1 -c"
    return "pigz" if shutil.which("pigz") else "gzip"


def tar_command(webroot: Path, marker_dir: Path, excludes=()) -> List[str]:
    return [
        "tar",
        "--create",
        "--file",
        "-",
        "--use-compress-program",
        compressor(),
        *[f"--exclude=./{webroot_relative(e)}" for e in excludes],
        "-C",
        str(webroot),
        ".",
        "-C",
        str(marker_dir),
        f"./{MARKER}",
    ]


@dataclass
class Result:
    endpoint: int
    bucket: str
    size: int
    etag: str
    seconds: float
    verified: str  # how the stored copy was confirmed, one line


def _damaged(where: str, exc: BaseException) -> AdtError:
    """A gzip tar that cannot be read to its end, as one line naming where it is."""
    if isinstance(exc, gzip.BadGzipFile):
        return AdtError(f"{where} is not a whole gzip file: {exc}")
    if isinstance(exc, EOFError):
        return AdtError(f"{where} is truncated: its gzip stream ends early")
    if isinstance(exc, zlib.error):
        return AdtError(f"{where} is corrupt: {exc}")
    return AdtError(f"{where} is not a readable tar archive: {exc}")


DAMAGE = (gzip.BadGzipFile, EOFError, zlib.error, tarfile.TarError)


class Checker:
    """The archive's bytes, as they are sent, read as a gzip tar in a thread: every gzip member to its end
    (CRC and length), every tar header, the marker. It is what the original's VerifyBackupPresent.sh learns
    by downloading and extracting the archive, learnt from the same bytes without a second transfer. At most
    two parts wait for it: a slower reader holds the upload back rather than memory growing."""

    def __init__(self, where: str):
        self.where = where
        self.parts: queue.Queue = queue.Queue(maxsize=2)
        self.entries, self.marker = 0, False
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def feed(self, data: bytes) -> None:
        self.parts.put(data)

    def _chunks(self):
        while (data := self.parts.get()) is not None:
            yield data

    def _read(self) -> None:
        chunks = self._chunks()
        try:
            archive, unpacked = gzipstream.open_tar(chunks)
            with archive:
                for member in archive:
                    self.entries += 1
                    self.marker = self.marker or member.name == f"./{MARKER}"
            unpacked.drain()
        except BaseException as exc:  # handed to `result`
            self.error = exc
        for _ in chunks:  # whatever is still sent (a feeder never waits on a reader that stopped)
            pass

    def result(self) -> int:
        """The number of entries once the archive has ended; AdtError if it is not whole or lacks the marker."""
        self.parts.put(None)
        self.thread.join()
        if isinstance(self.error, DAMAGE):
            raise _damaged(self.where, self.error)
        if self.error is not None:
            raise self.error
        if not self.marker:
            raise AdtError(f"{self.where} lacks the marker {MARKER}")
        return self.entries

    def stop(self) -> None:
        self.parts.put(None)


def backup(
    settings,
    period: str,
    webroot: Path = Path("/var/www/html"),
    excludes=(),
    progress: Callable[[str], None] = lambda _: None,
    meter: Callable[[int], None] = lambda _: None,
) -> List[Result]:
    """Back up the webroot to every endpoint; `meter` is told the archive bytes sent so far."""
    period = period_of(period)
    if not webroot.is_dir():
        raise AdtError(f"webroot {webroot} does not exist")
    url = settings.require("WEBSITEURL")
    bucket = check_bucket_name(backup_bucket(url, period), f"WEBSITEURL in {settings.path}")
    keep = generations(settings)
    if run.dry_run():  # the pipeline and the key it would write, for each endpoint: nothing runs, nothing is sent
        tar = run.shown(tar_command(webroot, Path(tempfile.gettempdir(), "adt-marker-XXXXXXXX"), excludes))
        for endpoint in endpoints_from_settings(settings):
            run.announce(
                f"{tar} | upload to s3://{bucket}/{ARCHIVE} on endpoint {endpoint.index} ({endpoint.url}), "
                f"{keep} generations kept"
            )
        return []
    results = []
    for endpoint in endpoints_from_settings(settings):
        results.append(_backup_to(endpoint, bucket, webroot, excludes, keep, progress, meter))
    return results


def _backup_to(endpoint: Endpoint, bucket: str, webroot: Path, excludes, keep: int, progress, meter) -> Result:
    upload = transfer.Upload(endpoint, bucket, ARCHIVE)
    where = f"endpoint {endpoint.index}: {bucket}/{ARCHIVE}"
    started = time.monotonic()
    rotation: Optional[Rotation] = None
    try:
        ensure_bucket(upload.client, bucket)
        rotation = Rotation(upload.client, bucket, ARCHIVE, keep).start()  # copies made while tar runs
        checker = Checker(where)
        with tempfile.TemporaryDirectory(prefix="adt-marker-") as marker_dir:
            Path(marker_dir, MARKER).write_text("")
            process = run.start(
                tar_command(webroot, Path(marker_dir), excludes),
                stdout=run.PIPE,
                stderr=run.PIPE,
                what="the website backup",
            )
            stdout, stderr = process.stdout, process.stderr
            assert stdout is not None and stderr is not None  # both are pipes
            errors: collections.deque = collections.deque(maxlen=20)  # read aside: a full stderr pipe would stall tar
            reader = threading.Thread(target=lambda: errors.extend(stderr), daemon=True)
            reader.start()
            entries = 0

            def commit() -> None:  # every part stored: the archive goes live only if it is whole
                nonlocal entries
                if process.wait() != 0:
                    reader.join(30)
                    message = b"".join(errors).decode(errors="replace")
                    last = (message.strip().splitlines() or [f"tar exited with {process.returncode}"])[-1]
                    raise AdtError(f"archiving {webroot} failed: {last}")
                entries = checker.result()
                rotation.commit()

            try:
                size = transfer.upload_stream(stdout, [upload], meter, checker.feed, commit)
            except BaseException:
                process.kill()
                stdout.close()  # the compressor, tar's child, stops on a closed pipe (and closes stderr)
                process.wait()
                checker.stop()
                raise
            finally:
                reader.join(30)
        if upload.confirm(size):
            verified = (
                f"{where} verified: {entries} entries, {size} bytes, stored as sent (ETag {upload.expected_etag()})"
            )
        else:  # the server's ETag is not its parts' MD5s (some encryption modes): read the copy back
            verified = _verify_endpoint(endpoint, bucket, ARCHIVE)
    except s3.s3_errors() as exc:
        if rotation is not None:
            rotation.abort()
        raise s3.describe(exc, endpoint, bucket, "store the website backup") from None
    except BaseException:
        if rotation is not None:
            rotation.abort()
        raise
    progress(f"endpoint {endpoint.index}: {bucket}/{ARCHIVE}, {size} bytes")
    progress(verified)
    return Result(endpoint.index, bucket, size, upload.expected_etag(), time.monotonic() - started, verified)


def read_archive(client, bucket: str, key: str, visit: Callable[[tarfile.TarFile], object]):
    """Stream a gzip tar from the datastore through `visit` (given the archive, to be read in member order),
    then read it to its end: the gzip CRC and length are checked and the sha256 and size are taken on the way,
    in one pass over the object as it arrives.
    Returns (what visit returned, sha256, size, the object's metadata). A damaged archive is one AdtError
    naming bucket, key and what is wrong."""
    where = f"{bucket}/{key}"
    with transfer.streamed(client, bucket, key) as (received, response):
        try:
            archive, unpacked = gzipstream.open_tar(received)
            with archive:
                seen = visit(archive)
            unpacked.drain()  # to the end: every gzip trailer's CRC and length are checked
        except DAMAGE as exc:
            raise _damaged(where, exc) from None
    metadata = response.get("Metadata", {}) or {}
    if received.size != response.get("ContentLength", received.size):
        raise AdtError(f"{where}: {received.size} of {response['ContentLength']} bytes arrived")
    expected = metadata.get("sha256")
    if expected and expected != received.sha256.hexdigest():
        raise AdtError(f"{where} does not match its recorded sha256 (damaged in storage or replaced)")
    return seen, received.sha256.hexdigest(), received.size, metadata


def verify(settings, period: str, key: str = ARCHIVE) -> List[str]:
    """Check every endpoint's copy, read once as a stream: checksum (where one is recorded) and size, the gzip
    tar readable to the end, the marker present. One line a copy; AdtError naming the first that fails."""
    period = period_of(period)
    bucket = backup_bucket(settings.require("WEBSITEURL"), period)
    return [_verify_endpoint(endpoint, bucket, key) for endpoint in endpoints_from_settings(settings)]


def _verify_endpoint(endpoint: Endpoint, bucket: str, key: str) -> str:
    client = s3.s3_client(endpoint, profile="bulk")
    try:
        names, digest, size, _ = read_archive(client, bucket, key, lambda archive: [m.name for m in archive])
    except s3.s3_errors() as exc:
        raise s3.describe(exc, endpoint, bucket, f"read {key}") from None
    except AdtError as exc:
        raise AdtError(f"endpoint {endpoint.index}: {exc.message}", exc.hint) from None
    if f"./{MARKER}" not in names:
        raise AdtError(f"endpoint {endpoint.index}: {bucket}/{key} lacks the marker {MARKER}")
    return (
        f"endpoint {endpoint.index}: {bucket}/{key} verified: {len(names)} entries, {size} bytes, sha256 {digest[:12]}…"
    )


def restore(
    settings,
    period: str,
    target: Path = Path("/var/www/html"),
    key: str = ARCHIVE,
    skip_unsafe: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> str:
    """Replace `target` with the backup (from the first endpoint), whole. The archive is untrusted: it is
    extracted beside the target by adt.backup.archive's rules, its checksum and marker checked, and only then
    swapped in; any failure leaves the target as it was."""
    from adt.backup.archive import Unsafe, extract

    period = period_of(period)
    bucket = backup_bucket(settings.require("WEBSITEURL"), period)
    endpoint = endpoints_from_settings(settings)[0]
    if run.dry_run():  # what it would read and replace: nothing is extracted, the target stays as it is
        run.announce(
            f"{target} with s3://{bucket}/{key} from endpoint {endpoint.index} ({endpoint.url}), extracted "
            "beside it and checked first",
            kind="replace",
        )
        return f"dry run: {target} is unchanged"
    client = s3.s3_client(endpoint, profile="bulk")
    target = restore_target(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.restore-", dir=target.parent))
    try:  # the webroot keeps its mode unless the archive names one for `./` (mkdtemp's 0700 would lock nginx out)
        os.chmod(staging, stat.S_IMODE(target.stat().st_mode) if target.is_dir() else 0o755)
        try:
            extracted, _, _, _ = read_archive(
                client, bucket, key, lambda archive: extract(archive, staging, target, skip_unsafe)
            )
        except s3.s3_errors() as exc:
            raise s3.describe(exc, endpoint, bucket, f"read {key}") from None
        except Unsafe as exc:
            raise AdtError(
                f"not restoring {bucket}/{key}: {exc.message}", f"{target} is unchanged; {exc.hint}"
            ) from None
        except AdtError as exc:
            raise AdtError(f"not restoring: {exc.message}", exc.hint or f"{target} is unchanged") from None
        except OSError as exc:
            raise AdtError(
                f"not restoring {bucket}/{key}: writing beside {target} failed: {exc.strerror or exc}",
                f"{target} is unchanged; free some space",
            ) from None
        marker = staging / MARKER
        if not marker.is_file() or marker.is_symlink():
            raise AdtError(f"not restoring {bucket}/{key}: it lacks the marker {MARKER}", f"{target} is unchanged")
        marker.unlink()
        for line in extracted.skipped:
            progress(f"left out {line}")
        swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    skipped = f", {len(extracted.skipped)} unsafe member(s) left out" if extracted.skipped else ""
    return f"restored {bucket}/{key} into {target} ({extracted.members} members{skipped})"
