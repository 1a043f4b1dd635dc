"""`adt cloud`: the build's machines at its cloud host, as the original's providerscripts/server/*.sh ask for them.

Each command takes the original script's positional arguments in the original's order (the entry points are one
`exec` line); the cloud host word is checked against the build's, never needed: the driver and its credentials
come from the build (-c/-b, else the active build under BUILD_HOME), or on a fleet machine from its settings
file (CLOUDHOST, REGION, ...), so a token never has to be in a process's arguments.
"""

from __future__ import annotations

import ipaddress
from typing import Dict, List, Sequence, Set, Tuple

import click

from adt.cli.options import DRY_RUN_HELP, build_options
from adt.errors import AdtError

# The original's positional arguments, by adt command (both toolkits' copies: the autoscaler's DestroyServer.sh
# takes the machine's private address third).
ORIGINAL_ARGUMENTS: Dict[str, Tuple[str, ...]] = {
    "ips": ("pattern", "cloudhost"),
    "ids": ("pattern", "cloudhost"),
    "count": ("pattern", "cloudhost"),
    "running": ("pattern", "cloudhost"),
    "name": ("ip", "cloudhost"),
    "public-ip": ("ip", "cloudhost"),
    "private-ip": ("ip", "cloudhost"),
    "destroy": ("ip", "cloudhost", "private_ip"),
    "create": ("size", "name"),
    "os-image": ("cloudhost", "buildos", "version"),
    "in-vpc": ("cloudhost", "ip"),
}


def original_arguments(command: str, words: Sequence[str]) -> Dict[str, str]:
    """Name the positional words of an original entry point's call (missing ones are ''); a usage error when
    there are more words than the original takes."""
    form = ORIGINAL_ARGUMENTS[command]
    if len(words) > len(form):
        raise click.UsageError(f"at most {len(form)} arguments ({' '.join(form).upper()}), not {len(words)}")
    return {name: (words[i] if i < len(words) else "") for i, name in enumerate(form)}


class WordsCommand(click.Command):
    """A command whose positional words may start with '-', as the original's patterns do (`-as-`, `-rp-`): a
    word that is not one of the command's options is a positional word, wherever it stands."""

    def parse_args(self, ctx: click.Context, args: List[str]) -> List[str]:
        takes_value: Set[str] = set()
        flags: Set[str] = set()
        for param in self.get_params(ctx):
            if isinstance(param, click.Option):
                names = [*param.opts, *param.secondary_opts]
                (flags if param.is_flag or param.count else takes_value).update(names)
        options: List[str] = []
        words: List[str] = []
        rest = list(args)
        while rest:
            token = rest.pop(0)
            if token == "--":
                words.extend(rest)
                break
            if token in takes_value and rest:
                options += [token, rest.pop(0)]
            elif token in flags or (token.startswith("--") and token.split("=", 1)[0] in takes_value):
                options.append(token)
            else:
                words.append(token)
        return super().parse_args(ctx, [*options, "--", *words] if words else options)


class Where:
    """The cloud host and the values its driver is made from: a build's (build machine), or this machine's."""

    def __init__(self, cloudhost: str, values: Dict[str, str], label: str, config=None):
        self.cloudhost, self.values, self.label, self.config = cloudhost, values, label, config
        self._driver = None

    @property
    def driver(self):
        if self._driver is None:
            from adt.build.cloudhost import cloud_driver

            self._driver = self.config.driver() if self.config else cloud_driver(self.cloudhost, self.values)
        return self._driver

    def servers(self, pattern: str = "") -> List:
        return self.driver.list_servers(pattern)


def _machine_settings(ctx):
    """This machine's settings, when it is a fleet machine (a settings file is there), else None."""
    runtime = ctx.obj
    if runtime is None:
        return None
    try:
        path = runtime.settings_path
    except AdtError:
        return None
    return runtime.settings if path.is_file() else None


