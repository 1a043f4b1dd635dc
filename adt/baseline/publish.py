"""Baselines: the webroot and the database frozen into git repositories that may be shared, and back.

`<id>-webroot-sourcecode-baseline` gets a copy of the webroot and `<id>-db-baseline` the dump
(`applicationDB.sql` or `.psql` at its root), both on branch `main`, after the original's branding removal
(the live domain and site name become placeholders; PHP serialized strings keep correct lengths).

Nothing is pushed until the publication gate passes: every file and every row that would be published is
scanned for secrets and personal data, and each finding must be fixed, redacted (`redact=True` rewrites
the dump per CMS) or waived by its id. The CMS's live configuration file is left out of webroot baselines
(a build writes it afresh). Work happens in a staging directory under ${HOME}/backups that is removed
afterwards; the live webroot and database are only read.

In a dry run (adt.run.dry_running) what would change a repository (init, commit, push), a webroot (the
swap) or a database (the load) is printed instead; the reads (ls-remote, clone, the dump) and the gate run,
so the dry run says whether the gate would let the baseline through.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union
from urllib.parse import unquote, urlsplit, urlunsplit

from adt import run
from adt.errors import AdtError
from adt.fs import escaping_symlinks, restore_target, swap_in, webroot_relative, write_atomically

REPOSITORY_HOSTS = {"github": "github.com", "gitlab": "gitlab.com", "bitbucket": "bitbucket.org"}
CONFIG_FILES = {
    "wordpress": ("wp-config.php",),
    "joomla": ("configuration.php",),
    "drupal": ("sites/default/settings.php",),
    "moodle": ("config.php",),
}
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
GITATTRIBUTES = """# Line endings normalised for text; binaries left untouched (written by adt baseline).
* text=auto
*.php text
*.js text
*.css text
*.html text
*.sql text
*.psql text
*.png binary
*.jpg binary
*.jpeg binary
*.gif binary
*.webp binary
*.ico binary
*.woff binary
*.woff2 binary
*.ttf binary
*.pdf binary
*.zip binary
*.gz binary
"""


class Refused(AdtError):
    """The gate found something: `lines` is the report to show."""

    def __init__(self, message: str, hint: str, lines: List[str]):
        super().__init__(message, hint)
        self.lines = lines


class GitFailed(AdtError):
    """A git command failed: the message names it with git's error line; `stderr` is all it said."""

    def __init__(self, message: str, stderr: str):
        super().__init__(message)
        self.stderr = stderr


@dataclass
class Published:
    repository: str
    url: str  # without credentials
    commit: str
    files: int
    findings: int
    waived: int
    notes: List[str] = field(default_factory=list)


