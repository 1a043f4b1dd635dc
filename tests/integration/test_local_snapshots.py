"""Images (snapshots) on the local cloud host: taken from a machine whose MariaDB is being written to, and
machines made from them, with the driver alone (no whole build)."""

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from adt.cloud import local
from adt.cloud.base import UserData
from adt.cloud.local import LocalDriver, _process_state
from adt.errors import AdtError
from tests.integration.conftest import BIN, ROOT

VPC = "10.191.0.0/24"  # this test's own range
SOURCE, COPY = "db-local-isnap-0-source", "db-local-isnap-0-copy"
USER_HOME = "/home/Xsnapuser"
SETTINGS = f"{USER_HOME}/runtime/database_configuration_settings.dat"
SOCKET = "/run/mysqld/mysqld.sock"
MARIADBD = (
    f"exec mariadbd --no-defaults --user=root --datadir=/var/lib/mysql --socket={SOCKET} --skip-networking"
    " --pid-file=/run/mysqld/mariadbd.pid --log-error=/var/log/adt/mariadb.log --innodb-buffer-pool-size=32M"
)
INSTALL = (
    "mariadb-install-db --no-defaults --datadir=/var/lib/mysql --user=root --auth-root-authentication-method=socket"
    " --skip-test-db >/dev/null"
)
FILL = (
    "CREATE DATABASE snap; CREATE TABLE snap.t (id INT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(16), pad TEXT)"
    " ENGINE=InnoDB; INSERT INTO snap.t (tag) VALUES ('before')"
)
FILLER = (  # one statement (the client's delimiter is not ';' here)
    "CREATE PROCEDURE snap.fill() BEGIN LOOP INSERT INTO snap.t (tag, pad) VALUES ('during', REPEAT('x', 2000));"
    " END LOOP; END"
)


def sql(driver, name, statement, check=True, delimiter=";"):
    argv = [*driver.enter(name), "mariadb", "--no-defaults", f"--socket={SOCKET}", "-uroot", "-N", "-B",
            f"--delimiter={delimiter}", "-e", statement]
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


def wait_for_mariadb(driver, name):
    deadline = time.monotonic() + 60
    while sql(driver, name, "SELECT 1", check=False).returncode != 0:
        log = driver.host_path(name, "/var/log/adt/mariadb.log")
        assert time.monotonic() < deadline, log.read_text() if log.exists() else "no MariaDB log"
        time.sleep(0.1)


def count(driver, name, where="tag = 'during'"):
    return int(sql(driver, name, f"SELECT COUNT(*) FROM snap.t WHERE {where}").stdout)


