"""A build's interrogation of what it will restore, against a real SeaweedFS (archives made by the real backup
code, and hostile ones made here) and real git repositories over file://: the markers read, the template
checked, missing backups, sites made before markers, and nothing read is changed or left behind."""

import io
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from adt.backup import website
from adt.backup.publish import ensure_bucket
from adt.build.interrogate import interrogate_backup, interrogate_baseline
from adt.datastore.endpoints import Endpoint
from adt.errors import AdtError
from adt.machine import markers
from adt.settings.machine import MachineSettings

ARCHIVE = "applicationsourcecode.tar.gz"


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """tempfile's directory for this test only: what interrogation leaves behind shows up here."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


# -- temporal backups --------------------------------------------------------------------------------------------


@pytest.fixture
def site(plain_machine, private_tmp):
    """(machine, template values, endpoint); the site's backup buckets are removed afterwards."""
    machine = plain_machine
    server = machine.servers[0]
    values = {
        "WEBSITE_URL": machine.website,
        "APPLICATION": "wordpress",
        "DATABASE_INSTALLATION_TYPE": "Maria",
    }
    endpoint = Endpoint(1, server.endpoint, server.state["rw"][0], server.state["rw"][1], "us-east-1")
    yield machine, values, endpoint
    client = server.client()
    dashed = machine.website.replace(".", "-")
    for bucket in client.list_buckets()["Buckets"]:
        if bucket["Name"].startswith(dashed):
            for upload in client.list_multipart_uploads(Bucket=bucket["Name"]).get("Uploads", []):
                client.abort_multipart_upload(Bucket=bucket["Name"], Key=upload["Key"], UploadId=upload["UploadId"])
            for item in client.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
                client.delete_object(Bucket=bucket["Name"], Key=item["Key"])
            client.delete_bucket(Bucket=bucket["Name"])


def wordpress_webroot(root: Path, with_markers=True, engine="Maria") -> Path:
    (root / "wp-includes").mkdir(parents=True)
    for i in range(50):
        (root / "wp-includes" / f"file{i}.php").write_text(f"<?php // {i}\n" * 50)
    (root / "wp-settings.php").write_text("<?php // WordPress\n")
    (root / "index.php").write_text("<?php require 'wp-blog-header.php';\n")
    if with_markers:
        for name, content in markers.markers("wordpress", engine, "wp_").items():
            (root / name).write_text(content)
    return root


def db_archive(client, machine, dump="applicationDB.sql", period="hourly"):
    """A database backup object as the backups store it: a gzip tar holding the dump."""
    data = b"CREATE TABLE zzzz (id int);\n"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(dump)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    bucket = machine.website.replace(".", "-") + f"-db-{period}"
    client.create_bucket(Bucket=bucket)
    name = machine.website.split(".")[1]
    client.put_object(Bucket=bucket, Key=f"{name}-DB-backup.tar.gz", Body=buffer.getvalue())
    return bucket


