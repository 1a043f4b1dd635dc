"""Exoscale's compute API (v2, https://api-<zone>.exoscale.com/v2) through the official SDK (`exoscale`,
`exoscale.api.v2.Client`), requests signed EXO2-HMAC-SHA256 with ACCESS_KEY and SECRET_KEY.

Exoscale has labels, not tags: a machine carries `tags(build, role)` as the labels
{"adt-build": build, "adt-role": role} (each tag split after its prefix), set in the create call itself.
Most calls answer an operation that completes later: `_done` polls it (adt.httpapi.poll, back-off), never the
SDK's `wait` (3 s fixed pauses). The SDK does not retry: `_call` retries 429 (Retry-After), 5xx and lost
connections with back-off. A machine's private address is its lease on the build's managed private network
(the instance listing carries none): leases are read once and remembered, so a listing stays one call.
A snapshot is promoted to a template (private) so it outlives its source; its id is the template's.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import threading
import time
from datetime import datetime
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

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
from adt.cloud.userdata import cloud_config
from adt.errors import AdtError
from adt.httpapi import ApiError, planned, poll, retrying

PROVIDER = "exoscale"
ATTEMPTS = 6
DISK_GIB = 50  # exo compute instance create's default, as the original makes its machines
USER_DATA_LIMIT = 32768  # base64 characters (the API's maxLength)
# the original's private network: adt_private_net_<REGION>, 10.0.0.20-200/24, leased by Exoscale's DHCP
NETWORK = {"start-ip": "10.0.0.20", "end-ip": "10.0.0.200", "netmask": "255.255.255.0"}
SNAPSHOT_MARK = "adt-snapshot"  # a template's description: adt-snapshot source=<name> role=<role> build=<build>


def labels(build: str, role: str) -> Dict[str, str]:
    """The labels of a machine: its tags(build, role), each split after its prefix ("adt-build-t1" ->
    "adt-build": "t1")."""
    found: Dict[str, str] = {}
    for tag in tags(build, role):
        for prefix in (BUILD_TAG_PREFIX, ROLE_TAG_PREFIX):
            if tag.startswith(prefix):
                found[prefix[:-1]] = tag[len(prefix) :]
    return found


BUILD_LABEL = BUILD_TAG_PREFIX[:-1]
ROLE_LABEL = ROLE_TAG_PREFIX[:-1]


def encoded_user_data(text: str) -> str:
    """User data as the API takes it: base64, gzipped first when it would not fit (cloud-init reads both)."""
    plain = base64.b64encode(text.encode()).decode()
    if len(plain) <= USER_DATA_LIMIT:
        return plain
    packed = base64.b64encode(gzip.compress(text.encode(), mtime=0)).decode()
    if len(packed) > USER_DATA_LIMIT:
        raise AdtError(
            f"{PROVIDER}: the machine's user data is too large ({len(text)} bytes, {len(packed)} base64 gzipped)",
            "Exoscale takes at most 32 KiB of user data: ship fewer files in it",
        )
    return packed


def size_name(size: str) -> Tuple[str, str]:
    """(family, size) of a template's size: "tiny" is standard.tiny, as the original uses it."""
    family, _, name = size.rpartition(".")
    return (family or "standard", name)


