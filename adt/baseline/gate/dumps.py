"""Dump rules: `scan_dump` reads a database dump row by row (adt.text.sqldump) for password hashes,
personal e-mail addresses, session tables and secret settings, also inside PHP-serialized and JSON values.
Redaction (adt.baseline.redact) removes what these rules find, with the same predicates.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

from adt.baseline.gate.findings import Finding, Ids, mask
from adt.baseline.gate.heuristics import (
    TOKEN_RULES,
    Hit,
    is_placeholder,
    reserved_domain,
    resolve,
    secret_name,
    token_hits,
)
from adt.text import serialized, sqldump

# ---------------------------------------------------------------------------------------------- dump rules

HASH_RE = re.compile(
    r"""(?x)(?<![A-Za-z0-9$./])(?:
      \$(?:P|H)\$[./0-9A-Za-z]{31}                                   # phpass (WordPress < 6.8, Drupal 7 legacy)
    | U?\$S\$[./0-9A-Za-z]{52}                                       # Drupal 7
    | (?:\$wp)?\$2[abxy]\$\d{2}\$[./A-Za-z0-9]{53}                    # bcrypt, WordPress 6.8 $wp$2y$
    | \$argon2(?:i|d|id)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+   # argon2
    | \$[156]\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{22,86}            # crypt md5/sha
    | \$generic\$[A-Za-z0-9_\-./+]{20,}                               # WordPress 6.8 application passwords
    | \$pbkdf2(?:-sha\d+)?\$\d+\$[./A-Za-z0-9+]+\$[./A-Za-z0-9+=]+    # passlib / Moodle plugins
    )(?![A-Za-z0-9./])"""
)
HEX_HASH_RE = re.compile(
    r"(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})"
    r"(?::[A-Za-z0-9./]{8,64})?"
)
EMAIL_RE = re.compile(
    r"(?<![\w.%+\-])([A-Za-z0-9][A-Za-z0-9._%+\-]{0,63})@((?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+"
    r"([A-Za-z]{2,24}))(?![\w\-]|\.[A-Za-z0-9])"
)
NOT_TLDS = frozenset(
    {
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "webp",
        "avif",
        "bmp",
        "ico",
        "css",
        "js",
        "php",
        "html",
        "htm",
        "json",
        "xml",
        "txt",
        "pdf",
        "zip",
        "mp4",
        "mp3",
        "woff",
        "woff2",
        "ttf",
        "min",
        "map",
        "scss",
        "less",
        "vue",
        "ts",
        "md",
    }
)
PASS_COLUMN_RE = re.compile(r"(?i)pass|pwd|hash")
SESSION_TABLE_RE = re.compile(r"(?:^|_)(?:sessions?|user_keys|user_private_key|external_tokens|webauthn_credentials)$")
SALT_OPTIONS = frozenset(
    {
        "auth_key",
        "secure_auth_key",
        "logged_in_key",
        "nonce_key",
        "auth_salt",
        "secure_auth_salt",
        "logged_in_salt",
        "nonce_salt",
    }
)
PK_COLUMNS = (
    "id",
    "umeta_id",
    "meta_id",
    "option_id",
    "comment_id",
    "uid",
    "sid",
    "session_id",
    "extension_id",
    "link_id",
    "term_id",
    "post_id",
    "user_id",
)


def email_addresses(text: str) -> Iterator["re.Match[str]"]:
    """Addresses that may be personal: not in reserved / example domains, not image@2x.png."""
    if "@" not in text:
        return
    for match in EMAIL_RE.finditer(text):
        if match.group(3).lower() in NOT_TLDS or reserved_domain(match.group(2)):
            continue
        yield match


def row_key(row) -> Optional[str]:
    """The row's primary key as text, by the usual column names (None if none is known)."""
    lower = [c.lower() for c in row.columns]
    for candidate in PK_COLUMNS:
        if candidate in lower:
            value = row.values[lower.index(candidate)]
            if value is not None:
                return value
    for name in ("option_name", "name", "meta_key"):
        if name in lower and row.values[lower.index(name)] is not None:
            return row.values[lower.index(name)]
    return None


