"""Failures a person can act on: one line, the right exit code, no secrets, within 10 seconds."""

import socket
import time


def _dead_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_missing_settings_file_names_it(machine):
    machine.settings_path.unlink()
    result = machine.run("config", "list", "x")
    assert result.returncode == 1
    assert str(machine.home / "runtime") in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_missing_setting_names_key_and_file(machine):
    machine.write_settings(SERVERUSER=None)
    result = machine.run("config", "check", "x")
    assert result.returncode == 1
    assert "SERVERUSER" in result.stderr and str(machine.settings_path) in result.stderr


def test_unreachable_endpoint_fails_fast_naming_endpoint_and_bucket(machine):
    endpoint = f"http://127.0.0.1:{_dead_port()}"
    machine.write_settings(S3HOSTBASE=endpoint)
    started = time.monotonic()
    result = machine.run("config", "put", "10.0.0.7", "webserverips", timeout=30)
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert endpoint in result.stderr and machine.bucket in result.stderr
    assert "Traceback" not in result.stderr
    assert machine.servers[0].state["rw"][1] not in result.stderr + result.stdout


def test_silent_endpoint_fails_within_10_seconds(machine):
    silent = socket.socket()  # accepts connections (kernel backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        machine.write_settings(S3HOSTBASE=endpoint)
        started = time.monotonic()
        result = machine.run("config", "check", "x", timeout=30)
        assert time.monotonic() - started < 10
        assert result.returncode == 1 and endpoint in result.stderr and "Traceback" not in result.stderr
    finally:
        silent.close()


def test_wrong_secret_is_refused_without_echoing_it(machine):
    machine.write_settings(S3SECRETKEY="not-the-secret-0123456789")
    result = machine.run("config", "list", "x")
    assert result.returncode == 1
    assert "refused" in result.stderr and machine.bucket in result.stderr
    assert "not-the-secret" not in result.stderr + result.stdout


def test_read_only_identity_cannot_put(machine, s3):
    machine.run("config", "put", "seed")
    key, secret = s3.state["ro"]
    machine.write_settings(S3ACCESSKEY=key, S3SECRETKEY=secret)
    assert machine.run("config", "list").stdout == "seed\n"  # reading is allowed
    result = machine.run("config", "put", "10.0.0.7", "webserverips")
    assert result.returncode == 1 and "AccessDenied" in result.stderr
    assert machine.keys() == ["seed"]


def test_traceback_only_with_adt_debug(machine):
    machine.settings_path.unlink()
    result = machine.run("config", "check", "x", env={"ADT_DEBUG": "1"})
    assert result.returncode == 1 and "Traceback" in result.stderr
