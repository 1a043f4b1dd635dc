"""gzipstream.Gunzip and open_tar: a gzip tar read once, forwards, as it arrives, with gzip's own errors."""

import gzip
import io
import os
import tarfile
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adt.backup.gzipstream import Gunzip, open_tar


def chunked(data: bytes, size: int):
    return [data[i:i + size] for i in range(0, len(data), size)]


def make_tar(entries) -> bytes:
    """A tar of (name, data) files, with a directory, a symlink and a hard link to the first file."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as archive:
        folder = tarfile.TarInfo("./d")
        folder.type = tarfile.DIRTYPE
        archive.addfile(folder)
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("./d/link")
        link.type, link.linkname = tarfile.SYMTYPE, "../x"
        archive.addfile(link)
        if entries:
            hard = tarfile.TarInfo("./d/hard")
            hard.type, hard.linkname = tarfile.LNKTYPE, entries[0][0]
            archive.addfile(hard)
    return out.getvalue()


def read_all(archive: tarfile.TarFile):
    found = []
    for member in archive:
        stream = archive.extractfile(member) if member.isreg() else None
        found.append((member.name, member.type, member.linkname, stream.read() if stream else None))
    return found


names = st.text(st.sampled_from("abcxyz.-_é"), min_size=1, max_size=150).map(lambda n: f"./d/{n}")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(names, st.binary(max_size=3000)), max_size=6, unique_by=lambda e: e[0]),
       st.integers(1, 5000), st.integers(1, 9))
def test_open_tar_reads_what_tarfile_reads_whatever_the_chunks(entries, chunk, level):
    """Long names (GNU long-name members), empty files, links; any chunking, any compression level."""
    packed = gzip.compress(make_tar(entries), compresslevel=level)
    archive, stream = open_tar(chunked(packed, chunk))
    with archive:
        ours = read_all(archive)
    stream.drain()
    with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as reference:
        assert ours == read_all(reference)


def test_members_and_zero_padding_are_read_as_gzip_reads_them():
    data = gzip.compress(b"first ") + gzip.compress(b"second") + b"\0" * 700
    assert Gunzip(chunked(data, 7)).read() == gzip.GzipFile(fileobj=io.BytesIO(data)).read() == b"first second"
    assert Gunzip([]).read() == b""  # an empty object: tarfile then finds no archive


def test_not_gzip_truncated_and_corrupt_raise_gzips_errors():
    packed = gzip.compress(os.urandom(50_000))
    with pytest.raises(gzip.BadGzipFile, match="Not a gzipped file"):
        Gunzip([b"not a tar"]).read()
    with pytest.raises(EOFError):
        Gunzip(chunked(packed[:len(packed) // 2], 1000)).read()
    with pytest.raises(EOFError):
        Gunzip([packed[:-4]]).read()  # the trailer's length field missing
    damaged = packed[:-8] + bytes([packed[-8] ^ 1]) + packed[-7:]  # the CRC
    with pytest.raises(zlib.error, match="incorrect data check"):
        Gunzip([damaged]).read()
    with pytest.raises(gzip.BadGzipFile):
        Gunzip([packed + b"trailing garbage"]).read()


def test_seeks_forwards_only():
    data = bytes(range(256)) * 4000
    stream = Gunzip(chunked(gzip.compress(data), 333), window=4096)
    assert stream.read(10) == data[:10] and stream.tell() == 10
    assert stream.seek(500_000) == 500_000 and stream.read(5) == data[500_000:500_005]
    assert stream.seek(10, io.SEEK_CUR) == 500_015 and stream.read(3) == data[500_015:500_018]
    with pytest.raises(io.UnsupportedOperation, match="forwards only"):
        stream.seek(100)
    assert stream.seek(10**9) == len(data) and stream.read(1) == b""


def test_a_small_read_inflates_at_most_one_window():
    """A compressed run of zeros is tiny: reading a header must not inflate all of it into memory."""
    bomb = gzip.compress(b"\0" * (64 << 20))
    stream = Gunzip([bomb], window=1 << 16)
    assert stream.read(512) == b"\0" * 512
    assert len(stream.buffer) <= 1 << 16
    stream.drain()  # to the end, a window at a time: the CRC and length of all 64 MB are checked
