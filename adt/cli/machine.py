"""`adt machine`: what a fleet machine runs on itself (first-boot bootstrap, checks)."""

from __future__ import annotations

import click

from adt.errors import AdtError


@click.group()
def machine():
    """Commands a fleet machine runs on itself (the build runs them there)."""


ALL_ROLES = click.Choice(["webserver", "database", "autoscaler"])


@machine.command()
@click.option("--role", required=True, type=ALL_ROLES, help="This machine's role.")
@click.pass_context
def bootstrap(ctx, role):
    """First-boot set-up of this machine for its role, from its settings file: the script tree under ${HOME},
    the agent, the role's services (the application installed, or restored from the temporal backup or the
    baseline its BUILDARCHIVECHOICE names; nothing when BUILDFROMSNAPSHOT=1), the crontab; writes
    runtime/<ROLE>_READY."""
    from adt.build.restore import SOURCES
    from adt.machine.bootstrap import boot

    boot(role, ctx.obj.settings, ctx.obj.home, SOURCES)
    click.echo(f"{role} ready")


@machine.command("install-scripts")
@click.option("--role", required=True, type=ALL_ROLES, help="This machine's role.")
@click.pass_context
def install_scripts(ctx, role):
    """Copy the role's shell entry points into ${HOME} at the original's paths.

    providerscripts/datastore/configwrapper/*.sh, cron/*.sh, security/*.sh, application/backupscripts/*.sh:
    the thin scripts of the adt installed here (each runs `adt …`), for operators, their own cron lines and
    other machines' ssh calls. Older copies are replaced; the bootstrap does this at first boot."""
    from adt.machine.scripts import install_scripts as install

    home = ctx.obj.home
    written = install(home, role)
    click.echo(f"{len(written)} scripts installed under {home}")


@machine.command()
@click.option("--role", required=True, type=ALL_ROLES, help="The machine's role.")
@click.pass_context
def crontab(ctx, role):
    """Print the root crontab a machine of this role gets (the original's lines for the jobs adt runs), for
    the machine's home (`adt --home DIR machine crontab …` for another)."""
    from adt.machine.scripts import crontab as table

    click.echo(table(role, str(ctx.obj.home)), nl=False)


@machine.command("check-database")
@click.pass_context
def check_database(ctx):
    """Connect to the application database with this machine's credentials; print host:port."""
    from adt.machine.bootstrap import check_database as check

    try:
        click.echo(f"database reachable at {check(ctx.obj.settings)}")
    except AdtError as error:
        raise AdtError(f"the database is not reachable: {error.message}", error.hint) from None
