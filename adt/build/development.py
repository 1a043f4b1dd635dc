"""The development-mode build: one database machine and one webserver, on the `local` cloud host.

Phases (each timed, each failure naming the machine, the step and the log to read):
preflight -> runtime data and credentials -> keys -> network -> datastore -> machines (the database and the
webserver side by side: the webserver's bootstrap waits for `databaseip/*` itself) -> firewalls (both
machines side by side, then the native layer) -> checks -> finish. Machines run the same role bootstrap
(adt.machine) a cloud machine runs at first boot. A dry run prints the files it would write and the
commands it would run up to the network, and stops there: every later phase needs the machines it does not
start.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import string
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from adt import remote
from adt.build.config import BuildConfig
from adt.cloud.base import first_boot
from adt.errors import AdtError
from adt.fs import open_private
from adt.machine.bootstrap import php_fpm
from adt.net import ip_mask
from adt.run import alive, announce, dry_run, run
from adt.settings.runtime import SUBDIRECTORIES, templates_dir
from adt.settings.template import Template, write_atomically

REQUIRED = {
    "mariadbd": "mariadb-server",
    "mariadb": "mariadb-client",
    "nginx": "nginx",
    "sshd": "openssh-server",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "ip": "iproute2",
    "nsenter": "util-linux",
    "unshare": "util-linux",
}
ALPHANUMERIC = string.ascii_letters + string.digits
ROLES = ("database", "webserver")  # the machines of a development build, created side by side


class _Stopped(Exception):
    """A machine no longer waited for: the other one failed."""


def side_by_side(work: Callable[[str], Any], keys: Sequence[str], stop: Optional[threading.Event] = None) -> dict:
    """work(key) for every key at once, in threads; their results by key. Every thread has ended when this
    returns (nothing is left half-done); when one fails, `stop` is set so the others can give up early, and
    the first failure is raised, naming any other one too."""
    stop = threading.Event() if stop is None else stop
    failures: List[BaseException] = []
    lock = threading.Lock()

    def one(key: str) -> Any:
        try:
            return work(key)
        except _Stopped:
            return None
        except BaseException as error:
            with lock:
                failures.append(error)
            stop.set()
            raise

    pool = ThreadPoolExecutor(max_workers=len(keys))
    try:
        futures = {key: pool.submit(one, key) for key in keys}
        for future in futures.values():
            future.exception()  # waits; the errors are in `failures`, in the order they happened
    except BaseException:  # Ctrl-C: the threads stop waiting and end
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True)
    if failures:
        first = failures[0]
        others = [error.message for error in failures[1:] if isinstance(error, AdtError)]
        if isinstance(first, AdtError) and others:
            raise AdtError("; and ".join([first.message, *others]), first.hint)
        raise first
    return {key: future.result() for key, future in futures.items()}


def _random(n: int) -> str:
    return "".join(secrets.choice(ALPHANUMERIC) for _ in range(n))


def _remove(path: Path) -> None:
    """Remove a file if it is there (in a dry run: say so)."""
    if dry_run():
        if path.exists():
            announce(str(path), "remove")
        return
    path.unlink(missing_ok=True)


def preflight(cloudhost: str = "local") -> None:
    """What this computer needs to build on `cloudhost`: on a provider, only OpenSSH's client (the machines are
    the provider's); on `local`, root and the servers its machines run."""
    if cloudhost != "local":
        missing = sorted({REQUIRED[t] for t in ("ssh", "ssh-keygen") if not shutil.which(t)})
        if missing:
            raise AdtError(f"missing packages: {', '.join(missing)}", "run 'make deps' (it installs them)")
        return
    if os.geteuid() != 0:
        raise AdtError(
            "the local cloud host needs root (it makes network namespaces and mounts)",
            "run as root, as the original build machine does",
        )
    missing = sorted({package for tool, package in REQUIRED.items() if not shutil.which(tool)})
    if not php_fpm():
        missing.append("php-fpm")
    if not Path("/usr/share/wordpress").is_dir():
        missing.append("wordpress")
    if missing:
        raise AdtError(f"missing packages: {', '.join(missing)}", "run 'make deps' (it installs them)")


def load_template(build: BuildConfig, template_number: int, template_file: Optional[str]) -> Dict[str, str]:
    from adt.settings.validate import validate_template

    path = (
        Path(template_file)
        if template_file
        else templates_dir(build.build_home) / build.cloudhost / f"{build.cloudhost}{template_number}.tmpl"
    )
    template = Template.load(path).set("BUILD_IDENTIFIER", build.build_identifier).set("CLOUDHOST", build.cloudhost)
    problems = validate_template(template)
    if problems:
        shown = "; ".join(p.render() for p in problems[:5])
        shown += f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise AdtError(f"template {path} is not valid: {shown}", f"adt template validate {path}")
    return template.values()