def stopped(driver, name):
    """The machine's processes that are stopped (state T)."""
    return [pid for pid in driver._pids(f"adt-{name}") if _process_state(pid) in ("T", "t")]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("snapshots")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "key")], check=True)
    driver = LocalDriver(VPC, state_dir=str(tmp / "state"))
    writer = None
    try:
        boot = UserData(files={SETTINGS: ("DBNAME:old\n", 0o600)}, command=["sh", "-c", f"{INSTALL} && {MARIADBD}"])
        driver.create_server(SOURCE, "local", boot, 2222, (tmp / "key.pub").read_text())
        wait_for_mariadb(driver, SOURCE)
        sql(driver, SOURCE, FILL)
        sql(driver, SOURCE, FILLER, delimiter="//")
        # per-boot files, which no image holds, and a file that stays
        for path, text in ((f"{USER_HOME}/runtime/DATABASE_READY", ""), (f"{USER_HOME}/runtime/keep.dat", "kept\n"),
                           ("/run/adt/agent.pid", "1\n"), ("/var/log/adt/old.log", "old\n"),
                           ("/var/www/html/index.php", "source\n")):
            driver.host_path(SOURCE, path).parent.mkdir(parents=True, exist_ok=True)
            driver.host_path(SOURCE, path).write_text(text)
        # written to all the time: every row its own transaction, committed and flushed
        writer = subprocess.Popen([*driver.enter(SOURCE), "mariadb", "--no-defaults", f"--socket={SOCKET}", "-uroot",
                                   "-e", "CALL snap.fill()"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield {"driver": driver, "key": (tmp / "key.pub").read_text(), "tmp": tmp}
    finally:
        for name in (SOURCE, COPY):
            driver.destroy_server(name)
        driver.remove_network(force=True)
        if writer:
            writer.wait(10)  # ended with the machine's processes
        namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert "isnap" not in namespaces and driver.switch not in namespaces
        assert not Path(f"/sys/class/net/{driver.host_veth}").exists()


def test_an_image_of_a_busy_database_machine_makes_a_machine_that_recovers_it(cloud):
    driver = cloud["driver"]
    deadline = time.monotonic() + 30
    while count(driver, SOURCE) < 20:
        assert time.monotonic() < deadline, "the writer wrote nothing"
        time.sleep(0.05)
    committed = count(driver, SOURCE)
    started = time.monotonic()
    image_id = driver.snapshot(SOURCE, "database-isnap")
    took = time.monotonic() - started
    print(f"snapshot of a busy MariaDB machine: {took:.2f} s")
    # the source runs on: nothing left stopped, the writer still writes
    assert stopped(driver, SOURCE) == []
    later = count(driver, SOURCE)
    deadline = time.monotonic() + 10
    while count(driver, SOURCE) == later:
        assert time.monotonic() < deadline, "the source's writer stopped after the snapshot"
        time.sleep(0.05)
    sql(driver, SOURCE, "INSERT INTO snap.t (tag) VALUES ('after')")

    image = driver.images / image_id
    assert oct(image.stat().st_mode & 0o777) == "0o700"
    assert oct((image / "image.json").stat().st_mode & 0o777) == "0o600"
    [listed] = driver.list_snapshots()
    assert (listed.id, listed.label, listed.role, listed.source) == (image_id, "database-isnap", "database", SOURCE)
    assert listed.size > 10_000_000 and abs(listed.created - time.time()) < 60  # a MariaDB datadir
    assert json.loads((image / "image.json").read_text())["id"] == image_id
    assert driver.list_snapshots("isnap") == [listed] and driver.list_snapshots("nothing-like-it") == []
    root = image / "root"
    assert not (root / "home/Xsnapuser/runtime/DATABASE_READY").exists()
    assert (root / "home/Xsnapuser/runtime/keep.dat").read_text() == "kept\n"
    assert not (root / "run").exists() and not (root / "var/log/adt").exists()
    assert not (root / "etc/resolv.conf").exists()  # generated at each start

    started = time.monotonic()
    boot = UserData(files={SETTINGS: ("DBNAME:new\n", 0o600)}, command=["sh", "-c", MARIADBD])
    server = driver.create_server(COPY, "local", boot, 2222, cloud["key"], image=image_id)
    print(f"create from the image: {time.monotonic() - started:.2f} s")
    wait_for_mariadb(driver, COPY)
    print(f"create from the image until MariaDB answers: {time.monotonic() - started:.2f} s")
    assert server.private_ip != driver.list_servers(SOURCE)[0].private_ip
    # crash recovery from the image: every row committed before it, none written after it
    assert count(driver, COPY, "tag = 'before'") == 1 and count(driver, COPY, "tag = 'after'") == 0
    assert committed <= count(driver, COPY) <= later
    assert sql(driver, COPY, "CHECK TABLE snap.t").stdout.split()[-1] == "OK"
    assert "crash recovery" in driver.host_path(COPY, "/var/log/adt/mariadb.log").read_text()
    # per-boot things are the new machine's own; the user data overwrote the settings
    assert not driver.host_path(COPY, f"{USER_HOME}/runtime/DATABASE_READY").exists()
    assert not driver.host_path(COPY, "/run/adt/agent.pid").exists()
    assert not driver.host_path(COPY, "/var/log/adt/old.log").exists()
    assert driver.host_path(COPY, SETTINGS).read_text() == "DBNAME:new\n"
    assert (root / SETTINGS.lstrip("/")).read_text() == driver.host_path(SOURCE, SETTINGS).read_text() == "DBNAME:old\n"
    # copies: a write on the new machine changes neither the image nor the source
    subprocess.run([*driver.enter(COPY), "sh", "-c", "echo copy > /var/www/html/index.php"], check=True)
    assert driver.host_path(COPY, "/var/www/html/index.php").read_text() == "copy\n"
    assert (root / "var/www/html/index.php").read_text() == "source\n"
    assert driver.host_path(SOURCE, "/var/www/html/index.php").read_text() == "source\n"

    # a machine made from an image stands on it: the image cannot go while the machine is there; and an image
    # of that machine is its whole view (the image below and its own writes above), not only its own writes
    with pytest.raises(AdtError, match=f"image {image_id} is in use: {COPY} is made from it"):
        driver.delete_snapshot(image_id)
    second = driver.snapshot(COPY, "from-copy")
    second_root = driver.images / second / "root"
    assert (second_root / "var/www/html/index.php").read_text() == "copy\n"
    assert (second_root / SETTINGS.lstrip("/")).read_text() == "DBNAME:new\n"
    assert (second_root / "var/lib/mysql").is_dir() and any((second_root / "var/lib/mysql").iterdir())
    driver.delete_snapshot(second)

    # images outlive the machine they were taken from
    driver.destroy_server(COPY)
    assert [i.id for i in driver.list_snapshots()] == [image_id]
    driver.delete_snapshot(image_id)
    assert driver.list_snapshots() == [] and not image.exists()
    with pytest.raises(AdtError, match=f"no image {image_id} on the local cloud host"):
        driver.delete_snapshot(image_id)


def test_a_failed_copy_leaves_the_machine_running_and_no_image(cloud, monkeypatch):
    driver = cloud["driver"]
    monkeypatch.setattr(local, "image_copy", lambda parts, target: ["cp", "-a", "/nonexistent-adt-isnap", target])
    with pytest.raises(AdtError, match=f"copying {SOURCE}"):
        driver.snapshot(SOURCE, "doomed")
    assert stopped(driver, SOURCE) == []
    before = count(driver, SOURCE)
    deadline = time.monotonic() + 10
    while count(driver, SOURCE) == before:
        assert time.monotonic() < deadline, "the source's writer stopped after a failed snapshot"
        time.sleep(0.05)
    assert driver.list_snapshots("doomed") == [] and list(driver.images.glob(".*")) == []


def test_an_unknown_image_is_refused_before_anything_is_made(cloud):
    driver = cloud["driver"]
    for wrong in ("img-000000000000", "../source"):
        with pytest.raises(AdtError, match=f"no image {wrong} on the local cloud host"):
            driver.create_server("ws-local-isnap-0-unknown", "local", UserData(), 2222, cloud["key"], image=wrong)
    assert driver.list_servers("unknown") == []
    assert not (driver.state / "ws-local-isnap-0-unknown").exists()


def test_a_machine_resolves_through_the_gateway(cloud):
    driver = cloud["driver"]
    shown = subprocess.run([*driver.enter(SOURCE), "cat", "/etc/resolv.conf"], capture_output=True, text=True,
                           check=True).stdout
    assert shown == f"nameserver {driver.gateway}\n" == f"nameserver {VPC.rsplit('.', 1)[0]}.1\n"
    assert f"nameserver {driver.gateway}" not in Path("/etc/resolv.conf").read_text()  # this computer's is its own


def test_snapshot_records_go_to_the_snap_bucket_and_are_read_from_it_first(s3, tmp_path):
    from adt.build import snapshots
    from adt.datastore.endpoints import Endpoint

    endpoint = Endpoint(1, s3.endpoint, *s3.state["rw"], "us-east-1")
    values = {"WEBSITE_URL": f"www.snap{uuid.uuid4().hex[:8]}.example.com", "DNS_CHOICE": "cloudflare"}
    bucket = snapshots.bucket(values)
    client = s3.client()
    credentials = snapshots.Credentials("Xu", "pw", "n", "u", "dbpw")
    try:
        with pytest.raises(AdtError, match=f"no snapshot ids .* in the snap bucket {bucket} nor in"):
            snapshots.load(tmp_path / "a", values, endpoint)  # neither there nor here (the bucket is missing)
        folder = snapshots.record(tmp_path / "a", values, endpoint, {"database": "img-1"}, credentials)
        stored = {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode()
                  for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
        assert stored == {name: (folder / name).read_text() for name in
                          ("snapshot_ids.dat", "credentials.dat", "db_credentials.dat")}
        # another build machine (no local copy) reads the bucket's, and keeps a private copy
        loaded = snapshots.load(tmp_path / "b", values, endpoint)
        assert loaded.ids == {"database": "img-1"} and loaded.credentials == credentials
        copy = snapshots.snapshots_dir(tmp_path / "b", values["WEBSITE_URL"]) / "snapshot_ids.dat"
        assert oct(copy.stat().st_mode & 0o777) == "0o600"
        # the bucket's copy wins over a stale local one
        client.put_object(Bucket=bucket, Key="snapshot_ids.dat", Body=b"database:img-2\n")
        assert snapshots.load(tmp_path / "a", values, endpoint).ids == {"database": "img-2"}
    finally:
        for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
        client.delete_bucket(Bucket=bucket)


def test_the_snapshot_commands_take_list_and_delete_images_of_a_build(cloud, s3, tmp_path):
    """ObtainWholeMachineSnapshot.sh on a build whose one machine is the database machine above."""
    driver = cloud["driver"]
    home = tmp_path / "buildhome"
    build = home / "runtimedata" / "local" / "isnap"
    build.mkdir(parents=True)
    (home / "runtimedata" / "ACTIVE_CLOUDHOST").write_text("local\n")
    (home / "runtimedata" / "ACTIVE_BUILD_IDENTIFIER").write_text("isnap\n")
    website = f"www.snap{uuid.uuid4().hex[:8]}.example.com"
    (build / "build_environment").write_text(
        f"VPC_IP_RANGE={VPC}\nREGION=local\nWEBSITE_URL={website}\nDNS_CHOICE=NONE\nSERVER_USER=Xsnapuser\n"
        f"SERVER_USER_PASSWORD=pw\nDB_NAME=n\nDB_USERNAME=u\nDB_PASSWORD=dbpw\nS3_HOST_BASE={s3.endpoint}\n"
        f"S3_ACCESS_KEY={s3.state['rw'][0]}\nS3_SECRET_KEY={s3.state['rw'][1]}\nS3_LOCATION=us-east-1\n")
    env = {**os.environ, "BUILD_HOME": str(home), "ADT_LOCAL_STATE": str(driver.state),
           "PATH": f"{BIN}:{os.environ['PATH']}"}

    def adt(*args, entry=(str(BIN / "adt"),)):
        return subprocess.run([*entry, *args], env=env, capture_output=True, text=True, timeout=60)

    taken = adt(entry=(str(ROOT / "helperscripts" / "ObtainWholeMachineSnapshot.sh"),))
    assert taken.returncode == 0, taken.stderr
    image_id = taken.stdout.split()[1]
    assert taken.stdout.splitlines()[0] == f"database: {image_id} (of {SOURCE})"
    ids = home / "runtimedata" / "wholemachinesnapshots" / website / "snapshots" / "snapshot_ids.dat"
    assert taken.stdout.splitlines()[1] == f"recorded in {ids}" and ids.read_text() == f"database:{image_id}\n"
    assert stopped(driver, SOURCE) == []
    try:
        listed = json.loads(adt("snapshot", "list", "--json").stdout)
        assert [(i["id"], i["role"], i["source"], i["label"]) for i in listed] == [
            (image_id, "database", SOURCE, SOURCE)]
        assert image_id in adt("snapshot", "list").stdout
        dry = adt("snapshot", "delete", image_id, "--dry-run")
        assert dry.stdout == f"would remove: {driver.images / image_id}\n" and (driver.images / image_id).exists()
        wrong = adt("snapshot", "delete", image_id, "img-000000000000")
        assert wrong.returncode == 1 and "no image img-000000000000 on the local cloud host" in wrong.stderr
        assert (driver.images / image_id).exists()  # nothing deleted when one id is wrong
        assert adt("snapshot", "delete", image_id).stdout == f"deleted {image_id}\n"
        assert driver.list_snapshots() == []
    finally:
        for image in driver.list_snapshots():
            driver.delete_snapshot(image.id)
        client = s3.client()
        bucket = f"{website.replace('.', '-')}-none-snap"
        for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
        client.delete_bucket(Bucket=bucket)
