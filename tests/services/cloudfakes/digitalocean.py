"""A fake of DigitalOcean's API v2 (https://api.digitalocean.com/v2): what the adt driver and its DNS call, with
state, validated against DigitalOcean's own OpenAPI specification (tests/fixtures/cloud-apis).

Droplets (tags, vpc_uuid, ssh_keys, user_data; `new` until provisioned, then `active` with public and private
IPv4), droplet actions (a snapshot goes in-progress -> completed and leaves an image), snapshots and images, the
account (droplet_limit), SSH keys, regions, sizes, firewalls, VPCs and their members, domains and records.
Listings are paged (`links.pages.next`, `meta.total`); `GET /droplets` filters by `tag_name`.

Token scopes: `fake.scopes` None means a full-access token; a set ({"droplet:read", ...}) is a custom-scoped token,
and a request needing a scope it lacks is answered 403 as DigitalOcean does. The scopes an operation needs are the
specification's own (each operation's `security`), plus those the spec names for a droplet create's parts (tags:
tag:create; image: image:read; ssh_keys: ssh_key:read; vpc_uuid: vpc:read).

`backing`: an object with create(name, user_data) -> IPv4 and destroy(name); when set, a droplet is `new` until
backing.create returns (run in a thread), and its address is both the public and the private IP.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import itertools
import json
import re
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Set
from urllib.parse import urlencode

from tests.services.cloudfakes.base import SPECS, FakeProvider, Faults, HttpError, page, route

REGIONS = ("nyc1", "nyc3", "ams3", "fra1", "lon1", "sgp1", "sfo3", "tor1", "blr1", "syd1")
# slug -> (memory MiB, vcpus, disk GB, monthly price, regions (None: all))
SIZES = {
    "s-1vcpu-512mb-10gb": (512, 1, 10, 4.0, None),
    "s-1vcpu-1gb": (1024, 1, 25, 6.0, None),
    "s-1vcpu-2gb": (2048, 1, 50, 12.0, None),
    "s-2vcpu-2gb": (2048, 2, 60, 18.0, None),
    "s-2vcpu-4gb": (4096, 2, 80, 24.0, None),
    "s-4vcpu-8gb": (8192, 4, 160, 48.0, None),
    "g-2vcpu-8gb": (8192, 2, 25, 63.0, ("nyc1", "nyc3", "fra1")),  # not everywhere
}
DISTRIBUTIONS = {  # slug -> (id, distribution, name)
    "debian-13-x64": (190000013, "Debian", "13 x64"),
    "debian-12-x64": (190000012, "Debian", "12 x64"),
    "ubuntu-24-04-x64": (190002404, "Ubuntu", "24.04 (LTS) x64"),
}
ERROR_IDS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict",
             422: "unprocessable_entity", 429: "too_many_requests", 500: "server_error"}
FORBIDDEN = "You are not authorized to perform this operation"


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fingerprint(public_key: str) -> str:
    """DigitalOcean's fingerprint of a public key: the MD5 of its key blob, in colon-separated hex."""
    blob = base64.b64decode(public_key.split()[1])
    digest = hashlib.md5(blob).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def _drop_dangling_discriminators(node: Any) -> None:
    """The published spec's droplet-action discriminator maps to its source files (models/droplet_actions.yml#...),
    which the resolved copy does not hold, so openapi-core refuses every action: such a discriminator is dropped
    (the anyOf it decorates still validates the request)."""
    if isinstance(node, dict):
        mapping = (node.get("discriminator") or {}).get("mapping") or {}
        if any(not str(target).startswith("#") for target in mapping.values()):
            del node["discriminator"]
        for value in node.values():
            _drop_dangling_discriminators(value)
    elif isinstance(node, list):
        for value in node:
            _drop_dangling_discriminators(value)


