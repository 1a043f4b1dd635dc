"""First-boot bootstrap of a machine, by role, from its settings file (`~/runtime/<role>_configuration_settings.dat`).

database: MariaDB initialised in /var/lib/mysql, listening on the machine's address and DBPORT, the
application database and user created (reachable from the VPC only); `databaseip/<ip>` published;
`runtime/DATABASE_READY` written.
webserver: the virgin application (WordPress from Debian's package) in /var/www/html, its config file
given the database host (from `databaseip/*`) and credentials; nginx + php-fpm; `webserverips/<ip>`
published; `runtime/WEBSERVER_READY` written.
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import secrets
import shutil
import sys
import time
from pathlib import Path
from typing import Optional, Protocol

from adt.database import Connection
from adt.database.mariadb import sql_identifier, sql_string
from adt.errors import AdtError
from adt.fs import write_atomically
from adt.machine.markers import markers
from adt.machine.scripts import crontab, install_scripts
from adt.net import my_ip
from adt.run import run, spawn
from adt.settings.schema import PERIODS

RUN = Path("/run/adt-machine")
LOG = Path("/var/log/adt")
CONF = Path("/etc/adt")
WEBROOT = Path("/var/www/html")
WORDPRESS = Path("/usr/share/wordpress")


def php_fpm():
    """The php-fpm binary Debian or Ubuntu installed (php-fpm8.2, php-fpm8.3, ...), or None."""
    found = sorted(Path("/usr/sbin").glob("php-fpm*"))
    return str(found[-1]) if found else shutil.which("php-fpm")


def _store(settings):
    from adt.datastore.config import ConfigDatastore

    return ConfigDatastore.from_settings(settings)


def _ready(home: Path, role: str, settings=None) -> None:
    """The role's crontab, then its READY marker (DATABASE_READY, WEBSERVER_READY) the build waits for."""
    production = settings is not None and settings.value("PRODUCTION") == "1"
    https = settings is not None and settings.value("SERVEHTTPS") == "1"
    backups = settings is None or settings.value("BACKUPS") != "0"
    install_cron(home, role, backups=backups, production=production, https=https)
    (home / "runtime").mkdir(parents=True, exist_ok=True)
    (home / "runtime" / f"{role.upper()}_READY").touch()


def install_cron(home: Path, role: str, backups: bool = True, production: bool = False, https: bool = False) -> None:
    """Write the role's crontab and start cron when this machine has it (a missing cron is not an error)."""
    spool = Path("/var/spool/cron/crontabs")
    spool.mkdir(parents=True, exist_ok=True)
    write_atomically(spool / "root", crontab(role, str(home), backups, production, https), 0o600)
    if shutil.which("cron"):
        run(["cron"], check=False, what="starting cron")


def start_agent() -> None:
    """Start this machine's agent in the background (`adt agent start`, which waits for it to answer, runs
    detached while the bootstrap goes on); cron's StartAgentFromCron.sh line restarts it if it dies."""
    LOG.mkdir(parents=True, exist_ok=True)
    spawn([sys.executable, "-m", "adt", "agent", "start", "--quiet"], log_path=str(LOG / "agent-start.log"))


class Sources(Protocol):
    """Where a production machine's application comes from (given by the caller: the restores live in the
    backup and baseline packages, which this one does not import)."""

    def webroot(self, settings, source: str, target: Path) -> str: ...

    def database(self, settings, source: str, home: Path, host: str) -> str: ...


def source_of(settings) -> str:
    """`snapshot` (the machine's disk came from an image: nothing is installed or restored), a temporal period,
    `baseline`, or `virgin`."""
    if settings.value("BUILDFROMSNAPSHOT") == "1":
        return "snapshot"
    choice = (settings.value("BUILDARCHIVECHOICE") or "virgin").lower()
    return choice if choice in (*PERIODS, "baseline") else "virgin"


def boot(role: str, settings, home: Path, sources: Optional[Sources] = None) -> None:
    """First boot: the role's script tree under home and the agent first (both needed by any job the machine
    runs), then the role's own set-up, which ends with the crontab and the READY marker."""
    install_scripts(home, role)
    start_agent()
    if role == "autoscaler":
        autoscaler(settings, home)
    else:
        ROLES[role](settings, home, sources)


