"""The autoscaler's cycle: observe the fleet, decide (adt/scaling/decide.py), record, act.

Each cycle, on the autoscaler machine:
- observe: one cloud listing of the webservers (`ws-`), the build's among them (`ws-<REGION>-<BUILD>-`) and
  this autoscaler's among those (`ws-<REGION>-<BUILD>-<n>-`); one DNS listing; one datastore listing of the
  published `webserverips/` (a webserver publishes its address when its first boot is done); the count in
  force from the scaling profile; then, side by side, two probes of each booted webserver: liveness (sshd's
  banner and any answer of the web server, which needs neither PHP nor the database) and readiness (the
  site's page asked for as WEBSITEURL, which needs both);
- decide, from the memory the previous cycle left;
- record: the memory's changed entries are written to the configuration datastore (`scalingstate/<name>`, JSON)
  before any action, so the intent to create is there before the cloud is asked, and a restarted autoscaler
  (or another process) takes up where this one stopped;
- act: create through the cloud driver (on `local`, the local cloud host's HTTP API), let the database and the
  native firewall admit a booted webserver, add to and remove from DNS, destroy, forget; every decision and its
  result goes to the event log (`/var/log/adt/autoscaler-events.jsonl`, one JSON object a line).
Nothing is acted on before the fleet is built (INSTALLED_SUCCESSFULLY in the datastore) or while
SWITCH_OFF_SCALING is there: the cycle then only observes.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import secrets
import socket
import string
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from adt.errors import AdtError
from adt.net import DATABASE_ERROR, site_page, web_connection
from adt.scaling import decide as d

EVENTS = Path("/var/log/adt/autoscaler-events.jsonl")
EVENTS_KEPT = 8 * 1024 * 1024  # bytes of the event log before it is rotated
RECORDS = "scalingstate/"
LIST_INTERVAL = 30.0  # s between the cloud's and the DNS's listings on a provider, when nothing moves
IN_FLIGHT = (d.PROVISIONING, d.BOOTSTRAPPING, d.DRAINING, d.TERMINATING)  # listed every cycle meanwhile
ALIVE_PATH = "/adt-alive"  # the webservers' nginx answers it itself (204): no PHP, no database
ACCEPTED = (200, 301, 302, 303)  # what the original's probes accept from the site's page


def number_from_hostname(hostname: str) -> int:
    """The autoscaler's number: the second field of `NO-<n>-as-…` (the original's own derivation)."""
    fields = hostname.split("-")
    if len(fields) < 3 or fields[0] != "NO" or not fields[1].isdigit() or fields[2] != "as":
        raise AdtError(f"this machine's name {hostname!r} is not an autoscaler's (NO-<n>-as-...)")
    return int(fields[1])


def webserver_prefix(region: str, build: str, number: Optional[int] = None) -> str:
    """The names of a build's webservers, of one autoscaler's when `number` is given."""
    return f"ws-{region}-{build}-" + (f"{number}-" if number is not None else "")


def fresh_name(prefix: str, server_user: str) -> str:
    """`ws-<REGION>-<BUILD>-<n>-<first 4 of SERVERUSER>-<4 random>`, as the original names the webservers an
    autoscaler builds."""
    alphabet = string.ascii_lowercase + string.digits
    return f"{prefix}{server_user[:4].lower()}-{''.join(secrets.choice(alphabet) for _ in range(4))}"


def policy_from(settings) -> d.Policy:
    """The decision policy, from the settings' SCALING* values where given (seconds)."""
    fields = {
        "SCALINGCONFIRMFAILURES": "confirm_failures",
        "SCALINGCONFIRMSECONDS": "confirm_seconds",
        "SCALINGGRACE": "grace",
        "SCALINGUNREADYLIMIT": "unready_limit",
        "SCALINGBUILDTIMEOUT": "build_timeout",
        "DNSTTL": "ttl",
        "SCALINGBREAKERSHARE": "breaker_share",
    }
    changes = {}
    for key, name in fields.items():
        value = settings.value(key)
        if value:
            kind = type(getattr(d.Policy(), name))
            try:
                changes[name] = kind(value)
            except ValueError:
                raise AdtError(f"{key}:{value} in the settings is not a number") from None
    return d.Policy(**changes)


