import os
import stat

import pytest
from hypothesis import given, strategies as st

from adt.datastore.endpoints import endpoints_from_settings
from adt.errors import AdtError
from adt.settings import paths
from adt.settings.machine import MachineSettings, store_value


def settings(tmp_path, text):
    path = tmp_path / "webserver_configuration_settings.dat"
    path.write_text(text)
    return MachineSettings.load(path)


def test_value_is_everything_after_the_first_colon(tmp_path):
    s = settings(tmp_path, "DBUSERNAME:admin:::app\nWEBSITEURL:www.a.b\nEMPTY:\n")
    assert s.value("DBUSERNAME") == "admin:::app"
    assert s.value("WEBSITEURL") == "www.a.b"
    assert s.value("EMPTY") == ""
    assert s.value("MISSING") is None
    assert s.value("WEBSITE") is None  # a key is matched whole, up to its colon


def test_values_joins_fields(tmp_path):
    s = settings(tmp_path, "DIRECTORIESTOMOUNT:a:b\nDIRECTORIESTOMOUNT:c\n")
    assert s.values("DIRECTORIESTOMOUNT") == ["a b", "c"]


def test_contains_is_the_original_substring_test(tmp_path):
    s = settings(tmp_path, "ACTIVEFIREWALLS:12\n")
    assert s.contains("ACTIVEFIREWALLS:1")
    assert not s.contains("ACTIVEFIREWALLS:3")
    assert not s.contains("")


def test_require_names_file_and_key(tmp_path):
    s = settings(tmp_path, "A:1\nB:\n")
    for key in ("B", "C"):
        with pytest.raises(AdtError) as err:
            s.require(key)
        assert key in err.value.message and str(s.path) in err.value.message


def test_load_missing_file_names_it(tmp_path):
    with pytest.raises(AdtError, match="does not exist") as err:
        MachineSettings.load(tmp_path / "nope.dat")
    assert "nope.dat" in err.value.message


def test_load_unreadable_file_names_it(tmp_path):
    (tmp_path / "dir.dat").mkdir()
    with pytest.raises(AdtError, match="cannot read settings file"):
        MachineSettings.load(tmp_path / "dir.dat")


def test_store_value_replaces_anchored_and_keeps_mode(tmp_path):
    path = tmp_path / "s.dat"
    path.write_text("FIREWALL:1\nACTIVEFIREWALLS:1\nnocolon\n")
    os.chmod(path, 0o600)
    store_value(path, "FIREWALL", "2")
    assert path.read_text() == "ACTIVEFIREWALLS:1\nFIREWALL:2\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    store_value(path, "BARE")
    assert path.read_text().endswith("FIREWALL:2\nBARE\n")
    assert [p.name for p in tmp_path.iterdir()] == ["s.dat"]  # no temporary file left


@given(st.dictionaries(st.from_regex(r"[A-Z]{1,8}", fullmatch=True),
                       st.text(alphabet=st.characters(blacklist_characters="\n",
                                                      blacklist_categories=("Cs",)), max_size=20), max_size=6))
def test_store_then_value_round_trips(tmp_path_factory, pairs):
    path = tmp_path_factory.mktemp("s") / "s.dat"
    path.write_text("")
    for key, value in pairs.items():
        store_value(path, key, value)
    loaded = MachineSettings.load(path)
    for key, value in pairs.items():
        assert loaded.value(key) == value


def test_home_dir_order(tmp_path):
    pointer = tmp_path / "homedir.dat"
    pointer.write_text("/home/XYZ\n")
    env = {"ADT_HOMEDIR_FILE": str(pointer), "HOME": "/root"}
    assert str(paths.home_dir(env)) == "/home/XYZ"
    assert str(paths.home_dir({**env, "ADT_HOME": "/h"})) == "/h"
    assert str(paths.home_dir(env, option="/o")) == "/o"
    assert str(paths.home_dir({"ADT_HOMEDIR_FILE": str(tmp_path / "none"), "HOME": "/root"})) == "/root"
    with pytest.raises(AdtError, match="home directory"):
        paths.home_dir({"ADT_HOMEDIR_FILE": str(tmp_path / "none")})


