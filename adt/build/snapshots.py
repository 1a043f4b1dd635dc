"""Where a build's snapshot images are recorded, as the original keeps them, so a later build can start from them.

    runtimedata/wholemachinesnapshots/<WEBSITE_URL>/snapshots/snapshot_ids.dat    <role>:<image id> lines
                                                             credentials.dat     USERNAME:, PASSWORD: (the server user)
                                                             db_credentials.dat  DBNAME:, USERNAME:, PASSWORD:

all 0600, with copies at the root of the snap bucket `<url-dashed>-<DNS_CHOICE>-snap` (helperscripts/
ObtainWholeMachineSnapshot.sh writes them; initscripts/InitialiseSnapshots.sh reads the bucket first). A machine
made from an image keeps the image's server user and database, so their credentials travel with the ids. The
parsing and formatting of the three files are pure functions; `record` and `load` are the edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple

from adt.datastore.config import ConfigDatastore
from adt.datastore.endpoints import Endpoint
from adt.datastore.naming import check_bucket_name, snap_bucket
from adt.errors import AdtError
from adt.fs import write_atomically
from adt.run import announce, dry_run

IDS, CREDENTIALS, DB_CREDENTIALS = "snapshot_ids.dat", "credentials.dat", "db_credentials.dat"
ROLES = ("autoscaler", "webserver", "database", "authenticator", "reverseproxy")  # the roles the original images


@dataclass(frozen=True)
class Credentials:
    """The server user of the imaged machines, and their application database's credentials."""

    server_user: str
    server_password: str = field(repr=False)
    db_name: str = ""
    db_user: str = ""
    db_password: str = field(default="", repr=False)

    @classmethod
    def from_values(cls, values: Mapping[str, str]) -> "Credentials":
        """From a build's build_environment."""
        return cls(
            values.get("SERVER_USER", ""),
            values.get("SERVER_USER_PASSWORD", ""),
            values.get("DB_NAME", ""),
            values.get("DB_USERNAME", ""),
            values.get("DB_PASSWORD", ""),
        )


@dataclass(frozen=True)
class SnapshotSet:
    ids: Dict[str, str]  # role -> image id
    credentials: Credentials


# -- the files (pure) ----------------------------------------------------------------------------------------
def _fields(text: str) -> Dict[str, str]:
    """`NAME:value` lines: the value is all after the first `:` (a password may hold one); the last line of a
    name wins; blank lines and lines without `:` are skipped, as the original's grep skips them."""
    found: Dict[str, str] = {}
    for line in text.splitlines():
        name, colon, value = line.strip().partition(":")
        if colon and name:
            found[name] = value.strip()
    return found


def parse_ids(text: str) -> Dict[str, str]:
    """snapshot_ids.dat: `<role>:<id>` lines, as a role -> id map (lines with no id are skipped)."""
    return {role: image for role, image in _fields(text).items() if image}


def format_ids(ids: Mapping[str, str]) -> str:
    return "".join(f"{role}:{image}\n" for role, image in ids.items())


def upsert_ids(text: str, new: Mapping[str, str]) -> str:
    """snapshot_ids.dat with the lines of `new`'s roles replaced: old lines of those roles removed, the new ones
    appended (the original's `sed -i '/^<role>:/d'` then `echo <role>:<id> >>`); other lines kept as they were."""
    kept = [line for line in text.splitlines() if line.strip() and line.strip().partition(":")[0] not in new]
    return "".join(f"{line}\n" for line in kept) + format_ids(new)


def format_credentials(user: str, password: str) -> str:
    return f"USERNAME:{user}\nPASSWORD:{password}\n"


def parse_credentials(text: str) -> Tuple[str, str]:
    """credentials.dat: the server user and its password."""
    fields = _fields(text)
    return fields.get("USERNAME", ""), fields.get("PASSWORD", "")


def format_db_credentials(name: str, user: str, password: str) -> str:
    return f"DBNAME:{name}\nUSERNAME:{user}\nPASSWORD:{password}\n"


def parse_db_credentials(text: str) -> Tuple[str, str, str]:
    """db_credentials.dat: the database name, user and password."""
    fields = _fields(text)
    return fields.get("DBNAME", ""), fields.get("USERNAME", ""), fields.get("PASSWORD", "")


# -- where they are ------------------------------------------------------------------------------------------
def _need(values: Mapping[str, str], *names: str) -> Tuple[str, ...]:
    missing = [name for name in names if not values.get(name)]
    if missing:
        raise AdtError(
            f"the build has no {', '.join(missing)}", "snapshots are recorded per WEBSITE_URL and DNS_CHOICE"
        )
    return tuple(values[name] for name in names)


