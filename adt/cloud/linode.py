"""The Linode cloud host (API v4) through the official SDK, linode_api4.

The SDK's `LinodeClient` carries every call: its base URL (the test fakes), its token header, its X-Filter header,
its error type and its requests session with urllib3 retries. Two things are set on that session: a retry policy
that backs off with jitter (adt.httpapi.backoff; the SDK's own waits a fixed second) on 429 (honouring
Retry-After), 500, 502, 503, 504, 408 and lost connections; and a time-out on every request (the SDK sets none).

Calls go through the client's raw methods (`get`, `post`, `put`, `delete`, JSON in and out) rather than its typed
objects: those load lazily (reading an attribute can be a hidden API call, which would break "one call per page"
of a listing), and its PaginatedList raises when a listing changes between two pages, as listings of a fleet that
scales do. Listings are read page by page (500 a page, Linode's largest) and de-duplicated by id.

A machine gets a random root password in the create call only (Linode requires one with an image; it is neither
kept nor logged: the build's key is how anyone gets in), its user data through Linode's Metadata service
(`metadata.user_data`, base64; the region must have the Metadata capability), its build's and role's tags, and
two interfaces: public, and the build's VPC subnet, whose address is the machine's private one.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import secrets
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

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
from adt.httpapi import ApiError, backoff, planned, poll, retry_after

API_URL = "https://api.linode.com/v4"
PAGE_SIZE = 500  # Linode's largest page
TIMEOUT = (10.0, 60.0)  # connect, read (seconds) of one request
ATTEMPTS = 6
SUBNET = "10.0.0.0/24"
SNAPSHOT_PREFIX = "adt snapshot of "  # an image's description: the machine it was taken from
# what the driver needs of a token; Linode's scopes are <area>:read_only|read_write, or * for all
SCOPES = ("linodes:read_write", "images:read_write", "firewall:read_write", "vpc:read_write", "account:read_write")
SCOPE_AREAS = {"linode": "linodes", "images": "images", "networking": "firewall", "vpcs": "vpc", "domains": "domains"}


def _client(token: str, api_url: str):
    """The SDK's client for token at api_url, with jittered retries and a time-out on every request."""
    import requests
    from linode_api4 import LinodeClient
    from urllib3.util.retry import Retry

    class JitteredRetry(Retry):
        def get_backoff_time(self) -> float:
            return backoff(len(self.history)) if self.history else 0.0

        def parse_retry_after(self, value: str) -> float:  # seconds with a fraction too; an HTTP date as urllib3
            seconds = retry_after(value)
            return seconds if seconds is not None else super().parse_retry_after(value)

    class TimedAdapter(requests.adapters.HTTPAdapter):
        def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
            return super().send(request, stream, timeout or TIMEOUT, verify, cert, proxies)

    client = LinodeClient(token, base_url=(api_url or API_URL).rstrip("/"), page_size=PAGE_SIZE)
    retry = JitteredRetry(
        total=ATTEMPTS - 1,
        status_forcelist=(408, 429, 500, 502, 503, 504),
        respect_retry_after_header=True,
        raise_on_status=False,
        allowed_methods={"DELETE", "GET", "POST", "PUT"},
    )
    adapter = TimedAdapter(max_retries=retry)
    client.session.mount("http://", adapter)
    client.session.mount("https://", adapter)
    return client


def scope_of(method: str, path: str) -> str:
    """The scope Linode asks of a token for `method path` ('' when none)."""
    area = SCOPE_AREAS.get(path.strip("/").split("/")[0].split("?")[0], "")
    if path.startswith("/profile/sshkeys"):
        area = "account"
    if not area or path.startswith("/linode/types"):
        return ""
    return f"{area}:{'read_only' if method == 'GET' else 'read_write'}"


def has_scope(held: Sequence[str], needed: str) -> bool:
    """Whether scopes `held` (X-OAuth-Scopes' words) grant `needed` (read_write grants read_only too)."""
    area, level = needed.split(":")
    return "*" in held or f"{area}:read_write" in held or (level == "read_only" and f"{area}:read_only" in held)


