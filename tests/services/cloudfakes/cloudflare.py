"""A fake of Cloudflare's API v4 (/client/v4): zones (listed by name) and their A and TXT records (list with type and
name filters, create, delete), in Cloudflare's envelope, paginated, with its authentication and its error codes.

Cloudflare publishes no OpenAPI specification in its SDK repository, so the fake checks the traffic against the
official `cloudflare` package's own types (a test-only dependency): every query against the keys of
`ZoneListParams` / `RecordListParams`, every record body against the `ARecord` or `TXTRecord` TypedDict of
`record_create_params` (its keys exactly, its values with pydantic in strict mode; TXT content must be quoted
character strings, as the type documents it), every `result` it sends against the response models (`Zone`,
`record_response.ARecord` / `TXTRecord`, `RecordDeleteResponse`; extra fields allowed as Cloudflare's own models allow
them). A breach is recorded in `violations` as the base does (a request: answered 400).

Credentials: an API token (`Authorization: Bearer`, `credentials` gives the original's `<account-id>:::<token>`
form) whose permissions are `scopes` (Zone:Zone:Read, Zone:DNS:Read, Zone:DNS:Edit), or the Global API Key of
`email` (`X-Auth-Email` + `X-Auth-Key`, `key_credentials`).
"""

from __future__ import annotations

import datetime
import functools
import re
import uuid
from typing import Any, Dict, List, Optional, Set

from .base import Answer, FakeProvider, HttpError, page, route

PERMISSIONS = ("Zone:Zone:Read", "Zone:DNS:Read", "Zone:DNS:Edit")
# the codes Cloudflare answers these messages with
CODES = {
    "Invalid API Token": 1000,
    "Unknown X-Auth-Key or X-Auth-Email": 9103,
    "Authentication error": 10000,
    "An identical record already exists.": 81058,
    "Record does not exist.": 81044,
    "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.": 9021,
    "Please wait and consider throttling your request speed": 971,
}
ZONE_QUERY = {"name", "page", "per_page", "status", "order", "direction", "match", "account.id", "account.name"}


