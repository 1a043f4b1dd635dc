"""Search and replace that keeps PHP serialized data valid.

Every PHP CMS stores serialize()d values in its database and files: WordPress options and postmeta (often
serialized inside serialized), Drupal cache and config blobs, Joomla and Moodle params. A string token is
`s:N:"<payload>";` where N is the payload's length in UTF-8 *bytes*, so a plain replace that changes a
payload's length makes PHP's unserialize() fail and the CMS silently drop the whole value.

`replace` applies (old, new) pairs in order; inside every valid string token (one where `";` really follows
after N bytes) it replaces within the payload -- recursing into payloads that are themselves serialized --
and rewrites N. Anything that is not a valid token gets a plain replacement. A replacement straddling a
token's syntax is not made (it would corrupt the structure anyway). Text without any `old` comes back as
the same object, after one substring test per pair. `check` lists tokens whose declared length is wrong:
run it over decoded values (not over escaped SQL text) to prove substitution kept the data loadable.
"""

from __future__ import annotations

import re
from typing import List, Sequence, Tuple

_ENC = ("utf-8", "surrogateescape")
_TOKEN = re.compile(rb's:(\d+):"')

Pairs = Sequence[Tuple[str, str]]
BytePairs = Sequence[Tuple[bytes, bytes]]


def _clean(pairs):
    """Empty patterns would match everywhere; identical pairs are no-ops."""
    return [(o, n) for o, n in pairs if o and o != n]


def _plain(b: bytes, pairs: BytePairs) -> bytes:
    for old, new in pairs:
        b = b.replace(old, new)
    return b


def replace_bytes(data: bytes, pairs: BytePairs) -> bytes:
    """`replace` on bytes with byte pairs (lengths are byte lengths either way)."""
    return _rep(data, _clean(pairs))


def _rep(data: bytes, pairs: BytePairs) -> bytes:
    if not any(old in data for old, _ in pairs):
        return data
    out: List[bytes] = []
    pos = i = 0
    while True:
        m = _TOKEN.search(data, i)
        if m is None:
            break
        start = m.end()
        end = start + int(m.group(1))
        if data[end:end + 2] != b'";':        # not a real token: its text is plain text
            i = start
            continue
        out.append(_plain(data[pos:m.start()], pairs))
        payload = data[start:end]
        new = _rep(payload, pairs)
        out.append(data[m.start():end + 2] if new is payload else b's:%d:"%s";' % (len(new), new))
        pos = i = end + 2
    out.append(_plain(data[pos:], pairs))
    return b"".join(out)


def replace(text: str, pairs: Pairs) -> str:
    """Apply (old, new) pairs in order, fixing the byte length of every serialized string they touch."""
    pairs = _clean(pairs)
    if not any(old in text for old, _ in pairs):
        return text
    bpairs = [(o.encode(*_ENC), n.encode(*_ENC)) for o, n in pairs]
    return _rep(text.encode(*_ENC), bpairs).decode(*_ENC)


def _check(data: bytes, base: int, problems: List[str]) -> None:
    i = 0
    while True:
        m = _TOKEN.search(data, i)
        if m is None:
            return
        start = m.end()
        declared = int(m.group(1))
        end = start + declared
        if data[end:end + 2] == b'";':
            _check(data[start:end], base + start, problems)
            i = end + 2
            continue
        close = data.find(b'";', start)
        actual = f"{close - start} bytes up to the next '\";'" if close >= 0 else "no closing '\";'"
        snippet = data[m.start():m.start() + 40].decode(*_ENC)
        problems.append(f"byte {base + m.start()}: s:{declared} but {actual}: {snippet!r}")
        i = start


def check(text) -> List[str]:
    """Problems found: serialized string tokens whose declared byte length does not match (str or bytes)."""
    problems: List[str] = []
    data = text if isinstance(text, bytes) else text.encode(*_ENC)
    if b's:' in data:
        _check(data, 0, problems)
    return problems
