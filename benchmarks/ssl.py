"""TLS (issue 16): issuance on pebble, and from publication to every webserver of a template 3 fleet serving it.

    .venv/bin/python benchmarks/ssl.py [--rounds 5]   (about a minute at 5 rounds)

Everything on loopback, started here and stopped here (by pid) on any exit: a PowerDNS (adt.dns.powerdns) with the
zone, Debian's pebble (tests/services/pebble.py) validating DNS-01 through that PowerDNS, a SeaweedFS (a real S3)
and three nginx, each on its own 127.x address.

1. Issuance, DNS-01 through the real PowerDNS, interleaved rounds (who goes first alternates), medians:
   - adt: `adt.ssl.issuer.Issuer.issue` with adt's PowerDNS driver (`adt.dns.provider`); a new Issuer each round
     (it reads the CA's directory and the saved account, as each `adt ssl renew` run does), in this process; and
     the same in a process of its own (`python -c`: the interpreter, the imports, the issue), timed from outside
     as lego is; the account registered in a first round of its own (reported apart). acme's client polls an
     authorization once a second, so adt's times come in steps of about 1 s;
   - the original's approach: Debian's `lego` (4.9.1) `--dns pdns` against the same pebble and PowerDNS, a new
     process each round, its account saved in its --path after its own first round. `--dns.disable-cp`: lego's
     propagation check asks the zone's authoritative nameservers, and the zone (as adt's `local` build makes it)
     has no NS records: without the flag lego fails with "could not determine authoritative nameservers". The
     original runs lego with `--dns.propagation-wait 60s` (a fixed 60 s sleep instead of the check; lego 4.9 has
     no such flag), so "the original as configured" is lego's measured time + 60 s. lego's times come in two
     modes, about 2.1-2.6 s and 7.6-8.2 s: it waits one propagation polling interval (2 s) before its check even
     with --dns.disable-cp, and 5 s when pebble has not validated at its first look; its median flips between them.
   Target: adt's median <= 10 s (printed, not asserted).
2. Publication to every webserver serving it: three webservers of one fleet (same WEBSITEURL, DNSCHOICE,
   SSLGENERATIONSERVICE, SERVEHTTPS:1, the SeaweedFS's S3 settings), each with its own machine home and settings
   file and a real nginx with the webserver's config (`adt.machine.bootstrap.nginx_config`) serving 443 on its own
   address. Each round publishes the pair adt issued in that round of 1 (`adt.ssl.publish.publish`, as the build
   machine does: the ssl bucket and the config bucket, each read back), then runs every webserver's check at once,
   as its cron would: a new process each (`adt.ssl.install.install`, its reload the webserver's own nginx's graceful
   `reload_nginx`); measured from the start of the publication until each of the three serves the new serial (a TLS
   handshake with SNI, `adt.ssl.served.served_certificate`, every 10 ms). The worst case a fleet sees is a
   publication just after a check: the check period (read from the webserver's crontab, `adt.machine.scripts`) +
   the run; the original's is its daily 03:35 line (reference/adt-machines.md §6) + the same run.
   Target "within one check cycle": publication -> served <= adt's check period.
"""

from __future__ import annotations

import sys  # first: this file is named ssl.py, so its folder leaves the path before anything imports the real ssl
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Dict, List, Optional, Set, Tuple  # noqa: E402

ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable

from adt.datastore.seaweed import SeaweedS3, free_ports  # noqa: E402
from adt.dns import provider  # noqa: E402
from adt.dns.powerdns import PowerDnsServer  # noqa: E402
from adt.machine import bootstrap, scripts  # noqa: E402
from adt.ssl import pair as p  # noqa: E402
from adt.ssl.issuer import Authority, Issuer  # noqa: E402
from adt.ssl.served import served_certificate  # noqa: E402
from tests.services.pebble import Pebble  # noqa: E402

ZONE = "bench-tls.local"
WEBSITE = f"www.{ZONE}"
EMAIL = f"ops@{ZONE}"
DNS_CHOICE, SERVICE = "powerdns", "LETSENCRYPT"
PROPAGATION_WAIT = 60.0  # the original's `lego ... --dns.propagation-wait 60s` (adt-build-machine.md §6.6)
ORIGINAL_CHECK = "35 3 * * *"  # the original's RenewSSLCertificate.sh line (reference/adt-machines.md §6)
TARGET_ISSUE = 10.0
WEBSERVERS = 3
SERVED_WAIT = 30.0  # seconds a webserver has to serve the new serial once its check ran