def call(client, provider: str, method: str, path: str, data: Any = None, filters: Any = None, ok: tuple = ()) -> Any:
    """One API call through the SDK's client: its JSON answer, None for a status in `ok`; an ApiError naming the
    provider, the call and (on a 401 or 403 that says so) the scope the token lacks."""
    import requests
    from linode_api4.errors import ApiError as SdkError

    what = f"{method} {path.split('?')[0]}"
    function = {"GET": client.get, "POST": client.post, "PUT": client.put, "DELETE": client.delete}[method]
    try:
        if method in ("POST", "PUT"):
            return function(path, data=data if data is not None else {}, filters=filters)
        return function(path, filters=filters)
    except SdkError as error:
        if error.status in ok:
            return None
        raise _error(provider, what, error) from None
    except requests.RequestException as error:  # after the retries; what urllib3 met last is in its text
        why = "timed out" if "timed out" in str(error) else type(error).__name__
        raise ApiError(f"{provider}: {what} failed: {why}", "is Linode's API reachable?") from None


def _error(provider: str, what: str, error) -> ApiError:
    reasons = "; ".join(str(r) for r in (error.errors or []))[:200]
    headers = getattr(error.response, "headers", None) or {}
    scope = headers.get("X-Accepted-OAuth-Scopes", "") or scope_of(what.split()[0], what.split()[1])
    if error.status == 401 and "not authorized to use this endpoint" in reasons:
        return ApiError(
            f"{provider}: the token may not {what} (401): it needs the {scope} scope",
            f"make a personal access token with {scope} in Linode's Cloud Manager",
            401,
            error.json,
        )
    if error.status == 401:
        return ApiError(
            f"{provider} refused the token (401 Unauthorized) for {what}",
            f"check the template's token for {provider}: it is mistyped, expired or revoked",
            401,
            error.json,
        )
    if error.status == 403:
        return ApiError(
            f"{provider}: the token's user may not {what} (403 Forbidden)" + (f": it needs {scope}" if scope else ""),
            "give the user the grant in Linode's Cloud Manager (Users & Grants)",
            403,
            error.json,
        )
    return ApiError(
        f"{provider}: {what} answered {error.status}" + (f": {reasons}" if reasons else ""),
        "",
        error.status,
        error.json,
    )


def pages(fetch: Callable[[str], Any], path: str) -> Iterator[Dict[str, Any]]:
    """The items of a listing, one call a page of PAGE_SIZE, each id once (a page boundary may move while a
    listing changes)."""
    seen = set()
    number = 1
    while True:
        separator = "&" if "?" in path else "?"
        answer = fetch(f"{path}{separator}page={number}&page_size={PAGE_SIZE}") or {}
        for item in answer.get("data") or []:
            key = item.get("id")
            if key is None or key not in seen:  # an address of a VPC has no id of its own
                seen.add(key)
                yield item
        if number >= int(answer.get("pages") or 1):
            return
        number += 1


def firewall_label(name: str) -> str:
    """The Cloud Firewall of machine `name`: adt-<name>, shortened to Linode's 32 characters with a digest of the
    whole name so two long names stay apart."""
    label = f"adt-{name}"
    if len(label) <= 32:
        return label
    return f"adt-{name[:19].rstrip('-_.')}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _bare(message: str) -> str:
    """An error's message without its provider prefix, to be nested in another's."""
    return message[len("linode: ") :] if message.startswith("linode: ") else message


