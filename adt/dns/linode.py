"""Linode's DNS Manager (API v4 /domains and /domains/{id}/records) as a DnsProvider, with the token
DNS_SECURITY_KEY (DNSSECURITYKEY), which needs the domains:read_write scope.

Through adt.httpapi's client rather than linode_api4: the DNS runs in every autoscaler cycle, and that client
already brings what the SDK needs set up to have (jittered back-off on 429 with Retry-After and 5xx, a time-out
on every request), while adt.dns may not import the cloud driver's set-up of the SDK. Listings are read 500 a
page, one call a page. A record's name is relative to its domain (www for www.example.org); Linode rounds a TTL
up to the next value it allows (60 -> 120).
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from adt.dns.base import DEFAULT_TTL, DnsProvider, Record, setting, txt_relative, zone_name
from adt.errors import AdtError

API_URL = "https://api.linode.com/v4"
PAGE_SIZE = 500
SCOPE = "domains:read_write"


class LinodeDns(DnsProvider):
    choice = "linode"

    def __init__(self, values: Mapping[str, str], api_url: str = ""):
        from adt.httpapi import ApiClient

        token = setting(values, "DNS_SECURITY_KEY")
        if not token:
            raise AdtError(
                "DNS_CHOICE is linode but no DNS_SECURITY_KEY (DNSSECURITYKEY) is set",
                f"set it to a Linode personal access token with the {SCOPE} scope",
            )
        self.api = ApiClient(
            "linode",
            api_url or API_URL,
            {"Authorization": f"Bearer {token}"},
            scopes={"/domains": SCOPE},
        )
        self._zones: Dict[str, str] = {}

    def _request(self, method: str, path: str, json: Any = None, params: Any = None, ok: tuple = ()) -> Any:
        from adt.httpapi import ApiError

        try:
            return self.api.request(method, path, json=json, params=params, ok=ok)
        except ApiError as error:
            errors = error.body.get("errors") if isinstance(error.body, dict) else None
            reasons = " ".join(str(e.get("reason", "")) for e in errors or [] if isinstance(e, dict))
            if error.status == 401 and "not authorized to use this endpoint" in reasons:
                raise ApiError(
                    f"linode: the DNS token may not {method} {path} (401): it needs the {SCOPE} scope",
                    f"make a personal access token with {SCOPE} in Linode's Cloud Manager",
                    401,
                    error.body,
                ) from None
            if reasons and error.status not in (401, 403):  # Linode's own words, not its JSON
                message = f"linode: {method} {path} answered {error.status}: {reasons}"
                raise ApiError(message, "", error.status, error.body) from None
            raise

    def _pages(self, path: str) -> Iterator[Dict[str, Any]]:
        seen = set()
        number = 1
        while True:
            answer = self._request("GET", path, params={"page": number, "page_size": PAGE_SIZE}) or {}
            for item in answer.get("data") or []:
                if item.get("id") not in seen:
                    seen.add(item.get("id"))
                    yield item
            if number >= int(answer.get("pages") or 1):
                return
            number += 1

    def find_zone(self, zone: str) -> str:
        zone = zone.rstrip(".").lower()
        if zone not in self._zones:
            found = next((d for d in self._pages("/domains") if d.get("domain", "").lower() == zone), None)
            if found is None:
                return ""
            self._zones[zone] = str(found["id"])
        return self._zones[zone]

    @staticmethod
    def _name(websiteurl: str) -> str:
        """The record's name within its zone: the website URL's first label."""
        website = websiteurl.strip().rstrip(".").lower()
        return website[: -len(zone_name(website)) - 1]

    def _records(self, websiteurl: str) -> List[Dict[str, Any]]:
        zone = self.zone_id(websiteurl)
        name = self._name(websiteurl)
        return [
            r
            for r in self._pages(f"/domains/{zone}/records")
            if r.get("type") == "A" and (r.get("name") or "").lower() == name
        ]

    def records(self, websiteurl: str) -> List[Record]:
        return [
            Record(id=str(r["id"]), name=websiteurl, ip=r.get("target", ""), ttl=int(r.get("ttl_sec") or 0))
            for r in self._records(websiteurl)
        ]

    def add(self, websiteurl: str, ip: str, ttl: int = DEFAULT_TTL) -> bool:
        if any(r.get("target") == ip for r in self._records(websiteurl)):
            return False
        body = {"type": "A", "name": self._name(websiteurl), "target": ip, "ttl_sec": int(ttl)}
        self._request("POST", f"/domains/{self.zone_id(websiteurl)}/records", json=body)
        return True

    def delete(self, websiteurl: str, ip: str) -> bool:
        found: Optional[Dict[str, Any]] = next((r for r in self._records(websiteurl) if r.get("target") == ip), None)
        if found is None:
            return False
        self._request("DELETE", f"/domains/{self.zone_id(websiteurl)}/records/{found['id']}", ok=(404,))
        return True

    # -- TXT records (target raw) ---------------------------------------------------------------------
    def _txt_list(self, websiteurl: str, label: str) -> List[Tuple[str, str]]:
        name = txt_relative(websiteurl, label)
        return [
            (str(r["id"]), str(r.get("target") or ""))
            for r in self._pages(f"/domains/{self.zone_id(websiteurl)}/records")
            if r.get("type") == "TXT" and (r.get("name") or "").lower() == name
        ]

    def _txt_create(self, websiteurl: str, label: str, content: str, ttl: int) -> None:
        body = {"type": "TXT", "name": txt_relative(websiteurl, label), "target": content, "ttl_sec": int(ttl)}
        self._request("POST", f"/domains/{self.zone_id(websiteurl)}/records", json=body)

    def _txt_remove(self, websiteurl: str, label: str, record_id: str) -> None:
        self._request("DELETE", f"/domains/{self.zone_id(websiteurl)}/records/{record_id}", ok=(404,))
