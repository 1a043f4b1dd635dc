"""The restore drill's pure cores (adt.build.drill): dump rows per table, the webroot archive's files (a real
tar, hostile members too), sha256sum's output, the site's title, the report and where it is recorded."""

import hashlib
import io
import json
import subprocess
import tarfile

import pytest

from adt.build import drill
from adt.build.config import BuildConfig
from adt.errors import AdtError

DUMP = b"""-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB
SET SESSION sql_require_primary_key = 0;
DROP TABLE IF EXISTS `zzzz`;
CREATE TABLE `wp_options` (
  `option_id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `option_name` varchar(191) NOT NULL,
  `option_value` longtext NOT NULL,
  PRIMARY KEY (`option_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `wp_options` VALUES
(1,'siteurl','https://www.example.com'),
(2,'blogname','Tom\\'s \\"site\\"'),
(3,'blogdescription',''),
(4,'cron','a:0:{}'),
(5,'_transient_doing_cron','1700000000.1'),
(6,'_site_transient_update_core','O:8:\\"stdClass\\":0:{}');
CREATE TABLE `wp_posts` (
  `ID` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `post_title` text,
  PRIMARY KEY (`ID`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `wp_posts` VALUES
(1,'Hello'),
(2,NULL),
(3,'NULL');
CREATE TABLE `wp_links` (
  `link_id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  PRIMARY KEY (`link_id`)
) ENGINE=InnoDB;
-- Dump completed on 2026-12-02
DROP TABLE IF EXISTS `zzzz`;
CREATE TABLE `zzzz` ( `idxx` int(10) unsigned NOT NULL, PRIMARY KEY (`idxx`) ) Engine=INNODB CHARSET=utf8mb4;
"""


def facts(dump: bytes = DUMP, dialect: str = "mysql"):
    return drill.dump_facts(dump.splitlines(keepends=True), dialect)


# -- naming, the template --------------------------------------------------------------------------------
def test_identifier_is_drill_and_four_hex_digits():
    assert drill.new_identifier("0a9f") == "drill0a9f"
    assert len(drill.new_identifier()) == 9 and drill.new_identifier().startswith("drill")
    with pytest.raises(ValueError, match="4 hex digits"):
        drill.new_identifier("xyz1")


def test_period_must_be_temporal():
    assert drill.check_period("DAILY") == "daily"
    for bad in ("manual", "baseline", "", "virgin"):
        with pytest.raises(AdtError, match="a drill restores a temporal backup"):
            drill.check_period(bad)


def test_template_values_take_the_sources_site_and_vpc_and_make_a_small_fleet():
    source = {"WEBSITE_URL": "www.a.local", "VPC_IP_RANGE": "10.192.0.0/24", "WEBSITE_NAME": "a", "CLOUDHOST": "local",
              "S3_SECRET_KEY": "never-in-the-template"}
    values = drill.template_values(source, "Weekly")
    assert values["WEBSITE_URL"] == "www.a.local" and values["VPC_IP_RANGE"] == "10.192.0.0/24"
    assert values["NO_WEBSERVERS"] == "1" and "NO_AUTOSCALERS" not in values  # see overrides
    assert values["BUILD_ARCHIVE_CHOICE"] == "weekly" and values["DNS_CHOICE"] == "NONE"
    assert values["APPLICATION"] == "wordpress" and values["WEBSERVER_CHOICE"] == "NGINX"
    assert "never-in-the-template" not in values.values()
    # another cloud host's VPC means nothing here: the template's own is kept
    assert "VPC_IP_RANGE" not in drill.template_values({**source, "CLOUDHOST": "linode"}, "hourly")


def test_overrides_no_autoscaler_and_only_another_cloud_hosts_datastore():
    source = {"S3_HOST_BASE": "s3.example.com", "S3_ACCESS_KEY": "k", "S3_SECRET_KEY": "s", "S3_LOCATION": "eu"}
    assert drill.overrides("local", source) == {"NO_AUTOSCALERS": "0"}
    assert drill.overrides("linode", source) == {"NO_AUTOSCALERS": "0", **source}
    with pytest.raises(AdtError, match="has no S3_SECRET_KEY"):
        drill.overrides("linode", {**source, "S3_SECRET_KEY": ""})


def test_the_drill_machines_keep_the_database_and_take_no_backups():
    assert drill.MACHINE_SETTINGS == {"MOVESITE": "0", "BACKUPS": "0"}


