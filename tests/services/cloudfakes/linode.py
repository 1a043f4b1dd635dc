"""A fake of Linode's API v4 (https://api.linode.com/v4) on loopback: instances (with metadata user data, tags, a
public and a VPC interface, provisioning -> running), their disks and addresses, private images (creating ->
available), Cloud Firewalls (rules, devices), VPCs and subnets, regions, types, account, profile (the token's
scopes in X-OAuth-Scopes), domains and records. Pagination (`page`, `page_size`; answers with `page`, `pages`,
`results`) and the X-Filter header as Linode has them.

Linode's specification is not among our references, only the response fixtures of its official library's tests
(SPECS / "linode-fixtures"). So every response is checked against a schema derived from the matching fixture (the
same keys, none missing, none added, the same JSON types; a fixture's null admits anything), and every request
body against an allow-list of the fields Linode documents for that call (an unknown field, a missing required one
or a wrong type is a violation, and the request is answered 400 as Linode would). Violations are recorded in
`violations`, as the base class does.

A token without a scope (`fake.scopes` lacks it) gets Linode's 401 "Your OAuth token is not authorized to use this
endpoint." with X-Accepted-OAuth-Scopes naming the scope; every answer carries X-OAuth-Scopes.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import ipaddress
import json
import re
import threading
import time
from typing import Any, Dict, List, Optional, Set, Tuple

from adt.settings.providers import PROVIDERS
from tests.services.cloudfakes.base import SPECS, FakeProvider, Faults, HttpError, route

FIXTURES = SPECS / "linode-fixtures"

SCOPES = ("account", "domains", "firewall", "images", "ips", "linodes", "vpc")
UNAUTHORISED_SCOPE = "Your OAuth token is not authorized to use this endpoint."
TTLS = (30, 120, 300, 3600, 7200, 14400, 28800, 57600, 86400, 172800, 345600, 691200, 1209600, 2419200)


# -- schemas derived from fixtures -----------------------------------------------------------------------------
ANY = ("any",)


def derive(value: Any) -> tuple:
    """A schema of a fixture's value: ("object", {key: (schema, required)}), ("array", item), ("int"|"number"|
    "str"|"bool",), ANY for null."""
    if value is None:
        return ANY
    if isinstance(value, bool):
        return ("bool",)
    if isinstance(value, int):
        return ("int",)
    if isinstance(value, float):
        return ("number",)
    if isinstance(value, str):
        return ("str",)
    if isinstance(value, list):
        item: Optional[tuple] = None
        for element in value:
            item = derive(element) if item is None else merge(item, derive(element))
        return ("array", item or ANY)
    return ("object", {key: (derive(v), True) for key, v in value.items()})


def merge(a: tuple, b: tuple) -> tuple:
    """One schema for two examples of the same thing: keys in both required, in one optional; types widened."""
    if a == ANY or b == ANY:
        return ANY
    if a[0] == "object" and b[0] == "object":
        keys = set(a[1]) | set(b[1])
        fields = {}
        for key in keys:
            if key in a[1] and key in b[1]:
                fields[key] = (merge(a[1][key][0], b[1][key][0]), a[1][key][1] and b[1][key][1])
            else:
                fields[key] = ((a[1].get(key) or b[1].get(key))[0], False)
        return ("object", fields)
    if a[0] == "array" and b[0] == "array":
        return ("array", merge(a[1], b[1]))
    if {a[0], b[0]} == {"int", "number"}:
        return ("number",)
    return a if a == b else ANY


def conforms(value: Any, schema: tuple, where: str = "") -> List[str]:
    """What in value breaks schema (each problem with its path)."""
    kind = schema[0]
    if kind == "any" or value is None and kind != "object":
        return [] if kind == "any" or value is None else [f"{where or '.'}: null"]
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where or '.'}: {type(value).__name__}, not an object"]
        fields = schema[1]
        problems = [f"{where}.{key}: missing" for key, (_, need) in fields.items() if need and key not in value]
        problems += [f"{where}.{key}: not in Linode's answer" for key in value if key not in schema[1]]
        for key, item in value.items():
            if key in schema[1]:
                problems += conforms(item, schema[1][key][0], f"{where}.{key}")
        return problems
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where or '.'}: {type(value).__name__}, not an array"]
        return [p for i, item in enumerate(value) for p in conforms(item, schema[1], f"{where}[{i}]")]
    ok = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "str": isinstance(value, str),
    }[kind]
    return [] if ok else [f"{where or '.'}: {type(value).__name__}, not {kind}"]


@functools.lru_cache(maxsize=None)
def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@functools.lru_cache(maxsize=None)
def item_schema(*names: str) -> tuple:
    """The schema of one resource from fixtures: a listing's items and single objects, merged."""
    schema: Optional[tuple] = None
    for name in names:
        data = fixture(name)
        examples = data["data"] if isinstance(data, dict) and isinstance(data.get("data"), list) else [data]
        for example in examples:
            schema = derive(example) if schema is None else merge(schema, derive(example))
    assert schema is not None
    return schema


def template(name: str) -> Dict[str, Any]:
    """A fresh copy of a fixture's (first) resource, to fill in."""
    data = fixture(name)
    return copy.deepcopy(data["data"][0] if isinstance(data.get("data"), list) else data)


