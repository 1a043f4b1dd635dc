"""The restore drill's database comparison against real MariaDB and SeaweedFS, with the real backup code: a
database restored from a backup digests (by `adt drill digest`, as the drill's database machine runs it) to the
backup's own facts; when the backup is replaced by one whose dump lost rows, or by a cut one, the drill fails
naming the table, or the incomplete dump. (The whole drill, passing, runs on a real fleet in
test_local_production.py.)"""

import gzip
import io
import json
import tarfile

import pytest

from adt.backup import database
from adt.build import drill
from adt.datastore.endpoints import endpoints_from_settings
from adt.errors import AdtError
from tests.integration.conftest import Machine
from tests.integration.test_backup_database import make_database, settings_for
from tests.services.databases import MariaDB


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory):
    with MariaDB(tmp_path_factory.mktemp("drill-mariadb")) as db:
        yield db


def digest(machine, name):
    """`adt drill digest` on the "machine" whose settings name the database `name`."""
    settings_for(machine, machine.server, name)
    said = machine.run("drill", "digest", timeout=120)
    assert said.returncode == 0, said.stderr
    return drill.DumpFacts.from_json(json.loads(said.stdout))


def test_a_drill_finds_what_a_replaced_or_cut_backup_lost(tmp_path, s3, mariadb):
    machine = Machine(tmp_path, [s3], agent=False)
    machine.server = mariadb
    make_database(mariadb, "appdb")
    mariadb.sql("INSERT INTO appdb.wp_options (option_name, option_value) VALUES ('blogname', 'Drill ''n'' test'), "
                "('_transient_doing_cron', '1.5'), ('cron', 'a:0:{}')")
    settings = settings_for(machine, mariadb, "appdb")
    database.backup(settings, "HOURLY")  # the real backup code, the original's format
    endpoint = endpoints_from_settings(settings)[0]
    backup = drill.backup_dump(endpoint, machine.website, "hourly")
    assert backup.options["blogname"] == "Drill 'n' test" and backup.left_out == 2

    # the drill's database: the backup restored by the real restore code, then dumped again on its "machine"
    make_database(mariadb, "restored", schema=False)
    database.restore(settings, "hourly", database="restored")
    mariadb.sql("UPDATE restored.wp_options SET option_value = '9.9' WHERE option_name = '_transient_doing_cron'")
    restored = digest(machine, "restored")
    assert restored.tables == backup.tables and len(backup.tables) == 5  # a visit's transient changes nothing
    assert drill.compare_tables(backup.tables, restored.tables) == []

    # the backup replaced by one whose dump lost two posts (made by the real backup code too)
    mariadb.sql("DELETE FROM appdb.wp_posts WHERE post_title IS NULL OR post_title = 'Empty'")
    database.backup(settings_for(machine, mariadb, "appdb"), "HOURLY")
    lost = drill.backup_dump(endpoint, machine.website, "hourly")
    check = drill.differences_check("database", f"{len(lost.tables)} tables",
                                    drill.compare_tables(lost.tables, restored.tables))
    assert not check.ok
    assert check.differences == ["wp_posts: 1 rows in the backup, 3 in the drill database"]
    assert check.detail.startswith("1 differ of 5 tables: wp_posts:")

    # the backup replaced by a cut one (the original's format: a gzip tar of applicationDB.sql), its end lost
    client = s3.client()
    bucket, key = f"{machine.website.replace('.', '-')}-db-hourly", f"{machine.website.split('.')[1]}-DB-backup.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(client.get_object(Bucket=bucket, Key=key)["Body"].read()), mode="r:gz") as t:
        dump = t.extractfile(t.getmember("applicationDB.sql")).read()
    cut = dump[: dump.index(b"-- Dump completed")]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("applicationDB.sql")
        info.size = len(cut)
        archive.addfile(info, io.BytesIO(cut))
    client.put_object(Bucket=bucket, Key=key, Body=gzip.compress(buffer.getvalue()))
    with pytest.raises(AdtError, match=r"its dump does not end with the zzzz marker: it is incomplete"):
        drill.backup_dump(endpoint, machine.website, "hourly")
