"""A fleet can mix machines: what adt writes, Debian's s3cmd (an original bash machine) sees, and back."""

import os
import subprocess

import pytest


@pytest.fixture
def s3cmd(plain_machine, s3, tmp_path):
    """s3cmd configured as an original machine's /root/.s3cfg would be, pointed at the test server."""
    config = s3.write_s3cmd_config(tmp_path / "s3cfg")

    def run(*args, check=True):
        result = subprocess.run(["s3cmd", "-c", str(config), *args], capture_output=True, text=True, timeout=60,
                                env={**os.environ, "TZ": "UTC-05:30"})
        if check:
            assert result.returncode == 0, result.stderr
        return result

    return run


def basenames(ls_output):
    """What the original wrappers print: awk '{print $NF}' | awk -F/ '{print $NF}' | sed '/^$/d'."""
    return [line.split()[-1].rsplit("/", 1)[-1] for line in ls_output.splitlines()
            if line.split() and line.split()[-1].rsplit("/", 1)[-1]]


def test_s3cmd_sees_what_the_wrappers_write(plain_machine, s3cmd, tmp_path):
    m = plain_machine
    m.env["TZ"] = "UTC-05:30"  # s3cmd prints S3's UTC time whatever the local zone; so must we
    for args in (("10.0.0.7", "webserverips"), ("10.0.0.12", "webserverips"), ("INSTALLED_SUCCESSFULLY",)):
        assert m.wrapper("PutToConfigDatastore.sh", *args).returncode == 0
    cfg = tmp_path / "joomla_configuration.php"
    cfg.write_text("<?php class JConfig { public $host = 'x'; }\n")
    assert m.wrapper("PutToConfigDatastore.sh", str(cfg)).returncode == 0

    bucket = f"s3://{m.bucket}"
    listing = s3cmd("ls", "--recursive", bucket + "/webserverips/").stdout
    assert basenames(listing) == ["10.0.0.12", "10.0.0.7"]
    assert all(line.split()[2] == "0" for line in listing.splitlines())  # zero-byte markers
    assert basenames(s3cmd("ls", bucket + "/INSTALLED_SUCCESSFULLY").stdout) == ["INSTALLED_SUCCESSFULLY"]
    # the wrapper prints exactly what an original machine's List prints
    assert m.wrapper("ListFromConfigDatastore.sh", "webserverips/").stdout.splitlines() == basenames(listing)
    # and s3cmd's own fullpath lines match the wrapper's fullpath lines
    wrapper_lines = m.wrapper("ListFromConfigDatastore.sh", "webserverips/", "recursive", "fullpath").stdout
    assert wrapper_lines.splitlines() == listing.splitlines()

    out = tmp_path / "got.php"
    s3cmd("get", bucket + "/joomla_configuration.php", str(out))
    assert out.read_text() == cfg.read_text()


def test_wrappers_read_what_s3cmd_writes(plain_machine, s3cmd, tmp_path):
    m = plain_machine
    bucket = f"s3://{m.bucket}"
    s3cmd("mb", bucket)
    marker = tmp_path / "10.0.0.5"
    marker.touch()
    s3cmd("put", str(marker), bucket + "/databaseip/")  # as the 2025 PutToConfigDatastore.sh does
    data = tmp_path / "drupal_settings.php"
    data.write_text("<?php $databases = [];\n")
    s3cmd("put", str(data), bucket + "/drupal_settings.php")

    assert m.wrapper("ListFromConfigDatastore.sh", "databaseip/*").stdout == "10.0.0.5\n"
    assert m.wrapper("CheckConfigDatastore.sh", "databaseip").stdout == "1\n"
    dest = tmp_path / "runtime"
    dest.mkdir()
    assert m.wrapper("GetFromConfigDatastore.sh", "drupal_settings.php", str(dest)).returncode == 0
    assert (dest / "drupal_settings.php").read_text() == data.read_text()
    assert m.wrapper("DeleteFromConfigDatastore.sh", "databaseip/*").returncode == 0
    assert s3cmd("ls", "--recursive", bucket + "/databaseip/").stdout == ""


def test_delete_prints_what_s3cmd_del_prints(plain_machine, s3cmd, tmp_path):
    """Each Delete form against the s3cmd command its original generation ran: same lines, same exit code."""
    m = plain_machine
    bucket = f"s3://{m.bucket}"
    marker = tmp_path / "empty"
    marker.touch()

    def seed():
        for key in ("INSTALLED_SUCCESSFULLY", "backuplock.web-1.file", "backuplock.web-2.file", "backuplock.x",
                    "webserverips/10.0.0.1", "webserverips/sub/10.0.0.3"):
            s3cmd("put", "-q", str(marker), f"{bucket}/{key}")

    cases = [  # (what the original ran, the wrapper call)
        (["--force", "del", f"{bucket}/INSTALLED_SUCCESSFULLY"], ["INSTALLED_SUCCESSFULLY", "yes", "no"]),
        (["--force", "del", f"{bucket}/INSTALLED_SUCCESSFULLY"], ["INSTALLED_SUCCESSFULLY"]),  # absent by now
        (["--force", "del", f"{bucket}/backuplock.*.file"], ["backuplock.*.file", "yes", "no"]),
        (["--force", "del", f"{bucket}/nomatch.*.file"], ["nomatch.*.file", "no"]),
        (["--recursive", "--force", "del", f"{bucket}/webserverips/"], ["webserverips/", "no", "yes"]),
        (["--recursive", "--force", "del", f"{bucket}/webserverips/"], ["webserverips/", "yes"]),  # none left
    ]
    s3cmd("mb", bucket)
    seed()
    originals = [s3cmd(*args, check=False) for args, _ in cases]
    seed()
    for (args, words), original in zip(cases, originals):
        ours = m.wrapper("DeleteFromConfigDatastore.sh", *words)
        assert (ours.returncode, ours.stdout) == (original.returncode, original.stdout), (args, words, ours.stderr)
    assert originals[0].stdout == f"delete: '{bucket}/INSTALLED_SUCCESSFULLY'\n"  # the oracle said something
    assert basenames(s3cmd("ls", "--recursive", bucket).stdout) == ["backuplock.x"]
