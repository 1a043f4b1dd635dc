"""Exoscale's DNS (API v2: /dns-domain and /dns-domain/{id}/record) through the official SDK, as the original's
providerscripts/dns/*.sh drive `exo dns`. The key and secret come from DNS_SECURITY_KEY (DNSSECURITYKEY) as the
original writes its dns-exoscale.toml: `<key>:<secret>`, split at the first colon.

A record's name is WEBSITEURL's first label (the zone is the rest); changes answer an operation, waited for with
back-off. The SDK does not retry: 429 (Retry-After), 5xx and lost connections are retried here.
"""

from __future__ import annotations

import time
from typing import Any, Callable, List, Mapping, Optional, Tuple

from adt.dns.base import DEFAULT_TTL, DnsProvider, Record, setting, txt_relative, zone_name
from adt.errors import AdtError
from adt.httpapi import ApiError, poll, retrying

PROVIDER = "exoscale"
ATTEMPTS = 6
# DNS is global at Exoscale; any zone's endpoint serves it
DEFAULT_URL = "https://api-ch-gva-2.exoscale.com/v2"


def credentials(values: Mapping[str, str]) -> tuple:
    """(key, secret) from DNS_SECURITY_KEY `<key>:<secret>`."""
    key, _, secret = setting(values, "DNS_SECURITY_KEY").partition(":")
    if not key or not secret:
        raise AdtError(
            "exoscale DNS needs DNS_SECURITY_KEY (DNSSECURITYKEY) as <key>:<secret>",
            "set it to an Exoscale API key and its secret joined by a colon",
        )
    return key.strip(), secret.strip()


class ExoscaleDns(DnsProvider):
    choice = PROVIDER

    def __init__(self, values: Mapping[str, str], api_url: str = "", sleep: Callable[[float], None] = time.sleep):
        from exoscale.api.v2 import Client

        key, secret = credentials(values)
        self.client = Client(key, secret, url=(api_url or DEFAULT_URL).rstrip("/"))
        self.sleep = sleep
        self.calls = 0

    def _call(self, operation: str, **arguments) -> Any:
        import requests
        from exoscale.api.exceptions import ExoscaleAPIException

        def once() -> Any:
            self.calls += 1
            return getattr(self.client, operation)(**arguments)

        what = operation.replace("_", "-")
        try:
            return retrying(once, attempts=ATTEMPTS, sleep=self.sleep)
        except ExoscaleAPIException as error:
            status = error.response.status_code if error.response is not None else 0
            raise _error(what, status, error.response) from None
        except requests.RequestException as error:
            raise ApiError(f"{PROVIDER} DNS: {what} failed: {type(error).__name__}", "") from None

    def _done(self, operation: dict, what: str) -> None:
        current = dict(operation or {})

        def check() -> Optional[bool]:
            state = current.get("state")
            if state == "success":
                return True
            if state in ("failure", "timeout"):
                raise ApiError(f"{PROVIDER} DNS: {what} failed: {state} {current.get('message', '')}".rstrip(), "")
            current.update(self._call("get_operation", id=current["id"]))
            return True if current.get("state") == "success" else None

        poll(check, f"{PROVIDER} DNS: {what}", timeout=300, sleep=self.sleep)

    def find_zone(self, zone: str) -> str:
        domains = (self._call("list_dns_domains") or {}).get("dns-domains") or []
        wanted = zone.rstrip(".").lower()
        return next((d["id"] for d in domains if (d.get("unicode-name") or "").lower() == wanted), "")

    @staticmethod
    def _label(websiteurl: str) -> str:
        name = websiteurl.strip().rstrip(".")
        zone = zone_name(name)
        return name[: -len(zone) - 1] if zone else name

    def records(self, websiteurl: str) -> List[Record]:
        return self._records(self.zone_id(websiteurl), websiteurl)

    def _records(self, zone: str, websiteurl: str) -> List[Record]:
        label = self._label(websiteurl)
        found = (self._call("list_dns_domain_records", domain_id=zone) or {}).get("dns-domain-records") or []
        return [
            Record(id=r["id"], name=websiteurl, ip=r.get("content", ""), ttl=int(r.get("ttl") or DEFAULT_TTL))
            for r in found
            if r.get("type") == "A" and r.get("name") == label
        ]

    def add(self, websiteurl: str, ip: str, ttl: int = DEFAULT_TTL) -> bool:
        zone = self.zone_id(websiteurl)
        if any(r.ip == ip for r in self._records(zone, websiteurl)):
            return False
        operation = self._call(
            "create_dns_domain_record", domain_id=zone, name=self._label(websiteurl), type="A", content=ip, ttl=ttl
        )
        self._done(operation, f"add A {websiteurl} {ip}")
        return True

    def delete(self, websiteurl: str, ip: str) -> bool:
        zone = self.zone_id(websiteurl)
        record = next((r.id for r in self._records(zone, websiteurl) if r.ip == ip), None)
        if record is None:
            return False
        operation = self._call("delete_dns_domain_record", domain_id=zone, record_id=record)
        self._done(operation, f"delete A {websiteurl} {ip}")
        return True

    # -- TXT records (content raw, as Exoscale's API takes it) ----------------------------------------
    def _txt_list(self, websiteurl: str, label: str) -> List[Tuple[str, str]]:
        name = txt_relative(websiteurl, label)
        zone = self.zone_id(websiteurl)
        found = (self._call("list_dns_domain_records", domain_id=zone) or {}).get("dns-domain-records") or []
        return [(r["id"], r.get("content", "")) for r in found if r.get("type") == "TXT" and r.get("name") == name]

    def _txt_create(self, websiteurl: str, label: str, content: str, ttl: int) -> None:
        name = txt_relative(websiteurl, label)
        operation = self._call(
            "create_dns_domain_record", domain_id=self.zone_id(websiteurl), name=name, type="TXT", content=content,
            ttl=int(ttl),
        )  # fmt: skip
        self._done(operation, f"add TXT {name} in {zone_name(websiteurl)}")

    def _txt_remove(self, websiteurl: str, label: str, record_id: str) -> None:
        try:
            operation = self._call("delete_dns_domain_record", domain_id=self.zone_id(websiteurl), record_id=record_id)
        except ApiError as error:
            if error.status == 404:  # another writer removed it first
                return
            raise
        self._done(operation, f"delete TXT {txt_relative(websiteurl, label)} in {zone_name(websiteurl)}")


def _error(what: str, status: int, response) -> ApiError:
    try:
        body = response.json() if response is not None else None
    except ValueError:
        body = None
    detail = body.get("message", "") if isinstance(body, dict) else ""
    if status == 401:
        return ApiError(
            f"{PROVIDER} DNS refused the key and secret of DNS_SECURITY_KEY (401 Unauthorized) for {what}",
            "DNS_SECURITY_KEY is <key>:<secret> of an Exoscale API key",
            status,
            body,
        )
    if status == 403:
        return ApiError(
            f"{PROVIDER} DNS: the API key may not {what} (403 Forbidden): its IAM role needs the {what} operation",
            f"allow {what} (dns service) in the key's IAM role",
            status,
            body,
        )
    return ApiError(
        f"{PROVIDER} DNS: {what} answered {status}" + (f": {detail[:200]}" if detail else ""), "", status, body
    )
