"""Checks a template's values against the schema and the cross-field rules. Pure: values in, problems out.

Every problem names the variable, the value found (secrets hidden) and what is allowed, so an operator
can fix all of them in one pass.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from adt.settings import schema
from adt.settings.providers import CLOUDHOSTS

HIDDEN = "<hidden>"
_EMAIL = re.compile(r"^[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_HOST = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,62}$")
IDENTIFIER = re.compile(r"^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$")
_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?/?$")


@dataclass(frozen=True)
class Problem:
    variable: str
    value: Optional[str]
    message: str
    others: Tuple[Tuple[str, Optional[str]], ...] = ()  # the other variables of a rule between variables

    def render(self) -> str:
        named = ", ".join(f"{name}={_quoted(value)}" for name, value in ((self.variable, self.value), *self.others))
        return f"{named}: {self.message}"


def _quoted(value: Optional[str]) -> str:
    return "(not set)" if value is None else f'"{value}"'


def _shown(name: str, value: Optional[str]) -> Optional[str]:
    var = schema.BY_NAME.get(name)
    return HIDDEN if var is not None and var.secret and value else value


def short_list(values: Iterable[str], limit: int = 12) -> str:
    values = list(values)
    text = ", ".join(values[:limit])
    return text + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def cloudhost_of(values: Dict[str, str], path: str = "") -> Optional[str]:
    """The template's cloud host: CLOUDHOST, else the templates/<cloudhost>/ folder it sits in."""
    if values.get("CLOUDHOST") in CLOUDHOSTS:
        return values["CLOUDHOST"]
    parent = os.path.basename(os.path.dirname(os.path.abspath(path))) if path else ""
    return parent if parent in CLOUDHOSTS else None


def template_number(path: str) -> Optional[int]:
    match = re.search(r"(\d)(override)?\.tmpl$", os.path.basename(path))
    return int(match.group(1)) if match and match.group(1) in "123" else None


def check_value(var: schema.Var, value: str, cloudhost: Optional[str]) -> Optional[str]:
    """Why `value` is not allowed for `var`, or None."""
    if value == "":
        return None
    items = value.split("|") if var.chained else [value]
    for item in items:
        reason = _check_one(var, item, cloudhost)
        if reason:
            return reason if len(items) == 1 else f"element {item!r}: {reason}"
    return None


def _check_one(var: schema.Var, value: str, cloudhost: Optional[str]) -> Optional[str]:
    if var.kind == "enum":
        allowed = schema.allowed(var, cloudhost)
        if var.name == "S3_HOST_BASE" and _URL.match(value):
            return None  # any S3-compatible server, by URL
        if var.per_cloudhost and not allowed:
            if cloudhost == "local":
                return "use a URL such as http://10.171.0.1:8333, or leave it empty for the embedded datastore"
            return f"cannot be checked without a known CLOUDHOST (one of {short_list(CLOUDHOSTS)})"
        if value not in allowed:
            where = f" on {cloudhost}" if var.per_cloudhost else ""
            return f"not allowed{where}; allowed: {short_list(allowed)}"
    elif var.kind == "int":
        if not re.fullmatch(r"\d+", value):
            return f"not a whole number; allowed: {var.low}-{var.high}"
        if var.low is not None and var.high is not None and not var.low <= int(value) <= var.high:
            return f"out of range; allowed: {var.low}-{var.high}"
    elif var.kind == "email" and not _EMAIL.match(value):
        return "not an e-mail address"
    elif var.kind == "hostname" and not _HOST.match(value):
        return "not a host name such as www.example.com"
    elif var.kind == "cidr":
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            return "not a network range such as 10.116.0.0/20"
        if "/" not in value or not network.is_private:
            return "must be a private network range with a prefix length, such as 10.116.0.0/20"
    elif var.kind == "ident" and not IDENTIFIER.match(value):
        return "1-12 characters a-z, 0-9 and '-', not starting or ending with '-'"
    return None


