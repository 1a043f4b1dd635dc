"""Reaching a build's machines from the build machine (the original's ConnectTo*, ExecuteOn*, CopyTo*,
CopyFrom*): which machine (a pure choice), the ssh/scp command lines (adt.remote), and running them through
adt.run (an interactive session replaces us; a command's output and exit status are passed through)."""

from __future__ import annotations

from typing import Callable, List, NoReturn, Optional, Sequence

from adt import remote, run
from adt.build.config import BuildConfig
from adt.errors import AdtError


def choose(ips: Sequence[str], ip: Optional[str], role: str, build: str) -> Optional[str]:
    """The machine to act on among the running `ips` of a role: the given one, else the only one; None when
    there are several and someone must choose."""
    if not ips:
        raise AdtError(f"no running {role} in build {build}")
    if ip:
        if ip not in ips:
            raise AdtError(f"{ip} is not a {role} of {build}", f"its {role}s: {', '.join(ips)}")
        return ip
    return ips[0] if len(ips) == 1 else None


def running_ips(config: BuildConfig, role: str, driver=None) -> List[str]:
    driver = driver or config.driver()
    return [server.private_ip for server in config.servers(driver, role) if server.status == "running"]


def pick(
    config: BuildConfig,
    role: str,
    ip: Optional[str] = None,
    ask: Optional[Callable[[List[str]], str]] = None,
    driver=None,
) -> remote.Target:
    """The ssh target of one running machine of a role: the given IP, the only one, or the one `ask` picks."""
    config.require("SSH_PORT")
    ips = running_ips(config, role, driver)
    chosen = choose(ips, ip, role, config.name)
    if chosen is None:
        if ask is None:
            raise AdtError(f"build {config.name} has {len(ips)} {role}s", f"pass --ip, one of {', '.join(ips)}")
        chosen = ask(ips)
    return config.target(role, chosen)


# -- command lines (pure) ----------------------------------------------------------------------------
def connect_command(target: remote.Target) -> List[str]:
    return remote.ssh(target, interactive=True)


def execute_command(target: remote.Target, script: str) -> List[str]:
    """`script` is one shell command line, run by the remote user's shell (pipes, `;`, variables)."""
    return remote.ssh_shell(target, script)


def adt_command(target: remote.Target, words: Sequence[str]) -> List[str]:
    """adt on the machine, each word one argument there."""
    return remote.ssh(target, ["adt", *words])


# -- running them ------------------------------------------------------------------------------------
def connect(target: remote.Target) -> NoReturn:
    """An interactive shell on the machine: ssh replaces this process (the terminal and signals are its)."""
    run.replace(connect_command(target), what="connecting")


def execute(target: remote.Target, script: str) -> int:
    """Run a shell command line on the machine, its output on our terminal; its exit status."""
    return run.interactive(execute_command(target, script), what=f"running a command on {target.host}")


def run_adt(target: remote.Target, words: Sequence[str]) -> int:
    """Run `adt <words>` on the machine, its output on our terminal; its exit status."""
    return run.interactive(adt_command(target, words), what=f"adt {' '.join(words[:2])} on {target.host}")


def copy_to(target: remote.Target, local: str, remote_dir: str) -> None:
    run.run(remote.scp_to(target, local, remote_dir + "/"), what=f"copying {local} to {target.host}", timeout=600)


def copy_from(target: remote.Target, remote_path: str, local_dir: str) -> None:
    run.run(
        remote.scp_from(target, remote_path, local_dir), what=f"copying {remote_path} from {target.host}", timeout=600
    )
