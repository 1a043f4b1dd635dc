"""User data as a provider's machine takes it: one cloud-init document (#cloud-config) that sets sshd's port and
the build's key for root, writes the machine's files with their modes, installs adt from the infrastructure
repository the template names (as the original clones its scripts at first boot) and runs the first-boot
command. Pure: UserData in, text out; `parse` is its inverse (the test fakes run a cloud build on local machines
with it).

The infrastructure repository's token (INFRASTRUCTURE_REPOSITORY_TOKEN, for a private repository) is never in a
command line: `install_files` gives a git credential-store file (0600, root's, written by cloud-init's
write_files) that the clone reads through `credential.helper`, and the install removes it once adt is cloned.
It is in the user data itself (as every other setting a machine needs, in its settings file): none of the four
providers offers a secret store a machine reads at first boot, and on the machine cloud-init keeps its copy
root's only (/var/lib/cloud/instance/user-data.txt is 0600).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import shlex
from typing import Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import quote, urlsplit

from adt.cloud.base import UserData
from adt.errors import AdtError

BOOTSTRAP_LOG = "/var/log/adt/bootstrap.log"
SSHD_CONF = "/etc/ssh/sshd_config.d/00-adt.conf"
# where adt is installed on a cloud machine: a clone of the infrastructure repository (the toolkit's checkout,
# with its shell entry points: adt.settings.paths.TOOLKIT), a venv with adt installed editable from it, and the
# command where the entry points look for it (adt.cloud.local.INSTALLED_ADT on local machines)
SOURCE = "/opt/adt/src"
VENV = "/opt/adt/venv"
INSTALLED_ADT = "/opt/adt/bin/adt"
CREDENTIALS = "/root/.config/adt/infrastructure-git-credentials"
REPOSITORY = "adt"  # the toolkit's repository under INFRASTRUCTURE_REPOSITORY_OWNER
GIT_DOMAINS = {"github": "github.com", "gitlab": "gitlab.com", "bitbucket": "bitbucket.org"}
# what every machine needs, then each role's own (what the local cloud host's machines find on this computer);
# wordpress after nginx and php-fpm (installed with them, apt satisfies its "httpd" with Apache)
BASE_PACKAGES = (
    "git", "ca-certificates", "python3", "python3-venv", "cron", "iproute2", "iptables", "nftables", "ufw",
    "curl", "rsync", "pigz", "openssh-server",
)  # fmt: skip
ROLE_PACKAGES: Dict[str, Tuple[Tuple[str, ...], ...]] = {
    "database": (("mariadb-server", "mariadb-client"),),
    "webserver": (
        (
            "nginx",
            "php-fpm",
            "php-cli",
            "php-mysql",
            "php-xml",
            "php-mbstring",
            "php-curl",
            "php-zip",
            "php-intl",
            "mariadb-client",
        ),
        ("wordpress", "wordpress-theme-twentytwentythree"),
    ),  # fmt: skip
    "autoscaler": (),
    "build": (("openssh-client", "sudo", "adduser"),),  # the hardcore build machine (adt.build.hardcore)
    "reverseproxy": (("nginx",),),
    "authenticator": (("nginx", "php-fpm", "php-cli", "php-mysql"),),
}


def repository_url(values: Mapping[str, str]) -> str:
    """The infrastructure repository as the original names its repositories:
    https://[<username>@]<provider's domain>/<owner>/adt.git (the username only with a token, for the credential
    helper to answer)."""
    provider = values.get("INFRASTRUCTURE_REPOSITORY_PROVIDER") or "github"
    if provider not in GIT_DOMAINS:
        raise AdtError(
            f"INFRASTRUCTURE_REPOSITORY_PROVIDER {provider!r} is not a git provider adt knows",
            "use github, gitlab or bitbucket",
        )
    owner = values.get("INFRASTRUCTURE_REPOSITORY_OWNER") or "wintersys-projects"
    user = values.get("INFRASTRUCTURE_REPOSITORY_USERNAME") or owner
    at = f"{quote(user, safe='')}@" if values.get("INFRASTRUCTURE_REPOSITORY_TOKEN") else ""
    name = values.get("INFRASTRUCTURE_REPOSITORY_NAME") or REPOSITORY
    return f"https://{at}{GIT_DOMAINS[provider]}/{quote(owner, safe='')}/{quote(name, safe='')}.git"


def install_files(values: Mapping[str, str], url: str = "") -> Dict[str, Tuple[str, int]]:
    """The files the install needs (path -> (text, mode)): with a token, the git credential-store line for the
    repository's host (0600), so the token is in no command line."""
    token = values.get("INFRASTRUCTURE_REPOSITORY_TOKEN") or ""
    if not token:
        return {}
    parts = urlsplit(url or repository_url(values))
    if parts.scheme not in ("https", "http"):
        return {}  # a file:// or ssh remote asks no token
    owner = values.get("INFRASTRUCTURE_REPOSITORY_OWNER") or "wintersys-projects"
    user = parts.username or values.get("INFRASTRUCTURE_REPOSITORY_USERNAME") or owner
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    line = f"{parts.scheme}://{quote(user, safe='')}:{quote(token, safe='')}@{host}\n"
    return {CREDENTIALS: (line, 0o600)}


