"""Database backups: `<WEBSITE_NAME>-DB-backup.tar.gz` in the `<U>-db-<period>` bucket.

The archive is the original's format: a gzip tar holding exactly `applicationDB.sql` (MariaDB/MySQL) or
`applicationDB.psql` (PostgreSQL): the dump as adt.database.dump sanitises it (as the original does), its
last line naming the marker table `zzzz`.

The dump is consistent (`--single-transaction`; pg_dump's snapshot) and streamed: dump -> sanitiser ->
compressor -> multipart upload to every endpoint at once, nothing staged on disk (see gzipstream for how
the tar header, which needs the size, is put in front at the end). The dump must end with its tool's
completion line and its last line name `zzzz`; a dump that fails, is killed or stops short aborts every
upload, and the live key keeps its previous generation. The upload goes to the live key and is completed
only then, after the generations' shift (prepared by server-side copies while the dump runs); each endpoint's
copy is confirmed by its size and ETag (the parts' MD5s, each checked by the server on arrival), as the
original's verification compared the stored object with the archive it sent. Restores and `verify` read the
archive whole: the gzip CRC, the end marker, and the dump's sha256 where an older backup recorded it; they
report per-table row checksums.
"""

from __future__ import annotations

import hashlib
import tarfile
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import IO, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from adt import run
from adt.backup import gzipstream, transfer
from adt.backup.publish import Rotation, download, ensure_bucket, generations, period_of
from adt.backup.transfer import PART_SIZE
from adt.backup.website import compressor
from adt.database.connection import DUMP_NAMES, MARKER_TABLE, Connection, checksums, ip_mask
from adt.database.dump import IP_MASK, USER_MASK, blocks, describe_exit, load, sanitised_dump, widen
from adt.datastore import client as s3
from adt.datastore.endpoints import endpoints_from_settings
from adt.datastore.naming import backup_bucket, check_bucket_name
from adt.errors import AdtError

MIN_TABLES = 4  # the original refuses to back up a database whose `show tables` has fewer than 5 lines


def website_name(url: str) -> str:
    labels = url.split(".")
    return labels[1] if len(labels) > 1 else labels[0]


def sanitising_pairs(settings, connection: Connection) -> List[Tuple[str, str]]:
    """What a backup's dump replaces (as the original's): links to https, the database user and the VPC's
    address mask by their placeholders (a restore turns the placeholders back)."""
    return [("http://", "https://"), (connection.user, USER_MASK), (ip_mask(settings, connection.host), IP_MASK)]


def archive_name(settings) -> str:
    return f"{website_name(settings.require('WEBSITEURL'))}-DB-backup.tar.gz"


@dataclass
class Result:
    endpoint: int
    bucket: str
    key: str
    size: int
    dump_size: int
    dump_sha256: str
    seconds: float
    verified: str  # how the stored copy was confirmed, one line


