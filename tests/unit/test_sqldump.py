"""adt.text.sqldump on hand-written dump snippets shaped like mariadb-dump 10.11 / pg_dump 15 output."""

import pytest
from hypothesis import given, settings, strategies as st

from adt.text import sqldump
from adt.text.sqldump import DROP, escape, iter_rows, transform, unescape

MYSQL = rb"""/*M!999999\- enable the sandbox mode */ 
-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB
/*!40101 SET NAMES utf8mb4 */;
DROP TABLE IF EXISTS `wp_options`;
CREATE TABLE `wp_options` (
  `option_id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `option_name` varchar(191) NOT NULL,
  `option_value` longtext NOT NULL,
  `b` blob DEFAULT NULL,
  PRIMARY KEY (`option_id`),
  KEY `autoload` (`autoload`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
LOCK TABLES `wp_options` WRITE;
INSERT INTO `wp_options` VALUES
(1,'siteurl','http://www.example.com',NULL),
(2,'it\'s \"q\" \\ \n\r\0\Z','a:1:{s:3:\"url\";s:22:\"http://www.example.com\";}',0x00FF),
(-3,'','',0x);
UNLOCK TABLES;
CREATE TABLE `we``ird` (
  `co,l` int(11) DEFAULT NULL
) ENGINE=InnoDB;
INSERT INTO `we``ird` VALUES (1),(NULL);
INSERT INTO `we``ird` (`co,l`) VALUES (7);
DELIMITER ;;
CREATE DEFINER=`root`@`localhost` PROCEDURE `p`()
BEGIN
INSERT INTO `we``ird` VALUES (5);
END
;;
DELIMITER ;
-- Dump completed
"""

POSTGRES = b"""SET standard_conforming_strings = on;
CREATE FUNCTION public.f() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
INSERT INTO public.t VALUES (9, 'in a function');
COPY public.t (id, v) FROM stdin;
RETURN NEW;
END $$;
CREATE TABLE public.t (
    id integer NOT NULL,
    "Mixed Col" text,
    CONSTRAINT c CHECK ((id > 0))
);
COPY public.t (id, "Mixed Col") FROM stdin;
1\tplain
2\ttab\\there\\nnew \\\\ back
3\t\\N
\\.
INSERT INTO public.t VALUES (4, 'it''s');
INSERT INTO public.t OVERRIDING SYSTEM VALUE VALUES
\t(5, 'multi
line; it''s'),
\t(6, NULL);
COMMENT ON TABLE public.t IS 'costs $$';
INSERT INTO public.t VALUES (7, 'after a comment');
"""


def lines(text: bytes):
    return text.splitlines(keepends=True)


def test_dialect_for():
    assert sqldump.dialect_for("applicationDB.sql") == "mysql"
    assert sqldump.dialect_for("/x/applicationDB.psql") == "postgres"
    with pytest.raises(ValueError, match="not a database dump name"):
        sqldump.dialect_for("applicationDB.tar.gz")
    with pytest.raises(ValueError, match="unknown dump dialect 'oracle'"):
        list(iter_rows([], "oracle"))


def test_mysql_rows_columns_values_and_lines():
    rows = list(iter_rows(lines(MYSQL), "mysql"))
    assert [(r.table, r.line) for r in rows] == [("wp_options", 15), ("wp_options", 16), ("wp_options", 17),
                                                  ("we`ird", 22), ("we`ird", 22), ("we`ird", 23)]
    first, second, third = rows[:3]
    assert first.columns == ["option_id", "option_name", "option_value", "b"]
    assert first.values == ["1", "siteurl", "http://www.example.com", None]
    assert first.quoted == [False, True, True, False]
    assert first.get("option_value") == "http://www.example.com" and first.get("nope") is None
    assert second.values[1] == "it's \"q\" \\ \n\r\0\x1a"
    assert second.values[2] == 'a:1:{s:3:"url";s:22:"http://www.example.com";}'
    assert second.values[3] == "0x00FF"
    assert third.values == ["-3", "", "", "0x"]
    assert rows[3].columns == ["co,l"] and rows[4].values == [None] and rows[5].values == ["7"]


def test_passthrough_is_identity():
    src = lines(MYSQL)
    out = list(transform(src, "mysql"))
    assert all(a is b for a, b in zip(out, src)) and len(out) == len(src)
    assert b"".join(transform(src, "mysql", row_fn=lambda r: None)) == MYSQL
    assert b"".join(transform(lines(POSTGRES), "postgres", row_fn=lambda r: None)) == POSTGRES


