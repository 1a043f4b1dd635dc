"""The pair in the datastore: published to the ssl bucket's root (`fullchain.pem`, `privkey.pem`, as the original
names them) and to the older config-bucket keys `ssl/<WEBSITEURL>/…` (webservers of the original's older
generations read those), each object read back and compared before the publication counts.

A webserver installs a pair only when both objects changed and the key matches the certificate, so the moment
between the two uploads of one place is never installed half.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from adt.datastore.config import ConfigDatastore
from adt.datastore.endpoints import Endpoint
from adt.errors import AdtError
from adt.fs import write_atomically
from adt.ssl.pair import FULLCHAIN, PRIVKEY, config_keys


def places(ssl_bucket: str, config_bucket: str, website: str) -> List[Tuple[str, Sequence[str]]]:
    """(bucket, [fullchain key, privkey key]) for each place the pair is published, the ssl bucket first."""
    return [(ssl_bucket, [FULLCHAIN, PRIVKEY]), (config_bucket, list(config_keys(website)))]


def read(endpoints: List[Endpoint], bucket: str, keys: Sequence[str]) -> Optional[Tuple[bytes, bytes]]:
    """(fullchain, privkey) as published at bucket/keys, or None when either is missing."""
    store = ConfigDatastore(endpoints, bucket)
    found = []
    with tempfile.TemporaryDirectory(prefix="adt-ssl-") as scratch:  # 0700: the key is private
        for number, key in enumerate(keys):
            target = Path(scratch) / str(number)
            if not store.get(key, target):  # no such key, or no such bucket
                return None
            found.append(target.read_bytes())
    return found[0], found[1]


def publish(endpoints: List[Endpoint], ssl_bucket: str, config_bucket: str, website: str, pair: Tuple[bytes, bytes]):
    """Put the pair in each place and read it back; an AdtError naming the object that did not come back whole."""
    with tempfile.TemporaryDirectory(prefix="adt-ssl-") as scratch:
        for bucket, keys in places(ssl_bucket, config_bucket, website):
            store = ConfigDatastore(endpoints, bucket)
            for key, body in zip(keys, pair):
                source = Path(scratch) / key.replace("/", "_")
                write_atomically(source, body.decode(), 0o600)
                store.put(key, source)
            if read(endpoints, bucket, keys) != pair:
                raise AdtError(
                    f"the certificate read back from s3://{bucket}/{keys[0]} is not the one published",
                    "run adt ssl renew again: it publishes the build machine's pair once more",
                )
