"""Website backup: adt (tar | igzip streamed into a multipart upload) against the original approach
(`tar czf` to a file, then `s3cmd put`), on one SeaweedFS, in one run; adt's verification of it (the object
read once: sha256, gzip and tar); then the restore of that archive: adt's checked, streamed extraction against
`s3cmd get` and `tar xzf`.

    .venv/bin/python benchmarks/backup_website.py [--megabytes 520] [--runs 2] [--compare DIR]

Prints wall times, their ratio (target <= 0.5), adt's peak RSS (target <= 200 MB) and the size of the
temporary file each approach needs. With --compare DIR (another adt tree, e.g. the last commit's:
`git archive HEAD adt | tar -x -C DIR`), that tree's backup, verification and restore run interleaved with
this one's, and their medians are compared.
"""

from __future__ import annotations

import argparse
import os
import random
import re
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

from adt.datastore.seaweed import SeaweedS3  # noqa: E402


def make_webroot(root: Path, megabytes: int) -> int:
    """A CMS-like tree: thousands of small PHP files (compressible) and multi-MB images (not)."""
    rng = random.Random(7)
    words = [f"function_{i}" for i in range(500)] + ["<?php", "echo", "return", "$value", "array(", ");"]
    total = 0
    code_budget = megabytes * 1024 * 1024 * 35 // 100
    i = 0
    while total < code_budget:
        folder = root / "wp-content" / "plugins" / f"plugin{i // 200}"
        folder.mkdir(parents=True, exist_ok=True)
        text = " ".join(rng.choice(words) for _ in range(rng.randint(200, 2500))) + "\n"
        (folder / f"file{i}.php").write_text(text)
        total += len(text)
        i += 1
    images = root / "wp-content" / "uploads"
    images.mkdir(parents=True, exist_ok=True)
    n = 0
    while total < megabytes * 1024 * 1024:
        size = rng.randint(2, 6) * 1024 * 1024
        (images / f"image{n}.jpg").write_bytes(os.urandom(size))
        total += size
        n += 1
    return total


def timed(argv, env):
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M", *argv], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {result.stderr[-500:]}")
    rss = int(re.findall(r"MAXRSS (\d+)", result.stderr)[-1]) / 1024
    return elapsed, rss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=520)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--compare", metavar="DIR", help="a directory holding another adt package to compare with")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="adt-bench-backup-"))
    server = SeaweedS3(work / "s3").start()
    try:
        webroot = work / "html"
        size = make_webroot(webroot, args.megabytes)
        files = sum(1 for _ in webroot.rglob("*") if _.is_file())
        home = work / "home"
        server.write_machine_settings(home, "www.bench.example.com", "Bench")
        s3cfg = server.write_s3cmd_config(work / "s3cfg")
        env = {**os.environ, "ADT_HOME": str(home), "ADT_HOMEDIR_FILE": str(work / "none"), "ADT_AGENT": "off"}
        trees = {"this": env}
        if args.compare:
            trees["compared"] = {**env, "PYTHONPATH": str(Path(args.compare).resolve())}
        subprocess.run(["s3cmd", "-c", str(s3cfg), "mb", "s3://original-bench"], check=True, capture_output=True)
        archive = work / "applicationsourcecode.tar.gz"
        adt = str(BIN / "adt")
        steps = {"backup": [adt, "backup", "website", "MANUAL", "--webroot", str(webroot)],
                 "verify": [adt, "backup", "verify", "MANUAL", "--website"],
                 "restore": [adt, "restore", "website", "--period", "MANUAL", "--target", str(work / "restored")]}
        seconds = {(tree, step): [] for tree in trees for step in steps}
        peaks = {step: [] for step in steps}
        original, restored_original = [], []
        for run in range(args.runs):
            order = list(trees) if run % 2 == 0 else list(reversed(trees))  # interleaved, each first in turn
            for tree in order:
                for step, argv in steps.items():
                    elapsed, peak = timed(argv, trees[tree])
                    seconds[tree, step].append(elapsed)
                    if tree == "this":
                        peaks[step].append(peak)
                shutil.rmtree(work / "restored")
            started = time.perf_counter()
            subprocess.run(["tar", "czf", str(archive), "-C", str(webroot), "."], check=True)
            subprocess.run(["s3cmd", "-c", str(s3cfg), "put", "--multipart-chunk-size-mb=15", str(archive),
                            "s3://original-bench/applicationsourcecode.tar.gz"], check=True, capture_output=True)
            original.append(time.perf_counter() - started)
            archive_size = archive.stat().st_size
            archive.unlink()
            started = time.perf_counter()  # the original's restore: s3cmd get + tar xzf
            (work / "restored-original").mkdir()
            subprocess.run(["s3cmd", "-c", str(s3cfg), "get", "--force", "s3://original-bench/applicationsourcecode.tar.gz",
                            str(archive)], check=True, capture_output=True)
            subprocess.run(["tar", "xzf", str(archive), "-C", str(work / "restored-original")], check=True)
            restored_original.append(time.perf_counter() - started)
            archive.unlink()
            shutil.rmtree(work / "restored-original")
        median = statistics.median
        a, o = median(seconds["this", "backup"]), median(original)
        v = median(seconds["this", "verify"])
        ra, ro = median(seconds["this", "restore"]), median(restored_original)
        print(f"website backup: {size / 2**20:.0f} MB in {files} files, archive {archive_size / 2**20:.0f} MB, "
              f"{args.runs} runs, median")
        from adt.backup.website import compressor

        print(f"  adt (tar | {compressor().split()[0]} -> multipart upload)  {a:6.2f} s   peak RSS "
              f"{max(peaks['backup']):.0f} MB   temporary file: none")
        print(f"  original (tar czf, then s3cmd put)     {o:6.2f} s   temporary file: {archive_size / 2**20:.0f} MB")
        print(f"  ratio adt/original {a / o:.2f} (target <= 0.5: {'met' if a / o <= 0.5 else 'NOT met'}); "
              f"peak RSS target <= 200 MB: {'met' if max(peaks['backup']) <= 200 else 'NOT met'}")
        print(f"  adt's verification (read once: sha256, gzip, tar)  {v:6.2f} s   peak RSS "
              f"{max(peaks['verify']):.0f} MB   temporary file: none")
        print("website restore, same archive, median")
        print(f"  adt (streamed, every member checked, swapped in)  {ra:6.2f} s   peak RSS "
              f"{max(peaks['restore']):.0f} MB   temporary file: none")
        print(f"  original (s3cmd get, then tar xzf)                {ro:6.2f} s   temporary file: "
              f"{archive_size / 2**20:.0f} MB")
        print(f"  ratio adt/original {ra / ro:.2f}")
        if args.compare:
            print(f"this tree against {args.compare}, {args.runs} interleaved runs, median")
            both = {tree: [b + c for b, c in zip(seconds[tree, "backup"], seconds[tree, "verify"])] for tree in trees}
            rows = [(step, seconds["this", step], seconds["compared", step]) for step in steps]
            rows.insert(2, ("backup + verify", both["this"], both["compared"]))
            for name, this, compared in rows:
                print(f"  {name:<16} this {median(this):6.2f} s   compared {median(compared):6.2f} s   "
                      f"ratio {median(this) / median(compared):.2f}")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
