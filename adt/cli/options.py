"""Options several commands share."""

import click

from adt.settings.providers import CLOUDHOSTS

BUILD_HOME_HELP = (
    "The toolkit's home, BUILD_HOME (default: ADT_BUILD_HOME, BUILD_HOME, /home/buildhome.dat, "
    "else the adt checkout holding ExpeditedAgileDeploymentToolkit.sh)."
)
DRY_RUN_HELP = "Print the commands and changes it would make (reads still run), and change nothing."


def build_options(function):
    """--cloudhost/-c, --build-identifier/-b and --build-home (as `home_dir`): which build, where."""
    for option in reversed(
        [
            click.option(
                "--cloudhost",
                "-c",
                type=click.Choice(CLOUDHOSTS),
                help="Cloud host (default: runtimedata/ACTIVE_CLOUDHOST).",
            ),
            click.option("--build-identifier", "-b", help="Build (default: runtimedata/ACTIVE_BUILD_IDENTIFIER)."),
            click.option("--build-home", "home_dir", metavar="DIR", help=BUILD_HOME_HELP),
        ]
    ):
        function = option(function)
    return function