# -- the database's rows -----------------------------------------------------------------------------------
def test_dump_facts_per_table_with_empty_tables_and_without_the_marker():
    found = facts()
    assert sorted(found.tables) == ["wp_links", "wp_options", "wp_posts"]
    assert found.tables["wp_links"] == (0, hashlib.sha256().hexdigest())
    assert found.tables["wp_posts"][0] == 3
    assert found.tables["wp_options"][0] == 3 and found.left_out == 3  # cron and two transients left out
    assert found.options == {"blogname": 'Tom\'s "site"', "blogdescription": ""}
    assert found.complete


def test_dump_facts_distinguish_null_from_the_string_null_and_notice_an_incomplete_dump():
    changed = facts(DUMP.replace(b"(2,NULL)", b"(2,'NULL')"))
    assert changed.tables["wp_posts"][0] == 3 and changed.tables["wp_posts"][1] != facts().tables["wp_posts"][1]
    cut = DUMP[: DUMP.index(b"-- Dump completed")]
    assert not facts(cut).complete


def test_volatile_rows_change_nothing():
    busy = DUMP.replace(b"'1700000000.1'", b"'1800000000.9'").replace(b"(4,'cron','a:0:{}')", b"(4,'cron','a:1:{}')")
    assert facts(busy).tables == facts().tables


def test_the_same_rows_one_insert_per_line_or_all_in_one_give_the_same_facts():
    one_line = DUMP.replace(b"VALUES\n(1,'Hello'),\n(2,NULL),\n(3,'NULL');", b"VALUES (1,'Hello'),(2,NULL),(3,'NULL');")
    assert one_line != DUMP and facts(one_line).tables == facts().tables


def test_a_dump_that_lost_rows_names_its_table():
    lost = DUMP.replace(b"(2,NULL),\n", b"")
    differences = drill.compare_tables(facts().tables, facts(lost).tables)
    assert differences == ["wp_posts: 3 rows in the backup, 2 in the drill database"]


def test_compare_tables_names_every_kind_of_difference():
    backup = {"a": (1, "x"), "b": (2, "y"), "c": (3, "z")}
    restored = {"a": (1, "x"), "b": (2, "Y"), "d": (0, "e")}
    assert drill.compare_tables(backup, restored) == [
        "b: the same 2 rows in number, different in content",
        "c: in the backup (3 rows), missing from the drill database",
        "d: in the drill database, not in the backup",
    ]
    assert drill.compare_tables(backup, dict(backup)) == []


def test_postgres_copy_rows_are_counted_too():
    dump = b"""CREATE TABLE public.wp_posts (
    id bigint NOT NULL,
    post_title text
);
COPY public.wp_posts (id, post_title) FROM stdin;
1\tHello
2\t\\N
\\.
CREATE TABLE public."wp_empty" (
    id integer
);
DROP TABLE IF EXISTS zzzz;
"""
    found = facts(dump, "postgres")
    assert found.tables["wp_posts"][0] == 2 and found.tables["wp_empty"][0] == 0 and found.complete


def test_lines_of_rejoins_lines_cut_anywhere():
    chunks = [b"ab", b"c\nde", b"f\n\ng", b"h"]
    assert list(drill.lines_of(chunks)) == [b"abc\n", b"def\n", b"\n", b"gh"]


def test_digest_json_round_trips_and_garbage_is_named():
    found = facts()
    assert drill.DumpFacts.from_json(json.loads(json.dumps(found.to_json()))) == found
    with pytest.raises(AdtError, match="not what `adt drill digest` writes"):
        drill.DumpFacts.from_json({"dialect": "mysql", "tables": {"t": ["many", "x"]}})


