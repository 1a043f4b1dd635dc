"""Passwords of any characters reach MariaDB and PostgreSQL intact: through the option file on a pipe, through
PGPASSWORD, through the SQL that creates the application's user, and in wp-config.php (real servers, real php)."""

import subprocess

import pytest

from adt.backup import database
from adt.database import Connection, checksums
from adt.database.mariadb import sql_string
from adt.errors import AdtError
from adt.machine.bootstrap import application_database_sql, php_string
from adt.settings.machine import MachineSettings
from tests.integration.test_backup_database import make_database, server  # noqa: F401 (a fixture)

# a comment sign, both quotes, a backslash, a dollar, spaces inside and at both ends, and non-ASCII
HARD = [" lead #hash 'single' \"double\" \\back $dollar `tick` ;semi é✓ trail ", "#", "\\", '"', "'", "a\\'b\"c#"]
USER = "u ser#'\"\\é"


def create_user(server, user: str, password: str, name: str) -> None:
    if server.dialect == "mysql":
        server.sql(f"DROP USER IF EXISTS {sql_string(user)}@'127.0.%.%';\n"
                   + application_database_sql(name, user, password, "127.0.%.%"))
    else:
        literal = lambda text: "'" + text.replace("'", "''") + "'"  # noqa: E731  standard_conforming_strings
        ident = '"' + user.replace('"', '""') + '"'
        server.sql(f"DROP DATABASE IF EXISTS \"{name}\"; DROP ROLE IF EXISTS {ident};")
        server.sql(f"CREATE ROLE {ident} LOGIN PASSWORD {literal(password)};")
        server.sql(f"CREATE DATABASE \"{name}\" OWNER {ident};")


@pytest.mark.parametrize("password", HARD)
def test_a_password_of_any_characters_connects(server, password):  # noqa: F811
    create_user(server, USER, password, "pwtest")
    connection = Connection(server.dialect, "127.0.0.1", str(server.port), USER, password, "pwtest")
    assert connection.query("SELECT 1") == [["1"]]
    wrong = Connection(server.dialect, "127.0.0.1", str(server.port), USER, password + "x", "pwtest")
    with pytest.raises(AdtError, match="refused a query"):
        wrong.query("SELECT 1")


def test_backup_and_restore_with_such_a_password(server, plain_machine):  # noqa: F811
    make_database(server, "pwsite")
    make_database(server, "pwcopy", schema=False)
    password = HARD[0]
    user = "hard user"
    if server.dialect == "mysql":
        server.sql(f"DROP USER IF EXISTS 'hard user'@'127.0.%.%';\n"
                   f"CREATE USER 'hard user'@'127.0.%.%' IDENTIFIED BY {sql_string(password)};\n"
                   "GRANT ALL PRIVILEGES ON `pwsite`.* TO 'hard user'@'127.0.%.%';\n"
                   "GRANT ALL PRIVILEGES ON `pwcopy`.* TO 'hard user'@'127.0.%.%';\n"
                   "GRANT SUPER ON *.* TO 'hard user'@'127.0.%.%';\n")  # the trigger's definer is another user
    else:
        server.sql(f"DROP ROLE IF EXISTS \"{user}\"; CREATE ROLE \"{user}\" LOGIN SUPERUSER PASSWORD "
                   f"'{password.replace(chr(39), chr(39) * 2)}';")
    plain_machine.write_settings(DBNAME="pwsite", DBUSERNAME=user, DBPASSWORD=password, DBPORT=str(server.port),
                                 DATABASEINSTALLATIONTYPE="Maria" if server.dialect == "mysql" else "Postgres",
                                 IPMASK="127.0.%.%", MYIP="127.0.0.1")
    settings = MachineSettings.load(plain_machine.settings_path)
    source = checksums(Connection.from_settings(settings))
    database.backup(settings, "daily")
    restored = database.restore(settings, "daily", database="pwcopy")
    assert restored.tables == source and len(source) >= 4


@pytest.mark.parametrize("bad", ["two\nlines", "carriage\rreturn", "nul\0byte"])
def test_a_line_break_in_a_password_is_refused_clearly(bad):
    connection = Connection("mysql", "127.0.0.1", "3306", "user", bad, "db")
    with pytest.raises(AdtError, match="database password holds a line break or a NUL byte"):
        connection.option_file()
    with pytest.raises(AdtError, match="database password holds a line break"):
        application_database_sql("db", "user", bad, "10.0.0.0/255.0.0.0")


def test_php_literals_read_back_exactly(tmp_path):
    values = HARD + ["", "plain", "ends with backslash\\", "\\\\'\\'", "<?php ?> */ //"]
    script = tmp_path / "echo.php"
    script.write_text("<?php\n" + "".join(f"echo {php_string(v)}, \"\\0\";\n" for v in values))
    out = subprocess.run(["php", str(script)], capture_output=True, check=True).stdout.decode()
    assert out.split("\0")[:-1] == values


def test_option_file_values_are_quoted():
    connection = Connection("mysql", "db.example", "3306", "u", 'p#"\\', "n")
    assert connection.option_file() == b'[client]\nhost="db.example"\nport="3306"\nuser="u"\npassword="p#\\"\\\\"\n'