def put_archive(client, machine, members, period="hourly", cut=0):
    """A hand-made webroot archive (members: (TarInfo, bytes or None)), `cut` bytes short at its end."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    bucket = machine.website.replace(".", "-") + f"-{period}"
    ensure_bucket(client, bucket)
    body = buffer.getvalue()
    client.put_object(Bucket=bucket, Key=ARCHIVE, Body=body[: len(body) - cut])


def member(name, data=b"", kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


def test_backup_with_markers_and_database(site, tmp_path, private_tmp):
    machine, values, endpoint = site
    settings = MachineSettings.load(machine.settings_path)
    website.backup(settings, "hourly", wordpress_webroot(tmp_path / "html"))
    db_bucket = db_archive(machine.servers[0].client(), machine)
    found = interrogate_backup(values, endpoint, "HOURLY")
    dashed = machine.website.replace(".", "-")
    assert found.source == f"s3://{dashed}-hourly/{ARCHIVE}"
    assert found.markers == markers.Markers("wordpress", "Maria", "wp_")
    assert (found.application, found.prefix, found.recognised_by) == ("wordpress", "wp_", "")
    head = machine.servers[0].client().head_object(Bucket=f"{dashed}-hourly", Key=ARCHIVE)
    assert found.webroot_key_size == head["ContentLength"]
    assert found.database_archive_present and found.database_dump == "applicationDB.sql"
    assert found.database_source.startswith(f"s3://{db_bucket}/")
    assert found.notes == []
    assert not list(private_tmp.iterdir())


def test_missing_webroot_backup_is_an_error_naming_it(site):
    machine, values, endpoint = site
    dashed = machine.website.replace(".", "-")
    with pytest.raises(AdtError, match=rf"no website backup to build from: s3://{dashed}-daily/{ARCHIVE} does not "
                                       r"exist") as raised:
        interrogate_backup(values, endpoint, "daily")
    assert "Backup.sh DAILY" in raised.value.hint


def test_missing_database_backup_is_a_flag(site, tmp_path):
    machine, values, endpoint = site
    website.backup(MachineSettings.load(machine.settings_path), "hourly", wordpress_webroot(tmp_path / "html"))
    found = interrogate_backup(values, endpoint, "hourly")
    assert not found.database_archive_present and found.database_dump is None
    name = machine.website.split(".")[1]
    assert any(note.startswith("no database backup at s3://") and f"{name}-DB-backup.tar.gz" in note
               for note in found.notes)


def test_engine_mismatch_is_fatal(site, tmp_path):
    machine, values, endpoint = site
    webroot = wordpress_webroot(tmp_path / "html", engine="Postgres")
    website.backup(MachineSettings.load(machine.settings_path), "hourly", webroot)
    with pytest.raises(AdtError, match=r"database type mismatch: the template's DATABASE_INSTALLATION_TYPE is Maria, "
                                       r"but s3://.*-hourly/applicationsourcecode.tar.gz requires Postgres"):
        interrogate_backup(values, endpoint, "hourly")


def test_database_dump_against_the_template(site, tmp_path):
    machine, values, endpoint = site
    website.backup(MachineSettings.load(machine.settings_path), "hourly", wordpress_webroot(tmp_path / "html"))
    db_archive(machine.servers[0].client(), machine, dump="applicationDB.psql")
    with pytest.raises(AdtError, match=r"requires Maria DB \(its dbe.dat\), but its database is applicationDB.psql"):
        interrogate_backup(values, endpoint, "hourly")


def test_application_mismatch_is_fatal(site, tmp_path):
    machine, values, endpoint = site
    website.backup(MachineSettings.load(machine.settings_path), "hourly", wordpress_webroot(tmp_path / "html"))
    with pytest.raises(AdtError, match=r"application type mismatch: the template's APPLICATION is joomla, but "
                                       r"s3://.* is a wordpress site"):
        interrogate_backup({**values, "APPLICATION": "joomla"}, endpoint, "hourly")


def test_a_site_made_before_markers_is_recognised_by_its_files(site, tmp_path):
    machine, values, endpoint = site
    webroot = wordpress_webroot(tmp_path / "html", with_markers=False)
    website.backup(MachineSettings.load(machine.settings_path), "hourly", webroot)
    found = interrogate_backup(values, endpoint, "hourly")
    assert found.markers == markers.Markers()
    assert (found.application, found.recognised_by, found.prefix) == ("wordpress", "wp-settings.php", "wp_")
    assert any("has no dba.dat: recognised as wordpress by its wp-settings.php" in note for note in found.notes)
    assert any("has no dbp.dat: the table prefix is taken to be wp_" in note for note in found.notes)


def test_a_webroot_of_no_known_application_is_refused(site):
    machine, values, endpoint = site
    put_archive(machine.servers[0].client(), machine, [member("./index.html", b"<html></html>")])
    with pytest.raises(AdtError, match=r"is not a wordpress webroot: it has no dba.dat and none of wordpress's files"):
        interrogate_backup(values, endpoint, "hourly")


def test_reading_stops_at_the_third_marker(site):
    """The markers first, then a large file whose archive is cut short: the damaged tail is never read."""
    machine, values, endpoint = site
    files = markers.markers("wordpress", "Maria", "wp_")
    members = [member(f"./{name}", text.encode()) for name, text in files.items()]
    members.append(member("./big.bin", os.urandom(2_000_000)))
    put_archive(machine.servers[0].client(), machine, members, cut=500_000)
    assert interrogate_backup(values, endpoint, "hourly").application == "wordpress"
    members.insert(0, members.pop())  # the damaged part before the markers: it is read, and said to be damaged
    put_archive(machine.servers[0].client(), machine, members, cut=500_000)
    with pytest.raises(AdtError, match=r"applicationsourcecode.tar.gz is not a readable gzip tar archive"):
        interrogate_backup(values, endpoint, "hourly")


@pytest.mark.parametrize(
    "hostile, error",
    [
        (member("./dba.dat", kind=tarfile.SYMTYPE, link="/etc/passwd"),
         r"its dba.dat is a symbolic link, not a regular file: not trusting this backup"),
        (member("./dbp.dat", kind=tarfile.LNKTYPE, link="index.php"), r"its dbp.dat is a hard link"),
        (member("./dbe.dat", kind=tarfile.DIRTYPE), r"its dbe.dat is a directory"),
        (member("./dba.dat", b"WORDPRESS\n" * 1000), r"its dba.dat is 10000 bytes, not a marker line"),
        (member("./dbp.dat", b"x'; phpinfo(); //\n"), r"its dbp.dat holds .* not a table prefix"),
    ],
)
def test_hostile_markers_are_refused(site, hostile, error):
    machine, values, endpoint = site
    put_archive(machine.servers[0].client(), machine, [member("./index.php", b"<?php\n"), hostile])
    with pytest.raises(AdtError, match=error):
        interrogate_backup(values, endpoint, "hourly")


def test_a_period_that_is_no_backup_is_refused(site):
    _, values, endpoint = site
    with pytest.raises(AdtError, match=r"BUILD_ARCHIVE_CHOICE 'baseline' is not a backup periodicity"):
        interrogate_backup(values, endpoint, "baseline")


# -- baselines ---------------------------------------------------------------------------------------------------


def git(*args, cwd=None):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def repository(base: Path, name: str, tree: dict, allow_filter=True) -> Path:
    """A bare repository `<name>.git` under base with one commit on main holding `tree` (path -> bytes, or
    ("link", target))."""
    bare = base / f"{name}.git"
    git("init", "-q", "--bare", "-b", "main", str(bare))
    git("-C", str(bare), "config", "uploadpack.allowFilter", "true" if allow_filter else "false")
    work = base / f"{name}.work"
    git("init", "-q", "-b", "main", str(work))
    for path, content in tree.items():
        target = work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple):
            target.symlink_to(content[1])
        else:
            target.write_bytes(content)
    git("add", "-A", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "baseline", cwd=work)
    git("push", "-q", str(bare), "main:main", cwd=work)
    return bare


def snapshot(path: Path):
    return sorted((str(p.relative_to(path)), p.stat().st_mtime_ns) for p in path.rglob("*"))


WEBROOT = {
    "wp-settings.php": b"<?php // WordPress\n",
    "index.php": b"<?php\n",
    "wp-content/uploads/big.jpg": os.urandom(50_000),
    **{name: text.encode() for name, text in markers.markers("wordpress", "Maria", "wp_").items()},
}


@pytest.fixture
def repos(tmp_path, private_tmp):
    base = tmp_path / "git"
    base.mkdir()
    return base


def test_baseline_markers_and_dump(repos, private_tmp):
    web = repository(repos, "shop-webroot-sourcecode-baseline", WEBROOT)
    db = repository(repos, "shop-db-baseline", {"applicationDB.sql": b"-- dump\n" * 10_000})
    before = snapshot(repos)
    found = interrogate_baseline({"APPLICATION": "wordpress", "DATABASE_INSTALLATION_TYPE": "MySQL"}, "shop",
                                 f"file://{repos}")
    assert found.source == f"file://{web}"
    assert found.markers == markers.Markers("wordpress", "Maria", "wp_")
    assert (found.application, found.prefix) == ("wordpress", "wp_")
    assert found.database_archive_present and found.database_dump == "applicationDB.sql"
    assert found.database_source == f"file://{db}" and found.notes == []
    assert snapshot(repos) == before  # nothing read was changed
    assert not list(private_tmp.iterdir())  # the clones are gone


def test_missing_baseline_repository_is_an_error_and_is_not_created(repos):
    with pytest.raises(AdtError, match=r"the baseline repository file://.*/shop-webroot-sourcecode-baseline.git "
                                       r"does not exist"):
        interrogate_baseline({}, "shop", f"file://{repos}")
    assert not list(repos.iterdir())  # unlike a publication, interrogation creates nothing


def test_baseline_without_dump_is_a_flag_and_psql_against_maria_is_fatal(repos):
    repository(repos, "shop-webroot-sourcecode-baseline", WEBROOT)
    repository(repos, "shop-db-baseline", {"README": b"nothing\n"})
    found = interrogate_baseline({"DATABASE_INSTALLATION_TYPE": "Maria"}, "shop", f"file://{repos}")
    assert not found.database_archive_present
    assert any("has no applicationDB.sql or applicationDB.psql" in note for note in found.notes)
    repository(repos, "pg-webroot-sourcecode-baseline", WEBROOT)
    repository(repos, "pg-db-baseline", {"applicationDB.psql": b"-- dump\n"})
    with pytest.raises(AdtError, match=r"requires Maria DB \(its dbe.dat\), but its database is applicationDB.psql"):
        interrogate_baseline({"DATABASE_INSTALLATION_TYPE": "Maria"}, "pg", f"file://{repos}")


def test_baseline_engine_mismatch(repos):
    repository(repos, "shop-webroot-sourcecode-baseline", WEBROOT)
    repository(repos, "shop-db-baseline", {"applicationDB.sql": b"-- dump\n"})
    with pytest.raises(AdtError, match=r"database type mismatch: the template's DATABASE_INSTALLATION_TYPE is "
                                       r"Postgres, but file://.* requires Maria DB"):
        interrogate_baseline({"DATABASE_INSTALLATION_TYPE": "Postgres"}, "shop", f"file://{repos}")


def test_baseline_made_before_markers(repos):
    tree = {k: v for k, v in WEBROOT.items() if k not in markers.FILES}
    repository(repos, "shop-webroot-sourcecode-baseline", tree)
    repository(repos, "shop-db-baseline", {"applicationDB.sql": b"-- dump\n"})
    found = interrogate_baseline({"APPLICATION": "wordpress"}, "shop", str(repos))  # a plain path works too
    assert (found.application, found.recognised_by, found.prefix) == ("wordpress", "wp-settings.php", "wp_")


@pytest.mark.parametrize("allow_filter", [True, False], ids=["filtered", "server-ignores-filter"])
@pytest.mark.parametrize(
    "hostile, error",
    [
        ({"dba.dat": ("link", "/etc/passwd")}, r"its dba.dat is a symbolic link, not a regular file"),
        ({"dbp.dat": b"wp_" * 2000}, r"its dbp.dat is over 1024 bytes, not a marker line"),
        ({"dbe.dat/x": b"Maria\n"}, r"its dbe.dat is a directory"),
    ],
)
def test_hostile_baseline_markers_are_refused(repos, private_tmp, allow_filter, hostile, error):
    tree = {k: v for k, v in WEBROOT.items() if k not in hostile and k != "dbe.dat"}
    repository(repos, "shop-webroot-sourcecode-baseline", {**tree, **hostile}, allow_filter)
    repository(repos, "shop-db-baseline", {"applicationDB.sql": b"-- dump\n"})
    with pytest.raises(AdtError, match=error):
        interrogate_baseline({}, "shop", f"file://{repos}")
    assert not list(private_tmp.iterdir())


def test_the_clone_never_fetches_what_its_filter_left_on_the_server(repos):
    """Reading an omitted blob is an error in the clone, not a download (git would fetch it from a promisor
    remote the moment it is asked for: a huge hostile marker would come whole)."""
    from adt.baseline.publish import Remote
    from adt.build.interrogate import _clone

    big = os.urandom(100_000)
    bare = repository(repos, "r", {"dbp.dat": big, "dba.dat": b"WORDPRESS\n"})
    clone = _clone(Remote(f"file://{bare}"), repos / "clone")
    sha = subprocess.run(["git", "hash-object", "--stdin"], input=big, capture_output=True, check=True).stdout
    asked = subprocess.run(["git", "cat-file", "-s", sha.decode().strip()], cwd=clone, capture_output=True)
    assert asked.returncode != 0 and b"could not get object info" in asked.stderr
    assert subprocess.run(["git", "cat-file", "-e", sha.decode().strip()], cwd=clone).returncode != 0  # still absent
    assert git("show", "HEAD:dba.dat", cwd=clone) == "WORDPRESS\n"  # the small ones came
