"""adt.baseline.gate: the publication gate's scanners, waivers and reports.

Every secret here is fake and made at run time from a seeded PRNG; token prefixes are assembled by
concatenation so that no complete secret-shaped literal sits in this file.
"""

import base64
import json
import os
import random
import shutil
import string
from pathlib import Path

import pytest

from adt.baseline import gate
from adt.baseline.gate import Finding, Waivers, dumps, heuristics, scan_dump, scan_tree
from adt.baseline.gate.files import MAX_TEXT_BYTES
from adt.baseline.gate.findings import SEVERITIES

WORDPRESS = Path("/usr/share/wordpress")
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B32 = string.ascii_uppercase + "234567"
ITOA64 = "./" + string.digits + string.ascii_uppercase + string.ascii_lowercase


class Fake:
    """Fake secrets of every kind the gate knows, from one seed."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def s(self, n, alphabet=ALNUM):
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def aws_id(self):
        return "AK" + "IA" + self.s(16, B32)

    def aws_secret(self):
        return self.s(40, ALNUM + "/+")

    def github(self):
        return "gh" + "p_" + self.s(36)

    def github_pat(self):
        return "github" + "_pat_" + self.s(22) + "_" + self.s(59)

    def gitlab(self):
        return "gl" + "pat-" + self.s(20)

    def slack(self):
        return "xo" + "xb-" + self.s(12, string.digits) + "-" + self.s(13, string.digits) + "-" + self.s(24)

    def stripe(self):
        return "sk" + "_live_" + self.s(24)

    def google(self):
        return "AI" + "za" + self.s(35, ALNUM + "_-")

    def sendgrid(self):
        return "SG" + "." + self.s(22, ALNUM + "_-") + "." + self.s(43, ALNUM + "_-")

    def mailgun(self):
        return "key" + "-" + self.s(32, HEX)

    def twilio(self):
        return "S" + "K" + self.s(32, HEX)

    def jwt(self):
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64(json.dumps({"sub": self.s(8), "iat": 1700000000}).encode())
        return f"{header}.{payload}.{self.s(43, ALNUM + '_-')}"

    def pem(self):
        body = base64.b64encode(bytes(self.r.getrandbits(8) for _ in range(900))).decode()
        lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
        kind = "RSA " + "PRIVATE KEY"
        return f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----\n"

    def password(self, n=14):
        return self.s(n, ALNUM + "!#%&*+-.:;=?@^_~")

    def salt(self):
        return self.s(64, ALNUM + " !#$%&()*+,-./:;<=>?@[]^_{|}~")


def build_webroot(root: Path, fake: Fake):
    """A small WordPress-like webroot: a few stock files, every kind of secret planted once, and decoys.
    Returns (expected [(rule, path)], secrets planted, planted text files)."""
    root.mkdir(parents=True)
    for rel in ("index.php", "wp-config-sample.php", "wp-login.php", "wp-includes/version.php",
                "wp-includes/class-wp-user.php", "wp-includes/pluggable.php", "wp-admin/setup-config.php",
                "wp-content/plugins/akismet/akismet.php", "wp-content/plugins/akismet/class.akismet.php"):
        source = WORDPRESS / rel
        if source.is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, root / rel)
    expected, secrets, files = [], [], {}

    def plant(rel, text, *found):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        files[rel] = text
        expected.extend((rule, rel) for rule in found)

    db_password = "p" + fake.s(8) + "p"
    salts = {name: fake.salt() for name in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
                                            "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT")}
    plant("wp-config.php",
          "<?php\ndefine( 'DB_NAME', 'wordpress' );\ndefine( 'DB_USER', 'wpuser' );\n"
          f"define( 'DB_PASSWORD', '{db_password}' );\ndefine( 'DB_HOST', 'localhost' );\n"
          "define( 'DB_CHARSET', 'utf8mb4' );\n"
          + "".join(f"define( '{k}', '{v}' );\n" for k, v in salts.items())
          + "$table_prefix = 'wp_';\nrequire_once ABSPATH . 'wp-settings.php';\n",
          "wordpress-db-password", *["wordpress-salt"] * 8)
    secrets += [db_password, *salts.values()]

    joomla = [fake.password(), fake.s(16), fake.password()]
    plant("joomla/configuration.php",
          "<?php\nclass JConfig {\n\tpublic $dbtype = 'mysqli';\n\tpublic $user = 'joomla';\n"
          f"\tpublic $password = '{joomla[0]}';\n\tpublic $db = 'joomla';\n\tpublic $dbprefix = 'jos_';\n"
          f"\tpublic $secret = '{joomla[1]}';\n\tpublic $smtpuser = '';\n\tpublic $smtppass = '{joomla[2]}';\n"
          "\tpublic $ftp_pass = '';\n}\n",
          *["joomla-config-secret"] * 3)
    secrets += joomla

    drupal = [fake.password(), fake.s(55, ALNUM + "-_")]
    plant("drupal/sites/default/settings.php",
          "<?php\n/**\n * Database settings:\n *\n * @code\n * $databases['default']['default'] = [\n"
          " *   'username' => 'sqlusername',\n *   'password' => 'sqlpassword',\n * ];\n * @endcode\n */\n"
          "$databases['default']['default'] = array (\n  'database' => 'drupal',\n  'username' => 'drupal',\n"
          f"  'password' => '{drupal[0]}',\n  'prefix' => '',\n  'host' => 'localhost',\n  'port' => '3306',\n"
          "  'driver' => 'mysql',\n);\n# $settings['hash_salt'] = 'not-this-one-in-a-comment';\n"
          f"$settings['hash_salt'] = '{drupal[1]}';\n",
          "drupal-db-password", "drupal-hash-salt")
    secrets += drupal

    moodle = fake.password()
    plant("moodle/config.php",
          "<?php\nunset($CFG);\nglobal $CFG;\n$CFG = new stdClass();\n$CFG->dbtype = 'mariadb';\n"
          f"$CFG->dbuser = 'moodle';\n$CFG->dbpass = '{moodle}';\n$CFG->prefix = 'mdl_';\n",
          "moodle-config-secret")
    secrets.append(moodle)

    aws = [fake.aws_id(), fake.aws_secret()]
    plant("wp-content/plugins/offload/config.php",
          f"<?php\ndefine('AWS_ACCESS_KEY_ID', '{aws[0]}');\ndefine('AWS_SECRET_ACCESS_KEY', '{aws[1]}');\n"
          "define('AWS_REGION', 'eu-west-1');\n",
          "aws-access-key-id", "aws-secret-access-key")
    secrets += aws

    tokens = {"slack-token": fake.slack(), "stripe-key": fake.stripe(), "sendgrid-key": fake.sendgrid(),
              "mailgun-key": fake.mailgun(), "twilio-key": fake.twilio()}
    plant("wp-content/plugins/acme/integrations.php",
          "<?php\nreturn [\n" + "".join(f"    'service_{i}' => '{v}',\n" for i, v in enumerate(tokens.values()))
          + "];\n", *tokens)
    secrets += tokens.values()

    js = [fake.github(), fake.google(), fake.jwt()]
    plant("wp-content/themes/site/app.js",
          f"(function(){{var repo=\"{js[0]}\",maps='{js[1]}';\nvar session = \"{js[2]}\";\n"
          "console.log(repo, maps, session);})();\n",
          "github-token", "google-api-key", "jwt")
    secrets += js

    pat = fake.github_pat()
    plant("auth.json", json.dumps({"github-oauth": {"github.com": pat}}, indent=4) + "\n", "github-token")
    secrets.append(pat)

    gitlab = fake.gitlab()
    plant(".gitlab-ci.yml", f"variables:\n  GITLAB_TOKEN: {gitlab}\n  STAGE: deploy\n", "gitlab-token")
    secrets.append(gitlab)

    url_password = fake.s(14)
    plant("wp-content/plugins/acme/db.yml",
          f"url: mysql://siteuser:{url_password}@db.internal.net:3306/site\ntimeout: 30\n", "url-credentials")
    secrets.append(url_password)

    key = fake.pem()
    plant("wp-content/uploads/deploy_key", key, "private-key")
    secrets.append(key.splitlines()[1])

    env = [fake.s(12), fake.password(12)]
    plant(".env", f"APP_NAME=Site\nDB_USERNAME=site\nDB_PASSWORD={env[0]}\nMAIL_PASSWORD=\"{env[1]}\"\n"
                  "DB_HOST=localhost\n", "env-secret", "env-secret")
    secrets += env

    generic = [fake.s(24), fake.password(20), fake.s(32)]
    plant("wp-content/plugins/acme/settings.ini", f"[api]\nendpoint = https://api.acme.invalid\n"
                                                  f"api_secret = {generic[0]}\n", "secret-assignment")
    plant("wp-content/plugins/acme/acme.php", f"<?php\n$client_secret = '{generic[1]}';\n", "secret-assignment")
    plant("wp-content/plugins/acme/acme.json", json.dumps({"name": "acme", "apiKey": generic[2]}) + "\n",
          "secret-assignment")
    secrets += generic

    # real secrets that contain the words placeholders are made of: each is found
    worded = ["Kx9!example77Qz" + fake.s(4), "dummy" + fake.password(12), "changeme" + fake.s(10) + "!7",
              "your-" + fake.s(14) + "#9", "Pq7$placeholder" + fake.s(8)]
    plant("wp-content/plugins/acme/worded.env", "".join(f"SMTP_PASSWORD_{i}={w}\n" for i, w in enumerate(worded[:2])),
          "env-secret", "env-secret")
    plant("wp-content/plugins/acme/worded.php",
          "<?php\n" + "".join(f"$client_secret_{i} = '{w}';\n" for i, w in enumerate(worded[2:])),
          *["secret-assignment"] * 3)
    plant(".env.production", f"DB_PASSWORD={worded[0]}\nMAIL_PASSWORD={worded[1]}\n", "env-secret", "env-secret")
    secrets += worded

    # decoys: placeholders, variables, examples, comments — none may be reported
    plant(".env.example", "DB_PASSWORD=changeme\nAPI_TOKEN=\nSECRET_KEY=your-secret-key-here\n"
                          "MAIL_PASSWORD=${MAIL_PASSWORD}\n")
    plant("wp-content/plugins/acme/readme.txt",
          "Connect with https://user:password@example.com/ or postgres://admin:$PASSWORD@db/app\n"
          "Set define('DB_PASSWORD', 'password_here'); and $token = 'access_token';\n")
    plant("wp-content/plugins/acme/form.php",
          "<?php\n$args = array('password' => $pass, 'token' => wp_create_nonce('x'),\n"
          "    'password_min_length' => '12345678', 'show_password' => 'Abc12345',\n"
          "    'secret' => __('Secret'), 'api_key' => get_option('acme_api_key'));\n"
          "$password = \"$user_pass\";\n")

    # a .git directory and an .htpasswd file
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / ".git" / "config").write_text(f"[remote \"origin\"]\n\turl = https://x:{fake.github()}@github.com/a/b\n")
    expected.append(("git-directory", ".git"))
    plant("private/.htpasswd", "admin:$apr1$" + fake.s(8) + "$" + fake.s(22) + "\n", "htpasswd-file")

    # a dump archive, a large text file, a binary file with a token inside
    (root / "backup.sql.gz").write_bytes(b"\x1f\x8b\x08\x00" + bytes(fake.r.getrandbits(8) for _ in range(64)))
    expected.append(("database-dump-file", "backup.sql.gz"))
    big = root / "wp-content" / "debug.log"
    with open(big, "w") as f:
        line = "[01-Jan-2025 00:00:00 UTC] PHP Notice: nothing to see here\n"
        f.write(line * (MAX_TEXT_BYTES // len(line) + 10))
    expected.append(("unscanned-large-file", "wp-content/debug.log"))
    (root / "wp-content" / "uploads" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0" + fake.stripe().encode())

    # symlinks: to a secret outside the webroot (not published), and to a planted file inside (not twice)
    outside = root.parent / "outside"
    outside.mkdir()
    (outside / "secret.php").write_text(f"<?php $k = '{fake.stripe()}';\n")
    os.symlink(outside / "secret.php", root / "wp-content" / "outside.php")
    os.symlink(outside, root / "wp-content" / "outside-dir")
    os.symlink("../app.js", root / "wp-content" / "themes" / "site" / "link.js")
    (root / "wp-content" / "themes" / "site" / "sub").mkdir()
    return expected, secrets, files


def where_path(finding: Finding) -> str:
    return finding.where.rsplit(":", 1)[0]


def needs_wordpress(test):
    """The Debian wordpress package is installed by `make test`; without it these tests fail, never skip."""
    return test


@needs_wordpress
def test_stock_wordpress_has_no_findings():
    assert scan_tree(WORDPRESS) == []


@needs_wordpress
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_planted_secret_is_found_once(tmp_path, seed):
    root = tmp_path / "webroot"
    expected, secrets, _ = build_webroot(root, Fake(seed))
    findings = scan_tree(root)
    assert sorted((f.rule, where_path(f)) for f in findings) == sorted(expected)
    assert len({f.id for f in findings}) == len(findings)
    for finding in findings:
        assert finding.id.startswith("F-") and len(finding.id) == 12
        assert finding.severity in SEVERITIES
        for secret in secrets:
            assert secret not in finding.excerpt, (finding, secret)
            assert secret not in finding.where


@needs_wordpress
def test_ids_survive_line_shifts_and_change_with_the_secret(tmp_path):
    root = tmp_path / "webroot"
    _, _, files = build_webroot(root, Fake(7))
    before = {f.id: f for f in scan_tree(root)}
    for rel, text in files.items():
        (root / rel).write_text("\n\n\n" + text)
    after = {f.id: f for f in scan_tree(root)}
    assert after.keys() == before.keys()
    for fid, finding in after.items():
        old = before[fid]
        assert finding.rule == old.rule
        if where_path(finding) in files:
            assert int(finding.where.rsplit(":", 1)[1]) == int(old.where.rsplit(":", 1)[1]) + 3
    # a different DB password is a different finding: the waiver was for the old value
    config = root / "wp-config.php"
    config.write_text(config.read_text().replace("define( 'DB_PASSWORD', '", "define( 'DB_PASSWORD', 'x"))
    changed = {f.id for f in scan_tree(root) if f.rule == "wordpress-db-password"}
    assert changed and not changed & before.keys()


def test_excludes_and_unreadable(tmp_path):
    fake = Fake(11)
    (tmp_path / "cache" / "a").mkdir(parents=True)
    (tmp_path / "cache" / "a" / "x.php").write_text(f"<?php $x = '{fake.stripe()}';\n")
    (tmp_path / "keep.log").write_text(f"{fake.github()}\n")
    (tmp_path / "site.php").write_text(f"<?php $x = '{fake.stripe()}';\n")
    assert {where_path(f) for f in scan_tree(tmp_path)} == {"cache/a/x.php", "keep.log", "site.php"}
    assert {where_path(f) for f in scan_tree(tmp_path, excludes=("cache", "*.log"))} == {"site.php"}
    assert {where_path(f) for f in scan_tree(tmp_path, excludes=("cache/a/*",))} == {"keep.log", "site.php"}
    if os.geteuid() != 0:
        (tmp_path / "site.php").chmod(0)
        assert "unreadable-file" in {f.rule for f in scan_tree(tmp_path)}


def test_repeated_secret_gets_distinct_stable_ids(tmp_path):
    token = Fake(3).stripe()
    (tmp_path / "a.php").write_text(f"<?php\n$a = '{token}';\n$b = '{token}';\n")
    first = scan_tree(tmp_path)
    assert [f.rule for f in first] == ["stripe-key", "stripe-key"]
    assert first[0].id != first[1].id
    (tmp_path / "a.php").write_text(f"<?php\n// moved\n$a = '{token}';\n\n$b = '{token}';\n")
    assert [f.id for f in scan_tree(tmp_path)] == [f.id for f in first]


def test_excerpt_masks_every_secret_on_the_line(tmp_path):
    fake = Fake(5)
    a, b = fake.stripe(), fake.github()
    (tmp_path / "x.js").write_text(f"var a = '{a}', b = '{b}';\n")
    findings = scan_tree(tmp_path)
    assert len(findings) == 2
    for finding in findings:
        assert a not in finding.excerpt and b not in finding.excerpt
        assert "…" in finding.excerpt
    assert any(a[:4] + "…" in f.excerpt for f in findings)


@pytest.mark.parametrize("name, secret", [
    ("password", True), ("DB_PASSWORD", True), ("smtp_pass", True), ("smtppass", True), ("api_key", True),
    ("apiKey", True), ("client_secret", True), ("auth_token", True), ("hash_salt", True), ("AUTH_KEY", True),
    ("private_key", True), ("mailserver_pass", True), ("AWS_SECRET_ACCESS_KEY", True),
    ("password_min_length", False), ("token_type", False), ("show_password", False), ("csrf_token", False),
    ("passive", False), ("compass", False), ("bypass", False), ("key", False), ("meta_key", False),
    ("AWS_ACCESS_KEY_ID", False), ("user_login", False), ("password_reset_url", False),
])
def test_secret_name(name, secret):
    assert heuristics.secret_name(name) is secret


@pytest.mark.parametrize("value, placeholder", [
    ("", True), ("password", True), ("password_here", True), ("put your unique phrase here", True),
    ("changeme", True), ("${DB_PASSWORD}", True), ("<your-token>", True), ("xxxxxxxx", True),
    ("********", True), ("your_api_key", True), ("%DB_PASS%", True), ("example-secret", True),
    ("py4bDi7S4p", False), ("Tr0ub4dor&3", False), ("hunter22", False),
    ("EXAMPLE_TOKEN", True), ("your-secret-key-here", True), ("{{ db_password }}", True), ("getenv('DB_PASS')", True),
    ("$DB_PASSWORD", True), ("dummy", True), ("xxxx-xxxx-xxxx", True),
    # real secrets that merely contain a common word: only a whole value is a placeholder
    ("Kx9!example77Qz", False), ("dummyX7#kQ2pL9", False), ("your-Kx9!rT72mZq", False), ("Pq7$placeholder9Zk", False),
    ("redacted4Rf!9Lm2", False), ("changemeQ8#v2Lp", False), ("%(Kx9!Qz", False), ("$Kx9!example7", False),
    ("env:Kx9 !q7Z", False), ("xxxx9Qf#2LmPz", False), ("secret-Kx9!q7Zp", False),
])
def test_is_placeholder(value, placeholder):
    assert heuristics.is_placeholder(value) is placeholder


def test_entropy_tuning():
    # ADT-style generated passwords ("p" + 8 random + "p") pass, words and identifiers do not
    assert heuristics.looks_random("py4bDi7S4p")
    assert heuristics.looks_random("Xk29dk3Ldq")
    for value in ("access_token", "wordpress", "user_pass", "aaaaaaaa1", "WP_DEBUG", "passwordStrength",
                  "1.2.3.4", "https://x.y/z", "/var/www/html", "Hello there world", "%s:%d"):
        assert not heuristics.looks_random(value), value
    assert heuristics.entropy("aaaa") == 0
    assert heuristics.entropy_threshold(10) < heuristics.entropy_threshold(64) == 3.0


# ---------------------------------------------------------------------------------------------- dumps

def my(value):
    from adt.text import sqldump
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + sqldump.escape(value, "mysql").decode("utf-8", "surrogateescape") + "'"


def mysql_table(name, columns, rows):
    """A table as mariadb-dump 10.11 writes it (one row per line in the extended INSERT)."""
    out = [f"DROP TABLE IF EXISTS `{name}`;\n", f"CREATE TABLE `{name}` (\n"]
    out += [f"  `{c}` {t} NOT NULL,\n" for c, t in columns]
    out += [f"  PRIMARY KEY (`{columns[0][0]}`)\n", ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n",
            f"LOCK TABLES `{name}` WRITE;\n"]
    if rows:
        out.append(f"INSERT INTO `{name}` VALUES\n")
        out += ["(" + ",".join(my(v) for v in row) + ")" + (";\n" if i == len(rows) - 1 else ",\n")
                for i, row in enumerate(rows)]
    out.append("UNLOCK TABLES;\n")
    return "".join(out)


def pg(value):
    from adt.text import sqldump
    if value is None:
        return "\\N"
    return sqldump.escape(str(value), "postgres").decode("utf-8", "surrogateescape")


def pg_table(name, columns, rows):
    """A table as pg_dump writes it: CREATE TABLE, then COPY … FROM stdin rows and \\."""
    out = [f"CREATE TABLE public.{name} (\n"]
    out += [f"    {c} {t}{',' if i < len(columns) - 1 else ''}\n" for i, (c, t) in enumerate(columns)]
    out += [");\n", "\n", f"COPY public.{name} ({', '.join(c for c, _ in columns)}) FROM stdin;\n"]
    out += ["\t".join(pg(v) for v in row) + "\n" for row in rows]
    out += ["\\.\n", "\n"]
    return "".join(out)


def phpass(fake):
    return "$" + "P$B" + fake.s(30, ITOA64)


def bcrypt(fake, prefix=""):
    return prefix + "$" + "2y$10$" + fake.s(53, ITOA64)


def wp_session(fake):
    inner = 'a:4:{s:10:"expiration";i:1700000000;s:2:"ip";s:9:"192.0.2.7";s:2:"ua";s:11:"Mozilla/5.0";' \
            's:5:"login";i:1699990000;}'
    return f'a:1:{{s:64:"{fake.s(64, HEX)}";{inner}}}'


def wordpress_dump(fake, prefix="wp_"):
    """A typical small WordPress site's dump, and what the gate must find in it."""
    smtp = fake.password(12)
    api = fake.s(32, HEX)
    nested_pass = fake.password(10)
    users = [(1, "admin", phpass(fake), "admin", "alice.admin@mailbox.org", "https://alice.blog", "2024-01-01 10:00:00",
              "", 0, "Alice"),
             (2, "bob", bcrypt(fake, "$" + "wp"), "bob", "bob@posteo.de", "", "2024-02-01 10:00:00",
              "1700000000:" + phpass(fake), 0, "Bob")]
    text = "".join([
        "/*M!999999\\- enable the sandbox mode */ \n",
        "-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)\n",
        "/*!40101 SET NAMES utf8mb4 */;\n",
        mysql_table(prefix + "comments", [("comment_ID", "bigint(20) unsigned"), ("comment_post_ID", "bigint(20)"),
                                          ("comment_author", "tinytext"), ("comment_author_email", "varchar(100)"),
                                          ("comment_author_url", "varchar(200)"), ("comment_author_IP", "varchar(100)"),
                                          ("comment_content", "text"), ("comment_agent", "varchar(255)")],
                    [(1, 1, "A WordPress Commenter", "wapuu@wordpress.example", "https://wordpress.org/", "",
                      "Hi, this is a comment.", ""),
                     (2, 1, "Carol", "carol.commenter@web.de", "", "198.51.100.23", "Great post!",
                      "Mozilla/5.0 (X11; Linux x86_64)")]),
        mysql_table(prefix + "options", [("option_id", "bigint(20) unsigned"), ("option_name", "varchar(191)"),
                                         ("option_value", "longtext"), ("autoload", "varchar(20)")],
                    [(1, "siteurl", "https://www.applicationdomain.tld", "yes"),
                     (2, "admin_email", "alice.admin@mailbox.org", "yes"),
                     (3, "mailserver_pass", "password", "yes"),
                     (4, "smtp_pass", smtp, "yes"),
                     (5, "acme_api_key", api, "yes"),
                     (6, "_transient_doing_cron", "1700000000.1234", "yes"),
                     (7, "wp_mail_smtp", 'a:1:{s:4:"smtp";a:2:{s:4:"host";s:9:"127.0.0.1";s:4:"pass";s:%d:"%s";}}'
                      % (len(nested_pass), nested_pass), "yes"),
                     (8, "blogname", "Baseline Site", "yes")]),
        mysql_table(prefix + "usermeta", [("umeta_id", "bigint(20) unsigned"), ("user_id", "bigint(20)"),
                                          ("meta_key", "varchar(255)"), ("meta_value", "longtext")],
                    [(1, 1, "nickname", "admin"), (2, 1, "session_tokens", wp_session(fake)),
                     (3, 2, "nickname", "bob")]),
        mysql_table(prefix + "users", [("ID", "bigint(20) unsigned"), ("user_login", "varchar(60)"),
                                       ("user_pass", "varchar(255)"), ("user_nicename", "varchar(50)"),
                                       ("user_email", "varchar(100)"), ("user_url", "varchar(100)"),
                                       ("user_registered", "datetime"), ("user_activation_key", "varchar(255)"),
                                       ("user_status", "int(11)"), ("display_name", "varchar(250)")], users),
        "-- Dump completed on 2025-01-01 10:00:00\n",
    ])
    secrets = [smtp, api, nested_pass, users[0][2], users[1][2], users[1][7].split(":", 1)[1]]
    expected = sorted([
        ("email-address", f"{prefix}comments.comment_author_email row 2"),
        ("email-address", f"{prefix}options.option_value row 2"),
        ("secret-setting", f"{prefix}options.option_value row 4"),
        ("secret-setting", f"{prefix}options.option_value row 5"),
        ("secret-setting", f"{prefix}options.option_value row 7"),
        ("session-data", f"{prefix}usermeta.meta_value row 2"),
        ("password-hash", f"{prefix}users.user_pass row 1"),
        ("password-hash", f"{prefix}users.user_pass row 2"),
        ("password-hash", f"{prefix}users.user_activation_key row 2"),
        ("email-address", f"{prefix}users.user_email row 1"),
        ("email-address", f"{prefix}users.user_email row 2"),
    ])
    return text, expected, secrets


