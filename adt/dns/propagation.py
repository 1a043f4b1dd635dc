"""Whether a record just written through a provider's API is answered by every one of the zone's authoritative
nameservers yet: what an ACME CA asks when it validates DNS-01. A provider's API accepts a change at once and its
nameservers serve it seconds to minutes later; a CA asked too early fails the order (the original waits a fixed
60 s). adt asks the nameservers themselves, directly, until each answers with the values, within a time-out.

The nameservers are the zone's NS records, found through this machine's resolver; their answers are asked of them
directly (no cache in between). PowerDNS on `local` needs none of this: its API's changes are in every answer at
once (its caches are off), and its zone has no NS records.
"""

from __future__ import annotations

import time
from typing import Callable, List, Optional, Sequence, Tuple

from adt.errors import AdtError

Server = Tuple[str, int]  # (IPv4 address, port)
RESOLVER_LIFETIME = 5.0  # seconds this machine's resolver has to find the zone's nameservers
QUERY_TIMEOUT = 3.0  # seconds one nameserver has to answer one question


def authoritative(zone: str, lifetime: float = RESOLVER_LIFETIME) -> List[Server]:
    """The zone's nameservers (their IPv4 addresses, port 53), found through this machine's resolver; an AdtError
    when they cannot be found."""
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver()
    resolver.lifetime = lifetime
    try:
        names = sorted(str(answer.target) for answer in resolver.resolve(zone, "NS"))
        servers = []
        for name in names:
            servers += [(str(answer), 53) for answer in resolver.resolve(name, "A")]
    except dns.exception.DNSException as error:
        raise AdtError(f"the nameservers of {zone} could not be found: {error}") from None
    if not servers:
        raise AdtError(f"{zone} has no nameserver with an IPv4 address")
    return sorted(set(servers))


def answers(server: Server, name: str, timeout: float = QUERY_TIMEOUT) -> Optional[List[str]]:
    """The TXT values one nameserver answers for name (asked of it directly, recursion off), or None when it does
    not answer."""
    import dns.exception
    import dns.flags
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype

    query = dns.message.make_query(name, "TXT")
    query.flags &= ~dns.flags.RD
    try:
        response = dns.query.udp(query, server[0], port=server[1], timeout=timeout)
    except (dns.exception.DNSException, OSError):
        return None
    if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return None
    return sorted(
        b"".join(item.strings).decode("ascii", "replace")
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.TXT
        for item in rrset
    )


def wait_visible(
    servers: Sequence[Server],
    name: str,
    values: Sequence[str],
    timeout: float,
    interval: float = 2.0,
    progress: Callable[[str], None] = lambda _: None,
) -> bool:
    """Until every server answers name's TXT with all `values` (True), or `timeout` seconds pass (False)."""
    wanted = set(values)
    deadline = time.monotonic() + timeout
    waiting = list(servers)
    while True:
        waiting = [server for server in waiting if not wanted <= set(answers(server, name) or [])]
        if not waiting:
            return True
        if time.monotonic() >= deadline:
            shown = ", ".join(f"{ip}:{port}" for ip, port in waiting)
            progress(f"  {name} TXT not yet answered by {shown} after {timeout:g} s: asking the CA anyway")
            return False
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
