"""`adt hardcore`: the user data of a hardcore build (GenerateHardcoreUserDataScript.sh)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from adt.cli.options import BUILD_HOME_HELP
from adt.errors import AdtError


def _build_home(home_dir):
    from adt.settings.paths import build_home

    return build_home(option=home_dir)


@click.command()
@click.argument("stack", required=False, type=click.Choice(["stack"]))
@click.option(
    "--override",
    "override_file",
    type=click.Path(exists=True, dir_okay=False),
    help="The override template (default: asks for one of ${BUILD_HOME}/overridescripts/*.tmpl).",
)
@click.option(
    "--output", metavar="NAME|PATH", help="Where to write: a name goes to ${BUILD_HOME}/userdatascripts/NAME."
)
@click.option(
    "--ssh-key",
    type=click.Path(exists=True, dir_okay=False),
    help="The build machine user's public key file (default: the template's SSH).",
)
@click.option("--user", "user", help="The build machine's user (default: BUILDMACHINE_USER, else agile-user).")
@click.option("--ssh-port", help="Its sshd port (default: BUILDMACHINE_SSH_PORT, else 1035).")
@click.option("--laptop-ip", help="The one address sshd admits the user from (default: LAPTOP_IP; none: any).")
@click.option("--branch", help="The infrastructure repository's branch (default: main).")
@click.option("--repository-url", help="Clone adt from this URL instead of the template's repository.")
@click.option("--no-input", is_flag=True, help="Ask nothing (needs --override and --output).")
@click.option("--build-home", "home_dir", metavar="DIR", help=BUILD_HOME_HELP)
def hardcore(
    stack, override_file, output, ssh_key, user, ssh_port, laptop_ip, branch, repository_url, no_input, home_dir
):
    """Write the user data of a hardcore build: a script that makes a fresh Debian or Ubuntu cloud machine a
    build machine and runs the whole build of an override template unattended (as GenerateOverrideTemplate.sh
    writes them). With `stack`, a Linode StackScript whose fields (the template's .stack file) replace the
    template's values.

    A token for a private infrastructure repository and the user's password come from the environment
    (INFRASTRUCTURE_REPOSITORY_TOKEN, BUILDMACHINE_PASSWORD) or the override template, never from the command
    line. The script is written 0600: it holds the template's secrets.
    """
    from adt.build import hardcore as method

    if no_input and not (override_file and output):
        raise click.UsageError("--no-input needs --override and --output")
    home = None
    if not override_file or not output or "/" not in output:
        home = _build_home(home_dir)
    if not override_file:
        assert home is not None
        found = sorted((home / "overridescripts").glob("*override.tmpl"))
        if not found:
            raise AdtError(
                f"no override template in {home / 'overridescripts'}", "write one with GenerateOverrideTemplate.sh"
            )
        for number, path in enumerate(found, 1):
            click.echo(f"{number}: {path.name}")
        choice = click.prompt("Which override template", type=click.IntRange(1, len(found)))
        override_file = str(found[choice - 1])
    if not output:
        output = click.prompt("Name of the user data script")
    assert output is not None
    if "/" in output:
        target = Path(output)
    else:
        assert home is not None
        target = home / "userdatascripts" / output
    key = Path(ssh_key).read_text() if ssh_key else ""
    made = method.from_override(
        Path(override_file),
        ssh_key=key,
        user=user or "",
        ssh_port=ssh_port or "",
        laptop_ip=laptop_ip or "",
        password=os.environ.get("BUILDMACHINE_PASSWORD", ""),
        token=os.environ.get("INFRASTRUCTURE_REPOSITORY_TOKEN", ""),
        branch=branch or "",
        url=repository_url or "",
        stack=bool(stack),
    )
    method.write(made, target)
    from adt.settings.validate import validate_template

    problems = validate_template(made.template)
    for problem in problems:
        click.echo(f"{override_file}: {problem.render()}", err=True)
    click.echo(f"{target}: written (0600), the user data of {made.cloudhost} template {made.number}")
    if problems:
        click.echo(f"{len(problems)} problem(s) in the template: the build will stop at them; fix and write again")