@pytest.mark.parametrize("dialect, text", [("mysql", MYSQL), ("postgres", POSTGRES)])
def test_identity_rewrite_reescapes_to_same_bytes(dialect, text):
    assert b"".join(transform(lines(text), dialect, row_fn=lambda r: list(r.values))) == text


def test_mysql_drop_and_rewrite():
    def fn(row):
        if row.table == "wp_options" and row.values[0] == "1":
            return DROP
        if row.table == "wp_options" and row.values[0] == "-3":
            return ["-3", "new 'name'\n", None, "0x41"]
        return None
    out = b"".join(transform(lines(MYSQL), "mysql", row_fn=fn))
    assert b"INSERT INTO `wp_options` VALUES\n(2,'it\\'s" in out
    assert b",\n(-3,'new \\'name\\'\\n',NULL,0x41);\n" in out
    assert b"siteurl" not in out
    rows = [r for r in iter_rows(lines(out), "mysql") if r.table == "wp_options"]
    assert [r.values[1] for r in rows] == ["it's \"q\" \\ \n\r\0\x1a", "new 'name'\n"]


def test_mysql_statement_whose_rows_all_drop_disappears():
    out = b"".join(transform(lines(MYSQL), "mysql", row_fn=lambda r: DROP if r.table == "we`ird" else None))
    assert b"INSERT INTO `we``ird`" not in out.split(b"DELIMITER ;;")[0]
    assert b"INSERT INTO `we``ird` VALUES (5);" in out          # the procedure body is not data
    assert b"UNLOCK TABLES;\n" in out


def test_rewritten_bare_values():
    out = b"".join(transform([b"INSERT INTO `t` VALUES (1,0x41,NULL,'a');\n"], "mysql",
                             row_fn=lambda r: ["2", "0x42", "3", "0x43"]))
    assert out == b"INSERT INTO `t` VALUES (2,0x42,'3','0x43');\n"
    out = b"".join(transform([b"INSERT INTO `t` VALUES (1,2);\n"], "mysql", row_fn=lambda r: ["x'", "NULL"]))
    assert out == b"INSERT INTO `t` VALUES ('x\\'','NULL');\n"


def test_wrong_length_raises():
    with pytest.raises(ValueError, match=r"row function returned 1 values for a 4-column row \(table wp_options"):
        list(transform(lines(MYSQL), "mysql", row_fn=lambda r: ["1"]))


def test_text_fn_sees_only_non_data_lines():
    seen = []
    out = b"".join(transform(lines(MYSQL), "mysql", text_fn=lambda l: seen.append(l) or l.replace(b"LOCK", b"L0CK")))
    assert b"UNL0CK TABLES;" in out
    assert not any(l.startswith((b"INSERT INTO `wp", b"(")) for l in seen)
    assert b"INSERT INTO `we``ird` VALUES (5);\n" in seen                  # inside DELIMITER ;;


def test_postgres_rows():
    rows = list(iter_rows(lines(POSTGRES), "postgres"))
    assert [(r.values[0], r.line) for r in rows] == [("1", 16), ("2", 17), ("3", 18), ("4", 20), ("5", 22),
                                                      ("6", 24), ("7", 26)]
    assert rows[0].columns == ["id", "Mixed Col"] and rows[0].table == "t"
    assert rows[1].values[1] == "tab\there\nnew \\ back"
    assert rows[2].values == ["3", None] and rows[2].quoted == [True, False]
    assert rows[3].values == ["4", "it's"] and rows[3].quoted == [False, True]
    assert rows[3].columns == ["id", "Mixed Col"]                         # from CREATE TABLE
    assert rows[4].values == ["5", "multi\nline; it's"]


def test_postgres_drop_and_rewrite():
    def fn(row):
        if row.values[0] in ("1", "5"):
            return DROP
        if row.values[0] in ("2", "6"):
            return [row.values[0], "a\tb\\c'"]
        return None
    out = b"".join(transform(lines(POSTGRES), "postgres", row_fn=fn))
    assert b"1\tplain" not in out and b"multi" not in out
    assert b"\n2\ta\\tb\\\\c'\n3\t\\N\n\\.\n" in out
    assert b"OVERRIDING SYSTEM VALUE VALUES\n\t(6, 'a\tb\\c''');\n" in out
    rows = list(iter_rows(lines(out), "postgres"))
    assert [r.values for r in rows if r.values[0] in ("2", "6")] == [["2", "a\tb\\c'"], ["6", "a\tb\\c'"]]