def moodle_pg_dump(fake):
    text = "".join([
        "--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\n",
        pg_table("mdl_user", [("id", "bigint NOT NULL"), ("auth", "character varying(20)"),
                              ("username", "character varying(100)"), ("password", "character varying(255)"),
                              ("email", "character varying(100)"), ("secret", "character varying(15)"),
                              ("lastip", "character varying(45)")],
                 [(1, "manual", "guest", bcrypt(fake), "root@localhost", "", ""),
                  (2, "manual", "admin", bcrypt(fake), "dora.teacher@school.edu", "", "203.0.113.9"),
                  (3, "ldap", "erin", "not cached", "erin@school.edu", "", "")]),
        pg_table("mdl_sessions", [("id", "bigint NOT NULL"), ("sid", "character varying(128)"),
                                  ("userid", "bigint"), ("sessdata", "text")],
                 [(1, fake.s(26, HEX), 2, None), (2, fake.s(26, HEX), 3, None)]),
        pg_table("mdl_config", [("id", "bigint NOT NULL"), ("name", "character varying(255)"),
                                ("value", "text")],
                 [(1, "smtphosts", "mail.school.edu"), (2, "smtppass", fake.password(12)),
                  (3, "noreplyaddress", "noreply@school.edu"), (4, "proxypassword", "")]),
    ])
    expected = sorted([
        ("password-hash", "mdl_user.password row 1"), ("password-hash", "mdl_user.password row 2"),
        ("email-address", "mdl_user.email row 2"), ("email-address", "mdl_user.email row 3"),
        ("secret-setting", "mdl_config.value row 2"), ("email-address", "mdl_config.value row 3"),
        ("session-data", "mdl_sessions (2 rows)"),
    ])
    return text, expected


