"""Pure rules of the configuration datastore: which object key a put makes, what a listing prints,
which keys a pattern matches. These follow the original wrappers driving s3cmd 2.3
(docs/COMPATIBILITY.md, "Configuration datastore").
"""

from __future__ import annotations

import fnmatch
import posixpath
from datetime import datetime
from typing import Iterable, List, Optional, Sequence


def put_key(name: str, place: Optional[str]) -> str:
    """The object key for `PutToConfigDatastore.sh <name> [place]`.

    The object is named by the basename of `name` (a local file, or a marker that carries the value
    in its name) inside `place` (empty or `root` = bucket root). A place that already ends with that
    basename is taken as the whole key, as callers written for the 2025-07 wrappers pass it
    (`Put 10.0.0.7 webserverips/10.0.0.7`).
    """
    base = posixpath.basename(name.rstrip("/"))
    if not base:
        raise ValueError(f"{name!r} names no file")
    place = (place or "").strip()
    if place in ("", "root", "/"):
        return base
    place = place.lstrip("/")
    trimmed = place.rstrip("/")
    if not place.endswith("/") and posixpath.basename(trimmed) == base:
        return trimmed
    return f"{trimmed}/{base}" if trimmed else base


def strip_wildcard(key: str) -> str:
    """s3cmd drops one trailing `*` from a listing prefix; any other `*` is literal."""
    return key[:-1] if key.endswith("*") else key


def list_prefix(key: str) -> str:
    """The prefix `ListFromConfigDatastore.sh <key>` lists: the key cut at its first `*`, as the January 2026
    List did (`backuplock.*.file` lists `backuplock.`, `additions*.tar.gz` lists `additions`); a trailing
    `*` (the only form earlier generations' callers used) gives the same prefix as s3cmd's."""
    return key.split("*", 1)[0]


def delete_is_recursive(words: Sequence[str]) -> bool:
    """Whether `DeleteFromConfigDatastore.sh <key> ...` (the words after the key) deletes by prefix.

    The forms differ by their number of words: `<key>` (July 2025) deletes one key or a wildcard;
    `<key> <recursive>` (December 2025) deletes by prefix when the word is yes; `<key> <local> <recursive>`
    (January 2026) reads only its third word, as the original did. Each word is yes, no or empty.
    """
    if len(words) > 2:
        raise ValueError(f"too many arguments: {' '.join(words)!r} (give at most <local> <recursive>)")
    for word in words:
        if word not in ("", "yes", "no"):
            raise ValueError(f"expected 'yes' or 'no', not {word!r}")
    return bool(words) and words[-1] == "yes"


def deletes_every_key(key: str, recursive: bool) -> bool:
    """True when a delete may select every key of the bucket (`""` or `*` with yes) or a pattern from its
    very root (`*`, `*/*`, `*.file`: a wildcard with nothing before it): a call the CLI carries out only when
    told so explicitly."""
    if recursive:
        return strip_wildcard(key) == ""
    return key == "" or ("*" in key and wildcard_prefix(key) == "")


def s3cmd_delete_line(bucket: str, key: str) -> str:
    """What `s3cmd del` prints for each key it deletes."""
    return f"delete: 's3://{bucket}/{key}'"


def basename_lines(keys: Iterable[str]) -> List[str]:
    """Listing output: the part of each key after its last `/`, empty ones dropped."""
    return [name for name in (posixpath.basename(key) for key in keys) if name]


def wildcard_prefix(pattern: str) -> str:
    return pattern.split("*", 1)[0]


def wildcard_is_recursive(pattern: str) -> bool:
    """s3cmd lists a wildcard non-recursively unless a `/` follows the first `*`."""
    return "/" in pattern.split("*", 1)[1] if "*" in pattern else False


def wildcard_matches(pattern: str, keys: Iterable[str]) -> List[str]:
    return [key for key in keys if fnmatch.fnmatchcase(key, pattern)]


def s3cmd_line(bucket: str, key: str, size: int, modified: datetime) -> str:
    """One object line as `s3cmd ls` prints it."""
    return f"{modified.strftime('%Y-%m-%d %H:%M'):>16} {size:12d}  s3://{bucket}/{key}"


def get_target(key: str, destination: Optional[str], is_dir) -> str:
    """Where `GetFromConfigDatastore.sh <key> [destination]` writes.

    A destination that is a directory (existing, or ending in `/`), or that does not end with the
    key's basename, is a directory to write `<basename>` into (2025 wrappers); one that ends with the
    basename is the file itself (2025-07 wrappers: `Get wordpress_config.php ${HOME}/runtime/wordpress_config.php`).
    """
    base = posixpath.basename(key)
    destination = destination or "."
    if destination.endswith("/") or is_dir(destination):
        return posixpath.join(destination, base)
    if posixpath.basename(destination) == base:
        return destination
    return posixpath.join(destination, base)


CREDENTIAL_FIELDS = {
    "1": "DBNAME",
    "2": "DBPASSWORD",
    "3": "DBUSERNAME",
    "name": "DBNAME",
    "password": "DBPASSWORD",
    "username": "DBUSERNAME",
    "dbname": "DBNAME",
    "dbpassword": "DBPASSWORD",
    "dbusername": "DBUSERNAME",
}
CREDENTIAL_LINES = {"DBNAME": 1, "DBPASSWORD": 2, "DBUSERNAME": 3}
DEFAULT_CREDENTIAL_KEY = "credentials/shit"  # the key the original's GetDBCredential.sh callers used


def credential_field(which: str) -> str:
    try:
        return CREDENTIAL_FIELDS[which.lower()]
    except KeyError:
        raise ValueError(f"unknown credential {which!r}: use name, username, password or 1, 2, 3") from None


def application_part(value: str) -> str:
    """DBaaS settings hold `admin:::app` pairs; the application's credential is the part after `:::`."""
    return value.split(":::", 1)[1] if ":::" in value else value
