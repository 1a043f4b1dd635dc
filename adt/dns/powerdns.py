"""PowerDNS Authoritative (gsqlite3) as the DNS of the `local` cloud host: its HTTP API client and the server
adt starts and supervises on the build machine's bridge address.

The round robin is one A rrset for WEBSITEURL. PowerDNS 4.7's API changes an rrset only whole (PATCH with
REPLACE or DELETE), so adding or removing one address reads the rrset, writes the new whole set, and reads it
back: a concurrent writer's change lost in between is seen and the write is done again. The TXT records of a name
(ACME's `_acme-challenge.<WEBSITEURL>`) are one TXT rrset, replaced whole in one PATCH, each record's content an
RFC 1035 quoted string (the value with its double quotes), as PowerDNS wants it. The API key travels only
in the X-API-Key header and sits only in 0600 files (pdns.conf, api-key); never in argv or a log.

The server's files stay in its own directory (config, sqlite database, control socket, log, state), caches are
off (an API change is in every answer at once), security polling is off (no Internet lookups) and it listens on
one given address, never on every one.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from adt import run
from adt.dns.base import (
    ACME_LABEL,
    DEFAULT_TTL,
    DnsProvider,
    Record,
    checked_label,
    checked_txt_values,
    quote_txt,
    txt_name,
)
from adt.errors import AdtError
from adt.fs import write_atomically

SERVER_PATH = "/api/v1/servers/localhost"
SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
WRITE_ATTEMPTS = 3
HINTS = {
    401: "the API key (DNS_SECURITY_KEY, DNSSECURITYKEY on machines) is not the server's",
    403: "this address is not in the server's webserver-allow-from (the build allows the autoscalers)",
    404: "no such zone: the build creates it",
    422: "PowerDNS refused the data; check WEBSITEURL and the address",
}


# -- pure: names and payloads -----------------------------------------------------------------------
def canonical(name: str) -> str:
    """A DNS name as PowerDNS's API wants it: lower case, one trailing dot."""
    return name.strip().rstrip(".").lower() + "."


def checked_ip(ip: str) -> str:
    """An IPv4 address in its normal form, or an AdtError naming it."""
    try:
        return str(ipaddress.IPv4Address(ip.strip()))
    except ValueError:
        raise AdtError(f"{ip!r} is not an IPv4 address", "give the webserver's address, like 10.0.0.7") from None


def replace_rrset(name: str, ips: Sequence[str], ttl: int = DEFAULT_TTL) -> Dict[str, Any]:
    """The PATCH body that makes name's A rrset exactly these addresses (none: the rrset goes)."""
    if not ips:
        return {"rrsets": [{"name": canonical(name), "type": "A", "changetype": "DELETE"}]}
    records = [{"content": ip, "disabled": False} for ip in ips]
    return {
        "rrsets": [{"name": canonical(name), "type": "A", "ttl": int(ttl), "changetype": "REPLACE", "records": records}]
    }


def replace_txt_rrset(name: str, values: Sequence[str], ttl: int = DEFAULT_TTL) -> Dict[str, Any]:
    """The PATCH body that makes name's TXT rrset exactly these raw values, quoted (none: the rrset goes)."""
    if not values:
        return {"rrsets": [{"name": canonical(name), "type": "TXT", "changetype": "DELETE"}]}
    records = [{"content": quote_txt(value), "disabled": False} for value in values]
    return {
        "rrsets": [
            {"name": canonical(name), "type": "TXT", "ttl": int(ttl), "changetype": "REPLACE", "records": records}
        ]
    }


def txt_contents(zone: Dict[str, Any], name: str) -> List[str]:
    """The contents (quoted, as PowerDNS keeps them) of name's enabled TXT records in a zone as the API returns it."""
    wanted = canonical(name)
    return [
        record["content"]
        for rrset in zone.get("rrsets", [])
        if rrset.get("name") == wanted and rrset.get("type") == "TXT"
        for record in rrset.get("records", [])
        if not record.get("disabled")
    ]


def zone_body(zone: str) -> Dict[str, Any]:
    """The POST body of a new zone (Native: no replication; no NS records needed for answers)."""
    return {"name": canonical(zone), "kind": "Native", "nameservers": []}