class Builder:
    def __init__(self, build: BuildConfig, progress: Callable[[str], None] = print):
        self.build = build
        self.progress = progress
        self.log: IO[str] = io.StringIO()  # a sink until the build's log exists (and in a dry run)
        self.driver: Any = None  # the cloud host's driver, from the network phase on
        self.timings: List[tuple] = []
        self.addresses: Dict[str, str] = {}  # the build machine's way to each machine made, by name
        self.vpc_id = ""

    def phase(self, name: str, work: Callable):
        started = time.monotonic()
        self.progress(f"[{name}] ...")
        result = work()
        self.timings.append((name, time.monotonic() - started))
        return result

    # -- phases ----------------------------------------------------------------------------------
    def prepare_runtime(self, template_number: int, template_file: Optional[str]) -> None:
        b = self.build
        runtime = b.runtime
        base = b.dir
        path = template_file or str(templates_dir(b.build_home) / b.cloudhost / f"{b.cloudhost}{template_number}.tmpl")
        server_user = "X" + _random(18) + "X"
        values = dict(b.values)
        values.update(
            {
                "SERVER_USER": server_user,
                "SERVER_USER_PASSWORD": _random(18),
                "DB_NAME": "n" + _random(8) + "n",
                "DB_USERNAME": "u" + _random(8) + "u",
                "DB_PASSWORD": "p" + _random(8) + "p",
                "DB_PORT": values.get("DB_PORT", "2035"),
                "DB_IDENTIFIER": "self-managed",
            }
        )
        b.values = values
        credentials = base / "credentials"
        files = {
            runtime.root / "current_template_name": path + "\n",
            credentials / "SERVERUSER": server_user + "\n",
            credentials / "SERVERUSERPASSWORD": values["SERVER_USER_PASSWORD"] + "\n",
            credentials / "db_credentials.dat": f"DBNAME:{values['DB_NAME']}\nUSERNAME:{values['DB_USERNAME']}\n"
            f"PASSWORD:{values['DB_PASSWORD']}\n",
            base / "build_environment": "".join(f"{k}={v}\n" for k, v in values.items()),
        }
        if dry_run():
            announce(
                f"{runtime.root}/ACTIVE_CLOUDHOST={b.cloudhost}, ACTIVE_BUILD_IDENTIFIER={b.build_identifier}", "write"
            )
            announce(f"{base}/ with {', '.join(SUBDIRECTORIES)} (0700)", "create")
            for file in files:
                announce(f"{file} (0600)", "write")
            return
        runtime.set_active(b.cloudhost, b.build_identifier)
        runtime.ensure_build_dir(b.cloudhost, b.build_identifier)
        self.log = open_private(base / "logs" / f"build_output_stream-{time.strftime('%Y%m%d-%H%M%S')}", "a")
        for file, text in files.items():
            write_atomically(file, text, 0o600)

    def make_keys(self) -> None:
        key = self.build.key
        for stale in (key, key.with_name(key.name + ".pub")):
            _remove(stale)
        run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                self.build.values.get("ALGORITHM", "ed25519"),
                "-N",
                "",
                "-C",
                f"adt-{self.build.build_identifier}",
                "-f",
                str(key),
            ],
            what="making the build key",
            log=self.log,
        )

    @property
    def on_provider(self) -> bool:
        return self.build.cloudhost != "local"

    @property
    def adt(self) -> str:
        """adt on a machine: installed by its user data on a provider's; this one's on a local machine."""
        return "adt" if self.on_provider else str(Path(sys.executable).parent / "adt")

    def machine_log(self, name: str) -> str:
        """Where to read a machine's first boot, for an error's hint."""
        if self.on_provider:
            return f"ssh to {name} and read /var/log/adt/bootstrap.log"
        return f"read {self.driver.host_path(name, '/var/log/adt/bootstrap.log')}"

    def start_network(self) -> None:
        """The build's VPC: on `local`, its bridge; on a provider, its VPC / private network, made when missing."""
        if self.on_provider:
            self.driver = self.build.driver()
            if dry_run():  # the plan says what the network would be
                return
            self.vpc_id = self.driver.ensure_network()
            return
        from adt.cloud.local import LocalDriver

        self.driver = LocalDriver(self.build.vpc)
        self.driver.ensure_network()

    def start_datastore(self) -> None:
        self.start_object_storage()
        self.open_config_bucket()

    def start_object_storage(self) -> None:
        """The S3 endpoint of the build: the template's, else the local cloud host's object storage (started
        when it does not run)."""
        from adt.datastore.endpoints import Endpoint
        from adt.datastore.seaweed import SeaweedS3

        b = self.build
        v = b.values
        if self.on_provider and not v.get("S3_HOST_BASE"):
            raise AdtError(
                f"S3_HOST_BASE is not set: a build on {b.cloudhost} keeps its datastore in its object storage",
                "set S3_HOST_BASE, S3_ACCESS_KEY and S3_SECRET_KEY in the template",
            )
        if v.get("S3_HOST_BASE"):
            endpoint = Endpoint(1, v["S3_HOST_BASE"], v["S3_ACCESS_KEY"], v["S3_SECRET_KEY"], v.get("S3_LOCATION", ""))
        else:  # the local cloud host's object storage, on the build machine's VPC address: it outlives fleets
            server = SeaweedS3(object_storage(self.driver), ip=self.driver.gateway)
            if server.state and not alive(server.state["pid"]):
                server.stop()  # stopped behind our back (a reboot): started again below, on its data
            if not server.state:
                try:
                    server.start()
                except RuntimeError as exc:
                    raise AdtError(f"the embedded datastore (SeaweedFS) did not start: {exc}") from None
            assert server.state  # started, or found running
            key, secret = server.state["rw"]
            endpoint = Endpoint(1, server.endpoint, key, secret, "")
            v.update(
                {"S3_HOST_BASE": server.endpoint, "S3_ACCESS_KEY": key, "S3_SECRET_KEY": secret, "S3_LOCATION": "US"}
            )
        env = b.environment
        for name in ("S3_HOST_BASE", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_LOCATION"):
            env.set(name, v[name])
        self.endpoint = endpoint

    def open_config_bucket(self) -> None:
        """The build's configuration bucket, made empty (and, unless `wipe_config` is off, the website's other
        configuration buckets removed: a previous build's)."""
        from adt.datastore.client import s3_client
        from adt.datastore.config import ConfigDatastore
        from adt.datastore.naming import config_bucket

        v, endpoint = self.build.values, self.endpoint
        bucket = config_bucket(v["WEBSITE_URL"], v["SERVER_USER"])
        client = s3_client(endpoint)
        prefix = bucket.rsplit("-", 1)[0] + "-"
        wipe_others = getattr(self, "wipe_config", True)
        for old in client.list_buckets().get("Buckets", []):  # the config bucket is emptied for each build
            if old["Name"] == bucket or (wipe_others and old["Name"].startswith(prefix)):
                ConfigDatastore([endpoint], old["Name"]).delete("", recursive=True)
                client.delete_bucket(Bucket=old["Name"])
        client.create_bucket(Bucket=bucket)
        self.store = ConfigDatastore([endpoint], bucket)

    def machine_settings(self, role: str, extra: Optional[Dict[str, str]] = None) -> str:
        v = self.build.values
        keys = {
            "WEBSITEURL": v["WEBSITE_URL"],
            "SERVERUSER": v["SERVER_USER"],
            "S3ACCESSKEY": v["S3_ACCESS_KEY"],
            "S3SECRETKEY": v["S3_SECRET_KEY"],
            "S3LOCATION": v["S3_LOCATION"],
            "S3HOSTBASE": v["S3_HOST_BASE"],
            "DBNAME": v["DB_NAME"],
            "DBUSERNAME": v["DB_USERNAME"],
            "DBPASSWORD": v["DB_PASSWORD"],
            "DBPORT": v["DB_PORT"],
            "DBIDENTIFIER": v["DB_IDENTIFIER"],
            "DATABASEINSTALLATIONTYPE": v.get("DATABASE_INSTALLATION_TYPE", "Maria"),
            "APPLICATION": v.get("APPLICATION", ""),
            "BUILDIDENTIFIER": self.build.build_identifier,
            "CLOUDHOST": self.build.cloudhost,
            "REGION": self.build.region,
            "SSHPORT": v["SSH_PORT"],
            "VPCIPRANGE": v["VPC_IP_RANGE"],
            "BUILDMACHINEIP": self.build.build_machine_ip(self.driver),
            "IPMASK": ip_mask(v["VPC_IP_RANGE"]),
            "WEBSERVERCHOICE": v.get("WEBSERVER_CHOICE", ""),
            "PHPVERSION": v.get("PHP_VERSION", ""),
            "DEVELOPMENT": v.get("DEVELOPMENT", "1"),
            "PRODUCTION": v.get("PRODUCTION", "0"),
            "ACTIVEFIREWALLS": v.get("ACTIVE_FIREWALLS", "3"),
            "DNSCHOICE": v.get("DNS_CHOICE", "NONE"),
            "SSLGENERATIONSERVICE": v.get("SSL_GENERATION_SERVICE", "ZEROSSL"),
            "FIREWALL": "iptables",
            "BUILDARCHIVECHOICE": v.get("BUILD_ARCHIVE_CHOICE", "virgin"),
            "WEBSITEDISPLAYNAME": v.get("WEBSITE_DISPLAY_NAME", ""),
            "WEBSITENAME": v.get("WEBSITE_NAME", ""),
            **(extra or {}),
        }
        return "".join(f"{k}:{val}\n" for k, val in keys.items())

    def server_name(self, role: str) -> str:
        v = self.build.values
        rnd = v["SERVER_USER"][:4]
        region, ident = v.get("REGION", "local"), self.build.build_identifier
        return f"db-{region}-{ident}-{rnd}" if role == "database" else f"ws-{region}-{ident}-0-{rnd}-init-1"

    def launch_machines(self) -> Dict[str, str]:
        """The database and the webserver at once; their addresses by role. Each progress line names its
        machine; a failure names the machine and its log, and the other machine is still created whole (so
        `adt destroy` removes both) but no longer waited for."""
        stop = threading.Event()

        def one(role: str) -> str:
            started = time.monotonic()
            ip = self.launch(role, stop)
            self.progress(f"  {role} {self.server_name(role)} ready at {ip} ({time.monotonic() - started:.1f} s)")
            return ip

        return side_by_side(one, ROLES, stop)

    def launch(
        self,
        role: str,
        stop: Optional[threading.Event] = None,
        name: Optional[str] = None,
        settings: Optional[Dict[str, str]] = None,
        image: Optional[str] = None,
        files: Optional[Dict[str, Tuple[str, int]]] = None,
    ) -> str:
        """Create one machine of `role` (named `name`, else the role's one name), wait for its READY marker;
        its address. `settings` are extra machine settings; `image` a snapshot to make it from; `files` more
        files of its user data (path -> (text, mode))."""
        v = self.build.values
        home = f"/home/{v['SERVER_USER']}"
        user_data = first_boot(role, v["SERVER_USER"], self.machine_settings(role, settings), self.adt, files)
        if self.on_provider:  # a provider's machine installs adt first (from the infrastructure repository)
            from adt.cloud.userdata import for_cloud

            user_data = for_cloud(user_data, v, role)
        name = name or self.server_name(role)
        size = v.get(
            {"database": "DB_SERVER_TYPE", "autoscaler": "AS_SERVER_TYPE"}.get(role, "WS_SERVER_TYPE"), "local"
        )
        public_key = self.build.key.with_name(self.build.key.name + ".pub").read_text()
        ssh_port = int(v["SSH_PORT"])
        if image:
            server = self.driver.create_server(name, size, user_data, ssh_port, public_key, image=image)
        else:
            server = self.driver.create_server(name, size, user_data, ssh_port, public_key)
        # the build machine reaches a provider's machine at its public address (it is not in the VPC); the
        # machines reach each other at their private ones, which they publish themselves
        ip = server.public_ip if self.on_provider else server.private_ip
        self.addresses[name] = ip
        (self.build.dir / "ips").mkdir(exist_ok=True)
        (self.build.dir / "ips" / f"{role}:{ip}").touch()
        self.build.known_hosts(role, ip).unlink(missing_ok=True)  # a new host key
        self.wait_ready(name, role, f"{home}/runtime/{role.upper()}_READY", stop)
        return ip

    def wait_ready(
        self, name: str, role: str, marker: str, stop: Optional[threading.Event] = None, timeout: float = 300
    ) -> None:
        """Until the machine's bootstrap writes its READY marker: the local host reads it where the machine
        keeps it, every 50 ms, with no ssh round trip (each starts a remote login shell). ssh is first used
        by the firewall phase, whose error says so when it cannot connect."""
        if self.on_provider:
            return self.wait_ready_over_ssh(name, role, marker, stop, max(timeout, 1200))
        log = self.driver.host_path(name, "/var/log/adt/bootstrap.log")
        ready = self.driver.host_path(name, marker)
        deadline = time.monotonic() + timeout
        while True:
            running = self.driver.first_boot_running(name)
            if ready.exists():
                return
            if not running:  # the bootstrap has ended, and the marker is not there
                break
            if stop is not None and stop.is_set():
                raise _Stopped(name)
            if time.monotonic() > deadline:
                raise AdtError(f"machine {name} ({role}) is not ready after {timeout:g} s", f"read {log}")
            time.sleep(0.05)
        lines = log.read_text().strip().splitlines() if log.exists() else []
        errors = [i for i, line in enumerate(lines) if line.startswith("adt: ")]
        tail = (
            " ".join(line.strip() for line in lines[errors[-1] : errors[-1] + 2]) if errors else "; ".join(lines[-1:])
        )
        raise AdtError(
            f"machine {name} ({role}) did not become ready: bootstrap said {tail or 'nothing'}", f"read {log}"
        )

    def plan(self, names: Sequence[str], records: Sequence[str] = ()) -> List[Tuple[str, str]]:
        """What a build on a provider makes, as (kind, line) for a dry run: the VPC, the configuration bucket,
        each machine (size, region, image, tags), its native firewall, the DNS records. Nothing is asked of the
        provider: this needs no token."""
        from adt.cloud.base import role_of, tags
        from adt.datastore.naming import config_bucket

        b, v = self.build, self.build.values
        placement = self.driver.placement
        lines = [
            ("create", f"the VPC {placement.vpc} in {b.region} on {b.cloudhost} (when missing)"),
            ("create", f"the bucket {config_bucket(v['WEBSITE_URL'], v['SERVER_USER'])} on {v.get('S3_HOST_BASE')}"),
        ]
        for name in names:
            role = role_of(name)
            size = v.get({"database": "DB_SERVER_TYPE", "autoscaler": "AS_SERVER_TYPE"}.get(role, "WS_SERVER_TYPE"))
            lines.append(
                (
                    "create",
                    f"the {role} {name}: {size} in {b.region}, image {placement.os_image}, tags "
                    f"{' '.join(tags(b.build_identifier, role))}, SSH on port {v.get('SSH_PORT')}",
                )
            )
            lines.append(("create", f"the native firewall of {name} ({role}'s rules), attached to it"))
        for record in records:
            lines.append(("add", f"the DNS record {record} ({v.get('DNS_CHOICE')})"))
        return lines

    def wait_ready_over_ssh(
        self, name: str, role: str, marker: str, stop: Optional[threading.Event] = None, timeout: float = 900
    ) -> None:
        """On a provider's machine: ask over ssh, with back-off, until the READY marker is there; a bootstrap that
        has ended without it (its log's last `adt:` line) fails at once."""
        from adt.httpapi import poll

        target = self.build.target(role, self.addresses[name])
        script = (
            f"test -e {marker} && echo READY && exit 0; "
            "pgrep -f 'adt machine bootstrap' >/dev/null && echo BOOTING && exit 0; "
            "test -e /var/log/adt/bootstrap.log && grep '^adt: ' /var/log/adt/bootstrap.log | tail -1; echo ENDED"
        )

        def ready() -> Optional[bool]:
            if stop is not None and stop.is_set():
                raise _Stopped(name)
            result = run(remote.ssh_shell(target, script), check=False, timeout=30, changes=False)
            said = result.stdout.strip().splitlines()
            if said[-1:] == ["READY"]:
                return True
            if said[-1:] == ["ENDED"] and result.returncode == 0 and len(said) > 1:
                raise AdtError(
                    f"machine {name} ({role}) did not become ready: bootstrap said {said[-2]}", self.machine_log(name)
                )
            return None  # not answering yet (booting, cloud-init at work) or still bootstrapping

        poll(ready, f"machine {name} ({role}) to be ready", timeout, first=1.0, cap=10.0, hint=self.machine_log(name))

    @staticmethod
    def installer(ws_ip: str) -> str:
        return f"http://{ws_ip}/wp-admin/install.php"

    def warm(self, ws_ip: str) -> None:
        """Ask for the installer page once, in the background, while the firewalls are reconciled: PHP compiles
        WordPress at its first request (about 0.6 s here), and the check proper, after the firewalls, then
        meets a warm site. Its answer is not looked at."""

        def fetch() -> None:
            try:
                with urllib.request.urlopen(self.installer(ws_ip), timeout=30) as response:
                    response.read()
            except OSError:
                pass

        threading.Thread(target=fetch, name="warm the installer page", daemon=True).start()

    def check(self, ws_ip: str) -> None:
        """The installer page, as a visitor gets it: WordPress serves it only once it has connected to its
        database with its own credentials (else "Error establishing a database connection"). Only when that
        fails does `adt machine check-database` run on the webserver (an ssh round trip), to name the cause."""
        url = self.installer(ws_ip)
        body = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    body = response.read().decode("utf-8", "replace")
                if "WordPress" in body:
                    break
            except OSError as error:
                body = str(error)
            time.sleep(0.1)
        if "WordPress" in body and "Error establishing a database connection" not in body:
            self.log.write(f"{url}: the WordPress installer\n")
            return
        target = self.build.target("webserver", ws_ip)
        result = run(remote.ssh(target, [self.adt, "machine", "check-database"]), check=False, timeout=60)
        if result.returncode != 0:
            raise AdtError(
                f"the webserver at {ws_ip} cannot reach the database: {(result.stderr or result.stdout).strip()}"
            )
        raise AdtError(f"{url} does not serve the WordPress installer: {body[:200]!r}")

    def firewalls(self, machines: Dict[str, tuple]) -> None:
        """Both layers, once every machine has published its address: on each machine (reconcile over
        ssh, as cron does every minute; the machines side by side), then the cloud host's native layer.
        `machines` is (role, address) by name."""
        from adt.build.firewall import apply_native

        def reconcile(name: str) -> str:
            role, ip = machines[name]
            result = run(
                remote.ssh(self.build.target(role, ip), ["adt", "firewall", "reconcile", "--wait", "60"]),
                check=False,
                timeout=90,
            )
            log = self.machine_log(name)
            if result.returncode == 255:  # ssh's own failure: the first ssh of the build
                raise AdtError(f"machine {name} ({role}): cannot ssh to {ip}: {result.stderr.strip()}", log)
            if result.returncode != 0:
                said = (result.stderr or result.stdout).strip()
                raise AdtError(f"the firewall of the {role} {name} at {ip} failed: {said}", log)
            return result.stdout

        for name, said in side_by_side(reconcile, list(machines)).items():  # the machines side by side
            self.log.write(f"{name} {machines[name][1]}: {said}")
        for line in apply_native(self.build, self.driver):
            self.log.write(line + "\n")

    def finish(self, webservers: Sequence[str]) -> None:
        """The fleet marked installed: in the datastore, on every webserver (their backups wait for it), and in
        the build's runtime data."""
        self.store.put("INSTALLED_SUCCESSFULLY")
        for ip in webservers:
            run(
                remote.ssh(
                    self.build.target("webserver", ip),
                    ["touch", f"{self.build.server_home}/runtime/INSTALLED_SUCCESSFULLY"],
                ),
                what="marking the webserver installed",
            )
        write_atomically(self.build.dir / "INITIAL_BUILD_COMPLETED", "", 0o600)


def new_build(
    cloudhost: str,
    template_number: int,
    build_identifier: str,
    build_home: Path,
    rebuild: bool,
    template_file: Optional[str],
    progress: Callable[[str], None],
    overrides: Optional[Dict[str, str]] = None,
) -> BuildConfig:
    """A build about to be made: the host checked, its template loaded and validated (`overrides` applied
    after), and an existing build of that identifier refused, or destroyed first with `rebuild`."""
    from adt.cloud import PROVIDER_DRIVERS

    if cloudhost != "local" and cloudhost not in PROVIDER_DRIVERS:
        raise AdtError(f"unknown cloud host {cloudhost!r}", "use local, digitalocean, exoscale, linode or vultr")
    preflight(cloudhost)
    build = BuildConfig(Path(build_home), cloudhost, build_identifier)
    build.values = load_template(build, template_number, template_file)
    build.values.update(overrides or {})
    existing = BuildConfig(build.build_home, cloudhost, build_identifier, build.environment.values())
    if build.dir.exists() and ((build.dir / "INITIAL_BUILD_COMPLETED").exists() or _machines(existing, build.vpc)):
        if not rebuild:
            raise AdtError(
                f"build {cloudhost}/{build_identifier} exists already",
                f"destroy it first (adt destroy -c {cloudhost} -b {build_identifier}) or pass --rebuild",
            )
        progress(f"destroying the existing build {cloudhost}/{build_identifier} first (--rebuild)")
        destroy(existing, progress=progress)
    return build


@contextlib.contextmanager
def reported(builder: Builder) -> Iterator[None]:
    """A build's failure as one error naming the build (the machine and step come from the phase that
    failed), with the log to read; its timings written to the log, whatever happens."""
    build = builder.build
    try:
        yield
    except AdtError as error:
        log = getattr(builder.log, "name", build.dir / "logs")
        destroy_it = f"adt destroy -c {build.cloudhost} -b {build.build_identifier}"
        raise AdtError(
            f"build {build.name} failed: {error.message}",
            error.hint or f"read {log}; the fleet can be destroyed with: {destroy_it}",
        ) from None
    finally:
        builder.log.write(json.dumps({"timings": builder.timings}) + "\n")
        builder.log.close()


def build_development(
    cloudhost: str,
    template_number: int,
    build_identifier: str,
    build_home: Path,
    *,
    rebuild: bool = False,
    template_file: Optional[str] = None,
    progress: Callable[[str], None] = print,
) -> dict:
    build = new_build(cloudhost, template_number, build_identifier, build_home, rebuild, template_file, progress)
    builder = Builder(build, progress)
    with reported(builder):
        builder.phase("runtime data", lambda: builder.prepare_runtime(template_number, template_file))
        builder.phase("keys", builder.make_keys)
        builder.phase("network", builder.start_network)
        if dry_run() and builder.on_provider:
            for kind, line in builder.plan([builder.server_name("database"), builder.server_name("webserver")]):
                announce(line, kind)
            return {"dry_run": True, "timings": builder.timings, "build_dir": str(build.dir)}
        if dry_run():
            announce(
                f"start the datastore, create the machines {builder.server_name('database')} and "
                f"{builder.server_name('webserver')}, wait for them, check the website, apply the firewalls; "
                "a dry run stops here: these steps need the machines it does not start",
                "then",
            )
            return {"dry_run": True, "timings": builder.timings, "build_dir": str(build.dir)}
        builder.phase("datastore", builder.start_datastore)
        ips = builder.phase("machines", builder.launch_machines)
        db_ip, ws_ip = ips["database"], ips["webserver"]
        # the firewalls first: each machine's cron reconciles every minute from its first boot, so the database
        # machine may have closed its port before the webserver published its address; this admits it
        builder.warm(ws_ip)
        machines = {builder.server_name(role): (role, ip) for role, ip in ips.items()}
        builder.phase("firewalls", lambda: builder.firewalls(machines))
        builder.phase("checks", lambda: builder.check(ws_ip))
        builder.phase("finish", lambda: builder.finish([ws_ip]))
    return {
        "url": f"http://{ws_ip}/",
        "webserver": ws_ip,
        "database": db_ip,
        "timings": builder.timings,
        "credentials": str(build.dir / "credentials"),
        "build_dir": str(build.dir),
        "website_url": build.values["WEBSITE_URL"],
    }


def _machines(build: BuildConfig, vpc: str):
    """The machines of a build already there (on its own VPC, else on the one about to be built; on a provider,
    those carrying its tag)."""
    from adt.cloud.local import LocalDriver

    try:
        if build.cloudhost != "local":
            return build.servers(build.driver())
        return build.servers(LocalDriver(build.value("VPC_IP_RANGE", vpc)))
    except AdtError:
        return []


def object_storage(driver) -> Path:
    """Where the local cloud host keeps its object storage (the embedded datastore) for one VPC: beside its
    machines' state, not in a build's runtime data, so it outlives fleets as a provider's does."""
    return Path(driver.state) / "objectstorage" / driver.switch


def certificate_cron(build: BuildConfig) -> Path:
    from adt.build.ssl import cron_file

    return cron_file(build)


def destroy(build: BuildConfig, progress: Callable[[str], None] = print, purge_datastore: bool = False) -> List[str]:
    """Destroy a build's machines, its DNS server and its network; its runtime data stays, and so do the
    buckets of the cloud host's object storage (its server stops with the last fleet on the VPC, and a later
    build starts it again on the same data) unless `purge_datastore`. In a dry run the commands and removals
    are printed instead."""
    from adt.cloud.base import role_of
    from adt.cloud.local import LocalDriver
    from adt.datastore.seaweed import SeaweedS3

    if build.cloudhost != "local":
        return _destroy_on_provider(build, progress)
    if os.geteuid() != 0:
        raise AdtError("destroying local machines needs root")
    driver = LocalDriver(build.vpc)
    mine = build.servers(driver)
    if purge_datastore and [s for s in driver.list_servers() if s.name not in {m.name for m in mine}]:
        raise AdtError(
            "not purging the object storage: other fleets on this VPC still use it",
            "destroy them first, or destroy this build without --purge-datastore",
        )
    # the autoscalers first: they would replace the webservers being destroyed; then the build's machines as
    # listed after them (a webserver an autoscaler was making as it went is among them)
    autoscalers = [s for s in mine if role_of(s.name) == "autoscaler"]
    destroyed = []
    for server in autoscalers + [s for s in build.servers(driver) if s.name not in {a.name for a in autoscalers}]:
        progress(f"destroying {server.name} ({server.private_ip})")
        driver.destroy_server(server.name)
        destroyed.append(server)
    gone = [s.name for s in destroyed]
    others = [s for s in driver.list_servers() if s.name not in gone]
    _leave_dns(build, driver, destroyed, others)
    _leave_cloud_api(driver, others)
    storage = object_storage(driver)
    if storage.exists() and (purge_datastore or not others):
        server = SeaweedS3(storage)
        if server.state:
            progress("stopping the object storage (its buckets stay)" if not purge_datastore else "stopping it")
            if dry_run():
                announce(f"the object storage of {storage}", "stop")
            else:
                server.stop()
        if purge_datastore:
            progress(f"removing every bucket of the object storage ({storage})")
            if dry_run():
                announce(str(storage), "remove")
            else:
                shutil.rmtree(storage, ignore_errors=True)
                with contextlib.suppress(OSError):
                    storage.parent.rmdir()  # when no other VPC's object storage is left
    # in a dry run the build's machines are still there: the network goes when no other machine uses it
    driver.remove_network(force=dry_run() and not others)
    _remove(build.dir / "INITIAL_BUILD_COMPLETED")
    _remove(certificate_cron(build))  # the build machine's renewal line goes with the fleet
    for marker in sorted((build.dir / "ips").glob("*")) if (build.dir / "ips").exists() else []:
        _remove(marker)
    return gone


def _leave_cloud_api(driver, others: List) -> None:
    """The local cloud host's API server stops with the last fleet on the VPC."""
    from adt.build.cloudapi import CloudApiServer, cloud_api_home

    directory = cloud_api_home(driver)
    if others or not directory.exists():
        return
    server = CloudApiServer(directory)
    if server.state is None:
        return
    if dry_run():
        announce(f"the cloud API server of {directory}", "stop")
        return
    server.stop()


def dns_home(driver) -> Path:
    """Where the local cloud host keeps its DNS service (PowerDNS) for one VPC: like a provider's DNS, one
    for every fleet on the VPC, started by the first production build and stopped with the last fleet."""
    return Path(driver.state) / "dns" / driver.switch


def _destroy_on_provider(build: BuildConfig, progress: Callable[[str], None]) -> List[str]:
    """A build on a provider: its autoscalers first, then every machine carrying its tag as listed after them
    (one an autoscaler was making is among them), its webservers out of the round robin, then its VPC. The
    buckets stay. In a dry run each is printed instead."""
    from adt.cloud.base import role_of

    driver = build.driver()
    mine = build.servers(driver)
    autoscalers = [s for s in mine if role_of(s.name) == "autoscaler"]
    destroyed = []
    for server in autoscalers + [s for s in build.servers(driver) if s.name not in {a.name for a in autoscalers}]:
        progress(f"destroying {server.name} ({server.public_ip})")
        if dry_run():
            announce(f"the {build.cloudhost} machine {server.name} ({server.id})", "destroy")
        else:
            driver.destroy_server(server.name)
        destroyed.append(server)
    website, choice = build.value("WEBSITE_URL"), build.value("DNS_CHOICE")
    webservers = [s.public_ip for s in destroyed if role_of(s.name) == "webserver"]
    if website and webservers and choice not in ("", "NONE", "powerdns"):
        from adt.dns import provider

        dns = provider(build.environment.values())
        for ip in webservers:
            if dry_run():
                announce(f"{ip} from the DNS records of {website}", "remove")
            elif dns.delete(website, ip):
                progress(f"{ip} removed from the DNS records of {website}")
    if dry_run():
        announce(f"the VPC {driver.placement.vpc} (when no machine is left on it)", "remove")
    else:
        driver.remove_network()
    _remove(build.dir / "INITIAL_BUILD_COMPLETED")
    _remove(certificate_cron(build))  # the build machine's renewal line goes with the fleet
    for marker in sorted((build.dir / "ips").glob("*")) if (build.dir / "ips").exists() else []:
        _remove(marker)
    return [s.name for s in destroyed]


def _leave_dns(build: BuildConfig, driver, gone: List, others: List) -> None:
    """A destroyed fleet leaves the VPC's DNS: its webservers' records go, its autoscalers lose the API, and
    the server stops when no fleet is left on the VPC (its zones stay for the next one)."""
    from adt.cloud.base import role_of

    directory = dns_home(driver)
    if not directory.exists():
        return
    from adt.dns import provider, zone_name
    from adt.dns.powerdns import PowerDnsServer

    server = PowerDnsServer(directory)
    state = server.state
    if state is None:
        return
    website = build.value("WEBSITE_URL")
    webservers = [s.private_ip for s in gone if role_of(s.name) == "webserver"]
    dns = provider({"DNS_CHOICE": "powerdns"}, directory)
    # only a build in the round robin has records there (a development build on the VPC has none)
    if website and webservers and build.value("DNS_CHOICE") == "powerdns" and dns.find_zone(zone_name(website)):
        for ip in webservers:
            if dry_run():
                announce(f"{ip} from the DNS records of {website}", "remove")
            elif ip in dns.ips(website):
                dns.delete(website, ip)
    if dry_run():
        announce(f"the DNS server of {directory}", "stop" if not others else "keep")
        return
    if not others:
        server.stop()
        return
    autoscalers = [s.private_ip for s in others if role_of(s.name) == "autoscaler"]
    if set(a.split("/")[0] for a in state.get("allow_from", [])) - {state["ip"]} != set(autoscalers):
        server.allow_api_from(autoscalers)  # an address that leaves may come back as another machine's
