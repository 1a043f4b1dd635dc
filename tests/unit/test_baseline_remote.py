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


def test_git_command_lines():
    """Every git command line of a baseline, whole: no credential helper, never a credential in them."""
    helper = ["git", "-c", "credential.helper="]
    url = "https://github.com/nutsco/shop-db-baseline.git"
    assert publish.ls_remote_command(url) == [*helper, "ls-remote", url]
    assert publish.init_bare_command("/srv/git/shop.git") == [*helper, "init", "-q", "--bare", "-b", "main",
                                                              "/srv/git/shop.git"]
    assert publish.commit_commands("Baseline Baby") == [
        [*helper, "init", "-q", "-b", "main"],
        [*helper, "add", "-A"],
        [*helper, "-c", "user.name=adt baseline", "-c", "user.email=baseline@adt.invalid", "commit", "-q", "-m",
         "Baseline Baby"]]
    assert publish.push_command(url, force=False) == [*helper, "push", "-q", url, "main:main"]
    assert publish.push_command(url, force=True) == [*helper, "push", "-q", "--force", url, "main:main"]
    assert publish.clone_command(url, "/home/x/backups/tree") == [*helper, "clone", "-q", "--depth", "1", "-b",
                                                                  "main", url, "/home/x/backups/tree"]


@pytest.mark.parametrize("args, expected", [
    (("webserver", "shop"), ["adt", "baseline", "website", "shop"]),
    (("database", "shop"), ["adt", "baseline", "database", "shop"]),
    (("webserver", "shop", "file:///srv/git", ("a1b2", "c3d4"), True, True, True),
     ["adt", "baseline", "website", "shop", "--remote-base=file:///srv/git", "--waive=a1b2", "--waive=c3d4",
      "--replace", "--dry-run"]),  # --redact is the database's
    (("database", "shop", "ssh://git@host/team", ("a1b2",), True, True, False),
     ["adt", "baseline", "database", "shop", "--remote-base=ssh://git@host/team", "--waive=a1b2", "--redact"]),
])
def test_publish_command(args, expected):
    assert publish.publish_command(*args) == expected


def test_a_failed_git_command_is_one_line_naming_it_without_the_token(tmp_path):
    remote = publish.Remote(f"file://{tmp_path}/none.git", "adt", TOKEN)
    with pytest.raises(publish.GitFailed, match=r"^git clone failed: fatal: .*none\.git") as failed:
        publish._git(publish.clone_command(remote.url + TOKEN, str(tmp_path / "tree")), remote=remote,
                     changes=False)
    assert TOKEN not in str(failed.value) and TOKEN not in failed.value.stderr and "********" in failed.value.stderr


def test_git_in_a_dry_run_prints_what_changes_and_runs_what_reads(tmp_path):
    from adt.run import dry_running

    bare = tmp_path / "shop.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    lines = []
    with dry_running(echo=lines.append):
        assert publish.remote_heads(publish.Remote(f"file://{bare}")) == []  # ls-remote is a read: it ran
        publish._git(publish.push_command(f"file://{bare}", force=True), cwd=tmp_path)
        publish.remote_heads(publish.Remote(f"file://{tmp_path}/new/shop.git"))  # would be created
    assert lines == [f"would run: git -c credential.helper= push -q --force file://{bare} main:main",
                     f"would run: git -c credential.helper= init -q --bare -b main {tmp_path}/new/shop.git"]
    assert not (tmp_path / "new").exists()
