"""The user data a provider's machine gets: every role's document passes Debian's `cloud-init schema`, and a role's
document, interpreted on a local machine (its write_files, then its runcmd), installs adt from a git repository
standing in for the infrastructure repository and leaves a ready machine.

cloud-init is Debian's package (`apt-get install cloud-init`); `cloud-init schema --config-file` needs no
network and takes about half a second a document.

The install on the local machine is the real one (a clone, a venv, `pip install --editable` of the clone), with
two differences of environment only, given to its commands as a provider's image or mirror would: pip builds
without an isolated environment, with setuptools and wheel as the test venv has them, and finds adt's
dependencies already installed (PYTHONPATH: the test venv's site-packages, which pip takes as installed, so it
installs adt alone; the machine has no network, and fetching boto3 and the rest would take a minute). The bootstrap then runs /opt/adt/bin/adt, the clone's adt.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from adt.cloud.base import UserData, first_boot
from adt.cloud.local import LocalDriver
from adt.cloud.userdata import SOURCE, cloud_config, for_cloud, install_commands, install_files, parse
from adt.datastore.naming import config_bucket
from adt.datastore.seaweed import SeaweedS3

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("webserver", "database", "autoscaler", "reverseproxy", "authenticator")
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyForSchemaTestsOnlyxxxxxxxxxxxxxxxxxxx build@adt"
VALUES = {
    "INFRASTRUCTURE_REPOSITORY_PROVIDER": "github",
    "INFRASTRUCTURE_REPOSITORY_OWNER": "acme",
    "INFRASTRUCTURE_REPOSITORY_USERNAME": "deployer",
    "INFRASTRUCTURE_REPOSITORY_TOKEN": "ghp_notarealtoken",
}


def schema(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["cloud-init", "schema", "--config-file", str(path)], capture_output=True, text=True)


def role_files(role: str, user: str) -> dict:
    """The files a role gets beside its settings (production.autoscaler_files: the autoscaler's webserver settings
    and the build key)."""
    if role != "autoscaler":
        return {}
    home = f"/home/{user}"
    return {
        f"{home}/runtime/cloud-init/webserver_configuration_settings.dat": ("SERVERUSER:x\n" * 40, 0o600),
        f"{home}/runtime/cloud-init/authorized_key.pub": (KEY + "\n", 0o644),
        f"{home}/.ssh/id_ed25519_AGILE_DEPLOYMENT_BUILD_KEY_t1": ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n", 0o600),
    }


@pytest.mark.parametrize("role", ROLES)
def test_every_roles_user_data_passes_cloud_init_schema(role, tmp_path):
    user = "X0123456789abcdefgX"
    settings = "".join(f"KEY{i}:value {i}\n" for i in range(60)) + "DBPASSWORD:p'a\"ss\n"
    boot = first_boot(role, user, settings, "/work/main/.venv/bin/adt", role_files(role, user))
    document = tmp_path / f"{role}.yaml"
    document.write_text(cloud_config(for_cloud(boot, VALUES, role), 1035, KEY))
    started = time.monotonic()
    result = schema(document)
    assert result.returncode == 0 and "Valid cloud-config" in result.stdout, result.stdout + result.stderr
    assert time.monotonic() - started < 10


def test_cloud_init_schema_does_refuse_a_wrong_document(tmp_path):
    """The check can fail: a document with a wrong type is refused."""
    text = cloud_config(UserData(), 22, KEY).replace('"disable_root": false', '"disable_root": "no"')
    (tmp_path / "bad.yaml").write_text(text)
    result = schema(tmp_path / "bad.yaml")
    assert result.returncode != 0 and "disable_root: 'no' is not of type 'boolean'" in result.stdout + result.stderr


def infrastructure_repository(target: Path) -> Path:
    """A bare git repository of this working tree as it is (tracked and new files, what .gitignore leaves out
    left out), branch main: the infrastructure repository the machine clones."""
    tree = target / "tree"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tree)]
    subprocess.run(["git", "init", "-q", "-b", "main", str(tree)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "adt"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(tree), str(target / "adt.git")], check=True)
    return target / "adt.git"


def first_boot_script(user_data: UserData) -> str:
    """The runcmd entries (the install commands, then the first-boot line) as one shell script that stops at
    the first failure (cloud-init's runcmd goes on; a test should not)."""
    lines = [f"{shlex.join(command)} || exit $?" for command in user_data.install]
    lines.append(shlex.join(user_data.command))
    return "\n".join(lines) + "\n"


def test_a_database_machine_made_from_its_user_data_is_ready(tmp_path):
    driver = LocalDriver("10.196.0.0/24", str(tmp_path / "state"))
    user, website = "X1a2b3c4d5e6f7g8h9X", "shop.example.com"
    name = "db-local-ud1-x1a2"
    repository = infrastructure_repository(tmp_path / "repo")
    (tmp_path / "s3").mkdir()
    driver.ensure_network()
    storage = None
    try:
        storage = SeaweedS3(tmp_path / "s3", ip=driver.gateway).start()
        storage.client().create_bucket(Bucket=config_bucket(website, user))
        key, secret = storage.state["rw"]
        settings = (
            f"SERVERUSER:{user}\nWEBSITEURL:{website}\nDBPORT:3306\nDBNAME:shop\nDBUSERNAME:u1\nDBPASSWORD:p'w\"1\n"
            f"VPCIPRANGE:10.196.0.0/24\nS3ACCESSKEY:{key}\nS3SECRETKEY:{secret}\nS3HOSTBASE:{storage.endpoint}\n"
            "S3LOCATION:US\nBUILDARCHIVECHOICE:virgin\nBACKUPS:0\n"
        )
        boot = first_boot("database", user, settings, str(Path(sys.executable).parent / "adt"))
        text = cloud_config(for_cloud(boot, VALUES, "database", url=f"file://{repository}"), 2035, KEY)
        parsed, port, authorized = parse(text)
        assert port == 2035 and authorized == KEY and len(parsed.install) == 7
        # the machine's first boot: cloud-init's write_files (the driver writes the files with their modes), then
        # its runcmd (sshd is the driver's own; apt finds every package already there and does nothing)
        environment = {
            "PIP_NO_INDEX": "1",
            "PIP_NO_BUILD_ISOLATION": "0",  # pip's spelling of --no-build-isolation: setuptools and wheel from PYTHONPATH
            "PYTHONPATH": sysconfig.get_paths()["purelib"],
            "HOME": "/root",
        }
        booted = UserData(files=parsed.files, command=["sh", "-c", first_boot_script(parsed)], environment=environment)
        started = time.monotonic()
        driver.create_server(name, "local", booted, port, authorized)
        ready = driver.host_path(name, f"/home/{user}/runtime/DATABASE_READY")
        log = driver.host_path(name, "/var/log/adt/bootstrap.log")
        while not ready.exists() and driver.first_boot_running(name) and time.monotonic() - started < 120:
            time.sleep(0.1)
        output = log.read_text() if log.exists() else ""
        assert ready.exists(), output
        assert "database ready" in output
        # adt is the clone's: installed editable in the machine's own venv, the token file gone with the clone
        assert driver.host_path(name, f"{SOURCE}/.git").is_dir()
        assert os.readlink(driver.host_path(name, "/opt/adt/bin/adt")) == "/opt/adt/venv/bin/adt"
        where = driver.run_in(
            name,
            ["/opt/adt/venv/bin/python", "-c", "import adt; print(adt.__file__)"],
            env={**os.environ, **environment},
        ).stdout.strip()
        assert where == f"{SOURCE}/adt/__init__.py"
        settings_file = driver.host_path(name, f"/home/{user}/runtime/database_configuration_settings.dat")
        assert settings_file.stat().st_mode & 0o777 == 0o600
        assert storage.client().list_objects_v2(Bucket=config_bucket(website, user), Prefix="databaseip/")["KeyCount"]
        assert time.monotonic() - started < 60
    finally:
        driver.destroy_server(name)
        if storage is not None:
            storage.stop()
        driver.remove_network(force=True)


def test_the_clone_reads_the_token_from_its_credentials_file_and_no_command_line(tmp_path):
    """The install's clone step against a token-protected HTTPS remote (nginx, basic auth): the token only in
    the credentials file (written from standard input, as cloud-init's write_files writes it), which the step
    removes; strace sees it in no process's arguments, and the clone's remote URL keeps no token. /root and /opt
    are fresh tmpfs of a private mount namespace, as on a new machine."""
    from tests.services import strace
    from tests.services.git_https import GitHttps

    tree = infrastructure_repository(tmp_path / "repo").parent / "tree"
    with GitHttps(user="deployer") as remote:
        repository = remote.create("adt")
        fetched = remote.git("--git-dir", str(repository), "fetch", "-q", str(tree), "main:main")
        assert fetched.returncode == 0, fetched.stderr
        subprocess.run(["chown", "-R", "www-data:www-data", str(repository)], check=True)
        values = {
            **VALUES,
            "INFRASTRUCTURE_REPOSITORY_USERNAME": remote.user,
            "INFRASTRUCTURE_REPOSITORY_TOKEN": remote.token,
        }
        url = f"https://{remote.user}@127.0.0.1:{remote.port}/git/adt.git"
        [(path, (line, mode))] = install_files(values, url).items()
        assert mode == 0o600 and remote.token in line
        clone = install_commands(values, url=url)[1]
        script = (
            f"mount -t tmpfs -o mode=700 none /root && mount -t tmpfs none /opt && mkdir -p {os.path.dirname(path)} "
            f"&& (umask 077; cat >{path}) && {shlex.join(clone)} && test ! -e {path} "
            f"&& git -C {SOURCE} config remote.origin.url && test -f {SOURCE}/adt/cloud/userdata.py"
        )
        trace = tmp_path / "trace"
        environment = {"PATH": os.environ["PATH"], "HOME": "/root", "GIT_SSL_CAINFO": remote.cafile}
        result = strace.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script], trace, input=line, env=environment
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == url  # no token in the clone's configuration
        calls = strace.parse(trace)
        assert any(e.argv[:2] == ["git", "-c"] for e in strace.execs(calls))
        assert strace.argv_leaks(calls, {"INFRASTRUCTURE_REPOSITORY_TOKEN": remote.token}) == []
