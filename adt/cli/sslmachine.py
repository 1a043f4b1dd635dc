"""`adt ssl install`: what a webserver runs on itself for TLS (RenewSSLCertificate.sh, daily and every 5 minutes
from cron). A command of the `adt ssl` group (adt/cli/ssl.py adds it); nothing heavy is imported at module top."""

from __future__ import annotations

import click


@click.command("install")
@click.pass_context
def install(ctx):
    """Install the published certificate pair on this webserver (RenewSSLCertificate.sh).

    Fetches fullchain.pem and privkey.pem from the ssl bucket <U>-<DNSCHOICE>-<lets|zero>-ssl (else the config
    bucket's ssl/<WEBSITEURL>/), and installs them into ${HOME}/ssl/live/<WEBSITEURL>/ only when both differ from
    the live pair and belong together (the key is the certificate's, the certificate names WEBSITEURL and has not
    expired). The pair it replaces is kept in previous/; nginx, when it runs, is reloaded gracefully (no
    connection dropped).
    Exit 0 when installed or with nothing new; 1 when nothing is published, or the published pair is half new or
    broken (never installed: the live pair stays in service)."""
    from adt.machine.bootstrap import nginx_running, reload_nginx
    from adt.ssl.install import install as install_pair

    reload = reload_nginx if nginx_running() else None  # a stopped nginx reads the new pair when it starts
    click.echo(install_pair(ctx.obj.settings, ctx.obj.home, reload=reload))