def _epoch(stamp: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")))
    except (TypeError, ValueError):
        return 0.0


class LinodeDriver(CloudDriver):
    name = "linode"
    provider = "linode"

    def __init__(self, credentials: Mapping[str, str], placement: Placement, api_url: str = ""):
        token = credentials.get("TOKEN", "")
        if not token:
            raise AdtError("linode: no TOKEN given", "set the template's Linode personal access token")
        self.placement = placement
        self.client = _client(token, api_url)
        self.timeout = 900.0  # seconds a machine or an image may take
        self._vpc: Optional[Tuple[int, int]] = None  # (VPC id, subnet id), once known
        self._made: Dict[str, int] = {}  # machines this driver made: name -> id (listings may lag behind)
        self._private: Dict[int, str] = {}  # machine id -> its VPC address (fixed for the machine's life)
        self._keys: Set[str] = set()  # keys known to be in the profile
        self._key_lock = threading.Lock()
        self._network_lock = threading.Lock()

    # -- plumbing --------------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, data: Any = None, filters: Any = None, ok: tuple = ()) -> Any:
        return call(self.client, self.provider, method, path, data, filters, ok)

    def _planned(self, call: str) -> bool:
        """In a dry run, a call that would change something is printed (and not made): True."""
        method, path = call.split(" ", 1)
        return planned(f"{method} {self.client.base_url}{path}")

    def _list(self, path: str, filters: Any = None) -> Iterator[Dict[str, Any]]:
        return pages(lambda p: self._call("GET", p, filters=filters), path)

    @property
    def build_tag(self) -> str:
        return tags(self.placement.build, "")[0]

    def _instances(self, filters: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
        wanted: Dict[str, Any] = {"tags": self.build_tag}
        if filters:
            wanted = {"+and": [wanted, filters]}
        return [i for i in self._list("/linode/instances", wanted) if self.build_tag in (i.get("tags") or [])]

    def _find(self, name: str) -> Optional[Dict[str, Any]]:
        """The build's machine `name`: by the id this driver made it with (no listing lag), else by the listing."""
        known = self._made.get(name)
        if known is not None:
            found = self._call("GET", f"/linode/instances/{known}", ok=(404,))
            if found is not None and found.get("label") == name and self.build_tag in (found.get("tags") or []):
                return found
            self._made.pop(name, None)
        return next((i for i in self._instances({"label": name}) if i.get("label") == name), None)

    @staticmethod
    def _public(instance: Dict[str, Any]) -> str:
        import ipaddress

        for address in instance.get("ipv4") or []:
            if ipaddress.ip_address(address).is_global:
                return address
        return (instance.get("ipv4") or [""])[0]

    def _server(self, instance: Dict[str, Any], private: str) -> Server:
        status = instance.get("status", "")
        return Server(
            name=instance["label"],
            id=str(instance["id"]),
            role=role_of(instance["label"]),
            public_ip=self._public(instance),
            private_ip=private,
            status={"running": "running", "offline": "stopped", "stopped": "stopped"}.get(status, "pending"),
        )

    # -- machines --------------------------------------------------------------------------------------------
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

        if self._planned(f"POST /linode/instances ({name}, {size}, {self.placement.region})"):
            return Server(name, "", role_of(name), "", "", "planned")
        try:
            _, subnet = self._network()
            self._register(authorized_key)
        except AdtError as error:
            raise AdtError(f"linode: could not create {name}: {_bare(error.message)}", error.hint) from None
        text = cloud_config(user_data, ssh_port, authorized_key)
        body = {
            "label": name,
            "region": self.placement.region,
            "type": size,
            "image": image or self.placement.os_image,
            "root_pass": secrets.token_urlsafe(32),  # Linode requires one; sent here only, never kept
            "authorized_keys": [authorized_key.strip()],
            "tags": tags(self.placement.build, role_of(name)),
            "metadata": {"user_data": base64.b64encode(text.encode()).decode()},
            "interfaces": [{"purpose": "public"}, {"purpose": "vpc", "subnet_id": subnet}],
            "booted": True,
        }
        try:
            made = self._call("POST", "/linode/instances", body)
            self._made[name] = made["id"]
            return poll(lambda: self._running(made["id"]), f"linode machine {name} to run", self.timeout)
        except AdtError as error:  # the machine may exist all the same (an answer lost): found by label and tag
            self._sweep(name)
            raise AdtError(
                f"linode: could not create {name}: {_bare(error.message)}", error.hint or "nothing was left behind"
            ) from None

    def _register(self, authorized_key: str) -> None:
        """The build's key in the profile's SSH keys, once (a machine gets it in its create call as well: Linode
        copies a profile key to a machine only by user name, which would bring every key of the user)."""
        key = " ".join(authorized_key.split()[:2])
        with self._key_lock:  # the build makes its machines side by side: one registration, not one each
            if key in self._keys:
                return
            if not any(" ".join(k.get("ssh_key", "").split()[:2]) == key for k in self._list("/profile/sshkeys")):
                self._call("POST", "/profile/sshkeys", {"label": f"adt-{self.placement.build}"[:64], "ssh_key": key})
            self._keys.add(key)

    def _running(self, instance_id: int) -> Optional[Server]:
        instance = self._call("GET", f"/linode/instances/{instance_id}")
        if instance.get("status") != "running":
            return None
        addresses = self._call("GET", f"/linode/instances/{instance_id}/ips")["ipv4"]
        public = [a["address"] for a in addresses.get("public") or []]
        private = [a["address"] for a in addresses.get("vpc") or []] or [
            a["address"] for a in addresses.get("private") or []
        ]
        if not public or not private:
            return None
        self._private[instance_id] = private[0]
        return self._server({**instance, "ipv4": public + list(instance.get("ipv4") or [])}, private[0])

    def _sweep(self, name: str) -> None:
        """Remove what a failed create of `name` may have left (found by its label and the build's tag); errors
        here are not the user's news: the create's error is."""
        try:
            for _ in range(3):
                found = self._find(name)
                if found is None:
                    return
                self._call("DELETE", f"/linode/instances/{found['id']}", ok=(404,))
                self._made.pop(name, None)
        except AdtError:
            pass

    def list_servers(self, pattern: str = "") -> List[Server]:
        instances = [i for i in self._instances() if pattern in i.get("label", "")]
        if any(i["id"] not in self._private and i.get("status") == "running" for i in instances) and self.placement.vpc:
            vpc = self._vpc or self._find_network()
            if vpc is not None:  # Linode lists a machine's VPC address apart: one more call for what is new
                self._private.update({ip["linode_id"]: ip["address"] for ip in self._list(f"/vpcs/{vpc[0]}/ips")})
        return [self._server(i, self._private.get(i["id"], "")) for i in sorted(instances, key=lambda i: i["label"])]

    def adopt(self) -> List[str]:
        """Tag the Linodes the original toolkit made for this build (no build tag, the build's mark
        `-<region>-<build>-` in the label) with the build's and their role's tags, keeping their other tags; the
        names adopted."""
        mark = f"-{self.placement.region}-{self.placement.build}-"
        adopted = []
        for instance in list(self._list("/linode/instances")):
            label, held = instance.get("label", ""), list(instance.get("tags") or [])
            if mark not in label or any(t.startswith(BUILD_TAG_PREFIX) for t in held):
                continue
            wanted = sorted({*held, *tags(self.placement.build, role_of(label))})
            if not self._planned(f"PUT /linode/instances/{instance['id']} ({label}: tags {', '.join(wanted)})"):
                self._call("PUT", f"/linode/instances/{instance['id']}", {"tags": wanted})
            adopted.append(label)
        return sorted(adopted)

    def destroy_server(self, name: str) -> None:
        """Destroy the build's machine `name` (only one carrying the build's tag); one that is gone already, or
        never was, changes nothing (a destroy that raced another is not an error)."""
        found = self._find(name)
        if found is not None and self._planned(f"DELETE /linode/instances/{found['id']} ({name})"):
            return
        if found is not None:
            self._call("DELETE", f"/linode/instances/{found['id']}", ok=(404,))
            self._private.pop(found["id"], None)
        self._made.pop(name, None)

    # -- snapshots -------------------------------------------------------------------------------------------
    def snapshot(self, name: str, label: str) -> str:
        found = self._find(name)
        if found is None:
            raise AdtError(f"linode: no machine {name} of build {self.placement.build} to snapshot", "")
        if self._planned(f"POST /images ({label} of {name})"):
            return ""
        disks = [d for d in self._list(f"/linode/instances/{found['id']}/disks") if d.get("filesystem") != "swap"]
        if not disks:
            raise AdtError(f"linode: machine {name} has no disk to snapshot", "")
        disk = max(disks, key=lambda d: d.get("size", 0))
        image = self._call(
            "POST",
            "/images",
            {
                "disk_id": disk["id"],
                "label": label[:50],
                "description": SNAPSHOT_PREFIX + name,
                "tags": tags(self.placement.build, role_of(name)),
            },
        )

        def available() -> Optional[str]:
            now = self._call("GET", f"/images/{image['id']}")
            return now["id"] if now.get("status") == "available" else None

        return poll(available, f"linode image {label} of {name}", self.timeout)

    def list_snapshots(self, pattern: str = "") -> List[Image]:
        found = []
        for image in self._list("/images", {"is_public": False}):
            description = image.get("description") or ""
            if not description.startswith(SNAPSHOT_PREFIX):
                continue
            source = description[len(SNAPSHOT_PREFIX) :]
            if pattern not in image.get("label", "") and pattern not in source:
                continue
            role = next(
                (t[len(ROLE_TAG_PREFIX) :] for t in image.get("tags") or [] if t.startswith(ROLE_TAG_PREFIX)), ""
            )
            found.append(
                Image(
                    id=image["id"],
                    label=image.get("label", ""),
                    role=role or role_of(source),
                    source=source,
                    created=_epoch(image.get("created", "")),
                    size=int(image.get("size") or 0) * 1024 * 1024,
                )
            )
        return sorted(found, key=lambda i: (i.created, i.id))

    def delete_snapshot(self, image_id: str) -> None:
        if self._planned(f"DELETE /images/{image_id}"):
            return
        if self._call("DELETE", f"/images/{image_id}", ok=(404,)) is None:
            raise AdtError(f"linode: no image {image_id}", "adt snapshot list shows the build's images")

    # -- native firewall -------------------------------------------------------------------------------------
    @staticmethod
    def _rules(rules: Sequence) -> List[Dict[str, Any]]:
        grouped: Dict[Tuple[str, int], Dict[str, List[str]]] = {}
        for rule in rules:
            family = "ipv6" if ":" in rule.source else "ipv4"
            grouped.setdefault((rule.proto, rule.port), {"ipv4": [], "ipv6": []})[family].append(rule.source)
        inbound = []
        for (proto, port), addresses in sorted(grouped.items()):
            entry: Dict[str, Any] = {
                "action": "ACCEPT",
                "protocol": proto.upper(),
                "addresses": {k: sorted(set(v)) for k, v in addresses.items() if v},
                "label": f"adt-{proto}-{port}" if proto != "icmp" else "adt-icmp",
            }
            if proto != "icmp":
                entry["ports"] = str(port)
            inbound.append(entry)
        return inbound

    def apply_native_firewall(self, name: str, rules: Sequence) -> Optional[str]:
        found = self._find(name)
        if found is None:
            raise AdtError(f"linode: no machine {name} of build {self.placement.build} for a firewall", "")
        label = firewall_label(name)
        if self._planned(f"PUT /networking/firewalls ({label}: {len(rules)} rules, attached to {name})"):
            return label
        policy = {"inbound": self._rules(rules), "inbound_policy": "DROP", "outbound": [], "outbound_policy": "ACCEPT"}
        existing = next((f for f in self._list("/networking/firewalls", {"label": label}) if f["label"] == label), None)
        if existing is None:
            self._call(
                "POST",
                "/networking/firewalls",
                {"label": label, "rules": policy, "devices": {"linodes": [found["id"]]}, "tags": [self.build_tag]},
            )
            return label
        self._call("PUT", f"/networking/firewalls/{existing['id']}/rules", policy)
        devices = self._list(f"/networking/firewalls/{existing['id']}/devices")
        if not any(d.get("entity", {}).get("id") == found["id"] for d in devices):
            self._call("POST", f"/networking/firewalls/{existing['id']}/devices", {"id": found["id"], "type": "linode"})
        return label

    # -- the VPC ---------------------------------------------------------------------------------------------
    def _find_network(self) -> Optional[Tuple[int, int]]:
        label = self.placement.vpc
        vpc = next((v for v in self._list("/vpcs", {"label": label}) if v.get("label") == label), None)
        if vpc is None:
            return None
        subnets = list(self._list(f"/vpcs/{vpc['id']}/subnets"))
        if not subnets:
            raise AdtError(f"linode: VPC {label} has no subnet", f"add one to it, or remove VPC {label}")
        self._vpc = (vpc["id"], subnets[0]["id"])
        return self._vpc

    def _network(self) -> Tuple[int, int]:
        if self._vpc is None:
            self.ensure_network()
        assert self._vpc is not None
        return self._vpc

    def ensure_network(self) -> str:
        if not self.placement.vpc:
            raise AdtError("linode: the build names no VPC", "set the build's VPC name")
        with self._network_lock:  # machines made side by side: one VPC (Linode refuses a second of the name)
            return self._ensure_network()

    def _ensure_network(self) -> str:
        found = self._vpc or self._find_network()
        if found is None and self._planned(f"POST /vpcs ({self.placement.vpc} in {self.placement.region})"):
            return ""
        if found is None:
            made = self._call(
                "POST",
                "/vpcs",
                {
                    "label": self.placement.vpc,
                    "region": self.placement.region,
                    "description": f"adt build {self.placement.build}",
                    "subnets": [{"label": "adt", "ipv4": SUBNET}],
                },
            )
            found = self._find_network() or poll(self._find_network, f"linode VPC {self.placement.vpc}", 60)
            assert made["id"] == found[0]
        return str(found[0])

    def remove_network(self, force: bool = False) -> None:
        found = self._vpc or self._find_network()
        if found is None:
            return
        members = [s for s in self._list(f"/vpcs/{found[0]}/subnets") if s.get("linodes")]
        if members and not force:
            raise AdtError(
                f"linode: VPC {self.placement.vpc} still has machines",
                "destroy the build's machines first",
            )
        if self._planned(f"DELETE /vpcs/{found[0]} ({self.placement.vpc})"):
            return
        self._call("DELETE", f"/vpcs/{found[0]}", ok=(404,))
        self._vpc = None

    # -- before anything is made -----------------------------------------------------------------------------
    def _scopes(self) -> List[str]:
        """The token's scopes, as Linode reports them on every answer (X-OAuth-Scopes; the SDK returns bodies
        only, so this one call goes through its session directly). An ApiError when the token is refused."""
        from linode_api4.errors import ApiError as SdkError

        response = self.client.session.get(
            f"{self.client.base_url}/profile",
            headers={"Authorization": f"Bearer {self.client.token}"},
        )
        error = SdkError.from_response(response)
        if error is not None:
            raise _error(self.provider, "GET /profile", error)
        return response.headers.get("X-OAuth-Scopes", "").replace(",", " ").split()

    def problems(self, sizes: Sequence[str] = ()) -> List[str]:
        found: List[str] = []
        try:
            held = self._scopes()
        except AdtError as error:
            return [error.message]
        missing = [s for s in SCOPES if not has_scope(held, s)]
        if missing:
            found.append(f"linode: the token lacks the scope{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        region = self.placement.region
        regions = {r["id"]: r for r in self._list("/regions")}
        if region not in regions:
            found.append(f"linode: no region {region!r} (there are {', '.join(sorted(regions))})")
        else:
            capabilities = regions[region].get("capabilities") or []
            if "Metadata" not in capabilities:
                found.append(f"linode: region {region} has no Metadata service, which gives machines their user data")
            if self.placement.vpc and "VPCs" not in capabilities:
                found.append(f"linode: region {region} has no VPCs")
            if "Cloud Firewall" not in capabilities:
                found.append(f"linode: region {region} has no Cloud Firewall")
        known = {t["id"] for t in self._list("/linode/types")}
        found.extend(f"linode: no type {size!r} (a size such as g6-standard-2)" for size in sizes if size not in known)
        if self.placement.os_image:
            found.extend(self._image_problems(self.placement.os_image))
        return found

    def _image_problems(self, name: str) -> List[str]:
        try:
            image = self._call("GET", f"/images/{name}", ok=(404,))
        except AdtError as error:
            return [error.message]
        if image is None:
            return [f"linode: no image {name!r}"]
        if "cloud-init" not in (image.get("capabilities") or []):
            return [f"linode: image {name} does not read Metadata user data (it lacks cloud-init)"]
        return []
