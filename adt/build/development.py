"""The development-mode build: one database machine and one webserver, on the `local` cloud host.

Phases (each timed, each failure naming the machine, the step and the log to read):
preflight -> runtime data and credentials -> keys -> network -> datastore -> database -> webserver ->
checks -> finish. Machines run the same role bootstrap (adt.machine) a cloud machine runs at first boot.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import string
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from adt import remote
from adt.cloud.base import UserData
from adt.errors import AdtError
from adt.files import open_private
from adt.machine.bootstrap import php_fpm
from adt.run import run
from adt.settings.runtime import BuildEnvironment, RuntimeData, templates_dir
from adt.settings.template import Template, write_atomically

REQUIRED = {"mariadbd": "mariadb-server", "mariadb": "mariadb-client", "nginx": "nginx",
            "sshd": "openssh-server", "ssh": "openssh-client", "ssh-keygen": "openssh-client", "ip": "iproute2",
            "nsenter": "util-linux", "unshare": "util-linux"}
ALPHANUMERIC = string.ascii_letters + string.digits


def _random(n: int) -> str:
    return "".join(secrets.choice(ALPHANUMERIC) for _ in range(n))


@dataclass
class Build:
    cloudhost: str
    build_identifier: str
    build_home: Path
    values: Dict[str, str] = field(default_factory=dict)
    timings: List[tuple] = field(default_factory=list)

    @property
    def runtime(self) -> RuntimeData:
        return RuntimeData(self.build_home)

    @property
    def dir(self) -> Path:
        return self.runtime.build_dir(self.cloudhost, self.build_identifier)

    @property
    def key(self) -> Path:
        algorithm = self.values.get("ALGORITHM", "ed25519")
        return self.dir / "keys" / f"id_{algorithm}_AGILE_DEPLOYMENT_BUILD_KEY_{self.build_identifier}"

    def target(self, ip: str, role: str) -> remote.Target:
        return remote.Target(ip, int(self.values["SSH_PORT"]), str(self.key), str(self.dir / "keys" / f"{role}_{ip}keys"))


def preflight(template_number: int) -> None:
    if os.geteuid() != 0:
        raise AdtError("the local cloud host needs root (it makes network namespaces and mounts)",
                       "run as root, as the original build machine does")
    missing = sorted({package for tool, package in REQUIRED.items() if not shutil.which(tool)})
    if not php_fpm():
        missing.append("php-fpm")
    if not Path("/usr/share/wordpress").is_dir():
        missing.append("wordpress")
    if missing:
        raise AdtError(f"missing packages: {', '.join(missing)}", "run 'make deps' (it installs them)")
    if template_number != 1:
        raise AdtError(f"template {template_number} cannot be built on the local cloud host yet",
                       "use template 1 (a development build of a virgin application)")


def load_template(build: Build, template_number: int, template_file: Optional[str]) -> Dict[str, str]:
    from adt.settings.validate import validate_template

    path = Path(template_file) if template_file else \
        templates_dir(build.build_home) / build.cloudhost / f"{build.cloudhost}{template_number}.tmpl"
    template = Template.load(path).set("BUILD_IDENTIFIER", build.build_identifier).set("CLOUDHOST", build.cloudhost)
    problems = validate_template(template)
    if problems:
        shown = "; ".join(p.render() for p in problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise AdtError(f"template {path} is not valid: {shown}", f"adt template validate {path}")
    return template.values()


class Builder:
    def __init__(self, build: Build, progress: Callable[[str], None] = print):
        self.build = build
        self.progress = progress
        self.log = None
        self.driver = None

    def phase(self, name: str, work: Callable):
        started = time.monotonic()
        self.progress(f"[{name}] ...")
        result = work()
        self.build.timings.append((name, time.monotonic() - started))
        return result

    # -- phases ----------------------------------------------------------------------------------
    def prepare_runtime(self, template_number: int, template_file: Optional[str]) -> None:
        b = self.build
        runtime = b.runtime
        runtime.set_active(b.cloudhost, b.build_identifier)
        base = runtime.ensure_build_dir(b.cloudhost, b.build_identifier)
        (base / "logs").mkdir(exist_ok=True)
        self.log = open_private(base / "logs" / f"build_output_stream-{time.strftime('%Y%m%d-%H%M%S')}", "a")
        path = template_file or str(templates_dir(b.build_home) / b.cloudhost / f"{b.cloudhost}{template_number}.tmpl")
        write_atomically(runtime.root / "current_template_name", path + "\n", 0o600)
        server_user = "X" + _random(18) + "X"
        values = dict(b.values)
        values.update({"SERVER_USER": server_user, "SERVER_USER_PASSWORD": _random(18),
                       "DB_NAME": "n" + _random(8) + "n", "DB_USERNAME": "u" + _random(8) + "u",
                       "DB_PASSWORD": "p" + _random(8) + "p", "DB_PORT": values.get("DB_PORT", "2035"),
                       "DB_IDENTIFIER": "self-managed"})
        b.values = values
        credentials = base / "credentials"
        write_atomically(credentials / "SERVERUSER", server_user + "\n", 0o600)
        write_atomically(credentials / "SERVERUSERPASSWORD", values["SERVER_USER_PASSWORD"] + "\n", 0o600)
        write_atomically(credentials / "db_credentials.dat",
                         f"DBNAME:{values['DB_NAME']}\nUSERNAME:{values['DB_USERNAME']}\nPASSWORD:{values['DB_PASSWORD']}\n", 0o600)
        write_atomically(base / "build_environment", "".join(f"{k}={v}\n" for k, v in values.items()), 0o600)

    def make_keys(self) -> None:
        key = self.build.key
        for stale in (key, key.with_name(key.name + ".pub")):
            stale.unlink(missing_ok=True)
        run(["ssh-keygen", "-q", "-t", self.build.values.get("ALGORITHM", "ed25519"), "-N", "", "-C",
             f"adt-{self.build.build_identifier}", "-f", str(key)], what="making the build key", log=self.log)

    def start_network(self) -> None:
        from adt.cloud.local import LocalDriver

        self.driver = LocalDriver(self.build.values["VPC_IP_RANGE"])
        self.driver.ensure_network()

    def start_datastore(self) -> None:
        from adt.datastore.client import s3_client
        from adt.datastore.config import ConfigDatastore
        from adt.datastore.endpoints import Endpoint
        from adt.datastore.naming import config_bucket
        from adt.datastore.seaweed import SeaweedS3

        b = self.build
        v = b.values
        if v.get("S3_HOST_BASE"):
            endpoint = Endpoint(1, v["S3_HOST_BASE"], v["S3_ACCESS_KEY"], v["S3_SECRET_KEY"], v.get("S3_LOCATION", ""))
        else:  # the embedded datastore, on the build machine's VPC address
            server = SeaweedS3(b.dir / "datastore", ip=self.driver.gateway)
            if not server.state:
                try:
                    server.start()
                except RuntimeError as exc:
                    raise AdtError(f"the embedded datastore (SeaweedFS) did not start: {exc}") from None
            key, secret = server.state["rw"]
            endpoint = Endpoint(1, server.endpoint, key, secret, "")
            v.update({"S3_HOST_BASE": server.endpoint, "S3_ACCESS_KEY": key, "S3_SECRET_KEY": secret, "S3_LOCATION": "US"})
        bucket = config_bucket(v["WEBSITE_URL"], v["SERVER_USER"])
        client = s3_client(endpoint)
        prefix = bucket.rsplit("-", 1)[0] + "-"
        for old in client.list_buckets().get("Buckets", []):  # the config bucket is emptied for each build
            if old["Name"].startswith(prefix):
                ConfigDatastore([endpoint], old["Name"]).delete("", recursive=True)
                client.delete_bucket(Bucket=old["Name"])
        client.create_bucket(Bucket=bucket)
        self.store = ConfigDatastore([endpoint], bucket)
        env = BuildEnvironment(b.dir / "build_environment")
        for name in ("S3_HOST_BASE", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_LOCATION"):
            env.set(name, v[name])

    def machine_settings(self, role: str) -> str:
        v = self.build.values
        keys = {"WEBSITEURL": v["WEBSITE_URL"], "SERVERUSER": v["SERVER_USER"], "S3ACCESSKEY": v["S3_ACCESS_KEY"],
                "S3SECRETKEY": v["S3_SECRET_KEY"], "S3LOCATION": v["S3_LOCATION"], "S3HOSTBASE": v["S3_HOST_BASE"],
                "DBNAME": v["DB_NAME"], "DBUSERNAME": v["DB_USERNAME"], "DBPASSWORD": v["DB_PASSWORD"],
                "DBPORT": v["DB_PORT"], "DBIDENTIFIER": v["DB_IDENTIFIER"],
                "DATABASEINSTALLATIONTYPE": v.get("DATABASE_INSTALLATION_TYPE", "Maria"),
                "APPLICATION": v.get("APPLICATION", ""), "BUILDIDENTIFIER": self.build.build_identifier,
                "CLOUDHOST": self.build.cloudhost, "REGION": v.get("REGION", ""), "SSHPORT": v["SSH_PORT"],
                "VPCIPRANGE": v["VPC_IP_RANGE"], "BUILDMACHINEIP": self.driver.gateway,
                "IPMASK": ".".join(v["VPC_IP_RANGE"].split(".")[:2] + ["%", "%"]),
                "WEBSERVERCHOICE": v.get("WEBSERVER_CHOICE", ""), "PHPVERSION": v.get("PHP_VERSION", ""),
                "DEVELOPMENT": v.get("DEVELOPMENT", "1"), "PRODUCTION": v.get("PRODUCTION", "0"),
                "ACTIVEFIREWALLS": v.get("ACTIVE_FIREWALLS", "3"), "DNSCHOICE": v.get("DNS_CHOICE", "NONE"),
                "FIREWALL": "iptables"}
        return "".join(f"{k}:{val}\n" for k, val in keys.items())

    def server_name(self, role: str) -> str:
        v = self.build.values
        rnd = v["SERVER_USER"][:4]
        region, ident = v.get("REGION", "local"), self.build.build_identifier
        return f"db-{region}-{ident}-{rnd}" if role == "database" else f"ws-{region}-{ident}-0-{rnd}-init-1"

    def launch(self, role: str) -> str:
        v = self.build.values
        home = f"/home/{v['SERVER_USER']}"
        user_data = UserData(
            files={"/home/homedir.dat": (home + "\n", 0o644),
                   f"{home}/runtime/{role}_configuration_settings.dat": (self.machine_settings(role), 0o600)},
            command=[str(Path(sys.executable).parent / "adt"), "machine", "bootstrap", "--role", role])
        name = self.server_name(role)
        server = self.driver.create_server(name, v.get("WS_SERVER_TYPE", "local"), user_data, int(v["SSH_PORT"]),
                                           self.build.key.with_name(self.build.key.name + ".pub").read_text())
        (self.build.dir / "ips").mkdir(exist_ok=True)
        (self.build.dir / "ips" / f"{role}:{server.private_ip}").touch()
        Path(self.build.target(server.private_ip, role).known_hosts).unlink(missing_ok=True)  # a new host key
        marker = "DATABASE_READY" if role == "database" else "WEBSERVER_READY"
        self.wait_ready(name, server.private_ip, role, f"{home}/runtime/{marker}")
        return server.private_ip

    def wait_ready(self, name: str, ip: str, role: str, marker: str, timeout: float = 300) -> None:
        target = self.build.target(ip, role)
        log = self.driver.host_path(name, "/var/log/adt/bootstrap.log")
        deadline = time.monotonic() + timeout
        probe = None
        while time.monotonic() < deadline:
            running = self.driver.first_boot_running(name)
            probe = run(remote.ssh(target, ["test", "-f", marker]), check=False, timeout=15)
            if probe.returncode == 0:
                return
            if not running:  # the bootstrap has ended, and the marker is not there
                break
            time.sleep(0.25)
        lines = log.read_text().strip().splitlines() if log.exists() else []
        errors = [i for i, line in enumerate(lines) if line.startswith("adt: ")]
        tail = " ".join(l.strip() for l in lines[errors[-1]:errors[-1] + 2]) if errors else "; ".join(lines[-1:])
        if probe is not None and probe.returncode == 255:
            raise AdtError(f"machine {name} ({role}): cannot ssh to {ip}: {probe.stderr.strip()}",
                           f"read {self.driver.host_path(name, '/var/log/adt/bootstrap.log')}")
        raise AdtError(f"machine {name} ({role}) did not become ready: bootstrap said {tail or 'nothing'}",
                       f"read {log}")

    def check(self, ws_ip: str) -> None:
        target = self.build.target(ws_ip, "webserver")
        adt = str(Path(sys.executable).parent / "adt")
        result = run(remote.ssh(target, [adt, "machine", "check-database"]), check=False, timeout=60)
        if result.returncode != 0:
            raise AdtError(f"the webserver at {ws_ip} cannot reach the database: "
                           f"{(result.stderr or result.stdout).strip()}")
        self.log.write(result.stdout)
        url = f"http://{ws_ip}/wp-admin/install.php"
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
            time.sleep(0.5)
        if "WordPress" not in body or "Error establishing a database connection" in body:
            raise AdtError(f"{url} does not serve the WordPress installer: {body[:200]!r}")

    def firewalls(self, ips: Dict[str, str]) -> None:
        """Both layers, once every machine has published its address: on each machine (reconcile over
        ssh, as cron does every minute), then the cloud host's native layer."""
        from adt.build.firewall import apply_native

        for role, ip in ips.items():
            result = run(remote.ssh(self.build.target(ip, role), ["adt", "firewall", "reconcile"]), check=False, timeout=60)
            if result.returncode != 0:
                raise AdtError(f"the firewall of the {role} at {ip} failed: {(result.stderr or result.stdout).strip()}")
            self.log.write(f"{role} {ip}: {result.stdout}")
        for line in apply_native(self.build.cloudhost, self.build.build_identifier, str(self.build.build_home)):
            self.log.write(line + "\n")

    def finish(self, ws_ip: str) -> None:
        self.store.put("INSTALLED_SUCCESSFULLY")
        target = self.build.target(ws_ip, "webserver")
        run(remote.ssh(target, ["touch", f"/home/{self.build.values['SERVER_USER']}/runtime/INSTALLED_SUCCESSFULLY"]),
            what="marking the webserver installed")
        write_atomically(self.build.dir / "INITIAL_BUILD_COMPLETED", "", 0o600)


