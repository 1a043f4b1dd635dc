"""`adt status`: one build at a glance, from the build machine.

Why this shape: a status that stops at the first unreachable part tells least when it is needed most. So each
part (machines, DNS, TLS, backups, firewall layers, snapshots) is observed on its own and fails soft: what cannot be
seen is `Unavailable(reason)`, shown as "unavailable: <reason>", never a traceback. The observing side talks
to the cloud driver, the DNS provider, the datastore and each webserver's 443 (the certificate it serves against
the one the build issued); `report` (observations in, one JSON-ready dict out)
and `render` (that dict in, an aligned text table out) are pure, so both are tested without a fleet.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from adt.build.config import BuildConfig
from adt.errors import AdtError
from adt.ssl import pair, served

FIREWALL_LAYERS = {"0": [], "1": ["on-machine"], "2": ["native"], "3": ["on-machine", "native"]}
MACHINE_FIELDS = ("name", "role", "address", "public_address", "status")
RECORD_FIELDS = ("id", "name", "ip", "ttl")
SNAPSHOT_FIELDS = ("id", "name", "role", "source", "created", "size")
HTTPS_PORT = 443  # where `adt status` asks each webserver for the certificate it serves
TLS_TIMEOUT = 5.0  # seconds per webserver (asked all at once)


@dataclass(frozen=True)
class Unavailable:
    """A part that could not be observed, and why (one line)."""

    reason: str


Observed = Union[Unavailable, Any]


# -- the pure core: observations -> report -> text ------------------------------------------------------
def _iso(epoch: Optional[float]) -> Optional[str]:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fields(item: Any, names: Sequence[str]) -> Dict[str, Any]:
    """A mapping or an object (a dataclass, a named tuple) as a dict of `names` (absent ones None)."""
    if isinstance(item, Mapping):
        return {name: item.get(name) for name in names}
    return {name: getattr(item, name, None) for name in names}


def _section(observed: Observed, build: Callable[[Any], Dict[str, Any]]) -> Dict[str, Any]:
    return {"unavailable": observed.reason} if isinstance(observed, Unavailable) else build(observed)


def dns_view(records: Sequence[Mapping[str, Any]], live: Optional[Sequence[str]]) -> Dict[str, Any]:
    """The website's A records against the live webservers' addresses: listed (both), missing (live, no record),
    stale (a record, no live webserver). With the machines unknown (`live` None), only the records."""
    ips = [str(record["ip"]) for record in records]
    if live is None:
        return {"records": list(records), "listed": None, "missing": None, "stale": None}
    return {
        "records": list(records),
        "listed": sorted({ip for ip in ips if ip in live}),
        "missing": sorted({ip for ip in live if ip not in ips}),
        "stale": sorted({ip for ip in ips if ip not in live}),
    }


def backup_view(entry: Mapping[str, Any], now: float) -> Dict[str, Any]:
    """One archive: `state` is present, none (no such bucket or object) or "unavailable: <reason>"."""
    modified = entry.get("modified")
    state = entry.get("state") or ("present" if modified is not None else "none")
    return {
        "period": entry["period"],
        "kind": entry["kind"],
        "bucket": entry["bucket"],
        "key": entry["key"],
        "state": state,
        "modified": _iso(modified),
        "age_seconds": None if modified is None else max(0, int(now - modified)),
        "size": entry.get("size"),
    }


def snapshot_view(image: Any) -> Dict[str, Any]:
    """An image as the report shows it: `name` is its name or label, `created` a UTC time."""
    view = _fields(image, SNAPSHOT_FIELDS)
    if view["name"] is None:
        view["name"] = _fields(image, ("label",))["label"]
    if isinstance(view["created"], (int, float)):
        view["created"] = _iso(view["created"])
    return view


def _certificate(certificate: pair.Certificate) -> Dict[str, Any]:
    return {
        "serial": certificate.serial,
        "not_before": _iso(certificate.not_before.timestamp()),
        "not_after": _iso(certificate.not_after.timestamp()),
        "names": list(certificate.names),
        "issuer": certificate.issuer,
        "fingerprint": certificate.fingerprint,
    }


def tls_view(tls: Optional[Mapping[str, Any]], now: float) -> Dict[str, Any]:
    """The TLS section from its observation (see `observe_tls`; None: TLS off): the issued certificate (the
    build machine's copy) and, per running webserver, the certificate it serves against it (`served.compare`),
    with the addresses of each warning ("older than published", "expires within 7 d", "no TLS", ...)."""
    if not tls or not tls.get("in_use"):
        return {"in_use": False}
    moment = datetime.fromtimestamp(now, timezone.utc)
    issued = tls.get("issued")
    view: Dict[str, Any] = {"in_use": True, "serve_https": bool(tls.get("serve_https")), "path": tls.get("path")}
    if isinstance(issued, Unavailable):
        view["issued"] = {"unavailable": issued.reason}
    elif issued is None:
        view["issued"] = None
    else:
        view["issued"] = _certificate(issued)
        words, warning = served.expiry(issued, moment)
        view["issued"].update(state=words or "valid", warnings=[warning] if warning else [])
    webservers = tls.get("webservers") or []
    if isinstance(webservers, Unavailable):
        view["webservers"] = {"unavailable": webservers.reason}
        return view
    certificate = issued if isinstance(issued, pair.Certificate) else None
    found = tls.get("served", {})
    rows = served.compare({address: found.get(address) for _, address in webservers}, certificate, moment)
    items = []
    warnings: Dict[str, List[str]] = {}
    for (name, address), row in zip(webservers, rows):
        items.append(
            {
                "name": name,
                "address": address,
                "serial": row.serial,
                "expires": _iso(row.not_after.timestamp()) if row.not_after else None,
                "state": row.state,
                "warnings": list(row.warnings),
            }
        )
        for warning in row.warnings:
            warnings.setdefault(warning, []).append(address)
    view["webservers"] = {"items": items, "warnings": warnings}
    return view


def report(
    build: str,
    website: str,
    machines: Observed,
    dns: Observed,
    backups: Observed,
    active_firewalls: str,
    native: Observed,
    snapshots: Observed,
    now: float,
    autoscalers: Observed = (),
    tls: Observed = None,
) -> Dict[str, Any]:
    """The status of a build as one JSON-ready dict, from plain observations (each may be `Unavailable`):
    machines, a sequence of mappings or objects with name, role, address, public_address, status; dns, the
    website's records (id, name, ip, ttl); backups, mappings of period, kind (website|database), bucket, key,
    modified (epoch seconds or None), size, and state when it is neither present nor none; native, machine
    name -> the native rules applied to it (None: not applied); snapshots, images (id, name, role, source,
    created, size); autoscalers, mappings of name, address and either plan (`adt autoscaler plan --json` of
    that autoscaler: its count in force, its webservers' states, its next actions) and events (its latest
    decisions), or unavailable; tls, what `observe_tls` saw (None: TLS is off). Every section is a dict; one that
    could not be observed is {"unavailable": reason}."""
    machine_rows = None if isinstance(machines, Unavailable) else [_fields(m, MACHINE_FIELDS) for m in machines]
    live = None
    if machine_rows is not None:
        live = [
            m["public_address"] or m["address"]
            for m in machine_rows
            if m["role"] == "webserver" and m["status"] == "running"
        ]
    layers = FIREWALL_LAYERS.get(active_firewalls, [])
    firewall: Dict[str, Any] = {"active": active_firewalls, "layers": layers}
    if active_firewalls not in FIREWALL_LAYERS:
        firewall["unavailable"] = f"ACTIVE_FIREWALLS={active_firewalls!r} is not one of 0, 1, 2, 3"
    if "native" in layers:
        firewall["native"] = _section(
            native,
            lambda applied: {
                "in_use": True,
                "items": [
                    {"machine": name, "applied": rules is not None, "rules": rules}
                    for name, rules in sorted(applied.items())
                ],
            },
        )
        firewall["native"].setdefault("in_use", True)
    else:
        firewall["native"] = {"in_use": False}
    return {
        "build": build,
        "website": website,
        "generated": _iso(now),
        "machines": {"items": machine_rows} if machine_rows is not None else {"unavailable": machines.reason},
        "dns": _section(
            dns, lambda records: {"name": website, **dns_view([_fields(r, RECORD_FIELDS) for r in records], live)}
        ),
        "tls": _section(tls, lambda seen: tls_view(seen, now)),
        "backups": _section(backups, lambda entries: {"items": [backup_view(e, now) for e in entries]}),
        "firewall": firewall,
        "snapshots": _section(snapshots, lambda images: {"items": [snapshot_view(i) for i in images]}),
        "autoscalers": _section(autoscalers, lambda found: {"items": [dict(a) for a in found]}),
    }


def age(seconds: Optional[int]) -> str:
    """A short age: 45s, 12m, 5h, 3d."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def size(count: Optional[int]) -> str:
    """Bytes in the largest unit that keeps a number of at least 1: 512 B, 1.5 KiB, 3.2 GiB."""
    if count is None:
        return "-"
    value, unit = float(count), "B"
    for bigger in ("KiB", "MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> List[str]:
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]


def _heading(title: str, section: Mapping[str, Any]) -> List[str]:
    if "unavailable" in section:
        return [f"{title}: unavailable: {section['unavailable']}"]
    return [f"{title}:"]


def _render_tls(tls: Mapping[str, Any]) -> List[str]:
    if "unavailable" in tls:
        return _heading("tls", tls)
    if not tls.get("in_use"):
        return ["tls: off (no certificate issued for this build, SERVEHTTPS not on)"]
    lines = ["tls:"]
    issued = tls["issued"]
    if issued is None:
        lines.append(f"  issued: no certificate issued (none at {tls['path']})" if tls["path"] else "  issued: none")
    elif "unavailable" in issued:
        lines.append(f"  issued: unavailable: {issued['unavailable']}")
    else:
        lines.append(
            f"  issued: serial {issued['serial']}, expires {issued['not_after']} ({issued['state']}),"
            f" for {', '.join(issued['names']) or 'no DNS name'}"
        )
        if issued["warnings"]:
            lines.append(f"  the issued certificate {issued['state']}: renew it (adt ssl renew)")
    webservers = tls["webservers"]
    if "unavailable" in webservers:
        return lines + [f"  webservers: unavailable: {webservers['unavailable']}"]
    rows = [[w["address"], w["serial"], w["expires"], w["state"], w["name"]] for w in webservers["items"]]
    lines += _table(["address", "serial", "expires", "state", "name"], rows) if rows else ["  no running webservers"]
    for warning, addresses in webservers["warnings"].items():
        lines.append(f"  {warning}: {', '.join(addresses)}")
    if rows and not webservers["warnings"] and issued and "unavailable" not in issued:
        lines.append("  every running webserver serves the issued certificate")
    return lines


def render(status: Mapping[str, Any]) -> str:
    """The report as text for a terminal: one block per section, columns aligned."""
    lines = [f"build {status['build']} ({status['website'] or 'no WEBSITE_URL'}) at {status['generated']}", ""]

    machines = status["machines"]
    lines += _heading("machines", machines)
    if "items" in machines:
        rows = [[m["role"], m["address"], m["status"], m["name"]] for m in machines["items"]]
        lines += _table(["role", "address", "state", "name"], rows) if rows else ["  none"]

    dns = status["dns"]
    lines += [""] + _heading(f"dns {status['website']}".rstrip(), dns)
    if "records" in dns:
        rows = [[r["ip"], r["ttl"], r["id"]] for r in dns["records"]]
        lines += _table(["address", "ttl", "id"], rows) if rows else ["  no records"]
        if dns["listed"] is None:
            lines.append("  live webservers unknown: records not compared")
        else:
            for word in ("missing", "stale"):
                if dns[word]:
                    lines.append(f"  {word}: {', '.join(dns[word])}")
            if not dns["missing"] and not dns["stale"]:
                lines.append("  every live webserver is listed, and nothing else")

    lines += [""] + _render_tls(status.get("tls", {"in_use": False}))

    backups = status["backups"]
    lines += [""] + _heading("backups", backups)
    if "items" in backups:
        rows = [
            [b["period"], b["kind"], b["state"], age(b["age_seconds"]), size(b["size"]), f"{b['bucket']}/{b['key']}"]
            for b in backups["items"]
        ]
        lines += _table(["period", "kind", "state", "age", "size", "archive"], rows)

    firewall = status["firewall"]
    layers = ", ".join(firewall["layers"]) or "none"
    lines += [""] + _heading(f"firewall (ACTIVE_FIREWALLS={firewall['active']}: {layers})", firewall)
    native = firewall["native"]
    if not native.get("in_use"):
        lines.append("  native: not in use")
    elif "unavailable" in native:
        lines.append(f"  native: unavailable: {native['unavailable']}")
    else:
        rows = [[n["machine"], "applied" if n["applied"] else "NOT APPLIED", n["rules"]] for n in native["items"]]
        lines += _table(["machine", "native", "rules"], rows) if rows else ["  native: no machines"]

    snapshots = status["snapshots"]
    lines += [""] + _heading("snapshots", snapshots)
    if "items" in snapshots:
        rows = [[i["role"], i["name"], i["created"], size(i["size"]), i["id"]] for i in snapshots["items"]]
        lines += _table(["role", "name", "created", "size", "id"], rows) if rows else ["  none"]

    autoscalers = status.get("autoscalers", {"items": []})
    lines += [""] + _heading("autoscalers", autoscalers)
    for a in autoscalers.get("items", []):
        if "unavailable" in a:
            lines.append(f"  {a['name']} {a['address']}: unavailable: {a['unavailable']}")
            continue
        plan = a["plan"]
        states = plan.get("webservers", {})
        lines.append(f"  {a['name']} {a['address']}: keeps {plan.get('desired')} webservers (the count in force)")
        lines += [f"    {name}: {state}" for name, state in sorted(states.items())]
        next_steps = [f"{x['kind']} {x['name'] or x['ip']}: {x['reason']}" for x in plan.get("actions", [])]
        lines += [f"    next: {step}" for step in next_steps] or ["    next: nothing to do"]
        for event in a.get("events", []):
            when = _iso(event.get("time"))
            lines.append(f"    {when} {event.get('webserver') or '-'} {event.get('action')}: {event.get('result')}")
    if "items" in autoscalers and not autoscalers["items"]:
        lines.append("  none")
    return "\n".join(lines) + "\n"


# -- observing (side effects; each part on its own, failing soft) -----------------------------------------
def observe_autoscalers(config: BuildConfig, driver, last: int = 5) -> List[Dict[str, Any]]:
    """Each running autoscaler's plan and latest events, asked over ssh (one call each); one that does not
    answer is listed as unavailable, the others still shown."""
    import json

    from adt.build import fleet
    from adt.run import run

    found: List[Dict[str, Any]] = []
    for machine in fleet.running_machines(config, "autoscaler", driver):
        entry: Dict[str, Any] = {"name": machine.name, "address": machine.address}
        script = f"adt autoscaler plan --json && echo '-- events' && adt autoscaler events --json --last {last}"
        result = run(
            fleet.execute_command(config.target("autoscaler", machine.address), script), check=False, timeout=60
        )
        plan_text, marker, events_text = result.stdout.partition("-- events\n")
        said = (result.stderr or result.stdout).strip().splitlines()
        if result.returncode != 0 or not marker:
            entry["unavailable"] = said[-1] if said else f"ssh exited {result.returncode}"
        else:
            try:
                entry["plan"] = json.loads(plan_text)
                entry["events"] = [json.loads(line) for line in events_text.splitlines() if line.strip()]
            except ValueError as error:
                entry["unavailable"] = f"an answer adt cannot read: {error}"
        found.append(entry)
    return found


def soft(observe: Callable[[], Any]) -> Observed:
    """What `observe` returns, or Unavailable with its reason in one line (never a traceback)."""
    try:
        return observe()
    except AdtError as error:
        return Unavailable(error.message)
    except NotImplementedError as error:
        return Unavailable(str(error) or "not implemented by this cloud host")
    except Exception as error:  # an unreachable part is one line of the report, whatever went wrong
        return Unavailable(f"{type(error).__name__}: {error}".splitlines()[0])


def observe_machines(config: BuildConfig, driver) -> List[Dict[str, Any]]:
    from adt.cloud.base import role_of

    return [
        {
            "name": s.name,
            "role": role_of(s.name),
            "address": s.private_ip,
            "public_address": s.public_ip,
            "status": s.status,
        }
        for s in sorted(config.servers(driver), key=lambda s: (role_of(s.name), s.name))
    ]


def observe_dns(config: BuildConfig) -> Observed:
    """The website's records from the build's DNS provider (adt.dns, loaded only when it is there)."""
    if importlib.util.find_spec("adt.dns") is None:
        return Unavailable("no DNS")
    state = None
    if config.cloudhost == "local":
        from adt.build.development import dns_home

        state = dns_home(config.driver())
        if not state.is_dir() or config.value("DNS_CHOICE") != "powerdns":
            return Unavailable("no DNS")
    dns = importlib.import_module("adt.dns")
    return dns.provider(config.values, state).records(config.value("WEBSITE_URL"))


def observe_backups(config: BuildConfig) -> List[Dict[str, Any]]:
    """The live archive of each period, website and database: its LastModified and size (head_object only).
    An endpoint that does not answer stops here (one reason for the whole part, not one wait per archive)."""
    from botocore.exceptions import ClientError

    from adt.backup.database import website_name
    from adt.backup.publish import PERIODS
    from adt.backup.website import ARCHIVE
    from adt.datastore.client import s3_client
    from adt.datastore.naming import backup_bucket

    config.require("WEBSITE_URL")
    url = config.value("WEBSITE_URL")
    client = s3_client(config.endpoint(), "config")
    found = []
    for period in PERIODS:
        for kind, database, key in (
            ("website", False, ARCHIVE),
            ("database", True, f"{website_name(url)}-DB-backup.tar.gz"),
        ):
            entry: Dict[str, Any] = {
                "period": period,
                "kind": kind,
                "bucket": backup_bucket(url, period, database=database),
                "key": key,
            }
            try:
                head = client.head_object(Bucket=entry["bucket"], Key=key)
                entry.update(modified=head["LastModified"].timestamp(), size=head.get("ContentLength"))
            except ClientError as error:
                code = str(error.response.get("Error", {}).get("Code", ""))
                if code not in ("404", "NoSuchKey", "NoSuchBucket", "NotFound"):
                    entry["state"] = f"unavailable: {code or error}"
            found.append(entry)
    return found


def observe_native(config: BuildConfig, driver) -> Dict[str, Optional[int]]:
    """Machine name -> the number of native rules applied to it (None: none applied), as the driver sees it."""
    ask = getattr(driver, "native_firewall", None)
    if ask is None:
        raise NotImplementedError(f"the {driver.name} cloud host cannot report its native firewall")
    return {server.name: ask(server.name) for server in config.servers(driver)}


def observe_snapshots(config: BuildConfig, driver) -> List[Any]:
    """The build's snapshot images (named, or taken, after its machines), if the driver can list them."""
    listing = getattr(driver, "list_snapshots", None)
    if listing is None:
        raise NotImplementedError(f"the {driver.name} cloud host cannot list snapshots")
    mark = f"-{config.region}-{config.build_identifier}-"
    images = listing(pattern=config.build_identifier)
    return [i for i in images if any(mark in str(getattr(i, word, "")) for word in ("name", "label", "source"))]


def issued_certificate(config: BuildConfig) -> Tuple[Observed, Optional[str]]:
    """The certificate the build issued (the build machine's copy, where `adt ssl issue` writes it), or None when
    there is none (or the build names no DNS_CHOICE and SSL_GENERATION_SERVICE to find it by), and its path."""
    names = [config.value(n) for n in ("DNS_CHOICE", "SSL_GENERATION_SERVICE", "WEBSITE_URL")]
    if not all(names):
        return None, None
    try:
        path = pair.build_directory(config.dir, *names) / pair.FULLCHAIN
    except AdtError as error:
        return Unavailable(error.message), None
    if not path.is_file():
        return None, str(path)
    return soft(lambda: pair.leaf(path.read_bytes(), str(path))), str(path)


def observe_tls(config: BuildConfig, machines: Observed, port: int = HTTPS_PORT) -> Dict[str, Any]:
    """What `tls_view` reads: whether TLS is in use (a certificate issued, or SERVEHTTPS on), the issued
    certificate, the running webservers (name, address) and what each serves on `port` for WEBSITE_URL (a
    Certificate, or why none), asked all at once, each within TLS_TIMEOUT."""
    from concurrent.futures import ThreadPoolExecutor

    from adt.settings.machine import setting

    serve_https = setting(config.values, "SERVE_HTTPS") == "1"
    issued, path = issued_certificate(config)
    if issued is None and not serve_https:
        return {"in_use": False}
    seen: Dict[str, Any] = {"in_use": True, "serve_https": serve_https, "path": path, "issued": issued}
    if isinstance(machines, Unavailable):
        seen["webservers"] = machines
        return seen
    webservers = [(m["name"], m["address"]) for m in machines if m["role"] == "webserver" and m["status"] == "running"]
    website = config.value("WEBSITE_URL")

    def ask(address: str) -> served.Served:
        try:
            return served.served_certificate(address, website, port, TLS_TIMEOUT)
        except Exception as error:  # one webserver's failure is its row, never the section's
            return error

    with ThreadPoolExecutor(max_workers=max(1, min(16, len(webservers)))) as pool:
        answers = list(pool.map(ask, [address for _, address in webservers]))
    seen.update(webservers=webservers, served={address: a for (_, address), a in zip(webservers, answers)})
    return seen


def status(config: BuildConfig, driver=None, now: Optional[float] = None) -> Dict[str, Any]:
    """Observe every part of a build (each failing soft) and assemble the report."""
    if not config.dir.is_dir():
        raise AdtError(f"build {config.name} does not exist", f"no {config.dir}; pass -c/-b to name another build")
    cloud = driver if driver is not None else soft(config.driver)

    def with_driver(observe: Callable[[Any], Any]) -> Observed:
        return cloud if isinstance(cloud, Unavailable) else soft(lambda: observe(cloud))

    active = config.value("ACTIVE_FIREWALLS", "3")
    machines = with_driver(lambda d: observe_machines(config, d))
    return report(
        config.name,
        config.value("WEBSITE_URL"),
        machines=machines,
        dns=soft(lambda: observe_dns(config)),
        backups=soft(lambda: observe_backups(config)),
        active_firewalls=active,
        native=with_driver(lambda d: observe_native(config, d)) if "native" in FIREWALL_LAYERS.get(active, []) else {},
        snapshots=with_driver(lambda d: observe_snapshots(config, d)),
        now=time.time() if now is None else now,
        autoscalers=with_driver(lambda d: observe_autoscalers(config, d)),
        tls=soft(lambda: observe_tls(config, machines)),
    )