class DigitalOceanFake(FakeProvider):
    name = "digitalocean"
    base_path = "/v2"
    spec_path = SPECS / "digitalocean-openapi.json"
    default_image = "debian-13-x64"
    default_region = "lon1"
    default_size = "s-1vcpu-1gb"

    def __init__(self, token: str = "dop_v1_test-token"):
        super().__init__(token)
        self._reset_state()
        self._needs = self._security()
        self._routes = [(m, regex, self._scoped(m, regex, handler)) for m, regex, handler in self._routes]

    def reset(self) -> None:
        """Back to a new account (state, faults, switches), the server and its validator kept: a module's tests can
        share one fake (building the validator takes a second)."""
        with self.lock:
            self.check()
            self._reset_state()
            self.faults = Faults()
            self.calls.clear()

    def _reset_state(self) -> None:
        self.scopes: Optional[Set[str]] = None
        self.droplet_limit = 25
        self.account_status = "active"
        self.backing: Any = None
        self.backing_errors: List[str] = []
        self.lose_creates = 0  # the next n droplet creates are made but answered 500 (the answer lost)
        self._ids = itertools.count(100001)
        self.droplets: Dict[int, Dict[str, Any]] = {}
        self.actions: Dict[int, Dict[str, Any]] = {}
        self.images: Dict[int, Dict[str, Any]] = {}  # snapshots
        self.keys_: Dict[int, Dict[str, Any]] = {}
        self.firewalls: Dict[str, Dict[str, Any]] = {}
        self.vpcs: Dict[str, Dict[str, Any]] = {}
        self.domains: Dict[str, Dict[str, Any]] = {}
        self.received: Dict[str, str] = {}  # droplet name -> the user data it was created with
        self.destroyed: List[str] = []
        self.tags: Set[str] = set()  # the account's tags (made by POST /tags, or by a create that names them)

    # -- what tests read -------------------------------------------------------------------------------------------
    @property
    def credentials(self) -> Dict[str, str]:
        return {"TOKEN": self.token}

    def user_data(self, name: str) -> str:
        return self.received[name]

    def servers(self) -> List[str]:
        with self.lock:
            return sorted(d["name"] for d in self.droplets.values())

    def keys(self) -> List[Dict[str, Any]]:
        with self.lock:
            return list(self.keys_.values())

    def firewall_rules(self, name: str) -> Set[tuple]:
        with self.lock:
            ids = {i for i, d in self.droplets.items() if d["name"] == name}
            found = set()
            for firewall in self.firewalls.values():
                if ids & set(firewall["droplet_ids"] or []):
                    for rule in firewall["inbound_rules"] or []:
                        port = 0 if rule["ports"] in ("0", "all") else int(rule["ports"])
                        for address in rule["sources"].get("addresses", []):
                            found.add((rule["protocol"], port, address))
            return found

    def add_untagged(self, name: str) -> None:
        """A running droplet named `name` with no tags, as the original toolkit (doctl) makes them; no backing."""
        with self.lock:
            droplet_id = next(self._ids)
            vpc = self._default_vpc(self.default_region)
            self.droplets[droplet_id] = {
                "id": droplet_id, "name": name, "region": self.default_region, "size": self.default_size,
                "image": self._distribution(self.default_image), "tags": [], "vpc_uuid": vpc["id"], "user_data": "",
                "ssh_keys": [], "created": self.now() - 3600, "status": "active",
                "public_ip": f"203.0.113.{droplet_id % 250 + 2}", "private_ip": f"10.250.0.{droplet_id % 250 + 2}",
                "snapshot_ids": [],
            }  # fmt: skip

    def add_domain(self, name: str, ttl: int = 1800) -> None:
        with self.lock:
            self.domains[name] = {"name": name, "ttl": ttl, "zone_file": "", "records": {}}

    def dns_records(self, domain: str) -> List[Dict[str, Any]]:
        with self.lock:
            return list(self.domains[domain]["records"].values())

    # -- the frame ---------------------------------------------------------------------------------------------------
    def fix_spec(self, spec: dict) -> None:
        # the fake's base URL ends in /v2, as the driver's does: the spec's paths are relative to it
        spec["paths"] = {path[len("/v2") :]: item for path, item in spec["paths"].items()}
        _drop_dangling_discriminators(spec)

    def error_body(self, status: int, message: str) -> Any:
        return {"id": ERROR_IDS.get(status, "error"), "message": message}

    def _security(self) -> List[tuple]:
        """(method, path regex, [set of scopes, any of which suffices]) from the specification."""
        spec = json.loads(self.spec_path.read_text())
        needs = []
        for path, item in spec["paths"].items():
            regex = re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", path[len("/v2") :]) + "$")
            for method, operation in item.items():
                if isinstance(operation, dict) and "security" in operation:
                    options = [set(option.get("bearer_auth", [])) for option in operation["security"]]
                    needs.append((method.upper(), regex, options))
        return needs

    def _missing(self, method: str, path: str, body: Any) -> str:
        """The scope the token lacks for this request, '' when it has them all."""
        if self.scopes is None:
            return ""
        for need_method, regex, options in self._needs:
            if need_method == method and regex.match(path):
                if not any(option <= self.scopes for option in options):
                    return sorted(options[0] - self.scopes)[0]
                break
        if method == "POST" and path == "/droplets" and isinstance(body, dict):
            parts = {"tags": "tag:create", "image": "image:read", "ssh_keys": "ssh_key:read", "vpc_uuid": "vpc:read"}
            for key, scope in parts.items():
                if body.get(key) and scope not in self.scopes:
                    return scope
        return ""

    def _scoped(self, method, regex, handler):
        def answer(request, **params):
            path = request.path[len(self.base_path) :]
            if self._missing(method, path, self.body(request)):
                raise HttpError(403, FORBIDDEN)
            self._settle()
            return handler(request, **params)

        return answer

    def _settle(self) -> None:
        """Whatever time has finished: droplets provisioned, snapshot actions completed (and their images made)."""
        for droplet in self.droplets.values():
            if droplet["status"] == "new" and self.finished(droplet["created"]):
                if self.backing is None or droplet.get("backing_ip"):
                    droplet["status"] = "active"
        for action in self.actions.values():
            if action["status"] == "in-progress" and self.finished(action["started"]):
                action["status"] = "completed"
                action["completed"] = self.now()
                droplet = self.droplets.get(action["resource_id"])
                if action["type"] == "snapshot" and droplet is not None:
                    image_id = next(self._ids)
                    self.images[image_id] = {"id": image_id, "name": action["name"], "created": self.now(),
                                             "region": droplet["region"], "droplet_id": droplet["id"],
                                             "disk": SIZES[droplet["size"]][2]}
                    droplet["snapshot_ids"].append(image_id)

    def _paged(self, request, key: str, items: List[Any]) -> tuple:
        args = request.args
        per_page = min(200, int(args.get("per_page", 20)))
        if self.faults.page_size:
            per_page = self.faults.page_size
        number = int(args.get("page", 1))
        last = max(1, -(-len(items) // per_page))
        pages: Dict[str, str] = {}

        def link(n: int) -> str:
            query = {k: v for k, v in args.items() if k not in ("page", "per_page")}
            query.update(page=str(n), per_page=str(per_page))
            return f"{self.url}{request.path[len(self.base_path):]}?{urlencode(query)}"

        if number < last:
            pages.update(next=link(number + 1), last=link(last))
        if number > 1:
            pages.update(first=link(1), prev=link(number - 1))
        return 200, {key: page(items, number, per_page), "links": {"pages": pages}, "meta": {"total": len(items)}}

    # -- shapes ------------------------------------------------------------------------------------------------------
    def _region(self, slug: str) -> Dict[str, Any]:
        sizes = [s for s, spec in SIZES.items() if spec[4] is None or slug in spec[4]]
        return {"name": slug.upper(), "slug": slug, "features": ["private_networking", "backups", "metadata"],
                "available": True, "sizes": sizes}

    def _size(self, slug: str) -> Dict[str, Any]:
        memory, vcpus, disk, monthly, regions = SIZES[slug]
        return {"slug": slug, "memory": memory, "vcpus": vcpus, "disk": disk, "transfer": 1.0,
                "price_monthly": monthly, "price_hourly": round(monthly / 672, 5),
                "regions": list(regions or REGIONS), "available": True, "description": "Basic"}

    def _distribution(self, slug: str) -> Dict[str, Any]:
        image_id, distribution, name = DISTRIBUTIONS[slug]
        return {"id": image_id, "name": name, "distribution": distribution, "slug": slug, "public": True,
                "regions": list(REGIONS), "created_at": "2025-08-01T00:00:00Z", "type": "base",
                "min_disk_size": 10, "size_gigabytes": 1.5, "description": f"{distribution} {name}", "tags": [],
                "status": "available", "error_message": ""}

    def _snapshot_image(self, image: Dict[str, Any]) -> Dict[str, Any]:
        return {"id": image["id"], "name": image["name"], "distribution": "Debian", "slug": None, "public": False,
                "regions": [image["region"]], "created_at": stamp(image["created"]), "type": "snapshot",
                "min_disk_size": image["disk"], "size_gigabytes": 2.5, "description": "", "tags": [],
                "status": "available", "error_message": ""}

    def _snapshot(self, image: Dict[str, Any], droplet_form: bool = False) -> Dict[str, Any]:
        found = {"id": image["id"] if droplet_form else str(image["id"]), "name": image["name"],
                 "created_at": stamp(image["created"]), "regions": [image["region"]],
                 "min_disk_size": image["disk"], "size_gigabytes": 2.5}
        if droplet_form:
            found["type"] = "snapshot"
        else:
            found.update(resource_id=str(image["droplet_id"]), resource_type="droplet", tags=[])
        return found

    def _droplet(self, droplet: Dict[str, Any]) -> Dict[str, Any]:
        size = SIZES[droplet["size"]]
        v4 = []
        if droplet["status"] != "new":
            v4 = [{"ip_address": droplet["private_ip"], "netmask": "255.255.240.0", "gateway": "nil",
                   "type": "private"},
                  {"ip_address": droplet["public_ip"], "netmask": "255.255.255.0", "gateway": "203.0.113.1",
                   "type": "public"}]
        return {"id": droplet["id"], "name": droplet["name"], "memory": size[0], "vcpus": size[1], "disk": size[2],
                "locked": False, "status": droplet["status"], "kernel": None,
                "created_at": stamp(droplet["created"]), "features": ["private_networking"], "backup_ids": [],
                "next_backup_window": None, "snapshot_ids": list(droplet["snapshot_ids"]), "image": droplet["image"],
                "volume_ids": [], "size": self._size(droplet["size"]), "size_slug": droplet["size"],
                "networks": {"v4": v4, "v6": []}, "region": self._region(droplet["region"]),
                "tags": list(droplet["tags"]), "vpc_uuid": droplet["vpc_uuid"]}

    def _vpc(self, vpc: Dict[str, Any]) -> Dict[str, Any]:
        return {key: vpc[key] for key in ("id", "urn", "name", "description", "region", "ip_range", "default",
                                          "created_at")}

    def _droplet_by_id(self, droplet_id: str) -> Dict[str, Any]:
        droplet = self.droplets.get(int(droplet_id)) if droplet_id.isdigit() else None
        if droplet is None:
            raise HttpError(404, "The resource you requested could not be found.")
        return droplet

    # -- account, keys, regions, sizes, images ------------------------------------------------------------------
    @route("GET", "/account")
    def get_account(self, request):
        return 200, {"account": {"droplet_limit": self.droplet_limit, "floating_ip_limit": 3,
                                 "email": "adt@example.com", "uuid": "b6fr89dbf6d9156cace5f3c78dc9851d957381ef",
                                 "email_verified": True, "status": self.account_status, "status_message": ""}}

    @route("GET", "/account/keys")
    def list_keys(self, request):
        return self._paged(request, "ssh_keys", sorted(self.keys_.values(), key=lambda k: k["id"]))

    @route("GET", "/account/keys/{identifier}")
    def get_key(self, request, identifier):
        for key in self.keys_.values():
            if identifier in (str(key["id"]), key["fingerprint"]):
                return 200, {"ssh_key": key}
        raise HttpError(404, "The resource you requested could not be found.")

    @route("POST", "/account/keys")
    def create_key(self, request):
        body = self.body(request)
        try:
            print_ = fingerprint(body["public_key"])
        except (IndexError, ValueError):
            raise HttpError(422, "Key invalid type, we support 'ssh-rsa', 'ssh-ed25519' ...") from None
        if any(k["fingerprint"] == print_ for k in self.keys_.values()):
            raise HttpError(422, "SSH Key is already in use on your account")
        key_id = next(self._ids)
        self.keys_[key_id] = {"id": key_id, "fingerprint": print_, "public_key": body["public_key"],
                              "name": body["name"]}
        return 201, {"ssh_key": self.keys_[key_id]}

    @route("GET", "/regions")
    def list_regions(self, request):
        return self._paged(request, "regions", [self._region(r) for r in REGIONS])

    @route("GET", "/sizes")
    def list_sizes(self, request):
        return self._paged(request, "sizes", [self._size(s) for s in SIZES])

    @route("GET", "/images")
    def list_images(self, request):
        private = request.args.get("private") == "true"
        found = [] if private else [self._distribution(s) for s in DISTRIBUTIONS]
        found += [self._snapshot_image(i) for i in sorted(self.images.values(), key=lambda i: i["id"])]
        return self._paged(request, "images", found)

    @route("GET", "/images/{image_id}")
    def get_image(self, request, image_id):
        if image_id in DISTRIBUTIONS:
            return 200, {"image": self._distribution(image_id)}
        for slug, (number, _, _) in DISTRIBUTIONS.items():
            if image_id == str(number):
                return 200, {"image": self._distribution(slug)}
        if image_id.isdigit() and int(image_id) in self.images:
            return 200, {"image": self._snapshot_image(self.images[int(image_id)])}
        raise HttpError(404, "The resource you requested could not be found.")

    @route("DELETE", "/images/{image_id}")
    def delete_image(self, request, image_id):
        if not (image_id.isdigit() and self.images.pop(int(image_id), None)):
            raise HttpError(404, "The resource you requested could not be found.")
        return 204, None

    # -- snapshots -----------------------------------------------------------------------------------------------
    @route("GET", "/snapshots")
    def list_snapshots(self, request):
        kind = request.args.get("resource_type", "droplet")
        found = [] if kind == "volume" else sorted(self.images.values(), key=lambda i: i["id"])
        return self._paged(request, "snapshots", [self._snapshot(i) for i in found if self.visible(i["created"])])

    @route("GET", "/snapshots/{snapshot_id}")
    def get_snapshot(self, request, snapshot_id):
        image = self.images.get(int(snapshot_id)) if snapshot_id.isdigit() else None
        if image is None:
            raise HttpError(404, "The resource you requested could not be found.")
        return 200, {"snapshot": self._snapshot(image)}

    @route("DELETE", "/snapshots/{snapshot_id}")
    def delete_snapshot(self, request, snapshot_id):
        if not (snapshot_id.isdigit() and self.images.pop(int(snapshot_id), None)):
            raise HttpError(404, "The resource you requested could not be found.")
        return 204, None

    @route("GET", "/droplets/{droplet_id}/snapshots")
    def droplet_snapshots(self, request, droplet_id):
        droplet = self._droplet_by_id(droplet_id)
        found = [self._snapshot(self.images[i], droplet_form=True) for i in droplet["snapshot_ids"] if i in self.images]
        return self._paged(request, "snapshots", found)

    # -- droplets ------------------------------------------------------------------------------------------------
    @route("GET", "/droplets")
    def list_droplets(self, request):
        tag = request.args.get("tag_name")
        name = request.args.get("name")
        found = [d for _, d in sorted(self.droplets.items())
                 if self.visible(d["created"]) and (not tag or tag in d["tags"]) and (not name or d["name"] == name)]
        return self._paged(request, "droplets", [self._droplet(d) for d in found])

    @route("GET", "/droplets/{droplet_id}")
    def get_droplet(self, request, droplet_id):
        return 200, {"droplet": self._droplet(self._droplet_by_id(droplet_id))}

    @route("POST", "/droplets")
    def create_droplet(self, request):
        body = self.body(request)
        if "names" in body:
            raise HttpError(422, "this fake makes one droplet per request")
        region, size, image = body.get("region") or self.default_region, body["size"], body["image"]
        if region not in REGIONS:
            raise HttpError(422, "You specified an invalid region for Droplet creation.")
        if size not in SIZES or (SIZES[size][4] is not None and region not in SIZES[size][4]):
            raise HttpError(422, "You specified an invalid size for Droplet creation.")
        if isinstance(image, str) and image in DISTRIBUTIONS:
            shown = self._distribution(image)
        elif isinstance(image, int) and image in self.images:
            shown = self._snapshot_image(self.images[image])
        else:
            raise HttpError(422, "You specified an invalid image for Droplet creation.")
        if len(self.droplets) >= self.droplet_limit:
            raise HttpError(422, "creating this/these droplet(s) will exceed your droplet limit")
        for key in body.get("ssh_keys") or []:
            if not any(key in (k["id"], k["fingerprint"]) for k in self.keys_.values()):
                raise HttpError(422, "The ssh key provided is not valid.")
        vpc = self.vpcs.get(body.get("vpc_uuid", ""))
        if body.get("vpc_uuid") and (vpc is None or vpc["region"] != region):
            raise HttpError(422, "The VPC is not valid for this region.")
        if vpc is None:
            vpc = self._default_vpc(region)
        droplet_id = next(self._ids)
        network = ipaddress.ip_network(vpc["ip_range"])
        taken = {d["private_ip"] for d in self.droplets.values()}
        private = next(str(a) for a in itertools.islice(network.hosts(), 1, None) if str(a) not in taken)
        droplet = {"id": droplet_id, "name": body["name"], "region": region, "size": size, "image": shown,
                   "tags": list(body.get("tags") or []), "vpc_uuid": vpc["id"], "user_data": body.get("user_data", ""),
                   "ssh_keys": list(body.get("ssh_keys") or []), "created": self.now(), "status": "new",
                   "public_ip": f"203.0.113.{droplet_id % 250 + 2}", "private_ip": private, "snapshot_ids": []}
        self.droplets[droplet_id] = droplet
        self.tags.update(droplet["tags"])  # DigitalOcean makes the tags a create names
        self.received[droplet["name"]] = droplet["user_data"]
        if self.backing is not None:
            threading.Thread(target=self._back, args=(droplet,), daemon=True).start()
        if self.lose_creates > 0:
            self.lose_creates -= 1
            raise HttpError(500, "Server was unable to give you a response.")
        links = {"actions": [{"id": next(self._ids), "rel": "create", "href": f"{self.url}/actions/0"}]}
        return 202, {"droplet": self._droplet(droplet), "links": links}

    def _back(self, droplet: Dict[str, Any]) -> None:
        try:
            address = self.backing.create(droplet["name"], droplet["user_data"])
        except Exception as error:  # the machine never came: DigitalOcean leaves it off
            with self.lock:
                droplet["status"] = "off"
                self.backing_errors.append(f"backing.create({droplet['name']}) failed: {error}")
            return
        with self.lock:
            droplet.update(backing_ip=address, public_ip=address, private_ip=address)

    @route("DELETE", "/droplets/{droplet_id}")
    def delete_droplet(self, request, droplet_id):
        droplet = self._droplet_by_id(droplet_id)
        del self.droplets[droplet["id"]]
        self.destroyed.append(droplet["name"])
        for firewall in self.firewalls.values():
            firewall["droplet_ids"] = [i for i in firewall["droplet_ids"] or [] if i != droplet["id"]]
        if self.backing is not None:
            threading.Thread(target=self.backing.destroy, args=(droplet["name"],), daemon=True).start()
        return 204, None

    @route("POST", "/droplets/{droplet_id}/actions")
    def droplet_action(self, request, droplet_id):
        droplet = self._droplet_by_id(droplet_id)
        body = self.body(request)
        if body["type"] != "snapshot":
            raise HttpError(422, f"this fake does not do {body['type']} actions")
        action_id = next(self._ids)
        self.actions[action_id] = {"id": action_id, "type": "snapshot", "status": "in-progress",
                                   "started": self.now(), "completed": None, "resource_id": droplet["id"],
                                   "name": body.get("name") or f"{droplet['name']}-{int(self.now())}",
                                   "region": droplet["region"]}
        return 201, {"action": self._action(self.actions[action_id])}

    @route("GET", "/droplets/{droplet_id}/actions/{action_id}")
    def get_droplet_action(self, request, droplet_id, action_id):
        action = self.actions.get(int(action_id)) if action_id.isdigit() else None
        if action is None or str(action["resource_id"]) != droplet_id:
            raise HttpError(404, "The resource you requested could not be found.")
        return 200, {"action": self._action(action)}

    def _action(self, action: Dict[str, Any]) -> Dict[str, Any]:
        return {"id": action["id"], "status": action["status"], "type": action["type"],
                "started_at": stamp(action["started"]),
                "completed_at": stamp(action["completed"]) if action["completed"] else None,
                "resource_id": action["resource_id"], "resource_type": "droplet",
                "region": self._region(action["region"]), "region_slug": action["region"]}

    # -- tags ----------------------------------------------------------------------------------------------------
    def _tag(self, name: str) -> Dict[str, Any]:
        count = sum(1 for d in self.droplets.values() if name in d["tags"])
        return {"name": name, "resources": {"count": count, "droplets": {"count": count}}}

    @route("GET", "/tags/{tag_id}")
    def get_tag(self, request, tag_id):
        if tag_id not in self.tags:
            raise HttpError(404, "The resource you requested could not be found.")
        return 200, {"tag": self._tag(tag_id)}

    @route("POST", "/tags")
    def create_tag(self, request):
        name = self.body(request)["name"]
        if not re.fullmatch(r"[a-zA-Z0-9_:-]{1,255}", name):
            raise HttpError(422, "Name may contain letters, numbers, colons, dashes, and underscores")
        self.tags.add(name)
        return 201, {"tag": self._tag(name)}

    @route("POST", "/tags/{tag_id}/resources")
    def tag_resources(self, request, tag_id):
        if tag_id not in self.tags:
            raise HttpError(404, "The resource you requested could not be found.")
        resources = self.body(request)["resources"]
        for resource in resources:  # every resource is checked before any is tagged
            if resource.get("resource_type") != "droplet":
                raise HttpError(422, f"this fake tags droplets only, not {resource.get('resource_type')}")
            self._droplet_by_id(str(resource.get("resource_id", "")))
        for resource in resources:
            droplet = self.droplets[int(resource["resource_id"])]
            if tag_id not in droplet["tags"]:
                droplet["tags"].append(tag_id)
        return 204, None

    # -- firewalls -----------------------------------------------------------------------------------------------
    def _firewall_body(self, body: Dict[str, Any], firewall: Dict[str, Any]) -> Dict[str, Any]:
        for droplet_id in body.get("droplet_ids") or []:
            if droplet_id not in self.droplets:
                raise HttpError(422, f"droplet {droplet_id} not found")
        firewall.update(name=body["name"], inbound_rules=body.get("inbound_rules") or [],
                        outbound_rules=body.get("outbound_rules") or [],
                        droplet_ids=list(body.get("droplet_ids") or []), tags=list(body.get("tags") or []))
        return firewall

    @route("GET", "/firewalls")
    def list_firewalls(self, request):
        return self._paged(request, "firewalls", [self.firewalls[k] for k in sorted(self.firewalls)])

    @route("POST", "/firewalls")
    def create_firewall(self, request):
        firewall_id = str(uuid.uuid4())
        firewall = {"id": firewall_id, "status": "succeeded", "created_at": stamp(self.now()), "pending_changes": []}
        self.firewalls[firewall_id] = self._firewall_body(self.body(request), firewall)
        return 202, {"firewall": firewall}

    @route("GET", "/firewalls/{firewall_id}")
    def get_firewall(self, request, firewall_id):
        if firewall_id not in self.firewalls:
            raise HttpError(404, "The resource you requested could not be found.")
        return 200, {"firewall": self.firewalls[firewall_id]}

    @route("PUT", "/firewalls/{firewall_id}")
    def update_firewall(self, request, firewall_id):
        if firewall_id not in self.firewalls:
            raise HttpError(404, "The resource you requested could not be found.")
        return 200, {"firewall": self._firewall_body(self.body(request), self.firewalls[firewall_id])}

    @route("DELETE", "/firewalls/{firewall_id}")
    def delete_firewall(self, request, firewall_id):
        if self.firewalls.pop(firewall_id, None) is None:
            raise HttpError(404, "The resource you requested could not be found.")
        return 204, None

    # -- VPCs ----------------------------------------------------------------------------------------------------
    def _new_vpc(self, name: str, region: str, description: str = "", default: bool = False) -> Dict[str, Any]:
        vpc_id = str(uuid.uuid4())
        used = {v["ip_range"] for v in self.vpcs.values()}
        ip_range = next(f"10.{n}.0.0/20" for n in range(100, 256) if f"10.{n}.0.0/20" not in used)
        self.vpcs[vpc_id] = {"id": vpc_id, "urn": f"do:vpc:{vpc_id}", "name": name, "description": description,
                             "region": region, "ip_range": ip_range, "default": default,
                             "created_at": stamp(self.now())}
        return self.vpcs[vpc_id]

    def _default_vpc(self, region: str) -> Dict[str, Any]:
        found = next((v for v in self.vpcs.values() if v["default"] and v["region"] == region), None)
        return found or self._new_vpc(f"default-{region}", region, default=True)

    def _vpc_by_id(self, vpc_id: str) -> Dict[str, Any]:
        if vpc_id not in self.vpcs:
            raise HttpError(404, "The resource you requested could not be found.")
        return self.vpcs[vpc_id]

    @route("GET", "/vpcs")
    def list_vpcs(self, request):
        return self._paged(request, "vpcs", [self._vpc(v) for v in self.vpcs.values()])

    @route("POST", "/vpcs")
    def create_vpc(self, request):
        body = self.body(request)
        if any(v["name"] == body["name"] for v in self.vpcs.values()):
            raise HttpError(422, "A VPC with this name already exists")
        if body["region"] not in REGIONS:
            raise HttpError(422, "invalid region")
        return 201, {"vpc": self._vpc(self._new_vpc(body["name"], body["region"], body.get("description", "")))}

    @route("GET", "/vpcs/{vpc_id}")
    def get_vpc(self, request, vpc_id):
        return 200, {"vpc": self._vpc(self._vpc_by_id(vpc_id))}

    @route("GET", "/vpcs/{vpc_id}/members")
    def vpc_members(self, request, vpc_id):
        self._vpc_by_id(vpc_id)
        members = [{"name": d["name"], "urn": f"do:droplet:{d['id']}", "created_at": stamp(d["created"])}
                   for d in self.droplets.values() if d["vpc_uuid"] == vpc_id]
        return self._paged(request, "members", members)

    @route("DELETE", "/vpcs/{vpc_id}")
    def delete_vpc(self, request, vpc_id):
        vpc = self._vpc_by_id(vpc_id)
        if vpc["default"] or any(d["vpc_uuid"] == vpc_id for d in self.droplets.values()):
            raise HttpError(409, "The VPC could not be deleted: it has members or is the region's default")
        del self.vpcs[vpc_id]
        return 204, None

    # -- domains and records -------------------------------------------------------------------------------------
    def _domain(self, name: str) -> Dict[str, Any]:
        if name not in self.domains:
            raise HttpError(404, "The resource you requested could not be found.")
        return self.domains[name]

    @route("GET", "/domains")
    def list_domains(self, request):
        shown = [{"name": d["name"], "ttl": d["ttl"], "zone_file": d["zone_file"]} for d in self.domains.values()]
        return self._paged(request, "domains", shown)

    @route("GET", "/domains/{domain}")
    def get_domain(self, request, domain):
        found = self._domain(domain)
        return 200, {"domain": {"name": found["name"], "ttl": found["ttl"], "zone_file": found["zone_file"]}}

    @route("GET", "/domains/{domain}/records")
    def list_records(self, request, domain):
        zone = self._domain(domain)
        name, kind = request.args.get("name"), request.args.get("type")
        found = []
        for record in sorted(zone["records"].values(), key=lambda r: r["id"]):
            fqdn = domain if record["name"] == "@" else f"{record['name']}.{domain}"
            if (not name or name == fqdn) and (not kind or kind == record["type"]):
                found.append(record)
        return self._paged(request, "domain_records", found)

    @route("POST", "/domains/{domain}/records")
    def create_record(self, request, domain):
        zone = self._domain(domain)
        body = self.body(request)
        name = body.get("name", "@")
        if name.endswith("." + domain):
            name = name[: -len(domain) - 1]
        if body["type"] == "A":
            try:
                ipaddress.IPv4Address(body.get("data", ""))
            except ValueError:
                raise HttpError(422, "IP address did not match IPv4 format (e.g. 127.0.0.1).") from None
        ttl = body.get("ttl", 1800)
        if ttl < 30:
            raise HttpError(422, "TTL must be at least 30 seconds")
        record_id = next(self._ids)
        zone["records"][record_id] = {"id": record_id, "type": body["type"], "name": name, "data": body.get("data"),
                                      "priority": None, "port": None, "ttl": ttl, "weight": None, "flags": None,
                                      "tag": None}
        return 201, {"domain_record": zone["records"][record_id]}

    @route("DELETE", "/domains/{domain}/records/{record_id}")
    def delete_record(self, request, domain, record_id):
        zone = self._domain(domain)
        if not (record_id.isdigit() and zone["records"].pop(int(record_id), None)):
            raise HttpError(404, "The resource you requested could not be found.")
        return 204, None
