"""Website backups against a real SeaweedFS: format, generations, verification, restore, faults."""

import hashlib
import io
import os
import stat
import tarfile
import threading
from pathlib import Path

import pytest

from adt import fs
from adt.backup import website
from adt.datastore.seaweed import SeaweedS3
from adt.errors import AdtError
from adt.settings.machine import MachineSettings


def make_webroot(root: Path, seed: int = 0) -> Path:
    (root / "wp-content" / "uploads" / "2026").mkdir(parents=True)
    (root / "wp-includes").mkdir()
    for i in range(300):
        (root / "wp-includes" / f"file{i}.php").write_text(f"<?php // {seed} {i}\n" * (i % 7 + 1))
    (root / "wp-content" / "uploads" / "2026" / "photo.jpg").write_bytes(os.urandom(300_000))
    (root / "index.php").write_text("<?php require 'wp-blog-header.php';\n")
    (root / "secret.php").write_text("<?php // private\n")
    os.chmod(root / "secret.php", 0o600)
    os.chmod(root / "wp-includes", 0o750)
    (root / "latest").symlink_to("wp-content/uploads/2026")
    return root


def tree(root: Path):
    found = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            found[relative] = ("link", os.readlink(path))
        elif path.is_dir():
            found[relative] = ("dir", stat.S_IMODE(path.stat().st_mode))
        else:
            found[relative] = ("file", stat.S_IMODE(path.stat().st_mode), hashlib.sha256(path.read_bytes()).hexdigest())
    return found


@pytest.fixture
def settings(plain_machine):
    return MachineSettings.load(plain_machine.settings_path)


def test_backup_is_the_originals_format_with_checksum(settings, plain_machine, tmp_path):
    webroot = make_webroot(tmp_path / "html")
    (result,) = website.backup(settings, "HOURLY", webroot)
    client = plain_machine.servers[0].client()
    bucket = plain_machine.website.replace(".", "-") + "-hourly"
    assert result.bucket == bucket
    head = client.head_object(Bucket=bucket, Key="applicationsourcecode.tar.gz")
    body = client.get_object(Bucket=bucket, Key="applicationsourcecode.tar.gz")["Body"].read()
    assert head["ContentLength"] == len(body) == result.size and head["ETag"].strip('"') == result.etag
    assert result.verified.endswith(f"bytes, stored as sent (ETag {result.etag})")
    names = tarfile.open(fileobj=io.BytesIO(body), mode="r:gz").getnames()
    assert "./XXXXXX-DO_NOT_REMOVE" in names and "./index.php" in names
    assert all(name == "." or name.startswith("./") for name in names)
    listing = client.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listing] == ["applicationsourcecode.tar.gz"]  # no temporary key left


def test_round_trip_gives_an_identical_tree(settings, tmp_path):
    webroot = make_webroot(tmp_path / "html")
    website.backup(settings, "daily", webroot, excludes=["wp-content/uploads"])
    target = tmp_path / "restored"
    (tmp_path / "restored").mkdir()
    (target / "stale.txt").write_text("replaced whole")
    website.restore(settings, "daily", target)
    expected = {k: v for k, v in tree(webroot).items() if not k.startswith("wp-content/uploads")}
    assert tree(target) == expected
    assert not list(tmp_path.glob(".restored*"))  # no staging left beside it


def body_of(machine, bucket, key=website.ARCHIVE):
    return machine.servers[0].client().get_object(Bucket=bucket, Key=key)["Body"].read()


def test_generations_rotate_and_are_each_verifiable(settings, plain_machine, tmp_path):
    first = website.backup(settings, "weekly", make_webroot(tmp_path / "one", seed=1))[0]
    first_body = body_of(plain_machine, first.bucket)
    second = website.backup(settings, "weekly", make_webroot(tmp_path / "two", seed=2))[0]
    bucket = first.bucket
    assert body_of(plain_machine, bucket, "applicationsourcecode.tar.gz.BACKUP") == first_body
    assert len(body_of(plain_machine, bucket)) == second.size and body_of(plain_machine, bucket) != first_body
    assert website.verify(settings, "weekly")[0].startswith("endpoint 1: ")
    assert "verified" in website.verify(settings, "weekly", "applicationsourcecode.tar.gz.BACKUP")[0]
    website.restore(settings, "weekly", tmp_path / "older", key="applicationsourcecode.tar.gz.BACKUP")
    assert tree(tmp_path / "older") == tree(tmp_path / "one")


