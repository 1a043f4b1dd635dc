"""S3 endpoints as the machine settings describe them.

`S3ACCESSKEY`, `S3SECRETKEY`, `S3LOCATION` and `S3HOSTBASE` may each hold several `|`-separated values,
one per object-store account; index 1 (the first) is authoritative for reads, writes go to every one.
`S3HOSTBASE` is a host name as the original has it (`sgp1.digitaloceanspaces.com`, reached over https with
virtual-hosted buckets, as s3cmd's `host_bucket = %(bucket)s.<hostbase>`), or a full URL
(`http://10.0.0.2:8333`) for a custom S3-compatible server, reached with path-style addressing.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import List
from urllib.parse import urlsplit

from adt.errors import AdtError

KEYS = ("S3ACCESSKEY", "S3SECRETKEY", "S3LOCATION", "S3HOSTBASE")


@dataclass(frozen=True)
class Endpoint:
    index: int
    host_base: str
    access_key: str
    secret_key: str = field(repr=False)
    location: str = ""

    @property
    def url(self) -> str:
        return self.host_base if "://" in self.host_base else f"https://{self.host_base}"

    @property
    def addressing(self) -> str:
        if "://" in self.host_base:
            return "path"
        host = urlsplit(self.url).hostname or ""
        try:
            ipaddress.ip_address(host)
            return "path"
        except ValueError:
            return "path" if host == "localhost" else "virtual"

    @property
    def region(self) -> str:
        """The signing region: S3LOCATION, where the original's "US" (s3cmd's default location) means us-east-1."""
        return "us-east-1" if self.location in ("", "US") else self.location


def endpoints_from_settings(settings) -> List[Endpoint]:
    """Every endpoint of a machine settings file, in `|` order."""
    raw = {key: settings.require(key).split("|") for key in ("S3ACCESSKEY", "S3SECRETKEY", "S3HOSTBASE")}
    raw["S3LOCATION"] = (settings.value("S3LOCATION") or "").split("|")
    count = len(raw["S3HOSTBASE"])
    for key in KEYS:
        if key == "S3LOCATION" and raw[key] == [""]:
            raw[key] = [""] * count
        if len(raw[key]) != count:
            raise AdtError(f"settings file {settings.path}: {key} has {len(raw[key])} '|'-separated values, "
                           f"S3HOSTBASE has {count}", "give every S3* key one value per endpoint")
    endpoints = []
    for i in range(count):
        values = {key: raw[key][i].strip() for key in KEYS}
        for key in ("S3ACCESSKEY", "S3SECRETKEY", "S3HOSTBASE"):
            if not values[key]:
                raise AdtError(f"settings file {settings.path}: value {i + 1} of {key} is empty",
                               "give every S3* key one value per endpoint")
        endpoints.append(Endpoint(i + 1, values["S3HOSTBASE"], values["S3ACCESSKEY"],
                                  values["S3SECRETKEY"], values["S3LOCATION"]))
    return endpoints
