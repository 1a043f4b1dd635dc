"""Database backup: adt (dump | sanitise | compress streamed into a multipart upload) against the original
approach (dump to a file, `tar czf` it, then `s3cmd put`), on one MariaDB and one SeaweedFS, in one run.

    .venv/bin/python benchmarks/backup_database.py [--megabytes 1000] [--runs 2]

The database is CMS-like: post rows of prose (compressible) and binary attachments (not, and doubled by
--hex-blob). Prints wall times, their ratio (target <= 0.5), adt's peak RSS (target <= 200 MB) and the
temporary files each approach needs. The original also rewrites the dump with five `sed -i` passes; they
are left out here, which favours the original.
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
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
        dump, archive = work / "applicationDB.sql", work / "bench-DB-backup.tar.gz"
        ours, original, rss = [], [], []
        for _ in range(args.runs):
            seconds, peak = timed([str(BIN / "adt"), "backup", "database", "MANUAL", "--host", "127.0.0.1"], env)
            ours.append(seconds)
            rss.append(peak)
            started = time.perf_counter()
            with open(dump, "wb") as out:
                subprocess.run(["mariadb-dump", "--no-defaults", "-h127.0.0.1", f"-P{db.port}", f"-u{USER}",
                                f"-p{PASSWORD}", "--skip-lock-tables", "--single-transaction", "--hex-blob",
                                "--routines", "--triggers", "--force", "-y", "appdb"], stdout=out, check=True)
            subprocess.run(["tar", "czf", str(archive), "-C", str(work), dump.name], check=True)
            subprocess.run(["s3cmd", "-c", str(s3cfg), "put", "--multipart-chunk-size-mb=15", str(archive),
                            f"s3://original-bench/{archive.name}"], check=True, capture_output=True)
            original.append(time.perf_counter() - started)
            dump_size, archive_size = dump.stat().st_size, archive.stat().st_size
            dump.unlink()
            archive.unlink()
        a, o = statistics.median(ours), statistics.median(original)
        from adt.backup.website import compressor

        print(f"database backup: dump {dump_size / 2**20:.0f} MB, archive {archive_size / 2**20:.0f} MB, "
              f"{args.runs} runs, median")
        print(f"  adt (dump | sanitise | {compressor().split()[0]} -> multipart upload)  {a:6.2f} s   "
              f"peak RSS {max(rss):.0f} MB   temporary files: none")
        print(f"  original (dump to file, tar czf, s3cmd put)          {o:6.2f} s   temporary files: "
              f"{dump_size / 2**20:.0f} MB + {archive_size / 2**20:.0f} MB")
        print(f"  ratio adt/original {a / o:.2f} (target <= 0.5: {'met' if a / o <= 0.5 else 'NOT met'}); "
              f"peak RSS target <= 200 MB: {'met' if max(rss) <= 200 else 'NOT met'}")
    finally:
        db.stop()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
