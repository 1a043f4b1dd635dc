"""Database backups against real MariaDB, PostgreSQL and SeaweedFS: format, sanitising, round trip with
per-table row checksums, generations, verification, and the faults (dump killed, S3 killed mid-upload,
disk full)."""

import hashlib
import io
import os
import subprocess
import tarfile

import pytest

from adt.backup import database, transfer
from adt.database import Connection, checksum_lines, checksums
from adt.datastore.seaweed import SeaweedS3
from adt.errors import AdtError
from adt.settings.machine import MachineSettings
from tests.services.databases import MariaDB, Postgres

USER, PASSWORD = "u7hd63kd9q", "pw-Backup-2026"

MYSQL_SCHEMA = """
CREATE TABLE wp_options (option_id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  option_name varchar(191) NOT NULL UNIQUE, option_value longtext NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE wp_posts (ID bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, post_title text,
  post_content longtext) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
CREATE TABLE wp_users (ID bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, user_login varchar(60),
  user_email varchar(100)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE wp_blobs (id int NOT NULL PRIMARY KEY, data longblob) ENGINE=InnoDB;
CREATE TABLE wp_log (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, who varchar(80)) ENGINE=InnoDB;
INSERT INTO wp_options (option_name, option_value) VALUES
  ('siteurl', 'https://www.example.com'),
  ('widget', 'a:2:{s:3:"url";s:23:"https://www.example.com";s:5:"title";s:4:"It''s";}');
INSERT INTO wp_posts (post_title, post_content) VALUES ('Hello', 'Line one\\nline "two"\\ttab ünïcødé ✓'),
  ('Empty', ''), (NULL, 'null title');
INSERT INTO wp_users (user_login, user_email) VALUES ('admin', 'admin@example.com');
INSERT INTO wp_blobs VALUES (1, UNHEX('00FF10275C2722')), (2, RANDOM_BYTES(1000));
CREATE TRIGGER wp_log_user BEFORE INSERT ON wp_log FOR EACH ROW SET NEW.who = CURRENT_USER();
"""

POSTGRES_SCHEMA = """
CREATE TABLE wp_options (option_id bigserial PRIMARY KEY, option_name varchar(191) UNIQUE NOT NULL,
  option_value text NOT NULL);
CREATE TABLE wp_posts (id bigserial PRIMARY KEY, post_title text, post_content text);
CREATE TABLE wp_users (id bigserial PRIMARY KEY, user_login varchar(60), user_email varchar(100));
CREATE TABLE wp_blobs (id int PRIMARY KEY, data bytea);
CREATE TABLE wp_log (id serial PRIMARY KEY, who varchar(80));
INSERT INTO wp_options (option_name, option_value) VALUES
  ('siteurl', 'https://www.example.com'),
  ('widget', 'a:2:{s:3:"url";s:23:"https://www.example.com";s:5:"title";s:4:"It''s";}');
INSERT INTO wp_posts (post_title, post_content) VALUES ('Hello', E'Line one\\nline "two"\\ttab ünïcødé ✓'),
  ('Empty', ''), (NULL, 'null title');
INSERT INTO wp_users (user_login, user_email) VALUES ('admin', 'admin@example.com');
INSERT INTO wp_blobs VALUES (1, '\\x00ff10275c2722'), (2, decode(repeat('ab', 1000), 'hex'));
"""


@pytest.fixture(scope="module", params=["mariadb", "postgres"])
def server(request, tmp_path_factory):
    if request.param == "mariadb":
        db = MariaDB(tmp_path_factory.mktemp("mariadb")).start()
    else:
        db = Postgres().start()
    yield db
    db.stop()


