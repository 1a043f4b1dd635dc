import stat

import pytest

from adt.errors import AdtError
from adt.settings.runtime import SUBDIRECTORIES, BuildEnvironment, RuntimeData


def test_resolve_uses_active_files_as_defaults_only(tmp_path):
    runtime = RuntimeData(tmp_path)
    with pytest.raises(AdtError, match="ACTIVE_CLOUDHOST is not set") as error:
        runtime.resolve()
    assert "--cloudhost" in error.value.hint
    assert runtime.resolve("linode", "b1") == ("linode", "b1")
    runtime.set_active("vultr", "prod")
    assert (tmp_path / "runtimedata" / "ACTIVE_CLOUDHOST").read_text() == "vultr\n"
    assert runtime.resolve() == ("vultr", "prod")
    assert runtime.resolve(build_identifier="other") == ("vultr", "other")
    with pytest.raises(AdtError, match="unknown cloud host"):
        runtime.resolve("aws", "x")


def test_build_dir_layout_is_private(tmp_path):
    base = RuntimeData(tmp_path).ensure_build_dir("local", "demo")
    assert base == tmp_path / "runtimedata" / "local" / "demo"
    for name in SUBDIRECTORIES:
        assert stat.S_IMODE((base / name).stat().st_mode) == 0o700


def test_build_environment_get_and_set(tmp_path):
    path = tmp_path / "build_environment"
    path.write_text('PATH=/usr/bin\nREGION="lon1"\nREGIONS=x\nTOKEN=a=b\n')
    env = BuildEnvironment(path)
    assert env.get("REGION") == ["lon1"]  # quotes removed, as the original
    assert env.get("TOKEN") == ["a=b"]  # everything after the first '='
    assert env.get("MISSING") == []
    env.set("REGION", "ams3")
    env.set("NEW", "1")
    assert path.read_text() == "PATH=/usr/bin\nREGION=ams3\nREGIONS=x\nTOKEN=a=b\nNEW=1\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(AdtError, match="newline"):
        env.set("X", "a\nb")


def test_build_environment_set_creates_a_private_file(tmp_path):
    env = BuildEnvironment(tmp_path / "runtimedata" / "local" / "demo" / "build_environment")
    env.set("BUILD_IDENTIFIER", "demo")
    assert env.get("BUILD_IDENTIFIER") == ["demo"]
    assert stat.S_IMODE(env.path.stat().st_mode) == 0o600
