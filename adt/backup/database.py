"""Database backups: `<WEBSITE_NAME>-DB-backup.tar.gz` in the `<U>-db-<period>` bucket.

The archive is the original's format: a gzip tar holding exactly `applicationDB.sql` (MariaDB/MySQL) or
`applicationDB.psql` (PostgreSQL), sanitised as the original does (`http://` -> `https://`, the database user
-> `XXXXXXXXXX`, the IP mask -> `YYYYYYYYYY`, statements other servers refuse removed, collations
standardised) and ending with the drop and create of the marker table `zzzz`, so its last line mentions it.

The dump is consistent (`--single-transaction`; pg_dump's snapshot) and streamed: dump -> sanitiser ->
compressor -> multipart upload to every endpoint at once, nothing staged on disk (see gzipstream for how
the tar header, which needs the size, is put in front at the end). The dump must end with its tool's
completion line; a dump that fails, is killed or stops short aborts every upload, and the live key keeps its
previous generation. Restores check the archive, the checksum and the end marker before touching the
database, and report per-table row checksums.
"""

from __future__ import annotations

import collections
import concurrent.futures
import fcntl
import gzip
import hashlib
import io
import os
import re
import subprocess
import tarfile
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from adt.backup import gzipstream
from adt.backup.publish import (PART_SIZE, download, ensure_bucket, generations, period_of, publish,
                                temporary_key)
from adt.backup.website import compressor
from adt.datastore import client as s3
from adt.datastore.endpoints import endpoints_from_settings
from adt.datastore.keys import application_part
from adt.datastore.naming import backup_bucket, check_bucket_name
from adt.errors import AdtError
from adt.files import open_private

DUMP_NAMES = {"mysql": "applicationDB.sql", "postgres": "applicationDB.psql"}
MARKER_TABLE = "zzzz"
REQUIRE_PRIMARY_KEY = b"SET SESSION sql_require_primary_key"  # MySQL 8 only: MariaDB refuses it on a restore
MYSQL_HEAD = REQUIRE_PRIMARY_KEY + b" = 0;\nDROP TABLE IF EXISTS `zzzz`;\n"
TRAILERS = {
    "mysql": b"DROP TABLE IF EXISTS `zzzz`;\nCREATE TABLE `zzzz` ( `idxx` int(10) unsigned NOT NULL, "
             b"PRIMARY KEY (`idxx`) ) Engine=INNODB CHARSET=utf8mb4;\n",
    "postgres": b"DROP TABLE IF EXISTS public.zzzz;\nCREATE TABLE public.zzzz ( idxx serial PRIMARY KEY );\n",
}
COMPLETED = {"mysql": b"-- Dump completed", "postgres": b"-- PostgreSQL database dump complete"}
# statements the original strips (from MySQL's mysqldump; other servers and DBaaS refuse them)
MYSQL_DROPPED = (b"SET @@SESSION.SQL_LOG_BIN", b"SET GLOBAL INNODB_STATS_AUTO_RECALC")
USER_MASK, IP_MASK = "XXXXXXXXXX", "YYYYYYYYYY"
DATA_LINES = (b"INSERT INTO ", b"(")  # mariadb-dump 10.11 puts each row of an INSERT on a line of its own
COPY_MARKS = re.compile(rb"^(?:COPY .* FROM stdin;|\\\.)$", re.M)  # where pg_dump's COPY blocks start and end
MIN_TABLES = 4  # the original refuses to back up a database whose `show tables` has fewer than 5 lines


def website_name(url: str) -> str:
    labels = url.split(".")
    return labels[1] if len(labels) > 1 else labels[0]


def archive_name(settings) -> str:
    return f"{website_name(settings.require('WEBSITEURL'))}-DB-backup.tar.gz"


def engine_of(settings) -> str:
    kind = settings.value("DATABASEINSTALLATIONTYPE") or "Maria"
    if kind == "DBaaS":
        kind = (settings.value("DATABASEDBaaSINSTALLATIONTYPE") or "").split(":", 1)[0]
    if kind in ("Maria", "MySQL"):
        return "mysql"
    if kind == "Postgres":
        return "postgres"
    raise AdtError(f"unknown database installation type {kind!r}", "DATABASEINSTALLATIONTYPE must be Maria, "
                   "MySQL, Postgres or DBaaS (with DATABASEDBaaSINSTALLATIONTYPE)")


