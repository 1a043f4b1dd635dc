"""Cloudflare's DNS (API v4) as a `DnsProvider`: the round robin of WEBSITEURL as A records, proxied or not.

Plain httpx through `adt.httpapi.ApiClient` (retries, back-off, a count of calls): the official SDK breaks its API
across majors, so it is a test-only dependency (its types check the test fake's traffic).

Credentials are the original's two forms of DNS_SECURITY_KEY (DNSSECURITYKEY on machines):
- `<account-id>:::<api-token>`: an API token, sent as `Authorization: Bearer` (the token is the part after `:::`);
- a Global API Key with DNS_USERNAME as the account's e-mail, sent as `X-Auth-Email` + `X-Auth-Key` (legacy).
An error names the form used, never the secret. Records are proxied unless DNS_PROXIED (the build machine's
AddRecord.sh `proxied` word) says false; a proxied record's TTL is 1 ("automatic"), as Cloudflare requires.
TXT records (ACME DNS-01) are never proxied; their content is sent as quoted character strings, as Cloudflare's
API documents it.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any, Dict, List, Mapping, Tuple

from adt.dns.base import DEFAULT_TTL, DnsProvider, Record, setting, txt_name, zone_name
from adt.errors import AdtError
from adt.httpapi import ApiClient, ApiError, planned

API_URL = "https://api.cloudflare.com/client/v4"
PER_PAGE = 100
AUTOMATIC_TTL = 1
TOKEN_FORM = "API token (DNS_SECURITY_KEY <account-id>:::<api-token>)"
KEY_FORM = "Global API Key (DNS_SECURITY_KEY with DNS_USERNAME as the account e-mail)"
# Cloudflare's error codes that mean the credentials are wrong (not a missing permission)
REFUSED_CODES = {1000, 6003, 6100, 6101, 6102, 6103, 6111, 9103, 9106, 9109, 10001}
IDENTICAL_RECORD = 81058  # "An identical record already exists."
FALSE_WORDS = {"false", "no", "0", "off", "dnsonly", "dns-only"}


def checked_ip(ip: str) -> str:
    """An IPv4 address in its normal form, or an AdtError naming it."""
    try:
        return str(ipaddress.IPv4Address(ip.strip()))
    except ValueError:
        raise AdtError(f"{ip!r} is not an IPv4 address", "give the webserver's address, like 203.0.113.7") from None


def credentials(values: Mapping[str, str]) -> Tuple[Dict[str, str], str]:
    """(headers, form) from the original's DNS_SECURITY_KEY forms; an AdtError naming what is missing."""
    key = setting(values, "DNS_SECURITY_KEY").strip()
    if not key:
        raise AdtError(
            "DNS_CHOICE is cloudflare but no DNS_SECURITY_KEY (DNSSECURITYKEY) is set",
            "set it to <account-id>:::<api-token> (an API token with Zone:DNS:Edit)",
        )
    if ":::" in key:
        token = key.split(":::", 1)[1].strip()
        if not token:
            raise AdtError("the Cloudflare DNS_SECURITY_KEY has nothing after ':::'", "give <account-id>:::<api-token>")
        return {"Authorization": f"Bearer {token}"}, TOKEN_FORM
    email = setting(values, "DNS_USERNAME").strip()
    if not email:
        raise AdtError(
            "the Cloudflare DNS_SECURITY_KEY has no ':::' (so it is a Global API Key) but DNS_USERNAME is empty",
            "use <account-id>:::<api-token>, or set DNS_USERNAME to the Cloudflare account's e-mail",
        )
    return {"X-Auth-Email": email, "X-Auth-Key": key}, KEY_FORM


def proxied(values: Mapping[str, str]) -> bool:
    """Whether new records go through Cloudflare's proxy: yes (the original's) unless DNS_PROXIED says false."""
    return setting(values, "DNS_PROXIED").strip().lower() not in FALSE_WORDS


def record_ttl(ttl: int, is_proxied: bool) -> int:
    """The TTL Cloudflare accepts: 1 (automatic) for a proxied record, else within 60..86400 (or 1)."""
    if is_proxied or ttl == AUTOMATIC_TTL:
        return AUTOMATIC_TTL
    return max(60, min(86400, int(ttl)))


