"""Secrets stay out of argv, output and loose files: each command that handles one runs under Debian's
strace (every process it starts followed), and the trace is the witness.

- a baseline published to, and restored from, a token-protected HTTPS git remote (nginx, basic auth,
  git http-backend): the token, and `user:token` in base64 as an Authorization header carries it;
- database backup and restore (MariaDB, PostgreSQL): the application's password;
- config datastore calls through the wrappers, in-process and through the agent: the S3 keys.

Each test also proves the trace was looking: the secret seen where it may be (git's or psql's environment),
or the processes that use it seen running, so an empty answer cannot come from a trace that saw nothing.
The build's own check is in test_local_build; tests/services/strace.py says how a trace is read.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from adt.baseline import publish
from adt.errors import AdtError
from adt.run import alive
from adt.settings.machine import MachineSettings
from tests.integration.conftest import BIN, WRAPPERS
from tests.integration.test_backup_database import PASSWORD, make_database, server, settings_for  # noqa: F401
from tests.integration.test_baseline import webroot
from tests.services import strace
from tests.services.git_https import GitHttps

# The adt command, run by Python with the repository provider's host pointed at the local HTTPS remote
# (github.com is not reachable from here): the token comes from the settings file, as on a real machine.
AS_PROVIDER = ("import os, sys\nfrom adt.baseline import publish\n"
               "publish.REPOSITORY_HOSTS['github'] = os.environ['TEST_PROVIDER_HOST']\n"
               "sys.argv = ['adt', *sys.argv[1:]]\nfrom adt.entry import main\nmain()\n")
# The same, with a --remote-base that carries user:token@ handed over in the environment: the test's own
# command line holds no secret, so every process in the trace must hold none either.
WITH_REMOTE_BASE = ("import os, sys\nsys.argv = ['adt', *sys.argv[1:], '--remote-base', os.environ['TEST_BASE']]\n"
                    "from adt.entry import main\nmain()\n")


def test_a_traced_command_ends_while_what_it_started_runs_on(tmp_path):
    """The build's way: wait for the command itself, then let what it left running go on untraced."""
    pid_file = tmp_path / "daemon.pid"
    traced = strace.Traced(["sh", "-c", f"setsid sleep 60 </dev/null >/dev/null 2>&1 & echo $! > {pid_file}; exit 3"],
                           tmp_path / "trace", tmp_path / "out", tmp_path / "err")
    try:
        assert traced.wait(30) == 3
        daemon = int(pid_file.read_text())
        assert traced.tracer.poll() is None  # strace still follows the daemon
    finally:
        traced.detach()
    assert traced.tracer.returncode is not None and alive(daemon)
    assert "TracerPid:\t0" in Path(f"/proc/{daemon}/status").read_text()
    os.kill(daemon, signal.SIGTERM)
    assert any(e.argv == ["sleep", "60"] for e in strace.execs(strace.parse(tmp_path / "trace")))


def test_exit_lines_are_read_whatever_the_width_of_the_pid():
    assert strace.exit_status("5888  +++ exited with 0 +++", 5888) == 0
    assert strace.exit_status("20954 +++ killed by SIGKILL +++", 20954) == 137
    assert strace.exit_status("58881 +++ exited with 0 +++", 5888) is None
    assert strace.exit_status("5888  execve(\"/bin/sh\", [\"sh\"], []) = 0", 5888) is None


@pytest.fixture(scope="module")
def git_https():
    with GitHttps() as remote:
        yield remote


def _site(machine, tmp_path, git_https, **settings):
    machine.write_settings(APPLICATION="wordpress", WEBSITEDISPLAYNAME="Nuts_and_Bolts", **settings)
    root = webroot(machine, tmp_path / "html")
    (root / "wp-config.php").unlink()  # nothing for the gate to stop: this test is about the token
    store = tmp_path / "stored-credentials"
    # an inherited `store` helper would write the token in a file: adt's git must not use it
    (machine.home / ".gitconfig").write_text(f"[credential]\n\thelper = store --file={store}\n")
    env = {**machine.env, "GIT_SSL_CAINFO": git_https.cafile, "TEST_PROVIDER_HOST": f"127.0.0.1:{git_https.port}/git"}
    return root, store, env


def _files_holding(home: Path, values):
    return sorted(str(p) for p in home.rglob("*") if p.is_file() and strace.contains(p, values))