INSTANCE = ("linode_instances.json", "linode_instances_124.json")
IMAGE = ("images.json", "images_private_1337.json")
FIREWALL = ("networking_firewalls.json", "networking_firewalls_123.json")
DEVICE = ("networking_firewalls_123_devices.json", "networking_firewalls_123_devices_123.json")
VPC = ("vpcs.json", "vpcs_123456.json")
SUBNET = ("vpcs_123456_subnets.json", "vpcs_123456_subnets_789.json")
DOMAIN = ("domains.json",)
RECORD = ("domains_12345_records.json",)
EMPTY = ("object", {})
ERROR = ("object", {"errors": (("array", ("object", {"reason": (("str",), True), "field": (("str",), False)})), True)})


def listing(*names: str) -> tuple:
    return (
        "object",
        {
            "data": (("array", item_schema(*names)), True),
            "page": (("int",), True),
            "pages": (("int",), True),
            "results": (("int",), True),
        },
    )


# (method, route pattern) -> the schema of a successful answer
RESPONSES: Dict[Tuple[str, str], tuple] = {
    ("GET", "/linode/instances"): listing(*INSTANCE),
    ("POST", "/linode/instances"): item_schema(*INSTANCE),
    ("GET", "/linode/instances/{id}"): item_schema(*INSTANCE),
    ("PUT", "/linode/instances/{id}"): item_schema(*INSTANCE),
    ("DELETE", "/linode/instances/{id}"): EMPTY,
    ("GET", "/linode/instances/{id}/ips"): derive(fixture("linode_instances_123_ips.json")),
    ("GET", "/linode/instances/{id}/disks"): listing("linode_instances_123_disks.json"),
    ("GET", "/images"): listing(*IMAGE),
    ("POST", "/images"): item_schema(*IMAGE),
    ("GET", "/images/{vendor}/{image}"): item_schema(*IMAGE),
    ("DELETE", "/images/{vendor}/{image}"): EMPTY,
    ("GET", "/networking/firewalls"): listing(*FIREWALL),
    ("POST", "/networking/firewalls"): item_schema(*FIREWALL),
    ("GET", "/networking/firewalls/{id}"): item_schema(*FIREWALL),
    ("DELETE", "/networking/firewalls/{id}"): EMPTY,
    ("PUT", "/networking/firewalls/{id}/rules"): derive(fixture("networking_firewalls_123_rules.json")),
    ("GET", "/networking/firewalls/{id}/devices"): listing(*DEVICE),
    ("POST", "/networking/firewalls/{id}/devices"): item_schema(*DEVICE),
    ("GET", "/vpcs"): listing(*VPC),
    ("POST", "/vpcs"): item_schema(*VPC),
    ("GET", "/vpcs/{id}"): item_schema(*VPC),
    ("DELETE", "/vpcs/{id}"): EMPTY,
    ("GET", "/vpcs/{id}/subnets"): listing(*SUBNET),
    ("GET", "/vpcs/{id}/ips"): listing("vpcs_123456_ips.json"),
    ("GET", "/regions"): listing("regions.json"),
    ("GET", "/linode/types"): listing("linode_types.json"),
    ("GET", "/account"): derive(fixture("account.json")),
    ("GET", "/profile/sshkeys"): listing("profile_sshkeys.json"),
    ("POST", "/profile/sshkeys"): item_schema("profile_sshkeys.json"),
    ("GET", "/images/{id}"): item_schema(*IMAGE),
    ("GET", "/profile"): derive(fixture("profile.json")),
    ("GET", "/domains"): listing(*DOMAIN),
    ("GET", "/domains/{id}/records"): listing(*RECORD),
    ("POST", "/domains/{id}/records"): item_schema(*RECORD),
    ("DELETE", "/domains/{id}/records/{record}"): EMPTY,
}

