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

Those three scan text that merely holds serialized values (a dump, a PHP file). `strings` parses a value
that is wholly serialized data, with the array key of every string, and `rewrite_strings` replaces some of
them, fixing their lengths: the publication gate and redaction read settings inside serialized options so.
All of them read a string token the same way (`_string_end`): this module is the project's one PHP
serialization parser.
"""

from __future__ import annotations

import re
from typing import Callable, List, Optional, Sequence, Tuple

_ENC = ("utf-8", "surrogateescape")
_TOKEN = re.compile(rb's:(\d+):"')

Pairs = Sequence[Tuple[str, str]]
BytePairs = Sequence[Tuple[bytes, bytes]]


def _string_end(data: bytes, match: "re.Match[bytes]") -> Optional[int]:
    """Where the payload of the string token `match` (of _TOKEN) ends, or None when `";` does not follow
    after its declared number of bytes: then it is no token."""
    end = match.end() + int(match.group(1))
    return end if data[end : end + 2] == b'";' else None


def _clean(pairs):
    """Empty patterns would match everywhere; identical pairs are no-ops."""
    return [(o, n) for o, n in pairs if o and o != n]


def byte_pairs(pairs: Pairs) -> List[Tuple[bytes, bytes]]:
    """The pairs that replace something, encoded (UTF-8, surrogateescape) for `replace_bytes` / `plain`."""
    return [(o.encode(*_ENC), n.encode(*_ENC)) for o, n in _clean(pairs)]


def plain(b: bytes, pairs: BytePairs) -> bytes:
    """The byte pairs applied in order with no regard for serialized data."""
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
        start, end = m.end(), _string_end(data, m)
        if end is None:  # not a real token: its text is plain text
            i = start
            continue
        out.append(plain(data[pos : m.start()], pairs))
        payload = data[start:end]
        new = _rep(payload, pairs)
        out.append(data[m.start() : end + 2] if new is payload else b's:%d:"%s";' % (len(new), new))
        pos = i = end + 2
    out.append(plain(data[pos:], pairs))
    return b"".join(out)


def replace(text: str, pairs: Pairs) -> str:
    """Apply (old, new) pairs in order, fixing the byte length of every serialized string they touch."""
    if not any(old in text for old, _ in _clean(pairs)):
        return text
    return _rep(text.encode(*_ENC), byte_pairs(pairs)).decode(*_ENC)


def _check(data: bytes, base: int, problems: List[str]) -> None:
    i = 0
    while True:
        m = _TOKEN.search(data, i)
        if m is None:
            return
        start, end = m.end(), _string_end(data, m)
        declared = int(m.group(1))
        if end is not None:
            _check(data[start:end], base + start, problems)
            i = end + 2
            continue
        close = data.find(b'";', start)
        actual = f"{close - start} bytes up to the next '\";'" if close >= 0 else "no closing '\";'"
        snippet = data[m.start() : m.start() + 40].decode(*_ENC)
        problems.append(f"byte {base + m.start()}: s:{declared} but {actual}: {snippet!r}")
        i = start


def check(text) -> List[str]:
    """Problems found: serialized string tokens whose declared byte length does not match (str or bytes)."""
    problems: List[str] = []
    data = text if isinstance(text, bytes) else text.encode(*_ENC)
    if b"s:" in data:
        _check(data, 0, problems)
    return problems


# ---------------------------------------------------------------- a value that is wholly serialized
_SCALAR = re.compile(rb"(?:i:-?\d+|d:[^;]*|b:[01]|N|r:\d+|R:\d+);")
_ARRAY = re.compile(rb"a:(\d+):\{")
_OBJECT = re.compile(rb'O:(\d+):"')
_OBJECT_COUNT = re.compile(rb'":(\d+):\{')

StringSpan = Tuple[Optional[str], int, int, int]  # (key or None, header start, payload start, payload end)


class _NotSerialized(Exception):
    pass


def _value(data: bytes, pos: int, key: Optional[str], out: List[StringSpan], depth: int) -> Tuple[int, Optional[str]]:
    """Parse one serialized value at pos; append a StringSpan for every string in it (not for array keys).
    Returns (next position, the string's text if the value was a string)."""
    if depth > 64:
        raise _NotSerialized
    match = _TOKEN.match(data, pos)
    if match:
        end = _string_end(data, match)
        if end is None:
            raise _NotSerialized
        out.append((key, pos, match.end(), end))
        return end + 2, data[match.end() : end].decode(*_ENC)
    match = _SCALAR.match(data, pos)
    if match:
        return match.end(), None
    match = _ARRAY.match(data, pos)
    count = None
    if match:
        count, pos = int(match.group(1)), match.end()
    else:
        match = _OBJECT.match(data, pos)
        if match:
            pos = match.end() + int(match.group(1))  # past the class name
            inner = _OBJECT_COUNT.match(data, pos)
            if not inner:
                raise _NotSerialized
            count, pos = int(inner.group(1)), inner.end()
    if count is None:
        raise _NotSerialized
    for _ in range(count):
        mark = len(out)
        pos, name = _value(data, pos, None, out, depth + 1)
        del out[mark:]  # keys are not values
        pos, _ = _value(data, pos, name, out, depth + 1)
    if data[pos : pos + 1] != b"}":
        raise _NotSerialized
    return pos + 1, None


def strings(value: str) -> Optional[List[StringSpan]]:
    """Every string in a serialized value as (key or None, header start, start, end): byte offsets into
    value.encode("utf-8", "surrogateescape"), the key being the array key or property name the string is
    stored under. None if the value is not (exactly) serialized data. Strings inside a string are not
    parsed: their payload is one more serialized value to hand to `strings`."""
    data = value.encode(*_ENC)
    if not re.match(rb"(?:a|O|s):\d+:", data):
        return None
    out: List[StringSpan] = []
    try:
        end, _ = _value(data, 0, None, out, 0)
    except (_NotSerialized, ValueError):
        return None
    return out if end == len(data) else None


def rewrite_strings(value: str, fn: Callable[[Optional[str], str], str]) -> str:
    """The serialized value with every string passed through fn(key, text), each changed string's byte
    length rewritten. Comes back as the same object when nothing changed or the value is not serialized."""
    spans = strings(value)
    if not spans:
        return value
    data = value.encode(*_ENC)
    out: List[bytes] = []
    pos = 0
    for key, header, start, end in spans:
        inner = data[start:end].decode(*_ENC)
        new = fn(key, inner)
        if new != inner:
            encoded = new.encode(*_ENC)
            out += [data[pos:header], b's:%d:"' % len(encoded), encoded]
            pos = end
    if not out:
        return value
    out.append(data[pos:])
    return b"".join(out).decode(*_ENC)
