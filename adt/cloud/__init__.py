"""Cloud hosts behind one interface. `driver(name)` gives the driver for a cloud host."""

from adt.errors import AdtError

# the provider drivers, by cloud host: module and class, imported only when asked for
PROVIDER_DRIVERS = {
    "digitalocean": ("adt.cloud.digitalocean", "DigitalOceanDriver"),
    "exoscale": ("adt.cloud.exoscale", "ExoscaleDriver"),
    "linode": ("adt.cloud.linode", "LinodeDriver"),
    "vultr": ("adt.cloud.vultr", "VultrDriver"),
}


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