def ip_mask(settings, host: str) -> str:
    """IPMASK as the original stores it: the first two octets and `.%.%`."""
    return settings.value("IPMASK") or ".".join(host.split(".")[:2] + ["%", "%"])


def refuse_line_breaks(value: str, what: str) -> str:
    """Settings files, option files and cron lines are line-based: a value with a line break (or a NUL) cannot
    be passed on, so it is refused clearly rather than cut."""
    if any(c in value for c in "\n\r\0"):
        raise AdtError(f"the {what} holds a line break or a NUL byte, which cannot be passed to the database tools",
                       f"choose a {what} without one")
    return value


def option_value(value: str, what: str = "value") -> str:
    """A value of a MariaDB/MySQL option file, double-quoted with `\\` and `"` escaped: the server's option
    parser unquotes it and undoes the escapes, so `#` (a comment outside quotes), quotes, backslashes, spaces
    at either end and any UTF-8 read back exactly."""
    refuse_line_breaks(value, "database " + what)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sql_string(value: str, what: str = "value") -> str:
    """A MariaDB/MySQL string literal holding `value` exactly: a quote doubled (which ends no string in any
    sql_mode) and a backslash escaped (the default sql_mode; under NO_BACKSLASH_ESCAPES it would stay doubled,
    a wrong value but never an injection)."""
    refuse_line_breaks(value, "database " + what)
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def sql_identifier(value: str, what: str = "name") -> str:
    """A MariaDB/MySQL identifier in backquotes (a backquote doubled)."""
    refuse_line_breaks(value, "database " + what)
    return "`" + value.replace("`", "``") + "`"


