"""`adt fleet`: reach the machines of a build from the build machine (the original's server helpers)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Optional

import click

from adt.cli.options import build_options
from adt.errors import AdtError

PREFIX = {"webserver": "ws", "database": "db", "autoscaler": "as"}


def pick_machine(role: str, cloudhost: Optional[str], build_identifier: Optional[str], ip: Optional[str],
          home_dir: Optional[str]):
    """The ssh target of one machine of a role in a build: the only one, the given IP, or the one chosen."""
    from adt import cloud, remote
    from adt.cli.build import build_home
    from adt.settings.runtime import BuildEnvironment, RuntimeData

    runtime = RuntimeData(build_home(home_dir))
    cloudhost, build_identifier = runtime.resolve(cloudhost, build_identifier)
    base = runtime.build_dir(cloudhost, build_identifier)
    value = BuildEnvironment(base / "build_environment").value
    if not value("SSH_PORT"):
        raise AdtError(f"build {cloudhost}/{build_identifier} has no build_environment", "build it first (adt build)")
    driver = cloud.driver(cloudhost, vpc=value("VPC_IP_RANGE"))
    pattern = f"{PREFIX[role]}-{value('REGION', cloudhost)}-{build_identifier}"
    ips = [s.private_ip for s in driver.list_servers(pattern) if s.status == "running"]
    if not ips:
        raise AdtError(f"no running {role} in build {cloudhost}/{build_identifier}")
    if ip and ip not in ips:
        raise AdtError(f"{ip} is not a {role} of {cloudhost}/{build_identifier}", f"its {role}s: {', '.join(ips)}")
    if not ip:
        if len(ips) == 1:
            ip = ips[0]
        else:
            for number, address in enumerate(ips, 1):
                click.echo(f"{number}: {address}", err=True)
            ip = ips[click.prompt(f"Which {role}", type=click.IntRange(1, len(ips))) - 1]
    algorithm = value("ALGORITHM", "ed25519")
    key = base / "keys" / f"id_{algorithm}_AGILE_DEPLOYMENT_BUILD_KEY_{build_identifier}"
    return remote.Target(ip, int(value("SSH_PORT")), str(key), str(base / "keys" / f"{role}_{ip}keys")), \
        f"/home/{value('SERVER_USER')}"


def picker_options(function):
    function = click.option("--ip", help="Which machine, when there are several.")(function)
    function = build_options(function)
    return click.option("--role", "-r", type=click.Choice(sorted(PREFIX)), required=True,
                        help="Which kind of machine.")(function)


@click.group()
def fleet():
    """Reach a build's machines over SSH with the build key (ConnectTo*, ExecuteOn*, CopyTo*, CopyFrom*)."""


@fleet.command()
@picker_options
def connect(role, cloudhost, build_identifier, ip, home_dir):
    """Open an interactive shell on a machine."""
    from adt import remote

    target, _ = pick_machine(role, cloudhost, build_identifier, ip, home_dir)
    argv = remote.ssh(target, interactive=True)
    os.execvp(argv[0], argv)


@fleet.command("exec")
@click.argument("command")
@picker_options
@click.pass_context
def exec_(ctx, command, role, cloudhost, build_identifier, ip, home_dir):
    """Run COMMAND (one shell string) on a machine; its output and exit status are passed through."""
    from adt import remote

    target, _ = pick_machine(role, cloudhost, build_identifier, ip, home_dir)
    ctx.exit(subprocess.call(remote.ssh_shell(target, command)))


@fleet.command("copy-to")
@click.argument("local_file", required=False)
@click.option("--remote-dir", help="Where to put it (default: the server user's home).")
@picker_options
def copy_to(local_file, remote_dir, role, cloudhost, build_identifier, ip, home_dir):
    """Copy LOCAL_FILE (asked for when absent) to a machine."""
    from adt import remote
    from adt.run import run

    local_file = local_file or click.prompt("Local file to copy")
    if not Path(local_file).exists():
        raise AdtError(f"{local_file} does not exist")
    target, home = pick_machine(role, cloudhost, build_identifier, ip, home_dir)
    remote_dir = remote_dir or home
    run(remote.scp_to(target, local_file, remote_dir + "/"), what=f"copying {local_file} to {target.host}", timeout=600)
    click.echo(f"copied {local_file} to {target.host}:{remote_dir}/")


@fleet.command("copy-from")
@click.argument("remote_file", required=False)
@click.option("--local-dir", default=".", show_default=True, help="Where to put it.")
@picker_options
def copy_from(remote_file, local_dir, role, cloudhost, build_identifier, ip, home_dir):
    """Copy REMOTE_FILE (asked for when absent; relative to the server user's home) from a machine."""
    from adt import remote
    from adt.run import run

    remote_file = remote_file or click.prompt("Remote file to copy")
    target, home = pick_machine(role, cloudhost, build_identifier, ip, home_dir)
    if not remote_file.startswith("/"):
        remote_file = f"{home}/{remote_file}"
    Path(local_dir).mkdir(parents=True, exist_ok=True)
    run(remote.scp_from(target, remote_file, local_dir), what=f"copying {remote_file} from {target.host}", timeout=600)
    click.echo(f"copied {target.host}:{remote_file} to {local_dir}")


@fleet.command()
@build_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--skip-backup", is_flag=True, help="Destroy without taking the SHUTDOWN website backup first.")
def shutdown(cloudhost, build_identifier, home_dir, yes, skip_backup):
    """Shut down a build's infrastructure: lists its machines, asks, takes a SHUTDOWN backup of the
    website, then destroys them (ShutdownInfrastructure.sh). A failed backup stops the shutdown."""
    from adt import cloud
    from adt.build.development import destroy
    from adt.cli.build import build_home
    from adt.settings.runtime import BuildEnvironment, RuntimeData

    home = build_home(home_dir)
    runtime = RuntimeData(home)
    cloudhost, build_identifier = runtime.resolve(cloudhost, build_identifier)
    env = BuildEnvironment(runtime.environment_file(cloudhost, build_identifier))
    vpc = env.value("VPC_IP_RANGE", "10.171.0.0/24")
    servers = cloud.driver(cloudhost, vpc=vpc).list_servers(f"-{build_identifier}-")
    for server in servers:
        click.echo(f"{server.role:10} {server.private_ip:15} {server.name}")
    if not servers:
        click.echo(f"build {cloudhost}/{build_identifier} has no machines")
    if not yes:
        click.confirm("Are you sure you want to shut down and destroy these machines?", abort=True)
    webservers = [s for s in servers if s.role == "webserver" and s.status == "running"]
    if webservers and not skip_backup:
        import subprocess as sp

        from adt import remote

        target, _ = pick_machine("webserver", cloudhost, build_identifier, webservers[0].private_ip, home_dir)
        click.echo(f"taking the SHUTDOWN backup of the website on {target.host}")
        if sp.call(remote.ssh(target, ["adt", "backup", "run", "SHUTDOWN", "--force"])) != 0:
            raise AdtError("the SHUTDOWN backup failed: nothing was destroyed", "fix it, or pass --skip-backup")
    gone = destroy(cloudhost, build_identifier, home, progress=click.echo)
    click.echo(f"shut down {len(gone)} machine(s) of {cloudhost}/{build_identifier}")
