"""Firewall policy for each role and mode, the backends' rendering, the reconcile lock."""

import os
import re
import time

import pytest

from adt.errors import AdtError
from adt.firewall.backends import Iptables, iptables_ruleset, ufw_current, ufw_plan
from adt.firewall.policy import ANYWHERE, Rule, build_machine_policy, parse_ports, policy
from adt.firewall.reconcile import Lock, parse_ranges

SETTINGS = {"SSHPORT": "1035", "DBPORT": "2035", "VPCIPRANGE": "10.0.0.0/24", "BUILDMACHINEIP": "10.0.0.1"}
MEMBERS = {"webserverips": ["10.0.0.3", "10.0.0.4"], "autoscalerips": ["10.0.0.5"], "databaseip": ["10.0.0.2"]}
CLOUDFLARE = ["173.245.48.0/20", "103.21.244.0/22"]


def allowed(rules, port):
    return {r.source for r in rules if r.port == port and r.proto == "tcp"}


@pytest.mark.parametrize("role", ["webserver", "database", "autoscaler", "reverseproxy", "authenticator"])
def test_ssh_only_from_build_machine_and_fleet(role):
    rules = policy(role, SETTINGS, MEMBERS)
    assert allowed(rules, 1035) == {"10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32", "10.0.0.4/32", "10.0.0.5/32"}
    assert Rule("icmp", 0, "10.0.0.0/24", "ping within the VPC") in rules
    assert not any(r.source == "10.0.0.0/24" and r.proto == "tcp" for r in rules)  # the VPC opens no port


def test_database_port_only_from_webservers_and_autoscalers():
    rules = policy("database", SETTINGS, MEMBERS)
    assert allowed(rules, 2035) == {"10.0.0.3/32", "10.0.0.4/32", "10.0.0.5/32"}
    assert allowed(rules, 443) == set()
    assert allowed(policy("database", {**SETTINGS, "DATABASEINSTALLATIONTYPE": "DBaaS"}, MEMBERS), 2035) == set()
    assert allowed(policy("webserver", SETTINGS, MEMBERS), 2035) == set()


def test_web_from_anywhere_or_only_cloudflare():
    web = policy("webserver", SETTINGS, MEMBERS, CLOUDFLARE)
    assert ANYWHERE in allowed(web, 443) and ANYWHERE in allowed(web, 80)
    cloudflare = policy("webserver", {**SETTINGS, "DNSCHOICE": "cloudflare"}, MEMBERS, CLOUDFLARE)
    # Cloudflare, the fleet, and the build machine (its checks and `adt status` go over HTTPS)
    assert allowed(cloudflare, 443) == set(CLOUDFLARE) | {f"10.0.0.{i}/32" for i in (1, 2, 3, 4, 5)}
    assert "10.0.0.1/32" not in allowed(cloudflare, 80)
    assert ANYWHERE not in allowed(cloudflare, 80)
    assert allowed(policy("autoscaler", SETTINGS, MEMBERS, CLOUDFLARE), 443) == set()
    with pytest.raises(AdtError, match="no Cloudflare ranges"):
        policy("webserver", {**SETTINGS, "DNSCHOICE": "cloudflare"}, MEMBERS, [])


def test_build_machine_can_never_be_locked_out():
    with pytest.raises(AdtError, match="BUILDMACHINEIP"):
        policy("webserver", {**SETTINGS, "BUILDMACHINEIP": ""}, MEMBERS)
    assert allowed(policy("database", SETTINGS, {}), 1035) == {"10.0.0.1/32"}


def test_custom_ports_add_delete_and_cloudflare():
    text = ("WEBSERVERPORTS:8080|ipv4|10.9.0.0/16 9000|ipv4|1.2.3.4 cloudflare|ipv4|cloudflare\n"
            "DATABASEPORTS:5432|ipv4|10.0.0.7\n")
    rules = policy("webserver", SETTINGS, MEMBERS, CLOUDFLARE, text)
    assert allowed(rules, 8080) == {"10.9.0.0/16"} and allowed(rules, 9000) == {"1.2.3.4/32"}
    assert set(CLOUDFLARE) <= allowed(rules, 443)
    removed = policy("webserver", SETTINGS, MEMBERS, CLOUDFLARE, text + "WEBSERVERPORTS:8080|ipv4|10.9.0.0/16|DELETE\n")
    assert allowed(removed, 8080) == set()
    assert parse_ports(text, "database") == [(5432, "10.0.0.7/32", False)]


@pytest.mark.parametrize("token", ["http|ipv4|1.2.3.4", "80|ipv6|::1", "80|ipv4|nowhere", "70000|ipv4|1.2.3.4", "80"])
def test_bad_custom_port_tokens_are_named(token):
    with pytest.raises(AdtError, match="firewallports.dat"):
        policy("webserver", SETTINGS, MEMBERS, CLOUDFLARE, f"WEBSERVERPORTS:{token}\n")


def test_unknown_role():
    with pytest.raises(AdtError, match="no firewall policy"):
        policy("printer", SETTINGS, MEMBERS)


def test_iptables_ruleset_is_one_whole_table():
    text = iptables_ruleset(policy("database", SETTINGS, MEMBERS))
    lines = text.splitlines()
    assert lines[:4] == ["*filter", ":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]"]
    assert lines[-1] == "COMMIT"
    assert ('-A INPUT -s 10.0.0.1/32 -p tcp --dport 1035 -m comment --comment "adt: ssh from the build machine" '
            "-j ACCEPT") in lines
    assert "-A INPUT -s 10.0.0.0/24 -p icmp --icmp-type echo-request" in text


