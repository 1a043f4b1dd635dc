"""The autoscaler on the local cloud host, with its default settings: failover, scale-out, the CPU of a cycle.

    .venv/bin/python benchmarks/autoscaler.py [--runs 3] [--hung-runs 1] [--window 100]   (about 11 minutes)

One fleet for every measure, on its own VPC (10.195.0.0/24) with a temporary build home and local state: a
template 1 build, the WordPress install, hourly website and database backups, the fleet shut down, then a
template 3 build from those backups with 2 webservers and 1 autoscaler. The template leaves SCALING_INTERVAL,
SCALING_CONFIRM_SECONDS and DNS_TTL out: what is measured is what a user gets by default (a cycle every 5 s,
8 s of failed liveness probes before a webserver is replaced, a TTL of 60 s).

1. failover, N times: every process of a webserver's machine is killed (SIGKILL, a dead machine: the local cloud
   lists it stopped), and M times every process but its namespaces' holder ("hung": the cloud still lists it
   running, as a provider lists a crashed machine; only the probes can tell), interleaved; measured are
   the seconds until `dig @<the fleet's DNS>` no longer lists it, and until a replacement serves the site (in
   DNS, and GET / with Host: WEBSITEURL answers the site's page). The original's figures come from its timing
   model (`original_failover`): its DeadOrAlive cron every 3 minutes, staggered 30 s per autoscaler, SSH and
   HTTPS probes of a dead machine timing out (2 x 10 s, then 4 x 20 s); out of DNS at the first failed probe,
   ended at the second strike one run later, its replacement started by the next 2-minute scaling cron and built
   in our measured build time. Ours / the original's (medians), and the issue's targets (30 s, 90 s).
2. scale-out: to 1 webserver (`AdjustScaling.sh --autoscaler 1 1 --yes`, settled), then 1 -> 2 (one
   webserver's build), back to 1, then 1 -> 4; each from the command until every webserver serves and DNS lists
   exactly them. Target: 1 -> 4 within 1.5 x the one build.
3. the CPU of one cycle with 10 webservers (MAX_WEBSERVERS' default): scaled to 10 and settled, the autoscaler
   service's CPU time (utime + stime of its pid, /proc/<pid>/stat) over about 20 cycles, divided by the cycles
   the cloud API saw (each cycle's observation lists the build's webservers once: the API's log has one line a
   request); the API calls a cycle makes. There is no original to run beside it.

Everything is destroyed at the end (with --purge-datastore), also after a failure. When the autoscaler does not do
what is measured in time, its events (/var/log/adt/autoscaler-events.jsonl on its machine) are printed and the
remaining measures are skipped.
"""

from __future__ import annotations

import argparse
import http.client
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
VPC = "10.195.0.0/24"
URL = "www.adt-asbench.local"
TITLE = "adt autoscaler bench"
DEV, PROD = "asbdev", "asbprod"
PRODUCTION = {"APPLICATION": "wordpress", "WEBSERVER_CHOICE": "NGINX", "BUILD_ARCHIVE_CHOICE": "hourly"}
OUT_OF_DNS_TARGET, SERVING_TARGET, SCALE_OUT_TARGET = 30.0, 90.0, 1.5
DEFAULT_INTERVAL = 5.0  # adt/cli/autoscaler.py's, when the settings give no SCALINGINTERVAL

# -- the original's timing model (adt-autoscaler-scripts: cron/InitialiseCron.sh, autoscaler/DeadOrAliveWebservers.sh,
#    autoscaler/PerformScaling.sh) ------------------------------------------------------------------------------
DEAD_OR_ALIVE_EVERY = 180.0  # */3 cron/DeadOrAliveFromCron.sh
SCALING_EVERY = 120.0  # */2 cron/PerformScalingFromCron.sh (the same clock)
STAGGER = 30.0  # DeadOrAliveWebservers.sh sleeps 30 x <autoscaler number> before it probes
SSH_PROBE = 2 * 10.0  # 2 tries, ConnectTimeout=10
CURL_PROBE = 4 * 20.0  # 4 tries, curl -m 20


