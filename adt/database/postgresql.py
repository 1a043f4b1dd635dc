"""PostgreSQL (dialect "postgres"): command lines of pg_dump and psql, queries, checksums, and what the dump
stream must follow of a dump (its COPY blocks).

The password travels in PGPASSWORD, in the environment of the tool only (never in argv, never on disk).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from adt.database.connection import Connection

DIALECT = "postgres"
DUMP_NAME = "applicationDB.psql"
COMPLETED = b"-- PostgreSQL database dump complete"
HEAD = b""
TRAILER = b"DROP TABLE IF EXISTS public.zzzz;\nCREATE TABLE public.zzzz ( idxx serial PRIMARY KEY );\n"
COPY_MARKS = re.compile(rb"^(?:COPY .* FROM stdin;|\\\.)$", re.M)  # where pg_dump's COPY blocks start and end
TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
LOAD_ARGUMENTS = ("--single-transaction",)  # a dump loads whole or not at all


def option_file(connection: "Connection") -> None:
    """None: no option file, the password goes in the environment."""
    return None


def environment(connection: "Connection") -> Dict[str, str]:
    return {"PGPASSWORD": connection.password}


def _target(connection: "Connection") -> List[str]:
    return ["-h", connection.host, "-p", str(connection.port), "-U", connection.user, "-d", connection.name]


def dump_command(connection: "Connection") -> List[str]:
    """pg_dump's plain format, in one snapshot."""
    return ["pg_dump", *_target(connection)]


def client_command(connection: "Connection") -> List[str]:
    """psql without the user's psqlrc, quiet, stopping at the first error."""
    return ["psql", *_target(connection), "-X", "-q", "-v", "ON_ERROR_STOP=1"]


def command(
    connection: "Connection", tool: str, options_file: Optional[str] = None, installed: Optional[Tuple[str, str]] = None
) -> List[str]:
    """argv of `dump` or `client` (no option file, one set of tools: the arguments are for the same shape)."""
    return dump_command(connection) if tool == "dump" else client_command(connection)


def query_arguments(sql: str) -> List[str]:
    """psql's arguments for rows of tab-separated fields, unaligned, tuples only."""
    return ["-At", "-F", "\t", "-c", sql]


def checksums(connection: "Connection", tables: Sequence[str]) -> Dict[str, Tuple[int, str]]:
    """Per table: (rows, an order-free md5 over every row's text)."""
    sql = " UNION ALL ".join(
        f"SELECT '{t}', count(*), coalesce(md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))), '') "
        f'FROM public."{t}" x'
        for t in tables
    )
    return {name: (int(count), digest) for name, count, digest in connection.query(sql)}


class DumpLines:
    """pg_dump's output needs no rewrite of its own; only the replacer's COPY-block state must follow the
    blocks that pass whole."""

    def __init__(self, loading: bool = False):
        self.loading = loading

    def quiet(self, data: bytes) -> bool:
        return True

    def passed(self, data: bytes, replace) -> None:
        """Keep the replacer's COPY-block state right without visiting lines."""
        marks = list(COPY_MARKS.finditer(data))
        if marks:
            replace.in_copy = marks[-1].group().startswith(b"COPY ")

    def __call__(self, line: bytes) -> bytes:
        return line
