"""A webserver's side of TLS: fetch the pair the build machine published and install it as the live pair nginx
serves (`RenewSSLCertificate.sh`, daily at 03:35 as the original's, and adt's check every 5 minutes; and the first
boot of a webserver with SERVEHTTPS:1, before nginx starts).

Where from: the ssl bucket `<U>-<DNSCHOICE>-<lets|zero>-ssl` at its root, else (older fleets) the config bucket's
`ssl/<WEBSITEURL>/`; both through the one S3 client factory (`ConfigDatastore.get`), into a private staging
directory beside the live one.

What is installed: a new pair only when both files differ from the live ones and they belong together (the key is
the certificate's, the certificate names WEBSITEURL and has not expired). A pair with only one file new (a
publication half done, or a broken one) is never installed, and neither is a broken pair: the live pair stays in
service and the run says why and fails.

How: the staging directory gets the new pair and, in `previous/`, a copy of the pair it replaces; files root's and
0400, directories 0700 (nginx's master runs as root and reads them when it starts or reloads). It then takes the
live directory's place in one step (renameat2 RENAME_EXCHANGE: nginx never finds one file new and the other old,
not even after a crash), and nginx is reloaded gracefully (its old workers finish their connections). When nginx
refuses the new pair, the previous one is put back. A lock (fcntl) keeps two runs from racing.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import errno
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from adt.datastore.config import ConfigDatastore
from adt.datastore.endpoints import endpoints_from_settings
from adt.datastore.naming import ssl_bucket
from adt.errors import AdtError
from adt.fs import held
from adt.ssl import pair
from adt.ssl.publish import places

LOCK_WAIT = 120.0  # seconds a run waits for another to finish (a fetch takes a second or two)
BOOT_ATTEMPTS = 5  # the original's first-boot download: five attempts
BOOT_PAUSE = 10.0  # seconds between them
PREVIOUS = "previous"  # the pair before the live one, kept in the live directory
RENAME_EXCHANGE = 2  # linux/fs.h


def website_of(settings) -> str:
    return settings.require("WEBSITEURL")


def live_directory(settings, home: Path) -> Path:
    return pair.machine_directory(home, website_of(settings))


def sources(settings) -> List[Tuple[ConfigDatastore, List[str]]]:
    """Where the pair is looked for, in the order the build publishes it (`adt.ssl.publish.places`): the ssl
    bucket's root (when DNSCHOICE and SSLGENERATIONSERVICE are set), then the config bucket's `ssl/<WEBSITEURL>/`
    (fleets older than the ssl bucket)."""
    website = website_of(settings)
    dns, service = settings.value("DNSCHOICE") or "", (settings.value("SSLGENERATIONSERVICE") or "").upper()
    config = ConfigDatastore.from_settings(settings)
    ssl = ssl_bucket(website, dns, service) if dns and service else ""
    return [
        (config if bucket == config.bucket else ConfigDatastore(endpoints_from_settings(settings), bucket), list(keys))
        for bucket, keys in places(ssl, config.bucket, website)
        if bucket
    ]


def where(settings) -> str:
    """The places `sources` looks, as an operator reads them."""
    places = []
    for store, keys in sources(settings):
        folder = keys[0].rpartition("/")[0]
        places.append(f"s3://{store.bucket}/{folder + '/' if folder else ''}")
    return " or ".join(places)


def _private_directory(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def _root_only(path: Path, mode: int) -> None:
    if os.geteuid() == 0:
        os.chown(path, 0, 0, follow_symlinks=False)
    os.chmod(path, mode, follow_symlinks=False)


def fetch(settings, home: Path) -> Optional[Path]:
    """Both files of the published pair, downloaded into a new private directory beside the live one (the caller
    removes it), from the first place that has both; None when no place has both."""
    live = live_directory(settings, home)
    _private_directory(live.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{live.name}.new-", dir=live.parent))
    try:
        for store, keys in sources(settings):
            got = [store.get(key, staging / name) for key, name in zip(keys, pair.PAIR)]
            if all(got):
                for name in pair.PAIR:
                    _root_only(staging / name, 0o400)
                return staging
            for name in pair.PAIR:
                (staging / name).unlink(missing_ok=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return None


def _read(directory: Path) -> Dict[str, Optional[bytes]]:
    return {name: (directory / name).read_bytes() if (directory / name).is_file() else None for name in pair.PAIR}


def decide(new: Dict[str, bytes], live: Dict[str, Optional[bytes]], website: str, now: dt.datetime):
    """What to do with a published pair (pure): None when it is the live one (nothing new), else its leaf
    (pair.Certificate) when it may be installed; an AdtError saying why it may not (one file new, a broken
    pair)."""
    complete = all(live[name] is not None for name in pair.PAIR)
    changed = [name for name in pair.PAIR if new[name] != live[name]]
    if complete and not changed:
        return None
    if complete and len(changed) == 1:
        raise AdtError(
            f"only {changed[0]} of the published pair for {website} differs from the live one: not installing half "
            "a pair (the live pair stays in service)",
            "publish both files of one issuance, each with a new key (adt ssl issue)",
        )
    try:
        return pair.check_pair(new[pair.FULLCHAIN], new[pair.PRIVKEY], website, now)
    except AdtError as error:
        stays = " (the live pair stays in service)" if complete else ""
        raise AdtError(f"not installing the published pair for {website}: {error.message}{stays}", error.hint) from None


def exchange(a: Path, b: Path) -> None:
    """Swap two directories in one step (renameat2 RENAME_EXCHANGE, Linux 3.15+); where the filesystem cannot,
    by two renames (the old one first moved aside, put back if the second fails)."""
    libc = ctypes.CDLL(None, use_errno=True)
    function = getattr(libc, "renameat2", None)
    if function is not None:
        at_cwd = -100
        if function(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), RENAME_EXCHANGE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(code, f"exchanging {a} and {b}: {os.strerror(code)}")
    aside = b.with_name(f".{b.name}.aside-{os.getpid()}")
    os.rename(b, aside)
    try:
        os.rename(a, b)
    except BaseException:
        os.rename(aside, b)
        raise
    os.rename(aside, a)


def locked(home: Path, wait: float = LOCK_WAIT):
    """${HOME}/ssl/.install.lock: a second run waits for the first (at most `wait` seconds)."""
    return held(Path(home) / "ssl" / ".install.lock", "certificate install", wait)


def _describe(certificate: pair.Certificate) -> str:
    return f"serial {certificate.serial}, expires {certificate.not_after:%Y-%m-%d %H:%M} UTC"


def install(
    settings,
    home: Path,
    reload: Optional[Callable[[], None]] = None,
    now: Optional[dt.datetime] = None,
    lock_wait: float = LOCK_WAIT,
) -> str:
    """Install the published pair as ${HOME}/ssl/live/<WEBSITEURL>/ when it is new and sound, keeping the pair it
    replaces in `previous/`, then `reload()` (nginx's graceful reload; None at first boot, before nginx starts).
    Returns what it did (`nothing new: …` when the published pair is the live one); an AdtError when nothing is
    published, or the published pair is half new or broken (never installed), or the reload refused it (the
    previous pair is put back)."""
    website = website_of(settings)
    live = live_directory(settings, home)
    now = now or dt.datetime.now(dt.timezone.utc)
    with locked(home, lock_wait):
        staging = fetch(settings, home)
        if staging is None:
            raise AdtError(
                f"no certificate for {website} is published (looked in {where(settings)})",
                "issue one on the build machine (adt ssl issue), or build without SERVEHTTPS",
            )
        try:
            return _install_staged(staging, live, website, now, reload)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _install_staged(staging: Path, live: Path, website: str, now: dt.datetime, reload) -> str:
    new = _read(staging)
    current = _read(live) if live.is_dir() else dict.fromkeys(pair.PAIR)
    certificate = decide({name: new[name] or b"" for name in pair.PAIR}, current, website, now)
    if certificate is None:
        served = pair.leaf(new[pair.FULLCHAIN] or b"")
        return f"nothing new: the live certificate of {website} is the published one ({_describe(served)})"
    kept = all(current[name] is not None for name in pair.PAIR)
    if kept:
        previous = staging / PREVIOUS
        _private_directory(previous)
        for name in pair.PAIR:
            shutil.copyfile(live / name, previous / name)
            _root_only(previous / name, 0o400)
        _root_only(previous, 0o700)
    _root_only(staging, 0o700)
    if live.is_dir():
        exchange(staging, live)  # the live directory is the new pair; staging holds the old, removed after
    else:
        if live.is_symlink() or live.exists():
            raise AdtError(f"{live} is not a directory: not installing through it", "remove it, then run this again")
        os.rename(staging, live)
    if reload is not None:
        try:
            reload()
        except AdtError as error:
            if live.is_dir() and staging.is_dir():
                exchange(staging, live)  # nginx keeps serving the previous pair: the disk says so again
                hint = "the previous pair is back in place; read nginx's error log"
            else:
                hint = "read nginx's error log"
            raise AdtError(f"nginx did not take the new certificate for {website}: {error.message}", hint) from None
    done = f"installed the certificate for {website} ({_describe(certificate)}) in {live}"
    if kept:
        done += f"; the previous pair kept in {live / PREVIOUS}"
    return done + ("; nginx reloaded" if reload is not None else "")


def ensure(
    settings, home: Path, attempts: int = BOOT_ATTEMPTS, pause: float = BOOT_PAUSE, now: Optional[dt.datetime] = None
) -> str:
    """First boot (before nginx starts): install the published pair, trying `attempts` times `pause` s apart (the
    build may still be publishing it). A live pair already there that is sound (a machine made from a snapshot)
    is served when the published one cannot be installed; otherwise an AdtError: HTTPS cannot be served."""
    website = website_of(settings)
    failure: Optional[AdtError] = None
    for attempt in range(1, attempts + 1):
        try:
            return install(settings, home, reload=None, now=now)
        except AdtError as error:
            failure = error
            print(f"certificate for {website}, attempt {attempt} of {attempts}: {error.message}", file=sys.stderr)
        if attempt < attempts:
            time.sleep(pause)
    live = live_directory(settings, home)
    current = _read(live) if live.is_dir() else dict.fromkeys(pair.PAIR)
    if current[pair.FULLCHAIN] and current[pair.PRIVKEY]:
        try:
            certificate = pair.check_pair(
                current[pair.FULLCHAIN] or b"",
                current[pair.PRIVKEY] or b"",
                website,
                now or dt.datetime.now(dt.timezone.utc),
            )
            return f"serving the certificate already in {live} ({_describe(certificate)})"
        except AdtError:
            pass
    assert failure is not None
    raise AdtError(
        f"this webserver cannot serve HTTPS for {website}: {failure.message}",
        failure.hint or "publish a certificate from the build machine (adt ssl issue), then rebuild",
    )
