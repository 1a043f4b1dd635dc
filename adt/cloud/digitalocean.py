"""The DigitalOcean cloud host: droplets, snapshots, Cloud Firewalls and VPCs over the API v2, through one httpx
client (adt.httpapi; pydo is not used: it refuses plain-http endpoints, which the test fake is).

A droplet carries the build's and its role's tags from its create call on, so a failed create leaves nothing
unnamed (what might exist is swept by tag and name), listings ask for the build's tag only, and destroy removes
only what carries it. Each machine's native firewall is a Cloud Firewall of its own, `adt-<machine name>`,
updated in place and removed with the machine.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Sequence

from adt.cloud.base import BUILD_TAG_PREFIX, ROLE_TAG_PREFIX, CloudDriver, Image, Placement, Server, UserData, role_of
from adt.cloud.base import tags as build_tags
from adt.cloud.userdata import cloud_config
from adt.errors import AdtError
from adt.httpapi import ApiClient, ApiError, created_once, paged, poll

API_URL = "https://api.digitalocean.com/v2"
PROVIDER = "DigitalOcean"
PER_PAGE = 200
CREATE_TIMEOUT = 600.0
SNAPSHOT_TIMEOUT = 3600.0
USER_DATA_LIMIT = 64 * 1024  # bytes of user data a droplet takes

# the token scope each call needs (DigitalOcean's custom-scoped tokens), as its API reference states them
SCOPES = (
    ("GET", r"/account", "account:read"),
    ("GET", r"/account/keys(/[^/]+)?", "ssh_key:read"),
    ("POST", r"/account/keys", "ssh_key:create"),
    ("GET", r"/droplets(/\d+(/snapshots|/actions(/\d+)?)?)?", "droplet:read"),
    ("POST", r"/droplets", "droplet:create (with tag:create, image:read, ssh_key:read and vpc:read)"),
    ("DELETE", r"/droplets/\d+", "droplet:delete"),
    ("POST", r"/droplets/\d+/actions", "droplet:update"),
    ("GET", r"/snapshots(/[^/]+)?", "snapshot:read"),
    ("DELETE", r"/snapshots/[^/]+", "snapshot:delete (with image:delete)"),
    ("GET", r"/images(/[^/]+)?", "image:read"),
    ("GET", r"/regions", "regions:read"),
    ("GET", r"/sizes", "sizes:read (with regions:read)"),
    ("GET", r"/firewalls(/[^/]+)?", "firewall:read"),
    ("POST", r"/firewalls", "firewall:create"),
    ("PUT", r"/firewalls/[^/]+", "firewall:update"),
    ("DELETE", r"/firewalls/[^/]+", "firewall:delete"),
    ("GET", r"/vpcs(/[^/]+(/members)?)?", "vpc:read"),
    ("POST", r"/vpcs", "vpc:create"),
    ("DELETE", r"/vpcs/[^/]+", "vpc:delete"),
    ("GET", r"/tags(/[^/]+)?", "tag:read"),
    ("POST", r"/tags(/[^/]+/resources)?", "tag:create"),
)
STATUS = {"active": "running", "off": "stopped", "archive": "stopped", "new": "pending"}
ALL = ["0.0.0.0/0", "::/0"]
OUTBOUND = [  # a Cloud Firewall without outbound rules drops everything a machine sends: let it all out
    {"protocol": "tcp", "ports": "0", "destinations": {"addresses": ALL}},
    {"protocol": "udp", "ports": "0", "destinations": {"addresses": ALL}},
    {"protocol": "icmp", "ports": "0", "destinations": {"addresses": ALL}},
]


def has_next(answer: Mapping[str, Any], page: int) -> bool:
    """Whether a listing's answer has a next page (links.pages.next)."""
    return bool(((answer.get("links") or {}).get("pages") or {}).get("next"))


def scope_of(method: str, path: str) -> str:
    """The token scope DigitalOcean asks for `method path` ('' when unknown)."""
    path = path.split("?", 1)[0]
    return next((s for m, regex, s in SCOPES if m == method and re.fullmatch(regex, path)), "")


def key_fingerprint(public_key: str) -> str:
    """DigitalOcean's fingerprint of an OpenSSH public key: the MD5 of its blob, colon-separated hex."""
    try:
        blob = base64.b64decode(public_key.split()[1], validate=True)
    except (IndexError, ValueError):
        raise AdtError(
            "the build's SSH public key is not an OpenSSH public key", "regenerate the build's key"
        ) from None
    digest = hashlib.md5(blob).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def firewall_name(machine: str) -> str:
    """The Cloud Firewall of one machine (DigitalOcean's names: letters, digits, '.' and '-')."""
    return "adt-" + re.sub(r"[^a-zA-Z0-9.-]", "-", machine)