def validate(
    values: Dict[str, str],
    cloudhost: Optional[str] = None,
    template: Optional[int] = None,
    expected: Iterable[str] = (),
) -> List[Problem]:
    """All problems of a template's values. `expected` names variables the template must define."""
    problems: List[Problem] = []
    add = lambda name, message: problems.append(Problem(name, _shown(name, values.get(name)), message))  # noqa: E731
    cloudhost = cloudhost or cloudhost_of(values)

    for name in values:
        if name in schema.RENAMED:
            add(name, f"renamed: use {schema.RENAMED[name]}")
        elif name not in schema.BY_NAME:
            add(name, "unknown variable (a typo?); 'adt template describe' lists them all")
    for name in expected:
        if name not in values:
            add(name, "missing: the template must define it")
    for var in schema.VARIABLES:
        if var.name not in values:
            continue
        value = values[var.name]
        if value == "" and template and schema.requirement(var, cloudhost or "", template) == "MANDATORY":
            add(var.name, "MANDATORY value missing")
            continue
        if value == "" and var.kind == "enum" and not var.optional and not var.per_cloudhost:
            add(var.name, f"empty; allowed: {short_list(var.choices)}")
            continue
        reason = check_value(var, value, cloudhost)
        if reason:
            add(var.name, reason)
    missing = {p.variable for p in problems if p.message == "MANDATORY value missing"}
    problems.extend(
        p for p in cross_field(values, cloudhost, lambda n: _shown(n, values.get(n))) if p.variable not in missing
    )  # one report a variable: the missing value says it all
    return problems


def validate_template(template) -> List[Problem]:
    """All problems of a parsed template, its cloud host and number told by its values and its path."""
    values = template.values()
    cloudhost = cloudhost_of(values, template.path)
    number = template_number(template.path)
    expected = [v.name for v in schema.VARIABLES if v.in_template] if number and cloudhost else ()
    return validate(values, cloudhost, number, expected)


