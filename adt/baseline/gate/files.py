"""File rules and the webroot walk: `scan_tree` and `scan_text`.

What the walk does with what it meets:
  * symlinks (files and directories) are not followed nor read: git stores a symlink as the link itself, so
    a link pointing outside the webroot publishes no content, and the target of a link pointing inside is
    scanned where it lives;
  * `.git` (directory or gitfile) is reported and not entered; `.htpasswd` files are reported;
  * binary files (adt.text.binary: a NUL byte in the first 8 KB) are skipped, except dump archives
    (`*.sql.gz` …) which are reported;
  * text files larger than 5 MB are reported as `unscanned-large-file` instead of being read (a text file
    that size in a webroot is usually a log or a dump); files that cannot be read are reported as
    `unreadable-file`: the gate fails closed;
  * `*.sql` text files are scanned with the dump rules as well.
"""

from __future__ import annotations

import bisect
import fnmatch
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

from adt.baseline.gate.dumps import scan_dump
from adt.baseline.gate.findings import Finding, Ids, mask
from adt.baseline.gate.heuristics import (
    TOKEN_RULES,
    Hit,
    Text,
    is_placeholder,
    looks_random,
    merge_windows,
    resolve,
    secret_name,
    token_hits,
)
from adt.text import BINARY_SNIFF, binary

MAX_TEXT_BYTES = 5 * 1024 * 1024

# ---------------------------------------------------------------------------------------------- file rules

_Q = r"""(?:'(?P<{0}sq>(?:[^'\\\n]|\\.){{0,512}})'|"(?P<{0}dq>(?:[^"\\\n]|\\.){{0,512}})")"""
_VALUE = _Q.format("v")


def _value(match) -> Tuple[str, int, int]:
    for group in ("vsq", "vdq"):
        if match.group(group) is not None:
            return match.group(group), match.start(group), match.end(group)
    raise ValueError("no value group")


@dataclass(frozen=True)
class _Assign:
    rule: str
    pattern: "re.Pattern[str]"
    names: Optional["re.Pattern[str]"] = None  # restricts the captured name (CMS config rules)
    severity: str = "high"


_NAME_HINT = r"[\w.\-]{0,48}?(?i:pass|pwd|secret|token|salt|key|credential|bearer)[\w.\-]{0,48}"

# the well-known configuration files: any non-empty literal that is not a placeholder
CMS_RULES: Tuple[Tuple["re.Pattern[str]", Tuple[_Assign, ...]], ...] = (
    (
        re.compile(r"^wp-config.*", re.I),
        (
            _Assign(
                "wordpress-db-password",
                re.compile(r"define\s*\(\s*['\"](?P<name>DB_PASSWORD)['\"]\s*,\s*" + _VALUE + r"\s*\)"),
            ),
            _Assign(
                "wordpress-salt",
                re.compile(
                    r"define\s*\(\s*['\"](?P<name>(?:SECURE_)?AUTH_(?:KEY|SALT)|LOGGED_IN_(?:KEY|SALT)|NONCE_(?:KEY|SALT))"
                    r"['\"]\s*,\s*" + _VALUE + r"\s*\)"
                ),
            ),
        ),
    ),
    (
        re.compile(r"^configuration.*\.php|^configuration\.php.*", re.I),
        (
            _Assign(
                "joomla-config-secret",
                re.compile(
                    r"(?:public|var)\s+\$(?P<name>password|secret|smtppass|ftp_pass|proxy_pass|redis_server_auth"
                    r"|session_redis_server_auth|memcached_server_auth)\s*=\s*" + _VALUE
                ),
            ),
        ),
    ),
    (
        re.compile(r"^(?:default\.)?settings(?:\.[\w\-]+)?\.php.*", re.I),
        (
            _Assign("drupal-db-password", re.compile(r"['\"](?P<name>password)['\"]\s*=>\s*" + _VALUE)),
            _Assign(
                "drupal-hash-salt",
                re.compile(
                    r"(?:\$settings\s*\[\s*['\"](?P<name>hash_salt)['\"]\s*\]|\$(?P<name7>drupal_hash_salt))\s*=\s*"
                    + _VALUE
                ),
            ),
        ),
    ),
    (
        re.compile(r"^config(?:-dist)?\.php.*", re.I),
        (
            _Assign(
                "moodle-config-secret",
                re.compile(
                    r"\$CFG->(?P<name>dbpass|passwordsaltmain|passwordsaltalt\d*|smtppass|proxypassword)\s*=\s*"
                    + _VALUE
                ),
            ),
        ),
    ),
)

