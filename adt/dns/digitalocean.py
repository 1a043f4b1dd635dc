"""DigitalOcean's DNS (the domains and records API v2) as a `DnsProvider`: the zone is the domain, the round robin
is its A records of WEBSITEURL. The token is DNS_SECURITY_KEY (DNSSECURITYKEY), sent as a bearer header only."""

from __future__ import annotations

import re
from typing import Dict, List, Mapping, Tuple

from adt.dns.base import DEFAULT_TTL, DnsProvider, Record, setting, txt_name, txt_relative
from adt.errors import AdtError
from adt.httpapi import ApiClient, ApiError, paged

API_URL = "https://api.digitalocean.com/v2"
PROVIDER = "DigitalOcean DNS"
PER_PAGE = 200
MIN_TTL = 30  # DigitalOcean refuses a shorter one
SCOPES = {"GET": "domain:read", "POST": "domain:create", "DELETE": "domain:delete"}


def relative(websiteurl: str, zone: str) -> str:
    """A record's name as DigitalOcean keeps it: relative to its domain, '@' for the domain itself."""
    name = websiteurl.strip().rstrip(".")
    return "@" if name == zone else name[: -len(zone) - 1]


def forbidden(method: str, path: str, error: ApiError) -> ApiError:
    """A 403, naming the domain scope the token lacks."""
    scope = SCOPES.get(method, "domain:read")
    return ApiError(
        f"{PROVIDER}: the token may not {method} {path} (403 Forbidden): it needs the {scope} scope",
        f"give the DNS token {scope} in the DigitalOcean control panel, API > Tokens",
        403,
        error.body,
    )


class DigitalOceanDns(DnsProvider):
    choice = "digitalocean"

    def __init__(self, values: Mapping[str, str], api_url: str = ""):
        token = setting(values, "DNS_SECURITY_KEY").strip()
        if not token:
            raise AdtError(
                "DNS_CHOICE is digitalocean but no DNS_SECURITY_KEY (DNSSECURITYKEY) is set",
                "put a DigitalOcean access token with the domain scopes in DNS_SECURITY_KEY",
            )
        self.api = ApiClient(PROVIDER, api_url or API_URL, {"Authorization": f"Bearer {token}"}, forbidden=forbidden)
        self._zones: Dict[str, str] = {}  # zones found (a zone once there stays: one call fewer per change)

    def find_zone(self, zone: str) -> str:
        zone = zone.strip().rstrip(".")
        if not re.fullmatch(r"[A-Za-z0-9.-]+", zone):
            return ""
        if zone not in self._zones:
            found = self.api.request("GET", f"/domains/{zone}", ok=(404,))
            if not found:
                return ""
            self._zones[zone] = str(found["domain"]["name"])
        return self._zones[zone]

    def records(self, websiteurl: str) -> List[Record]:
        zone = self.zone_id(websiteurl)
        name = relative(websiteurl, zone)
        fqdn = websiteurl.strip().rstrip(".")
        listed = paged(
            lambda page: self.api.request(
                "GET",
                f"/domains/{zone}/records",
                params={"type": "A", "name": fqdn, "per_page": PER_PAGE, "page": page},
            ),
            "domain_records",
            lambda answer, _: bool(((answer.get("links") or {}).get("pages") or {}).get("next")),
        )
        return [
            Record(str(r["id"]), fqdn, r["data"], int(r.get("ttl") or 0))
            for r in listed
            if r.get("type") == "A" and r.get("name") == name
        ]

    def add(self, websiteurl: str, ip: str, ttl: int = DEFAULT_TTL) -> bool:
        if ip in self.ips(websiteurl):
            return False
        zone = self.zone_id(websiteurl)
        body = {"type": "A", "name": relative(websiteurl, zone), "data": ip, "ttl": max(MIN_TTL, int(ttl))}
        self.api.request("POST", f"/domains/{zone}/records", json=body)
        return True

    def delete(self, websiteurl: str, ip: str) -> bool:
        record_id = self.record_id(websiteurl, ip)
        if record_id is None:
            return False
        zone = self.zone_id(websiteurl)
        self.api.request("DELETE", f"/domains/{zone}/records/{record_id}", ok=(404,))
        return True

    # -- TXT records (data raw: DigitalOcean quotes it itself) ----------------------------------------
    def _txt_list(self, websiteurl: str, label: str) -> List[Tuple[str, str]]:
        zone = self.zone_id(websiteurl)
        name, fqdn = txt_relative(websiteurl, label), txt_name(websiteurl, label)
        listed = paged(
            lambda page: self.api.request(
                "GET",
                f"/domains/{zone}/records",
                params={"type": "TXT", "name": fqdn, "per_page": PER_PAGE, "page": page},
            ),
            "domain_records",
            lambda answer, _: bool(((answer.get("links") or {}).get("pages") or {}).get("next")),
        )
        return [
            (str(r["id"]), str(r.get("data") or "")) for r in listed if r.get("type") == "TXT" and r.get("name") == name
        ]

    def _txt_create(self, websiteurl: str, label: str, content: str, ttl: int) -> None:
        body = {"type": "TXT", "name": txt_relative(websiteurl, label), "data": content, "ttl": max(MIN_TTL, int(ttl))}
        self.api.request("POST", f"/domains/{self.zone_id(websiteurl)}/records", json=body)

    def _txt_remove(self, websiteurl: str, label: str, record_id: str) -> None:
        self.api.request("DELETE", f"/domains/{self.zone_id(websiteurl)}/records/{record_id}", ok=(404,))
