"""Vultr's DNS (API v2: /domains and /domains/{domain}/records) as a DnsProvider: the round robin is one A record
per webserver, named relative to the domain as Vultr keeps them (www for www.example.com, '' for the apex). TXT
data is sent as one quoted character string, as Vultr's API wants it.
The key is DNS_SECURITY_KEY (DNSSECURITYKEY on a machine), sent as a bearer token and never shown."""

from __future__ import annotations

import ipaddress
from typing import Any, Dict, List, Mapping, Tuple

from adt.dns.base import DEFAULT_TTL, DnsProvider, Record, setting, txt_name, txt_relative
from adt.errors import AdtError

API_URL = "https://api.vultr.com/v2"
PER_PAGE = 500


class VultrDns(DnsProvider):
    choice = "vultr"

    def __init__(self, values: Mapping[str, str], api_url: str = ""):
        from adt.httpapi import ApiClient

        token = setting(values, "DNS_SECURITY_KEY")
        if not token:
            raise AdtError("no Vultr API key for DNS", "set DNS_SECURITY_KEY in the template (a Vultr API key)")
        self.client = ApiClient(
            "vultr DNS", api_url or API_URL, {"Authorization": f"Bearer {token}"}, scopes={"/domains": "dns"}
        )

    def _records(self, zone: str) -> List[Dict[str, Any]]:
        found: List[Dict[str, Any]] = []
        query: Dict[str, Any] = {"per_page": PER_PAGE}
        while True:
            answer = self.client.request("GET", f"/domains/{zone}/records", params=query) or {}
            found.extend(answer.get("records") or [])
            cursor = ((answer.get("meta") or {}).get("links") or {}).get("next") or ""
            if not cursor:
                return found
            query["cursor"] = cursor

    def find_zone(self, zone: str) -> str:
        zone = zone.strip().rstrip(".").lower()
        answer = self.client.request("GET", f"/domains/{zone}", ok=(404,))
        return ((answer or {}).get("domain") or {}).get("domain", "")

    @staticmethod
    def _relative(websiteurl: str, zone: str) -> str:
        return websiteurl[: -len(zone)].rstrip(".") if websiteurl.endswith(zone) else websiteurl

    def _mine(self, websiteurl: str):
        """(zone, the name relative to it, the zone's A records of websiteurl as Vultr lists them)."""
        websiteurl = websiteurl.strip().rstrip(".").lower()
        zone = self.zone_id(websiteurl)
        relative = self._relative(websiteurl, zone)
        mine = [
            r
            for r in self._records(zone)
            if r.get("type") == "A" and str(r.get("name", "")).rstrip(".").lower() in (relative, websiteurl)
        ]
        return zone, relative, mine

    def records(self, websiteurl: str) -> List[Record]:
        name = websiteurl.strip().rstrip(".").lower()
        _, _, mine = self._mine(websiteurl)
        return [Record(id=r["id"], name=name, ip=r["data"], ttl=int(r.get("ttl") or DEFAULT_TTL)) for r in mine]

    def add(self, websiteurl: str, ip: str, ttl: int = DEFAULT_TTL) -> bool:
        ip = _ipv4(ip)
        zone, relative, mine = self._mine(websiteurl)
        if any(r.get("data") == ip for r in mine):
            return False
        if self.client.planned("POST", f"/domains/{zone}/records", f"A {relative or '@'} {ip}"):
            return True
        body = {"name": relative, "type": "A", "data": ip, "ttl": int(ttl)}
        self.client.request("POST", f"/domains/{zone}/records", json=body)
        return True

    def delete(self, websiteurl: str, ip: str) -> bool:
        ip = _ipv4(ip)
        zone, _, mine = self._mine(websiteurl)
        doomed = [r["id"] for r in mine if r.get("data") == ip]
        for record_id in doomed:
            if self.client.planned("DELETE", f"/domains/{zone}/records/{record_id}", ip):
                continue
            self.client.request("DELETE", f"/domains/{zone}/records/{record_id}", ok=(404,))
        return bool(doomed)

    # -- TXT records ------------------------------------------------------------------------------------
    txt_quoted = True

    def _txt_list(self, websiteurl: str, label: str) -> List[Tuple[str, str]]:
        zone = self.zone_id(websiteurl)
        names = (txt_relative(websiteurl, label), txt_name(websiteurl, label))
        return [
            (str(r["id"]), str(r.get("data") or ""))
            for r in self._records(zone)
            if r.get("type") == "TXT" and str(r.get("name", "")).rstrip(".").lower() in names
        ]

    def _txt_create(self, websiteurl: str, label: str, content: str, ttl: int) -> None:
        body = {"name": txt_relative(websiteurl, label), "type": "TXT", "data": content, "ttl": int(ttl)}
        self.client.request("POST", f"/domains/{self.zone_id(websiteurl)}/records", json=body)

    def _txt_remove(self, websiteurl: str, label: str, record_id: str) -> None:
        self.client.request("DELETE", f"/domains/{self.zone_id(websiteurl)}/records/{record_id}", ok=(404,))


def _ipv4(ip: str) -> str:
    try:
        return str(ipaddress.IPv4Address(ip.strip()))
    except ValueError:
        raise AdtError(f"{ip!r} is not an IPv4 address", "give the webserver's address, like 10.0.0.7") from None