def records_of(zone: Dict[str, Any], name: str) -> List[Record]:
    """The enabled A records of name in a zone as the API returns it; a record's id is its address (PowerDNS
    has no record ids)."""
    wanted = canonical(name)
    found = []
    for rrset in zone.get("rrsets", []):
        if rrset.get("name") == wanted and rrset.get("type") == "A":
            for record in rrset.get("records", []):
                if not record.get("disabled"):
                    ip = record["content"]
                    found.append(Record(ip, wanted.rstrip("."), ip, int(rrset.get("ttl", DEFAULT_TTL))))
    return found


def pdns_conf(directory: Path, ip: str, dns_port: int, api_port: int, key: str, allow_from: Iterable[str]) -> str:
    """The whole pdns.conf of a server kept in directory (the recipe of reference/components.md §11a)."""
    lines = [
        "launch=gsqlite3",
        f"gsqlite3-database={directory / 'pdns.sqlite3'}",
        f"local-address={ip}",
        f"local-port={dns_port}",
        "api=yes",
        f"api-key={key}",
        "webserver=yes",
        f"webserver-address={ip}",
        f"webserver-port={api_port}",
        f"webserver-allow-from={','.join(allow_from)}",
        f"socket-dir={directory}",
        "daemon=no",
        "guardian=no",
        "security-poll-suffix=",
        "cache-ttl=0",
        "query-cache-ttl=0",
        "negquery-cache-ttl=0",
        "zone-cache-refresh-interval=0",
        "disable-axfr=yes",
    ]
    return "\n".join(lines) + "\n"


def listen_address(ip: str) -> str:
    """The one address the server listens on: a unicast IPv4 address, never 0.0.0.0."""
    address = checked_ip(ip)
    if ipaddress.IPv4Address(address).is_unspecified:
        raise AdtError("PowerDNS must listen on one address, not 0.0.0.0", "give the build machine's bridge address")
    return address


def allow_list(ip: str, extra: Iterable[str] = ()) -> List[str]:
    """webserver-allow-from: the server's own address, then each given address (/32) or network, once each."""
    nets: List[str] = []
    for item in (ip, *extra):
        try:
            net = str(ipaddress.ip_network(item.strip() if "/" in item else f"{item.strip()}/32", strict=False))
        except ValueError:
            raise AdtError(f"{item!r} is not an address or a network", "give addresses like 10.0.0.5") from None
        if net not in nets:
            nets.append(net)
    return nets


