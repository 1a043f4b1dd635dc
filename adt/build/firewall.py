"""The native firewall, applied from the build machine to every machine of a build."""

from __future__ import annotations

from typing import List, Optional

from adt.errors import AdtError


def apply_native(cloudhost: Optional[str], build_identifier: Optional[str], home_dir: Optional[str]) -> List[str]:
    from adt import cloud
    from adt.cli.build import build_home
    from adt.cloud.base import role_of
    from adt.datastore.config import ConfigDatastore
    from adt.datastore.endpoints import Endpoint
    from adt.datastore.naming import config_bucket
    from adt.firewall import policy
    from adt.firewall.reconcile import SHIPPED_RANGES, parse_ranges
    from adt.settings.runtime import BuildEnvironment, RuntimeData

    runtime = RuntimeData(build_home(home_dir))
    cloudhost, build_identifier = runtime.resolve(cloudhost, build_identifier)
    value = BuildEnvironment(runtime.environment_file(cloudhost, build_identifier)).value
    if value("ACTIVE_FIREWALLS", "3") not in ("2", "3"):
        return [f"native firewall not in use (ACTIVE_FIREWALLS={value('ACTIVE_FIREWALLS')})"]
    if not value("SERVER_USER"):
        raise AdtError(f"build {cloudhost}/{build_identifier} has no build_environment", "build it first")
    endpoint = Endpoint(1, value("S3_HOST_BASE"), value("S3_ACCESS_KEY"), value("S3_SECRET_KEY"), value("S3_LOCATION"))
    store = ConfigDatastore([endpoint], config_bucket(value("WEBSITE_URL"), value("SERVER_USER")))
    members = {key: [e.key.rsplit("/", 1)[1] for e in store.list(key + "/") if not e.is_dir]
               for key in policy.MEMBER_KEYS}
    driver = cloud.driver(cloudhost, vpc=value("VPC_IP_RANGE"))
    settings = {"SSHPORT": value("SSH_PORT"), "DBPORT": value("DB_PORT"), "VPCIPRANGE": value("VPC_IP_RANGE"),
                "BUILDMACHINEIP": getattr(driver, "gateway", ""), "DNSCHOICE": value("DNS_CHOICE"),
                "DATABASEINSTALLATIONTYPE": value("DATABASE_INSTALLATION_TYPE")}
    cloudflare = parse_ranges(SHIPPED_RANGES.read_text(), str(SHIPPED_RANGES))
    done = []
    for server in driver.list_servers(f"-{build_identifier}-"):
        role = role_of(server.name)
        if role not in policy.PORT_LINES:
            continue
        rules = policy.policy(role, settings, members, cloudflare)
        name = driver.apply_native_firewall(server.name, rules)
        done.append(f"{name}: {len([r for r in rules if r.proto == 'tcp'])} rules")
    return done
