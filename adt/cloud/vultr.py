"""The Vultr cloud host over its API v2 (https://api.vultr.com/v2), with the one HTTP client of adt.httpapi: Vultr
publishes no official Python SDK.

Machines are instances tagged with the build and the role (adt.cloud.base.tags) in the create call itself, so a
failed create is swept by tag and label and destroy removes only what carries the build's tag. Listings use
Vultr's cursor pagination; the build's machines are one call (`GET /instances?tag=...&per_page=500`) up to 500.
The build's VPC is a Vultr VPC (the /vpcs API, the one Vultr's published specification holds), described by
its name and attached at create; the native firewall is one firewall group per machine (`adt-<name>`) holding
exactly the policy's inbound rules.

Vultr API keys have no scopes: what a key may do is its user's permissions (ACLs: `subscriptions`,
`provisioning`, `firewall`, `dns` ...), which a 403 names. A create's answer carries the instance's root
password (`default_password`): it is never kept nor logged (root logs in with the build's key only).
"""

from __future__ import annotations

import base64
import ipaddress
import re
import threading
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from adt.cloud.base import (
    BUILD_TAG_PREFIX,
    ROLE_TAG_PREFIX,
    CloudDriver,
    Image,
    Placement,
    Server,
    UserData,
    role_of,
    tags,
)
from adt.errors import AdtError
from adt.httpapi import ApiClient, ApiError, created_once, planned, poll

API_URL = "https://api.vultr.com/v2"
PER_PAGE = 500  # Vultr's largest page
# the permission (ACL) of the key's user each path needs, for a 403's message
SCOPES = {
    "/instances": "subscriptions",
    "/snapshots": "subscriptions",
    "/ssh-keys": "subscriptions",
    "/vpcs": "subscriptions",
    "/firewalls": "firewall",
    "/domains": "dns",
}
NEEDED_ACLS = ("subscriptions", "provisioning", "firewall")
CREATE_TIMEOUT = 900.0
CREATE_ATTEMPTS = 6
SNAPSHOT_TIMEOUT = 3600.0
_SOURCE = re.compile(r"^(?P<label>.*) <(?P<source>[^<>]+)>$")


