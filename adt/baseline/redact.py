"""Redaction of a database dump before it becomes a shared baseline: personal data and secrets out, the site
still loadable.

`redact(lines, dialect, application)` streams the dump through `sqldump.transform` and returns a
`Redaction`: iterate it for the output lines; once exhausted, `.summary` counts what was rewritten and
dropped. Tables are recognised by name suffix and columns (so any table prefix works, and WordPress
multisite `wp_2_options` too); with `prefix` only tables carrying it are touched by the per-CMS rules.

Per CMS (`application`; None applies every CMS's rules, each guarded by its table's columns):

* WordPress: users → user_email `user<ID>@example.invalid`, user_pass `*`, user_activation_key and user_url
  emptied; user_login, user_nicename and display_name are kept (authorship, author permalinks; they are what
  the site publishes anyway). usermeta: `session_tokens` and `community-events-location` (an IP) rows
  dropped. options / sitemeta: `_transient_*`, `_site_transient_*`, `recovery_keys` and secret settings
  (salts, SMTP passwords, API keys, tokens — what the gate reports) dropped; admin_email / new_admin_email →
  `admin@example.invalid`. comments: comment_author_email → `commenter<comment_ID>@example.invalid`,
  comment_author_IP and comment_agent emptied. signups and registration_log rows dropped.
* Joomla: users → email `user<id>@example.invalid`, password `*`, activation / otpKey / otep emptied;
  session, action_logs, user_keys, user_mfa, webauthn_credentials, privacy_requests, privacy_consents rows
  dropped; secret keys in extensions.params emptied.
* Drupal: users_field_data (and Drupal 7 users) mail / init → `user<uid>@example.invalid`, pass `*`;
  sessions, watchdog, flood, cache_* rows dropped; e-mail addresses in config data → admin@example.invalid.
* Moodle: user → email `user<id>@example.invalid`, password `*` (except "not cached": external auth),
  secret / lastip / phone1 / phone2 / address emptied; sessions, logstore_standard_log, log, cache_*,
  user_private_key, external_tokens, user_password_resets, user_password_history rows dropped; config and
  config_plugins secret values emptied (the rows stay: Moodle expects them), supportemail / noreplyaddress
  → noreply@example.invalid.

For every table, whatever the CMS: rows of session-like tables (`*_sessions`, `*_user_keys` …) dropped;
secret keys inside serialized / JSON values emptied; password hashes found in any value replaced by `*`;
token-rule matches (API keys, private keys, credentials in URLs) removed. `scrub_emails=True` also replaces
every other non-reserved e-mail address with `u<hash>@example.invalid` (the same address always gets the
same replacement). All rewrites inside PHP-serialized data keep the string lengths right.

`*` is the password: no hash format starts with it, WordPress, Joomla, Drupal and Moodle all compare it
as a legacy MD5 / crypt value that no password produces, so nobody can log in with it; whoever builds from
the baseline sets a fresh admin password.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from adt.baseline.gate import dumps, heuristics
from adt.text import serialized, sqldump

APPLICATIONS = ("wordpress", "joomla", "drupal", "moodle")
LOCKED = "*"
ADMIN_EMAIL = "admin@example.invalid"
NOREPLY_EMAIL = "noreply@example.invalid"

_CREATE = {
    "mysql": re.compile(rb"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`((?:[^`]|``)+)`"),
    "postgres": re.compile(rb'(?:CREATE\s+(?:UNLOGGED\s+)?TABLE|COPY)\s+(?:[\w"]+\.)?"?([^\s."(]+)"?'),
}


# ---------------------------------------------------------------------------------------------- detection


def tables_in(lines: Iterable[bytes], dialect: str) -> List[str]:
    """Table names created (or COPYed into) in a dump, in order, from its DDL lines only."""
    pattern = _CREATE[dialect]
    found: List[str] = []
    for line in lines:
        if line[:1] in (b"C", b"c"):
            match = pattern.match(line)
            if match:
                name = match.group(1).decode("utf-8", "surrogateescape").replace("``", "`")
                if name not in found:
                    found.append(name)
    return found


def cms_of(tables: Iterable[str]) -> Optional[Tuple[str, str]]:
    """(application, table prefix) recognised from table names, or None.
    WordPress: P+users and P+usermeta; Joomla: P+session, P+extensions, P+users; Drupal: P+users_field_data
    (8+) or P+users with P+variable and P+system (7); Moodle: P+user, P+config_plugins, P+course."""
    names = set(tables)

    def prefixes(suffix: str) -> List[str]:
        return sorted((t[: -len(suffix)] for t in names if t.endswith(suffix)), key=len)

    wordpress = dumps.detect_prefix(names)
    if wordpress is not None:
        return "wordpress", wordpress
    for p in prefixes("extensions"):
        if {p + "session", p + "users"} <= names:
            return "joomla", p
    for p in prefixes("users_field_data"):
        return "drupal", p
    for p in prefixes("variable"):
        if {p + "users", p + "system"} <= names:
            return "drupal", p
    for p in prefixes("config_plugins"):
        if {p + "user", p + "course"} <= names:
            return "moodle", p
    return None


# ---------------------------------------------------------------------------------------------- the summary


@dataclass
class Summary:
    """What a redaction changed: rewritten values per "table.column", dropped rows per table."""

    application: Optional[str]
    prefix: Optional[str]
    rewritten: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    rows: int = 0

    @property
    def changed(self) -> int:
        return sum(self.rewritten.values()) + sum(self.dropped.values())

    def lines(self) -> List[str]:
        """For the operator: one line per table.column rewritten and per table whose rows were dropped."""
        out = [
            f"redacted for {self.application or 'any CMS'}: {self.rows} rows read, "
            f"{sum(self.rewritten.values())} values rewritten, {sum(self.dropped.values())} rows dropped"
        ]
        out += [f"  rewrote {n:>7}  {where}" for where, n in sorted(self.rewritten.items())]
        out += [f"  dropped {n:>7}  {table}" for table, n in sorted(self.dropped.items())]
        return out

    def as_dict(self) -> dict:
        return {
            "application": self.application,
            "prefix": self.prefix,
            "rows": self.rows,
            "rewritten": dict(sorted(self.rewritten.items())),
            "dropped": dict(sorted(self.dropped.items())),
        }


# ---------------------------------------------------------------------------------------------- value helpers


def reserved(email: Optional[str]) -> bool:
    return email is not None and "@" in email and heuristics.reserved_domain(email.rsplit("@", 1)[1])


def email_placeholder(email: str) -> str:
    return "u" + hashlib.sha256(email.lower().encode("utf-8", "surrogateescape")).hexdigest()[:10] + "@example.invalid"


def _blank_php(value: str) -> Tuple[str, int]:
    """Empty every secret setting inside PHP-serialized data (recursing into serialized strings), fixing
    each string's byte length. (new value, number blanked)."""
    count = 0

    def blank(key: Optional[str], inner: str) -> str:
        nonlocal count
        if key is not None and dumps.structured_secret(key, inner):
            count += 1
            return ""
        new, n = blank_secrets(inner)
        count += n
        return new

    new = serialized.rewrite_strings(value, blank)
    return (new, count) if count else (value, 0)


