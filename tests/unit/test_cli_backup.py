"""The backup commands' live meter: shown on a terminal, silent under cron or in a pipe."""

import io

from adt.cli import backup


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
