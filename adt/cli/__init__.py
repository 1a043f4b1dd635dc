"""The `adt` command: Click groups loaded lazily, one module per noun, one error boundary."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Optional

import click

from adt.errors import AdtError

COMMANDS = {
    "config": ("adt.cli.config", "config", "The configuration datastore (what the configwrapper scripts call)."),
    "agent": ("adt.cli.agent", "agent", "A per-machine agent that keeps an S3 client warm for fast calls."),
    "template": ("adt.cli.template", "template", "Build templates: list, show, describe, get, set, validate, edit."),
    "variable": ("adt.cli.variable", "variable", "Variables of a build's environment (build_environment)."),
    "build": ("adt.cli.build", "build", "Build a fleet from a template (ExpeditedAgileDeploymentToolkit.sh)."),
    "destroy": ("adt.cli.build", "destroy", "Destroy a build's machines, datastore and network."),
    "hardcore": ("adt.cli.hardcore", "hardcore", "User data of a hardcore build (GenerateHardcoreUserDataScript.sh)."),
    "fleet": ("adt.cli.fleet", "fleet", "Reach a build's machines: connect, execute, copy, shut down."),
    "machine": ("adt.cli.machine", "machine", "What a fleet machine runs on itself (bootstrap, checks)."),
    "firewall": ("adt.cli.firewall", "firewall", "Firewalls on every machine and the cloud host's native one."),
    "backup": ("adt.cli.backup", "backup", "Temporal backups of the webroot and database: take, verify."),
    "restore": ("adt.cli.backup", "restore", "Restore a webroot or a database from a temporal backup."),
    "baseline": ("adt.cli.baseline", "baseline", "Publish the webroot or database to git, behind a secrets gate."),
    "snapshot": ("adt.cli.snapshot", "snapshot", "Snapshot images of a build's machines: take, list, delete."),
    "status": ("adt.cli.status", "status", "One build at a glance: machines, DNS, TLS, backups, firewalls, snapshots."),
    "dns": ("adt.cli.dns", "dns", "DNS round robin of WEBSITEURL: zone, records, add, delete, addresses."),
    "cloud": ("adt.cli.cloud", "cloud", "A build's machines at its cloud host (providerscripts/server/*.sh)."),
    "doctor": ("adt.cli.doctor", "doctor", "Check a template, token, DNS, datastore and key before a build."),
    "drill": ("adt.cli.drill", "drill", "Restore drill: a throwaway fleet from the latest backups, checked, gone."),
    "autoscaler": ("adt.cli.autoscaler", "autoscaler", "The autoscaler's service, its next plan and its events."),
    "scale": ("adt.cli.scale", "scale", "The scaling profile: webservers per autoscaler, schedules, update events."),
    "ssl": ("adt.cli.ssl", "ssl", "The build's TLS certificate: issue, renew when due, status; webservers' install."),
    "cloud-api": ("adt.cli.cloudapi", "cloud_api", "The local cloud host's HTTP API server (started by the build)."),
}
HIDDEN = {"cloud-api"}  # run by adt itself, not listed in --help


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs, so `adt --help` and wrappers start fast."""

    def list_commands(self, ctx):
        return sorted(set(COMMANDS) - HIDDEN)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


class Runtime:
    """Where this machine's files are, resolved once per invocation, loaded on first use."""

    def __init__(self, home: Optional[str], settings: Optional[str], role: Optional[str]):
        self._home, self._settings, self._role = home, settings, role
        self._loaded = None

    @property
    def home(self) -> Path:
        from adt.settings.paths import home_dir

        return home_dir(option=self._home)

    @property
    def settings_path(self) -> Path:
        from adt.settings.paths import settings_file

        if self._settings:
            return Path(self._settings)
        return settings_file(self.home, role=self._role)

    @property
    def settings(self):
        if self._loaded is None:
            from adt.settings.machine import MachineSettings

            self._loaded = MachineSettings.load(self.settings_path)
        return self._loaded


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", metavar="DIR", help="The machine's home (default: ADT_HOME, /home/homedir.dat, $HOME).")
@click.option(
    "--settings",
    metavar="FILE",
    help="Machine settings file (default: ADT_SETTINGS_FILE, else <home>/runtime/<role>_configuration_settings.dat).",
)
@click.option(
    "--role",
    type=click.Choice(["autoscaler", "database", "webserver"]),
    help="Machine role whose settings file to use (default: ADT_ROLE, else the one present).",
)
@click.option(
    "--env-file",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="A .env file of ADT_* variables to load first (default: ADT_ENV_FILE). Variables already set win.",
)
@click.version_option(package_name="adt", prog_name="adt", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx, home, settings, role, env_file):
    """adt: the Agile Deployment Toolkit.

    Runs a PHP CMS site on a cloud host from a build machine. The original toolkit's shell scripts
    (helperscripts/, providerscripts/, ...) are thin entry points to these commands.
    """
    env_file = env_file or os.environ.get("ADT_ENV_FILE")
    if env_file:
        if not os.path.isfile(env_file):
            raise AdtError(f"env file {env_file} does not exist", "fix --env-file or ADT_ENV_FILE")
        from dotenv import load_dotenv

        load_dotenv(env_file, override=False)
    ctx.obj = Runtime(home, settings, role)


def _report(message: str, hint: str = "") -> None:
    sys.stderr.write(f"adt: {message}\n")
    if hint:
        sys.stderr.write(f"  hint: {hint}\n")
    sys.stderr.flush()


def main(argv=None) -> int:
    """Run the CLI and return its exit code: 0 ok, 1 failure (one line on stderr), 2 usage."""
    try:
        result = cli.main(args=argv, prog_name="adt", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as usage:
        usage.show()
        return usage.exit_code
    except click.Abort:
        _report("aborted")
        return 1
    except AdtError as error:
        if os.environ.get("ADT_DEBUG") == "1":
            import traceback

            traceback.print_exc()
        _report(error.message, error.hint)
        return error.exit_code
    except KeyboardInterrupt:
        _report("interrupted")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as error:  # the last line of defence: one line, never a traceback unless asked
        if os.environ.get("ADT_DEBUG") == "1":
            raise
        _report(f"internal error: {type(error).__name__}: {error}", "run again with ADT_DEBUG=1 for a traceback")
        return 1