def _blank_json(value: str) -> Tuple[str, int]:
    out, pos, count = [], 0, 0
    for key, inner, start, end in dumps.structured_pairs(value):
        if dumps.structured_secret(key, inner):
            out += [value[pos:start]]
            pos = end
            count += 1
    if not count:
        return value, 0
    out.append(value[pos:])
    return "".join(out), count


def blank_secrets(value: str) -> Tuple[str, int]:
    """Secret settings inside a serialized or JSON value emptied: (new value, how many)."""
    text = value.lstrip()
    if len(text) < 6:
        return value, 0
    if text.startswith(("a:", "O:")):
        return _blank_php(value)
    if text.startswith(("{", "[")):
        return _blank_json(value)
    return value, 0


def scrub_value(value: str, emails: bool = False) -> Tuple[str, int]:
    """Whatever the gate would report inside any value, removed: secret settings in structured data
    emptied, password hashes → `*`, token matches removed, and with `emails` non-reserved addresses replaced.
    Serialized lengths stay right. (new value, number of changes)."""
    new, count = blank_secrets(value)
    pairs: List[Tuple[str, str]] = []
    if "$" in new:
        pairs += [(m.group(0), LOCKED) for m in dumps.HASH_RE.finditer(new)]
    pairs += [(secret, "") for _, _, _, secret in heuristics.token_matches(new)]
    if emails:
        pairs += [(m.group(0), email_placeholder(m.group(0))) for m in dumps.email_addresses(new)]
    if pairs:
        replaced = serialized.replace(new, pairs)
        if replaced != new:
            count += len(pairs)
            new = replaced
    return new, count


