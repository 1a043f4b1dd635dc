"""Who may reach what on a machine of each role. Pure: settings, membership and ranges in, rules out.

The seed's policy, made exact with the fleet's membership as the machines publish it in the
configuration datastore:
- inbound is denied unless a rule allows it;
- SSH only from the build machine and from the fleet's machines (published addresses);
- the database port only from webservers and autoscalers;
- 443 and 80 on the public tier (webservers, reverse proxies, authenticators) from anywhere, or only
  from Cloudflare's ranges when DNS is Cloudflare's; always from the fleet;
- ICMP echo from the VPC range (health checks), nothing else from it;
- custom ports from firewallports.dat (`port|ipv4|cidr[|DELETE]`, or `cloudflare|ipv4|cloudflare`).
The build machine's SSH rule is always present, so no policy can lock it out.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Sequence

from adt.errors import AdtError

ANYWHERE = "0.0.0.0/0"
PUBLIC_ROLES = ("webserver", "reverseproxy", "authenticator")
PORT_LINES = {
    "webserver": "WEBSERVERPORTS",
    "reverseproxy": "REVERSEPROXYPORTS",
    "autoscaler": "AUTOSCALERPORTS",
    "database": "DATABASEPORTS",
    "authenticator": "AUTHENTICATORPORTS",
}
MEMBER_KEYS = ("webserverips", "autoscalerips", "databaseip", "reverseproxyips", "authenticatorip")


@dataclass(frozen=True, order=True)
class Rule:
    proto: str  # tcp | icmp
    port: int  # 0 for icmp
    source: str  # an address or a CIDR range
    why: str = ""

    def key(self):
        return (self.proto, self.port, self.source)


def cidr(value: str, what: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise AdtError(f"{what}: {value!r} is not an address or network range") from None


def parse_ports(text: str, role: str) -> List[tuple]:
    """The custom port tokens of a role's line in firewallports.dat: (port, source, delete)."""
    wanted = PORT_LINES[role] + ":"
    found: List[tuple] = []
    for line in text.splitlines():
        if not line.startswith(wanted):
            continue
        for token in line[len(wanted) :].split():
            fields = token.split("|")
            if fields[0] == "cloudflare":
                found.append(("cloudflare", "cloudflare", False))
                continue
            if len(fields) < 3 or not fields[0].isdigit() or not 0 < int(fields[0]) < 65536 or fields[1] != "ipv4":
                raise AdtError(f"firewallports.dat: {role} token {token!r} is not port|ipv4|cidr[|DELETE]")
            found.append(
                (
                    int(fields[0]),
                    cidr(fields[2], f"firewallports.dat token {token}"),
                    len(fields) > 3 and fields[3] == "DELETE",
                )
            )
    return found


def policy(
    role: str,
    settings: Mapping[str, str],
    members: Mapping[str, Sequence[str]],
    cloudflare: Iterable[str] = (),
    custom_ports: str = "",
) -> List[Rule]:
    """The inbound rules of a machine. `settings` uses the machine settings keys (SSHPORT, DBPORT,
    VPCIPRANGE, BUILDMACHINEIP, DNSCHOICE, DATABASEINSTALLATIONTYPE)."""
    if role not in PORT_LINES:
        raise AdtError(f"no firewall policy for role {role!r}", f"use one of: {', '.join(PORT_LINES)}")
    ssh = int(settings.get("SSHPORT") or 22)
    build_machine = settings.get("BUILDMACHINEIP", "")
    if not build_machine:
        raise AdtError(
            "BUILDMACHINEIP is not set: the build machine would be locked out",
            "add BUILDMACHINEIP to the machine settings file",
        )
    cloudflare = [cidr(c, "Cloudflare range") for c in cloudflare]
    fleet = sorted({ip for key in MEMBER_KEYS for ip in members.get(key, ())})
    rules = [Rule("tcp", ssh, cidr(build_machine, "BUILDMACHINEIP"), "ssh from the build machine")]
    rules += [Rule("tcp", ssh, cidr(ip, "fleet member"), "ssh within the fleet") for ip in fleet]
    vpc = settings.get("VPCIPRANGE", "")
    if vpc:
        rules.append(Rule("icmp", 0, cidr(vpc, "VPCIPRANGE"), "ping within the VPC"))
    if role == "database" and settings.get("DATABASEINSTALLATIONTYPE", "") != "DBaaS":
        port = int(settings.get("DBPORT") or 3306)
        clients = sorted(set(members.get("webserverips", ())) | set(members.get("autoscalerips", ())))
        rules += [
            Rule("tcp", port, cidr(ip, "database client"), "database from webservers and autoscalers") for ip in clients
        ]
    if role in PUBLIC_ROLES:
        only_cloudflare = settings.get("DNSCHOICE", "") == "cloudflare"
        if only_cloudflare and not cloudflare:
            raise AdtError(
                "DNS is Cloudflare's but no Cloudflare ranges are known", "adt firewall update-cloudflare-ranges FILE"
            )
        sources = cloudflare if only_cloudflare else [ANYWHERE]
        for port in (443, 80):
            rules += [
                Rule("tcp", port, s, "web from Cloudflare" if only_cloudflare else "web from anywhere") for s in sources
            ]
            rules += [Rule("tcp", port, cidr(ip, "fleet member"), "web within the fleet") for ip in fleet]
        # the build's checks and `adt status` ask each webserver over HTTPS (the original opens 443 to it too)
        rules.append(Rule("tcp", 443, cidr(build_machine, "BUILDMACHINEIP"), "https from the build machine"))
    deleted = set()
    for port, source, delete in parse_ports(custom_ports, role):
        sources = cloudflare if source == "cloudflare" else [source]
        port = 443 if port == "cloudflare" else port
        for s in sources:
            (deleted.add((port, s)) if delete else rules.append(Rule("tcp", port, s, "custom port")))
    unique: Dict[tuple, Rule] = {}
    for rule in rules:
        if (rule.port, rule.source) in deleted and rule.why == "custom port":
            continue
        unique.setdefault(rule.key(), rule)
    return sorted(unique.values(), key=lambda r: (r.proto, r.port, r.source))


def build_machine_policy(ssh_port: int, laptop_ip: str, authorised: Iterable[str]) -> List[Rule]:
    """The build machine's own inbound rules: its SSH port only from the laptop and the authorised
    addresses (authorised-ips.dat); refused when that would admit nobody."""
    sources = sorted({cidr(ip, "authorised address") for ip in [laptop_ip, *authorised] if ip and ip != "BYPASS"})
    if not sources:
        raise AdtError(
            "no address may reach the build machine's SSH: this would lock everyone out",
            "set LAPTOP_IP, or allow an address with AllowLaptopIP.sh",
        )
    rules = [Rule("tcp", int(ssh_port), source, "ssh to the build machine") for source in sources]
    rules += [Rule("icmp", 0, source, "ping the build machine") for source in sources]
    return sorted(rules, key=lambda r: (r.proto, r.port, r.source))
