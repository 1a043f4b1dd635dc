"""Baselines pushed to real git repositories (bare, over a real sshd, and file://), from a real webroot and a
real MariaDB: placeholders, serialized lengths, the publication gate with waivers, and redaction."""

import os
import subprocess

import pytest

from adt.baseline import publish
from adt.database import Connection
from adt.database import checksums as database_checksums
from adt.settings.machine import MachineSettings
from adt.text import serialized, sqldump
from tests.integration.test_backup_database import PASSWORD, USER, make_database, settings_for
from tests.services.databases import MariaDB
from tests.services.sshd import Sshd


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    server = Sshd(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory):
    with MariaDB(tmp_path_factory.mktemp("mariadb-baseline")) as server:
        yield server


def bare(path):
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    return path


def clone(url, target, env=None):
    subprocess.run(["git", "clone", "-q", "-b", "main", url, str(target)], check=True,
                   env={**os.environ, **(env or {})})
    return target


def webroot(machine, root):
    domain = machine.website
    root.mkdir()
    (root / "wp-content" / "themes").mkdir(parents=True)
    (root / "index.php").write_text(f"<?php // {domain}\nrequire 'wp-blog-header.php';\n")
    (root / "wp-content" / "themes" / "style.css").write_text(f"/* Theme for https://{domain}/ */\n")
    (root / "wp-config.php").write_text(f"<?php define('DB_PASSWORD', '{PASSWORD}');\n")
    (root / "cache.txt").write_text(f'a:1:{{s:4:"home";s:{len(domain) + 8}:"https://{domain}";}}')
    (root / "dba.dat").write_text("WORDPRESS\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/old\n")
    return root


@pytest.fixture
def site(plain_machine, tmp_path):
    plain_machine.write_settings(APPLICATION="wordpress", WEBSITEDISPLAYNAME="Nuts_and_Bolts")
    return plain_machine, MachineSettings.load(plain_machine.settings_path), webroot(plain_machine, tmp_path / "html")


def test_website_baseline_goes_over_ssh_with_placeholders(site, sshd, tmp_path, monkeypatch):
    machine, settings, root = site
    repos = tmp_path / "git"
    bare(repos / "shop-webroot-sourcecode-baseline.git")
    for name, value in sshd.git_env().items():
        monkeypatch.setenv(name, value)
    result = publish.website(settings, "shop", machine.home, root, remote_base=sshd.url(repos))
    assert result.repository == "shop-webroot-sourcecode-baseline" and result.findings == 0
    copy = clone(sshd.url(repos / "shop-webroot-sourcecode-baseline.git"), tmp_path / "copy")
    assert not (copy / "wp-config.php").exists()  # the live configuration never leaves
    assert (copy / ".gitattributes").exists() and (copy / "dba.dat").read_text() == "WORDPRESS\n"
    assert (copy / "index.php").read_text().startswith("<?php // applicationdomainwww.tld\n")
    cache = (copy / "cache.txt").read_text()
    assert cache == 'a:1:{s:4:"home";s:32:"https://applicationdomainwww.tld";}' and not serialized.check(cache)
    log = subprocess.run(["git", "-C", str(copy), "log", "--format=%s"], capture_output=True, text=True).stdout
    assert log == "Baseline Baby\n"
    assert not list((machine.home / "backups").iterdir())  # the staging copy is gone
    target = tmp_path / "restored"
    publish.restore_website(settings, "shop", target, remote_base=sshd.url(repos))
    expected = {p.relative_to(root): p.read_bytes() for p in root.rglob("*")
                if p.is_file() and ".git" not in p.parts and p.name != "wp-config.php"}
    restored = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert restored.pop(publish.Path(".gitattributes"))
    assert restored == expected  # the placeholders are this site's names again, serialized lengths too
    with pytest.raises(publish.AdtError, match="not empty"):  # a second baseline does not overwrite it
        publish.website(settings, "shop", machine.home, root, remote_base=sshd.url(repos))


def test_missing_repository_is_a_clear_error(site, sshd, tmp_path, monkeypatch):
    machine, settings, root = site
    for name, value in sshd.git_env().items():
        monkeypatch.setenv(name, value)
    with pytest.raises(publish.AdtError, match="does not exist"):
        publish.website(settings, "nothere", machine.home, root, remote_base=sshd.url(tmp_path / "none"))


def test_gate_refuses_a_planted_secret_until_it_is_waived(site, tmp_path):
    machine, settings, root = site
    key = "AKIA" + "QX7T2LMN4PZR6WB3"
    (root / "wp-content" / "plugin.php").write_text(f"<?php $aws_key = '{key}';\n")
    base = tmp_path / "git"
    result = machine.run("baseline", "website", "planted", "--webroot", str(root), "--remote-base", str(base))
    assert result.returncode != 0 and "not publishing the webroot baseline" in result.stderr
    assert key not in result.stdout + result.stderr  # the report never shows the secret itself
    finding = [line for line in result.stderr.splitlines() if "plugin.php" in line]
    assert len(finding) == 1
    ident = finding[0].split()[0]
    heads = subprocess.run(["git", "ls-remote", str(base / "planted-webroot-sourcecode-baseline.git")],
                           capture_output=True, text=True)
    assert heads.stdout == ""  # nothing was pushed
    result = machine.run("baseline", "website", "planted", "--webroot", str(root), "--remote-base", str(base),
                         "--waive", ident)
    assert result.returncode == 0, result.stderr
    assert "1 finding(s), 1 waived" in result.stdout