# ---------------------------------------------------------------------------------------------- table rules


@dataclass(frozen=True)
class _Rule:
    application: str
    suffix: str  # the table name without prefix; "cache_" = every cache_* table
    columns: Tuple[str, ...]  # columns that must all exist (lower-case)
    action: str  # "drop" or the name of a rewrite function below


RULES: Tuple[_Rule, ...] = (
    _Rule("wordpress", "users", ("user_email", "user_pass"), "wp_users"),
    _Rule("wordpress", "usermeta", ("meta_key", "user_id"), "wp_usermeta"),
    _Rule("wordpress", "options", ("option_name", "option_value"), "wp_options"),
    _Rule("wordpress", "sitemeta", ("meta_key", "meta_value", "site_id"), "wp_sitemeta"),
    _Rule("wordpress", "comments", ("comment_author_email",), "wp_comments"),
    _Rule("wordpress", "signups", ("user_email",), "drop"),
    _Rule("wordpress", "registration_log", ("email",), "drop"),
    _Rule("joomla", "users", ("email", "password", "username"), "joomla_users"),
    _Rule("joomla", "session", ("session_id",), "drop"),
    _Rule("joomla", "action_logs", (), "drop"),
    _Rule("joomla", "user_keys", (), "drop"),
    _Rule("joomla", "user_mfa", (), "drop"),
    _Rule("joomla", "webauthn_credentials", (), "drop"),
    _Rule("joomla", "privacy_requests", (), "drop"),
    _Rule("joomla", "privacy_consents", (), "drop"),
    _Rule("joomla", "extensions", ("params",), "joomla_extensions"),
    _Rule("drupal", "users_field_data", ("mail", "pass"), "drupal_users"),
    _Rule("drupal", "users", ("mail", "pass", "init"), "drupal_users"),
    _Rule("drupal", "sessions", (), "drop"),
    _Rule("drupal", "watchdog", (), "drop"),
    _Rule("drupal", "flood", (), "drop"),
    _Rule("drupal", "cache_", (), "drop"),
    _Rule("drupal", "config", ("name", "data"), "drupal_config"),
    _Rule("moodle", "user", ("email", "password", "username"), "moodle_user"),
    _Rule("moodle", "sessions", (), "drop"),
    _Rule("moodle", "logstore_standard_log", (), "drop"),
    _Rule("moodle", "log", ("module", "action"), "drop"),
    _Rule("moodle", "cache_", (), "drop"),
    _Rule("moodle", "user_private_key", (), "drop"),
    _Rule("moodle", "external_tokens", (), "drop"),
    _Rule("moodle", "user_password_resets", (), "drop"),
    _Rule("moodle", "user_password_history", (), "drop"),
    _Rule("moodle", "config", ("name", "value"), "moodle_config"),
    _Rule("moodle", "config_plugins", ("plugin", "name", "value"), "moodle_config"),
)

WP_DROP_META = frozenset({"session_tokens", "community-events-location"})
MOODLE_EMAIL_SETTINGS = frozenset({"supportemail", "noreplyaddress"})