def inbound_rules(rules: Sequence) -> List[Dict[str, Any]]:
    """Cloud Firewall inbound rules for adt.firewall.policy rules (proto, port, source): one per protocol and port,
    its sources together, in a stable order."""
    grouped: Dict[tuple, List[str]] = {}
    for rule in rules:
        ports = "0" if rule.proto == "icmp" else str(int(rule.port))
        grouped.setdefault((rule.proto, ports), [])
        if rule.source not in grouped[(rule.proto, ports)]:
            grouped[(rule.proto, ports)].append(rule.source)
    return [
        {"protocol": proto, "ports": ports, "sources": {"addresses": sources}}
        for (proto, ports), sources in sorted(grouped.items())
    ]


def addresses(droplet: Mapping[str, Any]) -> tuple:
    """A droplet's (public, private) IPv4 addresses ('' where it has none yet)."""
    v4 = (droplet.get("networks") or {}).get("v4") or []
    public = next((n["ip_address"] for n in v4 if n.get("type") == "public"), "")
    private = next((n["ip_address"] for n in v4 if n.get("type") == "private"), "")
    return public, private


def server_of(droplet: Mapping[str, Any]) -> Server:
    public, private = addresses(droplet)
    role = next((t[len(ROLE_TAG_PREFIX) :] for t in droplet.get("tags") or [] if t.startswith(ROLE_TAG_PREFIX)), "")
    return Server(
        name=droplet["name"],
        id=str(droplet["id"]),
        role=role or role_of(droplet["name"]),
        public_ip=public,
        private_ip=private,
        status=STATUS.get(droplet.get("status", ""), droplet.get("status", "")),
    )


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() if stamp else 0.0