def test_unterminated_insert_is_text():
    src = [b"INSERT INTO `t` VALUES\n", b"(1,'a'),\n"]
    assert list(iter_rows(src, "mysql")) == []
    assert b"".join(transform(src, "mysql", row_fn=lambda r: DROP)) == b"".join(src)


def test_unescape_forms_the_tools_do_not_write():
    assert unescape(rb"a\%b\_c\t\b\q", "mysql") == "a\\%b\\_c\t\bq"
    assert unescape(rb"\101\x42\7\q", "postgres") == "AB\x07q"
    assert escape("tab\tbs\bnul", "mysql") == b"tab\tbs\bnul"          # mariadb-dump leaves these raw
    assert escape("\x01\x1b", "postgres") == b"\x01\x1b"               # so does pg_dump


# text as it comes out of a dump: any bytes, decoded losslessly
dump_text = st.binary(max_size=60).map(lambda b: b.decode("utf-8", "surrogateescape")) | st.text(max_size=60)


@given(dump_text, st.sampled_from(sqldump.DIALECTS))
def test_escape_round_trip(value, dialect):
    raw = escape(value, dialect)
    assert unescape(raw, dialect) == value
    assert b"\n" not in raw
    if dialect == "postgres":
        assert b"\t" not in raw
    else:
        assert b"'" not in raw.replace(b"\\\\", b"").replace(b"\\'", b"")


@settings(max_examples=60)
@given(st.lists(st.lists(st.none() | dump_text | st.integers().map(str), min_size=3, max_size=3),
                min_size=1, max_size=5),
       st.sampled_from(sqldump.DIALECTS))
def test_generated_dump_parses_back(table, dialect):
    if dialect == "mysql":
        def lit(v):
            return b"NULL" if v is None else b"'" + escape(v, "mysql") + b"'"
        body = b",\n".join(b"(" + b",".join(lit(v) for v in row) + b")" for row in table)
        text = b"CREATE TABLE `t` (\n  `a` int,\n  `b` text,\n  `c` text\n);\nINSERT INTO `t` VALUES\n" + body + b";\n"
    else:
        body = b"".join(b"\t".join(b"\\N" if v is None else escape(v, "postgres") for v in row) + b"\n"
                        for row in table)
        text = b"COPY public.t (a, b, c) FROM stdin;\n" + body + b"\\.\n"
    rows = list(iter_rows(lines(text), dialect))
    assert [r.values for r in rows] == table and all(r.columns == ["a", "b", "c"] for r in rows)
    assert b"".join(transform(lines(text), dialect, row_fn=lambda r: list(r.values))) == text


def test_rewrite_values_pieces():
    up = str.upper
    assert sqldump.rewrite_values(b"(1,'a\\'b',NULL),\n", "mysql", up) == b"(1,'A\\'B',NULL),\n"
    assert sqldump.rewrite_values(b"\t(1, 'x''y');\n", "postgres", up) == b"\t(1, 'X''Y');\n"
    assert sqldump.rewrite_values(b"INSERT INTO `t` VALUES (1,'a'),(2,'b');\n", "mysql",
                                  lambda v: v.replace("b", "c")) == b"INSERT INTO `t` VALUES (1,'a'),(2,'c');\n"
    same = b"(1,'a');\n"
    assert sqldump.rewrite_values(same, "mysql", str) is same
    assert sqldump.rewrite_values(b"-- (not data\n", "mysql", up) is None
    assert sqldump.rewrite_values(b"1\ta\\tb\t\\N\n", "postgres", up, copy_row=True) == b"1\tA\\tB\t\\N\n"


@given(st.lists(st.sampled_from([b"\\", b"'", b'"', b"n", b"r", b"t", b"b", b"0", b"Z", b"x", b"7", b"%", b"N", b"f",
                                 b"v", b"\xff", b"\xfe", b"\xc0", b"\n", b"a"]), max_size=14).map(b"".join))
def test_fast_unescape_agrees_with_the_general_one(raw):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # escape_decode must never see an escape it warns on
        assert sqldump._unesc_my(raw) == sqldump._unesc_my_slow(raw)
        assert sqldump._unesc_pg(raw) == sqldump._unesc_pg_slow(raw)