def dump_lines(text):
    return text.encode("utf-8", "surrogateescape").splitlines(keepends=True)


@pytest.mark.parametrize("prefix", ["wp_", "site7_"])
def test_wordpress_dump_findings(prefix):
    text, expected, secrets = wordpress_dump(Fake(21), prefix)
    findings = scan_dump(dump_lines(text), "mysql")
    assert sorted((f.rule, f.where) for f in findings) == expected
    assert scan_dump(dump_lines(text), "mysql", prefix=prefix) == findings
    for finding in findings:
        for secret in secrets:
            assert secret not in finding.excerpt
        assert "@mailbox.org" not in finding.excerpt or "a…@mailbox.org" in finding.excerpt
    hashes = {f.excerpt for f in findings if f.rule == "password-hash"}
    assert "user_pass=$P$…" in hashes and "user_pass=$wp$2y$…" in hashes


def test_dump_ids_stable_when_lines_move():
    text, _, _ = wordpress_dump(Fake(22))
    before = scan_dump(dump_lines(text), "mysql")
    moved = "-- a comment\n-- another\n" + text.replace("LOCK TABLES", "-- lock\nLOCK TABLES")
    after = scan_dump(dump_lines(moved), "mysql")
    assert [f.id for f in after] == [f.id for f in before]