class DigitalOceanDriver(CloudDriver):
    name = "digitalocean"

    def __init__(self, credentials: Mapping[str, str], placement: Placement, api_url: str = ""):
        token = (credentials.get("TOKEN") or "").strip()
        if not token:
            raise AdtError(
                f"no {PROVIDER} API token (TOKEN)", "put a DigitalOcean personal access token in the template"
            )
        if not placement.build:
            raise AdtError(f"{PROVIDER}: the driver needs the build's identifier (BUILD_IDENTIFIER)")
        self.placement = placement
        headers = {"Authorization": f"Bearer {token}"}
        self.api = ApiClient(PROVIDER, api_url or API_URL, headers, forbidden=self._forbidden)
        # creates: retried by the driver
        self._once = ApiClient(PROVIDER, api_url or API_URL, headers, attempts=1, forbidden=self._forbidden)
        self.build_tag = f"{BUILD_TAG_PREFIX}{placement.build}"
        self._created: Dict[str, int] = {}  # machines this driver made: a listing may not show them yet
        self._keys: Dict[str, int] = {}
        self._vpc = ""

    # -- calls -------------------------------------------------------------------------------------------------------
    @staticmethod
    def _forbidden(method: str, path: str, error: ApiError) -> ApiError:
        scope = scope_of(method, path)
        return ApiError(
            f"{PROVIDER}: the token may not {method} {path} (403 Forbidden)"
            + (f": it needs the {scope} scope" if scope else ""),
            f"give the token {scope.split(' ')[0] if scope else 'the scope this needs'} (or full access) in the "
            "DigitalOcean control panel, API > Tokens",
            403,
            error.body,
        )

    def listing(self, path: str, key: str, params: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
        """Every item of a paged listing: one call per page, following links.pages.next."""
        return paged(
            lambda page: self.api.request("GET", path, params={**(params or {}), "per_page": PER_PAGE, "page": page}),
            key,
            has_next,
        )

    # -- machines ----------------------------------------------------------------------------------------------------
    def _droplets(self) -> List[Dict[str, Any]]:
        return self.listing("/droplets", "droplets", {"tag_name": self.build_tag})

    def list_servers(self, pattern: str = "") -> List[Server]:
        return [server_of(d) for d in self._droplets() if pattern in d["name"]]

    def _ids_of(self, name: str) -> List[int]:
        """The ids of this build's droplets named `name` (those this driver made too, listed yet or not)."""
        ids = [d["id"] for d in self._droplets() if d["name"] == name]
        made = self._created.get(name)
        if made is not None and made not in ids:
            ids.append(made)
        return ids

    def _id_of(self, name: str) -> int:
        ids = self._ids_of(name)
        if not ids:
            raise AdtError(f"{PROVIDER} has no machine {name} in build {self.placement.build}", "adt status lists them")
        return ids[0]

    def _key(self, authorized_key: str) -> int:
        """The id of the build's key with DigitalOcean: found by its fingerprint, else registered once."""
        fingerprint = key_fingerprint(authorized_key)
        if fingerprint in self._keys:
            return self._keys[fingerprint]

        def listed() -> Optional[Dict[str, Any]]:
            keys = self.listing("/account/keys", "ssh_keys")
            return next((k for k in keys if k.get("fingerprint") == fingerprint), None)

        found = listed()
        if found is None:
            body = {"name": f"adt-{self.placement.build}", "public_key": authorized_key.strip()}
            try:
                found = self.api.request("POST", "/account/keys", json=body)["ssh_key"]
            except ApiError as error:  # registered meanwhile (another create of the build)
                if error.status != 422 or listed() is None:
                    raise
                found = listed()
        assert found is not None
        self._keys[fingerprint] = int(found["id"])
        return self._keys[fingerprint]

    def create_server(
        self,
        name: str,
        size: str,
        user_data: UserData,
        ssh_port: int,
        authorized_key: str,
        image: Optional[str] = None,
    ) -> Server:
        document = cloud_config(user_data, ssh_port, authorized_key)
        if len(document.encode()) > USER_DATA_LIMIT:
            raise AdtError(
                f"{PROVIDER}: the user data of {name} is {len(document.encode())} bytes, over the 64 KiB droplets take",
                "keep large files out of the machine's first-boot files (they can be fetched from the datastore)",
            )
        key = self._key(authorized_key)
        vpc = self.ensure_network()
        source: Any = image or self.placement.os_image
        if isinstance(source, str) and source.isdigit():
            source = int(source)  # a snapshot (an image id); a slug else
        body = {
            "name": name,
            "region": self.placement.region,
            "size": size,
            "image": source,
            "ssh_keys": [key],
            "user_data": document,
            "tags": build_tags(self.placement.build, role_of(name)),
            "vpc_uuid": vpc,
            "monitoring": False,
            "ipv6": False,
        }
        try:
            droplet_id = self._post_droplet(name, body)
        except AdtError as error:
            self._sweep(name)
            raise AdtError(
                f"{PROVIDER} could not create {name}: {error.message}", error.hint or "nothing of it was left behind"
            ) from None
        self._created[name] = droplet_id
        try:
            return poll(
                lambda: self._running(droplet_id),
                f"{PROVIDER} droplet {name} to run with its addresses",
                CREATE_TIMEOUT,
                first=0.2,
            )
        except AdtError:
            self._delete(droplet_id)
            self._created.pop(name, None)
            raise

    def _post_droplet(self, name: str, body: Mapping[str, Any]) -> int:
        """POST /droplets, retried here rather than blindly: a create whose answer was lost (a 5xx, a dropped
        connection) may have made the droplet, so before each retry the build's listing is asked for it, and a
        droplet found is adopted instead of making a second one."""
        return created_once(
            lambda: int(self._create_call("POST", "/droplets", json=body)["droplet"]["id"]),
            lambda: next(iter(self._ids_of(name)), None),
            self.api.attempts,
            self.api.sleep,
        )

    def _create_call(self, method: str, path: str, json: Any) -> Any:
        try:
            return self._once.request(method, path, json=json)
        finally:
            self.api.calls += 1

    def _running(self, droplet_id: int) -> Optional[Server]:
        droplet = self.api.request("GET", f"/droplets/{droplet_id}")["droplet"]
        if droplet["status"] in ("off", "archive"):
            raise AdtError(f"{PROVIDER} droplet {droplet['name']} is {droplet['status']} instead of starting")
        server = server_of(droplet)
        return server if server.status == "running" and server.public_ip and server.private_ip else None

    def _sweep(self, name: str) -> None:
        """After a failed create: whatever of that name the build has (a create that got through unanswered)."""
        try:
            for droplet_id in self._ids_of(name):
                self._delete(droplet_id)
        except AdtError:
            pass  # the API is failing: nothing could be listed, so nothing was made that it knows of yet
        self._created.pop(name, None)

    def _delete(self, droplet_id: int) -> None:
        try:
            self.api.request("DELETE", f"/droplets/{droplet_id}", ok=(404,))
        except AdtError:
            pass

    def destroy_server(self, name: str) -> None:
        """Destroy this build's machine `name` and its firewall; one that is gone (or not the build's) is no error."""
        for droplet_id in self._ids_of(name):
            self.api.request("DELETE", f"/droplets/{droplet_id}", ok=(404,))
            poll(functools.partial(self._gone, droplet_id), f"{PROVIDER} droplet {name} to be gone", 120)
        self._created.pop(name, None)
        firewall = self._firewall(name)
        if firewall is not None:
            self.api.request("DELETE", f"/firewalls/{firewall['id']}", ok=(404,))

    def _gone(self, droplet_id: int) -> Optional[bool]:
        return True if self.api.request("GET", f"/droplets/{droplet_id}", ok=(404,)) is None else None

    def adopt(self) -> List[str]:
        """Tag the droplets the original toolkit made for this build (no build tag, the build's mark
        `-<region>-<build>-` in the name) with the build's and their role's tags; the names adopted."""
        mark = f"-{self.placement.region}-{self.placement.build}-"
        found = [
            d
            for d in self.listing("/droplets", "droplets")
            if mark in d["name"] and not any(t.startswith(BUILD_TAG_PREFIX) for t in d.get("tags") or [])
        ]
        by_tag: Dict[str, List[Dict[str, Any]]] = {}
        for droplet in found:
            for tag in build_tags(self.placement.build, role_of(droplet["name"])):
                by_tag.setdefault(tag, []).append(droplet)
        for tag, droplets in by_tag.items():
            if self.api.planned("POST", f"/tags/{tag}/resources", ", ".join(d["name"] for d in droplets)):
                continue
            if self.api.request("GET", f"/tags/{tag}", ok=(404,)) is None:
                self.api.request("POST", "/tags", json={"name": tag})
            resources = [{"resource_id": str(d["id"]), "resource_type": "droplet"} for d in droplets]
            self.api.request("POST", f"/tags/{tag}/resources", json={"resources": resources})
        return sorted(d["name"] for d in found)

    # -- snapshots ---------------------------------------------------------------------------------------------------
    def snapshot(self, name: str, label: str) -> str:
        droplet_id = self._id_of(name)
        action = self.api.request("POST", f"/droplets/{droplet_id}/actions", json={"type": "snapshot", "name": label})
        action_id = action["action"]["id"]

        def done() -> Optional[bool]:
            status = self.api.request("GET", f"/droplets/{droplet_id}/actions/{action_id}")["action"]["status"]
            if status == "errored":
                raise AdtError(f"{PROVIDER} could not take the snapshot {label} of {name}", "try again")
            return True if status == "completed" else None

        poll(done, f"{PROVIDER} snapshot {label} of {name}", SNAPSHOT_TIMEOUT, first=1.0, cap=15.0)

        def made() -> Optional[str]:
            found = [s for s in self.listing(f"/droplets/{droplet_id}/snapshots", "snapshots") if s["name"] == label]
            newest = max(found, key=lambda s: (seconds(s["created_at"]), int(s["id"])), default=None)
            return str(newest["id"]) if newest else None

        return poll(made, f"{PROVIDER} snapshot {label} of {name} to be listed", 120)

    def list_snapshots(self, pattern: str = "") -> List[Image]:
        snapshots = self.listing("/snapshots", "snapshots", {"resource_type": "droplet"})
        names = {str(d["id"]): d["name"] for d in self._droplets()} if snapshots else {}
        images = []
        for snapshot in snapshots:
            source = names.get(str(snapshot.get("resource_id", "")), "")
            label = snapshot["name"]
            if pattern not in label and pattern not in source:
                continue
            images.append(
                Image(
                    id=str(snapshot["id"]),
                    label=label,
                    role=role_of(source or label.removeprefix("adt-")),
                    source=source,
                    created=seconds(snapshot["created_at"]),
                    size=int(float(snapshot.get("size_gigabytes") or 0) * 1024**3),
                )
            )
        return sorted(images, key=lambda i: (i.created, i.id))

    def delete_snapshot(self, image_id: str) -> None:
        self.api.request("DELETE", f"/snapshots/{image_id}", ok=(404,))

    # -- firewalls ---------------------------------------------------------------------------------------------------
    def _firewall(self, machine: str) -> Optional[Dict[str, Any]]:
        wanted = firewall_name(machine)
        return next((f for f in self.listing("/firewalls", "firewalls") if f.get("name") == wanted), None)

    def apply_native_firewall(self, name: str, rules: Sequence) -> Optional[str]:
        droplet_id = self._id_of(name)
        found = self._firewall(name)
        attached = sorted({*((found or {}).get("droplet_ids") or []), droplet_id})
        body = {
            "name": firewall_name(name),
            "inbound_rules": inbound_rules(rules),
            "outbound_rules": OUTBOUND,
            "droplet_ids": attached,
            "tags": [],
        }
        if found is None:
            return self.api.request("POST", "/firewalls", json=body)["firewall"]["id"]
        return self.api.request("PUT", f"/firewalls/{found['id']}", json=body)["firewall"]["id"]

    # -- the VPC -----------------------------------------------------------------------------------------------------
    def _find_vpc(self) -> Optional[Dict[str, Any]]:
        wanted = self.placement.vpc or f"adt-{self.placement.build}"
        found = next((v for v in self.listing("/vpcs", "vpcs") if v.get("name") == wanted), None)
        if found is not None and found.get("region") != self.placement.region:
            raise AdtError(
                f"{PROVIDER} VPC {wanted} is in {found.get('region')}, not in {self.placement.region}",
                "VPC names are per account: choose another VPC name or the same region",
            )
        return found

    def ensure_network(self) -> str:
        if self._vpc:
            return self._vpc
        found = self._find_vpc()
        if found is None:
            body = {
                "name": self.placement.vpc or f"adt-{self.placement.build}",
                "region": self.placement.region,
                "description": f"adt build {self.placement.build}",
            }
            found = self.api.request("POST", "/vpcs", json=body)["vpc"]
        self._vpc = str(found["id"])
        return self._vpc

    def remove_network(self, force: bool = False) -> None:
        found = self._find_vpc()
        if found is None:
            self._vpc = ""
            return
        members = self.listing(f"/vpcs/{found['id']}/members", "members")
        if members:
            if not force:
                return
            raise AdtError(
                f"{PROVIDER} cannot remove VPC {found['name']}: it still holds "
                + ", ".join(sorted(m.get("name", "?") for m in members)),
                "destroy those machines first",
            )
        self.api.request("DELETE", f"/vpcs/{found['id']}", ok=(404,))
        self._vpc = ""

    # -- before a build ----------------------------------------------------------------------------------------------
    def problems(self, sizes: Sequence[str] = ()) -> List[str]:
        """Every problem at once: the token and its scopes, the account's state and droplet limit, the region, each
        size (known, available in the region) and the image."""
        found: List[str] = []

        def read(path: str, params: Optional[Mapping[str, Any]] = None, ok=()) -> Any:
            try:
                return self.api.request("GET", path, params=params, ok=ok)
            except ApiError as error:
                if error.status == 401:
                    raise
                found.append(str(error))
                return False

        try:
            account = read("/account")
        except ApiError as error:  # a refused token: nothing else can be known
            return [str(error)]
        region = self.placement.region
        if account:
            details = account.get("account") or {}
            if details.get("status") != "active":
                found.append(
                    f"{PROVIDER} account is {details.get('status')}"
                    + (f": {details['status_message']}" if details.get("status_message") else "")
                )
            existing = read("/droplets", {"per_page": 1})
            limit = details.get("droplet_limit")
            if existing and isinstance(limit, int):
                total = int((existing.get("meta") or {}).get("total") or 0)
                needed = max(1, len(sizes))
                if total + needed > limit:
                    found.append(
                        f"{PROVIDER} droplet limit reached: the account has {total} of its {limit} droplets and the "
                        f"build needs {needed} more (ask DigitalOcean support to raise the limit)"
                    )
        regions = read("/regions", {"per_page": PER_PAGE})
        known_region = False
        if regions:
            slugs = {r["slug"]: r for r in regions.get("regions") or []}
            known_region = region in slugs and bool(slugs[region].get("available"))
            if region not in slugs:
                found.append(f"{PROVIDER} has no region {region!r} (regions: {', '.join(sorted(slugs))})")
            elif not known_region:
                found.append(f"{PROVIDER} region {region} takes no new droplets now")
        if sizes:
            listed = read("/sizes", {"per_page": PER_PAGE})
            if listed:
                by_slug = {s["slug"]: s for s in listed.get("sizes") or []}
                for size in dict.fromkeys(sizes):
                    if size not in by_slug:
                        found.append(f"{PROVIDER} has no droplet size {size!r}")
                    elif not by_slug[size].get("available"):
                        found.append(f"{PROVIDER} droplet size {size} is not available now")
                    elif known_region and region not in (by_slug[size].get("regions") or []):
                        found.append(f"{PROVIDER} droplet size {size} is not offered in {region}")
        image = self.placement.os_image
        if image:
            shown = read(f"/images/{image}", ok=(404,))
            if shown is None:
                found.append(f"{PROVIDER} has no image {image!r} (a slug such as debian-13-x64, or an image id)")
            elif shown and known_region and region not in (shown.get("image", {}).get("regions") or [region]):
                found.append(f"{PROVIDER} image {image} is not available in {region}")
        try:
            self._find_vpc()
        except ApiError as error:
            found.append(str(error))
        except AdtError as error:
            found.append(str(error))
        return found
