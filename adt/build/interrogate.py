"""What a build from a backup or a baseline will restore, learnt before any machine is made.

The original's InterrogateApplicationType.sh downloads the whole webroot and database archives (or clones
both baseline repositories) into `${BUILD_HOME}/interrogation`, extracts them, and reads the webroot's markers
(adt.machine.markers): which application, which database engine, which table prefix. adt reads only what it
needs: a HEAD of each backup object, then the webroot archive as a stream that stops at the third marker; a
baseline is cloned at depth 1 without a checkout and without its larger blobs (`--filter=blob:limit=1k`:
the markers come, the site's files and the dump stay on the server), and read from git's object store. Nothing
is extracted and nothing read is changed; the clone lives in a private temporary directory, always removed.

The archive or repository is untrusted: only the three markers' contents are read, only when they are regular
files of at most LIMIT bytes; a marker that is a link, a directory or bigger refuses the build. A webroot made
before markers existed (adt's own sites until now) is recognised by the application's own files and says so.
A missing webroot backup is an error before anything is made; a missing database backup is a flag
(`database_archive_present`) for the build to ask about, as the original asks.
"""

from __future__ import annotations

import re
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Dict, List, Mapping, Optional, Tuple

from adt.backup import gzipstream, transfer
from adt.backup.archive import member_parts
from adt.backup.database import website_name
from adt.backup.website import ARCHIVE, DAMAGE
from adt.baseline import publish as baseline
from adt.datastore import client as s3
from adt.datastore.endpoints import Endpoint
from adt.datastore.naming import backup_bucket, check_bucket_name
from adt.errors import AdtError
from adt.machine.markers import (
    APPLICATION_FILE,
    APPLICATIONS,
    DEFAULT_PREFIXES,
    ENGINE_FILE,
    FILES,
    LIMIT,
    PREFIX_FILE,
    Markers,
    check,
    parse,
    signature,
)
from adt.settings.schema import PERIODS

MISSING = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}


@dataclass
class Interrogation:
    """What the backup or baseline holds, checked against the template."""

    source: str  # where the webroot was read (s3://bucket/key, or the repository without credentials)
    markers: Markers  # what its marker files say (None where one is missing)
    application: str  # from dba.dat, else recognised by the application's files ("" when neither)
    prefix: str  # from dbp.dat, else the application's default (wp_ on adt's sites made before markers)
    recognised_by: str = ""  # the file that told the application when dba.dat is missing
    webroot_key_size: Optional[int] = None  # bytes of the webroot archive (backups)
    database_source: str = ""  # where the database backup or baseline is
    database_archive_present: bool = False  # False: the build asks whether to go on without (the original's prompt)
    database_dump: Optional[str] = None  # applicationDB.sql or applicationDB.psql, when known
    notes: List[str] = field(default_factory=list)  # lines to show: what was assumed, what was not checked


def _conclude(
    values: Mapping[str, str],
    files: Dict[str, bytes],
    recognised: Optional[Tuple[str, str]],
    where: str,
    dump: Optional[str],
) -> Tuple[Markers, str, str, str, List[str]]:
    """(markers, application, prefix, recognised_by, notes) once the markers are read; AdtError on a mismatch."""
    found = parse(files, where)
    notes: List[str] = []
    application, recognised_by = found.application or "", ""
    if not application and recognised:
        application, recognised_by = recognised
        notes.append(f"{where} has no {APPLICATION_FILE}: recognised as {application} by its {recognised_by}")
    template = (values.get("APPLICATION") or "").lower()
    if not application and template in APPLICATIONS:
        raise AdtError(
            f"{where} is not a {template} webroot: it has no {APPLICATION_FILE} and none of {template}'s files",
            "choose a backup of the site, or set APPLICATION to none for a site without a CMS",
        )
    check(Markers(application or None, found.engine, found.prefix), values, where, dump)
    prefix = found.prefix
    if prefix is None and application:
        prefix = DEFAULT_PREFIXES.get(application)
        if prefix is None:
            raise AdtError(
                f"{where} has no {PREFIX_FILE} (its database table prefix)",
                f"put the prefix, one line, in {PREFIX_FILE} at the webroot's root and make the backup again",
            )
        notes.append(f"{where} has no {PREFIX_FILE}: the table prefix is taken to be {prefix} (adt's default)")
    if not found.engine:
        notes.append(
            f"{where} has no {ENGINE_FILE}: the database engine was checked "
            + ("by the dump's name only" if dump else "against nothing")
        )
    return found, application, prefix or "", recognised_by, notes


