"""A machine's script tree and crontab against the original's (cron/InitialiseCron.sh of each role's repository)."""

import os
import stat
import subprocess
from pathlib import Path

import pytest

from adt.errors import AdtError
from adt.machine import scripts
from adt.settings.paths import TOOLKIT

# The original's own lines that write the crontab entries of the jobs adt implements, verbatim, in the order
# its cron/InitialiseCron.sh writes them (adt-webserver-scripts ae64d59, lines 28, 134-138, 144;
# adt-database-scripts 7f5a384, lines 27, 32, 48-52; adt-autoscaler-scripts ab51479, lines 30, 36).
# The test runs them through /bin/sh as the original does, so its quoting is the oracle.
FIREWALL = """/bin/echo "*/1 * * * * export HOME="${HOME}" && ${HOME}/cron/SetupFirewallFromCron.sh\""""
ORIGINAL = {
    "webserver": [
        """/bin/echo "MAILTO=''\"""",
        """/bin/echo "2 * * * * export HOME="${HOME}" && ${HOME}/cron/BackupFromCron.sh 'HOURLY'\"""",
        """/bin/echo "30 2 * * * export HOME="${HOME}" && ${HOME}/cron/BackupFromCron.sh 'DAILY'\"""",
        """/bin/echo "30 3 * * 7 export HOME="${HOME}" && ${HOME}/cron/BackupFromCron.sh 'WEEKLY'\"""",
        """/bin/echo "30 4 1 * * export HOME="${HOME}" && ${HOME}/cron/BackupFromCron.sh 'MONTHLY'\"""",
        """/bin/echo "30 5 1 Jan,Mar,May,Jul,Sep,Nov * export HOME="${HOME}" && ${HOME}/cron/BackupFromCron.sh 'BIMONTHLY'\"""",
        FIREWALL,
    ],
    "database": [
        """/bin/echo "MAILTO=''\"""",
        FIREWALL,
        """/bin/echo "2 * * * * export HOME=${HOME} && ${HOME}/cron/BackupFromCron.sh 'HOURLY'\"""",
        """/bin/echo "30 2 * * * export HOME=${HOME} && ${HOME}/cron/BackupFromCron.sh 'DAILY'\"""",
        """/bin/echo "30 3 * * 7 export HOME=${HOME} && ${HOME}/cron/BackupFromCron.sh 'WEEKLY'\"""",
        """/bin/echo "30 4 1 * * export HOME=${HOME} && ${HOME}/cron/BackupFromCron.sh 'MONTHLY'\"""",
        """/bin/echo "30 5 1 Jan,Mar,May,Jul,Sep,Nov * export HOME=${HOME} && ${HOME}/cron/BackupFromCron.sh 'BIMONTHLY'\"""",
    ],
    "autoscaler": ["""/bin/echo "MAILTO=''\"""", FIREWALL],
}  # fmt: skip
AGENT_LINE = "*/1 * * * * export HOME={home} && {home}/cron/StartAgentFromCron.sh"


@pytest.mark.parametrize("role", sorted(ORIGINAL))
@pytest.mark.parametrize("home", ["/home/X1Y2", "/home/a b"])
def test_crontab_is_the_originals_line_for_line_then_the_agents(role, home):
    original = subprocess.run(["/bin/sh", "-c", "\n".join(ORIGINAL[role])], env={"HOME": home}, capture_output=True,
                              text=True, check=True).stdout.splitlines()
    ours = scripts.crontab(role, home).splitlines()
    assert ours == original + [AGENT_LINE.format(home=home)]


# adt-autoscaler-scripts ab51479 cron/InitialiseCron.sh lines 84-85, written when PRODUCTION is 1
PRODUCTION_AUTOSCALER = [
    """/bin/echo "*/2 * * * * export HOME="${HOME}" && ${HOME}/cron/PerformScalingFromCron.sh\"""",
    """/bin/echo "*/3 * * * * export HOME="${HOME}" && ${HOME}/cron/DeadOrAliveFromCron.sh\"""",
]


