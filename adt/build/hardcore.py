"""The hardcore method (GenerateHardcoreUserDataScript.sh): the user data that turns a fresh Debian or Ubuntu cloud
machine into a build machine, which then runs the whole build unattended from a template.

The user data is a shell script, as the original's (OverrideScript.sh): every provider runs a `#!` user data
script at first boot through cloud-init, and Linode takes the same script as a StackScript (with `stack`, its
UDF fields come first and the values given through them replace the template's). It writes the template (0600)
and /root/Environment.env, makes the build machine's user (the SSH key, sudo), hardens sshd (BUILDMACHINE_SSH_PORT,
no root or password logins, AllowUsers <user>@LAPTOP_IP when given), installs adt from the infrastructure
repository (adt.cloud.userdata.install_commands: the token through a 0600 git credential file, never a command
line), writes /home/buildhome.dat and the original's runtimedata markers, and runs `adt build <cloudhost> <buildos>
<template> <build identifier> --template-file … --yes` with HARDCORE=1. Its output goes to /root/logs/.

The script holds every value of the template, secrets included, as the original's does: user data is readable
by whoever can read the machine's metadata, so write it 0600 and hand it to the provider only.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from adt.cloud.userdata import SOURCE, install_commands, install_files
from adt.errors import AdtError
from adt.settings.template import Template, quote_value

TEMPLATE = "/root/adt-hardcore.tmpl"
ENVIRONMENT = "/root/Environment.env"
USER_FILE = "/root/buildmachine_user.dat"
BUILD_HOME_FILE = "/home/buildhome.dat"
LOGS = "/root/logs"
SSHD_CONF = "/etc/ssh/sshd_config.d/00-adt-build-machine.conf"
DEFAULT_USER = "agile-user"
DEFAULT_SSH_PORT = "1035"
# the hardcore variables (schema's "Hardcore Build" group): the script's, not the template's
HARDCORE = ("SSH", "SELECTED_TEMPLATE", "BUILDMACHINE_USER", "BUILDMACHINE_SSH_PORT", "LAPTOP_IP")


@dataclass
class Hardcore:
    """What a hardcore user data script is made of: the template and the build machine's access."""

    template: Template
    cloudhost: str
    number: int
    ssh_key: str  # the build machine user's public key (SSH)
    user: str = DEFAULT_USER
    ssh_port: str = DEFAULT_SSH_PORT
    laptop_ip: str = ""
    password: str = ""
    build_identifier: str = ""
    buildos: str = ""
    branch: str = ""
    url: str = ""  # another infrastructure repository than the template's (a mirror)
    token: str = ""  # INFRASTRUCTURE_REPOSITORY_TOKEN
    stack: Sequence[str] = field(default_factory=tuple)  # Linode StackScript: the UDF lines

    @property
    def values(self) -> Dict[str, str]:
        values = self.template.values()
        if self.token:
            values["INFRASTRUCTURE_REPOSITORY_TOKEN"] = self.token
        return values


def from_override(
    path: Path,
    ssh_key: str = "",
    user: str = "",
    ssh_port: str = "",
    laptop_ip: str = "",
    password: str = "",
    token: str = "",
    branch: str = "",
    url: str = "",
    stack: bool = False,
    cloudhost: str = "",
    number: int = 0,
    build_identifier: str = "",
    buildos: str = "",
) -> Hardcore:
    """A Hardcore from an override template (overridescripts/<cloudhost><N>override.tmpl, GenerateOverrideTemplate's):
    its cloud host and number from its name or CLOUDHOST, the hardcore values given here, else the template's own
    (SSH, BUILDMACHINE_USER...), else the original's defaults. With `stack`, its .stack file's UDF lines.
    `cloudhost`, `number`, `build_identifier` and `buildos` name the build when the file's name and values do not
    (adt build --user-data with any template file)."""
    from adt.settings.validate import cloudhost_of, template_number

    template = Template.load(path)
    values = template.values()
    cloudhost = cloudhost or cloudhost_of(values, str(path)) or _cloudhost_in_name(path.name)
    number = number or template_number(str(path)) or 0
    if not cloudhost or not number:
        raise AdtError(
            f"{path} does not name its cloud host and template number",
            "use an override file named <cloudhost><N>override.tmpl (GenerateOverrideTemplate.sh writes them)",
        )
    udf: List[str] = []
    if stack:
        stack_file = path.with_name(path.name + ".stack")
        if not stack_file.is_file():
            raise AdtError(f"{stack_file} is missing", "write it with GenerateOverrideTemplate.sh stack")
        udf = [line for line in stack_file.read_text().splitlines() if line.strip()]
    hardcore = Hardcore(
        template=template,
        cloudhost=cloudhost,
        number=number,
        ssh_key=(ssh_key or values.get("SSH", "")).strip(),
        user=user or values.get("BUILDMACHINE_USER") or DEFAULT_USER,
        ssh_port=ssh_port or values.get("BUILDMACHINE_SSH_PORT") or DEFAULT_SSH_PORT,
        laptop_ip=laptop_ip or values.get("LAPTOP_IP", ""),
        password=password or values.get("BUILDMACHINE_PASSWORD", ""),
        token=token or values.get("INFRASTRUCTURE_REPOSITORY_TOKEN", ""),
        branch=branch,
        url=url,
        stack=tuple(udf),
        build_identifier=build_identifier,
        buildos=buildos,
    )
    problems = check(hardcore)
    if problems:
        raise AdtError(f"cannot write the hardcore user data from {path}: " + "; ".join(problems))
    return hardcore


