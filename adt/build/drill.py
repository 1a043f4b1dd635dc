"""The restore drill: proof that a build's latest temporal backups restore into a site that answers.

A backup nobody has restored is a hope. A drill builds a throwaway template 3 fleet on `local` (one webserver,
one database machine, no autoscaler, in no DNS round robin) from the backups of one period, compares what it
restored with the backups themselves, reports, and destroys the fleet, also on a failure or Ctrl-C. The drill's
machines keep the database as the backup holds it (MOVESITE=0) and take no backups (BACKUPS=0): they never
write over the backups they were made from, nor touch the production fleet's configuration bucket or DNS.

Checks, each with its outcome and the first differences named:
- build: the fleet was made (the build itself refuses a missing backup);
- database: per table, (rows, sha256 of the rows in dump order) of the backup's dump equal those of the drill
  database dumped again on its machine by the backup's own dump code and sanitiser (`adt drill digest`).
  WordPress's caches and scheduler (`*options` rows `_transient_*`, `_site_transient_*` and `cron`), which any
  page view may rewrite, are left out on both sides and counted;
- webroot: every regular file of applicationsourcecode.tar.gz (read as a stream, never extracted: the archive
  is untrusted) has the same sha256 on the drill's webserver, but wp-config.php (the build writes it afresh)
  and the backup's marker (the restore removes it);
- site: GET / as WEBSITE_URL answers 200, without the database error, under the title the dump's `blogname`
  (and `blogdescription`) give;
- destroy: the fleet is gone.
The result goes to the source's configuration datastore (`drills/<UTC stamp>.json`, `drills/latest.json`), or,
when the source's fleet is gone (its datastore with it), to its runtime data directory (`drills/`).
"""

from __future__ import annotations

import calendar
import hashlib
import html
import json
import re
import secrets
import shutil
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from adt import remote
from adt.backup.archive import member_parts
from adt.backup.website import ARCHIVE, MARKER
from adt.build.config import BuildConfig
from adt.database.connection import DUMP_NAMES, MARKER_TABLE
from adt.errors import AdtError
from adt.net import DATABASE_ERROR, site_page
from adt.settings.schema import PERIODS  # what a template 3 build restores
from adt.text.sqldump import Row, dialect_for, iter_rows

MACHINE_SETTINGS = {"MOVESITE": "0", "BACKUPS": "0"}
FRESH_FILES = ("wp-config.php", MARKER)  # written afresh by the build; removed by the restore
VOLATILE_PREFIXES = ("_transient_", "_site_transient_")  # WordPress's caches
VOLATILE_NAMES = ("cron",)  # WordPress's scheduler: a page view that runs due events rewrites it
SITE_OPTIONS = ("blogname", "blogdescription")
SHOWN = 10  # differences named in a report
CHUNK = 1 << 20
REQUIRED = ("database", "webroot", "site")  # the checks a drill must pass


# -- naming and the drill's template (pure) ------------------------------------------------------------
def new_identifier(token: Optional[str] = None) -> str:
    """`drill` and 4 hex digits: a build identifier no production build uses."""
    token = secrets.token_hex(2) if token is None else token
    if not re.fullmatch(r"[0-9a-f]{4}", token):
        raise ValueError(f"a drill token is 4 hex digits, not {token!r}")
    return f"drill{token}"


def utc_stamp(now: Optional[float] = None) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))


def record_keys(stamp: str) -> Tuple[str, str]:
    """The configuration datastore keys (and runtime data file names) of a drill's result."""
    return f"drills/{stamp}.json", "drills/latest.json"


def check_period(period: str) -> str:
    chosen = (period or "").lower()
    if chosen not in PERIODS:
        raise AdtError(
            f"a drill restores a temporal backup, not {period or '(empty)'!r}",
            f"use --period with one of: {', '.join(PERIODS)}",
        )
    return chosen


