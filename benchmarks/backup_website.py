"""Website backup, the whole flow a machine runs, on one SeaweedFS, interleaved runs, medians:

    adt:      `application/backupscripts/Backup.sh MANUAL --force` (`adt backup run`: backup, publication with
              the generations' shift, verification), the webroot bind-mounted at /var/www/html in a private
              mount namespace, as on a webserver
    original: Backup.sh's and VerifyBackupPresent.sh's steps with the real tools: rsync to a backup area, the
              marker, `tar cvfz` (its `find … -exec` form), `s3cmd ls`/`del` of .BACKUP, `s3cmd mv` of the live
              key to .BACKUP, `s3cmd put`; then `s3cmd get`, `tar xvfz`, the marker check, the clean-ups

then the restore of that archive: adt's checked, streamed extraction against `s3cmd get` and `tar xzf`.

    .venv/bin/python benchmarks/backup_website.py [--megabytes 520] [--runs 3] [--quick] [--compare DIR]

Prints wall times, the ratio (target <= 0.15), where the original's time goes, adt's peak RSS (target <= 200
MB). --quick: a 40 MB webroot, one run (a smoke run). With --compare DIR (another adt tree, e.g. the last
commit's: `git archive HEAD adt | tar -x -C DIR`), that tree's flow and restore run interleaved with this one's.
Needs root (the mount namespace), as a webserver's cron does.
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

from benchmarks import original_rotation  # noqa: E402
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


def timed(argv, env, expect: str = ""):
    """Wall seconds and peak RSS (MB) of argv; it must succeed and print `expect`."""
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M", *argv], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or expect not in result.stdout:
        raise SystemExit(f"{argv[0]} failed: {result.stdout[-500:]} {result.stderr[-500:]}")
    rss = int(re.findall(r"MAXRSS (\d+)", result.stderr)[-1]) / 1024
    return elapsed, rss


def original_flow(webroot: Path, work: Path, s3cfg: Path, bucket: str) -> dict:
    """The original's Backup.sh and VerifyBackupPresent.sh, step by step with the real tools; seconds a step."""
    steps, area, live, check = {}, work / "backuparea", work / "livebackup", work / "backupverification"
    s3cmd = ["s3cmd", "-c", str(s3cfg)]
    key = f"s3://{bucket}/applicationsourcecode.tar.gz"
    quiet = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}

    def step(name, *commands, cwd=None):
        started = time.perf_counter()
        for command in commands:
            subprocess.run(command, cwd=cwd, **quiet)
        steps[name] = steps.get(name, 0.0) + time.perf_counter() - started

    started = time.perf_counter()
    area.mkdir()
    step("rsync to the backup area", ["rsync", "-av", f"{webroot}/", str(area)])
    (area / "XXXXXX-DO_NOT_REMOVE").touch()
    live.mkdir()
    step("tar cvfz (gzip -6, one core)",
         ["find", ".", "-name", ".*", "-exec", "tar", "cvfz", str(live / "applicationsourcecode.tar.gz"), "{}", "+"],
         cwd=area)
    steps["s3cmd ls, del, mv (rotation)"] = 0.0
    rotation = time.perf_counter()
    original_rotation(s3cmd, key)
    steps["s3cmd ls, del, mv (rotation)"] = time.perf_counter() - rotation
    step("s3cmd put", [*s3cmd, "put", "--multipart-chunk-size-mb=15", str(live / "applicationsourcecode.tar.gz"), key])
    shutil.rmtree(live)
    check.mkdir()  # VerifyBackupPresent.sh
    step("s3cmd get", [*s3cmd, "get", "--force", key, str(check / "applicationsourcecode.tar.gz")])
    step("tar xvfz", ["tar", "xvfz", str(check / "applicationsourcecode.tar.gz")], cwd=check)
    if not (check / "XXXXXX-DO_NOT_REMOVE").exists():
        raise SystemExit("the original's verification found no marker")
    cleanup = time.perf_counter()
    shutil.rmtree(check)
    shutil.rmtree(area)
    steps["rm -r of both areas"] = time.perf_counter() - cleanup
    steps["total"] = time.perf_counter() - started
    return steps


