"""A cloud host's driver from a build's values (build_environment or a template: TOKEN, REGION, BUILDOS ...) or a
fleet machine's settings (the same names without underscores: BUILDIDENTIFIER, BUILDOSVERSION ...), made by the
one rule of `BuildConfig.driver`."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Mapping, Optional

PROVIDER_CLOUDHOSTS = ("digitalocean", "exoscale", "linode", "vultr")
# what BuildConfig.driver reads, by build_environment name
DRIVER_SETTINGS = (
    "REGION",
    "BUILDOS",
    "BUILDOS_VERSION",
    "BUILD_IDENTIFIER",
    "VPC_IP_RANGE",
    "TOKEN",
    "ACCESS_KEY",
    "SECRET_KEY",
)


def value(values: Mapping[str, str], name: str, default: str = "") -> str:
    """A value by its build_environment name (BUILDOS_VERSION) or its machine settings name (BUILDOSVERSION)."""
    for key in (name, name.replace("_", "")):
        found = values.get(key)
        if found:
            return found
    return default


def credential_names(cloudhost: str) -> tuple:
    return ("ACCESS_KEY", "SECRET_KEY") if cloudhost == "exoscale" else ("TOKEN",)


def missing_credentials(cloudhost: str, values: Mapping[str, str]) -> List[str]:
    """The credential settings that are empty (none on `local`)."""
    if cloudhost not in PROVIDER_CLOUDHOSTS:
        return []
    return [name for name in credential_names(cloudhost) if not value(values, name)]


def cloud_driver(cloudhost: str, values: Mapping[str, str], build_home: Optional[Path] = None):
    """The driver of `cloudhost` for these values: on `local` with CLOUDAPIURL (a fleet machine's settings) the
    build's cloud API, else `BuildConfig.driver` (ADT_API_URL_<CLOUDHOST> replaces a provider's endpoint)."""
    from adt import cloud
    from adt.build.config import BuildConfig

    url = value(values, "CLOUD_API_URL")
    if cloudhost == "local" and url:
        return cloud.driver("local", api_url=url, api_token=value(values, "CLOUD_API_TOKEN"))
    named: Dict[str, str] = {name: value(values, name) for name in DRIVER_SETTINGS if value(values, name)}
    build = BuildConfig(Path(build_home or "/"), cloudhost, named.get("BUILD_IDENTIFIER", ""), named)
    return build.driver()