def _cloudhost_in_name(name: str) -> str:
    from adt.settings.providers import CLOUDHOSTS

    found = [c for c in CLOUDHOSTS if name.startswith(c)]
    return max(found, key=len) if found else ""


def check(hardcore: Hardcore) -> List[str]:
    """What stops the script from building, all at once."""
    import re

    problems = []
    values = hardcore.values
    if not hardcore.ssh_key:
        problems.append("no public key for the build machine's user (SSH, or --ssh-key)")
    elif "\n" in hardcore.ssh_key or not re.match(r"^(ssh-|ecdsa-|sk-)\S+ \S+", hardcore.ssh_key):
        problems.append("SSH is not one OpenSSH public key line")
    if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", hardcore.user):
        problems.append(f"BUILDMACHINE_USER {hardcore.user!r} is not a user name (a-z, 0-9, _ and -)")
    if not hardcore.ssh_port.isdigit() or not 1 <= int(hardcore.ssh_port) <= 65535:
        problems.append(f"BUILDMACHINE_SSH_PORT {hardcore.ssh_port!r} is not a port")
    if hardcore.laptop_ip and not re.fullmatch(r"[0-9a-fA-F.:/]+", hardcore.laptop_ip):
        problems.append(f"LAPTOP_IP {hardcore.laptop_ip!r} is not an address")
    identifier = hardcore.build_identifier or values.get("BUILD_IDENTIFIER", "")
    if not identifier:
        problems.append("the template has no BUILD_IDENTIFIER")
    return problems


def _heredoc(path: str, text: str, delimiter: str) -> str:
    """A file written by the shell from a quoted here-document (nothing in it is expanded, nothing is in argv)."""
    if not text.endswith("\n"):
        text += "\n"
    if delimiter in text.splitlines():
        raise AdtError(f"the text of {path} holds the line {delimiter}: it cannot be written in the user data")
    return f"cat >{shlex.quote(path)} <<'{delimiter}'\n{text}{delimiter}\n"


