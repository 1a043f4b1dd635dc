"""`adt dns`: the round robin of WEBSITEURL (what providerscripts/dns/*.sh and the autoscaler's
AddIPToDNS.sh, RemoveIPFromDNS.sh and GetDNSIPs.sh call), from this machine's settings.

Each command takes the original script's positional arguments in the original's order, so the entry points
are one `exec` line, and a readable option for what a person types. The e-mail, credentials and DNS choice
words are accepted and not used: the provider, its address and its key come from the machine's settings
(DNSCHOICE, DNSAPIURL, DNSSECURITYKEY), so a key never has to be in a process's arguments.
"""

from __future__ import annotations

from typing import Dict, Optional

import click

from adt.errors import AdtError
from adt.run import dry_running

from .options import DRY_RUN_HELP


def _values(ctx) -> Dict[str, str]:
    return ctx.obj.settings.mapping()


def _words(command: str, words) -> Dict[str, str]:
    from adt.dns.base import original_arguments

    try:
        return original_arguments(command, list(words))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _website(values: Dict[str, str], given: str) -> str:
    website = given or values.get("WEBSITEURL", "")
    if not website:
        raise AdtError("no website URL: WEBSITEURL is not in this machine's settings", "give --website-url")
    return website


def _installed(ctx) -> bool:
    """Whether the fleet is fully built: INSTALLED_SUCCESSFULLY in the configuration datastore (the autoscaler
    scripts' gate)."""
    from adt.datastore.config import ConfigDatastore

    return ConfigDatastore.from_settings(ctx.obj.settings).check("INSTALLED_SUCCESSFULLY")


def _provider(values: Dict[str, str]):
    from adt.dns import provider

    return provider(values)


website_option = click.option(
    "--website-url", default="", metavar="HOST", help="The website's host name (default: WEBSITEURL of the settings)."
)
installed_option = click.option(
    "--if-installed",
    is_flag=True,
    help="Do nothing unless INSTALLED_SUCCESSFULLY is in the configuration datastore (the autoscaler's gate).",
)


@click.group()
def dns():
    """DNS round robin: one A record of WEBSITEURL per live webserver, at the DNS provider of DNSCHOICE
    (powerdns: the build's PowerDNS on the local cloud host, its API at DNSAPIURL, key DNSSECURITYKEY).

    The zone is WEBSITEURL without its first label (www.adt-demo.local is in adt-demo.local), as the original.
    """


@dns.command()
@click.argument("words", nargs=-1, metavar="[ZONENAME] [email] [credentials] [dns]")
@click.pass_context
def zone(ctx, words):
    """Print the id of zone ZONENAME (GetZoneID.sh), by default the zone of WEBSITEURL. A missing zone is an
    error (exit 1), with nothing on stdout."""
    args = _words("zone", words)
    values = _values(ctx)
    dns_provider = _provider(values)
    if args["zonename"]:
        found = dns_provider.find_zone(args["zonename"])
        if not found:
            raise AdtError(f"the {dns_provider.choice} DNS has no zone {args['zonename']}", "the build creates it")
        click.echo(found)
    else:
        click.echo(dns_provider.zone_id(_website(values, "")))


@dns.command()
@click.argument("words", nargs=-1, metavar="[zoneid] [WEBSITEURL] [IP] [email] [credentials] [dns]")
@website_option
@click.option("--ip", "ip_option", default="", metavar="IP", help="Only the record of this address.")
@click.option("--ids", is_flag=True, help="Print only the record ids, one a line (GetRecordID.sh).")
@click.pass_context
def records(ctx, words, website_url, ip_option, ids):
    """List the A records of WEBSITEURL: `id name ip ttl` a line. With an IP, only its record; with --ids,
    only ids (nothing when there is no such record: GetRecordID.sh)."""
    args = _words("records", words)
    values = _values(ctx)
    website = _website(values, website_url or args["websiteurl"])
    ip = ip_option or args["ip"]
    for record in _provider(values).records(website):
        if ip and record.ip != ip:
            continue
        click.echo(record.id if ids else f"{record.id} {record.name} {record.ip} {record.ttl}")


@dns.command()
@click.argument("words", nargs=-1, metavar="[zoneid] [email] [credentials] [WEBSITEURL] [IP] [[proxied] dns]")
@website_option
@click.option("--ip", "ip_option", default="", metavar="IP", help="The address to add (the original's 5th argument).")
@click.option("--ttl", default=60, show_default=True, type=click.IntRange(1, 86400), help="TTL of the rrset, seconds.")
@installed_option
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
@click.pass_context
def add(ctx, words, website_url, ip_option, ttl, if_installed, dry_run):
    """Add an A record WEBSITEURL -> IP (AddRecord.sh, AddIPToDNS.sh). An address already there is left as it
    is. Add only a webserver that serves the site."""
    args = _words("add", words)
    ip = ip_option or args["ip"]
    if not ip:
        raise click.UsageError("give the address to add (--ip IP, or the original's 5th argument)")
    values = _values(ctx)
    if args.get("proxied"):  # the build machine's AddRecord.sh word: Cloudflare's proxied flag (DNS_PROXIED)
        values = {**values, "DNS_PROXIED": args["proxied"]}
    website = _website(values, website_url or args["websiteurl"])
    if if_installed and not _installed(ctx):
        return
    with dry_running(dry_run):
        changed = _provider(values).add(website, ip, ttl)
    if not dry_run:
        click.echo(f"{'added' if changed else 'already there:'} {website} A {ip}")


@dns.command()
@click.argument("words", nargs=-1, metavar="[zoneid] [RECORDID] [email] [credentials] [dns] [WEBSITEURL]")
@website_option
@click.option("--ip", "ip_option", default="", metavar="IP", help="The address to remove (instead of a record id).")
@installed_option
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
@click.pass_context
def delete(ctx, words, website_url, ip_option, if_installed, dry_run):
    """Remove the A record RECORDID, or the one of --ip, of WEBSITEURL (DeleteRecord.sh, RemoveIPFromDNS.sh).
    A record that is not there is not an error."""
    args = _words("delete", words)
    if not (ip_option or args["recordid"]):
        raise click.UsageError("give the record to delete (--ip IP, or the original's record id, 2nd argument)")
    values = _values(ctx)
    website = _website(values, website_url or args["websiteurl"])
    if if_installed and not _installed(ctx):
        return
    dns_provider = _provider(values)
    ip: Optional[str] = ip_option
    if not ip:
        ip = next((r.ip for r in dns_provider.records(website) if r.id == args["recordid"]), None)
    with dry_running(dry_run):
        changed = dns_provider.delete(website, ip) if ip else False
    if not dry_run:
        click.echo(f"{'deleted' if changed else 'not there:'} {website} A {ip or args['recordid']}")


@dns.command()
@click.argument("words", nargs=-1, metavar="[zoneid] [WEBSITEURL] [email] [credentials] [dns]")
@website_option
@click.option("--one-line", is_flag=True, help="All on one line, separated by spaces (GetDNSIPs.sh).")
@installed_option
@click.pass_context
def ips(ctx, words, website_url, one_line, if_installed):
    """Print the addresses WEBSITEURL resolves to at the provider, one a line (GetIPAddresses.sh)."""
    args = _words("ips", words)
    values = _values(ctx)
    website = _website(values, website_url or args["websiteurl"])
    if if_installed and not _installed(ctx):
        return
    found = _provider(values).ips(website)
    if one_line:
        click.echo(" ".join(found))
    else:
        for ip in found:
            click.echo(ip)