# -- what Linode documents for each request body: field -> (type, required) ------------------------------------
RULE = {
    "action": ("str", True),
    "protocol": ("str", True),
    "ports": ("str", False),
    "addresses": ({"ipv4": (["str"], False), "ipv6": (["str"], False)}, False),
    "label": ("str", False),
    "description": ("str", False),
}
RULES = {
    "inbound": ([RULE], False),
    "inbound_policy": ("str", False),
    "outbound": ([RULE], False),
    "outbound_policy": ("str", False),
}
INTERFACE = {
    "purpose": ("str", True),
    "label": ("str", False),
    "ipam_address": ("str", False),
    "subnet_id": ("int", False),
    "primary": ("bool", False),
    "ipv4": ({"vpc": ("str", False), "nat_1_1": ("str", False)}, False),
    "ip_ranges": (["str"], False),
}
REQUESTS: Dict[Tuple[str, str], Dict[str, tuple]] = {
    ("POST", "/linode/instances"): {
        "region": ("str", True),
        "type": ("str", True),
        "label": ("str", False),
        "image": ("str", False),
        "root_pass": ("str", False),
        "authorized_keys": (["str"], False),
        "authorized_users": (["str"], False),
        "tags": (["str"], False),
        "booted": ("bool", False),
        "backups_enabled": ("bool", False),
        "private_ip": ("bool", False),
        "swap_size": ("int", False),
        "group": ("str", False),
        "firewall_id": ("int", False),
        "stackscript_id": ("int", False),
        "stackscript_data": ("object", False),
        "backup_id": ("int", False),
        "metadata": ({"user_data": ("str", False)}, False),
        "interfaces": ([INTERFACE], False),
        "placement_group": ("object", False),
        "disk_encryption": ("str", False),
        "maintenance_policy": ("str", False),
    },
    ("POST", "/profile/sshkeys"): {"label": ("str", False), "ssh_key": ("str", True)},
    ("PUT", "/linode/instances/{id}"): {  # an instance's mutable fields (linode_api4's Instance)
        "label": ("str", False),
        "group": ("str", False),
        "alerts": ("object", False),
        "backups": ("object", False),
        "tags": (["str"], False),
        "watchdog_enabled": ("bool", False),
        "maintenance_policy": ("str", False),
    },
    ("POST", "/images"): {
        "disk_id": ("int", True),
        "label": ("str", False),
        "description": ("str", False),
        "cloud_init": ("bool", False),
        "tags": (["str"], False),
    },
    ("POST", "/networking/firewalls"): {
        "label": ("str", True),
        "rules": ({**RULES, "inbound_policy": ("str", True), "outbound_policy": ("str", True)}, True),
        "devices": ({"linodes": (["int"], False), "nodebalancers": (["int"], False)}, False),
        "tags": (["str"], False),
    },
    ("PUT", "/networking/firewalls/{id}/rules"): RULES,
    ("POST", "/networking/firewalls/{id}/devices"): {"id": ("int", True), "type": ("str", True)},
    ("POST", "/vpcs"): {
        "label": ("str", True),
        "region": ("str", True),
        "description": ("str", False),
        "subnets": ([{"label": ("str", True), "ipv4": ("str", False)}], False),
    },
    ("POST", "/domains/{id}/records"): {
        "type": ("str", True),
        "name": ("str", False),
        "target": ("str", False),
        "ttl_sec": ("int", False),
        "priority": ("int", False),
        "weight": ("int", False),
        "port": ("int", False),
        "service": ("str", False),
        "protocol": ("str", False),
        "tag": ("str", False),
    },
}


def allowed(value: Any, fields: Any, where: str = "") -> List[str]:
    """What in a request body breaks the documented fields (a dict of field -> (type, required), a [type] list or
    a type name)."""
    if isinstance(fields, dict):
        if not isinstance(value, dict):
            return [f"{where or 'body'}: not an object"]
        problems = [f"{where}.{k}: required" for k, (_, required) in fields.items() if required and k not in value]
        problems += [f"{where}.{k}: not a field Linode documents" for k in value if k not in fields]
        return problems + [p for k, v in value.items() if k in fields for p in allowed(v, fields[k][0], f"{where}.{k}")]
    if isinstance(fields, list):
        if not isinstance(value, list):
            return [f"{where}: not an array"]
        return [p for i, item in enumerate(value) for p in allowed(item, fields[0], f"{where}[{i}]")]
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "object": isinstance(value, dict),
    }[fields]
    return [] if ok else [f"{where}: {type(value).__name__}, not {fields}"]


def stamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def scope_of(method: str, path: str) -> str:
    """The OAuth scope a call needs (Linode's names); '' for public reads (regions, types) and the profile."""
    area = path.strip("/").split("/")[0]
    area = {"linode": "linodes", "networking": "firewall", "vpcs": "vpc"}.get(area, area)
    if path.startswith("/profile/sshkeys"):
        area = "account"
    if area not in SCOPES:
        return ""
    if path.startswith("/linode/types"):
        return ""
    return f"{area}:{'read_only' if method == 'GET' else 'read_write'}"