# -- the API client ---------------------------------------------------------------------------------
class PowerDnsApi:
    """PowerDNS's HTTP API at url (http://<ip>:<port>), the key in a header. Reads always run; in a dry run a
    write prints `would call: …` and sends nothing."""

    def __init__(self, url: str, key: str, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self._key = key
        self.timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy

    def call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        """One request; the decoded JSON answer (None when empty), or an AdtError naming status and message."""
        if method != "GET" and run.dry_run():
            run.announce(f"{method} {self.url}{path}{' ' + json.dumps(body) if body else ''}", kind="call")
            return None
        request = urllib.request.Request(
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"X-API-Key": self._key, "Accept": "application/json", "Content-Type": "application/json"},
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                text = answer.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            message = _message(error.read().decode("utf-8", "replace")) or error.reason
            raise AdtError(
                f"PowerDNS at {self.url} answered {error.code} to {method} {path}: {message}",
                HINTS.get(error.code, ""),
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise AdtError(
                f"cannot reach PowerDNS at {self.url}: {reason}",
                "is the build's PowerDNS running (DNS_API_URL, DNSAPIURL on machines)?",
            ) from None
        return json.loads(text) if text.strip() else None

    def ping(self) -> bool:
        self.call("GET", SERVER_PATH)
        return True

    def zone(self, zone: str) -> Optional[Dict[str, Any]]:
        """The zone with its rrsets, or None when the server has no such zone."""
        try:
            return self.call("GET", f"{SERVER_PATH}/zones/{canonical(zone)}")
        except AdtError as error:
            if " answered 404 " in error.message or "Could not find domain" in error.message:
                return None
            raise

    def ensure_zone(self, zone: str) -> str:
        """The zone's id, creating the zone when it is missing."""
        if self.zone(zone) is None:
            self.call("POST", f"{SERVER_PATH}/zones", zone_body(zone))
        return canonical(zone).rstrip(".")

    def patch(self, zone: str, body: Dict[str, Any]) -> None:
        self.call("PATCH", f"{SERVER_PATH}/zones/{canonical(zone)}", body)


def _message(text: str) -> str:
    try:
        decoded = json.loads(text)
        return str(decoded.get("error", "")) if isinstance(decoded, dict) else ""
    except ValueError:
        return text.strip()[:200]


class PowerDnsProvider(DnsProvider):
    """The DnsProvider over a PowerDNS API: zones by name, the round robin as one A rrset."""

    choice = "powerdns"

    def __init__(self, api: PowerDnsApi):
        self.api = api

    def find_zone(self, zone: str) -> str:
        found = self.api.zone(zone)
        return found["name"].rstrip(".") if found else ""

    def _zone(self, websiteurl: str) -> Dict[str, Any]:
        zone = self.zone_id(websiteurl)
        found = self.api.zone(zone)
        if found is None:  # removed since zone_id looked
            raise AdtError(f"the powerdns DNS has no zone {zone} (for {websiteurl})", "run the build again")
        return found

    def records(self, websiteurl: str) -> List[Record]:
        return records_of(self._zone(websiteurl), websiteurl)

    def _write(self, websiteurl: str, ip: str, present: bool, ttl: int) -> bool:
        ip = checked_ip(ip)
        zone = self.zone_id(websiteurl)
        changed = False
        for _ in range(WRITE_ATTEMPTS):
            current = records_of(self._zone(websiteurl), websiteurl)
            ips = [r.ip for r in current]
            if (ip in ips) == present:
                return changed
            wanted = ips + [ip] if present else [i for i in ips if i != ip]
            keep_ttl = current[0].ttl if current and not present else ttl
            self.api.patch(zone, replace_rrset(websiteurl, wanted, keep_ttl))
            changed = True
            if run.dry_run():
                return changed
        raise AdtError(
            f"{'adding' if present else 'removing'} {ip} for {websiteurl} did not hold after {WRITE_ATTEMPTS} writes",
            "another writer keeps changing the rrset; try again",
        )

    def add(self, websiteurl: str, ip: str, ttl: int = DEFAULT_TTL) -> bool:
        return self._write(websiteurl, ip, True, ttl)

    def delete(self, websiteurl: str, ip: str) -> bool:
        return self._write(websiteurl, ip, False, DEFAULT_TTL)

    # -- TXT: one rrset, replaced whole in one PATCH --------------------------------------------------
    txt_quoted = True

    def _txt_list(self, websiteurl: str, label: str) -> List[Tuple[str, str]]:
        return [(content, content) for content in txt_contents(self._zone(websiteurl), txt_name(websiteurl, label))]

    def set_txt(self, websiteurl: str, values: Sequence[str], label: str = ACME_LABEL, ttl: int = DEFAULT_TTL) -> None:
        wanted = checked_txt_values(values)
        label = checked_label(label)
        self.api.patch(self.zone_id(websiteurl), replace_txt_rrset(txt_name(websiteurl, label), wanted, ttl))
        if not run.dry_run():
            self._txt_check(websiteurl, label, wanted)

    def wait_visible(self, websiteurl, values, label=ACME_LABEL, timeout=120.0, progress=lambda _: None) -> bool:
        """Nothing to wait for: an API change is in every answer at once (this server's caches are off)."""
        return True

    def delete_txt(self, websiteurl: str, label: str = ACME_LABEL) -> None:
        self.set_txt(websiteurl, [], label)


# -- the supervised server --------------------------------------------------------------------------
class PowerDnsServer:
    """A pdns_server whose every file is in `directory`: pdns.conf and api-key (0600), pdns.sqlite3, the
    control socket, pdns.log and state.json (pid, ip, ports, url; 0600). The data and the key outlive a stop."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.state_file = self.directory / "state.json"
        self.key_file = self.directory / "api-key"
        self.log_file = self.directory / "pdns.log"

    # -- facts --------------------------------------------------------------------------------------
    @property
    def state(self) -> Optional[Dict[str, Any]]:
        """The running server's facts, or None when it does not run."""
        return run.recorded(self.state_file, self._recognised)

    def api_key(self) -> str:
        try:
            return self.key_file.read_text().strip()
        except FileNotFoundError:
            raise AdtError(f"no PowerDNS API key in {self.directory}", "start the server first") from None

    def api(self) -> PowerDnsApi:
        state = self.state
        if state is None:
            raise AdtError(f"PowerDNS in {self.directory} is not running", "run the build (it starts it)")
        return PowerDnsApi(state["url"], self.api_key())

    def command(self) -> List[str]:
        return ["pdns_server", f"--config-dir={self.directory}"]

    def _recognised(self, argv: List[bytes]) -> bool:
        return argv[0].endswith(b"pdns_server") and os.fsencode(self.command()[1]) in argv

    def _ours(self, pid: int) -> bool:
        """Whether pid is a live pdns_server of this directory (not a reused pid)."""
        argv = run.command_line(pid)
        return bool(argv) and self._recognised(argv)

    # -- life ---------------------------------------------------------------------------------------
    def start(
        self,
        ip: str,
        dns_port: int = 53,
        api_port: int = 8081,
        allow_from: Iterable[str] = (),
        timeout: float = 15.0,
    ) -> "PowerDnsServer":
        """Start the server on ip (DNS on dns_port, the API on api_port, reachable from ip itself and
        allow_from) and wait until its API answers. Already running on the same address and ports: nothing
        to do."""
        ip = listen_address(ip)
        allowed = allow_list(ip, allow_from)
        running = self.state
        if running:
            if (running["ip"], running["dns_port"], running["api_port"]) == (ip, dns_port, api_port):
                return self
            raise AdtError(
                f"PowerDNS in {self.directory} already runs on {running['ip']}:{running['dns_port']}",
                "stop it first",
            )
        if run.dry_run():
            run.spawn(self.command(), log_path=os.devnull, what="PowerDNS")
            return self
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        key = self.api_key() if self.key_file.exists() else secrets.token_hex(24)
        write_atomically(self.key_file, key + "\n", 0o600)
        write_atomically(
            self.directory / "pdns.conf", pdns_conf(self.directory, ip, dns_port, api_port, key, allowed), 0o600
        )
        database = self.directory / "pdns.sqlite3"
        if not database.exists():
            self._create_database(database)
        process = run.spawn(self.command(), log_path=str(self.log_file), process=True, what="PowerDNS")
        url = f"http://{ip}:{api_port}"
        state = {"pid": process.pid, "ip": ip, "dns_port": dns_port, "api_port": api_port, "url": url,
                 "allow_from": allowed}  # fmt: skip
        write_atomically(self.state_file, json.dumps(state), 0o600)
        api = PowerDnsApi(url, key, timeout=2.0)
        tail = lambda: self._log_tail(key)  # noqa: E731
        run.until_answering(process, api.ping, "pdns_server", tail, self.log_file, timeout, self.stop)
        return self

    def _create_database(self, database: Path) -> None:
        if not SCHEMA.is_file():
            raise AdtError(f"PowerDNS's sqlite schema {SCHEMA} is missing", "run 'make deps' (pdns-backend-sqlite3)")
        partial = database.with_name(database.name + ".new")
        partial.unlink(missing_ok=True)
        with sqlite3.connect(partial) as connection:
            connection.executescript(SCHEMA.read_text())
        connection.close()
        os.chmod(partial, 0o600)
        os.replace(partial, database)

    def _log_tail(self, key: str) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()[-3:]
        except FileNotFoundError:
            return "no log"
        return run.redact(" | ".join(lines), [key])

    def stop(self) -> None:
        """Stop the server (its own pid only, checked against its command line); data and key stay."""
        try:
            pid = int(json.loads(self.state_file.read_text()).get("pid", 0))
        except (FileNotFoundError, ValueError):
            return
        if self._ours(pid):
            run.terminate(pid)
        self.state_file.unlink(missing_ok=True)
        (self.directory / "pdns.controlsocket").unlink(missing_ok=True)

    def allow_api_from(self, ips: Iterable[str], timeout: float = 15.0) -> "PowerDnsServer":
        """Let these addresses (the autoscalers) reach the API too: the config is rewritten and the server
        restarted on the same address and ports, with the same key and data."""
        state = self.state
        if state is None:
            raise AdtError(f"PowerDNS in {self.directory} is not running", "start it first")
        allow_list(state["ip"], ips)  # bad input refused before the server stops
        self.stop()
        return self.start(state["ip"], state["dns_port"], state["api_port"], ips, timeout)

    def ensure_zone(self, zone: str) -> str:
        """The zone, created when missing; returns its id."""
        return self.api().ensure_zone(zone)