def make_database(server, name: str, schema: bool = True) -> None:
    """A database owned by the application user (`USER`@`127.0.%.%` on MariaDB, so definers get masked)."""
    if server.dialect == "mysql":
        server.sql(f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` CHARACTER SET utf8mb4 "
                   f"COLLATE utf8mb4_unicode_ci;\nCREATE USER IF NOT EXISTS '{USER}'@'127.0.%.%' IDENTIFIED BY "
                   f"'{PASSWORD}';\nGRANT ALL PRIVILEGES ON `{name}`.* TO '{USER}'@'127.0.%.%';\n")
        if schema:
            subprocess.run(["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{server.port}", f"-u{USER}",
                            f"-p{PASSWORD}", name], input=MYSQL_SCHEMA, text=True, check=True, capture_output=True)
    else:
        if server.sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{USER}'").stdout.strip() != "1":
            server.sql(f"CREATE ROLE \"{USER}\" LOGIN PASSWORD '{PASSWORD}';")
        server.sql(f"DROP DATABASE IF EXISTS \"{name}\";")
        server.sql(f"CREATE DATABASE \"{name}\" OWNER \"{USER}\" ENCODING 'UTF8' TEMPLATE template0;")
        if schema:
            subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(server.port), "-U", USER, "-d", name, "-X", "-q",
                            "-v", "ON_ERROR_STOP=1"], input=POSTGRES_SCHEMA, text=True, check=True,
                           capture_output=True, env=dict(os.environ, PGPASSWORD=PASSWORD))


def settings_for(machine, server, name: str = "appdb", **extra):
    machine.write_settings(DBNAME=name, DBUSERNAME=USER, DBPASSWORD=PASSWORD, DBPORT=str(server.port),
                           DATABASEINSTALLATIONTYPE="Maria" if server.dialect == "mysql" else "Postgres",
                           IPMASK="127.0.%.%", MYIP="127.0.0.1", **extra)
    return MachineSettings.load(machine.settings_path)


def archive_of(machine, server_index: int = 0, key_suffix: str = "", period: str = "hourly"):
    client = machine.servers[server_index].client()
    bucket = f"{machine.website.replace('.', '-')}-db-{period}"
    key = f"{machine.website.split('.')[1]}-DB-backup.tar.gz{key_suffix}"
    return client, bucket, key, client.get_object(Bucket=bucket, Key=key)


def dump_digest(client, bucket, key):
    """The sha256 of the dump inside a stored archive: which generation it is."""
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r|gz") as archive:
        return hashlib.sha256(b"".join(archive.extractfile(m).read() for m in archive)).hexdigest()


def test_archive_is_the_originals_format_sanitised_on_every_endpoint(server, tmp_path, s3, s3_second):
    from tests.integration.conftest import Machine

    machine = Machine(tmp_path, [s3, s3_second], agent=False)
    make_database(server, "appdb")
    settings = settings_for(machine, server)
    results = database.backup(settings, "HOURLY")
    assert len(results) == 2 and {r.endpoint for r in results} == {1, 2}
    for index in (0, 1):
        client, bucket, key, answer = archive_of(machine, index)
        body = answer["Body"].read()
        assert [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]] == [key]  # no temporary key
        with tarfile.open(fileobj=io.BytesIO(body), mode="r|gz") as archive:  # one ordinary gzip member
            members = [(m.name, archive.extractfile(m).read()) for m in archive]
        listing = subprocess.run(["tar", "tzf", "-"], input=body, capture_output=True, check=True).stdout.split()
        assert listing == [members[0][0].encode()]
        name, dump = members[0]
        assert name == ("applicationDB.sql" if server.dialect == "mysql" else "applicationDB.psql")
        assert results[index].dump_sha256 == hashlib.sha256(dump).hexdigest()
        assert answer["Metadata"] == {"dump": name} and answer["ContentLength"] == len(body) == results[index].size
        assert f"stored as sent (ETag {answer['ETag'].strip(chr(34))})" in results[index].verified
        lines = dump.decode().strip().splitlines()
        assert "zzzz" in lines[-1]
        assert USER not in dump.decode() and "XXXXXXXXXX" in dump.decode()
        if server.dialect == "mysql":
            assert lines[0] == "SET SESSION sql_require_primary_key = 0;"
            assert "`XXXXXXXXXX`@`YYYYYYYYYY`" in dump.decode()  # the trigger's definer
            assert "COLLATE=utf8mb4_general_ci" not in dump.decode()


def test_round_trip_gives_identical_row_checksums(server, plain_machine, tmp_path):
    make_database(server, "appdb")
    make_database(server, "appcopy", schema=False)
    settings = settings_for(plain_machine, server)
    source = checksums(Connection.from_settings(settings))
    assert len(source) == 5 and source["wp_posts"][0] == 3
    database.backup(settings, "daily")
    assert "verified" in database.verify(settings, "daily")[0]
    restored = database.restore(settings, "daily", database="appcopy")
    assert restored.tables == source
    shown = plain_machine.run("backup", "checksums", "--database", "appcopy")  # what an operator compares
    assert shown.returncode == 0 and shown.stdout.splitlines() == checksum_lines(source), shown.stderr
    copy = Connection.from_settings(settings, database="appcopy")
    assert "zzzz" in copy.tables()
    value = copy.query("SELECT option_value FROM wp_options WHERE option_name = 'widget'")[0][0]
    assert 's:23:"https://www.example.com"' in value


def test_http_becomes_https_with_serialized_lengths_kept(server, plain_machine):
    make_database(server, "appdb")
    make_database(server, "appcopy", schema=False)
    settings = settings_for(plain_machine, server)
    connection = Connection.from_settings(settings)
    connection.query("UPDATE wp_options SET option_value = 'a:1:{s:3:\"url\";s:22:\"http://www.example.com\";}' "
                     "WHERE option_name = 'widget'")
    database.backup(settings, "weekly")
    database.restore(settings, "weekly", database="appcopy")
    copy = Connection.from_settings(settings, database="appcopy")
    value = copy.query("SELECT option_value FROM wp_options WHERE option_name = 'widget'")[0][0]
    assert value == 'a:1:{s:3:"url";s:23:"https://www.example.com";}'


def test_generations_and_verify_catches_damage(server, plain_machine):
    make_database(server, "appdb")
    settings = settings_for(plain_machine, server, BACKUPGENERATIONS="3")
    first = database.backup(settings, "monthly")[0]
    Connection.from_settings(settings).query("INSERT INTO wp_users (user_login) VALUES ('second')")
    second = database.backup(settings, "monthly")[0]
    third = database.backup(settings, "monthly")[0]
    assert first.dump_sha256 != second.dump_sha256
    client, bucket, key, answer = archive_of(plain_machine, period="monthly")
    assert dump_digest(client, bucket, key) == third.dump_sha256
    heads = {suffix: dump_digest(client, bucket, key + suffix) for suffix in (".BACKUP", ".BACKUP.2")}
    assert heads == {".BACKUP": second.dump_sha256, ".BACKUP.2": first.dump_sha256}
    body = answer["Body"].read()
    client.put_object(Bucket=bucket, Key=key + ".BACKUP.2", Body=body[: len(body) // 2])
    with pytest.raises(AdtError, match="not a readable gzip tar|sha256"):
        database.verify(settings, "monthly", key=key + ".BACKUP.2")
    assert "verified" in database.verify(settings, "monthly", key=key + ".BACKUP")[0]


def test_a_killed_dump_keeps_the_previous_generation(server, plain_machine, tmp_path, monkeypatch):
    make_database(server, "appdb")
    settings = settings_for(plain_machine, server)
    first = database.backup(settings, "bimonthly")[0]
    tool = "mariadb-dump" if server.dialect == "mysql" else "pg_dump"
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / tool).write_text(f"#!/bin/sh\n/usr/bin/{tool} \"$@\" | head -c 700\nkill -KILL $$\n")
    (fake / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    with pytest.raises(AdtError, match="killed by signal 9"):
        database.backup(settings, "bimonthly")
    monkeypatch.undo()
    client, bucket, key, answer = archive_of(plain_machine, period="bimonthly")
    assert dump_digest(client, bucket, key) == first.dump_sha256
    assert [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    database.backup(settings, "bimonthly")  # the next run succeeds
    assert "verified" in database.verify(settings, "bimonthly")[0]


def test_too_few_tables_is_refused(server, plain_machine):
    make_database(server, "appdb", schema=False)
    settings = settings_for(plain_machine, server)
    with pytest.raises(AdtError, match="has 0 tables"):
        database.backup(settings, "manual")


@pytest.fixture
def full_disk(tmp_path):
    """A 1 MiB tmpfs, filled to the last block."""
    mount = tmp_path / "full"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        with open(mount / "filler", "wb") as filler:
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError:
                pass
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_does_not_stop_a_backup_and_fails_a_restore_cleanly(server, plain_machine, full_disk,
                                                                         monkeypatch):
    """Nothing is staged, so a dump on a full disk still becomes a backup (the original writes the dump
    and the archive to ${HOME}/backups first), and is verified (read once as it arrives). A restore must
    spool the download: on a full disk it stops before touching the database, with a clear line."""
    make_database(server, "appdb")
    make_database(server, "appcopy", schema=False)
    settings = settings_for(plain_machine, server)
    monkeypatch.setenv("TMPDIR", str(full_disk))
    monkeypatch.setattr("tempfile.tempdir", str(full_disk))
    (result,) = database.backup(settings, "manual")
    assert result.dump_size > 0
    (line,) = database.verify(settings, "manual")
    dump = "applicationDB.sql" if server.dialect == "mysql" else "applicationDB.psql"
    assert line.endswith(f"verified: {dump}, {result.size} bytes, ends with the zzzz marker")
    with pytest.raises(AdtError, match="cannot hold the downloaded backup"):
        database.restore(settings, "manual", database="appcopy", spool_dir=str(full_disk))
    assert Connection.from_settings(settings, database="appcopy").tables() == []


def test_s3_killed_mid_upload_keeps_the_previous_generation(plain_machine, tmp_path_factory, monkeypatch):
    with MariaDB(tmp_path_factory.mktemp("mariadb-big")) as server:
        s3 = SeaweedS3(tmp_path_factory.mktemp("s3dbfault")).start()
        try:
            plain_machine.servers = [s3]
            make_database(server, "appdb")
            settings = settings_for(plain_machine, server)
            first = database.backup(settings, "manual")[0]
            server.sql("INSERT INTO wp_blobs SELECT seq + 10, RANDOM_BYTES(1024) FROM seq_1_to_40000", "appdb")
            real_part = transfer.Upload.part

            def part_then_kill(self, number, data):
                real_part(self, number, data)
                if number == 3:
                    s3.kill()

            monkeypatch.setattr(transfer.Upload, "part", part_then_kill)
            with pytest.raises(AdtError, match="S3 endpoint .* to store the database backup"):
                database.backup(settings, "manual")
            monkeypatch.undo()
            s3.stop()
            s3.start()  # the same data folder, new ports
            settings = settings_for(plain_machine, server)
            client, bucket, key, answer = archive_of(plain_machine, period="manual")
            assert dump_digest(client, bucket, key) == first.dump_sha256
            second = database.backup(settings, "manual")[0]
            assert second.size > 3 * database.PART_SIZE  # a real multipart upload this time
            assert "verified" in database.verify(settings, "manual")[0]
        finally:
            s3.stop()


def test_an_unreachable_datastore_fails_the_backup_and_stops_its_dump(server, plain_machine, tmp_path_factory):
    """The uploads are prepared in a thread while the dump starts: its failure is the backup's, and the dump
    it started is gone when the backup returns."""
    make_database(server, "appdb")
    s3 = SeaweedS3(tmp_path_factory.mktemp("s3gone")).start()
    plain_machine.servers = [s3]
    settings = settings_for(plain_machine, server)
    s3.stop()
    before = set(os.listdir("/proc"))
    with pytest.raises(AdtError, match="S3 endpoint .* to store the database backup"):
        database.backup(settings, "manual")
    tools = ("mariadb-dump", "pg_dump", "igzip")
    left = [pid for pid in set(os.listdir("/proc")) - before if pid.isdigit()
            and os.path.exists(f"/proc/{pid}/comm") and open(f"/proc/{pid}/comm").read().strip() in tools
            and int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]) == os.getpid()]
    assert left == []


def test_a_missing_table_checksum_fails_rather_than_compares_equal(server, plain_machine, monkeypatch):
    make_database(server, "appdb")
    connection = Connection.from_settings(settings_for(plain_machine, server))
    sums = checksums(connection)
    assert len(sums) == 5 and all(digest for rows, digest in sums.values() if rows)
    real = connection.tables()
    monkeypatch.setattr(Connection, "tables", lambda self: real + ["wp_gone"])  # dropped meanwhile
    with pytest.raises(AdtError, match="no checksum for table\\(s\\) wp_gone|wp_gone.* does not exist"):
        checksums(connection)
