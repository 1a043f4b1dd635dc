"""A certificate and its key as files (`fullchain.pem`, `privkey.pem`): what they say, whether they belong together,
when they are due for renewal, and where each generation of the original keeps them. Pure: bytes and times in,
facts out; nothing here reads a file, a bucket or the clock.

Where a pair lives (the original's names, kept for mixed fleets):
- on the build machine: `runtimedata/<cloudhost>/<build>/ssl/<DNS_CHOICE>/<lets|zero>/<WEBSITEURL>/`;
- in the datastore: the ssl bucket `<U>-<DNSCHOICE>-<lets|zero>-ssl` at its root, and the older config-bucket keys
  `ssl/<WEBSITEURL>/`;
- on a webserver: `${HOME}/ssl/live/<WEBSITEURL>/`, root's and 0400.

A ZeroSSL `privkey.pem` written by the original has the chain appended after the key: only the first private key
block is the key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from adt.datastore.naming import SSL_SERVICES
from adt.errors import AdtError

FULLCHAIN = "fullchain.pem"
PRIVKEY = "privkey.pem"
PAIR = (FULLCHAIN, PRIVKEY)
RENEW_AT_REMAINING = 1 / 3  # renew when a third of the lifetime is left (Let's Encrypt's own advice)
WARN_DAYS = 7  # `adt status` warns about a served certificate that expires within a week


@dataclasses.dataclass(frozen=True)
class Certificate:
    """The leaf certificate of a chain, as an operator reads it."""

    serial: str  # hexadecimal, upper case, as `openssl x509 -serial` prints it
    not_before: dt.datetime  # aware, UTC
    not_after: dt.datetime
    names: Tuple[str, ...]  # subjectAltName DNS names
    issuer: str
    fingerprint: str  # SHA-256 of the leaf's DER, hexadecimal

    @property
    def lifetime(self) -> dt.timedelta:
        return self.not_after - self.not_before

    def covers(self, name: str) -> bool:
        name = name.lower().rstrip(".")
        for pattern in self.names:
            pattern = pattern.lower()
            if pattern == name or (pattern.startswith("*.") and name.partition(".")[2] == pattern[2:]):
                return True
        return False


def _blocks(pem: bytes, kind: str) -> List[bytes]:
    begin, end = f"-----BEGIN {kind}-----".encode(), f"-----END {kind}-----".encode()
    found, rest = [], pem
    while begin in rest:
        start = rest.index(begin)
        stop = rest.find(end, start)
        if stop < 0:
            break
        found.append(rest[start : stop + len(end)] + b"\n")
        rest = rest[stop + len(end) :]
    return found


def chain(pem: bytes, what: str = FULLCHAIN) -> list:
    """The certificates of a PEM chain, leaf first (cryptography objects); an AdtError naming `what` when there is
    none or one does not parse."""
    from cryptography import x509

    blocks = _blocks(pem, "CERTIFICATE")
    if not blocks:
        raise AdtError(f"{what} holds no certificate", "publish the whole chain, leaf first (fullchain.pem)")
    try:
        return [x509.load_pem_x509_certificate(block) for block in blocks]
    except ValueError as error:
        raise AdtError(f"{what} holds a certificate that does not parse: {error}") from None


def _serial(number: int) -> str:
    """Hexadecimal in whole bytes, as openssl prints a serial."""
    text = format(number, "X")
    return "0" + text if len(text) % 2 else text


def describe(certificate) -> Certificate:
    """A cryptography certificate as a Certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = tuple(names.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        dns = ()
    der = certificate.public_bytes(serialization.Encoding.DER)
    return Certificate(
        serial=_serial(certificate.serial_number),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        names=dns,
        issuer=certificate.issuer.rfc4514_string(),
        fingerprint=hashlib.sha256(der).hexdigest(),
    )


def leaf(pem: bytes, what: str = FULLCHAIN) -> Certificate:
    """The leaf (first) certificate of a PEM chain."""
    return describe(chain(pem, what)[0])


def private_key(pem: bytes, what: str = PRIVKEY):
    """The first private key of a PEM file (a ZeroSSL privkey.pem may carry the chain after it)."""
    from cryptography.hazmat.primitives import serialization

    for kind in ("PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"):
        blocks = _blocks(pem, kind)
        if blocks:
            try:
                return serialization.load_pem_private_key(blocks[0], password=None)
            except (ValueError, TypeError) as error:
                raise AdtError(f"{what} holds a private key that does not load: {error}") from None
    raise AdtError(f"{what} holds no private key", "the key of the certificate, in PEM, unencrypted")


def _public(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_pair(fullchain: bytes, privkey: bytes, website: str = "", now: Optional[dt.datetime] = None) -> Certificate:
    """The leaf of a pair that belongs together, or an AdtError saying what is wrong: no certificate, no key, a key
    that is not the certificate's, a certificate not for `website` (when given) or expired at `now` (when given)."""
    certificates = chain(fullchain)
    key = private_key(privkey)
    if _public(key.public_key()) != _public(certificates[0].public_key()):
        raise AdtError(
            "privkey.pem is not the key of the certificate in fullchain.pem",
            "publish both files of one issuance (adt ssl issue)",
        )
    certificate = describe(certificates[0])
    if website and not certificate.covers(website):
        raise AdtError(
            f"the certificate is for {', '.join(certificate.names) or 'no DNS name'}, not {website}",
            "issue one for WEBSITE_URL (adt ssl issue)",
        )
    if now is not None and certificate.not_after <= now:
        raise AdtError(f"the certificate expired at {certificate.not_after:%Y-%m-%d %H:%M} UTC", "renew it")
    return certificate


# -- when -------------------------------------------------------------------------------------------------------
def due_by_lifetime(certificate: Certificate) -> dt.datetime:
    """When a third of the certificate's lifetime is left."""
    return certificate.not_after - certificate.lifetime * RENEW_AT_REMAINING


def renewal_time(certificate: Certificate, suggested: Optional[dt.datetime] = None) -> dt.datetime:
    """When to renew: at a third of the lifetime left, or earlier when the CA's renewal information (RFC 9773)
    suggests an earlier time."""
    due = due_by_lifetime(certificate)
    return min(due, suggested) if suggested is not None else due


def until(moment: dt.datetime, now: dt.datetime) -> str:
    """A duration as an operator reads it: `3 d 4 h`, `2 h 5 min`, `40 s`."""
    seconds = int((moment - now).total_seconds())
    if seconds <= 0:
        return "now"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


# -- where ------------------------------------------------------------------------------------------------------
def service_word(service: str) -> str:
    """`lets` or `zero` for SSL_GENERATION_SERVICE."""
    try:
        return SSL_SERVICES[service.upper()]
    except KeyError:
        raise AdtError(
            f"unknown SSL_GENERATION_SERVICE {service!r}", f"use one of: {', '.join(SSL_SERVICES)}"
        ) from None


def build_directory(build_dir: Path, dns_choice: str, service: str, website: str) -> Path:
    """The build machine's copy: runtimedata/<cloudhost>/<build>/ssl/<DNS_CHOICE>/<lets|zero>/<WEBSITEURL>/."""
    return Path(build_dir) / "ssl" / dns_choice / service_word(service) / website


def config_keys(website: str) -> Sequence[str]:
    """The older config-bucket keys of the pair (mixed fleets)."""
    return [f"ssl/{website}/{name}" for name in PAIR]


def machine_directory(home: Path, website: str) -> Path:
    """A webserver's live pair: ${HOME}/ssl/live/<WEBSITEURL>/."""
    return Path(home) / "ssl" / "live" / website