# -- the webroot's files -----------------------------------------------------------------------------------
def _member(archive, name, data=b"", kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data) if kind == tarfile.REGTYPE else 0
    archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _tar(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member in members:
            _member(archive, *member)
    return buffer.getvalue()


def _files(data: bytes):
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|gz") as archive:  # a stream, as from S3
        return drill.archive_files(archive)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_archive_files_hash_regular_files_and_hard_links_and_skip_the_rest():
    found = _files(_tar([
        ("./", b"", tarfile.DIRTYPE),
        ("./index.php", b"<?php echo 1;"),
        ("./.htaccess", b"rules"),
        ("./.htaccess", b"", tarfile.LNKTYPE, "./.htaccess"),  # the original's duplicate: itself again
        ("./wp-content/a.txt", b"a"),
        ("./wp-content/b.txt", b"", tarfile.LNKTYPE, "./wp-content/a.txt"),
        ("./latest", b"", tarfile.SYMTYPE, "wp-content"),
        ("./replaced", b"file first"),
        ("./replaced", b"", tarfile.DIRTYPE),
        ("./XXXXXX-DO_NOT_REMOVE", b""),
    ]))
    assert found.unsafe == []
    assert found.files == {"index.php": sha(b"<?php echo 1;"), ".htaccess": sha(b"rules"),
                           "wp-content/a.txt": sha(b"a"), "wp-content/b.txt": sha(b"a"),
                           "XXXXXX-DO_NOT_REMOVE": sha(b"")}


def test_archive_files_list_hostile_members_and_write_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = _files(_tar([
        ("./ok.php", b"fine"),
        ("../../etc/evil", b"owned"),
        ("/etc/evil2", b"owned"),
        ("./link", b"", tarfile.SYMTYPE, "/etc"),
        ("./link/passwd", b"owned"),
        ("./hard", b"", tarfile.LNKTYPE, "/etc/shadow"),
        ("./hard2", b"", tarfile.LNKTYPE, "./not-there"),
    ]))
    assert found.files == {"ok.php": sha(b"fine")}
    assert found.unsafe == [
        "../../etc/evil: has a '..' component",
        "/etc/evil2: has an absolute path",
        "./link/passwd: lies below the archive's symlink link",
        "./hard: a hard link that has an absolute path",
        "./hard2: a hard link to './not-there', not an earlier file",
    ]
    assert list(tmp_path.iterdir()) == []


def test_sha256sums_of_a_real_webroot_read_back_exactly(tmp_path):
    names = ["index.php", "with space.txt", "new\nline.txt", "wp-content/ünï.css", "-dash"]
    for number, name in enumerate(names):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x" * number)
    (tmp_path / "a-link").symlink_to("index.php")
    output = subprocess.run(["sh", "-c", drill.webroot_command(str(tmp_path))], capture_output=True, check=True).stdout
    found = drill.parse_sha256sums(output)
    assert found == {name: sha(b"x" * number) for number, name in enumerate(names)}


def test_sha256sums_that_are_not_sha256sums_are_refused():
    with pytest.raises(AdtError, match="unexpected sha256sum output"):
        drill.parse_sha256sums(b"nonsense  ./x\0")
    with pytest.raises(AdtError, match="named a file outside the webroot"):
        drill.parse_sha256sums(b"0" * 64 + b"  ../x\0")


def test_compare_files_skips_what_the_build_writes_and_names_the_rest():
    expected = {"index.php": "1", "wp-config.php": "2", "XXXXXX-DO_NOT_REMOVE": "3", "a": "4", "b": "5"}
    found = {"index.php": "1", "wp-config.php": "other", "a": "changed", "extra": "9"}
    assert drill.compare_files(expected, found) == (3, ["a: different on the webserver", "b: missing on the webserver"])
    assert drill.compare_files({"index.php": "1"}, {"index.php": "1"}) == (1, [])


# -- the site ----------------------------------------------------------------------------------------------
def test_title_is_the_blogname_or_the_blogname_and_its_tagline():
    assert drill.page_title("<html><head><title>\n  adt seed </title>") == "adt seed"
    assert drill.page_title("<p>no title</p>") is None
    assert drill.title_matches("Tom&#8217;s &#8220;site&#8221;", 'Tom\'s "site"')
    assert drill.title_matches("adt seed &#8211; Just another site", "adt seed", "Just another site")
    assert not drill.title_matches("adt seed &#8211; Something else", "adt seed", "Just another site")
    assert not drill.title_matches("Other site", "adt seed")
    assert not drill.title_matches("adt seed and more", "adt seed")


def test_site_verdicts():
    options = {"blogname": "adt seed", "blogdescription": ""}
    assert drill.site_verdict(200, "<title>adt seed</title>", options)[0]
    assert drill.site_verdict(500, "", options) == (False, "GET / answered HTTP 500")
    assert drill.site_verdict(200, "<h1>Error establishing a database connection</h1>", options) == (
        False, "GET / answered the database connection error")
    ok, said = drill.site_verdict(200, "<title>Other</title>", options)
    assert not ok and said == "GET / is titled 'Other', the backup's blogname is 'adt seed'"
    assert drill.site_verdict(200, "<title>x</title>", {})[0]  # no blogname in the backup: status only


# -- the report --------------------------------------------------------------------------------------------
def report(*checks):
    made = drill.Report("local/prod", "www.a.local", "hourly", "drill0001", "20261202T000000Z")
    for check in checks:
        made.add(check)
    made.timings = {"build": 30.0, "database": 1.25}
    return made


def test_a_report_passes_only_with_every_required_check_passed():
    passed = [drill.Check(name, True, "fine") for name in ("build", "database", "webroot", "site", "destroy")]
    assert report(*passed).ok and report(*passed).first_failure is None
    assert not report(*passed[:3]).ok and report(*passed[:3]).first_failure.name == "site"
    failed = report(passed[0], drill.Check("database", False, "1 differ", ["wp_posts: 3 rows"]), *passed[2:])
    assert not failed.ok and failed.first_failure.name == "database"
    build_failed = report(drill.Check("build", False, "no hourly database backup"), passed[-1])
    assert build_failed.first_failure.name == "build"
    assert not report(*passed, drill.Check("destroy", False, "left running")).ok


def test_report_json_and_lines():
    made = report(drill.Check("build", True, "db 10.0.0.2"), drill.Check("database", False, "1 differ", ["t: x"]))
    made.recorded = "s3://b/drills/x.json"
    data = made.to_json()
    assert "recorded" not in data and data["ok"] is False and data["failed"] == "database" and data["seconds"] == 31.25
    assert data["checks"][1] == {"name": "database", "ok": False, "detail": "1 differ", "differences": ["t: x"]}
    lines = made.render()
    assert lines[0] == ("restore drill of local/prod (www.a.local), hourly backups, fleet drill0001: "
                        "FAILED at database")
    assert "  database  FAILED  1 differ" in lines and "      t: x" in lines
    assert lines[-2:] == ["  seconds: build 30.0 s, database 1.2 s (total 31.2 s)", "  recorded in s3://b/drills/x.json"]


def test_differences_check_names_the_first_ones():
    check = drill.differences_check("webroot", "5 files", [f"f{n}: missing" for n in range(12)])
    assert not check.ok and check.detail.startswith("12 differ of 5 files: f0: missing; f1: missing; f2: missing;")
    assert len(check.differences) == drill.SHOWN
    assert drill.differences_check("webroot", "5 files", []) == drill.Check("webroot", True, "5 files equal")
    noted = drill.differences_check("database", "2 tables", ["t: 1 rows in the backup, 2 in the drill database"], "n")
    assert noted.detail == "1 differ of 2 tables (n): t: 1 rows in the backup, 2 in the drill database"


def test_the_result_goes_to_the_runtime_data_when_the_fleet_is_gone(tmp_path, monkeypatch):
    monkeypatch.setenv("ADT_LOCAL_STATE", str(tmp_path / "state"))  # no machines there
    source = BuildConfig(tmp_path, "local", "prod", {"VPC_IP_RANGE": "10.192.0.0/24", "WEBSITE_URL": "www.a.local"})
    made = report(drill.Check("build", False, "no backup"))
    where = drill.record(source, made)
    assert drill.record_keys("20261202T000000Z") == ("drills/20261202T000000Z.json", "drills/latest.json")
    for key in drill.record_keys(made.started):
        path = source.dir / key
        assert json.loads(path.read_text())["failed"] == "build" and path.stat().st_mode & 0o777 == 0o600
    assert where == f"{source.dir / 'drills/20261202T000000Z.json'} (and drills/latest.json)"


def test_a_phase_that_fails_in_any_way_is_a_failed_check_with_its_seconds():
    made = report()
    def broken():
        raise KeyError("webservers")
    assert drill._timed(made, "site", broken) == drill.Check("site", False, "KeyError: 'webservers'")
    def refused():
        raise AdtError("no hourly database backup of www.a.local")
    assert drill._timed(made, "build", refused).detail == "no hourly database backup of www.a.local"
    assert "site" in made.timings and "build" in made.timings


def test_a_backup_written_during_the_drill_makes_it_inconclusive():
    from adt.build.drill import Report, replaced_during, report_started, utc_stamp

    started = report_started(Report("local/b", "www.x.org", "hourly", "drill0a1b", utc_stamp(1_800_000_000.7)))
    assert started == 1_800_000_000
    modified = {"s3://www-x-org-hourly/applicationsourcecode.tar.gz": 1_799_999_000.0,
                "s3://www-x-org-db-hourly/x-DB-backup.tar.gz": 1_800_000_042.0}
    assert replaced_during(modified, started) == ["s3://www-x-org-db-hourly/x-DB-backup.tar.gz"]
    assert replaced_during({k: 1_799_999_999.0 for k in modified}, started) == []