def as_a_webserver(webroot: Path, argv) -> list:
    """argv run with `webroot` bind-mounted at /var/www/html in a mount namespace of its own."""
    Path("/var/www/html").mkdir(parents=True, exist_ok=True)
    script = 'mount --bind "$0" /var/www/html && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(webroot), *argv]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=520)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a 40 MB webroot, one run: a smoke run")
    parser.add_argument("--compare", metavar="DIR", help="a directory holding another adt package to compare with")
    args = parser.parse_args()
    if args.quick:
        args.megabytes, args.runs = 40, 1
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
        steps = {"flow": as_a_webserver(webroot, [str(ROOT / "application/backupscripts/Backup.sh"), "MANUAL",
                                                  "--force"]),
                 "restore": [adt, "restore", "website", "--period", "MANUAL", "--target", str(work / "restored")]}
        seconds = {(tree, step): [] for tree in trees for step in steps}
        peaks = {step: [] for step in steps}
        original, originals, restored_original = [], [], []
        for run in range(args.runs):
            order = list(trees) if run % 2 == 0 else list(reversed(trees))  # interleaved, each first in turn
            if run % 2:
                order.append("original")
            else:
                order.insert(0, "original")
            for tree in order:
                if tree == "original":
                    originals.append(original_flow(webroot, work, s3cfg, "original-bench"))
                    original.append(originals[-1]["total"])
                    continue
                for step, argv in steps.items():
                    elapsed, peak = timed(argv, {**trees[tree], "PATH": f"{BIN}:{os.environ['PATH']}"},
                                          "verified" if step == "flow" else "")
                    seconds[tree, step].append(elapsed)
                    if tree == "this":
                        peaks[step].append(peak)
                shutil.rmtree(work / "restored")
            subprocess.run(["s3cmd", "-c", str(s3cfg), "get", "--force",
                            "s3://original-bench/applicationsourcecode.tar.gz", str(archive)], check=True,
                           capture_output=True)
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
        a, o = median(seconds["this", "flow"]), median(original)
        ra, ro = median(seconds["this", "restore"]), median(restored_original)
        print(f"website backup, the whole flow: {size / 2**20:.0f} MB in {files} files, archive "
              f"{archive_size / 2**20:.0f} MB, {args.runs} interleaved runs, median")
        print(f"  adt: Backup.sh (backup, publication, verification)  {a:6.2f} s   peak RSS "
              f"{max(peaks['flow']):.0f} MB   temporary files: none")
        print(f"  original: Backup.sh + VerifyBackupPresent.sh        {o:6.2f} s   temporary files: "
              f"{size / 2**20:.0f} MB copy + {archive_size / 2**20:.0f} MB archive + its download and extraction")
        for name in originals[0]:
            if name != "total":
                print(f"    {name:<32} {median(r[name] for r in originals):6.2f} s")
        print(f"  ratio adt/original {a / o:.2f} (target <= 0.15: {'met' if a / o <= 0.15 else 'NOT met'}; "
              f"runs {', '.join(f'{x / y:.2f}' for x, y in zip(seconds['this', 'flow'], original))}); "
              f"peak RSS target <= 200 MB: {'met' if max(peaks['flow']) <= 200 else 'NOT met'}")
        print("website restore, same archive, median")
        print(f"  adt (streamed, every member checked, swapped in)  {ra:6.2f} s   peak RSS "
              f"{max(peaks['restore']):.0f} MB   temporary file: none")
        print(f"  original (s3cmd get, then tar xzf)                {ro:6.2f} s   temporary file: "
              f"{archive_size / 2**20:.0f} MB")
        print(f"  ratio adt/original {ra / ro:.2f}")
        if args.compare:
            print(f"this tree against {args.compare}, {args.runs} interleaved runs, median")
            rows = [(step, seconds["this", step], seconds["compared", step]) for step in steps]
            for name, this, compared in rows:
                print(f"  {name:<16} this {median(this):6.2f} s   compared {median(compared):6.2f} s   "
                      f"ratio {median(this) / median(compared):.2f}")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