def cross_field(v: Dict[str, str], cloudhost: Optional[str], shown) -> List[Problem]:
    out: List[Problem] = []

    def rule(name: str, message: str, *others: str) -> None:
        """A problem of `name`, and of the `others` the rule also reads (each named with its value)."""
        out.append(Problem(name, shown(name), message, tuple((other, shown(other)) for other in others)))

    get = lambda name: v.get(name, "")  # noqa: E731
    if v.get("CLOUDHOST") and cloudhost and v["CLOUDHOST"] in CLOUDHOSTS and v["CLOUDHOST"] != cloudhost:
        rule("CLOUDHOST", f"this template is in the {cloudhost} folder")
    machine = schema.PROVIDERS.get(cloudhost or "", {}).get("machine_type")
    if machine and get("MACHINE_TYPE") and get("MACHINE_TYPE") != machine:
        rule("MACHINE_TYPE", f"must be {machine} on {cloudhost}")

    production, development = get("PRODUCTION"), get("DEVELOPMENT")
    if {production, development} <= {"0", "1"} and production == development:
        rule("PRODUCTION", "exactly one of PRODUCTION and DEVELOPMENT must be 1", "DEVELOPMENT")
    autoscalers = int(get("NO_AUTOSCALERS")) if get("NO_AUTOSCALERS").isdigit() else None
    webservers = int(get("NO_WEBSERVERS")) if get("NO_WEBSERVERS").isdigit() else None
    if production == "1" and autoscalers == 0:
        rule("NO_AUTOSCALERS", "PRODUCTION needs at least one autoscaler", "PRODUCTION")
    if development == "1" and production != "1":
        if autoscalers:
            rule("NO_AUTOSCALERS", "DEVELOPMENT has no autoscalers: set 0", "DEVELOPMENT")
        if webservers is not None and webservers != 1:
            rule("NO_WEBSERVERS", "DEVELOPMENT has exactly one webserver: set 1", "DEVELOPMENT")
    if get("MAX_WEBSERVERS").isdigit() and webservers and int(get("MAX_WEBSERVERS")) < webservers:
        rule("MAX_WEBSERVERS", "must be at least NO_WEBSERVERS", "NO_WEBSERVERS")

    engine = get("DATABASE_INSTALLATION_TYPE")
    dbaas_engine = get("DATABASE_DBaaS_INSTALLATION_TYPE").split(":", 1)[0]
    if get("APPLICATION") == "wordpress" and (
        engine == "Postgres" or (engine == "DBaaS" and dbaas_engine == "Postgres")
    ):
        rule(
            "APPLICATION",
            "WordPress is not offered on PostgreSQL: use Maria or MySQL",
            "DATABASE_INSTALLATION_TYPE",
            *(["DATABASE_DBaaS_INSTALLATION_TYPE"] if engine == "DBaaS" else []),
        )
    if engine == "DBaaS" and not get("DATABASE_DBaaS_INSTALLATION_TYPE"):
        rule(
            "DATABASE_DBaaS_INSTALLATION_TYPE",
            "DATABASE_INSTALLATION_TYPE is DBaaS: describe the managed database",
            "DATABASE_INSTALLATION_TYPE",
        )
    if engine == "DBaaS" and dbaas_engine and dbaas_engine not in ("Maria", "MySQL", "Postgres"):
        rule("DATABASE_DBaaS_INSTALLATION_TYPE", "its first field must be Maria, MySQL or Postgres")
    if cloudhost == "digitalocean" and engine == "DBaaS" and get("DB_PORT") != "25060":
        rule("DB_PORT", "DigitalOcean managed databases listen on 25060", "DATABASE_INSTALLATION_TYPE")

    archive = get("BUILD_ARCHIVE_CHOICE")
    if archive == "baseline":
        for name in ("APPLICATION_BASELINE_SOURCECODE_REPOSITORY", "BASELINE_DB_REPOSITORY"):
            if not get(name):
                rule(name, "BUILD_ARCHIVE_CHOICE is baseline: name the baseline repository", "BUILD_ARCHIVE_CHOICE")
    for name, suffix in (
        ("APPLICATION_BASELINE_SOURCECODE_REPOSITORY", "-webroot-sourcecode-baseline"),
        ("BASELINE_DB_REPOSITORY", "-db-baseline"),
    ):
        if get(name) and not get(name).endswith(suffix):
            rule(name, f"baseline repositories are named <identifier>{suffix}")
    if archive in ("virgin", "baseline") and production == "1":
        rule(
            "BUILD_ARCHIVE_CHOICE",
            f"production builds come from temporal backups ({short_list(schema.PERIODS)})",
            "PRODUCTION",
        )

    from_snapshots = get("AUTOSCALE_FROM_SNAPSHOTS")
    alias = get("BUILD_FROM_SNAPSHOT")
    if alias and from_snapshots and alias != from_snapshots:
        rule(
            "BUILD_FROM_SNAPSHOT",
            "is another name for AUTOSCALE_FROM_SNAPSHOTS: they must agree",
            "AUTOSCALE_FROM_SNAPSHOTS",
        )
    if "1" in (from_snapshots, alias):
        for name in ("AUTOSCALER_SNAPSHOT_ID", "WEBSERVER_SNAPSHOT_ID", "DATABASE_SNAPSHOT_ID"):
            if not get(name):
                rule(name, "AUTOSCALE_FROM_SNAPSHOTS is 1: give the snapshot id", "AUTOSCALE_FROM_SNAPSHOTS")
        if archive not in schema.PERIODS:
            rule(
                "BUILD_ARCHIVE_CHOICE",
                "building from snapshots needs a temporal backup periodicity",
                "AUTOSCALE_FROM_SNAPSHOTS",
            )
        if get("GENERATE_SNAPSHOTS") == "1":
            rule("GENERATE_SNAPSHOTS", "cannot generate snapshots while building from them", "AUTOSCALE_FROM_SNAPSHOTS")

    if get("DNS_CHOICE") == "cloudflare" and get("DNS_SECURITY_KEY") and ":::" not in get("DNS_SECURITY_KEY"):
        rule("DNS_SECURITY_KEY", "for cloudflare it is <account-id>:::<api-token>", "DNS_CHOICE")
    if get("WEBSITE_URL") and get("WEBSITE_NAME"):
        labels = get("WEBSITE_URL").split(".")
        if len(labels) >= 2 and get("WEBSITE_NAME") != labels[1]:
            rule("WEBSITE_NAME", f'must be the second label of WEBSITE_URL ("{labels[1]}")', "WEBSITE_URL")
    if get("BUILDOS") == "ubuntu" and get("BUILDOS_VERSION") not in ("", "24.04"):
        rule("BUILDOS_VERSION", "ubuntu builds use 24.04", "BUILDOS")
    if get("BUILDOS") == "debian" and get("BUILDOS_VERSION") not in ("", "12", "13"):
        rule("BUILDOS_VERSION", "debian builds use 12 or 13", "BUILDOS")
    if get("MOD_SECURITY") == "1" and get("WEBSERVER_CHOICE") == "LIGHTTPD":
        rule("MOD_SECURITY", "ModSecurity is not available for LIGHTTPD", "WEBSERVER_CHOICE")

    if get("NO_AUTHENTICATORS").isdigit() and int(get("NO_AUTHENTICATORS")) > 0:
        for name in (
            "AUTHENTICATOR_TYPE",
            "AUTH_SERVER_URL",
            "AUTH_DNS_USERNAME",
            "AUTH_DNS_SECURITY_KEY",
            "USER_EMAIL_DOMAIN",
            "SYSTEM_EMAIL_PROVIDER",
            "SYSTEM_FROMEMAIL_ADDRESS",
        ):
            if not get(name):
                rule(name, "NO_AUTHENTICATORS is above 0: this is needed", "NO_AUTHENTICATORS")
        if get("DNS_CHOICE") == "cloudflare":
            rule("DNS_CHOICE", "authenticators cannot be used with cloudflare DNS for the website", "NO_AUTHENTICATORS")
    if get("MULTI_REGION") == "1":
        if engine != "DBaaS":
            rule("DATABASE_INSTALLATION_TYPE", "MULTI_REGION needs a managed database (DBaaS)", "MULTI_REGION")
        if not (get("NO_REVERSE_PROXY").isdigit() and int(get("NO_REVERSE_PROXY")) > 0):
            rule("NO_REVERSE_PROXY", "MULTI_REGION needs reverse proxies", "MULTI_REGION")
        if get("PRIMARY_REGION") == "0" and not get("DBaaS_PUBLIC_ENDPOINT"):
            rule(
                "DBaaS_PUBLIC_ENDPOINT",
                "a non-primary region needs the managed database's public endpoint",
                "MULTI_REGION",
                "PRIMARY_REGION",
            )

    chained = {n: get(n).split("|") for n in ("S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_HOST_BASE") if get(n)}
    counts = {n: len(parts) for n, parts in chained.items()}
    if len(set(counts.values())) > 1:
        rule(
            "S3_HOST_BASE",
            f"the S3 settings give different numbers of '|'-separated values: {counts}",
            *[n for n in counts if n != "S3_HOST_BASE"],
        )
    if cloudhost == "local" and bool(get("S3_ACCESS_KEY")) != bool(get("S3_HOST_BASE")):
        rule(
            "S3_HOST_BASE",
            "on local, give an endpoint URL with its keys, or leave all three empty for the embedded datastore",
            "S3_ACCESS_KEY",
        )

    continent, city = get("SERVER_TIMEZONE_CONTINENT"), get("SERVER_TIMEZONE_CITY")
    if (
        continent
        and city
        and os.path.isdir("/usr/share/zoneinfo")
        and not os.path.isfile(f"/usr/share/zoneinfo/{continent}/{city}")
    ):
        rule("SERVER_TIMEZONE_CITY", f'"{continent}/{city}" is not a time zone', "SERVER_TIMEZONE_CONTINENT")
    return out
