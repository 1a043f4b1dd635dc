"""The webroot markers: three one-line files at the root of every site's webroot that say what it is.

`dba.dat` names the application (`WORDPRESS`, `JOOMLA`, `DRUPAL`, `MOODLE`), `dbe.dat` the database engine
its dump needs (the original writes a sentence, "For your information this application requires Maria DB as
its database"), `dbp.dat` the table prefix. They travel inside backups and baselines, so a build that restores
one learns what it restores before any machine is made (the original's InterrogateApplicationType.sh), and a
webserver learns which configuration to write. The original's generations differ in case, trailing newline
and in whether `dbe.dat` holds the sentence or the bare engine: `parse` accepts them all (the original's own
reader looks for the engine's name anywhere in the file). The files come from archives anyone with write
access to a bucket could have made, so `parse` accepts nothing but a known application, a known engine and a
prefix of letters, digits and `_` (the prefix is written into PHP configuration files).

Pure: contents in, contents or errors out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Mapping, Optional

from adt.database import DUMP_NAMES
from adt.errors import AdtError

APPLICATION_FILE, ENGINE_FILE, PREFIX_FILE = "dba.dat", "dbe.dat", "dbp.dat"
FILES = (APPLICATION_FILE, ENGINE_FILE, PREFIX_FILE)
APPLICATIONS = ("joomla", "wordpress", "drupal", "moodle")
ENGINES = ("Maria", "MySQL", "Postgres")  # DATABASE_INSTALLATION_TYPE's engines
SENTENCE = {"Maria": "Maria DB", "MySQL": "MySQL", "Postgres": "Postgres"}
DIALECTS = {"Maria": "mysql", "MySQL": "mysql", "Postgres": "postgres"}  # adt.database's dialects
LIMIT = 1024  # bytes a marker may hold: each is one short line
PREFIX = re.compile(r"^[A-Za-z0-9_]{0,64}$")
DEFAULT_PREFIXES = {"wordpress": "wp_"}  # adt's own sites before markers: the bootstrap wrote `wp_`

# Files only the application's own tree holds, for a webroot made before markers existed (the original
# keeps the application at the root or, in its recent layout, one directory down: /var/www/html/<app>).
SIGNATURES = {
    "wordpress": ("wp-settings.php",),
    "joomla": ("administrator/manifests/files/joomla.xml",),
    "drupal": ("core/lib/Drupal.php", "misc/drupal.js"),
    "moodle": ("lib/moodlelib.php",),
}


@dataclass(frozen=True)
class Markers:
    """What a webroot's markers say; None where the file is missing or empty."""

    application: Optional[str] = None  # lower case, as APPLICATION: "wordpress"
    engine: Optional[str] = None  # "Maria", "MySQL" or "Postgres"
    prefix: Optional[str] = None  # "" is a prefix too (no prefix)

    @property
    def dialect(self) -> Optional[str]:
        """The engine's dump dialect ("mysql" or "postgres"), as adt.database names it."""
        return DIALECTS[self.engine] if self.engine else None


ALIASES = {
    "maria": "Maria",
    "mariadb": "Maria",
    "maria db": "Maria",
    "mysql": "MySQL",
    "postgres": "Postgres",
    "postgresql": "Postgres",
}


def engine_name(text: str) -> str:
    """Maria, MySQL or Postgres from a DATABASE_INSTALLATION_TYPE-like value, in any case."""
    try:
        return ALIASES[text.strip().lower()]
    except KeyError:
        raise AdtError(f"unknown database engine {text!r}", f"use one of {', '.join(ENGINES)}") from None


def installation_engine(kind: Optional[str], dbaas: Optional[str] = None) -> Optional[str]:
    """The engine of DATABASE_INSTALLATION_TYPE (`DBaaS`: the first field of DATABASE_DBaaS_INSTALLATION_TYPE),
    or None when it is not set."""
    if kind == "DBaaS":
        kind = (dbaas or "").split(":", 1)[0]
    return engine_name(kind) if kind else None


def template_engine(values: Mapping[str, str]) -> Optional[str]:
    """The engine a template (or a machine's settings, by their names) asks for, or None when unset."""
    kind = values.get("DATABASE_INSTALLATION_TYPE") or values.get("DATABASEINSTALLATIONTYPE")
    dbaas = values.get("DATABASE_DBaaS_INSTALLATION_TYPE") or values.get("DATABASEDBaaSINSTALLATIONTYPE")
    return installation_engine(kind, dbaas)


def markers(application: str, engine: str, prefix: str) -> Dict[str, str]:
    """The three marker files of a webroot (name -> content) as the original writes them, for the webroot's
    root: `markers("wordpress", "Maria", "wp_")`. `engine` may be any value `engine_name` accepts."""
    if application.lower() not in APPLICATIONS:
        raise AdtError(f"unknown application {application!r}", f"use one of {', '.join(APPLICATIONS)}")
    if not PREFIX.match(prefix):
        raise AdtError(f"table prefix {prefix!r} is not usable", "use letters, digits and '_' (at most 64)")
    sentence = SENTENCE[engine_name(engine)]
    return {
        APPLICATION_FILE: application.upper() + "\n",
        ENGINE_FILE: f"For your information this application requires {sentence} as its database\n",
        PREFIX_FILE: prefix + "\n",
    }


