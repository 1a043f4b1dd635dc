"""The build machine's configuration (one build, read once), its one build-home rule, and choosing a machine."""

import json
import os

import pytest

from adt import remote
from adt.build import fleet
from adt.build.config import BuildConfig
from adt.cli import main
from adt.cloud.local import LocalDriver
from adt.errors import AdtError
from adt.settings import paths
from adt.settings.runtime import BuildEnvironment

ENVIRONMENT = ('SSH_PORT=1035\nREGION="local"\nVPC_IP_RANGE=10.199.0.0/24\nSERVER_USER=XabcdefX\nALGORITHM=rsa\n'
               'WEBSITE_URL=www.example.com\nS3_HOST_BASE=http://127.0.0.1:1\nS3_ACCESS_KEY=ak\nS3_SECRET_KEY=sk\n'
               'S3_LOCATION=US\nREGION=second\n')


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A build home with one build, local/b1, found through BUILD_HOME."""
    for name in ("BUILD_HOME", "ADT_BUILD_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ADT_BUILDHOME_FILE", str(tmp_path / "no-buildhome.dat"))
    monkeypatch.setenv("ADT_LOCAL_STATE", str(tmp_path / "state"))
    build = tmp_path / "home" / "runtimedata" / "local" / "b1"
    build.mkdir(parents=True)
    (build / "build_environment").write_text(ENVIRONMENT)
    return tmp_path / "home"


def test_build_environment_values_are_each_name_first_value(tmp_path):
    path = tmp_path / "build_environment"
    path.write_text(ENVIRONMENT + "TOKEN=a=b\nnot a variable\n")
    values = BuildEnvironment(path).values()
    assert values["REGION"] == "local" and values["TOKEN"] == "a=b" and "not a variable" not in values
    assert all(values[name] == BuildEnvironment(path).value(name) for name in values)
    assert BuildEnvironment(tmp_path / "missing").values() == {}


def test_config_is_read_once_and_derives_keys_and_targets(home, monkeypatch):
    config = BuildConfig.load("local", "b1", str(home))
    assert (config.name, config.dir) == ("local/b1", home / "runtimedata" / "local" / "b1")
    (config.dir / "build_environment").write_text("SSH_PORT=9\n")  # read once: later changes are not seen
    assert config.value("SSH_PORT") == "1035" and config.region == "local" and config.vpc == "10.199.0.0/24"
    assert config.key == config.dir / "keys" / "id_rsa_AGILE_DEPLOYMENT_BUILD_KEY_b1"
    assert config.target("database", "10.199.0.3") == remote.Target(
        "10.199.0.3", 1035, str(config.key), str(config.dir / "keys" / "database_10.199.0.3keys"))
    assert config.server_home == "/home/XabcdefX"
    endpoint = config.endpoint()
    assert (endpoint.host_base, endpoint.access_key, endpoint.secret_key, endpoint.location) == \
        ("http://127.0.0.1:1", "ak", "sk", "US")
    assert config.config_store().bucket == "www-example-com-config-xabc"


def test_config_defaults_and_refusals(home):
    fresh = BuildConfig.load("local", "never", str(home))
    assert fresh.values == {} and fresh.vpc == "10.171.0.0/24" and fresh.region == "local"
    with pytest.raises(AdtError) as error:
        fresh.require("SSH_PORT")
    assert (error.value.message, error.value.hint) == ("build local/never has no build_environment",
                                                       "build it first (adt build)")
    partial = BuildConfig(home, "local", "b2", {"SSH_PORT": "22", "S3_HOST_BASE": ""})
    with pytest.raises(AdtError, match="^build local/b2 has no S3_HOST_BASE in .*/local/b2/build_environment "):
        partial.endpoint()
    with pytest.raises(AdtError, match="no build given and .*ACTIVE_CLOUDHOST is not set"):
        BuildConfig.load(home=str(home))


def _machine(driver: LocalDriver, name: str, ip: str, holder: int) -> None:
    from adt.cloud.base import role_of

    record = driver.state / name / "machine.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"name": name, "ip": ip, "switch": driver.switch, "holder": holder,
                                  "role": role_of(name)}))


def test_a_build_s_machines_are_its_own_by_region_and_identifier(home):
    config = BuildConfig.load("local", "b1", str(home))
    driver = LocalDriver(config.vpc)
    mine = {"ws-local-b1-0-Xab-init-1": "10.199.0.2", "db-local-b1-Xab": "10.199.0.3",
            "NO-1-as-local-b1-Xab": "10.199.0.4"}
    others = {"ws-local-b12-0-Xcd-init-1": "10.199.0.5",  # build b12: "ws-local-b1" is a prefix of its name
              "ws-lon1-b1-0-Xef-init-1": "10.199.0.6",  # the same identifier in another region
              "stranger-local-b1": "10.199.0.7"}
    for name, ip in {**mine, **others}.items():
        _machine(driver, name, ip, os.getpid())
    assert sorted(s.name for s in config.servers(driver)) == sorted(mine)
    assert [s.name for s in config.servers(driver, "webserver")] == ["ws-local-b1-0-Xab-init-1"]
    # the only webserver of b1 is chosen without asking, though b12 has one too
    assert fleet.pick(config, "webserver", driver=driver) == config.target("webserver", "10.199.0.2")
    assert fleet.running_ips(config, "autoscaler", driver) == ["10.199.0.4"]


def test_choose_a_machine():  # the whole choice: tests/unit/test_fleet_choice.py
    one, two = fleet.Machine("ws-1", "10.0.0.2"), fleet.Machine("ws-2", "10.0.0.3")
    assert fleet.choose([one], None, "webserver", "local/b1") == one
    assert fleet.choose([one, two], "10.0.0.3", "webserver", "local/b1") == two
    assert fleet.choose([one, two], None, "webserver", "local/b1") is None  # someone must choose
    with pytest.raises(AdtError, match="^no running database in build local/b1$"):
        fleet.choose([], None, "database", "local/b1")
    with pytest.raises(AdtError, match="^10.0.0.9 is not a webserver of local/b1") as error:
        fleet.choose([one, two], "10.0.0.9", "webserver", "local/b1")
    assert error.value.hint == "its webservers: 1: 10.0.0.2 (ws-1), 2: 10.0.0.3 (ws-2)"


def test_pick_asks_among_several_or_says_to_pass_ip(home):
    config = BuildConfig.load("local", "b1", str(home))
    driver = LocalDriver(config.vpc)
    for name, ip in {"ws-local-b1-0-Xab-init-1": "10.199.0.2", "ws-local-b1-1-Xab-init-1": "10.199.0.8"}.items():
        _machine(driver, name, ip, os.getpid())
    assert fleet.pick(config, "webserver", ask=lambda ips: ips[-1], driver=driver).host == "10.199.0.8"
    with pytest.raises(AdtError, match="^build local/b1 has 2 webservers: say which \\(") as error:
        fleet.pick(config, "webserver", driver=driver)
    assert error.value.hint == ("pass --machine with a number, an address or a name: "
                                "1: 10.199.0.2 (ws-local-b1-0-Xab-init-1), 2: 10.199.0.8 (ws-local-b1-1-Xab-init-1)")


def test_fleet_command_lines_are_exact(home):
    config = BuildConfig.load("local", "b1", str(home))
    target = config.target("webserver", "10.199.0.2")
    options = ["-p", "1035", "-i", f"{config.dir}/keys/id_rsa_AGILE_DEPLOYMENT_BUILD_KEY_b1",
               "-o", f"UserKnownHostsFile={config.dir}/keys/webserver_10.199.0.2keys",
               "-o", "StrictHostKeyChecking=accept-new", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5",
               "-o", "LogLevel=ERROR"]
    assert fleet.execute_command(target, "hostname; exit 4") == \
        ["ssh", *options, "-o", "BatchMode=yes", "root@10.199.0.2", "hostname; exit 4"]
    assert fleet.connect_command(target) == ["ssh", *options, "root@10.199.0.2"]
    assert fleet.adt_command(target, ["backup", "run", "SHUTDOWN", "--force"]) == \
        ["ssh", *options, "-o", "BatchMode=yes", "root@10.199.0.2", "adt backup run SHUTDOWN --force"]


def _cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_build_side_command_finds_the_build_home_by_one_rule(home, capsys, monkeypatch):
    """No BUILD_HOME and no /home/buildhome.dat: the toolkit checkout adt runs from is the build home, for
    `adt variable` as for `adt fleet` and `adt destroy` (variable used to fail where fleet used the checkout)."""
    (home / "ExpeditedAgileDeploymentToolkit.sh").write_text("#!/bin/sh\n")
    monkeypatch.setattr(paths, "TOOLKIT", home)
    assert _cli(capsys, "variable", "get", "REGION", "-c", "local", "-b", "b1") == (0, "local\nsecond\n", "")
    code, _, err = _cli(capsys, "fleet", "exec", "hostname", "-r", "webserver", "-c", "local", "-b", "b1")
    assert code == 1 and err == "adt: no running webserver in build local/b1\n"
    assert _cli(capsys, "destroy", "-c", "local", "-b", "b1", "--dry-run")[1] == \
        "would destroy 0 machine(s) of local/b1\n"
    (home / "ExpeditedAgileDeploymentToolkit.sh").unlink()  # an installed adt: no checkout to fall back on
    for command in (["variable", "get", "REGION"], ["fleet", "exec", "hostname", "-r", "webserver"]):
        code, _, err = _cli(capsys, *command, "-c", "local", "-b", "b1")
        assert code == 1 and "cannot tell the build home: no --build-home, BUILD_HOME" in err
    code, out, _ = _cli(capsys, "variable", "get", "--help")
    assert code == 0 and "else the adt checkout holding ExpeditedAgileDeploymentToolkit.sh" in " ".join(out.split())
