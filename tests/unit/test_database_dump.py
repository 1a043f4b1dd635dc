"""The dump stream's pure parts: the sanitiser (the original's post-processing of a dump, per engine), the
cut into blocks of whole lines and the completion check. A block and the same lines one by one must give
the same bytes: the block path is the fast one, the line path the reference."""

import io

import pytest

from adt.database.dump import Sanitiser, blocks, completion

PAIRS = [("http://", "https://"), ("appuser", "XXXXXXXXXX"), ("10.0.%.%", "YYYYYYYYYY")]

MYSQL_DUMP = [
    b"-- MySQL dump 10.13\n",
    b"SET @@SESSION.SQL_LOG_BIN= 0;\n",
    b"SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ 'a1:1-5,\n",
    b"b2:1-3';\n",
    b"SET GLOBAL INNODB_STATS_AUTO_RECALC=1;\n",
    b"SET SESSION sql_require_primary_key = 0;\n",
    b"CREATE TABLE `wp_options` (\n",
    b"  `option_value` longtext COLLATE utf8mb4_0900_ai_ci NOT NULL\n",
    b") ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;\n",
    b"INSERT INTO `wp_options` VALUES\n",
    b"('CHARSET=x SET utf8mb4_0900_ai_ci http://www.example.com');\n",
    b"/*!50013 DEFINER=`appuser`@`10.0.%.%` SQL SECURITY DEFINER */\n",
    b"-- Dump completed on 2026-01-01\n",
]

MYSQL_SANITISED = [
    b"-- MySQL dump 10.13\n",
    b"SET SESSION sql_require_primary_key = 0;\n",
    b"CREATE TABLE `wp_options` (\n",
    b"  `option_value` longtext COLLATE utf8mb4_0900_ai_ci NOT NULL\n",
    b") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;\n",
    b"INSERT INTO `wp_options` VALUES\n",
    b"('CHARSET=x SET utf8mb4_0900_ai_ci https://www.example.com');\n",
    b"/*!50013 DEFINER=`XXXXXXXXXX`@`YYYYYYYYYY` SQL SECURITY DEFINER */\n",
    b"-- Dump completed on 2026-01-01\n",
]

# loading: what the restore strips as well (MariaDB refuses sql_require_primary_key, knows no 0900 collation)
MYSQL_LOADED = [line.replace(b"utf8mb4_0900_ai_ci", b"utf8mb4_unicode_ci") if not line.startswith(b"(") else line
                for line in MYSQL_SANITISED if not line.startswith(b"SET SESSION sql_require_primary_key")]

POSTGRES_DUMP = [
    b"CREATE TABLE public.wp_options (option_id bigint, option_value text);\n",
    b"COPY public.wp_options (option_id, option_value) FROM stdin;\n",
    b"1\tplain\n",
    b"2\ta:1:{s:3:\"url\";s:22:\"http://www.example.com\";}\n",
    b"\\.\n",
    b"SET SESSION AUTHORIZATION 'appuser';\n",
    b"-- PostgreSQL database dump complete\n",
]

POSTGRES_SANITISED = [
    *POSTGRES_DUMP[:3],
    b"2\ta:1:{s:3:\"url\";s:23:\"https://www.example.com\";}\n",
    b"\\.\n",
    b"SET SESSION AUTHORIZATION 'XXXXXXXXXX';\n",
    b"-- PostgreSQL database dump complete\n",
]


def line_by_line(dialect, lines, loading=False):
    sanitise = Sanitiser(dialect, PAIRS, loading=loading)
    return [sanitise(line) for line in lines]


@pytest.mark.parametrize("dialect, dump, expected", [("mysql", MYSQL_DUMP, MYSQL_SANITISED),
                                                     ("postgres", POSTGRES_DUMP, POSTGRES_SANITISED)])
def test_the_sanitiser_rewrites_as_the_original_does(dialect, dump, expected):
    assert b"".join(line_by_line(dialect, dump)) == b"".join(expected)
    assert Sanitiser(dialect, PAIRS).block(b"".join(dump)) == b"".join(expected)


def test_loading_a_mysql_dump_also_strips_what_mariadb_refuses():
    pairs = [(new, old) for old, new in PAIRS[1:]]
    sanitised = b"".join(MYSQL_SANITISED)
    assert Sanitiser("mysql", pairs, loading=True).block(sanitised) == b"".join(MYSQL_LOADED).replace(
        b"`XXXXXXXXXX`@`YYYYYYYYYY`", b"`appuser`@`10.0.%.%`")


@pytest.mark.parametrize("dialect", ["mysql", "postgres"])
def test_a_block_with_nothing_to_do_passes_as_the_same_object(dialect):
    quiet = b"CREATE INDEX i ON t (c);\n-- nothing here\n"
    assert Sanitiser(dialect, PAIRS).block(quiet) is quiet


def test_a_gtid_statement_split_across_blocks_is_dropped_whole():
    sanitise = Sanitiser("mysql", PAIRS)
    first = b"-- head\nSET @@GLOBAL.GTID_PURGED='a1:1-5,\n"
    second = b"b2:1-3,\nc3:1-2';\n-- tail\n"
    assert sanitise.block(first) + sanitise.block(second) == b"-- head\n-- tail\n"


def test_copy_state_follows_blocks_that_pass_untouched():
    """A COPY block opened in a quiet block: its rows in the next block are COPY rows (serialized
    lengths fixed), and after its end a plain line is plain again."""
    sanitise = Sanitiser("postgres", PAIRS)
    opened = b"COPY public.t (a) FROM stdin;\n1\tplain\n"
    assert sanitise.block(opened) is opened
    rows = b"2\ts:22:\"http://www.example.com\";\n\\.\n"
    assert sanitise.block(rows) == b"2\ts:23:\"https://www.example.com\";\n\\.\n"
    closed = b"COPY public.u (a) FROM stdin;\n\\.\n"
    assert sanitise.block(closed) is closed
    assert sanitise.block(b"-- s:22:\"http://www.example.com\"\n") == b"-- s:22:\"https://www.example.com\"\n"


def test_blocks_are_whole_lines_with_the_rest_at_the_end():
    data = b"one\ntwo\nthree\nfour"
    assert list(blocks(io.BytesIO(data), size=6)) == [b"one\n", b"two\n", b"three\n", b"four"]
    assert b"".join(blocks(io.BytesIO(data * 1000), size=64)) == data * 1000
    assert list(blocks(io.BytesIO(b""))) == []


@pytest.mark.parametrize("dialect, tail, complete", [
    ("mysql", b"-- Dump completed on 2026-01-01 10:00:00\n\n", True),
    ("mysql", b"-- Dump completed on 2026-01-01 10:00:00\nINSERT INTO t VALUES (1);\n", False),
    ("mysql", b"INSERT INTO t VALUES (1);\n", False),
    ("postgres", b"-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n\n", True),
    ("postgres", b"-- PostgreSQL database dump complete\nCOPY t FROM stdin;\n", False),
    ("postgres", b"-- Dump completed\n", False),
])
def test_a_dump_is_complete_only_when_its_tools_last_line_ends_it(dialect, tail, complete):
    assert completion(b"CREATE TABLE t (a int);\n" + tail, False, dialect) is complete
    assert completion(b"-- more comments\n", complete, dialect) is complete  # stays as it was
