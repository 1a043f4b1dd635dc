"""`--dry-run` on the commands that change a bucket, a webroot, a database or a git remote: the exact commands
and writes are printed, and afterwards nothing has changed (real SeaweedFS, MariaDB and git repositories)."""

import hashlib
import random
import tempfile
import time

import pytest

from adt.backup import website
from adt.backup.website import compressor
from adt.baseline import publish
from adt.cli import main
from adt.database import Connection, checksums
from adt.settings.machine import MachineSettings
from tests.integration.test_backup_database import make_database, settings_for
from tests.integration.test_baseline import bare, webroot
from tests.services.databases import MariaDB


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory):
    with MariaDB(tmp_path_factory.mktemp("mariadb-dry-run")) as server:
        yield server


def snapshot(root):
    """Every path under root with its mode and content: a webroot before and after."""
    return {str(p.relative_to(root)): (p.lstat().st_mode, p.is_file() and not p.is_symlink()
                                       and hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*"))}


def site_buckets(machine):
    """Every bucket of this machine's site (its config bucket and every backup bucket)."""
    prefix = machine.website.replace(".", "-")
    return sorted(b["Name"] for b in machine.servers[0].client().list_buckets()["Buckets"]
                  if b["Name"].startswith(prefix))


def heads(repository):
    import subprocess

    return subprocess.run(["git", "ls-remote", str(repository)], capture_output=True, text=True,
                          check=True).stdout


def test_backup_run_from_cron_prints_every_step_and_changes_nothing(plain_machine, tmp_path, monkeypatch, capsys):
    for name, value in plain_machine.env.items():
        monkeypatch.setenv(name, value)
    root = webroot(plain_machine, tmp_path / "html")
    before = snapshot(root)
    real = website.backup
    monkeypatch.setattr(website, "backup", lambda settings, period, **kw: real(settings, period, root, **kw))
    monkeypatch.setattr(random, "randint", lambda a, b: 60)  # a pause that is slept would show in the time
    started = time.monotonic()
    assert main(["--home", str(plain_machine.home), "backup", "run", "hourly", "--from-cron", "--force",
                 "--dry-run"]) == 0
    assert time.monotonic() - started < 30
    bucket = plain_machine.website.replace(".", "-") + "-hourly"
    marker = f"{tempfile.gettempdir()}/adt-marker-XXXXXXXX"
    endpoint = plain_machine.servers[0].endpoint
    assert capsys.readouterr().out.splitlines() == [
        "would pause: a random 1-60 s first (BackupFromCron.sh)",
        "would take the lock: BACKUP_RUNNING (renewed during the backup, released 75 s after it was taken)",
        f"would run: tar --create --file - --use-compress-program '{compressor()}' -C {root} . -C {marker} "
        f"./XXXXXX-DO_NOT_REMOVE | upload to s3://{bucket}/applicationsourcecode.tar.gz on endpoint 1 "
        f"({endpoint}), 2 generations kept",
        "would verify: the hourly webserver backup on every endpoint (as VerifyBackupPresent.sh)",
    ]
    assert site_buckets(plain_machine) == []  # no lock, no bucket, no object
    assert snapshot(root) == before


def test_backup_run_dry_run_still_reads_the_gates(plain_machine, capsys):
    result = plain_machine.run("backup", "run", "hourly", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("not backing up: the fleet is not installed yet (INSTALLED_SUCCESSFULLY, "
                             "WEBSERVER_READY)\n")
    assert site_buckets(plain_machine) == []


def test_website_restore_prints_what_it_would_replace_and_leaves_it(plain_machine, tmp_path):
    settings = MachineSettings.load(plain_machine.settings_path)
    website.backup(settings, "daily", webroot(plain_machine, tmp_path / "html"))
    target = tmp_path / "live"
    target.mkdir()
    (target / "index.php").write_text("<?php // the live site\n")
    before, beside = snapshot(target), sorted(p.name for p in tmp_path.iterdir())
    result = plain_machine.run("restore", "website", "--period", "daily", "--target", str(target), "--dry-run")
    assert result.returncode == 0, result.stderr
    bucket = plain_machine.website.replace(".", "-") + "-daily"
    assert result.stdout == (f"would replace: {target} with s3://{bucket}/applicationsourcecode.tar.gz from endpoint 1 "
                             f"({plain_machine.servers[0].endpoint}), extracted beside it and checked first\n"
                             f"dry run: {target} is unchanged\n")
    assert snapshot(target) == before and sorted(p.name for p in tmp_path.iterdir()) == beside


def test_database_backup_and_restore_print_the_pipeline_and_change_nothing(plain_machine, mariadb):
    make_database(mariadb, "appdb")
    settings = settings_for(plain_machine, mariadb)
    connection = Connection.from_settings(settings)
    endpoint = plain_machine.servers[0].endpoint
    bucket = plain_machine.website.replace(".", "-") + "-db-weekly"
    archive = f"{plain_machine.website.split('.')[1]}-DB-backup.tar.gz"
    result = plain_machine.run("backup", "database", "weekly", "--dry-run")
    assert result.returncode == 0, result.stderr
    dump = " ".join(connection.command("dump", "/dev/fd/N"))
    assert result.stdout == (f"would run: {dump} | sanitise into applicationDB.sql | {compressor()} | upload to "
                             f"s3://{bucket}/{archive} on endpoint 1 ({endpoint}), 2 generations kept\n")
    assert site_buckets(plain_machine) == []

    assert plain_machine.run("backup", "database", "weekly").returncode == 0
    connection.query("INSERT INTO wp_options (option_name, option_value) VALUES ('after', 'the backup')")
    before = checksums(connection)
    result = plain_machine.run("restore", "database", "--period", "weekly", "--dry-run")
    assert result.returncode == 0, result.stderr
    load = " ".join(connection.command("client", "/dev/fd/N"))
    assert result.stdout == (f"would load: s3://{bucket}/{archive} from endpoint 1 ({endpoint}), checked whole, then "
                             f"{load} < applicationDB.sql\ndry run: appdb is unchanged\n")
    assert checksums(connection) == before


def test_website_baseline_prints_the_git_commands_and_pushes_nothing(plain_machine, tmp_path):
    plain_machine.write_settings(APPLICATION="wordpress", WEBSITEDISPLAYNAME="Nuts_and_Bolts")
    root = webroot(plain_machine, tmp_path / "html")
    base = tmp_path / "git"
    repository = bare(base / "shop-webroot-sourcecode-baseline.git")
    result = plain_machine.run("baseline", "website", "shop", "--webroot", str(root), "--remote-base", str(base),
                               "--dry-run")
    assert result.returncode == 0, result.stderr
    git = "would run: git -c credential.helper="
    url = f"file://{base}/shop-webroot-sourcecode-baseline.git"
    assert result.stdout.splitlines()[1:] == [
        f"{git} init -q -b main",
        f"{git} add -A",
        f"{git} -c 'user.name=adt baseline' -c user.email=baseline@adt.invalid commit -q -m 'Baseline Baby'",
        f"{git} push -q {url} main:main",
        f"dry run: nothing was pushed to {url}; the gate passed: 4 file(s), 0 finding(s), 0 waived",
    ]
    assert heads(repository) == "" and not list((plain_machine.home / "backups").iterdir())

    result = plain_machine.run("baseline", "website", "new", "--webroot", str(root), "--remote-base", str(base),
                               "--dry-run")  # a missing file:// repository would be created
    assert result.returncode == 0, result.stderr
    assert f"{git} init -q --bare -b main {base}/new-webroot-sourcecode-baseline.git" in result.stdout
    assert not (base / "new-webroot-sourcecode-baseline.git").exists()


def test_baseline_dry_run_still_refuses_what_the_gate_finds(plain_machine, tmp_path):
    plain_machine.write_settings(APPLICATION="wordpress")
    root = webroot(plain_machine, tmp_path / "html")
    (root / "plugin.php").write_text("<?php $aws_key = 'AKIA" + "QX7T2LMN4PZR6WB3';\n")
    repository = bare(tmp_path / "git" / "gated-webroot-sourcecode-baseline.git")
    result = plain_machine.run("baseline", "website", "gated", "--webroot", str(root), "--remote-base",
                               str(tmp_path / "git"), "--dry-run")
    assert result.returncode == 1 and "not publishing the webroot baseline: 1 finding(s)" in result.stderr
    assert "would run: git" not in result.stdout and heads(repository) == ""


def test_database_baseline_and_its_restore_change_nothing(plain_machine, mariadb, tmp_path):
    make_database(mariadb, "appdb")
    make_database(mariadb, "appcopy", schema=False)
    settings = settings_for(plain_machine, mariadb, APPLICATION="wordpress", WEBSITEDISPLAYNAME="Nuts_and_Bolts")
    base = tmp_path / "git"
    repository = bare(base / "shop-db-baseline.git")
    result = plain_machine.run("baseline", "database", "shop", "--remote-base", str(base), "--dry-run")
    assert result.returncode == 0, result.stderr
    url = f"file://{base}/shop-db-baseline.git"
    assert f"would run: git -c credential.helper= push -q --force {url} main:main\n" in result.stdout
    assert result.stdout.endswith(f"dry run: nothing was pushed to {url}; the gate passed: 1 file(s), 0 finding(s), "
                                  "0 waived\n")
    assert heads(repository) == ""

    publish.database(settings, "shop", plain_machine.home, remote_base=str(base))  # a real one, to restore
    pushed = heads(repository)
    copy = Connection.from_settings(settings, database="appcopy")
    result = plain_machine.run("restore", "database", "--baseline", "shop", "--remote-base", str(base),
                               "--database", "appcopy", "--dry-run")
    assert result.returncode == 0, result.stderr
    load = " ".join(copy.command("client", "/dev/fd/N"))
    assert result.stdout == (f"would load: applicationDB.sql of {url}, placeholders turned back: {load} < "
                             "applicationDB.sql\ndry run: appcopy is unchanged\n")
    assert copy.tables() == [] and heads(repository) == pushed


def test_website_baseline_restore_leaves_the_target(plain_machine, tmp_path):
    plain_machine.write_settings(APPLICATION="wordpress", WEBSITEDISPLAYNAME="Nuts_and_Bolts")
    settings = MachineSettings.load(plain_machine.settings_path)
    base = tmp_path / "git"
    bare(base / "shop-webroot-sourcecode-baseline.git")
    publish.website(settings, "shop", plain_machine.home, webroot(plain_machine, tmp_path / "html"),
                    remote_base=str(base))
    target = tmp_path / "live"
    target.mkdir()
    (target / "index.php").write_text("<?php // the live site\n")
    before, beside = snapshot(target), sorted(p.name for p in tmp_path.iterdir())
    result = plain_machine.run("restore", "website", "--baseline", "shop", "--remote-base", str(base), "--target",
                               str(target), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (f"would replace: {target} with file://{base}/shop-webroot-sourcecode-baseline.git "
                             f"(5 files, prepared beside it)\ndry run: {target} is unchanged\n")
    assert snapshot(target) == before and sorted(p.name for p in tmp_path.iterdir()) == beside
