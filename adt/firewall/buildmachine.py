"""The build machine's own firewall: AllowLaptopIP.sh edits the list of authorised addresses in the
`authip-adt-allowed-<build machine ip dashed>` bucket and raises FIREWALL-EVENT; the every-minute
AdjustBuildMachineFirewall.sh consumes the event and applies the list (SSH port from those addresses only)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import List, Optional

from adt.firewall.backends import backend
from adt.firewall.policy import build_machine_policy, cidr

AUTHORISED = "authorised-ips.dat"
EVENT = "FIREWALL-EVENT"


def auth_store(endpoint, build_machine_ip: str):
    from adt.datastore.config import ConfigDatastore
    from adt.datastore.naming import auth_bucket

    return ConfigDatastore([endpoint], auth_bucket(build_machine_ip))


def read_authorised(store) -> List[str]:
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / AUTHORISED
        if not store.get(AUTHORISED, target):
            return []
        return sorted({line.strip() for line in target.read_text().splitlines() if line.strip()})


def allow(store, address: str, remove: bool = False) -> List[str]:
    """Add (or remove) an address in authorised-ips.dat and raise FIREWALL-EVENT; the new list."""
    address = cidr(address, "laptop address").removesuffix("/32")
    current = set(read_authorised(store))
    updated = sorted(current - {address} if remove else current | {address})
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / AUTHORISED
        path.write_text("".join(a + "\n" for a in updated))
        store.put(AUTHORISED, path)
    store.put(EVENT)
    return updated


def adjust(store, ssh_port: int, laptop_ip: str, state: Path, force: bool = False) -> Optional[str]:
    """Apply the authorised list when FIREWALL-EVENT is raised (or with force); None when there was nothing to do."""
    if not force and not store.check(EVENT):
        return None
    rules = build_machine_policy(ssh_port, laptop_ip, read_authorised(store))
    changed = backend("iptables", state).apply(rules)
    store.delete(EVENT)
    sources = sorted({r.source for r in rules})
    return f"build machine ssh port {ssh_port} open to {', '.join(sources)} ({'applied' if changed else 'unchanged'})"