def autoscaler(settings, home: Path) -> None:
    """The autoscaler's first boot: its address published (the database and webservers admit it), its crontab,
    and in production its cycle started (adt/scaling/cycle.py; it acts once the fleet is built)."""
    for directory in (RUN, LOG):
        directory.mkdir(parents=True, exist_ok=True)
    store = _store(settings)
    store.put(f"autoscalerips/{my_ip()}")
    _ready(home, "autoscaler", settings)
    if settings.value("PRODUCTION") == "1":  # its cycle, as a service (cron's scaling lines keep it running)
        spawn([sys.executable, "-m", "adt", "autoscaler", "ensure"], log_path=str(LOG / "autoscaler-ensure.log"))


def _mysql_host_pattern(vpc: str) -> str:
    network = ipaddress.ip_network(vpc, strict=False)
    return f"{network.network_address}/{network.netmask}"


def application_database_sql(name: str, user: str, password: str, host: str) -> str:
    """The statements that make the application's database and user (reachable from `host`, a MariaDB host
    pattern); every value quoted, so a password of any characters works."""
    account = f"{sql_string(user, 'user')}@{sql_string(host, 'host')}"
    return (
        f"CREATE DATABASE IF NOT EXISTS {sql_identifier(name)};\n"
        f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {sql_string(password, 'password')};\n"
        f"GRANT ALL PRIVILEGES ON {sql_identifier(name)}.* TO {account};\nFLUSH PRIVILEGES;\n"
    )


def database(settings, home: Path, sources: Optional[Sources] = None) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:  # the datastore client (boto3's import) is made while MariaDB starts
        _database(settings, home, pool.submit(_store, settings), sources)


def site_moved_sql(prefix: str, url: str, old: str) -> str:
    """A WordPress site's own address set to `url` (siteurl, home), and links to its old address in posts
    turned into the new one: what a site needs when it moves to another address."""
    options, posts = sql_identifier(f"{prefix}options"), sql_identifier(f"{prefix}posts")
    new = sql_string(url, "site address")
    sql = f"UPDATE {options} SET option_value = {new} WHERE option_name IN ('siteurl', 'home');\n"
    if old and old != url:
        sql += f"UPDATE {posts} SET post_content = REPLACE(post_content, {sql_string(old, 'old address')}, {new});\n"
    return sql


def _database(settings, home: Path, store_soon, sources: Optional[Sources] = None) -> None:
    ip, port = my_ip(), settings.require("DBPORT")
    name, user, password = settings.require("DBNAME"), settings.require("DBUSERNAME"), settings.require("DBPASSWORD")
    datadir = Path("/var/lib/mysql")
    for directory in (RUN, LOG, datadir):
        directory.mkdir(parents=True, exist_ok=True)
    if not (datadir / "mysql").exists():
        run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={datadir}",
                "--user=root",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            what="initialising MariaDB",
            timeout=120,
        )
    socket_path = RUN / "mysqld.sock"
    spawn(
        [
            "mariadbd",
            "--no-defaults",
            "--user=root",
            f"--datadir={datadir}",
            f"--socket={socket_path}",
            f"--port={port}",
            f"--bind-address={ip}",
            f"--pid-file={RUN / 'mariadbd.pid'}",
            f"--log-error={LOG / 'mariadb.log'}",
            "--innodb-buffer-pool-size=64M",
            # clients are admitted by address (the VPC's range): a reverse DNS lookup per connection only made
            # every connection wait on the DNS server (seconds when it did not answer), and a burst of aborted
            # connections (a database stopped for a while) must not block a webserver's address for good
            "--skip-name-resolve",
            "--max-connect-errors=4294967295",
        ],
        log_path=str(LOG / "mariadbd.out"),
    )
    root = ["mariadb", "--no-defaults", f"--socket={socket_path}", "-uroot"]
    deadline = time.monotonic() + 60
    while run([*root, "-e", "SELECT 1"], check=False, timeout=10).returncode != 0:
        if time.monotonic() > deadline:
            raise AdtError("MariaDB did not start within 60 s", f"read {LOG / 'mariadb.log'}")
        time.sleep(0.05)
    host = _mysql_host_pattern(settings.require("VPCIPRANGE"))
    sql = application_database_sql(name, user, password, host)
    run(
        root, input=sql, what="creating the application database", secrets=[password, sql_string(password)[1:-1]]
    )  # as given, and as the SQL quotes it
    source = source_of(settings)
    if source in (*PERIODS, "baseline") and settings.value("RESTOREDATABASE") != "0":
        if sources is None:
            raise AdtError(f"this machine cannot restore a {source} database: no restore was given to the bootstrap")
        print(sources.database(settings, source, home, ip), flush=True)
        if settings.value("MOVESITE") != "0":  # a restore drill keeps the database as the backup holds it
            move_site(root, settings)
    store = store_soon.result()
    store.delete("databaseip", recursive=True)
    store.put(f"databaseip/{ip}")
    _ready(home, "database", settings)


