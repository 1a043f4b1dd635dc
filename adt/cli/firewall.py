"""`adt firewall`: the policy, the on-machine reconcile, the native layer, Cloudflare's ranges."""

from __future__ import annotations

import click

from adt.cli.options import DRY_RUN_HELP, build_options


@click.group()
def firewall():
    """Firewalls on two layers: on each machine (ufw or iptables, reconciled every minute from cron)
    and the cloud host's native firewall. SSH only from the build machine and the fleet; the database
    port only from webservers and autoscalers; 443 and 80 from anywhere, or only from Cloudflare."""


def _role(ctx) -> str:
    from adt.errors import AdtError
    from adt.firewall.reconcile import role_of_settings

    role = role_of_settings(ctx.obj.settings_path)
    if not role:
        raise AdtError(f"cannot tell this machine's role from {ctx.obj.settings_path}", "pass --role to adt")
    return role


@firewall.command()
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
@click.option(
    "--wait",
    type=click.FloatRange(0, 1200),
    default=0,
    metavar="SECONDS",
    help="When another reconcile (cron's) holds the lock, wait up to this long for it, then reconcile "
    "(it may have read the fleet before a change you know of). Default: report it and stop.",
)
@click.pass_context
def reconcile(ctx, dry_run, wait):
    """Apply this machine's policy if it changed or the firewall was disabled (what cron runs)."""
    from adt.firewall.reconcile import reconcile as run_reconcile
    from adt.run import dry_running

    with dry_running(dry_run):
        click.echo(run_reconcile(ctx.obj.settings, ctx.obj.home, _role(ctx), wait=wait))


@firewall.command()
@click.pass_context
def reset(ctx):
    """Forget what was applied and apply this machine's policy afresh (ResetFirewall.sh)."""
    from adt.firewall.reconcile import reconcile as run_reconcile

    for name in ("FIREWALL-ACTIVE", "firewall-applied"):
        (ctx.obj.home / "runtime" / name).unlink(missing_ok=True)
    click.echo(run_reconcile(ctx.obj.settings, ctx.obj.home, _role(ctx)))


@firewall.command()
@click.pass_context
def show(ctx):
    """Print this machine's rules as the policy computes them now (changes nothing)."""
    from adt.firewall.reconcile import machine_rules

    for rule in machine_rules(ctx.obj.settings, ctx.obj.home, _role(ctx)):
        click.echo(f"allow {rule.proto:4} {rule.port or '-':>5} from {rule.source:18} # {rule.why}")


@firewall.command("update-cloudflare-ranges")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def update_cloudflare_ranges(ctx, file):
    """Replace the Cloudflare IPv4 ranges with FILE (one CIDR a line, as cloudflare.com/ips-v4 gives)."""
    from pathlib import Path

    from adt.firewall.reconcile import update_cloudflare_ranges as update

    click.echo(f"{update(Path(file), ctx.obj.home)} Cloudflare ranges installed")


@firewall.command()
@build_options
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
def native(cloudhost, build_identifier, home_dir, dry_run):
    """From the build machine: apply the cloud host's native firewall to every machine of a build
    (when ACTIVE_FIREWALLS is 2 or 3)."""
    from adt.build.config import BuildConfig
    from adt.build.firewall import apply_native
    from adt.run import dry_running

    config = BuildConfig.load(cloudhost, build_identifier, home_dir)
    with dry_running(dry_run):
        for line in apply_native(config):
            click.echo(line)


def _build_machine_store(config, build_machine_ip):
    from adt.firewall.buildmachine import auth_store

    return auth_store(config.endpoint(), build_machine_ip)


def build_machine_options(function):
    function = click.option(
        "--build-machine-ip", required=True, help="This build machine's address (names the bucket)."
    )(function)
    return build_options(function)


@firewall.command("allow-laptop-ip")
@click.argument("address")
@click.option("--remove", is_flag=True, help="Remove the address instead of adding it.")
@build_machine_options
def allow_laptop_ip(address, remove, cloudhost, build_identifier, home_dir, build_machine_ip):
    """Allow ADDRESS to reach the build machine's SSH (AllowLaptopIP.sh): edits authorised-ips.dat in
    the authip-adt-allowed-<build machine ip> bucket and raises FIREWALL-EVENT for the next adjust."""
    from adt.build.config import BuildConfig
    from adt.firewall.buildmachine import allow

    store = _build_machine_store(BuildConfig.load(cloudhost, build_identifier, home_dir), build_machine_ip)
    click.echo("authorised: " + (", ".join(allow(store, address, remove)) or "(none)"))


@firewall.command("adjust-build-machine")
@click.option("--ssh-port", type=int, required=True, help="The build machine's SSH port (BUILDMACHINEPORT).")
@click.option("--laptop-ip", default="", help="LAPTOP_IP (or BYPASS).")
@click.option("--force", is_flag=True, help="Apply even when no FIREWALL-EVENT is raised.")
@build_machine_options
def adjust_build_machine(ssh_port, laptop_ip, force, cloudhost, build_identifier, home_dir, build_machine_ip):
    """Apply the authorised addresses to this machine's own firewall when FIREWALL-EVENT is raised
    (AdjustBuildMachineFirewall.sh, every minute from cron). Run it on the build machine only."""
    from adt.build.config import BuildConfig
    from adt.firewall.buildmachine import adjust

    config = BuildConfig.load(cloudhost, build_identifier, home_dir)
    state = config.runtime.root / "build-machine-firewall"
    result = adjust(_build_machine_store(config, build_machine_ip), ssh_port, laptop_ip, state, force)
    click.echo(result or "no FIREWALL-EVENT: nothing to do")