def test_moodle_postgres_dump_findings():
    text, expected = moodle_pg_dump(Fake(23))
    findings = scan_dump(dump_lines(text), "postgres")
    assert sorted((f.rule, f.where) for f in findings) == expected


def test_tokens_in_dump_values_and_prefix_detection():
    fake = Fake(24)
    token = fake.stripe()
    text = mysql_table("wp_posts", [("ID", "bigint(20)"), ("post_content", "longtext")],
                       [(5, f"Use the key {token} and write to press@example.com or image@2x.png")])
    findings = scan_dump(dump_lines(text), "mysql")
    assert [(f.rule, f.where) for f in findings] == [("stripe-key", "wp_posts.post_content row 5")]
    assert token not in findings[0].excerpt
    assert dumps.detect_prefix(["wp_users", "wp_usermeta", "wp_2_options", "blog_users", "blog_usermeta"]) == "wp_"
    assert dumps.detect_prefix(["users", "posts"]) is None


def test_sql_file_in_webroot_is_scanned_as_a_dump(tmp_path):
    text, expected, _ = wordpress_dump(Fake(25))
    (tmp_path / "old-backup.sql").write_text(text)
    findings = scan_tree(tmp_path)
    assert sorted((f.rule, f.where) for f in findings) == sorted(
        (rule, "old-backup.sql: " + where) for rule, where in expected)