def test_baseline_over_https_keeps_the_token_out_of_every_argv(plain_machine, git_https, tmp_path):
    owner, user, token = "nutsco", git_https.user, git_https.token
    root, store, env = _site(plain_machine, tmp_path, git_https, APPLICATIONREPOSITORYPROVIDER="github",
                             APPLICATIONREPOSITORYOWNER=owner, APPLICATIONREPOSITORYUSERNAME=user,
                             APPLICATIONREPOSITORYTOKEN=token)
    repository = git_https.create(f"{owner}/shop-webroot-sourcecode-baseline")
    secrets = {"token": token, "user:token": f"{user}:{token}"}
    trace = tmp_path / "publish.trace"
    published = strace.run([BIN / "python", "-c", AS_PROVIDER, "baseline", "website", "shop", "--webroot", root],
                           trace, env=env, cwd=tmp_path)
    assert published.returncode == 0, published.stderr
    assert f"at https://127.0.0.1:{git_https.port}/git/{owner}/shop-webroot-sourcecode-baseline.git" in published.stdout
    head = git_https.git("--git-dir", str(repository), "rev-parse", "main").stdout.strip()
    assert head and head[:12] in published.stdout  # the push went through, with the token
    calls = strace.parse(trace)
    assert strace.argv_leaks(calls, secrets) == []
    assert strace.in_env(calls, token) > 0  # the trace saw the token where it may be: git's environment
    assert any(e.path.endswith("/askpass") for e in strace.execs(calls))  # git asked askpass for it
    born = strace.files(calls)
    report = born[str(plain_machine.home / "runtime" / "shop-webroot-sourcecode-baseline.gate.json")]
    assert strace.exposed([report], lambda path: True) == []  # where the secrets were found: 0600 at birth
    assert strace.exposed(born.values(), lambda path: strace.contains(path, [token])) == []

    trace = tmp_path / "restore.trace"
    target = tmp_path / "restored"
    restored = strace.run([BIN / "python", "-c", AS_PROVIDER, "restore", "website", "--baseline", "shop",
                           "--target", target], trace, env=env, cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert (target / "index.php").read_text() == (root / "index.php").read_text()
    calls = strace.parse(trace)
    assert strace.argv_leaks(calls, secrets) == [] and strace.in_env(calls, token) > 0

    for result in (published, restored):
        assert token not in result.stdout + result.stderr
    assert not store.exists()  # the inherited credential helper was never asked to store it
    assert _files_holding(plain_machine.home, [token]) == [str(plain_machine.settings_path)]
    assert _files_holding(target, [token]) == []
    assert token not in git_https.access_log()


def test_remote_base_with_user_and_token_is_taken_apart(plain_machine, git_https, tmp_path):
    root, store, env = _site(plain_machine, tmp_path, git_https)
    repository = git_https.create("team/plain-webroot-sourcecode-baseline")
    base = f"https://{git_https.user}:{git_https.token}@127.0.0.1:{git_https.port}/git/team"
    trace = tmp_path / "publish.trace"
    result = strace.run([BIN / "python", "-c", WITH_REMOTE_BASE, "baseline", "website", "plain", "--webroot", root],
                        trace, env={**env, "TEST_BASE": base}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"at https://127.0.0.1:{git_https.port}/git/team/plain-webroot-sourcecode-baseline.git" in result.stdout
    assert git_https.git("--git-dir", str(repository), "rev-parse", "main").returncode == 0
    calls = strace.parse(trace)
    secrets = {"token": git_https.token, "user:token": f"{git_https.user}:{git_https.token}"}
    assert strace.argv_leaks(calls, secrets) == []
    assert strace.in_env(calls, git_https.token) > 1  # the python command's TEST_BASE, then git's
    assert git_https.token not in result.stdout + result.stderr and not store.exists()


def test_a_wrong_token_is_refused_without_showing_it(plain_machine, git_https, tmp_path, monkeypatch):
    root, _, env = _site(plain_machine, tmp_path, git_https)
    git_https.create("team/wrong-webroot-sourcecode-baseline")
    monkeypatch.setenv("GIT_SSL_CAINFO", git_https.cafile)
    wrong = "adttok_" + "0" * 40
    settings = MachineSettings.load(plain_machine.settings_path)
    with pytest.raises(AdtError, match="git ls-remote failed: fatal: Authentication failed for "
                                       f"'https://127.0.0.1:{git_https.port}/git/team/") as refused:
        publish.website(settings, "wrong", plain_machine.home, root,
                        remote_base=f"https://{git_https.user}:{wrong}@127.0.0.1:{git_https.port}/git/team")
    assert wrong not in str(refused.value) and wrong not in refused.value.stderr


def test_database_backup_and_restore_keep_the_password_out_of_argv(server, plain_machine, tmp_path):  # noqa: F811
    make_database(server, "appdb")
    make_database(server, "appcopy", schema=False)
    settings_for(plain_machine, server)
    secrets = {"DBPASSWORD": PASSWORD}
    for name, argv in (("backup", ["backup", "database", "HOURLY"]),
                       ("restore", ["restore", "database", "--period", "HOURLY", "--database", "appcopy"])):
        trace = tmp_path / f"{name}.trace"
        result = strace.run([BIN / "adt", *argv], trace, env=plain_machine.env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        calls = strace.parse(trace)
        tools = {Path(e.argv[0]).name for e in strace.execs(calls) if e.argv}
        assert tools & {"mariadb-dump", "mysqldump", "pg_dump", "mariadb", "mysql", "psql"}, tools  # it ran them
        assert strace.argv_leaks(calls, secrets) == []
        assert PASSWORD not in result.stdout + result.stderr
        born = strace.files(calls).values()
        assert strace.exposed(born, lambda path: strace.contains(path, [PASSWORD])) == []
        if server.dialect == "postgres":
            assert strace.in_env(calls, PASSWORD) > 0  # PGPASSWORD: the trace saw it, in the environment
    assert "restored" in result.stdout


@pytest.mark.parametrize("through", ["in-process", "agent"])
def test_config_datastore_calls_keep_the_s3_keys_out_of_argv(plain_machine, tmp_path, through):
    settings = MachineSettings.load(plain_machine.settings_path)
    secrets = {"S3SECRETKEY": settings.require("S3SECRETKEY"), "S3ACCESSKEY": settings.require("S3ACCESSKEY")}
    env = {**plain_machine.env, "ADT_AGENT": "on" if through == "agent" else "off"}
    agent = None
    if through == "agent":
        agent = strace.Traced([BIN / "adt", "agent", "run", "--socket", plain_machine.socket], tmp_path / "agent.trace",
                              tmp_path / "agent.out", tmp_path / "agent.err", env=env, cwd=tmp_path)
        from adt.agent import running_pid

        for _ in range(300):
            if running_pid(plain_machine.socket):
                break
            time.sleep(0.1)
        assert running_pid(plain_machine.socket), (tmp_path / "agent.err").read_text()
    note = tmp_path / "note.txt"
    note.write_text("hello\n")
    outputs = []
    try:
        for number, (script, *args) in enumerate((
                ("PutToConfigDatastore.sh", str(note), "notes"),
                ("PutToConfigDatastore.sh", "10.0.0.7", "webserverips"),
                ("GetFromConfigDatastore.sh", "notes/note.txt", str(tmp_path / "got")),
                ("ListFromConfigDatastore.sh", "webserverips/"),
                ("DeleteFromConfigDatastore.sh", "webserverips/10.0.0.7"))):
            trace = tmp_path / f"call{number}.trace"
            result = strace.run([WRAPPERS / script, *args], trace, env=env, cwd=tmp_path, timeout=120)
            assert result.returncode == 0, (script, result.stderr)
            outputs.append(result.stdout + result.stderr)
            calls = strace.parse(trace)
            assert len(strace.execs(calls)) >= 2, script  # the wrapper, then adt
            s3_here = any(c.name == "openat" and "/boto3/" in str(c.args[1]) for c in calls)
            assert s3_here == (through == "in-process"), script  # through the agent, the agent reads the keys
            assert strace.argv_leaks(calls, secrets) == [], script
            assert strace.exposed(strace.files(calls).values(),
                                  lambda path: strace.contains(path, secrets.values())) == []
    finally:
        if agent:
            subprocess.run([BIN / "adt", "agent", "stop", "--socket", plain_machine.socket], env=env, timeout=60)
            assert agent.wait(60) == 0
    assert (tmp_path / "got" / "note.txt").read_text() == "hello\n"
    assert outputs[3].split() == ["10.0.0.7"]
    assert not any(value in "".join(outputs) for value in secrets.values())
    if agent:
        calls = strace.parse(agent.trace)
        assert strace.argv_leaks(calls, secrets) == []
        log = (tmp_path / "agent.out").read_text() + (tmp_path / "agent.err").read_text()
        assert "serving" in log and not any(value in log for value in secrets.values())
