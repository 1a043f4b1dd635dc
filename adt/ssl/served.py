"""What a webserver serves on 443 against the certificate the build issued: for `adt status`.

`served_certificate` takes the peer certificate of one TLS handshake, unverified: this is an inventory by address
(which certificate does the machine at this address hand out for the website's name?), not a decision to trust
anything, so an expired, self-signed or wrongly named certificate is read and reported, never refused. Nothing
is sent after the handshake.

`compare` is pure: the served certificates (or why there is none) and the issued one in, one row per webserver out,
each with its state and the warnings an operator acts on: a certificate older than the published one (the
webserver has not picked up the renewal), one that expires within `pair.WARN_DAYS`, none served at all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import ssl
from typing import List, Mapping, Optional, Tuple, Union

from adt.errors import AdtError
from adt.ssl import pair
from adt.ssl.pair import Certificate

OLDER = "older than published"
OTHER = "not the published certificate"
EXPIRING = f"expires within {pair.WARN_DAYS} d"
EXPIRED = "expired"
NO_TLS = "no TLS"

Served = Union[Certificate, None, str, BaseException]  # None: nothing served; str or an exception: why not


class NoTls(AdtError):
    """An address that does not answer TLS; `reason` is why, without the address (a row already names it)."""

    def __init__(self, where: str, reason: str, hint: str = ""):
        super().__init__(f"{where} does not answer TLS: {reason}", hint)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Row:
    """One webserver as `adt status` shows it: `state` in words, `warnings` the categories that need action."""

    webserver: str
    serial: Optional[str]
    not_after: Optional[dt.datetime]
    state: str
    warnings: Tuple[str, ...]


def _reason(error: BaseException, timeout: float) -> str:
    if isinstance(error, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ssl.SSLError):
        return f"TLS handshake failed: {error.reason or error}"
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def served_certificate(ip: str, website: str, port: int = 443, timeout: float = 5.0) -> Certificate:
    """The leaf certificate `ip:port` serves for `website` (the TLS server name sent), unverified: an inventory by
    address, not trust. An AdtError naming the address when it does not answer TLS (refused, no answer within
    `timeout`, a failed handshake, no certificate): a NoTls, whose `reason` leaves the address out."""
    from cryptography import x509

    from adt.net import unverified_tls

    context = unverified_tls()  # inventory, not trust: see the module's docstring
    where = f"{ip}:{port}"
    try:
        with socket.create_connection((ip, port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=website or None) as tls:
                der = tls.getpeercert(binary_form=True)
    except OSError as error:
        raise NoTls(where, _reason(error, timeout), "is its web server serving HTTPS there?") from None
    if not der:
        raise NoTls(where, "no certificate served", "configure the web server's ssl_certificate")
    try:
        return pair.describe(x509.load_der_x509_certificate(der))
    except ValueError as error:
        raise AdtError(f"{where} served a certificate that does not parse: {error}") from None


def expiry(certificate: Certificate, now: dt.datetime) -> Tuple[Optional[str], Optional[str]]:
    """(words, warning) about a certificate's expiry at `now`: `expires in 3 d 4 h` and EXPIRING within
    pair.WARN_DAYS, `expired 2 h 5 min ago` and EXPIRED after it, (None, None) when there is more time left."""
    if certificate.not_after <= now:
        ago = pair.until(now, certificate.not_after)
        return ("expired just now" if ago == "now" else f"expired {ago} ago"), EXPIRED
    if certificate.not_after - now < dt.timedelta(days=pair.WARN_DAYS):
        return f"expires in {pair.until(certificate.not_after, now)}", EXPIRING
    return None, None


def _against(certificate: Certificate, issued: Optional[Certificate]) -> Tuple[str, Optional[str]]:
    if issued is None:
        return "served (none issued here to compare)", None
    if certificate.fingerprint == issued.fingerprint:
        return "current", None
    if certificate.not_before < issued.not_before:
        return OLDER, OLDER
    return "newer than published", OTHER


def compare(served: Mapping[str, Served], issued: Optional[Certificate], now: dt.datetime) -> List[Row]:
    """One row per webserver (in the order given): its served certificate against the issued one. "older" is a
    certificate other than the issued one whose not_before is earlier; a webserver that serves nothing (None) or
    failed (a reason) is `no TLS`; a served certificate that expires within pair.WARN_DAYS (or has expired) is
    warned about whatever else is said."""
    rows = []
    for webserver, found in served.items():
        if not isinstance(found, Certificate):
            why = found.reason if isinstance(found, NoTls) else getattr(found, "message", None) or str(found)
            state = NO_TLS if found is None else f"{NO_TLS}: {why}".splitlines()[0]
            rows.append(Row(webserver, None, None, state, (NO_TLS,)))
            continue
        words, warning = _against(found, issued)
        expiry_words, soon = expiry(found, now)
        rows.append(
            Row(
                webserver,
                found.serial,
                found.not_after,
                ", ".join(w for w in (words, expiry_words) if w),
                tuple(w for w in (warning, soon) if w),
            )
        )
    return rows
