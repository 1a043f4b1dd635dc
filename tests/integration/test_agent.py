"""The agent: socket permissions, peer check, fallback, lifecycle, and that it runs what the CLI runs."""

import os
import stat
import subprocess

from adt import agent as core
from tests.integration.conftest import BIN


def test_socket_is_private(agent_machine):
    directory = os.path.dirname(agent_machine.socket)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(agent_machine.socket).st_mode) == 0o600


def test_agent_never_shows_credentials_in_process_arguments(agent_machine):
    secret = agent_machine.servers[0].state["rw"][1]
    cmdline = open(f"/proc/{agent_machine.agent.pid}/cmdline", "rb").read().decode()
    assert secret not in cmdline and agent_machine.servers[0].state["rw"][0] not in cmdline


def test_forwarded_call_runs_in_the_agent(agent_machine):
    # the client process never imports click when the agent answers
    probe = ("import sys, adt.entry; sys.argv=['adt','config','check','x'];\n"
             "try:\n adt.entry.main()\nexcept SystemExit as e:\n"
             " assert 'click' not in sys.modules and 'boto3' not in sys.modules, 'imported'; raise")
    result = subprocess.run([str(BIN / "python"), "-c", probe], env=agent_machine.env, capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (0, "0\n", "")


def test_stale_socket_falls_back_in_process(agent_machine):
    agent_machine.stop_agent()
    open(agent_machine.socket, "w").close()  # a leftover file where the socket was
    result = agent_machine.run("config", "check", "x")
    assert (result.returncode, result.stdout) == (0, "0\n")


def test_refuses_another_user(plain_machine):
    import shutil
    import tempfile

    shared = tempfile.mkdtemp(prefix="adt-agent-test-")  # /tmp/<x>: reachable by another user once opened
    try:
        plain_machine.socket = plain_machine.env["ADT_AGENT_SOCKET"] = os.path.join(shared, "agent.sock")
        plain_machine.start_agent()
        os.chmod(shared, 0o755)
        os.chmod(plain_machine.socket, 0o666)
        probe = ("import sys; from adt.agent import forward; "
                 f"code = forward(['config','check','x'], {plain_machine.socket!r}); sys.exit(99 if code is None else code)")
        result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 str(BIN / "python"), "-c", probe], env={"PATH": "/usr/bin:/bin"},
                                capture_output=True, text=True, cwd="/")
        assert result.returncode == 1 and "without a result" in result.stderr, result
        assert "refused a request from uid 65534" in (plain_machine.root / "agent.log").read_text()
    finally:
        plain_machine.stop_agent()
        shutil.rmtree(shared, ignore_errors=True)


def test_lifecycle_commands(plain_machine):
    env = plain_machine.env
    adt = str(BIN / "adt")
    status = subprocess.run([adt, "agent", "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 3
    started = subprocess.run([adt, "agent", "start"], env=env, capture_output=True, text=True)
    assert started.returncode == 0, started.stderr
    pid = core.running_pid(plain_machine.socket)
    assert pid
    again = subprocess.run([adt, "agent", "start"], env=env, capture_output=True, text=True)
    assert "already running" in again.stdout
    assert subprocess.run([adt, "agent", "status"], env=env, capture_output=True).returncode == 0
    stopped = subprocess.run([adt, "agent", "stop"], env=env, capture_output=True, text=True)
    assert stopped.returncode == 0 and not core.running_pid(plain_machine.socket)
    assert not os.path.exists(plain_machine.socket)
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"


def test_agent_serves_changed_settings(agent_machine):
    agent_machine.run("config", "put", "A")
    old_bucket = agent_machine.bucket
    agent_machine.server_user = "Zz" + agent_machine.server_user[2:]
    agent_machine.write_settings()  # every request reads the settings file afresh
    assert agent_machine.run("config", "list").stdout == ""
    agent_machine.run("config", "put", "B")
    assert agent_machine.keys() == ["B"] and agent_machine.bucket != old_bucket