def _column(row, name: str) -> Optional[str]:
    lower = [c.lower() for c in row.columns]
    if name in lower:
        return row.values[lower.index(name)]
    return None


def option_name_of(row) -> Optional[Tuple[str, str]]:
    """(name column, value column) when the row is a name/value setting: WordPress options and sitemeta,
    Moodle config and config_plugins. None otherwise."""
    cols = {c.lower() for c in row.columns}
    for name_col, value_col in (("option_name", "option_value"), ("meta_key", "meta_value"), ("name", "value")):
        if name_col in cols and value_col in cols:
            return name_col, value_col
    return None


def secret_setting(name: str, value: Optional[str]) -> bool:
    """A named setting (option, config row, JSON / serialized key) whose value is a secret: WordPress salt
    option names or a secret-looking name, with a non-empty value that is no placeholder."""
    if value is None or not value.strip() or is_placeholder(value):
        return False
    if name.lower() in SALT_OPTIONS:
        return True
    if name.lower().startswith(("_transient_timeout", "_site_transient_timeout")):
        return False
    if not secret_name(name):
        return False
    text = value.strip()
    if text.isdigit() and len(text) < 8 or len(text) < 4:
        return False
    if text.startswith(("a:", "O:", "{", "[")):
        return False  # structured: its keys are looked at one by one
    return True


_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def structured_secret(key: str, value: str) -> bool:
    """A secret setting inside serialized or JSON data: `secret_setting`, except a number (there a
    "token" or "key" holding a number is an id, a count or a port)."""
    return secret_setting(key, value) and not _NUMBER.fullmatch(value)


JSON_PAIR_RE = re.compile(r'"((?:[^"\\]|\\.){1,80})"\s*:\s*"((?:[^"\\]|\\.)*)"')


def structured_pairs(value: str, depth: int = 0) -> Iterator[Tuple[str, str, int, int]]:
    """(key, value, start, end) for every string value under a string key in a PHP-serialized or JSON
    value, also inside strings that are themselves serialized or JSON (WordPress double-serializes);
    start/end are character offsets into `value`."""
    text = value.lstrip()
    if depth > 8 or len(text) < 6:
        return
    if text.startswith(("a:", "O:")):
        strings = serialized.strings(value)
        if not strings:
            return
        data = value.encode("utf-8", "surrogateescape")
        for key, _, start, end in strings:
            cs = len(data[:start].decode("utf-8", "surrogateescape"))
            val = data[start:end].decode("utf-8", "surrogateescape")
            if key is not None:
                yield key, val, cs, cs + len(val)
            if val.lstrip()[:2] in ("a:", "O:") or val.lstrip()[:1] in ("{", "["):
                for k, v, s, e in structured_pairs(val, depth + 1):
                    yield k, v, cs + s, cs + e
    elif text.startswith(("{", "[")):
        for match in JSON_PAIR_RE.finditer(value):
            yield match.group(1), match.group(2), match.start(2), match.end(2)


def _value_hits(value: str, column: str, name_and_value: Optional[Tuple[str, str]]) -> List[Hit]:
    """Every secret / personal datum in one string value of a dump row."""
    hits = token_hits(value)
    base = len(TOKEN_RULES)
    for match in HASH_RE.finditer(value) if "$" in value else ():
        hits.append(Hit("password-hash", match.start(), match.end(), match.group(0), "high", base, column))
    if PASS_COLUMN_RE.search(column) and HEX_HASH_RE.fullmatch(value.strip()):
        hits.append(Hit("password-hash", 0, len(value), value, "high", base, column))
    if name_and_value:
        name, option_value = name_and_value
        if secret_setting(name, option_value):
            hits.append(Hit("secret-setting", 0, len(value), value, "high", base + 2, name))
    if len(value) > 4 and value.lstrip()[:1] in ("a", "O", "{", "["):
        for key, val, start, end in structured_pairs(value):
            if structured_secret(key, val):
                hits.append(Hit("secret-setting", start, end, val, "high", base + 2, key))
    label = name_and_value[0] if name_and_value else column
    for match in email_addresses(value):
        hits.append(Hit("email-address", match.start(), match.end(), match.group(0), "medium", base + 3, label))
    return resolve(hits)


