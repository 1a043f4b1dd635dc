"""Firewalls proven by real TCP connections on the local cloud host: a development fleet, an autoscaler
stand-in and a stranger (a machine on the same network that is not in the fleet)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adt.cloud.base import UserData
from adt.cloud.local import LocalDriver
from adt.settings.template import Template
from tests.integration.conftest import BIN, ROOT

VPC = "10.177.0.0/24"
# a probe says open, refused or timeout; anything else (no route, a failed start) is the probe breaking, not a firewall
PROBE = ("import socket, sys\ns = socket.socket(); s.settimeout(1.5)\n"
         "try:\n    s.connect((sys.argv[1], int(sys.argv[2]))); print('open')\n"
         "except ConnectionRefusedError: print('refused')\nexcept socket.timeout: print('timeout')\n"
         "except OSError as e: print('broke', e.errno, e.strerror)\n")
LISTEN = ("import socket, sys, time\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          "s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(64)\nwhile True:\n    c, _ = s.accept(); c.close()\n")


@pytest.fixture(scope="module")
def fw(tmp_path_factory):
    home = tmp_path_factory.mktemp("fwhome")
    state = tmp_path_factory.mktemp("fwstate")
    template = home / "local1.tmpl"
    Template.load(ROOT / "templates/local/local1.tmpl").set("VPC_IP_RANGE", VPC).save(template)
    env = {**os.environ, "BUILD_HOME": str(home), "ADT_LOCAL_STATE": str(state), "PATH": f"{BIN}:{os.environ['PATH']}"}
    os.environ["ADT_LOCAL_STATE"] = str(state)  # this process's driver sees the same machines
    driver = LocalDriver(VPC)
    extra = {}

    def teardown():  # the stand-ins first: the build's destroy then stops the VPC's object storage, the last fleet
        for name in extra:
            driver.destroy_server(name)
        subprocess.run([str(BIN / "adt"), "destroy", "-c", "local", "-b", "fwt", "--yes", "--purge-datastore"],
                       env=env, timeout=120)
        driver.remove_network()
        os.environ.pop("ADT_LOCAL_STATE", None)

    try:
        built = subprocess.run([str(BIN / "adt"), "build", "local", "debian", "1", "fwt", "--template-file",
                                str(template), "--json"], env=env, capture_output=True, text=True, timeout=600)
        assert built.returncode == 0, built.stderr
        info = json.loads(built.stdout)
        key = (home / "runtimedata/local/fwt/keys/id_ed25519_AGILE_DEPLOYMENT_BUILD_KEY_fwt.pub").read_text()
        for name in ("NO-1-as-local-fwt-Xt01", "stranger-local-fwt", "ws-local-fwt-0-Xt01-init-2", "bm-standin-fwt"):
            extra[name] = driver.create_server(name, "local", UserData(), 2222, key).private_ip
    except BaseException:
        teardown()
        raise
    fleet = {"info": info, "env": env, "home": home, "driver": driver, "extra": extra,
             "ws": info["webserver"], "db": info["database"], "as": extra["NO-1-as-local-fwt-Xt01"],
             "stranger": extra["stranger-local-fwt"], "ws2": extra["ws-local-fwt-0-Xt01-init-2"],
             "bm": extra["bm-standin-fwt"]}
    names = {s.private_ip: s.name for s in driver.list_servers("fwt")}
    fleet["names"] = names
    # something listening on 443 on the webserver (nginx serves 80 only until TLS arrives)
    subprocess.Popen([*driver.enter(names[fleet["ws"]]), sys.executable, "-c", LISTEN, fleet["ws"], "443"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for role in ("webserver", "database"):  # these tests reconcile by hand: no cron reconcile in between
            on_ws(fleet, "kill $(cat /run/crond.pid)", role=role)
        publish(fleet, "autoscalerips", fleet["as"])
        reconcile_all(fleet)
        yield fleet
    finally:
        teardown()


def publish(fleet, key, ip, delete=False):
    wrapper = ROOT / "providerscripts/datastore/configwrapper"
    command = f"{wrapper}/DeleteFromConfigDatastore.sh {key}/{ip}" if delete else f"{wrapper}/PutToConfigDatastore.sh {ip} {key}"
    on_ws(fleet, command)


def on_ws(fleet, command, role="webserver"):
    script, ip = ("ExecuteOnWebserver.sh", fleet["ws"]) if role == "webserver" else ("ExecuteOnDatabase.sh", fleet["db"])
    result = subprocess.run([str(ROOT / "helperscripts" / script), command, "--ip", ip], env=fleet["env"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def reconcile_all(fleet):
    on_ws(fleet, "adt firewall reconcile")
    on_ws(fleet, "adt firewall reconcile", role="database")
    native = subprocess.run([str(BIN / "adt"), "firewall", "native", "-c", "local", "-b", "fwt"], env=fleet["env"],
                            capture_output=True, text=True, timeout=60)
    assert native.returncode == 0, native.stderr


def can_connect(fleet, source, ip, port) -> bool:
    """True when the connection opens, False when it is refused or times out (a firewall drops it); any other
    outcome means the probe itself broke, and fails the test rather than counting as a refusal."""
    if source == "build":
        argv = [sys.executable, "-c", PROBE, ip, str(port)]
    else:
        argv = [*fleet["driver"].enter(fleet["names"][fleet[source]]), sys.executable, "-c", PROBE, ip, str(port)]
    probe = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    out = probe.stdout.strip()
    assert probe.returncode == 0 and out in ("open", "refused", "timeout"), \
        f"the probe from {source} to {ip}:{port} broke: exit {probe.returncode}, {out!r} {probe.stderr.strip()!r}"
    return out == "open"


# target -> sources that must connect (every other source must not)
MATRIX = {
    ("ws", "ssh"): {"build", "db", "as"},
    ("db", "ssh"): {"build", "ws", "as"},
    ("db", "db"): {"ws", "as"},
    ("ws", 443): {"build", "db", "as", "stranger"},
}
SOURCES = ("build", "ws", "db", "as", "stranger")


def port_of(fleet, kind):
    return {"ssh": 2222, "db": 2035}.get(kind, kind)


def test_reachability_matrix(fleet_matrix):
    failures = [cell for cell in fleet_matrix if cell[-1] is not None]
    assert not failures, failures


@pytest.fixture(scope="module")
def fleet_matrix(fw):
    cells = []
    for (target, kind), allowed in MATRIX.items():
        for source in SOURCES:
            if source == target:
                continue
            got = can_connect(fw, source, fw[target], port_of(fw, kind))
            wrong = None if got == (source in allowed) else f"expected {'open' if source in allowed else 'closed'}"
            cells.append((source, target, kind, wrong))
    return cells


def test_each_layer_alone_refuses_the_stranger(fw):
    db_name = fw["names"][fw["db"]]
    # the on-machine layer disabled by hand: the native layer still refuses, and the next reconcile restores it
    fw["driver"].run_in(db_name, ["iptables", "-P", "INPUT", "ACCEPT"])
    fw["driver"].run_in(db_name, ["iptables", "-F", "INPUT"])
    assert not can_connect(fw, "stranger", fw["db"], 2222)
    assert can_connect(fw, "ws", fw["db"], 2035)
    assert "applied" in on_ws(fw, "adt firewall reconcile", role="database")
    assert "-P INPUT DROP" in fw["driver"].run_in(db_name, ["iptables", "-S"]).stdout
    # the native layer emptied: the on-machine layer still refuses
    fw["driver"].apply_native_firewall(db_name, [__import__("adt.firewall.policy", fromlist=["Rule"]).Rule("tcp", p, "0.0.0.0/0") for p in (2222, 2035)])
    assert not can_connect(fw, "stranger", fw["db"], 2222) and not can_connect(fw, "stranger", fw["db"], 2035)
    reconcile_all(fw)


def test_a_new_webserver_is_admitted_within_one_reconcile_and_refused_once_gone(fw):
    assert not can_connect(fw, "ws2", fw["db"], 2035)
    publish(fw, "webserverips", fw["ws2"])
    reconcile_all(fw)
    assert can_connect(fw, "ws2", fw["db"], 2035)
    publish(fw, "webserverips", fw["ws2"], delete=True)
    reconcile_all(fw)
    assert not can_connect(fw, "ws2", fw["db"], 2035)


def test_cloudflare_only_web_access(fw, tmp_path):
    ws_name = fw["names"][fw["ws"]]
    settings = fw["driver"].host_path(ws_name, f"/home/{_server_user(fw)}/runtime/webserver_configuration_settings.dat")
    original = settings.read_text()
    # the stranger's address stands in for Cloudflare's ranges: an address of our own
    try:
        settings.write_text(original.replace("DNSCHOICE:NONE", "DNSCHOICE:cloudflare"))
        on_ws(fw, f"cat > /var/www/ranges.txt <<'E'\n{fw['stranger']}/32\nE\n"
                  "adt firewall update-cloudflare-ranges /var/www/ranges.txt && rm /var/www/ranges.txt")
        on_ws(fw, "adt firewall reconcile")
        assert can_connect(fw, "stranger", fw["ws"], 443)
        assert can_connect(fw, "build", fw["ws"], 443)  # the build machine: its checks go over HTTPS
        assert not can_connect(fw, "build", fw["ws"], 80)  # not Cloudflare, not in the fleet
        assert can_connect(fw, "db", fw["ws"], 443)  # the fleet still reaches it
        assert can_connect(fw, "build", fw["ws"], 2222)
    finally:
        settings.write_text(original)
        on_ws(fw, f"rm -f /home/{_server_user(fw)}/runtime/cloudflare-ranges.dat; adt firewall reconcile")


def test_a_failed_reconcile_leaves_the_firewall_closed_and_ssh_open(fw):
    db_name = fw["names"][fw["db"]]
    ports = fw["driver"].host_path(db_name, f"/home/{_server_user(fw)}/runtime/firewallports.dat")
    ports.write_text("DATABASEPORTS:not-a-port\n")
    try:
        result = subprocess.run([str(ROOT / "helperscripts/ExecuteOnDatabase.sh"), "adt firewall reconcile", "--ip", fw["db"]],
                                env=fw["env"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and "firewallports.dat" in result.stderr
        assert "-P INPUT DROP" in fw["driver"].run_in(db_name, ["iptables", "-S"]).stdout
        assert not can_connect(fw, "stranger", fw["db"], 2035)
        assert can_connect(fw, "build", fw["db"], 2222)
        assert not fw["driver"].host_path(db_name, f"/home/{_server_user(fw)}/runtime/firewalllock.file").exists()
    finally:
        ports.unlink()


def test_reconcile_twice_changes_nothing_and_reset_reapplies(fw):
    assert "unchanged" in on_ws(fw, "adt firewall reconcile", role="database")
    shown = on_ws(fw, "adt firewall show", role="database")
    assert f"2035 from {fw['ws']}/32" in shown and "# ssh from the build machine" in shown
    assert f"2035 from {fw['stranger']}" not in shown
    assert "applied" in on_ws(fw, f"{ROOT}/security/ResetFirewall.sh", role="database")
    assert "unchanged" in on_ws(fw, f"{ROOT}/cron/SetupFirewallFromCron.sh", role="database")


def test_ufw_backend_enforces_the_same_policy(fw):
    db_name = fw["names"][fw["db"]]
    styles = fw["driver"].host_path(db_name, f"/home/{_server_user(fw)}/runtime/buildstyles.dat")
    styles.write_text("FIREWALL:ufw\n")
    try:
        fw["driver"].run_in(db_name, ["iptables", "-P", "INPUT", "ACCEPT"])
        fw["driver"].run_in(db_name, ["iptables", "-F"])
        first = on_ws(fw, "adt firewall reconcile", role="database")
        assert first.startswith("ufw:") and "applied" in first
        assert "Status: active" in fw["driver"].run_in(db_name, ["ufw", "status"]).stdout
        assert not can_connect(fw, "stranger", fw["db"], 2222) and not can_connect(fw, "stranger", fw["db"], 2035)
        assert can_connect(fw, "ws", fw["db"], 2035) and can_connect(fw, "build", fw["db"], 2222)
        assert "unchanged" in on_ws(fw, "adt firewall reconcile", role="database")
        assert "ENABLED=no" in Path("/etc/ufw/ufw.conf").read_text()  # this computer's ufw is untouched
    finally:
        styles.unlink()
        on_ws(fw, f"{ROOT}/security/ResetFirewall.sh", role="database")


def test_host_firewall_untouched():
    assert "-P INPUT ACCEPT" in subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout


def _server_user(fw):
    return (fw["home"] / "runtimedata/local/fwt/credentials/SERVERUSER").read_text().strip()


def test_build_machine_firewall_from_authorised_addresses(fw):
    """On a stand-in for the build machine (a machine of its own: this computer's firewall is never touched)."""
    bm = fw["names"][fw["bm"]]
    common = ["-c", "local", "-b", "fwt", "--build-home", str(fw["home"]), "--build-machine-ip", fw["bm"]]

    def adt(*args, inside=False):
        argv = [str(BIN / "adt"), "firewall", *args, *common]
        if inside:
            argv = [*fw["driver"].enter(bm), *argv]
        result = subprocess.run(argv, env=fw["env"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert adt("allow-laptop-ip", fw["ws"]).strip() == f"authorised: {fw['ws']}"
    assert "applied" in adt("adjust-build-machine", "--ssh-port", "2222", inside=True)
    assert can_connect(fw, "ws", fw["bm"], 2222)
    assert not can_connect(fw, "stranger", fw["bm"], 2222) and not can_connect(fw, "db", fw["bm"], 2222)
    assert "no FIREWALL-EVENT" in adt("adjust-build-machine", "--ssh-port", "2222", inside=True)
    adt("allow-laptop-ip", fw["stranger"])
    adt("allow-laptop-ip", fw["ws"], "--remove")
    assert f"open to {fw['stranger']}/32 (applied)" in adt("adjust-build-machine", "--ssh-port", "2222", inside=True)
    assert can_connect(fw, "stranger", fw["bm"], 2222) and not can_connect(fw, "ws", fw["bm"], 2222)