def backup(
    settings,
    period: str,
    host: Optional[str] = None,
    progress: Callable[[str], None] = lambda _: None,
    meter: Callable[[int], None] = lambda _: None,
) -> List[Result]:
    """Back up the database to every endpoint; `meter` is told the SQL bytes streamed so far."""
    period = period_of(period)
    url = settings.require("WEBSITEURL")
    bucket = check_bucket_name(backup_bucket(url, period, database=True), f"WEBSITEURL in {settings.path}")
    archive, keep = archive_name(settings), generations(settings)
    connection = Connection.from_settings(settings, host)
    tables = connection.tables()
    if len(tables) < MIN_TABLES:
        raise AdtError(
            f"the database {connection.name} has {len(tables)} tables: not replacing a backup with it",
            "the original needs at least 4 tables; is the application installed?",
        )
    if run.dry_run():  # the pipeline and the key it would write, for each endpoint: nothing runs, nothing is sent
        dump = run.shown(connection.command("dump", "/dev/fd/N"))  # the option file comes on an inherited pipe
        for endpoint in endpoints_from_settings(settings):
            run.announce(
                f"{dump} | sanitise into {DUMP_NAMES[connection.dialect]} | {compressor()} | upload to "
                f"s3://{bucket}/{archive} on endpoint {endpoint.index} ({endpoint.url}), "
                f"{keep} generations kept"
            )
        return []
    pairs = sanitising_pairs(settings, connection)
    name = DUMP_NAMES[connection.dialect]
    endpoints = endpoints_from_settings(settings)
    uploads: List[transfer.Upload] = []
    rotations: List[Rotation] = []
    started = time.monotonic()
    try:

        def prepare() -> List[transfer.Upload]:  # while the dump starts (boto3's import and clients: ~0.5 s)
            for endpoint in endpoints:
                uploads.append(transfer.Upload(endpoint, bucket, archive, {"dump": name}))
                ensure_bucket(uploads[-1].client, bucket)
                rotations.append(Rotation(uploads[-1].client, bucket, archive, keep).start())  # made as the dump runs
            return uploads

        def commit() -> None:  # the archive is whole: shift the generations, then it goes live
            for rotation in rotations:
                rotation.commit()

        size, digest, dump_size = _stream(connection, pairs, prepare, meter, commit)
        verified = []
        for upload in uploads:
            where = f"endpoint {upload.endpoint.index}: {bucket}/{archive}"
            if upload.confirm(size):
                verified.append(
                    f"{where} verified: {name}, {size} bytes, ends with the {MARKER_TABLE} marker, stored as sent "
                    f"(ETag {upload.expected_etag()})"
                )
            else:  # the server's ETag is not its parts' MD5s (some encryption modes): read the copy back
                verified.append(_verify_endpoint(upload.endpoint, bucket, archive))
    except s3.s3_errors() as exc:
        for rotation in rotations:
            rotation.abort()
        raise s3.describe(exc, endpoints[0], bucket, "store the database backup") from None
    except BaseException:
        for rotation in rotations:
            rotation.abort()
        raise
    seconds = time.monotonic() - started
    results = [
        Result(u.endpoint.index, bucket, archive, size, dump_size, digest, seconds, line)
        for u, line in zip(uploads, verified)
    ]
    for result in results:
        progress(
            f"endpoint {result.endpoint}: {bucket}/{archive}, {size} bytes "
            f"({dump_size} bytes of SQL, sha256 {digest[:12]}…)"
        )
        progress(result.verified)
    return results


@dataclass
class _Fed:
    """What the feeding thread has sent to the compressor so far."""

    size: int = 0
    padded: int = 0
    sha: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    tail: bytes = b""  # the dump's last bytes, for its end marker
    error: Optional[BaseException] = None


class _Prepared:
    """The uploads `prepare` makes, in a thread started once the dump has been; `sender` waits for them (and
    raises what `prepare` raised); `close` waits for the thread, so nothing is made after the caller's clean-up."""

    def __init__(self, prepare: Callable[[], List[transfer.Upload]]):
        self.made: Optional[transfer.Sender] = None
        self.error: Optional[BaseException] = None

        def made() -> None:
            try:
                self.made = transfer.Sender(prepare())
            except BaseException as exc:  # handed to `sender`
                self.error = exc

        self.thread = threading.Thread(target=made, daemon=True)
        self.thread.start()

    def sender(self) -> transfer.Sender:
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.made is not None
        return self.made

    def close(self, abort: bool) -> None:
        self.thread.join()
        if self.made is not None:
            if abort:
                self.made.abort()
            self.made.close()


