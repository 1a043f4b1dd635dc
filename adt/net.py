"""This machine's place on the network: its address, and the address mask the original's settings hold.

A foundation because several domains need them and must not import one another for it: the bootstrap binds
services to the address, a database connection reaches the local server on it, the build writes IPMASK and
a database dump masks it.
"""

from __future__ import annotations

from adt.errors import AdtError
from adt.run import run

ADDRESSES = ["ip", "-4", "-o", "addr", "show", "scope", "global"]


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
