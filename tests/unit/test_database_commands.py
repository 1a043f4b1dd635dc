"""The database tools' whole command lines, per engine, as Kamal's tests state commands: what runs is
exactly this, and the password is never in it. Also the settings -> connection rules, IPMASK and the
machine's address (adt.net)."""

from pathlib import Path

import pytest

from adt import net
from adt.database import Connection, engine_of, ip_mask, mariadb, postgresql
from adt.errors import AdtError
from adt.run import dry_running
from adt.settings.machine import MachineSettings

SECRET = "pw 'x' \"y\" #z"
MARIA = Connection("mysql", "10.0.0.5", "3306", "appuser", SECRET, "appdb")
MARIA_TLS = Connection("mysql", "db.example", "25060", "appuser", SECRET, "appdb", ssl=True)
PG = Connection("postgres", "10.0.0.5", "5432", "appuser", SECRET, "appdb")
OPTIONS = "--defaults-extra-file=/dev/fd/5"
DUMP_TAIL = ["--skip-lock-tables", "--single-transaction", "--hex-blob", "--routines", "--triggers", "--force",
             "-y", "appdb"]


def test_mariadb_dump():
    assert mariadb.command(MARIA, "dump", "/dev/fd/5", installed=("mariadb-dump", "mariadb"), buffer=[]) == [
        "mariadb-dump", OPTIONS, "--skip-lock-tables", "--single-transaction", "--hex-blob", "--routines",
        "--triggers", "--force", "-y", "appdb"]


def test_mariadb_dump_over_tls():
    assert mariadb.command(MARIA_TLS, "dump", "/dev/fd/5", installed=("mariadb-dump", "mariadb"), buffer=[]) == [
        "mariadb-dump", OPTIONS, "--ssl", *DUMP_TAIL]


def test_mysqldump_where_only_mysqls_tools_are_installed():
    assert mariadb.command(MARIA, "dump", "/dev/fd/5", installed=("mysqldump", "mysql"), buffer=[]) == [
        "mysqldump", OPTIONS, "--set-gtid-purged=OFF", "--skip-column-statistics", *DUMP_TAIL]
    assert mariadb.command(MARIA_TLS, "dump", "/dev/fd/5", installed=("mysqldump", "mysql"), buffer=[]) == [
        "mysqldump", OPTIONS, "--set-gtid-purged=OFF", "--skip-column-statistics", "--ssl-mode=REQUIRED",
        *DUMP_TAIL]


@pytest.mark.parametrize("present, prefix", [(("stdbuf",), ["stdbuf", "-o1M"]), ((), [])])
def test_the_dump_writes_in_1_mib_pieces_where_stdbuf_is_installed(tmp_path, present, prefix):
    for name in present:
        (tmp_path / name).touch()
    assert mariadb.output_buffer(str(tmp_path)) == prefix
    assert mariadb.command(MARIA, "dump", "/dev/fd/5", installed=("mariadb-dump", "mariadb"), buffer=prefix) == [
        *prefix, "mariadb-dump", OPTIONS, *DUMP_TAIL]


def test_mariadb_client():
    assert mariadb.command(MARIA, "client", "/dev/fd/5", installed=("mariadb-dump", "mariadb")) == [
        "mariadb", OPTIONS, "appdb"]
    assert mariadb.command(MARIA_TLS, "client", "/dev/fd/5", installed=("mariadb-dump", "mariadb")) == [
        "mariadb", OPTIONS, "--ssl", "appdb"]
    assert mariadb.command(MARIA, "client", "/dev/fd/5", installed=("mysqldump", "mysql")) == [
        "mysql", OPTIONS, "appdb"]
    assert mariadb.command(MARIA_TLS, "client", "/dev/fd/5", installed=("mysqldump", "mysql")) == [
        "mysql", OPTIONS, "--ssl-mode=REQUIRED", "appdb"]  # MySQL 8's client has no --ssl


def test_mariadb_query_and_load_arguments():
    client = mariadb.client_command(MARIA, "/dev/fd/5")
    assert [*client, *mariadb.query_arguments("SELECT 1")] == [
        "mariadb", OPTIONS, "appdb", "-N", "-B", "-e", "SELECT 1"]
    assert [*client, *mariadb.LOAD_ARGUMENTS] == ["mariadb", OPTIONS, "appdb"]


@pytest.mark.parametrize("present, expected", [
    ((), ("mariadb-dump", "mariadb")),                                      # none: MariaDB's names, a clear error
    (("mysqldump", "mysql"), ("mysqldump", "mysql")),                       # MySQL's client packages only
    (("mariadb-dump", "mariadb", "mysqldump", "mysql"), ("mariadb-dump", "mariadb")),  # MariaDB's links both
    (("mariadb", "mysqldump", "mysql"), ("mysqldump", "mariadb")),
])
def test_the_installed_tools_are_chosen_from_the_bin_directory(tmp_path, present, expected):
    for name in present:
        (tmp_path / name).touch()
    assert mariadb.programs(str(tmp_path)) == expected