def test_structured_pairs_and_secrets():
    pairs = list(dumps.structured_pairs('{"smtp":{"password":"S3cr3tPa55"},"port":"25"}'))
    assert ("password", "S3cr3tPa55") in [(k, v) for k, v, _, _ in pairs]
    value = 'a:2:{s:4:"smtp";s:40:"{"password":"S3cr3tPa55","user":"\xe9t\xe9"}";s:4:"name";s:4:"shop";}'
    pairs = list(dumps.structured_pairs(value))
    assert [(k, v, value[s:e]) for k, v, s, e in pairs] == [      # character offsets, through both layers
        ("smtp", '{"password":"S3cr3tPa55","user":"\xe9t\xe9"}', '{"password":"S3cr3tPa55","user":"\xe9t\xe9"}'),
        ("password", "S3cr3tPa55", "S3cr3tPa55"), ("user", "\xe9t\xe9", "\xe9t\xe9"), ("name", "shop", "shop")]
    assert dumps.structured_secret("api_token", "S3cr3tPa55")
    assert not dumps.structured_secret("api_token", "1234567890")    # an id, not a secret, inside structured data
    assert dumps.secret_setting("api_token", "1234567890")           # ... though a row of its own is one


# ---------------------------------------------------------------------------------------------- waivers, gate, reports

