"""Publication gate: a baseline (webroot + SQL dump) is pushed only when nothing secret or personal is in it.

`scan_tree` reads the webroot, `scan_dump` the database dump (through `adt.baseline.sqldump`); both return
`Finding`s. `gate` splits them into blocking and waived by the ids listed in a `Waivers` file: the push may go
ahead only when nothing blocks. Every finding blocks unless waived, whatever its severity (the severity only
orders the report).

Findings never carry a secret: `excerpt` shows the context with each secret masked to its first characters
and "…", and `manifest` holds only ids, rules, places and excerpts.

A finding's id ("F-" + 10 hex) is a hash of its rule, its place without line numbers (file path, or
table.column and the row's primary key) and the sha256 of the secret: it survives re-runs and edits that
move lines, and changes when the secret changes (a waiver is for one value, not for a place).

What the file walk does with what it meets:
  * symlinks (files and directories) are not followed nor read: git stores a symlink as the link itself, so
    a link pointing outside the webroot publishes no content, and the target of a link pointing inside is
    scanned where it lives;
  * `.git` (directory or gitfile) is reported and not entered; `.htpasswd` files are reported;
  * binary files (a NUL byte in the first 8 KB) are skipped, except dump archives (`*.sql.gz` …) which are
    reported;
  * text files larger than 5 MB are reported as `unscanned-large-file` instead of being read (a text file
    that size in a webroot is usually a log or a dump); files that cannot be read are reported as
    `unreadable-file`: the gate fails closed;
  * `*.sql` text files are scanned with the dump rules as well.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import fnmatch
import hashlib
import math
import os
import re
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple, Union

MAX_TEXT_BYTES = 5 * 1024 * 1024
BINARY_SNIFF = 8192
SEVERITIES = ("high", "medium", "low")

# ---------------------------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Finding:
    id: str        # "F-" + 10 hex, stable (see the module docstring)
    rule: str      # e.g. "aws-access-key-id"
    where: str     # "path:line" (files) or "table.column row <pk>" (dumps)
    excerpt: str   # context with the secret masked; never the secret itself
    severity: str  # "high" | "medium" | "low"


def finding_id(rule: str, place: str, secret: str, occurrence: int = 0) -> str:
    """The stable id: rule, place without line numbers, the secret's hash and, from the second identical
    (rule, place, secret) on, its rank."""
    secret_hash = hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()
    key = f"{rule}\0{place}\0{secret_hash}" + (f"\0{occurrence}" if occurrence else "")
    return "F-" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:10]


def mask(secret: str) -> str:
    """The first few characters and "…": 4 of a long secret, fewer of a short one, none of a tiny one."""
    n = len(secret)
    keep = 4 if n >= 16 else 2 if n >= 8 else 1 if n >= 5 else 0
    return secret[:keep] + "…"


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


# ---------------------------------------------------------------------------------------------- names and values

_SECRET_WORDS = frozenset({
    "password", "passwd", "pass", "pwd", "passphrase", "passwort", "secret", "secrets", "token", "tokens",
    "salt", "credential", "credentials", "apikey", "apisecret", "privatekey", "authkey", "secretkey",
    "accesskey", "smtppass", "dbpass", "ftppass", "mailpass", "sqlpass", "userpass", "adminpass", "rootpass",
    "proxypass", "authtoken", "accesstoken", "refreshtoken", "clientsecret", "appsecret", "bearer",
})
_SECRET_SUFFIXES = ("password", "passwd", "secret", "token", "apikey", "passphrase")
_SECRET_PAIRS = frozenset({
    ("api", "key"), ("private", "key"), ("auth", "key"), ("access", "key"), ("secret", "key"),
    ("client", "secret"), ("encryption", "key"), ("signing", "key"), ("license", "key"), ("licence", "key"),
    ("app", "key"), ("master", "key"), ("consumer", "secret"), ("consumer", "key"), ("secure", "key"),
    ("logged", "in"), ("nonce", "key"), ("api", "secret"), ("shared", "secret"), ("webhook", "secret"),
})
# words after the secret word that make the name about the secret, not the secret itself
_NOT_SECRET_TAIL = frozenset({
    "length", "len", "min", "max", "minimum", "maximum", "expiry", "expires", "expiration", "expire",
    "expired", "ttl", "timeout", "lifetime", "life", "field", "fields", "label", "labels", "url", "uri", "path",
    "file", "filename", "dir", "name", "names", "type", "types", "policy", "policies", "strength", "hint",
    "reset", "placeholder", "prompt", "regex", "pattern", "chars", "characters", "count", "counter", "id",
    "ids", "required", "require", "enabled", "enable", "disabled", "mode", "format", "algo", "algorithm",
    "cost", "rounds", "header", "param", "parameter", "storage", "table", "column", "cookie", "lost",
    "confirm", "confirmation", "changed", "change", "strong", "weak", "protected", "form", "input",
    "version", "size", "valid", "validation", "validator", "meta", "option", "options", "level", "status",
    "sent", "time", "date", "created", "updated", "last", "at", "request", "requested", "error", "errors",
    "message", "text", "title", "description", "desc", "help", "button", "link", "page", "action", "nonce",
    "class", "method", "methods", "source", "endpoint", "location", "provider", "handler",
    "generator", "generate", "show", "hide", "visible", "visibility", "toggle", "expose", "exposure",
    "scope", "scopes", "user", "username", "login", "email", "mail", "auth", "authentication", "manager",
    "store", "cache", "check", "checked", "verify", "verified", "hashed", "hashing", "hash", "encrypted",
    "sanitize", "sanitized", "value", "values", "list", "index", "length", "usage", "used", "limit",
    "attempts", "retries", "strategy", "selector", "select", "color", "colour", "width", "height", "icon",
    "img", "image", "css", "js", "html", "template", "tpl", "view", "widget", "display", "enforce",
    "expiration", "interval", "period", "days", "hours", "minutes", "seconds", "ms", "host", "port",
    "spec", "specs", "state", "arn", "alias", "region", "kind", "usage", "origin", "audience", "issuer",
})
# words before it that make the name a flag or a label
_NOT_SECRET_HEAD = frozenset({
    "is", "has", "use", "uses", "require", "requires", "allow", "enable", "enabled", "disable", "show",
    "hide", "min", "max", "no", "lost", "reset", "forgot", "forgotten", "change", "new", "confirm",
    "default", "strong", "weak", "label", "placeholder", "input", "field", "form", "i18n", "msg", "text",
    "invalid", "empty", "wrong", "bad", "incorrect", "missing", "validate", "check", "generate", "random",
    "csrf", "xsrf", "form", "nonce", "cache", "page", "next", "continuation", "cursor", "paging",
})


def name_words(name: str) -> List[str]:
    words: List[str] = []
    for part in re.split(r"[^A-Za-z0-9]+", name):
        words += [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", part)]
    return words


def secret_name(name: str) -> bool:
    """Whether a setting's name says its value is a secret: password, passwd, secret, api_key, token,
    auth_key, private_key, client_secret, smtppass, hash_salt … but not password_min_length, token_type,
    show_password, csrf_token."""
    words = name_words(name)
    if not words:
        return False
    for i, word in enumerate(words):
        pair = i + 1 < len(words) and (word, words[i + 1]) in _SECRET_PAIRS
        if not (word in _SECRET_WORDS or pair or (len(word) > 6 and word.endswith(_SECRET_SUFFIXES))):
            continue
        tail = words[i + (2 if pair else 1):]
        if any(w in _NOT_SECRET_TAIL for w in tail):
            return False
        if any(w in _NOT_SECRET_HEAD for w in words[:i]):
            return False
        return True
    return False


_PLACEHOLDER_WORDS = frozenset({
    "", "password", "passwd", "pass", "pwd", "secret", "secrets", "token", "key", "apikey", "api_key",
    "changeme", "change_me", "change-me", "changeit", "change_it", "null", "none", "nil", "undefined",
    "false", "true", "yes", "no", "on", "off", "example", "sample", "test", "testing", "dummy", "placeholder",
    "redacted", "removed", "hidden", "masked", "secret_key", "secretkey", "mypassword", "my_password",
    "yourpassword", "your_password", "password_here", "put your unique phrase here", "sqlpassword",
    "dbpassword", "db_password", "your-secret", "yoursecret", "todo", "tbd", "fixme", "default", "admin",
    "root", "user", "username", "foo", "bar", "foobar", "baz", "qwerty", "letmein", "pa55word", "p@ssw0rd",
    "s3cr3t", "password123", "password1", "123456", "12345678", "abc123", "xyz", "empty", "notset", "not set",
    "not cached", "*", "env", "required", "optional", "string", "value", "secretvalue", "mysecret",
    "fbvtggik5lazeu9h",  # the $secret shipped in Joomla 3's installation/configuration.php-dist
})
_PLACEHOLDER_RE = re.compile(  # whole values only: a real secret that merely contains "example" is no placeholder
    r"""(?ix)
    ^(.)\1*$                                                                # xxxxxxxx, ********
    | ^<[^<>]*>$ | ^\{\{[^{}]*\}\}$ | ^\{[\w.\-]+\}$ | ^\[[\w.\-\s]+\]$         # <secret>, {{x}}, {x}, [x]
    | ^%[\w.\-]+%$ | ^@[\w.\-]+@$ | ^__[\w\-]+__$ | ^%\([\w.\-]+\)[sd]$         # %X%, @X@, __X__, %(x)s
    | ^(?:env|getenv|secret|vault|ssm)(?::[\w./\-]+|\(['"]?[\w./\-]+['"]?\))$    # env:X, getenv('X')
    """)
# words a placeholder is made of ("your-secret-key-here", "put your unique phrase here", "EXAMPLE_TOKEN"): a value
# is a placeholder when every one of its words is such a word and one of them says so
_FILLER_WORDS = frozenset({
    "your", "my", "some", "the", "a", "an", "here", "goes", "go", "put", "enter", "insert", "replace", "add", "paste",
    "set", "with", "this", "to", "be", "me", "it", "in", "of", "for", "change", "secret", "password", "passwd",
    "pass", "pwd", "key", "api", "token", "access", "auth", "private", "client", "app", "db", "database", "user",
    "username", "login", "value", "string", "phrase", "unique", "random", "long", "strong", "salt", "nonce",
    "logged", "secure", "id", "account", "mail", "smtp", "aws", "s3", "test", "new",
})
_PLACEHOLDER_MARKS = frozenset({
    "example", "examples", "sample", "placeholder", "changeme", "dummy", "redacted", "here", "your", "xxx", "xxxx",
    "todo", "tbd", "fixme", "fake", "unique", "replace", "insert", "enter", "paste", "put", "change",
})
_WORD_SPLIT = re.compile(r"[\s_\-.]+")


def _made_of_placeholder_words(text: str) -> bool:
    words = [w for w in _WORD_SPLIT.split(text.lower()) if w]
    marks = _PLACEHOLDER_MARKS | {"x" * n for n in range(3, 9)}
    return bool(words) and any(w in marks for w in words) and \
        all(w in _FILLER_WORDS or w in marks or w in _PLACEHOLDER_WORDS for w in words)


_VARIABLE_RE = re.compile(r"^\$(?:[A-Za-z_]\w*|\{[A-Za-z_]\w*\})$")  # $VAR, ${VAR}: the whole value


def is_placeholder(value: str, variables: bool = True) -> bool:
    """Empty, a template reference, or a word nobody uses as a real secret; with `variables`, also a value
    starting with $VAR / ${VAR} (not for PHP single-quoted literals, where `$` is just a character)."""
    text = value.strip()
    if text.lower() in _PLACEHOLDER_WORDS:
        return True
    if variables and _VARIABLE_RE.match(text):
        return True
    return bool(_PLACEHOLDER_RE.search(text)) or _made_of_placeholder_words(text)


_IDENTIFIER_RE = re.compile(
    r"^(?:[a-z]+(?:[_.\-][a-z]+)*"           # snake_case, kebab-case, dotted.name (letters only)
    r"|[A-Z]+(?:_[A-Z0-9]+)*"                 # CONSTANT_NAME, RSA_2048
    r"|[a-z]+(?:[A-Z][a-z]+)+"                # camelCase
    r"|(?:[A-Z][a-z]+)+"                      # PascalCase
    r"|[a-z][a-z0-9]*(?:[_\-][a-z0-9]+)*_?"  # snake with digits, e.g. wp_5_hash-sha1
    r")$")
_NOT_SECRET_SHAPES = re.compile(
    r"""(?x)
    ^[\d\s.,:+\-/]+$                       # numbers, dates, versions, times
    | ^v?\d+(?:\.\d+)+[\w.\-]*$            # versions
    | ^\#[0-9a-fA-F]{3,8}$                 # colours
    | ^(?:https?|ftp|file|data|mailto|tel):   # URLs (credentials in URLs have their own rule)
    | ^(?:\.{0,2}/|~/|[A-Za-z]:\\)          # paths
    | ^[\w.\-]+/[\w.\-/]+\.(?:php|js|css|html?|json|xml|txt|png|jpe?g|gif|svg|ini|ya?ml|log|md)$
    | ^[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+$      # e-mail addresses
    | \s                                   # sentences, format strings
    | %[sdif]|%\d\$|\{\d\}|\\[nt]           # printf / format placeholders, escapes
    | [\w\]]\[-?\d*\]                       # JMESPath / array expressions: Jobs[-1].JobId
    """)


def identifier_like(value: str) -> bool:
    """Shaped like a name rather than a secret: snake / kebab / camel / Pascal / CONSTANT case, or words
    joined by . : / - whose every part is a pronounceable word (DistributionList.NextMarker). Random
    strings fail: they have digits, one-letter chunks or chunks without vowels."""
    if _IDENTIFIER_RE.match(value):
        return True
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.:/\-]*", value):
        return False
    return all(w.isalpha() and len(w) >= 2 and re.search("[aeiouy]", w) for w in name_words(value))


def char_classes(value: str) -> int:
    return (any(c.islower() for c in value) + any(c.isupper() for c in value)
            + any(c.isdigit() for c in value) + any(not c.isalnum() for c in value))


def entropy_threshold(length: int) -> float:
    """Bits per character a random-looking secret of this length reaches: 0.75 × log2(length), capped at
    3.0. The entropy of a short string can't exceed log2(length), so a fixed threshold would miss every
    random password under 12 characters; 0.75 lets ADT-style 10-character passwords through (≈2.9–3.3)
    and keeps repetitive words out."""
    return min(3.0, 0.75 * math.log2(max(length, 2)))


def looks_random(value: str, min_length: int = 8, variables: bool = True) -> bool:
    """The value of a secret-named setting outside the well-known config files: a literal of at least
    `min_length` characters, two or more character classes, not shaped like an identifier, path, URL,
    number or sentence, and with enough entropy for its length."""
    if len(value) < min_length or len(value) > 512 or is_placeholder(value, variables):
        return False
    if identifier_like(value) or _NOT_SECRET_SHAPES.search(value):
        return False
    if char_classes(value) < 2:
        return False
    return entropy(value) >= entropy_threshold(len(value))


# ---------------------------------------------------------------------------------------------- token rules


@dataclass(frozen=True)
class _Token:
    """A token rule. The regex runs only on windows around its anchors (literals found with str.find, in
    the lower-cased text when `fold`): `back` characters before an anchor, `fwd` after. Python's re has no
    multi-literal prefilter, and running 15 regexes over every byte of a webroot is what made this slow."""
    rule: str
    pattern: "re.Pattern[str]"
    anchors: Tuple[str, ...]
    group: Union[int, str] = 1
    check: Optional[Callable[[str, "re.Match[str]"], bool]] = None
    severity: str = "high"
    back: int = 4
    fwd: int = 256
    fold: bool = False
    requires: str = ""                  # a literal that must also be in the text


def _no_example(secret: str, match) -> bool:
    return "EXAMPLE" not in secret.upper()


def _base64_body(secret: str, match) -> bool:
    body = re.sub(r"\\[nr]|[^A-Za-z0-9+/=]", "", re.sub(r"(?m)^[\w\-]+:.*$", "", secret))
    return len(body) >= 64 and not is_placeholder(secret)


def _jwt_header(secret: str, match) -> bool:
    head = secret.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
        return b'"alg"' in decoded or b'"typ"' in decoded
    except (binascii.Error, ValueError):
        return False


def _mixed(secret: str, match) -> bool:
    return (char_classes(secret) >= 3 and entropy(secret) >= 3.5) and _no_example(secret, match)


def _random_hex(secret: str, match) -> bool:
    return entropy(secret) >= 3.0 and any(c.isdigit() for c in secret) and any(c.isalpha() for c in secret)


RESERVED_DOMAIN_RE = re.compile(
    r"(?i)(?:^|\.)(?:example\.(?:com|net|org)|example|invalid|test|localhost|localdomain|local"
    r"|applicationdomain\.tld)$")


def reserved_domain(domain: str) -> bool:
    """RFC 2606/6761 names (example.com/.net/.org, *.example, *.invalid, *.test, *.localhost), bare
    localhost, and the ADT placeholder applicationdomain.tld."""
    domain = domain.rstrip(".")
    return domain.lower() in ("localhost", "localhost.localdomain") or bool(RESERVED_DOMAIN_RE.search(domain))


def _url_credentials(secret: str, match) -> bool:
    user, password, host = match.group("user"), match.group("password"), match.group("host")
    if reserved_domain(host) or is_placeholder(password) or is_placeholder(user):
        return False
    if any(c in password + user for c in "$%{}<>*[]") or password.isdigit():
        return False
    return password.lower() not in (user.lower(), "pass", "passwd", "password", "secret", "pw")


TOKEN_RULES: Tuple[_Token, ...] = (
    _Token("private-key", re.compile(
        r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----"
        r"(?P<body>(?:\\[nr]|[\sA-Za-z0-9+/=:,.\-])+?)-----END \1PRIVATE KEY(?: BLOCK)?-----"),
        ("PRIVATE KEY",), "body", _base64_body, back=40, fwd=32768),
    _Token("aws-access-key-id", re.compile(r"(?<![A-Za-z0-9])((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?![A-Za-z0-9])"),
           ("AKIA", "ASIA", "ABIA", "ACCA"), 1, _no_example),
    _Token("aws-secret-access-key", re.compile(
        r"(?i)(?:aws_?secret(?:_?access)?_?key|secret_?access_?key)['\"]?\s*(?:=>|=|:|,)\s*['\"]?"
        r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"), ("secret",), 1, _mixed, back=16, fold=True),
    _Token("github-token", re.compile(
        r"(?<![A-Za-z0-9_])(gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})(?![A-Za-z0-9_])"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    _Token("gitlab-token", re.compile(r"(?<![A-Za-z0-9_\-])(glpat-[A-Za-z0-9_\-]{20,64})(?![A-Za-z0-9_\-])"),
           ("glpat-",)),
    _Token("slack-token", re.compile(
        r"(?<![A-Za-z0-9])(xox[abprs]-(?:\d{6,15}-){1,3}[A-Za-z0-9]{10,64})(?![A-Za-z0-9\-])"), ("xox",)),
    _Token("slack-webhook", re.compile(
        r"hooks\.slack\.com/services/(T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,32})"), ("hooks.slack.com",)),
    _Token("stripe-key", re.compile(r"(?<![A-Za-z0-9_])((?:sk|rk)_live_[0-9A-Za-z]{20,99})(?![A-Za-z0-9])"),
           ("_live_",)),
    _Token("google-api-key", re.compile(r"(?<![A-Za-z0-9_\-])(AIza[0-9A-Za-z_\-]{35})(?![A-Za-z0-9_\-])"),
           ("AIza",)),
    _Token("sendgrid-key", re.compile(
        r"(?<![A-Za-z0-9])(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})(?![A-Za-z0-9_\-])"), ("SG.",)),
    _Token("mailgun-key", re.compile(r"(?<![A-Za-z0-9_\-])(key-[0-9a-zA-Z]{32})(?![A-Za-z0-9])"), ("key-",),
           1, _random_hex),
    _Token("twilio-key", re.compile(r"(?<![A-Za-z0-9])(SK[0-9a-f]{32})(?![A-Za-z0-9])"), ("SK",), 1, _random_hex),
    _Token("twilio-auth-token", re.compile(
        r"(?i)twilio\w{0,24}?(?:auth)?_?(?:token|secret)['\"]?\s*(?:=>|=|:|,)\s*['\"]?([0-9a-f]{32})(?![0-9a-f])"),
        ("twilio",), 1, _random_hex, fold=True),
    _Token("jwt", re.compile(
        r"(?<![A-Za-z0-9_\-])(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,})"), ("eyJ",),
        1, _jwt_header, fwd=16384),
    _Token("url-credentials", re.compile(
        r"(?i)(?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]{1,15}://(?P<user>[^\s:/?#@'\"<>\\`]{1,64}):"
        r"(?P<password>[^\s/?#@'\"<>\\`]{1,128})@(?P<host>[A-Za-z0-9][A-Za-z0-9.\-]*)"), ("://",),
        "password", _url_credentials, "medium", back=17, fwd=400, requires="@"),
)

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
    names: Optional["re.Pattern[str]"] = None   # restricts the captured name (CMS config rules)
    severity: str = "high"


_NAME_HINT = r"[\w.\-]{0,48}?(?i:pass|pwd|secret|token|salt|key|credential|bearer)[\w.\-]{0,48}"

# the well-known configuration files: any non-empty literal that is not a placeholder
CMS_RULES: Tuple[Tuple["re.Pattern[str]", Tuple[_Assign, ...]], ...] = (
    (re.compile(r"^wp-config.*", re.I), (
        _Assign("wordpress-db-password", re.compile(
            r"define\s*\(\s*['\"](?P<name>DB_PASSWORD)['\"]\s*,\s*" + _VALUE + r"\s*\)")),
        _Assign("wordpress-salt", re.compile(
            r"define\s*\(\s*['\"](?P<name>(?:SECURE_)?AUTH_(?:KEY|SALT)|LOGGED_IN_(?:KEY|SALT)|NONCE_(?:KEY|SALT))"
            r"['\"]\s*,\s*" + _VALUE + r"\s*\)")),
    )),
    (re.compile(r"^configuration.*\.php|^configuration\.php.*", re.I), (
        _Assign("joomla-config-secret", re.compile(
            r"(?:public|var)\s+\$(?P<name>password|secret|smtppass|ftp_pass|proxy_pass|redis_server_auth"
            r"|session_redis_server_auth|memcached_server_auth)\s*=\s*" + _VALUE)),
    )),
    (re.compile(r"^(?:default\.)?settings(?:\.[\w\-]+)?\.php.*", re.I), (
        _Assign("drupal-db-password", re.compile(r"['\"](?P<name>password)['\"]\s*=>\s*" + _VALUE)),
        _Assign("drupal-hash-salt", re.compile(
            r"(?:\$settings\s*\[\s*['\"](?P<name>hash_salt)['\"]\s*\]|\$(?P<name7>drupal_hash_salt))\s*=\s*"
            + _VALUE)),
    )),
    (re.compile(r"^config(?:-dist)?\.php.*", re.I), (
        _Assign("moodle-config-secret", re.compile(
            r"\$CFG->(?P<name>dbpass|passwordsaltmain|passwordsaltalt\d*|smtppass|proxypassword)\s*=\s*"
            + _VALUE)),
    )),
)

# anywhere in PHP / JSON / YAML: a secret-looking name with a random-looking literal
GENERIC_RULES: Tuple[_Assign, ...] = (
    _Assign("secret-assignment", re.compile(
        r"define\s*\(\s*['\"](?P<name>" + _NAME_HINT + r")['\"]\s*,\s*" + _VALUE + r"\s*\)"), severity="medium"),
    _Assign("secret-assignment", re.compile(
        r"""(?<![\w\\])['"](?P<name>""" + _NAME_HINT + r""")['"]\s*(?:=>|:)\s*""" + _VALUE),
        severity="medium"),
    _Assign("secret-assignment", re.compile(
        r"(?:\$|->|::|\bconst\s+)(?P<name>" + _NAME_HINT + r")\s*=\s*" + _VALUE), severity="medium"),
)
_LINE_ASSIGN = re.compile(
    r"(?m)^[ \t]*(?:export[ \t]+)?(?P<name>[A-Za-z_][\w.\-]{0,80})[ \t]*[=:][ \t]*(?P<raw>[^\n]*?)[ \t]*\r?$")

PHP_EXT = frozenset({"php", "inc", "module", "install", "phtml", "theme", "profile", "engine"})
JSON_EXT = frozenset({"json"})
LINE_EXT = frozenset({"ini", "conf", "cnf", "cfg", "env", "properties", "toml", "yml", "yaml", "neon", "npmrc"})
BACKUP_SUFFIXES = frozenset({"bak", "old", "orig", "save", "backup", "dist", "sample", "copy", "tmp", "swp",
                             "txt", "1", "2", "example", "template", "default", "local"})
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


@dataclass
class _Hit:
    rule: str
    start: int
    end: int
    secret: str
    severity: str
    priority: int
    label: str = ""          # e.g. the setting's name, shown before the masked value


class _Ids:
    """Hands out ids, counting identical (rule, place, secret) so repeats get distinct, stable ids."""

    def __init__(self):
        self.seen: Counter = Counter()

    def __call__(self, rule: str, place: str, secret: str) -> str:
        key = (rule, place, secret)
        n = self.seen[key]
        self.seen[key] += 1
        return finding_id(rule, place, secret, n)


def _commented(text: str, pos: int) -> bool:
    line_start = text.rfind("\n", 0, pos) + 1
    return text[line_start:pos].lstrip().startswith(COMMENT_PREFIXES)


class _Text:
    """A text and, made once when needed, its lower-cased twin for case-insensitive anchor search."""

    def __init__(self, text: str):
        self.text = text
        self._low: Optional[str] = None

    @property
    def low(self) -> str:
        """The text lower-cased with every offset kept: str.lower() unless some Unicode character changes
        length (İ), then ASCII-only lower-casing (the anchors are ASCII)."""
        if self._low is None:
            low = self.text.lower()
            if len(low) != len(self.text):
                low = self.text.encode("ascii", "replace").lower().decode("ascii")
            self._low = low
        return self._low

    def positions(self, anchor: str, fold: bool) -> Iterator[int]:
        haystack = self.low if fold else self.text
        pos = haystack.find(anchor)
        while pos >= 0:
            yield pos
            pos = haystack.find(anchor, pos + 1)


def _merge(windows: Iterable[Tuple[int, int]]) -> List[Tuple[int, int]]:
    merged: List[List[int]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def _token_hits(source: Union[str, "_Text"]) -> List[_Hit]:
    source = source if isinstance(source, _Text) else _Text(source)
    text, hits = source.text, []
    if len(text) < 9:
        return hits
    for priority, token in enumerate(TOKEN_RULES):
        if token.requires and token.requires not in text:
            continue
        haystack = source.low if token.fold else text
        anchors = [a for a in token.anchors if a in haystack]  # C-speed test first: most texts have none
        if not anchors:
            continue
        windows = _merge((max(0, pos - token.back), min(len(text), pos + len(anchor) + token.fwd))
                         for anchor in anchors for pos in source.positions(anchor, token.fold))
        for start, end in windows:
            for match in token.pattern.finditer(text, start, end):
                secret = match.group(token.group)
                if token.check and not token.check(secret, match):
                    continue
                hits.append(_Hit(token.rule, match.start(token.group), match.end(token.group), secret,
                                 token.severity, priority))
    return hits


_HINTS = ("pass", "pwd", "secret", "token", "salt", "key", "credential", "bearer")
_HINT_FOLLOW = re.compile(r"[\w.\-]{0,48}['\"]?\s*(?:=>|=|:|,)\s*['\"]")


def _assignment_windows(source: "_Text") -> List[Tuple[int, int]]:
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
    return _merge(windows)


def _assign_hits(text: str, rules: Sequence[_Assign], priority: int, accept: Callable[[str, str, bool], bool],
                 skip_comments: bool = True, windows: Optional[List[Tuple[int, int]]] = None) -> List[_Hit]:
    hits = []
    for rule in rules:
        matches = (m for start, end in (windows if windows is not None else [(0, len(text))])
                   for m in rule.pattern.finditer(text, start, end))
        for match in matches:
            name = match.group("name") or (match.groupdict().get("name7") or "")
            value, start, end = _value(match)
            if skip_comments and _commented(text, match.start()):
                continue
            if match.group("vdq") is not None and re.search(r"\$[A-Za-z_{]", value):
                continue  # PHP interpolation: not a literal
            if not accept(name, value, match.group("vsq") is None):
                continue
            hits.append(_Hit(rule.rule, start, end, value, rule.severity, priority, name))
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
    value = raw[:cut.start()] if cut else raw
    value = value.rstrip()
    return value, 0, len(value)


def _line_hits(text: str, env: bool, priority: int) -> List[_Hit]:
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
            hits.append(_Hit("env-secret" if env else "secret-assignment", base + start, base + end, value,
                             "high" if env else "medium", priority, name))
    return hits


def _resolve(hits: List[_Hit]) -> List[_Hit]:
    """One finding per secret: where spans overlap, the most specific rule (lowest priority number) wins."""
    accepted: List[_Hit] = []
    for hit in sorted(hits, key=lambda h: (h.priority, h.start)):
        if hit.end <= hit.start:
            continue
        if any(hit.start < a.end and a.start < hit.end for a in accepted):
            continue
        accepted.append(hit)
    return sorted(accepted, key=lambda h: h.start)


def text_hits(text: str, name: str) -> List[_Hit]:
    """Every secret in one file's text (its base name decides which config rules apply)."""
    kind = file_kind(name)
    source = _Text(text)
    hits = _token_hits(source)
    base = len(TOKEN_RULES)
    if kind == "php":
        for pattern, rules in CMS_RULES:
            if pattern.match(name):
                hits += _assign_hits(text, rules, base, _cms_accept)
    if kind in ("php", "json"):
        hits += _assign_hits(text, GENERIC_RULES, base + 2, _generic_accept, skip_comments=kind == "php",
                             windows=_assignment_windows(source))
    elif kind in ("env", "line"):
        hits += _line_hits(text, kind == "env", base + 1)
    return _resolve(hits)


def _excerpt(text: str, hit: _Hit, hits: Sequence[_Hit], width: int = 140) -> str:
    """The hit's line with every secret on it masked, cut to `width` around the hit."""
    line_start = text.rfind("\n", 0, hit.start) + 1
    line_end = text.find("\n", hit.start)
    line_end = len(text) if line_end < 0 else line_end
    if hit.rule == "private-key":
        marker = re.search(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----", text[max(0, hit.start - 80):hit.start])
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
        line = ("…" if left else "") + line[left:left + width].strip() + ("…" if left + width < len(line) else "")
    return line.strip()


class _LineIndex:
    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, pos: int) -> int:
        return bisect.bisect_right(self.starts, pos)


def scan_text(text: str, rel: str, ids: Optional[_Ids] = None) -> List[Finding]:
    """Findings in one file's text; `rel` is its path relative to the webroot (posix)."""
    ids = ids or _Ids()
    hits = text_hits(text, rel.rsplit("/", 1)[-1])
    if not hits:
        return []
    index = _LineIndex(text)
    findings = []
    for hit in hits:
        excerpt = _excerpt(text, hit, hits)
        findings.append(Finding(ids(hit.rule, rel, hit.secret), hit.rule, f"{rel}:{index.line(hit.start)}",
                                excerpt, hit.severity))
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
    ids = _Ids()
    findings: List[Finding] = []
    for rel, path, st in _walk(root, excludes):
        name = rel.rsplit("/", 1)[-1]
        if isinstance(st, OSError):
            findings.append(Finding(ids("unreadable-file", rel, ""), "unreadable-file", f"{rel}:0",
                                    f"cannot read: {st.strerror or st}", "medium"))
            continue
        if name == ".git":
            findings.append(Finding(ids("git-directory", rel, ""), "git-directory", f"{rel}:0",
                                    "git metadata (history, remotes, maybe credentials) would be published",
                                    "high"))
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        try:
            findings += _scan_file(rel, path, st, ids)
        except OSError as error:
            findings.append(Finding(ids("unreadable-file", rel, ""), "unreadable-file", f"{rel}:0",
                                    f"cannot read: {error.strerror or error}", "medium"))
    return findings


def _scan_file(rel: str, path: Path, st: os.stat_result, ids: _Ids) -> List[Finding]:
    name = rel.rsplit("/", 1)[-1]
    if DUMP_ARCHIVE_RE.search(name):
        return [Finding(ids("database-dump-file", rel, _sha256_file(path)), "database-dump-file", f"{rel}:0",
                        f"compressed database dump, {st.st_size} bytes", "high")]
    with open(path, "rb") as f:
        head = f.read(BINARY_SNIFF)
        if b"\0" in head:
            return []
        if st.st_size > MAX_TEXT_BYTES:
            return [Finding(ids("unscanned-large-file", rel, _sha256_file(path)), "unscanned-large-file",
                            f"{rel}:0", f"text file of {st.st_size} bytes not scanned (limit {MAX_TEXT_BYTES})",
                            "medium")]
        data = head + f.read()
    text = data.decode("utf-8", "surrogateescape")
    findings = []
    if name == ".htpasswd" or name.endswith(".htpasswd"):
        entries = [line for line in text.splitlines() if ":" in line and not line.lstrip().startswith("#")]
        first = next((n for n, line in enumerate(text.splitlines(), 1) if line in entries), 1)
        findings.append(Finding(ids("htpasswd-file", rel, "\n".join(sorted(entries))), "htpasswd-file",
                                f"{rel}:{first}",
                                f"password file with {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}",
                                "high"))
        return findings
    findings += scan_text(text, rel, ids)
    if name.lower().endswith((".sql", ".psql")):
        dialect = "postgres" if name.lower().endswith(".psql") or "\nCOPY " in text else "mysql"
        for finding in scan_dump([line.encode("utf-8", "surrogateescape") for line in text.splitlines(True)],
                                 dialect, place=rel):
            findings.append(finding)
    return findings


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
    )(?![A-Za-z0-9./])""")
HEX_HASH_RE = re.compile(r"(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})"
                         r"(?::[A-Za-z0-9./]{8,64})?")
EMAIL_RE = re.compile(
    r"(?<![\w.%+\-])([A-Za-z0-9][A-Za-z0-9._%+\-]{0,63})@((?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+"
    r"([A-Za-z]{2,24}))(?![\w\-]|\.[A-Za-z0-9])")
NOT_TLDS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "bmp", "ico", "css", "js", "php",
                      "html", "htm", "json", "xml", "txt", "pdf", "zip", "mp4", "mp3", "woff", "woff2", "ttf",
                      "min", "map", "scss", "less", "vue", "ts", "md"})
PASS_COLUMN_RE = re.compile(r"(?i)pass|pwd|hash")
SESSION_TABLE_RE = re.compile(r"(?:^|_)(?:sessions?|user_keys|user_private_key|external_tokens|webauthn_credentials)$")
SALT_OPTIONS = frozenset({"auth_key", "secure_auth_key", "logged_in_key", "nonce_key",
                          "auth_salt", "secure_auth_salt", "logged_in_salt", "nonce_salt"})
PK_COLUMNS = ("id", "umeta_id", "meta_id", "option_id", "comment_id", "uid", "sid", "session_id",
              "extension_id", "link_id", "term_id", "post_id", "user_id")


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


_PHP_SCALAR = re.compile(rb"(?:i:-?\d+|d:[^;]*|b:[01]|N|r:\d+|R:\d+);")
_PHP_STRING = re.compile(rb's:(\d+):"')
_PHP_ARRAY = re.compile(rb"a:(\d+):\{")
_PHP_OBJECT = re.compile(rb'O:(\d+):"')


class _NotSerialized(Exception):
    pass


def _php_value(data: bytes, pos: int, key: Optional[str], out: list, depth: int) -> Tuple[int, Optional[str]]:
    """Parse one PHP-serialized value at pos; append (key, header_start, start, end) for every string.
    Returns (next position, the string's text if the value was a string)."""
    if depth > 64:
        raise _NotSerialized
    match = _PHP_STRING.match(data, pos)
    if match:
        start = match.end()
        end = start + int(match.group(1))
        if data[end:end + 2] != b'";':
            raise _NotSerialized
        out.append((key, pos, start, end))
        return end + 2, data[start:end].decode("utf-8", "surrogateescape")
    match = _PHP_SCALAR.match(data, pos)
    if match:
        return match.end(), None
    match = _PHP_ARRAY.match(data, pos)
    count = None
    if match:
        count, pos = int(match.group(1)), match.end()
    else:
        match = _PHP_OBJECT.match(data, pos)
        if match:
            pos = match.end() + int(match.group(1))
            inner = re.compile(rb'":(\d+):\{').match(data, pos)
            if not inner:
                raise _NotSerialized
            count, pos = int(inner.group(1)), inner.end()
    if count is None:
        raise _NotSerialized
    for _ in range(count):
        mark = len(out)
        pos, name = _php_value(data, pos, None, out, depth + 1)
        del out[mark:]  # keys are not values
        pos, _ = _php_value(data, pos, name, out, depth + 1)
    if data[pos:pos + 1] != b"}":
        raise _NotSerialized
    return pos + 1, None


def php_strings(value: str) -> Optional[List[Tuple[Optional[str], int, int, int]]]:
    """Every string in a PHP-serialized value as (key or None, header start, start, end) byte offsets into
    value.encode("utf-8", "surrogateescape"); None if the value is not (exactly) serialized data."""
    data = value.encode("utf-8", "surrogateescape")
    if not re.match(rb"(?:a|O|s):\d+:", data):
        return None
    out: list = []
    try:
        end, _ = _php_value(data, 0, None, out, 0)
    except (_NotSerialized, ValueError):
        return None
    return out if end == len(data) else None


JSON_PAIR_RE = re.compile(r'"((?:[^"\\]|\\.){1,80})"\s*:\s*"((?:[^"\\]|\\.)*)"')


def structured_pairs(value: str, depth: int = 0) -> Iterator[Tuple[str, str, int, int]]:
    """(key, value, start, end) for every string value under a string key in a PHP-serialized or JSON
    value, also inside strings that are themselves serialized or JSON (WordPress double-serializes);
    start/end are character offsets into `value`."""
    text = value.lstrip()
    if depth > 8 or len(text) < 6:
        return
    if text.startswith(("a:", "O:")):
        strings = php_strings(value)
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


def token_matches(text: str) -> List[Tuple[str, int, int, str]]:
    """(rule, start, end, secret) of every token-rule match in a text (private keys, cloud and API tokens,
    JWTs, credentials in URLs), overlaps resolved."""
    return [(h.rule, h.start, h.end, h.secret) for h in _resolve(_token_hits(text))]


def _value_hits(value: str, column: str, name_and_value: Optional[Tuple[str, str]]) -> List[_Hit]:
    """Every secret / personal datum in one string value of a dump row."""
    hits = _token_hits(value)
    base = len(TOKEN_RULES)
    for match in HASH_RE.finditer(value) if "$" in value else ():
        hits.append(_Hit("password-hash", match.start(), match.end(), match.group(0), "high", base, column))
    if PASS_COLUMN_RE.search(column) and HEX_HASH_RE.fullmatch(value.strip()):
        hits.append(_Hit("password-hash", 0, len(value), value, "high", base, column))
    if name_and_value:
        name, option_value = name_and_value
        if secret_setting(name, option_value):
            hits.append(_Hit("secret-setting", 0, len(value), value, "high", base + 2, name))
    if len(value) > 4 and value.lstrip()[:1] in ("a", "O", "{", "["):
        for key, val, start, end in structured_pairs(value):
            if secret_setting(key, val) and not re.fullmatch(r"-?\d+(\.\d+)?", val):
                hits.append(_Hit("secret-setting", start, end, val, "high", base + 2, key))
    label = name_and_value[0] if name_and_value else column
    for match in email_addresses(value):
        hits.append(_Hit("email-address", match.start(), match.end(), match.group(0), "medium", base + 3, label))
    return _resolve(hits)


def _dump_excerpt(value: str, hit: _Hit, column: str) -> str:
    label = hit.label if hit.label and hit.label != column else ""
    if hit.rule == "email-address":
        local, _, domain = hit.secret.partition("@")
        return f"{column}=" + (f"{label}: " if label else "") + f"{local[:1]}…@{domain}"
    shown = mask(hit.secret)
    if hit.rule == "password-hash":
        prefix = re.match(r"\$[A-Za-z0-9]+\$(?:[A-Za-z0-9]+\$)?", hit.secret)
        shown = (prefix.group(0) if prefix else "") + "…"
    return f"{column}=" + (f"{label}: " if label else "") + shown


def scan_dump(lines: Iterable[bytes], dialect: str, prefix: Optional[str] = None,
              place: Optional[str] = None) -> List[Finding]:
    """Every finding in an SQL dump (`lines` as bytes, `dialect` "mysql" or "postgres").

    `prefix` restricts the table-role rules (sessions, settings) to tables with that prefix; None finds the
    roles by table-name suffix and columns, which also covers WordPress multisite tables (wp_2_options)
    and any CMS's prefix. `place` (a file path) is put before "table.column" in where and in the ids, for
    dumps found inside a webroot."""
    from adt.baseline import sqldump

    ids = _Ids()
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
            findings.append(Finding(
                ids("session-data", f"{origin}{table}.meta_value {key}", "session_tokens"), "session-data",
                f"{origin}{table}.meta_value row {key if key is not None else 'line ' + str(row.line)}",
                f"meta_key=session_tokens user_id={_column(row, 'user_id')}", "high"))
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
                findings.append(Finding(ids(hit.rule, place_key, hit.secret), hit.rule,
                                        f"{origin}{table}.{column} row {where_row}",
                                        _dump_excerpt(value, hit, column), hit.severity))
    for table, (count, first) in sessions.items():
        findings.append(Finding(ids("session-data", f"{origin}{table}", ""), "session-data",
                                f"{origin}{table} ({count} row{'s' if count != 1 else ''})",
                                f"session / login-key table holding {count} row{'s' if count != 1 else ''}",
                                "high"))
    return findings


def detect_prefix(tables: Iterable[str]) -> Optional[str]:
    """The WordPress table prefix: P such that P+"users" and P+"usermeta" are both tables (the shortest
    such P, i.e. the main site's). None if there is none."""
    names = set(tables)
    found = [t[:-len("usermeta")] for t in names if t.endswith("usermeta") and t[:-len("usermeta")] + "users" in names]
    return min(found, key=len) if found else None


# ---------------------------------------------------------------------------------------------- waivers and gate


WAIVER_ID_RE = re.compile(r"^F-[0-9a-f]{10}$")


class Waivers:
    """Waived finding ids, from a plain file: one `ID  # comment` per line; blank lines and lines starting
    with # are ignored."""

    def __init__(self, entries: Optional[Mapping[str, str]] = None):
        self.entries: Dict[str, str] = dict(entries or {})

    @classmethod
    def parse(cls, text: str) -> "Waivers":
        entries: Dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), 1):
            body, _, comment = line.partition("#")
            body = body.strip()
            if not body:
                continue
            if not WAIVER_ID_RE.match(body):
                raise ValueError(f"waivers line {number}: {body!r} is not a finding id (F- and 10 hex digits)")
            entries[body] = comment.strip()
        return cls(entries)

    @classmethod
    def load(cls, path: Union[str, Path]) -> "Waivers":
        """The waivers in `path`; none if the file does not exist."""
        try:
            return cls.parse(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()

    def dumps(self) -> str:
        width = max((len(i) for i in self.entries), default=0)
        return "".join(f"{i.ljust(width)}  # {c}\n" if c else f"{i}\n" for i, c in sorted(self.entries.items()))

    def save(self, path: Union[str, Path]) -> None:
        Path(path).write_text(self.dumps(), encoding="utf-8")

    def add(self, finding_id: str, comment: str = "") -> None:
        if not WAIVER_ID_RE.match(finding_id):
            raise ValueError(f"{finding_id!r} is not a finding id")
        self.entries[finding_id] = comment

    def remove(self, finding_id: str) -> None:
        self.entries.pop(finding_id, None)

    @property
    def ids(self) -> frozenset:
        return frozenset(self.entries)

    def __contains__(self, finding_id) -> bool:
        return finding_id in self.entries

    def __iter__(self):
        return iter(sorted(self.entries))

    def __len__(self) -> int:
        return len(self.entries)


class GateResult(tuple):
    """(blocking, waived), plus `.stale`: waiver ids that match no finding (reported, harmless), and `.ok`."""

    def __new__(cls, blocking: List[Finding], waived: List[Finding], stale: List[str]):
        self = super().__new__(cls, (blocking, waived))
        self.stale = stale
        return self

    @property
    def blocking(self) -> List[Finding]:
        return self[0]

    @property
    def waived(self) -> List[Finding]:
        return self[1]

    @property
    def ok(self) -> bool:
        return not self[0]


def _ids_of(waived) -> Set[str]:
    if isinstance(waived, Waivers):
        return set(waived.ids)
    return {w.id if isinstance(w, Finding) else str(w) for w in (waived or ())}


def gate(findings: Iterable[Finding], waived_ids) -> GateResult:
    """Split findings into (blocking, waived) by the waived ids (a Waivers or any iterable of ids).
    Publication may go ahead when `blocking` is empty. Waiver ids matching no finding are in `.stale`."""
    ids = _ids_of(waived_ids)
    blocking, waived = [], []
    for finding in findings:
        (waived if finding.id in ids else blocking).append(finding)
    seen = {f.id for f in blocking + waived}
    return GateResult(blocking, waived, sorted(ids - seen))


def stale_waivers(findings: Iterable[Finding], waived_ids) -> List[str]:
    return gate(findings, waived_ids).stale


# ---------------------------------------------------------------------------------------------- reporting

_SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}