def test_a_dry_run_prints_the_whole_iptables_ruleset_and_writes_nothing(tmp_path, monkeypatch):
    from adt.run import dry_running

    monkeypatch.setenv("PATH", str(tmp_path))  # no iptables: a dry run that ran it would fail, never touch the host
    state = tmp_path / "firewall-applied"
    state.write_text("an older fingerprint\n-P INPUT DROP\n")
    rules = [Rule("tcp", 1035, "10.0.0.1/32", "ssh from the build machine")]
    lines = []
    with dry_running(echo=lines.append):
        assert Iptables(state).apply(rules) is True
    assert lines == ["would run: iptables-restore <<'EOF'\n*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n"
                     ":OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n"
                     "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
                     "-A INPUT -m conntrack --ctstate INVALID -j DROP\n"
                     '-A INPUT -s 10.0.0.1/32 -p tcp --dport 1035 -m comment '
                     '--comment "adt: ssh from the build machine" -j ACCEPT\nCOMMIT\nEOF']
    assert state.read_text() == "an older fingerprint\n-P INPUT DROP\n"


def test_ufw_plan_adds_before_it_deletes_and_ignores_icmp():
    desired = policy("database", SETTINGS, MEMBERS)
    current = {("tcp", 1035, "10.0.0.1/32"), ("tcp", 2035, "10.0.0.9/32")}
    adds, deletes = ufw_plan(desired, current)
    assert ("tcp", 1035, "10.0.0.1/32") not in [r.key() for r in adds]
    assert deletes == [("tcp", 2035, "10.0.0.9/32")]
    assert all(r.proto == "tcp" for r in adds)


def test_ufw_current_reads_user_rules():
    text = ("### tuple ### allow tcp 22 0.0.0.0/0 any 10.0.0.1 in comment=616474\n"
            "-A ufw-user-input -p tcp --dport 22 -s 10.0.0.1 -j ACCEPT\n"
            "### tuple ### allow tcp 443 0.0.0.0/0 any 0.0.0.0/0 in\n"
            "### tuple ### deny tcp 25 0.0.0.0/0 any 0.0.0.0/0 in\n")
    assert ufw_current(text) == {("tcp", 22, "10.0.0.1/32"), ("tcp", 443, "0.0.0.0/0")}


def test_lock_is_exclusive_and_stale_after_20_minutes(tmp_path):
    path = tmp_path / "firewalllock.file"
    with Lock(path) as first:
        assert first
        with Lock(path) as second:
            assert not second
        assert path.exists()
    assert not path.exists()
    path.write_text("12345\n")
    old = time.time() - 21 * 60
    os.utime(path, (old, old))
    with Lock(path) as taken:
        assert taken


def test_cloudflare_ranges_are_checked():
    assert parse_ranges("# comment\n173.245.48.0/20\n", "f") == ["173.245.48.0/20"]
    for bad, why in (("", "f: expected 1-200 ranges, found 0"), ("not-a-range\n", "f:1: 'not-a-range' is not an IPv4"),
                     ("2400:cb00::/32\n", "f:1: '2400:cb00::/32' is not IPv4"),
                     ("10.0.0.1/8\n", "f:1: '10.0.0.1/8' is not an IPv4 network range")):
        with pytest.raises(AdtError, match=re.escape(why)):
            parse_ranges(bad, "f")


def test_build_machine_policy_admits_laptop_and_authorised_only():
    rules = build_machine_policy(1035, "203.0.113.7", ["198.51.100.0/24", "203.0.113.7"])
    assert allowed(rules, 1035) == {"203.0.113.7/32", "198.51.100.0/24"}
    assert allowed(build_machine_policy(22, "BYPASS", ["10.0.0.9"]), 22) == {"10.0.0.9/32"}
    with pytest.raises(AdtError, match="lock everyone out"):
        build_machine_policy(22, "BYPASS", [])
    with pytest.raises(AdtError, match="not an address"):
        build_machine_policy(22, "laptop", [])


@pytest.mark.parametrize("active", ["0", "2"])
def test_on_machine_layer_is_off_unless_active_firewalls_is_1_or_3(tmp_path, active):
    from adt.firewall.reconcile import reconcile
    from adt.settings.machine import MachineSettings

    path = tmp_path / "database_configuration_settings.dat"
    path.write_text(f"ACTIVEFIREWALLS:{active}\n")  # nothing else: it must not get as far as the datastore
    message = reconcile(MachineSettings.load(path), tmp_path, "database")
    assert message == f"on-machine firewall not in use (ACTIVEFIREWALLS={active})"
    assert not (tmp_path / "runtime").exists()


def test_reconcile_waits_for_a_held_lock_only_when_asked(tmp_path, monkeypatch):
    """The build's reconcile knows of a webserver cron's reconcile may have missed: it waits for cron's lock and
    reconciles itself; cron's own (no wait) reports the lock and stops."""
    import threading

    from adt.firewall import reconcile as module
    from adt.settings.machine import MachineSettings

    path = tmp_path / "database_configuration_settings.dat"
    path.write_text("ACTIVEFIREWALLS:3\n")
    settings = MachineSettings.load(path)
    lock = tmp_path / "runtime" / "firewalllock.file"
    lock.parent.mkdir()
    lock.write_text("1\n")
    monkeypatch.setattr(module, "_apply", lambda settings, home, role: f"applied for {role}")
    assert module.reconcile(settings, tmp_path, "database") == "another reconcile holds runtime/firewalllock.file"
    started = time.monotonic()
    assert module.reconcile(settings, tmp_path, "database", wait=0.5) == (
        "another reconcile holds runtime/firewalllock.file")
    assert time.monotonic() - started >= 0.5
    threading.Timer(0.3, lock.unlink).start()
    assert module.reconcile(settings, tmp_path, "database", wait=10) == "applied for database"
    assert not lock.exists()
