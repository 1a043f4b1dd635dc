"""Cloud hosts behind one interface. `driver(name)` gives the driver for a cloud host."""

from adt.errors import AdtError

# the provider drivers, by cloud host: module and class, imported only when asked for
PROVIDER_DRIVERS = {
    "digitalocean": ("adt.cloud.digitalocean", "DigitalOceanDriver"),
    "exoscale": ("adt.cloud.exoscale", "ExoscaleDriver"),
    "linode": ("adt.cloud.linode", "LinodeDriver"),
    "vultr": ("adt.cloud.vultr", "VultrDriver"),
}


def driver_for(cloudhost: str, values):
    """The driver of a provider from a build's values (build_environment names: TOKEN, REGION, BUILDOS ...) or a
    fleet machine's settings (the same without underscores), by one rule: the credentials; the region; the
    system image OSIMAGE, else BUILDOS and BUILDOS_VERSION's (base.OS_IMAGES); the build tag; the VPC VPCNAME,
    else adt-<REGION>-<BUILD_IDENTIFIER>; the API endpoint CLOUDAPIURL (an autoscaler's, for tests), else
    ADT_API_URL_<CLOUDHOST> (for tests), else the provider's."""
    import os

    from adt.cloud.base import Placement, os_image
    from adt.settings.machine import setting

    region, build = setting(values, "REGION"), setting(values, "BUILD_IDENTIFIER")
    image = setting(values, "OS_IMAGE") or os_image(
        cloudhost, setting(values, "BUILDOS") or "debian", setting(values, "BUILDOS_VERSION") or "13"
    )
    placement = Placement(region, image, build, setting(values, "VPC_NAME") or f"adt-{region}-{build}")
    credentials = {k: setting(values, k) for k in ("TOKEN", "ACCESS_KEY", "SECRET_KEY") if setting(values, k)}
    api_url = setting(values, "CLOUD_API_URL") or os.environ.get(f"ADT_API_URL_{cloudhost.upper()}", "")
    return driver(cloudhost, credentials=credentials, placement=placement, api_url=api_url)


def driver(cloudhost: str, **options):
    """On `local`, with api_url (and api_token): the driver over the cloud host's HTTP API, as a machine (an
    autoscaler) reaches it; else the driver that makes machines on this computer. On a provider: its driver,
    with `credentials` (a mapping of TOKEN, or ACCESS_KEY and SECRET_KEY), `placement` (base.Placement) and
    optionally `api_url` (another endpoint than the provider's: the test fakes)."""
    api_url, api_token = options.pop("api_url", None), options.pop("api_token", None)
    if cloudhost == "local" and api_url:
        from adt.cloud.api import ApiDriver

        return ApiDriver(api_url, api_token or "")
    if cloudhost == "local":
        from adt.cloud.local import LocalDriver

        return LocalDriver(**options)
    if cloudhost in PROVIDER_DRIVERS:
        import importlib

        module, name = PROVIDER_DRIVERS[cloudhost]
        return getattr(importlib.import_module(module), name)(api_url=api_url or "", **options)
    raise AdtError(
        f"unknown cloud host {cloudhost!r}", "use local, " + ", ".join(sorted(PROVIDER_DRIVERS)).replace(", v", " or v")
    )
