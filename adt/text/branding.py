"""The original toolkit's RemoveApplicationBranding / ApplyApplicationBranding, made serialization-safe.

A baseline (webroot + database dump) is made portable by replacing a website's own names with fixed
placeholders; a build or restore puts the new website's names back. Derived values, as the original's
awk/cut pipelines compute them: root domain = website url without its first label ("www.example.co.uk"
-> "example.co.uk"); domain specifier = first 3 characters of every label ("www.example.com" ->
"wwwexacom"); display name with `_` meaning space, plus its upper- and lower-cased forms.

Webroot files                              SQL dumps
  specifier      -> ApplicationDomainSpec    specifier          -> ApplicationDomainSpec
  website url    -> applicationdomainwww.tld website url        -> www.applicationdomain.tld
  root domain    -> applicationrootdomain.tld @root domain      -> @applicationdomain.tld
  display name   -> The GreatApplication     root domain        -> applicationdomain.tld
  DISPLAY NAME   -> THE GREATAPPLICATION     display name       -> GreatApplication
  display name   -> greatapplication         DISPLAY NAME       -> GREATAPPLICATION
    (lower)                                  lower name-online  -> application-online
                                             db username        -> XXXXXXXXXX
                                             @@mail             -> @mail
                                             ip mask            -> YYYYYYYYYY

The apply sets map the placeholders back (applicationdomain.tld -> root domain also restores
www.applicationdomain.tld to the website url when that is "www." + root; the SQL apply set also maps the
files' "The GreatApplication" spellings, as the original does). Pairs whose value is empty are left out:
an empty pattern is never replaced. Replacement is serialization-aware (adt.text.serialized) so PHP
serialized strings keep correct byte lengths: in files directly, in dumps after decoding SQL literals
(sqldump.rewrite_values), since there a serialized string's quotes are escaped (s:5:\\"hello\\";).
`remaining` counts what is left of the site's domain (0 = portable), `check_dump` proves every serialized
value in a dump still has correct lengths. Remove then apply gives the original back except where the
original's sets are lossy: "@@mail" becomes "@mail", "The <display name>" loses its "The " in a dump, and a
website url not of the form "www." + root comes back as "www." + root.
"""

from __future__ import annotations

from typing import Iterable, List, Tuple, Union, cast

from adt.text import binary, serialized, sqldump

Pairs = List[Tuple[str, str]]
_ENC = ("utf-8", "surrogateescape")


def root_domain(website_url: str) -> str:
    """The website url without its first label ("" for a single label)."""
    return website_url.split(".", 1)[1] if "." in website_url else ""


def domain_specifier(website_url: str) -> str:
    """First three characters of every label, concatenated: www.example.com -> wwwexacom."""
    return "".join(label[:3] for label in website_url.split("."))


def _names(display_name: str) -> Tuple[str, str, str]:
    display = display_name.replace("_", " ")
    return display, display.upper(), display.lower()


def _keep(pairs) -> Pairs:
    """Drop pairs with an empty pattern or value (setting not given) and no-op pairs."""
    return [(old, new) for old, new in pairs if old and new and old != new]


def file_pairs(website_url: str, display_name: str = "", db_username: str = "", ip_mask: str = "") -> Pairs:
    """Remove-branding pairs for webroot files, in order (db_username and ip_mask are unused here)."""
    display, upper, lower = _names(display_name)
    return _keep(
        [
            (domain_specifier(website_url), "ApplicationDomainSpec"),
            (website_url, "applicationdomainwww.tld"),
            (root_domain(website_url), "applicationrootdomain.tld"),
            (display, "The GreatApplication"),
            (upper, "THE GREATAPPLICATION"),
            (lower, "greatapplication"),
        ]
    )


def apply_file_pairs(website_url: str, display_name: str = "", db_username: str = "", ip_mask: str = "") -> Pairs:
    """Apply-branding pairs for webroot files, in order: `file_pairs` reversed placeholder by placeholder."""
    display, upper, lower = _names(display_name)
    return _keep(
        [
            ("ApplicationDomainSpec", domain_specifier(website_url)),
            ("applicationdomainwww.tld", website_url),
            ("applicationrootdomain.tld", root_domain(website_url)),
            ("The GreatApplication", display),
            ("THE GREATAPPLICATION", upper),
            ("greatapplication", lower),
        ]
    )


def sql_pairs(website_url: str, display_name: str = "", db_username: str = "", ip_mask: str = "") -> Pairs:
    """Remove-branding pairs for a database dump, in order."""
    display, upper, lower = _names(display_name)
    root = root_domain(website_url)
    return _keep(
        [
            (domain_specifier(website_url), "ApplicationDomainSpec"),
            (website_url, "www.applicationdomain.tld"),
            ("@" + root if root else "", "@applicationdomain.tld"),
            (root, "applicationdomain.tld"),
            (display, "GreatApplication"),
            (upper, "GREATAPPLICATION"),
            (lower + "-online" if lower else "", "application-online"),
            (db_username, "XXXXXXXXXX"),
            ("@@mail", "@mail"),
            (ip_mask, "YYYYYYYYYY"),
        ]
    )