@dataclass
class Connection:
    dialect: str
    host: str
    port: str
    user: str
    password: str
    name: str
    ssl: bool = False

    @classmethod
    def from_settings(cls, settings, host: Optional[str] = None, database: Optional[str] = None) -> "Connection":
        dbaas = settings.value("DATABASEINSTALLATIONTYPE") == "DBaaS"
        if not host:
            if dbaas:
                host = settings.require("DBIDENTIFIER")
            else:
                from adt.machine.bootstrap import my_ip

                host = settings.value("MYIP") or my_ip()
        return cls(engine_of(settings), host, settings.require("DBPORT"),
                   application_part(settings.require("DBUSERNAME")), application_part(settings.require("DBPASSWORD")),
                   database or application_part(settings.require("DBNAME")), ssl=dbaas)

    def popen(self, tool: str, extra=(), **kwargs) -> subprocess.Popen:
        """Start `dump` or `client`. MariaDB gets its password through an option file on an inherited
        pipe (/dev/fd/N): never in argv, never on disk. PostgreSQL gets PGPASSWORD."""
        if self.dialect == "postgres":
            return subprocess.Popen([*self.command(tool, None), *extra], env=self.env(), **kwargs)
        options = self.option_file()
        read, write = os.pipe()
        os.write(write, options)
        os.close(write)
        try:
            return subprocess.Popen([*self.command(tool, f"/dev/fd/{read}"), *extra], pass_fds=(read,),
                                    env=self.env(), **kwargs)
        finally:
            os.close(read)

    def option_file(self) -> bytes:
        """The [client] group of a MariaDB/MySQL option file for this connection, every value quoted so that
        it reads back exactly, whatever characters it holds."""
        values = {"host": self.host, "port": str(self.port), "user": self.user, "password": self.password}
        return ("[client]\n" + "".join(f"{key}={option_value(value, key)}\n" for key, value in values.items())).encode()

    def env(self) -> Dict[str, str]:
        return dict(os.environ, PGPASSWORD=self.password) if self.dialect == "postgres" else dict(os.environ)

    def command(self, tool: str, options_file: Optional[str]) -> List[str]:
        """argv of `dump` or `client` for this connection; the password never appears in it."""
        if self.dialect == "postgres":
            base = ["-h", self.host, "-p", str(self.port), "-U", self.user, "-d", self.name]
            if tool == "dump":
                return ["pg_dump", *base]
            return ["psql", *base, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        ssl = ["--ssl"] if self.ssl else []
        if tool == "dump":
            if os.path.exists("/usr/bin/mariadb-dump") or not os.path.exists("/usr/bin/mysqldump"):
                dump = ["mariadb-dump", f"--defaults-extra-file={options_file}", *ssl]
            else:
                dump = ["mysqldump", f"--defaults-extra-file={options_file}", "--set-gtid-purged=OFF",
                        "--skip-column-statistics", *(["--ssl-mode=REQUIRED"] if self.ssl else [])]
            return [*dump, "--skip-lock-tables", "--single-transaction", "--hex-blob", "--routines", "--triggers",
                    "--force", "-y", self.name]
        client = "mariadb" if os.path.exists("/usr/bin/mariadb") or not os.path.exists("/usr/bin/mysql") else "mysql"
        return [client, f"--defaults-extra-file={options_file}", *ssl, self.name]

    def query(self, sql: str) -> List[List[str]]:
        """Rows of a query, tab-separated fields."""
        extra = ["-At", "-F", "\t", "-c", sql] if self.dialect == "postgres" else ["-N", "-B", "-e", sql]
        process = self.popen("client", extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = process.communicate(timeout=600)
        if process.returncode != 0:
            lines = [line.strip() for line in err.splitlines() if line.strip()] or ["no message"]
            message = next((line for line in lines if line.startswith(("ERROR", "FATAL"))), lines[-1])
            raise AdtError(f"the database {self.name} at {self.host}:{self.port} refused a query: {message}")
        return [line.split("\t") for line in out.splitlines()]

    def tables(self) -> List[str]:
        if self.dialect == "postgres":
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        else:
            sql = ("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
                   "AND table_type = 'BASE TABLE' ORDER BY 1")
        return [row[0] for row in self.query(sql)]


def checksums(connection: Connection, skip=(MARKER_TABLE,)) -> Dict[str, Tuple[int, str]]:
    """Per table: (rows, checksum). MariaDB's CHECKSUM TABLE … EXTENDED; for PostgreSQL an order-free
    md5 over every row's text."""
    tables = [t for t in connection.tables() if t not in skip]
    result = {}
    if not tables:
        return result
    if connection.dialect == "mysql":
        quoted = ", ".join(f"`{t}`" for t in tables)
        sums = {row[0].split(".", 1)[1]: row[1] for row in connection.query(f"CHECKSUM TABLE {quoted} EXTENDED")}
        missing = [t for t in tables if sums.get(t, "NULL") in ("", "NULL")]
        if missing:  # a comparison of two empty checksums would prove nothing
            raise AdtError(f"the database {connection.name} gave no checksum for table(s) {', '.join(missing)}",
                           "is a table being dropped or damaged? CHECK TABLE tells")
        counts = connection.query(" UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM `{t}`" for t in tables))
        for name, count in counts:
            result[name] = (int(count), sums[name])
    else:
        sql = " UNION ALL ".join(
            f"SELECT '{t}', count(*), coalesce(md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))), '') "
            f"FROM public.\"{t}\" x" for t in tables)
        for name, count, digest in connection.query(sql):
            result[name] = (int(count), digest)
    return result


class Sanitiser:
    """The original's post-processing as the dump streams past; `loading` adds what its restore strips
    (the `sql_require_primary_key` line MariaDB refuses, MySQL 8's utf8mb4_0900_ai_ci collation)."""

    def __init__(self, dialect: str, pairs: List[Tuple[str, str]], loading: bool = False):
        from adt.baseline.branding import sql_line_replacer

        self.dialect, self.loading = dialect, loading
        self.replace = sql_line_replacer(pairs, dialect)
        self.skipping = False  # inside a multi-line `SET @@GLOBAL.GTID_PURGED=` statement

    def block(self, data: bytes) -> bytes:
        """A run of whole lines. Most of a dump needs nothing: then the block passes in one piece (a line
        at a time costs Python ~10 s a GB); otherwise line by line."""
        quiet = not self.skipping and not any(needle in data for needle in self.replace.needles)
        if quiet and self.dialect == "mysql":  # the statements dropped all start with SET; a table's
            quiet = b"SET " not in data and b"CHARSET=" not in data  # COLLATE= shares CHARSET='s line
            quiet = quiet and not (self.loading and b"utf8mb4_0900_ai_ci" in data)
        if not quiet:
            return b"".join(self(line) for line in data.splitlines(keepends=True))
        if self.dialect == "postgres":  # keep the replacer's COPY-block state right without visiting lines
            marks = list(COPY_MARKS.finditer(data))
            if marks:
                self.replace.in_copy = marks[-1].group().startswith(b"COPY ")
        return data

    def __call__(self, line: bytes) -> bytes:
        if self.dialect == "mysql" and not line.startswith(DATA_LINES):
            if self.skipping or line.startswith(b"SET @@GLOBAL.GTID_PURGED="):
                self.skipping = b";" not in line
                return b""
            if line.startswith(MYSQL_DROPPED) or (self.loading and line.startswith(REQUIRE_PRIMARY_KEY)):
                return b""
            if b"CHARSET=" in line or b"COLLATE=" in line:
                line = _standard_collation(line)
            if self.loading:
                line = line.replace(b"utf8mb4_0900_ai_ci", b"utf8mb4_unicode_ci")
        return self.replace(line)


def _standard_collation(line: bytes) -> bytes:
    """StandardiseMySQLCollations: every table-level CHARSET=… utf8mb4, every COLLATE=… utf8mb4_unicode_ci."""
    words = line.split(b" ")
    for n, word in enumerate(words):
        end = b";\n" if word.endswith(b";\n") else b";" if word.endswith(b";") else b"\n" if word.endswith(b"\n") else b""
        if word.startswith(b"CHARSET="):
            words[n] = b"CHARSET=utf8mb4" + end
        elif word.startswith(b"COLLATE="):
            words[n] = b"COLLATE=utf8mb4_unicode_ci" + end
    return b" ".join(words)


@dataclass
class Result:
    endpoint: int
    bucket: str
    key: str
    size: int
    dump_size: int
    dump_sha256: str
    seconds: float


class _Upload:
    """One endpoint's multipart upload to a temporary key; parts may arrive in any order."""

    def __init__(self, endpoint, bucket: str, archive: str):
        self.endpoint, self.bucket, self.archive = endpoint, bucket, archive
        self.client = s3.s3_client(endpoint)
        self.key = temporary_key(archive)
        self.upload_id: Optional[str] = None
        self.parts: Dict[int, str] = {}

    def begin(self) -> None:
        ensure_bucket(self.client, self.bucket)
        self.upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key)["UploadId"]

    def part(self, number: int, data: bytes) -> None:
        answer = self.client.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                         PartNumber=number, Body=data)
        self.parts[number] = answer["ETag"]

    def finish(self, single: Optional[bytes]) -> None:
        if single is not None:  # small: everything fits in one part
            self.abort()
            self.client.put_object(Bucket=self.bucket, Key=self.key, Body=single)
            return
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in sorted(self.parts.items())]})
        self.upload_id = None

    def abort(self) -> None:
        if self.upload_id:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
            except Exception:  # the server may be the thing that failed; the temporary key is never published
                pass
            self.upload_id = None