def _natural(text: str) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def report_lines(findings: Iterable[Finding], where_width: int = 60, excerpt_width: int = 80) -> List[str]:
    """A plain-text table, most severe first: ID, SEVERITY, RULE, WHERE, EXCERPT."""
    rows = sorted(findings, key=lambda f: (_SEVERITY_ORDER.get(f.severity, 9), f.rule, _natural(f.where)))
    table = [("ID", "SEVERITY", "RULE", "WHERE", "EXCERPT")]
    table += [(f.id, f.severity, f.rule, _clip(f.where, where_width), _clip(f.excerpt, excerpt_width))
              for f in rows]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip()
             for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 7)
    return lines


def manifest(findings: Iterable[Finding], waived) -> dict:
    """A JSON-able record of the gate's decision: no secret values, only ids, rules, places, excerpts.
    `waived` is a Waivers (its comments are kept) or an iterable of ids."""
    findings = list(findings)
    result = gate(findings, waived)
    comments = waived.entries if isinstance(waived, Waivers) else {}
    waived_ids = {f.id for f in result.waived}
    return {
        "version": 1,
        "ok": result.ok,
        "counts": {"total": len(findings), "blocking": len(result.blocking), "waived": len(result.waived)},
        "by_rule": dict(sorted(Counter(f.rule for f in findings).items())),
        "findings": [
            dict({"id": f.id, "rule": f.rule, "severity": f.severity, "where": f.where, "excerpt": f.excerpt,
                  "waived": f.id in waived_ids},
                 **({"waiver": comments[f.id]} if f.id in waived_ids and comments.get(f.id) else {}))
            for f in findings],
        "stale_waivers": result.stale,
    }