class LinodeFake(FakeProvider):
    name = "linode"
    base_path = "/v4"
    default_image = "linode/debian13"
    default_region = "us-east"
    default_size = "g6-standard-1"
    # every region adt knows has what a build needs, except ap-west here: no Metadata, no VPCs (problems() says so)
    regions = {
        name: ["Linodes", "Block Storage", "Cloud Firewall"]
        + ([] if name == "ap-west" else ["VPCs", "Metadata", "Object Storage"])
        for name in PROVIDERS["linode"]["regions"]
    }
    types = PROVIDERS["linode"]["sizes"]
    public_images = ("linode/debian13", "linode/debian12", "linode/ubuntu24.04", "linode/alpine3.20")

    def __init__(self, token: str = "test-token"):
        super().__init__(token)
        self._validator = self  # the base class validates through _validate_request / _validate_response
        self.reset()

    def reset(self) -> None:
        """Forget everything (a fake shared by several tests): state, faults, scopes, calls, violations."""
        self.faults = Faults()
        self.violations.clear()
        self.calls.clear()
        self.scopes: Set[str] = {f"{scope}:read_write" for scope in SCOPES}
        self.backing: Any = None
        self.instances: Dict[int, Dict[str, Any]] = {}
        self.images: Dict[str, Dict[str, Any]] = {}
        self.firewalls: Dict[int, Dict[str, Any]] = {}
        self.vpcs: Dict[int, Dict[str, Any]] = {}
        self.domains: Dict[int, Dict[str, Any]] = {}
        self.records: Dict[int, Dict[int, Dict[str, Any]]] = {}
        self.ssh_keys: Dict[int, Dict[str, Any]] = {}
        self.root_passwords: Dict[str, str] = {}  # label -> what the create sent (tests check it is never reused)
        self._next = 1000

    @property
    def credentials(self) -> Dict[str, str]:
        return {"TOKEN": self.token}

    # -- for tests -------------------------------------------------------------------------------------------
    def user_data(self, name: str) -> str:
        instance = self._by_label(name)
        return base64.b64decode(instance["_user_data"]).decode() if instance.get("_user_data") else ""

    def firewall_rules(self, name: str) -> Set[Tuple[str, int, str]]:
        """The inbound rules of the firewall attached to the machine `name`: (proto, port, source)."""
        instance = self._by_label(name)
        found: Set[Tuple[str, int, str]] = set()
        for firewall in self.firewalls.values():
            if instance["id"] in firewall["_devices"]:
                for rule in firewall["rules"]["inbound"]:
                    proto = rule["protocol"].lower()
                    ports = [int(p) for p in rule.get("ports", "").split(",") if p.strip()] or [0]
                    addresses = rule.get("addresses", {})
                    for address in addresses.get("ipv4", []) + addresses.get("ipv6", []):
                        found.update((proto, port, address) for port in ports)
        return found

    def firewalls_of(self, name: str) -> List[str]:
        instance = self._by_label(name)
        return [f["label"] for f in self.firewalls.values() if instance["id"] in f["_devices"]]

    def add_untagged(self, name: str) -> None:
        """A running Linode labelled `name` with no tags, as the original toolkit (linode-cli) makes them; no
        backing, no VPC."""
        with self.lock:
            instance = template("linode_instances_124.json")
            instance.update(
                id=self._id(), label=name, region=self.default_region, type=self.default_size,
                image=self.default_image, tags=[], status="running", ipv4=[], ipv6=None, group="",
                created=stamp(self.now() - 3600), updated=stamp(self.now() - 3600), placement_group=None,
            )  # fmt: skip
            address = f"198.51.100.{instance['id'] % 250 + 2}"
            instance.update(ipv4=[address], _created=self.now() - 3600, _started=self.now() - 3600, _user_data=None,
                            _subnet=None, _address=address, _private="")  # fmt: skip
            self.instances[instance["id"]] = instance

    def keys(self) -> List[str]:
        """The public keys registered in the profile (what the driver registered once)."""
        return [k["ssh_key"] for k in self.ssh_keys.values()]

    def servers(self) -> List[str]:
        return sorted(i["label"] for i in self.instances.values())

    def add_domain(self, domain: str) -> int:
        with self.lock:
            body = template("domains.json")
            body.update(id=self._id(), domain=domain, soa_email=f"admin@{domain}", tags=[])
            self.domains[body["id"]] = body
            self.records[body["id"]] = {}
            return body["id"]

    def _by_label(self, name: str) -> Dict[str, Any]:
        for instance in self.instances.values():
            if instance["label"] == name:
                return instance
        raise KeyError(name)

    def _id(self) -> int:
        self._next += 1
        return self._next

    # -- the frame: errors, scopes, validation ----------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        return {"errors": [{"reason": message}]}

    def _wsgi(self, environ, start_response):
        def start(status, headers, exc_info=None):
            extra = [("X-OAuth-Scopes", " ".join(sorted(self.scopes)) or "none")]
            scope = environ.get("adt.accepted_scope")
            if scope:
                extra.append(("X-Accepted-OAuth-Scopes", scope))
            return start_response(status, list(headers) + extra, exc_info)

        return super()._wsgi(environ, start)

    def need(self, request) -> None:
        """Linode's 401 when the token lacks the scope of this call."""
        path = request.path[len(self.base_path) :]
        scope = scope_of(request.method, path)
        if not scope:
            return
        area, level = scope.split(":")
        held = {s for s in self.scopes if s == "*" or s.split(":")[0] == area}
        if "*" in held or f"{area}:read_write" in held or (level == "read_only" and f"{area}:read_only" in held):
            return
        request.environ["adt.accepted_scope"] = scope
        raise HttpError(401, UNAUTHORISED_SCOPE)

    def _route_of(self, request) -> Optional[Tuple[str, str]]:
        path = request.path[len(self.base_path) :]
        for method, pattern in list(RESPONSES) + list(REQUESTS):
            regex = "^" + re.sub(r"\{(\w+)\}", r"[^/]+", pattern) + "$"
            if method == request.method and re.match(regex, path):
                return method, pattern
        return None

    def _validate_request(self, request) -> str:
        key = self._route_of(request)
        if key is None or key not in REQUESTS:
            return ""
        try:
            body = self.body(request)
        except ValueError:
            body = "not JSON"
        problems = allowed(body, REQUESTS[key])
        if problems:
            problem = f"request {request.method} {request.path}: " + "; ".join(problems)
            self.violations.append(problem)
            return problem
        return ""

    def _validate_response(self, request, response) -> None:
        key = self._route_of(request)
        try:
            body = json.loads(response.get_data() or b"null")
        except ValueError:
            self.violations.append(f"response to {request.method} {request.path}: not JSON")
            return
        if response.status_code >= 400:
            schema = ERROR
        elif key is None or key not in RESPONSES:
            return  # not implemented: the base class has recorded it
        else:
            schema = RESPONSES[key]
        problems = conforms(body, schema)
        if problems:
            self.violations.append(
                f"response to {request.method} {request.path} ({response.status_code}): " + "; ".join(problems[:8])
            )

    # -- pagination and X-Filter -----------------------------------------------------------------------------
    def paged(self, request, items: List[Dict[str, Any]]) -> Tuple[int, Any]:
        items = [i for i in items if self.matches(i, self.filters(request))]
        size = int(request.args.get("page_size", 100))
        if not 25 <= size <= 500:
            raise HttpError(400, "page_size must be between 25 and 500")
        size = self.faults.page_size or size
        pages = max(1, -(-len(items) // size))
        number = int(request.args.get("page", 1))
        if not 1 <= number <= pages:
            raise HttpError(400, f"page must be between 1 and {pages}")
        chunk = items[(number - 1) * size : number * size]
        return 200, {"data": [self.public(i) for i in chunk], "page": number, "pages": pages, "results": len(items)}

    @staticmethod
    def filters(request) -> Dict[str, Any]:
        text = request.headers.get("X-Filter")
        if not text:
            return {}
        try:
            found = json.loads(text)
        except ValueError:
            raise HttpError(400, "X-Filter is not JSON") from None
        if not isinstance(found, dict):
            raise HttpError(400, "X-Filter must be an object")
        return found

    @classmethod
    def matches(cls, item: Dict[str, Any], filters: Dict[str, Any]) -> bool:
        for key, wanted in filters.items():
            if key == "+and":
                if not all(cls.matches(item, f) for f in wanted):
                    return False
                continue
            if key.startswith("+") or key not in item:
                raise HttpError(400, f"Cannot filter on {key}")
            value = item[key]
            if isinstance(value, list) and wanted not in value or not isinstance(value, list) and value != wanted:
                return False
        return True

    @staticmethod
    def public(item: Dict[str, Any]) -> Dict[str, Any]:
        return {k: v for k, v in item.items() if not k.startswith("_")}

    # -- instances -------------------------------------------------------------------------------------------
    def _refresh(self, instance: Dict[str, Any]) -> Dict[str, Any]:
        if instance["status"] == "provisioning" and self.finished(instance["_started"]) and instance["_address"]:
            instance["status"] = "running"
            instance["ipv4"] = [instance["_address"]]
        return instance

    def _instance(self, request, id: str) -> Dict[str, Any]:
        self.need(request)
        instance = self.instances.get(int(id)) if id.isdigit() else None
        if instance is None:
            raise HttpError(404, "Not found")
        return self._refresh(instance)

    @route("GET", "/linode/instances")
    def list_instances(self, request):
        self.need(request)
        shown = [self._refresh(i) for i in self.instances.values() if self.visible(i["_created"])]
        return self.paged(request, shown)

    @route("POST", "/linode/instances")
    def create_instance(self, request):
        self.need(request)
        body = self.body(request)
        if body["region"] not in self.regions:
            raise HttpError(400, "region is not valid")
        if body["type"] not in self.types:
            raise HttpError(400, "type is not valid")
        image = body.get("image")
        if image and image not in self.public_images and image not in self.images:
            raise HttpError(400, "image is not valid")
        if image and not (body.get("root_pass") or body.get("authorized_keys") or body.get("authorized_users")):
            raise HttpError(400, "root_pass is required when deploying an image")
        label = body.get("label") or f"linode{self._next + 1}"
        if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9]|[-_.](?![-_.])){1,62}[A-Za-z0-9]", label):
            raise HttpError(400, "label must be 3-64 letters, digits, -, _ or . and begin and end with one")
        if any(i["label"] == label for i in self.instances.values()):
            raise HttpError(400, "Label must be unique among your Linodes")
        user_data = (body.get("metadata") or {}).get("user_data")
        if user_data is not None:
            if "Metadata" not in self.regions[body["region"]]:
                raise HttpError(400, "metadata is not supported in this region")
            try:
                base64.b64decode(user_data, validate=True)
            except binascii.Error:
                raise HttpError(400, "metadata.user_data must be base64") from None
        for tag in body.get("tags", []):
            if not 3 <= len(tag) <= 50:
                raise HttpError(400, "tags must be 3-50 characters")
        subnet = None
        for interface in body.get("interfaces", []):
            if interface["purpose"] == "vpc":
                subnet = self._subnet(interface.get("subnet_id"))
                if subnet is None:
                    raise HttpError(400, "subnet_id is not valid")
        instance = template("linode_instances_124.json")
        instance.update(
            id=self._id(),
            label=label,
            region=body["region"],
            type=body["type"],
            image=image,
            tags=sorted(set(body.get("tags", []))),
            status="provisioning",
            ipv4=[],
            ipv6=None,
            group="",
            created=stamp(self.now()),
            updated=stamp(self.now()),
            placement_group=None,
        )
        instance.update(_created=self.now(), _started=self.now(), _user_data=user_data, _subnet=subnet, _address="")
        self.root_passwords[label] = body.get("root_pass", "")
        n = instance["id"] % 250 + 2
        if self.backing is None:
            instance["_address"] = f"203.0.113.{n}"
            instance["_private"] = f"10.0.0.{n}"
        else:
            text = base64.b64decode(user_data).decode() if user_data else ""
            threading.Thread(target=self._back, args=(instance, text), daemon=True).start()
        self.instances[instance["id"]] = instance
        return 200, self.public(instance)

    def _back(self, instance: Dict[str, Any], user_data: str) -> None:
        address = self.backing.create(instance["label"], user_data)
        with self.lock:
            instance["_address"] = instance["_private"] = address

    @route("GET", "/linode/instances/{id}")
    def get_instance(self, request, id):
        return 200, self.public(self._instance(request, id))

    @route("PUT", "/linode/instances/{id}")
    def update_instance(self, request, id):
        instance = self._instance(request, id)
        body = self.body(request)
        for tag in body.get("tags", []):
            if not 3 <= len(tag) <= 50:
                raise HttpError(400, "tags must be 3-50 characters")
        if "label" in body and any(i["label"] == body["label"] and i is not instance for i in self.instances.values()):
            raise HttpError(400, "Label must be unique among your Linodes")
        for key in ("label", "group", "watchdog_enabled"):
            if key in body:
                instance[key] = body[key]
        if "tags" in body:
            instance["tags"] = sorted(set(body["tags"]))
        instance["updated"] = stamp(self.now())
        return 200, self.public(instance)

    @route("DELETE", "/linode/instances/{id}")
    def delete_instance(self, request, id):
        instance = self._instance(request, id)
        del self.instances[instance["id"]]
        for firewall in self.firewalls.values():
            if instance["id"] in firewall["_devices"]:
                firewall["_devices"].remove(instance["id"])
        if self.backing is not None:
            threading.Thread(target=self.backing.destroy, args=(instance["label"],), daemon=True).start()
        return 200, {}

    @route("GET", "/linode/instances/{id}/ips")
    def instance_ips(self, request, id):
        instance = self._instance(request, id)
        answer = copy.deepcopy(fixture("linode_instances_123_ips.json"))
        ipv4 = answer["ipv4"]
        public = ipv4["public"][0]
        public.update(address=instance["_address"], linode_id=instance["id"], region=instance["region"], rdns=None)
        ipv4.update(public=[public] if instance["status"] == "running" else [], private=[], reserved=[], shared=[])
        vpc = ipv4["vpc"][0]
        if instance["_subnet"] is not None and instance["status"] == "running":
            vpc_id, subnet = instance["_subnet"]
            vpc.update(
                address=instance["_private"], vpc_id=vpc_id, subnet_id=subnet["id"], region=instance["region"],
                linode_id=instance["id"], nat_1_1=None, config_id=instance["id"], interface_id=instance["id"],
            )
            ipv4["vpc"] = [vpc]
        else:
            ipv4["vpc"] = []
        return 200, answer

    @route("GET", "/linode/instances/{id}/disks")
    def instance_disks(self, request, id):
        instance = self._instance(request, id)
        disks = fixture("linode_instances_123_disks.json")["data"]
        main, swap = copy.deepcopy(disks[0]), copy.deepcopy(disks[1])
        main.update(id=instance["id"] * 10, label=f"{instance['image']} Disk")
        swap.update(id=instance["id"] * 10 + 1)
        return self.paged(request, [main, swap])

    # -- images ----------------------------------------------------------------------------------------------
    def _refresh_image(self, image: Dict[str, Any]) -> Dict[str, Any]:
        if image["status"] == "creating" and self.finished(image["_started"]):
            image["status"] = "available"
        return image

    @route("GET", "/images")
    def list_images(self, request):
        self.need(request)
        shown = [self._refresh_image(i) for i in self.images.values() if self.visible(i["_created"])]
        return self.paged(request, shown)

    @route("POST", "/images")
    def create_image(self, request):
        self.need(request)
        body = self.body(request)
        disk = body["disk_id"]
        instance = self.instances.get(disk // 10)
        if instance is None or disk % 10 != 0:
            raise HttpError(400, "disk_id is not valid")
        image = template("images_private_1337.json")
        image.update(
            id=f"private/{self._id()}",
            label=body.get("label") or f"{instance['label']} image",
            description=body.get("description", ""),
            status="creating",
            created=stamp(self.now()),
            updated=stamp(self.now()),
            created_by="adt-test",
            size=2500,
            expiry=None,
            eol=None,
            tags=body.get("tags", []),
        )
        image.update(_created=self.now(), _started=self.now())
        self.images[image["id"]] = image
        return 200, self.public(image)

    def _image(self, request, vendor: str, name: str) -> Dict[str, Any]:
        self.need(request)
        key = f"{vendor}/{name}"
        if key in self.public_images:
            image = template("images.json")
            image.update(id=key, label=key, is_public=True, capabilities=["cloud-init"], tags=[])
            return image
        if key not in self.images:
            raise HttpError(404, "Not found")
        return self._refresh_image(self.images[key])

    @route("GET", "/images/{id}")
    def get_unknown_image(self, request, id):
        self.need(request)
        raise HttpError(404, "Not found")  # Linode's image ids are vendor/name or private/N

    @route("GET", "/images/{vendor}/{image}")
    def get_image(self, request, vendor, image):
        return 200, self.public(self._image(request, vendor, image))

    @route("DELETE", "/images/{vendor}/{image}")
    def delete_image(self, request, vendor, image):
        found = self._image(request, vendor, image)
        if found["is_public"]:
            raise HttpError(403, "You do not have permission to delete this image")
        del self.images[found["id"]]
        return 200, {}

    # -- firewalls -------------------------------------------------------------------------------------------
    def _firewall(self, request, id: str) -> Dict[str, Any]:
        self.need(request)
        firewall = self.firewalls.get(int(id)) if id.isdigit() else None
        if firewall is None:
            raise HttpError(404, "Not found")
        return firewall

    @staticmethod
    def _check_rules(rules: Dict[str, Any]) -> None:
        for rule in rules.get("inbound", []) + rules.get("outbound", []):
            if rule["action"] not in ("ACCEPT", "DROP") or rule["protocol"] not in ("TCP", "UDP", "ICMP", "IPENCAP"):
                raise HttpError(400, "rule action or protocol is not valid")
            if rule["protocol"] == "ICMP" and rule.get("ports"):
                raise HttpError(400, "ports are not allowed for ICMP")
            for address in rule.get("addresses", {}).get("ipv4", []) + rule.get("addresses", {}).get("ipv6", []):
                try:
                    ipaddress.ip_network(address)
                except ValueError:
                    raise HttpError(400, f"{address} is not a valid address") from None
        for policy in ("inbound_policy", "outbound_policy"):
            if policy in rules and rules[policy] not in ("ACCEPT", "DROP"):
                raise HttpError(400, f"{policy} must be ACCEPT or DROP")

    @route("GET", "/networking/firewalls")
    def list_firewalls(self, request):
        self.need(request)
        return self.paged(request, list(self.firewalls.values()))

    @route("POST", "/networking/firewalls")
    def create_firewall(self, request):
        self.need(request)
        body = self.body(request)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{1,30}[A-Za-z0-9]", body["label"]):
            raise HttpError(400, "label must be 3-32 letters, digits, -, _ or .")
        if any(f["label"] == body["label"] for f in self.firewalls.values()):
            raise HttpError(400, "Label must be unique")
        self._check_rules(body["rules"])
        firewall = template("networking_firewalls_123.json")
        rules = {"inbound": [], "outbound": [], **body["rules"], "version": 1, "fingerprint": "00000001"}
        firewall.update(id=self._id(), label=body["label"], rules=rules, tags=body.get("tags", []))
        firewall.update(created=stamp(self.now()), updated=stamp(self.now()), _devices=[])
        for linode in body.get("devices", {}).get("linodes", []):
            if linode not in self.instances:
                raise HttpError(400, f"Linode {linode} is not valid")
            firewall["_devices"].append(linode)
        self.firewalls[firewall["id"]] = firewall
        return 200, self.public(firewall)

    @route("GET", "/networking/firewalls/{id}")
    def get_firewall(self, request, id):
        return 200, self.public(self._firewall(request, id))

    @route("DELETE", "/networking/firewalls/{id}")
    def delete_firewall(self, request, id):
        del self.firewalls[self._firewall(request, id)["id"]]
        return 200, {}

    @route("PUT", "/networking/firewalls/{id}/rules")
    def put_rules(self, request, id):
        firewall = self._firewall(request, id)
        body = self.body(request)
        self._check_rules(body)
        rules = firewall["rules"]
        rules.update(body)
        rules["version"] += 1
        rules["fingerprint"] = f"{rules['version']:08x}"
        return 200, rules

    def _device(self, firewall: Dict[str, Any], linode: int) -> Dict[str, Any]:
        device = template("networking_firewalls_123_devices_123.json")
        label = self.instances[linode]["label"] if linode in self.instances else ""
        entity = {"id": linode, "label": label, "type": "linode", "url": f"/v4/linode/instances/{linode}"}
        device.update(id=linode, entity=entity)
        return device

    @route("GET", "/networking/firewalls/{id}/devices")
    def list_devices(self, request, id):
        firewall = self._firewall(request, id)
        return self.paged(request, [self._device(firewall, d) for d in firewall["_devices"]])

    @route("POST", "/networking/firewalls/{id}/devices")
    def add_device(self, request, id):
        firewall = self._firewall(request, id)
        body = self.body(request)
        if body["type"] != "linode" or body["id"] not in self.instances:
            raise HttpError(400, "device is not valid")
        if body["id"] in firewall["_devices"]:
            raise HttpError(400, "This Linode is already assigned to this firewall")
        firewall["_devices"].append(body["id"])
        return 200, self._device(firewall, body["id"])

    # -- VPCs ------------------------------------------------------------------------------------------------
    def _subnet(self, subnet_id: Optional[int]) -> Optional[Tuple[int, Dict[str, Any]]]:
        for vpc in self.vpcs.values():
            for subnet in vpc["_subnets"]:
                if subnet["id"] == subnet_id:
                    return vpc["id"], subnet
        return None

    def _vpc(self, request, id: str) -> Dict[str, Any]:
        self.need(request)
        vpc = self.vpcs.get(int(id)) if id.isdigit() else None
        if vpc is None:
            raise HttpError(404, "Not found")
        return vpc

    def _members(self, vpc: Dict[str, Any]) -> List[Dict[str, Any]]:
        ids = {s["id"] for s in vpc["_subnets"]}
        return [i for i in self.instances.values() if i["_subnet"] is not None and i["_subnet"][1]["id"] in ids]

    @route("GET", "/vpcs")
    def list_vpcs(self, request):
        self.need(request)
        return self.paged(request, list(self.vpcs.values()))

    @route("POST", "/vpcs")
    def create_vpc(self, request):
        self.need(request)
        body = self.body(request)
        if body["region"] not in self.regions or "VPCs" not in self.regions[body["region"]]:
            raise HttpError(400, "region does not support VPCs")
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", body["label"]) or "--" in body["label"]:
            raise HttpError(400, "label must be letters, digits and single dashes")
        if any(v["label"] == body["label"] for v in self.vpcs.values()):
            raise HttpError(400, "Label must be unique among your VPCs")
        vpc = template("vpcs_123456.json")
        vpc.update(id=self._id(), label=body["label"], region=body["region"], description=body.get("description", ""))
        vpc.update(created=stamp(self.now()), updated=stamp(self.now()), ipv6=[], _subnets=[])
        for wanted in body.get("subnets", []):
            subnet = template("vpcs_123456_subnets_789.json")
            subnet.update(id=self._id(), label=wanted["label"], ipv4=wanted.get("ipv4", "10.0.0.0/24"), ipv6=[])
            subnet.update(linodes=[], databases=[], created=stamp(self.now()), updated=stamp(self.now()))
            vpc["_subnets"].append(subnet)
        self.vpcs[vpc["id"]] = vpc
        return 200, self.public(vpc)

    @route("GET", "/vpcs/{id}")
    def get_vpc(self, request, id):
        return 200, self.public(self._vpc(request, id))

    @route("DELETE", "/vpcs/{id}")
    def delete_vpc(self, request, id):
        vpc = self._vpc(request, id)
        if self._members(vpc):
            raise HttpError(400, "Cannot delete a VPC while Linodes are assigned to its subnets")
        del self.vpcs[vpc["id"]]
        return 200, {}

    @route("GET", "/vpcs/{id}/subnets")
    def list_subnets(self, request, id):
        vpc = self._vpc(request, id)
        subnets = []
        for subnet in vpc["_subnets"]:
            shown = copy.deepcopy(subnet)
            shown["linodes"] = [
                {"id": i["id"], "interfaces": [{"id": i["id"], "active": True, "config_id": i["id"]}]}
                for i in self._members(vpc)
                if i["_subnet"][1]["id"] == subnet["id"]
            ]
            subnets.append(shown)
        return self.paged(request, subnets)

    @route("GET", "/vpcs/{id}/ips")
    def list_vpc_ips(self, request, id):
        vpc = self._vpc(request, id)
        found = []
        for instance in self._members(vpc):
            self._refresh(instance)
            if instance["status"] != "running":
                continue
            ip = copy.deepcopy(fixture("vpcs_123456_ips.json")["data"][0])
            ip.update(
                address=instance["_private"], vpc_id=vpc["id"], subnet_id=instance["_subnet"][1]["id"],
                region=instance["region"], linode_id=instance["id"], config_id=instance["id"],
                interface_id=instance["id"], gateway="10.0.0.1", prefix=24, subnet_mask="255.255.255.0",
            )
            found.append(ip)
        return self.paged(request, found)

    # -- regions, types, account, profile --------------------------------------------------------------------
    @route("GET", "/regions")
    def list_regions(self, request):
        found = []
        for name, capabilities in self.regions.items():
            region = template("regions.json")
            region.update(id=name, label=name, capabilities=list(capabilities), country=name[:2])
            found.append(region)
        return self.paged(request, found)

    @route("GET", "/linode/types")
    def list_types(self, request):
        found = []
        for name in self.types:
            kind = template("linode_types.json")
            kind.update(id=name, label=name)
            found.append(kind)
        return self.paged(request, found)

    @route("GET", "/account")
    def account(self, request):
        self.need(request)
        return 200, copy.deepcopy(fixture("account.json"))

    @route("GET", "/profile/sshkeys")
    def list_keys(self, request):
        self.need(request)
        return self.paged(request, list(self.ssh_keys.values()))

    @route("POST", "/profile/sshkeys")
    def add_key(self, request):
        self.need(request)
        body = self.body(request)
        if not re.match(r"^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+", body["ssh_key"]):
            raise HttpError(400, "ssh_key is not a valid SSH public key")
        key = template("profile_sshkeys.json")
        key.update(id=self._id(), label=body.get("label", ""), ssh_key=body["ssh_key"], created=stamp(self.now()))
        self.ssh_keys[key["id"]] = key
        return 200, key

    @route("GET", "/profile")
    def profile(self, request):
        return 200, copy.deepcopy(fixture("profile.json"))

    # -- domains ---------------------------------------------------------------------------------------------
    def _domain(self, request, id: str) -> Dict[str, Any]:
        self.need(request)
        domain = self.domains.get(int(id)) if id.isdigit() else None
        if domain is None:
            raise HttpError(404, "Not found")
        return domain

    @route("GET", "/domains")
    def list_domains(self, request):
        self.need(request)
        return self.paged(request, list(self.domains.values()))

    @route("GET", "/domains/{id}/records")
    def list_records(self, request, id):
        domain = self._domain(request, id)
        return self.paged(request, list(self.records[domain["id"]].values()))

    @route("POST", "/domains/{id}/records")
    def create_record(self, request, id):
        domain = self._domain(request, id)
        body = self.body(request)
        if body["type"] == "A":
            try:
                ipaddress.IPv4Address(body.get("target", ""))
            except ValueError:
                raise HttpError(400, "target must be an IPv4 address") from None
        ttl = body.get("ttl_sec", 0)
        record = template("domains_12345_records.json")
        record.update(
            id=self._id(), type=body["type"], name=body.get("name", ""), target=body.get("target", ""),
            ttl_sec=next((t for t in TTLS if t >= ttl), TTLS[-1]) if ttl else 0,
            priority=0, weight=0, port=0, created=stamp(self.now()), updated=stamp(self.now()),
        )
        self.records[domain["id"]][record["id"]] = record
        return 200, record

    @route("DELETE", "/domains/{id}/records/{record}")
    def delete_record(self, request, id, record):
        domain = self._domain(request, id)
        if not record.isdigit() or int(record) not in self.records[domain["id"]]:
            raise HttpError(404, "Not found")
        del self.records[domain["id"]][int(record)]
        return 200, {}
