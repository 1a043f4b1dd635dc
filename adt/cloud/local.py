"""The `local` cloud host: a fleet of machines on this one computer.

Each machine is a network namespace (its own address in the VPC range, its own firewall) with its own
mount and UTS namespaces held by a small holder process, so `/home`, `/var/www`, `/etc/ufw`,
`/var/lib/mysql` and the hostname are its own. Machines meet on a bridge inside a switch namespace; the
build machine joins it through one veth carrying the VPC's first address. Machines get no default route:
nothing they send can leave the VPC. State lives under ADT_LOCAL_STATE (default /var/lib/adt/local,
root only), so list and destroy work from any later process. Every process a machine runs is found with
`ip netns pids` and stopped by PID.

An image (a snapshot) is a copy of a machine's private directories under `<state>/images/<id>/`, taken with
every process of the machine stopped (SIGSTOP) so it is as consistent as a cloud snapshot of a running disk:
what a crash would leave, which MariaDB recovers from. What is per boot (`/run/...`, `/var/log/adt`, the
READY markers) is left out. Images are the host's, like a provider's: destroying machines or the network
leaves them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from adt.cloud.base import CloudDriver, Image, Server, UserData, role_of
from adt.errors import AdtError
from adt.fs import write_atomically
from adt.run import alive, announce, dry_run, run, shown, spawn

PRIVATE_DIRS = (
    "/home",
    "/var/www",
    "/etc/ufw",
    "/var/lib/mysql",
    "/run/mysqld",
    "/run/adt",
    "/run/adt-machine",
    "/etc/adt",
    "/var/log/adt",
    "/var/spool/cron/crontabs",
    "/etc/cron.d",
    "/opt/adt",
    "/root",  # root's own home: not this computer's dotfiles (its .bashrc ran at every ssh command, 0.3 s)
)
# mount points made on this computer that another fleet still used when their own fleet went (its own
# state folder may be gone since): removed by the last fleet to go; /run, so a reboot forgets them too
LEFT_MOUNTPOINTS = Path("/run/adt-local-mountpoints")
INSTALLED_ADT = "/opt/adt/bin/adt"  # where a machine's adt is (the entry points look there): here, this computer's


SEEDED_DIRS = ("/etc/ufw",)  # start as a copy of this computer's (ufw needs its configuration files)
# single files: a private copy of this computer's ("copy"), a private empty file ("empty": a machine's
# cron keeps its own pid file and runs none of this computer's system jobs), or written by the driver at
# each start ("generated": the resolver is the VPC's gateway, where the build's DNS server listens)
PRIVATE_FILES = {
    "/etc/default/ufw": "copy",
    "/etc/crontab": "empty",
    "/run/crond.pid": "empty",
    "/etc/resolv.conf": "generated",
}
IMAGE_ID = re.compile(r"^img-[0-9a-f]{12}$")
READY_MARKERS = "home/*/runtime/*_READY"  # a machine made from an image is not ready before its bootstrap says so


def _short(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def resolv_conf(gateway: str) -> str:
    """A machine's /etc/resolv.conf: the VPC's gateway address, where the build's DNS server answers."""
    return f"nameserver {gateway}\n"


def per_boot(path: str) -> bool:
    """What a machine makes anew at each boot, never part of its image."""
    return path.startswith("/run/") or path == "/var/log/adt"


def image_parts() -> List[str]:
    """The private directories and files an image holds, relative to a machine's root."""
    files = [path for path, kind in PRIVATE_FILES.items() if kind != "generated"]
    return [path.lstrip("/") for path in (*PRIVATE_DIRS, *files) if not per_boot(path)]


def image_copy(parts: List[str], target: str) -> List[str]:
    """Copy `parts` (relative to the working directory, a machine's root) to `target`, keeping owners, modes,
    times and links; copy-on-write where the file system shares blocks."""
    return ["cp", "-a", "--reflink=auto", "--parents", *parts, target]


