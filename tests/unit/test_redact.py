"""adt.baseline.redact: per-CMS redaction of a dump, checked with the gate before and after.

Dumps are hand-written in mariadb-dump 10.11 / pg_dump shape (helpers shared with test_gate); every secret
is fake and made at run time.
"""

import json

import pytest

from adt.baseline import gate, redact
from adt.text import serialized, sqldump
from test_gate import (HEX, Fake, bcrypt, dump_lines, moodle_pg_dump, mysql_table, phpass, wordpress_dump)


def run(text, dialect, application, **kwargs):
    result = redact.redact(dump_lines(text), dialect, application, **kwargs)
    out = list(result)
    return out, result.summary


def rows(lines, dialect, table):
    return [r for r in sqldump.iter_rows(lines, dialect) if r.table == table]


def assert_loadable(lines, dialect):
    text = b"".join(lines).decode("utf-8", "surrogateescape")
    for row in sqldump.iter_rows(lines, dialect):
        for value in row.values:
            if value:
                assert serialized.check(value) == [], (row.table, value)
    return text


@pytest.mark.parametrize("prefix", ["wp_", "site7_"])
def test_wordpress_site_is_clean_after_redaction(prefix):
    text, expected, secrets = wordpress_dump(Fake(31), prefix)
    assert len(gate.scan_dump(dump_lines(text), "mysql")) == len(expected)
    out, summary = run(text, "mysql", "wordpress")
    assert gate.scan_dump(out, "mysql") == []
    body = assert_loadable(out, "mysql")
    for secret in secrets:
        assert secret not in body
    assert dict(summary.rewritten) == {
        f"{prefix}comments.comment_author_email": 1, f"{prefix}comments.comment_author_IP": 1,
        f"{prefix}comments.comment_agent": 1, f"{prefix}options.option_value": 2,
        f"{prefix}users.user_email": 2, f"{prefix}users.user_pass": 2, f"{prefix}users.user_url": 1,
        f"{prefix}users.user_activation_key": 1}
    assert dict(summary.dropped) == {f"{prefix}usermeta": 1, f"{prefix}options": 3}
    assert summary.application == "wordpress" and summary.changed == 15
    assert summary.lines()[0].startswith("redacted for wordpress:")

    users = rows(out, "mysql", prefix + "users")
    assert [(u.get("user_login"), u.get("user_pass"), u.get("user_email"), u.get("display_name"))
            for u in users] == [("admin", "*", "user1@example.invalid", "Alice"),
                                ("bob", "*", "user2@example.invalid", "Bob")]
    comments = {r.get("comment_ID"): r for r in rows(out, "mysql", prefix + "comments")}
    assert comments["1"].get("comment_author_email") == "wapuu@wordpress.example"  # reserved: untouched
    assert comments["2"].get("comment_author_email") == "commenter2@example.invalid"
    assert comments["2"].get("comment_author_IP") == ""
    options = {r.get("option_name"): r.get("option_value") for r in rows(out, "mysql", prefix + "options")}
    assert set(options) == {"siteurl", "admin_email", "mailserver_pass", "wp_mail_smtp", "blogname"}
    assert options["admin_email"] == "admin@example.invalid"
    assert options["wp_mail_smtp"] == 'a:1:{s:4:"smtp";a:2:{s:4:"host";s:9:"127.0.0.1";s:4:"pass";s:0:"";}}'
    assert [r.get("meta_key") for r in rows(out, "mysql", prefix + "usermeta")] == ["nickname", "nickname"]


def test_redaction_is_idempotent_and_keeps_untouched_lines():
    text, _, _ = wordpress_dump(Fake(32))
    once, _ = run(text, "mysql", "wordpress")
    twice, summary = run(b"".join(once).decode("utf-8", "surrogateescape"), "mysql", "wordpress")
    assert b"".join(twice) == b"".join(once)
    assert summary.changed == 0
    original = dump_lines(text)
    assert [line for line in original if line.startswith((b"CREATE", b"  `", b"--", b"/*"))] == \
        [line for line in once if line.startswith((b"CREATE", b"  `", b"--", b"/*"))]


def test_auto_application_matches_explicit():
    text, _, _ = wordpress_dump(Fake(33))
    explicit, _ = run(text, "mysql", "wordpress")
    auto, summary = run(text, "mysql", None)
    assert auto == explicit and summary.application is None


def test_prefix_limits_the_cms_rules():
    fake = Fake(34)
    text, _, _ = wordpress_dump(fake)
    other = mysql_table("legacy_users", [("ID", "bigint(20)"), ("user_pass", "varchar(255)"),
                                         ("user_email", "varchar(100)"), ("user_url", "varchar(100)")],
                        [(1, "", "old.member@mailbox.org", "https://old.example.net")])
    out, summary = run(text + other, "mysql", "wordpress", prefix="wp_")
    legacy = rows(out, "mysql", "legacy_users")[0]
    assert legacy.get("user_email") == "old.member@mailbox.org"
    assert [f.where for f in gate.scan_dump(out, "mysql")] == ["legacy_users.user_email row 1"]
    assert "legacy_users.user_email" not in summary.rewritten