def repository_name(identifier: str, kind: str) -> str:
    if not IDENTIFIER.match(identifier or ""):
        raise AdtError(
            f"baseline identifier {identifier!r} is not usable in a repository name",
            "use letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return f"{identifier}-webroot-sourcecode-baseline" if kind == "website" else f"{identifier}-db-baseline"


@dataclass(frozen=True)
class Remote:
    """A baseline repository: its URL, which never holds credentials (anyone may read a process's
    arguments in /proc), and the username and token git is given through askpass."""

    url: str
    username: str = field(default="", repr=False)
    token: str = field(default="", repr=False)


def split_credentials(url: str) -> Tuple[str, str, str]:
    """(url without its `user[:password]@`, user, password). Over http(s) any user part is taken out: a token
    may stand there alone (`https://TOKEN@github.com`, `x-access-token@…`), and git gets it through askpass;
    other schemes keep a user without a password (`ssh://git@host`: ssh takes no password from git)."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    web = parts.scheme.lower() in ("http", "https")
    if "://" not in url or not at or (":" not in userinfo and not web):
        return url, "", ""
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=hostport)), unquote(user), unquote(password)


def publish_command(
    role: str,
    identifier: str,
    remote_base: Optional[str] = None,
    waive: Sequence[str] = (),
    redact: bool = False,
    replace: bool = False,
    dry: bool = False,
) -> List[str]:
    """What a machine of `role` runs to publish its baseline (PerformWebsiteBaseline.sh and
    PerformDatabaseBaseline.sh send it over ssh); --redact is the database's, --replace the website's."""
    argv = ["adt", "baseline", "website" if role == "webserver" else "database", identifier]
    argv += [f"--remote-base={remote_base}"] if remote_base else []
    argv += [f"--waive={w}" for w in waive] + (["--redact"] if redact and role == "database" else [])
    argv += ["--replace"] if replace and role == "webserver" else []
    return argv + (["--dry-run"] if dry else [])


def remote_url(settings, repository: str, base: Optional[str] = None) -> Remote:
    """Where the baseline goes: `<base>/<repository>.git` when a base is given (file://, ssh://, https://,
    a path; a `user:token@` in it is taken out of the URL), else the APPLICATIONREPOSITORYPROVIDER's https
    URL, with the username and token of the settings (as the original, but never inside the URL)."""
    if base:
        base, user, token = split_credentials(base.rstrip("/"))
        if "://" not in base and not re.match(r"^[^/]+@[^:]+:", base):
            base = "file://" + str(Path(base).resolve())
        return Remote(f"{base}/{repository}.git", user, token)
    provider = (settings.value("APPLICATIONREPOSITORYPROVIDER") or "").lower()
    if provider not in REPOSITORY_HOSTS:
        raise AdtError(
            f"APPLICATIONREPOSITORYPROVIDER {provider!r} is not github, gitlab or bitbucket",
            "set it in the settings, or give --remote-base (for example file:///srv/git)",
        )
    owner = settings.require("APPLICATIONREPOSITORYOWNER")
    user, token = settings.require("APPLICATIONREPOSITORYUSERNAME"), settings.require("APPLICATIONREPOSITORYTOKEN")
    return Remote(f"https://{REPOSITORY_HOSTS[provider]}/{owner}/{repository}.git", user, token)


def shown(url: Union[Remote, str]) -> str:
    return re.sub(r"//[^/@]+@", "//", url.url if isinstance(url, Remote) else url)


# git runs GIT_ASKPASS with its prompt as $1 and reads the answer on stdout. printf is a builtin of sh:
# the answers go from the environment to git through a pipe, never through a process's arguments.
ASKPASS = """#!/bin/sh
# written by adt for one git command, removed after it
case "$1" in
  Username*) printf '%s\\n' "$ADT_GIT_USERNAME" ;;
  *) printf '%s\\n' "$ADT_GIT_PASSWORD" ;;
esac
"""


@contextmanager
def _credentials(remote: Optional[Remote]) -> Iterator[Dict[str, str]]:
    """The environment that gives git the remote's credentials: an askpass script (no secret in it) in a
    private directory, the values themselves in the environment of git alone."""
    if remote is None or not (remote.username or remote.token):
        yield {"GIT_ASKPASS": "true"}  # answers nothing: a repository that wants credentials fails at once
        return
    directory = tempfile.mkdtemp(prefix="adt-askpass-")  # 0700
    try:
        script = Path(directory) / "askpass"
        write_atomically(script, ASKPASS, 0o700)
        yield {"GIT_ASKPASS": str(script), "ADT_GIT_USERNAME": remote.username, "ADT_GIT_PASSWORD": remote.token}
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def git(*args: str) -> List[str]:
    """A git command line: no credential helper (an inherited `store` helper would save the token in a file)."""
    return ["git", "-c", "credential.helper=", *args]


COMMITTER = ("-c", "user.name=adt baseline", "-c", "user.email=baseline@adt.invalid")


def ls_remote_command(url: str) -> List[str]:
    return git("ls-remote", url)


def init_bare_command(path: str) -> List[str]:
    return git("init", "-q", "--bare", "-b", "main", path)


def commit_commands(message: str) -> List[List[str]]:
    """What turns a staging tree into one commit on main (run in the tree)."""
    return [git("init", "-q", "-b", "main"), git("add", "-A"), git(*COMMITTER, "commit", "-q", "-m", message)]


def push_command(url: str, force: bool) -> List[str]:
    return git("push", "-q", *(["--force"] if force else []), url, "main:main")


def clone_command(url: str, into: str) -> List[str]:
    return git("clone", "-q", "--depth", "1", "-b", "main", url, into)


def _git(
    argv: Sequence[str],
    cwd: Optional[Path] = None,
    remote: Optional[Remote] = None,
    timeout: float = 600,
    changes: bool = True,
):
    """Run a git command line (built above) with no terminal prompt, to its end (its CompletedProcess); the
    remote's credentials come from askpass. `changes`: whether it changes anything (a dry run prints it
    instead of running it); reads still run. A failure is one AdtError: git's own error line, no secret."""
    hidden = [remote.token] if remote else []
    verb = next(word for word in argv[3:] if not word.startswith("-") and "=" not in word)
    with _credentials(remote) as extra:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **extra}
        result = run.run(
            argv,
            check=False,
            timeout=timeout,
            env=env,
            cwd=None if cwd is None else str(cwd),
            secrets=hidden,
            what=f"git {verb}",
            changes=changes,
        )
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["no message"]
        message = next((line for line in lines if line.startswith(("fatal:", "error:"))), lines[-1])
        raise GitFailed(run.redact(f"git {verb} failed: {shown(message)}", hidden), run.redact(result.stderr, hidden))
    return result


