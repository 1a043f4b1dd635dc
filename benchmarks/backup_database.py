"""Database backup, the whole flow a machine runs, on one MariaDB and one SeaweedFS, interleaved runs, medians:

    adt:      `application/backupscripts/Backup.sh MANUAL` (`adt backup run`: dump | sanitise | compress streamed
              into a multipart upload, publication with the generations' shift, verification)
    original: Backup.sh's steps with the real tools: the dump to a file (BackupDatabase.sh's flags), `tar cvfz`,
              `s3cmd ls`/`del` of .BACKUP, `s3cmd mv` of the live key to .BACKUP, `s3cmd put`, then its
              verification: `s3cmd get` and `diff` with the archive it sent

    .venv/bin/python benchmarks/backup_database.py [--megabytes 1000] [--runs 3] [--quick] [--stages]

The database is CMS-like: post rows of prose (compressible) and binary attachments (not, and doubled by
--hex-blob). Prints wall times, the ratio (target <= 0.25), where the original's time goes, adt's peak RSS
(target <= 200 MB). The original also rewrites the dump with five `sed -i` passes; they are left out here,
which favours the original. --quick: a 60 MB dump, one run (a smoke run). --stages: also each stage of adt's
pipeline alone, `runs` times each, with its CPU seconds (the dump's include the server's): `mariadb-dump` (adt's
command line) to /dev/null, the sanitiser over the saved dump, `igzip -1` of it, the upload of the archive.
"""

from __future__ import annotations

import argparse
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

from benchmarks import original_rotation  # noqa: E402
from adt.datastore.seaweed import SeaweedS3  # noqa: E402
from benchmarks.backup_website import timed  # noqa: E402
from tests.services.databases import MariaDB  # noqa: E402

USER, PASSWORD = "benchuser1", "bench-Password-1"
SCHEMA = """
CREATE TABLE wp_posts (ID bigint unsigned NOT NULL PRIMARY KEY, post_title text, post_content longtext)
  ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE wp_postmeta (meta_id bigint unsigned NOT NULL PRIMARY KEY, post_id bigint, meta_key varchar(255),
  meta_value longtext) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE wp_options (option_id bigint unsigned NOT NULL PRIMARY KEY, option_name varchar(191),
  option_value longtext) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE wp_attachments (id bigint unsigned NOT NULL PRIMARY KEY, data longblob) ENGINE=InnoDB;
INSERT INTO wp_options VALUES (1, 'siteurl', 'https://www.bench.example.com'), (2, 'blogname', 'Bench');
"""


def populate(db: MariaDB, megabytes: int) -> None:
    """About `megabytes` of dump: 80 % prose in posts and meta, 20 % attachments (hex doubles them)."""
    db.create_application("appdb", USER, PASSWORD)
    db.sql(SCHEMA, "appdb")
    posts = megabytes * 1024 * 1024 * 70 // 100 // 1300
    db.sql(f"INSERT INTO wp_posts SELECT seq, CONCAT('Post number ', seq), "
           f"REPEAT(CONCAT('The quick brown fox jumps over the lazy dog ', MD5(seq), ' '), 17) "
           f"FROM seq_1_to_{posts}", "appdb")
    db.sql(f"INSERT INTO wp_postmeta SELECT seq, seq, '_wp_attachment_metadata', CONCAT('a:2:{{s:5:\"width\";i:', "
           f"seq MOD 4000, ';s:4:\"file\";s:32:\"', MD5(seq), '\";}}') FROM seq_1_to_{posts}", "appdb")
    blobs = megabytes * 1024 * 1024 * 10 // 100 // 4096
    db.sql(f"INSERT INTO wp_attachments SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_{blobs * 4}", "appdb")


