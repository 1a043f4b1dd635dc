"""Pure pieces of the fleet: ssh command lines, role names, machine paths, machine configuration."""

import pytest

from adt import remote
from adt.cloud.base import role_of
from adt.cloud.local import (
    NATIVE_TABLE,
    PRIVATE_DIRS,
    LocalDriver,
    forget_chain,
    machine_steps,
    native_chain,
    network_steps,
    nft,
)
from adt.errors import AdtError
from adt.machine.bootstrap import _mysql_host_pattern, wordpress_config
from adt.settings.machine import MachineSettings

TARGET = remote.Target("10.0.0.5", 1035, "/k/id_ed25519", "/k/webserver_10.0.0.5keys")


def test_ssh_command_line():
    assert remote.ssh(TARGET, ["test", "-f", "/x"]) == [
        "ssh", "-p", "1035", "-i", "/k/id_ed25519", "-o", "UserKnownHostsFile=/k/webserver_10.0.0.5keys",
        "-o", "StrictHostKeyChecking=accept-new", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5",
        "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "root@10.0.0.5", "test -f /x"]
    assert remote.ssh(TARGET, interactive=True) == [
        "ssh", "-p", "1035", "-i", "/k/id_ed25519", "-o", "UserKnownHostsFile=/k/webserver_10.0.0.5keys",
        "-o", "StrictHostKeyChecking=accept-new", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5",
        "-o", "LogLevel=ERROR", "root@10.0.0.5"]
    assert remote.ssh(TARGET, ["adt", "baseline", "website", "my site; rm -rf /", "$HOME", "it's"])[-1] == \
        "adt baseline website 'my site; rm -rf /' '$HOME' 'it'\"'\"'s'"
    assert remote.ssh_shell(TARGET, "ls /var/www | wc -l") == [
        "ssh", "-p", "1035", "-i", "/k/id_ed25519", "-o", "UserKnownHostsFile=/k/webserver_10.0.0.5keys",
        "-o", "StrictHostKeyChecking=accept-new", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5",
        "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "root@10.0.0.5", "ls /var/www | wc -l"]


def test_scp_uses_capital_p_for_the_port():
    options = ["-P", "1035", "-i", "/k/id_ed25519", "-o", "UserKnownHostsFile=/k/webserver_10.0.0.5keys",
               "-o", "StrictHostKeyChecking=accept-new", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5",
               "-o", "LogLevel=ERROR", "-o", "BatchMode=yes"]
    assert remote.scp_to(TARGET, "a.txt", "/home/u/") == ["scp", "-q", "-r", *options, "a.txt",
                                                          "root@10.0.0.5:/home/u/"]
    assert remote.scp_from(TARGET, "/etc/x", ".") == ["scp", "-q", "-r", *options, "root@10.0.0.5:/etc/x", "."]


def test_local_network_steps_are_exact():
    assert network_steps("adt-sw-1a2b3c4d", "adth1a2b3c4d", "10.171.0.1", 24) == [
        ["ip", "netns", "add", "adt-sw-1a2b3c4d"],
        ["ip", "-n", "adt-sw-1a2b3c4d", "link", "add", "br0", "type", "bridge"],
        ["ip", "-n", "adt-sw-1a2b3c4d", "link", "set", "br0", "up"],
        ["ip", "-n", "adt-sw-1a2b3c4d", "link", "set", "lo", "up"],
        ["ip", "link", "add", "adth1a2b3c4d", "type", "veth", "peer", "name", "up0", "netns", "adt-sw-1a2b3c4d"],
        ["ip", "-n", "adt-sw-1a2b3c4d", "link", "set", "up0", "master", "br0", "up"],
        ["ip", "addr", "add", "10.171.0.1/24", "dev", "adth1a2b3c4d"],
        ["ip", "link", "set", "adth1a2b3c4d", "up"]]
    assert machine_steps("adt-sw-1a2b3c4d", "adt-db-local-b1-Xab", "v0123456789a", "10.171.0.2", 24) == [
        ["ip", "netns", "add", "adt-db-local-b1-Xab"],
        ["ip", "-n", "adt-sw-1a2b3c4d", "link", "add", "v0123456789a", "type", "veth", "peer", "name", "eth0",
         "netns", "adt-db-local-b1-Xab"],
        ["ip", "-n", "adt-sw-1a2b3c4d", "link", "set", "v0123456789a", "master", "br0", "up"],
        ["ip", "-n", "adt-db-local-b1-Xab", "addr", "add", "10.171.0.2/24", "dev", "eth0"],
        ["ip", "-n", "adt-db-local-b1-Xab", "link", "set", "eth0", "up"],
        ["ip", "-n", "adt-db-local-b1-Xab", "link", "set", "lo", "up"]]
    driver = LocalDriver("10.171.0.0/24", state_dir="/var/lib/adt/local")
    assert driver.switch.startswith("adt-sw-") and driver.host_veth == "adth" + driver.switch[len("adt-sw-"):]


def test_local_native_firewall_scripts_are_exact():
    from adt.firewall.policy import Rule

    assert nft("adt-sw-1a2b3c4d") == ["ip", "netns", "exec", "adt-sw-1a2b3c4d", "nft", "-f", "-"]
    assert NATIVE_TABLE == (
        "add table bridge adt\n"
        "add chain bridge adt forward { type filter hook forward priority 0; policy accept; }\n"
        "add map bridge adt machines { type ifname : verdict; }\n"
        "add rule bridge adt forward tcp flags & (syn|ack) == syn oifname vmap @machines\n")
    rules = [Rule("tcp", 2222, "10.171.0.1/32"), Rule("icmp", 0, "10.171.0.0/24"), Rule("tcp", 443, "0.0.0.0/0")]
    assert native_chain("v0123456789a", rules) == (
        "add chain bridge adt m_v0123456789a\n"
        "flush chain bridge adt m_v0123456789a\n"
        "add rule bridge adt m_v0123456789a ip saddr 10.171.0.1/32 tcp dport 2222 accept\n"
        "add rule bridge adt m_v0123456789a ip saddr 0.0.0.0/0 tcp dport 443 accept\n"
        "add rule bridge adt m_v0123456789a drop\n"
        'add element bridge adt machines { "v0123456789a" : jump m_v0123456789a }\n')
    assert forget_chain("v0123456789a") == ('delete element bridge adt machines { "v0123456789a" }\n'
                                            "delete chain bridge adt m_v0123456789a\n")


@pytest.mark.parametrize("name, role", [("ws-lon1-b1-0-Xabc-init-1", "webserver"), ("db-lon1-b1-Xabc", "database"),
                                        ("NO-1-as-lon1-b1-Xabc", "autoscaler"), ("NO-1-rp-lon1-b1-X", "reverseproxy"),
                                        ("NO-1-auth-lon1-b1-X", "authenticator"), ("other", "unknown")])
def test_role_of_names(name, role):
    assert role_of(name) == role


def test_host_path_only_inside_private_directories(tmp_path):
    driver = LocalDriver("10.180.0.0/24", state_dir=str(tmp_path))
    assert driver.host_path("m1", "/home/homedir.dat") == tmp_path / "m1" / "root" / "home" / "homedir.dat"
    assert driver.host_path("m1", "/var/www/html/index.php").parts[-4:] == ("var", "www", "html", "index.php")
    with pytest.raises(AdtError, match="not in a machine's private directories"):
        driver.host_path("m1", "/etc/passwd")
    assert "/etc/ufw" in PRIVATE_DIRS and "/run/adt" in PRIVATE_DIRS  # machines never see the host's agent
    assert driver.gateway == "10.180.0.1" and len(driver.host_veth) <= 15


def test_bad_vpc_is_a_clear_error():
    with pytest.raises(AdtError, match="not a network range"):
        LocalDriver("10.0.0.0/99")


def test_database_grant_host_covers_the_vpc():
    assert _mysql_host_pattern("10.171.0.0/24") == "10.171.0.0/255.255.255.0"
    assert _mysql_host_pattern("10.116.3.7/20") == "10.116.0.0/255.255.240.0"


def test_wordpress_config_has_database_and_fresh_salts(tmp_path):
    path = tmp_path / "s.dat"
    path.write_text("DBNAME:nabcn\nDBUSERNAME:uxyzu\nDBPASSWORD:psecretp\nDBPORT:2035\n")
    settings = MachineSettings.load(path)
    one, two = wordpress_config(settings, "10.0.0.2"), wordpress_config(settings, "10.0.0.2")
    assert "define('DB_HOST', '10.0.0.2:2035');" in one and "define('DB_NAME', 'nabcn');" in one
    assert one != two  # salts differ on every machine
    assert one.startswith("<?php") and "require_once ABSPATH . 'wp-settings.php';" in one
