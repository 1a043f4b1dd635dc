"""`adt doctor`: everything that would stop a build, found before anything is made, all at once.

Five checks, each failing soft (what one cannot ask is a finding, the others still run): the template (loaded and
validated as `adt build` does), the cloud host's account through its driver's `problems(sizes)` (credentials and
scopes, region, every *_SERVER_TYPE size, the image, quotas), the DNS provider (the zone of WEBSITE_URL must be
there), the S3 datastore (the credentials work at every endpoint, every bucket name the build derives is valid) and
the build's SSH key when there is one (0600, its .pub matching). Each finding names the setting to fix.

`findings_of_template`, `cloud_setting`, `bucket_findings`, `render` and `as_json` are pure.
"""

from __future__ import annotations

import re
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence

from adt.errors import AdtError

AREAS = ("template", "cloud", "dns", "datastore", "key")
READY = "ready to build"
# a sample SERVER_USER: the build draws one (X + 18 random characters + X); only its first four reach a name
SAMPLE_SERVER_USER = "Xabc"


@dataclass(frozen=True)
class Finding:
    area: str  # one of AREAS
    setting: str  # the setting (or file) to fix; '' when it is the account's (a quota)
    message: str

    def render(self) -> str:
        named = self.setting and not self.message.startswith(self.setting)
        return f"{self.area}: {self.setting}: {self.message}" if named else f"{self.area}: {self.message}"


def render(findings: Sequence[Finding]) -> List[str]:
    """The report: one line a finding, else the one line READY."""
    return [f.render() for f in findings] or [READY]


def as_json(findings: Sequence[Finding], cloudhost: str, template: str) -> dict:
    return {
        "cloudhost": cloudhost,
        "template": template,
        "ready": not findings,
        "problems": [asdict(f) for f in findings],
    }


# -- the template -----------------------------------------------------------------------------------------------
def findings_of_template(problems: Sequence) -> List[Finding]:
    """adt.settings.validate.Problems as findings (each names its variable and value, secrets hidden)."""
    return [Finding("template", p.variable, p.render()) for p in problems]


def template_path(build_home: Path, cloudhost: str, number: int, template_file: Optional[str]) -> Path:
    from adt.settings.runtime import templates_dir

    if template_file:
        return Path(template_file)
    return templates_dir(build_home) / cloudhost / f"{cloudhost}{number}.tmpl"


def load_template(path: Path, cloudhost: str, build_identifier: str = ""):
    """(values, findings): the template as `adt build` takes it (CLOUDHOST and, when given, BUILD_IDENTIFIER
    set), and its problems. A template that does not load gives no values and one finding."""
    from adt.settings.template import Template
    from adt.settings.validate import validate_template

    try:
        template = Template.load(path)
    except AdtError as error:
        return {}, [Finding("template", str(path), error.message)]
    template = template.set("CLOUDHOST", cloudhost)
    if build_identifier:
        template = template.set("BUILD_IDENTIFIER", build_identifier)
    return template.values(), findings_of_template(validate_template(template))


# -- the cloud host ---------------------------------------------------------------------------------------------
def sizes_of(values: Mapping[str, str]) -> List[str]:
    """Every machine size the template names, once each, in SIZE_VARIABLES' order."""
    from adt.settings.schema import SIZE_VARIABLES

    return list(dict.fromkeys(values[name] for name in SIZE_VARIABLES if values.get(name)))


_CREDENTIAL_WORDS = ("401", "403", "token", "scope", "permission", "api key", "credential", "unauthori", "forbidden")


def cloud_setting(cloudhost: str, message: str, values: Mapping[str, str], image: str = "") -> str:
    """The setting a driver's problem line is about, by what it mentions: a size (its *_SERVER_TYPE names),
    the region, the image (BUILDOS_VERSION), the credentials; '' for the account's own (a quota)."""
    from adt.settings.schema import SIZE_VARIABLES

    text = message.lower()
    named = lambda v: bool(v) and re.search(rf"(?<![\w.-]){re.escape(v)}(?![\w-])", message) is not None  # noqa: E731
    sizes = [name for name in SIZE_VARIABLES if named(values.get(name, ""))]
    if sizes:
        return ", ".join(sizes)
    if image and image in message:
        return "BUILDOS_VERSION"
    if any(word in text for word in _CREDENTIAL_WORDS):
        return "ACCESS_KEY, SECRET_KEY" if cloudhost == "exoscale" else "TOKEN"
    if named(values.get("REGION", "")) or "region" in text or "zone" in text:
        return "REGION"
    if any(word in text for word in ("image", "template", "operating system")):
        return "BUILDOS_VERSION"
    return ""


