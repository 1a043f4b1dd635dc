"""The interface every cloud driver implements, and what it passes around."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple


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


class CloudDriver(ABC):
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

    def apply_native_firewall(self, name: str, rules: Sequence[dict]) -> Optional[str]:
        raise NotImplementedError(f"the {self.name} cloud host has no native firewall yet")
