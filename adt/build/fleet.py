"""Reaching a build's machines from the build machine (the original's ConnectTo*, ExecuteOn*, CopyTo*,
CopyFrom*): which machine (a pure choice), the ssh/scp command lines (adt.remote), and running them through
adt.run (an interactive session replaces us; a command's output and exit status are passed through)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, NoReturn, Optional, Sequence

from adt import remote, run
from adt.build.config import BuildConfig
from adt.errors import AdtError


@dataclass(frozen=True)
class Machine:
    """One running machine of a role, as the helpers show and choose it."""

    name: str
    address: str  # the private address: the one the build machine reaches it on
    public_address: str = ""


def listing(machines: Sequence[Machine]) -> str:
    """`1: 10.0.0.2 (ws-…), 2: …`: the numbers `--machine` takes, with each machine's address and name."""
    return ", ".join(f"{number}: {m.address} ({m.name})" for number, m in enumerate(machines, 1))


def choose(machines: Sequence[Machine], choice: Optional[str], role: str, build: str) -> Optional[Machine]:
    """The machine to act on among the running `machines` of a role: the one `choice` names (its number in
    the listing, from 1, its address, public address or name), else the only one; None when there are
    several and someone must choose."""
    if not machines:
        raise AdtError(f"no running {role} in build {build}")
    if choice is None or not choice.strip():
        return machines[0] if len(machines) == 1 else None
    choice = choice.strip()
    if choice.isascii() and choice.isdigit():
        number = int(choice)
        if 1 <= number <= len(machines):
            return machines[number - 1]
        raise AdtError(
            f"build {build} has no {role} number {number} (it has {len(machines)})", f"its {role}s: {listing(machines)}"
        )
    for machine in machines:
        if choice in (machine.address, machine.public_address, machine.name):
            return machine
    article = "an" if role[:1] in "aeiou" else "a"
    raise AdtError(f"{choice} is not {article} {role} of {build}", f"its {role}s: {listing(machines)}")


def running_machines(config: BuildConfig, role: str, driver=None) -> List[Machine]:
    """The running machines of a role, in name order (so their numbers stay put between calls)."""
    driver = driver or config.driver()
    servers = [server for server in config.servers(driver, role) if server.status == "running"]
    return [Machine(s.name, s.private_ip, s.public_ip) for s in sorted(servers, key=lambda s: s.name)]


def running_ips(config: BuildConfig, role: str, driver=None) -> List[str]:
    return [machine.address for machine in running_machines(config, role, driver)]


def pick(
    config: BuildConfig,
    role: str,
    choice: Optional[str] = None,
    ask: Optional[Callable[[List[Machine]], Machine]] = None,
    driver=None,
) -> remote.Target:
    """The ssh target of one running machine of a role: the one `choice` names (number, address or name),
    the only one, or the one `ask` picks; with several, no choice and no `ask`, an error listing them."""
    config.require("SSH_PORT")
    machines = running_machines(config, role, driver)
    chosen = choose(machines, choice, role, config.name)
    if chosen is None:
        if ask is None:
            raise AdtError(
                f"build {config.name} has {len(machines)} {role}s: say which",
                f"pass --machine with a number, an address or a name: {listing(machines)}",
            )
        chosen = ask(machines)
    return config.target(role, chosen.address)


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
