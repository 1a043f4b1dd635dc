"""On-machine firewall backends. Each renders rules (pure) and applies them so that a machine is never
open midway: iptables replaces the whole filter table in one `iptables-restore` transaction; ufw adds the
new rules before it deletes the old ones, and is enabled only once its rules are in place."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import List, Sequence, Set, Tuple

from adt.errors import AdtError
from adt.firewall.policy import Rule
from adt.run import announce, dry_run, run


def iptables_ruleset(rules: Sequence[Rule]) -> str:
    """The complete filter table: drop inbound and forwarded traffic unless a rule accepts it."""
    lines = [
        "*filter",
        ":INPUT DROP [0:0]",
        ":FORWARD DROP [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        "-A INPUT -i lo -j ACCEPT",
        "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A INPUT -m conntrack --ctstate INVALID -j DROP",
    ]
    for rule in rules:
        comment = f'-m comment --comment "adt: {rule.why}"' if rule.why else ""
        match = "-p icmp --icmp-type echo-request" if rule.proto == "icmp" else f"-p tcp --dport {rule.port}"
        lines.append(f"-A INPUT -s {rule.source} {match} {comment} -j ACCEPT".replace("  ", " "))
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def ufw_args(rule: Rule) -> List[str]:
    return ["allow", "from", rule.source, "to", "any", "port", str(rule.port), "proto", "tcp"]


Key = Tuple[str, int, str]  # proto, port, source


def ufw_plan(desired: Sequence[Rule], current: Set[Key]) -> Tuple[List[Rule], List[Key]]:
    """What to add and what to delete: adds come first when applied. ICMP echo is ufw's default already."""
    wanted = {r.key(): r for r in desired if r.proto == "tcp"}
    adds = [rule for key, rule in sorted(wanted.items()) if key not in current]
    deletes = sorted(key for key in current if key not in wanted)
    return adds, deletes


def ufw_current(user_rules: str) -> Set[Tuple[str, int, str]]:
    """The allow rules in ufw's user.rules (`### tuple ### allow tcp 22 0.0.0.0/0 any 10.0.0.1 in`)."""
    found = set()
    for match in re.finditer(r"^### tuple ### allow (\w+) (\d+) \S+ \S+ (\S+) in", user_rules, re.M):
        proto, port, source = match.groups()
        found.add(
            (proto, int(port), "0.0.0.0/0" if source == "0.0.0.0/0" else source if "/" in source else f"{source}/32")
        )
    return found


class Iptables:
    name = "iptables"

    def __init__(self, state: Path):
        self.state = state  # where the last applied ruleset's fingerprint is kept

    def live(self) -> str:
        return run(["iptables", "-S"], what="reading the firewall", changes=False).stdout

    def active(self) -> bool:
        return "-P INPUT DROP" in self.live()

    def apply(self, rules: Sequence[Rule]) -> bool:
        """Apply; False when the live firewall already is exactly this ruleset. A dry run prints the ruleset
        it would restore."""
        text = iptables_ruleset(rules)
        fingerprint = hashlib.sha256(text.encode()).hexdigest()
        if self.state.is_file():
            saved, _, live = self.state.read_text().partition("\n")
            if saved == fingerprint and live == self.live():
                return False
        if dry_run():
            announce(f"iptables-restore <<'EOF'\n{text}EOF")  # the command and the whole table it is fed
            return True
        run(["iptables-restore"], input=text, what="applying the firewall (iptables-restore)")
        self.state.parent.mkdir(parents=True, exist_ok=True)
        self.state.write_text(fingerprint + "\n" + self.live())
        return True


class Ufw:
    name = "ufw"

    def __init__(self, state: Path):
        self.state = state

    def active(self) -> bool:
        return "Status: active" in run(["ufw", "status"], check=False, changes=False).stdout

    def apply(self, rules: Sequence[Rule]) -> bool:
        user_rules = Path("/etc/ufw/user.rules")
        current = ufw_current(user_rules.read_text() if user_rules.exists() else "")
        adds, deletes = ufw_plan(rules, current)
        was_active = self.active()
        if not was_active:
            run(["ufw", "default", "deny", "incoming"], what="ufw default deny")
            run(["ufw", "default", "allow", "outgoing"], what="ufw default allow outgoing")
        for rule in adds:  # the new rules first: nothing is ever less closed than before
            run(
                ["ufw", *ufw_args(rule), "comment", f"adt: {rule.why}"],
                what=f"ufw allow {rule.source} port {rule.port}",
            )
        for proto, port, source in deletes:
            run(["ufw", "delete", *ufw_args(Rule(proto, port, source))], what=f"ufw delete {source} port {port}")
        if not was_active:
            run(["ufw", "--force", "enable"], what="enabling ufw")
        return bool(adds or deletes or not was_active)


def backend(name: str, state: Path):
    if name == "iptables":
        return Iptables(state)
    if name == "ufw":
        return Ufw(state)
    raise AdtError(f"unknown firewall {name!r}", "use ufw or iptables (buildstyles.dat FIREWALL:…)")
