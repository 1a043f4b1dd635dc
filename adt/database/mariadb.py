"""MariaDB and MySQL (dialect "mysql"): command lines, the option file, quoting, queries, checksums, and the
dump lines the original rewrites.

The password travels in an option file on an inherited pipe (`--defaults-extra-file=/dev/fd/N`, see
`Connection.popen`): never in argv, never on disk. Every value in that file and in the SQL we write is
quoted so that it reads back exactly, whatever characters it holds. The MySQL tools (mysqldump, mysql) are
used only where MariaDB's are absent; they take a few options of their own.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

from adt.errors import AdtError

if TYPE_CHECKING:
    from adt.database.connection import Connection

DIALECT = "mysql"
DUMP_NAME = "applicationDB.sql"
COMPLETED = b"-- Dump completed"
REQUIRE_PRIMARY_KEY = b"SET SESSION sql_require_primary_key"  # MySQL 8 only: MariaDB refuses it on a restore
HEAD = REQUIRE_PRIMARY_KEY + b" = 0;\nDROP TABLE IF EXISTS `zzzz`;\n"
TRAILER = (
    b"DROP TABLE IF EXISTS `zzzz`;\nCREATE TABLE `zzzz` ( `idxx` int(10) unsigned NOT NULL, "
    b"PRIMARY KEY (`idxx`) ) Engine=INNODB CHARSET=utf8mb4;\n"
)
# statements the original strips (from MySQL's mysqldump; other servers and DBaaS refuse them)
DROPPED = (b"SET @@SESSION.SQL_LOG_BIN", b"SET GLOBAL INNODB_STATS_AUTO_RECALC")
DATA_LINES = (b"INSERT INTO ", b"(")  # mariadb-dump 10.11 puts each row of an INSERT on a line of its own
TABLES = (
    "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
    "AND table_type = 'BASE TABLE' ORDER BY 1"
)
LOAD_ARGUMENTS: Tuple[str, ...] = ()  # the dump holds its own transaction handling


def refuse_line_breaks(value: str, what: str) -> str:
    """Settings files, option files and cron lines are line-based: a value with a line break (or a NUL) cannot
    be passed on, so it is refused clearly rather than cut."""
    if any(c in value for c in "\n\r\0"):
        raise AdtError(
            f"the {what} holds a line break or a NUL byte, which cannot be passed to the database tools",
            f"choose a {what} without one",
        )
    return value


def option_value(value: str, what: str = "value") -> str:
    """A value of a MariaDB/MySQL option file, double-quoted with `\\` and `"` escaped: the server's option
    parser unquotes it and undoes the escapes, so `#` (a comment outside quotes), quotes, backslashes, spaces
    at either end and any UTF-8 read back exactly."""
    refuse_line_breaks(value, "database " + what)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sql_string(value: str, what: str = "value") -> str:
    """A MariaDB/MySQL string literal holding `value` exactly: a quote doubled (which ends no string in any
    sql_mode) and a backslash escaped (the default sql_mode; under NO_BACKSLASH_ESCAPES it would stay doubled,
    a wrong value but never an injection)."""
    refuse_line_breaks(value, "database " + what)
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def sql_identifier(value: str, what: str = "name") -> str:
    """A MariaDB/MySQL identifier in backquotes (a backquote doubled)."""
    refuse_line_breaks(value, "database " + what)
    return "`" + value.replace("`", "``") + "`"


def option_file(connection: "Connection") -> bytes:
    """The [client] group of an option file for this connection, every value quoted."""
    values = {
        "host": connection.host,
        "port": str(connection.port),
        "user": connection.user,
        "password": connection.password,
    }
    return ("[client]\n" + "".join(f"{key}={option_value(value, key)}\n" for key, value in values.items())).encode()


def environment(connection: "Connection") -> Dict[str, str]:
    """Nothing to add: the password is in the option file."""
    return {}


def programs(bin_dir: str = "/usr/bin") -> Tuple[str, str]:
    """(dump, client) as installed: MariaDB's, or MySQL's (mysqldump, mysql) where only those are there."""

    def have(name: str) -> bool:
        return os.path.exists(os.path.join(bin_dir, name))

    dump = "mariadb-dump" if have("mariadb-dump") or not have("mysqldump") else "mysqldump"
    client = "mariadb" if have("mariadb") or not have("mysql") else "mysql"
    return dump, client


def output_buffer(bin_dir: str = "/usr/bin") -> List[str]:
    """`stdbuf -o1M` where coreutils' stdbuf is: the dump tool then writes 1 MiB at a time instead of stdio's
    4 KiB, a thousandth of the wake-ups for its reader (measured: the reader's CPU 2.1 s -> 0.9 s a GB)."""
    return ["stdbuf", "-o1M"] if os.path.exists(os.path.join(bin_dir, "stdbuf")) else []


def dump_command(connection: "Connection", options_file: str, program: str = "mariadb-dump") -> List[str]:
    """A consistent dump (one transaction, no locks) with blobs in hex, routines and triggers."""
    if program == "mysqldump":
        tool = [
            "mysqldump",
            f"--defaults-extra-file={options_file}",
            "--set-gtid-purged=OFF",
            "--skip-column-statistics",
            *(["--ssl-mode=REQUIRED"] if connection.ssl else []),
        ]
    else:
        tool = [program, f"--defaults-extra-file={options_file}", *(["--ssl"] if connection.ssl else [])]
    return [
        *tool,
        "--skip-lock-tables",
        "--single-transaction",
        "--hex-blob",
        "--routines",
        "--triggers",
        "--force",
        "-y",
        connection.name,
    ]


def client_command(connection: "Connection", options_file: str, program: str = "mariadb") -> List[str]:
    """The client; over TLS for a managed database (MySQL 8's client knows only --ssl-mode, MariaDB's --ssl)."""
    tls = ["--ssl-mode=REQUIRED"] if program == "mysql" else ["--ssl"]
    return [program, f"--defaults-extra-file={options_file}", *(tls if connection.ssl else []), connection.name]


def command(
    connection: "Connection",
    tool: str,
    options_file: Optional[str],
    installed: Optional[Tuple[str, str]] = None,
    buffer: Optional[List[str]] = None,
) -> List[str]:
    """argv of `dump` or `client`, with the tools `installed` and the dump's `buffer` prefix (default: as found
    in /usr/bin)."""
    dump, client = installed or programs()
    if tool == "dump":
        return [*(output_buffer() if buffer is None else buffer), *dump_command(connection, str(options_file), dump)]
    return client_command(connection, str(options_file), client)


def query_arguments(sql: str) -> List[str]:
    """The client's arguments for rows of tab-separated fields, no header."""
    return ["-N", "-B", "-e", sql]


def checksums(connection: "Connection", tables: Sequence[str]) -> Dict[str, Tuple[int, str]]:
    """Per table: (rows, CHECKSUM TABLE … EXTENDED)."""
    quoted = ", ".join(f"`{t}`" for t in tables)
    sums = {row[0].split(".", 1)[1]: row[1] for row in connection.query(f"CHECKSUM TABLE {quoted} EXTENDED")}
    missing = [t for t in tables if sums.get(t, "NULL") in ("", "NULL")]
    if missing:  # a comparison of two empty checksums would prove nothing
        raise AdtError(
            f"the database {connection.name} gave no checksum for table(s) {', '.join(missing)}",
            "is a table being dropped or damaged? CHECK TABLE tells",
        )
    counts = connection.query(" UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM `{t}`" for t in tables))
    return {name: (int(count), sums[name]) for name, count in counts}


