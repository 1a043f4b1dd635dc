"""DNS round robin behind one interface: the zone of WEBSITEURL, its A records, add one, delete one; and the TXT
records of a name under WEBSITEURL (ACME DNS-01's `_acme-challenge.<WEBSITEURL>`): set them, read them, remove them.

The round robin is the fleet's load balancer: one A record per live webserver for WEBSITEURL. Every provider
(PowerDNS on `local` now; the clouds' and Cloudflare's DNS later) is a `DnsProvider`, so the build and the
autoscaler call the same five methods. The zone rule is the original's (`awk -F. '{$1=""}1'` in the autoscaler's
AddIPToDNS.sh): WEBSITEURL without its first label.

TXT records live in the zone of WEBSITEURL (`_acme-challenge.www.example.org` in example.org). `set_txt` is built
here once from three small per-provider primitives (`_txt_list`, `_txt_create`, `_txt_remove`): the records of the
name are read, those not wanted removed, the missing ones created, and the result read back. A provider whose API
keeps TXT content as RFC 1035 quoted character strings (PowerDNS, Cloudflare, Vultr) sets `txt_quoted`; reading
accepts both forms everywhere. Values are what ACME asks for: printable ASCII, at most 255 characters (one
character string), no quote or backslash.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from adt import run
from adt.errors import AdtError
from adt.settings.machine import setting  # noqa: F401 - the DNS settings are read by it (adt.dns.setting)

DEFAULT_TTL = 60  # the original's TTL for digitalocean, exoscale, linode and vultr records
ACME_LABEL = "_acme-challenge"  # RFC 8555 §8.4: the DNS-01 challenge's name under the domain validated
TXT_MAX = 255  # one RFC 1035 character string
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_TXT_VALUE = re.compile(r"[ !#-\[\]-~]*")  # printable ASCII without '"' and '\\'


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


def checked_label(label: str) -> str:
    """A TXT record's label under WEBSITEURL (one or more DNS labels, `_` allowed), lower case; an AdtError else."""
    name = label.strip().rstrip(".").lower()
    if not name or not all(_LABEL.fullmatch(part) for part in name.split(".")):
        raise AdtError(f"{label!r} is not a DNS label for a TXT record", "give one like _acme-challenge")
    return name


def checked_txt_values(values: Sequence[str]) -> List[str]:
    """The TXT values, once each in the order given; an AdtError naming one that no provider would keep as is."""
    if isinstance(values, str):
        raise AdtError("TXT values must be a list of strings, not one string", "pass [value]")
    wanted: List[str] = []
    for value in values:
        if not isinstance(value, str) or len(value) > TXT_MAX or not _TXT_VALUE.fullmatch(value):
            raise AdtError(
                f"TXT value {str(value)[:80]!r} is not printable ASCII of at most {TXT_MAX} characters "
                "without quotes or backslashes",
                "ACME DNS-01 values (base64url digests) always are; check the value given",
            )
        if value not in wanted:
            wanted.append(value)
    return wanted


def txt_name(websiteurl: str, label: str = ACME_LABEL) -> str:
    """The full name of a TXT record under websiteurl: `<label>.<websiteurl>`, lower case, no trailing dot."""
    return f"{checked_label(label)}.{websiteurl.strip().rstrip('.').lower()}"


def txt_relative(websiteurl: str, label: str = ACME_LABEL) -> str:
    """The TXT record's name relative to the zone of websiteurl (`_acme-challenge.www` for www.example.org)."""
    website = websiteurl.strip().rstrip(".").lower()
    zone = zone_name(website)
    head = website[: -len(zone) - 1] if zone else website
    return f"{checked_label(label)}.{head}"


def quote_txt(value: str) -> str:
    """TXT content as RFC 1035 quoted character strings (255 characters each, quotes and backslashes escaped)."""
    chunks = [value[i : i + TXT_MAX] for i in range(0, len(value), TXT_MAX)] or [""]
    return " ".join('"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"' for part in chunks)


