"""Wall time of a development build on the local cloud host, and of its destroy, phase by phase.

    .venv/bin/python benchmarks/build.py [--runs 3]

Builds template 1 on its own VPC range in a temporary build home, destroys it, N times; prints the
median of every phase. There is no side-by-side figure: the original needs a real cloud account.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent

from adt.settings.template import Template  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="adt-bench-build-"))
    template = work / "local1.tmpl"
    Template.load(ROOT / "templates/local/local1.tmpl").set("VPC_IP_RANGE", "10.175.0.0/24").save(template)
    env = {**os.environ, "BUILD_HOME": str(work), "ADT_LOCAL_STATE": str(work / "state")}
    phases, totals, destroys = {}, [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        result = subprocess.run([str(BIN / "adt"), "build", "local", "debian", "1", "bench", "--template-file",
                                 str(template), "--json"], env=env, capture_output=True, text=True)
        totals.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise SystemExit(result.stderr)
        for name, seconds in json.loads(result.stdout)["timings"]:
            phases.setdefault(name, []).append(seconds)
        started = time.perf_counter()
        subprocess.run([str(BIN / "adt"), "destroy", "-c", "local", "-b", "bench", "--yes"], env=env, check=True,
                       capture_output=True)
        destroys.append(time.perf_counter() - started)
    print(f"development build on the local cloud host, {args.runs} runs, median seconds")
    for name, values in phases.items():
        print(f"  {name:18} {statistics.median(values):6.2f}")
    print(f"  {'build (command)':18} {statistics.median(totals):6.2f}")
    print(f"  {'destroy (command)':18} {statistics.median(destroys):6.2f}")
    import shutil

    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
