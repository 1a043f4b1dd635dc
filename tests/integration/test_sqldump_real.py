"""sqldump and branding against real dumps: a throwaway MariaDB and PostgreSQL 15 server each.

Tricky values are loaded through hex literals (never through our own escaping), dumped with the real tools,
run through `transform` / the branding replacer, imported back, and compared with what the server holds.
The servers come from tests/services/databases.py and are stopped by their own PIDs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from adt.text import branding, serialized, sqldump
from adt.text.sqldump import DROP
from tests.services.databases import PG_BIN, MariaDB, Postgres

URL, NAME, DBUSER, MASK = "www.example.com", "Example_Site", "dbuser1", "10.173.%.%"


def ser(s: str) -> str:
    return f's:{len(s.encode())}:"{s}";'


INNER = "a:2:{" + ser("url") + ser("https://www.example.com/wp") + ser("mail") + ser("me@example.com") + "}"
WP_OPTION = "a:3:{" + ser("home") + ser("http://www.example.com") + ser("nested") + ser(INNER) + \
    ser("name") + ser("Example Site ünï 😀 \"quoted\" it's") + "}"
TRICKY = ["it's", 'say "hi"', "back\\slash \\\\ \\n", "line\nbreak\r\n", "tab\there", "ctrl-z\x1a bs\b ff\f vt\v \x01",
          "ünïcødé 😀 中文", "", "\\N", "\\.", "NULL", "'; DROP TABLE x; --", "%_\\%\\_", "$$ not a body $$",
          WP_OPTION, ser(WP_OPTION), "see http://www.example.com/?p=1 and mail@example.com from 10.173.%.%",
          "Example Site EXAMPLE SITE example site-online ExaSite dbuser1"]
BIG = "x" * 7000 + "\n" + WP_OPTION                       # 200 of these force several INSERT statements
BLOBS = [bytes(range(256)), b"", b"\0\0", b"'\\\"", None]


def values(big=200):
    """(id, text or None, blob or None) rows; `big` long ones (200 make mariadb-dump split its INSERTs)."""
    rows = [(i + 1, v, BLOBS[i % len(BLOBS)]) for i, v in enumerate(TRICKY)]
    rows.append((len(rows) + 1, None, None))
    rows += [(len(rows) + 1 + i, f"{i} {BIG}", None) for i in range(big)]
    return rows


def pg_values():
    return values(big=5)


# ---------------------------------------------------------------- MariaDB
class Maria:
    def __init__(self, socket: Path):
        self.sock, self.cache = str(socket), {}

    def sql(self, text, db="", raw_input=False) -> bytes:
        args = ["mariadb", f"--socket={self.sock}", "-u", "root", "-N", "-B"] + ([db] if db else [])
        return subprocess.run(args, input=text if raw_input else text.encode(), check=True,
                              capture_output=True).stdout

    def dump(self, db, *extra) -> bytes:
        if db == "src" and (db, extra) in self.cache:
            return self.cache[db, extra]
        args = ["mariadb-dump", f"--socket={self.sock}", "-u", "root", "--single-transaction", "--hex-blob",
                "--routines", "--triggers", "-y", *extra, db]
        out = self.cache[db, extra] = subprocess.run(args, check=True, capture_output=True).stdout
        return out

    def fresh(self, name, dump: bytes):
        self.sql(f"DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name}")
        self.sql(dump, name, raw_input=True)

    def rows(self, db):
        out = self.sql("SELECT option_id, IFNULL(HEX(option_value),'-'), IFNULL(HEX(b),'-') FROM wp_options "
                       "ORDER BY option_id", db)
        return [(int(i), None if t == "-" else bytes.fromhex(t).decode(), None if b == "-" else bytes.fromhex(b))
                for i, t, b in (ln.decode().split("\t") for ln in out.splitlines())]


@pytest.fixture(scope="module")
def maria(tmp_path_factory):
    with MariaDB(tmp_path_factory.mktemp("mariadb-sqldump")) as server:
        m = Maria(server.socket)
        lits = []
        for i, text, blob in values():
            t = "NULL" if text is None else f"CONVERT(X'{text.encode().hex()}' USING utf8mb4)"
            b = "NULL" if blob is None else f"X'{blob.hex()}'"
            lits.append(f"({i},{t},{b},{-i}.5,b'101')")
        m.sql("CREATE DATABASE src CHARACTER SET utf8mb4; USE src;"
              "CREATE TABLE wp_options (option_id bigint unsigned NOT NULL AUTO_INCREMENT, option_value longtext,"
              " b blob, f double, bt bit(3), PRIMARY KEY (option_id));"
              "CREATE TABLE `we``ird` (`co,l` int, `x)` text);"
              "INSERT INTO `we``ird` VALUES (1,'a'),(NULL,NULL);"
              "CREATE TRIGGER trg BEFORE INSERT ON `we``ird` FOR EACH ROW SET NEW.`co,l` = NEW.`co,l` + 1;"
              "INSERT INTO wp_options VALUES " + ",".join(lits) + ";")
        m.sql("DELIMITER ;;\nCREATE PROCEDURE p() BEGIN\nINSERT INTO `we``ird` VALUES (5,'proc');\nEND;;\n", "src")
        yield m


def test_mariadb_dump_identity_copy_is_byte_identical_and_imports(maria):
    dump = maria.dump("src")
    assert dump.count(b"INSERT INTO `wp_options` VALUES\n") >= 2          # multi-line, several statements
    rows = list(sqldump.iter_rows(dump.splitlines(keepends=True), "mysql"))
    assert [r.table for r in rows].count("we`ird") == 2                   # the procedure body is no data
    got = {r.values[0]: r for r in rows if r.table == "wp_options"}
    for i, text, blob in values():
        assert got[str(i)].get("option_value") == text
        assert got[str(i)].get("b") == (None if blob is None else "0x" + blob.hex().upper() if blob else "")
    out = b"".join(sqldump.transform(dump.splitlines(keepends=True), "mysql", row_fn=lambda r: list(r.values)))
    assert out == dump
    maria.fresh("copy", out)
    assert maria.dump("copy", "--skip-comments") == maria.dump("src", "--skip-comments")


def test_mariadb_drop_and_rewrite_import(maria):
    def fn(row):
        if row.table != "wp_options":
            return None
        if int(row.values[0]) % 3 == 0:
            return DROP
        new = list(row.values)
        new[1] = None if new[1] is None else new[1][::-1] + "\0'\\\n"
        return new
    out = b"".join(sqldump.transform(maria.dump("src").splitlines(keepends=True), "mysql", row_fn=fn))
    maria.fresh("rewritten", out)
    expected = [(i, None if t is None else t[::-1] + "\0'\\\n", b) for i, t, b in values() if i % 3]
    assert maria.rows("rewritten") == expected


def test_mariadb_branding_remove_then_apply(maria):
    remove = branding.SqlLineReplacer(branding.sql_pairs(URL, NAME, DBUSER, MASK), "mysql")
    branded = b"".join(remove(line) for line in maria.dump("src").splitlines(keepends=True))
    assert branding.remaining(branded, URL) == 0
    assert branding.check_dump(branded.splitlines(keepends=True), "mysql") == []
    maria.fresh("branded", branded)
    pairs = branding.sql_pairs(URL, NAME, DBUSER, MASK)
    stored = maria.rows("branded")
    assert stored == [(i, None if t is None else serialized.replace(t, pairs), b) for i, t, b in values()]
    assert all(serialized.check(t) == [] for _, t, _ in stored if t)
    assert any('s:32:"http://www.applicationdomain.tld"' in t for _, t, _ in stored if t)
    # a restore: the branded database dumped again, then the placeholders applied back
    apply = branding.SqlLineReplacer(branding.apply_sql_pairs(URL, NAME, DBUSER, MASK), "mysql")
    restored = b"".join(apply(line) for line in maria.dump("branded").splitlines(keepends=True))
    maria.fresh("restored", restored)
    assert maria.rows("restored") == maria.rows("src")


# ---------------------------------------------------------------- PostgreSQL
class Pg:
    def __init__(self, server: Postgres):
        self.root, self.port, self.cache = str(server.dir), str(server.port), {}

    def run(self, tool, *args, input=None) -> bytes:
        return subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / tool), "-h", self.root,
                               "-p", self.port, "-U", "postgres", *args], input=input, check=True,
                              capture_output=True).stdout

    def sql(self, text, db="postgres") -> bytes:
        return self.run("psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, "-f", "-",
                        input=text if isinstance(text, bytes) else text.encode())

    def dump(self, db, *extra) -> bytes:
        if db == "src" and (db, extra) in self.cache:
            return self.cache[db, extra]
        out = self.cache[db, extra] = self.run("pg_dump", *extra, db)
        return out

    def fresh(self, name, dump: bytes):
        self.run("psql", "-X", "-q", "-c", f"DROP DATABASE IF EXISTS {name}", "-c", f"CREATE DATABASE {name}")
        self.sql(dump, name)

    def rows(self, db):
        out = self.sql("SELECT id, coalesce(encode(convert_to(val, 'UTF8'), 'hex'), '-'), "
                       "coalesce(encode(b, 'hex'), '-') FROM wp_options ORDER BY id", db)
        return [(int(i), None if t == "-" else bytes.fromhex(t).decode(), None if b == "-" else bytes.fromhex(b))
                for i, t, b in (ln.decode().split("|") for ln in out.splitlines())]


def comparable(dump: bytes) -> bytes:
    """pg_dump 15.14+ brackets a dump with \\restrict / \\unrestrict and a random key: not data."""
    return b"".join(ln for ln in dump.splitlines(keepends=True) if not ln.startswith((b"\\restrict", b"\\unrestrict")))


@pytest.fixture(scope="module")
def pg():
    with Postgres() as server:
        db = Pg(server)
        lits = []
        for i, text, blob in pg_values():
            t = "NULL" if text is None else f"convert_from('\\x{text.encode().hex()}'::bytea, 'UTF8')"
            b = "NULL" if blob is None else f"'\\x{blob.hex()}'::bytea"
            lits.append(f"({i}, {t}, {b}, {-i}.5)")
        db.sql("CREATE DATABASE src")
        db.sql("CREATE TABLE wp_options (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, val text, b bytea,"
               " f double precision);"
               "CREATE TABLE \"Other\" (\"Mixed Col\" text, j jsonb);"
               "INSERT INTO \"Other\" VALUES ('a\tb', '{\"k\": \"v\\\"q\"}'), (NULL, NULL);"
               "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
               "INSERT INTO \"Other\" VALUES ('trigger', NULL);\nRETURN NEW;\nEND $$;"
               "CREATE TRIGGER t AFTER DELETE ON wp_options FOR EACH ROW EXECUTE FUNCTION f();"
               "INSERT INTO wp_options OVERRIDING SYSTEM VALUE VALUES " + ",".join(lits) + ";", "src")
        yield db


@pytest.mark.parametrize("style", [(), ("--inserts",), ("--rows-per-insert=7",)])
def test_pg_dump_identity_copy_is_byte_identical_and_imports(pg, style):
    dump = pg.dump("src", *style)
    rows = [r for r in sqldump.iter_rows(dump.splitlines(keepends=True), "postgres") if r.table == "wp_options"]
    assert [(int(r.get("id")), r.get("val")) for r in rows] == [(i, t) for i, t, _ in pg_values()]
    out = b"".join(sqldump.transform(dump.splitlines(keepends=True), "postgres", row_fn=lambda r: list(r.values)))
    assert out == dump
    if style != ("--inserts",):                              # one import per data format is enough
        pg.fresh("copy", out)
        assert comparable(pg.dump("copy")) == comparable(pg.dump("src"))


def test_pg_drop_and_rewrite_import(pg):
    def fn(row):
        if row.table != "wp_options":
            return None
        if int(row.values[0]) % 3 == 0:
            return DROP
        new = list(row.values)
        new[1] = None if new[1] is None else new[1][::-1] + "\t'\\\n\r"
        return new
    out = b"".join(sqldump.transform(pg.dump("src").splitlines(keepends=True), "postgres", row_fn=fn))
    pg.fresh("rewritten", out)
    expected = [(i, None if t is None else t[::-1] + "\t'\\\n\r", b) for i, t, b in pg_values() if i % 3]
    assert pg.rows("rewritten") == expected


@pytest.mark.parametrize("style", [(), ("--rows-per-insert=7",)])
def test_pg_branding_remove_then_apply(pg, style):
    pairs = branding.sql_pairs(URL, NAME, DBUSER, MASK)
    remove = branding.SqlLineReplacer(pairs, "postgres")
    branded = b"".join(remove(line) for line in pg.dump("src", *style).splitlines(keepends=True))
    assert branding.remaining(branded, URL) == 0
    if not style:
        assert branding.check_dump(branded.splitlines(keepends=True), "postgres") == []
    pg.fresh("branded", branded)
    stored = pg.rows("branded")
    expected = [(i, None if t is None else serialized.replace(t, pairs), b) for i, t, b in pg_values()]
    # with --inserts a string spanning lines can't be decoded from one line: it gets a plain replacement
    assert [r for r, (_, t, _) in zip(stored, pg_values()) if not (style and t and "\n" in t)] == \
        [r for r, (_, t, _) in zip(expected, pg_values()) if not (style and t and "\n" in t)]
    assert all(serialized.check(t) == [] for _, t, _ in stored if t and "\n" not in t)
    if style:                                                # the restore below reads a COPY dump anyway
        return
    apply = branding.SqlLineReplacer(branding.apply_sql_pairs(URL, NAME, DBUSER, MASK), "postgres")
    restored = b"".join(apply(line) for line in pg.dump("branded").splitlines(keepends=True))
    pg.fresh("restored", restored)
    assert pg.rows("restored") == pg.rows("src")