def original_flow(db: MariaDB, work: Path, s3cfg: Path, bucket: str) -> dict:
    """The original's Backup.sh (with BackupDatabase.sh's dump), step by step with the real tools."""
    steps, backups = {}, work / "backups"
    dump, archive = backups / "applicationDB.sql", backups / "bench-DB-backup.tar.gz"
    s3cmd = ["s3cmd", "-c", str(s3cfg)]
    key = f"s3://{bucket}/{archive.name}"
    quiet = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}

    started = time.perf_counter()
    backups.mkdir()
    with open(dump, "wb") as out:
        subprocess.run(["mariadb-dump", "--no-defaults", "-h127.0.0.1", f"-P{db.port}", f"-u{USER}",
                        f"-p{PASSWORD}", "--skip-lock-tables", "--single-transaction", "--hex-blob",
                        "--routines", "--triggers", "--force", "-y", "appdb"], stdout=out, check=True)
    steps["dump to a file"] = time.perf_counter() - started
    mark = time.perf_counter()
    subprocess.run(["tar", "cvfz", str(archive), dump.name], cwd=backups, **quiet)
    steps["tar cvfz (gzip -6, one core)"] = time.perf_counter() - mark
    mark = time.perf_counter()
    original_rotation(s3cmd, key)
    steps["s3cmd ls, del, mv (rotation)"] = time.perf_counter() - mark
    mark = time.perf_counter()
    subprocess.run([*s3cmd, "put", "--multipart-chunk-size-mb=15", str(archive), key], **quiet)
    steps["s3cmd put"] = time.perf_counter() - mark
    mark = time.perf_counter()
    (backups / "verify").mkdir()
    subprocess.run([*s3cmd, "get", "--force", key, str(backups / "verify" / archive.name)], **quiet)
    steps["s3cmd get"] = time.perf_counter() - mark
    mark = time.perf_counter()
    subprocess.run(["diff", str(archive), str(backups / "verify" / archive.name)], **quiet)
    steps["diff"] = time.perf_counter() - mark
    steps["sizes"] = (dump.stat().st_size, archive.stat().st_size)
    mark = time.perf_counter()
    shutil.rmtree(backups)
    steps["rm"] = time.perf_counter() - mark
    steps["total"] = time.perf_counter() - started
    return steps


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stages(db: MariaDB, home: Path, env: dict, work: Path, runs: int) -> None:
    """Each stage of adt's pipeline alone: wall and CPU seconds (medians)."""
    import hashlib
    import resource

    from adt.backup import transfer
    from adt.database import Connection
    from adt.database.dump import Sanitiser, blocks
    from adt.datastore.endpoints import endpoints_from_settings
    from adt.settings.machine import MachineSettings

    os.environ.update(env)  # the settings' home
    settings = MachineSettings.load(home / "runtime" / "database_configuration_settings.dat")
    connection = Connection.from_settings(settings)
    server = int((db.dir / "mariadbd.pid").read_text())
    dump, archive = work / "stage.sql", work / "stage.sql.gz"
    pairs = [("http://", "https://"), (USER, "XXXXXXXXXX"), ("127.0.%.%", "YYYYYYYYYY")]

    def children() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def dumped(out) -> None:
        process = connection.popen("dump", stdout=out)
        if process.wait() != 0:
            raise SystemExit("the dump failed")

    def sanitised() -> None:
        sanitise, digest = Sanitiser("mysql", pairs), hashlib.sha256()
        with open(dump, "rb") as data:
            for block in blocks(data):
                digest.update(sanitise.block(block))

    def compressed() -> None:
        with open(dump, "rb") as data, open(archive, "wb") as out:
            subprocess.run(["igzip", "-1", "-c"], stdin=data, stdout=out, check=True)

    def uploaded() -> None:
        endpoint = endpoints_from_settings(settings)[0]
        with open(archive, "rb") as data:
            transfer.upload_stream(data, [transfer.Upload(endpoint, "original-bench", "stage.tar.gz")])

    with open(dump, "wb") as out:
        dumped(out)
    compressed()
    steps = [
        ("mariadb-dump > /dev/null (CPU: dump + server)", lambda: dumped(subprocess.DEVNULL)),
        ("sanitiser + sha256 over the saved dump", sanitised),
        ("igzip -1 of the saved dump", compressed),
        ("upload of the archive (8 MB parts)", uploaded),
    ]
    print(f"  each stage alone ({runs} runs, medians; dump {dump.stat().st_size / 2**20:.0f} MB):")
    for name, step in steps:
        walls, cpus = [], []
        for _ in range(runs):
            wall, cpu, own, theirs = time.perf_counter(), children(), time.process_time(), cpu_seconds(server)
            step()
            walls.append(time.perf_counter() - wall)
            cpus.append(children() - cpu + time.process_time() - own + cpu_seconds(server) - theirs)
        print(f"    {name:<48} {statistics.median(walls):6.2f} s wall  {statistics.median(cpus):6.2f} s CPU")
    dump.unlink()
    archive.unlink()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a 60 MB dump, one run: a smoke run")
    parser.add_argument("--stages", action="store_true", help="also each stage of adt's pipeline alone")
    args = parser.parse_args()
    if args.quick:
        args.megabytes, args.runs = 60, 1
    work = Path(tempfile.mkdtemp(prefix="adt-bench-db-"))
    server = SeaweedS3(work / "s3").start()
    db = MariaDB(work / "mariadb").start()
    try:
        populate(db, args.megabytes)
        home = work / "home"
        server.write_machine_settings(home, "www.bench.example.com", "Bench", role="database")
        with open(home / "runtime" / "database_configuration_settings.dat", "a") as settings:
            settings.write(f"DBNAME:appdb\nDBUSERNAME:{USER}\nDBPASSWORD:{PASSWORD}\nDBPORT:{db.port}\n"
                           "DATABASEINSTALLATIONTYPE:Maria\nIPMASK:127.0.%.%\nMYIP:127.0.0.1\n")
        s3cfg = server.write_s3cmd_config(work / "s3cfg")
        env = {**os.environ, "ADT_HOME": str(home), "ADT_HOMEDIR_FILE": str(work / "none"), "ADT_AGENT": "off"}
        subprocess.run(["s3cmd", "-c", str(s3cfg), "mb", "s3://original-bench"], check=True, capture_output=True)
        env["PATH"] = f"{BIN}:{os.environ['PATH']}"
        flow = [str(ROOT / "application/backupscripts/Backup.sh"), "MANUAL"]
        ours, original, originals, rss = [], [], [], []
        for run in range(args.runs):
            for side in (("adt", "original") if run % 2 == 0 else ("original", "adt")):  # interleaved
                if side == "adt":
                    seconds, peak = timed(flow, env, "verified")
                    ours.append(seconds)
                    rss.append(peak)
                else:
                    originals.append(original_flow(db, work, s3cfg, "original-bench"))
                    original.append(originals[-1]["total"])
        a, o = statistics.median(ours), statistics.median(original)
        dump_size, archive_size = originals[-1]["sizes"]
        print(f"database backup, the whole flow: dump {dump_size / 2**20:.0f} MB, archive {archive_size / 2**20:.0f} "
              f"MB, {args.runs} interleaved runs, median")
        print(f"  adt: Backup.sh (backup, publication, verification)  {a:6.2f} s   peak RSS {max(rss):.0f} MB   "
              "temporary files: none")
        print(f"  original: Backup.sh (its verification included)     {o:6.2f} s   temporary files: "
              f"{dump_size / 2**20:.0f} MB dump + {archive_size / 2**20:.0f} MB archive + its download")
        for name in originals[0]:
            if name not in ("total", "sizes"):
                print(f"    {name:<32} {statistics.median(r[name] for r in originals):6.2f} s")
        print(f"  ratio adt/original {a / o:.2f} (target <= 0.25: {'met' if a / o <= 0.25 else 'NOT met'}; runs "
              f"{', '.join(f'{x / y:.2f}' for x, y in zip(ours, original))}); "
              f"peak RSS target <= 200 MB: {'met' if max(rss) <= 200 else 'NOT met'}")
        if args.stages:
            stages(db, home, env, work, args.runs)
    finally:
        db.stop()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
