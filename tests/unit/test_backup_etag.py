"""The ETag an S3 server gives an archive sent as parts: what a backup compares its stored copy with."""

import hashlib

from adt.backup.transfer import etag_of


def test_one_put_is_the_md5_of_the_object():
    assert etag_of([hashlib.md5(b"abc").digest()], multipart=False) == hashlib.md5(b"abc").hexdigest()


def test_a_multipart_object_is_the_md5_of_its_parts_md5s_and_their_count():
    digests = [hashlib.md5(part).digest() for part in (b"a" * 10, b"b" * 3)]
    assert etag_of(digests, multipart=True) == hashlib.md5(digests[0] + digests[1]).hexdigest() + "-2"
    assert etag_of([bytes(16)], multipart=True) == hashlib.md5(bytes(16)).hexdigest() + "-1"  # one part is still "-1"
