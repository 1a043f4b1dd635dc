"""The backup commands' live meter: shown on a terminal, silent under cron or in a pipe."""

import io

import pytest

from adt.cli import backup, main


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_meter_shows_bytes_on_a_terminal(monkeypatch):
    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    with backup._meter("SQL dumped") as meter:
        meter(1_500_000)
    assert "SQL dumped 1.5 MB" in screen.getvalue()


def test_meter_is_silent_in_a_pipe(monkeypatch):
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    with backup._meter("archive") as meter:
        meter(10)
    assert pipe.getvalue() == ""


def test_restore_needs_exactly_one_source(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    adt = Path(sys.executable).parent / "adt"
    env = {"PATH": "/usr/bin:/bin", "ADT_HOME": str(tmp_path), "ADT_HOMEDIR_FILE": str(tmp_path / "none")}
    for args in (["website"], ["database", "--period", "daily", "--baseline", "shop"]):
        result = subprocess.run([str(adt), "restore", *args], env=env, capture_output=True, text=True)
        assert result.returncode == 2
        assert "give either --period (a temporal backup) or --baseline" in result.stderr


TARGET_OPTIONS = ["-p", "9", "-i", "/b/keys/id", "-o", "UserKnownHostsFile=/b/keys/webserver_127.0.0.9keys", "-o",
                  "StrictHostKeyChecking=accept-new", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5", "-o",
                  "LogLevel=ERROR", "-o", "BatchMode=yes", "root@127.0.0.9"]


@pytest.fixture
def over_ssh(monkeypatch):
    """`perform` with its machine chosen and its ssh recorded (the runner's interactive mode, as a mocked runner
    in borgmatic's tests): the list of (argv, changes) it ran."""
    from adt import remote, run
    from adt.cli import fleet

    target = remote.Target("127.0.0.9", 9, "/b/keys/id", "/b/keys/webserver_127.0.0.9keys")
    monkeypatch.setattr(fleet, "pick_machine", lambda *args: (target, "/home/x"))
    ran = []
    monkeypatch.setattr(run, "interactive", lambda args, **kw: ran.append((list(args), kw["changes"])) or 0)
    return ran


def test_backup_perform_runs_each_periodicity_on_the_machine(over_ssh):
    assert main(["backup", "perform", "--period", "all"]) == 0
    assert over_ssh == [(["ssh", *TARGET_OPTIONS, f"adt backup run {period}"], True)
                        for period in ("HOURLY", "DAILY", "WEEKLY", "MONTHLY", "BIMONTHLY")]


def test_backup_perform_dry_run_has_the_machine_print_its_steps(over_ssh):
    assert main(["backup", "perform", "--period", "manual", "--dry-run"]) == 0
    assert over_ssh == [(["ssh", *TARGET_OPTIONS, "adt backup run MANUAL --dry-run"], False)]  # a read: it runs


def test_baseline_perform_and_its_dry_run(over_ssh):
    assert main(["baseline", "perform", "--identifier", "shop", "--waive", "a1b2", "--replace"]) == 0
    assert main(["baseline", "perform", "--identifier", "shop", "--role", "database", "--redact", "--dry-run"]) == 0
    assert over_ssh == [(["ssh", *TARGET_OPTIONS, "adt baseline website shop --waive=a1b2 --replace"], True),
                        (["ssh", *TARGET_OPTIONS, "adt baseline database shop --redact --dry-run"], False)]
