"""The agent: socket permissions, peer check, fallback, lifecycle, and that it runs what the CLI runs."""

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time

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
        # the agent refuses a request from another uid; the client of another uid does not even send one
        probe = ("import socket, struct, sys; from adt.agent import encode_request, forward\n"
                 f"raw = socket.socket(socket.AF_UNIX); raw.connect({plain_machine.socket!r})\n"
                 "body = encode_request(['config', 'check', 'x'], '/', {})\n"
                 "try:\n raw.sendall(struct.pack('!I', len(body)) + body); raw.settimeout(10); print(raw.recv(1))\n"
                 "except (BrokenPipeError, ConnectionResetError):\n print(b'')\n"
                 f"code = forward(['config','check','x'], {plain_machine.socket!r})\n"
                 "sys.exit(99 if code is None else code)")
        result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 str(BIN / "python"), "-c", probe], env={"PATH": "/usr/bin:/bin"},
                                capture_output=True, text=True, cwd="/", timeout=60)
        assert (result.returncode, result.stdout) == (99, "b''\n"), result
        assert f"the agent socket {plain_machine.socket} belongs to uid 0, not 65534: nothing was sent" in result.stderr
        assert _log_shows(plain_machine, "refused a request from uid 65534")
    finally:
        plain_machine.stop_agent()
        shutil.rmtree(shared, ignore_errors=True)


def _log_shows(machine, text, wait=15):
    deadline = time.monotonic() + wait
    while text not in (machine.root / "agent.log").read_text():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _closed_by_peer(conn):
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True


def test_stalled_clients_do_not_delay_another_call(agent_machine):
    silent = socket.socket(socket.AF_UNIX)
    silent.connect(agent_machine.socket)
    half = socket.socket(socket.AF_UNIX)
    half.connect(agent_machine.socket)
    half.sendall(struct.pack("!I", 1000) + b'{"argv": [')  # then stalls
    try:
        started = time.monotonic()
        result = agent_machine.run("config", "check", "x")
        elapsed = time.monotonic() - started
        assert (result.returncode, result.stdout, result.stderr) == (0, "0\n", "")  # no fallback: the agent ran it
        assert elapsed < core.DEADLINE - 1, f"{elapsed:.1f} s: the call waited for the stalled clients"
    finally:
        silent.close()
        half.close()


def test_request_read_has_a_total_deadline(agent_machine):
    # a client trickling one byte every half second never reaches a per-recv timeout; the total deadline drops it
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(agent_machine.socket)
        started = time.monotonic()
        conn.sendall(struct.pack("!I", 1000))
        closed_after = None
        while time.monotonic() - started < core.DEADLINE + 5:
            readable, _, _ = select.select([conn], [], [], 0.5)
            if readable:
                assert _closed_by_peer(conn)
                closed_after = time.monotonic() - started
                break
            try:
                conn.send(b" ")
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None, "the agent kept a trickling client beyond its deadline"
    assert core.DEADLINE - 0.5 < closed_after < core.DEADLINE + 3, closed_after
    assert _log_shows(agent_machine, f"no whole request and go within {core.DEADLINE:g} s of connecting; dropped")


def test_connections_beyond_the_bound_are_closed_and_run_in_process(agent_machine):
    stalled = []
    try:
        for _ in range(core.MAX_CHILDREN):
            conn = socket.socket(socket.AF_UNIX)
            conn.connect(agent_machine.socket)
            stalled.append(conn)
        result = agent_machine.run("config", "check", "x")
        assert (result.returncode, result.stdout) == (0, "0\n"), result.stderr
        assert "did not take the call (it closed the connection); it runs in-process" in result.stderr
        assert _log_shows(agent_machine, f"{core.MAX_CHILDREN} requests in progress; closed a new one")
    finally:
        for conn in stalled:
            conn.close()
    pid = agent_machine.agent.pid
    deadline = time.monotonic() + 15
    while open(f"/proc/{pid}/task/{pid}/children").read().strip():  # its children see EOF and exit
        assert time.monotonic() < deadline, "the agent's children outlived their clients"
        time.sleep(0.05)
    assert agent_machine.run("config", "check", "x").stderr == ""  # served again once they are gone


FOREIGN_LISTENER = """
import json, socket, sys
listener = socket.socket(socket.AF_UNIX)
listener.bind(sys.argv[1])
listener.listen(1)
print("ready", flush=True)
listener.settimeout(60)
conn, _ = listener.accept()
conn.settimeout(3)
got, fds = b"", []
try:
    while True:
        data, more, _flags, _addr = socket.recv_fds(conn, 1 << 16, 8)
        fds += more
        if not data:
            break
        got += data
except (TimeoutError, ConnectionResetError):
    pass
print(json.dumps({"bytes": len(got), "fds": len(fds)}), flush=True)
"""


