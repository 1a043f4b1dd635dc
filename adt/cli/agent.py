"""`adt agent`: run, start, stop and ask after the per-machine agent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click

from adt import agent as core
from adt.errors import AdtError
from adt.run import alive

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


@agent.command()
@click.option("--socket", "path", metavar="PATH", help=SOCKET_HELP)
def run(path):
    """Serve in the foreground until SIGTERM (for a supervisor or an @reboot cron line)."""
    try:
        core.serve(path or core.socket_path())
    except RuntimeError as exc:
        raise AdtError(str(exc), "stop it first with 'adt agent stop'") from None


@agent.command()
@click.option("--socket", "path", metavar="PATH", help=SOCKET_HELP)
@click.option("--log", "log_path", metavar="FILE", help="Log file (default: <socket>.log).")
@click.option("--wait", default=10.0, show_default=True, help="Seconds to wait for it to answer.")
def start(path, log_path, wait):
    """Start the agent in the background and wait until it answers. Does nothing if it runs."""
    path = path or core.socket_path()
    pid = core.running_pid(path)
    if pid:
        click.echo(f"adt agent already running (pid {pid}) at {path}")
        return
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    log_path = log_path or path + ".log"
    from adt.files import open_private

    with open_private(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "adt", "agent", "run", "--socket", path],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AdtError(f"the agent exited at start (code {process.returncode})", f"read {log_path}")
        if core.running_pid(path):
            click.echo(f"adt agent started (pid {process.pid}) at {path}")
            return
        time.sleep(0.05)
    process.terminate()
    raise AdtError(f"the agent did not answer at {path} within {wait:g} s", f"read {log_path}")


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
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)
    if alive(pid):
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
