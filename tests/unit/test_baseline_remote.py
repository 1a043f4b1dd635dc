"""Where a baseline goes: a URL that never holds a credential, and the credentials given to git through
askpass (tests against a real HTTPS remote under strace are in tests/integration/test_secrets_argv.py)."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from adt.baseline import publish
from adt.settings.machine import MachineSettings

TOKEN = "ghp_" + "Q" * 36


def settings(tmp_path, **values):
    path = tmp_path / "webserver_configuration_settings.dat"
    path.write_text("".join(f"{k}:{v}\n" for k, v in values.items()))
    return MachineSettings.load(path)


@pytest.mark.parametrize("url, expected", [
    ("https://adt:tok@git.example.com/team", ("https://git.example.com/team", "adt", "tok")),
    ("https://adt:to%40k%3A1@127.0.0.1:8443/git", ("https://127.0.0.1:8443/git", "adt", "to@k:1")),
    ("https://adt:a:b@host/x", ("https://host/x", "adt", "a:b")),
    ("https://ghp_SECRET@github.com/team", ("https://github.com/team", "ghp_SECRET", "")),  # a token alone
    ("HTTP://x-access-token@host/t", ("http://host/t", "x-access-token", "")),
    ("ssh://git@github.com/team", ("ssh://git@github.com/team", "", "")),  # a user alone is no secret
    ("https://host/team", ("https://host/team", "", "")),
    ("file:///srv/git", ("file:///srv/git", "", "")),
    ("git@github.com:team", ("git@github.com:team", "", "")),
])
def test_split_credentials(url, expected):
    assert publish.split_credentials(url) == expected


def test_provider_url_holds_no_token(tmp_path):
    remote = publish.remote_url(settings(tmp_path, APPLICATIONREPOSITORYPROVIDER="github",
                                         APPLICATIONREPOSITORYOWNER="nutsco", APPLICATIONREPOSITORYUSERNAME="adt",
                                         APPLICATIONREPOSITORYTOKEN=TOKEN), "shop-db-baseline")
    assert remote.url == "https://github.com/nutsco/shop-db-baseline.git"
    assert (remote.username, remote.token) == ("adt", TOKEN)
    assert TOKEN not in repr(remote) and TOKEN not in publish.shown(remote)


def test_remote_base_credentials_are_taken_out_of_the_url(tmp_path):
    remote = publish.remote_url(settings(tmp_path), "shop-db-baseline", f"https://adt:{TOKEN}@git.example.com/team/")
    assert remote == publish.Remote("https://git.example.com/team/shop-db-baseline.git", "adt", TOKEN)
    assert publish.remote_url(settings(tmp_path), "r", str(tmp_path)) == publish.Remote(f"file://{tmp_path}/r.git")


def test_askpass_answers_from_the_environment(tmp_path):
    with publish._credentials(publish.Remote("https://h/r.git", "adt", TOKEN)) as env:
        script = Path(env["GIT_ASKPASS"])
        assert TOKEN not in script.read_text()  # the value is in the environment of git alone
        assert stat.S_IMODE(script.stat().st_mode) == 0o700 and stat.S_IMODE(script.parent.stat().st_mode) == 0o700
        answers = [subprocess.run([str(script), prompt], env={**os.environ, **env}, capture_output=True,
                                  text=True).stdout
                   for prompt in ("Username for 'https://h': ", "Password for 'https://adt@h': ")]
    assert answers == ["adt\n", f"{TOKEN}\n"]
    assert not script.parent.exists()  # removed after the git command
    with publish._credentials(publish.Remote("file:///srv/r.git")) as env:
        assert env == {"GIT_ASKPASS": "true"}


def test_perform_refuses_to_send_a_password_over_ssh(tmp_path):
    adt = Path(sys.executable).parent / "adt"
    env = {"PATH": "/usr/bin:/bin", "ADT_HOME": str(tmp_path), "ADT_HOMEDIR_FILE": str(tmp_path / "none"),
           "BUILD_HOME": str(tmp_path)}
    for base in (f"https://adt:{TOKEN}@git.example.com/team", f"https://{TOKEN}@github.com/team"):
        result = subprocess.run([str(adt), "baseline", "perform", "--identifier", "shop", "--remote-base", base],
                                env=env, capture_output=True, text=True)
        assert result.returncode == 1
        assert "--remote-base holds credentials: passed on over ssh they would be in the arguments" in result.stderr
        assert TOKEN not in result.stderr + result.stdout