def overlay_mount(lower: str, upper: str, work: str, target: str) -> str:
    """The holder's line that mounts a private directory as an overlay: the image's folder below (read only),
    the machine's own above."""
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    for path in (lower, upper, work):
        if any(c in path for c in ",:\\"):  # overlayfs splits its options on these
            raise AdtError(f"{path} cannot be an overlay layer (it holds ',', ':' or a backslash)")
    return f"mount -t overlay overlay -o {shlex.quote(options)} {shlex.quote(target)}"


def image_files(image_root: Path) -> List[str]:
    """The single files an image holds (relative to its root): copied into a machine made from it."""
    return [path.lstrip("/") for path in PRIVATE_FILES if (image_root / path.lstrip("/")).is_file()]


@contextlib.contextmanager
def _flocked(folder: Path) -> Iterator[None]:
    """An flock on a folder: the kernel drops it when its holder ends, and it leaves no file behind."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _process_state(pid: int) -> str:
    """The state letter of a process (R, S, D, T, Z...), empty when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[0]


# the native firewall: new TCP connections towards a machine's link go through that machine's chain
NATIVE_TABLE = (
    "add table bridge adt\n"
    "add chain bridge adt forward { type filter hook forward priority 0; policy accept; }\n"
    "add map bridge adt machines { type ifname : verdict; }\n"
    "add rule bridge adt forward tcp flags & (syn|ack) == syn oifname vmap @machines\n"
)


def network_steps(switch: str, host_veth: str, gateway: str, prefix: int) -> List[List[str]]:
    """The switch: a namespace holding a bridge, and the build machine's link into it on the gateway address."""
    return [
        ["ip", "netns", "add", switch],
        ["ip", "-n", switch, "link", "add", "br0", "type", "bridge"],
        ["ip", "-n", switch, "link", "set", "br0", "up"],
        ["ip", "-n", switch, "link", "set", "lo", "up"],
        ["ip", "link", "add", host_veth, "type", "veth", "peer", "name", "up0", "netns", switch],
        ["ip", "-n", switch, "link", "set", "up0", "master", "br0", "up"],
        ["ip", "addr", "add", f"{gateway}/{prefix}", "dev", host_veth],
        ["ip", "link", "set", host_veth, "up"],
    ]


def machine_steps(switch: str, netns: str, veth: str, ip: str, prefix: int) -> List[List[str]]:
    """A machine's network: its namespace, and a link from the bridge to its eth0 carrying its address."""
    return [
        ["ip", "netns", "add", netns],
        ["ip", "-n", switch, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns],
        ["ip", "-n", switch, "link", "set", veth, "master", "br0", "up"],
        ["ip", "-n", netns, "addr", "add", f"{ip}/{prefix}", "dev", "eth0"],
        ["ip", "-n", netns, "link", "set", "eth0", "up"],
        ["ip", "-n", netns, "link", "set", "lo", "up"],
    ]


def nft(switch: str) -> List[str]:
    """nft inside the switch, reading its script (one transaction) from standard input."""
    return ["ip", "netns", "exec", switch, "nft", "-f", "-"]


def native_chain(veth: str, rules) -> str:
    """A machine's native firewall as one nft script: its chain replaced whole, new TCP connections dropped
    unless a rule admits them, and the chain bound to its link."""
    chain = f"m_{veth}"
    lines = [f"add chain bridge adt {chain}", f"flush chain bridge adt {chain}"]
    for rule in rules:
        if rule.proto == "tcp":
            lines.append(f"add rule bridge adt {chain} ip saddr {rule.source} tcp dport {rule.port} accept")
    lines += [f"add rule bridge adt {chain} drop", f'add element bridge adt machines {{ "{veth}" : jump {chain} }}']
    return "\n".join(lines) + "\n"


def forget_chain(veth: str) -> str:
    """The nft script that unbinds and deletes a machine's native firewall chain."""
    return f'delete element bridge adt machines {{ "{veth}" }}\ndelete chain bridge adt m_{veth}\n'


