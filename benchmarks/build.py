"""Wall time of a development build on the local cloud host, and of its destroy, phase by phase.

    .venv/bin/python benchmarks/build.py [--runs 3] [--compare /tmp/oldvenv/bin]

Builds template 1 on its own VPC range (10.175.0.0/24) in a temporary build home, destroys it, N times;
prints the median of every phase. With --compare, the `adt` of another venv (an older tree, say) is built
too, its runs interleaved with this tree's, so both meet the same load. There is no figure for the
original: it needs a real cloud account.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
VPC = "10.175.0.0/24"

from adt.settings.template import Template  # noqa: E402


def one_build(bin_dir: Path, work: Path, template: Path):
    """Build and destroy once; (phase timings, build seconds, destroy seconds)."""
    env = {**os.environ, "BUILD_HOME": str(work), "ADT_LOCAL_STATE": str(work / "state"),
           "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    started = time.perf_counter()
    result = subprocess.run([str(bin_dir / "adt"), "build", "local", "debian", "1", "bench", "--template-file",
                             str(template), "--json"], env=env, capture_output=True, text=True)
    built = time.perf_counter() - started
    started = time.perf_counter()
    destroyed = subprocess.run([str(bin_dir / "adt"), "destroy", "-c", "local", "-b", "bench", "--yes"], env=env,
                               capture_output=True, text=True)
    destroy = time.perf_counter() - started
    if result.returncode != 0 or destroyed.returncode != 0:
        raise SystemExit(f"{bin_dir}: {result.stderr}{destroyed.stderr}")
    return json.loads(result.stdout)["timings"], built, destroy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare", metavar="BIN", action="append", default=[],
                        help="the bin directory of another venv whose adt is built too, runs interleaved")
    args = parser.parse_args()
    variants = {str(BIN): BIN, **{b: Path(b) for b in args.compare}}
    work = Path(tempfile.mkdtemp(prefix="adt-bench-build-"))
    template = work / "local1.tmpl"
    Template.load(ROOT / "templates/local/local1.tmpl").set("VPC_IP_RANGE", VPC).save(template)
    phases = {name: {} for name in variants}
    totals = {name: {"build (command)": [], "destroy (command)": []} for name in variants}
    try:
        for _ in range(args.runs):
            for name, bin_dir in variants.items():
                home = work / "home"
                home.mkdir()
                timings, built, destroy = one_build(bin_dir, home, template)
                shutil.rmtree(home, ignore_errors=True)
                for phase, seconds in timings:
                    phases[name].setdefault(phase, []).append(seconds)
                totals[name]["build (command)"].append(built)
                totals[name]["destroy (command)"].append(destroy)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"development build on the local cloud host, {args.runs} runs each, interleaved; median seconds")
    names = list(variants)
    rows = list(dict.fromkeys(p for name in names for p in phases[name])) + ["build (command)", "destroy (command)"]
    print(f"  {'':18} " + " ".join(f"{Path(n).parent.name or n:>12}" for n in names))
    for row in rows:
        cells = []
        for name in names:
            values = phases[name].get(row) or totals[name].get(row)
            cells.append(f"{statistics.median(values):12.2f}" if values else f"{'-':>12}")
        print(f"  {row:18} " + " ".join(cells))


if __name__ == "__main__":
    main()
