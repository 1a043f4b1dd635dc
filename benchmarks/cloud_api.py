"""API calls of the autoscaler's observation and of a development build on each provider, and the waits of a create.

    .venv/bin/python benchmarks/cloud_api.py [--runs 3] [--no-builds]

Every figure is counted on the provider's fake (tests/services/cloudfakes: `fake.calls`, one entry per request it
received, the DNS requests included: the DNS is the provider's, on the same fake).

1. The autoscaler's observation (`adt.scaling.cycle.Cycle.observe`): what it asks of the cloud is one
   `driver.list_servers("ws-")` and one `dns.ips(website)` (its first lines). With 1, 10 and 50 webservers of the
   build (autoscaler 1), its database and autoscaler, and another build's 5 webservers and database on the same
   account, N A records in the provider's DNS: calls per observation with a driver and a DNS kept across
   observations (the autoscaler service keeps them) and with fresh ones each time. Beside it, the original's
   count for the same fleet, modelled from its scripts (`original_calls`: adt-autoscaler-scripts, lines named).
2. A development build (template 1) against each fake on real local machines (LocalBacking, VPC 10.201.0.0/24,
   SeaweedFS of its own on the gateway), `adt build` as a subprocess, calls and wall time, then `adt destroy`;
   the same build on `local` (VPC 10.202.0.0/24) interleaved as the reference. Needs root.
3. The waits of a create with `faults.slow_actions = 3`: the GET requests to the machine's resource (or its
   operation) and the gaps between them, from the fake's call log with timestamps (a subclass adds them).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import importlib
import json
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
VPC = "10.201.0.0/24"  # this benchmark's machines behind the fakes
LOCAL_VPC = "10.202.0.0/24"  # the reference build on `local`

from adt import cloud  # noqa: E402
from adt.cloud.base import Placement, UserData  # noqa: E402
from adt.dns import provider as dns_provider  # noqa: E402
from adt.scaling.cycle import webserver_prefix  # noqa: E402
from tests.integration.test_cloud_conformance import FAKES  # noqa: E402
from tests.integration.test_dns_conformance import dns_values  # noqa: E402

OTHER_WEBSERVERS = 5  # another build's webservers on the same account (and its database)
SIZES = (1, 10, 50)
WEBSITE = "www.bench-cloud.example"


# -- the original's count, from adt-autoscaler-scripts (HEAD ab51479) ----------------------------------------------
# One observation of the original = one PerformScaling.sh (cron every 2 min) + one DeadOrAliveWebservers.sh (cron
# every 3 min), in the steady state: N webservers of this autoscaler online and in DNS, no reverse proxy, nothing to
# scale. W = every ws- machine on the account, T = every machine on the account. CLI calls (each at least one API
# call; a listing of more than one page is more):
#   PerformScaling.sh L87 GetServerName.sh, L91 GetServerIPAddresses.sh: a listing each        -> 2
#   DeadOrAliveWebservers.sh L65 GetServerName.sh, L183 and L201 GetServerIPAddresses.sh       -> 3
#     L182 GetDNSIPs.sh -> dns/GetIPAddresses.sh: doctl records list (L49); exo instance list + dns show (L61, L63);
#       linode-cli domains list + records-list (L83, L84); vultr dns record list (L98) (GetZoneID.sh: Cloudflare only)
#     L202 ("ws-"), L230 and L243 (this autoscaler's) GetServerPrivateIPAddresses.sh: doctl list (L30); exo
#       private-network show (L36); linode-cli list + ips-list per matching linode (L41, L45); vultr list + ipv4
#       list per matching instance (L56, L59). (L234 passes no cloud host: no call unless a marker file is there.)
#     L440-L448, per online webserver: GetServerPublicIPAddressByIP.sh (doctl list L30; exo private-network show +
#       instance list L36-L37; linode-cli list + ips-list for EVERY linode + ips-list L42-L54; vultr list + ipv4 list
#       for EVERY instance + list L64-L74), then AddIPToDNS.sh: GetServerPrivateIPAddressByIP.sh L40 (doctl 1, exo 2
#       L41-L42, linode 2 L47-L48, vultr 2 L54-L55) and dns/GetRecordID.sh L51 (doctl 1 L51, exo 1 L62, linode 2
#       L83-L84, vultr 1 L99); the record is there, so AddRecord.sh is not called.
def original_calls(cloudhost: str, n: int, w: int, t: int) -> int:
    fixed = {"digitalocean": 2 + 3 + 1 + 3, "exoscale": 2 + 3 + 2 + 3, "linode": 2 + 3 + 2 + (1 + w) + 2 * (1 + n),
             "vultr": 2 + 3 + 1 + (1 + w) + 2 * (1 + n)}[cloudhost]
    each = {"digitalocean": 1 + 1 + 1, "exoscale": 2 + 2 + 1, "linode": (2 + t) + 2 + 2, "vultr": (2 + t) + 2 + 1}
    return fixed + n * each[cloudhost]


def timed(cloudhost: str):
    """The provider's fake class with `times` beside `calls` (time.monotonic() of each request)."""
    module, name = FAKES[cloudhost]
    base = getattr(importlib.import_module(module), name)

    class Timed(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.times: List[float] = []

        def _answer(self, request):
            with self.lock:
                self.times.append(time.monotonic())
                return super()._answer(request)

    return Timed


def make_driver(cloudhost: str, fake, build: str):
    region = getattr(fake, "default_region", "")
    placement = Placement(region, fake.default_image, build, f"adt-{build}")
    return cloud.driver(cloudhost, credentials=fake.credentials, placement=placement, api_url=fake.url)


def create_many(driver, names: List[str], size: str, key: str) -> None:
    """Create the machines, eight at a time after the first (which makes the network and registers the key)."""
    if names:
        driver.create_server(names[0], size, UserData(), 2222, key)
        names = names[1:]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for done in pool.map(lambda name: driver.create_server(name, size, UserData(), 2222, key), names):
            assert done.private_ip, done


def observe_calls(cloudhost: str, fake, dns, driver) -> Tuple[int, int, float]:
    """(listing calls, DNS calls, seconds) of what one observation asks of the cloud."""
    before = len(fake.calls)
    started = time.perf_counter()
    driver.list_servers("ws-")
    middle = len(fake.calls)
    dns.ips(WEBSITE)
    seconds = time.perf_counter() - started
    return middle - before, len(fake.calls) - middle, seconds


def general(path: str) -> str:
    """A request's path with its ids as {id}."""
    return re.sub(r"/(\d+|[0-9a-f]{8}-[0-9a-f-]{27})(?=/|$|:)", "/{id}", path)


def waits(fake, driver, size: str, key: str, name: str) -> Dict[str, List[float]]:
    """The GETs of one create with slow_actions = 3, by resource (ids as {id}), as the gaps between them."""
    fake.faults.slow_actions = 3
    start = len(fake.calls)
    driver.create_server(name, size, UserData(), 2222, key)
    fake.faults.slow_actions = 0
    calls = list(zip(fake.calls[start:], fake.times[start:]))
    by: Dict[str, List[float]] = {}
    for (method, path), when in calls:
        if method == "GET":
            by.setdefault(path, []).append(when)
    found = {}
    for number, (path, times) in enumerate(p for p in by.items() if len(p[1]) > 2):  # polled, not looked up once
        found[f"{general(path)} #{number + 1}"] = [b - a for a, b in zip(times, times[1:])]
    return found


def bench_observation(cloudhost: str, key: str, rows: list, polls: dict) -> None:
    fake = timed(cloudhost)().start()
    try:
        region, size = fake.default_region, fake.default_size
        for limit in ("droplet_limit", "instance_limit"):  # the account's limit, raised for 60 machines
            if hasattr(fake, limit):
                setattr(fake, limit, 200)
        (getattr(fake, "add_zone", None) or fake.add_domain)(WEBSITE.split(".", 1)[1])
        values = dns_values(cloudhost, fake)
        ours, other = make_driver(cloudhost, fake, "t1"), make_driver(cloudhost, fake, "o2")
        create_many(other, [f"{webserver_prefix(region, 'o2', 1)}{i:04d}" for i in range(OTHER_WEBSERVERS)]
                    + [f"db-{region}-o2-0000"], size, key)
        create_many(ours, [f"db-{region}-t1-0000", f"NO-1-as-{region}-t1-0000"], size, key)
        dns, have = dns_provider(values), 0
        for n in SIZES:
            names = [f"{webserver_prefix(region, 't1', 1)}{i:04d}" for i in range(have, n)]
            create_many(ours, names, size, key)
            for server in ours.list_servers(webserver_prefix(region, "t1", 1))[have:]:
                dns.add(WEBSITE, server.public_ip)
            have = n
            kept_driver, kept_dns = make_driver(cloudhost, fake, "t1"), dns_provider(values)
            observe_calls(cloudhost, fake, kept_dns, kept_driver)  # the first one: the driver's lookups, once
            kept = [observe_calls(cloudhost, fake, kept_dns, kept_driver) for _ in range(5)]
            fresh = [observe_calls(cloudhost, fake, dns_provider(values), make_driver(cloudhost, fake, "t1"))
                     for _ in range(3)]
            w, t = n + OTHER_WEBSERVERS, n + 2 + OTHER_WEBSERVERS + 1
            original = original_calls(cloudhost, n, w, t)
            k_list, k_dns = statistics.median(r[0] for r in kept), statistics.median(r[1] for r in kept)
            f_list, f_dns = statistics.median(r[0] for r in fresh), statistics.median(r[1] for r in fresh)
            rows.append((cloudhost, n, k_list, k_dns, statistics.median(r[2] for r in kept) * 1000,
                         f_list, f_dns, original))
        polls[cloudhost] = waits(fake, ours, size, key, f"{webserver_prefix(region, 't1', 1)}slow")
        fake.check()
    finally:
        fake.stop()


# -- builds ---------------------------------------------------------------------------------------------------------
def run_build(env: dict, cloudhost: str, template: Path, fake) -> Tuple[float, float, list, int, int]:
    """(build s, destroy s, the build's timings, the build's calls, the destroy's calls)."""
    before = len(fake.calls) if fake else 0
    fake_calls = fake.calls if fake else []
    started = time.perf_counter()
    built = subprocess.run([str(BIN / "adt"), "build", cloudhost, "debian", "1", "cbench", "--template-file",
                            str(template), "--json", "--yes"], env=env, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - started
    middle = len(fake.calls) if fake else 0
    started = time.perf_counter()
    destroyed = subprocess.run([str(BIN / "adt"), "destroy", "-c", cloudhost, "-b", "cbench", "--yes"], env=env,
                               capture_output=True, text=True, timeout=300)
    destroy = time.perf_counter() - started
    if built.returncode != 0 or destroyed.returncode != 0:
        raise SystemExit(f"{cloudhost}: {built.stderr[-3000:]}{destroyed.stderr[-2000:]}")
    after = len(fake.calls) if fake else 0
    if fake:
        made = collections.Counter(f"{m} {general(p)}" for m, p in fake_calls[before:middle])
        print(f"  {cloudhost} build's calls: " + ", ".join(f"{k} {v}" for k, v in made.most_common()))
    return seconds, destroy, json.loads(built.stdout).get("timings", []), middle - before, after - middle


def bench_builds(runs: int) -> dict:
    from adt.datastore.seaweed import SeaweedS3
    from adt.settings.template import Template
    from tests.integration.test_cloud_builds import template_for
    from tests.services.cloudfakes.backing import LocalBacking

    work = Path(tempfile.mkdtemp(prefix="adt-bench-cloud-"))
    machines = LocalBacking(VPC, work / "state")
    storage = SeaweedS3(work / "s3", ip=machines.gateway).start()
    fakes, results = {}, {}
    local_template = work / "local1.tmpl"
    Template.load(ROOT / "templates/local/local1.tmpl").set("VPC_IP_RANGE", LOCAL_VPC).save(local_template)
    try:
        for cloudhost in FAKES:
            fake = timed(cloudhost)()
            fake.backing, fake.host = machines, machines.gateway
            fakes[cloudhost] = fake.start()
            (getattr(fake, "add_zone", None) or fake.add_domain)(WEBSITE.split(".", 1)[1])
        for _ in range(runs):
            for cloudhost in ("local", *FAKES):
                home = work / f"home-{cloudhost}"
                home.mkdir()
                env = {**os.environ, "BUILD_HOME": str(home), "PATH": f"{BIN}:{os.environ['PATH']}"}
                if cloudhost == "local":
                    env["ADT_LOCAL_STATE"] = str(home / "state")
                    template, fake = local_template, None
                else:
                    fake = fakes[cloudhost]
                    env[f"ADT_API_URL_{cloudhost.upper()}"] = fake.url
                    site = {"WEBSITE_URL": WEBSITE, "WEBSITE_NAME": "bench-cloud", "VPC_IP_RANGE": VPC,
                            **dns_values(cloudhost, fake)}
                    template = template_for(cloudhost, fake, storage, machines.gateway, home / "cloud1.tmpl", **site)
                seconds, destroy, timings, calls, destroy_calls = run_build(env, cloudhost, template, fake)
                shutil.rmtree(home, ignore_errors=True)
                fields = ("build", "destroy", "calls", "dcalls", "machines")
                entry = results.setdefault(cloudhost, {field: [] for field in fields})
                entry["build"].append(seconds)
                entry["destroy"].append(destroy)
                entry["machines"].append(sum(s for phase, s in timings if "machine" in phase))
                for phase, phase_seconds in timings:
                    entry.setdefault(f"phase {phase}", []).append(phase_seconds)
                if fake:
                    assert fake.servers() == [], fake.servers()
                    entry["calls"].append(calls)
                    entry["dcalls"].append(destroy_calls)
        for fake in fakes.values():
            fake.check()
    finally:
        for fake in fakes.values():
            fake.stop()
        storage.stop()
        machines.close()
        shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-builds", action="store_true", help="the observation and the waits only")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    folder = Path(tempfile.mkdtemp(prefix="adt-bench-key-"))
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "key")], check=True)
    key = (folder / "key.pub").read_text().strip()
    shutil.rmtree(folder)
    rows: list = []
    polls: dict = {}
    for cloudhost in FAKES:
        bench_observation(cloudhost, key, rows, polls)
    print("API calls per autoscaler observation (list_servers('ws-') + dns.ips), medians; the original's modelled")
    print(f"  {'provider':13} {'N':>3} {'kept: list':>10} {'dns':>4} {'ms':>6} {'fresh: list':>11} {'dns':>4}"
          f" {'original':>9} {'ours/orig':>9}")
    for cloudhost, n, k_list, k_dns, ms, f_list, f_dns, original in rows:
        print(f"  {cloudhost:13} {n:3d} {k_list:10g} {k_dns:4g} {ms:6.1f} {f_list:11g} {f_dns:4g} {original:9d}"
              f" {(k_list + k_dns) / original:9.3f}")
    print("waits of a create with slow_actions = 3: GETs by resource, gaps (s)")
    for cloudhost, found in polls.items():
        for path, gaps in found.items():
            print(f"  {cloudhost:13} {path:40} {len(gaps) + 1:3d} GETs, gaps " + " ".join(f"{g:.2f}" for g in gaps))
    if args.no_builds:
        return
    results = bench_builds(args.runs)
    local = statistics.median(results["local"]["build"])
    print(f"development build (template 1), {args.runs} runs each, interleaved; medians")
    print(f"  {'cloud host':13} {'calls':>6} {'build s':>8} {'/local':>7} {'machines s':>10} {'calls':>6}"
          f" {'destroy s':>9}")
    for cloudhost, entry in results.items():
        calls = f"{statistics.median(entry['calls']):6g}" if entry["calls"] else f"{'-':>6}"
        dcalls = f"{statistics.median(entry['dcalls']):6g}" if entry["dcalls"] else f"{'-':>6}"
        build = statistics.median(entry["build"])
        print(f"  {cloudhost:13} {calls} {build:8.2f} {build / local:7.2f} {statistics.median(entry['machines']):10.2f}"
              f" {dcalls} {statistics.median(entry['destroy']):9.2f}")
    phases = list(dict.fromkeys(k for e in results.values() for k in e if k.startswith("phase ")))
    print("  phases, median s: " + "; ".join(
        f"{c}: " + ", ".join(f"{p[6:]} {statistics.median(e[p]):.2f}" for p in phases if e.get(p))
        for c, e in results.items()))
    print("  (calls: the build's, then the destroy's; builds: min-max " + ", ".join(
        f"{c} {min(e['build']):.1f}-{max(e['build']):.1f} s" for c, e in results.items()) + ")")


if __name__ == "__main__":
    main()
