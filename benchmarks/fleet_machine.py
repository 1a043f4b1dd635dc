"""What a freshly built fleet machine gets by default: its wrapper calls and its firewall reconcile.

    .venv/bin/python benchmarks/fleet_machine.py [--runs 15]

Builds template 1 on the local cloud host (its own VPC range), touches nothing on the machines, then on the
webserver, with cron's environment (`env -i … PATH=/usr/bin:/bin`, as a cron line or an operator's script
runs them): `${HOME}/providerscripts/datastore/configwrapper/*.sh` (put, get, list, check) against s3cmd
with the same credentials on the same machine doing the same request, interleaved, median of N
(target ≤ 0.5, stretch 0.25); then the minute's firewall reconcile (`${HOME}/cron/SetupFirewallFromCron.sh`):
wall and CPU time with the agent the bootstrap started, and in-process (ADT_AGENT=off). CPU time counts the
client and, with the agent, the agent's child that ran the call. Destroys the fleet at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent

from adt.agent import running_pid  # noqa: E402
from adt.cloud.local import LocalDriver  # noqa: E402
from adt.datastore.naming import config_bucket  # noqa: E402
from adt.settings.machine import MachineSettings  # noqa: E402
from adt.settings.template import Template, write_atomically  # noqa: E402

VPC = "10.178.0.0/24"
CRON_ENV = ["env", "-i", "HOME=/root", "LOGNAME=root", "SHELL=/bin/sh", "PATH=/usr/bin:/bin"]


def cpu_of(pid: int) -> float:
    """A process's CPU seconds, its reaped children's included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def timed(argv) -> tuple:
    """(wall seconds, CPU seconds of the process tree we waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{shlex.join(argv)} failed: {result.stderr.strip()}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="adt-bench-fleet-"))
    template = work / "local1.tmpl"
    Template.load(ROOT / "templates/local/local1.tmpl").set("VPC_IP_RANGE", VPC).save(template)
    env = {**os.environ, "BUILD_HOME": str(work), "ADT_LOCAL_STATE": str(work / "state")}
    adt = str(BIN / "adt")
    built = subprocess.run([adt, "build", "local", "debian", "1", "fleetbench", "--template-file", str(template),
                            "--json"], env=env, capture_output=True, text=True)
    try:
        if built.returncode != 0:
            raise SystemExit(f"the build failed: {built.stderr.strip()}")
        os.environ["ADT_LOCAL_STATE"] = str(work / "state")
        driver = LocalDriver(VPC)
        name = next(s.name for s in driver.list_servers() if s.role == "webserver")
        enter = driver.enter(name)
        home = driver.host_path(name, "/home/homedir.dat").read_text().strip()
        settings = MachineSettings.load(driver.host_path(name, f"{home}/runtime/webserver_configuration_settings.dat"))
        s3cfg = "/etc/adt/bench-s3cfg"  # the machine's own, private
        host = settings.require("S3HOSTBASE").split("://")[-1]
        write_atomically(
            driver.host_path(name, s3cfg),
            f"[default]\naccess_key = {settings.require('S3ACCESSKEY')}\nsecret_key = {settings.require('S3SECRETKEY')}\n"
            f"host_base = {host}\nhost_bucket = {host}\nuse_https = False\nsignature_v2 = False\n"
            "bucket_location = us-east-1\n",
            0o600,
        )
        bucket = config_bucket(settings.require("WEBSITEURL"), settings.require("SERVERUSER"))
        wrappers = f"{home}/providerscripts/datastore/configwrapper"
        scratch = f"{home}/bench"  # the machine's own (its /tmp is this computer's)
        s3cmd = ["s3cmd", "-c", s3cfg]
        cron = [*enter, *CRON_ENV, "/bin/sh", "-c"]

        def pair(i):
            ip = f"10.9.{i // 250}.{i % 250}"
            return {
                "put": (f"export HOME={home} && {wrappers}/PutToConfigDatastore.sh {ip} benchips",
                        f"touch {scratch}/{ip} && {shlex.join(s3cmd)} put {scratch}/{ip} s3://{bucket}/benchips/"),
                "get": (f"export HOME={home} && {wrappers}/GetFromConfigDatastore.sh benchips/10.9.0.0 {scratch}/dl",
                        f"{shlex.join(s3cmd)} get --force s3://{bucket}/benchips/10.9.0.0 {scratch}/dl/"),
                "list": (f"export HOME={home} && {wrappers}/ListFromConfigDatastore.sh benchips/",
                         f"{shlex.join(s3cmd)} ls --recursive s3://{bucket}/benchips/"),
                "check": (f"export HOME={home} && {wrappers}/CheckConfigDatastore.sh benchips",
                          f"{shlex.join(s3cmd)} ls s3://{bucket}/benchips"),
            }

        subprocess.run([*enter, "mkdir", "-p", f"{scratch}/dl"], check=True)
        timed([*cron, pair(0)["put"][0]])
        calls = {op: {"adt": [], "s3cmd": []} for op in ("put", "get", "list", "check")}
        for i in range(args.runs):
            for op, (ours, original) in pair(i).items():
                calls[op]["adt"].append(timed([*cron, ours])[0])
                calls[op]["s3cmd"].append(timed([*cron, original])[0])
        print(f"wrapper calls on a fleet webserver ({name}), cron's environment, median of {args.runs}")
        print(f"{'op':6} {'adt':>9} {'s3cmd':>9} {'ratio':>6}")
        ratios = []
        for op, sides in calls.items():
            ours, original = (statistics.median(sides[s]) * 1000 for s in ("adt", "s3cmd"))
            ratios.append(ours / original)
            print(f"{op:6} {ours:7.1f}ms {original:7.1f}ms {ours / original:6.2f}")
        print(f"worst ratio {max(ratios):.2f} (target <= 0.5, stretch 0.25)")

        agent_pid = int(driver.host_path(name, "/run/adt/agent.sock.pid").read_text())
        socket = str(driver.host_path(name, "/run/adt/agent.sock"))  # the machine's socket, seen from here
        reconcile = f"export HOME={home} && {home}/cron/SetupFirewallFromCron.sh"
        cold = f"export ADT_AGENT=off && {reconcile}"
        sides = {"agent": ([], []), "in-process": ([], [])}
        for _ in range(args.runs):
            agent_before = cpu_of(agent_pid)
            wall, cpu = timed([*cron, reconcile])
            time.sleep(0.2)
            running_pid(socket)  # a liveness probe: the agent reaps the call's child (and counts its CPU) first
            time.sleep(0.2)
            sides["agent"][0].append(wall)
            sides["agent"][1].append(cpu + cpu_of(agent_pid) - agent_before)
            wall, cpu = timed([*cron, cold])
            sides["in-process"][0].append(wall)
            sides["in-process"][1].append(cpu)
        print(f"firewall reconcile (SetupFirewallFromCron.sh, nothing to change), median of {args.runs}")
        for side, (walls, cpus) in sides.items():
            print(f"{side:11} wall {statistics.median(walls) * 1000:7.1f}ms  cpu {statistics.median(cpus) * 1000:7.1f}ms")
    finally:
        subprocess.run([adt, "destroy", "-c", "local", "-b", "fleetbench", "--yes"], env=env, capture_output=True)
        subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    main()
