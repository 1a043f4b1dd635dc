"""`adt cloud-api`: the local cloud host's HTTP API server (hidden: the production build starts it detached,
`adt destroy` stops it; nobody types it)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("cloud-api", hidden=True)
def cloud_api():
    """The local cloud host's HTTP API, through which autoscalers make and remove webservers."""


@cloud_api.command("serve")
@click.option(
    "--directory",
    required=True,
    type=click.Path(file_okay=False, exists=True),
    help="The server's folder (config.json and token, written by the build that starts it).",
)
def serve(directory):
    """Answer the API until stopped (the build runs this detached; it logs one line per request)."""
    from adt.build.cloudapi import serve as answer

    answer(Path(directory))