def _where(ctx, cloudhost, build_identifier, home_dir, word: str = "") -> Where:
    """With -c, -b or --build-home: that build; else this machine's settings when it is a fleet machine; else
    the active build. The original's cloud host word must name the same cloud host."""
    from adt.settings.providers import CLOUDHOSTS

    if word and word not in CLOUDHOSTS:
        raise click.UsageError(f"unknown cloud host {word!r}: use one of {', '.join(CLOUDHOSTS)}")
    if cloudhost and word and word != cloudhost:
        raise click.UsageError(f"the cloud host word {word!r} is not --cloudhost {cloudhost!r}")
    settings = None if (cloudhost or build_identifier or home_dir) else _machine_settings(ctx)
    if settings is not None:
        where = Where(settings.require("CLOUDHOST"), settings.mapping(), str(settings.path))
    else:
        from adt.build.config import BuildConfig

        config = BuildConfig.load(cloudhost or word or None, build_identifier, home_dir)
        where = Where(config.cloudhost, dict(config.values), f"build {config.name}", config)
    if word and word != where.cloudhost:
        raise AdtError(f"{where.label} is on the {where.cloudhost} cloud host, not {word}", f"give {where.cloudhost}")
    return where


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _by_ip(servers: List, ip: str) -> List:
    return [s for s in servers if ip in (s.public_ip, s.private_ip)]


@click.group()
def cloud():
    """The build's machines at its cloud host (providerscripts/server/*.sh): addresses, names, ids, counts,
    state; create and destroy.

    A listing is of the machines whose name contains PATTERN (the original's server type: ws-, db-, -as- ...),
    among the build's own (its tag on a provider, its VPC on local). The build is -c/-b, else this machine's
    settings file on a fleet machine, else the active build (runtimedata/ACTIVE_CLOUDHOST ...)."""


@cloud.command(cls=WordsCommand)
@click.argument("words", nargs=-1, metavar="[PATTERN] [cloudhost]")
@click.option("--private", is_flag=True, help="Private (VPC) addresses (GetServerPrivateIPAddresses.sh).")
@build_options
@click.pass_context
def ips(ctx, words, private, cloudhost, build_identifier, home_dir):
    """Print the public addresses of the machines whose name contains PATTERN, one a line
    (GetServerIPAddresses.sh); with --private their private addresses."""
    args = original_arguments("ips", words)
    where = _where(ctx, cloudhost, build_identifier, home_dir, args["cloudhost"])
    for server in where.servers(args["pattern"]):
        address = server.private_ip if private else server.public_ip
        if address:
            click.echo(address)


@cloud.command(cls=WordsCommand)
@click.argument("words", nargs=-1, metavar="[PATTERN] [cloudhost]")
@build_options
@click.pass_context
def ids(ctx, words, cloudhost, build_identifier, home_dir):
    """Print the cloud host's ids of the machines whose name contains PATTERN, one a line (ListServerIDs.sh)."""
    args = original_arguments("ids", words)
    for server in _where(ctx, cloudhost, build_identifier, home_dir, args["cloudhost"]).servers(args["pattern"]):
        click.echo(server.id)


@cloud.command(cls=WordsCommand)
@click.argument("words", nargs=-1, metavar="[PATTERN] [cloudhost]")
@build_options
@click.pass_context
def count(ctx, words, cloudhost, build_identifier, home_dir):
    """Print how many machines' names contain PATTERN (NumberOfServers.sh)."""
    args = original_arguments("count", words)
    click.echo(len(_where(ctx, cloudhost, build_identifier, home_dir, args["cloudhost"]).servers(args["pattern"])))


@cloud.command(cls=WordsCommand)
@click.argument("words", nargs=-1, metavar="[PATTERN] [cloudhost]")
@build_options
@click.pass_context
def running(ctx, words, cloudhost, build_identifier, home_dir):
    """Print `running` when there are machines whose name contains PATTERN and every one runs, else
    `not running` (IsInstanceRunning.sh; exit 0 either way, as the original)."""
    args = original_arguments("running", words)
    servers = _where(ctx, cloudhost, build_identifier, home_dir, args["cloudhost"]).servers(args["pattern"])
    click.echo("running" if servers and all(s.status == "running" for s in servers) else "not running")