def test_moodle_postgres_is_clean_after_redaction():
    text, expected = moodle_pg_dump(Fake(35))
    assert len(gate.scan_dump(dump_lines(text), "postgres")) == len(expected)
    out, summary = run(text, "postgres", "moodle")
    assert gate.scan_dump(out, "postgres") == []
    users = {r.get("username"): r for r in rows(out, "postgres", "mdl_user")}
    assert users["admin"].get("password") == "*" and users["admin"].get("lastip") == ""
    assert users["erin"].get("password") == "not cached"          # external auth: nothing to hide
    assert users["guest"].get("email") == "root@localhost"
    config = {r.get("name"): r.get("value") for r in rows(out, "postgres", "mdl_config")}
    assert config == {"smtphosts": "mail.school.edu", "smtppass": "", "noreplyaddress": "noreply@example.invalid",
                      "proxypassword": ""}
    assert summary.dropped == {"mdl_sessions": 2}
    assert rows(out, "postgres", "mdl_sessions") == []
    assert out[-2:] == [b"\\.\n", b"\n"]  # COPY blocks still closed


def joomla_dump(fake):
    recaptcha = "6L" + fake.s(38)
    params = json.dumps({"public_key": "6L" + fake.s(38), "private_key": recaptcha, "theme2": "light",
                         "size": "normal"}, separators=(",", ":"))
    text = "".join([
        mysql_table("jos_extensions", [("extension_id", "int(11)"), ("name", "varchar(100)"),
                                       ("element", "varchar(100)"), ("params", "text")],
                    [(1, "plg_captcha_recaptcha", "recaptcha", params),
                     (2, "com_users", "com_users", '{"allowUserRegistration":"0","minimum_length":"12"}')]),
        mysql_table("jos_session", [("session_id", "varbinary(192)"), ("client_id", "tinyint(3)"),
                                    ("guest", "tinyint(3)"), ("time", "int(11)"), ("data", "mediumtext"),
                                    ("userid", "int(11)"), ("username", "varchar(150)")],
                    [(fake.s(32, HEX), 0, 0, 1700000000, "joomla|s:0:\"\";", 42, "admin")]),
        mysql_table("jos_user_keys", [("id", "int(10)"), ("user_id", "varchar(150)"), ("token", "varchar(255)"),
                                      ("series", "varchar(191)")],
                    [(1, "admin", bcrypt(fake), fake.s(20))]),
        mysql_table("jos_action_logs", [("id", "int(10)"), ("message", "text"), ("ip_address", "varchar(40)")],
                    [(1, '{"action":"login","username":"admin"}', "198.51.100.4")]),
        mysql_table("jos_usergroups", [("id", "int(10)"), ("title", "varchar(100)")], [(1, "Public")]),
        mysql_table("jos_users", [("id", "int(11)"), ("name", "varchar(400)"), ("username", "varchar(150)"),
                                  ("email", "varchar(100)"), ("password", "varchar(100)"), ("block", "tinyint(4)"),
                                  ("activation", "varchar(100)"), ("otpKey", "varchar(1000)"),
                                  ("otep", "varchar(1000)")],
                    [(42, "Super User", "admin", "frank.site@posteo.de", bcrypt(fake), 0, "", "", "")]),
    ])
    return text, recaptcha


def test_joomla_is_clean_after_redaction():
    text, recaptcha = joomla_dump(Fake(36))
    before = gate.scan_dump(dump_lines(text), "mysql")
    assert sorted(f.rule for f in before) == sorted(
        ["secret-setting", "session-data", "session-data", "password-hash", "email-address"])
    out, summary = run(text, "mysql", "joomla")
    assert gate.scan_dump(out, "mysql") == []
    assert recaptcha.encode() not in b"".join(out)
    params = json.loads(rows(out, "mysql", "jos_extensions")[0].get("params"))
    assert params["private_key"] == "" and params["public_key"].startswith("6L")
    assert dict(summary.dropped) == {"jos_session": 1, "jos_user_keys": 1, "jos_action_logs": 1}
    user = rows(out, "mysql", "jos_users")[0]
    assert (user.get("username"), user.get("email"), user.get("password")) == ("admin", "user42@example.invalid", "*")
    assert redact.cms_of(redact.tables_in(dump_lines(text), "mysql")) == ("joomla", "jos_")


