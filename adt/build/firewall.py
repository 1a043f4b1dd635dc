"""The native firewall, applied from the build machine to every machine of a build: the same policy as each
machine's own layer, from the same published membership, through the cloud driver."""

from __future__ import annotations

from typing import List

from adt.build.config import BuildConfig


def apply_native(config: BuildConfig, driver=None) -> List[str]:
    """One line per machine whose native firewall was applied (or, in a dry run, would be)."""
    from adt.cloud.base import role_of
    from adt.firewall import policy
    from adt.firewall.reconcile import SHIPPED_RANGES, members, parse_ranges

    if config.value("ACTIVE_FIREWALLS", "3") not in ("2", "3"):
        return [f"native firewall not in use (ACTIVE_FIREWALLS={config.value('ACTIVE_FIREWALLS')})"]
    config.require("SERVER_USER")
    fleet = members(config.config_store())
    driver = driver or config.driver()
    settings = {
        "SSHPORT": config.value("SSH_PORT"),
        "DBPORT": config.value("DB_PORT"),
        "VPCIPRANGE": config.value("VPC_IP_RANGE"),
        "BUILDMACHINEIP": config.build_machine_ip(driver),
        "DNSCHOICE": config.value("DNS_CHOICE"),
        "DATABASEINSTALLATIONTYPE": config.value("DATABASE_INSTALLATION_TYPE"),
    }
    cloudflare = parse_ranges(SHIPPED_RANGES.read_text(), str(SHIPPED_RANGES))
    done = []
    for server in config.servers(driver):
        role = role_of(server.name)
        if role not in policy.PORT_LINES:
            continue
        rules = policy.policy(role, settings, fleet, cloudflare)
        name = driver.apply_native_firewall(server.name, rules)
        done.append(f"{name}: {len([r for r in rules if r.proto == 'tcp'])} rules")
    return done
