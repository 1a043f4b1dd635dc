"""The backup schedule's decisions: which lock, which gates, how long the lock is kept, which roles back up
(the steps themselves run against real S3 servers in tests/integration/test_backup_lock.py)."""

import itertools

import pytest

from adt.backup import schedule
from adt.errors import AdtError


@pytest.mark.parametrize("role, from_cron, multiregion, expected", [
    ("webserver", True, False, "BACKUP_RUNNING"),
    ("webserver", True, True, "BACKUP_RUNNING"),
    ("database", True, True, "DB_BACKUP_RUNNING"),
    ("database", True, False, None),  # the only database machine of its fleet
    ("webserver", False, False, None),  # asked for by hand (Backup.sh, adt backup perform)
    ("webserver", False, True, None),
    ("database", False, True, None),
    ("database", False, False, None),
])
def test_lock_name(role, from_cron, multiregion, expected):
    assert schedule.lock_name(role, from_cron, multiregion) == expected


def test_every_combination_has_a_lock_decision():
    names = {schedule.lock_name(*combo) for combo in itertools.product(schedule.ROLES, (True, False), (True, False))}
    assert names == {"BACKUP_RUNNING", "DB_BACKUP_RUNNING", None}


@pytest.mark.parametrize("role, force, expected", [
    ("webserver", False, True),
    ("webserver", True, False),
    ("database", False, False),
    ("database", True, False),
])
def test_only_an_unforced_webserver_waits_for_an_installed_fleet(role, force, expected):
    assert schedule.gated(role, force) is expected


@pytest.mark.parametrize("taken, now, hold, expected", [
    (100.0, 100.0, 75.0, 75.0),  # just taken: the whole hold
    (100.0, 130.0, 75.0, 45.0),
    (100.0, 175.0, 75.0, 0.0),  # a backup as long as the hold: no wait
    (100.0, 500.0, 75.0, 0.0),  # a long backup: never negative
    (100.0, 101.0, 0.0, 0.0),
])
def test_hold_left(taken, now, hold, expected):
    assert schedule.hold_left(taken, now, hold) == expected


def test_hold_left_defaults_to_hold(monkeypatch):
    assert schedule.hold_left(0.0, 15.0) == schedule.HOLD - 15.0
    monkeypatch.setattr(schedule, "HOLD", 2.0)
    assert schedule.hold_left(0.0, 0.5) == 1.5


def test_pause_is_the_originals():
    assert schedule.PAUSE == (1, 60) and schedule.HOLD == 75.0


@pytest.mark.parametrize("role", schedule.ROLES)
def test_backing_up_roles(role):
    assert schedule.check_role(role) == role


@pytest.mark.parametrize("role", ["autoscaler", "build", ""])
def test_other_roles_take_no_backups(role):
    with pytest.raises(AdtError, match=f"a {role} machine takes no backups"):
        schedule.check_role(role)


@pytest.mark.parametrize("choice, expected", [
    ("ALL", ["HOURLY", "DAILY", "WEEKLY", "MONTHLY", "BIMONTHLY"]),
    ("all", ["HOURLY", "DAILY", "WEEKLY", "MONTHLY", "BIMONTHLY"]),
    ("hourly", ["HOURLY"]),
    ("MANUAL", ["MANUAL"]),
    ("Shutdown", ["SHUTDOWN"]),
])
def test_periods(choice, expected):
    assert schedule.periods(choice) == expected


def test_an_unknown_period_is_refused():
    with pytest.raises(AdtError, match="unknown backup periodicity 'yearly'"):
        schedule.periods("yearly")


def test_run_command():
    assert schedule.run_command("HOURLY") == ["adt", "backup", "run", "HOURLY"]
    assert schedule.run_command("DAILY", dry=True) == ["adt", "backup", "run", "DAILY", "--dry-run"]