def record_body(websiteurl: str, ip: str, ttl: int, is_proxied: bool) -> Dict[str, Any]:
    """The POST body of one A record."""
    name = websiteurl.strip().rstrip(".").lower()
    return {"type": "A", "name": name, "content": ip, "ttl": record_ttl(ttl, is_proxied), "proxied": is_proxied}


def _codes(body: Any) -> List[int]:
    errors = body.get("errors") if isinstance(body, dict) else None
    found: List[int] = []
    for error in errors or []:
        if isinstance(error, dict):
            for item in [error, *(error.get("error_chain") or [])]:
                if isinstance(item, dict) and isinstance(item.get("code"), int):
                    found.append(item["code"])
    return found


def _words(body: Any) -> str:
    errors = body.get("errors") if isinstance(body, dict) else None
    return "; ".join(
        f"{e.get('code')} {e.get('message')}" for e in errors or [] if isinstance(e, dict) and e.get("message")
    )[:200]


class CloudflareDns(DnsProvider):
    """A records of WEBSITEURL in the Cloudflare zone that holds it (the zone rule of `zone_name`)."""

    choice = "cloudflare"

    def __init__(self, values: Mapping[str, str], api_url: str = ""):
        headers, self.form = credentials(values)
        self.proxied = proxied(values)
        self.api_url = (api_url or API_URL).rstrip("/")
        self.client = ApiClient("Cloudflare", self.api_url, {**headers, "Accept": "application/json"})
        self._zones: Dict[str, str] = {}

    # -- requests ----------------------------------------------------------------------------------
    def _call(self, method: str, path: str, what: str, permission: str, **kwargs: Any) -> Any:
        """One API call; its envelope's `result` (or None for a status in `ok`). A refusal is one AdtError line
        naming the credentials' form, a missing permission one naming it."""
        try:
            answer = self.client.request(method, path, **kwargs)
        except ApiError as error:
            raise self._error(error, what, permission) from None
        if answer is None:
            return None
        if isinstance(answer, dict) and answer.get("success") is False:
            raise AdtError(f"Cloudflare could not {what}: {_words(answer) or 'success is false'}", "")
        return answer.get("result") if isinstance(answer, dict) else answer

    def _error(self, error: ApiError, what: str, permission: str) -> AdtError:
        codes = _codes(error.body)
        words = _words(error.body)
        if error.status == 401 or (error.status in (400, 403) and set(codes) & REFUSED_CODES):
            return ApiError(
                f"Cloudflare refused the {self.form} ({error.status}{': ' + words if words else ''})",
                "check DNS_SECURITY_KEY (and DNS_USERNAME for a Global API Key): it is wrong, expired or revoked",
                error.status,
                error.body,
            )
        if error.status == 403:
            return ApiError(
                f"Cloudflare: the {self.form} may not {what} (403{': ' + words if words else ''}): "
                f"it needs the {permission} permission",
                f"give the token {permission} on the zone in the Cloudflare dashboard (My Profile > API Tokens)",
                error.status,
                error.body,
            )
        detail = f"{error.status}: {words}" if words else str(error.status)
        return ApiError(f"Cloudflare could not {what} ({detail})", "", error.status, error.body)

    def _pages(self, path: str, params: Dict[str, Any], what: str, permission: str) -> List[Dict[str, Any]]:
        """Every item of a listing, over its pages (result_info.total_pages)."""
        found: List[Dict[str, Any]] = []
        page = 1
        while True:
            try:
                answer = self.client.request("GET", path, params={**params, "page": page, "per_page": PER_PAGE})
            except ApiError as error:
                raise self._error(error, what, permission) from None
            answer = answer or {}
            found.extend(answer.get("result") or [])
            info = answer.get("result_info") or {}
            if page >= int(info.get("total_pages") or 1) or not answer.get("result"):
                return found
            page += 1

    # -- the interface -----------------------------------------------------------------------------
    def find_zone(self, zone: str) -> str:
        name = zone.strip().rstrip(".").lower()
        if name not in self._zones:
            zones = self._pages("/zones", {"name": name}, f"read zone {name}", "Zone:Zone:Read")
            found = next((z["id"] for z in zones if str(z.get("name", "")).lower() == name), "")
            if not found:
                return ""
            self._zones[name] = found
        return self._zones[name]

    def zone_id(self, websiteurl: str) -> str:
        zone = zone_name(websiteurl)
        if zone and not self.find_zone(zone):
            raise AdtError(
                f"the cloudflare DNS has no zone {zone} (for {websiteurl}) that the {self.form} can see",
                f"add {zone} to the Cloudflare account, and give the token Zone:Zone:Read and Zone:DNS:Edit on it",
            )
        return super().zone_id(websiteurl)

    def _records(self, zone: str, websiteurl: str) -> List[Dict[str, Any]]:
        name = websiteurl.strip().rstrip(".").lower()
        params = {"type": "A", "name": name}
        found = self._pages(f"/zones/{zone}/dns_records", params, f"read the DNS records of {name}", "Zone:DNS:Read")
        return [r for r in found if r.get("type") == "A" and str(r.get("name", "")).lower() == name]

    def records(self, websiteurl: str) -> List[Record]:
        zone = self.zone_id(websiteurl)
        return [
            Record(str(r["id"]), str(r["name"]), str(r.get("content", "")), int(r.get("ttl") or AUTOMATIC_TTL))
            for r in self._records(zone, websiteurl)
        ]

    def add(self, websiteurl: str, ip: str, ttl: int = DEFAULT_TTL) -> bool:
        ip = checked_ip(ip)
        zone = self.zone_id(websiteurl)
        if any(r.get("content") == ip for r in self._records(zone, websiteurl)):
            return False
        body = record_body(websiteurl, ip, ttl, self.proxied)
        path = f"/zones/{zone}/dns_records"
        if planned(f"POST {self.api_url}{path} {json.dumps(body)}"):
            return True
        try:
            self.client.request("POST", path, json=body)
        except ApiError as error:
            if IDENTICAL_RECORD in _codes(error.body):  # another writer added it in between
                return False
            raise self._error(error, f"add an A record {body['name']} -> {ip}", "Zone:DNS:Edit") from None
        return True

    def delete(self, websiteurl: str, ip: str) -> bool:
        zone = self.zone_id(websiteurl)
        changed = False
        for record in self._records(zone, websiteurl):
            if record.get("content") != ip:
                continue
            path = f"/zones/{zone}/dns_records/{record['id']}"
            if planned(f"DELETE {self.api_url}{path}"):
                changed = True
                continue
            gone = self._call(
                "DELETE", path, f"delete the A record {record.get('name')} -> {ip}", "Zone:DNS:Edit", ok=(404,)
            )
            changed = changed or gone is not None  # a 404: another writer deleted it first
        return changed

    # -- TXT records -------------------------------------------------------------------------------
    txt_quoted = True

    def _txt_list(self, websiteurl: str, label: str) -> List[Tuple[str, str]]:
        zone = self.zone_id(websiteurl)
        name = txt_name(websiteurl, label)
        found = self._pages(
            f"/zones/{zone}/dns_records", {"type": "TXT", "name": name}, f"read the TXT records of {name}",
            "Zone:DNS:Read",
        )  # fmt: skip
        return [
            (str(r["id"]), str(r.get("content", "")))
            for r in found
            if r.get("type") == "TXT" and str(r.get("name", "")).lower() == name
        ]

    def _txt_create(self, websiteurl: str, label: str, content: str, ttl: int) -> None:
        name = txt_name(websiteurl, label)
        body = {"type": "TXT", "name": name, "content": content, "ttl": record_ttl(ttl, False)}
        try:
            self.client.request("POST", f"/zones/{self.zone_id(websiteurl)}/dns_records", json=body)
        except ApiError as error:
            if IDENTICAL_RECORD not in _codes(error.body):  # identical: another writer made it in between
                raise self._error(error, f"add a TXT record {name}", "Zone:DNS:Edit") from None

    def _txt_remove(self, websiteurl: str, label: str, record_id: str) -> None:
        path = f"/zones/{self.zone_id(websiteurl)}/dns_records/{record_id}"
        self._call("DELETE", path, f"delete the TXT record {txt_name(websiteurl, label)}", "Zone:DNS:Edit", ok=(404,))

    def close(self) -> None:
        self.client.close()
