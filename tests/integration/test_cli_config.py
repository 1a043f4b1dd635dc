"""`adt config` through a real process, in-process and through the agent: output and exit codes; on SeaweedFS
and on moto (which, like AWS, creates no bucket on write)."""

import json

S3_SERVERS = ("seaweedfs", "moto")


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
                 ["config", "delete", "x", "perhaps"], ["config", "delete", "x", "maybe", "no"],
                 ["config", "delete", "x", "yes", "no", "yes"], ["config", "credential", "4"], ["config", "nope"]):
        result = machine.run(*args)
        assert result.returncode == 2, (args, result)
        assert "Traceback" not in result.stderr


def test_put_of_a_file_as_the_first_write_creates_the_bucket(machine, tmp_path):
    source = tmp_path / "wordpress_config.php"
    source.write_text("<?php\n")
    result = machine.run("config", "put", str(source))
    assert (result.returncode, result.stderr) == (0, "")
    assert machine.keys() == ["wordpress_config.php"]


def test_delete_forms_of_each_generation_print_s3cmds_lines(machine):
    for args in (["INSTALLED_SUCCESSFULLY"], ["backuplock.web-1.file"], ["backuplock.web-2.file"], ["backuplock.x"],
                 ["10.0.0.7", "webserverips"], ["10.0.0.8", "webserverips/sub"], ["STATIC_SCALE:3"], ["KEEP"]):
        assert machine.run("config", "put", *args).returncode == 0
    bucket = f"s3://{machine.bucket}"

    def delete(*args):
        result = machine.run("config", "delete", *args)
        assert (result.returncode, result.stderr) == (0, ""), args
        return result.stdout

    # January 2026: <key> <local> <recursive>
    assert delete("INSTALLED_SUCCESSFULLY", "yes", "no") == f"delete: '{bucket}/INSTALLED_SUCCESSFULLY'\n"
    assert delete("backuplock.*.file", "yes", "no") == (f"delete: '{bucket}/backuplock.web-1.file'\n"
                                                          f"delete: '{bucket}/backuplock.web-2.file'\n")
    assert delete("webserverips/", "no", "yes") == (f"delete: '{bucket}/webserverips/10.0.0.7'\n"
                                                     f"delete: '{bucket}/webserverips/sub/10.0.0.8'\n")
    # December 2025: <key> <recursive>, yes deleting by prefix
    assert delete("STATIC_SCALE:", "yes") == f"delete: '{bucket}/STATIC_SCALE:3'\n"
    assert delete("backuplock.", "no") == f"delete: '{bucket}/backuplock.'\n"  # one key, absent: as s3cmd
    # July 2025: <key>
    assert delete("KEEP") == f"delete: '{bucket}/KEEP'\n"
    assert delete("absent.*.file") == ""
    assert machine.keys() == ["backuplock.x"]


def test_list_a_pattern_as_the_january_list_and_the_july_empty_mode(machine):
    for args in (["backuplock.web-1.file"], ["additions7.tar.gz", "webrootsync/additions"],
                 ["x", "webrootsync/additions"]):
        machine.run("config", "put", *args)
    assert machine.run("config", "list", "backuplock.*.file").stdout == "backuplock.web-1.file\n"
    assert machine.run("config", "list", "webrootsync/additions/additions*.tar.gz").stdout == "additions7.tar.gz\n"
    july = machine.run("config", "list", "backuplock", "", "fullpath")
    assert july.returncode == 0 and july.stdout.endswith(f"            0  s3://{machine.bucket}/backuplock.web-1.file\n")


def test_a_delete_of_every_key_needs_all_keys(machine):
    for args in (["INSTALLED_SUCCESSFULLY"], ["10.0.0.7", "webserverips"]):
        machine.run("config", "put", *args)
    for args in (["", "yes"], ["*", "yes"], ["", "no", "yes"], ["*"], ["**", "no"]):
        refused = machine.run("config", "delete", *args)
        assert refused.returncode == 2, args
        assert "refusing to delete every key" in refused.stderr and "--all-keys" in refused.stderr
    no_key = machine.run("config", "delete", "")
    assert no_key.returncode == 2 and "give the key to delete" in no_key.stderr
    assert machine.keys() == ["INSTALLED_SUCCESSFULLY", "webserverips/10.0.0.7"]
    emptied = machine.run("config", "delete", "", "yes", "--all-keys")
    assert emptied.returncode == 0 and len(emptied.stdout.splitlines()) == 2
    assert machine.keys() == []


def test_a_malformed_s3hostbase_is_one_line_naming_file_key_and_value(machine):
    for value in ("http://[::1", "http://127.0.0.1:99999", "s3.example .com", "ftp://10.0.0.2"):
        machine.write_settings(S3HOSTBASE=value)
        result = machine.run("config", "list", "")
        assert result.returncode == 1, value
        first = result.stderr.splitlines()[0]
        assert str(machine.settings_path) in first and f"S3HOSTBASE is {value!r}" in first, first
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    machine.write_settings(S3HOSTBASE="http://user:pa55word@127.0.0.1:8333")
    result = machine.run("config", "list", "")
    assert result.returncode == 1 and "pa55word" not in result.stderr and "credentials" in result.stderr