def _stream(
    connection: Connection,
    pairs,
    prepare: Callable[[], List[transfer.Upload]],
    meter=lambda _: None,
    commit=lambda: None,
) -> Tuple[int, str, int]:
    """dump | sanitise | compress, into the uploads `prepare` makes (in a thread, as the dump starts); `commit`
    runs once every part is stored and the dump is known whole, before the archive goes live. Returns (archive
    bytes, dump sha256, dump bytes)."""
    packer = run.start(
        compressor().split(),
        stdin=run.PIPE,
        stdout=run.PIPE,
        stderr=run.DEVNULL,
        bufsize=1 << 20,
        what="compressing the dump",
    )
    stdin, stdout = packer.stdin, packer.stdout
    assert stdin is not None and stdout is not None  # both asked for as pipes
    for pipe in (stdin, stdout):
        widen(pipe)
    state = _Fed()

    def feed():
        try:
            write, sha = stdin.write, state.sha
            for data in sanitised_dump(connection, pairs):
                if data:
                    sha.update(data)
                    state.size += len(data)
                    state.tail = (state.tail + data[-65536:])[-65536:]
                    write(data)
                    meter(state.size)
            padding = gzipstream.tar_padding(state.size)
            write(padding)
            state.padded = len(padding)
        except Exception as exc:  # the dump's AdtError, or BrokenPipe when the compressor dies
            state.error = exc
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    prepared, failed = _Prepared(prepare), True
    try:
        buffer, held, number, header_done, total = bytearray(), None, 1, False, 0
        for chunk in iter(lambda: stdout.read(1 << 20), b""):
            buffer += chunk
            if not header_done:
                length = gzipstream.gzip_header_length(bytes(buffer[:4096]))
                if length is None:
                    continue
                del buffer[:length]
                header_done = True
            while len(buffer) >= PART_SIZE + 8:  # the compressor's 8-byte trailer is always held back
                piece = bytes(buffer[:PART_SIZE])
                del buffer[:PART_SIZE]
                total += len(piece)
                if held is None:
                    held = piece
                    continue
                number += 1
                prepared.sender().send(number, piece)
        feeder.join()
        packer.wait()
        if isinstance(state.error, AdtError):
            raise state.error
        if state.error is not None:
            raise AdtError(f"compressing the dump failed: {state.error}")
        if packer.returncode != 0 or len(buffer) < 8 or not header_done:
            raise AdtError(f"the compressor ({compressor()}) failed with {describe_exit(packer.returncode)}")
        lines = [line for line in state.tail.splitlines() if line.strip()]
        if not lines or MARKER_TABLE.encode() not in lines[-1]:  # as a restore checks it, before it goes live
            raise AdtError(f"the dump's last line does not mention the table {MARKER_TABLE}: the dump is incomplete")
        data_size = state.size + state.padded
        header = gzipstream.member_header(DUMP_NAMES[connection.dialect], state.size)
        tail = bytes(buffer[:-8]) + gzipstream.trailer(header, bytes(buffer[-8:]), data_size)
        head = gzipstream.prefix(header)
        total += len(tail) + len(head)
        sender = prepared.sender()
        if held is None:
            sender.finish(head + tail, commit)
        else:  # part 1, with the header only known now, and the last part
            sender.send(1, head + held)
            sender.send(number + 1, tail)
            sender.finish(commit=commit)
        failed = False
        return total, state.sha.hexdigest(), state.size
    finally:
        if packer.poll() is None:
            packer.kill()
            packer.wait()
        feeder.join(30)  # the compressor gone, the feeder stops and its dump is killed
        stdout.close()
        prepared.close(abort=failed)


def _members(chunks: Iterable[bytes]) -> Iterator[Tuple[tarfile.TarInfo, Optional[IO[bytes]]]]:
    """The members of a gzip tar arriving in chunks, in order, each with its data; then the gzip stream is
    read to its end (its CRC and length checked)."""
    archive, unpacked = gzipstream.open_tar(chunks)
    with archive:
        for member in archive:
            yield member, archive.extractfile(member)
    unpacked.drain()


def _spooled(spool) -> Iterator[bytes]:
    spool.seek(0)
    return iter(lambda: spool.read(1 << 20), b"")


def check_archive(chunks: Iterable[bytes], expected: Dict[str, str], where: str) -> str:
    """Archive readable to its end, exactly one dump in it, checksum as recorded, last line on `zzzz`.
    Returns the dump's name."""
    names, digest, last = [], hashlib.sha256(), b""
    try:
        for member, stream in _members(chunks):
            names.append(member.name)
            if stream is None:
                continue
            pending = b""
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
                pending = (pending + chunk)[-65536:]
            lines = [line for line in pending.splitlines() if line.strip()]
            last = lines[-1] if lines else b""
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise AdtError(f"{where} is not a readable gzip tar: {exc}") from None
    if len(names) != 1 or names[0] not in DUMP_NAMES.values():
        raise AdtError(f"{where} holds {names}, not exactly applicationDB.sql or applicationDB.psql")
    if expected.get("dump-sha256") and expected["dump-sha256"] != digest.hexdigest():
        raise AdtError(f"{where} does not match its recorded sha256")
    if MARKER_TABLE.encode() not in last:
        raise AdtError(
            f"{where}: the last line of {names[0]} does not mention the table {MARKER_TABLE}: the dump is incomplete"
        )
    return names[0]