def cloud_findings(cloudhost: str, values: Mapping[str, str], flagged: Sequence[str] = ()) -> List[Finding]:
    """The driver's problems(sizes), each naming its setting. `flagged` are settings the template check has
    reported already (a missing TOKEN is not reported twice, nor asked about)."""
    from adt.build.cloudhost import PROVIDER_CLOUDHOSTS, cloud_driver, credential_names, missing_credentials
    from adt.cloud.base import os_image

    if cloudhost not in PROVIDER_CLOUDHOSTS:
        return []  # local: nothing to ask of an account
    missing = missing_credentials(cloudhost, values)
    if missing:
        return [
            Finding("cloud", name, f"not set: the {cloudhost} API needs it") for name in missing if name not in flagged
        ]
    buildos, version = values.get("BUILDOS", "debian"), values.get("BUILDOS_VERSION", "13")
    try:
        image = os_image(cloudhost, buildos, version)
    except AdtError as error:
        return [Finding("cloud", "BUILDOS_VERSION", f"{error.message} ({error.hint})")]
    # the driver tags what it makes with the build: doctor makes nothing, and a missing BUILD_IDENTIFIER is the
    # template check's to report
    asked = {**values, "BUILD_IDENTIFIER": values.get("BUILD_IDENTIFIER") or "doctor"}
    try:
        problems = cloud_driver(cloudhost, asked).problems(sizes_of(values))
    except AdtError as error:
        setting = cloud_setting(cloudhost, error.message, values) or ", ".join(credential_names(cloudhost))
        return [Finding("cloud", setting, error.message)]
    return [Finding("cloud", cloud_setting(cloudhost, problem, values, image), problem) for problem in problems]


# -- DNS ----------------------------------------------------------------------------------------------------------
def dns_findings(values: Mapping[str, str], provider: Optional[Callable] = None) -> List[Finding]:
    """The zone of WEBSITE_URL at DNS_CHOICE's provider (none to check for NONE, nor for powerdns: the build
    makes that one)."""
    from adt.dns.base import zone_name

    choice, website = values.get("DNS_CHOICE", ""), values.get("WEBSITE_URL", "")
    if choice in ("", "NONE", "powerdns") or not website:
        return []
    zone = zone_name(website)
    if not zone:
        return [Finding("dns", "WEBSITE_URL", f"{website!r} has no zone (a zone is the name less its first label)")]
    try:
        if provider is None:
            from adt.dns import provider as provider_of

            provider = provider_of
        found = provider(values).find_zone(zone)
    except ImportError:
        return [Finding("dns", "DNS_CHOICE", f"adt has no {choice} DNS yet")]
    except AdtError as error:
        return [Finding("dns", "DNS_SECURITY_KEY", error.message)]
    if not found:
        return [
            Finding(
                "dns",
                "WEBSITE_URL",
                f"the {choice} DNS has no zone {zone} (for WEBSITE_URL {website}): add the domain there, "
                "or fix DNS_CHOICE and DNS_SECURITY_KEY",
            )
        ]
    return []


# -- the datastore ------------------------------------------------------------------------------------------------
def bucket_names(values: Mapping[str, str], cloudhost: str) -> Dict[str, str]:
    """The buckets a build of these values makes or reads, by name: where each comes from."""
    from adt.datastore import naming
    from adt.settings.schema import PERIODS

    website = values.get("WEBSITE_URL", "")
    dns = (values.get("DNS_CHOICE", "") or "NONE").lower()  # as adt.build.snapshots names its bucket
    names = {naming.config_bucket(website, SAMPLE_SERVER_USER): "config"}
    for period in PERIODS:
        names[naming.backup_bucket(website, period)] = f"{period} backups"
        names[naming.backup_bucket(website, period, database=True)] = f"{period} database backups"
    names[naming.snap_bucket(website, dns)] = "snapshots"
    names[naming.scaling_bucket(website, cloudhost, values.get("REGION", ""))] = "scaling"
    return names


def bucket_findings(values: Mapping[str, str], cloudhost: str) -> List[Finding]:
    """One finding naming every bucket name S3 would refuse (they all come from WEBSITE_URL, DNS_CHOICE and
    REGION)."""
    from adt.datastore.naming import check_bucket_name

    if not values.get("WEBSITE_URL"):
        return []
    bad = []
    for name, what in bucket_names(values, cloudhost).items():
        try:
            check_bucket_name(name, what)
        except AdtError:
            bad.append(f"{name} ({what}, {len(name)} characters)")
    if not bad:
        return []
    return [
        Finding(
            "datastore",
            "WEBSITE_URL",
            f"bucket names made from it are not valid S3 names: {'; '.join(bad)} "
            "(3-63 characters of a-z, 0-9, '.' and '-')",
        )
    ]


