"""`adt build` and `adt destroy`: make and remove a fleet."""

from __future__ import annotations

import sys

import click

from adt.cli.options import BUILD_HOME_HELP, DRY_RUN_HELP, build_options
from adt.settings.providers import CLOUDHOSTS


@click.command()
@click.argument("words", nargs=-1, metavar="[CLOUDHOST BUILDOS TEMPLATE BUILD_IDENTIFIER]")
@click.option("--rebuild", is_flag=True, help="Destroy an existing build with this identifier first.")
@click.option("--template-file", type=click.Path(exists=True, dir_okay=False), help="Use this template file.")
@click.option("--build-home", "home_dir", metavar="DIR", help=BUILD_HOME_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Answer yes to the build's questions (template 3: build with an empty database when the period has "
    "no database backup).",
)
@click.option(
    "--remote-base",
    metavar="URL|DIR",
    help="Template 2: where the baseline repositories are (as PerformWebsiteBaseline.sh --remote-base), "
    "instead of the application repository provider's.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help=DRY_RUN_HELP + " On `local` it stops before the datastore (the later steps need machines it does not "
    "start); on a provider it prints the plan (VPC, bucket, machines with size, image and tags, firewalls, DNS "
    "records) and asks nothing of the provider.",
)
@click.option(
    "--user-data",
    "user_data",
    metavar="FILE",
    type=click.Path(dir_okay=False, writable=True),
    help="Build nothing: write to FILE (0600) the user data of a hardcore build machine, which builds this "
    "template unattended at its first boot (as GenerateHardcoreUserDataScript.sh). The infrastructure "
    "repository's token and the build machine's password come from INFRASTRUCTURE_REPOSITORY_TOKEN and "
    "BUILDMACHINE_PASSWORD in the environment, never from an argument.",
)
def build(words, rebuild, template_file, home_dir, as_json, yes, remote_base, dry_run, user_data):
    """Build a fleet from a template (ExpeditedAgileDeploymentToolkit.sh).

    With no arguments it asks for the cloud host, build OS, template number (1, 2, 3) and build
    identifier; with all four it asks nothing. On `local`, template 1 builds a development fleet on this
    machine: a database machine (MariaDB) and a webserver (nginx, php-fpm and WordPress), and prints
    the URL. Template 3 builds production from the temporal backups BUILD_ARCHIVE_CHOICE names (or from
    snapshots, BUILD_FROM_SNAPSHOT=1): a database machine, NO_WEBSERVERS webservers in DNS round robin
    (the build's own PowerDNS) and NO_AUTOSCALERS autoscalers. Template 2 is the same from the baseline
    repositories (APPLICATION_BASELINE_SOURCECODE_REPOSITORY).
    """
    import json

    from adt.build.development import build_development
    from adt.errors import AdtError
    from adt.run import dry_running
    from adt.settings.paths import build_home

    if words and len(words) != 4:
        raise click.UsageError("give all four of CLOUDHOST BUILDOS TEMPLATE BUILD_IDENTIFIER, or none")
    if words:
        cloudhost, buildos, template, identifier = words
    else:
        cloudhost = click.prompt("Cloud host", type=click.Choice(CLOUDHOSTS), default="local")
        buildos = click.prompt("Build OS", type=click.Choice(["debian", "ubuntu"]), default="debian")
        template = click.prompt(
            "Template (1 virgin development, 2 baseline development, 3 production)",
            type=click.Choice(["1", "2", "3"]),
            default="1",
        )
        identifier = click.prompt("Build identifier", default="demo")
    if cloudhost not in CLOUDHOSTS:
        raise click.UsageError(f"unknown cloud host {cloudhost!r}: use one of {', '.join(CLOUDHOSTS)}")
    if buildos not in ("debian", "ubuntu"):
        raise click.UsageError(f"unknown build OS {buildos!r}: use debian or ubuntu")
    if template not in ("1", "2", "3"):
        raise click.UsageError(f"template must be 1, 2 or 3, not {template!r}")
    from adt.settings.validate import IDENTIFIER

    if not IDENTIFIER.match(identifier):
        raise AdtError(
            f"build identifier {identifier!r} is not valid",
            "1-12 characters a-z, 0-9 and '-', not starting or ending with '-'",
        )
    home = build_home(option=home_dir)
    if user_data:
        import os
        from pathlib import Path

        from adt.build import hardcore
        from adt.settings.runtime import templates_dir

        path = Path(template_file or templates_dir(home) / cloudhost / f"{cloudhost}{template}.tmpl")
        made = hardcore.from_override(
            path,
            cloudhost=cloudhost,
            number=int(template),
            build_identifier=identifier,
            buildos=buildos,
            token=os.environ.get("INFRASTRUCTURE_REPOSITORY_TOKEN", ""),
            password=os.environ.get("BUILDMACHINE_PASSWORD", ""),
        )
        for problem in hardcore.check(made):
            click.echo(f"warning: {problem}", err=True)
        written = hardcore.write(made, Path(user_data))
        click.echo(f"user data of a build machine that builds {cloudhost}/{identifier}: {written} (0600)")
        return
    progress = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    with dry_running(dry_run, echo=progress):
        if template == "1":
            result = build_development(
                cloudhost, 1, identifier, home, rebuild=rebuild, template_file=template_file, progress=progress
            )
        else:
            from adt.build.production import build_production

            def ask(question: str) -> bool:
                if yes:
                    return True
                if not sys.stdin.isatty():
                    return False
                return click.confirm(question, default=False, err=True)

            result = build_production(
                cloudhost,
                int(template),
                identifier,
                home,
                rebuild=rebuild,
                template_file=template_file,
                progress=progress,
                ask=ask,
                remote_base=remote_base,
            )
    if as_json:
        click.echo(json.dumps(result))
        return
    if dry_run:
        click.echo(f"dry run of {cloudhost}/{identifier}: nothing was changed")
        return
    if template != "1":
        total = sum(t for _, t in result["timings"])
        click.echo(f"\nThe production fleet {cloudhost}/{identifier} is up ({total:.1f} s), from {result['source']}.")
        click.echo(f"  website:      http://{result['website_url']}/  (DNS: {result['dns'] or 'none'})")
        click.echo(f"  webservers:   {' '.join(result['webservers'])}  (in DNS round robin)")
        click.echo(f"  database:     {result['database']}    autoscalers: {' '.join(result['autoscalers']) or 'none'}")
        click.echo(f"  credentials:  {result['credentials']}/")
        click.echo(f"  status:       adt status -c {cloudhost} -b {identifier}")
        return
    total = sum(t for _, t in result["timings"])
    click.echo(f"\nThe development fleet {cloudhost}/{identifier} is up ({total:.1f} s).")
    click.echo(f"  website:      {result['url']}  (WordPress installer; {result['website_url']} once DNS points there)")
    click.echo(f"  webserver:    {result['webserver']}    database: {result['database']}")
    click.echo(f"  credentials:  {result['credentials']}/ (server user, database)")
    click.echo("  connect:      helperscripts/ConnectToWebserver.sh, helperscripts/ConnectToDatabase.sh")
    click.echo(f"  destroy:      adt destroy -c {cloudhost} -b {identifier}")


@click.command()
@build_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--purge-datastore",
    is_flag=True,
    help="Also delete every bucket of the local cloud host's object storage (backups, snapshots' ids, "
    "configuration) on this build's VPC. Without it they stay, as a cloud provider's object storage does.",
)
@click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)
def destroy(cloudhost, build_identifier, home_dir, yes, purge_datastore, dry_run):
    """Destroy a build's machines, its DNS server and its network (its runtime data and the object
    storage's buckets stay, unless --purge-datastore)."""
    from adt.build.config import BuildConfig
    from adt.build.development import destroy as destroy_build
    from adt.run import dry_running

    config = BuildConfig.load(cloudhost, build_identifier, home_dir)
    if not yes and not dry_run and sys.stdin.isatty():
        click.confirm(f"Destroy every machine of {config.name}?", abort=True)
    with dry_running(dry_run):
        gone = destroy_build(config, progress=click.echo, purge_datastore=purge_datastore)
    click.echo(f"{'would destroy' if dry_run else 'destroyed'} {len(gone)} machine(s) of {config.name}")