def test_more_generations_when_configured(plain_machine, tmp_path):
    plain_machine.write_settings(BACKUPGENERATIONS="3")
    settings = MachineSettings.load(plain_machine.settings_path)
    for seed in range(4):
        website.backup(settings, "monthly", make_webroot(tmp_path / f"w{seed}", seed=seed))
    bucket = plain_machine.website.replace(".", "-") + "-monthly"
    keys = sorted(o["Key"] for o in plain_machine.servers[0].client().list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["applicationsourcecode.tar.gz", "applicationsourcecode.tar.gz.BACKUP",
                    "applicationsourcecode.tar.gz.BACKUP.2"]


def test_verify_finds_a_damaged_backup(settings, plain_machine, tmp_path):
    result = website.backup(settings, "bimonthly", make_webroot(tmp_path / "html"))[0]
    client = plain_machine.servers[0].client()
    body = client.get_object(Bucket=result.bucket, Key="applicationsourcecode.tar.gz")["Body"].read()
    assert "verified" in website.verify(settings, "bimonthly")[0]  # no checksum recorded: the gzip CRC and the tar
    client.put_object(Bucket=result.bucket, Key="applicationsourcecode.tar.gz", Body=body,
                      Metadata={"sha256": hashlib.sha256(b"another archive").hexdigest()})
    with pytest.raises(AdtError, match="endpoint 1: .*-bimonthly/applicationsourcecode.tar.gz does not match its "
                                       "recorded sha256"):
        website.verify(settings, "bimonthly")
    client.put_object(Bucket=result.bucket, Key="applicationsourcecode.tar.gz", Body=b"not a tar",
                      Metadata={"sha256": hashlib.sha256(body).hexdigest()})
    with pytest.raises(AdtError, match="applicationsourcecode.tar.gz is not a whole gzip file"):
        website.verify(settings, "bimonthly")
    client.put_object(Bucket=result.bucket, Key="applicationsourcecode.tar.gz", Body=body[:len(body) // 2])
    with pytest.raises(AdtError, match="applicationsourcecode.tar.gz is truncated"):
        website.verify(settings, "bimonthly")


def test_bad_period_and_missing_webroot(settings, tmp_path):
    with pytest.raises(AdtError, match="unknown backup periodicity"):
        website.backup(settings, "yearly", tmp_path)
    with pytest.raises(AdtError, match="does not exist"):
        website.backup(settings, "hourly", tmp_path / "nope")


def test_s3_killed_mid_upload_keeps_the_previous_generation(plain_machine, tmp_path_factory, tmp_path):
    server = SeaweedS3(tmp_path_factory.mktemp("s3fault")).start()
    try:
        plain_machine.servers = [server]
        plain_machine.write_settings()
        settings = MachineSettings.load(plain_machine.settings_path)
        first = website.backup(settings, "manual", make_webroot(tmp_path / "small"))[0]
        first_body = server.client().get_object(Bucket=first.bucket, Key=website.ARCHIVE)["Body"].read()
        big = tmp_path / "big"
        big.mkdir()
        for i in range(6):
            (big / f"blob{i}.bin").write_bytes(os.urandom(40 * 1024 * 1024))
        killer = threading.Timer(1.0, server.kill)
        killer.start()
        with pytest.raises(AdtError, match="S3 endpoint .* to store the website backup"):
            website.backup(settings, "manual", big)
        killer.join()
        server.stop()
        server.start()  # the same data folder, new ports
        plain_machine.write_settings()
        settings = MachineSettings.load(plain_machine.settings_path)
        live = server.client().get_object(Bucket=first.bucket, Key=website.ARCHIVE)["Body"].read()
        assert live == first_body  # the live key is the previous, complete generation
        assert server.client().list_objects_v2(Bucket=first.bucket)["KeyCount"] == 1  # no generation shifted
        assert "verified" in website.verify(settings, "manual")[0]
        second = website.backup(settings, "manual", make_webroot(tmp_path / "after", seed=9))[0]  # and the next run works
        previous = server.client().get_object(Bucket=first.bucket, Key=f"{website.ARCHIVE}.BACKUP")["Body"].read()
        assert previous == first_body and second.etag != first.etag
    finally:
        server.stop()


def test_excludes_keep_the_dots_of_names(settings, plain_machine, tmp_path):
    webroot = make_webroot(tmp_path / "html")
    for hidden in (".cache", ".git", "wp-content/cache", "wp-content/.thumbs"):
        (webroot / hidden).mkdir(parents=True)
        (webroot / hidden / "kept-out.txt").write_text("x")
    (webroot / "cache").mkdir()
    (webroot / "cache" / "kept-in.txt").write_text("a plain directory of the same name stays")
    (result,) = website.backup(settings, "hourly", webroot,
                               excludes=[".cache", "./.git/", "/wp-content/cache", "./wp-content/.thumbs"])
    body = plain_machine.servers[0].client().get_object(Bucket=result.bucket, Key="applicationsourcecode.tar.gz")
    names = tarfile.open(fileobj=io.BytesIO(body["Body"].read()), mode="r:gz").getnames()
    assert not [n for n in names if "kept-out" in n]
    assert "./cache/kept-in.txt" in names
    assert fs.webroot_relative("./.cache/") == ".cache" and fs.webroot_relative("/a/b") == "a/b"


def test_a_failing_tar_keeps_the_previous_generation_and_says_why(settings, plain_machine, tmp_path, monkeypatch):
    """tar's exit status comes after its output: the archive, already uploaded in parts, is dropped again."""
    webroot = make_webroot(tmp_path / "html")
    first = website.backup(settings, "daily", webroot)[0]
    first_body = body_of(plain_machine, first.bucket)
    fake_tar(tmp_path, monkeypatch, "head -c 20000000 /dev/urandom\n"
             "echo 'tar: ./wp-content: file changed as we read it' >&2\nexit 1")
    with pytest.raises(AdtError, match=r"archiving .*html failed: tar: \./wp-content: file changed as we read it$"):
        website.backup(settings, "daily", webroot)
    monkeypatch.undo()
    assert_untouched(plain_machine, first.bucket, first_body)


def fake_tar(tmp_path, monkeypatch, script):
    """A `tar` first on PATH that runs `script` instead."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "tar").write_text(f"#!/bin/sh\n{script}\n")
    (fake / "tar").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")


def assert_untouched(machine, bucket, body):
    """The live archive is the one before, alone (no generation shifted), and no upload is left unfinished."""
    client = machine.servers[0].client()
    assert [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]] == [website.ARCHIVE]
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert body_of(machine, bucket) == body


@pytest.mark.parametrize("script, error", [
    ("head -c 3000000 /dev/urandom", "is not a whole gzip file"),  # exits 0, but its output is no archive
    ("exec /usr/bin/tar --create --gzip --file - -C {webroot} .", "lacks the marker XXXXXX-DO_NOT_REMOVE"),
])
def test_the_archive_is_checked_as_it_is_sent_and_a_bad_one_never_goes_live(settings, plain_machine, tmp_path,
                                                                            monkeypatch, script, error):
    """The bytes sent are read as a gzip tar on the way (VerifyBackupPresent.sh's check, without a download):
    an archive that is not whole or lacks the marker is refused before it goes live, generations unshifted."""
    webroot = make_webroot(tmp_path / "html")
    first = website.backup(settings, "weekly", webroot)[0]
    first_body = body_of(plain_machine, first.bucket)
    fake_tar(tmp_path, monkeypatch, script.format(webroot=webroot))
    with pytest.raises(AdtError, match=f"endpoint 1: .*-weekly/applicationsourcecode.tar.gz {error}"):
        website.backup(settings, "weekly", webroot)
    monkeypatch.undo()
    assert_untouched(plain_machine, first.bucket, first_body)


def test_a_copy_the_etag_cannot_confirm_is_read_back(settings, plain_machine, tmp_path, monkeypatch):
    """Where the server's ETag is not its parts' MD5s (some encryption modes), the copy is read back whole."""
    from adt.backup import transfer

    reads = []
    real = transfer.streamed

    def streamed(client, bucket, key):
        reads.append(key)
        return real(client, bucket, key)

    monkeypatch.setattr(transfer, "streamed", streamed)
    (result,) = website.backup(settings, "daily", make_webroot(tmp_path / "html"))
    assert reads == [] and "stored as sent" in result.verified  # confirmed by size and ETag: no download
    monkeypatch.setattr(transfer.Upload, "confirm", lambda self, size: False)
    (result,) = website.backup(settings, "daily", make_webroot(tmp_path / "again", seed=3))
    assert reads == [website.ARCHIVE]
    assert result.verified.startswith(f"endpoint 1: {result.bucket}/{website.ARCHIVE} verified: ")
    assert f"{result.size} bytes, sha256 " in result.verified


def test_backup_run_verifies_without_reading_the_backup_back(plain_machine, tmp_path, monkeypatch):
    """`adt backup run` (Backup.sh): the backup's own check is its verification; nothing is downloaded."""
    import functools

    from adt.backup import schedule, transfer

    settings = MachineSettings.load(plain_machine.settings_path)
    monkeypatch.setattr(website, "backup", functools.partial(website.backup, webroot=make_webroot(tmp_path / "html")))
    monkeypatch.setattr(transfer, "streamed", lambda *args: pytest.fail("the backup was read back"))
    lines = []
    assert schedule.run(settings, plain_machine.home, "webserver", "hourly", force=True, say=lines.append)
    assert any(line.endswith("bytes, stored as sent (ETag " + line.rsplit("ETag ", 1)[-1]) and "verified" in line
               for line in lines), lines
