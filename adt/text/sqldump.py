"""Streaming reader and rewriter for the two database dump formats a baseline holds.

A dump is an iterable of `bytes` lines (each keeping its b"\\n"). Two dialects:

* "mysql" -- mariadb-dump / mysqldump output. Data is `INSERT INTO \\`t\\` [(cols)] VALUES (...),(...);`
  with strings single-quoted and backslash-escaped (\\0 \\' \\" \\b \\n \\r \\t \\Z \\\\); numbers, NULL and
  --hex-blob literals (0x4142) unquoted. NOTE: mariadb-dump 10.11.8+ puts every row of an extended INSERT on
  its own line (`INSERT INTO \\`t\\` VALUES\\n(1,'a'),\\n(2,'b');`), so a statement is gathered over lines
  until its closing `;` (strings never span lines there: raw newlines are escaped). Lines inside a
  `DELIMITER ;;` block (routine and trigger bodies) are never data.
* "postgres" -- pg_dump plain output. Data is `COPY schema.t (cols) FROM stdin;`, then one tab-separated row
  per line (\\N = NULL, text-format backslash escapes) up to a `\\.` line; or, with --inserts /
  --column-inserts / --rows-per-insert, INSERT statements with ''-doubled quotes whose strings may hold raw
  newlines (gathered until the quotes balance and the line ends in `;`). Lines inside a $$-quoted function
  body are never data.

Columns come from the preceding CREATE TABLE block (or the statement's / COPY's own column list).
`iter_rows` yields every data row decoded; `transform` streams the dump back out, sending rows through a
row function (keep / DROP / rewrite) and every other line through a text function. Unchanged lines come out
as the very same objects; a rewritten row is re-escaped the way the dump tool itself escapes, so an
identity rewrite reproduces the original bytes. Memory is bounded by the longest statement (mariadb-dump
caps an extended INSERT at its net buffer length, ~1 MB). Values are decoded as UTF-8 with surrogateescape,
so binary bytes survive a decode/encode round trip. `rewrite_values` maps the quoted values of one
statement, row line or COPY row in isolation, for line-by-line rewriters (see adt.text.branding).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, List, Optional, Tuple, Union, cast

DIALECTS = ("mysql", "postgres")
DROP = object()
RowFn = Callable[["Row"], Union[None, object, List[Optional[str]]]]

_ENC = ("utf-8", "surrogateescape")


def dialect_for(name: str) -> str:
    """'applicationDB.sql' -> 'mysql', 'applicationDB.psql' -> 'postgres' (by suffix); ValueError otherwise."""
    name = str(name)
    if name.endswith(".psql"):
        return "postgres"
    if name.endswith(".sql"):
        return "mysql"
    raise ValueError(f"not a database dump name (want .sql or .psql): {name}")


def _check_dialect(dialect: str) -> None:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dump dialect {dialect!r} (want one of {DIALECTS})")


# ---------------------------------------------------------------- escaping
# mysql: exactly what mysql_real_escape_string (hence mariadb-dump) escapes; tab and backspace stay raw.
_MY_ESC = (
    (b"\\", b"\\\\"),
    (b"\0", b"\\0"),
    (b"\n", b"\\n"),
    (b"\r", b"\\r"),
    (b"'", b"\\'"),
    (b'"', b'\\"'),
    (b"\x1a", b"\\Z"),
)
_MY_NEEDS = re.compile(rb"[\\\0\n\r'\"\x1a]")
_MY_UN = {b"\\" + bytes([c]): bytes([c]) for c in range(256)}
_MY_UN.update(
    {
        b"\\0": b"\0",
        b"\\b": b"\b",
        b"\\n": b"\n",
        b"\\r": b"\r",
        b"\\t": b"\t",
        b"\\Z": b"\x1a",
        b"\\%": b"\\%",
        b"\\_": b"\\_",
    }
)  # MySQL keeps the backslash of \% and \_
_MY_UN_RE = re.compile(rb"\\[\s\S]")
# postgres COPY text format: exactly what COPY TO escapes; other control characters stay raw.
_PG_ESC = (
    (b"\\", b"\\\\"),
    (b"\b", b"\\b"),
    (b"\f", b"\\f"),
    (b"\n", b"\\n"),
    (b"\r", b"\\r"),
    (b"\t", b"\\t"),
    (b"\v", b"\\v"),
)
_PG_NEEDS = re.compile(rb"[\\\b\f\n\r\t\v]")
_PG_UN = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}
_PG_UN_RE = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|([\s\S]))")


def _esc_my(b: bytes) -> bytes:
    if _MY_NEEDS.search(b) is None:
        return b
    for old, new in _MY_ESC:
        b = b.replace(old, new)
    return b


def _unesc_fast(b: bytes, odd, slow) -> bytes:
    """Unescape in C when every escape means the same to Python's bytes-literal decoder
    (codecs.escape_decode): `odd` finds any other escape -- once escaped backslashes, which pair up left to
    right exactly as str.replace scans, are out of the way -- and sends the value the general, slow way."""
    if b"\\" not in b:
        return b
    if odd.search(b.replace(b"\\\\", b"") if b"\\\\" in b else b) is not None:
        return slow(b)
    return codecs.escape_decode(b)[0]


def _unesc_my_slow(b: bytes) -> bytes:
    return _MY_UN_RE.sub(lambda m: _MY_UN[m.group()], b)


_MY_ODD = re.compile(rb"\\(?:[^'\"nrtb]|\Z)")  # \0 and \Z differ in Python (octal, unknown)
_PG_ODD = re.compile(rb"\\(?:[^bfnrtv]|\Z)")  # octal and \x differ in detail


def _unesc_my(b: bytes) -> bytes:
    return _unesc_fast(b, _MY_ODD, _unesc_my_slow)


def _esc_pg(b: bytes) -> bytes:
    if _PG_NEEDS.search(b) is None:
        return b
    for old, new in _PG_ESC:
        b = b.replace(old, new)
    return b


def _pg_un(m) -> bytes:
    o, x, c = m.groups()
    if o is not None:
        return bytes([int(o, 8) & 0xFF])
    if x is not None:
        return bytes([int(x, 16)])
    return _PG_UN.get(c, c)


def _unesc_pg_slow(b: bytes) -> bytes:
    return _PG_UN_RE.sub(_pg_un, b)


def _unesc_pg(b: bytes) -> bytes:
    return _unesc_fast(b, _PG_ODD, _unesc_pg_slow)


def escape(value: str, dialect: str) -> bytes:
    """The escaped body of a literal: mysql -> inside '...' the way mariadb-dump writes it; postgres -> a
    COPY text-format field the way pg_dump writes it (None/NULL is the caller's business)."""
    _check_dialect(dialect)
    b = value.encode(*_ENC)
    return _esc_my(b) if dialect == "mysql" else _esc_pg(b)


def unescape(raw: bytes, dialect: str) -> str:
    """Inverse of `escape` (also reads escapes the tools never write, e.g. postgres \\NNN and \\xHH)."""
    _check_dialect(dialect)
    return (_unesc_my(raw) if dialect == "mysql" else _unesc_pg(raw)).decode(*_ENC)


# ---------------------------------------------------------------- statement grammar
_QSTR = {"mysql": rb"'[^'\\]*(?:\\[\s\S][^'\\]*)*'", "postgres": rb"'[^']*(?:''[^']*)*'"}
# one value and the character that ends it: group 1 = quoted string, group 2 = anything else
# (NULL, numbers, 0x.., b'01', _binary '..'), group 3 = ',' or ')'
_VALUE = {d: re.compile(rb"\s*(?:(%s)|((?:[^,()']|%s)+))\s*([,)])" % (s, s)) for d, s in _QSTR.items()}
_ROW_OPEN = re.compile(rb"\s*\(")
_ROW_NEXT = re.compile(rb"\s*(?:(,)|;\s*\Z)")
_TRAIL = re.compile(rb"\s*\Z")
_BT = rb"`((?:[^`]|``)+)`"
_PGID = rb'(?:"(?:[^"]|"")*"|[^\s."(),]+)'
_PGQUAL = rb"(%s(?:\.%s)*)" % (_PGID, _PGID)
_HEAD = {
    "mysql": re.compile(rb"(?:INSERT|REPLACE)\s+(?:IGNORE\s+)?INTO\s+" + _BT + rb"\s*(?:\(([^)]*)\)\s*)?VALUES\s*"),
    "postgres": re.compile(
        rb"INSERT\s+INTO\s+" + _PGQUAL + rb"\s*(?:\(([^)]*)\)\s*)?(?:OVERRIDING\s+\w+\s+VALUE\s+)?VALUES\s*"
    ),
}
_MY_CREATE = re.compile(rb"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _BT + rb"\s*\(\s*\Z")
_MY_COL = re.compile(rb"\s+" + _BT + rb"\s")
_PG_CREATE = re.compile(rb"CREATE\s+(?:UNLOGGED\s+)?TABLE\s+" + _PGQUAL + rb"\s*\(\s*\Z")
_PG_COL = re.compile(rb"\s+(" + _PGID + rb")\s")
_PG_COPY = re.compile(rb"COPY\s+" + _PGQUAL + rb"\s*(?:\(([^)]*)\)\s*)?FROM\s+stdin;\s*\Z")
_PG_DOLLAR = re.compile(rb"\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$")
_PG_STRIP = re.compile(_QSTR["postgres"] + rb"|--.*")
_SAFE_BARE = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|0x[0-9A-Fa-f]+|true|false", re.IGNORECASE)
_COPY_END = (b"\\.\n", b"\\.", b"\\.\r\n")

Token = Tuple[Optional[bytes], Optional[bytes]]  # (quoted literal incl. quotes, bare token)
Parsed = List[Tuple[int, int, List[Token]]]  # (row start, row end, tokens) per row


def _ident(raw: bytes, dialect: str) -> str:
    """A bare identifier from a (possibly quoted, possibly schema-qualified) name."""
    if dialect == "mysql":
        return raw.replace(b"``", b"`").decode(*_ENC)
    last = re.findall(_PGID, raw)[-1]
    if last.startswith(b'"'):
        last = last[1:-1].replace(b'""', b'"')
    return last.decode(*_ENC)


def _column_list(raw: Optional[bytes], dialect: str) -> Optional[List[str]]:
    if raw is None:
        return None
    if dialect == "mysql":
        return [c.replace(b"``", b"`").decode(*_ENC) for c in re.findall(_BT, raw)]
    return [_ident(c, dialect) for c in re.findall(_PGID, raw)]


def _parse_rows(stmt: bytes, pos: int, dialect: str, partial: bool = False) -> Optional[Parsed]:
    """The `(...)` rows of a statement from `pos` up to its `;` (or, if partial, a trailing `,`)."""
    vre = _VALUE[dialect]
    rows: Parsed = []
    while True:
        m = _ROW_OPEN.match(stmt, pos)
        if m is None:
            return None
        start, pos, toks = m.end() - 1, m.end(), []
        while True:
            m = vre.match(stmt, pos)
            if m is None:
                return None
            toks.append((m.group(1), m.group(2)))
            pos = m.end()
            if m.group(3) == b")":
                break
        rows.append((start, pos, toks))
        m = _ROW_NEXT.match(stmt, pos)
        if m is None:
            return None
        if m.group(1) is None:  # the closing ';'
            return rows
        pos = m.end()
        if partial and _TRAIL.match(stmt, pos):  # a row line of a multi-line INSERT
            return rows


def _quote_parity(chunk: bytes, dialect: str) -> int:
    """1 if `chunk` opens (or closes) a string literal, i.e. holds an odd number of unescaped quotes."""
    if dialect == "mysql" and b"\\" in chunk:
        chunk = chunk.replace(b"\\\\", b"")  # escaped backslashes pair up left to right
        return (chunk.count(b"'") - chunk.count(b"\\'")) & 1
    return chunk.count(b"'") & 1


# ---------------------------------------------------------------- rows
@dataclass
class Row:
    table: str  # bare table name: "wp_users"
    columns: List[str]  # column names in order (empty if unknown)
    values: List[Optional[str]]  # decoded: None for NULL; bare tokens (numbers, 0x..) as written
    quoted: List[bool]  # True where the value was a quoted string; COPY: every non-NULL field
    line: int  # 1-based line number of the statement row / COPY row

    def get(self, column: str) -> Optional[str]:
        try:
            return self.values[self.columns.index(column)]
        except (ValueError, IndexError):
            return None


def _decode_tokens(toks: List[Token], dialect: str) -> Tuple[List[Optional[str]], List[bool]]:
    values: List[Optional[str]] = []
    quoted: List[bool] = []
    for q, bare in toks:
        if q is not None:
            inner = q[1:-1]
            inner = _unesc_my(inner) if dialect == "mysql" else inner.replace(b"''", b"'")
            values.append(inner.decode(*_ENC))
            quoted.append(True)
        else:  # a token is quoted or bare, never neither
            bare = cast(bytes, bare).strip()
            values.append(None if bare.upper() == b"NULL" else bare.decode(*_ENC))
            quoted.append(False)
    return values, quoted


def _render_row(
    toks: List[Token], old: List[Optional[str]], new: List[Optional[str]], dialect: str, keep_same: bool
) -> bytes:
    """A `(...)` row for new values. Bare tokens stay bare (as written if unchanged); everything else is
    quoted and escaped; with keep_same, unchanged values are copied as written."""
    out = []
    for (q, maybe_bare), o, v in zip(toks, old, new):
        bare = cast(bytes, maybe_bare)  # set whenever q is None, the only time it is read
        if v is None:
            out.append(b"NULL")
        elif keep_same and v == o:
            out.append(q if q is not None else bare.strip())
        elif q is None and o is not None and (v == o or _SAFE_BARE.fullmatch(v)):
            out.append(bare.strip() if v == o else v.encode(*_ENC))
        else:
            b = v.encode(*_ENC)
            out.append(b"'" + (_esc_my(b) if dialect == "mysql" else b.replace(b"'", b"''")) + b"'")
    return b"(" + (b"," if dialect == "mysql" else b", ").join(out) + b")"


def _split_copy(line: bytes) -> Tuple[bytes, bytes]:
    if line.endswith(b"\n"):
        return line[:-1], b"\n"
    return line, b""


def _copy_values(body: bytes) -> List[Optional[str]]:
    return [None if f == b"\\N" else _unesc_pg(f).decode(*_ENC) for f in body.split(b"\t")]


def _render_copy(values: List[Optional[str]]) -> bytes:
    return b"\t".join(b"\\N" if v is None else _esc_pg(v.encode(*_ENC)) for v in values)


def _checked(result, row: Row):
    if result is not None and result is not DROP and len(result) != len(row.values):
        raise ValueError(
            f"row function returned {len(result)} values for a {len(row.values)}-column row "
            f"(table {row.table}, line {row.line})"
        )
    return result


# ---------------------------------------------------------------- the scanner
_TEXT, _STMT, _COPYROW = 0, 1, 2


def _scan(lines: Iterable[bytes], dialect: str) -> Iterator[tuple]:
    """Classify the dump: (_TEXT, line, no) | (_COPYROW, line, (table, cols, no)) |
    (_STMT, statement bytes, (table, cols, rows, first line no))."""
    my = dialect == "mysql"
    head_re = _HEAD[dialect]
    tables: dict = {}
    create: Optional[List[str]] = None  # columns of the CREATE TABLE being read
    quiet: Optional[bytes] = None  # mysql: active non-';' DELIMITER; postgres: open $tag$
    copy: Optional[Tuple[str, List[str]]] = None
    buf: Optional[List[bytes]] = None  # lines of an INSERT statement being gathered
    head = None
    parity = start_no = 0

    def finish():
        stmt = b"".join(buf)
        rows = _parse_rows(stmt, head.end(), dialect)
        if rows is None:  # not a data statement after all: plain lines
            return [(_TEXT, ln, start_no + i) for i, ln in enumerate(buf)]
        table = _ident(head.group(1), dialect)
        cols = _column_list(head.group(2), dialect)
        return [(_STMT, stmt, (table, cols if cols is not None else tables.get(table, []), rows, start_no))]

    for no, line in enumerate(lines, 1):
        if buf is not None:
            buf.append(line)
            parity ^= _quote_parity(line, dialect)
            if not parity and line.rstrip().endswith(b";"):
                yield from finish()
                buf = None
            continue
        if copy is not None:
            if line in _COPY_END:
                copy = None
                yield _TEXT, line, no
            else:
                yield _COPYROW, line, (copy[0], copy[1], no)
            continue
        c = line[:1]
        if quiet is None:
            if c == b"I" or c == b"R":
                head = head_re.match(line)
                if head is not None:
                    buf, start_no = [line], no
                    parity = _quote_parity(line[head.end() :], dialect)
                    if not parity and line.rstrip().endswith(b";"):
                        yield from finish()
                        buf = None
                    continue
            elif c == b"C":
                m = (_MY_CREATE if my else _PG_CREATE).match(line)
                if m is not None:
                    create = tables[_ident(m.group(1), dialect)] = []
                elif not my:
                    m = _PG_COPY.match(line)
                    if m is not None:
                        cols = _column_list(m.group(2), dialect)
                        table = _ident(m.group(1), dialect)
                        copy = (table, cols if cols is not None else tables.get(table, []))
            elif c == b")":
                create = None
            elif create is not None and c == b" ":
                m = (_MY_COL if my else _PG_COL).match(line)
                if m is not None and (my or m.group(1) not in (b"CONSTRAINT", b"CHECK", b"LIKE")):
                    create.append(_ident(m.group(1), dialect))
        if my:
            if c == b"D" and line.startswith(b"DELIMITER "):
                d = line[10:].strip()
                quiet = None if d == b";" else d
        elif b"$" in line:  # postgres: track $$-quoted bodies
            rest = line if quiet is not None else _PG_STRIP.sub(b"", line)
            for tag in _PG_DOLLAR.findall(rest):
                if quiet is None:
                    quiet = tag
                elif tag == quiet:
                    quiet = None
        yield _TEXT, line, no
    if buf is not None:  # unterminated statement at the end: plain lines
        for i, ln in enumerate(buf):
            yield _TEXT, ln, start_no + i


# ---------------------------------------------------------------- public API
def iter_rows(lines: Iterable[bytes], dialect: str) -> Iterator[Row]:
    """Every data row of the dump, in order, values decoded (UTF-8, surrogateescape)."""
    _check_dialect(dialect)
    for kind, data, info in _scan(lines, dialect):
        if kind == _COPYROW:
            values = _copy_values(_split_copy(data)[0])
            yield Row(info[0], info[1], values, [v is not None for v in values], info[2])
        elif kind == _STMT:
            table, cols, rows, no = info
            prev = 0
            for start, _end, toks in rows:
                values, quoted = _decode_tokens(toks, dialect)
                no += data.count(b"\n", prev, start)
                prev = start
                yield Row(table, cols, values, quoted, no)


def transform(
    lines: Iterable[bytes],
    dialect: str,
    row_fn: Optional[RowFn] = None,
    text_fn: Optional[Callable[[bytes], bytes]] = None,
) -> Iterator[bytes]:
    """Stream the dump back out: data rows through row_fn (None = keep, DROP = delete, list = rewrite, every
    quoted value re-escaped), other lines through text_fn. Unchanged lines are the very same objects; a
    gathered multi-line INSERT comes out as one chunk; an INSERT whose rows are all dropped disappears."""
    _check_dialect(dialect)
    if row_fn is None and text_fn is None:
        yield from lines
        return
    for kind, data, info in _scan(lines, dialect):
        if kind == _TEXT:
            yield data if text_fn is None else text_fn(data)
        elif row_fn is None:
            yield data
        elif kind == _COPYROW:
            body, nl = _split_copy(data)
            values = _copy_values(body)
            row = Row(info[0], info[1], values, [v is not None for v in values], info[2])
            new = _checked(row_fn(row), row)
            if new is None:
                yield data
            elif new is not DROP:
                yield _render_copy(new) + nl
        else:
            table, cols, rows, no = info
            out, changed, prev = [], False, 0
            for start, end, toks in rows:
                values, quoted = _decode_tokens(toks, dialect)
                no += data.count(b"\n", prev, start)
                prev = start
                row = Row(table, cols, values, quoted, no)
                new = _checked(row_fn(row), row)
                if new is None:
                    out.append(data[start:end])
                    continue
                changed = True
                if new is not DROP:
                    out.append(_render_row(toks, values, new, dialect, keep_same=False))
            if not changed:
                yield data
            elif out:
                sep = data[rows[0][1] : rows[1][0]] if len(rows) > 1 else (b"," if dialect == "mysql" else b", ")
                yield data[: rows[0][0]] + sep.join(out) + data[rows[-1][1] :]


def rewrite_values(
    chunk: bytes,
    dialect: str,
    fn: Callable[[str], str],
    copy_row: bool = False,
    needles: Optional[Tuple[bytes, ...]] = None,
) -> Optional[bytes]:
    """Map every quoted (non-NULL) value of one piece of a dump through `fn`, on its own: a whole INSERT
    statement, a row line of a multi-line INSERT (`(...),` / `(...);`), or with copy_row a COPY data line.
    Returns `chunk` itself when nothing changed, None when the chunk is not such data. Unchanged values are
    copied as written; changed ones re-escaped. With `needles`, only values whose escaped text holds one
    of them are decoded and mapped (a cheap pre-filter)."""
    _check_dialect(dialect)

    def wanted(raw: bytes) -> bool:
        return needles is None or any(n in raw for n in needles)

    if copy_row:
        body, nl = _split_copy(chunk)
        fields, changed = body.split(b"\t"), False
        for i, f in enumerate(fields):
            if f != b"\\N" and wanted(f):
                v = _unesc_pg(f).decode(*_ENC)
                n = fn(v)
                if n != v:
                    fields[i], changed = _esc_pg(n.encode(*_ENC)), True
        return b"\t".join(fields) + nl if changed else chunk
    head = _HEAD[dialect].match(chunk)
    rows = _parse_rows(chunk, head.end(), dialect) if head is not None else _parse_rows(chunk, 0, dialect, partial=True)
    if rows is None:
        return None
    out, pos = [], 0
    for start, end, toks in rows:
        if not any(q is not None and wanted(q) for q, _ in toks):
            continue
        values, quoted = _decode_tokens(toks, dialect)
        new = [fn(cast(str, v)) if q is not None and wanted(q) else v for v, (q, _) in zip(values, toks)]
        if new != values:
            out += [chunk[pos:start], _render_row(toks, values, new, dialect, keep_same=True)]
            pos = end
    if not out:
        return chunk
    out.append(chunk[pos:])
    return b"".join(out)
