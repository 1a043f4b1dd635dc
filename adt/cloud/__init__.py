"""Cloud hosts behind one interface. `driver(name)` gives the driver for a cloud host."""

from adt.errors import AdtError


def driver(cloudhost: str, **options):
    if cloudhost == "local":
        from adt.cloud.local import LocalDriver

        return LocalDriver(**options)
    raise AdtError(f"the {cloudhost} cloud host has no driver yet", "use the local cloud host for now")
