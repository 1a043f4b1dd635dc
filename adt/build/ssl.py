"""The build machine's certificate for a build: issue, renew when due, publish, and the cron line that keeps it so.

One issuer for the fleet (the build machine), as the original has it. A run:
1. takes the build's lock (`runtimedata/<ch>/<id>/ssl/.lock`): two runs never race, the second says so and exits 1;
2. reads the build's pair (its copy under ssl/<DNS_CHOICE>/<lets|zero>/<URL>/, else the ssl bucket's);
3. decides: a pair that is missing, broken or not for WEBSITE_URL is issued now; else renewal is due at a third of
   its lifetime left, or earlier when the CA's renewal information (RFC 9773) says so. Nothing due: it says when
   the next renewal is, makes sure the datastore holds this pair (a publication that failed is made again), and
   changes nothing else;
4. issues through DNS-01 with the build's DNS (PowerDNS on `local`, the DNS_CHOICE provider elsewhere), keeps the
   previous pair beside the new one (`*.previous-<UTC time>`), then publishes to the ssl bucket and the config
   bucket, read back.

A CA that fails leaves everything as it was (the served certificate stays) and exits 1 with one line; the next run
starts again from the top.

Cron: `/etc/cron.d/adt-ssl-<cloudhost>-<build>` runs InitialiseNewSSLCertificate.sh for the build four times a day
(the original writes its line commented out, daily). It is written by the build that first publishes a certificate
and removed by `adt destroy`.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from adt.build.config import BuildConfig
from adt.errors import AdtError
from adt.fs import held, write_atomically
from adt.ssl import pair as p
from adt.ssl.issuer import PROPAGATION

CRON_DIRECTORY = Path(os.environ.get("ADT_CRON_D", "/etc/cron.d"))
CRON_WHEN = "17 */6 * * *"


def enabled(build: BuildConfig) -> bool:
    """Whether this build's webservers get a certificate: AUTOMATIC generation, a website, and a CA to ask (on
    `local`, one given by SSL_ACME_DIRECTORY: the public CAs cannot see a local zone)."""
    v = build.values
    if (v.get("SSL_GENERATION_METHOD") or "AUTOMATIC") != "AUTOMATIC" or not v.get("WEBSITE_URL"):
        return False
    return build.cloudhost != "local" or bool(v.get("SSL_ACME_DIRECTORY"))


def plan(build: BuildConfig) -> str:
    """A dry run's line: the certificate a build would issue (or keep), from which CA, through which DNS."""
    from adt.ssl.issuer import Authority

    v = build.values
    return (
        f"a certificate for {v['WEBSITE_URL']} from {Authority.from_values(v).directory} through DNS-01 at "
        f"{v.get('DNS_CHOICE') or 'NONE'} (kept when one is published and not due), before any machine"
    )


def directory(build: BuildConfig) -> Path:
    v = build.values
    return p.build_directory(
        build.dir, v.get("DNS_CHOICE") or "NONE", v.get("SSL_GENERATION_SERVICE") or "ZEROSSL", v["WEBSITE_URL"]
    )


def buckets(build: BuildConfig) -> Tuple[str, str]:
    """(ssl bucket, config bucket) of the build."""
    from adt.datastore.naming import config_bucket, ssl_bucket

    v = build.values
    service = (v.get("SSL_GENERATION_SERVICE") or "ZEROSSL").upper()
    return (
        ssl_bucket(v["WEBSITE_URL"], v.get("DNS_CHOICE") or "NONE", service),
        config_bucket(v["WEBSITE_URL"], v["SERVER_USER"]),
    )


def locked(build: BuildConfig):
    """The build's certificate lock: a second run fails at once, naming the first one's pid."""
    return held(build.dir / "ssl" / ".lock", f"certificate run for {build.name}")


def local_pair(build: BuildConfig) -> Optional[Tuple[bytes, bytes]]:
    folder = directory(build)
    files = [folder / name for name in p.PAIR]
    if all(f.exists() for f in files):
        return files[0].read_bytes(), files[1].read_bytes()
    return None


def published_pair(build: BuildConfig) -> Optional[Tuple[bytes, bytes]]:
    from adt.ssl.publish import read

    return read([build.endpoint()], buckets(build)[0], list(p.PAIR))


def keep(build: BuildConfig, new: Tuple[bytes, bytes], now: dt.datetime) -> None:
    """The new pair becomes the build's copy; the one before stays beside it (`*.previous-<UTC time>`)."""
    folder = directory(build)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    for name, body in zip(p.PAIR, new):
        target = folder / name
        if target.exists():
            os.replace(target, folder / f"{name}.previous-{stamp}")
        write_atomically(target, body.decode(), 0o600)


def publish(build: BuildConfig, pair: Tuple[bytes, bytes]) -> None:
    from adt.ssl.publish import publish as put

    ssl_bucket, config_bucket = buckets(build)
    put([build.endpoint()], ssl_bucket, config_bucket, build.values["WEBSITE_URL"], pair)


def dns_for(build: BuildConfig):
    """The build's DNS, for DNS-01: its PowerDNS on `local` (the API key in the server's own file), the DNS_CHOICE
    provider elsewhere."""
    from adt.dns import provider

    v = build.values
    if v.get("DNS_CHOICE") == "powerdns" and not (v.get("DNS_API_URL") and v.get("DNS_SECURITY_KEY")):
        from adt.build.development import dns_home

        return provider(v, dns_home(build.driver()))
    return provider(v)


