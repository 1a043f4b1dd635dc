"""`adt autoscaler`: the autoscaler's cycle as a service, what it would do next, and what it did.

On an autoscaler machine: `run` (the service; cron's PerformScalingFromCron.sh and DeadOrAliveFromCron.sh call
`ensure`, which starts it when it is not running), `stop`, `plan`, `events`. On the build machine, `plan` and
`events` ask every autoscaler of the active build over ssh.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import threading
from pathlib import Path

import click

from adt.errors import AdtError

from .options import build_options

DEFAULT_INTERVAL = 5.0


def _lock() -> Path:
    """The service's lock (its pid beside it, `.pid`): ADT_AUTOSCALER_LOCK, else /run/adt/autoscaler.lock."""
    return Path(os.environ.get("ADT_AUTOSCALER_LOCK") or "/run/adt/autoscaler.lock")


def _events() -> Path:
    """The event log: ADT_AUTOSCALER_EVENTS, else /var/log/adt/autoscaler-events.jsonl."""
    from adt.scaling.cycle import EVENTS

    return Path(os.environ.get("ADT_AUTOSCALER_EVENTS") or EVENTS)


def _on_autoscaler(ctx) -> bool:
    """Whether this machine is an autoscaler (its settings file is there)."""
    try:
        return ctx.obj.home.joinpath("runtime", "autoscaler_configuration_settings.dat").is_file()
    except AdtError:
        return False


def _settings(ctx):
    from adt.settings.machine import MachineSettings

    return MachineSettings.load(ctx.obj.home / "runtime" / "autoscaler_configuration_settings.dat")


def _cycle(ctx):
    from adt.scaling.cycle import Cycle

    return Cycle(_settings(ctx), ctx.obj.home, events=_events())


def _held() -> bool:
    """Whether a service holds the lock (it runs)."""
    if not _lock().exists():
        return False
    with open(_lock(), "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def _interval(settings, given) -> float:
    if given:
        return given
    value = settings.value("SCALINGINTERVAL") or ""
    try:
        return float(value) if value else DEFAULT_INTERVAL
    except ValueError:
        raise AdtError(f"SCALINGINTERVAL:{value} in the settings is not a number of seconds") from None


def _remote(cloudhost, build_identifier, home_dir, words) -> None:
    """On the build machine: `adt autoscaler <words>` on every running autoscaler of the build."""
    from adt.build import fleet
    from adt.build.config import BuildConfig
    from adt.run import run

    config = BuildConfig.load(cloudhost, build_identifier, home_dir)
    machines = fleet.running_machines(config, "autoscaler")
    if not machines:
        raise AdtError(f"the build {config.name} has no running autoscaler")
    failed = 0
    for machine in machines:
        target = config.target("autoscaler", machine.address)
        result = run(fleet.adt_command(target, ["autoscaler", *words]), check=False, timeout=120)
        click.echo(f"== {machine.name} ({machine.address})")
        click.echo(result.stdout, nl=False)
        if result.returncode != 0:
            failed += 1
            click.echo(result.stderr, nl=False, err=True)
    if failed:
        raise AdtError(f"{failed} of {len(machines)} autoscalers did not answer")


@click.group()
def autoscaler():
    """The autoscaler: keeps each autoscaler's count of webservers, replaces dead ones, follows DNS."""


@autoscaler.command("run")
@click.option("--interval", type=float, help="Seconds between cycles (default: SCALINGINTERVAL, else 5).")
@click.option("--cycles", type=int, help="Stop after this many cycles (default: run until stopped).")
@click.pass_context
def run_(ctx, interval, cycles):
    """Run the cycle (observe, decide, record, act) every few seconds, in the foreground, until SIGTERM.

    One service per autoscaler: a second one exits at once. Every decision goes to the event log
    (`adt autoscaler events`)."""
    from adt.fs import write_atomically
    from adt.scaling.cycle import Cycle

    settings = _settings(ctx)
    every = _interval(settings, interval)
    lock = _lock()
    lock.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise AdtError(
            "the autoscaler service runs already", f"stop it first (adt autoscaler stop); lock {lock}"
        ) from None
    write_atomically(lock.with_suffix(".pid"), f"{os.getpid()}\n", 0o644)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"autoscaler service {os.getpid()}: a cycle every {every:g} s")
    try:
        Cycle(settings, ctx.obj.home, events=_events()).run(every, stop, cycles)
    finally:
        lock.with_suffix(".pid").unlink(missing_ok=True)
        handle.close()