def test_client_sends_nothing_to_a_socket_of_another_user(plain_machine):
    import shutil
    import tempfile

    planted = tempfile.mkdtemp(prefix="adt-agent-test-")
    os.chown(planted, 65534, 65534)
    path = os.path.join(planted, "agent.sock")
    listener = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 str(BIN / "python"), "-c", FOREIGN_LISTENER, path],
                                stdout=subprocess.PIPE, text=True, cwd="/", env={"PATH": "/usr/bin:/bin"})
    try:
        assert listener.stdout.readline() == "ready\n"
        result = plain_machine.run("config", "check", "x", env={"ADT_AGENT": "on", "ADT_AGENT_SOCKET": path})
        assert (result.returncode, result.stdout) == (0, "0\n"), result.stderr  # run in-process
        assert f"the agent socket {path} belongs to uid 65534, not 0: nothing was sent" in result.stderr
        received, _ = listener.communicate(timeout=30)
        assert json.loads(received) == {"bytes": 0, "fds": 0}
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()
        shutil.rmtree(planted, ignore_errors=True)


@contextlib.contextmanager
def _stuck_agent(path):
    """A listener of our own uid that accepts connections and never answers."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(8)
    listener.settimeout(0.2)
    held, done = [], threading.Event()

    def accept():
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield held
    finally:
        done.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def test_a_stuck_agent_makes_the_client_run_in_process(plain_machine):
    # capture_output also shows the client's stdio never reached the stuck agent: else the pipes stay open
    with _stuck_agent(plain_machine.socket) as held:
        started = time.monotonic()
        result = plain_machine.run("config", "put", "A", env={"ADT_AGENT": "on"}, timeout=60)
        elapsed = time.monotonic() - started
        assert (result.returncode, result.stdout) == (0, ""), result.stderr
        assert f"did not take the call (no answer within {core.TIMEOUT:g} s); it runs in-process" in result.stderr
        assert core.TIMEOUT <= elapsed < core.TIMEOUT + 30, elapsed
        assert plain_machine.keys() == ["A"]
        usage = plain_machine.run("config", "put", "a", "b", "maybe", env={"ADT_AGENT": "on"}, timeout=60)
        assert usage.returncode == 2 and "third argument must be 'yes' or 'no'" in usage.stderr
        assert len(held) == 2


def test_a_call_the_agent_takes_too_late_runs_only_in_process(agent_machine):
    # the agent is frozen past the client's timeout: the client runs the call itself; the thawed agent
    # reads the request but gets no go, so it never runs it (it would upload the file's later content)
    (agent_machine.root / "f").write_text("first")
    agent_machine.agent.send_signal(signal.SIGSTOP)
    try:
        result = agent_machine.run("config", "put", "f", timeout=60)
        (agent_machine.root / "f").write_text("second")
    finally:
        agent_machine.agent.send_signal(signal.SIGCONT)
    assert result.returncode == 0, result.stderr
    assert "did not take the call (no answer within" in result.stderr
    assert _log_shows(agent_machine, "the client left before the go; the request was not run")
    assert agent_machine.run("config", "check", "f").stdout == "1\n"  # the agent serves again
    body = agent_machine.servers[0].client().get_object(Bucket=agent_machine.bucket, Key="f")["Body"].read()
    assert (body, agent_machine.keys()) == (b"first", ["f"])


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


def test_the_server_runs_the_handler_it_is_given(tmp_path):
    """The agent's server knows nothing of the CLI: each request runs the handler passed to `serve`, with the
    client's stdio, cwd and environment, and its return value is the client's exit code."""

    def handler(argv):
        print(f"ran {argv} in {os.getcwd()} with {os.environ.get('PROBE')}", flush=True)
        return 7

    with serving(handler, tmp_path / "agent.log") as path:
        probe = ("import os, sys; from adt.agent import forward; os.chdir(sys.argv[1]);"
                 " sys.exit(forward(['say', 'hello'], sys.argv[2]))")
        result = subprocess.run([sys.executable, "-c", probe, str(tmp_path), path], capture_output=True, text=True,
                                env={**os.environ, "PROBE": "42"}, timeout=30)
        assert (result.returncode, result.stdout) == (7, f"ran ['say', 'hello'] in {tmp_path} with 42\n")
        assert "(settings loaded)" in (tmp_path / "agent.log").read_text()  # what warm() answered

def test_a_client_that_leaves_interrupts_its_call(tmp_path):
    """A forwarded call whose client ends first (Ctrl-C, a closed ssh session) is interrupted as a Ctrl-C
    would interrupt it in-process: its cleanup runs and nothing goes on in the agent that nobody waits for."""
    began, cleaned = tmp_path / "began", tmp_path / "cleaned"

    def handler(argv):
        if argv == ["short"]:  # longer than the request's deadline, with its client waiting: runs to its end
            time.sleep(core.DEADLINE + 0.5)
            return 5
        began.write_text(str(os.getpid()))
        try:
            time.sleep(60)
        except KeyboardInterrupt:
            cleaned.write_text("interrupted")
            return 130
        return 0

    with serving(handler, tmp_path / "agent.log", deadline=0.5) as path:
        probe = "import sys; from adt.agent import forward; sys.exit(forward([sys.argv[2]], sys.argv[1]))"
        assert subprocess.run([sys.executable, "-c", probe, path, "short"], timeout=30).returncode == 5
        client = subprocess.Popen([sys.executable, "-c", probe, path, "long"])
        deadline = time.monotonic() + 10
        while not began.exists():
            assert time.monotonic() < deadline, "the call did not start in the agent"
            time.sleep(0.02)
        child = int(began.read_text())
        client.kill()
        client.wait(10)
        deadline = time.monotonic() + 10
        while not (cleaned.exists() and cleaned.read_text()):  # made, then written: not read in between
            assert time.monotonic() < deadline, "the call went on after its client left"
            time.sleep(0.02)
        assert cleaned.read_text() == "interrupted"
        deadline = time.monotonic() + 10
        while _running(child):
            assert time.monotonic() < deadline, "the agent's child did not end"
            time.sleep(0.02)

def _running(pid: int) -> bool:
    """Whether a process runs (a zombie, ended but not yet reaped by its parent, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            return stat_file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_an_agent_that_will_not_start_is_logged_once_and_calls_run_in_process(plain_machine):
    """Cron tries every minute; the agent's log says once that it cannot start, and every call works meanwhile."""
    agent_machine = plain_machine
    agent_machine.env["ADT_AGENT"] = "on"  # calls would go to an agent, if one answered
    env, adt = agent_machine.env, str(BIN / "adt")
    directory = os.path.dirname(agent_machine.socket)
    os.makedirs(directory, exist_ok=True)
    os.chown(directory, 65534, 65534)  # a socket folder of another user: the agent refuses to serve there
    try:
        for _ in range(3):
            started = subprocess.run([adt, "agent", "start", "--quiet"], env=env, capture_output=True, text=True)
            assert started.returncode == 1 and "adt: the agent exited at start (code 1)" in started.stderr
        log = open(agent_machine.socket + ".log").read()
        assert log.count("adt agent: the agent exited at start (code 1); until it starts, every adt call") == 1
        assert log.count("belongs to another user") == 1  # later attempts write to the retry log, not here
        assert "belongs to another user" in open(agent_machine.socket + ".retry.log").read()
        assert agent_machine.wrapper("PutToConfigDatastore.sh", "10.0.0.9", "webserverips").returncode == 0
        checked = agent_machine.wrapper("CheckConfigDatastore.sh", "webserverips/10.0.0.9")
        assert (checked.returncode, checked.stdout, checked.stderr) == (0, "1\n", "")  # in-process, silently
    finally:
        os.chown(directory, 0, 0)
    started = subprocess.run([adt, "agent", "start", "--quiet"], env=env, capture_output=True, text=True)
    try:
        assert started.returncode == 0, started.stderr
        assert not os.path.exists(agent_machine.socket + ".failed")
    finally:
        subprocess.run([adt, "agent", "stop"], env=env, capture_output=True)


def test_an_agent_that_dies_mid_call_fails_the_call_loudly(tmp_path):
    """The caller never believes a call the agent did not finish: no code back is exit 1 and a line saying so."""

    def handler(argv):
        os.kill(os.getpid(), signal.SIGKILL)  # the child running the call dies before it can answer

    with serving(handler, tmp_path / "agent.log") as path:
        probe = "import sys; from adt.agent import forward; sys.exit(forward(['put'], sys.argv[1]))"
        result = subprocess.run([sys.executable, "-c", probe, path], capture_output=True, text=True, timeout=30)
        assert result.returncode == 1
        assert f"adt: the agent at {path} ended the request without a result" in result.stderr


@contextlib.contextmanager
def serving(handler, log_path, deadline=None):
    """An agent serving `handler` in a forked process (the server alone, without the CLI); yields its socket path."""
    import tempfile

    directory = tempfile.mkdtemp(prefix="adt-agent-test-")  # short: a socket path has at most 107 bytes
    path = os.path.join(directory, "agent.sock")
    pid = os.fork()
    if pid == 0:  # the agent
        try:
            if deadline is not None:
                core.DEADLINE = deadline
            with open(log_path, "w") as log:
                core.serve(handler, path, log=log, warm=lambda: True)
        finally:
            os._exit(0)
    try:
        started = time.monotonic()
        while not core.running_pid(path):
            assert time.monotonic() < started + 10, "the agent did not start"
            time.sleep(0.02)
        yield path
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        shutil.rmtree(directory, ignore_errors=True)
