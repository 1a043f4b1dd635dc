"""Cloud hosts behind one interface. `driver(name)` gives the driver for a cloud host."""

from adt.errors import AdtError


def driver(cloudhost: str, **options):
    """On `local`, with api_url (and api_token): the driver over the cloud host's HTTP API, as a machine (an
    autoscaler) reaches it; else the driver that makes machines on this computer."""
    api_url, api_token = options.pop("api_url", None), options.pop("api_token", None)
    if cloudhost == "local" and api_url:
        from adt.cloud.api import ApiDriver

        return ApiDriver(api_url, api_token or "")
    if cloudhost == "local":
        from adt.cloud.local import LocalDriver

        return LocalDriver(**options)
    raise AdtError(f"the {cloudhost} cloud host has no driver yet", "use the local cloud host for now")