def _widen(pipe, size: int = 1 << 20) -> None:
    """A 1 MiB pipe instead of 64 KiB: fewer wake-ups between dump, sanitiser and compressor."""
    try:
        fcntl.fcntl(pipe.fileno(), 1031, size)  # F_SETPIPE_SZ
    except OSError:
        pass  # above /proc/sys/fs/pipe-max-size for an unprivileged user: the default is fine


def _blocks(stream, size: int = 1 << 20) -> Iterator[bytes]:
    """The stream in runs of whole lines of about `size` bytes."""
    rest = b""
    for chunk in iter(lambda: stream.read(size), b""):
        chunk = rest + chunk
        cut = chunk.rfind(b"\n") + 1
        if cut:
            yield chunk[:cut]
        rest = chunk[cut:]
    if rest:
        yield rest


def _completion(block: bytes, complete: bool, dialect: str) -> bool:
    """Whether the dump so far ends with its tool's completion line, followed only by blank lines,
    comments and pg_dump 15.14+'s `\\unrestrict`."""
    if not complete and COMPLETED[dialect] not in block:
        return False
    for line in block.splitlines():
        if line.startswith(COMPLETED[dialect]):
            complete = True
        elif line.strip() and not line.startswith((b"--", b"\\unrestrict")):
            complete = False
    return complete


