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