def _bare(table: str, prefix: Optional[str]) -> Optional[str]:
    """The table name without its prefix (and a multisite blog number); None if prefix is set and missing."""
    if prefix is None:
        return table
    if not table.startswith(prefix):
        return None
    return re.sub(r"^\d+_", "", table[len(prefix) :])


def _table_matches(rule: _Rule, table: str, bare: str, prefix: Optional[str]) -> bool:
    if rule.suffix == "cache_":
        if prefix is not None:
            return bare.startswith("cache_")
        return bool(re.match(r"^(?:[A-Za-z0-9]+_)?cache_", table))
    if prefix is not None:
        return bare == rule.suffix
    return table == rule.suffix or (table.endswith(rule.suffix) and not table[: -len(rule.suffix)][-1:].isalpha())


class _Row:
    """A row being rewritten: values by column, and a record of what changed."""

    def __init__(self, row: sqldump.Row, summary: Summary):
        self.row, self.summary = row, summary
        self.values = list(row.values)
        self.index = {c.lower(): i for i, c in enumerate(row.columns)}

    def get(self, column: str) -> Optional[str]:
        i = self.index.get(column)
        return None if i is None else self.values[i]

    def set(self, column: str, value: Optional[str]) -> None:
        i = self.index.get(column)
        if i is None or self.values[i] is None or self.values[i] == value:
            return
        if not self.row.quoted[i]:
            return  # numbers and NULLs are not ours to turn into strings
        self.values[i] = value
        self.summary.rewritten[f"{self.row.table}.{self.row.columns[i]}"] += 1

    def email(self, column: str, replacement: str) -> None:
        value = self.get(column)
        if value and not reserved(value):
            self.set(column, replacement)

    def empty(self, *columns: str) -> None:
        for column in columns:
            if self.get(column):
                self.set(column, "")

    def lock(self, column: str, keep: Sequence[str] = ()) -> None:
        value = self.get(column)
        if value and value != LOCKED and value not in keep:
            self.set(column, LOCKED)


def _id(r: _Row, *columns: str) -> str:
    for column in columns:
        value = r.get(column)
        if value is not None:
            return value
    return str(r.row.line)


def _wp_users(r: _Row):
    r.email("user_email", f"user{_id(r, 'id')}@example.invalid")
    r.lock("user_pass")
    r.empty("user_activation_key", "user_url")


def _wp_usermeta(r: _Row):
    if (r.get("meta_key") or "") in WP_DROP_META:
        return sqldump.DROP


def _wp_setting(r: _Row, name_col: str, value_col: str):
    name, value = r.get(name_col) or "", r.get(value_col)
    if name.startswith(("_transient_", "_site_transient_")) or name == "recovery_keys":
        return sqldump.DROP
    if dumps.secret_setting(name, value):
        return sqldump.DROP
    if name in ("admin_email", "new_admin_email"):
        r.email(value_col, ADMIN_EMAIL)


def _wp_options(r: _Row):
    return _wp_setting(r, "option_name", "option_value")


def _wp_sitemeta(r: _Row):
    return _wp_setting(r, "meta_key", "meta_value")


def _wp_comments(r: _Row):
    r.email("comment_author_email", f"commenter{_id(r, 'comment_id')}@example.invalid")
    r.empty("comment_author_ip", "comment_agent")


def _joomla_users(r: _Row):
    r.email("email", f"user{_id(r, 'id')}@example.invalid")
    r.lock("password")
    r.empty("activation", "otpkey", "otep")


def _joomla_extensions(r: _Row):
    pass  # the secret keys in params are emptied by the generic pass


def _drupal_users(r: _Row):
    uid = _id(r, "uid")
    r.email("mail", f"user{uid}@example.invalid")
    r.email("init", f"user{uid}@example.invalid")
    r.lock("pass")


def _drupal_config(r: _Row):
    data = r.get("data")
    if data and "@" in data:
        pairs = [(m.group(0), ADMIN_EMAIL) for m in dumps.email_addresses(data)]
        if pairs:
            r.set("data", serialized.replace(data, pairs))