def _describe_exit(code: int) -> str:
    return f"killed by signal {-code}" if code < 0 else f"exit {code}"


def backup(settings, period: str, host: Optional[str] = None,
           progress: Callable[[str], None] = lambda _: None,
           meter: Callable[[int], None] = lambda _: None) -> List[Result]:
    """Back up the database to every endpoint; `meter` is told the SQL bytes streamed so far."""
    period = period_of(period)
    url = settings.require("WEBSITEURL")
    bucket = check_bucket_name(backup_bucket(url, period, database=True), f"WEBSITEURL in {settings.path}")
    archive, keep = archive_name(settings), generations(settings)
    connection = Connection.from_settings(settings, host)
    tables = connection.tables()
    if len(tables) < MIN_TABLES:
        raise AdtError(f"the database {connection.name} has {len(tables)} tables: not replacing a backup with it",
                       "the original needs at least 4 tables; is the application installed?")
    pairs = [("http://", "https://"), (connection.user, USER_MASK), (ip_mask(settings, connection.host), IP_MASK)]
    uploads = [_Upload(endpoint, bucket, archive) for endpoint in endpoints_from_settings(settings)]
    started = time.monotonic()
    try:
        for upload in uploads:
            upload.begin()
        size, digest, dump_size = _stream(connection, pairs, uploads, meter)
        for upload in uploads:
            publish(upload.client, bucket, upload.key, archive, size, keep,
                    {"dump-sha256": digest, "dump-size": str(dump_size), "dump": DUMP_NAMES[connection.dialect]})
    except s3.s3_errors() as exc:
        for upload in uploads:
            upload.abort()
        raise s3.describe(exc, uploads[0].endpoint, bucket, "store the database backup") from None
    except BaseException:
        for upload in uploads:
            upload.abort()
        raise
    seconds = time.monotonic() - started
    results = [Result(u.endpoint.index, bucket, archive, size, dump_size, digest, seconds) for u in uploads]
    for result in results:
        progress(f"endpoint {result.endpoint}: {bucket}/{archive}, {size} bytes "
                 f"({dump_size} bytes of SQL, sha256 {digest[:12]}…)")
    return results


def _sanitised_dump(connection: Connection, pairs) -> Iterator[bytes]:
    """The dump as the archive holds it, in blocks: the original's head line, the sanitised dump, the `zzzz`
    trailer. A dump that fails, is killed or stops short raises AdtError before the trailer; closing the
    generator early kills the dump."""
    dialect = connection.dialect
    dump = connection.popen("dump", stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=1 << 20)
    _widen(dump.stdout)
    errors: collections.deque = collections.deque(maxlen=20)
    stderr_reader = threading.Thread(target=lambda: errors.extend(dump.stderr), daemon=True)
    stderr_reader.start()
    try:
        sanitise, complete = Sanitiser(dialect, pairs), False
        if dialect == "mysql":
            yield MYSQL_HEAD
        for block in _blocks(dump.stdout):
            complete = _completion(block, complete, dialect)
            yield sanitise.block(block)
        code = dump.wait()
        if code != 0:
            stderr_reader.join(5)
            message = (b"".join(errors).decode(errors="replace").strip().splitlines() or ["no message"])[-1]
            raise AdtError(f"the database dump failed ({_describe_exit(code)}): {message}",
                           "the previous backup is still the live one; fix the cause and run it again")
        if not complete:
            raise AdtError(f"the dump stopped before its end (no {COMPLETED[dialect].decode()!r} line)",
                           "the previous backup is still the live one")
        yield TRAILERS[dialect]
    finally:
        if dump.poll() is None:
            dump.kill()
            dump.wait()
        dump.stdout.close()


