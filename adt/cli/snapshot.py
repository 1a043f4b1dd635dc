"""`adt snapshot`: snapshot images of a build's machines (helperscripts/ObtainWholeMachineSnapshot.sh)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import click

from adt.cli.options import DRY_RUN_HELP, build_options
from adt.errors import AdtError


def _driver(cloudhost, build_identifier, home_dir):
    from adt.build.config import BuildConfig

    return BuildConfig.load(cloudhost, build_identifier, home_dir).driver()


@click.group()
def snapshot():
    """Snapshot images of machines: take them of a live build, list them, delete them. A build made with
    BUILD_FROM_SNAPSHOT=1 (or AUTOSCALE_FROM_SNAPSHOTS=1) starts its machines from the recorded ones."""


@snapshot.command("take")
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice(("autoscaler", "webserver", "database", "authenticator", "reverseproxy")),
    help="Only this role (repeatable); default: every role the build has.",
)
@build_options
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
def take(roles, cloudhost, build_identifier, home_dir, dry_run):
    """Take an image of the first machine of each role of the build (its processes paused while it is copied),
    and record the ids and the credentials in runtimedata/wholemachinesnapshots/<WEBSITE_URL>/snapshots/ and
    in the snap bucket."""
    from adt.build import snapshots
    from adt.build.config import BuildConfig
    from adt.run import dry_running

    config = BuildConfig.load(cloudhost, build_identifier, home_dir)
    config.require("WEBSITE_URL")
    with dry_running(dry_run):
        snapshots.take(config, roles or snapshots.ROLES, click.echo)


@snapshot.command("list")
@click.option("--pattern", default="", help="Only images whose label or machine name contains this.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of {id, label, role, source, created, size}.")
@build_options
def list_(pattern, as_json, cloudhost, build_identifier, home_dir):
    """The cloud host's images (oldest first): id, role, the machine it was taken of, when, size."""
    images = _driver(cloudhost, build_identifier, home_dir).list_snapshots(pattern)
    if as_json:
        click.echo(json.dumps([asdict(image) for image in images]))
        return
    for image in images:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(image.created))
        click.echo(f"{image.id}  {image.role:<13} {image.source}  {when}  {image.size / 1e6:.1f} MB  {image.label}")


@snapshot.command("delete")
@click.argument("image_ids", nargs=-1, required=True, metavar="IMAGE_ID...")
@build_options
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
def delete(image_ids, cloudhost, build_identifier, home_dir, dry_run):
    """Delete images by id (each is checked before any is deleted)."""
    from adt.run import dry_running

    driver = _driver(cloudhost, build_identifier, home_dir)
    known = {image.id for image in driver.list_snapshots()}
    unknown = [image_id for image_id in image_ids if image_id not in known]
    if unknown:
        raise AdtError(f"no image {', '.join(unknown)} on the {driver.name} cloud host", "see 'adt snapshot list'")
    with dry_running(dry_run):
        for image_id in image_ids:
            driver.delete_snapshot(image_id)
            if not dry_run:
                click.echo(f"deleted {image_id}")
