"""Gzip streams: writing a tar of ONE member whose size is only known at the end without staging it, and
reading a gzip tar as it arrives.

A tar member's header carries its size, and comes first. Instead of writing the dump to disk to learn the
size (what the original does), the member's data is compressed as it arrives and the 512-byte header is
added in front at the end, inside the same gzip member:

    gzip header | deflate STORED block holding the tar header | the compressor's deflate stream | trailer

The compressor (igzip, pigz or gzip) writes a normal gzip stream; its 10-byte header and 8-byte trailer are
dropped and a new trailer is written whose CRC-32 covers the tar header too (CRC combination, as zlib's
crc32_combine). The result is one ordinary gzip member, readable by gzip, GNU tar, busybox and Python's
tarfile in stream mode. Callers keep the first part of the output back (an S3 multipart upload numbers its
parts, so part 1 can be sent last) and ask for the prefix when the stream has ended.

`Gunzip` reads: it decompresses chunks as they arrive and serves tarfile a file it can only read forwards.
tarfile's own stream mode (`r|gz`) re-copies its whole read buffer for every 512-byte header and reads
through Python's GzipFile; opened over `Gunzip` in its ordinary mode (`r:`), tarfile skips a member's data
without copying it, which takes a verification of a website archive from about 3 s to under 2.
"""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import time
import zlib
from typing import Any, Iterable, Optional, Tuple

