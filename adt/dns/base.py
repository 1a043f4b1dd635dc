"""DNS round robin behind one interface: the zone of WEBSITEURL, its A records, add one, delete one.

The round robin is the fleet's load balancer: one A record per live webserver for WEBSITEURL. Every provider
(PowerDNS on `local` now; the clouds' and Cloudflare's DNS later) is a `DnsProvider`, so the build and the
autoscaler call the same five methods. The zone rule is the original's (`awk -F. '{$1=""}1'` in the autoscaler's
AddIPToDNS.sh): WEBSITEURL without its first label.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from adt.errors import AdtError
from adt.settings.machine import setting  # noqa: F401 - the DNS settings are read by it (adt.dns.setting)

DEFAULT_TTL = 60  # the original's TTL for digitalocean, exoscale, linode and vultr records


@dataclass(frozen=True)
class Record:
    """One A record of WEBSITEURL. `id` is what GetRecordID.sh prints and DeleteRecord.sh takes."""

    id: str
    name: str
    ip: str
    ttl: int


def zone_name(websiteurl: str) -> str:
    """The zone of a website as the original derives it: drop the first label (www.adt-demo.local ->
    adt-demo.local, adt-demo.local -> local); a one-label name has no zone ('')."""
    return ".".join(websiteurl.strip().rstrip(".").split(".")[1:])


class DnsProvider(ABC):
    """What the build and the autoscaler ask of a DNS service. Adding an address that is there and deleting one
    that is not change nothing and are not errors; both say whether they changed something."""

    choice = ""

    @abstractmethod
    def find_zone(self, zone: str) -> str:
        """The provider's id of the zone named `zone`, or '' when it has none."""

    @abstractmethod
    def records(self, websiteurl: str) -> List[Record]:
        """The A records of websiteurl."""

    @abstractmethod
    def add(self, websiteurl: str, ip: str, ttl: int = DEFAULT_TTL) -> bool:
        """Add an A record websiteurl -> ip; False when it was there already."""

    @abstractmethod
    def delete(self, websiteurl: str, ip: str) -> bool:
        """Remove the A record websiteurl -> ip; False when there was none."""

    def zone_id(self, websiteurl: str) -> str:
        """The id of the zone that holds websiteurl; an AdtError when the provider has no such zone. A zone found
        is remembered (a zone once there stays): the autoscaler's every observation costs one call fewer."""
        zone = zone_name(websiteurl)
        if not zone:
            raise AdtError(f"website URL {websiteurl!r} has no zone (it needs two labels or more)", "fix WEBSITEURL")
        known: Dict[str, str] = self.__dict__.setdefault("_zone_ids", {})
        if zone in known:
            return known[zone]
        found = self.find_zone(zone)
        if not found:
            raise AdtError(
                f"the {self.choice} DNS has no zone {zone} (for {websiteurl})",
                "the build creates it; on local, run the build (it starts PowerDNS and adds the zone)",
            )
        known[zone] = found
        return found

    def ips(self, websiteurl: str) -> List[str]:
        """The addresses websiteurl resolves to, in the provider's order."""
        return [record.ip for record in self.records(websiteurl)]

    def record_id(self, websiteurl: str, ip: str) -> Optional[str]:
        """The id of the record websiteurl -> ip, or None."""
        return next((record.id for record in self.records(websiteurl) if record.ip == ip), None)


# The original's positional arguments of providerscripts/dns/*.sh (adt-autoscaler-scripts), by adt command; the
# build machine's copies take one more (AddRecord.sh: a `proxied` word before the choice; DeleteRecord.sh: the
# URL last), accepted as the longer form.
ORIGINAL_ARGUMENTS = {
    "zone": (("zonename", "email", "credentials", "dns"),),
    "records": (("zoneid", "websiteurl", "ip", "email", "credentials", "dns"),),
    "add": (
        ("zoneid", "email", "credentials", "websiteurl", "ip", "dns"),
        ("zoneid", "email", "credentials", "websiteurl", "ip", "proxied", "dns"),
    ),
    "delete": (("zoneid", "recordid", "email", "credentials", "dns", "websiteurl"),),
    "ips": (("zoneid", "websiteurl", "email", "credentials", "dns"),),
}


def original_arguments(command: str, words: Sequence[str]) -> Dict[str, str]:
    """Name the positional words of an original entry point's call (missing ones are ''); a ValueError when
    there are more words than the original takes."""
    forms = ORIGINAL_ARGUMENTS[command]
    form = next((f for f in forms if len(words) == len(f)), None) or next(
        (f for f in forms if len(words) < len(f)), None
    )
    if form is None:
        longest = max(forms, key=len)
        raise ValueError(f"at most {len(longest)} arguments ({' '.join(longest).upper()}), not {len(words)}")
    return {name: (words[i] if i < len(words) else "") for i, name in enumerate(form)}
