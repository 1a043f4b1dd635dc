"""`adt status`: one build's machines, DNS, backups, firewall layers and snapshots, as a table or JSON."""

from __future__ import annotations

import click

from adt.cli.options import build_options


@click.command()
@build_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (for scripts) instead of a table.")
def status(cloudhost, build_identifier, home_dir, as_json):
    """Show one build: its machines by role with address and state, the website's DNS records against the
    live webservers, the certificate each webserver serves against the issued one (older ones and ones that expire
    within 7 days are warned about), the latest backup of each period (age and size), the firewall layers and the
    snapshots.
    A part that cannot be reached shows as "unavailable: <reason>"; the exit status is 1 only when the build
    does not exist."""
    import json

    from adt.build.config import BuildConfig
    from adt.build.status import render
    from adt.build.status import status as observe

    report = observe(BuildConfig.load(cloudhost, build_identifier, home_dir))
    click.echo(json.dumps(report, indent=2, default=str) if as_json else render(report), nl=as_json)
