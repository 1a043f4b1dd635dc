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
from typing import Dict, Iterable, Iterator, List, Tuple, cast

from adt import run
from adt.database.connection import ENGINES, MARKER_TABLE, Connection, checksums
from adt.errors import AdtError
from adt.fs import open_private
from adt.text.branding import SqlLineReplacer

USER_MASK, IP_MASK = "XXXXXXXXXX", "YYYYYYYYYY"


# bytes in roughly falling frequency in dumps (hex blobs, numbers, prose, SQL's punctuation): a needle's byte
# found earliest here is looked for last
_COMMON = b"0123456789ABCDEF etaoinsrhldcumfpgwybvkxjqz(),'\n\"\\_-.;`TSINROLHCUMPGWYBVKXJQZ"


class Needles:
    """Where some byte strings occur in a block, found by memchr (`find` of one byte, ~50 GB/s in cache) on
    one byte of each, checked where that byte is: `in`/`find` of a longer string run at ~2 GB/s, which made
    them most of the sanitiser's time. Each needle's byte is its rarest by `_COMMON`; one met more than
    MISSES times in a block without the needle gives way to the needle's next byte for later blocks, and the
    rest of that block is searched with `find`. `find` returns what `data.find(needle, start)` does."""

    MISSES = 32

    def __init__(self, needles: Iterable[bytes]):
        self.needles = [n for n in dict.fromkeys(needles) if n]
        self.anchors = []
        for needle in self.needles:
            offsets: Dict[int, int] = {}
            for offset, byte in enumerate(needle):
                offsets.setdefault(byte, offset)
            ranked = sorted(offsets, key=lambda byte: (_COMMON.find(bytes([byte])), offsets[byte]))
            self.anchors.append([(bytes([byte]), offsets[byte]) for byte in ranked])
        self.choice = [0] * len(self.needles)

    def find(self, data: bytes, index: int, start: int = 0) -> int:
        needle, anchors = self.needles[index], self.anchors[index]
        byte, offset = anchors[self.choice[index]]
        find, at, misses = data.find, data.find(byte, start + offset), 0
        while at != -1:
            if data.startswith(needle, at - offset):
                return at - offset
            misses += 1
            if misses == self.MISSES:
                self.choice[index] = (self.choice[index] + 1) % len(anchors)
                return find(needle, at - offset + 1)
            at = find(byte, at + 1)
        return -1

    def any(self, data: bytes) -> bool:
        return any(self.find(data, index) != -1 for index in range(len(self.needles)))


class Sanitiser:
    """The original's post-processing as the dump streams past: the engine's own rewrites (`DumpLines`), then
    the pairs replaced, serialization-aware; `loading` adds what the original's restore strips."""

    def __init__(self, dialect: str, pairs: List[Tuple[str, str]], loading: bool = False):
        self.dialect, self.loading = dialect, loading
        self.replace = SqlLineReplacer(pairs, dialect)
        self.lines = ENGINES[dialect].DumpLines(loading)
        marks: Tuple[bytes, ...] = getattr(self.lines, "marks", tuple)()  # PostgreSQL's need none
        self.wanted = Needles((*self.replace.needles, *marks))
        # the lines worth a visit in a block that has some; None: every line (pg_dump's COPY state follows them)
        line_marks = getattr(self.lines, "line_marks", None)
        self.visit = Needles((*self.replace.needles, *line_marks())) if line_marks else None

    def block(self, data: bytes) -> bytes:
        """A run of whole lines. Most of a dump needs nothing: then the block passes in one piece (a line
        at a time costs Python ~10 s a GB); otherwise only the lines holding something to change are visited
        (line by line for PostgreSQL; `__call__` inlined: calls are the cost). The same bytes as every line
        through `__call__`, whatever the block."""
        rewrite = self.lines
        if getattr(rewrite, "skipping", False) or self.wanted.any(data):
            if self.visit is None:
                replace = self.replace
                return b"".join(
                    replace(kept) if (kept := rewrite(line)) else kept for line in data.splitlines(keepends=True)
                )
            return self._visited(data)
        rewrite.passed(data, self.replace)
        return data

    def _visited(self, data: bytes) -> bytes:
        """The block with only the lines holding a line mark or a needle (and those of a statement being
        dropped) through `__call__`; the lines between copied as they are."""
        visit, rewrite, end = cast(Needles, self.visit), self.lines, len(data)
        found = [visit.find(data, index) for index in range(len(visit.needles))]
        out: List[bytes] = []
        position = 0  # where the next line starts
        while position < end:
            if rewrite.skipping:
                first = position
            else:
                for index, at in enumerate(found):
                    if 0 <= at < position:
                        found[index] = visit.find(data, index, position)
                first = min((at for at in found if at != -1), default=-1)
                if first == -1:
                    out.append(data[position:])
                    break
                first = max(position, data.rfind(b"\n", position, first) + 1)
            stop = data.find(b"\n", first) + 1 or end
            out.append(data[position:first])
            out.extend(self(line) for line in data[first:stop].splitlines(keepends=True))
            position = stop
        return b"".join(out)

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