class DumpLines:
    """The original's MySQL-only rewrites of a dump: GTID and binlog statements dropped, table collations
    standardised; `loading` also drops `sql_require_primary_key` (MariaDB refuses it) and maps MySQL 8's
    utf8mb4_0900_ai_ci. Data lines are never touched."""

    def __init__(self, loading: bool = False):
        self.loading = loading
        self.skipping = False  # inside a multi-line `SET @@GLOBAL.GTID_PURGED=` statement

    def marks(self) -> Tuple[bytes, ...]:
        """What a block must hold (or `skipping` be true) for us to look at its lines: the statements dropped
        all start with SET; a table's COLLATE= shares CHARSET='s line."""
        return (b"SET ", b"CHARSET=", *((b"utf8mb4_0900_ai_ci",) if self.loading else ()))

    def line_marks(self) -> Tuple[bytes, ...]:
        """A line holding none of these, read while not `skipping`, comes back as it is and changes nothing."""
        return (*self.marks(), b"COLLATE=")

    def passed(self, data: bytes, replace) -> None:
        """A quiet block went past whole: nothing to follow."""

    def __call__(self, line: bytes) -> bytes:
        if line.startswith(DATA_LINES):
            return line
        if self.skipping or line.startswith(b"SET @@GLOBAL.GTID_PURGED="):
            self.skipping = b";" not in line
            return b""
        if line.startswith(DROPPED) or (self.loading and line.startswith(REQUIRE_PRIMARY_KEY)):
            return b""
        if b"CHARSET=" in line or b"COLLATE=" in line:
            line = standard_collation(line)
        if self.loading:
            line = line.replace(b"utf8mb4_0900_ai_ci", b"utf8mb4_unicode_ci")
        return line


def standard_collation(line: bytes) -> bytes:
    """StandardiseMySQLCollations: every table-level CHARSET=… utf8mb4, every COLLATE=… utf8mb4_unicode_ci."""
    words = line.split(b" ")
    for n, word in enumerate(words):
        end = next((e for e in (b";\n", b";", b"\n") if word.endswith(e)), b"")
        if word.startswith(b"CHARSET="):
            words[n] = b"CHARSET=utf8mb4" + end
        elif word.startswith(b"COLLATE="):
            words[n] = b"COLLATE=utf8mb4_unicode_ci" + end
    return b" ".join(words)
