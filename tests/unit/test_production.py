"""The production build's pure parts: what a build restores from, its machines' names, what a machine does
with its source, the SQL that moves a site, the crontab of a drill's machines."""

from pathlib import Path

import pytest

from adt.build.production import machine_names, source_of
from adt.errors import AdtError
from adt.machine import bootstrap
from adt.machine.scripts import crontab
from adt.settings.machine import MachineSettings


def settings(tmp_path: Path, **values) -> MachineSettings:
    base = {"DBPORT": "2035", "DBUSERNAME": "u1", "DBPASSWORD": "p'1", "DBNAME": "n1", "WEBSITEURL": "www.x.org"}
    path = tmp_path / "settings.dat"
    path.write_text("".join(f"{k}:{v}\n" for k, v in {**base, **values}.items()))
    return MachineSettings.load(path)


@pytest.mark.parametrize("number, values, expected", [
    (3, {"BUILD_ARCHIVE_CHOICE": "hourly"}, "hourly"),
    (3, {"BUILD_ARCHIVE_CHOICE": "BIMONTHLY"}, "bimonthly"),
    (3, {"BUILD_ARCHIVE_CHOICE": "daily", "BUILD_FROM_SNAPSHOT": "1"}, "snapshot"),
    (3, {"BUILD_ARCHIVE_CHOICE": "weekly", "AUTOSCALE_FROM_SNAPSHOTS": "1"}, "snapshot"),
    (2, {"BUILD_ARCHIVE_CHOICE": "baseline"}, "baseline"),
    (2, {"BUILD_ARCHIVE_CHOICE": "hourly"}, "baseline"),
])
def test_what_a_production_build_restores_from(number, values, expected):
    assert source_of(number, values) == expected


@pytest.mark.parametrize("number, values, error", [
    (3, {"BUILD_ARCHIVE_CHOICE": "virgin"}, "BUILD_ARCHIVE_CHOICE virgin cannot make a production build"),
    (3, {"BUILD_ARCHIVE_CHOICE": ""}, r"BUILD_ARCHIVE_CHOICE \(empty\) cannot make a production build"),
    (3, {"BUILD_ARCHIVE_CHOICE": "baseline"}, "BUILD_ARCHIVE_CHOICE baseline cannot make"),
    (2, {"BUILD_FROM_SNAPSHOT": "1"}, "template 2 builds from baselines, not from snapshots"),
])
def test_sources_a_production_build_refuses_are_named(number, values, error):
    with pytest.raises(AdtError, match=error):
        source_of(number, values)


def test_machines_are_named_as_the_original_names_them():
    values = {"SERVER_USER": "XabcdefX", "REGION": "lon1", "NO_WEBSERVERS": "2", "NO_AUTOSCALERS": "2"}
    assert machine_names(values, "prod") == [
        ("database", "db-lon1-prod-Xabc"),
        ("webserver", "ws-lon1-prod-1-Xabc-init-1"),
        ("webserver", "ws-lon1-prod-2-Xabc-init-2"),
        ("autoscaler", "NO-1-as-lon1-prod-Xabc"),
        ("autoscaler", "NO-2-as-lon1-prod-Xabc"),
    ]
    none = machine_names({**values, "NO_AUTOSCALERS": "0", "NO_WEBSERVERS": "1"}, "prod")
    assert none == [("database", "db-lon1-prod-Xabc"), ("webserver", "ws-lon1-prod-0-Xabc-init-1")]
    three = machine_names({**values, "NO_WEBSERVERS": "3"}, "prod")  # the split's remainder to the first ones
    assert [name for role, name in three if role == "webserver"] == [
        "ws-lon1-prod-1-Xabc-init-1", "ws-lon1-prod-2-Xabc-init-2", "ws-lon1-prod-1-Xabc-init-3"]


@pytest.mark.parametrize("values, expected", [
    ({}, "virgin"),
    ({"BUILDARCHIVECHOICE": "virgin"}, "virgin"),
    ({"BUILDARCHIVECHOICE": "HOURLY"}, "hourly"),
    ({"BUILDARCHIVECHOICE": "baseline"}, "baseline"),
    ({"BUILDARCHIVECHOICE": "hourly", "BUILDFROMSNAPSHOT": "1"}, "snapshot"),
    ({"BUILDARCHIVECHOICE": "nonsense"}, "virgin"),
])
def test_what_a_machine_restores_at_first_boot(tmp_path, values, expected):
    assert bootstrap.source_of(settings(tmp_path, **values)) == expected


def test_moving_a_site_sets_its_address_and_its_posts_links():
    sql = bootstrap.site_moved_sql("wp_", "http://www.x.org", "http://10.0.0.3")
    assert sql == (
        "UPDATE `wp_options` SET option_value = 'http://www.x.org' WHERE option_name IN ('siteurl', 'home');\n"
        "UPDATE `wp_posts` SET post_content = REPLACE(post_content, 'http://10.0.0.3', 'http://www.x.org');\n"
    )
    # already at its address: nothing but the options (idempotent); quotes in values stay inside their strings
    assert bootstrap.site_moved_sql("adt1_", "http://www.x.org", "http://www.x.org").count("UPDATE") == 1
    assert "'http://a''b'" in bootstrap.site_moved_sql("wp_", "http://www.x.org", "http://a'b")


def test_the_cms_config_takes_the_sites_table_prefix(tmp_path):
    assert "$table_prefix = 'wp_';" in bootstrap.wordpress_config(settings(tmp_path), "10.0.0.2")
    config = bootstrap.wordpress_config(settings(tmp_path, TABLEPREFIX="adtq7_"), "10.0.0.2")
    assert "$table_prefix = 'adtq7_';" in config and "define('DB_HOST', '10.0.0.2:2035');" in config
    assert "define('DB_PASSWORD', 'p\\'1');" in config


@pytest.mark.parametrize("role", ["webserver", "database"])
def test_a_drills_machines_take_no_backups(role):
    usual, drill = crontab(role, "/home/X"), crontab(role, "/home/X", backups=False)
    assert usual.count("BackupFromCron.sh") == 5 and "BackupFromCron.sh" not in drill
    assert drill.splitlines() == [line for line in usual.splitlines() if "BackupFromCron.sh" not in line]