def build_development(cloudhost: str, template_number: int, build_identifier: str, build_home: Path, *,
                      rebuild: bool = False, template_file: Optional[str] = None,
                      progress: Callable[[str], None] = print) -> dict:
    if cloudhost != "local":
        raise AdtError(f"the {cloudhost} cloud host has no driver yet", "build on the local cloud host")
    preflight(template_number)
    build = Build(cloudhost, build_identifier, Path(build_home))
    build.values = load_template(build, template_number, template_file)
    existing = build.dir / "INITIAL_BUILD_COMPLETED"
    if build.dir.exists() and (existing.exists() or (build.dir / "datastore").exists() or _machines(build)):
        if not rebuild:
            raise AdtError(f"build {cloudhost}/{build_identifier} exists already",
                           f"destroy it first (adt destroy -c {cloudhost} -b {build_identifier}) or pass --rebuild")
        progress(f"destroying the existing build {cloudhost}/{build_identifier} first (--rebuild)")
        destroy(cloudhost, build_identifier, build_home, progress=progress)
    builder = Builder(build, progress)
    try:
        builder.phase("runtime data", lambda: builder.prepare_runtime(template_number, template_file))
        builder.phase("keys", builder.make_keys)
        builder.phase("network", builder.start_network)
        builder.phase("datastore", builder.start_datastore)
        db_ip = builder.phase("database machine", lambda: builder.launch("database"))
        ws_ip = builder.phase("webserver machine", lambda: builder.launch("webserver"))
        builder.phase("checks", lambda: builder.check(ws_ip))
        builder.phase("firewalls", lambda: builder.firewalls({"database": db_ip, "webserver": ws_ip}))
        builder.phase("finish", lambda: builder.finish(ws_ip))
    except AdtError as error:
        log = builder.log.name if builder.log else build.dir / "logs"
        raise AdtError(f"build {cloudhost}/{build_identifier} failed: {error.message}",
                       error.hint or f"read {log}; the fleet can be destroyed with: adt destroy -c {cloudhost} -b {build_identifier}") from None
    finally:
        if builder.log:
            builder.log.write(json.dumps({"timings": build.timings}) + "\n")
            builder.log.close()
    return {"url": f"http://{ws_ip}/", "webserver": ws_ip, "database": db_ip, "timings": build.timings,
            "credentials": str(build.dir / "credentials"), "build_dir": str(build.dir),
            "website_url": build.values["WEBSITE_URL"]}