@autoscaler.command()
@click.pass_context
def ensure(ctx):
    """Start the service in the background unless it runs (what cron's PerformScalingFromCron.sh and
    DeadOrAliveFromCron.sh do). Only in production (PRODUCTION:1): a development fleet does not scale."""
    from adt.run import spawn

    settings = _settings(ctx)
    if settings.value("PRODUCTION") != "1":
        click.echo("not a production fleet (PRODUCTION is not 1): no scaling")
        return
    if _held():
        return
    log = _events().with_name("autoscaler.log")  # the service's own output, beside its event log
    log.parent.mkdir(parents=True, exist_ok=True)
    pid = spawn([sys.executable, "-m", "adt", "autoscaler", "run"], log_path=str(log))
    click.echo(f"autoscaler service started ({pid})")


@autoscaler.command()
def stop():
    """Stop the service (SIGTERM to the pid it wrote); it ends after its current cycle."""
    from adt.run import terminate

    pidfile = _lock().with_suffix(".pid")
    if not pidfile.exists() or not _held():
        click.echo("the autoscaler service is not running")
        return
    pid = int(pidfile.read_text().strip())
    terminate(pid, 60)
    click.echo(f"autoscaler service {pid} stopped")


@autoscaler.command()
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@build_options
@click.pass_context
def plan(ctx, as_json, cloudhost, build_identifier, home_dir):
    """What the next cycle would do (creates, DNS changes, destroys, and the states it would move to), from
    what it observes now: nothing is recorded or changed. On the build machine: every autoscaler's."""
    if not _on_autoscaler(ctx):
        _remote(cloudhost, build_identifier, home_dir, ["plan", *(["--json"] if as_json else [])])
        return
    from dataclasses import asdict

    from adt.scaling.cycle import describe

    cycle = _cycle(ctx)
    decision = cycle.plan()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "autoscaler": cycle.number,
                    "desired": cycle.desired(),
                    "webservers": {n: w.state for n, w in sorted(decision.memory.webservers.items())},
                    "actions": [asdict(a) for a in decision.actions],
                    "transitions": [asdict(t) for t in decision.transitions],
                },
                indent=2,
            )
        )
        return
    click.echo(f"autoscaler {cycle.number}: keeps {cycle.desired()} webservers")
    for name, w in sorted(decision.memory.webservers.items()):
        click.echo(f"  {name} {w.ip or '-'} {w.state}")
    for line in describe(decision):
        click.echo(f"  next: {line}")


@autoscaler.command()
@click.option("--last", type=int, default=50, show_default=True, help="How many of the latest events (0: all).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line, as recorded.")
@build_options
@click.pass_context
def events(ctx, last, as_json, cloudhost, build_identifier, home_dir):
    """The autoscaler's decisions and their results (time, webserver, action, reason, result), oldest first.
    On the build machine: every autoscaler's."""
    if not _on_autoscaler(ctx):
        _remote(
            ctx,
            cloudhost,
            build_identifier,
            home_dir,
            ["events", "--last", str(last), *(["--json"] if as_json else [])],
        )
        return
    import time

    from adt.scaling.cycle import read_events

    for entry in read_events(_events(), last=last):
        if as_json:
            click.echo(json.dumps(entry, sort_keys=True))
            continue
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.get("time", 0)))
        who = entry.get("webserver") or "-"
        click.echo(f"{when} {who} {entry.get('action')}: {entry.get('reason')} -> {entry.get('result')}")
