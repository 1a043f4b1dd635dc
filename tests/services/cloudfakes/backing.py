"""The machines behind a provider fake, for whole builds against it: each server the fake is asked to create is a
real machine of the local cloud host (a network namespace on a bridge, with its own sshd), given what the
provider would give it from the user data the driver sent: the cloud-init document's files, sshd's port and key,
and its first-boot command. The document's install commands are left out: adt is this computer's own (the user
data tests run them; tests/integration/test_userdata_cloudinit.py).

The build under test reaches these machines at the address the fake reports as public and private alike.
"""

from __future__ import annotations

from pathlib import Path

from adt.cloud.base import UserData
from adt.cloud.local import LocalDriver
from adt.cloud.userdata import parse


class LocalBacking:
    def __init__(self, vpc: str, state_dir: Path):
        self.driver = LocalDriver(vpc, state_dir=str(state_dir))
        self.driver.ensure_network()

    @property
    def gateway(self) -> str:
        """The build machine's address on the machines' network."""
        return self.driver.gateway

    def create(self, name: str, user_data: str) -> str:
        data, ssh_port, key = parse(user_data)
        first = UserData(files=dict(data.files), command=data.command, environment=dict(data.environment))
        return self.driver.create_server(name, "local", first, ssh_port, key).private_ip

    def destroy(self, name: str) -> None:
        self.driver.destroy_server(name)

    def close(self) -> None:
        for server in self.driver.list_servers():
            self.driver.destroy_server(server.name)
        self.driver.remove_network(force=True)
