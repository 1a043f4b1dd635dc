"""`adt doctor <cloudhost>`: what would stop a build, before anything is made."""

from __future__ import annotations

import click

from adt.cli.options import BUILD_HOME_HELP
from adt.settings.providers import CLOUDHOSTS


@click.command()
@click.argument("cloudhost", type=click.Choice(CLOUDHOSTS))
@click.option(
    "--template",
    "-t",
    "template_number",
    type=click.IntRange(1, 3),
    default=1,
    show_default=True,
    help="Template number: templates/<cloudhost>/<cloudhost><N>.tmpl.",
)
@click.option("--template-file", type=click.Path(dir_okay=False), help="Check this template file instead.")
@click.option("--build-identifier", "-b", default="", help="The build identifier `adt build` will be given.")
@click.option("--build-home", "home_dir", metavar="DIR", help=BUILD_HOME_HELP)
@click.option("--json", "as_json", is_flag=True, help="One JSON object: {cloudhost, template, ready, problems}.")
@click.pass_context
def doctor(ctx, cloudhost, template_number, template_file, build_identifier, home_dir, as_json):
    """Check everything a build on CLOUDHOST needs before anything is created, and report every problem at once,
    one line each naming the setting to fix: the template (as `adt build` validates it), the cloud account
    (token and its scopes, REGION, every *_SERVER_TYPE size, the image, quotas), the zone of WEBSITE_URL at the
    DNS provider, the S3 datastore (credentials, bucket names) and the build's SSH key when it exists (0600, its
    .pub matching). Exit 1 when there is a problem, 0 and "ready to build" when there is none.

    For tests: ADT_API_URL_<CLOUDHOST> (ADT_API_URL_DIGITALOCEAN ...) replaces the provider's API endpoint, as
    DNS_API_URL in the template does the DNS provider's.
    """
    import json

    from adt.build import doctor as checks
    from adt.settings.paths import build_home

    home = build_home(option=home_dir)
    findings = checks.check(cloudhost, home, template_number, template_file, build_identifier)
    if as_json:
        path = checks.template_path(home, cloudhost, template_number, template_file)
        click.echo(json.dumps(checks.as_json(findings, cloudhost, str(path)), indent=2))
    else:
        for line in checks.render(findings):
            click.echo(line)
    if findings:
        ctx.exit(1)
