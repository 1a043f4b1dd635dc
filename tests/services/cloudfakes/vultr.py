"""A fake of Vultr's API v2 (https://api.vultr.com/v2) as far as adt uses it: instances (tags, label, VPCs, SSH
keys, base64 user data, pending -> active), snapshots (pending -> complete), SSH keys, regions, plans, operating
systems, the account, firewall groups and their rules, VPCs (the /vpcs API: the one in the published
specification; VPC 2.0's /vpc2 is not in it), DNS domains and records. Listings are cut by Vultr's cursor
pagination (`per_page`, `cursor`, `meta.links.next`). Every request and response is validated against Vultr's own
OpenAPI document (tests/fixtures/cloud-apis/vultr-openapi.json).

Vultr's API keys have no scopes; what a key may do is its user's ACLs (`account.acls`). `scopes` is that set:
a request outside it is answered 403, as Vultr does for a sub-user without the ACL.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import itertools
import json
import re
import secrets
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Set, Tuple

from tests.services.cloudfakes.base import SPECS, Answer, FakeProvider, Faults, HttpError, route

ACLS = (
    "manage_users",
    "subscriptions_view",
    "subscriptions",
    "billing",
    "support",
    "provisioning",
    "dns",
    "abuse",
    "upgrade",
    "firewall",
    "alerts",
    "objstore",
    "loadbalancer",
)

REGIONS = [
    {"id": "ams", "city": "Amsterdam", "country": "NL", "continent": "Europe", "options": ["ddos_protection"]},
    {"id": "ewr", "city": "New Jersey", "country": "US", "continent": "North America", "options": ["ddos_protection"]},
    {"id": "fra", "city": "Frankfurt", "country": "DE", "continent": "Europe", "options": ["ddos_protection"]},
    {"id": "lhr", "city": "London", "country": "GB", "continent": "Europe", "options": ["ddos_protection"]},
    {"id": "sgp", "city": "Singapore", "country": "SG", "continent": "Asia", "options": []},
]
_ALL = ["ams", "ewr", "fra", "lhr", "sgp"]
PLANS = [
    {"id": "vc2-1c-1gb", "vcpu_count": 1, "ram": 1024, "disk": 25, "disk_count": 1, "bandwidth": 1024,
     "monthly_cost": 5, "type": "vc2", "locations": _ALL},
    {"id": "vc2-1c-2gb", "vcpu_count": 1, "ram": 2048, "disk": 55, "disk_count": 1, "bandwidth": 2048,
     "monthly_cost": 10, "type": "vc2", "locations": _ALL},
    {"id": "vc2-2c-4gb", "vcpu_count": 2, "ram": 4096, "disk": 80, "disk_count": 1, "bandwidth": 3072,
     "monthly_cost": 20, "type": "vc2", "locations": _ALL},
    {"id": "vhf-1c-1gb", "vcpu_count": 1, "ram": 1024, "disk": 32, "disk_count": 1, "bandwidth": 1024,
     "monthly_cost": 6, "type": "vhf", "locations": ["ewr"]},
]
OPERATING_SYSTEMS = [
    {"id": 2136, "name": "Debian 12 x64 (bookworm)", "arch": "x64", "family": "debian"},
    {"id": 1743, "name": "Ubuntu 22.04 LTS x64", "arch": "x64", "family": "ubuntu"},
    {"id": 2284, "name": "Ubuntu 24.04 LTS x64", "arch": "x64", "family": "ubuntu"},
    {"id": 2625, "name": "Debian 13 x64 (trixie)", "arch": "x64", "family": "debian"},
]
SNAPSHOT_OS = 164  # Vultr's os_id of an instance made from a snapshot


def _acl(method: str, path: str) -> str:
    """The ACL a request needs (Vultr's user permissions); '' for none."""
    if path.startswith(("/instances", "/snapshots", "/ssh-keys", "/vpcs")):
        return "provisioning" if method == "POST" and path in ("/instances", "/snapshots") else "subscriptions"
    if path.startswith("/firewalls"):
        return "firewall"
    if path.startswith("/domains"):
        return "dns"
    return ""


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class VultrFake(FakeProvider):
    name = "vultr"
    base_path = "/v2"
    spec_path = SPECS / "vultr-openapi.json"
    default_image = "2136"  # Debian 12's os id, as a string (Placement.os_image)
    default_region = "lhr"
    default_size = "vc2-1c-1gb"
    PUBLIC = ("/regions", "/plans", "/os")  # the specification's `security: []` paths

    def __init__(self, token: str = "test-token"):
        super().__init__(token)
        self.reset()

    def reset(self) -> None:
        """Back to a new account: no resources, every ACL, no faults, nothing recorded (a test module may share
        one server between its tests)."""
        with self.lock:
            self.faults = Faults()
            self.violations.clear()
            self.calls.clear()
            self.scopes: Set[str] = set(ACLS)
            self.lost_answers = 0  # the next n creates make their instance but answer 500 (an answer lost)
            self.instance_limit: Optional[int] = None  # Vultr refuses a create past the account's instance limit
            self.backing: Any = None
            self.backing_errors: List[str] = []
            self.queries: List[Tuple[str, str]] = []  # (method, path?query) of every request
            self.instances: Dict[str, Dict[str, Any]] = {}
            self.snapshots: Dict[str, Dict[str, Any]] = {}
            self.ssh_keys: Dict[str, Dict[str, Any]] = {}
            self.firewalls: Dict[str, Dict[str, Any]] = {}
            self.vpcs: Dict[str, Dict[str, Any]] = {}
            self.domains: Dict[str, Dict[str, Any]] = {}
            self._addresses = itertools.count(10)
            self._rule_ids = itertools.count(1)
            self._subnets = itertools.count(1)

    # -- what tests read -----------------------------------------------------------------------------
    @property
    def credentials(self) -> Dict[str, str]:
        return {"TOKEN": self.token}

    def servers(self) -> List[str]:
        with self.lock:
            return sorted(i["label"] for i in self.instances.values())

    def keys(self) -> List[str]:
        """The SSH keys registered with the account (their text)."""
        with self.lock:
            return [k["ssh_key"] for k in self.ssh_keys.values()]

    def add_untagged(self, name: str) -> None:
        """A running instance labelled `name` with no tags, as the original toolkit (vultr-cli) makes them; no
        backing."""
        with self.lock:
            offered = next(p for p in PLANS if p["id"] == self.default_size)
            system = next(o for o in OPERATING_SYSTEMS if str(o["id"]) == self.default_image)
            number = next(self._addresses)
            created = self.now() - 3600
            instance = {
                "id": str(uuid.uuid4()), "os": system["name"], "ram": offered["ram"], "disk": offered["disk"],
                "main_ip": f"198.51.100.{number % 250 + 1}", "vcpu_count": offered["vcpu_count"],
                "region": self.default_region, "default_password": secrets.token_urlsafe(12),
                "date_created": _stamp(created), "status": "active", "power_status": "running",
                "server_status": "ok", "allowed_bandwidth": offered["bandwidth"], "netmask_v4": "255.255.254.0",
                "gateway_v4": "198.51.100.1", "v6_networks": [], "hostname": name, "label": name, "internal_ip": "",
                "kvm": "", "os_id": system["id"], "app_id": 0, "image_id": "", "firewall_group_id": "",
                "features": [], "plan": offered["id"], "tags": [], "user_data": "", "_created": created,
                "_vpcs": [], "_backed": True, "_snapshot": "", "_sshkeys": [],
            }  # fmt: skip
            self.instances[instance["id"]] = instance

    def _named(self, name: str) -> Dict[str, Any]:
        found = [i for i in self.instances.values() if i["label"] == name]
        assert len(found) == 1, f"vultr fake: {len(found)} instances labelled {name}"
        return found[0]

    def user_data(self, name: str) -> str:
        with self.lock:
            return self._named(name)["user_data"]

    def firewall_rules(self, name: str) -> Set[Tuple[str, int, str]]:
        """The inbound rules of the firewall group attached to the instance `name`: (proto, port, CIDR)."""
        with self.lock:
            group = self.firewalls.get(self._named(name)["firewall_group_id"])
            if group is None:
                return set()
            return {
                (r["protocol"], int(r["port"] or 0), f"{r['subnet']}/{r['subnet_size']}") for r in group["rules"]
            }

    # -- the frame -----------------------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        return {"error": message, "status": status}

    def authorised(self, request) -> bool:
        path = request.path[len(self.base_path) :]
        if path.startswith(self.PUBLIC):
            return True
        return super().authorised(request)

    def _answer(self, request):
        with self.lock:
            self.queries.append((request.method, request.full_path.rstrip("?")))
        path = request.path[len(self.base_path) :] if request.path.startswith(self.base_path) else request.path
        acl = _acl(request.method, path)
        if acl and acl not in self.scopes and super().authorised(request):
            from werkzeug.wrappers import Response

            with self.lock:
                self.calls.append((request.method, request.path))
            body = self.error_body(403, f"Unauthorized: this user lacks the {acl} permission")
            return Response(json.dumps(body), status=403, content_type="application/json")
        return super()._answer(request)

    def _validate_response(self, request, response) -> None:
        # 401 and 403 come from the frame (a wrong token, a missing ACL) on any path; Vultr's document lists them
        # for most operations but not all (the account, say), so they are not held against its schema
        if response.status_code in (401, 403):
            return
        super()._validate_response(request, response)

    # -- pagination ----------------------------------------------------------------------------------
    def listing(self, request, key: str, items: List[Any]) -> Answer:
        per_page = int(request.args.get("per_page") or 100)
        if not 1 <= per_page <= 500:
            raise HttpError(400, "per_page must be between 1 and 500")
        if self.faults.page_size:
            per_page = self.faults.page_size
        cursor = request.args.get("cursor") or ""
        start = 0
        if cursor:
            try:
                kind, offset = base64.b64decode(cursor.encode(), validate=True).decode().split(":")
                start = int(offset)
                assert kind in ("next", "prev")
            except (ValueError, AssertionError, binascii.Error, UnicodeDecodeError):
                raise HttpError(400, "Invalid cursor") from None
        chosen = items[start : start + per_page]
        end = start + len(chosen)
        next_cursor = base64.b64encode(f"next:{end}".encode()).decode() if end < len(items) else ""
        prev_cursor = base64.b64encode(f"prev:{max(0, start - per_page)}".encode()).decode() if start else ""
        return 200, {key: chosen, "meta": {"total": len(items), "links": {"next": next_cursor, "prev": prev_cursor}}}

    # -- regions, plans, os, account -----------------------------------------------------------------
    @route("GET", "/regions")
    def list_regions(self, request) -> Answer:
        return self.listing(request, "regions", REGIONS)

    @route("GET", "/plans")
    def list_plans(self, request) -> Answer:
        kind = request.args.get("type") or "all"
        plans = [p for p in PLANS if kind in ("all", p["type"])]
        return self.listing(request, "plans", plans)

    @route("GET", "/os")
    def list_os(self, request) -> Answer:
        return self.listing(request, "os", OPERATING_SYSTEMS)

    @route("GET", "/account")
    def get_account(self, request) -> Answer:
        return 200, {
            "account": {
                "name": "Example Account",
                "email": "admin@example.com",
                "acls": sorted(self.scopes),
                "balance": -100.55,
                "pending_charges": 60.25,
                "last_payment_date": "2026-10-10T01:56:20+00:00",
                "last_payment_amount": -1.25,
            }
        }

    # -- SSH keys ------------------------------------------------------------------------------------
    @route("GET", "/ssh-keys")
    def list_ssh_keys(self, request) -> Answer:
        return self.listing(request, "ssh_keys", list(self.ssh_keys.values()))

    @route("POST", "/ssh-keys")
    def create_ssh_key(self, request) -> Answer:
        body = self.body(request)
        if not body["ssh_key"].startswith(("ssh-", "ecdsa-")):
            raise HttpError(400, "Invalid SSH key.")
        key = {"id": str(uuid.uuid4()), "date_created": _stamp(self.now()), "name": body["name"],
               "ssh_key": body["ssh_key"]}
        self.ssh_keys[key["id"]] = key
        return 201, {"ssh_key": key}

    @route("DELETE", "/ssh-keys/{key_id}")
    def delete_ssh_key(self, request, key_id: str) -> Answer:
        if self.ssh_keys.pop(key_id, None) is None:
            raise HttpError(404, "SSH key not found.")
        return 204, None

    # -- VPCs ----------------------------------------------------------------------------------------
    def _vpc_view(self, vpc: Dict[str, Any]) -> Dict[str, Any]:
        return {k: v for k, v in vpc.items() if not k.startswith("_")}

    @route("GET", "/vpcs")
    def list_vpcs(self, request) -> Answer:
        found = [self._vpc_view(v) for v in self.vpcs.values() if self.visible(v["_created"])]
        return self.listing(request, "vpcs", found)

    @route("POST", "/vpcs")
    def create_vpc(self, request) -> Answer:
        body = self.body(request)
        if body["region"] not in _ALL:
            raise HttpError(400, "Invalid region.")
        if body.get("v4_subnet"):
            network = ipaddress.ip_network(f"{body['v4_subnet']}/{body.get('v4_subnet_mask') or 24}", strict=False)
        else:
            network = ipaddress.ip_network(f"10.{next(self._subnets)}.0.0/20")
        created = self.now()
        vpc = {"id": str(uuid.uuid4()), "region": body["region"], "date_created": _stamp(created),
               "description": body.get("description", ""), "v4_subnet": str(network.network_address),
               "v4_subnet_mask": network.prefixlen, "_created": created, "_hosts": itertools.count(3)}
        self.vpcs[vpc["id"]] = vpc
        return 201, {"vpc": self._vpc_view(vpc)}

    @route("GET", "/vpcs/{vpc_id}")
    def get_vpc(self, request, vpc_id: str) -> Answer:
        return 200, {"vpc": self._vpc_view(self._vpc(vpc_id))}

    @route("DELETE", "/vpcs/{vpc_id}")
    def delete_vpc(self, request, vpc_id: str) -> Answer:
        self._vpc(vpc_id)
        if any(vpc_id in i["_vpcs"] for i in self.instances.values()):
            raise HttpError(400, "Unable to delete VPC: instances are attached to it.")
        del self.vpcs[vpc_id]
        return 204, None

    def _vpc(self, vpc_id: str) -> Dict[str, Any]:
        if vpc_id not in self.vpcs:
            raise HttpError(404, "VPC not found.")
        return self.vpcs[vpc_id]

    # -- instances -----------------------------------------------------------------------------------
    def _status(self, instance: Dict[str, Any]) -> Dict[str, Any]:
        """The instance as the API shows it now: pending while provisioning (the slow_actions fault) or while the
        backing machine is being made, then active and running with its addresses."""
        ready = self.finished(instance["_created"]) and instance["_backed"]
        view = {k: v for k, v in instance.items() if not k.startswith("_") and k != "user_data"}
        if not ready:
            view.update(status="pending", power_status="stopped", server_status="none", main_ip="0.0.0.0",
                        internal_ip="")
        return view

    @route("GET", "/instances")
    def list_instances(self, request) -> Answer:
        found = []
        for instance in self.instances.values():
            if not self.visible(instance["_created"]):
                continue
            if request.args.get("tag") and request.args["tag"] not in instance["tags"]:
                continue
            if request.args.get("label") and request.args["label"] != instance["label"]:
                continue
            if request.args.get("region") and request.args["region"] != instance["region"]:
                continue
            view = self._status(instance)
            if request.args.get("main_ip") and request.args["main_ip"] != view["main_ip"]:
                continue
            found.append(view)
        return self.listing(request, "instances", found)

    @route("POST", "/instances")
    def create_instance(self, request) -> Answer:
        body = self.body(request)
        region, plan = body["region"], body["plan"]
        if region not in _ALL:
            raise HttpError(400, "Invalid region.")
        offered = next((p for p in PLANS if p["id"] == plan), None)
        if offered is None or region not in offered["locations"]:
            raise HttpError(400, "Plan is not available in the selected region.")
        if body.get("snapshot_id"):
            snapshot = self.snapshots.get(body["snapshot_id"])
            if snapshot is None or self._snapshot_view(snapshot)["status"] != "complete":
                raise HttpError(400, "Invalid snapshot_id.")
            os_id, os_name = SNAPSHOT_OS, "Snapshot"
        else:
            system = next((o for o in OPERATING_SYSTEMS if o["id"] == body.get("os_id")), None)
            if system is None:
                raise HttpError(400, "Invalid operating system.")
            os_id, os_name = system["id"], system["name"]
        for key_id in body.get("sshkey_id") or []:
            if key_id not in self.ssh_keys:
                raise HttpError(400, f"Invalid SSH key: {key_id}")
        vpcs = list(body.get("attach_vpc") or [])
        for vpc_id in vpcs:
            if vpc_id not in self.vpcs or self.vpcs[vpc_id]["region"] != region:
                raise HttpError(400, f"Invalid VPC: {vpc_id}")
        if body.get("firewall_group_id") and body["firewall_group_id"] not in self.firewalls:
            raise HttpError(400, "Invalid firewall group.")
        if self.instance_limit is not None and len(self.instances) >= self.instance_limit:
            raise HttpError(400, "Server add failed: You have reached the maximum number of active instances.")
        try:
            user_data = base64.b64decode(body.get("user_data") or "", validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise HttpError(400, "user_data must be base64 encoded.") from None
        number = next(self._addresses)
        created = self.now()
        private = ""
        if vpcs:
            vpc = self.vpcs[vpcs[0]]
            network = ipaddress.ip_network(f"{vpc['v4_subnet']}/{vpc['v4_subnet_mask']}")
            private = str(network.network_address + next(vpc["_hosts"]))
        label = body.get("label") or ""
        instance = {
            "id": str(uuid.uuid4()), "os": os_name, "ram": offered["ram"], "disk": offered["disk"],
            "main_ip": f"203.0.113.{number % 250 + 1}" if number < 260 else f"198.51.100.{number % 250 + 1}",
            "vcpu_count": offered["vcpu_count"], "region": region, "default_password": secrets.token_urlsafe(12),
            "date_created": _stamp(created), "status": "active", "power_status": "running", "server_status": "ok",
            "allowed_bandwidth": offered["bandwidth"], "netmask_v4": "255.255.254.0", "gateway_v4": "203.0.113.1",
            "v6_networks": [], "hostname": body.get("hostname") or label, "label": label,
            "internal_ip": private, "kvm": "", "os_id": os_id, "app_id": 0, "image_id": "",
            "firewall_group_id": body.get("firewall_group_id") or "", "features": [], "plan": plan,
            "tags": list(body.get("tags") or []),
            "user_data": user_data, "_created": created, "_vpcs": vpcs, "_backed": self.backing is None,
            "_snapshot": body.get("snapshot_id") or "", "_sshkeys": list(body.get("sshkey_id") or []),
        }
        self.instances[instance["id"]] = instance
        if self.backing is not None:
            threading.Thread(target=self._back, args=(instance["id"], label, user_data), daemon=True).start()
        if self.lost_answers > 0:
            self.lost_answers -= 1
            raise HttpError(500, "Server was unable to give you a response.")
        view = self._status(instance)
        view["default_password"] = instance["default_password"]  # only the create's answer carries it
        return 202, {"instance": view}

    def _back(self, instance_id: str, name: str, user_data: str) -> None:
        try:
            address = self.backing.create(name, user_data)
        except Exception as error:  # the machine could not be made: the instance is gone, as a failed deploy
            with self.lock:
                self.backing_errors.append(f"{name}: {error}")
                self.instances.pop(instance_id, None)
            return
        with self.lock:
            instance = self.instances.get(instance_id)
            if instance is not None:
                instance.update(main_ip=address, internal_ip=address, _backed=True)

    def _instance(self, instance_id: str) -> Dict[str, Any]:
        if instance_id not in self.instances:
            raise HttpError(404, "Invalid instance-id.")
        return self.instances[instance_id]

    @route("GET", "/instances/{instance_id}")
    def get_instance(self, request, instance_id: str) -> Answer:
        view = self._status(self._instance(instance_id))
        view.pop("default_password", None)
        return 200, {"instance": view}

    @route("PATCH", "/instances/{instance_id}")
    def update_instance(self, request, instance_id: str) -> Answer:
        instance = self._instance(instance_id)
        body = self.body(request) or {}
        if "firewall_group_id" in body:
            if body["firewall_group_id"] and body["firewall_group_id"] not in self.firewalls:
                raise HttpError(400, "Invalid firewall group.")
            instance["firewall_group_id"] = body["firewall_group_id"]
        for vpc_id in body.get("attach_vpc") or []:
            self._vpc(vpc_id)
            if vpc_id not in instance["_vpcs"]:
                instance["_vpcs"].append(vpc_id)
        for vpc_id in body.get("detach_vpc") or []:
            if vpc_id in instance["_vpcs"]:
                instance["_vpcs"].remove(vpc_id)
        for key in ("label", "tags"):
            if key in body:
                instance[key] = body[key]
        view = self._status(instance)
        view.pop("default_password", None)
        return 202, {"instance": view}

    @route("DELETE", "/instances/{instance_id}")
    def delete_instance(self, request, instance_id: str) -> Answer:
        instance = self._instance(instance_id)
        del self.instances[instance_id]
        if self.backing is not None and instance["_backed"]:
            self.backing.destroy(instance["label"])
        return 204, None

    @route("GET", "/instances/{instance_id}/vpcs")
    def list_instance_vpcs(self, request, instance_id: str) -> Answer:
        instance = self._instance(instance_id)
        found = [self._vpc_view(self.vpcs[v]) for v in instance["_vpcs"] if v in self.vpcs]
        return self.listing(request, "private_networks", found)

    @route("POST", "/instances/{instance_id}/vpcs/detach")
    def detach_vpc(self, request, instance_id: str) -> Answer:
        instance = self._instance(instance_id)
        vpc_id = (self.body(request) or {}).get("vpc_id", "")
        if vpc_id not in instance["_vpcs"]:
            raise HttpError(400, "VPC is not attached to this instance.")
        instance["_vpcs"].remove(vpc_id)
        return 204, None

    # -- snapshots -----------------------------------------------------------------------------------
    def _snapshot_view(self, snapshot: Dict[str, Any]) -> Dict[str, Any]:
        view = {k: v for k, v in snapshot.items() if not k.startswith("_")}
        if not self.finished(snapshot["_created"]):
            view.update(status="pending", size=0)
        return view

    @route("GET", "/snapshots")
    def list_snapshots(self, request) -> Answer:
        wanted = request.args.get("description")
        found = [
            self._snapshot_view(s)
            for s in self.snapshots.values()
            if self.visible(s["_created"]) and (not wanted or s["description"] == wanted)
        ]
        return self.listing(request, "snapshots", found)

    @route("POST", "/snapshots")
    def create_snapshot(self, request) -> Answer:
        body = self.body(request)
        instance = self.instances.get(body["instance_id"])
        if instance is None:
            raise HttpError(400, "Invalid instance_id.")
        if self._status(instance)["status"] != "active":
            raise HttpError(400, "Unable to create snapshot: the instance is not active.")
        created = self.now()
        snapshot = {"id": str(uuid.uuid4()), "date_created": _stamp(created),
                    "description": body.get("description", ""), "size": instance["disk"] * 2**30,
                    "status": "complete", "os_id": instance["os_id"], "app_id": 0, "_created": created,
                    "_source": instance["label"]}
        self.snapshots[snapshot["id"]] = snapshot
        return 201, {"snapshot": self._snapshot_view(snapshot)}

    def _snapshot(self, snapshot_id: str) -> Dict[str, Any]:
        if snapshot_id not in self.snapshots:
            raise HttpError(404, "Snapshot not found.")
        return self.snapshots[snapshot_id]

    @route("GET", "/snapshots/{snapshot_id}")
    def get_snapshot(self, request, snapshot_id: str) -> Answer:
        return 200, {"snapshot": self._snapshot_view(self._snapshot(snapshot_id))}

    @route("DELETE", "/snapshots/{snapshot_id}")
    def delete_snapshot(self, request, snapshot_id: str) -> Answer:
        self._snapshot(snapshot_id)
        del self.snapshots[snapshot_id]
        return 204, None

    # -- firewall groups -----------------------------------------------------------------------------
    def _group_view(self, group: Dict[str, Any]) -> Dict[str, Any]:
        view = {k: v for k, v in group.items() if not k.startswith("_") and k != "rules"}
        view["instance_count"] = sum(1 for i in self.instances.values() if i["firewall_group_id"] == group["id"])
        view["rule_count"] = len(group["rules"])
        return view

    def _group(self, group_id: str) -> Dict[str, Any]:
        if group_id not in self.firewalls:
            raise HttpError(404, "Firewall group not found.")
        return self.firewalls[group_id]

    @route("GET", "/firewalls")
    def list_firewalls(self, request) -> Answer:
        found = [self._group_view(g) for g in self.firewalls.values() if self.visible(g["_created"])]
        return self.listing(request, "firewall_groups", found)

    @route("POST", "/firewalls")
    def create_firewall(self, request) -> Answer:
        body = self.body(request) or {}
        created = self.now()
        group = {"id": secrets.token_hex(4), "description": body.get("description", ""),
                 "date_created": _stamp(created), "date_modified": _stamp(created), "instance_count": 0,
                 "rule_count": 0, "max_rule_count": 50, "rules": [], "_created": created}
        self.firewalls[group["id"]] = group
        return 201, {"firewall_group": self._group_view(group)}

    @route("GET", "/firewalls/{group_id}")
    def get_firewall(self, request, group_id: str) -> Answer:
        return 200, {"firewall_group": self._group_view(self._group(group_id))}

    @route("DELETE", "/firewalls/{group_id}")
    def delete_firewall(self, request, group_id: str) -> Answer:
        self._group(group_id)
        for instance in self.instances.values():
            if instance["firewall_group_id"] == group_id:
                instance["firewall_group_id"] = ""
        del self.firewalls[group_id]
        return 204, None

    @route("GET", "/firewalls/{group_id}/rules")
    def list_rules(self, request, group_id: str) -> Answer:
        return self.listing(request, "firewall_rules", list(self._group(group_id)["rules"]))

    @route("POST", "/firewalls/{group_id}/rules")
    def create_rule(self, request, group_id: str) -> Answer:
        group = self._group(group_id)
        body = self.body(request)
        if body["ip_type"] not in ("v4", "v6") or body["protocol"] not in ("icmp", "tcp", "udp", "gre", "esp", "ah"):
            raise HttpError(400, "Invalid ip_type or protocol.")
        try:
            network = ipaddress.ip_network(f"{body['subnet']}/{body['subnet_size']}")
        except ValueError:
            raise HttpError(400, "Invalid subnet.") from None
        if network.version != int(body["ip_type"][1]):
            raise HttpError(400, "The subnet does not match ip_type.")
        port = body.get("port", "")
        if body["protocol"] in ("tcp", "udp") and not port:
            raise HttpError(400, "A port is required for tcp and udp rules.")
        rule = {"id": next(self._rule_ids), "type": body["ip_type"], "ip_type": body["ip_type"], "action": "accept",
                "protocol": body["protocol"], "port": port if body["protocol"] in ("tcp", "udp") else "",
                "subnet": body["subnet"], "subnet_size": body["subnet_size"], "source": body.get("source", ""),
                "notes": body.get("notes", "")}
        key = lambda r: (r["ip_type"], r["protocol"], r["port"], r["subnet"], r["subnet_size"], r["source"])  # noqa: E731
        if any(key(r) == key(rule) for r in group["rules"]):
            raise HttpError(400, "This rule is already defined.")
        if len(group["rules"]) >= group["max_rule_count"]:
            raise HttpError(400, "The firewall group has reached its maximum number of rules.")
        group["rules"].append(rule)
        group["date_modified"] = _stamp(self.now())
        return 201, {"firewall_rule": rule}

    @route("DELETE", "/firewalls/{group_id}/rules/{rule_id}")
    def delete_rule(self, request, group_id: str, rule_id: str) -> Answer:
        group = self._group(group_id)
        kept = [r for r in group["rules"] if str(r["id"]) != rule_id]
        if len(kept) == len(group["rules"]):
            raise HttpError(404, "Firewall rule not found.")
        group["rules"] = kept
        return 204, None

    # -- DNS -----------------------------------------------------------------------------------------
    def _domain(self, domain: str) -> Dict[str, Any]:
        if domain not in self.domains:
            raise HttpError(404, "Domain not found.")
        return self.domains[domain]

    @route("GET", "/domains")
    def list_domains(self, request) -> Answer:
        found = [{"domain": d["domain"], "date_created": d["date_created"], "dns_sec": d["dns_sec"]}
                 for d in self.domains.values()]
        return self.listing(request, "domains", found)

    @route("POST", "/domains")
    def create_domain(self, request) -> Answer:
        body = self.body(request)
        domain = body["domain"].lower().rstrip(".")
        if domain in self.domains:
            raise HttpError(400, "Domain already exists.")
        self.domains[domain] = {"domain": domain, "date_created": _stamp(self.now()),
                                "dns_sec": body.get("dns_sec") or "disabled", "records": []}
        if body.get("ip"):
            self.domains[domain]["records"].append(
                {"id": str(uuid.uuid4()), "type": "A", "name": "", "data": body["ip"], "priority": 0, "ttl": 300}
            )
        view = {k: v for k, v in self.domains[domain].items() if k != "records"}
        return 200, {"domain": view}

    @route("GET", "/domains/{domain}")
    def get_domain(self, request, domain: str) -> Answer:
        found = self._domain(domain)
        return 200, {"domain": {k: v for k, v in found.items() if k != "records"}}

    @route("GET", "/domains/{domain}/records")
    def list_records(self, request, domain: str) -> Answer:
        return self.listing(request, "records", list(self._domain(domain)["records"]))

    @route("POST", "/domains/{domain}/records")
    def create_record(self, request, domain: str) -> Answer:
        zone = self._domain(domain)
        body = self.body(request)
        if body["type"] == "A":
            try:
                ipaddress.IPv4Address(body["data"])
            except ValueError:
                raise HttpError(400, "Invalid IPv4 address.") from None
        if body["type"] == "TXT" and not re.fullmatch(r'"[^"]{0,255}"', body["data"]):
            # Vultr's API wants TXT data as one double-quoted string, with no quote inside (dnscontrol's finding)
            raise HttpError(400, "Invalid TXT record data: it must be one string in double quotes.")
        name = body["name"]
        if name.endswith("." + domain) or name == domain:  # Vultr keeps names relative to the domain
            name = name[: -len(domain)].rstrip(".")
        record = {"id": str(uuid.uuid4()), "type": body["type"], "name": name, "data": body["data"],
                  "priority": body.get("priority", 0), "ttl": body.get("ttl", 300)}
        zone["records"].append(record)
        return 201, {"record": record}

    @route("DELETE", "/domains/{domain}/records/{record_id}")
    def delete_record(self, request, domain: str, record_id: str) -> Answer:
        zone = self._domain(domain)
        kept = [r for r in zone["records"] if r["id"] != record_id]
        if len(kept) == len(zone["records"]):
            raise HttpError(404, "Record not found.")
        zone["records"] = kept
        return 204, None

    # -- for tests -----------------------------------------------------------------------------------
    def add_domain(self, domain: str) -> None:
        """A zone that exists before the build (the user made it in Vultr's panel)."""
        with self.lock:
            self.domains[domain] = {"domain": domain, "date_created": _stamp(time.time()), "dns_sec": "disabled",
                                    "records": []}