def _stream(connection: Connection, pairs, uploads: List[_Upload], meter=lambda _: None) -> Tuple[int, str, int]:
    """dump | sanitise | compress, into every upload; returns (archive bytes, dump sha256, dump bytes)."""
    packer = subprocess.Popen(compressor().split(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, bufsize=1 << 20)
    for pipe in (packer.stdin, packer.stdout):
        _widen(pipe)
    state = {"size": 0, "sha": hashlib.sha256(), "error": None, "padded": 0}

    def feed():
        try:
            write, sha = packer.stdin.write, state["sha"]
            for data in _sanitised_dump(connection, pairs):
                if data:
                    sha.update(data)
                    state["size"] += len(data)
                    write(data)
                    meter(state["size"])
            padding = gzipstream.tar_padding(state["size"])
            write(padding)
            state["padded"] = len(padding)
        except Exception as exc:  # the dump's AdtError, or BrokenPipe when the compressor dies
            state["error"] = exc
        finally:
            try:
                packer.stdin.close()
            except OSError:
                pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=4 * len(uploads))
    in_flight: collections.deque = collections.deque()
    try:
        buffer, held, number, header_done, total = bytearray(), None, 1, False, 0
        for chunk in iter(lambda: packer.stdout.read(1 << 20), b""):
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
                while len(in_flight) >= 4:
                    in_flight.popleft().result()
                for upload in uploads:
                    in_flight.append(pool.submit(upload.part, number, piece))
        feeder.join()
        packer.wait()
        if isinstance(state["error"], AdtError):
            raise state["error"]
        if state["error"] is not None:
            raise AdtError(f"compressing the dump failed: {state['error']}")
        if packer.returncode != 0 or len(buffer) < 8 or not header_done:
            raise AdtError(f"the compressor ({compressor()}) failed with {_describe_exit(packer.returncode)}")
        data_size = state["size"] + state["padded"]
        header = gzipstream.member_header(DUMP_NAMES[connection.dialect], state["size"])
        tail = bytes(buffer[:-8]) + gzipstream.trailer(header, bytes(buffer[-8:]), data_size)
        head = gzipstream.prefix(header)
        total += len(tail) + len(head)
        for future in in_flight:
            future.result()
        if held is None:
            single = head + tail
            for upload in uploads:
                upload.finish(single)
        else:
            futures = [pool.submit(upload.part, 1, head + held) for upload in uploads]
            futures += [pool.submit(upload.part, number + 1, tail) for upload in uploads]
            for future in futures:
                future.result()
            for upload in uploads:
                upload.finish(None)
        return total, state["sha"].hexdigest(), state["size"]
    finally:
        if packer.poll() is None:
            packer.kill()
            packer.wait()
        feeder.join(30)  # the compressor gone, the feeder stops and its dump is killed
        packer.stdout.close()
        pool.shutdown(wait=True, cancel_futures=True)


def _members(spool) -> Iterator[Tuple[tarfile.TarInfo, io.BufferedReader]]:
    spool.seek(0)
    with tarfile.open(fileobj=gzip.GzipFile(fileobj=spool, mode="rb"), mode="r|") as archive:
        for member in archive:
            yield member, archive.extractfile(member)


def check_archive(spool, expected: Dict[str, str], where: str) -> str:
    """Archive readable to its end, exactly one dump in it, checksum as recorded, last line on `zzzz`.
    Returns the dump's name."""
    names, digest, last = [], hashlib.sha256(), b""
    try:
        for member, stream in _members(spool):
            names.append(member.name)
            if stream is None:
                continue
            pending = b""
            for chunk in iter(lambda: stream.read(1 << 20), b""):
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
        raise AdtError(f"{where}: the last line of {names[0]} does not mention the table {MARKER_TABLE}: "
                       "the dump is incomplete")
    return names[0]


def verify(settings, period: str, key: Optional[str] = None, spool_dir: Optional[str] = None) -> List[str]:
    period = period_of(period)
    bucket = backup_bucket(settings.require("WEBSITEURL"), period, database=True)
    key = key or archive_name(settings)
    lines = []
    for endpoint in endpoints_from_settings(settings):
        client = s3.s3_client(endpoint)
        where = f"endpoint {endpoint.index}: {bucket}/{key}"
        try:
            head = client.head_object(Bucket=bucket, Key=key)
            with tempfile.TemporaryFile(dir=spool_dir) as spool:
                download(client, bucket, key, spool)
                name = check_archive(spool, head.get("Metadata", {}), where)
        except s3.s3_errors() as exc:
            raise s3.describe(exc, endpoint, bucket, f"read {key}") from None
        lines.append(f"{where} verified: {name}, {head['ContentLength']} bytes, ends with the {MARKER_TABLE} marker")
    return lines