@cloud.command(cls=WordsCommand)
@click.argument("words", nargs=-1, metavar="IP [cloudhost]")
@build_options
@click.pass_context
def name(ctx, words, cloudhost, build_identifier, home_dir):
    """Print the name of the machine with the public or private address IP (GetServerName.sh); nothing when
    there is none."""
    args = original_arguments("name", words)
    if not args["ip"]:
        raise click.UsageError("give the machine's address (IP)")
    for server in _by_ip(_where(ctx, cloudhost, build_identifier, home_dir, args["cloudhost"]).servers(), args["ip"]):
        click.echo(server.name)


@cloud.command("public-ip", cls=WordsCommand)
@click.argument("words", nargs=-1, metavar="IP [cloudhost]")
@build_options
@click.pass_context
def public_ip(ctx, words, cloudhost, build_identifier, home_dir):
    """Print the public address of the machine with the (private) address IP (GetServerPublicIPAddressByIP.sh);
    nothing when there is none."""
    args = original_arguments("public-ip", words)
    if not args["ip"]:
        raise click.UsageError("give the machine's address (IP)")
    for server in _by_ip(_where(ctx, cloudhost, build_identifier, home_dir, args["cloudhost"]).servers(), args["ip"]):
        click.echo(server.public_ip)


@cloud.command("private-ip", cls=WordsCommand)
@click.argument("words", nargs=-1, metavar="IP [cloudhost]")
@build_options
@click.pass_context
def private_ip(ctx, words, cloudhost, build_identifier, home_dir):
    """Print the private address of the machine with the (public) address IP (GetServerPrivateIPAddressByIP.sh);
    nothing when IP is not an address or there is no such machine."""
    args = original_arguments("private-ip", words)
    if not _is_ip(args["ip"]):
        return  # as the original: a word that is no address prints nothing
    for server in _by_ip(_where(ctx, cloudhost, build_identifier, home_dir, args["cloudhost"]).servers(), args["ip"]):
        click.echo(server.private_ip)


@cloud.command("in-vpc", cls=WordsCommand)
@click.argument("words", nargs=-1, metavar="[cloudhost] IP")
@build_options
@click.pass_context
def in_vpc(ctx, words, cloudhost, build_identifier, home_dir):
    """Print the private address of the machine at IP (the build machine's), nothing when it has none
    (CheckBuildMachineVPC.sh: the build machine is in the VPC when this prints an address)."""
    args = original_arguments("in-vpc", words)
    if not args["ip"]:
        raise click.UsageError("give the machine's address (IP, the 2nd argument)")
    for server in _by_ip(_where(ctx, cloudhost, build_identifier, home_dir, args["cloudhost"]).servers(), args["ip"]):
        if server.private_ip:
            click.echo(server.private_ip)


@cloud.command(cls=WordsCommand)
@click.argument("words", nargs=-1, metavar="IP|NAME [cloudhost] [private_ip]")
@build_options
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
@click.pass_context
def destroy(ctx, words, cloudhost, build_identifier, home_dir, dry_run):
    """Destroy the build's machine with the public or private address IP, or named NAME (DestroyServer.sh).
    No such machine is an error (exit 1) naming it."""
    from adt.run import announce, dry_running

    args = original_arguments("destroy", words)
    target = args["ip"]
    if not target:
        raise click.UsageError("give the machine's address (IP) or its name")
    where = _where(ctx, cloudhost, build_identifier, home_dir, args["cloudhost"])
    servers = where.servers()
    found = _by_ip(servers, target) if _is_ip(target) else [s for s in servers if s.name == target]
    if not found and args["private_ip"]:
        found = _by_ip(servers, args["private_ip"])
    if not found:
        raise AdtError(f"no machine of {where.label} has the address or name {target}", "see 'adt cloud ips'")
    with dry_running(dry_run):
        for server in found:
            if dry_run:
                announce(f"{server.name} ({server.public_ip}, {server.private_ip}) on {where.cloudhost}", "destroy")
                continue
            where.driver.destroy_server(server.name)
            click.echo(f"destroyed {server.name} ({server.public_ip})")