# -- temporal backups ------------------------------------------------------------------------------


def _size(client, endpoint: Endpoint, bucket: str, key: str) -> Optional[int]:
    """The object's size, or None when it (or its bucket) does not exist."""
    try:
        return int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except s3.s3_errors() as exc:
        if s3.error_code(exc) in MISSING:
            return None
        raise s3.describe(exc, endpoint, bucket, f"look for {key}") from None


KINDS = {tarfile.LNKTYPE: "hard link", tarfile.SYMTYPE: "symbolic link", tarfile.DIRTYPE: "directory"}


def _marker_bytes(archive, member, name: str, where: str) -> bytes:
    """A marker member's content: a regular file of at most LIMIT bytes, or AdtError."""
    if not member.isreg():
        kind = KINDS.get(member.type, "special file")
        raise AdtError(
            f"{where}: its {name} is a {kind}, not a regular file: not trusting this backup",
            f"a marker is a plain file of one line: check who wrote {where}",
        )
    if member.size > LIMIT:
        raise AdtError(
            f"{where}: its {name} is {member.size} bytes, not a marker line: not trusting this backup",
            f"a marker is at most {LIMIT} bytes: check who wrote {where}",
        )
    return archive.extractfile(member).read(LIMIT + 1)


def _scan_webroot(client, endpoint: Endpoint, bucket: str, key: str):
    """(marker name -> bytes, (application, file) recognised by its files or None), read from the archive as
    it arrives and stopped at the third marker."""
    where = f"s3://{bucket}/{key}"
    files: Dict[str, bytes] = {}
    recognised: Optional[Tuple[str, str]] = None
    try:
        with transfer.streamed(client, bucket, key) as (received, _):
            archive, _ = gzipstream.open_tar(received)
            with archive:
                for member in archive:
                    try:
                        name = "/".join(member_parts(member.name))
                    except ValueError:
                        continue  # never a marker; a restore refuses it (adt.backup.archive)
                    if name in FILES and name not in files:
                        files[name] = _marker_bytes(archive, member, name, where)
                        if len(files) == len(FILES):
                            break
                    elif recognised is None and (application := signature(name)):
                        recognised = (application, name)
    except DAMAGE as exc:
        raise AdtError(f"{where} is not a readable gzip tar archive: {exc}", "choose another backup") from None
    except s3.s3_errors() as exc:
        raise s3.describe(exc, endpoint, bucket, f"read {key}") from None
    return files, recognised


def _dump_name(client, endpoint: Endpoint, bucket: str, key: str) -> Tuple[Optional[str], str]:
    """(the dump's file name from the archive's first header, a note): only the first block is read."""
    where = f"s3://{bucket}/{key}"
    try:
        with transfer.streamed(client, bucket, key) as (received, _):
            archive, _ = gzipstream.open_tar(received)
            with archive:
                member = archive.next()
    except DAMAGE as exc:
        raise AdtError(f"{where} is not a readable gzip tar archive: {exc}", "choose another backup") from None
    except s3.s3_errors() as exc:
        raise s3.describe(exc, endpoint, bucket, f"read {key}") from None
    name = PurePosixPath(member.name).name if member is not None else ""
    if name.startswith("applicationDB."):
        return name, ""
    return None, f"{where} holds {name or 'nothing'}, not a dump named applicationDB.*"


