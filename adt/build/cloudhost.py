"""A cloud host's driver from a build's values (build_environment or a template: TOKEN, REGION, BUILDOS ...) or a
fleet machine's settings (the same names without underscores: BUILDIDENTIFIER, BUILDOSVERSION ...): on `local`
with CLOUDAPIURL the build's cloud API, on a provider `adt.cloud.driver_for` (the one rule `BuildConfig.driver`
and the autoscaler use too)."""

from __future__ import annotations

from typing import List, Mapping

from adt.cloud import PROVIDER_DRIVERS
from adt.settings.machine import setting as value  # a value by either naming

PROVIDER_CLOUDHOSTS = tuple(sorted(PROVIDER_DRIVERS))


def credential_names(cloudhost: str) -> tuple:
    return ("ACCESS_KEY", "SECRET_KEY") if cloudhost == "exoscale" else ("TOKEN",)


def missing_credentials(cloudhost: str, values: Mapping[str, str]) -> List[str]:
    """The credential settings that are empty (none on `local`)."""
    if cloudhost not in PROVIDER_CLOUDHOSTS:
        return []
    return [name for name in credential_names(cloudhost) if not value(values, name)]


def cloud_driver(cloudhost: str, values: Mapping[str, str]):
    """The driver of `cloudhost` for these values: on `local` with CLOUDAPIURL (a fleet machine's settings) the
    build's cloud API; on a provider its driver (ADT_API_URL_<CLOUDHOST> replaces its endpoint)."""
    from adt import cloud

    if cloudhost == "local":
        url = value(values, "CLOUD_API_URL")
        if url:
            return cloud.driver("local", api_url=url, api_token=value(values, "CLOUD_API_TOKEN"))
        from adt.build.config import DEFAULT_VPC

        return cloud.driver("local", vpc=value(values, "VPC_IP_RANGE") or DEFAULT_VPC)
    return cloud.driver_for(cloudhost, values)
