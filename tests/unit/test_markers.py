"""The webroot markers (dba.dat, dbe.dat, dbp.dat): what the original writes, every generation's variants read
back, hostile contents refused, and the template checks with the original's kinds of mismatch."""

import pytest

from adt.errors import AdtError
from adt.machine import markers as m

SENTENCES = {
    "Maria": "For your information this application requires Maria DB as its database\n",
    "MySQL": "For your information this application requires MySQL as its database\n",
    "Postgres": "For your information this application requires Postgres as its database\n",
}


@pytest.mark.parametrize("application", m.APPLICATIONS)
@pytest.mark.parametrize("engine", m.ENGINES)
def test_written_as_the_original_writes_them_and_read_back(application, engine):
    files = m.markers(application, engine, "adtx1y2z_")
    assert files == {"dba.dat": application.upper() + "\n", "dbe.dat": SENTENCES[engine], "dbp.dat": "adtx1y2z_\n"}
    found = m.parse({name: text.encode() for name, text in files.items()})
    assert found == m.Markers(application, engine, "adtx1y2z_")
    assert found.dialect == ("postgres" if engine == "Postgres" else "mysql")


def test_wordpress_dev_site_call():
    assert m.markers("wordpress", "Maria", "wp_")["dbp.dat"] == "wp_\n"


@pytest.mark.parametrize("engine", ["maria", "MARIADB", "Maria DB", "mysql", "PostgreSQL", "postgres"])
def test_engine_names_any_case(engine):
    assert m.markers("wordpress", engine, "wp_")["dbe.dat"].startswith("For your information")


@pytest.mark.parametrize(
    "application, engine, prefix, error",
    [
        ("typo3", "Maria", "wp_", "unknown application 'typo3'"),
        ("wordpress", "Oracle", "wp_", "unknown database engine 'Oracle'"),
        ("wordpress", "Maria", "wp'; --", "table prefix \"wp'; --\" is not usable"),
    ],
)
def test_writer_refuses_what_it_cannot_write(application, engine, prefix, error):
    with pytest.raises(AdtError, match=error):
        m.markers(application, engine, prefix)


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"dba.dat": b"WORDPRESS"}, m.Markers("wordpress")),  # no trailing newline
        ({"dba.dat": b"joomla\r\n"}, m.Markers("joomla")),  # case, CRLF
        ({"dba.dat": b"\xef\xbb\xbfDrupal\n"}, m.Markers("drupal")),  # a BOM
        ({"dbe.dat": b"Postgres\n"}, m.Markers(engine="Postgres")),  # the bare engine ws.sh compares with
        ({"dbe.dat": b"MySQL"}, m.Markers(engine="MySQL")),
        ({"dbe.dat": b"maria\n"}, m.Markers(engine="Maria")),
        ({"dbe.dat": SENTENCES["Maria"].upper().encode()}, m.Markers(engine="Maria")),
        ({"dbe.dat": b"requires MariaDB (a MySQL fork)\n"}, m.Markers(engine="Maria")),
        ({"dbp.dat": b"\n"}, m.Markers(prefix="")),  # Drupal's empty prefix, echoed
        ({"dbp.dat": b"wp_"}, m.Markers(prefix="wp_")),
        ({"dba.dat": b"", "dbe.dat": b"  \n"}, m.Markers()),  # empty means missing, as the original reads it
        ({"index.php": b"<?php"}, m.Markers()),  # not a marker: ignored
    ],
)
def test_parse_is_tolerant_of_the_generations(files, expected):
    assert m.parse(files) == expected


@pytest.mark.parametrize(
    "files, error",
    [
        ({"dba.dat": b"TYPO3\n"}, r"backup.tgz: its dba.dat says 'TYPO3', not one of JOOMLA, WORDPRESS"),
        ({"dbe.dat": b"SQLite\n"}, r"its dbe.dat names no database engine: 'SQLite'"),
        ({"dbe.dat": b"MySQL or Postgres"}, r"its dbe.dat names both MySQL-like and Postgres engines"),
        ({"dbp.dat": b"wp_'; system('x');\n"}, r"its dbp.dat holds .* not a table prefix"),
        ({"dbp.dat": b"a" * 65}, r"not a table prefix"),
        ({"dba.dat": b"WORDPRESS" * 200}, r"its dba.dat is 1800 bytes, not a marker line"),
        ({"dbe.dat": b"\xff\xfeM\x00"}, r"its dbe.dat is not text"),
    ],
)
def test_parse_refuses_hostile_or_unknown_content(files, error):
    with pytest.raises(AdtError, match=error):
        m.parse(files, "backup.tgz")