# anywhere in PHP / JSON / YAML: a secret-looking name with a random-looking literal
GENERIC_RULES: Tuple[_Assign, ...] = (
    _Assign(
        "secret-assignment",
        re.compile(r"define\s*\(\s*['\"](?P<name>" + _NAME_HINT + r")['\"]\s*,\s*" + _VALUE + r"\s*\)"),
        severity="medium",
    ),
    _Assign(
        "secret-assignment",
        re.compile(r"""(?<![\w\\])['"](?P<name>""" + _NAME_HINT + r""")['"]\s*(?:=>|:)\s*""" + _VALUE),
        severity="medium",
    ),
    _Assign(
        "secret-assignment",
        re.compile(r"(?:\$|->|::|\bconst\s+)(?P<name>" + _NAME_HINT + r")\s*=\s*" + _VALUE),
        severity="medium",
    ),
)
_LINE_ASSIGN = re.compile(
    r"(?m)^[ \t]*(?:export[ \t]+)?(?P<name>[A-Za-z_][\w.\-]{0,80})[ \t]*[=:][ \t]*(?P<raw>[^\n]*?)[ \t]*\r?$"
)

PHP_EXT = frozenset({"php", "inc", "module", "install", "phtml", "theme", "profile", "engine"})
JSON_EXT = frozenset({"json"})
LINE_EXT = frozenset({"ini", "conf", "cnf", "cfg", "env", "properties", "toml", "yml", "yaml", "neon", "npmrc"})
BACKUP_SUFFIXES = frozenset(
    {
        "bak",
        "old",
        "orig",
        "save",
        "backup",
        "dist",
        "sample",
        "copy",
        "tmp",
        "swp",
        "txt",
        "1",
        "2",
        "example",
        "template",
        "default",
        "local",
    }
)
DUMP_ARCHIVE_RE = re.compile(r"\.(?:sql|psql|mysql|dump)\.(?:gz|bz2|xz|zst|zip|7z)$|\.sql\.tar(?:\.\w+)?$", re.I)
COMMENT_PREFIXES = ("*", "//", "#", "/*", ";", "<!--", "--")


def file_kind(name: str) -> str:
    """'php', 'json', 'line' (key=value / key: value files), 'env' or '' by the name, looking through
    backup suffixes (wp-config.php.bak is PHP source served as text: exactly what leaks)."""
    lower = name.lower().rstrip("~")
    if lower == ".env" or lower.startswith(".env.") or lower.endswith(".env"):
        return "env"
    if lower in (".npmrc", ".my.cnf", ".pypirc", ".s3cfg"):
        return "line"
    parts = lower.split(".")
    while len(parts) > 2 and parts[-1] in BACKUP_SUFFIXES:
        parts.pop()
    ext = parts[-1] if len(parts) > 1 else ""
    if ext in PHP_EXT:
        return "php"
    if ext in JSON_EXT:
        return "json"
    if ext in LINE_EXT:
        return "line"
    return ""


def _commented(text: str, pos: int) -> bool:
    line_start = text.rfind("\n", 0, pos) + 1
    return text[line_start:pos].lstrip().startswith(COMMENT_PREFIXES)


_HINTS = ("pass", "pwd", "secret", "token", "salt", "key", "credential", "bearer")
_HINT_FOLLOW = re.compile(r"[\w.\-]{0,48}['\"]?\s*(?:=>|=|:|,)\s*['\"]")


def _assignment_windows(source: "Text") -> List[Tuple[int, int]]:
    """Lines (and the next one) where a secret-hint word is followed by an assignment of a quoted literal:
    the only places the generic assignment regexes need to look at."""
    text, windows = source.text, []
    for hint in _HINTS:
        for pos in source.positions(hint, True):
            follow = _HINT_FOLLOW.match(text, pos + len(hint))
            if not follow:
                continue
            start = text.rfind("\n", 0, pos) + 1
            end = text.find("\n", follow.end())
            end = len(text) if end < 0 else end
            windows.append((start, end))
    return merge_windows(windows)


def _assign_hits(
    text: str,
    rules: Sequence[_Assign],
    priority: int,
    accept: Callable[[str, str, bool], bool],
    skip_comments: bool = True,
    windows: Optional[List[Tuple[int, int]]] = None,
) -> List[Hit]:
    hits = []
    for rule in rules:
        matches = (
            m
            for start, end in (windows if windows is not None else [(0, len(text))])
            for m in rule.pattern.finditer(text, start, end)
        )
        for match in matches:
            name = match.group("name") or (match.groupdict().get("name7") or "")
            value, start, end = _value(match)
            if skip_comments and _commented(text, match.start()):
                continue
            if match.group("vdq") is not None and re.search(r"\$[A-Za-z_{]", value):
                continue  # PHP interpolation: not a literal
            if not accept(name, value, match.group("vsq") is None):
                continue
            hits.append(Hit(rule.rule, start, end, value, rule.severity, priority, name))
    return hits


