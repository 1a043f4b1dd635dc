"""`adt backup` and `adt restore`: temporal backups in the datastore, verified, restorable."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from adt.cli.options import DRY_RUN_HELP, build_options
from adt.errors import AdtError
from adt.run import dry_running

PERIOD_HELP = "HOURLY, DAILY, WEEKLY, MONTHLY, BIMONTHLY, MANUAL or SHUTDOWN."


@click.group()
def backup():
    """Temporal backups, streamed (nothing the size of the archive on disk), checked and kept in
    generations (2 per periodicity, as the original; BACKUPGENERATIONS in the settings changes that).

    \b
    webserver: the webroot as applicationsourcecode.tar.gz in the <website>-<period> bucket
    database:  <WEBSITE_NAME>-DB-backup.tar.gz (applicationDB.sql or .psql) in <website>-db-<period>"""


@contextlib.contextmanager
def _meter(label: str):
    """A live byte count and rate on a terminal (none under cron or in a pipe): yields the callback."""
    if not sys.stderr.isatty():
        yield lambda _: None
        return
    from rich.console import Console
    from rich.filesize import decimal
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TransferSpeedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn(f"{label} {{task.fields[size]}}"),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None, size="0 bytes")
        yield lambda done: bar.update(task, completed=done, size=decimal(done))


def _role(ctx) -> str:
    from adt.firewall.reconcile import role_of_settings

    return role_of_settings(ctx.obj.settings_path) or "webserver"


@backup.command()
@click.argument("period", metavar="PERIOD")
@click.option("--webroot", default="/var/www/html", show_default=True, type=click.Path(file_okay=False))
@click.option("--exclude", multiple=True, metavar="PATH", help="A path under the webroot to leave out (repeatable).")
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
@click.pass_context
def website(ctx, period, webroot, exclude, dry_run):
    """Back up the webroot now (PERIOD: HOURLY, DAILY, WEEKLY, MONTHLY, BIMONTHLY, MANUAL or SHUTDOWN)."""
    from adt.backup.website import backup as run_backup

    with dry_running(dry_run), _meter("archive") as meter:
        results = run_backup(ctx.obj.settings, period, Path(webroot), exclude, progress=click.echo, meter=meter)
    for result in results:
        click.echo(
            f"backed up to endpoint {result.endpoint}: {result.bucket} ({result.size} bytes, {result.seconds:.1f} s)"
        )


@backup.command("database")
@click.argument("period", metavar="PERIOD")
@click.option("--host", help="The database server (default: DBIDENTIFIER for DBaaS, else this machine's address).")
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
@click.pass_context
def database_backup(ctx, period, host, dry_run):
    """Back up the application database now: a consistent dump (--single-transaction, pg_dump's snapshot),
    sanitised as the original does, streamed to every endpoint; the live key changes only once it is whole."""
    from adt.backup.database import backup as run_backup

    with dry_running(dry_run), _meter("SQL dumped") as meter:
        results = run_backup(ctx.obj.settings, period, host, progress=click.echo, meter=meter)
    for result in results:
        click.echo(
            f"backed up to endpoint {result.endpoint}: {result.bucket} ({result.size} bytes, {result.seconds:.1f} s)"
        )


@backup.command()
@click.argument("period", metavar="PERIOD")
@click.option("--key", help="Which generation (e.g. applicationsourcecode.tar.gz.BACKUP); default the newest.")
@click.option("--database", "what", flag_value="database", help="Check the database backup.")
@click.option("--website", "what", flag_value="website", help="Check the website backup.")
@click.pass_context
def verify(ctx, period, key, what):
    """Check each endpoint's copy on its own: checksum and size, the archive readable to its end, and the
    website marker file or the SQL end marker (zzzz). Default: the backup of this machine's role."""
    if (what or ("database" if _role(ctx) == "database" else "website")) == "database":
        from adt.backup.database import verify as run_verify
    else:
        from adt.backup.website import verify as run_verify
    for line in run_verify(ctx.obj.settings, period, key) if key else run_verify(ctx.obj.settings, period):
        click.echo(line)


@backup.command()
@click.option("--host", help="The database server (default as for `backup database`).")
@click.option("--database", help="Another database than DBNAME.")
@click.pass_context
def checksums(ctx, host, database):
    """Per-table row counts and checksums of the application database, to compare with a restore."""
    from adt.database import Connection, checksum_lines
    from adt.database import checksums as table_checksums

    for line in checksum_lines(table_checksums(Connection.from_settings(ctx.obj.settings, host, database))):
        click.echo(line)


@backup.command()
@click.argument("period", metavar="PERIOD")
@click.argument("build_identifier", required=False, metavar="[BUILD_IDENTIFIER]")
@click.option("--force", is_flag=True, help="Skip the webserver's gates (INSTALLED_SUCCESSFULLY, WEBSERVER_READY).")
@click.option(
    "--from-cron",
    is_flag=True,
    help="As the original's BackupFromCron.sh: sleep a random 1-60 s, then "
    "take the fleet's lock (BACKUP_RUNNING; DB_BACKUP_RUNNING when MULTIREGION is 1), stale after 300 s.",
)
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
@click.pass_context
def run(ctx, period, build_identifier, force, from_cron, dry_run):
    """What Backup.sh and cron run: this machine's backup for its role, then its verification.
    BUILD_IDENTIFIER is accepted for the original's argument order and not needed."""
    from adt.backup import schedule

    with dry_running(dry_run), _meter("backed up") as meter:
        schedule.run(
            ctx.obj.settings,
            ctx.obj.home,
            _role(ctx),
            period,
            from_cron=from_cron,
            force=force,
            say=click.echo,
            meter=meter,
        )


@click.group()
def restore():
    """Restore the webroot or the database from a temporal backup (--period) or a baseline (--baseline)."""


def _source(period, baseline) -> None:
    if bool(period) == bool(baseline):
        raise click.UsageError("give either --period (a temporal backup) or --baseline (a baseline identifier)")


@restore.command("website")
@click.option("--period", help=PERIOD_HELP)
@click.option("--baseline", metavar="ID", help="Restore the baseline <ID>-webroot-sourcecode-baseline instead.")
@click.option("--remote-base", metavar="URL", help="With --baseline: where its repository is (as `adt baseline`).")
@click.option("--target", default="/var/www/html", show_default=True, type=click.Path(file_okay=False))
@click.option("--key", default="applicationsourcecode.tar.gz", show_default=True, help="Which generation.")
@click.option(
    "--skip-unsafe",
    is_flag=True,
    help="Restore without the members that would reach outside the "
    "target (absolute paths, '..', symlinks leading out, foreign hard links, devices), listing them; "
    "by default such an archive is refused.",
)
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
@click.pass_context
def restore_website(ctx, period, baseline, remote_base, target, key, skip_unsafe, dry_run):
    """Replace the webroot with a backup or a baseline, whole (prepared beside it, then swapped in); a
    baseline's placeholders become this site's names again.

    The archive is treated as untrusted: nothing outside the target can change, its recorded sha256 is
    checked, and any failure leaves the target as it was."""
    _source(period, baseline)
    if baseline:
        from adt.baseline.publish import restore_website as run_restore

        source, where = baseline, remote_base
    else:
        from adt.backup.website import restore as run_restore

        source, where = period, key

    def progress(line):
        click.echo(line, err=True)

    with dry_running(dry_run):
        click.echo(
            run_restore(ctx.obj.settings, source, Path(target), where, skip_unsafe=skip_unsafe, progress=progress)
        )


@restore.command("database")
@click.option("--period", help=PERIOD_HELP)
@click.option("--baseline", metavar="ID", help="Load the baseline <ID>-db-baseline instead.")
@click.option("--remote-base", metavar="URL", help="With --baseline: where its repository is (as `adt baseline`).")
@click.option("--key", help="Which generation (default the newest, <WEBSITE_NAME>-DB-backup.tar.gz).")
@click.option("--database", help="Load into this database instead of DBNAME (it must exist).")
@click.option("--host", help="The database server (default as for `backup database`).")
@click.option(
    "--spool-dir",
    type=click.Path(file_okay=False),
    help="Where the download is held while it is "
    "checked (default TMPDIR); it needs the archive's size, not the dump's.",
)
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
@click.pass_context
def restore_database(ctx, period, baseline, remote_base, key, database, host, spool_dir, dry_run):
    """Load a database backup or baseline: the archive, its checksum and the zzzz end marker are checked
    before the database is touched; prints per-table row counts and checksums (compare with
    `adt backup checksums`)."""
    from adt.database import checksum_lines

    _source(period, baseline)
    if baseline:
        from adt.baseline.publish import restore_database as run_baseline

        with dry_running(dry_run):
            tables = run_baseline(ctx.obj.settings, baseline, ctx.obj.home, host, database, remote_base)
        if dry_run:
            click.echo(f"dry run: {database or 'the application database'} is unchanged")
            return
        click.echo(f"restored baseline {baseline} into {database or 'the application database'}:")
    else:
        from adt.backup.database import restore as run_restore

        with dry_running(dry_run):
            result = run_restore(ctx.obj.settings, period, key, host, database, spool_dir)
        if dry_run:
            click.echo(f"dry run: {result.database} is unchanged")
            return
        tables = result.tables
        click.echo(f"restored {result.bucket}/{result.key} into {result.database} in {result.seconds:.1f} s:")
    for line in checksum_lines(tables):
        click.echo(f"  {line}")


@backup.command()
@click.option(
    "--period", help="HOURLY, DAILY, WEEKLY, MONTHLY, BIMONTHLY, MANUAL, SHUTDOWN or ALL (asked when absent)."
)
@click.option("--ip", help="Which webserver, when there are several.")
@click.option(
    "--role",
    type=click.Choice(["webserver", "database"]),
    default="webserver",
    show_default=True,
    help="Which machine takes it (PerformDatabaseBackup.sh passes database).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Have the machine print the commands and S3 writes of its backup "
    "(`adt backup run --dry-run` over ssh) and change nothing.",
)
@build_options
def perform(period, ip, role, dry_run, cloudhost, build_identifier, home_dir):
    """From the build machine: have a machine of a build take a backup now (PerformWebsiteBackup.sh,
    PerformDatabaseBackup.sh), over ssh; ALL takes every scheduled periodicity in turn."""
    from adt import remote
    from adt import run as runner
    from adt.backup import schedule
    from adt.backup.publish import PERIODS
    from adt.cli.fleet import pick_machine

    choices = [p.upper() for p in PERIODS] + ["ALL"]
    period = (period or click.prompt("Periodicity", type=click.Choice(choices), default="MANUAL")).upper()
    if period not in choices:
        raise click.UsageError(f"unknown periodicity {period!r}: use one of {', '.join(choices)}")
    target, _ = pick_machine(role, cloudhost, build_identifier, ip, home_dir)
    for each in schedule.periods(period):  # a dry run on the machine changes nothing: run it, as a read
        code = runner.interactive(
            remote.ssh(target, schedule.run_command(each, dry_run)),
            changes=not dry_run,
            what=f"the {each} backup on {target.host}",
        )
        if code != 0:
            raise AdtError(f"the {each} backup on {target.host} failed (exit {code})")