def unquote_txt(content: str) -> str:
    """The raw value of TXT content as a provider keeps it: quoted character strings are joined (RFC 1035
    escapes undone); content that does not start with a quote is the value itself."""
    text = content.strip()
    if not text.startswith('"'):
        return content
    parts: List[str] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        if text[i] != '"':  # an unquoted word between strings: kept as is
            end = i
            while end < len(text) and not text[end].isspace():
                end += 1
            parts.append(text[i:end])
            i = end
            continue
        i += 1
        while i < len(text) and text[i] != '"':
            if text[i] == "\\" and i + 1 < len(text):
                if text[i + 1 : i + 4].isdigit() and len(text[i + 1 : i + 4]) == 3:
                    parts.append(chr(int(text[i + 1 : i + 4])))
                    i += 4
                    continue
                parts.append(text[i + 1])
                i += 2
                continue
            parts.append(text[i])
            i += 1
        i += 1  # the closing quote
    return "".join(parts)


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

    # -- TXT records (ACME DNS-01) ------------------------------------------------------------------
    txt_quoted = False  # whether the provider's API wants TXT content as quoted character strings

    def _txt_list(self, websiteurl: str, label: str) -> List[Tuple[str, str]]:
        """(record id, content as the provider keeps it) of each TXT record of `<label>.<websiteurl>`."""
        raise AdtError(f"the {self.choice} DNS driver cannot hold TXT records", "use another DNS_CHOICE")

    def _txt_create(self, websiteurl: str, label: str, content: str, ttl: int) -> None:
        """Create one TXT record `<label>.<websiteurl>` with this content (already quoted when txt_quoted)."""
        raise AdtError(f"the {self.choice} DNS driver cannot hold TXT records", "use another DNS_CHOICE")

    def _txt_remove(self, websiteurl: str, label: str, record_id: str) -> None:
        """Remove one TXT record by id; one another writer removed first is not an error."""
        raise AdtError(f"the {self.choice} DNS driver cannot hold TXT records", "use another DNS_CHOICE")

    def txt(self, websiteurl: str, label: str = ACME_LABEL) -> List[str]:
        """The raw values of the TXT records of `<label>.<websiteurl>` (none: [])."""
        label = checked_label(label)
        return [unquote_txt(content) for _, content in self._txt_list(websiteurl, label)]

    def set_txt(self, websiteurl: str, values: Sequence[str], label: str = ACME_LABEL, ttl: int = DEFAULT_TTL) -> None:
        """Make the TXT records of `<label>.<websiteurl>` exactly `values` (raw strings, no quotes), in the zone of
        websiteurl; read them back and raise an AdtError when they are not there. No values: delete_txt."""
        wanted = checked_txt_values(values)
        label = checked_label(label)
        name = txt_name(websiteurl, label)
        self.zone_id(websiteurl)  # no zone: the zone's error, before anything else
        if run.dry_run():
            run.announce(f"set TXT {name} = {wanted} at the {self.choice} DNS", kind="call")
            return
        kept: List[str] = []
        for record_id, content in self._txt_list(websiteurl, label):
            value = unquote_txt(content)
            if value in wanted and value not in kept:
                kept.append(value)
            else:
                self._txt_remove(websiteurl, label, record_id)
        for value in wanted:
            if value not in kept:
                self._txt_create(websiteurl, label, quote_txt(value) if self.txt_quoted else value, int(ttl))
        self._txt_check(websiteurl, label, wanted)

    def wait_visible(
        self,
        websiteurl: str,
        values: Sequence[str],
        label: str = ACME_LABEL,
        timeout: float = 120.0,
        progress: Callable[[str], None] = lambda _: None,
    ) -> bool:
        """Until every authoritative nameserver of websiteurl's zone answers the TXT of `<label>.<websiteurl>` with
        all `values` (True), or `timeout` seconds pass (False: the caller goes on; a CA may see it anyway). 0 does
        not wait. Nameservers that cannot be found are said and not waited for."""
        if timeout <= 0:
            return True
        from adt.dns.propagation import authoritative, wait_visible

        try:
            servers = authoritative(zone_name(websiteurl))
        except AdtError as error:
            progress(f"  {error.message}: not waiting for them")
            return False
        return wait_visible(servers, txt_name(websiteurl, label), values, timeout, progress=progress)

    def delete_txt(self, websiteurl: str, label: str = ACME_LABEL) -> None:
        """Remove every TXT record of `<label>.<websiteurl>`; none there is fine."""
        label = checked_label(label)
        self.zone_id(websiteurl)
        if run.dry_run():
            run.announce(f"delete TXT {txt_name(websiteurl, label)} at the {self.choice} DNS", kind="call")
            return
        for record_id, _ in self._txt_list(websiteurl, label):
            self._txt_remove(websiteurl, label, record_id)
        self._txt_check(websiteurl, label, [])

    def _txt_check(self, websiteurl: str, label: str, wanted: List[str]) -> None:
        found = self.txt(websiteurl, label)
        if sorted(found) != sorted(wanted):
            raise AdtError(
                f"the {self.choice} DNS holds TXT {txt_name(websiteurl, label)} = {found}, not {wanted} as just set",
                "another writer changed them at the same time, or the provider changed the values; try again",
            )


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
