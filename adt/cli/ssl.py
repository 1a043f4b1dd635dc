"""`adt ssl`: a build's TLS certificate, issued and renewed on the build machine (InitialiseNewSSLCertificate.sh,
ManuallyUpdateSSLCertificate.sh), and the webservers' install of it (RenewSSLCertificate.sh)."""

from __future__ import annotations

import click

from adt.cli.options import DRY_RUN_HELP, build_options


@click.group()
def ssl():
    """The build's certificate: issue, renew when due, show; a webserver's install of the published pair."""


from adt.cli.sslmachine import install  # noqa: E402  (a webserver's RenewSSLCertificate.sh; nothing heavy)

ssl.add_command(install)


def _build(cloudhost, build_identifier, home_dir):
    from adt.build.config import BuildConfig

    return BuildConfig.load(cloudhost, build_identifier, home_dir)


def _say(lines) -> None:
    for line in lines:
        click.echo(line)


@ssl.command()
@build_options
@click.option("--force", is_flag=True, help="Issue a new certificate even when the current one is not due.")
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
def renew(cloudhost, build_identifier, home_dir, force, dry_run):
    """Renew the build's certificate when it is due: at a third of its lifetime left, or earlier when the CA's
    renewal information (RFC 9773) says so. A certificate that is missing, broken or not for WEBSITE_URL is issued
    now. Nothing due: says when the next renewal is, and publishes the pair again if the datastore lost it.
    Issues through ACME DNS-01 with the build's DNS and publishes to the ssl bucket and the config bucket. Exit 1
    when the CA or the datastore fails (the certificate in service stays). The build machine's cron runs it."""
    from adt.build import ssl as flow
    from adt.run import dry_running

    with dry_running(dry_run):
        _say(flow.renew(_build(cloudhost, build_identifier, home_dir), force=force, progress=click.echo))


@ssl.command()
@build_options
@click.option(
    "--fullchain", type=click.Path(exists=True, dir_okay=False), help="A certificate chain obtained elsewhere."
)
@click.option("--privkey", type=click.Path(exists=True, dir_okay=False), help="Its private key (with --fullchain).")
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
def issue(cloudhost, build_identifier, home_dir, fullchain, privkey, dry_run):
    """Issue a new certificate for the build now and publish it (ManuallyUpdateSSLCertificate.sh). With
    --fullchain and --privkey, publish that pair instead, once checked: the key must be the certificate's, the
    certificate for WEBSITE_URL and not expired."""
    from pathlib import Path

    from adt.build import ssl as flow
    from adt.run import dry_running

    build = _build(cloudhost, build_identifier, home_dir)
    if bool(fullchain) != bool(privkey):
        raise click.UsageError("give both --fullchain and --privkey, or neither")
    with dry_running(dry_run):
        if fullchain:
            _say(flow.install(build, Path(fullchain).read_bytes(), Path(privkey).read_bytes()))
        else:
            _say(flow.renew(build, force=True, progress=click.echo))


@ssl.command()
@click.argument("url", required=False, default="none")
@click.argument("authenticator", required=False, default="")
@click.argument("build_identifier", required=False)
@click.argument("cloudhost", required=False)
@click.option("--build-home", "home_dir", metavar="DIR", help="The toolkit's home, BUILD_HOME.")
def initialise(url, authenticator, build_identifier, cloudhost, home_dir):
    """The original's InitialiseNewSSLCertificate.sh [url|none|FILLER] [yes] [build_id] [cloudhost]: renew the
    build's certificate when due (as `adt ssl renew`). The url word is not needed (the build's WEBSITE_URL is used)."""
    from adt.build import ssl as flow
    from adt.errors import AdtError

    if authenticator == "yes":
        raise AdtError("authenticator certificates are not built by adt", "run it without the second word")
    _say(flow.renew(_build(cloudhost, build_identifier, home_dir), progress=click.echo))


@ssl.command()
@build_options
def status(cloudhost, build_identifier, home_dir):
    """The build's certificate: serial, names, validity, when its renewal is due, where it is published."""
    import datetime as dt

    from adt.build import ssl as flow
    from adt.ssl import pair as p

    build = _build(cloudhost, build_identifier, home_dir)
    now = dt.datetime.now(dt.timezone.utc)
    found = flow.local_pair(build)
    if found is None:
        click.echo(f"{build.name}: no certificate issued (adt ssl renew issues one)")
        raise SystemExit(1)
    c = p.leaf(found[0])
    due = p.due_by_lifetime(c)
    published = flow.published_pair(build) == found
    ssl_bucket, config_bucket = flow.buckets(build)
    website = build.values.get("WEBSITE_URL", "")
    cron = flow.cron_file(build)
    click.echo(f"{', '.join(c.names)}: serial {c.serial}, issuer {c.issuer}")
    click.echo(f"  valid {c.not_before:%Y-%m-%d %H:%M} – {c.not_after:%Y-%m-%d %H:%M} UTC")
    click.echo(
        f"  expires in {p.until(c.not_after, now)}; renewal due {due:%Y-%m-%d %H:%M} UTC (in {p.until(due, now)})"
    )
    click.echo(f"  published: {'yes' if published else 'NO'} (s3://{ssl_bucket}, s3://{config_bucket}/ssl/{website}/)")
    click.echo(f"  cron: {cron if cron.exists() else 'none'}")
