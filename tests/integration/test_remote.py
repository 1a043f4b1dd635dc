"""Remote commands over a real OpenSSH server: one argument stays one argument, whatever it holds."""

import subprocess

import pytest

from adt import remote
from tests.services.sshd import Sshd

HARD_WORDS = ["a b", "'single'", '"double"', "$HOME", "`id`", "x;y", "a|b", "*", "", "\\", "new\nline", "é ✓",
              "--option", "-"]


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    server = Sshd(tmp_path_factory.mktemp("sshd")).start()
    yield remote.Target("127.0.0.1", server.port, str(server.key), str(server.dir / "known_hosts"))
    server.stop()


def test_every_word_arrives_as_one_argument(target, tmp_path):
    script = tmp_path / "args.py"
    script.write_text("import sys, json\nprint(json.dumps(sys.argv[1:]))\n")
    result = subprocess.run(remote.ssh(target, ["python3", str(script), *HARD_WORDS]), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    import json

    assert json.loads(result.stdout) == HARD_WORDS
    assert not (tmp_path / "y").exists()


def test_a_shell_string_is_run_by_the_remote_shell(target):
    result = subprocess.run(remote.ssh_shell(target, "echo one; echo two | tr a-z A-Z"), capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.split() == ["one", "TWO"]