def _cms_accept(name: str, value: str, variables: bool) -> bool:
    return bool(value) and not is_placeholder(value, variables)


def _generic_accept(name: str, value: str, variables: bool) -> bool:
    return secret_name(name) and looks_random(value, variables=variables)


def _unquote(raw: str) -> Tuple[str, int, int]:
    """Value of a `key = value` line: (value, start, end) relative to raw; quotes and trailing comments off."""
    if len(raw) >= 2 and raw[0] in "'\"" and raw.find(raw[0], 1) > 0:
        end = raw.find(raw[0], 1)
        return raw[1:end], 1, end
    cut = re.search(r"\s[#;]", raw)
    value = raw[: cut.start()] if cut else raw
    value = value.rstrip()
    return value, 0, len(value)


def _line_hits(text: str, env: bool, priority: int) -> List[Hit]:
    hits = []
    for match in _LINE_ASSIGN.finditer(text):
        name, raw = match.group("name"), match.group("raw")
        if not secret_name(name):
            continue
        value, start, end = _unquote(raw)
        if env:
            ok = bool(value) and not is_placeholder(value)
        else:
            ok = looks_random(value)
        if ok:
            base = match.start("raw")
            hits.append(
                Hit(
                    "env-secret" if env else "secret-assignment",
                    base + start,
                    base + end,
                    value,
                    "high" if env else "medium",
                    priority,
                    name,
                )
            )
    return hits


def text_hits(text: str, name: str) -> List[Hit]:
    """Every secret in one file's text (its base name decides which config rules apply)."""
    kind = file_kind(name)
    source = Text(text)
    hits = token_hits(source)
    base = len(TOKEN_RULES)
    if kind == "php":
        for pattern, rules in CMS_RULES:
            if pattern.match(name):
                hits += _assign_hits(text, rules, base, _cms_accept)
    if kind in ("php", "json"):
        hits += _assign_hits(
            text,
            GENERIC_RULES,
            base + 2,
            _generic_accept,
            skip_comments=kind == "php",
            windows=_assignment_windows(source),
        )
    elif kind in ("env", "line"):
        hits += _line_hits(text, kind == "env", base + 1)
    return resolve(hits)