def apply_sql_pairs(website_url: str, display_name: str = "", db_username: str = "", ip_mask: str = "") -> Pairs:
    """Apply-branding pairs for a database dump (restores), in order."""
    display, upper, lower = _names(display_name)
    return _keep(
        [
            ("applicationdomain.tld", root_domain(website_url)),
            ("The GreatApplication", display),
            ("GreatApplication", display),
            ("THE GREATAPPLICATION", upper),
            ("GREATAPPLICATION", upper),
            ("XXXXXXXXXX", db_username),
            ("YYYYYYYYYY", ip_mask),
            ("ApplicationDomainSpec", domain_specifier(website_url)),
            ("application-online", lower + "-online" if lower else ""),
        ]
    )


def brand_file_bytes(data: bytes, pairs: Pairs) -> bytes:
    """One file's content with the pairs applied, serialization-aware (on the bytes, which is the same as
    on the UTF-8 surrogateescape decoding). Binary files -- a NUL in the first 8 KB -- are left alone; so
    is (same object) content holding none of the patterns."""
    if binary(data):
        return data
    return serialized.replace_bytes(data, serialized.byte_pairs(pairs))


class SqlLineReplacer:
    """Applies pairs to a dump streamed line by line (dialect "mysql" or "postgres"; it keeps COPY-block
    state, so feed it every line in order). A line holding no pattern -- checked with bytes `in` tests, in
    raw and escaped spellings (`needles`) -- comes back as the same object. Data lines (INSERT statements, the
    row lines of mariadb-dump's multi-line INSERTs, COPY rows) have their values decoded, replaced
    serialization-aware and re-escaped; other lines get a plain replacement. A postgres --inserts string
    spanning lines can't be decoded from one line: those lines get the plain replacement too."""

    def __init__(self, pairs: Pairs, dialect: str):
        sqldump._check_dialect(dialect)
        self.pairs = [(o, n) for o, n in pairs if o and o != n]
        self.bpairs = serialized.byte_pairs(self.pairs)
        self.dialect = dialect
        needles = set()
        for old, raw in zip((o for o, _ in self.pairs), (o for o, _ in self.bpairs)):
            needles.add(raw)  # as written in bare text / COPY
            needles.add(sqldump.escape(old, dialect))  # inside a mysql literal / COPY field
            needles.add(raw.replace(b"'", b"''"))  # inside a postgres INSERT literal
        self.needles = tuple(needles)
        self.in_copy = False

    def _value(self, value: str) -> str:
        data = value.encode(*_ENC)
        new = serialized.replace_bytes(data, self.bpairs)
        return value if new is data else new.decode(*_ENC)

    def __call__(self, line: bytes) -> bytes:
        if self.dialect == "postgres":
            if self.in_copy:
                if line in sqldump._COPY_END:
                    self.in_copy = False
                    return line
                if not any(n in line for n in self.needles):
                    return line
                return cast(
                    bytes, sqldump.rewrite_values(line, "postgres", self._value, copy_row=True, needles=self.needles)
                )  # a COPY row is always data
            if line.startswith(b"COPY ") and line.rstrip().endswith(b"FROM stdin;"):
                self.in_copy = True
        if not any(n in line for n in self.needles):
            return line
        if line[:1] in (b"I", b"R", b"(", b"\t"):  # INSERT, or a row line of a multi-line one
            new = sqldump.rewrite_values(line, self.dialect, self._value, needles=self.needles)
            if new is not None:
                return new
        return serialized.plain(line, self.bpairs)


def check_dump(lines: Iterable[bytes], dialect: str) -> List[str]:
    """`serialized.check` over every decoded value of a dump, each problem prefixed with table and line.
    (Raw dump text can't be checked: mysql escapes a serialized string's quotes, COPY its newlines.)"""
    return [
        f"{row.table} line {row.line}: {problem}"
        for row in sqldump.iter_rows(lines, dialect)
        for value in row.values
        if value and "s:" in value
        for problem in serialized.check(value)
    ]


def remaining(text_or_bytes: Union[str, bytes], website_url: str) -> int:
    """Occurrences left of the website url or its root domain (a url occurrence counts once, as the root
    domain is part of it): 0 proves a text / dump portable."""
    root = root_domain(website_url) or website_url
    if not root:
        return 0
    if isinstance(text_or_bytes, bytes):
        return text_or_bytes.count(root.encode(*_ENC))
    return text_or_bytes.count(root)