def remote_heads(remote: Remote) -> Optional[List[str]]:
    """The refs of the remote repository; None when it does not exist (a file:// one is then created)."""
    url = remote.url
    try:
        return _git(ls_remote_command(url), remote=remote, timeout=120, changes=False).stdout.split("\n")[:-1]
    except AdtError as exc:  # a GitFailed, or git missing or too slow
        if url.startswith("file://") and not Path(url[7:]).exists():
            if not run.dry_run():
                Path(url[7:]).parent.mkdir(parents=True, exist_ok=True)
            _git(init_bare_command(url[7:]))
            return []
        if re.search(r"not found|does not exist|not appear to be a git repository", getattr(exc, "stderr", ""), re.I):
            return None
        raise


def _push(stage: Path, remote: Remote, message: str, force: bool) -> str:
    """Commit the staging tree and push it to main; the commit, or "" in a dry run (which prints the commands)."""
    for argv in commit_commands(message):
        _git(argv, cwd=stage)
    if run.dry_run():
        _git(push_command(remote.url, force), cwd=stage, remote=remote)
        return ""
    commit = _git(git("rev-parse", "HEAD"), cwd=stage, changes=False).stdout.strip()
    _git(push_command(remote.url, force), cwd=stage, remote=remote)
    heads = remote_heads(remote) or []
    if f"{commit}\trefs/heads/main" not in heads:
        raise AdtError(f"the push to {shown(remote)} did not leave main at {commit[:12]}")
    return commit


def _prepare_remote(url: Remote, replace: bool) -> None:
    heads = remote_heads(url)
    if heads is None:
        raise AdtError(
            f"the repository {shown(url)} does not exist",
            "create it (empty) with your repository provider, then run this again",
        )
    if heads and not replace:
        raise AdtError(
            f"the repository {shown(url)} is not empty", "empty it, or pass --replace to overwrite its main branch"
        )


def _gate(findings, waive: Sequence[str], waiver_file: Optional[Path], record: Path, what: str):
    from adt.baseline import gate

    waived_ids = set(waive)
    if waiver_file and waiver_file.exists():
        waived_ids |= set(gate.Waivers.load(waiver_file).ids)
    blocking, waived = gate.gate(findings, waived_ids)
    write_atomically(record, json.dumps(gate.manifest(findings, waived_ids), indent=2) + "\n", 0o600)
    if blocking:
        raise Refused(
            f"not publishing the {what}: {len(blocking)} finding(s) of secrets or personal data",
            f"fix or redact them, or waive each by id (--waive ID or {waiver_file}); the report is in {record}",
            gate.report_lines(blocking),
        )
    return waived


def _excluded(settings, home: Path, application: str, include_config: bool) -> List[str]:
    excluded = [] if include_config else list(CONFIG_FILES.get(application, ()))
    application_dat = home / "runtime" / "application.dat"
    if application_dat.exists():
        for line in application_dat.read_text().splitlines():
            if line.startswith("EXCLUDE_FROM_BACKUP:"):
                excluded += [e for e in line.split(":")[1:] if e]
    return [webroot_relative(e) for e in excluded]


def _staging(home: Path, identifier: str) -> Path:
    (home / "backups").mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"baseline-{identifier}-", dir=home / "backups"))