def test_database_baseline_needs_redaction_and_stays_portable(plain_machine, mariadb, tmp_path):
    make_database(mariadb, "appdb")
    settings = settings_for(plain_machine, mariadb, APPLICATION="wordpress", WEBSITEDISPLAYNAME="Nuts_and_Bolts")
    domain = plain_machine.website
    connection = Connection.from_settings(settings)
    home = f"https://{domain}"
    connection.query(f"UPDATE wp_options SET option_value = 'a:1:{{s:4:\"home\";s:{len(home)}:\"{home}\";}}' "
                     "WHERE option_name = 'widget'")
    connection.query("CREATE TABLE wp_usermeta (umeta_id bigint PRIMARY KEY, user_id bigint, meta_key varchar(255), "
                     "meta_value longtext)")
    connection.query("INSERT INTO wp_usermeta VALUES (1, 1, 'session_tokens', 'a:1:{s:5:\"token\";s:3:\"abc\";}')")
    connection.query("ALTER TABLE wp_users ADD COLUMN user_pass varchar(255)")
    connection.query("UPDATE wp_users SET user_email = 'owner@realperson.net', "
                     "user_pass = '$P$BZLp0u5nQp9C8kVnBCYPrEqSSgTQ9p1'")
    base = tmp_path / "git"
    with pytest.raises(publish.Refused) as refused:
        publish.database(settings, "shop", plain_machine.home, remote_base=str(base))
    report = "\n".join(refused.value.lines)
    assert "owner@realperson.net" not in report and "$P$BZLp0u5nQp9C8kVnBCYPrEqSSgTQ9p1" not in report
    assert len(refused.value.lines) >= 3  # the e-mail, the password hash, the session
    result = publish.database(settings, "shop", plain_machine.home, remote_base=str(base), redact=True)
    copy = clone(f"file://{base}/shop-db-baseline.git", tmp_path / "copy")
    dump = (copy / "applicationDB.sql").read_bytes()
    assert result.findings == 0 and domain.encode() not in dump
    assert b"zzzz" in dump.strip().splitlines()[-1]
    assert USER.encode() not in dump and b"XXXXXXXXXX" in dump
    values = {r.get("option_name"): r.get("option_value")
              for r in sqldump.iter_rows(dump.splitlines(keepends=True), "mysql") if r.table == "wp_options"}
    assert values["widget"] == 'a:1:{s:4:"home";s:33:"https://www.applicationdomain.tld";}'
    assert not serialized.check(values["widget"])


def test_database_baseline_restores_to_identical_rows(plain_machine, mariadb, tmp_path):
    make_database(mariadb, "appdb")
    make_database(mariadb, "appcopy", schema=False)
    settings = settings_for(plain_machine, mariadb, APPLICATION="wordpress", WEBSITEDISPLAYNAME="Nuts_and_Bolts")
    connection = Connection.from_settings(settings)
    home = f"https://{plain_machine.website}/blog"
    connection.query(f"UPDATE wp_options SET option_value = 'a:2:{{s:4:\"home\";s:{len(home)}:\"{home}\";"
                     f"s:4:\"name\";s:14:\"Nuts and Bolts\";}}' WHERE option_name = 'widget'")
    source = database_checksums(connection)
    base = tmp_path / "git"
    publish.database(settings, "plain", plain_machine.home, remote_base=str(base))
    result = plain_machine.run("restore", "database", "--baseline", "plain", "--remote-base", str(base),
                               "--database", "appcopy")
    assert result.returncode == 0, result.stderr
    assert "restored baseline plain into appcopy" in result.stdout
    assert database_checksums(Connection.from_settings(settings, database="appcopy")) == source


def test_database_baseline_round_trip_over_https_with_the_providers_token(plain_machine, mariadb, tmp_path,
                                                                          monkeypatch):
    """As with github: the token from the settings, a TLS remote with basic auth (git http-backend); the
    strace proof that it stays out of every argv is in test_secrets_argv."""
    from tests.services.git_https import GitHttps

    make_database(mariadb, "appdb")
    make_database(mariadb, "appcopy", schema=False)
    with GitHttps() as remote:
        monkeypatch.setitem(publish.REPOSITORY_HOSTS, "github", f"127.0.0.1:{remote.port}/git")
        monkeypatch.setenv("GIT_SSL_CAINFO", remote.cafile)
        settings = settings_for(plain_machine, mariadb, APPLICATION="wordpress", APPLICATIONREPOSITORYPROVIDER="github",
                                APPLICATIONREPOSITORYOWNER="nutsco", APPLICATIONREPOSITORYUSERNAME=remote.user,
                                APPLICATIONREPOSITORYTOKEN=remote.token)
        source = database_checksums(Connection.from_settings(settings))
        repository = remote.create("nutsco/tls-db-baseline")
        result = publish.database(settings, "tls", plain_machine.home)
        assert result.url == f"https://127.0.0.1:{remote.port}/git/nutsco/tls-db-baseline.git"
        assert remote.git("--git-dir", str(repository), "rev-parse", "main").stdout.strip() == result.commit
        publish.restore_database(settings, "tls", plain_machine.home, database="appcopy")
        assert database_checksums(Connection.from_settings(settings, database="appcopy")) == source
        assert remote.token not in (plain_machine.home / "runtime" / "tls-db-baseline.gate.json").read_text()