@pytest.mark.parametrize("home", ["/home/X1Y2", "/home/a b"])
def test_a_production_autoscalers_crontab_has_the_originals_scaling_lines(home):
    original = subprocess.run(["/bin/sh", "-c", "\n".join(ORIGINAL["autoscaler"] + PRODUCTION_AUTOSCALER)],
                              env={"HOME": home}, capture_output=True, text=True, check=True).stdout.splitlines()
    assert scripts.crontab("autoscaler", home, production=True).splitlines() == original + [
        AGENT_LINE.format(home=home)]
    assert "Scaling" not in scripts.crontab("autoscaler", home)  # a development fleet does not scale


def test_a_role_without_a_tree_is_refused():
    with pytest.raises(AdtError, match="no script tree for a proxy machine"):
        scripts.crontab("proxy", "/home/x")


def test_every_script_a_crontab_or_a_role_names_is_a_thin_entry_point_of_the_repository():
    named = {word.split("/home/x/", 1)[1] for role in scripts.ROLE_SCRIPTS
             for word in scripts.crontab(role, "/home/x", production=True).split() if word.startswith("/home/x/")}
    listed = {path for paths in scripts.ROLE_SCRIPTS.values() for path in paths}
    assert named <= listed
    for relative in listed:
        text = (TOOLKIT / relative).read_text()
        assert os.access(TOOLKIT / relative, os.X_OK), relative
        lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert lines[0] == 'PATH="${PATH}:/opt/adt/bin:/usr/local/bin"' and lines[-1].startswith("exec adt "), relative
        assert len(lines) <= 3, relative  # thin: no logic to drift from the CLI


def test_install_scripts_copies_the_roles_tree_executable_and_replaces_older_copies(tmp_path):
    old = tmp_path / "cron" / "BackupFromCron.sh"
    old.parent.mkdir()
    old.write_text("#!/bin/sh\necho old\n")
    written = scripts.install_scripts(tmp_path, "database")
    assert sorted(written) == sorted(scripts.ROLE_SCRIPTS["database"])
    for relative in written:
        assert (tmp_path / relative).read_text() == (TOOLKIT / relative).read_text()
        assert stat.S_IMODE((tmp_path / relative).stat().st_mode) == 0o755
    assert not (tmp_path / "application" / "backupscripts" / "CreateWebrootBaseline.sh").exists()
    assert (tmp_path / "providerscripts" / "datastore" / "configwrapper" / "GetFromConfigDatastore.sh").exists()


def test_install_scripts_never_writes_through_a_link(tmp_path):
    (tmp_path / "cron").mkdir()
    outside = tmp_path / "outside"
    outside.write_text("keep\n")
    (tmp_path / "cron" / "SetupFirewallFromCron.sh").symlink_to(outside)
    with pytest.raises(AdtError, match="SetupFirewallFromCron.sh is not a plain file"):
        scripts.install_scripts(tmp_path, "autoscaler")
    assert outside.read_text() == "keep\n"


def test_a_missing_source_script_is_named(tmp_path):
    source = tmp_path / "adt"
    for relative in scripts.ROLE_SCRIPTS["autoscaler"][:-1]:
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        (source / relative).write_text("#!/bin/sh\n")
    with pytest.raises(AdtError, match="ResetFirewall.sh is missing from the adt installed here"):
        scripts.install_scripts(tmp_path / "home", "autoscaler", source)


def test_adt_adds_the_system_directories_cron_leaves_out():
    """Cron runs jobs with PATH=/usr/bin:/bin; adt adds the sbin directories (iptables, ufw, mariadbd) for what
    it runs, after the caller's own."""
    from adt.entry import system_path

    assert system_path("/usr/bin:/bin").split(":") == [
        "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/sbin"]
    assert system_path("/opt/x:/usr/sbin") == "/opt/x:/usr/sbin:/usr/local/sbin:/usr/local/bin:/usr/bin:/sbin:/bin"
    assert system_path("") == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
