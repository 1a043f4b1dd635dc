"""The local cloud host creating machines side by side (the build creates its database and webserver at once):
every machine gets an address of its own, on the link it was given."""

import ipaddress
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
    assert not (tmp_path / "state" / f"{driver.switch}.last-address").exists()  # forgotten with the network
    assert len(set(ips)) == MACHINES, sorted(ips)
    assert on_links == dict(zip(names, ips)) == listed
    assert driver.gateway not in ips


def _connects(ip: str, port: int, timeout: float) -> bool:
    import socket

    try:
        socket.create_connection((ip, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def test_a_machine_made_after_a_destroy_is_reached_at_once(tmp_path):
    """A machine destroyed and another made at once: were the address given again (the first free one), this
    computer and the fleet's machines would send to the destroyed machine's link from their neighbour caches
    for up to a minute (an autoscaler replacing a webserver, a build after a destroy: connect time-outs).
    Addresses are given in turn, so the new machine has another one, and is reached at once."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "key")], check=True)
    key = (tmp_path / "key.pub").read_text()
    driver = LocalDriver("10.182.0.0/24", state_dir=str(tmp_path / "state"))
    peer, first, second = "db-local-iarp-Xpee", "ws-local-iarp-0-Xone-init-1", "ws-local-iarp-0-Xtwo-init-1"
    try:
        driver.create_server(peer, "local", UserData(), 2222, key)
        ip = driver.create_server(first, "local", UserData(), 2222, key).private_ip
        assert _connects(ip, 2222, 5)  # this computer learns the first machine's link
        seen = subprocess.run([*driver.enter(peer), "timeout", "5", "bash", "-c",
                               f"exec 3<>/dev/tcp/{ip}/2222 && echo reached"], capture_output=True, text=True)
        assert seen.stdout.strip() == "reached", seen.stderr  # and so does a machine of the fleet
        driver.destroy_server(first)
        new = driver.create_server(second, "local", UserData(), 2222, key).private_ip
        assert new != ip and new == str(ipaddress.ip_address(ip) + 1)  # the next one, not the one just freed
        assert _connects(new, 2222, 3), "this computer cannot reach the new machine at once"
        again = subprocess.run([*driver.enter(peer), "timeout", "3", "bash", "-c",
                                f"exec 3<>/dev/tcp/{new}/2222 && echo reached"], capture_output=True, text=True)
        assert again.stdout.strip() == "reached", "the fleet's machines still send to the destroyed one's link"
    finally:
        for name in (peer, first, second):
            driver.destroy_server(name)
        driver.remove_network(force=True)
