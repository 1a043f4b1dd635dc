"""`adt variable`: the variables of a build (`runtimedata/<cloudhost>/<id>/build_environment`)."""

from __future__ import annotations

from typing import Optional

import click

from adt.errors import AdtError
from adt.settings.providers import CLOUDHOSTS


def _environment(cloudhost: Optional[str], build_identifier: Optional[str], build_home: Optional[str]):
    from adt.settings.paths import build_home as find_build_home
    from adt.settings.runtime import BuildEnvironment, RuntimeData

    runtime = RuntimeData(find_build_home(option=build_home))
    return BuildEnvironment(runtime.environment_file(*runtime.resolve(cloudhost, build_identifier)))


def build_options(function):
    function = click.option("--build-home", metavar="DIR", help="The toolkit's home (default: BUILD_HOME, /home/buildhome.dat).")(function)
    function = click.option("--build-identifier", "-b", help="Build (default: runtimedata/ACTIVE_BUILD_IDENTIFIER).")(function)
    function = click.option("--cloudhost", "-c", type=click.Choice(CLOUDHOSTS),
                            help="Cloud host (default: runtimedata/ACTIVE_CLOUDHOST).")(function)
    return function


@click.group()
def variable():
    """Variables of a build's environment (what GetVariableValue.sh and SetVariableValue.sh use)."""


@variable.command()
@click.argument("name")
@build_options
@click.option("--reveal", is_flag=True, help="Print a secret's value (scripts that read values pass this).")
@click.pass_context
def get(ctx, name, cloudhost, build_identifier, build_home, reveal):
    """Print NAME's value from the build's environment; nothing, exit 1, when unset."""
    from adt.settings import schema

    values = _environment(cloudhost, build_identifier, build_home).get(name)
    if not values:
        ctx.exit(1)
    for value in values:
        click.echo("********" if schema.is_secret(name) and value and not reveal else value)


@variable.command("set")
@click.argument("assignment", metavar="NAME=VALUE")
@build_options
def set_(assignment, cloudhost, build_identifier, build_home):
    """Set NAME in the build's environment (replaced in place, else appended; the file is 0600)."""
    name, sep, value = assignment.partition("=")
    if not sep or not name:
        raise click.UsageError(f"expected NAME=VALUE, got {assignment!r}")
    if not name.replace("_", "a").isalnum() or name[0].isdigit():
        raise AdtError(f"{name!r} is not a variable name")
    _environment(cloudhost, build_identifier, build_home).set(name, value)
