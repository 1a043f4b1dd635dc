"""A machine's script tree under ${HOME} and its root crontab, as the original lays them out.

Operators and their own cron lines call `${HOME}/providerscripts/datastore/configwrapper/*.sh`,
`${HOME}/cron/*.sh`, `${HOME}/application/backupscripts/*.sh` on every machine, and other machines call some of
them over ssh. They are adt's thin entry points (each one line: `exec adt …`), copied from the adt installed
on the machine, so there is no logic to drift. `crontab` is the original's `cron/InitialiseCron.sh` output for
the jobs adt implements, line for line (`MAILTO=''` first, `export HOME=<home> && ${HOME}/cron/…`), plus the
agent's own line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from adt.errors import AdtError
from adt.fs import write_atomically
from adt.settings.paths import TOOLKIT

CONFIGWRAPPER = tuple(
    f"providerscripts/datastore/configwrapper/{name}.sh"
    for name in (
        "CheckConfigDatastore",
        "DeleteFromConfigDatastore",
        "GetDBCredential",
        "GetFromConfigDatastore",
        "ListFromConfigDatastore",
        "PutToConfigDatastore",
    )
)
RENEW_SSL = "providerscripts/security/ssl/RenewSSLCertificate.sh"  # a webserver installs the published pair
EVERY_ROLE = (
    *CONFIGWRAPPER,
    "cron/SetupFirewallFromCron.sh",
    "cron/StartAgentFromCron.sh",
    "security/SetupFirewall.sh",
    "security/ResetFirewall.sh",
)
# the role's own scripts, where the original's repository for that role has them
ROLE_SCRIPTS: Dict[str, Tuple[str, ...]] = {
    "webserver": (
        *EVERY_ROLE,
        "cron/BackupFromCron.sh",
        "application/backupscripts/Backup.sh",
        "application/backupscripts/CreateWebrootBaseline.sh",
        "application/backupscripts/VerifyBackupPresent.sh",
        RENEW_SSL,
    ),
    "database": (
        *EVERY_ROLE,
        "cron/BackupFromCron.sh",
        "application/backupscripts/Backup.sh",
        "application/backupscripts/CreateDBBaseline.sh",
    ),
    "autoscaler": (  # the DNS round robin's entry points first (the autoscaler adds and removes webservers)
        *(
            f"providerscripts/dns/{name}.sh"
            for name in ("AddRecord", "DeleteRecord", "GetIPAddresses", "GetRecordID", "GetZoneID")
        ),
        *(f"autoscaler/{name}.sh" for name in ("AddIPToDNS", "GetDNSIPs", "RemoveIPFromDNS")),
        # the cloud's machines, as the original autoscaler's own providerscripts/server/ has them
        *(
            f"providerscripts/server/{name}.sh"
            for name in (
                "CreateServer",
                "DestroyServer",
                "GetOperatingSystemVersion",
                "GetServerIPAddresses",
                "GetServerName",
                "GetServerPrivateIPAddressByIP",
                "GetServerPrivateIPAddresses",
                "GetServerPublicIPAddressByIP",
                "IsInstanceRunning",
                "ListServerIDs",
                "NumberOfServers",
            )
        ),
        *(f"utilities/processing/{name}.sh" for name in ("ManuallyScale", "ScalingUpdateEvent")),
        "cron/PerformScalingFromCron.sh",
        "cron/DeadOrAliveFromCron.sh",
        *EVERY_ROLE,
    ),
}

# the original's backup schedule (cron/InitialiseCron.sh of the webserver and database repositories)
BACKUP_SCHEDULE = (
    ("2 * * * *", "HOURLY"),
    ("30 2 * * *", "DAILY"),
    ("30 3 * * 7", "WEEKLY"),
    ("30 4 1 * *", "MONTHLY"),
    ("30 5 1 Jan,Mar,May,Jul,Sep,Nov *", "BIMONTHLY"),
)


def scripts_of(role: str) -> Tuple[str, ...]:
    if role not in ROLE_SCRIPTS:
        raise AdtError(f"no script tree for a {role} machine", f"the roles are {', '.join(ROLE_SCRIPTS)}")
    return ROLE_SCRIPTS[role]


def crontab(role: str, home: str, backups: bool = True, production: bool = False, https: bool = False) -> str:
    """The machine's root crontab. The original's lines for the jobs adt implements, in the original's
    order (a webserver writes its backups before its firewall line, the database machine after), then
    adt's agent line: a `*/1` start that does nothing while the agent runs, so a dead agent is back
    within a minute. Without `backups` (a restore drill's throwaway machines), no backup lines: such a
    machine must never write over the backups it was made from. A `production` autoscaler has the original's
    scaling (*/2) and dead-or-alive (*/3) lines after its firewall's: both keep adt's autoscaler service running.
    A webserver that serves `https` (SERVEHTTPS:1) has the original's daily RenewSSLCertificate.sh line (03:35)
    and adt's own check every 5 minutes, the same script (it does nothing while the published pair is the live
    one): a renewal reaches every webserver within 5 minutes of its publication."""
    scripts_of(role)

    def line(when: str, command: str) -> str:
        return f"{when} export HOME={home} && {home}/{command}\n"

    firewall = [line("*/1 * * * *", "cron/SetupFirewallFromCron.sh")]
    taken = [line(when, f"cron/BackupFromCron.sh '{period}'") for when, period in BACKUP_SCHEDULE] if backups else []
    scaling = (
        [line("*/2 * * * *", "cron/PerformScalingFromCron.sh"), line("*/3 * * * *", "cron/DeadOrAliveFromCron.sh")]
        if production
        else []
    )
    ssl = [line("35 3 * * *", RENEW_SSL), line("*/5 * * * *", RENEW_SSL)] if https and role == "webserver" else []
    jobs = {"webserver": taken + firewall + ssl, "database": firewall + taken, "autoscaler": firewall + scaling}[role]
    return "MAILTO=''\n" + "".join(jobs) + line("*/1 * * * *", "cron/StartAgentFromCron.sh")


def source_root() -> Path:
    """The shell tree of the adt installed here (the checkout it runs from)."""
    if not (TOOLKIT / CONFIGWRAPPER[0]).is_file():
        raise AdtError(
            f"the adt installed at {TOOLKIT} has no shell entry points ({CONFIGWRAPPER[0]} is missing)",
            "install adt from its repository (make install)",
        )
    return TOOLKIT


def install_scripts(home: Path, role: str, source: Optional[Path] = None) -> List[str]:
    """Copy the role's entry points into home at the original's paths (0755, root's), replacing older copies;
    returns the paths written, relative to home."""
    source = source or source_root()
    written = []
    for relative in scripts_of(role):
        original = source / relative
        if not original.is_file():
            raise AdtError(f"{original} is missing from the adt installed here", "reinstall adt (make install)")
        target = home / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or (target.exists() and not target.is_file()):
            raise AdtError(f"{target} is not a plain file: not replacing it", "remove it, then run this again")
        write_atomically(target, original.read_text(), 0o755)
        written.append(relative)
    for directory in {str(Path(r).parent) for r in written}:  # the tree is root's and readable, as scripts are
        path = home / directory
        while path != home:
            os.chmod(path, 0o755)
            path = path.parent
    return written
