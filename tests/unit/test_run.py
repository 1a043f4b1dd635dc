"""The runner: the one place a process starts (adt/run.py), and the rule that nothing else starts one."""

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from adt import run
from adt.errors import AdtError

ADT = Path(__file__).resolve().parents[2] / "adt"


def test_nothing_outside_the_runner_starts_a_process():
    """A program is started by adt/run.py only (the agent's os.fork of itself is not a program start)."""
    pattern = re.compile(r"\bimport subprocess\b|\bfrom subprocess\b|\bos\.(system|popen|exec\w*|spawn\w*)\("
                         r"|\bpty\.spawn\(|\basyncio\.create_subprocess")
    found = []
    for path in sorted(ADT.rglob("*.py")):
        if path == ADT / "run.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line) and not line.lstrip().startswith("#"):
                found.append(f"{path.relative_to(ADT.parent)}:{number}: {line.strip()}")
    assert found == []


def test_run_captures_output_and_names_a_failed_step_with_its_last_line():
    assert run.run(["sh", "-c", "echo out; echo err >&2"]).stdout == "out\n"
    with pytest.raises(AdtError, match=r"^copying the webroot failed \(exit 3\): second$"):
        run.run(["sh", "-c", "echo first >&2; echo second >&2; exit 3"], what="copying the webroot")


def test_a_missing_program_is_one_clear_error():
    with pytest.raises(AdtError, match="the dump needs no-such-tool-here, which is not installed") as caught:
        run.run(["no-such-tool-here", "x"], what="the dump")
    assert caught.value.hint == "run 'make deps'"
    with pytest.raises(AdtError, match="needs no-such-tool-here"):
        run.start(["no-such-tool-here"])
    with pytest.raises(AdtError, match="needs no-such-tool-here"):
        run.interactive(["no-such-tool-here"])


def test_secrets_are_redacted_from_the_log_and_the_error():
    log = io.StringIO()
    with pytest.raises(AdtError) as caught:
        run.run(["sh", "-c", "echo token=s3cr3t >&2; exit 1", "s3cr3t"], log=log, secrets=["s3cr3t"])
    assert "s3cr3t" not in str(caught.value) and "s3cr3t" not in log.getvalue()
    assert "token=********" in log.getvalue() and "token=********" in str(caught.value)


def test_a_timeout_names_the_step():
    with pytest.raises(AdtError, match=r"^the probe did not finish within 0.2 s$"):
        run.run(["sleep", "5"], timeout=0.2, what="the probe")


def test_shown_quotes_like_a_shell_and_hides_secrets():
    assert run.shown(["mysql", "-e", "select 1; drop", "--password=pw"], ["pw"]) == \
        "mysql -e 'select 1; drop' --password=********"


def test_dry_run_prints_changing_steps_and_still_runs_reads(tmp_path):
    lines = []
    target = tmp_path / "made"
    with run.dry_running(echo=lines.append):
        assert run.dry_run()
        result = run.run(["touch", target], secrets=["made"])
        assert (result.returncode, result.stdout) == (0, "")
        assert run.run(["echo", "read"], changes=False).stdout == "read\n"
        assert run.interactive(["touch", target]) == 0
        assert run.spawn(["touch", target], log_path=str(tmp_path / "log")) == 0
    assert not run.dry_run()
    assert not target.exists() and not (tmp_path / "log").exists()
    hidden = f"touch {tmp_path}/********"
    assert lines == [f"would run: {hidden}", f"would run: touch {target}", f"would run: touch {target}"]


def test_dry_running_nests_and_restores():
    with run.dry_running(echo=lambda _: None):
        with run.dry_running(enabled=False):
            assert run.dry_run()  # an inner block cannot switch an outer dry run off
        assert run.dry_run()
    assert not run.dry_run()


def test_start_streams_through_pipes():
    process = run.start(["tr", "a-z", "A-Z"], stdin=run.PIPE, stdout=run.PIPE)
    out, _ = process.communicate(b"streamed")
    assert (process.returncode, out) == (0, b"STREAMED")


def test_spawn_detaches_with_a_private_log(tmp_path):
    log = tmp_path / "daemon.log"
    child = run.spawn([sys.executable, "-c", "import os; print(os.getsid(0) == os.getpid())"], log_path=str(log),
                      process=True)
    assert child.wait(10) == 0
    assert log.read_text() == "True\n"
    assert log.stat().st_mode & 0o777 == 0o600
    assert isinstance(child, subprocess.Popen)


@pytest.mark.parametrize("script, timeout", [("exec sleep 30", 10.0), ("trap '' TERM; sleep 30 & wait", 0.3)])
def test_terminate_stops_our_server_and_leaves_no_zombie(tmp_path, script, timeout):
    """SIGTERM, then SIGKILL for one that ignores it (after the timeout); reaped, so not a zombie."""
    pid = run.spawn(["sh", "-c", script], log_path=str(tmp_path / "log"))
    assert run.alive(pid)
    run.terminate(pid, timeout=timeout)
    assert not run.alive(pid) and not Path(f"/proc/{pid}").exists()
    run.terminate(pid)  # gone already: nothing to do