def snapshots_dir(build_home: Path, website_url: str) -> Path:
    return Path(build_home) / "runtimedata" / "wholemachinesnapshots" / website_url / "snapshots"


def bucket(values: Mapping[str, str]) -> str:
    """The snap bucket of a build. DNS_CHOICE lower-cased: the original's choices are (cloudflare, digitalocean...),
    and the local templates' NONE would make a name S3 refuses."""
    url, dns = _need(values, "WEBSITE_URL", "DNS_CHOICE")
    return check_bucket_name(snap_bucket(url, dns.lower()), "WEBSITE_URL and DNS_CHOICE")


# -- the edges -----------------------------------------------------------------------------------------------
def record(
    build_home: Path,
    values: Mapping[str, str],
    endpoint: Optional[Endpoint],
    images: Mapping[str, str],
    credentials: Credentials,
) -> Path:
    """Upsert `images` (role -> id) into snapshot_ids.dat, write the credentials beside it, and copy the three
    files to the snap bucket (made when missing) when an endpoint is given. The folder they are in."""
    (url,) = _need(values, "WEBSITE_URL")
    store = ConfigDatastore([endpoint], bucket(values)) if endpoint else None
    folder = snapshots_dir(build_home, url)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    ids = folder / IDS
    old = ids.read_text() if ids.exists() else ""
    write_atomically(ids, upsert_ids(old, images), 0o600)
    write_atomically(folder / CREDENTIALS, format_credentials(credentials.server_user, credentials.server_password))
    written = [IDS, CREDENTIALS]
    if credentials.db_name or credentials.db_user:
        text = format_db_credentials(credentials.db_name, credentials.db_user, credentials.db_password)
        write_atomically(folder / DB_CREDENTIALS, text, 0o600)
        written.append(DB_CREDENTIALS)
    if store:
        for name in written:
            store.put(name, folder / name)
    return folder


def load(build_home: Path, values: Mapping[str, str], endpoint: Optional[Endpoint]) -> SnapshotSet:
    """The images to build from and their credentials: the snap bucket's copies first (fetched over the local
    ones, as InitialiseSnapshots.sh does), else the local files."""
    (url,) = _need(values, "WEBSITE_URL")
    folder = snapshots_dir(build_home, url)
    where = str(folder)
    if endpoint:
        store = ConfigDatastore([endpoint], bucket(values))
        where = f"the snap bucket {store.bucket} nor in {folder}"
        for name in (IDS, CREDENTIALS, DB_CREDENTIALS):
            store.get(name, folder / name)  # atomic, 0600; False (and the local file kept) when it is absent
    ids = folder / IDS
    if not ids.is_file() or not parse_ids(ids.read_text()):
        raise AdtError(
            f"no snapshot ids ({IDS}) in {where}",
            "take images of a live build first: adt snapshot take (helperscripts/ObtainWholeMachineSnapshot.sh), "
            "or build once with GENERATE_SNAPSHOTS=1",
        )
    credentials = folder / CREDENTIALS
    if not credentials.is_file():
        raise AdtError(f"no {CREDENTIALS} beside {ids}", "the images' server user is needed: take the snapshots again")
    user, password = parse_credentials(credentials.read_text())
    db = folder / DB_CREDENTIALS
    name, db_user, db_password = parse_db_credentials(db.read_text()) if db.is_file() else ("", "", "")
    return SnapshotSet(parse_ids(ids.read_text()), Credentials(user, password, name, db_user, db_password))


def take(config, roles: Sequence[str] = ROLES, progress: Callable[[str], None] = print) -> Dict[str, str]:
    """An image of the first machine (by name) of each role of a live build (`config`, a BuildConfig), recorded
    as the original's ObtainWholeMachineSnapshot.sh records them; role -> image id. Each image is labelled with
    its machine's name, as the original names a droplet's snapshot."""
    driver = config.driver()
    ids: Dict[str, str] = {}
    for role in roles:
        machines = sorted(config.servers(driver, role), key=lambda server: server.name)
        if machines:
            ids[role] = driver.snapshot(machines[0].name, machines[0].name)
            progress(f"{role}: {ids[role]} (of {machines[0].name})")
    if not ids:
        raise AdtError(f"build {config.name} has no machines of {', '.join(roles)}", "build it first (adt build)")
    if dry_run():
        folder = snapshots_dir(config.build_home, config.value("WEBSITE_URL"))
        announce(f"{folder}/{{{IDS},{CREDENTIALS},{DB_CREDENTIALS}}} and their copies in the snap bucket", "write")
        return ids
    folder = record(config.build_home, config.values, config.endpoint(), ids, Credentials.from_values(config.values))
    progress(f"recorded in {folder / IDS}")
    return ids