def drupal_dump(fake):
    owner = "site.owner@gmx.net"
    site = 'a:3:{s:4:"uuid";s:36:"%s";s:4:"name";s:4:"Demo";s:4:"mail";s:%d:"%s";}' \
        % ("-".join(fake.s(n, HEX) for n in (8, 4, 4, 4, 12)), len(owner), owner)
    assert serialized.check(site) == []
    return "".join([
        mysql_table("cache_default", [("cid", "varchar(255)"), ("data", "longblob")],
                    [("x", 'a:1:{s:4:"mail";s:16:"someone@mail.com";}')]),
        mysql_table("config", [("collection", "varchar(255)"), ("name", "varchar(255)"), ("data", "longblob")],
                    [("", "system.site", site), ("", "system.date", 'a:1:{s:7:"country";a:0:{}}')]),
        mysql_table("sessions", [("uid", "int(10)"), ("sid", "varchar(128)"), ("hostname", "varchar(128)"),
                                 ("session", "longblob")], [(1, fake.s(43), "203.0.113.5", "_sf2_attributes|")]),
        mysql_table("users_field_data", [("uid", "int(10)"), ("langcode", "varchar(12)"), ("name", "varchar(60)"),
                                         ("pass", "varchar(255)"), ("mail", "varchar(254)"), ("init", "varchar(254)")],
                    [(0, "en", "", None, None, None),
                     (1, "en", "admin", "$" + "S$E" + fake.s(51, "./" + HEX), "site.owner@gmx.net",
                      "site.owner@gmx.net")]),
        mysql_table("watchdog", [("wid", "bigint(20)"), ("uid", "int(10)"), ("message", "longtext"),
                                 ("hostname", "varchar(128)")], [(1, 1, "Session opened for admin.", "203.0.113.5")]),
        mysql_table("key_value", [("collection", "varchar(128)"), ("name", "varchar(128)"), ("value", "longblob")],
                    [("system.schema", "node", "i:8000;")]),
    ])


def test_drupal_is_clean_after_redaction():
    text = drupal_dump(Fake(37))
    before = sorted((f.rule, f.where.split(" ")[0]) for f in gate.scan_dump(dump_lines(text), "mysql"))
    assert ("password-hash", "users_field_data.pass") in before and ("session-data", "sessions") in before
    out, summary = run(text, "mysql", "drupal")
    assert gate.scan_dump(out, "mysql") == []
    assert_loadable(out, "mysql")
    assert dict(summary.dropped) == {"cache_default": 1, "sessions": 1, "watchdog": 1}
    site = rows(out, "mysql", "config")[0].get("data")
    assert 's:4:"mail";s:21:"admin@example.invalid";' in site
    anonymous, admin = rows(out, "mysql", "users_field_data")
    assert anonymous.values[3:] == [None, None, None]
    assert admin.values[3:] == ["*", "user1@example.invalid", "user1@example.invalid"]
    assert redact.cms_of(redact.tables_in(dump_lines(text), "mysql")) == ("drupal", "")


def test_generic_scrubbing_in_any_table_and_optional_emails():
    fake = Fake(38)
    token = fake.stripe()
    hashed = phpass(fake)
    meta = 'a:2:{s:5:"email";s:17:"grace@mailbox.org";s:4:"note";s:%d:"%s";}' % (len(token) + 4, "key " + token)
    text = "".join([
        mysql_table("wp_postmeta", [("meta_id", "bigint(20)"), ("post_id", "bigint(20)"),
                                    ("meta_key", "varchar(255)"), ("meta_value", "longtext")],
                    [(1, 9, "_form_entry", meta)]),
        mysql_table("wp_members", [("id", "int(11)"), ("login", "varchar(60)"), ("pw", "varchar(255)")],
                    [(1, "grace", hashed)]),
    ])
    assert {f.rule for f in gate.scan_dump(dump_lines(text), "mysql")} == {"stripe-key", "email-address",
                                                                            "password-hash"}
    out, summary = run(text, "mysql", "wordpress")
    assert [f.rule for f in gate.scan_dump(out, "mysql")] == ["email-address"]  # content e-mails need opting in
    assert_loadable(out, "mysql")
    assert rows(out, "mysql", "wp_members")[0].get("pw") == "*"
    out, summary = run(text, "mysql", "wordpress", scrub_emails=True)
    assert gate.scan_dump(out, "mysql") == []
    value = rows(out, "mysql", "wp_postmeta")[0].get("meta_value")
    assert serialized.check(value) == []
    assert redact.email_placeholder("grace@mailbox.org") in value
    assert summary.rewritten == {"wp_postmeta.meta_value": 1, "wp_members.pw": 1}


def test_cms_detection_and_errors():
    text, _, _ = wordpress_dump(Fake(39), "blog_")
    assert redact.tables_in(dump_lines(text), "mysql") == ["blog_comments", "blog_options", "blog_usermeta",
                                                           "blog_users"]
    assert redact.cms_of(redact.tables_in(dump_lines(text), "mysql")) == ("wordpress", "blog_")
    pg_text, _ = moodle_pg_dump(Fake(39))
    assert redact.cms_of(redact.tables_in(dump_lines(pg_text), "postgres") + ["mdl_config_plugins",
                                                                               "mdl_course"]) == ("moodle", "mdl_")
    assert redact.cms_of(["posts", "comments"]) is None
    with pytest.raises(ValueError, match="unknown application 'typo3'"):
        redact.redact([], "mysql", "typo3")
