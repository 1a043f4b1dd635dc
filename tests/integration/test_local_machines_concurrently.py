"""The local cloud host creating machines side by side (the build creates its database and webserver at once):
every machine gets an address of its own, on the link it was given."""

import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

from adt.cloud.base import UserData
from adt.cloud.local import LocalDriver

VPC = "10.179.0.0/24"  # this test's own range (the test fleet, the benchmarks and the firewall tests have theirs)
MACHINES = 6


def test_machines_created_at_once_get_distinct_addresses(tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "key")], check=True)
    key = (tmp_path / "key.pub").read_text()
    driver = LocalDriver(VPC, state_dir=str(tmp_path / "state"))
    names = [f"ws-local-iconc-0-X{n:03d}-init-1" for n in range(MACHINES)]
    start = threading.Barrier(MACHINES)

    def create(name):
        start.wait()  # all at once, the network included: none exists yet
        return driver.create_server(name, "local", UserData(), 2222, key).private_ip

    try:
        with ThreadPoolExecutor(MACHINES) as pool:
            ips = list(pool.map(create, names))
        on_links = {}
        for name in names:
            shown = subprocess.run(["ip", "-4", "-o", "-n", f"adt-{name}", "addr", "show", "dev", "eth0"],
                                   capture_output=True, text=True, check=True).stdout
            on_links[name] = shown.split()[3].split("/")[0]
        listed = {s.name: s.private_ip for s in driver.list_servers("-iconc-")}
    finally:
        for name in names:
            driver.destroy_server(name)
        driver.remove_network(force=True)
    assert len(set(ips)) == MACHINES, sorted(ips)
    assert on_links == dict(zip(names, ips)) == listed
    assert driver.gateway not in ips