def packages(role: str) -> List[Tuple[str, ...]]:
    """The apt installs of a machine of `role`, in order (each a group installed in one go)."""
    return [BASE_PACKAGES, *ROLE_PACKAGES.get(role, ())]


def _apt_step(names: Sequence[str]) -> List[str]:
    """Install those of `names` that are missing (nothing, not even apt-get update, when all are there)."""
    listed = " ".join(shlex.quote(n) for n in names)
    return [
        "sh",
        "-c",
        f"missing=$(for p in {listed}; do dpkg -s $p >/dev/null 2>&1 || echo $p; done); "
        '[ -z "$missing" ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive '
        "apt-get install -y -qq --no-install-recommends $missing; }",
    ]


def install_commands(
    values: Mapping[str, str], role: str = "", url: str = "", branch: Optional[str] = None
) -> List[List[str]]:
    """The commands that install adt on a fresh Debian or Ubuntu machine, as root, in order: the system
    packages the machine (of `role`, when given) needs and lacks; a shallow clone of the infrastructure
    repository (`url`, else repository_url(values); branch `branch`, else INFRASTRUCTURE_REPOSITORY_BRANCH,
    else main) into /opt/adt/src, reading the token from install_files' credential file, which is removed
    after; a venv with adt installed editable from the clone (its shell entry points stay in the checkout);
    /opt/adt/bin/adt. pip takes the dependencies from the package index, or from what its environment already
    has. Safe to run again (a machine made from a snapshot has the clone and the venv)."""
    url = url or repository_url(values)
    branch = branch or values.get("INFRASTRUCTURE_REPOSITORY_BRANCH") or "main"
    commands = [_apt_step(group) for group in packages(role)]
    credential = f"credential.helper=store --file={CREDENTIALS}"
    clone = ["git", "-c", credential, "clone", "--quiet", "--depth", "1", "--branch", branch, url, SOURCE]
    commands += [
        [
            "sh",
            "-c",
            f"[ -d {SOURCE}/.git ] || GIT_TERMINAL_PROMPT=0 {shlex.join(clone)}; status=$?; "
            f"rm -f {CREDENTIALS}; exit $status",
        ],
        ["python3", "-m", "venv", VENV],
        [
            f"{VENV}/bin/python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--editable",
            SOURCE,
            "--config-settings",
            "editable_mode=compat",
        ],
        ["mkdir", "-p", os.path.dirname(INSTALLED_ADT)],
        ["ln", "-sfn", f"{VENV}/bin/adt", INSTALLED_ADT],
    ]
    return commands


def for_cloud(user_data: UserData, values: Mapping[str, str], role: str = "", url: str = "") -> UserData:
    """`user_data` (first_boot's) for a provider's machine: with adt's install commands and their files."""
    return UserData(
        files={**user_data.files, **install_files(values, url)},
        command=user_data.command,
        environment=dict(user_data.environment),
        install=install_commands(values, role, url),
    )


def _file_entry(path: str, text: str, mode: int) -> dict:
    data = text.encode()
    packed = gzip.compress(data, mtime=0)
    if len(packed) < len(data):  # providers cap user data (Linode, Vultr: 64 KiB): settings and keys shrink
        content, encoding = base64.b64encode(packed).decode(), "gz+b64"
    else:
        content, encoding = base64.b64encode(data).decode(), "b64"
    return {"path": path, "content": content, "encoding": encoding, "permissions": f"0{mode:o}", "owner": "root:root"}


RESTART_SSH = [
    "sh",
    "-c",
    # Ubuntu 24.04 starts sshd from ssh.socket, whose port the generator reads from sshd_config at daemon-reload
    "systemctl daemon-reload; if systemctl is-active --quiet ssh.socket; then systemctl restart ssh.socket; fi; "
    "systemctl restart ssh",
]


