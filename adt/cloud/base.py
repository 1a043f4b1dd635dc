"""The interface every cloud driver implements, and what it passes around."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from adt.errors import AdtError


@dataclass(frozen=True)
class Server:
    name: str
    id: str
    role: str
    public_ip: str
    private_ip: str
    status: str  # running | stopped


@dataclass(frozen=True)
class Image:
    """A snapshot image of a machine, as the cloud host lists it (a droplet snapshot, a Linode image...)."""

    id: str
    label: str
    role: str  # the role of the machine it was taken from
    source: str  # that machine's name
    created: float  # seconds since the epoch
    size: int  # bytes


@dataclass
class UserData:
    """What a new machine is given at first boot (cloud-init's write_files and runcmd)."""

    files: Dict[str, Tuple[str, int]] = field(default_factory=dict)  # path -> (text, mode)
    command: Sequence[str] = ()  # the first-boot command (the role bootstrap)
    environment: Dict[str, str] = field(default_factory=dict)
    # on a provider's machine only: the commands that install adt before `command` (local machines have it)
    install: Sequence[Sequence[str]] = ()


def first_boot(
    role: str, server_user: str, settings: str, adt: str = "adt", files: Optional[Dict[str, Tuple[str, int]]] = None
) -> UserData:
    """What a machine of `role` is given at its first boot, on every cloud host: where its home is
    (/home/homedir.dat), its settings file (0600: keys and passwords) and its role's bootstrap, run by `adt`;
    `files` more files (path -> (text, mode))."""
    home = f"/home/{server_user}"
    return UserData(
        files={
            "/home/homedir.dat": (home + "\n", 0o644),
            f"{home}/runtime/{role}_configuration_settings.dat": (settings, 0o600),
            **(files or {}),
        },
        command=[adt, "machine", "bootstrap", "--role", role],
    )


# The bare system of a machine, by cloud host and (BUILDOS, BUILDOS_VERSION): the provider's image slug, id or
# template name, as its API takes it (adt doctor checks that it exists before a build).
OS_IMAGES = {
    "digitalocean": {
        ("debian", "12"): "debian-12-x64",
        ("debian", "13"): "debian-13-x64",
        ("ubuntu", "24.04"): "ubuntu-24-04-x64",
    },
    "exoscale": {
        ("debian", "12"): "Linux Debian 12 (Bookworm) 64-bit",
        ("debian", "13"): "Linux Debian 13 (Trixie) 64-bit",
        ("ubuntu", "24.04"): "Linux Ubuntu 24.04 LTS 64-bit",
    },
    "linode": {
        ("debian", "12"): "linode/debian12",
        ("debian", "13"): "linode/debian13",
        ("ubuntu", "24.04"): "linode/ubuntu24.04",
    },
    # Vultr's API takes an os id: the driver finds it by this name (the start of the catalogue's, as the
    # original's GetOperatingSystemVersion.sh prints it); a number is taken as the id itself
    "vultr": {
        ("debian", "12"): "Debian 12 x64",
        ("debian", "13"): "Debian 13 x64",
        ("ubuntu", "24.04"): "Ubuntu 24.04 LTS x64",
    },
}


def os_image(cloudhost: str, buildos: str, version: str) -> str:
    """The provider's image of BUILDOS BUILDOS_VERSION; an AdtError naming both when it has none."""
    try:
        return OS_IMAGES[cloudhost][(buildos, version)]
    except KeyError:
        raise AdtError(
            f"no {buildos} {version} image known on {cloudhost}",
            "set BUILDOS and BUILDOS_VERSION to debian 12 or 13, or ubuntu 24.04",
        ) from None


BUILD_TAG_PREFIX = "adt-build-"
ROLE_TAG_PREFIX = "adt-role-"


def tags(build: str, role: str) -> List[str]:
    """The tags (labels on Exoscale) a cloud machine carries: its build and its role. A create tags the machine
    in the create call itself, so a failed create leaves nothing unnamed, and destroy removes only what carries
    the build's tag."""
    return [f"{BUILD_TAG_PREFIX}{build}", f"{ROLE_TAG_PREFIX}{role}"]


def role_of(name: str) -> str:
    """The role a server name carries, as the original's CreateServer infers it."""
    if "-as-" in name:
        return "autoscaler"
    if name.startswith("ws-"):
        return "webserver"
    if name.startswith("db-"):
        return "database"
    if "-auth-" in name:
        return "authenticator"
    if "-rp-" in name:
        return "reverseproxy"
    return "unknown"


@dataclass(frozen=True)
class Placement:
    """Where a cloud driver makes its machines: what every cloud create needs beside the machine itself.
    `os_image` is the provider's own id or slug of the bare system (debian 13 ...); `build` the
    BUILD_IDENTIFIER, carried as a tag; `vpc` the name of the build's VPC / private network."""

    region: str
    os_image: str = ""
    build: str = ""
    vpc: str = ""


class CloudDriver(ABC):
    """What the toolkit asks of a cloud host. `local` implements it on this computer; each provider's driver
    (adt.cloud.digitalocean, .exoscale, .linode, .vultr) over its API, with the constructor
    `Driver(credentials: Mapping[str, str], placement: Placement, api_url: str = "")` (credentials by the
    template's names: TOKEN, or ACCESS_KEY and SECRET_KEY on Exoscale; api_url replaces the provider's
    public endpoint: the test fakes)."""

    name = ""

    @abstractmethod
    def create_server(
        self,
        name: str,
        size: str,
        user_data: UserData,
        ssh_port: int,
        authorized_key: str,
        image: Optional[str] = None,
    ) -> Server:
        """Create and start a machine that runs sshd on ssh_port for authorized_key, then user_data; from the
        snapshot `image` (an id of list_snapshots) when given, else from the bare system."""

    @abstractmethod
    def list_servers(self, pattern: str = "") -> List[Server]:
        """Machines whose name contains pattern."""

    @abstractmethod
    def destroy_server(self, name: str) -> None:
        """Destroy one machine by name; nothing of it is left."""

    def snapshot(self, name: str, label: str) -> str:
        """Take a snapshot image of the machine `name`, labelled `label`; its id."""
        raise NotImplementedError(f"the {self.name} cloud host cannot take snapshots yet")

    def list_snapshots(self, pattern: str = "") -> List[Image]:
        """Images whose label or source machine's name contains pattern, oldest first."""
        raise NotImplementedError(f"the {self.name} cloud host cannot list snapshots yet")

    def delete_snapshot(self, image_id: str) -> None:
        """Delete one image by id."""
        raise NotImplementedError(f"the {self.name} cloud host cannot delete snapshots yet")

    def apply_native_firewall(self, name: str, rules: Sequence) -> Optional[str]:
        """The cloud host's own firewall for the machine `name`: exactly `rules` (adt.firewall.policy.Rule:
        proto tcp|icmp, port, source CIDR) admitted inbound, everything else dropped; created or updated in
        place, and attached to the machine. Its name or id."""
        raise NotImplementedError(f"the {self.name} cloud host has no native firewall yet")

    def ensure_network(self) -> str:
        """The build's VPC / private network, made when missing; its id."""
        raise NotImplementedError(f"the {self.name} cloud host has no private networks yet")

    def remove_network(self, force: bool = False) -> None:
        """Remove the build's VPC when no machine uses it (with force: even then, when the provider allows)."""
        raise NotImplementedError(f"the {self.name} cloud host has no private networks yet")

    def adopt(self) -> List[str]:
        """Tag this build's machines that the original toolkit made (no build tag, a name carrying the build's
        mark `-<region>-<build>-`) with tags(build, role_of(name)); the names adopted. Local machines have no
        tags: nothing to adopt."""
        return []

    def problems(self, sizes: Sequence[str] = ()) -> List[str]:
        """Everything that would stop a build before anything is made, all at once (adt doctor): the
        credentials and their scopes, the region, the sizes and the image, quotas. [] when none."""
        return []
