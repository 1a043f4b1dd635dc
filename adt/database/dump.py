"""A database's dump as a stream, sanitised as the original does, and a dump loaded back.

The dump is consistent (`--single-transaction`; pg_dump's snapshot) and streamed in blocks of whole lines,
never staged: out of the dump tool, through the sanitiser (`http://` -> `https://`, the database user ->
`XXXXXXXXXX`, the IP mask -> `YYYYYYYYYY`, the engine's own rewrites), to whoever consumes it (a backup's
compressor, a baseline's file). It starts with the engine's head line and ends with the drop and create of
the marker table `zzzz`, so its last line mentions it; a dump that fails, is killed or stops before its
tool's completion line raises before that trailer. Loading puts the placeholders back and checks the
marker table arrived.
"""

from __future__ import annotations

import collections
import fcntl
import hashlib
import threading
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Tuple

from adt import run
from adt.database.connection import ENGINES, MARKER_TABLE, Connection, checksums
from adt.errors import AdtError
from adt.fs import open_private
from adt.text.branding import SqlLineReplacer

USER_MASK, IP_MASK = "XXXXXXXXXX", "YYYYYYYYYY"


class Sanitiser:
    """The original's post-processing as the dump streams past: the engine's own rewrites (`DumpLines`), then
    the pairs replaced, serialization-aware; `loading` adds what the original's restore strips."""

    def __init__(self, dialect: str, pairs: List[Tuple[str, str]], loading: bool = False):
        self.dialect, self.loading = dialect, loading
        self.replace = SqlLineReplacer(pairs, dialect)
        self.lines = ENGINES[dialect].DumpLines(loading)

    def block(self, data: bytes) -> bytes:
        """A run of whole lines. Most of a dump needs nothing: then the block passes in one piece (a line
        at a time costs Python ~10 s a GB); otherwise line by line (`__call__` inlined: calls are the cost)."""
        rewrite, replace = self.lines, self.replace
        if any(needle in data for needle in replace.needles) or not rewrite.quiet(data):
            return b"".join(
                replace(kept) if (kept := rewrite(line)) else kept for line in data.splitlines(keepends=True)
            )
        rewrite.passed(data, replace)
        return data

    def __call__(self, line: bytes) -> bytes:
        line = self.lines(line)
        return self.replace(line) if line else line


def widen(pipe, size: int = 1 << 20) -> None:
    """A 1 MiB pipe instead of 64 KiB: fewer wake-ups between dump, sanitiser and compressor."""
    try:
        fcntl.fcntl(pipe.fileno(), 1031, size)  # F_SETPIPE_SZ
    except OSError:
        pass  # above /proc/sys/fs/pipe-max-size for an unprivileged user: the default is fine


def blocks(stream, size: int = 1 << 20) -> Iterator[bytes]:
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


def completion(block: bytes, complete: bool, dialect: str) -> bool:
    """Whether the dump so far ends with its tool's completion line, followed only by blank lines,
    comments and pg_dump 15.14+'s `\\unrestrict`."""
    mark = ENGINES[dialect].COMPLETED
    if not complete and mark not in block:
        return False
    for line in block.splitlines():
        if line.startswith(mark):
            complete = True
        elif line.strip() and not line.startswith((b"--", b"\\unrestrict")):
            complete = False
    return complete


def describe_exit(code: int) -> str:
    return f"killed by signal {-code}" if code < 0 else f"exit {code}"


def _last_error(errors: Iterable[bytes]) -> str:
    return (b"".join(errors).decode(errors="replace").strip().splitlines() or ["no message"])[-1]


def sanitised_dump(connection: Connection, pairs) -> Iterator[bytes]:
    """The dump as an archive or a baseline holds it, in blocks: the engine's head line, the sanitised dump,
    the `zzzz` trailer. A dump that fails, is killed or stops short raises AdtError before the trailer;
    closing the generator early kills the dump."""
    engine = connection.engine
    dump = connection.popen("dump", stdout=run.PIPE, stderr=run.PIPE, bufsize=1 << 20)
    widen(dump.stdout)
    errors: collections.deque = collections.deque(maxlen=20)
    stderr_reader = threading.Thread(target=lambda: errors.extend(dump.stderr), daemon=True)
    stderr_reader.start()
    try:
        sanitise, complete = Sanitiser(connection.dialect, pairs), False
        if engine.HEAD:
            yield engine.HEAD
        for block in blocks(dump.stdout):
            complete = completion(block, complete, connection.dialect)
            yield sanitise.block(block)
        code = dump.wait()
        if code != 0:
            stderr_reader.join(5)
            raise AdtError(
                f"the database dump failed ({describe_exit(code)}): {_last_error(errors)}",
                "the previous backup is still the live one; fix the cause and run it again",
            )
        if not complete:
            raise AdtError(
                f"the dump stopped before its end (no {engine.COMPLETED.decode()!r} line)",
                "the previous backup is still the live one",
            )
        yield engine.TRAILER
    finally:
        if dump.poll() is None:
            dump.kill()
            dump.wait()
        dump.stdout.close()


def load(connection: Connection, dump_blocks: Iterable[bytes], pairs) -> None:
    """Feed a dump (in blocks of whole lines) to the database's client, placeholders put back."""
    sanitise = Sanitiser(connection.dialect, pairs, loading=True)
    client = connection.popen(
        "client", connection.engine.LOAD_ARGUMENTS, stdin=run.PIPE, stdout=run.DEVNULL, stderr=run.PIPE
    )
    widen(client.stdin)
    errors: collections.deque = collections.deque(maxlen=20)
    reader = threading.Thread(target=lambda: errors.extend(client.stderr), daemon=True)
    reader.start()
    try:
        for block in dump_blocks:
            client.stdin.write(sanitise.block(block))
        client.stdin.close()
    except BrokenPipeError:
        pass
    finally:
        code = client.wait()
        reader.join(5)
    if code != 0:
        raise AdtError(f"loading the dump into {connection.name} failed ({describe_exit(code)}): {_last_error(errors)}")


def load_dump(connection: Connection, path: Path, pairs) -> Dict[str, Tuple[int, str]]:
    """Load a plain dump file (a baseline's) after checking its last line names `zzzz`; per-table checksums."""
    with open(path, "rb") as dump:
        dump.seek(max(0, dump.seek(0, 2) - 65536))
        lines = [line for line in dump.read().splitlines() if line.strip()]
        if not lines or MARKER_TABLE.encode() not in lines[-1]:
            raise AdtError(
                f"the last line of {path.name} does not mention the table {MARKER_TABLE}: the dump is incomplete"
            )
        dump.seek(0)
        load(connection, blocks(dump), pairs)
    if MARKER_TABLE not in connection.tables():
        raise AdtError(f"loading {path.name} did not create the marker table {MARKER_TABLE}")
    return checksums(connection)


def dump_to(path: Path, connection: Connection, pairs) -> Tuple[int, str]:
    """A plain sanitised dump into a file (for baselines, which go to git): returns (bytes, sha256)."""
    digest, size = hashlib.sha256(), 0
    with open_private(path, "wb") as out:  # the site's data: 0600 from its first byte
        for data in sanitised_dump(connection, pairs):
            digest.update(data)
            size += len(data)
            out.write(data)
    return size, digest.hexdigest()