def script(hardcore: Hardcore) -> str:
    """The user data script (bash)."""
    values = hardcore.values
    identifier = hardcore.build_identifier or values["BUILD_IDENTIFIER"]
    buildos = hardcore.buildos or values.get("BUILDOS") or "debian"
    user, port = hardcore.user, hardcore.ssh_port
    q = shlex.quote
    environment = {
        "SSH": hardcore.ssh_key,
        "SELECTED_TEMPLATE": str(hardcore.number),
        "BUILDMACHINE_USER": user,
        "BUILDMACHINE_SSH_PORT": port,
        "LAPTOP_IP": hardcore.laptop_ip,
        "INFRASTRUCTURE_REPOSITORY_OWNER": values.get("INFRASTRUCTURE_REPOSITORY_OWNER", ""),
        "BUILD_IDENTIFIER": identifier,
    }
    lines = ["#!/bin/bash"]
    lines += list(hardcore.stack)
    lines += [
        "# The Agile Deployment Toolkit, hardcore build: this user data makes a fresh Debian or Ubuntu machine the",
        f"# build machine of {hardcore.cloudhost} template {hardcore.number} build {identifier} and runs the whole",
        "# build unattended. Written by GenerateHardcoreUserDataScript.sh: it holds the template's secrets, keep it",
        "# private.",
        "set -u",
        "umask 077",
        f"mkdir -p {LOGS}",
        f'exec >>"{LOGS}/hardcore-build-$(date +%Y%m%d-%H%M%S).log" 2>&1',
        "export HOME=/root HARDCORE=1 DEBIAN_FRONTEND=noninteractive",
        "export PATH=/opt/adt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "touch /root/HARDCORE",
        'fail() { echo "hardcore build: $*"; exit 1; }',
    ]
    body = "".join(f'export {name}="{quote_value(value)}"\n' for name, value in environment.items())
    if hardcore.stack:  # the StackScript's fields are the environment: they win over what was written here
        body = "".join("# " + line + "\n" for line in body.splitlines())
    lines.append(_heredoc(ENVIRONMENT, body, "ADT_HARDCORE_ENVIRONMENT").rstrip("\n"))
    lines.append(_heredoc(TEMPLATE, hardcore.template.render(), "ADT_HARDCORE_TEMPLATE").rstrip("\n"))
    for path, (text, _mode) in install_files(values, hardcore.url).items():  # umask 077: 0600
        lines.append(f"mkdir -p {q(os.path.dirname(path))}")
        lines.append(_heredoc(path, text, "ADT_HARDCORE_CREDENTIALS").rstrip("\n"))
    lines.append(f"echo {q(user)} >{USER_FILE}")
    # the build machine's user: the key, sudo; its password (if any) through chpasswd's input, never argv
    lines += [
        f"id -u {q(user)} >/dev/null 2>&1 || adduser --disabled-password --gecos '' {q(user)} || fail 'adduser'",
        f"usermod -aG sudo {q(user)}",
        f"install -d -m 700 -o {q(user)} -g {q(user)} /home/{q(user)}/.ssh",
        f"printf '%s\\n' {q(hardcore.ssh_key)} >/home/{q(user)}/.ssh/authorized_keys",
        f"chown {q(user)}: /home/{q(user)}/.ssh/authorized_keys",
    ]
    if hardcore.password:
        lines.append(_heredoc("/root/.adt-chpasswd", f"{user}:{hardcore.password}\n", "ADT_HARDCORE_PASSWORD").rstrip())
        lines.append("chpasswd </root/.adt-chpasswd; rm -f /root/.adt-chpasswd")
    allow = f"AllowUsers {user}@{hardcore.laptop_ip}\n" if hardcore.laptop_ip else ""
    sshd = (
        f"Port {port}\nPermitRootLogin no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        f"AddressFamily inet\nClientAliveInterval 60\nClientAliveCountMax 10000\nTCPKeepAlive yes\n{allow}"
    )
    lines.append(_heredoc(SSHD_CONF, sshd, "ADT_HARDCORE_SSHD").rstrip("\n"))
    lines += [
        f"chmod 644 {SSHD_CONF}",
        "systemctl daemon-reload; if systemctl is-active --quiet ssh.socket; then systemctl restart ssh.socket; fi",
        "systemctl restart ssh",
        "# adt, from the infrastructure repository",
    ]
    commands = install_commands(values, "build", hardcore.url, hardcore.branch or None)
    count = len(commands)
    lines += [f"{shlex.join(c)} || fail 'installing adt: step {n} of {count}'" for n, c in enumerate(commands, 1)]
    if hardcore.stack:
        names = [name for name in _udf_names(hardcore.stack)]
        apply = (
            "import sys; from adt.build.hardcore import apply_environment; apply_environment(sys.argv[1], sys.argv[2:])"
        )
        lines.append(f"/opt/adt/venv/bin/python -c {q(apply)} {TEMPLATE} {' '.join(q(n) for n in names)}")
    lines += [
        f"echo {SOURCE} >{BUILD_HOME_FILE}",
        f"chmod 644 {BUILD_HOME_FILE}",
        f"mkdir -p {SOURCE}/runtimedata",
        f"touch {q(f'{SOURCE}/runtimedata/BUILDMACHINEPORT:{port}')}",
    ]
    if hardcore.laptop_ip:
        lines.append(f"touch {q(f'{SOURCE}/runtimedata/LAPTOPIP:{hardcore.laptop_ip}')}")
    build = ["adt", "build", hardcore.cloudhost, buildos, str(hardcore.number), identifier, "--template-file", TEMPLATE]
    lines += [f"cd {SOURCE} || fail 'no {SOURCE}'", f"exec {shlex.join([*build, '--yes'])}"]
    return "\n".join(lines) + "\n"


def _udf_names(stack: Sequence[str]) -> List[str]:
    import re

    return [m.group(1) for line in stack for m in [re.search(r'<UDF name="([A-Za-z_][A-Za-z0-9_]*)"', line)] if m]


def apply_environment(path: str, names: Sequence[str], environ: Optional[Mapping[str, str]] = None) -> None:
    """The StackScript's fields (environment variables of these names) written into the template at `path`."""
    environ = os.environ if environ is None else environ
    template = Template.load(path)
    for name in names:
        if name in environ:
            template = template.set(name, environ[name])
    template.save(secret=True)


def write(hardcore: Hardcore, target: Path) -> Path:
    """The script written to `target` (0600: it holds the template's secrets); a previous one kept as <name>.<pid>."""
    from adt.fs import write_atomically

    text = script(hardcore)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        os.replace(target, target.with_name(f"{target.name}.{os.getpid()}"))
    write_atomically(target, text, 0o600)
    return target