@cloud.command(cls=WordsCommand)
@click.argument("words", nargs=-1, metavar="SIZE NAME")
@build_options
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
@click.pass_context
def create(ctx, words, cloudhost, build_identifier, home_dir, dry_run):
    """Create the build's machine NAME of size SIZE, its role told by its name as the original (ws-, db-, -as-,
    -auth-, -rp-), and wait until it is ready (CreateServer.sh); print its name and public and private
    addresses. Run on the build machine, for a build that exists."""
    from adt.cloud.base import role_of
    from adt.run import announce

    args = original_arguments("create", words)
    if not (args["size"] and args["name"]):
        raise click.UsageError("give SIZE and NAME (the original's order)")
    role = role_of(args["name"])
    if role not in ("webserver", "database", "autoscaler"):
        raise click.UsageError(f"the name {args['name']!r} tells no role adt builds (ws-..., db-..., ...-as-...)")
    from adt.build.config import BuildConfig

    config = BuildConfig.load(cloudhost, build_identifier, home_dir)
    config.require("SERVER_USER", "SSH_PORT")
    if dry_run:
        announce(f"{args['name']} ({role}, size {args['size']}) on {config.name}", "create")
        return
    from adt.build.development import Builder

    size_setting = {"database": "DB_SERVER_TYPE", "autoscaler": "AS_SERVER_TYPE"}.get(role, "WS_SERVER_TYPE")
    config.values = {**config.values, size_setting: args["size"]}  # this machine's size, not recorded
    builder = Builder(config, progress=lambda line: None)
    builder.driver = config.driver()
    builder.launch(role, name=args["name"])
    for server in builder.driver.list_servers(args["name"]):
        if server.name == args["name"]:
            click.echo(f"{server.name} {server.public_ip} {server.private_ip}")


@cloud.command()
@build_options
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
@click.pass_context
def adopt(ctx, cloudhost, build_identifier, home_dir, dry_run):
    """Take the original toolkit's machines of the build in: tag them as adt tags its own, and print each name
    adopted (or "nothing to adopt").

    adt finds a build's machines by its tag (Exoscale: its label) adt-build-<BUILD_IDENTIFIER>, set when it makes
    them; the original toolkit tags nothing and finds its machines by name. In a fleet that mixes machines the
    original made with adt's, adt does not see the original's (listings, the autoscaler, destroy) until they are
    adopted: every machine without a build tag whose name carries the build's mark -<REGION>-<BUILD_IDENTIFIER>-
    (ws-..., db-..., ...-as-...) gets the build's tag and its role's. Machines of other builds or with other names
    are not touched; running it again adopts nothing. With --dry-run the calls are printed, nothing is changed."""
    from adt.run import dry_running

    where = _where(ctx, cloudhost, build_identifier, home_dir)
    with dry_running(dry_run):
        names = where.driver.adopt()
    for name in names:
        click.echo(f"would adopt {name}" if dry_run else name)
    if not names:
        click.echo("nothing to adopt")


@cloud.command("os-image", cls=WordsCommand)
@click.argument("words", nargs=-1, metavar="[CLOUDHOST BUILDOS BUILDOS_VERSION]")
@build_options
@click.pass_context
def os_image_command(ctx, words, cloudhost, build_identifier, home_dir):
    """Print the cloud host's image of the bare system BUILDOS BUILDOS_VERSION, as its API takes it
    (GetOperatingSystemVersion.sh: debian 13 on digitalocean is debian-13-x64; on vultr an os id). With no
    words: the build's or this machine's."""
    from adt.build.cloudhost import value
    from adt.cloud.base import os_image

    args = original_arguments("os-image", words)
    if args["cloudhost"] and args["buildos"] and args["version"]:
        host, buildos, version = args["cloudhost"], args["buildos"], args["version"]
    elif any(args.values()):
        raise click.UsageError("give all three of CLOUDHOST BUILDOS BUILDOS_VERSION, or none")
    else:
        where = _where(ctx, cloudhost, build_identifier, home_dir)
        host = where.cloudhost
        buildos = value(where.values, "BUILDOS") or "debian"
        version = value(where.values, "BUILDOS_VERSION") or "13"
    click.echo(os_image(host, buildos, version))