def _bootstrap_line(user_data: UserData) -> List[str]:
    command = list(user_data.command)
    if user_data.install and os.path.basename(command[0]) == "adt":
        command[0] = INSTALLED_ADT  # the build machine's adt path means nothing on a cloud machine
    environment = [f"{k}={v}" for k, v in sorted(user_data.environment.items())]
    line = shlex.join(["env", *environment, *command]) if environment else shlex.join(command)
    return ["sh", "-c", f"mkdir -p {os.path.dirname(BOOTSTRAP_LOG)} && exec {line} >>{BOOTSTRAP_LOG} 2>&1"]


def cloud_config(user_data: UserData, ssh_port: int, authorized_key: str) -> str:
    """The #cloud-config document of a machine (JSON is YAML, so it is written as JSON: no quoting traps).
    runcmd: sshd on ssh_port, the install commands, then the first-boot command (its output in
    /var/log/adt/bootstrap.log). Files are gzipped where that makes them smaller."""
    files = [_file_entry(path, text, mode) for path, (text, mode) in sorted(user_data.files.items())]
    files.append(
        {
            "path": SSHD_CONF,
            "permissions": "0644",
            "content": f"Port {int(ssh_port)}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n",
        }
    )
    commands: List[List[str]] = [RESTART_SSH, *[list(c) for c in user_data.install]]
    if user_data.command:
        commands.append(_bootstrap_line(user_data))
    document = {
        "disable_root": False,
        "ssh_pwauth": False,
        "users": [{"name": "root", "ssh_authorized_keys": [authorized_key.strip()]}],
        "write_files": files,
        "runcmd": commands,
    }
    return "#cloud-config\n" + json.dumps(document, indent=1) + "\n"


def _file_text(entry: dict) -> str:
    content = entry.get("content", "")
    encoding = entry.get("encoding", "text")
    if encoding in ("b64", "base64"):
        return base64.b64decode(content).decode()
    if encoding in ("gz+b64", "gzip+base64", "gz+base64"):
        return gzip.decompress(base64.b64decode(content)).decode()
    if encoding == "text":
        return content
    raise AdtError(f"user data file {entry.get('path')} has an encoding adt does not write ({encoding})")


def parse(text: str) -> Tuple[UserData, int, str]:
    """The inverse of cloud_config: (UserData, ssh_port, authorized_key). The sshd drop-in and its restart are
    the port; the last runcmd entry, when it is the first-boot line, is the command and its environment;
    the runcmd entries between are the install commands."""
    if not text.startswith("#cloud-config\n"):
        raise AdtError("the user data is not a #cloud-config document adt wrote")
    try:
        document = json.loads(text.split("\n", 1)[1])
    except ValueError as error:
        raise AdtError(f"the user data is not a #cloud-config document adt wrote ({error})") from None
    files: Dict[str, Tuple[str, int]] = {}
    ssh_port = 22
    for entry in document.get("write_files", []):
        body = _file_text(entry)
        if entry["path"] == SSHD_CONF:
            ports = [line.split()[1] for line in body.splitlines() if line.startswith("Port ")]
            ssh_port = int(ports[0]) if ports else 22
            continue
        files[entry["path"]] = (body, int(entry.get("permissions", "0644"), 8))
    users = [user for user in document.get("users", []) if isinstance(user, dict) and user.get("name") == "root"]
    keys = [key for user in users for key in user.get("ssh_authorized_keys", [])]
    commands = [list(c) for c in document.get("runcmd", [])]
    if commands and commands[0] == RESTART_SSH:
        commands = commands[1:]
    command: List[str] = []
    environment: Dict[str, str] = {}
    last = commands[-1] if commands else []
    prefix = f"mkdir -p {os.path.dirname(BOOTSTRAP_LOG)} && exec "
    suffix = f" >>{BOOTSTRAP_LOG} 2>&1"
    if len(last) == 3 and last[:2] == ["sh", "-c"] and last[2].startswith(prefix) and last[2].endswith(suffix):
        words = shlex.split(last[2][len(prefix) : -len(suffix)])
        if words and words[0] == "env":
            words = words[1:]
            while words and "=" in words[0]:
                name, _, value = words.pop(0).partition("=")
                environment[name] = value
        command = words
        commands = commands[:-1]
    user_data = UserData(files=files, command=command, environment=environment, install=commands)
    return user_data, ssh_port, keys[0] if keys else ""