def _excerpt(text: str, hit: Hit, hits: Sequence[Hit], width: int = 140) -> str:
    """The hit's line with every secret on it masked, cut to `width` around the hit."""
    line_start = text.rfind("\n", 0, hit.start) + 1
    line_end = text.find("\n", hit.start)
    line_end = len(text) if line_end < 0 else line_end
    if hit.rule == "private-key":
        marker = re.search(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----", text[max(0, hit.start - 80) : hit.start]
        )
        header = marker.group(0) if marker else "PRIVATE KEY"
        body = re.sub(r"\\[nr]|\s", "", hit.secret)
        return f"{header} {mask(body)}"
    pieces, pos, focus = [], line_start, 0
    for other in hits:
        if other.end <= line_start or other.start >= line_end:
            continue
        start, end = max(other.start, line_start), min(other.end, line_end)
        if start < pos:
            continue
        pieces.append(text[pos:start])
        if other is hit:
            focus = sum(len(p) for p in pieces)
        pieces.append(mask(other.secret) if other is hit or other.start >= line_start else "…")
        pos = end
    pieces.append(text[pos:line_end])
    line = "".join(pieces).replace("\t", " ").rstrip("\r")
    if len(line) > width:
        left = max(0, min(focus - width // 3, len(line) - width))
        line = ("…" if left else "") + line[left : left + width].strip() + ("…" if left + width < len(line) else "")
    return line.strip()


class _LineIndex:
    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, pos: int) -> int:
        return bisect.bisect_right(self.starts, pos)


def scan_text(text: str, rel: str, ids: Optional[Ids] = None) -> List[Finding]:
    """Findings in one file's text; `rel` is its path relative to the webroot (posix)."""
    ids = ids or Ids()
    hits = text_hits(text, rel.rsplit("/", 1)[-1])
    if not hits:
        return []
    index = _LineIndex(text)
    findings = []
    for hit in hits:
        excerpt = _excerpt(text, hit, hits)
        findings.append(
            Finding(ids(hit.rule, rel, hit.secret), hit.rule, f"{rel}:{index.line(hit.start)}", excerpt, hit.severity)
        )
    return findings


# ---------------------------------------------------------------------------------------------- the walk


def _excluded(rel: str, excludes: Sequence[str]) -> bool:
    """gitignore-like: a pattern with a slash matches the path (or a parent directory) from the root, one
    without a slash matches any path component."""
    parts = rel.split("/")
    for pattern in excludes:
        pattern = pattern.strip().strip("/")
        if not pattern:
            continue
        if "/" in pattern:
            if any(fnmatch.fnmatchcase("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1)):
                return True
        elif any(fnmatch.fnmatchcase(part, pattern) for part in parts):
            return True
    return False


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _walk(root: Path, excludes: Sequence[str]) -> Iterator[Tuple[str, Path, os.stat_result]]:
    """(relative posix path, path, lstat) of every entry below root that is published, in sorted order;
    symlinks and excluded paths are left out, `.git` is yielded but not entered."""
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        directory = root / rel_dir if rel_dir else root
        try:
            names = sorted(os.listdir(directory))
        except OSError as error:
            yield rel_dir, directory, error  # type: ignore[misc]
            continue
        subdirs = []
        for name in names:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if _excluded(rel, excludes):
                continue
            path = directory / name
            try:
                st = os.lstat(path)
            except OSError as error:
                yield rel, path, error  # type: ignore[misc]
                continue
            if stat.S_ISLNK(st.st_mode):
                continue
            if stat.S_ISDIR(st.st_mode) and name != ".git":
                subdirs.append(rel)
            else:
                yield rel, path, st
        stack.extend(reversed(subdirs))


def scan_tree(root: Union[str, Path], excludes: Sequence[str] = ()) -> List[Finding]:
    """Every finding in the webroot at `root` (see the module docstring for what is read and skipped).
    `excludes` are gitignore-like patterns relative to root, e.g. "wp-content/cache", "*.log"."""
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"not a directory: {root}")
    ids = Ids()
    findings: List[Finding] = []
    for rel, path, st in _walk(root, excludes):
        name = rel.rsplit("/", 1)[-1]
        if isinstance(st, OSError):
            findings.append(
                Finding(
                    ids("unreadable-file", rel, ""),
                    "unreadable-file",
                    f"{rel}:0",
                    f"cannot read: {st.strerror or st}",
                    "medium",
                )
            )
            continue
        if name == ".git":
            findings.append(
                Finding(
                    ids("git-directory", rel, ""),
                    "git-directory",
                    f"{rel}:0",
                    "git metadata (history, remotes, maybe credentials) would be published",
                    "high",
                )
            )
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        try:
            findings += _scan_file(rel, path, st, ids)
        except OSError as error:
            findings.append(
                Finding(
                    ids("unreadable-file", rel, ""),
                    "unreadable-file",
                    f"{rel}:0",
                    f"cannot read: {error.strerror or error}",
                    "medium",
                )
            )
    return findings


def _scan_file(rel: str, path: Path, st: os.stat_result, ids: Ids) -> List[Finding]:
    name = rel.rsplit("/", 1)[-1]
    if DUMP_ARCHIVE_RE.search(name):
        return [
            Finding(
                ids("database-dump-file", rel, _sha256_file(path)),
                "database-dump-file",
                f"{rel}:0",
                f"compressed database dump, {st.st_size} bytes",
                "high",
            )
        ]
    with open(path, "rb") as f:
        head = f.read(BINARY_SNIFF)
        if binary(head):
            return []
        if st.st_size > MAX_TEXT_BYTES:
            return [
                Finding(
                    ids("unscanned-large-file", rel, _sha256_file(path)),
                    "unscanned-large-file",
                    f"{rel}:0",
                    f"text file of {st.st_size} bytes not scanned (limit {MAX_TEXT_BYTES})",
                    "medium",
                )
            ]
        data = head + f.read()
    text = data.decode("utf-8", "surrogateescape")
    findings = []
    if name == ".htpasswd" or name.endswith(".htpasswd"):
        entries = [line for line in text.splitlines() if ":" in line and not line.lstrip().startswith("#")]
        first = next((n for n, line in enumerate(text.splitlines(), 1) if line in entries), 1)
        findings.append(
            Finding(
                ids("htpasswd-file", rel, "\n".join(sorted(entries))),
                "htpasswd-file",
                f"{rel}:{first}",
                f"password file with {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}",
                "high",
            )
        )
        return findings
    findings += scan_text(text, rel, ids)
    if name.lower().endswith((".sql", ".psql")):
        dialect = "postgres" if name.lower().endswith(".psql") or "\nCOPY " in text else "mysql"
        for finding in scan_dump(
            [line.encode("utf-8", "surrogateescape") for line in text.splitlines(True)], dialect, place=rel
        ):
            findings.append(finding)
    return findings
