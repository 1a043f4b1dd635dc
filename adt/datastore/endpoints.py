"""S3 endpoints as the machine settings describe them.

`S3ACCESSKEY`, `S3SECRETKEY`, `S3LOCATION` and `S3HOSTBASE` may each hold several `|`-separated values,
one per object-store account; index 1 (the first) is authoritative for reads, writes go to every one.
`S3HOSTBASE` is a host name as the original has it (`sgp1.digitaloceanspaces.com`, reached over https with
virtual-hosted buckets, as s3cmd's `host_bucket = %(bucket)s.<hostbase>`), or a full URL
(`http://10.0.0.2:8333`) for a custom S3-compatible server, reached with path-style addressing. Any
other value is refused before a request is made, naming the settings file, the key and the value.
"""

from __future__ import annotations

import ipaddress
import re
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


_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")


def host_base_problem(value: str) -> str:
    """Why `value` is not an S3HOSTBASE (a host name, `host:port`, or an http(s) URL), or "" when it is one."""
    if not value or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return "it is empty or holds spaces or control characters"
    url = value if "://" in value else f"https://{value}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"it does not parse as host[:port] or a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"the scheme {parts.scheme!r} is not http or https"
    if "@" in parts.netloc:
        return "it holds a user name or password (the S3 keys go in S3ACCESSKEY and S3SECRETKEY)"
    if parts.path not in ("", "/") or parts.query or parts.fragment or value.endswith(("?", "#")):
        return "it has a path, a query or a fragment: give only the server"
    if port == 0 or parts.netloc.endswith(":"):
        return "its port is missing or 0"
    host = parts.hostname or ""
    if not host:
        return "it names no host"
    if parts.netloc.startswith("["):
        return ""  # an IPv6 literal: urlsplit has checked it
    try:
        ipaddress.ip_address(host)
        return ""
    except ValueError:
        pass
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        return f"{host!r} is not a valid host name"
    return ""


def endpoints_from_settings(settings) -> List[Endpoint]:
    """Every endpoint of a machine settings file, in `|` order."""
    raw = {key: settings.require(key).split("|") for key in ("S3ACCESSKEY", "S3SECRETKEY", "S3HOSTBASE")}
    raw["S3LOCATION"] = (settings.value("S3LOCATION") or "").split("|")
    count = len(raw["S3HOSTBASE"])
    for key in KEYS:
        if key == "S3LOCATION" and raw[key] == [""]:
            raw[key] = [""] * count
        if len(raw[key]) != count:
            raise AdtError(
                f"settings file {settings.path}: {key} has {len(raw[key])} '|'-separated values, "
                f"S3HOSTBASE has {count}",
                "give every S3* key one value per endpoint",
            )
    endpoints = []
    for i in range(count):
        values = {key: raw[key][i].strip() for key in KEYS}
        for key in ("S3ACCESSKEY", "S3SECRETKEY", "S3HOSTBASE"):
            if not values[key]:
                raise AdtError(
                    f"settings file {settings.path}: value {i + 1} of {key} is empty",
                    "give every S3* key one value per endpoint",
                )
        problem = host_base_problem(values["S3HOSTBASE"])
        if problem:
            which = f"value {i + 1} of S3HOSTBASE" if count > 1 else "S3HOSTBASE"
            shown = "a URL with credentials" if "@" in values["S3HOSTBASE"] else repr(values["S3HOSTBASE"])
            raise AdtError(
                f"settings file {settings.path}: {which} is {shown}: {problem}",
                "give a host name (sgp1.digitaloceanspaces.com) or a URL (http://10.0.0.2:8333)",
            )
        endpoints.append(
            Endpoint(i + 1, values["S3HOSTBASE"], values["S3ACCESSKEY"], values["S3SECRETKEY"], values["S3LOCATION"])
        )
    return endpoints