def move_site(client: list, settings) -> None:
    """A restored WordPress site answers at this fleet's WEBSITEURL (its development address was another)."""
    if (settings.value("APPLICATION") or "wordpress") != "wordpress":
        return
    prefix = settings.value("TABLEPREFIX") or "wp_"
    database = settings.require("DBNAME")
    asked = run(
        [*client, "--batch", "--skip-column-names", database],
        input=f"SELECT option_value FROM {sql_identifier(prefix + 'options')} WHERE option_name = 'siteurl';\n",
        check=False,
        what="reading the site's address",
    )
    if asked.returncode != 0:  # no WordPress tables (an empty database): nothing to move
        return
    old = asked.stdout.strip()
    url = f"http://{settings.require('WEBSITEURL')}"
    run([*client, database], input=site_moved_sql(prefix, url, old), what="moving the site to its address")


def _wait_for_database(settings, timeout: float = 300) -> str:
    store = _store(settings)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e.key.rsplit("/", 1)[1] for e in store.list("databaseip/") if not e.is_dir]
        if found:
            return found[0]
        time.sleep(0.1)  # a listing is a few ms: the webserver goes on as soon as the database is up
    raise AdtError(f"no databaseip/* in the configuration datastore after {timeout:g} s", "is the database machine up?")


def php_string(value: str) -> str:
    """A PHP single-quoted string literal holding `value` exactly."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def wordpress_config(settings, db_host: str) -> str:
    salts = "\n".join(
        f"define('{k}', '{secrets.token_urlsafe(48)}');"
        for k in (
            "AUTH_KEY",
            "SECURE_AUTH_KEY",
            "LOGGED_IN_KEY",
            "NONCE_KEY",
            "AUTH_SALT",
            "SECURE_AUTH_SALT",
            "LOGGED_IN_SALT",
            "NONCE_SALT",
        )
    )
    return (
        f"<?php\n/* written by adt at first boot */\n"
        f"define('DB_NAME', {php_string(settings.require('DBNAME'))});\n"
        f"define('DB_USER', {php_string(settings.require('DBUSERNAME'))});\n"
        f"define('DB_PASSWORD', {php_string(settings.require('DBPASSWORD'))});\n"
        f"define('DB_HOST', {php_string(db_host + ':' + settings.require('DBPORT'))});\n"
        "define('DB_CHARSET', 'utf8mb4');\ndefine('DB_COLLATE', '');\n"
        f"{salts}\n$table_prefix = {php_string(settings.value('TABLEPREFIX') or 'wp_')};\ndefine('WP_DEBUG', false);\n"
        "if (!defined('ABSPATH')) { define('ABSPATH', __DIR__ . '/'); }\n"
        "require_once ABSPATH . 'wp-settings.php';\n"
    )


UPLOADS = "wp-content/uploads"  # the one part of the webroot the web server user writes


def copy_application_command(source: Path, webroot: Path) -> list:
    """cp's words that copy the application into the webroot as plain files, root's, symlinks followed.

    Debian's package links out of its tree (/etc/wordpress, /etc/ssl, /usr/share/php, /usr/share/javascript):
    copied as links, they would dangle or lead out of the webroot, which then could not be restored from its
    own backup. A link that dangles in the package fails the copy, as a broken package should.
    """
    return ["cp", "-R", "--dereference", "--preserve=mode,timestamps", f"{source}/.", str(webroot)]


def install_application(source: Path, webroot: Path) -> None:
    """The application in the webroot, self-contained and with a theme; www-data may write its uploads only."""
    if not (webroot / "wp-settings.php").exists():
        run(copy_application_command(source, webroot), what="copying WordPress into the webroot")
    if not list((webroot / "wp-content" / "themes").glob("*/style.css")):
        raise AdtError(
            f"{webroot}/wp-content/themes has no theme: the site's pages would be empty",
            "install Debian's wordpress-theme-twentytwentythree (make deps), then build again",
        )
    uploads = webroot / UPLOADS
    if uploads.is_symlink():  # a webroot from a backup or baseline may hold one: handing it over would give
        raise AdtError(
            f"{uploads} is a symlink (to {os.readlink(uploads)}): not handing it to www-data",  # away
            "make it a directory of its own",
        )  # whatever it points to
    uploads.mkdir(parents=True, exist_ok=True)  # root owns wp-content: www-data cannot swap this for a link
    www = pwd.getpwnam("www-data")
    os.chown(uploads, www.pw_uid, www.pw_gid, follow_symlinks=False)


def write_markers(webroot: Path, application: str, engine: str, prefix: str) -> None:
    """The webroot's dba.dat, dbe.dat and dbp.dat (the application, its database engine, its table prefix), as
    the original's sites carry them; root's, readable by the web server."""
    for name, text in markers(application, engine, prefix).items():
        write_atomically(webroot / name, text, 0o644)


def nginx_config(
    ip: str,
    website: str,
    pair_directory: Optional[Path] = None,
    run_dir: Path = RUN,
    log_dir: Path = LOG,
    webroot: Path = WEBROOT,
) -> str:
    """The webserver's nginx.conf: the site on ip:80 and, given the live pair's directory (SERVEHTTPS:1), on
    ip:443 too (TLS 1.2 and 1.3, the pair nginx's master reads as root when it starts or reloads). Both answer
    `/adt-alive` (204) for the autoscaler; port 80 serves the site as before (no redirect)."""
    tmp = run_dir / "nginx"
    tls = ""
    if pair_directory is not None:
        tls = f"""
    listen {ip}:443 ssl;
    ssl_certificate {pair_directory / "fullchain.pem"};
    ssl_certificate_key {pair_directory / "privkey.pem"};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:adt:1m;"""
    return f"""user www-data;
worker_processes 1;
pid {run_dir / "nginx.pid"};
error_log {log_dir / "nginx-error.log"};
events {{ worker_connections 256; }}
http {{
  include /etc/nginx/mime.types;
  access_log {log_dir / "nginx-access.log"};
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  server {{
    listen {ip}:80;{tls}
    server_name {website};
    root {webroot};
    index index.php index.html;
    location = /adt-alive {{ access_log off; return 204; }}
    location / {{ try_files $uri $uri/ /index.php?$args; }}
    location ~ \\.php$ {{
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      fastcgi_pass unix:{run_dir / "php-fpm.sock"};
    }}
  }}
}}
"""


def nginx_running(pid_file: Path = RUN / "nginx.pid") -> bool:
    """Whether the webserver's nginx runs (its master's pid file names a live process)."""
    try:
        os.kill(int(pid_file.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def reload_nginx(config: Path = CONF / "nginx.conf", error_log: Path = LOG / "nginx-error.log") -> None:
    """nginx's graceful reload (a new pair, a new config): the config checked first (`nginx -t`: a pair nginx
    cannot load is refused before any worker changes), then `nginx -s reload`: new workers take new connections,
    the old ones finish theirs."""
    base = ["nginx", "-e", str(error_log), "-c", str(config)]
    run([*base, "-t", "-q"], what="checking nginx's configuration")
    run([*base, "-s", "reload"], what="reloading nginx")


def webserver(settings, home: Path, sources: Optional[Sources] = None) -> None:
    """Everything that does not need the database first (the copy, php-fpm, nginx), side by side with the
    database machine's start; then the application's config once `databaseip/*` is published. nginx answers
    `/adt-alive` itself (204, no PHP, no database): the autoscaler's liveness probe."""
    from concurrent.futures import ThreadPoolExecutor

    ip = my_ip()
    application = settings.value("APPLICATION") or "wordpress"
    if application != "wordpress":
        raise AdtError(f"APPLICATION {application} is not available on this machine yet", "use wordpress")
    for directory in (RUN, LOG, CONF, WEBROOT):
        directory.mkdir(parents=True, exist_ok=True)
    if not WORDPRESS.is_dir():
        raise AdtError(f"{WORDPRESS} is missing", "install Debian's wordpress package (make deps)")
    source = source_of(settings)
    with ThreadPoolExecutor(1) as pool:  # the datastore client (boto3's import) is made during the copy
        store_soon = pool.submit(_store, settings)
        if source in (*PERIODS, "baseline"):
            if sources is None:
                raise AdtError(f"this machine cannot restore a {source} webroot: no restore was given to the bootstrap")
            print(sources.webroot(settings, source, WEBROOT), flush=True)
        elif source == "snapshot" and not (WEBROOT / "wp-settings.php").exists():
            raise AdtError(f"this machine was made from a snapshot, but its image has no application in {WEBROOT}")
        install_application(WORDPRESS, WEBROOT)
        if source == "virgin":  # what a site is travels with it: its backups and baselines tell a later build
            write_markers(WEBROOT, application, settings.value("DATABASEINSTALLATIONTYPE") or "Maria", "wp_")
        store = store_soon.result()
    fpm = php_fpm() or "php-fpm"
    (CONF / "php-fpm.conf").write_text(
        f"[global]\npid = {RUN / 'php-fpm.pid'}\nerror_log = {LOG / 'php-fpm.log'}\ndaemonize = yes\n"
        f"[www]\nuser = www-data\ngroup = www-data\nlisten = {RUN / 'php-fpm.sock'}\n"
        "listen.owner = www-data\nlisten.group = www-data\nlisten.mode = 0660\npm = static\npm.max_children = 3\n"
        # a database that stops answering (an outage, a machine frozen) holds a worker at most 30 s on a read:
        # PHP's default is a day, and three workers held are a webserver that does not serve again
        "php_admin_value[mysqlnd.net_read_timeout] = 30\n"
    )
    (RUN / "nginx").mkdir(exist_ok=True)
    pair_directory = None
    if settings.value("SERVEHTTPS") == "1":  # the published pair, installed before nginx starts (it reads it then)
        from adt.ssl.install import ensure, live_directory

        print(ensure(settings, home), flush=True)
        pair_directory = live_directory(settings, home)
    (CONF / "nginx.conf").write_text(nginx_config(ip, settings.value("WEBSITEURL") or "_", pair_directory))
    run([fpm, "-y", str(CONF / "php-fpm.conf")], what="starting php-fpm")
    run(["nginx", "-e", str(LOG / "nginx-error.log"), "-c", str(CONF / "nginx.conf")], what="starting nginx")
    db_host = _wait_for_database(settings)
    config = WEBROOT / "wp-config.php"
    config.unlink(missing_ok=True)  # Debian's is a per-host loader; the webroot gets a plain one
    write_atomically(config, wordpress_config(settings, db_host), 0o640)  # the DB password: others never read it
    shutil.chown(config, "root", "www-data")
    store.put(f"webserverips/{ip}")
    _ready(home, "webserver", settings)


def check_database(settings) -> str:
    """Connect from this machine to the application database as the application would."""
    host = _wait_for_database(settings, timeout=30)
    answer = Connection.from_settings(settings, host).query("SELECT 1")  # the password on a pipe, not on disk
    if answer != [["1"]]:
        raise AdtError(f"the database at {host} answered {answer!r} to SELECT 1")
    return f"{host}:{settings.require('DBPORT')}"


ROLES = {"database": database, "webserver": webserver}