def original_failover(build_seconds: float, autoscaler: int = 1, step: float = 0.1):
    """The original's (out of DNS, replacement serving) seconds after a webserver's death, one pair per death
    time, the death times spread evenly (every `step` s) over the 6 minutes both crons repeat in.

    A DeadOrAlive run starting at k x 180 s probes at +30 x n s; a machine dead by then fails its probes, known
    after their time-outs (SSH then HTTPS), and is taken out of DNS (first strike); the next run (+180 s) ends it
    (second strike); the next scaling cron after that starts its replacement, which serves `build_seconds` later.
    Conservative for the original: the time the scripts themselves take (datastore and provider CLI calls, the
    endit's own SSH to the dead machine, up to 3 x 10 s) is left out."""
    period = DEAD_OR_ALIVE_EVERY * SCALING_EVERY / 60.0  # 360 s: both crons meet again
    probing = SSH_PROBE + CURL_PROBE
    pairs = []
    for i in range(int(period / step)):
        death = i * step
        run = -(-(death - STAGGER * autoscaler) // DEAD_OR_ALIVE_EVERY)  # the first run that probes after it
        probe = run * DEAD_OR_ALIVE_EVERY + STAGGER * autoscaler
        out = probe + probing
        ended = probe + DEAD_OR_ALIVE_EVERY + probing
        started = -(-ended // SCALING_EVERY) * SCALING_EVERY
        pairs.append((out - death, started + build_seconds - death))
    return pairs


# -- the fleet --------------------------------------------------------------------------------------------------
class Stuck(Exception):
    """The autoscaler did not do what is measured in time."""


def run(env, args, timeout=900, input=None):
    return subprocess.run(list(map(str, args)), env=env, capture_output=True, text=True, timeout=timeout, input=input)


def adt(env, *args, timeout=900):
    return run(env, [BIN / "adt", *args], timeout=timeout)


def script(env, path, *args, timeout=900):
    return run(env, [ROOT / path, *args], timeout=timeout)


def build(env, home, number, identifier, built, **values):
    from adt.settings.template import Template

    path = home / f"{secrets.token_hex(3)}-local{number}.tmpl"
    t = Template.load(ROOT / "templates" / "local" / f"local{number}.tmpl").set("VPC_IP_RANGE", VPC)
    t = t.set("WEBSITE_URL", URL).set("WEBSITE_NAME", "adt-asbench")
    for name, value in values.items():
        t = t.set(name, value)
    t.save(path)
    built.append(identifier)  # destroyed at the end even when it failed half way
    result = script(env, "ExpeditedAgileDeploymentToolkit.sh", "local", "debian", number, identifier,
                    "--template-file", path, "--json")  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"build {identifier} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def install(site):
    password = secrets.token_urlsafe(24)
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = {"weblog_title": TITLE, "user_name": "benchadmin", "admin_password": password,
            "admin_password2": password, "admin_email": "admin@example.com", "blog_public": "0", "language": "",
            "Submit": "Install WordPress"}  # fmt: skip
    with browser.open(
        site + "wp-admin/install.php?step=2", data=urllib.parse.urlencode(form).encode(), timeout=120
    ) as response:
        if "WordPress has been installed" not in response.read().decode():
            raise SystemExit("the WordPress installer did not finish")


def setup(env, home, built):
    """The development build, its site, hourly backups, shutdown; the production fleet: its --json report."""
    started = time.perf_counter()
    install(build(env, home, 1, DEV, built)["url"])
    for helper in ("PerformWebsiteBackup.sh", "PerformDatabaseBackup.sh"):
        result = script(env, f"helperscripts/{helper}", "--period", "HOURLY")
        if result.returncode != 0:
            raise SystemExit(f"{helper}: {result.stdout}{result.stderr}")
    result = script(env, "helperscripts/ShutdownInfrastructure.sh", "--yes")
    if result.returncode != 0:
        raise SystemExit(f"shutdown: {result.stdout}{result.stderr}")
    built.remove(DEV)
    prod = build(env, home, 3, PROD, built, **PRODUCTION, NO_WEBSERVERS="2", NO_AUTOSCALERS="1")
    took = time.perf_counter() - started
    print(f"setup (development build, site, backups, shutdown, production build): {took:.0f} s", flush=True)
    return prod


class Fleet:
    """What the benchmark looks at: the cloud's listing, the DNS server, the site, the autoscaler's files."""

    def __init__(self, env, state, dns):
        from adt.cloud.local import LocalDriver

        self.env, self.dns = env, dns
        self.driver = LocalDriver(VPC, str(state))

    def webservers(self):
        """name -> Server, running or not."""
        return {s.name: s for s in self.driver.list_servers(f"ws-local-{PROD}-")}

    def running(self):
        return {s.name: s.private_ip for s in self.webservers().values() if s.status == "running"}

    def listed(self):
        result = run(self.env, ["dig", "+short", "+time=2", "+tries=1", f"@{self.dns}", URL, "A"], timeout=30)
        return sorted(result.stdout.split()) if result.returncode == 0 else []

    @staticmethod
    def serves(ip, timeout=5.0):
        connection = http.client.HTTPConnection(ip, 80, timeout=timeout)
        try:
            connection.request("GET", "/", headers={"Host": URL})
            response = connection.getresponse()
            return response.status == 200 and TITLE in response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def settled(self, count):
        """`count` webservers running, every one serving, DNS listing exactly them."""
        running = self.running()
        ips = sorted(running.values())
        return len(ips) == count and self.listed() == ips and all(self.serves(ip) for ip in ips)

    def autoscaler(self):
        return next(s.name for s in self.driver.list_servers(f"NO-1-as-local-{PROD}-"))

    def events(self):
        path = self.driver.host_path(self.autoscaler(), "/var/log/adt/autoscaler-events.jsonl")
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(errors="replace").splitlines() if line.startswith("{")]

    def service_pid(self):
        return int(self.driver.host_path(self.autoscaler(), "/run/adt/autoscaler.pid").read_text())

    def interval(self):
        """The service's seconds between cycles, as it said when it started."""
        log = self.driver.host_path(self.autoscaler(), "/var/log/adt/autoscaler.log")
        said = re.findall(r"a cycle every ([\d.]+) s", log.read_text(errors="replace")) if log.exists() else []
        return float(said[-1]) if said else DEFAULT_INTERVAL

    def kill(self, name, holder=True):
        """SIGKILL to every process of the machine; with holder=False its namespaces' holder is spared, so the
        cloud still lists it running (a hung machine on a provider's cloud: only the probes can tell)."""
        machine = self.driver._machine(name)
        for pid in run(self.env, ["ip", "netns", "pids", machine["netns"]]).stdout.split():
            if holder or int(pid) != machine["holder"]:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def quiet(self, timeout=120):
        """Until the autoscaler has logged nothing for two cycles (a destroy it is busy with would delay the next
        measure's first cycle)."""
        calm = 2 * self.interval()
        self.until("the autoscaler is quiet", lambda: time.time() - max((e["time"] for e in self.events()),
                   default=0) > calm, timeout, every=1)  # fmt: skip

    def until(self, what, condition, timeout, every=0.2):
        """Poll `condition` until it is true (its value and the time.time() it was seen), or raise Stuck with
        what the autoscaler did meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = condition()
            if found:
                return found, time.time()
            time.sleep(every)
        tail = "\n".join("  " + json.dumps(e, sort_keys=True) for e in self.events()[-30:])
        machines = sorted((n, s.private_ip, s.status) for n, s in self.webservers().items())
        raise Stuck(f"not within {timeout} s: {what}\nDNS {self.listed()}; machines {machines}\n"
                    f"the autoscaler's last events:\n{tail}")  # fmt: skip

    def adjust(self, count):
        """`AdjustScaling.sh --autoscaler 1 <count> --yes`; its own seconds."""
        started = time.perf_counter()
        result = script(self.env, "helperscripts/AdjustScaling.sh", "--autoscaler", "1", count, "--yes")
        if result.returncode != 0:
            raise Stuck(f"AdjustScaling.sh --autoscaler 1 {count}: {result.stdout}{result.stderr}")
        return time.perf_counter() - started


# -- the measures -----------------------------------------------------------------------------------------------
def failover(fleet, kind, settle=True):
    """One killed webserver (kind "killed": the whole machine; "hung": all but its holder, the cloud still lists
    it running): {"out of DNS", "detected", "build", "serving"} seconds after the kill. With settle, until the
    dead one is ended too (one TTL after it left DNS), so the next run starts from a settled fleet."""
    fleet.until("2 webservers serve, in DNS", lambda: fleet.settled(2), 240, every=1)
    before = fleet.running()
    victim = sorted(before)[0]
    ip = before[victim]
    killed = time.time()
    fleet.kill(victim, holder=kind == "killed")
    _, out = fleet.until(f"the killed {victim} ({ip}) leaves DNS", lambda: ip not in fleet.listed(), 120)

    def replacement():
        listed = fleet.listed()
        new = [(n, a) for n, a in fleet.running().items() if n not in before and a in listed]
        return next(((n, a) for n, a in new if fleet.serves(a)), None)

    (name, _), serving = fleet.until("a replacement serves the site and is in DNS", replacement, 240, every=0.25)
    decided = min((e["time"] for e in fleet.events() if e["webserver"] == name and e["action"] == "transition"),
                  default=killed)  # fmt: skip
    row = {"out of DNS": out - killed, "serving": serving - killed, "detected": decided - killed,
           "build": serving - decided}  # fmt: skip
    if settle:
        fleet.until(
            f"the dead {victim} is ended", lambda: victim not in fleet.webservers() and fleet.settled(2), 240, every=1
        )
    return row


def scale_out(fleet):
    """{"1 -> 2": s, "1 -> 4": s, "adjust": the command's own s}: from the command until all serve, in DNS."""
    row = {}
    for count in (1, 2, 1, 4):
        if count > 1:
            fleet.quiet()
        started = time.time()
        adjust = fleet.adjust(count)
        _, done = fleet.until(f"{count} webservers serve, in DNS", lambda c=count: fleet.settled(c), 300, every=0.25)
        if count > 1:
            row[f"1 -> {count}"] = done - started
            row.setdefault("adjust", adjust)
        print(f"  scaled to {count} in {done - started:.1f} s", flush=True)
    return row


def cpu_of_cycles(fleet, state, window):
    """Scaled to 10, settled; the service's CPU seconds per cycle over `window` seconds, the API calls a cycle
    makes: {"webservers", "cycles", "cpu", "children", "calls", "interval", "seconds"}."""
    fleet.adjust(10)
    fleet.until("10 webservers serve, in DNS", lambda: fleet.settled(10), 400, every=1)
    time.sleep(3 * fleet.interval())  # the last admits and DNS additions are behind it
    from adt.build.cloudapi import cloud_api_home

    log = cloud_api_home(fleet.driver) / "cloudapi.log"
    autoscaler_ip = fleet.driver.list_servers(f"NO-1-as-local-{PROD}-")[0].private_ip
    pid = fleet.service_pid()
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks, (int(fields[13]) + int(fields[14])) / ticks

    offset, (own, children), started = log.stat().st_size, cpu(), time.monotonic()
    time.sleep(window)
    (own_after, children_after), seconds = cpu(), time.monotonic() - started
    with open(log, "rb") as handle:
        handle.seek(offset)
        lines = [
            line for line in handle.read().decode(errors="replace").splitlines() if f" from {autoscaler_ip}:" in line
        ]
    listings = [line for line in lines if " GET /v1/servers?" in line]
    interval = fleet.interval()
    cycles = len(listings) or max(1, round(seconds / interval))
    if len(fleet.running()) != 10:
        print(f"note: {len(fleet.running())} webservers ran at the end of the window, not 10")
    return {"webservers": 10, "cycles": cycles, "cpu": (own_after - own) / cycles,
            "children": (children_after - children) / cycles, "calls": len(lines) / cycles, "interval": interval,
            "seconds": seconds, "by_time": seconds / interval}  # fmt: skip


# -- the report -------------------------------------------------------------------------------------------------
def spread(values):
    return f"{statistics.median(values):6.1f} s ({min(values):.1f}-{max(values):.1f})"


def report(failovers, scaled, cycles, load, stuck):
    print(f"\nthe autoscaler on the local cloud host ({VPC}), default settings, load average "
          f"{load[0]:.1f} -> {load[1]:.1f}")  # fmt: skip
    if failovers:
        rows = [row for kind in failovers for row in failovers[kind]]
        build_time = statistics.median(row["build"] for row in rows)
        model = original_failover(build_time)
        print("\n1. failover: median (range), seconds after the kill")
        for kind, runs in failovers.items():
            what = {"killed": "the machine killed (the cloud lists it stopped)",
                    "hung": "all its processes killed but the holder (the cloud lists it running)"}[kind]  # fmt: skip
            print(f"  {kind}, {len(runs)} run{'s' if len(runs) > 1 else ''}: {what}")
            for key, label in (
                ("out of DNS", "out of DNS"),
                ("detected", "replacement decided"),
                ("build", "its build (decided -> serving)"),
                ("serving", "replacement serving"),
            ):
                print(f"    {label:32} {spread([row[key] for row in runs])}")  # fmt: skip
            for index, (key, target) in enumerate((("out of DNS", OUT_OF_DNS_TARGET), ("serving", SERVING_TARGET))):
                ours, theirs = statistics.median(row[key] for row in runs), [pair[index] for pair in model]
                met = "met" if ours <= target else "not met"
                print(f"    {key}: ours / the original's model {ours:.1f} / {statistics.median(theirs):.0f} s = "
                      f"{ours / statistics.median(theirs):.3f}x; target <= {target:.0f} s: {met}")  # fmt: skip
        for index, key in enumerate(("out of DNS", "serving")):
            theirs = [pair[index] for pair in model]
            print(f"  the original's model, {key}: median {statistics.median(theirs):.0f} s, mean "
                  f"{statistics.mean(theirs):.0f} s, {min(theirs):.0f}-{max(theirs):.0f} s")  # fmt: skip
        print(
            f"  (cron every {DEAD_OR_ALIVE_EVERY:.0f} s, stagger {STAGGER:.0f} s, probes {SSH_PROBE:.0f} + "
            f"{CURL_PROBE:.0f} s, scaling every {SCALING_EVERY:.0f} s, our median build {build_time:.1f} s)"
        )
    if scaled:
        one, four = scaled["1 -> 2"], scaled.get("1 -> 4")
        print(f"\n2. scale-out (from AdjustScaling.sh until every webserver serves and is in DNS; the command "
              f"itself {scaled['adjust']:.1f} s)")  # fmt: skip
        print(f"  1 -> 2 (one webserver's build)    {one:6.1f} s")
        if four is not None:
            met = "met" if four / one <= SCALE_OUT_TARGET else "not met"
            print(f"  1 -> 4                            {four:6.1f} s   {four / one:.2f}x one build; target <= "
                  f"{SCALE_OUT_TARGET}x: {met}")  # fmt: skip
    if cycles:
        print(
            f"\n3. one cycle with {cycles['webservers']} webservers ({cycles['cycles']} cycles the cloud API saw "
            f"in {cycles['seconds']:.0f} s; {cycles['by_time']:.1f} by time at one every {cycles['interval']:g} s)"
        )
        print(f"  CPU of the autoscaler service     {cycles['cpu'] * 1000:6.1f} ms a cycle "
              f"(+ {cycles['children'] * 1000:.1f} ms in its child processes): "
              f"{100 * cycles['cpu'] / cycles['interval']:.1f} % of a core")  # fmt: skip
        print(f"  cloud API calls a cycle           {cycles['calls']:6.2f}")
        print("  there is no original to run beside it (its cron scripts need a cloud provider's CLI)")
    if stuck:
        print(f"\nnot measured, the autoscaler did not do it in time:\n{stuck}")


def cleanup(env, state, built):
    """Every fleet destroyed, the object storage purged; leftovers named, never raised."""
    from adt.cloud.local import LocalDriver

    for identifier in [*[b for b in built if b != PROD], PROD]:
        result = adt(env, "destroy", "-c", "local", "-b", identifier, "--yes", "--purge-datastore")
        if result.returncode != 0 and identifier in built:
            print(f"warning: destroying {identifier}: {result.stderr.strip()[-500:]}")
    switch = LocalDriver(VPC, str(state)).switch
    names = [line.split()[0] for line in run(env, ["ip", "netns", "list"]).stdout.splitlines() if line.strip()]
    left = [name for name in names if "-asb" in name or name == switch]
    addresses = [line for line in run(env, ["ip", "-o", "-4", "addr"]).stdout.splitlines() if " 10.195." in line]
    if left or addresses:
        print(f"warning: left behind: namespaces {left}, addresses {addresses}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        choices=range(1, 11),
        metavar="1-10",
        help="failovers of a killed machine (default 3)",
    )
    parser.add_argument("--hung-runs", type=int, default=1, choices=range(0, 11), metavar="0-10",
                        help="failovers of a hung one: every process but its holder killed (default 1)")  # fmt: skip
    parser.add_argument("--window", type=float, default=100.0, help="seconds the CPU of cycles is measured over")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="adt-bench-autoscaler-"))
    home, state = work / "home", work / "state"
    home.mkdir()
    state.mkdir()
    env = {**os.environ, "BUILD_HOME": str(home), "ADT_LOCAL_STATE": str(state), "PATH": f"{BIN}:{os.environ['PATH']}"}
    built, failovers, scaled, cycles, stuck = [], {}, {}, {}, ""
    load = [os.getloadavg()[0], 0.0]
    started = time.perf_counter()
    try:
        prod = setup(env, home, built)
        fleet = Fleet(env, state, prod["dns"])
        order = [kind for k in range(max(args.runs, args.hung_runs))
                 for kind, n in (("killed", args.runs), ("hung", args.hung_runs)) if k < n]  # fmt: skip
        try:
            for k, kind in enumerate(order):  # the last dead one is ended while the fleet scales in to 1
                row = failover(fleet, kind, settle=k < len(order) - 1)
                failovers.setdefault(kind, []).append(row)
                print(f"failover {k + 1}/{len(order)} ({kind}): out of DNS {row['out of DNS']:.1f} s, replacement "
                      f"serving {row['serving']:.1f} s", flush=True)  # fmt: skip
            print("scale-out", flush=True)
            scaled = scale_out(fleet)
            cycles = cpu_of_cycles(fleet, state, args.window)
        except Stuck as error:
            stuck = str(error)
        load[1] = os.getloadavg()[0]
    finally:
        cleanup(env, state, built)
        mounted = [line for line in Path("/proc/mounts").read_text().splitlines() if f" {work}/" in line]
        if mounted:  # never remove files through a mount left behind
            print(f"warning: mounts left under {work}: {len(mounted)}; not removed")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report(failovers, scaled, cycles, load, stuck)
    print(f"\nthe whole benchmark: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
