"""`adt backup` and `adt restore`: temporal backups in the datastore, verified, restorable."""

from __future__ import annotations

from pathlib import Path

import click

from adt.cli.options import build_options
from adt.errors import AdtError

PERIOD_HELP = "HOURLY, DAILY, WEEKLY, MONTHLY, BIMONTHLY, MANUAL or SHUTDOWN."


@click.group()
def backup():
    """Temporal backups: the webroot as applicationsourcecode.tar.gz in the <website>-<period> bucket,
    streamed (nothing the size of the archive on disk), with sha256 and size recorded; two generations
    kept per periodicity (BACKUPGENERATIONS in the settings changes that)."""


@backup.command()
@click.argument("period", metavar="PERIOD")
@click.option("--webroot", default="/var/www/html", show_default=True, type=click.Path(file_okay=False))
@click.option("--exclude", multiple=True, metavar="PATH", help="A path under the webroot to leave out (repeatable).")
@click.pass_context
def website(ctx, period, webroot, exclude):
    """Back up the webroot now (PERIOD: HOURLY, DAILY, WEEKLY, MONTHLY, BIMONTHLY, MANUAL or SHUTDOWN)."""
    from adt.backup.website import backup as run_backup

    for result in run_backup(ctx.obj.settings, period, Path(webroot), exclude, progress=click.echo):
        click.echo(f"backed up to endpoint {result.endpoint}: {result.bucket} ({result.size} bytes, "
                   f"{result.seconds:.1f} s)")


@backup.command()
@click.argument("period", metavar="PERIOD")
@click.option("--key", default="applicationsourcecode.tar.gz", show_default=True,
              help="Which generation (e.g. applicationsourcecode.tar.gz.BACKUP).")
@click.pass_context
def verify(ctx, period, key):
    """Check each endpoint's copy: sha256 and size, the archive readable to its end, the marker there."""
    from adt.backup.website import verify as run_verify

    for line in run_verify(ctx.obj.settings, period, key):
        click.echo(line)


@backup.command()
@click.argument("period", metavar="PERIOD")
@click.option("--force", is_flag=True, help="Skip the gates (INSTALLED_SUCCESSFULLY, the READY marker) and the lock.")
@click.pass_context
def run(ctx, period, force):
    """What cron and Backup.sh run: this machine's backup for its role, once per fleet at a time
    (the BACKUP_RUNNING key, stale after 300 s)."""
    from adt.backup.website import backup as run_backup, period_of
    from adt.datastore.config import ConfigDatastore
    from adt.firewall.reconcile import role_of_settings

    period = period_of(period)
    role = role_of_settings(ctx.obj.settings_path)
    if role != "webserver":
        raise AdtError(f"backups on a {role} machine are not available yet", "run it on a webserver")
    store = ConfigDatastore.from_settings(ctx.obj.settings)
    if not force:
        if not store.check("INSTALLED_SUCCESSFULLY") or not (ctx.obj.home / "runtime" / "WEBSERVER_READY").exists():
            click.echo("not backing up: the fleet is not installed yet (INSTALLED_SUCCESSFULLY, WEBSERVER_READY)")
            return
        import datetime

        running = [e for e in store.list("BACKUP_RUNNING") if e.key == "BACKUP_RUNNING"]
        now = datetime.datetime.now(datetime.timezone.utc)
        if running and running[0].modified and (now - running[0].modified).total_seconds() < 300:
            click.echo("another webserver is taking this backup (BACKUP_RUNNING)")
            return
        store.put("BACKUP_RUNNING")
    try:
        from adt.backup.website import verify as run_verify

        for result in run_backup(ctx.obj.settings, period, progress=click.echo):
            click.echo(f"backed up to endpoint {result.endpoint}: {result.bucket} ({result.size} bytes)")
        for line in run_verify(ctx.obj.settings, period):  # as the original's VerifyBackupPresent.sh
            click.echo(line)
    finally:
        if not force:
            store.delete("BACKUP_RUNNING")


@click.group()
def restore():
    """Restore from temporal backups."""


@restore.command("website")
@click.option("--period", required=True, help=PERIOD_HELP)
@click.option("--target", default="/var/www/html", show_default=True, type=click.Path(file_okay=False))
@click.option("--key", default="applicationsourcecode.tar.gz", show_default=True, help="Which generation.")
@click.pass_context
def restore_website(ctx, period, target, key):
    """Replace the webroot with a backup, whole (extracted beside it, then swapped in)."""
    from adt.backup.website import restore as run_restore

    click.echo(run_restore(ctx.obj.settings, period, Path(target), key))


@backup.command()
@click.option("--period", help="HOURLY, DAILY, WEEKLY, MONTHLY, BIMONTHLY, MANUAL, SHUTDOWN or ALL (asked when absent).")
@click.option("--ip", help="Which webserver, when there are several.")
@click.option("--role", type=click.Choice(["webserver"]), default="webserver", hidden=True)
@build_options
def perform(period, ip, role, cloudhost, build_identifier, home_dir):
    """From the build machine: have a webserver of a build take a backup now (PerformWebsiteBackup.sh)."""
    import subprocess

    from adt import remote
    from adt.backup.website import PERIODS
    from adt.cli.fleet import pick_machine

    choices = [p.upper() for p in PERIODS] + ["ALL"]
    period = (period or click.prompt("Periodicity", type=click.Choice(choices), default="MANUAL")).upper()
    if period not in choices:
        raise click.UsageError(f"unknown periodicity {period!r}: use one of {', '.join(choices)}")
    target, _ = pick_machine(role, cloudhost, build_identifier, ip, home_dir)
    for each in ([p.upper() for p in PERIODS if p not in ("manual", "shutdown")] if period == "ALL" else [period]):
        code = subprocess.call(remote.ssh(target, ["adt", "backup", "run", each]))
        if code != 0:
            raise AdtError(f"the {each} backup on {target.host} failed (exit {code})")
