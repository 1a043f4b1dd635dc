"""This machine's place on the network: its address, the address mask the original's settings hold, and the
site's page as one webserver gives it.

A foundation because several domains need them and must not import one another for it: the bootstrap binds
services to the address, a database connection reaches the local server on it, the build writes IPMASK and
a database dump masks it; the build's checks, the drill and the autoscaler's readiness probe all ask a webserver
for the site's page.
"""

from __future__ import annotations

from typing import Tuple

from adt.errors import AdtError
from adt.run import run

ADDRESSES = ["ip", "-4", "-o", "addr", "show", "scope", "global"]
DATABASE_ERROR = "Error establishing a database connection"  # WordPress's page when its database does not answer


def unverified_tls():
    """A TLS client context that takes any certificate: for asking one machine by its address what it serves
    (a probe, an inventory), never for trusting it."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def web_connection(ip: str, website: str, timeout: float, port: int = 0, tls: bool = False):
    """An HTTP connection (not yet opened) to the web server at ip: plain to port 80, or with `tls` to port 443
    with SNI `website`. The certificate is not verified: this is a liveness probe of one machine by its address
    (its certificate is the site's, checked by visitors; an expired or replaced one must not make a live
    webserver look dead to the autoscaler or the build)."""
    import http.client  # here: the wrappers that import this module never fetch a page

    if not tls:
        return http.client.HTTPConnection(ip, port or 80, timeout=timeout)
    context = unverified_tls()

    class Probe(http.client.HTTPSConnection):
        def connect(self) -> None:  # TCP to the address, then TLS naming the site (SNI), as a visitor's would
            http.client.HTTPConnection.connect(self)
            self.sock = context.wrap_socket(self.sock, server_hostname=website or None)

    return Probe(ip, port or 443, timeout=timeout, context=context)


def site_page(
    ip: str, website: str, timeout: float, limit: int = -1, port: int = 0, tls: bool = False
) -> Tuple[int, str]:
    """(status, page) of GET / from the webserver at ip, asked for as `website` (a visitor whose DNS points
    there), over HTTP (port 80) or with `tls` over HTTPS (port 443, SNI `website`, the certificate not verified:
    see `web_connection`); at most `limit` bytes of the page read (all by default). OSError when it does not
    answer (an HTTP protocol error and a TLS failure included)."""
    import http.client

    connection = web_connection(ip, website, timeout, port, tls)
    try:
        connection.request("GET", "/", headers={"Host": website})
        response = connection.getresponse()
        return response.status, response.read(limit if limit >= 0 else None).decode("utf-8", "replace")
    except http.client.HTTPException as error:
        raise OSError(f"{type(error).__name__}: {error}") from None
    finally:
        connection.close()


def first_address(listing: str) -> str:
    """The first address in `ip -4 -o addr show` output (`2: eth0    inet 10.0.0.7/24 brd ...`)."""
    for line in listing.splitlines():
        return line.split()[3].split("/")[0]
    raise AdtError("this machine has no global IPv4 address")


def my_ip() -> str:
    """This machine's first global IPv4 address (the original's MYIP). A read: it runs in a dry run too."""
    return first_address(run(ADDRESSES, what="finding this machine's address", changes=False).stdout)


def ip_mask(address: str) -> str:
    """IPMASK as the original stores it: the first two octets of an address (or of a VPC range) and `.%.%`,
    the MariaDB host pattern of the /16 around it."""
    return ".".join(address.split(".")[:2] + ["%", "%"])