def _dump_excerpt(value: str, hit: Hit, column: str) -> str:
    label = hit.label if hit.label and hit.label != column else ""
    if hit.rule == "email-address":
        local, _, domain = hit.secret.partition("@")
        return f"{column}=" + (f"{label}: " if label else "") + f"{local[:1]}…@{domain}"
    shown = mask(hit.secret)
    if hit.rule == "password-hash":
        prefix = re.match(r"\$[A-Za-z0-9]+\$(?:[A-Za-z0-9]+\$)?", hit.secret)
        shown = (prefix.group(0) if prefix else "") + "…"
    return f"{column}=" + (f"{label}: " if label else "") + shown


def scan_dump(
    lines: Iterable[bytes], dialect: str, prefix: Optional[str] = None, place: Optional[str] = None
) -> List[Finding]:
    """Every finding in an SQL dump (`lines` as bytes, `dialect` "mysql" or "postgres").

    `prefix` restricts the table-role rules (sessions, settings) to tables with that prefix; None finds the
    roles by table-name suffix and columns, which also covers WordPress multisite tables (wp_2_options)
    and any CMS's prefix. `place` (a file path) is put before "table.column" in where and in the ids, for
    dumps found inside a webroot."""
    ids = Ids()
    findings: List[Finding] = []
    sessions: Dict[str, List] = {}
    origin = f"{place}: " if place else ""
    for row in sqldump.iter_rows(lines, dialect):
        table = row.table
        if prefix is not None and not table.startswith(prefix):
            role_ok = False
        else:
            role_ok = True
        if role_ok and SESSION_TABLE_RE.search(table):
            entry = sessions.setdefault(table, [0, row_key(row)])
            entry[0] += 1
            continue
        key = row_key(row)
        pair = option_name_of(row) if role_ok else None
        setting_name = _column(row, pair[0]) if pair else None
        if role_ok and (_column(row, "meta_key") or "") == "session_tokens" and (_column(row, "meta_value") or ""):
            findings.append(
                Finding(
                    ids("session-data", f"{origin}{table}.meta_value {key}", "session_tokens"),
                    "session-data",
                    f"{origin}{table}.meta_value row {key if key is not None else 'line ' + str(row.line)}",
                    f"meta_key=session_tokens user_id={_column(row, 'user_id')}",
                    "high",
                )
            )
            continue
        for column, value, quoted in zip(row.columns or [""] * len(row.values), row.values, row.quoted):
            if value is None or not quoted or not value:
                continue
            named = (setting_name, value) if pair and column.lower() == pair[1] and setting_name else None
            hits = _value_hits(value, column, named)
            for hit in hits:
                where_row = key if key is not None else f"line {row.line}"
                place_key = f"{origin}{table}.{column} {key if key is not None else ''}"
                if hit.rule == "secret-setting" and hit.label:
                    place_key += f" {hit.label}"
                findings.append(
                    Finding(
                        ids(hit.rule, place_key, hit.secret),
                        hit.rule,
                        f"{origin}{table}.{column} row {where_row}",
                        _dump_excerpt(value, hit, column),
                        hit.severity,
                    )
                )
    for table, (count, _first) in sessions.items():
        findings.append(
            Finding(
                ids("session-data", f"{origin}{table}", ""),
                "session-data",
                f"{origin}{table} ({count} row{'s' if count != 1 else ''})",
                f"session / login-key table holding {count} row{'s' if count != 1 else ''}",
                "high",
            )
        )
    return findings


def detect_prefix(tables: Iterable[str]) -> Optional[str]:
    """The WordPress table prefix: P such that P+"users" and P+"usermeta" are both tables (the shortest
    such P, i.e. the main site's). None if there is none."""
    names = set(tables)
    found = [
        t[: -len("usermeta")] for t in names if t.endswith("usermeta") and t[: -len("usermeta")] + "users" in names
    ]
    return min(found, key=len) if found else None
