"""The on-machine reconcile (cron every minute, as the original's SetupFirewallFromCron.sh): read the
fleet's membership from the configuration datastore, compute the policy, apply it when it changed or
when someone disabled the firewall. One reconcile at a time: a lock file, stale after 20 minutes."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import time
from pathlib import Path
from typing import Dict, List, Optional

from adt.errors import AdtError
from adt.firewall import policy as firewall_policy
from adt.firewall.backends import backend
from adt.run import dry_run
from adt.settings.machine import MachineSettings
from adt.settings.template import write_atomically

SHIPPED_RANGES = Path(__file__).with_name("cloudflare-ips-v4.txt")
LOCK_STALE_SECONDS = 20 * 60


def parse_ranges(text: str, source: str) -> List[str]:
    ranges = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            network = ipaddress.ip_network(line, strict=True)
        except ValueError:
            raise AdtError(f"{source}:{number}: {line!r} is not an IPv4 network range") from None
        if network.version != 4:
            raise AdtError(f"{source}:{number}: {line!r} is not IPv4")
        ranges.append(str(network))
    if not ranges or len(ranges) > 200:
        raise AdtError(f"{source}: expected 1-200 ranges, found {len(ranges)}")
    return ranges


def cloudflare_ranges(home: Path) -> List[str]:
    override = home / "runtime" / "cloudflare-ranges.dat"
    path = override if override.is_file() else SHIPPED_RANGES
    return parse_ranges(path.read_text(), str(path))


def update_cloudflare_ranges(source: Path, home: Path) -> int:
    ranges = parse_ranges(source.read_text(), str(source))
    write_atomically(home / "runtime" / "cloudflare-ranges.dat", "".join(r + "\n" for r in ranges), 0o644)
    return len(ranges)


def members(store) -> Dict[str, List[str]]:
    """The fleet as its machines publish it in a configuration datastore (`webserverips/<ip>`, ...): the
    one reading of it, for a machine's own firewall and for the native one applied from the build machine."""
    return {
        key: sorted(e.key.rsplit("/", 1)[1] for e in store.list(key + "/") if not e.is_dir)
        for key in firewall_policy.MEMBER_KEYS
    }


def firewall_kind(home: Path, settings) -> str:
    """The buildstyles.dat `FIREWALL:<ufw|iptables>` line, else the settings file's FIREWALL, else iptables."""
    styles = home / "runtime" / "buildstyles.dat"
    chosen = MachineSettings.load(styles).value("FIREWALL") if styles.is_file() else None
    return chosen or settings.value("FIREWALL") or "iptables"


class Lock:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            if time.time() - self.path.stat().st_mtime < LOCK_STALE_SECONDS:
                return False
            self.path.unlink(missing_ok=True)  # stale: its holder died
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.close(fd)
        self.held = True
        return True

    def __exit__(self, *exc):
        if getattr(self, "held", False):
            self.path.unlink(missing_ok=True)


def reconcile(settings, home: Path, role: str, wait: float = 0) -> str:
    """Apply this machine's policy when it changed. In a dry run: the rules are computed from what is published
    now, and what would change is printed; no lock is taken and nothing is written.

    Another reconcile holding the lock (cron's) may have read the fleet before a change the caller knows of:
    with `wait`, this one waits up to that many seconds for the lock and then reconciles itself."""
    active = settings.value("ACTIVEFIREWALLS") or "3"
    if active not in ("1", "3"):
        return f"on-machine firewall not in use (ACTIVEFIREWALLS={active})"
    deadline = time.monotonic() + wait
    while True:
        lock = contextlib.nullcontext(True) if dry_run() else Lock(home / "runtime" / "firewalllock.file")
        with lock as held:
            if held:
                return _apply(settings, home, role)
        if time.monotonic() >= deadline:
            return "another reconcile holds runtime/firewalllock.file"
        time.sleep(0.2)


def _apply(settings, home: Path, role: str) -> str:
    """Under the lock: compute the rules, apply them when they or the live firewall differ."""
    rules = machine_rules(settings, home, role)
    chosen = backend(firewall_kind(home, settings), home / "runtime" / "firewall-applied")
    changed = chosen.apply(rules)
    if dry_run():
        return f"{chosen.name}: {len(rules)} rules, {'would be applied' if changed else 'unchanged'}"
    (home / "runtime" / "FIREWALL-ACTIVE").touch()
    return f"{chosen.name}: {len(rules)} rules, {'applied' if changed else 'unchanged'}"


def machine_rules(settings, home: Path, role: str) -> List[firewall_policy.Rule]:
    """This machine's rules now: its settings, the fleet as published, Cloudflare's ranges, its custom ports."""
    from adt.datastore.config import ConfigDatastore

    keys = ("SSHPORT", "DBPORT", "VPCIPRANGE", "BUILDMACHINEIP", "DNSCHOICE", "DATABASEINSTALLATIONTYPE")
    ports = home / "runtime" / "firewallports.dat"
    return firewall_policy.policy(
        role,
        {key: settings.value(key) or "" for key in keys},
        members(ConfigDatastore.from_settings(settings)),
        cloudflare_ranges(home),
        ports.read_text() if ports.is_file() else "",
    )


def role_of_settings(path: Path) -> Optional[str]:
    name = Path(path).name
    return name.split("_configuration_settings")[0] if "_configuration_settings" in name else None