def template_values(source: Mapping[str, str], period: str) -> Dict[str, str]:
    """What the drill's template (local3.tmpl) gets from the source build: its site and VPC; one webserver,
    no DNS, no snapshots, the backups of `period` (and no autoscaler: see `overrides`)."""
    values = {
        "WEBSITE_URL": source["WEBSITE_URL"],
        "APPLICATION": "wordpress",
        "WEBSERVER_CHOICE": "NGINX",
        "NO_WEBSERVERS": "1",
        "BUILD_ARCHIVE_CHOICE": check_period(period),
        "DNS_CHOICE": "NONE",
        "GENERATE_SNAPSHOTS": "0",
        "AUTOSCALE_FROM_SNAPSHOTS": "0",
        "BUILD_FROM_SNAPSHOT": "0",
        "REGION": "local",
    }
    for name in ("WEBSITE_NAME", "WEBSITE_DISPLAY_NAME", "DATABASE_INSTALLATION_TYPE", "PHP_VERSION"):
        if source.get(name):
            values[name] = source[name]
    if source.get("CLOUDHOST", "local") == "local" and source.get("VPC_IP_RANGE"):
        values["VPC_IP_RANGE"] = source["VPC_IP_RANGE"]  # beside the object storage that holds the backups
    return values


def overrides(cloudhost: str, source: Mapping[str, str]) -> Dict[str, str]:
    """What the build takes over its (validated) template: no autoscaler (a template 3 must name one, a drill
    needs none) and another cloud host's datastore, by its credentials (kept out of the template file). On
    `local` no datastore: the build finds (or starts) the VPC's own object storage, which outlives fleets."""
    if cloudhost == "local":
        return {"NO_AUTOSCALERS": "0"}
    missing = [n for n in ("S3_HOST_BASE", "S3_ACCESS_KEY", "S3_SECRET_KEY") if not source.get(n)]
    if missing:
        raise AdtError(
            f"the source build has no {', '.join(missing)}: its datastore cannot be read",
            "build it first, or set them in its build_environment",
        )
    datastore = ("S3_HOST_BASE", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_LOCATION")
    return {"NO_AUTOSCALERS": "0", **{name: source.get(name, "") for name in datastore}}


# -- the database's rows (pure) ------------------------------------------------------------------------
@dataclass
class DumpFacts:
    """What a dump holds, per table: (rows, sha256 of the rows in dump order)."""

    dialect: str
    tables: Dict[str, Tuple[int, str]]
    options: Dict[str, str] = field(default_factory=dict)  # blogname and blogdescription, as stored
    left_out: int = 0  # volatile rows (caches, scheduler) not counted
    complete: bool = False  # its last line names the marker table

    def to_json(self) -> dict:
        return {
            "dialect": self.dialect,
            "tables": {name: list(pair) for name, pair in self.tables.items()},
            "options": self.options,
            "left_out": self.left_out,
            "complete": self.complete,
        }

    @classmethod
    def from_json(cls, data: Mapping) -> "DumpFacts":
        try:
            return cls(
                str(data["dialect"]),
                {str(name): (int(pair[0]), str(pair[1])) for name, pair in data["tables"].items()},
                {str(k): str(v) for k, v in data.get("options", {}).items()},
                int(data.get("left_out", 0)),
                bool(data.get("complete", False)),
            )
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise AdtError(f"the drill database's digest is not what `adt drill digest` writes: {exc!r}") from None


def volatile(row: Row) -> bool:
    """A row of WordPress's options table that a page view may rewrite: a cache entry or the scheduler."""
    if not row.table.endswith("options"):
        return False
    name = row.get("option_name")
    return name is not None and (name in VOLATILE_NAMES or name.startswith(VOLATILE_PREFIXES))


def row_bytes(row: Row) -> bytes:
    """One row, unambiguously: each value NULL, or quoted/bare with its length."""
    parts = []
    for value, quoted in zip(row.values, row.quoted):
        if value is None:
            parts.append(b"N")
        else:
            data = value.encode("utf-8", "surrogateescape")
            parts.append(b"%s%d:%s" % (b"Q" if quoted else b"B", len(data), data))
    return b",".join(parts) + b"\n"


_CREATE = re.compile(rb"CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(`(?:[^`]|``)+`|\S+?)\s*\(")


def _table_name(raw: bytes) -> str:
    if raw.startswith(b"`"):
        name = raw[1:-1].replace(b"``", b"`")
    else:  # PostgreSQL: schema.table, either part possibly "quoted"
        name = raw.rsplit(b".", 1)[-1]
        if name.startswith(b'"') and name.endswith(b'"'):
            name = name[1:-1].replace(b'""', b'"')
    return name.decode("utf-8", "surrogateescape")


def dump_facts(lines: Iterable[bytes], dialect: str, marker: str = MARKER_TABLE) -> DumpFacts:
    """Per table of a dump (every table it creates, with no rows too; not the marker table): its row count and
    the sha256 of its rows in dump order, volatile rows left out; the site's name options; whether the dump
    is complete."""
    hashes: Dict[str, "hashlib._Hash"] = {}
    counts: Dict[str, int] = {}
    last = [b""]

    def watched() -> Iterator[bytes]:
        for line in lines:
            if line.startswith(b"CREATE"):
                found = _CREATE.match(line)
                if found:
                    name = _table_name(found.group(1))
                    hashes.setdefault(name, hashlib.sha256())
                    counts.setdefault(name, 0)
            if line.strip():
                last[0] = line
            yield line

    facts = DumpFacts(dialect, {})
    for row in iter_rows(watched(), dialect):
        if row.table.endswith("options") and row.get("option_name") in SITE_OPTIONS:
            facts.options[str(row.get("option_name"))] = row.get("option_value") or ""
        if volatile(row):
            facts.left_out += 1
            continue
        digest = hashes.get(row.table)
        if digest is None:
            digest = hashes[row.table] = hashlib.sha256()
            counts[row.table] = 0
        digest.update(row_bytes(row))
        counts[row.table] += 1
    facts.tables = {name: (counts[name], hashes[name].hexdigest()) for name in sorted(hashes) if name != marker}
    facts.complete = marker.encode() in last[0]
    return facts


def lines_of(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Lines (each with its b"\\n") out of chunks that may cut a line anywhere."""
    rest = b""
    for chunk in chunks:
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        if cut:
            yield from data[:cut].splitlines(keepends=True)
        rest = data[cut:]
    if rest:
        yield rest


def compare_tables(backup: Mapping[str, Tuple[int, str]], drill: Mapping[str, Tuple[int, str]]) -> List[str]:
    """One line per table that differs, in name order; empty when every table is equal."""
    differences = []
    for name in sorted(set(backup) | set(drill)):
        mine, theirs = backup.get(name), drill.get(name)
        if mine is None:
            differences.append(f"{name}: in the drill database, not in the backup")
        elif theirs is None:
            differences.append(f"{name}: in the backup ({mine[0]} rows), missing from the drill database")
        elif mine[0] != theirs[0]:
            differences.append(f"{name}: {mine[0]} rows in the backup, {theirs[0]} in the drill database")
        elif mine[1] != theirs[1]:
            differences.append(f"{name}: the same {mine[0]} rows in number, different in content")
    return differences


# -- the webroot's files (pure) -------------------------------------------------------------------------
@dataclass
class ArchiveFiles:
    files: Dict[str, str]  # path under the webroot -> sha256, for every regular file (and hard link to one)
    unsafe: List[str] = field(default_factory=list)  # "<member>: <reason>": members the restore would refuse


def archive_files(archive: tarfile.TarFile) -> ArchiveFiles:
    """The sha256 of every regular file of an untrusted webroot archive, read in member order as a stream:
    nothing is extracted and no name is used as a path here. A member named outside the webroot (absolute,
    `..`), below one of its own symlinks, or a hard link to no earlier file is listed as unsafe instead. A
    later member of the same path replaces an earlier one, as extraction would."""
    found = ArchiveFiles({})
    links: set = set()
    for member in archive:
        try:
            parts = member_parts(member.name)
        except ValueError as exc:
            found.unsafe.append(f"{member.name}: {exc}")
            continue
        path = "/".join(parts)
        below = next(("/".join(parts[:n]) for n in range(1, len(parts)) if "/".join(parts[:n]) in links), None)
        if below is not None:
            found.unsafe.append(f"{member.name}: lies below the archive's symlink {below}")
            continue
        if member.isfile():
            stream = archive.extractfile(member)
            digest = hashlib.sha256()
            if stream is not None:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
            found.files[path] = digest.hexdigest()
            links.discard(path)
        elif member.islnk():
            try:
                target = "/".join(member_parts(member.linkname))
            except ValueError as exc:
                found.unsafe.append(f"{member.name}: a hard link that {exc}")
                continue
            if target not in found.files:
                found.unsafe.append(f"{member.name}: a hard link to {member.linkname!r}, not an earlier file")
                continue
            found.files[path] = found.files[target]
        else:  # a directory, symlink or special file: nothing of it is compared
            found.files.pop(path, None)
            if member.issym():
                links.add(path)
    return found


def webroot_command(webroot: str = "/var/www/html") -> str:
    """The shell line that lists every regular file under the webroot with its sha256, NUL-separated and
    unescaped (`sha256sum -z`), so any file name comes back exactly."""
    import shlex

    return f"cd {shlex.quote(webroot)} && find . -type f -print0 | xargs -0r sha256sum -z"


def parse_sha256sums(output: bytes) -> Dict[str, str]:
    """`sha256sum -z` output (`<hex>  ./path\\0`…) -> {path under the webroot: sha256}."""
    files = {}
    for entry in output.split(b"\0"):
        if not entry.strip():
            continue
        digest, mode, name = entry[:64], entry[64:66], entry[66:]
        if not re.fullmatch(rb"[0-9a-f]{64}", digest) or mode not in (b"  ", b" *") or not name:
            raise AdtError(f"unexpected sha256sum output: {entry[:120]!r}")
        try:
            parts = member_parts(name.decode("utf-8", "surrogateescape"))
        except ValueError as exc:
            raise AdtError(f"sha256sum named a file outside the webroot: {name[:120]!r} {exc}") from None
        files["/".join(parts)] = digest.decode()
    return files


def compare_files(expected: Mapping[str, str], found: Mapping[str, str], fresh=FRESH_FILES) -> Tuple[int, List[str]]:
    """(files compared, one line per file of the backup that is missing or different on the webserver)."""
    differences, compared = [], 0
    for path in sorted(expected):
        if path in fresh:
            continue
        compared += 1
        if path not in found:
            differences.append(f"{path}: missing on the webserver")
        elif found[path] != expected[path]:
            differences.append(f"{path}: different on the webserver")
    return compared, differences


# -- the site (pure) ----------------------------------------------------------------------------------
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})


def page_title(page: str) -> Optional[str]:
    found = _TITLE.search(page)
    return " ".join(html.unescape(found.group(1)).split()) if found else None


def _plain(text: str) -> str:
    return " ".join(html.unescape(text).translate(_TYPOGRAPHY).split())


def title_matches(title: str, blogname: str, description: str = "") -> bool:
    """WordPress titles its home page `blogname`, or `blogname – blogdescription` when there is one (quotes
    and dashes made typographic, HTML-escaped)."""
    title, name, tagline = _plain(title), _plain(blogname), _plain(description)
    if title == name:
        return True
    rest = title[len(name) :] if title.startswith(name) else None
    return bool(tagline) and rest is not None and rest.strip(" -|:\u00b7") == tagline


def site_verdict(status: int, page: str, options: Mapping[str, str]) -> Tuple[bool, str]:
    """(ok, one line) for the home page a webserver gave."""
    if status != 200:
        return False, f"GET / answered HTTP {status}"
    if DATABASE_ERROR in page:
        return False, "GET / answered the database connection error"
    title = page_title(page)
    if "blogname" not in options:
        return True, f"GET / answered 200 titled {title!r} (the backup has no blogname to compare)"
    if title is None:
        return False, f"GET / answered a page without a title; the backup's blogname is {options['blogname']!r}"
    if not title_matches(title, options["blogname"], options.get("blogdescription", "")):
        return False, f"GET / is titled {title!r}, the backup's blogname is {options['blogname']!r}"
    return True, f"GET / answered 200 titled {title!r}, as the backup's blogname"


# -- the report (pure) ----------------------------------------------------------------------------------
@dataclass
class Check:
    name: str  # build, database, webroot, site, record, destroy
    ok: bool
    detail: str  # one line
    differences: List[str] = field(default_factory=list)  # the first ones


@dataclass
class Report:
    source: str  # cloudhost/build identifier
    website_url: str
    period: str
    drill: str  # the drill fleet's build identifier
    started: str  # UTC stamp
    checks: List[Check] = field(default_factory=list)
    timings: Dict[str, float] = field(default_factory=dict)  # seconds per phase
    kept: bool = False
    recorded: str = ""  # where the result was recorded

    @property
    def ok(self) -> bool:
        names = {check.name for check in self.checks}
        return all(check.ok for check in self.checks) and all(name in names for name in REQUIRED)

    @property
    def first_failure(self) -> Optional[Check]:
        failed = next((check for check in self.checks if not check.ok), None)
        if failed is None and not self.ok:
            missing = [name for name in REQUIRED if name not in {c.name for c in self.checks}]
            return Check(missing[0], False, "not run")
        return failed

    def add(self, check: Check) -> Check:
        self.checks.append(check)
        return check

    def to_json(self) -> dict:
        data = asdict(self)
        del data["recorded"]  # where this very object goes
        data["ok"] = self.ok
        failed = self.first_failure
        data["failed"] = failed.name if failed else None
        data["seconds"] = round(sum(self.timings.values()), 3)
        data["timings"] = {name: round(seconds, 3) for name, seconds in self.timings.items()}
        return data

    def render(self) -> List[str]:
        failed = self.first_failure
        lines = [
            f"restore drill of {self.source} ({self.website_url}), {self.period} backups, fleet {self.drill}: "
            + ("PASSED" if self.ok else f"FAILED at {failed.name if failed else '?'}")
        ]
        for check in self.checks:
            lines.append(f"  {check.name:<9} {'ok' if check.ok else 'FAILED'}  {check.detail}")
            lines.extend(f"      {line}" for line in check.differences[:SHOWN])
        figures = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.timings.items())
        lines.append(f"  seconds: {figures} (total {sum(self.timings.values()):.1f} s)")
        if self.kept:
            lines.append(f"  the fleet is kept for inspection: adt destroy -c local -b {self.drill} --yes")
        if self.recorded:
            lines.append(f"  recorded in {self.recorded}")
        return lines


def differences_check(name: str, compared: str, differences: List[str], note: str = "") -> Check:
    """A check comparing `compared` (e.g. "12 tables"): passed when nothing differs, else the first named."""
    note = f" ({note})" if note else ""
    if differences:
        shown = "; ".join(differences[:3]) + (f"; and {len(differences) - 3} more" if len(differences) > 3 else "")
        return Check(name, False, f"{len(differences)} differ of {compared}{note}: {shown}", differences[:SHOWN])
    return Check(name, True, f"{compared} equal{note}")


# -- edges: the backups, the machines, the site -----------------------------------------------------------
def _missing(exc: Exception) -> bool:
    from adt.datastore import client as s3

    return s3.error_code(exc) in ("404", "NoSuchKey", "NoSuchBucket", "NotFound")


def _read_backup(endpoint, bucket: str, key: str, visit: Callable[[tarfile.TarFile], object]):
    from adt.backup.website import read_archive
    from adt.datastore import client as s3

    client = s3.s3_client(endpoint, profile="bulk")
    try:
        return read_archive(client, bucket, key, visit)[0]
    except s3.s3_errors() as exc:
        if _missing(exc):
            raise AdtError(
                f"there is no backup s3://{bucket}/{key}", "take one first (PerformWebsiteBackup.sh)"
            ) from None
        raise s3.describe(exc, endpoint, bucket, f"read {key}") from None


def backup_files(endpoint, website_url: str, period: str) -> ArchiveFiles:
    from adt.datastore.naming import backup_bucket

    return _read_backup(endpoint, backup_bucket(website_url, period), ARCHIVE, archive_files)


def _chunks(stream: Optional[IO[bytes]]) -> Iterator[bytes]:
    while stream is not None and (chunk := stream.read(CHUNK)):
        yield chunk


def backup_dump(endpoint, website_url: str, period: str) -> DumpFacts:
    """The facts of the database backup's dump, read as a stream (never on disk)."""
    from adt.backup.database import website_name
    from adt.datastore.naming import backup_bucket

    bucket = backup_bucket(website_url, period, database=True)
    key = f"{website_name(website_url)}-DB-backup.tar.gz"

    def visit(archive: tarfile.TarFile) -> DumpFacts:
        facts = None
        for member in archive:
            if facts is not None:
                raise AdtError(f"s3://{bucket}/{key} holds more than its dump ({member.name})")
            if not member.isfile() or member.name not in DUMP_NAMES.values():
                raise AdtError(f"s3://{bucket}/{key} holds {member.name!r}, not applicationDB.sql or .psql")
            stream = archive.extractfile(member)
            facts = dump_facts(lines_of(_chunks(stream)), dialect_for(member.name))
        if facts is None:
            raise AdtError(f"s3://{bucket}/{key} is empty")
        return facts

    facts = _read_backup(endpoint, bucket, key, visit)
    if not facts.complete:
        raise AdtError(f"s3://{bucket}/{key}: its dump does not end with the {MARKER_TABLE} marker: it is incomplete")
    return facts


def database_digest(settings) -> DumpFacts:
    """On the database machine: its application database dumped and sanitised exactly as a backup does it,
    reduced to per-table facts (nothing stored)."""
    from adt.backup.database import sanitising_pairs
    from adt.database.connection import Connection
    from adt.database.dump import sanitised_dump

    connection = Connection.from_settings(settings)
    return dump_facts(lines_of(sanitised_dump(connection, sanitising_pairs(settings, connection))), connection.dialect)


def drill_database(drill: BuildConfig, ip: str) -> DumpFacts:
    from adt.run import run

    said = run(
        remote.ssh(drill.target("database", ip), ["adt", "--role", "database", "drill", "digest"]),
        check=False,
        timeout=3600,
    )
    if said.returncode != 0:
        raise AdtError(f"the drill database at {ip} could not be dumped: {(said.stderr or said.stdout).strip()}")
    try:
        return DumpFacts.from_json(json.loads(said.stdout))
    except ValueError:
        raise AdtError(f"the drill database at {ip} answered no digest: {said.stdout[:200]!r}") from None


def drill_webroot(drill: BuildConfig, ip: str, timeout: float = 1800) -> Dict[str, str]:
    """{path: sha256} of every regular file under the drill webserver's webroot (names as bytes: any name)."""
    from adt import run

    process = run.start(
        remote.ssh_shell(drill.target("webserver", ip), webroot_command()),
        stdout=run.PIPE,
        stderr=run.PIPE,
        what="listing the drill webroot",
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except BaseException:
        process.kill()
        process.wait()
        raise
    if process.returncode != 0:
        said = err.decode(errors="replace").strip()
        raise AdtError(f"the webroot of the drill webserver at {ip} could not be read: {said}")
    return parse_sha256sums(out)


def home_page(ip: str, website_url: str, timeout: float = 30) -> Tuple[int, str]:
    try:
        return site_page(ip, website_url, timeout)
    except OSError as exc:
        raise AdtError(f"the drill webserver at {ip} did not answer GET /: {exc}") from None


# -- the drill -------------------------------------------------------------------------------------------
def _timed(report: Report, name: str, work: Callable[[], Check]) -> Check:
    """work()'s check (a failed one for an AdtError), its seconds recorded under `name`."""
    started = time.monotonic()
    try:
        check = work()
    except AdtError as error:
        check = Check(name, False, error.message)
    except Exception as error:  # noqa: BLE001 - a drill reports every failure (and still destroys its fleet)
        check = Check(name, False, f"{type(error).__name__}: {error}")
    report.timings[name] = time.monotonic() - started
    return check


def write_template(source: BuildConfig, period: str, directory: Path) -> Path:
    from adt.settings.runtime import templates_dir
    from adt.settings.template import Template

    template = Template.load(templates_dir(source.build_home) / "local" / "local3.tmpl")
    for name, value in template_values({"CLOUDHOST": source.cloudhost, **source.values}, period).items():
        template = template.set(name, value)
    path = directory / "drill3.tmpl"
    template.save(path, secret=True)
    return path


def run_drill(
    source: BuildConfig,
    period: str = "hourly",
    *,
    keep: bool = False,
    progress: Callable[[str], None] = print,
    identifier: Optional[str] = None,
) -> Report:
    """Build a drill fleet from `source`'s latest `period` backups, check it against them, destroy it (unless
    `keep`), record the result; the report. Ctrl-C destroys the fleet too, then goes on as an interrupt."""
    from adt.build.production import build_production
    from adt.settings.runtime import RuntimeData

    period = check_period(period)
    source.require("WEBSITE_URL")
    settings_overrides = overrides(source.cloudhost, source.values)
    identifier = identifier or new_identifier()
    url = source.value("WEBSITE_URL")
    report = Report(source.name, url, period, identifier, utc_stamp())
    runtime = RuntimeData(source.build_home)
    active = runtime.active()
    scratch = Path(tempfile.mkdtemp(prefix="adt-drill-"))
    built: dict = {}
    try:
        template = write_template(source, period, scratch)
        progress(f"[drill: build] a throwaway fleet {identifier} from the {period} backups of {url}")

        def build() -> Check:
            built.update(
                build_production(
                    "local",
                    3,
                    identifier,
                    source.build_home,
                    template_file=str(template),
                    progress=lambda line: progress(f"  {line}"),
                    overrides=settings_overrides,
                    dns=False,
                    machine_settings=dict(MACHINE_SETTINGS),
                    wipe_config=False,
                )
            )
            return Check("build", True, f"database {built['database']}, webserver {', '.join(built['webservers'])}")

        if report.add(_timed(report, "build", build)).ok:
            _checks(report, BuildConfig.load("local", identifier, str(source.build_home)), built, progress)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            if keep:
                report.kept = True
            else:
                progress(f"[drill: destroy] the fleet {identifier}")
                report.add(_timed(report, "destroy", lambda: _destroy(source, identifier)))
        finally:
            _restore_active(runtime, active)
    progress("[drill: record] the result")
    report.recorded = record(source, report)
    if report.ok and not keep:
        shutil.rmtree(runtime.build_dir("local", identifier), ignore_errors=True)
    return report


def _checks(report: Report, drill: BuildConfig, built: dict, progress: Callable[[str], None]) -> None:
    from adt.build.development import side_by_side

    endpoint = drill.endpoint()  # the datastore the drill's machines restored from
    url, period = report.website_url, report.period
    database_ip, webserver_ip = built["database"], built["webservers"][0]
    facts: Dict[str, DumpFacts] = {}

    def database() -> Check:
        def backup_side() -> DumpFacts:
            return backup_dump(endpoint, url, period)

        sides = side_by_side(
            lambda side: backup_side() if side == "backup" else drill_database(drill, database_ip), ["backup", "drill"]
        )
        facts["backup"] = sides["backup"]
        backup, restored = sides["backup"], sides["drill"]
        left = f"volatile rows left out: {backup.left_out} in the backup, {restored.left_out} in the drill"
        differences = compare_tables(backup.tables, restored.tables)
        return differences_check("database", f"{len(backup.tables)} tables", differences, left)

    def webroot() -> Check:
        sides = side_by_side(
            lambda side: (
                backup_files(endpoint, url, period) if side == "backup" else drill_webroot(drill, webserver_ip)
            ),
            ["backup", "drill"],
        )
        archive: ArchiveFiles = sides["backup"]
        compared, differences = compare_files(archive.files, sides["drill"])
        differences = [f"unsafe member {line}" for line in archive.unsafe] + differences
        return differences_check("webroot", f"{compared} files", differences)

    def site() -> Check:
        if "backup" not in facts:
            return Check("site", False, "not checked: the backup's dump could not be read")
        status, page = home_page(webserver_ip, url)
        ok, said = site_verdict(status, page, facts["backup"].options)
        return Check("site", ok, said)

    progress("[drill: database and webroot] compared with the backups")
    done = side_by_side(
        lambda name: _timed(report, name, database if name == "database" else webroot), ["database", "webroot"]
    )
    report.add(done["database"])
    report.add(done["webroot"])
    progress("[drill: site] GET / as the site")
    report.add(_timed(report, "site", site))
    replaced = replaced_during(backup_times(endpoint, url, period), report_started(report))
    if replaced:  # a scheduled backup of the source fleet landed meanwhile: the comparison proves nothing
        report.add(
            Check(
                "backups unchanged",
                False,
                f"{', '.join(replaced)} was replaced during the drill (a scheduled backup): run the drill again",
            )
        )


def replaced_during(modified: Mapping[str, float], started: float) -> List[str]:
    """The backups written after the drill started (by the source fleet's own schedule): the drill's machines
    and its comparison may have read different generations of them."""
    return sorted(where for where, when in modified.items() if when >= started)


def report_started(report: "Report") -> float:
    return calendar.timegm(time.strptime(report.started, "%Y%m%dT%H%M%SZ"))


def backup_times(endpoint, website_url: str, period: str) -> Dict[str, float]:
    """Each backup object's LastModified (seconds since the epoch), by s3://bucket/key."""
    from adt.backup.database import website_name
    from adt.datastore import client as s3
    from adt.datastore.naming import backup_bucket

    client = s3.s3_client(endpoint)
    found = {}
    for bucket, key in (
        (backup_bucket(website_url, period), ARCHIVE),
        (backup_bucket(website_url, period, database=True), f"{website_name(website_url)}-DB-backup.tar.gz"),
    ):
        try:
            head = client.head_object(Bucket=bucket, Key=key)
        except s3.s3_errors() as exc:
            raise s3.describe(exc, endpoint, bucket, f"read {key}") from None
        found[f"s3://{bucket}/{key}"] = head["LastModified"].timestamp()
    return found


def _destroy(source: BuildConfig, identifier: str) -> Check:
    """The drill fleet's machines and its own configuration bucket go; the object storage and every other
    bucket stay (never purged)."""
    from adt.build.development import destroy

    drill = BuildConfig.load("local", identifier, str(source.build_home))
    drill.values = {"VPC_IP_RANGE": source.vpc if source.cloudhost == "local" else drill.vpc, **drill.values}
    if drill.value("SERVER_USER") and drill.value("S3_HOST_BASE"):
        try:
            store = drill.config_store()
            store.delete("", recursive=True)
            from adt.datastore import client as s3

            s3.s3_client(drill.endpoint()).delete_bucket(Bucket=store.bucket)
        except Exception:  # noqa: BLE001 - the bucket is the drill's own litter; the machines matter
            pass
    gone = destroy(drill, progress=lambda line: None, purge_datastore=False)
    return Check("destroy", True, f"{len(gone)} machines destroyed")


def _restore_active(runtime, active: Tuple[Optional[str], Optional[str]]) -> None:
    """The build a user's commands default to is theirs again (the drill's build made itself the active one)."""
    cloudhost, identifier = active
    if cloudhost and identifier:
        runtime.set_active(cloudhost, identifier)
    else:
        for name in ("ACTIVE_CLOUDHOST", "ACTIVE_BUILD_IDENTIFIER"):
            (runtime.root / name).unlink(missing_ok=True)


def fleet_running(source: BuildConfig) -> bool:
    """Whether the source build has machines running (on `local`); another cloud host: assumed so."""
    if source.cloudhost != "local":
        return True
    from adt.cloud.local import LocalDriver

    try:
        return any(server.status == "running" for server in source.servers(LocalDriver(source.vpc)))
    except AdtError:
        return False


def record(source: BuildConfig, report: Report) -> str:
    """The result as JSON under `drills/<stamp>.json` and `drills/latest.json`: in the source's configuration
    datastore while its fleet runs, else (or when that fails, which the report then says) in its runtime data
    directory. Where it went."""
    from adt.settings.template import write_atomically

    dated, latest = record_keys(report.started)
    if fleet_running(source):
        try:
            return _record_in_datastore(source, report, dated, latest)
        except AdtError as error:
            report.add(Check("record", False, f"not recorded in the configuration datastore: {error.message}"))
        except Exception as error:  # noqa: BLE001 - an S3 failure: recorded locally below, and said
            report.add(Check("record", False, f"not recorded in the configuration datastore: {error}"))
    text = json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n"
    (source.dir / "drills").mkdir(mode=0o700, parents=True, exist_ok=True)
    for key in (dated, latest):
        write_atomically(source.dir / key, text, 0o600)
    return f"{source.dir / dated} (and {latest})"


def _record_in_datastore(source: BuildConfig, report: Report, dated: str, latest: str) -> str:
    from adt.fs import open_private

    store = source.config_store()
    scratch = Path(tempfile.mkdtemp(prefix="adt-drill-"))
    try:
        path = scratch / "drill.json"
        with open_private(path, "w") as out:
            out.write(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
        store.put(dated, path)
        store.put(latest, path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return f"s3://{store.bucket}/{dated} (and {latest})"
