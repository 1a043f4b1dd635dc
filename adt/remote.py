"""Command lines for reaching a machine with OpenSSH (pure: argv in, argv out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    key: str
    known_hosts: str
    user: str = "root"

    def options(self, port_flag: str = "-p") -> List[str]:
        return [port_flag, str(self.port), "-i", self.key, "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "StrictHostKeyChecking=accept-new", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5",
                "-o", "LogLevel=ERROR"]


def ssh(target: Target, command: Sequence[str] = (), interactive: bool = False) -> List[str]:
    batch = [] if interactive else ["-o", "BatchMode=yes"]
    return ["ssh", *target.options(), *batch, f"{target.user}@{target.host}", *command]


def scp_to(target: Target, local: str, remote: str) -> List[str]:
    return ["scp", "-q", "-r", *target.options("-P"), "-o", "BatchMode=yes", local,
            f"{target.user}@{target.host}:{remote}"]


def scp_from(target: Target, remote: str, local: str) -> List[str]:
    return ["scp", "-q", "-r", *target.options("-P"), "-o", "BatchMode=yes",
            f"{target.user}@{target.host}:{remote}", local]
