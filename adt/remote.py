"""Command lines for reaching a machine with OpenSSH (pure: argv in, argv out)."""

from __future__ import annotations

import shlex
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
        return [
            port_flag,
            str(self.port),
            "-i",
            self.key,
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "ConnectTimeout=5",
            "-o",
            "LogLevel=ERROR",
        ]


def ssh(target: Target, command: Sequence[str] = (), interactive: bool = False) -> List[str]:
    """ssh running `command` (words) on the target. ssh hands the remote shell one string, so the words are
    quoted into it: each reaches the remote program as one argument, whatever it holds."""
    return _ssh(target, [shlex.join(command)] if command else [], interactive)


def ssh_shell(target: Target, script: str) -> List[str]:
    """ssh running `script`, one shell command line (pipes, `;`, variables), by the remote user's shell."""
    return _ssh(target, [script], False)


def _ssh(target: Target, remote_command: List[str], interactive: bool) -> List[str]:
    batch = [] if interactive else ["-o", "BatchMode=yes"]
    return ["ssh", *target.options(), *batch, f"{target.user}@{target.host}", *remote_command]


def scp_to(target: Target, local: str, remote: str) -> List[str]:
    return _scp(target, local, f"{target.user}@{target.host}:{remote}")


def scp_from(target: Target, remote: str, local: str) -> List[str]:
    return _scp(target, f"{target.user}@{target.host}:{remote}", local)


def _scp(target: Target, source: str, destination: str) -> List[str]:
    return ["scp", "-q", "-r", *target.options("-P"), "-o", "BatchMode=yes", source, destination]
