"""One build as the build machine knows it, loaded once per command.

Every build-side command (build, destroy, fleet, variable, firewall native, the build machine's own firewall)
starts here: the build home by the one rule of `adt.settings.paths.build_home`, the build by
`RuntimeData.resolve` (the given one, else the active one), and `build_environment` read once into `values`.
Everything derived from them lives here too, so there is one of each: the build key and the known-hosts
files (`runtimedata/<cloudhost>/<id>/keys/`), the ssh target of a machine, the S3 endpoint and the
configuration datastore, the cloud driver, which machines belong to the build.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from adt import remote
from adt.errors import AdtError
from adt.settings.paths import build_home
from adt.settings.runtime import BuildEnvironment, RuntimeData

DEFAULT_VPC = "10.171.0.0/24"  # the templates' default VPC_IP_RANGE


@dataclass
class BuildConfig:
    build_home: Path
    cloudhost: str
    build_identifier: str
    values: Dict[str, str] = field(default_factory=dict)  # build_environment (a build fills it as it goes)

    @classmethod
    def load(
        cls,
        cloudhost: Optional[str] = None,
        build_identifier: Optional[str] = None,
        home: Optional[str] = None,
        env: Mapping[str, str] = os.environ,
    ) -> "BuildConfig":
        """The build named (else the active one) under the build home, its build_environment read once
        (empty when it was never built: `require` says so where values are needed)."""
        runtime = RuntimeData(build_home(env, option=home))
        cloudhost, build_identifier = runtime.resolve(cloudhost, build_identifier)
        values = BuildEnvironment(runtime.environment_file(cloudhost, build_identifier)).values()
        return cls(runtime.build_home, cloudhost, build_identifier, values)

    # -- where it lives --------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return f"{self.cloudhost}/{self.build_identifier}"

    @property
    def runtime(self) -> RuntimeData:
        return RuntimeData(self.build_home)

    @property
    def dir(self) -> Path:
        return self.runtime.build_dir(self.cloudhost, self.build_identifier)

    @property
    def environment(self) -> BuildEnvironment:
        """build_environment itself, for reading every value of a name or changing one."""
        return BuildEnvironment(self.runtime.environment_file(self.cloudhost, self.build_identifier))

    # -- values ----------------------------------------------------------------------------------
    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def require(self, *names: str) -> None:
        """Refuse a build that was never built, or whose build_environment lacks one of `names`."""
        if not self.values:
            raise AdtError(f"build {self.name} has no build_environment", "build it first (adt build)")
        missing = [name for name in names if not self.values.get(name)]
        if missing:
            raise AdtError(
                f"build {self.name} has no {', '.join(missing)} in {self.environment.path}",
                "build it first (adt build)",
            )

    @property
    def vpc(self) -> str:
        return self.value("VPC_IP_RANGE") or DEFAULT_VPC

    @property
    def region(self) -> str:
        return self.value("REGION", "local")

    @property
    def server_home(self) -> str:
        return f"/home/{self.value('SERVER_USER')}"

    # -- keys and machines -------------------------------------------------------------------------
    @property
    def key(self) -> Path:
        """The build's private ssh key (its `.pub` beside it), as the original names it."""
        algorithm = self.value("ALGORITHM", "ed25519")
        return self.dir / "keys" / f"id_{algorithm}_AGILE_DEPLOYMENT_BUILD_KEY_{self.build_identifier}"

    def known_hosts(self, role: str, ip: str) -> Path:
        return self.dir / "keys" / f"{role}_{ip}keys"

    def target(self, role: str, ip: str) -> remote.Target:
        """How to reach the machine of `role` at `ip` over ssh with the build key."""
        return remote.Target(ip, int(self.value("SSH_PORT")), str(self.key), str(self.known_hosts(role, ip)))

    def driver(self):
        """The cloud host's driver for this build: on `local`, for its VPC; on a provider, with the template's
        credentials, region, system image, build tag and VPC name (ADT_API_URL_<CLOUDHOST> replaces the
        provider's API endpoint: for tests against its fake)."""
        from adt import cloud

        if self.cloudhost == "local":
            return cloud.driver("local", vpc=self.vpc)
        names = ("TOKEN", "ACCESS_KEY", "SECRET_KEY", "BUILDOS", "BUILDOS_VERSION")
        values = {name: self.value(name) for name in names}
        values.update({"REGION": self.region, "BUILD_IDENTIFIER": self.build_identifier})
        return cloud.driver_for(self.cloudhost, values)

    def build_machine_ip(self, driver) -> str:
        """The build machine's address as the fleet's machines see it: on `local`, the VPC's gateway; on a
        provider, BUILD_MACHINE_IP when set, else the address this machine sends from (no packet is sent)."""
        found = getattr(driver, "gateway", "") or self.value("BUILD_MACHINE_IP")
        if found:
            return found
        import socket

        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect(("192.0.2.1", 9))  # a documentation address: connect() on UDP only picks the route
                return probe.getsockname()[0]
        except OSError:
            raise AdtError(
                "the build machine's address is not known (this machine has no route out)",
                "set BUILD_MACHINE_IP in the template to the address the fleet's machines see it at",
            ) from None

    def servers(self, driver, role: Optional[str] = None) -> List:
        """The build's machines (named `<role prefix>-<REGION>-<BUILD_IDENTIFIER>-...` by the build), of `role`
        when given. The one place that says which machines belong to a build."""
        from adt.cloud.base import role_of

        mark = f"-{self.region}-{self.build_identifier}-"
        return [
            server
            for server in driver.list_servers(mark)
            if mark in server.name and (role is None or role_of(server.name) == role)
        ]

    # -- the datastore ---------------------------------------------------------------------------
    def endpoint(self):
        from adt.datastore.endpoints import Endpoint

        self.require("S3_HOST_BASE")
        return Endpoint(
            1,
            self.value("S3_HOST_BASE"),
            self.value("S3_ACCESS_KEY"),
            self.value("S3_SECRET_KEY"),
            self.value("S3_LOCATION"),
        )

    def config_store(self):
        """The build's configuration datastore (its bucket named from WEBSITE_URL and SERVER_USER)."""
        from adt.datastore.config import ConfigDatastore
        from adt.datastore.naming import config_bucket

        self.require("WEBSITE_URL", "SERVER_USER")
        return ConfigDatastore([self.endpoint()], config_bucket(self.value("WEBSITE_URL"), self.value("SERVER_USER")))