def native_bound(listing: str) -> Dict[str, int]:
    """From `nft -j list table bridge adt`: each link bound to its machine's chain -> the chain's accept rules."""
    items = json.loads(listing).get("nftables", []) if listing.strip() else []
    bound = {}
    for item in items:
        machines = item.get("map", {})
        if machines.get("name") == "machines":
            for veth, verdict in machines.get("elem", []):
                if verdict.get("jump", {}).get("target") == f"m_{veth}":
                    bound[veth] = 0
    for item in items:
        rule = item.get("rule", {})
        veth = rule.get("chain", "")[2:]
        if rule.get("chain", "").startswith("m_") and veth in bound and any("accept" in e for e in rule["expr"]):
            bound[veth] += 1
    return bound


def code_paths() -> List[str]:
    """Where adt and its Python live: machines must still see them under their private directories."""
    root = Path(__file__).resolve().parents[2]
    return sorted({str(root), str(Path(sys.prefix).resolve()), str(Path(sys.base_prefix).resolve())})


class LocalDriver(CloudDriver):
    name = "local"

    def __init__(self, vpc: str, state_dir: Optional[str] = None):
        try:
            self.network = ipaddress.ip_network(vpc, strict=False)
        except ValueError:
            raise AdtError(f"VPC_IP_RANGE {vpc!r} is not a network range", "such as 10.171.0.0/24") from None
        self.state = Path(state_dir or os.environ.get("ADT_LOCAL_STATE") or "/var/lib/adt/local")
        # one switch per state folder and VPC: another folder's fleet on the same VPC is refused as an
        # overlapping network, never shares addresses with this one
        tag = _short(f"{self.state.resolve()}|{self.network}", 8)
        self.switch = f"adt-sw-{tag}"
        self.host_veth = f"adth{tag}"
        self.gateway = str(next(self.network.hosts()))

    # -- the network -------------------------------------------------------------------------------
    def _ns_exists(self, name: str) -> bool:
        return os.path.exists(f"/run/netns/{name}")

    def _nft(self, script: str, what: str = "", check: bool = True) -> None:
        """Feed an nft script to the switch (in a dry run: print the command and the script, as a here-document)."""
        if dry_run():
            announce(f"{shown(nft(self.switch))} <<'EOF'\n{script}EOF")
            return
        run(nft(self.switch), input=script, what=what, check=check)

    def ensure_network(self) -> str:
        """The VPC's bridge (in its switch namespace), made when missing; its name."""
        if self._ns_exists(self.switch):
            return self.switch
        for line in run(["ip", "-4", "route", "show"], what="reading routes", changes=False).stdout.splitlines():
            destination = line.split()[0]
            if destination == "default":
                continue
            try:
                taken = ipaddress.ip_network(destination, strict=False)
            except ValueError:
                continue
            if taken.overlaps(self.network):
                raise AdtError(
                    f"VPC_IP_RANGE {self.network} overlaps a network this machine already routes ({line.strip()})",
                    "choose another private range for the local cloud host",
                )
        try:
            for step in network_steps(self.switch, self.host_veth, self.gateway, self.network.prefixlen):
                run(step, what="creating the local network")
            self._nft(NATIVE_TABLE, what="creating the native firewall")
        except AdtError:
            self.remove_network(force=True)
            raise
        return self.switch

    def remove_network(self, force: bool = False) -> None:
        if not force and self._machines():
            return
        if self._ns_exists(self.switch):
            run(["ip", "netns", "del", self.switch], check=False)
        if os.path.exists(f"/sys/class/net/{self.host_veth}"):
            run(["ip", "link", "del", self.host_veth], check=False)
        if not dry_run():
            self._last_address.unlink(missing_ok=True)  # the neighbour caches went with the links
        record = self.state / "created-mountpoints"
        if dry_run():
            if record.exists():
                announce(
                    f"the mount points adt made, when empty: {' '.join(sorted(set(record.read_text().split())))}",
                    "remove",
                )
            return
        if record.exists() or LEFT_MOUNTPOINTS.exists():
            paths = set(record.read_text().split()) if record.exists() else set()
            if self._other_switches():
                # another fleet's machines have their private folders mounted on these points, and removing a
                # mount point detaches every mount on it, in every namespace: left for the last fleet to go
                with open(LEFT_MOUNTPOINTS, "a") as left:
                    left.write("".join(f"{path}\n" for path in sorted(paths)))
            else:
                if LEFT_MOUNTPOINTS.exists():
                    paths |= set(LEFT_MOUNTPOINTS.read_text().split())
                for path in sorted(paths, reverse=True):
                    try:
                        if os.path.isdir(path):
                            os.rmdir(path)
                        elif os.path.getsize(path) == 0:
                            os.unlink(path)
                    except OSError:
                        pass  # not empty, or in use by something else: leave it
                LEFT_MOUNTPOINTS.unlink(missing_ok=True)
            record.unlink(missing_ok=True)
        deadline = time.monotonic() + 5  # the kernel removes a deleted namespace's links asynchronously
        while os.path.exists(f"/sys/class/net/{self.host_veth}") and time.monotonic() < deadline:
            time.sleep(0.05)

    def _other_switches(self) -> List[str]:
        """The switches of other local fleets on this computer (any state folder, any VPC)."""
        netns = Path("/run/netns")
        found = sorted(p.name for p in netns.glob("adt-sw-*")) if netns.is_dir() else []
        return [name for name in found if name != self.switch]

    # -- machines --------------------------------------------------------------------------------
    def _dir(self, name: str) -> Path:
        return self.state / name

    def _all_machines(self) -> List[dict]:
        """Every machine of this state folder, on any VPC."""
        found = []
        if self.state.is_dir():
            for record in sorted(self.state.glob("*/machine.json")):
                try:
                    found.append(json.loads(record.read_text()))
                except (OSError, ValueError):
                    continue
        return found

    def _machines(self) -> List[dict]:
        found = []
        if self.state.is_dir():
            for record in sorted(self.state.glob("*/machine.json")):
                machine = json.loads(record.read_text())
                if machine.get("switch") == self.switch:
                    found.append(machine)
        return found

    def _machine(self, name: str) -> dict:
        record = self._dir(name) / "machine.json"
        if not record.is_file():
            raise AdtError(f"no local machine named {name}", "see 'adt machine list' or the build's ips")
        return json.loads(record.read_text())

    def host_path(self, name: str, path: str) -> Path:
        """Where a path of a machine's private directories is on this computer."""
        for private in PRIVATE_DIRS:
            if path == private or path.startswith(private + "/"):
                return self._dir(name) / "root" / path.lstrip("/")
        raise AdtError(f"{path} is not in a machine's private directories ({', '.join(PRIVATE_DIRS)})")

    def enter(self, name: str) -> List[str]:
        """The argv prefix that runs a command inside a machine (its network, mounts and hostname)."""
        return ["nsenter", "-t", str(self._machine(name)["holder"]), "-n", "-m", "-u", "--"]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """This host's state to ourselves: machines created side by side (threads, or other processes) take
        turns to make the network, pick an address and prepare the shared mount points. An flock on the
        state folder itself: the kernel drops it when its holder ends, and it leaves no file behind."""
        self.state.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.state, 0o700)
        with _flocked(self.state):
            yield

    @property
    def _last_address(self) -> Path:
        return self.state / f"{self.switch}.last-address"

    def _allocate(self) -> str:
        """The next free address of the VPC after the last one given, in turn (call it holding _locked, and
        record the machine before letting go). Not the first free one: an address given again at once (a
        replaced machine's) would be sent to the destroyed machine's link by this computer and the fleet's
        machines, from their neighbour caches, for up to a minute; in turn, an address comes back only after
        the whole range, as a provider's DHCP pool does. The turn is forgotten with the network."""
        used = {m["ip"] for m in self._machines()} | {self.gateway}
        hosts = [str(host) for host in self.network.hosts()]
        try:
            last = hosts.index(self._last_address.read_text().strip())
        except (OSError, ValueError):
            last = -1
        for host in hosts[last + 1 :] + hosts[: last + 1]:
            if host not in used:
                write_atomically(self._last_address, host + "\n", 0o600)
                return host
        raise AdtError(f"no free address left in {self.network}")

    def create_server(
        self,
        name: str,
        size: str,
        user_data: UserData,
        ssh_port: int,
        authorized_key: str,
        image: Optional[str] = None,
    ) -> Server:
        """Safe to call side by side: the network, the address and the shared mount points are settled under
        _locked; the rest (links, sshd, first boot) is the machine's own. From `image`, each private directory
        is an overlay: the image's below (never written), the machine's own folder above (every write goes
        there), so nothing is copied and the machine starts at once; the user data is written after."""
        if name == "images" or "/" in name:
            raise AdtError(f"{name!r} cannot name a local machine", "the build names machines <role>-<region>-<id>-...")
        seed = self._image_dir(image) if image else None
        base = self._dir(name)
        netns, veth = f"adt-{name}"[:60], f"v{_short(name, 11)}"
        with self._locked():
            if (base / "machine.json").exists():
                raise AdtError(f"a local machine named {name} exists already", "destroy it first")
            self.ensure_network()
            (base / "root").mkdir(parents=True, exist_ok=True)
            ip = self._allocate()
            machine = {
                "name": name,
                "ip": ip,
                "netns": netns,
                "veth": veth,
                "switch": self.switch,
                "holder": 0,
                "ssh_port": ssh_port,
                "role": role_of(name),
                "created": time.time(),
            }
            write_atomically(base / "machine.json", json.dumps(machine), 0o600)  # the address is taken from here on
        try:
            for step in machine_steps(self.switch, netns, veth, ip, self.network.prefixlen):
                run(step, what=f"creating machine {name}")
            if seed:  # its directories are the image's, written through an overlay: nothing is copied
                machine["image"] = image
                for part in image_files(seed / "root"):  # the few single files are copies
                    run(["cp", "-a", "--parents", part, str(base / "root")], cwd=str(seed / "root"), what=name)
            with self._locked():  # the holder makes missing mount points on this computer and records them
                machine["holder"] = self._start_holder(name, netns, seed)
                write_atomically(base / "machine.json", json.dumps(machine), 0o600)
            self._start_sshd(name, ip, ssh_port, authorized_key)
            self._first_boot(name, user_data)
        except BaseException:
            self.destroy_server(name)
            raise
        return self._server(machine)

    def _start_holder(self, name: str, netns: str, image: Optional[Path] = None) -> int:
        base = self._dir(name)
        lines = ["set -e"]
        for private in PRIVATE_DIRS:
            if not os.path.exists(private):  # a mount point: an empty directory, removed with the network
                os.makedirs(private)
                with open(self.state / "created-mountpoints", "a") as record:
                    record.write(private + "\n")
            source = base / "root" / private.lstrip("/")
            source.mkdir(parents=True, exist_ok=True)
            keep = [p for p in code_paths() if p.startswith(private + "/")]
            if keep:  # keep a view of the host directory for the code that lives under it
                view = base / "hostview" / private.lstrip("/")
                view.mkdir(parents=True, exist_ok=True)
                lines.append(f"mount --bind {shlex.quote(private)} {shlex.quote(str(view))}")
            lower = image / "root" / private.lstrip("/") if image else None
            if lower is not None and not lower.is_dir():
                lower = None
            if lower is None and private in SEEDED_DIRS and os.path.isdir(private) and not any(source.iterdir()):
                shutil.copytree(private, source, dirs_exist_ok=True, symlinks=True)
            if INSTALLED_ADT.startswith(private + "/"):
                link = source / INSTALLED_ADT[len(private) + 1 :]
                link.parent.mkdir(parents=True, exist_ok=True)
                link.unlink(missing_ok=True)
                link.symlink_to(Path(sys.executable).parent / "adt")
            if lower is not None:
                work = base / "work" / private.lstrip("/")
                work.mkdir(parents=True, exist_ok=True)
                lines.append(overlay_mount(str(lower), str(source), str(work), private))
            else:
                lines.append(f"mount --bind {shlex.quote(str(source))} {shlex.quote(private)}")
            for path in keep:
                relative = path[len(private) + 1 :]
                lines.append(f"mkdir -p {shlex.quote(path)}")
                lines.append(
                    f"mount --bind {shlex.quote(str(base / 'hostview' / private.lstrip('/') / relative))} "
                    f"{shlex.quote(path)}"
                )
        for private, kind in PRIVATE_FILES.items():
            if (
                kind == "copy"
                and not os.path.isfile(private)
                or os.path.islink(private)
                and not os.path.exists(private)
            ):
                continue  # nothing to copy; or a dangling link, which a mount point would be made through
            if not os.path.exists(private):  # a mount point: an empty file, removed with the network
                open(private, "a").close()
                with open(self.state / "created-mountpoints", "a") as record:
                    record.write(private + "\n")
            copy = base / "root" / private.lstrip("/")
            copy.parent.mkdir(parents=True, exist_ok=True)
            if kind == "generated":
                write_atomically(copy, resolv_conf(self.gateway), 0o644)  # the one generated file
            elif not copy.exists():
                shutil.copy2(private, copy) if kind == "copy" else copy.touch()
            lines.append(f"mount --bind {shlex.quote(str(copy))} {shlex.quote(private)}")
        ready = base / "holder.ready"
        ready.unlink(missing_ok=True)
        lines += [f"hostname {shlex.quote(name[:63])}", f"touch {shlex.quote(str(ready))}", "exec sleep infinity"]
        pid = spawn(
            [
                "ip",
                "netns",
                "exec",
                netns,
                "unshare",
                "--mount",
                "--uts",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                "\n".join(lines),
            ],
            log_path=str(base / "holder.log"),
        )
        deadline = time.monotonic() + 15
        while not ready.exists():
            if not alive(pid) or time.monotonic() > deadline:
                raise AdtError(f"machine {name} did not start", f"read {base / 'holder.log'}")
            time.sleep(0.02)
        return pid  # ip netns exec, unshare and sh each exec the next: the holder keeps this pid

    def _pids(self, netns: str) -> List[int]:
        result = run(["ip", "netns", "pids", netns], check=False, changes=False)
        return [int(p) for p in result.stdout.split() if p.isdigit()]

    def _start_sshd(self, name: str, ip: str, port: int, authorized_key: str) -> None:
        ssh = self._dir(name) / "ssh"
        ssh.mkdir(mode=0o700, exist_ok=True)
        if not (ssh / "host_ed25519").exists():
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ssh / "host_ed25519")], what="host key")
        write_atomically(ssh / "authorized_keys", authorized_key.strip() + "\n", 0o600)
        (ssh / "sshd_config").write_text(
            f"Port {port}\nListenAddress {ip}\nHostKey {ssh / 'host_ed25519'}\nPidFile {ssh / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {ssh / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            "Subsystem sftp /usr/lib/openssh/sftp-server\nLogLevel VERBOSE\n"
            # adt is "installed" on a local machine: sessions find it first on their PATH
            f"SetEnv PATH={Path(sys.executable).parent}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        )
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        run(
            [*self.enter(name), "/usr/sbin/sshd", "-f", str(ssh / "sshd_config"), "-E", str(ssh / "sshd.log")],
            what=f"starting sshd on {name}",
        )

    def _first_boot(self, name: str, user_data: UserData) -> None:
        for path, (text, mode) in user_data.files.items():
            target = self.host_path(name, path)
            write_atomically(target, text, mode)  # settings with keys and passwords: private from the start
        if user_data.command:
            log = self.host_path(name, "/var/log/adt/bootstrap.log")
            log.parent.mkdir(parents=True, exist_ok=True)
            path = f"{Path(sys.executable).parent}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            env = {"PATH": path, "LANG": "C.UTF-8", **user_data.environment}
            pid = spawn([*self.enter(name), *user_data.command], log_path=str(log), env=env)
            (self._dir(name) / "first-boot.pid").write_text(f"{pid}\n")

    def first_boot_running(self, name: str) -> bool:
        """Whether the machine's first-boot command still runs (nsenter execs it, so it keeps the pid)."""
        try:
            return alive(int((self._dir(name) / "first-boot.pid").read_text()))
        except (OSError, ValueError):
            return False

    def _server(self, machine: dict) -> Server:
        status = "running" if machine.get("holder") and alive(machine["holder"]) else "stopped"
        return Server(machine["name"], machine["name"], machine["role"], machine["ip"], machine["ip"], status)

    def list_servers(self, pattern: str = "") -> List[Server]:
        return [self._server(m) for m in self._machines() if pattern in m["name"]]

    def destroy_server(self, name: str) -> None:
        base = self._dir(name)
        record = base / "machine.json"
        machine = json.loads(record.read_text()) if record.is_file() else {"netns": f"adt-{name}"[:60]}
        netns = machine["netns"]
        if machine.get("veth") and self._ns_exists(self.switch):  # its native firewall chain, if any
            self._nft(forget_chain(machine["veth"]), check=False)
        if self._ns_exists(netns):
            doomed = self._pids(netns)
            if dry_run() and doomed:
                announce(f"the processes of {name} ({' '.join(map(str, doomed))}): SIGTERM, then SIGKILL", "stop")
                doomed = []
            for sig in (signal.SIGTERM, signal.SIGKILL):
                for pid in doomed:
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
                deadline = time.monotonic() + 10
                while any(alive(p) for p in doomed) and time.monotonic() < deadline:
                    time.sleep(0.05)
                doomed = [p for p in doomed if alive(p)]
                if not doomed:
                    break
            run(["ip", "netns", "del", netns], check=False)
        if dry_run():
            announce(str(base), "remove")
            return
        shutil.rmtree(base, ignore_errors=True)  # the network stays: the caller removes it (remove_network)

    def apply_native_firewall(self, name: str, rules) -> str:
        """The cloud host's own layer, on the bridge side of the machine's link: new TCP connections to it
        are dropped unless a rule admits them. One nft transaction: the old chain is replaced atomically."""
        self._nft(native_chain(self._machine(name)["veth"], rules), what=f"applying the native firewall of {name}")
        return f"adt-{role_of(name)}-{name}"

    def native_firewall(self, name: str) -> Optional[int]:
        """How many native rules admit connections to the machine (None: its link is not bound to a chain)."""
        listing = run(
            ["ip", "netns", "exec", self.switch, "nft", "-j", "list", "table", "bridge", "adt"],
            what="reading the native firewall",
            changes=False,
        ).stdout
        return native_bound(listing).get(self._machine(name).get("veth", ""))

    # -- images ------------------------------------------------------------------------------------
    @property
    def images(self) -> Path:
        return self.state / "images"

    def _image_dir(self, image_id: str) -> Path:
        found = self.images / image_id
        if not IMAGE_ID.match(image_id) or not (found / "image.json").is_file():
            raise AdtError(f"no image {image_id} on the local cloud host (in {self.images})", "see 'adt snapshot list'")
        return found

    @contextlib.contextmanager
    def _frozen(self, name: str, netns: str) -> Iterator[None]:
        """Every process of the machine stopped (SIGSTOP) for the block, and continued after it, whatever
        happens in it. Listed until no new one appears (a process may fork while others are being stopped);
        processes stopped before are left as they were."""
        stopped: List[int] = []
        try:
            for _ in range(20):
                new = [
                    pid
                    for pid in self._pids(netns)
                    if pid not in stopped and pid != os.getpid() and _process_state(pid) not in ("T", "t", "")
                ]
                if not new:
                    break
                for pid in new:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGSTOP)
                        stopped.append(pid)
            else:
                raise AdtError(f"the processes of {name} kept starting new ones: it could not be frozen for its image")
            deadline = time.monotonic() + 10
            while any(_process_state(pid) not in ("T", "t", "Z", "X", "") for pid in stopped):
                if time.monotonic() > deadline:  # in uninterruptible sleep all the time (a hung disk)
                    raise AdtError(f"the processes of {name} did not stop within 10 s", "try again later")
                time.sleep(0.002)
            yield
        finally:
            for pid in stopped:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    def snapshot(self, name: str, label: str) -> str:
        """An image of the machine as it is now: its processes stopped while its private directories are copied
        (copy-on-write where the file system can), then continued. Written aside and published whole."""
        machine = self._machine(name)
        image_id = f"img-{secrets.token_hex(6)}"
        final = self.images / image_id
        if dry_run():
            announce(f"{name} to {final} (its processes stopped while its private directories are copied)", "snapshot")
            return image_id
        self.images.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = self.images / f".{image_id}.partial"
        partial.mkdir(mode=0o700)
        try:
            (partial / "root").mkdir(mode=0o755)
            source = self._dir(name) / "root"
            parts = [part for part in image_parts() if os.path.lexists(source / part) or self._lower(machine, part)]
            # one image of a machine at a time: another's SIGCONT would wake it in the middle of this copy
            with _flocked(self._dir(name)), self._frozen(name, machine["netns"]):
                # the machine's own view (an overlay's merged one), from inside its mounts
                run(
                    [*self._mounts_of(name), *image_copy(["/" + part for part in parts], str(partial / "root"))],
                    what=f"copying {name}",
                    timeout=3600,
                )
            for marker in (partial / "root").glob(READY_MARKERS):
                marker.unlink()
            size = sum(p.lstat().st_size for p in (partial / "root").rglob("*") if p.is_file() and not p.is_symlink())
            image = Image(image_id, label, machine["role"], name, time.time(), size)
            write_atomically(partial / "image.json", json.dumps(dataclasses.asdict(image)), 0o600)
            os.rename(partial, final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return image_id

    def list_snapshots(self, pattern: str = "") -> List[Image]:
        found = [Image(**json.loads(record.read_text())) for record in self.images.glob("img-*/image.json")]
        return sorted((i for i in found if pattern in i.label or pattern in i.source), key=lambda i: i.created)

    def _lower(self, machine: dict, part: str) -> bool:
        """Whether the machine's image (if it was made from one) holds `part`."""
        image = machine.get("image")
        return isinstance(image, str) and os.path.lexists(self.images / image / "root" / part)

    def _mounts_of(self, name: str) -> List[str]:
        """The argv prefix that runs a command in the machine's mounts only (its files as it sees them); refused
        when the state folder itself is hidden there by one of the machine's private directories."""
        for private in PRIVATE_DIRS:
            if str(self.state.resolve()).startswith(private + "/"):
                raise AdtError(
                    f"the local cloud host's state folder {self.state} is under {private}, which machines do not see",
                    "set ADT_LOCAL_STATE outside " + ", ".join(PRIVATE_DIRS),
                )
        return ["nsenter", "-t", str(self._machine(name)["holder"]), "-m", "--"]

    def delete_snapshot(self, image_id: str) -> None:
        found = self._image_dir(image_id)
        users = sorted(m["name"] for m in self._all_machines() if m.get("image") == image_id)
        if users:
            raise AdtError(
                f"image {image_id} is in use: {', '.join(users)} {'is' if len(users) == 1 else 'are'} made from it",
                "destroy those machines first",
            )
        if dry_run():
            announce(str(found), "remove")
            return
        doomed = self.images / f".{image_id}.deleting"
        os.rename(found, doomed)  # gone from the list at once, whatever the removal takes
        shutil.rmtree(doomed)

    def run_in(self, name: str, argv, **kwargs):
        return run([*self.enter(name), *argv], **kwargs)
