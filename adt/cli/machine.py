"""`adt machine`: what a fleet machine runs on itself (first-boot bootstrap, checks)."""

from __future__ import annotations

import click

from adt.errors import AdtError


@click.group()
def machine():
    """Commands a fleet machine runs on itself (the build runs them there)."""


@machine.command()
@click.option("--role", required=True, type=click.Choice(["database", "webserver"]), help="This machine's role.")
@click.pass_context
def bootstrap(ctx, role):
    """First-boot set-up of this machine for its role, from its settings file; writes runtime/<ROLE>_READY."""
    from adt.machine.bootstrap import ROLES

    ROLES[role](ctx.obj.settings, ctx.obj.home)
    click.echo(f"{role} ready")


@machine.command("check-database")
@click.pass_context
def check_database(ctx):
    """Connect to the application database with this machine's credentials; print host:port."""
    from adt.machine.bootstrap import check_database as check

    try:
        click.echo(f"database reachable at {check(ctx.obj.settings)}")
    except AdtError as error:
        raise AdtError(f"the database is not reachable: {error.message}", error.hint) from None