def _stamp(at: Optional[float] = None) -> str:
    moment = (
        datetime.datetime.fromtimestamp(at, datetime.timezone.utc)
        if at
        else datetime.datetime.now(datetime.timezone.utc)
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@functools.lru_cache(maxsize=None)
def _types():
    """The official package's types, loaded once: the request TypedDicts and the response models."""
    from cloudflare.types.dns import record_create_params, record_list_params
    from cloudflare.types.dns.record_delete_response import RecordDeleteResponse
    from cloudflare.types.dns.record_response import ARecord, TXTRecord
    from cloudflare.types.zones.zone import Zone
    from pydantic import TypeAdapter

    create = {"A": record_create_params.ARecord, "TXT": record_create_params.TXTRecord}
    listing = record_list_params.RecordListParams
    return {
        "create_keys": {kind: set(typed.__annotations__) - {"zone_id"} for kind, typed in create.items()},
        "create": {kind: TypeAdapter(typed) for kind, typed in create.items()},
        "list_keys": set(listing.__annotations__) - {"zone_id"},
        "name_filters": set(record_list_params.Name.__annotations__),
        "record": {"A": ARecord, "TXT": TXTRecord},
        "zone": Zone,
        "deleted": RecordDeleteResponse,
    }


def _quoted_strings(content: str) -> bool:
    """Whether TXT content is RFC 1035 quoted character strings of at most 255 characters each (the documented
    form of `TXTRecord.content`)."""
    return bool(re.fullmatch(r'\s*"(?:[^"\\]|\\.){0,255}"(?:\s+"(?:[^"\\]|\\.){0,255}")*\s*', content))


class CloudflareFake(FakeProvider):
    name = "cloudflare"
    base_path = "/client/v4"

    def __init__(self, token: str = "cf-test-token-0123456789abcdefghijklmnop"):
        super().__init__(token)
        self.account_id = "0123456789abcdef0123456789abcdef"
        self.email = "admin@adt-demo.example"
        self.global_key = "0123456789abcdef0123456789abcdef01234"
        self.scopes: Set[str] = set(PERMISSIONS)
        self.zones: Dict[str, Dict[str, Any]] = {}
        self.dns_records: Dict[str, Dict[str, Any]] = {}
        self.received: List[Dict[str, Any]] = []  # the bodies of the records created, as sent
        self._born: Dict[str, float] = {}  # record id -> when it was made (the `stale` fault)

    # -- for tests ---------------------------------------------------------------------------------
    @property
    def credentials(self) -> Dict[str, str]:
        """The DNS values of the API token form (`<account-id>:::<api-token>`)."""
        return {"DNS_SECURITY_KEY": f"{self.account_id}:::{self.token}", "DNS_USERNAME": self.email}

    @property
    def key_credentials(self) -> Dict[str, str]:
        """The DNS values of the legacy Global API Key form (the key, DNS_USERNAME the account e-mail)."""
        return {"DNS_SECURITY_KEY": self.global_key, "DNS_USERNAME": self.email}

    def add_zone(self, name: str) -> str:
        """Make a zone (as the dashboard does: the API's zone creation is not what adt calls); its id."""
        with self.lock:
            found = next((z["id"] for z in self.zones.values() if z["name"] == name), None)
            if found:
                return found
            zone_id = uuid.uuid4().hex
            now = _stamp()
            self.zones[zone_id] = {
                "id": zone_id,
                "name": name,
                "status": "active",
                "paused": False,
                "type": "full",
                "development_mode": 0,
                "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
                "original_name_servers": None,
                "original_registrar": None,
                "original_dnshost": None,
                "created_on": now,
                "modified_on": now,
                "activated_on": now,
                "meta": {"step": 2, "custom_certificate_quota": 0, "page_rule_quota": 3, "phishing_detected": False},
                "owner": {"id": None, "type": "user", "email": self.email},
                "account": {"id": self.account_id, "name": f"{self.email}'s Account"},
                "permissions": ["#dns_records:edit", "#dns_records:read", "#zone:read"],
                "plan": {
                    "id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
                    "name": "Free Website",
                    "price": 0,
                    "currency": "USD",
                    "frequency": "",
                    "is_subscribed": False,
                    "can_subscribe": False,
                    "legacy_id": "free",
                    "legacy_discount": False,
                    "externally_managed": False,
                },
            }
            return zone_id

    def a_records(self, name: str) -> List[Dict[str, Any]]:
        """The A records of name, as stored."""
        with self.lock:
            return [r for r in self.dns_records.values() if r["name"] == name and r["type"] == "A"]

    def txt_records(self, name: str) -> List[Dict[str, Any]]:
        """The TXT records of name, as stored."""
        with self.lock:
            return [r for r in self.dns_records.values() if r["name"] == name and r["type"] == "TXT"]

    # -- Cloudflare's shapes -----------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        if status == 401:
            message = "Invalid API Token"
        elif status == 429:
            message = "Please wait and consider throttling your request speed"
        code = CODES.get(message, 7000 if status == 404 else 10000 + status)
        return {"success": False, "errors": [{"code": code, "message": message}], "messages": [], "result": None}

    def authorised(self, request) -> bool:
        """A bearer token must be ours (else 401); a Global API Key is checked by each handler (403, as
        Cloudflare answers an unknown key)."""
        if "X-Auth-Key" in request.headers or "X-Auth-Email" in request.headers:
            return True
        return request.headers.get("Authorization", "") == f"Bearer {self.token}"

    def _permit(self, request, permission: str) -> bool:
        """Whether the credentials hold `permission`; a wrong Global API Key is a 403 (code 9103)."""
        if "X-Auth-Key" in request.headers or "X-Auth-Email" in request.headers:
            if (request.headers.get("X-Auth-Email"), request.headers.get("X-Auth-Key")) != (
                self.email,
                self.global_key,
            ):
                raise HttpError(403, "Unknown X-Auth-Key or X-Auth-Email")
            return True  # the Global API Key can do everything
        return permission in self.scopes

    def _envelope(self, result: Any, info: Optional[Dict[str, int]] = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
        if info is not None:
            body["result_info"] = info
        return body

    def _check_result(self, what: str, model, result: Any) -> None:
        """Validate what the fake sends against the package's response model (a dict: the model by record type)."""
        items = result if isinstance(result, list) else [result]
        for item in items:
            try:
                (model[item["type"]] if isinstance(model, dict) else model).model_validate(item)
            except Exception as error:  # pydantic's ValidationError
                self.violations.append(f"response {what}: {str(error)[:400]}")

    def _check_query(self, request, allowed: Set[str]) -> None:
        unknown = sorted(set(request.args) - allowed)
        if unknown:
            problem = f"request {request.method} {request.full_path.rstrip('?')}: unknown query {unknown}"
            self.violations.append(problem)
            raise HttpError(400, problem)
        for number in ("page", "per_page"):
            if number in request.args and not request.args[number].isdigit():
                problem = f"request {request.method} {request.path}: {number} is not a number"
                self.violations.append(problem)
                raise HttpError(400, problem)

    def _listing(self, request, items: List[Dict[str, Any]], default_size: int) -> Dict[str, Any]:
        size = self.faults.page_size or min(int(request.args.get("per_page", default_size)), 5000)
        number = int(request.args.get("page", 1))
        shown = page(items, number, size)
        total_pages = max(1, -(-len(items) // size))
        info = {
            "page": number,
            "per_page": size,
            "count": len(shown),
            "total_count": len(items),
            "total_pages": total_pages,
        }
        return self._envelope(shown, info)

    # -- zones -------------------------------------------------------------------------------------
    @route("GET", "/zones")
    def list_zones(self, request) -> Answer:
        self._check_query(request, ZONE_QUERY)
        readable = self._permit(request, "Zone:Zone:Read")
        name = request.args.get("name")
        found = [z for z in self.zones.values() if readable and (name is None or z["name"] == name)]
        answer = self._listing(request, found, 20)
        self._check_result("GET /zones", _types()["zone"], answer["result"])
        return 200, answer

    def _zone(self, zone_id: str) -> Dict[str, Any]:
        if zone_id not in self.zones:
            raise HttpError(
                404, "Could not route to /zones/" + zone_id + "/dns_records, perhaps your object identifier is invalid?"
            )
        return self.zones[zone_id]

    # -- DNS records -------------------------------------------------------------------------------
    @route("GET", "/zones/{zone_id}/dns_records")
    def list_records(self, request, zone_id: str) -> Answer:
        types = _types()
        dotted = {f"name.{f}" for f in types["name_filters"]} | {f"content.{f}" for f in ("exact", "contains")}
        self._check_query(request, types["list_keys"] | dotted)
        if not self._permit(request, "Zone:DNS:Read"):
            raise HttpError(403, "Authentication error")
        self._zone(zone_id)
        name = request.args.get("name", request.args.get("name.exact"))
        kind = request.args.get("type")
        found = [
            r
            for r in self.dns_records.values()
            if r["zone_id"] == zone_id
            and self.visible(self._born.get(r["id"], 0.0))
            and (name is None or r["name"] == name)
            and (kind is None or r["type"] == kind)
        ]
        answer = self._listing(request, found, 100)
        self._check_result(f"GET {request.path}", types["record"], answer["result"])
        return 200, answer

    @route("POST", "/zones/{zone_id}/dns_records")
    def create_record(self, request, zone_id: str) -> Answer:
        types = _types()
        body = self.body(request)
        problem = ""
        kind = body.get("type") if isinstance(body, dict) else None
        if not isinstance(body, dict):
            problem = "the body is not a JSON object"
        elif kind not in types["create"]:
            problem = f"the fake implements A and TXT records only, not {kind!r}"
        else:
            unknown = sorted(set(body) - types["create_keys"][kind])
            if unknown:
                problem = f"keys the {kind} record does not have: {unknown}"
            else:
                try:
                    types["create"][kind].validate_python({**body, "zone_id": zone_id}, strict=True)
                except Exception as error:  # pydantic's ValidationError
                    problem = str(error).replace("\n", " ")[:400]
            if not problem and kind == "TXT" and not _quoted_strings(str(body.get("content", ""))):
                problem = f"TXT content {body.get('content')!r} is not quoted character strings (RFC 1035)"
            if not problem and kind == "TXT" and body.get("proxied"):
                problem = "a TXT record cannot be proxied"
        if problem:
            self.violations.append(f"request POST {request.path}: {problem}")
            raise HttpError(400, problem)
        if not self._permit(request, "Zone:DNS:Edit"):
            raise HttpError(403, "Authentication error")
        zone = self._zone(zone_id)
        ttl = body["ttl"]
        if ttl != 1 and not 60 <= ttl <= 86400:
            raise HttpError(400, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.")
        name = body["name"].rstrip(".").lower()
        if any(
            r["zone_id"] == zone_id and r["name"] == name and r["type"] == kind and r["content"] == body.get("content")
            for r in self.dns_records.values()
        ):
            raise HttpError(400, "An identical record already exists.")
        self.received.append(dict(body))
        proxied = bool(body.get("proxied", False))
        now = _stamp()
        record = {
            "id": uuid.uuid4().hex,
            "zone_id": zone_id,
            "zone_name": zone["name"],
            "name": name,
            "type": kind,
            "content": body.get("content", ""),
            "proxiable": kind == "A",
            "proxied": proxied,
            "ttl": 1 if proxied else ttl,  # a proxied record's TTL is automatic whatever was asked
            "settings": {},
            "meta": {},
            "comment": body.get("comment"),
            "tags": list(body.get("tags") or []),
            "created_on": now,
            "modified_on": now,
        }
        self.dns_records[record["id"]] = record
        self._born[record["id"]] = self.now()
        self._check_result(f"POST {request.path}", types["record"], record)
        return 200, self._envelope(record)

    @route("DELETE", "/zones/{zone_id}/dns_records/{record_id}")
    def delete_record(self, request, zone_id: str, record_id: str) -> Answer:
        if not self._permit(request, "Zone:DNS:Edit"):
            raise HttpError(403, "Authentication error")
        self._zone(zone_id)
        record = self.dns_records.get(record_id)
        if record is None or record["zone_id"] != zone_id:
            raise HttpError(404, "Record does not exist.")
        del self.dns_records[record_id]
        result = {"id": record_id}
        self._check_result(f"DELETE {request.path}", _types()["deleted"], result)
        return 200, self._envelope(result)
