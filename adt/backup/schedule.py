"""The backup schedule: what a machine does around its backup when Backup.sh or cron asks for one.

As the original's BackupFromCron.sh: under cron, a random pause of 1-60 s first (a fleet's machines do not all
start at the same second), then the fleet's lock, so that one machine takes the cycle's backup
(`BACKUP_RUNNING` for webservers; `DB_BACKUP_RUNNING` for database machines when MULTIREGION is 1, where one
database machine per region would otherwise back up the same data). A webserver backs up only a fleet that
is installed (INSTALLED_SUCCESSFULLY in the datastore, WEBSERVER_READY on the machine) unless forced.

The lock (adt.datastore.lock) is renewed while the backup runs; after a successful backup it is kept until
HOLD seconds after it was taken, so peers still waking from their pause find it and back off (one backup a
cycle); after a failed one it is released at once, so a peer may try.

The decisions are small pure functions; `run` does the steps in order. In a dry run the pause and the lock
are printed, the backup prints its pipeline and its keys, and nothing is written.
"""

from __future__ import annotations

import importlib
import random
import time
from pathlib import Path
from typing import Callable, List, Optional

from adt.backup.publish import PERIODS, period_of
from adt.errors import AdtError
from adt.run import announce, dry_run

ROLES = ("webserver", "database")
PAUSE = (1, 60)  # seconds, as BackupFromCron.sh
# After a backup, its lock is kept until this long after it was taken: every machine of the fleet has woken
# from cron's 1-60 s pause by then and found it, so a cycle takes one backup (the original sleeps 300 s).
HOLD = 75.0
NOT_INSTALLED = "not backing up: the fleet is not installed yet (INSTALLED_SUCCESSFULLY, WEBSERVER_READY)"


def check_role(role: str) -> str:
    """The role, if its machines take backups."""
    if role not in ROLES:
        raise AdtError(f"a {role} machine takes no backups", "run it on a webserver or the database machine")
    return role


def lock_name(role: str, from_cron: bool, multiregion: bool) -> Optional[str]:
    """The fleet lock a backup takes, or None when it takes none (a backup asked for by hand, or a database
    machine that is the only one of its fleet)."""
    if not from_cron:
        return None
    if role == "webserver":
        return "BACKUP_RUNNING"
    return "DB_BACKUP_RUNNING" if multiregion else None


def gated(role: str, force: bool) -> bool:
    """Whether the backup waits for an installed fleet (webservers, unless forced)."""
    return role == "webserver" and not force


def hold_left(taken: float, now: float, hold: Optional[float] = None) -> float:
    """Seconds still to keep the lock after a successful backup (monotonic clock readings)."""
    return max(0.0, (HOLD if hold is None else hold) - (now - taken))


def periods(choice: str) -> List[str]:
    """The periodicities a backup asked for from the build machine takes, in turn: one, or for ALL every
    scheduled one (not MANUAL or SHUTDOWN, which no schedule takes)."""
    if choice.upper() == "ALL":
        return [p.upper() for p in PERIODS if p not in ("manual", "shutdown")]
    return [period_of(choice).upper()]


def run_command(period: str, dry: bool = False) -> List[str]:
    """What a machine runs to take its backup now (Backup.sh's command), as words for ssh."""
    return ["adt", "backup", "run", period, *(["--dry-run"] if dry else [])]


def run(
    settings,
    home: Path,
    role: str,
    period: str,
    *,
    from_cron: bool = False,
    force: bool = False,
    say: Callable[[str], None] = lambda _: None,
    meter: Callable[[int], None] = lambda _: None,
) -> bool:
    """This machine's backup for its role, then its verification, with the pause, gates and lock of the
    schedule; `say` gets every line to show. False when no backup was taken (gates closed, lock held)."""
    from adt.datastore import lock
    from adt.datastore.config import ConfigDatastore

    period, role = period_of(period), check_role(role)
    if from_cron:
        if dry_run():
            announce(f"a random {PAUSE[0]}-{PAUSE[1]} s first (BackupFromCron.sh)", kind="pause")
        else:
            time.sleep(random.randint(*PAUSE))
    store = ConfigDatastore.from_settings(settings)
    if gated(role, force):
        if not store.check("INSTALLED_SUCCESSFULLY") or not (home / "runtime" / "WEBSERVER_READY").exists():
            say(NOT_INSTALLED)
            return False
    name = lock_name(role, from_cron, settings.value("MULTIREGION") == "1")
    if name is None:
        _backup_and_verify(settings, role, period, say, meter)
        return True
    if dry_run():
        announce(f"{name} (renewed during the backup, released {HOLD:g} s after it was taken)", kind="take the lock")
        _backup_and_verify(settings, role, period, say, meter)
        return True
    held = lock.acquire(store, name)  # exactly one machine wins; a lock older than 300 s is broken by one
    if held is None:
        say(f"another machine is taking this backup ({name})")
        return False
    taken, done = time.monotonic(), False
    try:
        with lock.kept(store, held):  # renewed while the backup runs: a long one is not taken for stale
            _backup_and_verify(settings, role, period, say, meter)
        done = True
    finally:
        if done:  # one backup a cycle: peers still waking from their pause must find the lock (a failed
            time.sleep(hold_left(taken, time.monotonic()))  # backup leaves it to them at once)
        if not lock.release(store, held):  # only our own: a lock broken as stale is another machine's now
            say(
                f"the lock {name} no longer holds this machine's token (broken as stale by another machine, or "
                "overwritten by one that gave up): left as it is"
            )
    return True


def _backup_and_verify(settings, role: str, period: str, say, meter) -> None:
    """The backup verifies as it goes (as the original's VerifyBackupPresent.sh, without a second transfer):
    the archive read as it is sent, each stored copy confirmed by size and ETag, or read back where the
    server's ETag cannot confirm it; its lines say which (`say`)."""
    kind = importlib.import_module("adt.backup.website" if role == "webserver" else "adt.backup.database")
    for result in kind.backup(settings, period, progress=say, meter=meter):
        say(f"backed up to endpoint {result.endpoint}: {result.bucket} ({result.size} bytes)")
    if dry_run():
        announce(f"the {period} {role} backup on every endpoint (as VerifyBackupPresent.sh)", kind="verify")