def _text(name: str, data: bytes, where: str) -> str:
    if len(data) > LIMIT:
        raise AdtError(f"{where}: its {name} is {len(data)} bytes, not a marker line", "remove it or rewrite it")
    try:
        return data.decode("utf-8").lstrip("\ufeff").strip()
    except UnicodeDecodeError:
        raise AdtError(f"{where}: its {name} is not text", "remove it or rewrite it") from None


def parse_application(text: str, where: str = "the webroot") -> Optional[str]:
    if not text:
        return None
    if text.lower() not in APPLICATIONS:
        raise AdtError(
            f"{where}: its {APPLICATION_FILE} says {text[:40]!r}, not one of "
            f"{', '.join(a.upper() for a in APPLICATIONS)}",
            f"correct {APPLICATION_FILE}, or remove it to have the application recognised by its files",
        )
    return text.lower()


def parse_engine(text: str, where: str = "the webroot") -> Optional[str]:
    """The engine named anywhere in dbe.dat (the sentence or the bare name, any case), as the original finds it."""
    if not text:
        return None
    low = text.lower()
    named = [engine for engine in ENGINES if engine.lower() in low]
    families = {DIALECTS[engine] for engine in named}
    if len(families) != 1:
        problem = "names no database engine" if not named else "names both MySQL-like and Postgres engines"
        raise AdtError(
            f"{where}: its {ENGINE_FILE} {problem}: {text[:80]!r}",
            f"it should say which of {', '.join(ENGINES)} the site's database is",
        )
    return named[0]


def parse_prefix(text: Optional[str], where: str = "the webroot") -> Optional[str]:
    if text is None:
        return None
    if not PREFIX.match(text):
        raise AdtError(
            f"{where}: its {PREFIX_FILE} holds {text[:40]!r}, not a table prefix",
            "a prefix has letters, digits and '_' only (at most 64)",
        )
    return text


def parse(files: Mapping[str, bytes], where: str = "the webroot") -> Markers:
    """The markers among `files` (name -> content; missing ones absent). An empty dbp.dat is the empty prefix."""
    text = {name: _text(name, data, where) for name, data in files.items() if name in FILES}
    return Markers(
        parse_application(text.get(APPLICATION_FILE, ""), where),
        parse_engine(text.get(ENGINE_FILE, ""), where),
        parse_prefix(text.get(PREFIX_FILE), where),
    )


def signature(name: str) -> Optional[str]:
    """The application whose own file `name` (a path relative to the webroot, `./` allowed) is, at the root or
    one directory down; else None."""
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    for application, paths in SIGNATURES.items():
        for path in paths:
            wanted = tuple(path.split("/"))
            if parts[-len(wanted) :] == wanted and len(parts) <= len(wanted) + 1:
                return application
    return None


def dump_dialect(dump_name: str) -> Optional[str]:
    """The dialect of a dump by its file name (`applicationDB.sql` or `.psql`), else None."""
    return next((dialect for dialect, name in DUMP_NAMES.items() if name == dump_name), None)


def check(
    found: Markers,
    values: Mapping[str, str],
    where: str = "the backup",
    dump: Optional[str] = None,
) -> None:
    """Refuse a webroot (and its dump, by name) that is not what the template asks for: APPLICATION against
    dba.dat, DATABASE_INSTALLATION_TYPE against dbe.dat and the dump, and dbe.dat against the dump. MariaDB
    and MySQL take each other's dumps (the original treats both as "sql"); an unset value is not checked."""
    template = (values.get("APPLICATION") or "").lower()
    if template in APPLICATIONS and found.application and found.application != template:
        raise AdtError(
            f"application type mismatch: the template's APPLICATION is {template}, but {where} is a "
            f"{found.application} site (its {APPLICATION_FILE})",
            f"set APPLICATION to {found.application} in the template, or choose a backup of a {template} site",
        )
    engine = template_engine(values)
    if engine and found.engine and DIALECTS[engine] != DIALECTS[found.engine]:
        raise AdtError(
            f"database type mismatch: the template's DATABASE_INSTALLATION_TYPE is {engine}, but {where} "
            f"requires {SENTENCE[found.engine]} (its {ENGINE_FILE})",
            f"set DATABASE_INSTALLATION_TYPE to {found.engine} in the template, or choose another backup",
        )
    dialect = dump_dialect(dump) if dump else None
    if dialect and found.engine and DIALECTS[found.engine] != dialect:
        raise AdtError(
            f"database type mismatch: {where}'s webroot requires {SENTENCE[found.engine]} (its {ENGINE_FILE}), "
            f"but its database is {dump}",
            "the webroot and the database come from different sites: choose a matching pair",
        )
    if dialect and engine and DIALECTS[engine] != dialect:
        wanted = DUMP_NAMES[DIALECTS[engine]]
        raise AdtError(
            f"database type mismatch: the template's DATABASE_INSTALLATION_TYPE is {engine}, but {where}'s "
            f"database is {dump} (a {engine} build restores {wanted})",
            "set DATABASE_INSTALLATION_TYPE to match the database, or choose another backup",
        )
