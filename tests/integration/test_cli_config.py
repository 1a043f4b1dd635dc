"""`adt config` through a real process, in-process and through the agent: output and exit codes."""

import json


def test_put_list_check_get_delete(machine, tmp_path):
    assert machine.run("config", "put", "10.0.0.7", "webserverips").returncode == 0
    assert machine.run("config", "put", "10.0.0.12", "webserverips", "yes").returncode == 0
    listed = machine.run("config", "list", "webserverips/")
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, "10.0.0.12\n10.0.0.7\n", "")
    assert machine.run("config", "check", "webserverips/10.0.0.1").stdout == "1\n"
    assert machine.run("config", "check", "databaseip").stdout == "0\n"
    assert machine.run("config", "check").stdout == "0\n"

    source = tmp_path / "work" / "settings.php"
    source.parent.mkdir()
    source.write_text("<?php\n")
    assert machine.run("config", "put", "settings.php", "", "yes", cwd=source.parent).returncode == 0
    assert not source.exists()  # 'yes' removed the local file, relative to the caller's directory
    got = machine.run("config", "get", "settings.php", cwd=source.parent)
    assert got.returncode == 0 and source.read_text() == "<?php\n"

    missing = machine.run("config", "get", "nothing", str(tmp_path))
    assert (missing.returncode, missing.stdout) == (1, "Key doesn't exist\n")

    assert machine.run("config", "delete", "webserverips/*").returncode == 0
    assert machine.keys() == ["settings.php"]


def test_list_json_and_fullpath(machine):
    machine.run("config", "put", "10.0.0.7", "webserverips")
    entries = json.loads(machine.run("config", "list", "webserverips", "--json").stdout)
    assert [(e["key"], e["name"], e["size"]) for e in entries] == [("webserverips/10.0.0.7", "10.0.0.7", 0)]
    line = machine.run("config", "list", "webserverips/", "recursive", "fullpath").stdout
    assert line.endswith(f"            0  s3://{machine.bucket}/webserverips/10.0.0.7\n")


def test_credential_from_settings_then_datastore(machine, tmp_path):
    assert machine.run("config", "credential", "name").stdout == "appdb\n"
    assert machine.run("config", "credential", "credentials/shit", "3").stdout == "appuser\n"  # DBaaS app part
    missing = machine.run("config", "credential", "password")
    assert missing.returncode == 1 and "DBPASSWORD" in missing.stderr
    creds = tmp_path / "shit"
    creds.write_text("appdb\ns3cr3t-pass\nappuser\n")
    machine.run("config", "put", str(creds), "credentials")
    assert machine.run("config", "credential", "password").stdout == "s3cr3t-pass\n"
    assert machine.run("config", "credential", "credentials/shit", "2").stdout == "s3cr3t-pass\n"


def test_usage_errors_exit_2(machine):
    for args in (["config", "put"], ["config", "put", "a", "b", "maybe"], ["config", "list", "x", "sideways"],
                 ["config", "delete", "x", "perhaps"], ["config", "credential", "4"], ["config", "nope"]):
        result = machine.run(*args)
        assert result.returncode == 2, (args, result)
        assert "Traceback" not in result.stderr
