"""A fake of Exoscale's API v2 (https://api-<zone>.exoscale.com/v2) for what adt calls: instances, private networks
and their leases, security groups, snapshots promoted to templates, instance types, templates, zones, quotas, SSH
keys, DNS domains and records; every change answers an `operation` that goes pending -> success.

Every request and response is validated against the specification the official SDK ships
(`exoscale/openapi.json`), amended where the published document falls short of the API: it declares no error
answers (Exoscale answers `{"message": ...}` with 4xx), and it marks a security group's `rules` write-only while
get-security-group returns them. Requests are authenticated as Exoscale does: the EXO2-HMAC-SHA256 signature over
method, path, body, signed query values and expiry is checked with the test's key and secret (a wrong or expired
one: 401); `scopes`, when set, are the operations the key's IAM role allows (others: 403). list-zones is public.

Exoscale's listings have no pagination: `faults.page_size` changes nothing here (`paged = False`).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import ipaddress
import json
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple
from urllib.parse import parse_qs

import exoscale

from tests.services.cloudfakes.base import Answer, FakeProvider, HttpError, route

SPEC = Path(exoscale.__file__).parent / "openapi.json"
ZONES = ("at-vie-1", "at-vie-2", "bg-sof-1", "ch-dk-2", "ch-gva-2", "de-fra-1", "de-muc-1", "hr-zag-1")
SIZES = ("micro", "tiny", "small", "medium", "large", "extra-large", "huge", "mega", "titan", "jumbo", "colossus")
GIB = 2**30
DEBIAN = "Linux Debian 13 (Trixie) 64-bit"
PUBLIC_TEMPLATES = (DEBIAN, "Linux Debian 12 (Bookworm) 64-bit", "Linux Ubuntu 24.04 LTS 64-bit")
NAMESPACE = uuid.UUID("6f1b52a0-0d55-4b5e-9b8e-2a3f7c6f0e11")


def stable_id(text: str) -> str:
    return str(uuid.uuid5(NAMESPACE, text))


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_openapi_30(node: Any) -> None:
    """The document is OpenAPI 3.0 with a few 3.1 habits: null descriptions (dropped) and `type: [t, "null"]`
    (written `type: t, nullable: true`)."""
    if isinstance(node, dict):
        for key in [k for k, v in node.items() if v is None]:
            del node[key]
        kind = node.get("type")
        if isinstance(kind, list):
            others = [k for k in kind if k != "null"]
            node["type"] = others[0] if others else "string"
            if "null" in kind:
                node["nullable"] = True
        for value in node.values():
            _as_openapi_30(value)
    elif isinstance(node, list):
        for value in node:
            _as_openapi_30(value)


def signature_ok(request, key: str, secret: str, now: float) -> bool:
    """Exoscale's EXO2-HMAC-SHA256 check: `EXO2-HMAC-SHA256 credential=<key>[,signed-query-args=a;b],
    expires=<unix>,signature=<base64 HMAC-SHA256>` over "METHOD path\\nbody\\nvalues of the signed query
    arguments (sorted)\\n(headers: none)\\nexpires"."""
    header = request.headers.get("Authorization", "")
    scheme, _, rest = header.partition(" ")
    if scheme != "EXO2-HMAC-SHA256":
        return False
    fields = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
    if fields.get("credential") != key:
        return False
    try:
        expires = int(fields.get("expires", ""))
    except ValueError:
        return False
    if expires < now:
        return False
    path = (request.environ.get("RAW_URI") or request.path).split("?", 1)[0]
    signed = [name for name in fields.get("signed-query-args", "").split(";") if name]
    query = parse_qs(request.query_string.decode())
    if sorted(query) != sorted(signed):
        return False
    values = "".join(query[name][0] for name in sorted(signed) if len(query[name]) == 1)
    message = b"\n".join(
        [f"{request.method} {path}".encode(), request.get_data(), values.encode(), b"", str(expires).encode()]
    )
    expected = base64.standard_b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, fields.get("signature", ""))


class ExoscaleFake(FakeProvider):
    name = "exoscale"
    base_path = "/v2"
    spec_path = SPEC
    paged = False  # Exoscale's listings come whole
    default_region = "ch-gva-2"
    default_size = "small"  # as the template names it (standard.small)
    default_image = DEBIAN

    def __init__(self, key: str = "EXOfakekey0123456789abcd", secret: str = "fake-secret-0123456789abcdef"):
        super().__init__(token=secret)
        self.key, self.secret = key, secret
        self.scopes: Optional[Set[str]] = None  # None: every operation; else the operation ids allowed
        self.instance_limit = 20
        self.backing: Any = None
        self.instances: Dict[str, dict] = {}
        self.networks: Dict[str, dict] = {}
        self.groups: Dict[str, dict] = {}
        self.snapshots: Dict[str, dict] = {}
        self.templates: Dict[str, dict] = {}
        self.ssh_keys: Dict[str, dict] = {}
        self.operations: Dict[str, dict] = {}
        self.domains: Dict[str, dict] = {}
        self.records: Dict[str, Dict[str, dict]] = {}  # domain id -> record id -> record
        self._public_ip = 0
        for index, name in enumerate(PUBLIC_TEMPLATES):
            self.templates[stable_id(name)] = {
                "id": stable_id(name), "name": name, "visibility": "public", "family": "debian",
                "default-user": "debian" if "Debian" in name else "ubuntu", "size": 10 * GIB,
                "ssh-key-enabled": True, "password-enabled": False, "boot-mode": "legacy",
                "zones": list(ZONES), "created-at": iso(1_700_000_000 + index), "maintainer": "Exoscale",
            }  # fmt: skip
        self.types = [
            {"id": stable_id(f"{family}.{size}"), "family": family, "size": size, "cpus": 1 + i // 3,
             "memory": 512 * 2**20 * (i + 1), "authorized": True, "zones": list(ZONES)}
            for family in ("standard", "cpu", "memory") for i, size in enumerate(SIZES)
        ]  # fmt: skip
        self._operations_by_route = self._operation_ids()
        self._routes = [(method, regex, self._guarded(method, handler)) for method, regex, handler in self._routes]

    # -- what tests read ---------------------------------------------------------------------------
    @property
    def credentials(self) -> Dict[str, str]:
        return {"ACCESS_KEY": self.key, "SECRET_KEY": self.secret}

    def _named(self, name: str) -> Optional[dict]:
        return next((i for i in self.instances.values() if i["name"] == name and "deleting" not in i), None)

    def servers(self) -> List[str]:
        with self.lock:
            self._settle()
            return sorted(i["name"] for i in self.instances.values() if "deleting" not in i)

    def add_untagged(self, name: str) -> None:
        """A running instance named `name` with no labels, as the original toolkit (exo) makes them; no backing."""
        with self.lock:
            self._public_ip += 1
            id = str(uuid.uuid4())
            self.instances[id] = {
                "id": id, "name": name, "state": "running", "created": self.now() - 3600, "labels": {},
                "type": stable_id("standard.small"), "template": stable_id(self.default_image), "disk-size": 50,
                "ssh-keys": [], "user-data": "", "private-networks": [], "security-groups": [],
                "mac": "06:00:01:%02x:%02x:%02x" % (self._public_ip // 65536 % 256, self._public_ip // 256 % 256,
                                                      self._public_ip % 256),
                "booted": True, "public-ip": str(ipaddress.ip_address("194.182.170.0") + self._public_ip),
            }  # fmt: skip

    def user_data(self, name: str) -> str:
        with self.lock:
            instance = self._named(name)
            assert instance is not None, f"no instance {name}"
            raw = base64.b64decode(instance["user-data"])
        return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()

    def labels(self, name: str) -> Dict[str, str]:
        with self.lock:
            instance = self._named(name)
            return dict(instance["labels"]) if instance else {}

    def tags(self, name: str) -> List[str]:
        """The labels as the tags they carry (adt-build: t1 -> adt-build-t1)."""
        return sorted(f"{key}-{value}" for key, value in self.labels(name).items())

    def keys(self) -> List[str]:
        with self.lock:
            return sorted(self.ssh_keys)

    def firewall_rules(self, name: str) -> Set[Tuple[str, int, str]]:
        """The inbound rules of the security group adt-<name>, when it is attached to the machine <name>."""
        with self.lock:
            instance = self._named(name)
            group = next((g for g in self.groups.values() if g["name"] == f"adt-{name}"), None)
            if instance is None or group is None or group["id"] not in instance["security-groups"]:
                return set()
            return {
                (r["protocol"], 0 if r["protocol"] == "icmp" else r["start-port"], r["network"])
                for r in group["rules"]
                if r["flow-direction"] == "ingress"
            }

    def private_networks(self) -> List[str]:
        with self.lock:
            return sorted(n["name"] for n in self.networks.values())

    # -- the frame's hooks -------------------------------------------------------------------------
    def fix_spec(self, spec: dict) -> None:
        error = {
            "description": "error",
            "content": {
                "application/json": {"schema": {"type": "object", "properties": {"message": {"type": "string"}}}}
            },
        }
        for item in spec["paths"].values():
            for operation in item.values():
                operation.setdefault("responses", {}).setdefault("default", error)
        spec["components"]["schemas"]["security-group"]["properties"]["rules"].pop("writeOnly", None)
        for tag in spec.get("tags") or []:  # the document's tags carry `parent`, which OpenAPI 3.0 does not allow
            tag.pop("parent", None)
        _as_openapi_30(spec)
        # attach/detach name the instance by its id, which the instance schema marks read-only (a request may
        # not carry it): the API's own CLI and SDKs send {"instance": {"id": ...}}
        reference = {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}}}
        for path in ("/private-network/{id}:detach", "/security-group/{id}:attach", "/security-group/{id}:detach"):
            body = spec["paths"][path]["put"]["requestBody"]["content"]["application/json"]["schema"]
            body["properties"]["instance"] = reference

    def authorised(self, request) -> bool:
        if request.method == "GET" and request.path == f"{self.base_path}/zone":
            return True  # list-zones is public
        return signature_ok(request, self.key, self.secret, time.time())

    def error_body(self, status: int, message: str) -> Any:
        if status == 401:
            message = "unable to verify user credentials and/or request signature"
        return {"message": message}

    def _operation_ids(self) -> List[Tuple[str, Any, str]]:
        spec = json.loads(SPEC.read_text())
        found = []
        for path, item in spec["paths"].items():
            regex = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/:]+", re.escape(path)) + "$")
            for method, operation in item.items():
                found.append((method.upper(), regex, operation["operationId"]))
        return found

    def _guarded(self, method: str, handler):
        def guarded(request, **params):
            if self.scopes is not None:
                path = request.path[len(self.base_path) :]
                operation = next((o for m, r, o in self._operations_by_route if m == method and r.match(path)), "")
                if operation != "list-zones" and operation not in self.scopes:
                    raise HttpError(403, f"Forbidden: the API key's role does not allow {operation}")
            self._settle()
            return handler(request, **params)

        return guarded

    # -- state -------------------------------------------------------------------------------------
    def _operation(self, command: str, reference: str, kind: str, state: str = "") -> Answer:
        op = {"id": str(uuid.uuid4()), "started": self.now(), "state": state, "command": command,
              "reference": reference, "kind": kind}  # fmt: skip
        self.operations[op["id"]] = op
        return 200, self._operation_view(op)

    def _operation_view(self, op: dict) -> dict:
        state = op["state"] or ("success" if self.finished(op["started"]) else "pending")
        view = {"id": op["id"], "state": state,
                "reference": {"id": op["reference"], "link": f"/v2/{op['kind']}/{op['reference']}",
                              "command": op["command"]}}  # fmt: skip
        if state == "failure":
            view["reason"] = "conflict"
            view["message"] = op.get("message", "")
        return view

    def _settle(self) -> None:
        """Let time pass: machines start, deleted machines go, snapshots become ready."""
        for instance in list(self.instances.values()):
            if "deleting" in instance:
                if self.finished(instance["deleting"]):
                    del self.instances[instance["id"]]
                    for network in self.networks.values():
                        network["leases"] = [x for x in network["leases"] if x["instance-id"] != instance["id"]]
                continue
            if instance["state"] == "starting" and self.finished(instance["created"]) and instance["booted"]:
                instance["state"] = "running"
        for snapshot in self.snapshots.values():
            if snapshot["state"] == "snapshotting" and self.finished(snapshot["created"]):
                snapshot["state"] = "ready"

    def _instance(self, id: str) -> dict:
        instance = self.instances.get(id)
        if instance is None or "deleting" in instance:
            raise HttpError(404, f"instance {id} not found")
        return instance

    def _type_view(self, type_id: str) -> dict:
        return next(t for t in self.types if t["id"] == type_id)

    def _template_view(self, template: dict) -> dict:
        return {k: v for k, v in template.items() if not k.startswith("_")}

    def _instance_view(self, instance: dict, listing: bool) -> dict:
        view = {
            "id": instance["id"],
            "name": instance["name"],
            "state": instance["state"],
            "labels": instance["labels"],
            "created-at": iso(instance["created"]),
            "instance-type": self._type_view(instance["type"]),
            "template": self._template_view(self.templates[instance["template"]]),
            "ssh-keys": [{"name": k, "fingerprint": self.ssh_keys[k]["fingerprint"]} for k in instance["ssh-keys"]
                         if k in self.ssh_keys],
            "private-networks": [{"id": n, "mac-address": instance["mac"]} for n in instance["private-networks"]],
            "public-ip-assignment": "inet4",
            "mac-address": instance["mac"],
        }  # fmt: skip
        if instance.get("public-ip"):
            view["public-ip"] = instance["public-ip"]
        if listing:
            view["security-groups"] = [
                {"id": g, "name": self.groups[g]["name"]} for g in instance["security-groups"] if g in self.groups
            ]
        else:
            view["security-groups"] = [{"id": g} for g in instance["security-groups"]]
            view["disk-size"] = instance["disk-size"]
            view["user-data"] = instance["user-data"]
        return view

    # -- zones, types, templates, quotas -----------------------------------------------------------
    @route("GET", "/zone")
    def list_zones(self, request) -> Answer:
        return 200, {"zones": [{"name": z, "api-endpoint": f"https://api-{z}.exoscale.com/v2",
                                "sos-endpoint": f"https://sos-{z}.exo.io"} for z in ZONES]}  # fmt: skip

    @route("GET", "/instance-type")
    def list_instance_types(self, request) -> Answer:
        return 200, {"instance-types": self.types}

    @route("GET", "/template")
    def list_templates(self, request) -> Answer:
        visibility = request.args.get("visibility", "public")
        return 200, {
            "templates": [self._template_view(t) for t in self.templates.values() if t["visibility"] == visibility]
        }

    @route("GET", "/template/{id}")
    def get_template(self, request, id: str) -> Answer:
        if id not in self.templates:
            raise HttpError(404, f"template {id} not found")
        return 200, self._template_view(self.templates[id])

    @route("DELETE", "/template/{id}")
    def delete_template(self, request, id: str) -> Answer:
        template = self.templates.get(id)
        if template is None or template["visibility"] != "private":
            raise HttpError(404, f"template {id} not found")
        del self.templates[id]
        return self._operation("delete-template", id, "template")

    @route("GET", "/quota/{entity}")
    def get_quota(self, request, entity: str) -> Answer:
        if entity != "instance":
            raise HttpError(404, f"no quota {entity}")
        usage = sum(1 for i in self.instances.values() if "deleting" not in i)
        return 200, {"resource": "instance", "usage": usage, "limit": self.instance_limit}

    # -- SSH keys ----------------------------------------------------------------------------------
    @route("GET", "/ssh-key")
    def list_ssh_keys(self, request) -> Answer:
        return 200, {"ssh-keys": [{"name": k["name"], "fingerprint": k["fingerprint"]} for k in self.ssh_keys.values()]}

    @route("GET", "/ssh-key/{name}")
    def get_ssh_key(self, request, name: str) -> Answer:
        if name not in self.ssh_keys:
            raise HttpError(404, f"SSH key {name} not found")
        key = self.ssh_keys[name]
        return 200, {"name": key["name"], "fingerprint": key["fingerprint"]}

    @route("POST", "/ssh-key")
    def register_ssh_key(self, request) -> Answer:
        body = self.body(request)
        if body["name"] in self.ssh_keys:
            raise HttpError(409, f"SSH key {body['name']} already exists")
        blob = body["public-key"].split()[1] if len(body["public-key"].split()) > 1 else body["public-key"]
        digest = hashlib.md5(base64.b64decode(blob + "==")).hexdigest()
        fingerprint = ":".join(digest[i : i + 2] for i in range(0, 32, 2))
        self.ssh_keys[body["name"]] = {"name": body["name"], "fingerprint": fingerprint, "key": body["public-key"]}
        return self._operation("register-ssh-key", stable_id(body["name"]), "ssh-key")

    # -- instances ---------------------------------------------------------------------------------
    @route("POST", "/instance")
    def create_instance(self, request) -> Answer:
        body = self.body(request)
        if not any(t["id"] == body["instance-type"]["id"] for t in self.types):
            raise HttpError(404, "instance type not found")
        if body["template"]["id"] not in self.templates:
            raise HttpError(404, "template not found")
        for key in body.get("ssh-keys") or []:
            if key["name"] not in self.ssh_keys:
                raise HttpError(404, f"SSH key {key['name']} not found")
        if sum(1 for i in self.instances.values() if "deleting" not in i) >= self.instance_limit:
            raise HttpError(403, "instance quota reached")
        self._public_ip += 1
        id = str(uuid.uuid4())
        instance = {
            "id": id, "name": body["name"], "state": "starting", "created": self.now(),
            "labels": dict(body.get("labels") or {}), "type": body["instance-type"]["id"],
            "template": body["template"]["id"], "disk-size": body["disk-size"],
            "ssh-keys": [k["name"] for k in body.get("ssh-keys") or []], "user-data": body.get("user-data", ""),
            "private-networks": [], "security-groups": [g["id"] for g in body.get("security-groups") or []],
            "mac": "06:00:00:%02x:%02x:%02x" % (self._public_ip // 65536 % 256, self._public_ip // 256 % 256,
                                                  self._public_ip % 256),
            "booted": self.backing is None,
        }  # fmt: skip
        if self.backing is None:
            instance["public-ip"] = str(ipaddress.ip_address("194.182.160.0") + self._public_ip)
        else:
            text = self._decoded(instance["user-data"])
            threading.Thread(target=self._boot, args=(id, body["name"], text), daemon=True).start()
        self.instances[id] = instance
        return self._operation("get-instance", id, "instance")

    @staticmethod
    def _decoded(user_data: str) -> str:
        raw = base64.b64decode(user_data) if user_data else b""
        return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()

    def _boot(self, id: str, name: str, user_data: str) -> None:
        address = self.backing.create(name, user_data)
        with self.lock:
            instance = self.instances.get(id)
            if instance is None:
                return
            instance["public-ip"], instance["booted"] = address, True
            for network in self.networks.values():
                for lease in network["leases"]:
                    if lease["instance-id"] == id:
                        lease["ip"] = address

    @route("GET", "/instance")
    def list_instances(self, request) -> Answer:
        wanted = request.args.get("labels")
        found = []
        for instance in self.instances.values():
            if "deleting" in instance or not self.visible(instance["created"]):
                continue
            if wanted and not all(
                instance["labels"].get(k) == v for k, _, v in (pair.partition("=") for pair in wanted.split(","))
            ):
                continue
            found.append(self._instance_view(instance, listing=True))
        return 200, {"instances": found}

    @route("GET", "/instance/{id}")
    def get_instance(self, request, id: str) -> Answer:
        return 200, self._instance_view(self._instance(id), listing=False)

    @route("PUT", "/instance/{id}")
    def update_instance(self, request, id: str) -> Answer:
        instance = self._instance(id)
        body = self.body(request) or {}
        if "name" in body:
            instance["name"] = body["name"]
        if "labels" in body:
            instance["labels"] = dict(body["labels"] or {})
        if "user-data" in body:
            instance["user-data"] = body["user-data"]
        return self._operation("update-instance", id, "instance")

    @route("DELETE", "/instance/{id}")
    def delete_instance(self, request, id: str) -> Answer:
        instance = self._instance(id)
        instance["deleting"] = self.now()
        instance["state"] = "destroying"
        if self.backing is not None:
            threading.Thread(target=self.backing.destroy, args=(instance["name"],), daemon=True).start()
        return self._operation("delete-instance", id, "instance")

    @route("POST", "/instance/{id}:create-snapshot")
    def create_snapshot(self, request, id: str) -> Answer:
        instance = self._instance(id)
        snapshot_id = str(uuid.uuid4())
        self.snapshots[snapshot_id] = {"id": snapshot_id, "name": f"{instance['name']}-snapshot",
                                       "created": self.now(), "state": "snapshotting",
                                       "size": instance["disk-size"], "instance": id,
                                       "template": instance["template"]}  # fmt: skip
        return self._operation("get-snapshot", snapshot_id, "snapshot")

    # -- snapshots ---------------------------------------------------------------------------------
    def _snapshot(self, id: str) -> dict:
        if id not in self.snapshots:
            raise HttpError(404, f"snapshot {id} not found")
        return self.snapshots[id]

    @route("GET", "/snapshot/{id}")
    def get_snapshot(self, request, id: str) -> Answer:
        snapshot = self._snapshot(id)
        view = {"id": id, "name": snapshot["name"], "created-at": iso(snapshot["created"]),
                "state": snapshot["state"], "size": snapshot["size"]}  # fmt: skip
        if snapshot["instance"] in self.instances:
            view["instance"] = {"id": snapshot["instance"], "name": self.instances[snapshot["instance"]]["name"]}
        return 200, view

    @route("DELETE", "/snapshot/{id}")
    def delete_snapshot(self, request, id: str) -> Answer:
        self._snapshot(id)
        del self.snapshots[id]
        return self._operation("delete-snapshot", id, "snapshot")

    @route("POST", "/snapshot/{id}:promote")
    def promote_snapshot(self, request, id: str) -> Answer:
        snapshot = self._snapshot(id)
        if snapshot["state"] != "ready":
            raise HttpError(409, f"snapshot {id} is not ready")
        body = self.body(request)
        source = self.templates.get(snapshot["template"], {})
        template_id = str(uuid.uuid4())
        self.templates[template_id] = {
            "id": template_id, "name": body["name"], "description": body.get("description", ""),
            "visibility": "private", "family": source.get("family", "other"),
            "default-user": body.get("default-user") or source.get("default-user", "root"),
            "size": snapshot["size"] * GIB, "ssh-key-enabled": body.get("ssh-key-enabled", True),
            "password-enabled": body.get("password-enabled", False), "boot-mode": "legacy",
            "zones": [self.default_region], "created-at": iso(self.now()),
        }  # fmt: skip
        return self._operation("get-template", template_id, "template")

    # -- operations --------------------------------------------------------------------------------
    @route("GET", "/operation/{id}")
    def get_operation(self, request, id: str) -> Answer:
        if id not in self.operations:
            raise HttpError(404, f"operation {id} not found")
        return 200, self._operation_view(self.operations[id])

    # -- private networks --------------------------------------------------------------------------
    def _network(self, id: str) -> dict:
        if id not in self.networks:
            raise HttpError(404, f"private network {id} not found")
        return self.networks[id]

    def _network_view(self, network: dict) -> dict:
        view = {k: v for k, v in network.items() if k not in ("leases",)}
        view["leases"] = [dict(x) for x in network["leases"] if x.get("ip")]
        return view

    @route("GET", "/private-network")
    def list_private_networks(self, request) -> Answer:
        return 200, {"private-networks": [self._network_view(n) for n in self.networks.values()]}

    @route("POST", "/private-network")
    def create_private_network(self, request) -> Answer:
        body = self.body(request)
        id = str(uuid.uuid4())
        self.networks[id] = {"id": id, "name": body["name"], "description": body.get("description", ""),
                             "labels": body.get("labels") or {}, "start-ip": body.get("start-ip", ""),
                             "end-ip": body.get("end-ip", ""), "netmask": body.get("netmask", ""), "leases": [],
                             "vni": 1000 + len(self.networks)}  # fmt: skip
        if not body.get("start-ip"):
            for field in ("start-ip", "end-ip", "netmask"):
                del self.networks[id][field]
        return self._operation("get-private-network", id, "private-network")

    @route("GET", "/private-network/{id}")
    def get_private_network(self, request, id: str) -> Answer:
        return 200, self._network_view(self._network(id))

    @route("DELETE", "/private-network/{id}")
    def delete_private_network(self, request, id: str) -> Answer:
        network = self._network(id)
        if network["leases"]:
            raise HttpError(409, "private network in use")
        del self.networks[id]
        return self._operation("delete-private-network", id, "private-network")

    @route("PUT", "/private-network/{id}:attach")
    def attach_private_network(self, request, id: str) -> Answer:
        network = self._network(id)
        instance = self._instance(self.body(request)["instance"]["id"])
        if id in instance["private-networks"]:
            raise HttpError(409, "instance already attached to this private network")
        instance["private-networks"].append(id)
        if self.backing is not None:
            ip = instance.get("public-ip", "")
        elif "start-ip" in network:
            used = {x["ip"] for x in network["leases"]}
            first, last = ipaddress.ip_address(network["start-ip"]), ipaddress.ip_address(network["end-ip"])
            ip = next(str(first + n) for n in range(int(last) - int(first) + 1) if str(first + n) not in used)
        else:
            ip = ""
        network["leases"].append({"instance-id": instance["id"], "ip": ip})
        return self._operation("get-private-network", id, "private-network")

    @route("PUT", "/private-network/{id}:detach")
    def detach_private_network(self, request, id: str) -> Answer:
        network = self._network(id)
        instance = self._instance(self.body(request)["instance"]["id"])
        network["leases"] = [x for x in network["leases"] if x["instance-id"] != instance["id"]]
        instance["private-networks"] = [n for n in instance["private-networks"] if n != id]
        return self._operation("get-private-network", id, "private-network")

    # -- security groups ---------------------------------------------------------------------------
    def _group(self, id: str) -> dict:
        if id not in self.groups:
            raise HttpError(404, f"security group {id} not found")
        return self.groups[id]

    @route("GET", "/security-group")
    def list_security_groups(self, request) -> Answer:
        return 200, {"security-groups": [{"id": g["id"], "name": g["name"], "description": g["description"]}
                                         for g in self.groups.values()]}  # fmt: skip

    @route("POST", "/security-group")
    def create_security_group(self, request) -> Answer:
        body = self.body(request)
        if any(g["name"] == body["name"] for g in self.groups.values()):
            raise HttpError(409, f"security group {body['name']} already exists")
        id = str(uuid.uuid4())
        self.groups[id] = {"id": id, "name": body["name"], "description": body.get("description", ""), "rules": []}
        return self._operation("get-security-group", id, "security-group")

    @route("GET", "/security-group/{id}")
    def get_security_group(self, request, id: str) -> Answer:
        group = self._group(id)
        return 200, {"id": id, "name": group["name"], "description": group["description"],
                     "rules": [dict(r) for r in group["rules"]]}  # fmt: skip

    @route("DELETE", "/security-group/{id}")
    def delete_security_group(self, request, id: str) -> Answer:
        self._group(id)
        if any(id in i["security-groups"] for i in self.instances.values()):
            raise HttpError(409, "security group in use")
        del self.groups[id]
        return self._operation("delete-security-group", id, "security-group")

    @route("POST", "/security-group/{id}/rules")
    def add_rule(self, request, id: str) -> Answer:
        group = self._group(id)
        body = self.body(request)
        rule = {"id": str(uuid.uuid4()), **{k: v for k, v in body.items() if k != "security-group"}}
        if rule["protocol"] in ("tcp", "udp") and "start-port" not in rule:
            raise HttpError(400, "tcp and udp rules need a port range")
        group["rules"].append(rule)
        return self._operation("get-security-group", id, "security-group")

    @route("DELETE", "/security-group/{id}/rules/{rule_id}")
    def delete_rule(self, request, id: str, rule_id: str) -> Answer:
        group = self._group(id)
        if not any(r["id"] == rule_id for r in group["rules"]):
            raise HttpError(404, f"rule {rule_id} not found")
        group["rules"] = [r for r in group["rules"] if r["id"] != rule_id]
        return self._operation("get-security-group", id, "security-group")

    @route("PUT", "/security-group/{id}:attach")
    def attach_security_group(self, request, id: str) -> Answer:
        self._group(id)
        instance = self._instance(self.body(request)["instance"]["id"])
        if id not in instance["security-groups"]:
            instance["security-groups"].append(id)
        return self._operation("get-security-group", id, "security-group")

    # -- DNS ---------------------------------------------------------------------------------------
    def add_domain(self, name: str) -> str:
        """A DNS domain, as the account would hold it (tests)."""
        with self.lock:
            id = str(uuid.uuid4())
            self.domains[id] = {"id": id, "unicode-name": name, "created-at": iso(self.now())}
            self.records[id] = {}
            return id

    def a_records(self, name: str) -> List[Tuple[str, str, int]]:
        """(name, content, ttl) of the A records of the domain `name`."""
        with self.lock:
            id = next(d["id"] for d in self.domains.values() if d["unicode-name"] == name)
            return sorted((r["name"], r["content"], r["ttl"]) for r in self.records[id].values() if r["type"] == "A")

    def _domain(self, id: str) -> dict:
        if id not in self.domains:
            raise HttpError(404, f"DNS domain {id} not found")
        return self.domains[id]

    @route("GET", "/dns-domain")
    def list_dns_domains(self, request) -> Answer:
        return 200, {"dns-domains": list(self.domains.values())}

    @route("POST", "/dns-domain")
    def create_dns_domain(self, request) -> Answer:
        name = self.body(request)["unicode-name"]
        if any(d["unicode-name"] == name for d in self.domains.values()):
            raise HttpError(409, f"domain {name} already exists")
        id = str(uuid.uuid4())
        self.domains[id] = {"id": id, "unicode-name": name, "created-at": iso(self.now())}
        self.records[id] = {}
        return self._operation("get-dns-domain", id, "dns-domain")

    @route("GET", "/dns-domain/{id}/record")
    def list_dns_records(self, request, id: str) -> Answer:
        self._domain(id)
        return 200, {"dns-domain-records": list(self.records[id].values())}

    @route("POST", "/dns-domain/{id}/record")
    def create_dns_record(self, request, id: str) -> Answer:
        self._domain(id)
        body = self.body(request)
        record_id = str(uuid.uuid4())
        moment = iso(self.now())
        self.records[id][record_id] = {"id": record_id, "name": body["name"], "type": body["type"],
                                       "content": body["content"], "ttl": body.get("ttl", 3600),
                                       "priority": body.get("priority", 0), "created-at": moment,
                                       "updated-at": moment, "system-record": False}  # fmt: skip
        return self._operation("get-dns-domain-record", record_id, "dns-domain-record")

    @route("DELETE", "/dns-domain/{id}/record/{record_id}")
    def delete_dns_record(self, request, id: str, record_id: str) -> Answer:
        self._domain(id)
        if record_id not in self.records[id]:
            raise HttpError(404, f"record {record_id} not found")
        del self.records[id][record_id]
        return self._operation("delete-dns-domain-record", record_id, "dns-domain-record")