# One webserver's check, as its cron runs it: a process of its own (imports, S3 client), the settings and home of
# that webserver, the reload its own nginx's (the machine's /etc/adt/nginx.conf here is the webserver's own file).
CHECK = """
import sys
from pathlib import Path
from adt.machine.bootstrap import reload_nginx
from adt.settings.machine import MachineSettings
from adt.ssl.install import install
settings, home, config, log = sys.argv[1:5]
reload = None if config == "-" else lambda: reload_nginx(Path(config), Path(log))  # "-": nginx not started yet
print(install(MachineSettings.load(Path(settings)), Path(home), reload=reload))
"""

# adt's issuance in a process of its own, timed from outside as lego is (the interpreter, the imports, the issue):
# what a cron run of the issuer pays beside the issue itself. The DNS API key in the environment, never in argv.
ISSUE = """
import os, sys
from pathlib import Path
from adt.dns import provider
from adt.ssl.issuer import Authority, Issuer
directory, email, bundle, accounts, website, url = sys.argv[1:7]
values = {"DNS_CHOICE": "powerdns", "DNS_API_URL": url, "DNS_SECURITY_KEY": os.environ["BENCH_DNS_KEY"]}
Issuer(Authority(directory, email, bundle), Path(accounts)).issue(website, provider(values))
"""


# -- cron periods ---------------------------------------------------------------------------------------------------
def _field(text: str, low: int, high: int) -> Set[int]:
    values: Set[int] = set()
    for part in text.split(","):
        spec, _, step = part.partition("/")
        if spec == "*":
            start, end = low, high
        elif "-" in spec:
            start, end = (int(x) for x in spec.split("-"))
        else:
            start = end = int(spec)
        values.update(range(start, end + 1, int(step or 1)))
    return values


def worst_gap(whens: List[str]) -> float:
    """The longest time (s) between two firings of cron lines that fire every day (minute and hour fields only)."""
    minutes: Set[int] = set()
    for when in whens:
        minute, hour, dom, month, dow = when.split()
        if (dom, month, dow) != ("*", "*", "*"):
            raise SystemExit(f"cron line {when!r}: only daily schedules are modelled here")
        minutes |= {h * 60 + m for h in _field(hour, 0, 23) for m in _field(minute, 0, 59)}
    ordered = sorted(minutes)
    gaps = [b - a for a, b in zip(ordered, ordered[1:])] + [ordered[0] + 1440 - ordered[-1]]
    return max(gaps) * 60.0


def check_lines() -> List[str]:
    """The schedules of RenewSSLCertificate.sh in a webserver's crontab with SERVEHTTPS:1 (adt.machine.scripts)."""
    table = scripts.crontab("webserver", "/home/X", https=True)
    found = [" ".join(line.split()[:5]) for line in table.splitlines() if scripts.RENEW_SSL in line]
    if not found:
        raise SystemExit(f"no {scripts.RENEW_SSL} line in a webserver's crontab")
    return found


def duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.0f} h" + (f" {seconds % 3600:.1f} s" if seconds % 3600 else "")
    if seconds >= 60:
        return f"{seconds // 60:.0f} min" + (f" {seconds % 60:.1f} s" if seconds % 60 else "")
    return f"{seconds:.1f} s"


