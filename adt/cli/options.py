"""Options several commands share."""

import click

from adt.settings.providers import CLOUDHOSTS


def build_options(function):
    """--cloudhost/-c, --build-identifier/-b and --build-home (as `home_dir`): which build, where."""
    for option in reversed([
            click.option("--cloudhost", "-c", type=click.Choice(CLOUDHOSTS),
                         help="Cloud host (default: runtimedata/ACTIVE_CLOUDHOST)."),
            click.option("--build-identifier", "-b", help="Build (default: runtimedata/ACTIVE_BUILD_IDENTIFIER)."),
            click.option("--build-home", "home_dir", metavar="DIR",
                         help="The toolkit's home (default: BUILD_HOME, /home/buildhome.dat, this checkout).")]):
        function = option(function)
    return function