def interrogate_backup(values: Mapping[str, str], endpoint: Endpoint, period: str) -> Interrogation:
    """Read the temporal backups a build of BUILD_ARCHIVE_CHOICE `period` restores from `endpoint`:
    `applicationsourcecode.tar.gz` in `<U>-<period>` (missing: AdtError) and `<WEBSITE_NAME>-DB-backup.tar.gz`
    in `<U>-db-<period>` (missing: `database_archive_present` False). Checks them against the template's
    APPLICATION and DATABASE_INSTALLATION_TYPE (adt.machine.markers.check)."""
    period = period.lower()
    if period not in PERIODS:
        raise AdtError(
            f"BUILD_ARCHIVE_CHOICE {period!r} is not a backup periodicity", f"use one of {', '.join(PERIODS)}"
        )
    url = values.get("WEBSITE_URL") or ""
    if not url:
        raise AdtError("WEBSITE_URL is not set: the backup's bucket is named from it", "set it in the template")
    bucket = check_bucket_name(backup_bucket(url, period), "WEBSITE_URL")
    db_bucket = check_bucket_name(backup_bucket(url, period, database=True), "WEBSITE_URL")
    db_key = f"{values.get('WEBSITE_NAME') or website_name(url)}-DB-backup.tar.gz"
    client = s3.s3_client(endpoint, profile="bulk")
    size = _size(client, endpoint, bucket, ARCHIVE)
    if size is None:
        raise AdtError(
            f"no website backup to build from: s3://{bucket}/{ARCHIVE} does not exist on {endpoint.url}",
            f"make one on the running site (Backup.sh {period.upper()}, or adt backup website {period}), or set "
            "BUILD_ARCHIVE_CHOICE to a periodicity that has one",
        )
    db_present = _size(client, endpoint, db_bucket, db_key) is not None
    dump, dump_note = _dump_name(client, endpoint, db_bucket, db_key) if db_present else (None, "")
    files, recognised = _scan_webroot(client, endpoint, bucket, ARCHIVE)
    where = f"s3://{bucket}/{ARCHIVE}"
    found, application, prefix, recognised_by, notes = _conclude(values, files, recognised, where, dump)
    if not db_present:
        notes.append(f"no database backup at s3://{db_bucket}/{db_key}: the site would be built without its data")
    if dump_note:
        notes.append(dump_note)
    return Interrogation(
        where,
        found,
        application,
        prefix,
        recognised_by,
        size,
        f"s3://{db_bucket}/{db_key}",
        db_present,
        dump,
        notes,
    )


# -- baselines -------------------------------------------------------------------------------------

REPOSITORY_SETTINGS = {  # adt.baseline.publish.remote_url reads machine names; a template has these
    "APPLICATIONREPOSITORYPROVIDER": ("APPLICATION_REPOSITORY_PROVIDER",),
    "APPLICATIONREPOSITORYOWNER": ("APPLICATION_REPOSITORY_OWNER",),
    "APPLICATIONREPOSITORYUSERNAME": ("APPLICATION_REPOSITORY_USERNAME",),
    "APPLICATIONREPOSITORYTOKEN": ("APPLICATION_REPOSITORY_TOKEN", "APPLICATION_REPOSITORY_PASSWORD"),
}


class _TemplateSettings:
    """A template's values seen through the machine-settings names the baseline helpers read."""

    def __init__(self, values: Mapping[str, str]):
        self.values = values

    def value(self, key: str) -> Optional[str]:
        names = REPOSITORY_SETTINGS.get(key, (key,))
        return next((self.values[n] for n in names if self.values.get(n)), None)

    def require(self, key: str) -> str:
        found = self.value(key)
        if not found:
            name = REPOSITORY_SETTINGS.get(key, (key,))[0]
            raise AdtError(f"{name} is not set: the baseline repositories need it", "set it in the template")
        return found


def clone_command(url: str, into: str) -> List[str]:
    """A clone of main's last commit, no checkout, blobs over LIMIT bytes left on the server."""
    return baseline.git(
        "clone", "-q", "--depth", "1", "--no-checkout", f"--filter=blob:limit={LIMIT}", "-b", "main", url, into
    )


def _clone(remote: baseline.Remote, into: Path) -> Path:
    try:
        baseline._git(clone_command(remote.url, str(into)), remote=remote, timeout=600, changes=False)
    except baseline.GitFailed as exc:
        if re.search(r"Remote branch .* not found", exc.stderr):
            raise AdtError(
                f"the baseline repository {baseline.shown(remote)} has no main branch",
                "publish a baseline into it first (adt baseline website|database)",
            ) from None
        if re.search(r"not found|does not exist|not appear to be a git repository", exc.stderr, re.I):
            raise AdtError(
                f"the baseline repository {baseline.shown(remote)} does not exist",
                "publish the baseline first (adt baseline website|database), or check the identifier and "
                "APPLICATION_REPOSITORY_OWNER",
            ) from None
        raise
    # Lazy fetching off in this private clone (git fetches an omitted blob from a promisor remote the moment
    # anything asks for it): with no remote left, an omitted (large) blob is an error, never a download.
    for argv in (
        baseline.git("config", "--unset-all", "extensions.partialClone"),
        baseline.git("remote", "remove", "origin"),
    ):
        try:
            baseline._git(argv, cwd=into, changes=False)
        except baseline.GitFailed:  # a server that ignores the filter sent every blob: no such setting
            pass
    return into


