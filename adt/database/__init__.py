"""The application's database, below the backups, the baselines and the machine bootstrap that all use it.

`connection`: settings -> a `Connection` (dump and client command lines, queries, tables, checksums);
`dump`: the dump as a sanitised stream, and a dump loaded back; `mariadb` and `postgresql`: what differs
between the engines, behind the same names (to add an engine: a module with those names, one entry in
`connection.ENGINES`, and its dialect in the text transforms).
"""

from adt.database.connection import DUMP_NAMES, MARKER_TABLE, Connection, checksum_lines, checksums, engine_of, ip_mask
from adt.database.dump import dump_to, load_dump

__all__ = [
    "DUMP_NAMES",
    "MARKER_TABLE",
    "Connection",
    "checksum_lines",
    "checksums",
    "dump_to",
    "engine_of",
    "ip_mask",
    "load_dump",
]