def sample_findings():
    return [Finding("F-0000000001", "stripe-key", "a.php:3", "$a = 'sk_l…';", "high"),
            Finding("F-0000000002", "email-address", "wp_users.user_email row 1", "user_email=a…@b.de", "medium"),
            Finding("F-0000000003", "url-credentials", "db.yml:1", "url: mysql://u:ab…@db", "medium")]


def test_waivers_file_round_trip(tmp_path):
    path = tmp_path / "waivers.dat"
    assert len(Waivers.load(path)) == 0
    path.write_text("# reviewed 2025-01-01\nF-0000000001  # test key of the demo site\n\nF-00000000ff\n")
    waivers = Waivers.load(path)
    assert waivers.ids == {"F-0000000001", "F-00000000ff"}
    assert waivers.entries["F-0000000001"] == "test key of the demo site"
    waivers.add("F-0000000002", "public contact address")
    waivers.save(path)
    again = Waivers.load(path)
    assert again.entries == waivers.entries
    with pytest.raises(ValueError, match="waivers line 1: 'not-an-id' is not a finding id"):
        Waivers.parse("not-an-id  # oops\n")


def test_gate_blocks_unwaived_and_reports_stale_waivers():
    findings = sample_findings()
    blocking, waived = gate.gate(findings, {"F-0000000001", "F-00000000ff"})
    assert [f.id for f in blocking] == ["F-0000000002", "F-0000000003"]
    assert [f.id for f in waived] == ["F-0000000001"]
    result = gate.gate(findings, Waivers({"F-0000000001": "", "F-0000000002": "", "F-0000000003": "",
                                          "F-00000000ff": "gone"}))
    assert result.ok and not result.blocking and len(result.waived) == 3
    assert result.stale == ["F-00000000ff"]
    assert gate.stale_waivers(findings, ["F-00000000ff"]) == ["F-00000000ff"]
    assert gate.gate([], ()).ok


def test_report_and_manifest():
    findings = sample_findings()
    lines = gate.report_lines(findings)
    assert lines[0].split() == ["ID", "SEVERITY", "RULE", "WHERE", "EXCERPT"]
    assert lines[2].startswith("F-0000000001")  # high first
    assert len(lines) == 2 + len(findings)
    waivers = Waivers({"F-0000000003": "fixture credentials", "F-0000000009": ""})
    doc = gate.manifest(findings, waivers)
    assert json.loads(json.dumps(doc)) == doc
    assert doc["ok"] is False and doc["counts"] == {"total": 3, "blocking": 2, "waived": 1}
    assert doc["stale_waivers"] == ["F-0000000009"]
    waived = [f for f in doc["findings"] if f["waived"]]
    assert waived == [{"id": "F-0000000003", "rule": "url-credentials", "severity": "medium", "where": "db.yml:1",
                       "excerpt": "url: mysql://u:ab…@db", "waived": True, "waiver": "fixture credentials"}]
    assert gate.manifest(findings, {"F-0000000001"})["counts"]["waived"] == 1
