"""The user data of a provider's machine: the #cloud-config document, its inverse, and adt's install commands."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adt.cloud.base import UserData, first_boot
from adt.cloud.userdata import (
    CREDENTIALS,
    INSTALLED_ADT,
    SOURCE,
    cloud_config,
    for_cloud,
    install_commands,
    install_files,
    parse,
    repository_url,
)
from adt.errors import AdtError

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests build@adt"
TOKEN = "ghp_s3cr3t/+=tok"
VALUES = {
    "INFRASTRUCTURE_REPOSITORY_PROVIDER": "gitlab",
    "INFRASTRUCTURE_REPOSITORY_OWNER": "acme",
    "INFRASTRUCTURE_REPOSITORY_USERNAME": "deployer",
    "INFRASTRUCTURE_REPOSITORY_TOKEN": TOKEN,
}


def test_the_repository_is_the_owners_adt_on_the_providers_domain():
    assert repository_url({}) == "https://github.com/wintersys-projects/adt.git"
    assert repository_url(VALUES) == "https://deployer@gitlab.com/acme/adt.git"  # a user for the credential helper
    with pytest.raises(AdtError, match="INFRASTRUCTURE_REPOSITORY_PROVIDER 'sourceforge'"):
        repository_url({"INFRASTRUCTURE_REPOSITORY_PROVIDER": "sourceforge"})


def test_install_commands_state_the_whole_install():
    commands = install_commands(VALUES)
    clone = commands[1]
    assert clone == [
        "sh",
        "-c",
        f"[ -d {SOURCE}/.git ] || GIT_TERMINAL_PROMPT=0 git -c 'credential.helper=store --file={CREDENTIALS}' "
        f"clone --quiet --depth 1 --branch main https://deployer@gitlab.com/acme/adt.git {SOURCE}; status=$?; "
        f"rm -f {CREDENTIALS}; exit $status",
    ]
    assert commands[2:] == [
        ["python3", "-m", "venv", "/opt/adt/venv"],
        ["/opt/adt/venv/bin/python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--editable", SOURCE, "--config-settings", "editable_mode=compat"],
        ["mkdir", "-p", "/opt/adt/bin"],
        ["ln", "-sfn", "/opt/adt/venv/bin/adt", INSTALLED_ADT],
    ]  # fmt: skip
    assert "apt-get install" in commands[0][2] and "dpkg -s $p" in commands[0][2]  # only what is missing


def test_a_role_adds_its_packages_and_a_branch_and_url_can_be_given():
    database = install_commands({}, role="database", url="file:///srv/adt.git", branch="next")
    assert len(database) == 7 and "mariadb-server" in database[1][2]
    assert "--branch next file:///srv/adt.git" in database[2][2]
    webserver = install_commands({"INFRASTRUCTURE_REPOSITORY_BRANCH": "stable"}, role="webserver")
    assert "php-fpm" in webserver[1][2] and "wordpress " in webserver[2][2] and "--branch stable" in webserver[3][2]


def test_the_token_is_only_in_a_private_credentials_file():
    files = install_files(VALUES)
    assert files == {CREDENTIALS: ("https://deployer:ghp_s3cr3t%2F%2B%3Dtok@gitlab.com\n", 0o600)}
    assert not any(TOKEN in word or "s3cr3t" in word for command in install_commands(VALUES) for word in command)
    assert install_files({**VALUES, "INFRASTRUCTURE_REPOSITORY_TOKEN": ""}) == {}
    assert install_files(VALUES, url="file:///srv/adt.git") == {}  # nothing to answer
    local = install_files(VALUES, url="https://x@127.0.0.1:8443/git/adt.git")
    assert local[CREDENTIALS][0] == "https://x:ghp_s3cr3t%2F%2B%3Dtok@127.0.0.1:8443\n"


def test_for_cloud_adds_the_install_to_the_first_boot():
    boot = first_boot("database", "Xuser", "DBPASSWORD:p\n", "/build/.venv/bin/adt")
    cloud = for_cloud(boot, VALUES, "database")
    assert cloud.install == install_commands(VALUES, "database")
    assert cloud.files[CREDENTIALS][1] == 0o600 and cloud.command == boot.command
    document = json.loads(cloud_config(cloud, 1035, KEY).split("\n", 1)[1])
    # on the machine adt is where the install put it, not where the build machine has it
    assert document["runcmd"][-1] == [
        "sh",
        "-c",
        f"mkdir -p /var/log/adt && exec {INSTALLED_ADT} machine bootstrap --role database"
        " >>/var/log/adt/bootstrap.log 2>&1",
    ]
    entry = next(
        f for f in document["write_files"] if f["path"] == "/home/Xuser/runtime/database_configuration_settings.dat"
    )
    assert entry["permissions"] == "0600" and entry["owner"] == "root:root"
    assert "DBPASSWORD" not in cloud_config(cloud, 1035, KEY)  # encoded, not that it is a secret mechanism


def test_the_document_sets_sshd_and_roots_key():
    document = json.loads(cloud_config(UserData(), 2222, KEY + "\n").split("\n", 1)[1])
    assert document["users"] == [{"name": "root", "ssh_authorized_keys": [KEY]}]
    assert document["disable_root"] is False and document["ssh_pwauth"] is False
    assert document["write_files"][-1]["content"].startswith("Port 2222\nPermitRootLogin prohibit-password\n")
    assert document["runcmd"][0][:2] == ["sh", "-c"] and "systemctl restart ssh" in document["runcmd"][0][2]
    assert len(document["runcmd"]) == 1  # no command: nothing runs after sshd


def test_parse_is_the_inverse_of_cloud_config():
    boot = first_boot("webserver", "Xuser", "A:1\n" * 200, "adt", {"/home/Xuser/.ssh/id": ("KEY\n", 0o600)})
    boot.environment["ADT_ROLE"] = "webserver"
    cloud = for_cloud(boot, VALUES, "webserver")
    parsed, port, key = parse(cloud_config(cloud, 1035, KEY))
    assert (port, key) == (1035, KEY)
    assert parsed.files == cloud.files and parsed.environment == {"ADT_ROLE": "webserver"}
    assert parsed.install == cloud.install
    assert parsed.command == [INSTALLED_ADT, "machine", "bootstrap", "--role", "webserver"]
    local = first_boot("database", "Xuser", "B:2\n", "/v/bin/adt")
    assert parse(cloud_config(local, 22, KEY))[0] == UserData(files=local.files, command=local.command, install=[])


@given(
    files=st.dictionaries(
        st.from_regex(r"/home/[a-z]{1,8}/[a-z._]{1,12}", fullmatch=True),
        st.tuples(st.text(), st.sampled_from([0o600, 0o644, 0o755])),
        max_size=4,
    ),
    environment=st.dictionaries(st.from_regex(r"[A-Z_]{1,8}", fullmatch=True), st.text(min_size=0), max_size=3),
    port=st.integers(1, 65535),
)
def test_parse_round_trips_any_files_and_environment(files, environment, port):
    user_data = UserData(
        files=files, command=["adt", "machine", "bootstrap", "--role", "database"], environment=environment
    )
    parsed, parsed_port, _ = parse(cloud_config(user_data, port, KEY))
    assert parsed.files == files and parsed.environment == environment and parsed_port == port


def test_parse_refuses_what_adt_did_not_write():
    with pytest.raises(AdtError, match="not a #cloud-config document adt wrote"):
        parse("#!/bin/sh\necho hi\n")
    with pytest.raises(AdtError, match="not a #cloud-config document adt wrote"):
        parse("#cloud-config\nruncmd: [ls]\n")  # YAML adt does not write (adt writes JSON)


# -- the hardcore method's user data (adt.build.hardcore) ------------------------------------------------------------
def _override(tmp_path, extra=""):
    from adt.build import hardcore

    path = tmp_path / "vultr2override.tmpl"
    path.write_text(f'export BUILD_IDENTIFIER="shop2"\nexport BUILDOS="ubuntu"\nexport WEBSITE_NAME="Shop"\n{extra}')
    return hardcore, path


def test_hardcore_takes_the_build_from_the_override_and_the_access_from_its_options(tmp_path):
    hardcore, path = _override(tmp_path, f'export SSH="{KEY}"\nexport BUILDMACHINE_USER="ops"\n')
    made = hardcore.from_override(path, ssh_port="2200")
    assert (made.cloudhost, made.number, made.user, made.ssh_port, made.ssh_key) == ("vultr", 2, "ops", "2200", KEY)
    text = hardcore.script(made)
    assert text.endswith(
        "exec adt build vultr ubuntu 2 shop2 --template-file /root/adt-hardcore.tmpl --yes\n"
    )  # BUILDOS and BUILD_IDENTIFIER from the template
    assert 'export WEBSITE_NAME="Shop"\n' in text and "AllowUsers" not in text  # no LAPTOP_IP: any address


def test_hardcore_names_every_problem_at_once(tmp_path):
    hardcore, path = _override(tmp_path)
    path.write_text('export WEBSITE_NAME="x"\n')
    with pytest.raises(
        AdtError,
        match=r"no public key .*; BUILDMACHINE_USER 'Bad User' is not a user name.*; "
        r"BUILDMACHINE_SSH_PORT '70000' is not a port; the template has no BUILD_IDENTIFIER",
    ):
        hardcore.from_override(path, user="Bad User", ssh_port="70000")
    elsewhere = tmp_path / "mine.tmpl"
    elsewhere.write_text('export BUILD_IDENTIFIER="b"\n')
    with pytest.raises(AdtError, match="does not name its cloud host and template number"):
        hardcore.from_override(elsewhere, ssh_key=KEY)
    assert hardcore.from_override(elsewhere, ssh_key=KEY, cloudhost="linode", number=1).cloudhost == "linode"


def test_hardcore_refuses_a_value_that_would_end_its_here_document(tmp_path):
    hardcore, path = _override(tmp_path)
    made = hardcore.from_override(path, ssh_key=KEY, password="x\nADT_HARDCORE_PASSWORD\nrm -rf /")
    with pytest.raises(AdtError, match="holds the line ADT_HARDCORE_PASSWORD"):
        hardcore.script(made)


def test_hardcore_password_and_token_reach_no_command_line(tmp_path):
    hardcore, path = _override(tmp_path)
    made = hardcore.from_override(path, ssh_key=KEY, password="pa ss'w", token="tok_123")
    lines = hardcore.script(made).splitlines()
    assert [line for line in lines if "tok_123" in line] == ["https://wintersys-projects:tok_123@github.com"]
    assert [line for line in lines if "pa ss'w" in line] == [f"{made.user}:pa ss'w"]
    assert "chpasswd </root/.adt-chpasswd; rm -f /root/.adt-chpasswd" in lines


def test_a_stackscripts_fields_replace_the_templates_values(tmp_path):
    hardcore, path = _override(tmp_path)
    hardcore.apply_environment(str(path), ["WEBSITE_NAME", "BUILDOS"], {"WEBSITE_NAME": "New $hop", "OTHER": "x"})
    from adt.settings.template import Template

    assert Template.load(path).values() == {
        "BUILD_IDENTIFIER": "shop2",
        "BUILDOS": "ubuntu",
        "WEBSITE_NAME": "New $hop",
    }
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_repository_name_and_branch_are_the_templates_when_given():
    from adt.cloud.userdata import install_commands, repository_url

    values = {"INFRASTRUCTURE_REPOSITORY_OWNER": "acme", "INFRASTRUCTURE_REPOSITORY_NAME": "our-adt",
              "INFRASTRUCTURE_REPOSITORY_BRANCH": "stable"}
    assert repository_url(values) == "https://github.com/acme/our-adt.git"
    assert repository_url({"INFRASTRUCTURE_REPOSITORY_OWNER": "acme"}) == "https://github.com/acme/adt.git"
    clone = next(c for c in install_commands(values) if "clone" in " ".join(c))
    assert "--branch stable https://github.com/acme/our-adt.git" in " ".join(clone)
