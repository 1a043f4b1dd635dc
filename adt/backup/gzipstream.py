"""A gzip tar of ONE member whose size is only known at the end, streamed without staging it.

A tar member's header carries its size, and comes first. Instead of writing the dump to disk to learn the
size (what the original does), the member's data is compressed as it arrives and the 512-byte header is
added in front at the end, inside the same gzip member:

    gzip header | deflate STORED block holding the tar header | the compressor's deflate stream | trailer

The compressor (igzip, pigz or gzip) writes a normal gzip stream; its 10-byte header and 8-byte trailer are
dropped and a new trailer is written whose CRC-32 covers the tar header too (CRC combination, as zlib's
crc32_combine). The result is one ordinary gzip member, readable by gzip, GNU tar, busybox and Python's
tarfile in stream mode. Callers keep the first part of the output back (an S3 multipart upload numbers its
parts, so part 1 can be sent last) and ask for the prefix when the stream has ended.
"""

from __future__ import annotations

import struct
import tarfile
import time
import zlib
from typing import Optional

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
    return (b"\x1f\x8b\x08\x00" + struct.pack("<I", stamp) + b"\x00\x03"
            + b"\x00" + struct.pack("<HH", len(header), 0xFFFF ^ len(header)) + header)


def trailer(header: bytes, compressor_trailer: bytes, data_size: int) -> bytes:
    """The new gzip trailer from the compressor's one (CRC and size of the data alone)."""
    crc, isize = struct.unpack("<II", compressor_trailer)
    if isize != data_size & 0xFFFFFFFF:
        raise ValueError(f"the compressor read {isize} bytes (mod 2^32), {data_size} were written")
    return struct.pack("<II", crc32_combine(zlib.crc32(header), crc, data_size),
                       (len(header) + data_size) & 0xFFFFFFFF)
