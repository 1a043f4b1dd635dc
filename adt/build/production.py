"""The production builds on the `local` cloud host: template 3 (from temporal backups, or from snapshots) and
template 2 (from the two baseline repositories).

Phases, each timed, each failure naming the machine, the step and the log: runtime data and credentials ->
keys -> network -> the object storage and the build's DNS server -> the sources checked (a missing webroot
backup or baseline stops the build before any machine is made; a missing database backup asks) -> machines
(the database machine, `NO_WEBSERVERS` webservers `ws-…-init-<k>` and `NO_AUTOSCALERS` autoscalers
`NO-<n>-as-…`, all side by side; each restores its part itself at first boot, as the original's machines do)
-> firewalls -> checks (every webserver serves the site under WEBSITEURL) -> DNS (a webserver is added only
once it answered) -> snapshots (GENERATE_SNAPSHOTS=1) -> finish. The code paths are the cloud drivers' ones:
the build only calls the driver, the datastore and the DNS interface.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from adt.build import ssl as certificates
from adt.build.config import BuildConfig
from adt.build.development import Builder, new_build, reported, side_by_side
from adt.errors import AdtError
from adt.run import announce, dry_run
from adt.settings.schema import PERIODS

DNS_API_PORT = 8081
CLOUD_API_PORT = 8082


def source_of(template_number: int, values: Dict[str, str]) -> str:
    """What the application is restored from: a temporal period, `baseline` or `snapshot`."""
    snapshot = values.get("BUILD_FROM_SNAPSHOT") == "1" or values.get("AUTOSCALE_FROM_SNAPSHOTS") == "1"
    if template_number == 2:
        if snapshot:
            raise AdtError("template 2 builds from baselines, not from snapshots", "use template 3 for snapshots")
        return "baseline"
    choice = values.get("BUILD_ARCHIVE_CHOICE", "").lower()
    if choice not in PERIODS:
        raise AdtError(
            f"BUILD_ARCHIVE_CHOICE {choice or '(empty)'} cannot make a production build",
            f"template 3 restores temporal backups: use one of {', '.join(PERIODS)}",
        )
    return "snapshot" if snapshot else choice


def machine_names(values: Dict[str, str], identifier: str) -> List[Tuple[str, str]]:
    """(role, name) of every machine of a production build, named as the original names them, except that each
    initial webserver carries the number of the autoscaler that keeps it (`ws-…-<n>-<rnd>-init-<k>`, the k-th
    to autoscaler ((k-1) mod NO_AUTOSCALERS) + 1, as the profile's split gives the first ones the remainder):
    the original's are all `-0-` (a typo), kept by no autoscaler; without autoscalers they are `-0-`."""
    region, rnd = values.get("REGION", "local"), values["SERVER_USER"][:4]
    autoscalers = int(values.get("NO_AUTOSCALERS") or "1")
    names = [("database", f"db-{region}-{identifier}-{rnd}")]
    for k in range(1, int(values.get("NO_WEBSERVERS") or "1") + 1):
        keeper = (k - 1) % autoscalers + 1 if autoscalers else 0
        names.append(("webserver", f"ws-{region}-{identifier}-{keeper}-{rnd}-init-{k}"))
    for n in range(1, autoscalers + 1):
        names.append(("autoscaler", f"NO-{n}-as-{region}-{identifier}-{rnd}"))
    return names


class ProductionBuilder(Builder):
    def __init__(
        self,
        build: BuildConfig,
        progress: Callable[[str], None],
        template_number: int,
        ask: Callable[[str], bool],
        remote_base: Optional[str] = None,
        machine_settings: Optional[Dict[str, str]] = None,
    ):
        super().__init__(build, progress)
        self.extra_settings = dict(machine_settings or {})
        self.template_number = template_number
        self.ask = ask
        self.remote_base = remote_base
        self.source = source_of(template_number, build.values)
        self.images: Dict[str, str] = {}
        self.prefix = ""
        self.wipe_config = False
        self.dns: Any = None  # the DNS provider, once the server is up
        self.dns_server: Any = None
        self.cloud_api: Any = None  # the local cloud host's API server, for the autoscalers

    # -- credentials -------------------------------------------------------------------------------
    def start_datastore(self) -> None:
        """The object storage, then (a snapshot build) the images' credentials: the configuration bucket is
        named from the server user, and opened only once the sources are known to be there."""
        self.start_object_storage()
        if self.source == "snapshot":
            self.adopt_snapshot_credentials()

    def adopt_snapshot_credentials(self) -> None:
        """A machine made from a snapshot already has its server user and the database's credentials: the
        build takes them from where the snapshot was recorded (the snap bucket, else the local copy)."""
        from adt.build import snapshots

        found = snapshots.load(self.build.build_home, self.build.values, self.build.endpoint())
        v, c = self.build.values, found.credentials
        self.images = dict(found.ids)
        for role in ("autoscaler", "webserver", "database"):  # the template's ids, when it gives them, win
            if v.get(f"{role.upper()}_SNAPSHOT_ID"):
                self.images[role] = v[f"{role.upper()}_SNAPSHOT_ID"]
        v.update(
            {
                "SERVER_USER": c.server_user,
                "SERVER_USER_PASSWORD": c.server_password,
                "DB_NAME": c.db_name or v["DB_NAME"],
                "DB_USERNAME": c.db_user or v["DB_USERNAME"],
                "DB_PASSWORD": c.db_password or v["DB_PASSWORD"],
            }
        )  # written to the runtime data with everything else, once the sources are checked

    def rewrite_credentials(self) -> None:
        from adt.settings.template import write_atomically

        b, v = self.build, self.build.values
        credentials = b.dir / "credentials"
        write_atomically(credentials / "SERVERUSER", v["SERVER_USER"] + "\n", 0o600)
        write_atomically(credentials / "SERVERUSERPASSWORD", v["SERVER_USER_PASSWORD"] + "\n", 0o600)
        write_atomically(
            credentials / "db_credentials.dat",
            f"DBNAME:{v['DB_NAME']}\nUSERNAME:{v['DB_USERNAME']}\nPASSWORD:{v['DB_PASSWORD']}\n",
            0o600,
        )
        write_atomically(b.dir / "build_environment", "".join(f"{k}={val}\n" for k, val in v.items()), 0o600)

    # -- the DNS server ----------------------------------------------------------------------------
    def start_dns(self) -> None:
        """The VPC's authoritative DNS server (PowerDNS) on the build machine's VPC address, started when it
        does not run: machines and this machine resolve WEBSITEURL through it. Its API key stays in its own
        0600 file (and in the autoscalers' settings files: they add and remove webservers)."""
        from adt.build.development import dns_home
        from adt.dns import provider, zone_name
        from adt.dns.powerdns import PowerDnsServer

        b, v = self.build, self.build.values
        if self.on_provider:  # the provider's DNS (or Cloudflare's): the zone is the account's, made by its owner
            if v.get("DNS_CHOICE", "NONE") not in ("", "NONE"):
                self.dns = provider(v)
                self.dns.zone_id(v["WEBSITE_URL"])
            return
        server = PowerDnsServer(dns_home(self.driver))
        server.start(self.driver.gateway, dns_port=53, api_port=DNS_API_PORT, allow_from=self.api_clients(server))
        self.dns_server = server
        state = server.state
        assert state is not None
        v.update({"DNS_CHOICE": "powerdns", "DNS_API_URL": state["url"]})
        self.dns = provider(v, server.directory)
        server.ensure_zone(zone_name(v["WEBSITE_URL"]))
        env = b.environment
        env.set("DNS_CHOICE", "powerdns")
        env.set("DNS_API_URL", state["url"])

    def certificate(self) -> None:
        """The fleet's certificate, issued through the build's DNS when there is none or it is due (else the one
        there is kept), published; every machine is told to serve HTTPS (SERVEHTTPS)."""
        for line in certificates.renew(self.build, progress=self.progress, dns=self.dns):
            self.progress(f"  {line}")
        certificates.ensure_cron(self.build)  # also when the website's certificate was there already
        self.extra_settings["SERVEHTTPS"] = "1"
        self.build.environment.set("SERVE_HTTPS", "1")  # adt status asks the webservers for theirs

    @staticmethod
    def api_clients(server, new=()) -> List[str]:
        """The addresses the DNS API admits besides the build machine: the autoscalers it admits already
        (other fleets' on the VPC), and `new` ones."""
        state = server.state or {}
        own = state.get("ip", "")
        kept = {entry.split("/")[0] for entry in state.get("allow_from", [])} - {own}
        return sorted(kept | set(new))

    # -- the sources ---------------------------------------------------------------------------------
    def check_sources(self) -> None:
        """What the machines will restore is there, before any machine is made; the backups are only read."""
        from adt.build import interrogate

        v = self.build.values
        if self.source == "baseline":
            found = interrogate.interrogate_baseline(v, self.baseline_identifier(), self.remote_base)
        elif self.source == "snapshot":
            return
        else:
            found = interrogate.interrogate_backup(v, self.build.endpoint(), self.source)
            if not found.database_archive_present:
                question = (
                    f"there is no {self.source} database backup of {v['WEBSITE_URL']}: build with an empty "
                    "database anyway?"
                )
                if not self.ask(question):
                    raise AdtError(
                        f"no {self.source} database backup of {v['WEBSITE_URL']}",
                        "take one (PerformDatabaseBackup.sh), choose another BUILD_ARCHIVE_CHOICE, or pass --yes",
                    )
                self.progress(f"  no {self.source} database backup: the database starts empty")
                self.extra_settings["RESTOREDATABASE"] = "0"
        self.progress(f"  {found.source}: {found.application or 'application not recognised'}, prefix {found.prefix}")
        for line in found.notes:
            self.progress(f"  {line}")
        if found.application:
            v["APPLICATION"] = found.application.lower()
        self.prefix = found.prefix

    def baseline_identifier(self) -> str:
        v = self.build.values
        repository = v.get("APPLICATION_BASELINE_SOURCECODE_REPOSITORY", "")
        suffix = "-webroot-sourcecode-baseline"
        if not repository:
            raise AdtError(
                "template 2 needs APPLICATION_BASELINE_SOURCECODE_REPOSITORY",
                f"the baseline's repository name, <identifier>{suffix}",
            )
        return repository[: -len(suffix)] if repository.endswith(suffix) else repository

    # -- machines ----------------------------------------------------------------------------------
    def settings_for(self, role: str) -> Dict[str, str]:
        v = self.build.values
        extra = {
            "PRODUCTION": "1",
            "DEVELOPMENT": "0",
            "BUILDARCHIVECHOICE": "baseline" if self.source == "baseline" else v.get("BUILD_ARCHIVE_CHOICE", ""),
            "BUILDFROMSNAPSHOT": "1" if self.source == "snapshot" else "0",
            "NOWEBSERVERS": v.get("NO_WEBSERVERS", "1"),
            "NOAUTOSCALERS": v.get("NO_AUTOSCALERS", "1"),
            "MAXWEBSERVERS": v.get("MAX_WEBSERVERS", "10"),
            "DNSCHOICE": v.get("DNS_CHOICE", "NONE"),
            "TABLEPREFIX": self.prefix,
        }
        if self.source == "baseline":
            extra["BASELINEIDENTIFIER"] = self.baseline_identifier()
            extra["BASELINEREMOTE"] = self.remote_base or ""
        extra.update(self.extra_settings)
        if role == "autoscaler" and self.dns_server is not None:  # it adds and removes webservers
            extra["DNSAPIURL"] = v["DNS_API_URL"]
            extra["DNSSECURITYKEY"] = self.dns_server.api_key()
        elif role == "autoscaler" and self.dns is not None:  # the provider's DNS, with the template's key
            extra.update({"DNSSECURITYKEY": v.get("DNS_SECURITY_KEY", ""), "DNSUSERNAME": v.get("DNS_USERNAME", "")})
            if v.get("DNS_API_URL"):
                extra["DNSAPIURL"] = v["DNS_API_URL"]
        if role == "autoscaler":
            extra.update(self.autoscaler_settings())
        return extra

    def autoscaler_settings(self) -> Dict[str, str]:
        """What an autoscaler needs besides the common settings: the cloud's API (on `local`, the local cloud host's,
        with its token: the settings file is 0600), the image to make webservers from, the DNS TTL and the cycle's
        timing."""
        v = self.build.values
        extra = {
            "ALGORITHM": v.get("ALGORITHM", "ed25519"),
            "DNSTTL": v.get("DNS_TTL") or "60",
            "WSSERVERTYPE": v.get("WS_SERVER_TYPE", "local"),
            "SCALINGINTERVAL": v.get("SCALING_INTERVAL", ""),
            "SCALINGCONFIRMSECONDS": v.get("SCALING_CONFIRM_SECONDS", ""),
            "SCALINGGRACE": v.get("SCALING_GRACE", ""),
            "SCALINGLISTINTERVAL": v.get("SCALING_LIST_INTERVAL", ""),
        }
        if self.cloud_api is not None:
            state = self.cloud_api.state
            assert state is not None
            extra.update({"CLOUDAPIURL": state["url"], "CLOUDAPITOKEN": self.cloud_api.token()})
        if self.on_provider:  # the provider's API itself, with the account's credentials (0600 settings)
            placement = self.driver.placement
            extra.update(
                {
                    "TOKEN": v.get("TOKEN", ""),
                    "ACCESSKEY": v.get("ACCESS_KEY", ""),
                    "SECRETKEY": v.get("SECRET_KEY", ""),
                    "OSIMAGE": placement.os_image,
                    "VPCNAME": placement.vpc,
                    "CLOUDAPIURL": os.environ.get(f"ADT_API_URL_{self.build.cloudhost.upper()}", ""),
                }
            )
        if self.images.get("webserver"):
            extra["WEBSERVERIMAGE"] = self.images["webserver"]
        return {key: value for key, value in extra.items() if value}

    def autoscaler_files(self) -> Dict[str, Tuple[str, int]]:
        """The files an autoscaler builds webservers with, as the original's autoscaler has them: the webservers'
        settings (its cloud-init's), the build key (it reaches the fleet's machines as the build machine does) and
        its public half (the new webservers' authorized key)."""
        b = self.build
        home = f"/home/{b.values['SERVER_USER']}"
        public = b.key.with_name(b.key.name + ".pub")
        settings = self.machine_settings("webserver", self.settings_for("webserver"))
        files = {
            f"{home}/runtime/cloud-init/webserver_configuration_settings.dat": (settings, 0o600),
            f"{home}/runtime/cloud-init/authorized_key.pub": (public.read_text(), 0o644),
            f"{home}/.ssh/{b.key.name}": (b.key.read_text(), 0o600),
        }
        if self.on_provider:  # what installs adt on the webservers it makes (its files: a repository token)
            from adt.cloud.base import UserData
            from adt.cloud.userdata import for_cloud

            install = for_cloud(UserData(), b.values, "webserver")
            text = json.dumps({"install": [list(c) for c in install.install], "files": install.files})
            files[f"{home}/runtime/cloud-init/install.json"] = (text, 0o600)
        return files

    # -- the cloud's API and the scaling profile ----------------------------------------------------------------
    def start_cloud_api(self) -> None:
        """The local cloud host's HTTP API on the build machine's VPC address, started when it does not run: the
        autoscalers create and destroy webservers through it, as they would through a provider's."""
        from adt.build.cloudapi import CloudApiServer, cloud_api_home

        server = CloudApiServer(cloud_api_home(self.driver))
        server.start(
            self.driver.gateway,
            CLOUD_API_PORT,
            str(self.driver.network),
            self.build.build_home,
            state_dir=str(self.driver.state),
        )
        self.cloud_api = server

    def initialise_scaling(self) -> None:
        """The scaling profile: NO_WEBSERVERS split across the autoscalers, in both layouts (the original's
        InitialiseScalingProfile). It is the website's (its bucket is named from WEBSITE_URL, the cloud host and
        the region), so it is written only once the fleet serves: a build that fails leaves the count of the
        fleet already running alone."""
        from adt.scaling.profile import Profile

        v = self.build.values
        profile = Profile.for_build(self.build)
        profile.initialise(int(v.get("NO_WEBSERVERS") or "1"), int(v.get("NO_AUTOSCALERS") or "1"))

    def launch_all(self, names: List[Tuple[str, str]]) -> Dict[str, Tuple[str, str]]:
        """Every machine at once; (role, address) by name."""
        stop = threading.Event()
        roles = dict((name, role) for role, name in names)

        def one(name: str) -> Tuple[str, str]:
            role = roles[name]
            started = time.monotonic()
            files = self.autoscaler_files() if role == "autoscaler" else None
            ip = self.launch(
                role, stop, name=name, settings=self.settings_for(role), image=self.images.get(role), files=files
            )
            self.progress(f"  {role} {name} ready at {ip} ({time.monotonic() - started:.1f} s)")
            return role, ip

        return side_by_side(one, list(roles), stop)

    def serves(self, ip: str, timeout: float = 60) -> str:
        """The site's home page from one webserver, asked for by its name (WEBSITEURL), as a visitor whose
        DNS points there gets it (over HTTPS when the webservers' settings have SERVEHTTPS:1); an AdtError naming
        the webserver when it does not answer the site."""
        from adt.net import DATABASE_ERROR, site_page

        url = self.build.values["WEBSITE_URL"]
        tls = self.settings_for("webserver").get("SERVEHTTPS") == "1"  # the fleet serves HTTPS: checked there
        deadline = time.monotonic() + timeout
        said = ""
        while time.monotonic() < deadline:
            try:
                status, body = site_page(ip, url, timeout=10, tls=tls)
                if status == 200 and DATABASE_ERROR not in body:
                    return body
                said = f"HTTP {status}: {body[:120]!r}"
            except OSError as error:
                said = str(error)
            time.sleep(0.1)
        raise AdtError(f"the webserver at {ip} does not serve {url}: {said}", "read its /var/log/adt/ logs")

    def check_all(self, webservers: List[str]) -> Dict[str, str]:
        return side_by_side(self.serves, webservers)

    def publish_dns(self, webservers: List[str]) -> None:
        """Every webserver that answered the site, into the round robin (the template's TTL); no other."""
        if self.dns is None:
            return
        v = self.build.values
        ttl = int(v.get("DNS_TTL") or "60")
        listed = set(self.dns.ips(v["WEBSITE_URL"]))
        for ip in sorted(listed - set(webservers)):  # a previous fleet's, on this VPC
            self.dns.delete(v["WEBSITE_URL"], ip)
        for ip in webservers:
            self.dns.add(v["WEBSITE_URL"], ip, ttl)

    def take_snapshots(self, machines: Dict[str, Tuple[str, str]]) -> None:
        """One image per role (its first machine), recorded where the original keeps the ids."""
        from adt.build import snapshots

        first: Dict[str, str] = {}
        for name, (role, _) in sorted(machines.items()):
            first.setdefault(role, name)
        ids = {}
        for role, name in first.items():
            ids[role] = self.driver.snapshot(name, f"{name}-{time.strftime('%Y%m%d%H%M%S')}")
            self.progress(f"  snapshot of {role} {name}: {ids[role]}")
        v = self.build.values
        snapshots.record(
            self.build.build_home,
            v,
            self.build.endpoint(),
            ids,
            snapshots.Credentials(
                v["SERVER_USER"], v["SERVER_USER_PASSWORD"], v["DB_NAME"], v["DB_USERNAME"], v["DB_PASSWORD"]
            ),
        )


def build_production(
    cloudhost: str,
    template_number: int,
    build_identifier: str,
    build_home: Path,
    *,
    rebuild: bool = False,
    template_file: Optional[str] = None,
    progress: Callable[[str], None] = print,
    ask: Callable[[str], bool] = lambda question: False,
    remote_base: Optional[str] = None,
    overrides: Optional[Dict[str, str]] = None,
    dns: bool = True,
    machine_settings: Optional[Dict[str, str]] = None,
    wipe_config: bool = False,
) -> dict:
    """A production fleet from temporal backups (template 3), snapshots (template 3 with BUILD_FROM_SNAPSHOT)
    or baselines (template 2). `ask` answers the questions a build may have (a missing database backup);
    `overrides` replace template values and `machine_settings` are added to every machine's settings file (the
    drill's); without `dns` no DNS server is started (a drill's fleet is in no round robin); only with
    `wipe_config` are the website's other configuration buckets removed (by default a production build leaves
    them: another fleet of the website, the one it replaces, may still run on them)."""
    build = new_build(
        cloudhost, template_number, build_identifier, build_home, rebuild, template_file, progress, overrides
    )
    if dns and cloudhost == "local":  # local: the build's own PowerDNS (the snap bucket's name carries it too)
        build.values["DNS_CHOICE"] = "powerdns"
    builder = ProductionBuilder(build, progress, template_number, ask, remote_base, machine_settings)
    builder.wipe_config = wipe_config
    machines: Dict[str, Tuple[str, str]] = {}
    with reported(builder):
        builder.phase("runtime data", lambda: builder.prepare_runtime(template_number, template_file))
        builder.phase("keys", builder.make_keys)
        builder.phase("network", builder.start_network)
        names = machine_names(build.values, build_identifier)
        if dry_run() and builder.on_provider:
            v = build.values
            webservers = [name for role, name in names if role == "webserver"]
            records = (
                [f"{v['WEBSITE_URL']} A <the address of {name}>" for name in webservers]
                if v.get("DNS_CHOICE", "NONE") not in ("", "NONE")
                else []
            )
            for kind, line in builder.plan([name for _, name in names], records):
                announce(line, kind)
            if certificates.enabled(build):
                announce(certificates.plan(build), "issue")
            return {"dry_run": True, "timings": builder.timings, "build_dir": str(build.dir)}
        if dry_run():
            if dns and certificates.enabled(build):
                announce(certificates.plan(build), "issue")
            announce(
                f"start the object storage and the DNS server, check the {builder.source} sources, create "
                f"{', '.join(name for _, name in names)}, wait for them, apply the firewalls, check every "
                "webserver, add them to DNS; a dry run stops here: these steps need the machines it does not start",
                "then",
            )
            return {"dry_run": True, "timings": builder.timings, "build_dir": str(build.dir)}
        builder.phase("datastore", builder.start_datastore)
        builder.phase("sources", builder.check_sources)
        builder.phase("configuration", builder.open_config_bucket)
        if dns:
            builder.phase("dns", builder.start_dns)
        if dns and certificates.enabled(build):  # before any machine: webservers serve it from their first boot
            builder.phase("certificate", builder.certificate)
        scaling = any(role == "autoscaler" for role, _ in names)
        if scaling and cloudhost == "local":  # on a provider, the autoscalers call its API
            builder.phase("cloud api", builder.start_cloud_api)
        builder.rewrite_credentials()
        machines = builder.phase("machines", lambda: builder.launch_all(names))
        webservers = [ip for role, ip in machines.values() if role == "webserver"]
        autoscalers = [ip for role, ip in machines.values() if role == "autoscaler"]
        if builder.dns_server is not None and autoscalers:  # its API: the build side and the autoscalers only
            builder.dns_server.allow_api_from(builder.api_clients(builder.dns_server, autoscalers))
        builder.phase("firewalls", lambda: builder.firewalls(machines))
        pages = builder.phase("checks", lambda: builder.check_all(webservers))
        builder.phase("round robin", lambda: builder.publish_dns(webservers))
        if build.values.get("GENERATE_SNAPSHOTS") == "1":
            builder.phase("snapshots", lambda: builder.take_snapshots(machines))
        if scaling:  # the website's profile, which a fleet it replaces follows too: only once this one serves
            builder.phase("scaling profile", builder.initialise_scaling)
        builder.phase("finish", lambda: builder.finish(webservers))
    v = build.values
    return {
        "template": template_number,
        "source": builder.source,
        "website_url": v["WEBSITE_URL"],
        "dns": builder.dns_server.state["ip"] if builder.dns_server else "",
        "database": next(ip for role, ip in machines.values() if role == "database"),
        "webservers": webservers,
        "autoscalers": [ip for role, ip in machines.values() if role == "autoscaler"],
        "machines": {name: {"role": role, "ip": ip} for name, (role, ip) in machines.items()},
        "titles": {ip: _title(page) for ip, page in pages.items()},
        "timings": builder.timings,
        "credentials": str(build.dir / "credentials"),
        "build_dir": str(build.dir),
    }


def _title(page: str) -> str:
    start = page.find("<title>")
    return page[start + 7 : page.find("</title>", start)].strip() if start >= 0 else ""