def test_signatures_recognise_each_application():
    assert m.signature("./wp-settings.php") == "wordpress"
    assert m.signature("wordpress/wp-settings.php") == "wordpress"  # the original's /var/www/html/<app> layout
    assert m.signature("./administrator/manifests/files/joomla.xml") == "joomla"
    assert m.signature("core/lib/Drupal.php") == "drupal"
    assert m.signature("misc/drupal.js") == "drupal"
    assert m.signature("lib/moodlelib.php") == "moodle"
    assert m.signature("wp-content/plugins/x/wp-settings.php") is None  # too deep: a plugin's copy
    assert m.signature("index.php") is None


def test_installation_engine():
    assert m.installation_engine("Maria") == "Maria"
    assert m.installation_engine("DBaaS", "Postgres:db-s-1vcpu-1gb:15") == "Postgres"
    assert m.installation_engine("") is None
    assert m.template_engine({"DATABASEINSTALLATIONTYPE": "MySQL"}) == "MySQL"  # a machine's settings names
    with pytest.raises(AdtError, match="unknown database engine 'Oracle'"):
        m.template_engine({"DATABASE_INSTALLATION_TYPE": "Oracle"})


TEMPLATE = {"APPLICATION": "wordpress", "DATABASE_INSTALLATION_TYPE": "Maria"}


@pytest.mark.parametrize(
    "found, dump",
    [
        (m.Markers("wordpress", "Maria", "wp_"), "applicationDB.sql"),
        (m.Markers("wordpress", "MySQL", "wp_"), "applicationDB.sql"),  # MySQL and MariaDB take each other's dumps
        (m.Markers(), None),  # nothing to check against
        (m.Markers("wordpress"), "applicationDB.sql"),
    ],
)
def test_check_passes_matching_sites(found, dump):
    m.check(found, TEMPLATE, dump=dump)
    m.check(found, {"APPLICATION": "none"}, dump=dump)  # and a template that names nothing


@pytest.mark.parametrize(
    "found, values, dump, error",
    [
        (
            m.Markers("joomla"),
            TEMPLATE,
            None,
            r"application type mismatch: the template's APPLICATION is wordpress, but s3://b/k is a joomla site "
            r"\(its dba.dat\)",
        ),
        (
            m.Markers("wordpress", "Postgres"),
            TEMPLATE,
            None,
            r"database type mismatch: the template's DATABASE_INSTALLATION_TYPE is Maria, but s3://b/k requires "
            r"Postgres \(its dbe.dat\)",
        ),
        (
            m.Markers("wordpress", "Maria"),
            {"DATABASE_INSTALLATION_TYPE": "DBaaS", "DATABASE_DBaaS_INSTALLATION_TYPE": "Postgres:x"},
            None,
            r"DATABASE_INSTALLATION_TYPE is Postgres, but s3://b/k requires Maria DB",
        ),
        (
            m.Markers("wordpress", "Maria"),
            {},
            "applicationDB.psql",
            r"s3://b/k's webroot requires Maria DB \(its dbe.dat\), but its database is applicationDB.psql",
        ),
        (
            m.Markers("wordpress"),
            TEMPLATE,
            "applicationDB.psql",
            r"DATABASE_INSTALLATION_TYPE is Maria, but s3://b/k's database is applicationDB.psql "
            r"\(a Maria build restores applicationDB.sql\)",
        ),
    ],
)
def test_check_names_the_mismatch(found, values, dump, error):
    with pytest.raises(AdtError, match=error) as raised:
        m.check(found, values, "s3://b/k", dump=dump)
    assert raised.value.hint  # says what to do


def test_dump_dialect():
    assert m.dump_dialect("applicationDB.sql") == "mysql"
    assert m.dump_dialect("applicationDB.psql") == "postgres"
    assert m.dump_dialect("dump.sql") is None