def issuer(build: BuildConfig, progress: Callable[[str], None]):
    from adt.ssl.issuer import Authority, Issuer

    return Issuer(Authority.from_values(build.values), build.dir / "ssl" / "acme", progress)


def current(build: BuildConfig, now: dt.datetime) -> Tuple[Optional[Tuple[bytes, bytes]], str]:
    """The build's pair and why it must be issued again ('' when it is good): its copy, else the bucket's."""
    found = local_pair(build) or published_pair(build)
    if found is None:
        return None, "no certificate yet"
    try:
        p.check_pair(found[0], found[1], build.values["WEBSITE_URL"], now)
    except AdtError as error:
        return found, str(error)
    return found, ""


def renew(
    build: BuildConfig,
    force: bool = False,
    progress: Callable[[str], None] = print,
    now: Optional[dt.datetime] = None,
    dns=None,
) -> List[str]:
    """One run (see the module's docstring); the lines it says. AdtError when the CA or the datastore fails."""
    from adt.run import announce, dry_run

    build.require("WEBSITE_URL", "SERVER_USER", "S3_HOST_BASE")
    website = build.values["WEBSITE_URL"]
    now = now or dt.datetime.now(dt.timezone.utc)
    with locked(build):
        found, why = current(build, now)
        ca = issuer(build, progress)
        if found is not None and not why and not force:
            certificate = p.leaf(found[0])
            suggested = ca.suggested_renewal(found[0])
            due = p.renewal_time(certificate, suggested)
            if now < due:
                reason = (
                    "the CA's renewal window"
                    if suggested is not None and suggested < p.due_by_lifetime(certificate)
                    else "a third of its lifetime left"
                )
                lines = [
                    f"nothing due: {website}'s certificate {certificate.serial} expires "
                    f"{certificate.not_after:%Y-%m-%d %H:%M} UTC; renewal due {due:%Y-%m-%d %H:%M} UTC "
                    f"(in {p.until(due, now)}, {reason})"
                ]
                if published_pair(build) != found:
                    lines.append("the datastore did not hold this certificate: published it again")
                    if dry_run():
                        announce(f"the certificate of {website} to its ssl and config buckets", "publish")
                    else:
                        publish(build, found)
                if local_pair(build) is None and not dry_run():
                    keep(build, found, now)
                return lines
            why = f"renewal due since {due:%Y-%m-%d %H:%M} UTC"
        elif force:
            why = "asked for (--force)"
        if dry_run():
            announce(f"a certificate for {website} from {ca.authority.directory} ({why})", "issue")
            return [f"would issue: {why}"]
        progress(f"issuing a certificate for {website} ({why})")
        wait = float(build.values.get("SSL_DNS_PROPAGATION_TIMEOUT") or PROPAGATION)
        fullchain, privkey = ca.issue(website, dns or dns_for(build), propagation=wait)
        certificate = p.check_pair(fullchain, privkey, website, now)
        keep(build, (fullchain, privkey), now)
        publish(build, (fullchain, privkey))
        ensure_cron(build)
        due = p.due_by_lifetime(certificate)
        return [
            f"issued {website}'s certificate {certificate.serial}, valid until "
            f"{certificate.not_after:%Y-%m-%d %H:%M} UTC; published to s3://{buckets(build)[0]} and "
            f"s3://{buckets(build)[1]}/ssl/{website}/; renewal due {due:%Y-%m-%d %H:%M} UTC"
        ]


def install(build: BuildConfig, fullchain: bytes, privkey: bytes, now: Optional[dt.datetime] = None) -> List[str]:
    """A pair obtained elsewhere (the manual method): checked, kept and published like an issued one."""
    now = now or dt.datetime.now(dt.timezone.utc)
    website = build.values["WEBSITE_URL"]
    with locked(build):
        certificate = p.check_pair(fullchain, privkey, website, now)
        keep(build, (fullchain, privkey), now)
        publish(build, (fullchain, privkey))
    return [f"installed {website}'s certificate {certificate.serial}, valid until {certificate.not_after:%Y-%m-%d}"]


# -- cron ---------------------------------------------------------------------------------------------------------
def cron_file(build: BuildConfig) -> Path:
    return CRON_DIRECTORY / f"adt-ssl-{build.cloudhost}-{build.build_identifier}"


def cron_text(build: BuildConfig) -> str:
    """The cron.d file: the original's renewal line, enabled, four times a day, its output in the build's logs. The
    script is this adt checkout's (BUILD_HOME may be another folder); an installed adt without one runs the command."""
    from adt.settings.paths import TOOLKIT

    home = build.build_home
    log = build.dir / "logs" / "ssl-renewal.log"
    script = TOOLKIT / "initscripts" / "InitialiseNewSSLCertificate.sh"
    command = f'"{script}"' if script.is_file() else "adt ssl initialise"
    return (
        "# adt: renew the build's certificate when due (adt ssl renew); removed by adt destroy\n"
        "SHELL=/bin/sh\nPATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin\n"
        f'{CRON_WHEN} root export BUILD_HOME="{home}" HARDCORE="1" && {command} "none" "none" '
        f'"{build.build_identifier}" "{build.cloudhost}" >> "{log}" 2>&1\n'
    )


def ensure_cron(build: BuildConfig) -> None:
    path = cron_file(build)
    text = cron_text(build)
    if not path.parent.is_dir():
        return  # no cron on this machine: the operator runs adt ssl renew (status says when it is due)
    if not path.exists() or path.read_text() != text:
        write_atomically(path, text, 0o644)


def remove_cron(build: BuildConfig) -> None:
    cron_file(build).unlink(missing_ok=True)
