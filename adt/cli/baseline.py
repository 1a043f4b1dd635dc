"""`adt baseline`: freeze the webroot or the database into a git repository, behind the publication gate."""

from __future__ import annotations

from pathlib import Path

import click

from adt.cli.options import DRY_RUN_HELP, build_options
from adt.errors import AdtError
from adt.run import dry_running


@click.group()
def baseline():
    """Baselines: the site frozen into <id>-webroot-sourcecode-baseline and <id>-db-baseline (branch main),
    with the live domain and names replaced by the original's placeholders."""


def _identifier(identifier):
    return identifier or click.prompt("An identifier for the baseline (for example mysocialnetwork)")


def _report(call, dry_run):
    from adt.baseline.publish import Refused

    try:
        with dry_running(dry_run):
            result = call()
    except Refused as refused:
        for line in refused.lines:
            click.echo(line, err=True)
        raise
    if dry_run:
        click.echo(
            f"dry run: nothing was pushed to {result.url}; the gate passed: {result.files} file(s), "
            f"{result.findings} finding(s), {result.waived} waived"
        )
        return
    click.echo(
        f"published {result.repository} at {result.url}: commit {result.commit[:12]}, {result.files} file(s), "
        f"{result.findings} finding(s), {result.waived} waived"
    )
    for note in result.notes:
        click.echo(f"note: {note}")


@baseline.command()
@click.argument("identifier", required=False)
@click.option("--webroot", default="/var/www/html", show_default=True, type=click.Path(file_okay=False))
@click.option(
    "--remote-base",
    metavar="URL",
    help="Push to <URL>/<repository>.git (file://, ssh://, https://, a "
    "path) instead of the APPLICATIONREPOSITORYPROVIDER; a user:token@ in it reaches git through askpass, "
    "never in a git process's arguments.",
)
@click.option("--waive", multiple=True, metavar="ID", help="Accept one finding of the gate (repeatable).")
@click.option("--replace", is_flag=True, help="Overwrite a repository that is not empty.")
@click.option("--include-config", is_flag=True, help="Keep the CMS's live configuration file (left out by default).")
@click.option(
    "--dry-run",
    is_flag=True,
    help=DRY_RUN_HELP + " The copy and the gate run; the git commands that would change the repository are printed.",
)
@click.pass_context
def website(ctx, identifier, webroot, remote_base, waive, replace, include_config, dry_run):
    """Publish the webroot as <IDENTIFIER>-webroot-sourcecode-baseline (CreateWebrootBaseline.sh).
    Nothing is pushed until the scan for secrets and personal data is clean or each finding is waived by
    id (--waive, or one id per line in ${HOME}/runtime/baseline-waivers.dat)."""
    from adt.baseline.publish import website as publish

    _report(
        lambda: publish(
            ctx.obj.settings,
            _identifier(identifier),
            ctx.obj.home,
            Path(webroot),
            remote_base,
            waive,
            replace,
            include_config,
            progress=click.echo,
        ),
        dry_run,
    )


@baseline.command()
@click.argument("identifier", required=False)
@click.option("--host", help="The database server (default: DBIDENTIFIER for DBaaS, else this machine's address).")
@click.option("--remote-base", metavar="URL", help="Push to <URL>/<repository>.git instead of the provider.")
@click.option("--waive", multiple=True, metavar="ID", help="Accept one finding of the gate (repeatable).")
@click.option(
    "--redact",
    is_flag=True,
    help="Rewrite the dump for the CMS first: users anonymised, sessions, caches, logs and secret options dropped.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help=DRY_RUN_HELP + " The dump and the gate run; the git commands that would change the repository are printed.",
)
@click.pass_context
def database(ctx, identifier, host, remote_base, waive, redact, dry_run):
    """Publish the database as <IDENTIFIER>-db-baseline (CreateDBBaseline.sh). Nothing is pushed until
    the scan for secrets and personal data is clean or each finding is waived by id (--waive, or one id per
    line in ${HOME}/runtime/baseline-waivers.dat); --redact clears what a CMS keeps of its users."""
    from adt.baseline.publish import database as publish

    _report(
        lambda: publish(
            ctx.obj.settings,
            _identifier(identifier),
            ctx.obj.home,
            host,
            remote_base,
            waive,
            redact,
            progress=click.echo,
        ),
        dry_run,
    )


@baseline.command()
@click.option("--identifier", help="The baseline's identifier (asked when absent).")
@click.option("--ip", help="Which machine, when there are several.")
@click.option(
    "--role",
    type=click.Choice(["webserver", "database"]),
    default="webserver",
    show_default=True,
    help="Which machine publishes (PerformDatabaseBaseline.sh passes database).",
)
@click.option("--remote-base", metavar="URL", help="Passed on to the machine.")
@click.option("--waive", multiple=True, metavar="ID", help="Passed on to the machine (repeatable).")
@click.option("--redact", is_flag=True, help="Database only: passed on to the machine.")
@click.option("--replace", is_flag=True, help="Website only: passed on to the machine.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Passed on to the machine: it runs the copy or dump and the gate, "
    "prints the git commands that would change the repository, and pushes nothing.",
)
@build_options
def perform(identifier, ip, role, remote_base, waive, redact, replace, dry_run, cloudhost, build_identifier, home_dir):
    """From the build machine: have a machine of a build publish a baseline now (PerformWebsiteBaseline.sh,
    PerformDatabaseBaseline.sh), over ssh; the machine's gate decides, as for `adt baseline website`."""
    from adt import remote
    from adt import run as runner
    from adt.baseline.publish import publish_command, split_credentials
    from adt.cli.fleet import pick_machine

    if remote_base and any(split_credentials(remote_base)[1:]):
        raise AdtError(
            "--remote-base holds credentials: passed on over ssh they would be in the arguments of "
            "processes on both machines",
            "use the machine's APPLICATIONREPOSITORY* settings, or a remote that needs no password (ssh://, file://)",
        )
    target, _ = pick_machine(role, cloudhost, build_identifier, ip, home_dir)
    argv = publish_command(role, _identifier(identifier), remote_base, waive, redact, replace, dry_run)
    code = runner.interactive(
        remote.ssh(target, argv),
        changes=not dry_run,  # a dry run on the machine is a read
        what=f"the baseline on {target.host}",
    )
    if code != 0:
        raise AdtError(f"the baseline on {target.host} was not published (exit {code})")
