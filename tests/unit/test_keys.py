from datetime import datetime, timezone

import pytest
from hypothesis import given, strategies as st

from adt.datastore import keys


@pytest.mark.parametrize("name, place, key", [
    # 2025 call shapes
    ("10.0.0.7", "webserverips", "webserverips/10.0.0.7"),
    ("/home/x/runtime/wordpress_config.php", "", "wordpress_config.php"),
    ("BACKUP_RUNNING", "", "BACKUP_RUNNING"),
    ("/tmp/10.0.0.8", "databaseip", "databaseip/10.0.0.8"),
    ("INSTALLED_SUCCESSFULLY", "root", "INSTALLED_SUCCESSFULLY"),
    # 2025-07 call shapes: the place is already the whole key
    ("webserverips/10.0.0.7", "webserverips/10.0.0.7", "webserverips/10.0.0.7"),
    ("10.0.0.9", "autoscalerip/10.0.0.9", "autoscalerip/10.0.0.9"),
    ("/home/x/ssl/live/a.b/privkey.pem", "ssl/a.b/privkey.pem", "ssl/a.b/privkey.pem"),
    ("/home/x/runtime/beingbuiltips/3/10.0.0.4", "beingbuiltips/", "beingbuiltips/10.0.0.4"),
    # the original drops the directory of a name given without place (s3cmd put file s3://b/)
    ("webserverips/10.0.0.7", "", "10.0.0.7"),
    ("x", "/a//", "a/x"),
])
def test_put_key(name, place, key):
    assert keys.put_key(name, place) == key


def test_put_key_refuses_a_name_without_basename():
    with pytest.raises(ValueError, match="names no file"):
        keys.put_key("/", "x")


@given(st.text(alphabet="abc/.*", max_size=12))
def test_strip_wildcard_drops_only_one_trailing_star(key):
    stripped = keys.strip_wildcard(key)
    assert key.startswith(stripped)
    assert len(key) - len(stripped) == (1 if key.endswith("*") else 0)


def test_basename_lines_drop_directories():
    assert keys.basename_lines(["webserverips/1.2.3.4", "webserverips/", "ROOTKEY"]) == ["1.2.3.4", "ROOTKEY"]


@pytest.mark.parametrize("pattern, expected", [
    ("webserverips/*", ["webserverips/1", "webserverips/2"]),
    ("backuplock.*.file", ["backuplock.a.file"]),
    ("*", ["webserverips/1", "webserverips/2", "backuplock.a.file", "backuplock.b.filex"]),
])
def test_wildcard_matches(pattern, expected):
    found = ["webserverips/1", "webserverips/2", "backuplock.a.file", "backuplock.b.filex"]
    assert keys.wildcard_matches(pattern, found) == expected


def test_wildcard_listing_depth_follows_s3cmd():
    assert keys.wildcard_prefix("webserverips/*") == "webserverips/"
    assert not keys.wildcard_is_recursive("webserverips/*")
    assert keys.wildcard_is_recursive("ssl/*/privkey.pem")


def test_s3cmd_line_format():
    when = datetime(2025, 1, 2, 3, 4, tzinfo=timezone.utc)
    assert keys.s3cmd_line("b", "k", 123, when) == "2025-01-02 03:04          123  s3://b/k"


@pytest.mark.parametrize("destination, existing_dirs, target", [
    (None, {"."}, "./f.php"),
    ("/r/runtime", {"/r/runtime"}, "/r/runtime/f.php"),
    ("/r/runtime/f.php", set(), "/r/runtime/f.php"),  # 2025-07: a file path
    ("/r/new", set(), "/r/new/f.php"),  # 2025: a directory to create
    ("/r/f.php/", set(), "/r/f.php/f.php"),
])
def test_get_target(destination, existing_dirs, target):
    assert keys.get_target("cfg/f.php", destination, lambda p: p in existing_dirs) == target


@pytest.mark.parametrize("which, field", [("1", "DBNAME"), ("2", "DBPASSWORD"), ("3", "DBUSERNAME"),
                                          ("name", "DBNAME"), ("PASSWORD", "DBPASSWORD"), ("username", "DBUSERNAME")])
def test_credential_field(which, field):
    assert keys.credential_field(which) == field


def test_credential_field_unknown():
    with pytest.raises(ValueError, match="unknown credential"):
        keys.credential_field("4")


def test_application_part_of_dbaas_pair():
    assert keys.application_part("admin:::app") == "app"
    assert keys.application_part("plain") == "plain"
    assert keys.application_part("pa:ss") == "pa:ss"


@pytest.mark.parametrize("key, prefix", [
    ("backuplock.*.file", "backuplock."),  # the January 2026 List cut at the first star
    ("webrootsync/additions/additions*.tar.gz", "webrootsync/additions/additions"),
    ("webserverips/*", "webserverips/"),
    ("STATIC_SCALE:*", "STATIC_SCALE:"),
    ("beenonline/10.0.0.1", "beenonline/10.0.0.1"),
    ("", ""),
])
def test_list_prefix(key, prefix):
    assert keys.list_prefix(key) == prefix


@pytest.mark.parametrize("words, recursive", [
    ((), False),  # July 2025: <key>
    (("yes",), True), (("no",), False), (("",), False),  # December 2025: <key> <recursive>
    (("yes", "no"), False), (("no", "yes"), True), (("no", "no"), False), (("yes", "yes"), True),  # January 2026
    (("", "yes"), True),
])
def test_delete_forms_told_apart_by_their_number_of_words(words, recursive):
    assert keys.delete_is_recursive(words) is recursive


@pytest.mark.parametrize("words, message", [
    (("maybe",), "'maybe'"), (("no", "perhaps"), "'perhaps'"), (("yes", "no", "yes"), "too many"),
])
def test_delete_words_other_than_yes_or_no_are_refused(words, message):
    with pytest.raises(ValueError, match=message):
        keys.delete_is_recursive(words)


@pytest.mark.parametrize("key, recursive, every", [
    ("", True, True), ("*", True, True), ("", False, True), ("*", False, True), ("**", False, True),
    ("webserverips/", True, False), ("*.file", False, True), ("a*", True, False), ("**", True, False),
    ("*/*", False, True), ("backuplock.*.file", False, False), ("webserverips/*", False, False),
])
def test_deletes_every_key(key, recursive, every):
    assert keys.deletes_every_key(key, recursive) is every


def test_s3cmd_delete_line():
    assert keys.s3cmd_delete_line("b-config-x", "webserverips/10.0.0.7") == "delete: 's3://b-config-x/webserverips/10.0.0.7'"