def pages(client: ApiClient, path: str, key: str, params: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
    """Every item of a Vultr listing, over its cursor pages (`meta.links.next`), PER_PAGE at a time."""
    found: List[Dict[str, Any]] = []
    query: Dict[str, Any] = {**(params or {}), "per_page": PER_PAGE}
    while True:
        answer = client.request("GET", path, params=query) or {}
        found.extend(answer.get(key) or [])
        cursor = ((answer.get("meta") or {}).get("links") or {}).get("next") or ""
        if not cursor:
            return found
        query["cursor"] = cursor


def rule_key(rule: Any) -> Tuple[str, str, str, str, int]:
    """A policy rule (adt.firewall.policy.Rule) as Vultr's firewall rule fields: (ip_type, protocol, port,
    subnet, subnet_size)."""
    network = ipaddress.ip_network(str(rule.source), strict=False)
    port = str(int(rule.port)) if rule.proto in ("tcp", "udp") else ""
    return (f"v{network.version}", rule.proto, port, str(network.network_address), network.prefixlen)


def _existing_key(rule: Mapping[str, Any]) -> Tuple[str, str, str, str, int]:
    return (
        rule.get("ip_type") or rule.get("type") or "",
        rule.get("protocol", ""),
        str(rule.get("port") or "") if rule.get("protocol") in ("tcp", "udp") else "",
        rule.get("subnet", ""),
        int(rule.get("subnet_size") or 0),
    )


def _epoch(stamp: str) -> float:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


class VultrDriver(CloudDriver):
    name = "vultr"

    def __init__(self, credentials: Mapping[str, str], placement: Placement, api_url: str = ""):
        token = credentials.get("TOKEN", "")
        if not token:
            raise AdtError("no Vultr API key", "set TOKEN in the template (Vultr's control panel: Account, API)")
        self.placement = placement
        self.build_tag = f"{BUILD_TAG_PREFIX}{placement.build}"
        self.vpc_name = placement.vpc or f"adt-{placement.build}"
        headers = {"Authorization": f"Bearer {token}"}
        self.client = ApiClient("vultr", api_url or API_URL, headers, scopes=SCOPES)
        self._create_client = ApiClient("vultr", api_url or API_URL, headers, attempts=1)  # _post_instance retries
        self._vpc_id = ""
        self._key_id = ""
        self._key_lock = threading.Lock()
        self._made: Dict[str, str] = {}  # name -> instance id, of the machines this driver made
        self._systems: Optional[List[Dict[str, Any]]] = None  # the OS catalogue, read once
        self._groups: Dict[str, str] = {}  # name -> the id of the firewall group this driver made for it

    # -- helpers -----------------------------------------------------------------------------------
    def _change(self, method: str, path: str, json: Any = None, ok: tuple = ()) -> Any:
        """A request that changes something; in a dry run it is printed instead."""
        if self.client.planned(method, path):
            return None
        return self.client.request(method, path, json=json, ok=ok)

    def _server(self, instance: Mapping[str, Any]) -> Server:
        role = next(
            (t[len(ROLE_TAG_PREFIX) :] for t in instance.get("tags") or [] if t.startswith(ROLE_TAG_PREFIX)), ""
        )
        if instance.get("status") == "active" and instance.get("power_status") == "running":
            status = "running"
        elif instance.get("status") == "active":
            status = "stopped"
        else:
            status = instance.get("status") or "pending"
        public = instance.get("main_ip") or ""
        return Server(
            name=instance.get("label", ""),
            id=instance["id"],
            role=role or role_of(instance.get("label", "")),
            public_ip="" if public == "0.0.0.0" else public,
            private_ip=instance.get("internal_ip") or "",
            status=status,
        )

    def _instances(self, label: str = "") -> List[Dict[str, Any]]:
        params = {"tag": self.build_tag, **({"label": label} if label else {})}
        return [
            i for i in pages(self.client, "/instances", "instances", params) if self.build_tag in (i.get("tags") or [])
        ]

    def _instance(self, name: str) -> Dict[str, Any]:
        """This build's instance labelled name (one listing; the id of a machine this driver just made when the
        listing has not caught up); an AdtError when there is none."""
        found = self._instances(name)
        if found:
            return found[0]
        known = self._made.get(name)
        if known:
            answer = self.client.request("GET", f"/instances/{known}", ok=(404,))
            instance = (answer or {}).get("instance")
            if instance and instance.get("label") == name and self.build_tag in (instance.get("tags") or []):
                return instance
        raise AdtError(
            f"vultr has no machine {name} in build {self.placement.build}",
            "list the build's machines (adt status); only machines carrying the build's tag are touched",
        )

    # -- machines ----------------------------------------------------------------------------------
    def list_servers(self, pattern: str = "") -> List[Server]:
        return [self._server(i) for i in self._instances() if pattern in i.get("label", "")]

    def adopt(self) -> List[str]:
        """Tag the instances the original toolkit made for this build (no build tag, the build's mark
        `-<region>-<build>-` in the label) with the build's and their role's tags, keeping their other tags; the
        names adopted."""
        mark = f"-{self.placement.region}-{self.placement.build}-"
        adopted = []
        for instance in pages(self.client, "/instances", "instances"):
            label, held = instance.get("label", ""), list(instance.get("tags") or [])
            if mark not in label or any(t.startswith(BUILD_TAG_PREFIX) for t in held):
                continue
            wanted = held + [t for t in tags(self.placement.build, role_of(label)) if t not in held]
            self._change("PATCH", f"/instances/{instance['id']}", json={"tags": wanted})
            adopted.append(label)
        return sorted(adopted)

    def _ssh_key(self, authorized_key: str) -> str:
        """The id of the build's key at Vultr, registered once (by name adt-<build>), found by its content; one
        registration when the build makes its machines side by side."""
        with self._key_lock:
            if self._key_id:
                return self._key_id
            wanted = " ".join(authorized_key.split()[:2])
            for key in pages(self.client, "/ssh-keys", "ssh_keys"):
                if " ".join(str(key.get("ssh_key", "")).split()[:2]) == wanted:
                    self._key_id = key["id"]
                    return self._key_id
            answer = self.client.request(
                "POST", "/ssh-keys", json={"name": f"adt-{self.placement.build}", "ssh_key": authorized_key.strip()}
            )
            self._key_id = answer["ssh_key"]["id"]
            return self._key_id

    def create_server(
        self,
        name: str,
        size: str,
        user_data: UserData,
        ssh_port: int,
        authorized_key: str,
        image: Optional[str] = None,
    ) -> Server:
        from adt.cloud.userdata import cloud_config

        role = role_of(name)
        if self.client.planned("POST", "/instances", f"{name}, {size}, {self.placement.region}"):
            return Server(name, "", role, "", "", "planned")
        body: Dict[str, Any] = {
            "region": self.placement.region,
            "plan": size,
            "label": name,
            "hostname": name,
            "tags": tags(self.placement.build, role),
            "backups": "disabled",
            "enable_ipv6": False,
        }
        if image:
            body["snapshot_id"] = image
        else:
            body["os_id"] = self._os_id()
        body["attach_vpc"] = [self.ensure_network()]
        body["sshkey_id"] = [self._ssh_key(authorized_key)]
        body["user_data"] = base64.b64encode(cloud_config(user_data, ssh_port, authorized_key).encode()).decode()
        instance_id = ""
        try:
            instance_id = self._post_instance(name, body)
            self._made[name] = instance_id
            return poll(
                lambda: self._ready(name, instance_id),
                f"vultr instance {name} to be running with its addresses",
                timeout=CREATE_TIMEOUT,
            )
        except AdtError as error:
            left = self._sweep(name, instance_id)
            raise AdtError(
                f"vultr: creating {name} failed: {error.message}",
                (error.hint + "; " if error.hint else "")
                + (f"check Vultr's control panel for {name}: {left}" if left else "nothing of it was left behind"),
            ) from None

    def _ready(self, name: str, instance_id: str) -> Optional[Server]:
        answer = self.client.request("GET", f"/instances/{instance_id}", ok=(404,))
        if answer is None:
            raise AdtError(f"vultr instance {name} ({instance_id}) disappeared while it was being made")
        server = self._server(answer["instance"])
        if server.status == "running" and server.public_ip and server.private_ip:
            return server
        return None

    def _post_instance(self, name: str, body: Dict[str, Any]) -> str:
        """The id of the instance made by POST /instances. A create is not idempotent: after a 5xx or a lost
        answer the instance may have been made all the same, so the build's listing is read (tag and label)
        before the create is tried again, and an instance found there is taken instead of making a second. Only
        the id of the answer is kept: it also holds the root password."""

        def post() -> str:
            try:
                return self._create_client.request("POST", "/instances", json=body)["instance"]["id"]
            except ApiError as error:
                if error.status != 403:
                    raise
                raise ApiError(
                    "vultr: the API key may not create instances (403 Forbidden): it needs the provisioning permission",
                    "give the key's user the provisioning permission in Vultr's control panel (Users)",
                    403,
                ) from None

        def made() -> Optional[str]:
            try:
                return next((i["id"] for i in self._instances(name)), None)
            except AdtError:
                return None

        return created_once(post, made, CREATE_ATTEMPTS, self.client.sleep)

    def _sweep(self, name: str, instance_id: str) -> str:
        """Destroy what a failed create of `name` left (found by the build's tag and its label, and the id the
        create gave); what may be left, or ''."""
        doomed = {instance_id} if instance_id else set()
        left = []
        try:
            doomed |= {i["id"] for i in self._instances(name)}
        except AdtError as error:
            left.append(f"the listing failed ({error.message})")
        for doomed_id in sorted(doomed):
            try:
                self.client.request("DELETE", f"/instances/{doomed_id}", ok=(404,))
            except AdtError as error:
                left.append(f"{doomed_id} ({error.message})")
        self._made.pop(name, None)
        return ", ".join(left)

    def destroy_server(self, name: str) -> None:
        """Destroy this build's machine `name` and its own firewall group; a machine that is not there (gone
        already, or not this build's) is left as it is: a destroy that raced another is not an error."""
        try:
            instance = self._instance(name)
        except ApiError:
            raise
        except AdtError:
            return
        self._change("DELETE", f"/instances/{instance['id']}", ok=(404,))
        self._made.pop(name, None)
        group = self._firewall_group(name)
        self._groups.pop(name, None)
        if group is not None:  # the machine's own firewall group goes with it (kept if Vultr still holds it)
            try:
                self._change("DELETE", f"/firewalls/{group['id']}", ok=(404,))
            except ApiError as error:
                if error.status != 400:
                    raise

    # -- snapshots ---------------------------------------------------------------------------------
    def snapshot(self, name: str, label: str) -> str:
        instance = self._instance(name)
        description = label if label == name else f"{label} <{name}>"
        if self.client.planned("POST", "/snapshots", f"{name}: {description}"):
            return ""
        answer = self.client.request(
            "POST", "/snapshots", json={"instance_id": instance["id"], "description": description}
        )
        snapshot_id = answer["snapshot"]["id"]

        def complete() -> Optional[str]:
            found = self.client.request("GET", f"/snapshots/{snapshot_id}", ok=(404,))
            if found is None:
                raise AdtError(f"vultr snapshot {snapshot_id} of {name} disappeared while it was being taken")
            return snapshot_id if found["snapshot"].get("status") == "complete" else None

        return poll(complete, f"vultr snapshot {description} to complete", timeout=SNAPSHOT_TIMEOUT)

    def list_snapshots(self, pattern: str = "") -> List[Image]:
        found = []
        for snapshot in pages(self.client, "/snapshots", "snapshots"):
            if snapshot.get("status") == "deleted":
                continue
            description = snapshot.get("description") or ""
            match = _SOURCE.match(description)
            label, source = (match["label"], match["source"]) if match else (description, description)
            if pattern in label or pattern in source:
                found.append(
                    Image(
                        id=snapshot["id"],
                        label=label,
                        role=role_of(source),
                        source=source,
                        created=_epoch(snapshot.get("date_created") or ""),
                        size=int(snapshot.get("size") or 0),
                    )
                )
        return sorted(found, key=lambda i: i.created)

    def delete_snapshot(self, image_id: str) -> None:
        if self.client.planned("DELETE", f"/snapshots/{image_id}"):
            return
        try:
            self.client.request("DELETE", f"/snapshots/{image_id}")
        except ApiError as error:
            if error.status == 404:
                raise AdtError(f"vultr has no snapshot {image_id}", "list them: adt snapshot list") from None
            raise

    # -- the native firewall -----------------------------------------------------------------------
    def _firewall_group(self, name: str) -> Optional[Dict[str, Any]]:
        """The machine's own firewall group (described adt-<name>), or None; one this driver just made is found by
        its id while listings have not caught up."""
        description = f"adt-{name}"
        listed = pages(self.client, "/firewalls", "firewall_groups")
        found = next((g for g in listed if g.get("description") == description), None)
        if found is None and name in self._groups:
            answer = self.client.request("GET", f"/firewalls/{self._groups[name]}", ok=(404,))
            found = (answer or {}).get("firewall_group")
        return found

    def apply_native_firewall(self, name: str, rules: Sequence) -> Optional[str]:
        instance = self._instance(name)
        wanted = {rule_key(rule): rule for rule in rules}
        group = self._firewall_group(name)
        if planned(f"the firewall group adt-{name} with exactly {len(wanted)} inbound rules, attached to {name}"):
            return group["id"] if group else f"adt-{name}"
        if group is None:
            group = self.client.request("POST", "/firewalls", json={"description": f"adt-{name}"})["firewall_group"]
        group_id = self._groups[name] = group["id"]
        current = pages(self.client, f"/firewalls/{group_id}/rules", "firewall_rules")
        have = {_existing_key(r) for r in current if not r.get("source")}
        for key in sorted(set(wanted) - have):  # the new rules first: no moment with fewer than both sets admit
            ip_type, protocol, port, subnet, size = key
            body: Dict[str, Any] = {"ip_type": ip_type, "protocol": protocol, "subnet": subnet, "subnet_size": size}
            if port:
                body["port"] = port
            why = getattr(wanted[key], "why", "")
            if why:
                body["notes"] = str(why)[:255]
            self.client.request("POST", f"/firewalls/{group_id}/rules", json=body)
        for rule in current:
            if rule.get("source") or _existing_key(rule) not in wanted:
                self.client.request("DELETE", f"/firewalls/{group_id}/rules/{rule['id']}", ok=(404,))
        if instance.get("firewall_group_id") != group_id:
            self.client.request("PATCH", f"/instances/{instance['id']}", json={"firewall_group_id": group_id})
        return group_id

    # -- the VPC -----------------------------------------------------------------------------------
    def _find_vpc(self) -> str:
        for vpc in pages(self.client, "/vpcs", "vpcs"):
            if vpc.get("description") == self.vpc_name and vpc.get("region") == self.placement.region:
                return vpc["id"]
        return ""

    def ensure_network(self) -> str:
        if self._vpc_id:
            return self._vpc_id
        found = self._find_vpc()
        if not found:
            if self.client.planned("POST", "/vpcs", f"{self.vpc_name} in {self.placement.region}"):
                return ""
            answer = self.client.request(
                "POST", "/vpcs", json={"region": self.placement.region, "description": self.vpc_name}
            )
            found = answer["vpc"]["id"]
        self._vpc_id = found
        return found

    def remove_network(self, force: bool = False) -> None:
        vpc_id = self._vpc_id or self._find_vpc()
        if not vpc_id:
            return
        if self.client.planned("DELETE", f"/vpcs/{vpc_id}", self.vpc_name):
            return
        try:
            self.client.request("DELETE", f"/vpcs/{vpc_id}", ok=(404,))
        except ApiError as error:
            if error.status not in (400, 409, 412):
                raise
            if not force:  # machines still use it: it stays
                return
            for instance in self._instances():
                attached = pages(self.client, f"/instances/{instance['id']}/vpcs", "private_networks")
                if any(v.get("id") == vpc_id for v in attached):
                    self.client.request(
                        "POST", f"/instances/{instance['id']}/vpcs/detach", json={"vpc_id": vpc_id}, ok=(404,)
                    )
            self.client.request("DELETE", f"/vpcs/{vpc_id}", ok=(404,))
        self._vpc_id = ""

    # -- before a build ----------------------------------------------------------------------------
    def _os_id(self, check: bool = False) -> int:
        """The os id of placement.os_image: a number is the id (looked up in the catalogue only with `check`); a
        name (`Debian 13 x64`, as OS_IMAGES has it) is found in the catalogue (GET /os, read once), the first
        system whose name starts with it."""
        wanted = self.placement.os_image
        if wanted.isdigit() and not check:
            return int(wanted)
        if self._systems is None:
            self._systems = pages(self.client, "/os", "os")
        for system in self._systems:
            if str(system["id"]) == wanted or str(system.get("name", "")).startswith(wanted):
                return int(system["id"])
        raise AdtError(
            f"vultr has no operating system {'with id' if wanted.isdigit() else 'named'} {wanted!r}",
            "set BUILDOS and BUILDOS_VERSION to one Vultr offers (GET /v2/os lists them)",
        )

    def problems(self, sizes: Sequence[str] = ()) -> List[str]:
        found: List[str] = []
        try:
            account = (self.client.request("GET", "/account") or {}).get("account") or {}
            acls = set(account.get("acls") or [])
            missing = [acl for acl in NEEDED_ACLS if acls and acl not in acls]
            if missing:
                found.append(
                    "vultr: the API key's user lacks the permission"
                    + ("s " if len(missing) > 1 else " ")
                    + ", ".join(missing)
                    + " (give them in Vultr's control panel, Users)"
                )
        except AdtError as error:
            found.append(error.message)
        region = self.placement.region
        try:
            regions = [r["id"] for r in pages(self.client, "/regions", "regions")]
            if region not in regions:
                found.append(f"vultr has no region {region!r} (regions: {', '.join(sorted(regions))})")
        except AdtError as error:
            found.append(error.message)
        try:
            plans = {p["id"]: p for p in pages(self.client, "/plans", "plans", {"type": "all"})}
            for size in dict.fromkeys(sizes):
                if size not in plans:
                    found.append(f"vultr has no plan (size) {size!r}")
                elif region not in (plans[size].get("locations") or []):
                    found.append(f"vultr does not offer the plan {size!r} in region {region!r}")
        except AdtError as error:
            found.append(error.message)
        try:
            self._os_id(check=True)
        except AdtError as error:
            found.append(error.message)
        # Vultr's API reports no instance limit (the account has none in its answer): a create past it is refused
        return found