def _brand_tree(tree: Path, pairs) -> Tuple[int, int]:
    """Apply the placeholder pairs to every regular file under tree, modes kept: (files, files changed)."""
    from adt.text import branding

    files = changed = 0
    for path in tree.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        files += 1
        data = path.read_bytes()
        new = branding.brand_file_bytes(data, pairs)
        if new != data:
            mode = path.stat().st_mode
            path.write_bytes(new)
            os.chmod(path, mode)
            changed += 1
    return files, changed


def website(
    settings,
    identifier: str,
    home: Path,
    webroot: Path = Path("/var/www/html"),
    remote_base: Optional[str] = None,
    waive: Sequence[str] = (),
    replace: bool = False,
    include_config: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> Published:
    from adt.baseline import gate
    from adt.text import branding

    repository = repository_name(identifier, "website")
    url = remote_url(settings, repository, remote_base)
    if not webroot.is_dir():
        raise AdtError(f"webroot {webroot} does not exist")
    _prepare_remote(url, replace)
    application = (settings.value("APPLICATION") or "").lower()
    excluded = _excluded(settings, home, application, include_config)
    stage = _staging(home, identifier)
    try:
        tree = stage / "tree"

        def ignore(directory, names):
            relative = Path(directory).relative_to(webroot)
            return [n for n in names if n == ".git" or webroot_relative(str(relative / n)) in excluded]

        shutil.copytree(webroot, tree, symlinks=True, ignore=ignore)
        if (tree / "index.php.backup").is_file():
            shutil.copy2(tree / "index.php.backup", tree / "index.php")
        pairs = branding.file_pairs(settings.require("WEBSITEURL"), settings.value("WEBSITEDISPLAYNAME") or "")
        files, changed = _brand_tree(tree, pairs)
        (tree / ".gitattributes").write_text(GITATTRIBUTES)
        progress(f"copied {files} files from {webroot}, the site's names replaced by placeholders in {changed}")
        left = sum(
            branding.remaining(p.read_bytes(), settings.require("WEBSITEURL"))
            for p in tree.rglob("*")
            if p.is_file() and not p.is_symlink()
        )
        notes = [f"{left} occurrence(s) of the live domain left (in binary files)"] if left else []
        findings = gate.scan_tree(tree)
        waived = _gate(
            findings,
            waive,
            home / "runtime" / "baseline-waivers.dat",
            home / "runtime" / f"{repository}.gate.json",
            "webroot baseline",
        )
        commit = _push(tree, url, "Baseline Baby", force=replace)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return Published(repository, shown(url), commit, files, len(findings), len(waived), notes)


def database(
    settings,
    identifier: str,
    home: Path,
    host: Optional[str] = None,
    remote_base: Optional[str] = None,
    waive: Sequence[str] = (),
    redact: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> Published:
    from adt.baseline import gate
    from adt.database import DUMP_NAMES, Connection, dump_to, ip_mask
    from adt.text import branding

    repository = repository_name(identifier, "database")
    url = remote_url(settings, repository, remote_base)
    connection = Connection.from_settings(settings, host)
    if url.url.startswith("file://"):
        remote_heads(url)  # creates a missing file:// repository; others must exist (the push says so)
    stage = _staging(home, identifier)
    application = (settings.value("APPLICATION") or "").lower()
    try:
        tree = stage / "tree"
        tree.mkdir()
        name = DUMP_NAMES[connection.dialect]
        pairs = branding.sql_pairs(
            settings.require("WEBSITEURL"),
            settings.value("WEBSITEDISPLAYNAME") or "",
            connection.user,
            ip_mask(settings, connection.host),
        )
        size, _ = dump_to(stage / name, connection, pairs)
        if redact:
            from adt.baseline import redact as redaction

            with open(stage / name, "rb") as source, open(tree / name, "wb") as target:
                summary = redaction.redact(source, connection.dialect, application or None)
                for line in summary:
                    target.write(line)
            progress(f"redacted the dump for {application or 'the detected CMS'}")
            (stage / name).unlink()
        else:
            os.rename(stage / name, tree / name)
        progress(f"dumped {connection.name}: {size} bytes, the site's names replaced by placeholders")
        left = branding.remaining((tree / name).read_bytes(), settings.require("WEBSITEURL"))
        with open(tree / name, "rb") as dump:
            broken = branding.check_dump(dump, connection.dialect)
        if left or broken:
            raise AdtError(
                f"the dump is not portable: {left} occurrence(s) of the live domain left, "
                f"{len(broken)} serialized string(s) with a wrong length",
                "; ".join(broken[:3]),
            )
        with open(tree / name, "rb") as dump:
            findings = gate.scan_dump(dump, connection.dialect)
        waived = _gate(
            findings,
            waive,
            home / "runtime" / "baseline-waivers.dat",
            home / "runtime" / f"{repository}.gate.json",
            "database baseline",
        )
        commit = _push(tree, url, "Baseline baby", force=True)  # the original force-pushes database baselines
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return Published(repository, shown(url), commit, 1, len(findings), len(waived))


def _clone(url: Remote, into: Path) -> Path:
    if remote_heads(url) is None:
        raise AdtError(f"the repository {shown(url)} does not exist")
    _git(clone_command(url.url, str(into)), remote=url, changes=False)
    shutil.rmtree(into / ".git")
    return into


def restore_website(
    settings,
    identifier: str,
    target: Path = Path("/var/www/html"),
    remote_base: Optional[str] = None,
    skip_unsafe: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> str:
    """Replace the webroot with a baseline, the placeholders turned back into this site's names (the
    original's GitCloneForWebroot + ApplyApplicationBranding); prepared beside it, then swapped in. A
    repository is untrusted like an archive: a symlink that leads out of the target refuses it (or, with
    `skip_unsafe`, is left out)."""
    from adt.text import branding

    url = remote_url(settings, repository_name(identifier, "website"), remote_base)
    target = restore_target(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.baseline-", dir=target.parent))
    try:
        _clone(url, staging / "tree")
        for link, points_to in escaping_symlinks(staging / "tree", target):
            if not skip_unsafe:
                raise AdtError(
                    f"not restoring {shown(url)}: the symlink {link} -> {points_to} leads out of {target}",
                    f"{target} is unchanged; --skip-unsafe restores it without such links",
                )
            os.unlink(staging / "tree" / link)
            progress(f"left out {link} -> {points_to}: it leads out of {target}")
        pairs = branding.apply_file_pairs(settings.require("WEBSITEURL"), settings.value("WEBSITEDISPLAYNAME") or "")
        files, _ = _brand_tree(staging / "tree", pairs)
        if run.dry_run():
            run.announce(f"{target} with {shown(url)} ({files} files, prepared beside it)", kind="replace")
            return f"dry run: {target} is unchanged"
        os.rename(staging / "tree", staging / "ready")
        swap_in(staging / "ready", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return f"restored {shown(url)} into {target}"


def restore_database(
    settings,
    identifier: str,
    home: Path,
    host: Optional[str] = None,
    database: Optional[str] = None,
    remote_base: Optional[str] = None,
):
    """Load a database baseline, the placeholders turned back (the original's InstallApplicationDB from a
    baseline); returns the per-table checksums (none in a dry run, which prints the load instead)."""
    from adt.database import DUMP_NAMES, Connection, ip_mask, load_dump
    from adt.text import branding

    url = remote_url(settings, repository_name(identifier, "database"), remote_base)
    connection = Connection.from_settings(settings, host, database)
    stage = _staging(home, identifier)
    try:
        tree = _clone(url, stage / "tree")
        dump = tree / DUMP_NAMES[connection.dialect]
        if not dump.exists():
            raise AdtError(f"{shown(url)} has no {dump.name} at its root (is it a {connection.dialect} baseline?)")
        pairs = branding.apply_sql_pairs(
            settings.require("WEBSITEURL"),
            settings.value("WEBSITEDISPLAYNAME") or "",
            connection.user,
            ip_mask(settings, connection.host),
        )
        if run.dry_run():  # the option file travels on an inherited pipe, /dev/fd/N
            client = [*connection.command("client", "/dev/fd/N"), *connection.engine.LOAD_ARGUMENTS]
            run.announce(
                f"{dump.name} of {shown(url)}, placeholders turned back: {run.shown(client)} < {dump.name}", kind="load"
            )
            return {}
        return load_dump(connection, dump, pairs)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