def datastore_findings(values: Mapping[str, str], cloudhost: str) -> List[Finding]:
    """Every S3 endpoint answers and takes the credentials (a ListBuckets), and the bucket names are valid. An
    empty S3_HOST_BASE is the local cloud host's own datastore, made by the build."""
    from adt.datastore.client import REFUSALS, error_code, s3_client, s3_errors
    from adt.datastore.endpoints import Endpoint, host_base_problem

    found = bucket_findings(values, cloudhost)
    if not values.get("S3_HOST_BASE"):
        return found
    hosts = values["S3_HOST_BASE"].split("|")
    parts = {k: values.get(k, "").split("|") for k in ("S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_LOCATION")}
    for i, host in enumerate(hosts):
        which = f" (endpoint {i + 1})" if len(hosts) > 1 else ""
        problem = host_base_problem(host.strip())
        if problem:
            found.append(Finding("datastore", "S3_HOST_BASE", f"{host!r}{which}: {problem}"))
            continue
        key, secret, location = (parts[k][i].strip() if i < len(parts[k]) else "" for k in parts)
        if not (key and secret):
            continue  # the template check names the missing key
        endpoint = Endpoint(i + 1, host.strip(), key, secret, location)
        try:
            s3_client(endpoint, "config").list_buckets()
        except s3_errors() as error:
            code = error_code(error)
            if code in REFUSALS:
                found.append(
                    Finding(
                        "datastore",
                        "S3_ACCESS_KEY, S3_SECRET_KEY",
                        f"{endpoint.url}{which} refused the credentials ({code})",
                    )
                )
            else:
                reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                message = f"cannot list buckets at {endpoint.url}{which}: {reason}"
                found.append(Finding("datastore", "S3_HOST_BASE", message))
    return found


# -- the build's key ----------------------------------------------------------------------------------------------
def key_findings(key: Path) -> List[Finding]:
    """The build's private key, when there is one: private to its owner (0600), and its .pub its own."""
    from adt.run import run

    if not key.exists():
        return []
    found: List[Finding] = []
    mode = stat.S_IMODE(key.stat().st_mode)
    if mode & 0o077:
        message = f"mode {mode:04o}: ssh refuses a private key others may read; chmod 600 it"
        found.append(Finding("key", str(key), message))
    public = key.with_name(key.name + ".pub")
    if not public.exists():
        found.append(Finding("key", str(public), "missing: the machines are given the build key's .pub"))
        return found
    if mode & 0o077:
        return found  # ssh-keygen refuses it too: its .pub is checked once it is private
    derived = run(["ssh-keygen", "-y", "-P", "", "-f", str(key)], check=False, changes=False, timeout=20)
    if derived.returncode != 0:
        found.append(Finding("key", str(key), f"ssh-keygen cannot read it: {derived.stderr.strip()[:200]}"))
    elif derived.stdout.split()[:2] != public.read_text().split()[:2]:
        message = f"is not the public half of {key.name}: remove both, the build makes a new pair"
        found.append(Finding("key", str(public), message))
    return found


# -- all of it ----------------------------------------------------------------------------------------------------
def check(
    cloudhost: str,
    build_home: Path,
    template_number: int = 1,
    template_file: Optional[str] = None,
    build_identifier: str = "",
) -> List[Finding]:
    """Every finding of the template of `cloudhost` (number or file) and of what it names, all checks run (a
    provider's API at ADT_API_URL_<CLOUDHOST> when set: the tests' fakes)."""
    from adt.build.config import BuildConfig

    path = template_path(build_home, cloudhost, template_number, template_file)
    values, found = load_template(path, cloudhost, build_identifier)
    if not values:
        return found
    flagged = [f.setting for f in found]
    if cloudhost == "local":
        from adt.build.development import preflight

        try:
            preflight()  # root, and the packages the local cloud host runs machines with
        except AdtError as error:
            found.append(Finding("cloud", "", f"{error.message} ({error.hint})" if error.hint else error.message))
    found += cloud_findings(cloudhost, values, flagged)
    found += dns_findings(values)
    found += datastore_findings(values, cloudhost)
    identifier = values.get("BUILD_IDENTIFIER", "")
    if identifier:
        found += key_findings(BuildConfig(Path(build_home), cloudhost, identifier, dict(values)).key)
    return found
