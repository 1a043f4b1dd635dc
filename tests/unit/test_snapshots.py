"""The snapshot records (snapshot_ids.dat, credentials.dat, db_credentials.dat) and the local host's image cores."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adt.build import snapshots
from adt.build.snapshots import (
    Credentials,
    format_credentials,
    format_db_credentials,
    format_ids,
    parse_credentials,
    parse_db_credentials,
    parse_ids,
    upsert_ids,
)
from adt.cloud import local
from adt.errors import AdtError


def test_ids_are_role_colon_id_lines():
    assert format_ids({"webserver": "123", "database": "img-0123456789ab"}) == (
        "webserver:123\ndatabase:img-0123456789ab\n"
    )
    assert parse_ids("webserver:123\n\n  database:456 \nnonsense\nautoscaler:\n") == {
        "webserver": "123",
        "database": "456",
    }


def test_upsert_replaces_a_roles_line_at_the_end_and_keeps_the_others():
    old = "autoscaler:1\nwebserver:2\ndatabase:3\n"
    assert upsert_ids(old, {"webserver": "9"}) == "autoscaler:1\ndatabase:3\nwebserver:9\n"
    assert upsert_ids("", {"database": "7"}) == "database:7\n"
    assert upsert_ids("webserver:2", {"webserver": "2"}) == "webserver:2\n"  # no duplicate, a final newline


def test_credentials_formats():
    assert format_credentials("Xabc", "p:w") == "USERNAME:Xabc\nPASSWORD:p:w\n"
    assert parse_credentials("USERNAME:Xabc\nPASSWORD:p:w\n") == ("Xabc", "p:w")  # all after the first ':'
    assert format_db_credentials("n1", "u1", "p1") == "DBNAME:n1\nUSERNAME:u1\nPASSWORD:p1\n"
    assert parse_db_credentials("USERNAME:u1\nPASSWORD:p1\nDBNAME:n1\n") == ("n1", "u1", "p1")  # any order
    assert parse_db_credentials("") == ("", "", "")


def test_credentials_from_build_environment_keep_passwords_out_of_reprs():
    values = {"SERVER_USER": "Xu", "SERVER_USER_PASSWORD": "sekret1", "DB_NAME": "n", "DB_USERNAME": "u",
              "DB_PASSWORD": "sekret2"}
    credentials = Credentials.from_values(values)
    assert credentials == Credentials("Xu", "sekret1", "n", "u", "sekret2")
    assert "sekret" not in repr(credentials)


values = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\r\n"),
                 max_size=30).map(str.strip)


@given(st.dictionaries(st.sampled_from(snapshots.ROLES), values.filter(bool)), st.dictionaries(
    st.sampled_from(snapshots.ROLES), values.filter(bool)))
def test_ids_round_trip_and_upsert_wins(old, new):
    assert parse_ids(format_ids(old)) == old
    assert parse_ids(upsert_ids(format_ids(old), new)) == {**old, **new}


@given(values, values, values)
def test_credentials_round_trip(name, user, password):
    assert parse_credentials(format_credentials(user, password)) == (user, password)
    assert parse_db_credentials(format_db_credentials(name, user, password)) == (name, user, password)


def test_the_snap_bucket_and_the_folder():
    values = {"WEBSITE_URL": "www.example.com", "DNS_CHOICE": "cloudflare"}
    assert snapshots.bucket(values) == "www-example-com-cloudflare-snap"
    assert snapshots.bucket({**values, "DNS_CHOICE": "NONE"}) == "www-example-com-none-snap"
    with pytest.raises(AdtError, match="the build has no DNS_CHOICE"):
        snapshots.bucket({"WEBSITE_URL": "www.example.com"})
    assert str(snapshots.snapshots_dir("/b", "www.example.com")) == (
        "/b/runtimedata/wholemachinesnapshots/www.example.com/snapshots"
    )


def test_load_without_ids_says_how_to_make_them(tmp_path):
    with pytest.raises(AdtError, match=r"no snapshot ids \(snapshot_ids.dat\) in .*wholemachinesnapshots") as error:
        snapshots.load(tmp_path, {"WEBSITE_URL": "www.example.com"}, None)
    assert "adt snapshot take" in error.value.hint


def test_record_then_load_locally_with_private_files(tmp_path):
    values = {"WEBSITE_URL": "www.example.com"}
    credentials = Credentials("Xu", "pw", "n", "u", "dbpw")
    folder = snapshots.record(tmp_path, values, None, {"webserver": "img-1", "database": "img-2"}, credentials)
    snapshots.record(tmp_path, values, None, {"webserver": "img-3"}, credentials)
    assert (folder / "snapshot_ids.dat").read_text() == "database:img-2\nwebserver:img-3\n"
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {
        "snapshot_ids.dat": "0o600", "credentials.dat": "0o600", "db_credentials.dat": "0o600"}
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    loaded = snapshots.load(tmp_path, values, None)
    assert loaded.ids == {"database": "img-2", "webserver": "img-3"} and loaded.credentials == credentials


# -- the local cloud host's cores --------------------------------------------------------------------------
def test_resolv_conf_names_only_the_gateway():
    assert local.resolv_conf("10.191.0.1") == "nameserver 10.191.0.1\n"


def test_an_image_holds_the_private_directories_but_what_is_per_boot():
    assert local.image_parts() == [
        "home", "var/www", "etc/ufw", "var/lib/mysql", "etc/adt", "var/spool/cron/crontabs", "etc/cron.d",
        "opt/adt", "root", "etc/default/ufw", "etc/crontab",
    ]
    assert local.per_boot("/run/mysqld") and local.per_boot("/var/log/adt") and not local.per_boot("/var/www")


def test_image_copy_commands():
    assert local.image_copy(["home", "var/www"], "/s/images/.img.partial/root") == [
        "cp", "-a", "--reflink=auto", "--parents", "home", "var/www", "/s/images/.img.partial/root"]
    assert local.overlay_mount("/s/images/img-0/root/var/www", "/s/m/root/var/www", "/s/m/work/var/www",
                               "/var/www") == ("mount -t overlay overlay -o lowerdir=/s/images/img-0/root/var/www,"
                                               "upperdir=/s/m/root/var/www,workdir=/s/m/work/var/www /var/www")
    with pytest.raises(AdtError, match="cannot be an overlay layer"):
        local.overlay_mount("/s/a,b", "/u", "/w", "/var/www")


def test_unknown_or_malformed_image_ids_are_refused(tmp_path):
    driver = local.LocalDriver("10.191.0.0/24", str(tmp_path))
    (tmp_path / "images" / "img-0123456789ab").mkdir(parents=True)  # no image.json: not an image
    for wrong in ("img-0123456789ab", "../x", "img-XYZ"):
        with pytest.raises(AdtError, match=f"no image {wrong} on the local cloud host"):
            driver.delete_snapshot(wrong)
    with pytest.raises(AdtError, match="'images' cannot name a local machine"):
        driver.create_server("images", "local", local.UserData(), 2222, "key")
    assert driver.list_snapshots() == []
