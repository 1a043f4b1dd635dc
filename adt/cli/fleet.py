"""`adt fleet`: reach the machines of a build from the build machine (the original's server helpers)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from adt.cli.options import build_options
from adt.errors import AdtError
from adt.settings.paths import ROLES


def pick_machine(
    role: str,
    cloudhost: Optional[str],
    build_identifier: Optional[str],
    machine: Optional[str],
    home_dir: Optional[str],
):
    """The ssh target of one machine of a role in a build (the only one, the one `machine` names by number,
    address or name, or, on a terminal, the one the user chooses from a numbered list) and the server user's
    home there. Off a terminal, several machines and no choice is an error that lists them."""
    import sys

    from adt.build import fleet as machines
    from adt.build.config import BuildConfig

    def ask(running):
        for number, one in enumerate(running, 1):
            click.echo(f"{number}: {one.address} ({one.name})", err=True)
        return running[click.prompt(f"Which {role}", type=click.IntRange(1, len(running)), err=True) - 1]

    config = BuildConfig.load(cloudhost, build_identifier, home_dir)
    return machines.pick(config, role, machine, ask if sys.stdin.isatty() else None), config.server_home


MACHINE_HELP = (
    "Which machine, when the role has several: its number in the list (from 1, in name order), its address "
    "or its name. Without it, a terminal is shown the list to choose from."
)


def picker_options(function):
    function = click.option("--machine", "--ip", "machine", metavar="N|IP|NAME", help=MACHINE_HELP)(function)
    function = build_options(function)
    return click.option("--role", "-r", type=click.Choice(ROLES), required=True, help="Which kind of machine.")(
        function
    )


@click.group()
def fleet():
    """Reach a build's machines over SSH with the build key (ConnectTo*, ExecuteOn*, CopyTo*, CopyFrom*)."""


@fleet.command()
@picker_options
def connect(role, cloudhost, build_identifier, machine, home_dir):
    """Open an interactive shell on a machine."""
    from adt.build.fleet import connect as session

    target, _ = pick_machine(role, cloudhost, build_identifier, machine, home_dir)
    session(target)


@fleet.command("exec")
@click.argument("command")
@picker_options
@click.pass_context
def exec_(ctx, command, role, cloudhost, build_identifier, machine, home_dir):
    """Run COMMAND (one shell string) on a machine; its output and exit status are passed through."""
    from adt.build.fleet import execute

    target, _ = pick_machine(role, cloudhost, build_identifier, machine, home_dir)
    ctx.exit(execute(target, command))


@fleet.command("copy-to")
@click.argument("local_file", required=False)
@click.option("--remote-dir", help="Where to put it (default: the server user's home).")
@picker_options
def copy_to(local_file, remote_dir, role, cloudhost, build_identifier, machine, home_dir):
    """Copy LOCAL_FILE (asked for when absent) to a machine."""
    from adt.build.fleet import copy_to as copy

    local_file = local_file or click.prompt("Local file to copy")
    if not Path(local_file).exists():
        raise AdtError(f"{local_file} does not exist")
    target, home = pick_machine(role, cloudhost, build_identifier, machine, home_dir)
    remote_dir = remote_dir or home
    copy(target, local_file, remote_dir)
    click.echo(f"copied {local_file} to {target.host}:{remote_dir}/")


@fleet.command("copy-from")
@click.argument("remote_file", required=False)
@click.option("--local-dir", default=".", show_default=True, help="Where to put it.")
@picker_options
def copy_from(remote_file, local_dir, role, cloudhost, build_identifier, machine, home_dir):
    """Copy REMOTE_FILE (asked for when absent; relative to the server user's home) from a machine."""
    from adt.build.fleet import copy_from as copy

    remote_file = remote_file or click.prompt("Remote file to copy")
    target, home = pick_machine(role, cloudhost, build_identifier, machine, home_dir)
    if not remote_file.startswith("/"):
        remote_file = f"{home}/{remote_file}"
    Path(local_dir).mkdir(parents=True, exist_ok=True)
    copy(target, remote_file, local_dir)
    click.echo(f"copied {target.host}:{remote_file} to {local_dir}")


@fleet.command()
@build_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--skip-backup", is_flag=True, help="Destroy without taking the SHUTDOWN website backup first.")
def shutdown(cloudhost, build_identifier, home_dir, yes, skip_backup):
    """Shut down a build's infrastructure: lists its machines, asks, takes a SHUTDOWN backup of the
    website, then destroys them (ShutdownInfrastructure.sh). A failed backup stops the shutdown."""
    from adt.build import fleet as machines
    from adt.build.config import BuildConfig
    from adt.build.development import destroy

    config = BuildConfig.load(cloudhost, build_identifier, home_dir)
    servers = config.servers(config.driver())
    for server in servers:
        click.echo(f"{server.role:10} {server.private_ip:15} {server.name}")
    if not servers:
        click.echo(f"build {config.name} has no machines")
    if not yes:
        click.confirm("Are you sure you want to shut down and destroy these machines?", abort=True)
    webservers = [s for s in servers if s.role == "webserver" and s.status == "running"]
    if webservers and not skip_backup:
        target = machines.pick(config, "webserver", webservers[0].private_ip)
        click.echo(f"taking the SHUTDOWN backup of the website on {target.host}")
        if machines.run_adt(target, ["backup", "run", "SHUTDOWN", "--force"]) != 0:
            raise AdtError("the SHUTDOWN backup failed: nothing was destroyed", "fix it, or pass --skip-backup")
    gone = destroy(config, progress=click.echo)
    click.echo(f"shut down {len(gone)} machine(s) of {config.name}")
