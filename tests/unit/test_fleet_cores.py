"""Pure pieces of the fleet: ssh command lines, role names, machine paths, machine configuration."""

import pytest

from adt import remote
from adt.cloud.base import role_of
from adt.cloud.local import PRIVATE_DIRS, LocalDriver
from adt.errors import AdtError
from adt.machine.bootstrap import _mysql_host_pattern, wordpress_config
from adt.settings.machine import MachineSettings

TARGET = remote.Target("10.0.0.5", 1035, "/k/id_ed25519", "/k/webserver_10.0.0.5keys")


def test_ssh_command_line():
    assert remote.ssh(TARGET, ["test", "-f", "/x"]) == [
        "ssh", "-p", "1035", "-i", "/k/id_ed25519", "-o", "UserKnownHostsFile=/k/webserver_10.0.0.5keys",
        "-o", "StrictHostKeyChecking=accept-new", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5",
        "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "root@10.0.0.5", "test -f /x"]
    assert "BatchMode=yes" not in remote.ssh(TARGET, interactive=True)
    assert remote.ssh(TARGET, ["adt", "baseline", "website", "my site; rm -rf /", "$HOME", "it's"])[-1] == \
        "adt baseline website 'my site; rm -rf /' '$HOME' 'it'\"'\"'s'"
    assert remote.ssh_shell(TARGET, "ls /var/www | wc -l")[-2:] == ["root@10.0.0.5", "ls /var/www | wc -l"]


def test_scp_uses_capital_p_for_the_port():
    to = remote.scp_to(TARGET, "a.txt", "/home/u/")
    assert to[:4] == ["scp", "-q", "-r", "-P"] and to[-2:] == ["a.txt", "root@10.0.0.5:/home/u/"]
    assert remote.scp_from(TARGET, "/etc/x", ".")[-2:] == ["root@10.0.0.5:/etc/x", "."]


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
