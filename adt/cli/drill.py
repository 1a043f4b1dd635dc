"""`adt drill`: the restore drill (adt.build.drill), and the digest it asks the drill's database machine for."""

from __future__ import annotations

import click

from adt.cli.options import build_options


@click.group(invoke_without_command=True)
@click.option(
    "--period",
    default="hourly",
    show_default=True,
    help="Which temporal backups to restore: HOURLY, DAILY, WEEKLY, MONTHLY or BIMONTHLY.",
)
@build_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (progress lines go to stderr).")
@click.option("--keep", is_flag=True, help="Keep the drill's fleet for inspection (destroy it later with adt destroy).")
@click.pass_context
def drill(ctx, period, cloudhost, build_identifier, home_dir, as_json, keep):
    """Prove that a build's latest temporal backups restore: build a throwaway fleet on the local cloud host
    (identifier drill<4 hex>, one webserver and one database machine, in no DNS round robin, taking no
    backups) from them, check it, destroy it.

    \b
    Checks: database  per table, row count and sha256 of the rows equal to the backup's dump
                      (WordPress's transients and cron rows left out on both sides)
            webroot   every regular file of the webroot backup has the same sha256 on the
                      webserver (but wp-config.php, written afresh)
            site      GET / as WEBSITE_URL answers 200 under the backup's blogname
    The result is recorded as drills/<UTC stamp>.json and drills/latest.json in the build's
    configuration datastore, or in its runtime data directory when its fleet is gone.
    Exit status 0 when every check passed, 1 otherwise (the first failed check named).

    The source may be a build on another cloud host whose datastore the local VPC can reach
    (its S3_* values are used); the local machines cannot reach the Internet.

    \b
    Weekly, from the build machine's crontab:
      30 4 * * 0 /opt/adt/helperscripts/PerformRestoreDrill.sh --period daily >>/var/log/adt-drill.log 2>&1
    """
    if ctx.invoked_subcommand is not None:
        return 0
    import json

    from adt.build.config import BuildConfig
    from adt.build.drill import run_drill
    from adt.errors import AdtError

    progress = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    report = run_drill(BuildConfig.load(cloudhost, build_identifier, home_dir), period, keep=keep, progress=progress)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        for line in report.render():
            click.echo(line)
    if not report.ok:
        failed = report.first_failure
        raise AdtError(
            f"the restore drill failed at {failed.name if failed else '?'}: {failed.detail if failed else ''}",
            f"the report is recorded in {report.recorded}",
        )
    return 0


@drill.command("digest", hidden=True)
@click.pass_context
def digest(ctx):
    """On a database machine: per-table facts of the application database, dumped and sanitised as a backup
    is (JSON on stdout). The drill runs it over ssh on its database machine."""
    import json

    from adt.build.drill import database_digest

    click.echo(json.dumps(database_digest(ctx.obj.settings).to_json()))