def _machines(build: Build):
    from adt.cloud.local import LocalDriver

    try:
        vpc = BuildEnvironment(build.dir / "build_environment").value(
            "VPC_IP_RANGE", build.values.get("VPC_IP_RANGE", "10.171.0.0/24"))
        return LocalDriver(vpc).list_servers(f"-{build.build_identifier}-")
    except AdtError:
        return []


def destroy(cloudhost: str, build_identifier: str, build_home: Path, progress: Callable[[str], None] = print) -> List[str]:
    """Destroy a build's machines, its embedded datastore and network; its runtime data stays."""
    from adt.cloud.local import LocalDriver
    from adt.datastore.seaweed import SeaweedS3

    if cloudhost != "local":
        raise AdtError(f"the {cloudhost} cloud host has no driver yet")
    if os.geteuid() != 0:
        raise AdtError("destroying local machines needs root")
    runtime = RuntimeData(Path(build_home))
    base = runtime.build_dir(cloudhost, build_identifier)
    env = BuildEnvironment(base / "build_environment")
    vpc = env.value("VPC_IP_RANGE", "10.171.0.0/24")
    region = env.value("REGION", "local")
    driver = LocalDriver(vpc)
    gone = []
    for server in driver.list_servers(f"-{region}-{build_identifier}-"):
        progress(f"destroying {server.name} ({server.private_ip})")
        driver.destroy_server(server.name)
        gone.append(server.name)
    datastore = base / "datastore"
    if datastore.exists():
        progress("stopping the embedded datastore")
        SeaweedS3(datastore).stop()
        shutil.rmtree(datastore, ignore_errors=True)
    driver.remove_network()
    (base / "INITIAL_BUILD_COMPLETED").unlink(missing_ok=True)
    for marker in (base / "ips").glob("*") if (base / "ips").exists() else []:
        marker.unlink()
    return gone
