"""`adt scale`: the scaling profile (how many webservers each autoscaler keeps) and its schedules.

On the build machine (the active build, or -c/-b): `show`, `adjust` (helperscripts/AdjustScaling.sh) and
`schedule`. On an autoscaler: `update-event` (utilities/processing/ScalingUpdateEvent.sh and ManuallyScale.sh).
Both layouts of the original are written, so old and new autoscalers agree (adt.scaling.profile).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, Optional

import click

from adt.cli.options import build_options
from adt.errors import AdtError

AUTOSCALER_HELP = "The autoscaler: its number N (as in NO-N-as-…) or autoscaler-N."


@click.group()
def scale():
    """The scaling profile: how many webservers each autoscaler keeps.

    \b
    current layout: bucket <U>-scaling-<CLOUDHOST>-<REGION>, object autoscaler-<n>/STATIC_SCALE:<count>
    older layout:   config bucket, object STATIC_SCALE:<a1>:<a2>:… (field n for autoscaler n)
    Both are written; the current one is read first. A count is capped by MAXWEBSERVERS and by 20.
    Optional schedules (UTC) give another count at some times of the week."""


def _autoscaler(value: Optional[str]) -> Optional[int]:
    if value is None:
        return None
    text = value[len("autoscaler-") :] if value.startswith("autoscaler-") else value
    if not text.isdigit() or int(text) < 1:
        raise click.BadParameter(f"{value!r} is not an autoscaler number (1, 2, … or autoscaler-1, …)")
    return int(text)


def _whole(value: str, what: str) -> int:
    from adt.scaling.profile import parse_count

    try:
        return parse_count(value, what)
    except AdtError as error:
        raise click.UsageError(error.message) from None


def _number(build, name: str, default: str) -> int:
    value = build.value(name, default) or default
    if not value.isdigit():
        raise AdtError(
            f"build {build.name}: {name} is {value!r}, not a whole number", f"fix it in {build.environment.path}"
        )
    return int(value)


def _build(cloudhost, build_identifier, home_dir):
    from adt.build.config import BuildConfig
    from adt.scaling.profile import Profile

    build = BuildConfig.load(cloudhost, build_identifier, home_dir)
    return build, Profile.for_build(build)


def _rows(profile, build) -> list:
    return profile.report(_number(build, "NO_AUTOSCALERS", "1"), _number(build, "MAX_WEBSERVERS", "10"))


def _shown(value) -> str:
    return "-" if value is None else str(value)


@scale.command()
@build_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per autoscaler.")
def show(cloudhost, build_identifier, home_dir, as_json):
    """Show each autoscaler's count in the current and the older layout, its schedule, the count in force now
    (the schedule's, else the profile's), the cap (MAX_WEBSERVERS, at most 20) and what it acts on."""
    import json

    build, profile = _build(cloudhost, build_identifier, home_dir)
    rows = _rows(profile, build)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'autoscaler':<14}{'current':<9}{'older':<7}{'in force':<10}{'cap':<5}schedule (UTC)")
    for row in rows:
        force = _shown(row["in_force"]) + ("*" if row["scheduled"] else "")
        if row["desired"] is not None and row["desired"] != row["in_force"]:
            force += f"->{row['desired']}"
        click.echo(
            f"{'autoscaler-' + str(row['autoscaler']):<14}{_shown(row['current']):<9}{_shown(row['older']):<7}"
            f"{force:<10}{row['cap']:<5}{'; '.join(row['schedule']) or '-'}"
        )


def _capped(count: int, max_webservers: int, who: str) -> int:
    from adt.scaling.profile import desired

    kept = desired(count, max_webservers)
    if kept != count:
        click.echo(f"adt: warning: {who}: {count} is over the cap, {kept} kept (MAX_WEBSERVERS, at most 20)", err=True)
    return kept


@scale.command()
@build_options
@click.argument("counts", nargs=-1, metavar="[COUNT]...")
@click.option("--autoscaler", "-a", metavar="N", help=AUTOSCALER_HELP + " Then give exactly one COUNT.")
@click.option("--total", metavar="N", help="A fleet total, split over NO_AUTOSCALERS (remainder to the first ones).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def adjust(cloudhost, build_identifier, home_dir, counts, autoscaler, total, yes):
    """Change how many webservers the autoscalers keep (helperscripts/AdjustScaling.sh). Production builds only.

    \b
    adt scale adjust                       asks which autoscaler and how many (as the original)
    adt scale adjust --autoscaler 2 4      autoscaler 2 keeps 4
    adt scale adjust 3 2                   autoscaler 1 keeps 3, autoscaler 2 keeps 2
    adt scale adjust --total 5             5 split over NO_AUTOSCALERS: 3 and 2 for two

    A count over MAX_WEBSERVERS (at most 20) is capped with a warning. Both layouts are written."""
    from adt.build.config import BuildConfig
    from adt.scaling.profile import Profile, split

    number = _autoscaler(autoscaler)
    if total is not None and (counts or number is not None):
        raise click.UsageError("give either --total or counts, not both")
    if number is not None and len(counts) != 1:
        raise click.UsageError("--autoscaler takes exactly one COUNT")
    wanted = [_whole(c, "COUNT") for c in counts]
    build = BuildConfig.load(cloudhost, build_identifier, home_dir)
    build.require()  # a build that was never built says so
    if build.value("PRODUCTION") != "1":
        raise AdtError(
            f"build {build.name} is not a production build (PRODUCTION is not 1)", "only a production build scales"
        )
    autoscalers = _number(build, "NO_AUTOSCALERS", "1")
    max_webservers = _number(build, "MAX_WEBSERVERS", "10")
    profile = Profile.for_build(build)
    interactive = _interactive()
    chosen: Dict[int, int] = {}
    if total is not None:
        whole = _whole(total, "--total")
        chosen = dict(enumerate(split(whole, autoscalers), start=1))
    elif number is not None:
        chosen = {number: wanted[0]}
    elif wanted:
        chosen = dict(enumerate(wanted, start=1))
    elif interactive:
        chosen = _ask(profile, autoscalers)
    else:
        raise click.UsageError("give --autoscaler N COUNT, COUNT... or --total N (no terminal to ask on)")
    beyond = [n for n in chosen if n > autoscalers]
    if beyond:
        raise AdtError(
            f"build {build.name} has {autoscalers} autoscaler(s) (NO_AUTOSCALERS), not autoscaler-{beyond[0]}",
            f"give autoscalers 1 to {autoscalers}",
        )
    chosen = {n: _capped(c, max_webservers, f"autoscaler-{n}") for n, c in chosen.items()}
    plan = ", ".join(f"autoscaler-{n}: {c}" for n, c in sorted(chosen.items()))
    if interactive and not yes and not click.confirm(f"Set {plan} webservers?", default=False, err=True):
        raise AdtError("nothing changed", "answer y to change the scaling profile")
    profile.write(chosen, whole=total is not None)
    for n, c in profile.counts().items():
        click.echo(f"autoscaler-{n}: {c}")


def _interactive() -> bool:
    return sys.stdin.isatty()


def _ask(profile, autoscalers: int) -> Dict[int, int]:
    known = profile.counts()
    click.echo(f"This build has {autoscalers} autoscaler(s) (NO_AUTOSCALERS); their counts now:", err=True)
    for n in range(1, autoscalers + 1):
        click.echo(f"  autoscaler-{n}: {_shown(known.get(n))}", err=True)
    which = click.prompt("Which autoscaler (autoscaler-<n>)", err=True, value_proc=_one)
    count = click.prompt("How many webservers should it keep", err=True, value_proc=lambda v: _whole(v, "the count"))
    return {which: count}


@scale.group()
def schedule():
    """Schedules: another count by time of day and weekday, per autoscaler (stored as
    schedules/autoscaler-<n> in the scaling bucket; the original's autoscalers ignore them).

    \b
    One rule a line, times in UTC, the first rule that matches wins, else the profile's count:
      mon-fri 08:00-18:00 4
      sat,sun 10:00-16:00 2
      fri 22:00-02:00 3      (over midnight: Friday night into Saturday)
      *       00:00-24:00 1  (every day; also "daily")"""


def _one(autoscaler: str) -> int:
    number = _autoscaler(autoscaler)
    assert number is not None
    return number


@schedule.command("set")
@build_options
@click.option("--autoscaler", "-a", metavar="N", required=True, help=AUTOSCALER_HELP)
@click.option(
    "--rule", "rules", multiple=True, metavar="RULE", help="A rule, e.g. 'mon-fri 08:00-18:00 4' (repeatable)."
)
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
def schedule_set(cloudhost, build_identifier, home_dir, autoscaler, rules, file):
    """Replace an autoscaler's schedule with the rules of FILE (`-` for stdin) or of --rule options. The
    rules are checked first: a bad line changes nothing and is named."""
    if bool(rules) == bool(file):
        raise click.UsageError("give the rules as FILE or as --rule options (one of them)")
    if file == "-":
        text = sys.stdin.read()
    elif file:
        text = Path(file).read_text(encoding="utf-8")
    else:
        text = "\n".join(rules) + "\n"
    number = _one(autoscaler)
    _, profile = _build(cloudhost, build_identifier, home_dir)
    kept = profile.set_schedule(number, text)
    click.echo(f"autoscaler-{number}: {len(kept)} rule(s) stored")


@schedule.command("show")
@build_options
@click.option("--autoscaler", "-a", metavar="N", help=AUTOSCALER_HELP + " Default: every one.")
def schedule_show(cloudhost, build_identifier, home_dir, autoscaler):
    """Print schedules as stored (one autoscaler's text alone, else each under an `autoscaler-<n>:` line)."""
    build, profile = _build(cloudhost, build_identifier, home_dir)
    if autoscaler is not None:
        text = profile.schedule_text(_one(autoscaler))
        click.echo(text or "", nl=False)
        return
    for n in range(1, _number(build, "NO_AUTOSCALERS", "1") + 1):
        text = profile.schedule_text(n)
        click.echo(f"autoscaler-{n}:" + ("" if text else " none"))
        for line in (text or "").splitlines():
            click.echo(f"  {line}")


@schedule.command("clear")
@build_options
@click.option("--autoscaler", "-a", metavar="N", required=True, help=AUTOSCALER_HELP)
def schedule_clear(cloudhost, build_identifier, home_dir, autoscaler):
    """Remove an autoscaler's schedule: its profile count applies at every hour again."""
    number = _one(autoscaler)
    _, profile = _build(cloudhost, build_identifier, home_dir)
    profile.clear_schedule(number)
    click.echo(f"autoscaler-{number}: no schedule")


@scale.command("update-event")
@click.argument("total", metavar="TOTAL")
@click.option("--autoscalers", metavar="N", help="How many autoscalers share TOTAL (default: NOAUTOSCALERS).")
@click.pass_context
def update_event(ctx, total, autoscalers):
    """On an autoscaler: the fleet should keep TOTAL webservers (ScalingUpdateEvent.sh and ManuallyScale.sh).

    TOTAL is split over the fleet's NOAUTOSCALERS autoscalers, the remainder one each to the first ones, and
    written in both layouts; ${HOME}/runtime/scaling/STATIC_SCALE:<TOTAL> is touched (older markers removed).
    A TOTAL beyond MAXWEBSERVERS (at most 20) per autoscaler is capped with a warning."""
    from adt.scaling.profile import Profile, cap_total, max_webservers, split

    whole = _whole(total, "TOTAL")
    settings = ctx.obj.settings
    raw = autoscalers if autoscalers is not None else (settings.value("NOAUTOSCALERS") or "")
    if not raw.strip().isdigit() or int(raw) < 1:
        where = "--autoscalers" if autoscalers is not None else f"NOAUTOSCALERS in {settings.path}"
        raise AdtError(f"{where} is {raw!r}, not a number of autoscalers >= 1", "pass --autoscalers N")
    count = int(raw)
    kept = cap_total(whole, count, max_webservers(settings))
    if kept != whole:
        click.echo(
            f"adt: warning: {whole} webservers is over the cap of {kept} for {count} autoscaler(s) "
            f"(MAXWEBSERVERS each, at most 20): scaling to {kept}",
            err=True,
        )
    shares = dict(enumerate(split(kept, count), start=1))
    Profile.from_settings(settings).write(shares, whole=True)
    _mark(ctx.obj.home / "runtime" / "scaling", kept)
    click.echo(" ".join(f"autoscaler-{n}:{c}" for n, c in shares.items()))


def _mark(directory: Path, total: int) -> None:
    """The original's local marker: STATIC_SCALE:<total> touched, then any other STATIC_SCALE* removed."""
    directory.mkdir(parents=True, exist_ok=True)
    marker = directory / f"STATIC_SCALE:{total}"
    marker.touch()
    for old in directory.glob("STATIC_SCALE*"):
        if old != marker and old.is_file():
            old.unlink()