def test_build_home_order(tmp_path):
    pointer = tmp_path / "buildhome.dat"
    pointer.write_text("/home/builder/adt\n")
    env = {"ADT_BUILDHOME_FILE": str(pointer)}
    assert str(paths.build_home(env)) == "/home/builder/adt"
    assert str(paths.build_home({**env, "BUILD_HOME": "/b"})) == "/b"
    assert str(paths.build_home({**env, "BUILD_HOME": "/b", "ADT_BUILD_HOME": "/a"})) == "/a"
    assert str(paths.build_home({**env, "BUILD_HOME": "/b"}, option="/o")) == "/o"
    nothing = {"ADT_BUILDHOME_FILE": str(tmp_path / "none")}
    with pytest.raises(AdtError, match="cannot tell the build home: no --build-home, BUILD_HOME or .*none, and adt "
                                       "does not run from a toolkit checkout"):
        paths.build_home(nothing, toolkit=tmp_path)  # an installed adt: no checkout to fall back on


def test_build_home_falls_back_to_the_toolkit_checkout(tmp_path):
    """The last resort is the checkout adt runs from, as the original's BUILD_HOME is the folder its build
    script runs from; every build-side command (build, variable, fleet, firewall) uses this one rule."""
    nothing = {"ADT_BUILDHOME_FILE": str(tmp_path / "none")}
    (tmp_path / "ExpeditedAgileDeploymentToolkit.sh").write_text("#!/bin/sh\n")
    assert paths.build_home(nothing, toolkit=tmp_path) == tmp_path
    assert paths.build_home(nothing) == paths.TOOLKIT  # this checkout
    assert (paths.TOOLKIT / "ExpeditedAgileDeploymentToolkit.sh").is_file()


def test_settings_file_discovery(tmp_path):
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    with pytest.raises(AdtError, match="no machine settings file"):
        paths.settings_file(tmp_path, env={})
    (runtime / "webserver_configuration_settings.dat").write_text("")
    assert paths.settings_file(tmp_path, env={}).name == "webserver_configuration_settings.dat"
    (runtime / "autoscaler_configuration_settings.dat").write_text("")  # an autoscaler keeps a webserver copy
    assert paths.settings_file(tmp_path, env={}).name == "autoscaler_configuration_settings.dat"
    assert paths.settings_file(tmp_path, env={}, role="webserver").name == "webserver_configuration_settings.dat"
    assert paths.settings_file(tmp_path, env={"ADT_SETTINGS_FILE": "/x.dat"}) == paths.Path("/x.dat")
    with pytest.raises(AdtError, match="unknown machine role"):
        paths.settings_file(tmp_path, env={"ADT_ROLE": "printer"})


def test_endpoints_split_on_pipes(tmp_path):
    s = settings(tmp_path, "S3ACCESSKEY:k1|k2\nS3SECRETKEY:s1|s2\nS3LOCATION:lon1|\n"
                           "S3HOSTBASE:lon1.digitaloceanspaces.com|http://127.0.0.1:8333\n")
    one, two = endpoints_from_settings(s)
    assert (one.index, one.url, one.addressing, one.region) == (1, "https://lon1.digitaloceanspaces.com", "virtual", "lon1")
    assert endpoints_from_settings(settings(tmp_path, "S3ACCESSKEY:k\nS3SECRETKEY:s\nS3LOCATION:US\nS3HOSTBASE:h.example\n"))[0].region == "us-east-1"
    assert (two.index, two.url, two.addressing, two.region) == (2, "http://127.0.0.1:8333", "path", "us-east-1")
    assert "s1" not in repr(one) and "s2" not in repr(two)


def test_endpoints_without_location(tmp_path):
    s = settings(tmp_path, "S3ACCESSKEY:k\nS3SECRETKEY:s\nS3HOSTBASE:10.0.0.2:8333\n")
    (only,) = endpoints_from_settings(s)
    assert (only.url, only.addressing) == ("https://10.0.0.2:8333", "path")


@pytest.mark.parametrize("text, message", [
    ("S3ACCESSKEY:k1|k2\nS3SECRETKEY:s1\nS3HOSTBASE:a|b\n", "S3SECRETKEY has 1"),
    ("S3ACCESSKEY:k1|\nS3SECRETKEY:s1|s2\nS3HOSTBASE:a|b\n", "value 2 of S3ACCESSKEY is empty"),
    ("S3ACCESSKEY:k\nS3HOSTBASE:a\n", "no value for S3SECRETKEY"),
])
def test_endpoint_errors_name_the_key(tmp_path, text, message):
    with pytest.raises(AdtError, match=message):
        endpoints_from_settings(settings(tmp_path, text))


def test_us_location_signs_as_us_east_1(tmp_path):
    s = settings(tmp_path, "S3ACCESSKEY:k\nS3SECRETKEY:s\nS3LOCATION:US\nS3HOSTBASE:h.example\n")
    assert endpoints_from_settings(s)[0].region == "us-east-1"
