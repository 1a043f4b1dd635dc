"""A connection to the application's database, whatever its engine: from the machine's settings to running
its dump and client tools, queries, table lists and per-table checksums.

What differs between MariaDB/MySQL and PostgreSQL (command lines, how the password travels, SQL) lives in
the engine modules, `mariadb` and `postgresql`, which offer the same names; this module picks one by the
connection's dialect ("mysql" or "postgres", the names the dump tools and the text transforms use).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import Dict, List, Optional, Sequence, Tuple

from adt import net, run
from adt.database import mariadb, postgresql
from adt.datastore.keys import application_part
from adt.errors import AdtError

ENGINES: Dict[str, ModuleType] = {mariadb.DIALECT: mariadb, postgresql.DIALECT: postgresql}
DUMP_NAMES = {dialect: engine.DUMP_NAME for dialect, engine in ENGINES.items()}
MARKER_TABLE = "zzzz"  # the last table of every dump: the last line names it, or the dump is incomplete


def engine_of(settings) -> str:
    """The dialect of the machine's database, from DATABASEINSTALLATIONTYPE (and DATABASEDBaaSINSTALLATIONTYPE)."""
    kind = settings.value("DATABASEINSTALLATIONTYPE") or "Maria"
    if kind == "DBaaS":
        kind = (settings.value("DATABASEDBaaSINSTALLATIONTYPE") or "").split(":", 1)[0]
    if kind in ("Maria", "MySQL"):
        return mariadb.DIALECT
    if kind == "Postgres":
        return postgresql.DIALECT
    raise AdtError(
        f"unknown database installation type {kind!r}",
        "DATABASEINSTALLATIONTYPE must be Maria, MySQL, Postgres or DBaaS (with DATABASEDBaaSINSTALLATIONTYPE)",
    )


def ip_mask(settings, host: str) -> str:
    """IPMASK as the settings hold it, or as the original derives it from the database host."""
    return settings.value("IPMASK") or net.ip_mask(host)


@dataclass
class Connection:
    dialect: str
    host: str
    port: str
    user: str
    password: str
    name: str
    ssl: bool = False

    @classmethod
    def from_settings(cls, settings, host: Optional[str] = None, database: Optional[str] = None) -> "Connection":
        """The application's database: a DBaaS at DBIDENTIFIER (over TLS), else this machine's server."""
        dbaas = settings.value("DATABASEINSTALLATIONTYPE") == "DBaaS"
        if not host:
            host = settings.require("DBIDENTIFIER") if dbaas else settings.value("MYIP") or net.my_ip()
        return cls(
            engine_of(settings),
            host,
            settings.require("DBPORT"),
            application_part(settings.require("DBUSERNAME")),
            application_part(settings.require("DBPASSWORD")),
            database or application_part(settings.require("DBNAME")),
            ssl=dbaas,
        )

    @property
    def engine(self) -> ModuleType:
        try:
            return ENGINES[self.dialect]
        except KeyError:
            raise AdtError(f"unknown database dialect {self.dialect!r}", f"use one of {', '.join(ENGINES)}") from None

    def popen(self, tool: str, extra: Sequence[str] = (), **kwargs):
        """Start `dump` or `client` (through the runner; the caller owns its pipes). MariaDB gets its password
        through an option file on an inherited pipe (/dev/fd/N): never in argv, never on disk. PostgreSQL
        gets PGPASSWORD."""
        what = f"the database {'dump' if tool == 'dump' else 'client'}"
        options = self.option_file()
        if options is None:
            return run.start([*self.command(tool, None), *extra], env=self.env(), what=what, **kwargs)
        read, write = os.pipe()
        os.write(write, options)
        os.close(write)
        try:
            return run.start(
                [*self.command(tool, f"/dev/fd/{read}"), *extra], pass_fds=(read,), env=self.env(), what=what, **kwargs
            )
        finally:
            os.close(read)

    def option_file(self) -> Optional[bytes]:
        """The option file the engine's tools read the connection from (MariaDB/MySQL), or None."""
        return self.engine.option_file(self)

    def env(self) -> Dict[str, str]:
        return dict(os.environ, **self.engine.environment(self))

    def command(self, tool: str, options_file: Optional[str] = None) -> List[str]:
        """argv of `dump` or `client` for this connection; the password never appears in it."""
        return self.engine.command(self, tool, options_file)

    def query(self, sql: str) -> List[List[str]]:
        """Rows of a query, tab-separated fields."""
        process = self.popen("client", self.engine.query_arguments(sql), stdout=run.PIPE, stderr=run.PIPE, text=True)
        out, err = process.communicate(timeout=600)
        if process.returncode != 0:
            lines = [line.strip() for line in err.splitlines() if line.strip()] or ["no message"]
            message = next((line for line in lines if line.startswith(("ERROR", "FATAL"))), lines[-1])
            raise AdtError(f"the database {self.name} at {self.host}:{self.port} refused a query: {message}")
        return [line.split("\t") for line in out.splitlines()]

    def tables(self) -> List[str]:
        return [row[0] for row in self.query(self.engine.TABLES)]


def checksums(connection: Connection, skip=(MARKER_TABLE,)) -> Dict[str, Tuple[int, str]]:
    """Per table: (rows, checksum), as the engine computes it (MariaDB's CHECKSUM TABLE … EXTENDED;
    for PostgreSQL an order-free md5 over every row's text)."""
    tables = [t for t in connection.tables() if t not in skip]
    return connection.engine.checksums(connection, tables) if tables else {}


def checksum_lines(tables: Dict[str, Tuple[int, str]]) -> List[str]:
    width = max([len(t) for t in tables] + [5])
    return [f"{name:<{width}}  {rows:>10} rows  {digest}" for name, (rows, digest) in sorted(tables.items())]