@dataclass
class Restored:
    bucket: str
    key: str
    database: str
    tables: Dict[str, Tuple[int, str]]
    seconds: float


def restore(settings, period: str, key: Optional[str] = None, host: Optional[str] = None,
            database: Optional[str] = None, spool_dir: Optional[str] = None) -> Restored:
    """Load a backup into the database (from the first endpoint), after checking it whole."""
    period = period_of(period)
    bucket = backup_bucket(settings.require("WEBSITEURL"), period, database=True)
    key = key or archive_name(settings)
    connection = Connection.from_settings(settings, host, database)
    endpoint = endpoints_from_settings(settings)[0]
    client = s3.s3_client(endpoint)
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
        name = check_archive(spool, head.get("Metadata", {}), f"{bucket}/{key}")
        if name != DUMP_NAMES[connection.dialect]:
            raise AdtError(f"{bucket}/{key} holds {name}, but this database is {connection.dialect}")
        _load(connection, _archive_blocks(spool), pairs)
    if MARKER_TABLE not in connection.tables():
        raise AdtError(f"the restore did not create the marker table {MARKER_TABLE}: the database is incomplete",
                       "run the restore again; the backup itself was checked and is whole")
    return Restored(bucket, key, connection.name, checksums(connection), time.monotonic() - started)


def _no_room(spool_dir, exc) -> AdtError:
    return AdtError(f"cannot hold the downloaded backup in {spool_dir or tempfile.gettempdir()}: {exc.strerror or exc}",
                    "free some space or pass --spool-dir; the database was not touched")


def _load(connection: Connection, blocks: Iterable[bytes], pairs) -> None:
    """Feed a dump (in blocks of whole lines) to the database's client, placeholders put back."""
    sanitise = Sanitiser(connection.dialect, pairs, loading=True)
    extra = ["--single-transaction"] if connection.dialect == "postgres" else []
    client = connection.popen("client", extra, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    _widen(client.stdin)
    errors: collections.deque = collections.deque(maxlen=20)
    reader = threading.Thread(target=lambda: errors.extend(client.stderr), daemon=True)
    reader.start()
    try:
        for block in blocks:
            client.stdin.write(sanitise.block(block))
        client.stdin.close()
    except BrokenPipeError:
        pass
    finally:
        code = client.wait()
        reader.join(5)
    if code != 0:
        message = (b"".join(errors).decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        raise AdtError(f"loading the dump into {connection.name} failed ({_describe_exit(code)}): {message}")


def _archive_blocks(spool) -> Iterator[bytes]:
    for _, stream in _members(spool):
        yield from _blocks(stream)


def load_dump(connection: Connection, path: Path, pairs) -> Dict[str, Tuple[int, str]]:
    """Load a plain dump file (a baseline's) after checking its last line names `zzzz`; per-table checksums."""
    with open(path, "rb") as dump:
        dump.seek(max(0, dump.seek(0, 2) - 65536))
        lines = [line for line in dump.read().splitlines() if line.strip()]
        if not lines or MARKER_TABLE.encode() not in lines[-1]:
            raise AdtError(f"the last line of {path.name} does not mention the table {MARKER_TABLE}: "
                           "the dump is incomplete")
        dump.seek(0)
        _load(connection, _blocks(dump), pairs)
    if MARKER_TABLE not in connection.tables():
        raise AdtError(f"loading {path.name} did not create the marker table {MARKER_TABLE}")
    return checksums(connection)


def checksum_lines(tables: Dict[str, Tuple[int, str]]) -> List[str]:
    width = max([len(t) for t in tables] + [5])
    return [f"{name:<{width}}  {rows:>10} rows  {digest}" for name, (rows, digest) in sorted(tables.items())]


def dump_to(path: Path, connection: Connection, pairs) -> Tuple[int, str]:
    """A plain sanitised dump into a file (for baselines, which go to git): returns (bytes, sha256)."""
    digest, size = hashlib.sha256(), 0
    with open_private(path, "wb") as out:  # the site's data: 0600 from its first byte
        for data in _sanitised_dump(connection, pairs):
            digest.update(data)
            size += len(data)
            out.write(data)
    return size, digest.hexdigest()