def _moodle_user(r: _Row):
    r.email("email", f"user{_id(r, 'id')}@example.invalid")
    r.lock("password", keep=("not cached",))
    r.empty("secret", "lastip", "phone1", "phone2", "address")


def _moodle_config(r: _Row):
    name, value = r.get("name") or "", r.get("value")
    if dumps.secret_setting(name, value):
        r.set("value", "")
    elif name in MOODLE_EMAIL_SETTINGS:
        r.email("value", NOREPLY_EMAIL)


_ACTIONS: Dict[str, Callable[[_Row], object]] = {
    "wp_users": _wp_users,
    "wp_usermeta": _wp_usermeta,
    "wp_options": _wp_options,
    "wp_sitemeta": _wp_sitemeta,
    "wp_comments": _wp_comments,
    "joomla_users": _joomla_users,
    "joomla_extensions": _joomla_extensions,
    "drupal_users": _drupal_users,
    "drupal_config": _drupal_config,
    "moodle_user": _moodle_user,
    "moodle_config": _moodle_config,
}


# ---------------------------------------------------------------------------------------------- redaction


class Redaction:
    """The redacted dump as an iterator of bytes lines; `.summary` is complete once it is exhausted."""

    def __init__(
        self,
        lines: Iterable[bytes],
        dialect: str,
        application: Optional[str] = None,
        prefix: Optional[str] = None,
        scrub_emails: bool = False,
    ):
        if application is not None and application not in APPLICATIONS:
            raise ValueError(f"unknown application {application!r} (want one of {', '.join(APPLICATIONS)})")
        self.dialect, self.application, self.prefix, self.scrub_emails = dialect, application, prefix, scrub_emails
        self.summary = Summary(application, prefix)
        self.rules = [r for r in RULES if application is None or r.application == application]
        self._plans: Dict[Tuple[str, Tuple[str, ...]], List[_Rule]] = {}
        self._stream = sqldump.transform(lines, dialect, self._row)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._stream)

    @property
    def rewritten(self) -> Counter:
        return self.summary.rewritten

    @property
    def dropped(self) -> Counter:
        return self.summary.dropped

    def _plan(self, row: sqldump.Row) -> List[_Rule]:
        key = (row.table, tuple(row.columns))
        plan = self._plans.get(key)
        if plan is None:
            bare = _bare(row.table, self.prefix)
            columns = {c.lower() for c in row.columns}
            plan = (
                []
                if bare is None
                else [
                    rule
                    for rule in self.rules
                    if _table_matches(rule, row.table, bare, self.prefix) and set(rule.columns) <= columns
                ]
            )
            if bare is not None and dumps.SESSION_TABLE_RE.search(row.table):
                plan.insert(0, _Rule("any", "session", (), "drop"))
            self._plans[key] = plan
        return plan

    def _row(self, row: sqldump.Row):
        self.summary.rows += 1
        r = _Row(row, self.summary)
        for rule in self._plan(row):
            result = sqldump.DROP if rule.action == "drop" else _ACTIONS[rule.action](r)
            if result is sqldump.DROP:
                self.summary.dropped[row.table] += 1
                return sqldump.DROP
        for i, (value, quoted) in enumerate(zip(r.values, row.quoted)):
            if value and quoted:
                new, changed = scrub_value(value, self.scrub_emails)
                if changed and new != value:
                    r.values[i] = new
                    column = row.columns[i] if i < len(row.columns) else f"#{i + 1}"
                    self.summary.rewritten[f"{row.table}.{column}"] += 1
        return None if r.values == row.values else r.values


def redact(
    lines: Iterable[bytes],
    dialect: str,
    application: Optional[str] = None,
    prefix: Optional[str] = None,
    scrub_emails: bool = False,
) -> Redaction:
    """The dump with personal data and secrets removed (see the module docstring), streamed: iterate the
    result for the bytes lines, then read `.summary` for the counts. `application` is one of APPLICATIONS,
    or None for every CMS's rules (each only where its table's columns are found)."""
    return Redaction(lines, dialect, application, prefix, scrub_emails)