RECORD = 10240  # GNU tar pads the archive to whole 20-block records


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A+B from crc(A), crc(B) and len(B), by GF(2) matrix powers (zlib's algorithm)."""
    if len2 <= 0:
        return crc1

    def times(matrix, vector):
        total, row = 0, 0
        while vector:
            if vector & 1:
                total ^= matrix[row]
            vector >>= 1
            row += 1
        return total

    def square(matrix):
        return [times(matrix, matrix[n]) for n in range(32)]

    odd = [0xEDB88320] + [1 << n for n in range(31)]  # the operator for one zero bit
    even = square(odd)  # two zero bits
    odd = square(even)  # four zero bits
    while True:
        even = square(odd)  # first pass: one zero byte
        if len2 & 1:
            crc1 = times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = square(even)
        if len2 & 1:
            crc1 = times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def gzip_header_length(buffer: bytes) -> Optional[int]:
    """Length of the gzip member header at the start of buffer; None while it is incomplete."""
    if len(buffer) < 10:
        return None
    if buffer[:3] != b"\x1f\x8b\x08":
        raise ValueError("the compressor did not write a gzip stream")
    flags, position = buffer[3], 10
    if flags & 4:  # FEXTRA
        if len(buffer) < position + 2:
            return None
        position += 2 + struct.unpack_from("<H", buffer, position)[0]
    for flag in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flags & flag:
            end = buffer.find(b"\0", position)
            if end < 0:
                return None
            position = end + 1
    if flags & 2:  # FHCRC
        position += 2
    return position if len(buffer) >= position else None


def tar_padding(size: int) -> bytes:
    """What follows a member of `size` bytes: zeros to its block, the two end blocks, up to a whole record."""
    padded = size + (-size % 512) + 1024
    return b"\0" * (padded - size + (-(padded + 512) % RECORD))


def member_header(name: str, size: int, mtime: Optional[float] = None) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, int(mtime if mtime is not None else time.time())
    info.uname = info.gname = "root"
    return info.tobuf(format=tarfile.GNU_FORMAT)


def prefix(header: bytes, mtime: Optional[float] = None) -> bytes:
    """The gzip header and a non-final stored deflate block carrying the tar header."""
    stamp = int(mtime if mtime is not None else time.time())
    return (
        b"\x1f\x8b\x08\x00"
        + struct.pack("<I", stamp)
        + b"\x00\x03"
        + b"\x00"
        + struct.pack("<HH", len(header), 0xFFFF ^ len(header))
        + header
    )


def trailer(header: bytes, compressor_trailer: bytes, data_size: int) -> bytes:
    """The new gzip trailer from the compressor's one (CRC and size of the data alone)."""
    crc, isize = struct.unpack("<II", compressor_trailer)
    if isize != data_size & 0xFFFFFFFF:
        raise ValueError(f"the compressor read {isize} bytes (mod 2^32), {data_size} were written")
    return struct.pack("<II", crc32_combine(zlib.crc32(header), crc, data_size), (len(header) + data_size) & 0xFFFFFFFF)


class Gunzip:
    """The decompressed bytes of gzip data arriving in chunks, as a file that reads and seeks forwards only
    (what tarfile needs in its ordinary mode, read in member order). Every member of a multi-member stream is
    read and zero padding after the last one is ignored, as Python's gzip does. Each member's CRC-32 and
    length are checked by zlib. Errors are gzip's: BadGzipFile (not gzip), EOFError (the data ends early),
    zlib.error (corrupt). At most `window` bytes are inflated at a time, however small the input."""

    def __init__(self, chunks: Iterable[bytes], window: int = 1 << 20):
        self.chunks, self.window = iter(chunks), window
        self.inflater: Any = None  # a zlib decompressor per gzip member
        self.input = b""
        self.buffer, self.position, self.offset = b"", 0, 0
        self.started = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.offset

    def _next_input(self) -> bytes:
        for chunk in self.chunks:
            if chunk:
                return chunk
        return b""

    def _inflate(self) -> bytes:
        """The next decompressed block; b"" at the end of the stream."""
        while True:
            if self.inflater is None:  # between members: the next one's magic, zero padding, or the end
                data = self.input.lstrip(b"\0") if self.started else self.input
                while len(data) < 2:
                    more = self._next_input()
                    if not more:
                        break
                    data = (data + more).lstrip(b"\0") if self.started else data + more
                if not data:
                    return b""  # the end (of an empty stream too: then tarfile finds no archive)
                if data[:2] != b"\x1f\x8b":
                    raise gzip.BadGzipFile(f"Not a gzipped file ({data[:2]!r})")
                self.inflater, self.input, self.started = zlib.decompressobj(31), data, True
            if self.input:
                block = self.inflater.decompress(self.input, self.window)
                self.input = self.inflater.unconsumed_tail
                if self.inflater.eof:
                    self.input, self.inflater = self.inflater.unused_data, None
                if block:
                    return block
                continue
            more = self._next_input()
            if not more:
                raise EOFError("Compressed file ended before the end-of-stream marker was reached")
            self.input = more

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            parts = [self.buffer[self.position :]]
            while True:
                block = self._inflate()
                if not block:
                    break
                parts.append(block)
            data = b"".join(parts)
            self.buffer, self.position = b"", 0
            self.offset += len(data)
            return data
        end = self.position + size
        if end <= len(self.buffer):
            data = self.buffer[self.position : end]
        else:
            parts, have = [self.buffer[self.position :]], len(self.buffer) - self.position
            while have < size:
                block = self._inflate()
                if not block:
                    break
                parts.append(block)
                have += len(block)
            self.buffer = b"".join(parts)
            data, end = self.buffer[:size], min(size, len(self.buffer))
        self.position = end
        self.offset += len(data)
        return data

    def seek(self, target: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            target += self.offset
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("a gzip stream is not seekable from its end")
        if target < self.offset:
            raise io.UnsupportedOperation(f"a gzip stream read forwards only (at {self.offset}, asked {target})")
        skip = target - self.offset
        while skip:
            left = len(self.buffer) - self.position
            if left >= skip:
                self.position += skip
                self.offset += skip
                break
            self.offset += left
            skip -= left
            self.buffer, self.position = self._inflate(), 0
            if not self.buffer:
                break
        return self.offset

    def drain(self) -> None:
        """Read to the end of the stream: every member's CRC and length are checked."""
        while self._inflate():
            pass
        self.buffer, self.position = b"", 0


def open_tar(chunks: Iterable[bytes]) -> Tuple[tarfile.TarFile, Gunzip]:
    """A gzip tar arriving in chunks, opened to be read in member order (with the Gunzip under it, to drain)."""
    stream = Gunzip(chunks)
    return tarfile.open(fileobj=stream, mode="r:"), stream  # type: ignore[call-overload]