def _ls_tree(clone: Path, *args: str) -> List[str]:
    """The entries `git ls-tree -z HEAD args` prints (trees are all in the clone: nothing is fetched)."""
    out = baseline._git(baseline.git("ls-tree", "-z", "HEAD", *args), cwd=clone, changes=False).stdout
    return [entry for entry in out.split("\0") if entry]


def _entries(clone: Path, *paths: str) -> List[Tuple[str, str, str]]:
    """(mode, object, path) of the root entries named `paths`."""
    found = []
    for entry in _ls_tree(clone, "--", *paths):
        info, _, path = entry.partition("\t")
        mode, _, obj = info.split()
        found.append((mode, obj, path))
    return found


GIT_KINDS = {"120000": "symbolic link", "040000": "directory", "160000": "submodule"}


def _git_marker(clone: Path, mode: str, obj: str, name: str, where: str) -> bytes:
    if mode not in ("100644", "100755"):
        raise AdtError(
            f"{where}: its {name} is a {GIT_KINDS.get(mode, 'special entry')}, not a regular file: not trusting "
            "this baseline",
            f"a marker is a plain file of one line: check who wrote {where}",
        )
    try:
        size = int(baseline._git(baseline.git("cat-file", "-s", obj), cwd=clone, changes=False).stdout)
    except baseline.GitFailed:  # left on the server by the clone's filter: more than LIMIT bytes
        size = LIMIT + 1
    if size > LIMIT:
        raise AdtError(
            f"{where}: its {name} is over {LIMIT} bytes, not a marker line: not trusting this baseline",
            f"a marker is at most {LIMIT} bytes: check who wrote {where}",
        )
    try:
        return baseline._git(baseline.git("cat-file", "blob", obj), cwd=clone, changes=False).stdout.encode()
    except UnicodeDecodeError:
        raise AdtError(f"{where}: its {name} is not text", "remove it or rewrite it") from None


def interrogate_baseline(
    values: Mapping[str, str], identifier: str, remote_base: Optional[str] = None
) -> Interrogation:
    """Read the baselines a build from `<identifier>-webroot-sourcecode-baseline` and `<identifier>-db-baseline`
    restores (at `remote_base`, else APPLICATION_REPOSITORY_PROVIDER/OWNER with the template's username and
    token, given to git through askpass only). A missing repository is an AdtError; a database baseline
    without a dump is `database_archive_present` False (the original asks)."""
    settings = _TemplateSettings(values)
    web = baseline.remote_url(settings, baseline.repository_name(identifier, "website"), remote_base)
    db = baseline.remote_url(settings, baseline.repository_name(identifier, "database"), remote_base)
    where = baseline.shown(web)
    with tempfile.TemporaryDirectory(prefix="adt-interrogation-") as scratch:  # 0700, removed whatever happens
        webroot = _clone(web, Path(scratch, "webroot"))
        files = {
            path: _git_marker(webroot, mode, obj, path, where)
            for mode, obj, path in _entries(webroot, *FILES)
            if path in FILES
        }
        recognised = None
        if APPLICATION_FILE not in files:
            for path in _ls_tree(webroot, "-r", "--name-only"):
                application = signature(path)
                if application:
                    recognised = (application, path)
                    break
        database = _clone(db, Path(scratch, "database"))
        names = _ls_tree(database, "--name-only")
    dumps = [name for name in names if name in ("applicationDB.sql", "applicationDB.psql")]
    dump = dumps[0] if len(dumps) == 1 else None
    found, application, prefix, recognised_by, notes = _conclude(values, files, recognised, where, dump)
    if len(dumps) > 1:
        notes.append(f"{baseline.shown(db)} holds both applicationDB.sql and applicationDB.psql")
    elif not dumps:
        notes.append(f"{baseline.shown(db)} has no applicationDB.sql or applicationDB.psql at its root")
    return Interrogation(
        where,
        found,
        application,
        prefix,
        recognised_by,
        None,
        baseline.shown(db),
        bool(dumps),
        dump,
        notes,
    )