def _timestamp(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return 0.0


def _description(source: str, role: str, build: str) -> str:
    return f"{SNAPSHOT_MARK} source={source} role={role} build={build}"


def _parse_description(text: str) -> Optional[Dict[str, str]]:
    words = (text or "").split()
    if not words or words[0] != SNAPSHOT_MARK:
        return None
    return dict(word.split("=", 1) for word in words[1:] if "=" in word)


def _looks_like_id(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


class ExoscaleDriver(CloudDriver):
    name = PROVIDER

    def __init__(
        self,
        credentials: Mapping[str, str],
        placement: Placement,
        api_url: str = "",
        sleep: Callable[[float], None] = time.sleep,
    ):
        key, secret = credentials.get("ACCESS_KEY", ""), credentials.get("SECRET_KEY", "")
        if not key or not secret:
            raise AdtError(
                f"{PROVIDER}: ACCESS_KEY and SECRET_KEY are both needed",
                "set them in the template (an Exoscale API key and its secret, IAM > API keys)",
            )
        if not placement.region:
            raise AdtError(f"{PROVIDER}: no zone (REGION) is set", "set REGION, e.g. ch-gva-2")
        import requests
        from exoscale.api.v2 import Client

        class Timeouts(requests.adapters.HTTPAdapter):
            def send(self, request, **options):
                options["timeout"] = options.get("timeout") or 30
                return super().send(request, **options)

        self.placement = placement
        self.zone = placement.region
        self.client = Client(key, secret, url=(api_url or f"https://api-{self.zone}.exoscale.com/v2").rstrip("/"))
        for scheme in ("http://", "https://"):
            self.client.http_client.mount(scheme, Timeouts())
        self.sleep = sleep
        self.calls = 0
        self._private_ips: Dict[str, str] = {}  # instance id -> its lease on the build's network
        # machines this driver made that no listing has shown yet (eventual consistency): name -> id
        self._unseen: Dict[str, str] = {}
        self._network_id = ""
        self._types: Optional[List[dict]] = None
        self._keys: Dict[str, str] = {}  # public key -> the name it is registered under
        self._lock = threading.RLock()  # machines are made in threads: one network, one key

    # -- the one way to the API --------------------------------------------------------------------
    def _call(self, operation: str, ok: tuple = (), **arguments) -> Any:
        """The SDK's `operation` (list_instances ...) with arguments; statuses in `ok` give None. Retries 429
        (honouring Retry-After), 5xx and lost connections; one ApiError else."""
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
            if status in ok:
                return None
            raise self._error(what, status, error.response) from None
        except requests.RequestException as error:
            raise ApiError(
                f"{PROVIDER}: {what} failed: {type(error).__name__}", "is Exoscale's API reachable?"
            ) from None

    @staticmethod
    def _error(what: str, status: int, response) -> ApiError:
        return api_error(what, status, response)

    def _done(self, operation: dict, what: str, timeout: float = 900) -> dict:
        """Wait for an operation to succeed (back-off polling); the finished operation. An ApiError when it
        fails."""

        def check() -> Optional[dict]:
            state = current.get("state")
            if state == "success":
                return current
            if state in ("failure", "timeout"):
                reason = f" ({current['reason']})" if current.get("reason") else ""
                message = f": {current['message']}" if current.get("message") else ""
                raise ApiError(
                    f"{PROVIDER}: {what} failed: {state}{reason}{message}", "see the Exoscale portal's events"
                )
            current.update(self._call("get_operation", id=operation["id"]))
            return current if current.get("state") == "success" else None

        current = dict(operation)
        return poll(check, f"{PROVIDER}: {what}", timeout=timeout, first=0.05, cap=5.0, sleep=self.sleep)

    def _reference(self, operation: dict, what: str) -> str:
        return str(self._done(operation, what).get("reference", {}).get("id", ""))

    # -- lookups -----------------------------------------------------------------------------------
    def _instances(self) -> List[dict]:
        """This build's machines, in one call."""
        answer = self._call("list_instances") or {}
        build = self.placement.build
        return [i for i in answer.get("instances") or [] if (i.get("labels") or {}).get(BUILD_LABEL) == build]

    def _instance(self, name: str) -> Optional[dict]:
        found = self._with_unseen(self._instances(), name)
        return next((i for i in found if i.get("name") == name), None)

    def _with_unseen(self, listed: List[dict], pattern: str) -> List[dict]:
        """A listing with the machines this driver made that it does not show yet (each read by its id)."""
        names = {i.get("name") for i in listed}
        for name in [n for n in self._unseen if n in names]:
            del self._unseen[name]
        for name, instance_id in list(self._unseen.items()):
            if pattern not in name:
                continue
            instance = self._call("get_instance", id=instance_id, ok=(404,))
            if instance is None or instance.get("state") in ("destroying", "destroyed", "expunging"):
                del self._unseen[name]
            else:
                listed = listed + [instance]
        return listed

    def _instance_types(self) -> List[dict]:
        if self._types is None:
            self._types = (self._call("list_instance_types") or {}).get("instance-types") or []
        return self._types

    def _instance_type(self, size: str) -> Optional[dict]:
        family, name = size_name(size)
        return next((t for t in self._instance_types() if t.get("family") == family and t.get("size") == name), None)

    def _template(self, image: str, visibility: str = "public") -> Optional[dict]:
        """A template by id or by name (the original's `--template "<OS name>"`)."""
        if _looks_like_id(image):
            return self._call("get_template", id=image, ok=(404,))
        templates = (self._call("list_templates", visibility=visibility) or {}).get("templates") or []
        return next((t for t in templates if t.get("name") == image), None)

    def _network(self) -> Optional[dict]:
        networks = (self._call("list_private_networks") or {}).get("private-networks") or []
        found = next((n for n in networks if n.get("name") == self.placement.vpc), None)
        if found:
            self._network_id = found["id"]
        return found

    def _learn_leases(self, network_id: str) -> Dict[str, str]:
        network = self._call("get_private_network", id=network_id, ok=(404,)) or {}
        for lease in network.get("leases") or []:
            if lease.get("instance-id") and lease.get("ip"):
                self._private_ips[lease["instance-id"]] = lease["ip"]
        return self._private_ips

    def _server(self, instance: dict) -> Server:
        state = instance.get("state", "")
        return Server(
            name=instance.get("name", ""),
            id=instance.get("id", ""),
            role=(instance.get("labels") or {}).get(ROLE_LABEL, "unknown"),
            public_ip=instance.get("public-ip", "") or "",
            private_ip=self._private_ips.get(instance.get("id", ""), ""),
            status=state,
        )

    def _ssh_key(self, authorized_key: str) -> str:
        """The name the build's key is registered under, registering it once (a machine made at the same time
        by another thread or process may have registered it first: 409, the same key)."""
        with self._lock:
            if authorized_key in self._keys:
                return self._keys[authorized_key]
            words = authorized_key.split()
            blob = words[1] if len(words) > 1 else authorized_key
            name = f"adt-{self.placement.build or 'key'}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"
            if self._call("get_ssh_key", name=name, ok=(404,)) is None:
                operation = self._call("register_ssh_key", name=name, public_key=authorized_key.strip(), ok=(409,))
                if operation:
                    self._done(operation, "register-ssh-key")
            self._keys[authorized_key] = name
            return name

    # -- servers -----------------------------------------------------------------------------------
    def create_server(
        self,
        name: str,
        size: str,
        user_data: UserData,
        ssh_port: int,
        authorized_key: str,
        image: Optional[str] = None,
    ) -> Server:
        kind = self._instance_type(size)
        if kind is None:
            raise AdtError(f"{PROVIDER} has no instance type {size!r}", "use a size like tiny, small or standard.small")
        source = image or self.placement.os_image
        template = self._template(source, "private" if image else "public")
        if template is None:
            raise AdtError(f"{PROVIDER} has no template {source!r} in {self.zone}", "check OS image or SNAPSHOT_ID")
        disk = max(DISK_GIB, -(-int(template.get("size") or 0) // 2**30))
        network_id = self.ensure_network()
        key_name = self._ssh_key(authorized_key)
        body: Dict[str, Any] = {
            "name": name,
            "instance_type": {"id": kind["id"]},
            "template": {"id": template["id"]},
            "disk_size": disk,
            "ssh_keys": [{"name": key_name}],
            "user_data": encoded_user_data(cloud_config(user_data, ssh_port, authorized_key)),
            "labels": labels(self.placement.build, role_of(name)),
            "public_ip_assignment": "inet4",
        }
        try:
            operation = self._call("create_instance", **body)
            made = str(((operation or {}).get("reference") or {}).get("id", ""))
            if made:
                self._unseen[name] = made  # a sweep finds it even before any listing shows it
            instance_id = self._reference(operation, f"create-instance {name}")
            self._unseen[name] = instance_id
            self._done(
                self._call("attach_instance_to_private_network", id=network_id, instance={"id": instance_id}),
                f"attach {name} to {self.placement.vpc}",
            )
            instance = poll(
                lambda: self._running(instance_id),
                f"{PROVIDER}: {name} to run with its public address",
                timeout=900,
                sleep=self.sleep,
            )
            poll(
                lambda: self._learn_leases(network_id).get(instance_id),
                f"{PROVIDER}: {name}'s address on {self.placement.vpc}",
                timeout=300,
                sleep=self.sleep,
            )
        except AdtError as error:
            self._sweep(name)
            raise AdtError(f"{PROVIDER}: creating {name} failed: {error.message}", error.hint) from None
        return self._server(instance)

    def _running(self, instance_id: str) -> Optional[dict]:
        instance = self._call("get_instance", id=instance_id, ok=(404,))
        if instance and instance.get("state") == "running" and instance.get("public-ip"):
            return instance
        if instance and instance.get("state") == "error":
            raise AdtError(f"{PROVIDER}: instance {instance.get('name')} went into the error state", "")
        return None

    def _sweep(self, name: str) -> None:
        """After a failed create: destroy whatever carries the name and the build's label (best effort)."""
        try:
            for instance in self._with_unseen(self._instances(), name):
                if instance.get("name") == name:
                    self._call("delete_instance", id=instance["id"], ok=(404,))
        except AdtError:
            pass
        self._unseen.pop(name, None)

    def list_servers(self, pattern: str = "") -> List[Server]:
        found = [i for i in self._with_unseen(self._instances(), pattern) if pattern in i.get("name", "")]
        for network_id in {
            n["id"]
            for i in found
            if i.get("id") not in self._private_ips
            for n in i.get("private-networks") or []
            if n.get("id")
        }:
            self._learn_leases(network_id)
        return sorted((self._server(i) for i in found), key=lambda s: s.name)

    def adopt(self) -> List[str]:
        """Label the instances the original toolkit made for this build (no build label, the build's mark
        `-<region>-<build>-` in the name) with the build's and their role's labels, keeping their other labels;
        the names adopted."""
        mark = f"-{self.placement.region}-{self.placement.build}-"
        adopted = []
        for instance in (self._call("list_instances") or {}).get("instances") or []:
            name, held = instance.get("name", ""), dict(instance.get("labels") or {})
            if mark not in name or BUILD_LABEL in held:
                continue
            wanted = {**held, **labels(self.placement.build, role_of(name))}
            shown = ", ".join(f"{k}={v}" for k, v in sorted(wanted.items()))
            if not planned(f"PUT {self.client.endpoint}/instance/{instance['id']} ({name}: labels {shown})"):
                operation = self._call("update_instance", id=instance["id"], labels=wanted)
                if operation:
                    self._done(operation, f"update-instance {name}")
            adopted.append(name)
        return sorted(adopted)

    def destroy_server(self, name: str) -> None:
        instance = self._instance(name)
        if instance is None:
            return
        operation = self._call("delete_instance", id=instance["id"], ok=(404,))
        if operation:
            self._done(operation, f"delete-instance {name}")
        self._private_ips.pop(instance["id"], None)
        self._unseen.pop(name, None)
        group = self._security_group(f"adt-{name}")
        if group is not None:
            operation = self._call("delete_security_group", id=group["id"], ok=(404,))
            if operation:
                self._done(operation, f"delete-security-group adt-{name}")

    # -- snapshots: templates ----------------------------------------------------------------------
    def snapshot(self, name: str, label: str) -> str:
        instance = self._instance(name)
        if instance is None:
            raise AdtError(f"{PROVIDER}: no machine {name} in build {self.placement.build}", "adt status lists them")
        snapshot_id = self._reference(self._call("create_snapshot", id=instance["id"]), f"snapshot of {name}")
        poll(
            lambda: (self._call("get_snapshot", id=snapshot_id) or {}).get("state") == "ready" or None,
            f"{PROVIDER}: the snapshot of {name}",
            timeout=3600,
            sleep=self.sleep,
        )
        role = (instance.get("labels") or {}).get(ROLE_LABEL, "unknown")
        promote: Dict[str, Any] = {
            "name": label,
            "description": _description(name, role, self.placement.build),
            "ssh_key_enabled": True,
            "password_enabled": False,
        }
        user = (instance.get("template") or {}).get("default-user")
        if user:
            promote["default_user"] = user
        template_id = self._reference(
            self._call("promote_snapshot_to_template", id=snapshot_id, **promote), f"promote the snapshot of {name}"
        )
        # the template is a copy of its own: the instance snapshot is not needed (and not billed) any more
        operation = self._call("delete_snapshot", id=snapshot_id, ok=(404,))
        if operation:
            self._done(operation, f"delete-snapshot of {name}")
        return template_id

    def list_snapshots(self, pattern: str = "") -> List[Image]:
        templates = (self._call("list_templates", visibility="private") or {}).get("templates") or []
        images = []
        for template in templates:
            marks = _parse_description(template.get("description", ""))
            if marks is None:
                continue
            label, source = template.get("name", ""), marks.get("source", "")
            if pattern and pattern not in label and pattern not in source:
                continue
            images.append(
                Image(
                    id=template["id"],
                    label=label,
                    role=marks.get("role", "unknown"),
                    source=source,
                    created=_timestamp(template.get("created-at", "")),
                    size=int(template.get("size") or 0),
                )
            )
        return sorted(images, key=lambda i: (i.created, i.label))

    def delete_snapshot(self, image_id: str) -> None:
        operation = self._call("delete_template", id=image_id, ok=(404,))
        if operation:
            self._done(operation, f"delete-template {image_id}")

    # -- native firewall: a security group per machine ---------------------------------------------
    def _security_group(self, name: str) -> Optional[dict]:
        groups = (self._call("list_security_groups", visibility="private") or {}).get("security-groups") or []
        return next((g for g in groups if g.get("name") == name), None)

    def apply_native_firewall(self, name: str, rules: Sequence) -> Optional[str]:
        instance = self._instance(name)
        if instance is None:
            raise AdtError(f"{PROVIDER}: no machine {name} in build {self.placement.build}", "adt status lists them")
        group_name = f"adt-{name}"
        group = self._security_group(group_name)
        if group is None:
            group_id = self._reference(
                self._call("create_security_group", name=group_name, description=f"adt native firewall of {name}"),
                f"create-security-group {group_name}",
            )
        else:
            group_id = group["id"]
        current = self._call("get_security_group", id=group_id) or {}
        wanted = {_rule_key(rule.proto, rule.port, rule.source): rule for rule in rules}
        have: Dict[tuple, List[str]] = {}
        for rule in current.get("rules") or []:
            key = _listed_key(rule)
            have.setdefault(key, []).append(rule["id"])
        for key, ids in have.items():
            for rule_id in ids[1:] if key in wanted else ids:
                self._done(
                    self._call("delete_rule_from_security_group", id=group_id, rule_id=rule_id),
                    f"delete a rule of {group_name}",
                )
        for key, rule in wanted.items():
            if key in have:
                continue
            body: Dict[str, Any] = {"flow_direction": "ingress", "protocol": rule.proto, "network": rule.source}
            if rule.proto == "icmp":
                body["icmp"] = {"type": -1, "code": -1}
            else:
                body["start_port"] = body["end_port"] = int(rule.port)
            body["description"] = (rule.why or "adt")[:255]
            self._done(self._call("add_rule_to_security_group", id=group_id, **body), f"add a rule to {group_name}")
        if group_id not in {g.get("id") for g in instance.get("security-groups") or []}:
            self._done(
                self._call("attach_instance_to_security_group", id=group_id, instance={"id": instance["id"]}),
                f"attach {name} to {group_name}",
            )
        return group_id

    # -- the build's private network ---------------------------------------------------------------
    def ensure_network(self) -> str:
        with self._lock:
            return self._ensure_network()

    def _ensure_network(self) -> str:
        if self._network_id:
            return self._network_id
        if not self.placement.vpc:
            raise AdtError(f"{PROVIDER}: no private network name (VPC_NAME) is set", "set VPC_NAME")
        found = self._network()
        if found:
            return found["id"]
        operation = self._call(
            "create_private_network",
            name=self.placement.vpc,
            description=f"adt build {self.placement.build}",
            labels={BUILD_LABEL: self.placement.build} if self.placement.build else {},
            start_ip=NETWORK["start-ip"],
            end_ip=NETWORK["end-ip"],
            netmask=NETWORK["netmask"],
        )
        self._network_id = self._reference(operation, f"create-private-network {self.placement.vpc}")
        return self._network_id

    def remove_network(self, force: bool = False) -> None:
        network = self._network()
        if network is None:
            return
        network = self._call("get_private_network", id=network["id"], ok=(404,)) or network
        leases = network.get("leases") or []
        if leases and not force:
            return
        for lease in leases:
            self._done(
                self._call(
                    "detach_instance_from_private_network", id=network["id"], instance={"id": lease["instance-id"]}
                ),
                f"detach a machine from {self.placement.vpc}",
            )
        operation = self._call("delete_private_network", id=network["id"], ok=(404,))
        if operation:
            self._done(operation, f"delete-private-network {self.placement.vpc}")
        self._network_id = ""

    # -- before anything is made -------------------------------------------------------------------
    def problems(self, sizes: Sequence[str] = ()) -> List[str]:
        found: List[str] = []

        def ask(operation: str, **arguments) -> Any:
            try:
                return self._call(operation, **arguments)
            except ApiError as error:
                found.append(error.message)
                return None

        zones = ask("list_zones")
        zone_known = True
        if zones is not None:
            names = sorted(z.get("name", "") for z in zones.get("zones") or [])
            zone_known = self.zone in names
            if not zone_known:
                found.append(f"{PROVIDER} has no zone {self.zone!r} (zones: {', '.join(names)})")
        quota = ask("get_quota", entity="instance")
        if quota is None and any("401" in p for p in found):
            return found  # refused credentials: nothing else can be asked
        if quota and quota.get("limit", -1) != -1 and quota.get("usage", 0) >= quota["limit"]:
            found.append(
                f"{PROVIDER}: the instance quota is reached ({quota.get('usage')} of {quota['limit']})"
                " — ask Exoscale support for more"
            )
        types = ask("list_instance_types")
        if types is not None:
            self._types = types.get("instance-types") or []
            for size in sizes:
                kind = self._instance_type(size)
                if kind is None:
                    found.append(f"{PROVIDER} has no instance type {size!r}")
                elif zone_known and kind.get("zones") and self.zone not in kind["zones"]:
                    found.append(f"{PROVIDER}: instance type {size!r} is not offered in {self.zone}")
        if self.placement.os_image:
            try:
                template = self._template(self.placement.os_image)
            except ApiError as error:
                found.append(error.message)
            else:
                if template is None:
                    found.append(f"{PROVIDER} has no template {self.placement.os_image!r} in {self.zone}")
        return found


def _rule_key(proto: str, port: int, source: str) -> tuple:
    return (proto, 0 if proto == "icmp" else int(port), source)


def _listed_key(rule: dict) -> tuple:
    proto = rule.get("protocol", "")
    if rule.get("flow-direction") != "ingress" or not rule.get("network"):
        return ("", 0, rule.get("id", ""))  # not one of ours: removed
    return _rule_key(proto, 0 if proto == "icmp" else int(rule.get("start-port") or 0), rule["network"])


def api_error(what: str, status: int, response) -> ApiError:
    """One line for an Exoscale error answer (no key, no secret in it)."""
    try:
        body = response.json() if response is not None else None
    except ValueError:
        body = None
    detail = body.get("message", "") if isinstance(body, dict) else ""
    if status == 401:
        return ApiError(
            f"{PROVIDER} refused the API key and secret (401 Unauthorized) for {what}",
            "check ACCESS_KEY and SECRET_KEY: the key may be mistyped or revoked, or the secret not its own",
            status,
            body,
        )
    if status == 403:
        return ApiError(
            f"{PROVIDER}: the API key may not {what} (403 Forbidden): its IAM role needs the {what} operation",
            f"allow {what} in the key's IAM role (Exoscale portal, IAM > Roles)",
            status,
            body,
        )
    return ApiError(f"{PROVIDER}: {what} answered {status}" + (f": {detail[:200]}" if detail else ""), "", status, body)