# -- probes ---------------------------------------------------------------------------------------------------
def sshd_answers(ip: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=timeout) as connection:
            connection.settimeout(timeout)
            return connection.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def web_answers(ip: str, timeout: float, website: str = "", tls: bool = False) -> bool:
    """Any HTTP answer from the web server (the status is not looked at: 204 from ours, 404 from an older one);
    with `tls`, over HTTPS to port 443 (SNI `website`, the certificate not verified: a liveness probe)."""
    connection = web_connection(ip, website, timeout, tls=tls)
    try:
        connection.request("GET", ALIVE_PATH)
        connection.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def serves(ip: str, website: str, timeout: float, tls: bool = False) -> bool:
    """The site's page as a visitor whose DNS points here gets it: an accepted status, and no database error; with
    `tls`, over HTTPS (a webserver of a fleet with SERVEHTTPS:1 must serve the site there)."""
    try:
        status, page = site_page(ip, website, timeout, limit=65536, tls=tls)
    except OSError:
        return False
    return status in ACCEPTED and DATABASE_ERROR not in page


@dataclasses.dataclass(frozen=True)
class Observation:
    seen: Dict[str, d.Seen]
    stray: List[str]
    elsewhere: bool


class Cycle:
    """One autoscaler's cycle, with its edges (cloud driver, DNS, datastore, probes) given or made from the
    machine's settings."""

    def __init__(
        self,
        settings,
        home: Path,
        *,
        number: Optional[int] = None,
        driver=None,
        dns=None,
        store=None,
        desired: Optional[Callable[[], int]] = None,
        policy: Optional[d.Policy] = None,
        clock: Callable[[], float] = time.time,
        events: Path = EVENTS,
        probe_timeout: float = 2.0,
    ):
        self.settings = settings
        self.home = Path(home)
        if number is None:  # the original's derivation; ADT_AUTOSCALER_NUMBER for a machine named otherwise
            given = os.environ.get("ADT_AUTOSCALER_NUMBER", "")
            number = int(given) if given.isdigit() else number_from_hostname(socket.gethostname())
        self.number = number
        self.website = settings.require("WEBSITEURL")
        self.tls = settings.value("SERVEHTTPS") == "1"  # the fleet serves HTTPS: its webservers are probed there
        region, build = settings.value("REGION") or "local", settings.require("BUILDIDENTIFIER")
        self.build = build
        self.build_prefix = webserver_prefix(region, build)
        self.prefix = webserver_prefix(region, build, self.number)
        self._driver, self._dns, self._store, self._desired = driver, dns, store, desired
        self.policy = policy or policy_from(settings)
        self.clock = clock
        self.events = Path(events)
        self.probe_timeout = probe_timeout
        # the cloud's and the DNS's listings: every cycle on `local`; on a provider at most every
        # SCALINGLISTINTERVAL s (30), as its API counts requests (DigitalOcean: 5,000 an hour a token), and every
        # cycle while a webserver is being made or ended or after this autoscaler acted; the probes, which ask
        # no API, run every cycle whatever
        given = settings.value("SCALINGLISTINTERVAL")
        cloudhost = settings.value("CLOUDHOST") or "local"
        self.list_interval = float(given) if given else (0.0 if cloudhost == "local" else LIST_INTERVAL)
        self._listed: Optional[Tuple[list, List[str]]] = None
        self._listed_at = 0.0
        self._acted = False
        self.memory: Optional[d.Memory] = None
        self.written: Dict[str, str] = {}  # the records as last written (name -> JSON)
        # admissions and destroys wait on other machines (a database machine's cron lock, a cloud's destroy):
        # they run beside the cycle, which goes on observing; each result is an event of its own
        self.background = ThreadPoolExecutor(4, thread_name_prefix="autoscaler")
        self.waiting = False  # the last cycle found the fleet not built (or scaling switched off)
        self.lock = threading.Lock()
        self.public: Dict[str, str] = {}  # each webserver's public address by its private one, as last listed

    # -- the edges, made when first needed -----------------------------------------------------------------------
    @property
    def driver(self):
        if self._driver is None:
            from adt import cloud

            url, token = self.settings.value("CLOUDAPIURL"), self.settings.value("CLOUDAPITOKEN")
            cloudhost = self.settings.require("CLOUDHOST")
            if cloudhost == "local" and not url:
                raise AdtError("CLOUDAPIURL is not in this autoscaler's settings", "the build sets it (rebuild)")
            if cloudhost == "local":
                self._driver = cloud.driver(cloudhost, api_url=url, api_token=token)
            else:  # the provider's API with the account's credentials, as the original's autoscaler has them
                self._driver = cloud.driver_for(cloudhost, self.settings.mapping())
        return self._driver

    @property
    def dns(self):
        if self._dns is None:
            from adt.dns import provider

            self._dns = provider(self.settings.mapping())
        return self._dns

    @property
    def store(self):
        if self._store is None:
            from adt.datastore.config import ConfigDatastore

            self._store = ConfigDatastore.from_settings(self.settings)
        return self._store

    def desired(self) -> int:
        """The count in force (the schedule's, else the profile's), capped by MAXWEBSERVERS and the hard limit."""
        from adt.scaling import profile

        count: Optional[int]
        if self._desired is not None:
            count = self._desired()
        else:
            count = profile.Profile.from_settings(self.settings).count_in_force(self.number)
        if count is None:  # no profile yet: the build's count, split as the build splits it
            total = int(self.settings.value("NOWEBSERVERS") or "1")
            autoscalers = max(1, int(self.settings.value("NOAUTOSCALERS") or "1"))
            count = profile.split(total, autoscalers)[self.number - 1] if self.number <= autoscalers else 0
        return profile.desired(count, profile.max_webservers(self.settings))

    # -- memory ----------------------------------------------------------------------------------------------
    def load(self) -> d.Memory:
        """The memory as the datastore holds it (what a restarted autoscaler takes up)."""
        if self.memory is not None:
            return self.memory
        webservers = {}
        with tempfile.TemporaryDirectory(prefix="adt-scaling-") as scratch:
            for entry in self.store.list(RECORDS + self.prefix):
                target = Path(scratch) / "record"
                name = entry.key.rsplit("/", 1)[-1]
                if not self.store.get(entry.key, target):
                    continue
                try:
                    record = d.Webserver.from_json(json.loads(target.read_text()))
                except (ValueError, TypeError) as error:
                    raise AdtError(f"the scaling record {entry.key} is not one adt reads: {error}") from None
                webservers[name] = record
                self.written[name] = json.dumps(record.to_json(), sort_keys=True)
            state = Path(scratch) / "state"
            memory = d.Memory(webservers)
            if self.store.get(f"{RECORDS}autoscaler-{self.number}", state):
                saved = json.loads(state.read_text())
                memory = d.Memory(
                    webservers, int(saved["batch"]), int(saved["errors"]), float(saved["retry_at"]), saved["breaker"]
                )
            self.written["autoscaler"] = self._state_json(memory)
        self.memory = memory
        return memory

    @staticmethod
    def _state_json(memory: d.Memory) -> str:
        return json.dumps(
            {"batch": memory.batch, "errors": memory.errors, "retry_at": memory.retry_at, "breaker": memory.breaker},
            sort_keys=True,
        )

    def record(self, memory: d.Memory) -> None:
        """Write the changed entries (new first: an intent is recorded before its create), drop the forgotten."""
        for name, webserver in sorted(memory.webservers.items()):
            text = json.dumps(webserver.to_json(), sort_keys=True)
            if self.written.get(name) != text:
                self._put(RECORDS + name, text)
                self.written[name] = text
        state = self._state_json(memory)
        if self.written.get("autoscaler") != state:
            self._put(f"{RECORDS}autoscaler-{self.number}", state)
            self.written["autoscaler"] = state
        for name in sorted(set(self.written) - set(memory.webservers) - {"autoscaler"}):
            self.store.delete(RECORDS + name)
            del self.written[name]
        self.memory = memory

    def _put(self, key: str, text: str) -> None:
        with tempfile.NamedTemporaryFile("w", prefix="adt-scaling-", delete=False) as scratch:
            scratch.write(text)
        try:
            self.store.put(key, Path(scratch.name))
        finally:
            os.unlink(scratch.name)

    # -- observe ---------------------------------------------------------------------------------------------
    def observe(self, memory: d.Memory) -> "Observation":
        """What the cloud lists for this autoscaler, probed; the stray DNS addresses; whether another
        autoscaler's webserver serves the site (asked only when one of ours does not)."""
        everyone, dns_ips = self.listings(memory)
        servers = [s for s in everyone if s.name.startswith(self.build_prefix)]
        # a webserver is known by its private address (it publishes that one, the probes use it); the round robin
        # holds its public one (the same on `local`)
        self.public = {s.private_ip: s.public_ip or s.private_ip for s in everyone}
        private = {public: ip for ip, public in self.public.items()}
        in_dns = {private.get(ip, ip) for ip in dns_ips}
        published = {e.key.rsplit("/", 1)[-1] for e in self.store.list("webserverips/")}
        mine = [s for s in servers if s.name.startswith(self.prefix)]
        ssh_port = int(self.settings.value("SSHPORT") or "22")

        def probe(server) -> d.Seen:
            known = memory.webservers.get(server.name)
            ip = server.private_ip
            running = server.status == "running"
            seen = d.Seen(server.name, ip, running, ip in published, in_dns=ip in in_dns)
            if running and known is not None and known.state in d.PROBED:
                alive = sshd_answers(ip, ssh_port, self.probe_timeout) and web_answers(
                    ip, self.probe_timeout, self.website, self.tls
                )
                ready = alive and serves(ip, self.website, self.probe_timeout * 2, self.tls)
                seen = dataclasses.replace(seen, alive=alive, ready=ready)
            elif running and known is None and ip in published:  # adopted: probed at once
                ready = serves(ip, self.website, self.probe_timeout * 2, self.tls)
                seen = dataclasses.replace(seen, alive=True if ready else None, ready=ready)
            return seen

        with ThreadPoolExecutor(max(1, min(16, len(mine)))) as pool:
            seen = {s.name: s for s in pool.map(probe, mine)}
        # a record no webserver has is stray; another fleet's (one being replaced by this one) is left alone
        webserver_ips = {s.private_ip for s in everyone} | {s.public_ip for s in everyone}
        stray = sorted(in_dns - webserver_ips)
        elsewhere = False
        if any(s.ready is False for s in seen.values()):  # is the site served by another autoscaler's webserver?
            others = sorted(in_dns & {s.private_ip for s in servers if not s.name.startswith(self.prefix)})
            elsewhere = any(serves(ip, self.website, self.probe_timeout * 2, self.tls) for ip in others[:3])
        return Observation(seen, stray, elsewhere)

    def listings(self, memory: d.Memory) -> Tuple[list, List[str]]:
        """(every fleet's webservers as the cloud lists them: one listing; the website's DNS addresses), listed
        again when list_interval has passed, a webserver of ours is in flight, or this autoscaler has acted."""
        now = self.clock()
        moving = any(w.state in IN_FLIGHT for w in memory.webservers.values())
        if self._listed is None or moving or self._acted or now - self._listed_at >= self.list_interval:
            self._listed = (self.driver.list_servers("ws-"), self.dns.ips(self.website))
            self._listed_at, self._acted = now, False
        return self._listed

    def may_act(self) -> bool:
        """The fleet is built (INSTALLED_SUCCESSFULLY) and scaling is not switched off (SWITCH_OFF_SCALING)."""
        return self.store.check("INSTALLED_SUCCESSFULLY") and not self.store.check("SWITCH_OFF_SCALING")

    def plan(self) -> d.Decision:
        """What the next cycle would do: observed and decided, nothing recorded or done."""
        memory = self.load()
        o = self.observe(memory)
        return self.decide(memory, o)

    def decide(self, memory: d.Memory, o: "Observation") -> d.Decision:
        return d.decide(
            memory, o.seen, self.desired(), self.clock(), self.policy, self._namer(o.seen), o.stray, o.elsewhere
        )

    def _namer(self, seen) -> Callable[[], str]:
        server_user = self.settings.require("SERVERUSER")

        def name() -> str:
            for _ in range(20):
                candidate = fresh_name(self.prefix, server_user)
                if candidate not in seen:
                    return candidate
            return ""

        return name

    # -- one cycle -------------------------------------------------------------------------------------------
    def step(self) -> d.Decision:
        with self.lock:
            if not self.may_act():  # nothing observed either: the build may not have admitted us to its DNS yet
                if not self.waiting:
                    self.event("", "wait", "the fleet is not built yet, or SWITCH_OFF_SCALING is set", "nothing done")
                self.waiting = True
                return d.Decision(self.memory or d.Memory(), [], [])
            self.waiting = False
            memory = self.load()
            o = self.observe(memory)
            decision = self.decide(memory, o)
            for t in decision.transitions:
                self.event(t.name, "transition", f"{t.before or 'new'} -> {t.after or 'gone'}: {t.reason}", "")
            self.record(decision.memory)
            for action in decision.actions:
                self.act(action)
            return decision

    def act(self, action: d.Action) -> None:
        self._acted = True  # the next cycle lists the cloud and the DNS again
        try:
            result = getattr(self, "_" + action.kind.replace("-", "_"))(action)
        except AdtError as error:
            result = f"failed: {error.message}"
        except Exception as error:  # noqa: BLE001 - the cycle goes on; the event says what failed
            result = f"failed: {type(error).__name__}: {error}"
        self.event(action.name, action.kind, action.reason, result or "done", ip=action.ip)

    def _create(self, action: d.Action) -> str:
        from adt.cloud.base import first_boot

        runtime = self.home / "runtime" / "cloud-init"
        settings = (runtime / "webserver_configuration_settings.dat").read_text()
        user_data = first_boot("webserver", self.settings.require("SERVERUSER"), settings)
        if (runtime / "install.json").exists():  # on a provider: what installs adt on the new machine
            install = json.loads((runtime / "install.json").read_text())
            user_data.install = [list(c) for c in install["install"]]
            user_data.files.update({path: (text, mode) for path, (text, mode) in install["files"].items()})
        key = (runtime / "authorized_key.pub").read_text().strip()
        image = self.settings.value("WEBSERVERIMAGE") or None
        size = self.settings.value("WSSERVERTYPE") or "local"
        ok = False
        try:
            server = self.driver.create_server(
                action.name, size, user_data, int(self.settings.value("SSHPORT") or "22"), key, image=image
            )
            ok = True
            return f"created at {server.private_ip}"
        finally:
            assert self.memory is not None
            self.memory = d.after_create(self.memory, action.name, ok, self.clock(), self.policy)
            if not ok:
                try:  # it may exist all the same (a time-out): ended now, forgotten once the cloud no longer lists it
                    self.driver.destroy_server(action.name)
                except Exception:  # noqa: BLE001 - the next cycles retry the destroy
                    pass
            self.record(self.memory)

    def _admit(self, action: d.Action) -> str:
        """The database machine's firewall and the native firewall admit the booted webserver: in the background
        (the database machine's reconcile may wait for its cron's), its result an event of its own."""
        self.background.submit(self._admit_now, action)
        return "started"

    def _admit_now(self, action: d.Action) -> None:
        from adt import remote
        from adt.run import run

        said = []
        refresh = getattr(self.driver, "refresh_firewall", None)
        if refresh is not None:
            try:
                said.append(f"native: {len(refresh(self.build))} machines")
            except Exception as error:  # noqa: BLE001
                said.append(f"native failed: {error}")
        key = self.build_key()
        for entry in self.store.list("databaseip/"):
            ip = entry.key.rsplit("/", 1)[-1]
            target = remote.Target(
                ip, int(self.settings.value("SSHPORT") or "22"), str(key), str(self.home / ".ssh" / "known_hosts_adt")
            )
            result = run(remote.ssh(target, ["adt", "firewall", "reconcile", "--wait", "60"]), check=False, timeout=90)
            said.append(f"database {ip}: " + ("reconciled" if result.returncode == 0 else result.stderr.strip()[-200:]))
        self.event(action.name, "admitted", action.reason, "; ".join(said) or "nothing to admit it", ip=action.ip)

    def build_key(self) -> Path:
        algorithm = self.settings.value("ALGORITHM") or "ed25519"
        return self.home / ".ssh" / f"id_{algorithm}_AGILE_DEPLOYMENT_BUILD_KEY_{self.build}"

    def _dns_add(self, action: d.Action) -> str:
        ttl = int(self.settings.value("DNSTTL") or "60")
        return "added" if self.dns.add(self.website, self.public.get(action.ip, action.ip), ttl) else "already there"

    def _dns_remove(self, action: d.Action) -> str:
        ip = self.public.get(action.ip, action.ip)
        return "removed" if self.dns.delete(self.website, ip) else "was not there"

    def _destroy(self, action: d.Action) -> str:
        """Asked of the cloud in the background (a destroy takes seconds); the next cycles see it gone, or ask
        again after the policy's destroy_retry."""
        self.background.submit(self._destroy_now, action)
        return "started"

    def _destroy_now(self, action: d.Action) -> None:
        try:
            self.driver.destroy_server(action.name)
            self._unpublish(action.ip)
            refresh = getattr(self.driver, "refresh_firewall", None)
            if refresh is not None:
                refresh(self.build)
            result = "done"
        except Exception as error:  # noqa: BLE001 - retried by a later cycle
            result = f"failed: {getattr(error, 'message', error)}"
        self.event(action.name, "destroyed", action.reason, result, ip=action.ip)

    def _forget(self, action: d.Action) -> str:
        self._unpublish(action.ip)
        return "forgotten"

    def _unpublish(self, ip: str) -> None:
        if ip:
            for key in (f"webserverips/{ip}", f"webserverpublicips/{ip}", f"beenonline/{ip}"):
                self.store.delete(key)

    def _alarm(self, action: d.Action) -> str:
        return "raised"

    # -- the event log ---------------------------------------------------------------------------------------
    def event(self, webserver: str, action: str, reason: str, result: str, ip: str = "") -> None:
        entry = {
            "time": round(self.clock(), 3),
            "autoscaler": self.number,
            "webserver": webserver,
            "ip": ip,
            "action": action,
            "reason": reason,
            "result": result,
        }
        self.events.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.events.stat().st_size > EVENTS_KEPT:  # one older generation is kept, as `<log>.1`
                os.replace(self.events, self.events.with_name(self.events.name + ".1"))
        except FileNotFoundError:
            pass
        with open(self.events, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry, sort_keys=True) + "\n")

    # -- the service -----------------------------------------------------------------------------------------
    def run(self, interval: float, stop: Optional[threading.Event] = None, cycles: Optional[int] = None) -> None:
        """Cycle every `interval` seconds until `stop` is set (or `cycles` ran). A cycle that fails (the datastore
        or the cloud unreachable) is an event, and the next one starts afresh from the datastore's records."""
        stop = stop or threading.Event()
        done = 0
        while not stop.is_set() and (cycles is None or done < cycles):
            started = time.monotonic()
            try:
                self.step()
            except Exception as error:  # noqa: BLE001 - the service outlives a bad cycle
                self.event("", "cycle", "the cycle failed", f"{type(error).__name__}: {error}")
                self.memory = None  # taken up again from the records
                self.written = {}
            done += 1
            stop.wait(max(0.0, interval - (time.monotonic() - started)))
        self.background.shutdown(wait=True)


def read_events(path: Path = EVENTS, last: int = 0) -> List[dict]:
    """The event log's entries, oldest first (the `last` ones when given); lines that are not JSON skipped."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries[-last:] if last else entries


def describe(decision: d.Decision) -> Sequence[str]:
    """A plan, one line per action and transition, as `adt autoscaler plan` prints it."""
    lines = [f"{t.name}: {t.before or 'new'} -> {t.after or 'gone'} ({t.reason})" for t in decision.transitions]
    lines += [f"{a.kind} {a.name or a.ip}{' ' + a.ip if a.name and a.ip else ''}: {a.reason}" for a in decision.actions]
    return lines or ["nothing to do"]
