"""`adt variable`: the variables of a build (`runtimedata/<cloudhost>/<id>/build_environment`)."""

from __future__ import annotations

from typing import Optional

import click

from adt.cli.options import build_options
from adt.errors import AdtError


def _environment(cloudhost: Optional[str], build_identifier: Optional[str], home_dir: Optional[str]):
    from adt.build.config import BuildConfig

    return BuildConfig.load(cloudhost, build_identifier, home_dir).environment


@click.group()
def variable():
    """Variables of a build's environment (what GetVariableValue.sh and SetVariableValue.sh use)."""


@variable.command()
@click.argument("name")
@build_options
@click.option("--reveal", is_flag=True, help="Print a secret's value (scripts that read values pass this).")
@click.pass_context
def get(ctx, name, cloudhost, build_identifier, home_dir, reveal):
    """Print NAME's value from the build's environment; nothing, exit 1, when unset."""
    from adt.settings import schema

    values = _environment(cloudhost, build_identifier, home_dir).get(name)
    if not values:
        ctx.exit(1)
    for value in values:
        click.echo("********" if schema.is_secret(name) and value and not reveal else value)


@variable.command("set")
@click.argument("assignment", metavar="NAME=VALUE")
@build_options
def set_(assignment, cloudhost, build_identifier, home_dir):
    """Set NAME in the build's environment (replaced in place, else appended; the file is 0600)."""
    name, sep, value = assignment.partition("=")
    if not sep or not name:
        raise click.UsageError(f"expected NAME=VALUE, got {assignment!r}")
    if not name.replace("_", "a").isalnum() or name[0].isdigit():
        raise AdtError(f"{name!r} is not a variable name")
    _environment(cloudhost, build_identifier, home_dir).set(name, value)
