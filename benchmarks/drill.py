"""Wall time of a restore drill (`adt drill`) on the local cloud host, phase by phase, beside a bare restore.

    .venv/bin/python benchmarks/drill.py [--runs 3]

Seeds a source once on its own VPC (10.192.0.0/24, a temporary build home): a development build, WordPress
installed, hourly backups of both, the fleet shut down. Then, N times, interleaved so both meet the same load:
`adt drill` (build, the three checks, destroy, record), and the same fleet restored from the same backups and
destroyed with no check (the original's way of trying a restore: a template 3 build, a look, a shutdown).
The difference is what the checks cost. Prints the medians.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import secrets
import shutil
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
VPC, URL = "10.192.0.0/24", "www.adt-drill-bench.local"

from adt.settings.template import Template  # noqa: E402


def adt(env, *args, timeout=900):
    result = subprocess.run([str(BIN / "adt"), *map(str, args)], env=env, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise SystemExit(f"adt {' '.join(map(str, args))}: {result.stderr[-2000:]}")
    return result


def seed(env, work: Path) -> None:
    template = work / "local1.tmpl"
    Template.load(ROOT / "templates/local/local1.tmpl").set("VPC_IP_RANGE", VPC).set("WEBSITE_URL", URL).set(
        "WEBSITE_NAME", "adt-drill-bench").save(template)
    site = json.loads(adt(env, "build", "local", "debian", "1", "benchsrc", "--template-file", template,
                          "--json").stdout)["url"]
    password = secrets.token_urlsafe(24)
    form = {"weblog_title": "adt drill bench", "user_name": "benchadmin", "admin_password": password,
            "admin_password2": password, "admin_email": "admin@example.com", "blog_public": "0", "language": "",
            "Submit": "Install WordPress"}
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with browser.open(site + "wp-admin/install.php?step=2", data=urllib.parse.urlencode(form).encode(),
                      timeout=120) as response:
        assert "WordPress has been installed" in response.read().decode()
    for role in ("webserver", "database"):
        adt(env, "backup", "perform", "--role", role, "--period", "HOURLY")
    adt(env, "destroy", "-c", "local", "-b", "benchsrc", "--yes")


BARE = """
import json, sys, time
from pathlib import Path
from adt.build.config import BuildConfig
from adt.build.development import destroy
from adt.build.drill import MACHINE_SETTINGS, overrides, write_template
from adt.build.production import build_production
source = BuildConfig.load("local", "benchsrc")
started = time.perf_counter()
build_production("local", 3, "benchbare", source.build_home, template_file=str(write_template(source, "hourly",
    Path(sys.argv[1]))), progress=lambda line: None, overrides=overrides("local", source.values), dns=False,
    machine_settings=MACHINE_SETTINGS, wipe_config=False)
built = time.perf_counter() - started
destroy(BuildConfig.load("local", "benchbare"), progress=lambda line: None)
print(json.dumps({"build": built, "destroy": time.perf_counter() - started - built}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="adt-bench-drill-"))
    env = {**os.environ, "BUILD_HOME": str(work), "ADT_LOCAL_STATE": str(work / "state"),
           "PATH": f"{BIN}:{os.environ['PATH']}"}
    drills, bares = [], []
    try:
        seed(env, work)
        for run in range(args.runs):
            started = time.perf_counter()
            report = json.loads(adt(env, "drill", "-c", "local", "-b", "benchsrc", "--json").stdout)
            drills.append({**report["timings"], "command": time.perf_counter() - started})
            assert report["ok"], report
            started = time.perf_counter()
            said = subprocess.run([sys.executable, "-c", BARE, str(work)], env=env, capture_output=True, text=True,
                                  cwd=ROOT, timeout=900)
            if said.returncode != 0:
                raise SystemExit(said.stderr[-2000:])
            bares.append({**json.loads(said.stdout), "command": time.perf_counter() - started})
            print(f"run {run + 1}: drill {drills[-1]['command']:.1f} s, bare restore {bares[-1]['command']:.1f} s",
                  flush=True)
    finally:
        for identifier in ("benchsrc", "benchbare"):
            subprocess.run([str(BIN / "adt"), "destroy", "-c", "local", "-b", identifier, "--yes",
                            "--purge-datastore"], env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    for name, runs in (("adt drill", drills), ("bare restore (build + destroy, no check)", bares)):
        medians = {phase: statistics.median(run[phase] for run in runs) for phase in runs[0]}
        print(f"{name}: " + ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in medians.items()))


if __name__ == "__main__":
    main()