def verify(settings, period: str, key: Optional[str] = None) -> List[str]:
    """Check every endpoint's copy, read once as it arrives (nothing on disk): size, the gzip tar to its end,
    the dump's checksum against the metadata (where one is recorded), its last line on `zzzz`."""
    period = period_of(period)
    bucket = backup_bucket(settings.require("WEBSITEURL"), period, database=True)
    key = key or archive_name(settings)
    return [_verify_endpoint(endpoint, bucket, key) for endpoint in endpoints_from_settings(settings)]


def _verify_endpoint(endpoint, bucket: str, key: str) -> str:
    client = s3.s3_client(endpoint, profile="bulk")
    where = f"endpoint {endpoint.index}: {bucket}/{key}"
    try:
        with transfer.streamed(client, bucket, key) as (received, response):
            name = check_archive(received, response.get("Metadata", {}), where)
    except s3.s3_errors() as exc:
        raise s3.describe(exc, endpoint, bucket, f"read {key}") from None
    if received.size != response["ContentLength"]:
        raise AdtError(f"{where}: {received.size} of {response['ContentLength']} bytes arrived")
    return f"{where} verified: {name}, {received.size} bytes, ends with the {MARKER_TABLE} marker"


@dataclass
class Restored:
    bucket: str
    key: str
    database: str
    tables: Dict[str, Tuple[int, str]]
    seconds: float


def restore(
    settings,
    period: str,
    key: Optional[str] = None,
    host: Optional[str] = None,
    database: Optional[str] = None,
    spool_dir: Optional[str] = None,
) -> Restored:
    """Load a backup into the database (from the first endpoint), after checking it whole."""
    period = period_of(period)
    bucket = backup_bucket(settings.require("WEBSITEURL"), period, database=True)
    key = key or archive_name(settings)
    connection = Connection.from_settings(settings, host, database)
    endpoint = endpoints_from_settings(settings)[0]
    if run.dry_run():  # what it would read and load: the database stays as it is
        load_line = run.shown([*connection.command("client", "/dev/fd/N"), *connection.engine.LOAD_ARGUMENTS])
        run.announce(
            f"s3://{bucket}/{key} from endpoint {endpoint.index} ({endpoint.url}), checked whole, then "
            f"{load_line} < {DUMP_NAMES[connection.dialect]}",
            kind="load",
        )
        return Restored(bucket, key, connection.name, {}, 0.0)
    client = s3.s3_client(endpoint, profile="bulk")
    started = time.monotonic()
    pairs = [(USER_MASK, connection.user), (IP_MASK, ip_mask(settings, connection.host))]
    try:
        spool = tempfile.TemporaryFile(dir=spool_dir, buffering=0)  # unbuffered: a full disk fails the write itself
    except OSError as exc:
        raise _no_room(spool_dir, exc) from None
    with spool:
        try:
            head = client.head_object(Bucket=bucket, Key=key)
            download(client, bucket, key, spool)
            spool.flush()
            if spool.seek(0, 2) != head["ContentLength"]:
                raise OSError(f"{spool.tell()} of {head['ContentLength']} bytes written")
        except s3.s3_errors() as exc:
            raise s3.describe(exc, endpoint, bucket, f"read {key}") from None
        except OSError as exc:
            raise _no_room(spool_dir, exc) from None
        name = check_archive(_spooled(spool), head.get("Metadata", {}), f"{bucket}/{key}")
        if name != DUMP_NAMES[connection.dialect]:
            raise AdtError(f"{bucket}/{key} holds {name}, but this database is {connection.dialect}")
        load(connection, _archive_blocks(spool), pairs)
    if MARKER_TABLE not in connection.tables():
        raise AdtError(
            f"the restore did not create the marker table {MARKER_TABLE}: the database is incomplete",
            "run the restore again; the backup itself was checked and is whole",
        )
    return Restored(bucket, key, connection.name, checksums(connection), time.monotonic() - started)


def _no_room(spool_dir, exc) -> AdtError:
    return AdtError(
        f"cannot hold the downloaded backup in {spool_dir or tempfile.gettempdir()}: {exc.strerror or exc}",
        "free some space or pass --spool-dir; the database was not touched",
    )


def _archive_blocks(spool) -> Iterator[bytes]:
    for _, stream in _members(_spooled(spool)):
        yield from blocks(stream)
