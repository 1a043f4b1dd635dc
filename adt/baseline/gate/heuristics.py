"""What looks secret, for every rule of the gate: secret-looking setting names (`secret_name`), values
nobody uses as a real secret (`is_placeholder`), random-looking literals (`looks_random`), reserved
domains, and the token rules (private keys, cloud and API tokens, JWTs, credentials in URLs) with the
`Hit`s they make and how overlapping hits resolve to one per secret (`resolve`).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, List, Optional, Tuple, Union

# ---------------------------------------------------------------------------------------------- randomness


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


# ---------------------------------------------------------------------------------------------- names and values

_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "pwd",
        "passphrase",
        "passwort",
        "secret",
        "secrets",
        "token",
        "tokens",
        "salt",
        "credential",
        "credentials",
        "apikey",
        "apisecret",
        "privatekey",
        "authkey",
        "secretkey",
        "accesskey",
        "smtppass",
        "dbpass",
        "ftppass",
        "mailpass",
        "sqlpass",
        "userpass",
        "adminpass",
        "rootpass",
        "proxypass",
        "authtoken",
        "accesstoken",
        "refreshtoken",
        "clientsecret",
        "appsecret",
        "bearer",
    }
)
_SECRET_SUFFIXES = ("password", "passwd", "secret", "token", "apikey", "passphrase")
_SECRET_PAIRS = frozenset(
    {
        ("api", "key"),
        ("private", "key"),
        ("auth", "key"),
        ("access", "key"),
        ("secret", "key"),
        ("client", "secret"),
        ("encryption", "key"),
        ("signing", "key"),
        ("license", "key"),
        ("licence", "key"),
        ("app", "key"),
        ("master", "key"),
        ("consumer", "secret"),
        ("consumer", "key"),
        ("secure", "key"),
        ("logged", "in"),
        ("nonce", "key"),
        ("api", "secret"),
        ("shared", "secret"),
        ("webhook", "secret"),
    }
)
# words after the secret word that make the name about the secret, not the secret itself
_NOT_SECRET_TAIL = frozenset(
    {
        "length",
        "len",
        "min",
        "max",
        "minimum",
        "maximum",
        "expiry",
        "expires",
        "expiration",
        "expire",
        "expired",
        "ttl",
        "timeout",
        "lifetime",
        "life",
        "field",
        "fields",
        "label",
        "labels",
        "url",
        "uri",
        "path",
        "file",
        "filename",
        "dir",
        "name",
        "names",
        "type",
        "types",
        "policy",
        "policies",
        "strength",
        "hint",
        "reset",
        "placeholder",
        "prompt",
        "regex",
        "pattern",
        "chars",
        "characters",
        "count",
        "counter",
        "id",
        "ids",
        "required",
        "require",
        "enabled",
        "enable",
        "disabled",
        "mode",
        "format",
        "algo",
        "algorithm",
        "cost",
        "rounds",
        "header",
        "param",
        "parameter",
        "storage",
        "table",
        "column",
        "cookie",
        "lost",
        "confirm",
        "confirmation",
        "changed",
        "change",
        "strong",
        "weak",
        "protected",
        "form",
        "input",
        "version",
        "size",
        "valid",
        "validation",
        "validator",
        "meta",
        "option",
        "options",
        "level",
        "status",
        "sent",
        "time",
        "date",
        "created",
        "updated",
        "last",
        "at",
        "request",
        "requested",
        "error",
        "errors",
        "message",
        "text",
        "title",
        "description",
        "desc",
        "help",
        "button",
        "link",
        "page",
        "action",
        "nonce",
        "class",
        "method",
        "methods",
        "source",
        "endpoint",
        "location",
        "provider",
        "handler",
        "generator",
        "generate",
        "show",
        "hide",
        "visible",
        "visibility",
        "toggle",
        "expose",
        "exposure",
        "scope",
        "scopes",
        "user",
        "username",
        "login",
        "email",
        "mail",
        "auth",
        "authentication",
        "manager",
        "store",
        "cache",
        "check",
        "checked",
        "verify",
        "verified",
        "hashed",
        "hashing",
        "hash",
        "encrypted",
        "sanitize",
        "sanitized",
        "value",
        "values",
        "list",
        "index",
        "usage",
        "used",
        "limit",
        "attempts",
        "retries",
        "strategy",
        "selector",
        "select",
        "color",
        "colour",
        "width",
        "height",
        "icon",
        "img",
        "image",
        "css",
        "js",
        "html",
        "template",
        "tpl",
        "view",
        "widget",
        "display",
        "enforce",
        "interval",
        "period",
        "days",
        "hours",
        "minutes",
        "seconds",
        "ms",
        "host",
        "port",
        "spec",
        "specs",
        "state",
        "arn",
        "alias",
        "region",
        "kind",
        "origin",
        "audience",
        "issuer",
    }
)
# words before it that make the name a flag or a label
_NOT_SECRET_HEAD = frozenset(
    {
        "is",
        "has",
        "use",
        "uses",
        "require",
        "requires",
        "allow",
        "enable",
        "enabled",
        "disable",
        "show",
        "hide",
        "min",
        "max",
        "no",
        "lost",
        "reset",
        "forgot",
        "forgotten",
        "change",
        "new",
        "confirm",
        "default",
        "strong",
        "weak",
        "label",
        "placeholder",
        "input",
        "field",
        "form",
        "i18n",
        "msg",
        "text",
        "invalid",
        "empty",
        "wrong",
        "bad",
        "incorrect",
        "missing",
        "validate",
        "check",
        "generate",
        "random",
        "csrf",
        "xsrf",
        "nonce",
        "cache",
        "page",
        "next",
        "continuation",
        "cursor",
        "paging",
    }
)


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
        tail = words[i + (2 if pair else 1) :]
        if any(w in _NOT_SECRET_TAIL for w in tail):
            return False
        if any(w in _NOT_SECRET_HEAD for w in words[:i]):
            return False
        return True
    return False


_PLACEHOLDER_WORDS = frozenset(
    {
        "",
        "password",
        "passwd",
        "pass",
        "pwd",
        "secret",
        "secrets",
        "token",
        "key",
        "apikey",
        "api_key",
        "changeme",
        "change_me",
        "change-me",
        "changeit",
        "change_it",
        "null",
        "none",
        "nil",
        "undefined",
        "false",
        "true",
        "yes",
        "no",
        "on",
        "off",
        "example",
        "sample",
        "test",
        "testing",
        "dummy",
        "placeholder",
        "redacted",
        "removed",
        "hidden",
        "masked",
        "secret_key",
        "secretkey",
        "mypassword",
        "my_password",
        "yourpassword",
        "your_password",
        "password_here",
        "put your unique phrase here",
        "sqlpassword",
        "dbpassword",
        "db_password",
        "your-secret",
        "yoursecret",
        "todo",
        "tbd",
        "fixme",
        "default",
        "admin",
        "root",
        "user",
        "username",
        "foo",
        "bar",
        "foobar",
        "baz",
        "qwerty",
        "letmein",
        "pa55word",
        "p@ssw0rd",
        "s3cr3t",
        "password123",
        "password1",
        "123456",
        "12345678",
        "abc123",
        "xyz",
        "empty",
        "notset",
        "not set",
        "not cached",
        "*",
        "env",
        "required",
        "optional",
        "string",
        "value",
        "secretvalue",
        "mysecret",
        "fbvtggik5lazeu9h",  # the $secret shipped in Joomla 3's installation/configuration.php-dist
    }
)
_PLACEHOLDER_RE = re.compile(  # whole values only: a real secret that merely contains "example" is no placeholder
    r"""(?ix)
    ^(.)\1*$                                                                # xxxxxxxx, ********
    | ^<[^<>]*>$ | ^\{\{[^{}]*\}\}$ | ^\{[\w.\-]+\}$ | ^\[[\w.\-\s]+\]$         # <secret>, {{x}}, {x}, [x]
    | ^%[\w.\-]+%$ | ^@[\w.\-]+@$ | ^__[\w\-]+__$ | ^%\([\w.\-]+\)[sd]$         # %X%, @X@, __X__, %(x)s
    | ^(?:env|getenv|secret|vault|ssm)(?::[\w./\-]+|\(['"]?[\w./\-]+['"]?\))$    # env:X, getenv('X')
    """
)
# words a placeholder is made of ("your-secret-key-here", "put your unique phrase here", "EXAMPLE_TOKEN"): a value
# is a placeholder when every one of its words is such a word and one of them says so
_FILLER_WORDS = frozenset(
    {
        "your",
        "my",
        "some",
        "the",
        "a",
        "an",
        "here",
        "goes",
        "go",
        "put",
        "enter",
        "insert",
        "replace",
        "add",
        "paste",
        "set",
        "with",
        "this",
        "to",
        "be",
        "me",
        "it",
        "in",
        "of",
        "for",
        "change",
        "secret",
        "password",
        "passwd",
        "pass",
        "pwd",
        "key",
        "api",
        "token",
        "access",
        "auth",
        "private",
        "client",
        "app",
        "db",
        "database",
        "user",
        "username",
        "login",
        "value",
        "string",
        "phrase",
        "unique",
        "random",
        "long",
        "strong",
        "salt",
        "nonce",
        "logged",
        "secure",
        "id",
        "account",
        "mail",
        "smtp",
        "aws",
        "s3",
        "test",
        "new",
    }
)
_PLACEHOLDER_MARKS = frozenset(
    {
        "example",
        "examples",
        "sample",
        "placeholder",
        "changeme",
        "dummy",
        "redacted",
        "here",
        "your",
        "xxx",
        "xxxx",
        "todo",
        "tbd",
        "fixme",
        "fake",
        "unique",
        "replace",
        "insert",
        "enter",
        "paste",
        "put",
        "change",
    }
)
_WORD_SPLIT = re.compile(r"[\s_\-.]+")


def _made_of_placeholder_words(text: str) -> bool:
    words = [w for w in _WORD_SPLIT.split(text.lower()) if w]
    marks = _PLACEHOLDER_MARKS | {"x" * n for n in range(3, 9)}
    return (
        bool(words)
        and any(w in marks for w in words)
        and all(w in _FILLER_WORDS or w in marks or w in _PLACEHOLDER_WORDS for w in words)
    )


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
    r"^(?:[a-z]+(?:[_.\-][a-z]+)*"  # snake_case, kebab-case, dotted.name (letters only)
    r"|[A-Z]+(?:_[A-Z0-9]+)*"  # CONSTANT_NAME, RSA_2048
    r"|[a-z]+(?:[A-Z][a-z]+)+"  # camelCase
    r"|(?:[A-Z][a-z]+)+"  # PascalCase
    r"|[a-z][a-z0-9]*(?:[_\-][a-z0-9]+)*_?"  # snake with digits, e.g. wp_5_hash-sha1
    r")$"
)
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
    """
)


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
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


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
    requires: str = ""  # a literal that must also be in the text


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
    r"|applicationdomain\.tld)$"
)


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
    _Token(
        "private-key",
        re.compile(
            r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----"
            r"(?P<body>(?:\\[nr]|[\sA-Za-z0-9+/=:,.\-])+?)-----END \1PRIVATE KEY(?: BLOCK)?-----"
        ),
        ("PRIVATE KEY",),
        "body",
        _base64_body,
        back=40,
        fwd=32768,
    ),
    _Token(
        "aws-access-key-id",
        re.compile(r"(?<![A-Za-z0-9])((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?![A-Za-z0-9])"),
        ("AKIA", "ASIA", "ABIA", "ACCA"),
        1,
        _no_example,
    ),
    _Token(
        "aws-secret-access-key",
        re.compile(
            r"(?i)(?:aws_?secret(?:_?access)?_?key|secret_?access_?key)['\"]?\s*(?:=>|=|:|,)\s*['\"]?"
            r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        ("secret",),
        1,
        _mixed,
        back=16,
        fold=True,
    ),
    _Token(
        "github-token",
        re.compile(
            r"(?<![A-Za-z0-9_])(gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})(?![A-Za-z0-9_])"
        ),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    _Token(
        "gitlab-token", re.compile(r"(?<![A-Za-z0-9_\-])(glpat-[A-Za-z0-9_\-]{20,64})(?![A-Za-z0-9_\-])"), ("glpat-",)
    ),
    _Token(
        "slack-token",
        re.compile(r"(?<![A-Za-z0-9])(xox[abprs]-(?:\d{6,15}-){1,3}[A-Za-z0-9]{10,64})(?![A-Za-z0-9\-])"),
        ("xox",),
    ),
    _Token(
        "slack-webhook",
        re.compile(r"hooks\.slack\.com/services/(T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,32})"),
        ("hooks.slack.com",),
    ),
    _Token(
        "stripe-key", re.compile(r"(?<![A-Za-z0-9_])((?:sk|rk)_live_[0-9A-Za-z]{20,99})(?![A-Za-z0-9])"), ("_live_",)
    ),
    _Token("google-api-key", re.compile(r"(?<![A-Za-z0-9_\-])(AIza[0-9A-Za-z_\-]{35})(?![A-Za-z0-9_\-])"), ("AIza",)),
    _Token(
        "sendgrid-key",
        re.compile(r"(?<![A-Za-z0-9])(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})(?![A-Za-z0-9_\-])"),
        ("SG.",),
    ),
    _Token(
        "mailgun-key", re.compile(r"(?<![A-Za-z0-9_\-])(key-[0-9a-zA-Z]{32})(?![A-Za-z0-9])"), ("key-",), 1, _random_hex
    ),
    _Token("twilio-key", re.compile(r"(?<![A-Za-z0-9])(SK[0-9a-f]{32})(?![A-Za-z0-9])"), ("SK",), 1, _random_hex),
    _Token(
        "twilio-auth-token",
        re.compile(
            r"(?i)twilio\w{0,24}?(?:auth)?_?(?:token|secret)['\"]?\s*(?:=>|=|:|,)\s*['\"]?([0-9a-f]{32})(?![0-9a-f])"
        ),
        ("twilio",),
        1,
        _random_hex,
        fold=True,
    ),
    _Token(
        "jwt",
        re.compile(r"(?<![A-Za-z0-9_\-])(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,})"),
        ("eyJ",),
        1,
        _jwt_header,
        fwd=16384,
    ),
    _Token(
        "url-credentials",
        re.compile(
            r"(?i)(?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]{1,15}://(?P<user>[^\s:/?#@'\"<>\\`]{1,64}):"
            r"(?P<password>[^\s/?#@'\"<>\\`]{1,128})@(?P<host>[A-Za-z0-9][A-Za-z0-9.\-]*)"
        ),
        ("://",),
        "password",
        _url_credentials,
        "medium",
        back=17,
        fwd=400,
        requires="@",
    ),
)

# ---------------------------------------------------------------------------------------------- hits


@dataclass
class Hit:
    """One secret found in a text, before it becomes a Finding: its rule, character span and the priority
    that decides overlaps (lower wins, see `resolve`)."""

    rule: str
    start: int
    end: int
    secret: str
    severity: str
    priority: int
    label: str = ""  # e.g. the setting's name, shown before the masked value


class Text:
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


def merge_windows(windows: Iterable[Tuple[int, int]]) -> List[Tuple[int, int]]:
    merged: List[List[int]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def token_hits(source: Union[str, "Text"]) -> List[Hit]:
    source = source if isinstance(source, Text) else Text(source)
    text = source.text
    hits: List[Hit] = []
    if len(text) < 9:
        return hits
    for priority, token in enumerate(TOKEN_RULES):
        if token.requires and token.requires not in text:
            continue
        haystack = source.low if token.fold else text
        anchors = [a for a in token.anchors if a in haystack]  # C-speed test first: most texts have none
        if not anchors:
            continue
        windows = merge_windows(
            (max(0, pos - token.back), min(len(text), pos + len(anchor) + token.fwd))
            for anchor in anchors
            for pos in source.positions(anchor, token.fold)
        )
        for start, end in windows:
            for match in token.pattern.finditer(text, start, end):
                secret = match.group(token.group)
                if token.check and not token.check(secret, match):
                    continue
                hits.append(
                    Hit(token.rule, match.start(token.group), match.end(token.group), secret, token.severity, priority)
                )
    return hits


def resolve(hits: List[Hit]) -> List[Hit]:
    """One finding per secret: where spans overlap, the most specific rule (lowest priority number) wins."""
    accepted: List[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.priority, h.start)):
        if hit.end <= hit.start:
            continue
        if any(hit.start < a.end and a.start < hit.end for a in accepted):
            continue
        accepted.append(hit)
    return sorted(accepted, key=lambda h: h.start)


def token_matches(text: str) -> List[Tuple[str, int, int, str]]:
    """(rule, start, end, secret) of every token-rule match in a text (private keys, cloud and API tokens,
    JWTs, credentials in URLs), overlaps resolved."""
    return [(h.rule, h.start, h.end, h.secret) for h in resolve(token_hits(text))]