# -- the pieces started here -----------------------------------------------------------------------------------------
class Webserver:
    """One webserver: a machine home with its settings file, and nginx (bootstrap.nginx_config) on its address."""

    def __init__(self, work: Path, number: int, s3: SeaweedS3):
        self.number = number
        self.ip = f"127.16.{number}.{10 + number}"
        self.home = work / f"ws{number}" / "home"
        (self.home / "runtime").mkdir(parents=True)
        key, secret = s3.state["rw"]
        values = {
            "WEBSITEURL": WEBSITE, "SERVERUSER": "Benchtls1", "S3ACCESSKEY": key, "S3SECRETKEY": secret,
            "S3LOCATION": "us-east-1", "S3HOSTBASE": s3.endpoint, "DNSCHOICE": DNS_CHOICE,
            "SSLGENERATIONSERVICE": SERVICE, "SERVEHTTPS": "1",
        }  # fmt: skip
        self.settings = self.home / "runtime" / "webserver_configuration_settings.dat"
        self.settings.write_text("".join(f"{k}:{v}\n" for k, v in values.items()))
        os.chmod(self.settings, 0o600)
        self.dir = Path(tempfile.mkdtemp(prefix=f"adt-bench-ws{number}-", dir="/var/tmp"))  # www-data reads www
        self.dir.chmod(0o755)
        self.config, self.log = self.dir / "nginx.conf", self.dir / "log" / "nginx-error.log"
        self.nginx: Optional[subprocess.Popen] = None

    def check(self, reload: bool = True) -> subprocess.Popen:
        """The webserver's check (RenewSSLCertificate.sh's install), started."""
        config = str(self.config) if reload else "-"
        return subprocess.Popen(
            [PYTHON, "-c", CHECK, str(self.settings), str(self.home), config, str(self.log)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def start(self) -> None:
        for sub in ("run/nginx", "log", "www"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "www" / "index.html").write_text(f"<title>{WEBSITE}</title>\n")
        (self.dir / "www").chmod(0o755)
        (self.dir / "www" / "index.html").chmod(0o644)
        live = p.machine_directory(self.home, WEBSITE)
        self.config.write_text(bootstrap.nginx_config(self.ip, WEBSITE, live, self.dir / "run", self.dir / "log",
                                                      self.dir / "www"))  # fmt: skip
        self.nginx = subprocess.Popen(
            ["nginx", "-e", str(self.log), "-c", str(self.config), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def serial(self) -> Optional[str]:
        try:
            return served_certificate(self.ip, WEBSITE, 443, timeout=2).serial
        except Exception:  # not serving yet (starting), or between workers
            return None

    def wait_serving(self, serial: str, timeout: float = SERVED_WAIT) -> float:
        """time.perf_counter() when this webserver first serves `serial`."""
        deadline = time.perf_counter() + timeout
        while True:
            if self.serial() == serial:
                return time.perf_counter()
            if self.nginx is not None and self.nginx.poll() is not None:
                raise SystemExit(f"webserver {self.number}: nginx exited: {self.log.read_text()[-1500:]}")
            if time.perf_counter() > deadline:
                raise SystemExit(f"webserver {self.number} did not serve serial {serial} within {timeout:g} s")
            time.sleep(0.01)

    def stop(self) -> None:
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)  # nginx's graceful stop, of the master started here
            try:
                self.nginx.wait(10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait(5)
        self.nginx = None
        shutil.rmtree(self.dir, ignore_errors=True)


class Bench:
    def __init__(self, work: Path):
        self.work = work
        self.pdns: Optional[PowerDnsServer] = None
        self.pebble: Optional[Pebble] = None
        self.s3: Optional[SeaweedS3] = None
        self.webservers: List[Webserver] = []
        self.running: List[subprocess.Popen] = []  # lego and the checks, while they run

    def start(self) -> None:
        """Each service kept before it starts, so that stop() finds it whatever happens in its start."""
        dns_port, api_port = free_ports(2)
        self.pdns = PowerDnsServer(self.work / "pdns")
        self.pdns.start("127.0.0.1", dns_port, api_port)
        self.pdns.ensure_zone(ZONE)
        self.dns_port = dns_port
        state = self.pdns.state
        if state is None:
            raise SystemExit(f"PowerDNS did not stay up: {(self.work / 'pdns' / 'pdns.log').read_text()[-1500:]}")
        self.values = {"DNS_CHOICE": "powerdns", "DNS_API_URL": state["url"], "DNS_SECURITY_KEY": self.pdns.api_key()}
        self.pebble = Pebble(self.work / "pebble", f"127.0.0.1:{dns_port}")
        self.pebble.start()
        self.s3 = SeaweedS3(self.work / "s3")
        self.s3.start()
        self.webservers = [Webserver(self.work, n, self.s3) for n in range(1, WEBSERVERS + 1)]

    def stop(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.kill()
                process.wait(5)
        for webserver in self.webservers:
            webserver.stop()
        for service in (self.pebble, self.s3, self.pdns):
            if service is not None:
                try:
                    service.stop()
                except Exception as error:  # go on stopping the others
                    print(f"warning: stopping {type(service).__name__}: {error}", file=sys.stderr)

    # -- 1. issuance ----------------------------------------------------------------------------------------------
    def adt_issue(self) -> Tuple[float, Tuple[bytes, bytes]]:
        assert self.pebble is not None
        authority = Authority(self.pebble.directory_url, EMAIL, str(self.pebble.ca_bundle))
        started = time.perf_counter()
        issued = Issuer(authority, self.work / "adt-accounts").issue(WEBSITE, provider(self.values))
        return time.perf_counter() - started, issued

    def _timed(self, command: List[str], env: Dict[str, str], what: str) -> float:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)  # fmt: skip
        self.running.append(process)
        try:
            _, err = process.communicate(timeout=120)
        finally:
            self.running.remove(process)
        took = time.perf_counter() - started
        if process.returncode != 0:
            raise SystemExit(f"{what} failed ({process.returncode}): {err[-2000:]}")
        return took

    def adt_process_issue(self) -> float:
        assert self.pebble is not None
        command = [PYTHON, "-c", ISSUE, self.pebble.directory_url, EMAIL, str(self.pebble.ca_bundle),
                   str(self.work / "adt-accounts"), WEBSITE, self.values["DNS_API_URL"]]  # fmt: skip
        return self._timed(command, {**os.environ, "BENCH_DNS_KEY": self.values["DNS_SECURITY_KEY"]}, "adt's issue")

    def lego_issue(self) -> float:
        assert self.pebble is not None
        env = {
            **os.environ,
            "PDNS_API_URL": self.values["DNS_API_URL"],
            "PDNS_API_KEY": self.values["DNS_SECURITY_KEY"],
            "LEGO_CA_CERTIFICATES": str(self.pebble.ca_bundle),
        }
        certificate = self.work / "lego" / "certificates" / f"{WEBSITE}.crt"
        certificate.unlink(missing_ok=True)
        command = ["lego", "--server", self.pebble.directory_url, "--accept-tos", "--email", EMAIL, "--domains",
                   WEBSITE, "--path", str(self.work / "lego"), "--dns", "pdns", "--dns.resolvers",
                   f"127.0.0.1:{self.dns_port}", "--dns.disable-cp", "run"]  # fmt: skip
        took = self._timed(command, env, "lego")
        if not certificate.is_file():
            raise SystemExit("lego wrote no certificate")
        return took

    # -- 2. publication to serving ------------------------------------------------------------------------------
    def publish(self, fullchain: bytes, privkey: bytes) -> None:
        from adt.datastore.config import ConfigDatastore
        from adt.datastore.endpoints import endpoints_from_settings
        from adt.datastore.naming import ssl_bucket
        from adt.settings.machine import MachineSettings
        from adt.ssl.publish import publish

        settings = MachineSettings.load(self.webservers[0].settings)
        config_bucket = ConfigDatastore.from_settings(settings).bucket
        publish(endpoints_from_settings(settings), ssl_bucket(WEBSITE, DNS_CHOICE, SERVICE), config_bucket, WEBSITE,
                (fullchain, privkey))  # fmt: skip

    def checks(self, reload: bool = True) -> List[str]:
        """Every webserver's check at once; what each said."""
        started = [webserver.check(reload) for webserver in self.webservers]
        self.running.extend(started)
        said = []
        try:
            for webserver, process in zip(self.webservers, started):
                out, err = process.communicate(timeout=60)
                if process.returncode != 0:
                    raise SystemExit(f"webserver {webserver.number}'s check failed: {err.strip()[-1500:]}")
                said.append(out.strip())
        finally:
            for process in started:
                self.running.remove(process)
        return said

    def first_pair(self, fullchain: bytes, privkey: bytes) -> None:
        """The fleet serving a first pair (not measured)."""
        self.publish(fullchain, privkey)
        self.checks(reload=False)
        for webserver in self.webservers:
            webserver.start()
        serial = p.leaf(fullchain).serial
        for webserver in self.webservers:
            webserver.wait_serving(serial)

    def roll_out(self, fullchain: bytes, privkey: bytes) -> Dict[str, float]:
        serial = p.leaf(fullchain).serial
        assert all(w.serial() != serial for w in self.webservers)
        started = time.perf_counter()
        self.publish(fullchain, privkey)
        published = time.perf_counter()
        said = self.checks()
        checked = time.perf_counter()
        if not all(f"serial {serial}" in line and line.endswith("nginx reloaded") for line in said):
            raise SystemExit(f"a check did not install serial {serial}: {said}")
        served = max(webserver.wait_serving(serial) for webserver in self.webservers)
        return {"publish": published - started, "checks": checked - published, "served": served - started}


def median(values: List[float]) -> float:
    return statistics.median(values)


def spread(values: List[float]) -> str:
    return f"{median(values):6.2f} s  ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("benchmarks/ssl.py needs root (nginx on port 443, the live pair root's)")
    whole = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="adt-bench-ssl-"))
    bench = Bench(work)

    def stopped(signum, _frame):
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGHUP, stopped)
    times: Dict[str, List[float]] = {"adt": [], "process": [], "lego": []}
    rolls: List[Dict[str, float]] = []
    try:
        bench.start()
        setup = time.perf_counter() - whole
        # the first round of each: the account registered (adt's first, then lego's); its pair the fleet's first
        adt_first, first = bench.adt_issue()
        lego_first = bench.lego_issue()
        bench.first_pair(*first)
        for number in range(args.rounds):
            order = ["adt", "process", "lego"]
            order = order[number % 3 :] + order[: number % 3]  # who goes first rotates
            for who in order:
                if who == "adt":
                    took, issued = bench.adt_issue()
                else:
                    took = bench.adt_process_issue() if who == "process" else bench.lego_issue()
                times[who].append(took)
            rolls.append(bench.roll_out(*issued))
    finally:
        bench.stop()
        shutil.rmtree(work, ignore_errors=True)

    adt, process, lego = times["adt"], times["process"], times["lego"]
    adt_m, process_m, lego_m = median(adt), median(process), median(lego)
    original = [t + PROPAGATION_WAIT for t in lego]
    print(f"\nTLS (issue 16), {args.rounds} rounds, interleaved; medians (min-max); setup {setup:.1f} s")
    print(f"1. issuance of {WEBSITE} on pebble, DNS-01 through PowerDNS on loopback")
    print(f"  {'':44} {'median':>8}  (min-max)      adt/it  adt process/it")
    print(f"  {'adt: Issuer.issue, account reused':44} {spread(adt)}   "
          f"target <= {TARGET_ISSUE:g} s: {'PASS' if adt_m <= TARGET_ISSUE else 'MISS'}")  # fmt: skip
    print(f"  {'adt: the same in a process of its own':44} {spread(process)}   "
          f"target <= {TARGET_ISSUE:g} s: {'PASS' if process_m <= TARGET_ISSUE else 'MISS'}")  # fmt: skip
    print(f"  {'lego 4.9.1 --dns pdns --dns.disable-cp':44} {spread(lego)}   {adt_m / lego_m:6.2f}  "
          f"{process_m / lego_m:14.2f}")  # fmt: skip
    print(f"  {'original as configured (lego + 60 s wait)':44} {spread(original)}   {adt_m / median(original):6.3f}  "
          f"{process_m / median(original):14.3f}")  # fmt: skip
    print(f"  first round, with the account's registration: adt {adt_first:.2f} s, lego {lego_first:.2f} s "
          f"(original as configured {lego_first + PROPAGATION_WAIT:.1f} s)")  # fmt: skip
    print("  each round, s: " + "; ".join(f"{who} " + " ".join(f"{t:.2f}" for t in ts) for who, ts in times.items()))
    lines = check_lines()
    period = worst_gap(lines)
    original_period = worst_gap([ORIGINAL_CHECK])
    served = median([r["served"] for r in rolls])
    print(f"2. publication -> all {WEBSERVERS} webservers serve the new certificate (nginx on 127.16.x.y:443, SNI)")
    print(f"  {'publish (ssl + config bucket, read back)':44} {spread([r['publish'] for r in rolls])}")
    print(f"  {'the 3 checks at once (a process each)':44} {spread([r['checks'] for r in rolls])}")
    print(f"  {'publication -> every webserver serving':44} {spread([r['served'] for r in rolls])}   "
          f"target <= one check cycle ({duration(period)}): {'PASS' if served <= period else 'MISS'}")  # fmt: skip
    worst, worst_original = period + served, original_period + served
    print(f"  worst case a fleet sees = check period + run: adt {duration(period)} + {served:.2f} s = "
          f"{duration(worst)}; original ({ORIGINAL_CHECK}, daily) {duration(original_period)} + {served:.2f} s = "
          f"{duration(worst_original)}; adt / original {worst / worst_original:.4f}")  # fmt: skip
    print(f"  (adt's check lines, from adt.machine.scripts.crontab: {'; '.join(lines)})")
    print(f"the whole benchmark: {time.perf_counter() - whole:.0f} s")


if __name__ == "__main__":
    main()