def test_postgresql_dump_and_client():
    assert PG.command("dump") == ["pg_dump", "-h", "10.0.0.5", "-p", "5432", "-U", "appuser", "-d", "appdb"]
    assert PG.command("client") == ["psql", "-h", "10.0.0.5", "-p", "5432", "-U", "appuser", "-d", "appdb",
                                    "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    assert [*PG.command("client"), *postgresql.query_arguments("SELECT 1")][-5:] == [
        "-At", "-F", "\t", "-c", "SELECT 1"]
    assert [*PG.command("client"), *postgresql.LOAD_ARGUMENTS][-1] == "--single-transaction"


def test_the_password_travels_outside_argv():
    for connection in (MARIA, MARIA_TLS):
        for tool in ("dump", "client"):
            assert not any(SECRET in word for word in connection.command(tool, "/dev/fd/5"))
        assert "PGPASSWORD" not in mariadb.environment(connection)
        assert b'password="pw \'x\' \\"y\\" #z"\n' in connection.option_file()
    for tool in ("dump", "client"):
        assert not any(SECRET in word for word in PG.command(tool))
    assert PG.option_file() is None
    assert PG.env()["PGPASSWORD"] == SECRET


def test_an_unknown_dialect_is_named():
    with pytest.raises(AdtError, match="unknown database dialect 'oracle'"):
        Connection("oracle", "h", "1", "u", "p", "n").command("dump")


def settings(tmp_path: Path, **values) -> MachineSettings:
    base = {"DBPORT": "3306", "DBUSERNAME": "appuser", "DBPASSWORD": "pw", "DBNAME": "appdb", "MYIP": "10.0.0.7"}
    path = tmp_path / "settings.dat"
    path.write_text("".join(f"{k}:{v}\n" for k, v in {**base, **values}.items()))
    return MachineSettings.load(path)


@pytest.mark.parametrize("values, dialect", [
    ({}, "mysql"), ({"DATABASEINSTALLATIONTYPE": "Maria"}, "mysql"), ({"DATABASEINSTALLATIONTYPE": "MySQL"}, "mysql"),
    ({"DATABASEINSTALLATIONTYPE": "Postgres"}, "postgres"),
    ({"DATABASEINSTALLATIONTYPE": "DBaaS", "DATABASEDBaaSINSTALLATIONTYPE": "MySQL:db-mysql-lon1"}, "mysql"),
    ({"DATABASEINSTALLATIONTYPE": "DBaaS", "DATABASEDBaaSINSTALLATIONTYPE": "Postgres:pg-1"}, "postgres"),
])
def test_the_engine_comes_from_the_installation_type(tmp_path, values, dialect):
    assert engine_of(settings(tmp_path, **values)) == dialect


def test_an_unknown_installation_type_is_refused(tmp_path):
    with pytest.raises(AdtError, match="unknown database installation type 'Oracle'"):
        engine_of(settings(tmp_path, DATABASEINSTALLATIONTYPE="Oracle"))


def test_a_connection_from_settings(tmp_path):
    assert Connection.from_settings(settings(tmp_path)) == Connection("mysql", "10.0.0.7", "3306", "appuser", "pw",
                                                                      "appdb")
    assert Connection.from_settings(settings(tmp_path), "10.0.0.9", "copy").host == "10.0.0.9"
    dbaas = settings(tmp_path, DATABASEINSTALLATIONTYPE="DBaaS", DATABASEDBaaSINSTALLATIONTYPE="Postgres:pg",
                     DBIDENTIFIER="pg.example", DBUSERNAME="admin:::app", DBPASSWORD="root:::secret")
    assert Connection.from_settings(dbaas) == Connection("postgres", "pg.example", "3306", "app", "secret", "appdb",
                                                         ssl=True)


def test_ipmask_is_the_first_two_octets(tmp_path):
    assert net.ip_mask("10.116.0.7") == "10.116.%.%"
    assert net.ip_mask("10.116.0.0/20") == "10.116.%.%"
    assert ip_mask(settings(tmp_path), "192.168.4.2") == "192.168.%.%"
    assert ip_mask(settings(tmp_path, IPMASK="10.9.%.%"), "192.168.4.2") == "10.9.%.%"


def test_the_first_global_address():
    listing = ("2: eth0    inet 10.0.0.7/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever\n"
               "3: eth1    inet 192.168.1.2/16 scope global eth1\n")
    assert net.first_address(listing) == "10.0.0.7"
    with pytest.raises(AdtError, match="no global IPv4 address"):
        net.first_address("")


def test_the_address_is_read_in_a_dry_run_too(monkeypatch):
    seen = []
    monkeypatch.setattr(net, "run", lambda args, **kw: seen.append((args, kw)) or type("R", (), {
        "stdout": "2: eth0    inet 10.0.0.7/24 scope global eth0\n"})())
    with dry_running(echo=lambda line: None):
        assert net.my_ip() == "10.0.0.7"
    assert seen == [(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                     {"what": "finding this machine's address", "changes": False})]
