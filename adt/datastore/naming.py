"""Bucket names, byte for byte as the original derives them (shared/reference adt-machines.md §1.3).

`<U>` is the website URL with every `.` replaced by `-`; `<T>` the first four characters of the server
user, lower-cased. All functions are pure.
"""

from __future__ import annotations

import re
from typing import Optional

from adt.errors import AdtError

SSL_SERVICES = {"LETSENCRYPT": "lets", "ZEROSSL": "zero"}


def dashed(website_url: str) -> str:
    return website_url.replace(".", "-")


def server_token(server_user: str) -> str:
    return server_user[:4].lower()


def config_bucket(website_url: str, server_user: str) -> str:
    return f"{dashed(website_url)}-config-{server_token(server_user)}"


def ssl_bucket(website_url: str, dns_choice: str, ssl_service: str) -> str:
    try:
        service = SSL_SERVICES[ssl_service]
    except KeyError:
        raise AdtError(
            f"unknown SSL generation service {ssl_service!r}", f"use one of: {', '.join(SSL_SERVICES)}"
        ) from None
    return f"{dashed(website_url)}-{dns_choice}-{service}-ssl"


def backup_bucket(website_url: str, period: str, cloudhost: Optional[str] = None, database: bool = False) -> str:
    """`<U>-<period>[-<cloudhost>]` for webroot backups, `<U>-db-<period>[-<cloudhost>]` for databases."""
    spec = period if not cloudhost else f"{period}-{cloudhost}"
    return f"{dashed(website_url)}-{'db-' if database else ''}{spec}"


def scaling_bucket(website_url: str, cloudhost: str, region: str) -> str:
    return f"{dashed(website_url)}-scaling-{cloudhost}-{region}"


def multi_region_bucket(website_url: str) -> str:
    return f"{dashed(website_url)}-multi-region"


def webroot_sync_bucket(website_url: str, directory: str) -> str:
    """`/var/www/html` gives `<U>-webroot-sync-tunnel-var-www-html`."""
    return f"{dashed(website_url)}-webroot-sync-tunnel{directory.replace('/', '-')}"


def config_sync_bucket(website_url: str, directory: str) -> str:
    return f"{dashed(website_url)}-config-sync-tunnel{directory.replace('/', '-')}"


def asset_bucket(website_url: str, directory: str) -> str:
    """`<WEBSITEURL>-assets-<dir>` with `.`, `/` and `_` made `-`, then one pass of `--` to `-` (as sed does)."""
    name = f"{website_url}-assets-{directory}"
    for char in "./_":
        name = name.replace(char, "-")
    return name.replace("--", "-")


def auth_bucket(build_machine_ip: str) -> str:
    return f"authip-adt-allowed-{build_machine_ip.replace('.', '-')}"


def firewall_auth_laptop_ips_bucket(website_url: str) -> str:
    return f"{dashed(website_url)}-firewall-auth-laptop-ips"


def basic_auth_credentials_bucket(website_url: str) -> str:
    return f"{dashed(website_url)}-basic-auth-credentials"


def dbaas_bucket(website_url: str, dns_choice: str) -> str:
    return f"{dashed(website_url)}-{dns_choice}-dbaas"


def snap_bucket(website_url: str, dns_choice: str) -> str:
    return f"{dashed(website_url)}-{dns_choice}-snap"


_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def check_bucket_name(name: str, source: str) -> str:
    """Refuse a name S3 would refuse, naming the settings it came from."""
    if not _BUCKET_RE.match(name) or ".." in name or re.match(r"^\d+\.\d+\.\d+\.\d+$", name):
        raise AdtError(
            f"bucket name {name!r} (from {source}) is not a valid S3 bucket name",
            "bucket names are 3-63 characters of a-z, 0-9, '.' and '-'",
        )
    return name
