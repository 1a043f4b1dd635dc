"""`adt agent`: run, start, stop and ask after the per-machine agent."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import click

from adt import agent as core
from adt import run as runner
from adt.errors import AdtError

SOCKET_HELP = f"Unix socket to serve (default: ADT_AGENT_SOCKET, else {core.DEFAULT_SOCKET})."


@click.group()
def agent():
    """A per-machine agent that keeps S3 clients warm.

    While it runs, `adt config …` calls (and so every configwrapper script) are handed to it over a
    Unix socket that only its own user may use, and take a few tens of milliseconds instead of half a
    second. Without it, the same commands run in-process. Set ADT_AGENT=off to bypass it.

    A call is never sent to a socket owned by another user, and a call the agent does not take within
    2 seconds runs in-process instead (never both).
    """


def warm() -> bool:
    """Import what a request needs and build the clients this machine's settings name (before the agent forks
    its first child); True when the settings were found."""
    import adt.cli.config  # noqa: F401
    import adt.datastore.config  # noqa: F401
    from adt.cli import Runtime
    from adt.datastore import client as s3
    from adt.datastore.endpoints import Endpoint, endpoints_from_settings

    dummy = s3.s3_client(Endpoint(0, "http://127.0.0.1:9", "warm", "warm"))  # loads the S3 model once
    try:  # runs the request pipeline once (serialise, sign, retry); the discard port refuses at once
        dummy.list_objects_v2(Bucket="adt-agent-warm", Prefix="warm", Delimiter="/")
    except Exception:
        pass
    try:
        for endpoint in endpoints_from_settings(Runtime(None, None, None).settings):
            s3.s3_client(endpoint)
        return True
    except Exception:  # no settings yet: requests build their clients from the warm session
        return False


@agent.command()
@click.option("--socket", "path", metavar="PATH", help=SOCKET_HELP)
def run(path):
    """Serve in the foreground until SIGTERM (for a supervisor or an @reboot cron line)."""
    from adt.cli import main

    try:
        core.serve(main, path or core.socket_path(), warm=warm)
    except RuntimeError as exc:
        raise AdtError(str(exc), "stop it first with 'adt agent stop'") from None


@agent.command()
@click.option("--socket", "path", metavar="PATH", help=SOCKET_HELP)
@click.option("--log", "log_path", metavar="FILE", help="Log file (default: <socket>.log).")
@click.option("--wait", default=10.0, show_default=True, help="Seconds to wait for it to answer.")
@click.option("--quiet", is_flag=True, help="Print nothing when it runs already (cron's line, every minute).")
def start(path, log_path, wait, quiet):
    """Start the agent in the background and wait until it answers. Does nothing if it runs.

    Machines start it at first boot and cron runs this every minute (cron/StartAgentFromCron.sh), so an
    agent that died is back within a minute; until then every call runs in-process."""
    path = path or core.socket_path()
    pid = core.running_pid(path)
    if pid:
        if not quiet:
            click.echo(f"adt agent already running (pid {pid}) at {path}")
        return
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    log_path = log_path or path + ".log"
    failed = Path(path + ".failed")  # a start failed before: cron tries every minute, the log says it once
    attempt = log_path
    if failed.exists():
        attempt = path + ".retry.log"  # the last attempt's output only
        Path(attempt).unlink(missing_ok=True)
    process = runner.spawn(
        [sys.executable, "-m", "adt", "agent", "run", "--socket", path],
        log_path=attempt,
        process=True,
        what="the agent",
    )
    deadline = time.monotonic() + wait
    problem = f"the agent did not answer at {path} within {wait:g} s"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            problem = f"the agent exited at start (code {process.returncode})"
            break
        if core.running_pid(path):
            failed.unlink(missing_ok=True)
            click.echo(f"adt agent started (pid {process.pid}) at {path}")
            return
        time.sleep(0.05)
    else:
        process.terminate()
    if not failed.exists():
        failed.write_text(f"{problem}\n")
        from adt.fs import open_private

        with open_private(log_path, "a") as log:
            log.write(
                f"adt agent: {problem}; until it starts, every adt call on this machine runs in-process (slower, "
                f"the same result); further attempts log to {path}.retry.log\n"
            )
    raise AdtError(problem, f"read {log_path}")


@agent.command()
@click.option("--socket", "path", metavar="PATH", help=SOCKET_HELP)
def stop(path):
    """Stop the agent that answers at the socket (by the pid it recorded)."""
    path = path or core.socket_path()
    pid = core.running_pid(path)
    if not pid:
        click.echo(f"no adt agent is running at {path}")
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and runner.alive(pid):
        time.sleep(0.05)
    if runner.alive(pid):
        raise AdtError(f"the agent (pid {pid}) did not stop within 10 s", f"stop it with 'kill {pid}'")
    click.echo(f"adt agent (pid {pid}) stopped")


@agent.command()
@click.option("--socket", "path", metavar="PATH", help=SOCKET_HELP)
@click.pass_context
def status(ctx, path):
    """Print whether the agent runs; exit 0 if it does, 3 if not."""
    path = path or core.socket_path()
    pid = core.running_pid(path)
    if pid:
        click.echo(f"adt agent running (pid {pid}) at {path}")
    else:
        click.echo(f"no adt agent is running at {path}")
        ctx.exit(3)
