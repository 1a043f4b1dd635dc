"""DNS round robin for WEBSITEURL: one interface (`base.DnsProvider`), a provider chosen by DNS_CHOICE.

`provider(values, state_dir)` takes build_environment names (DNS_CHOICE, DNS_SECURITY_KEY, DNS_API_URL) or a
machine's settings names (DNSCHOICE, DNSSECURITYKEY, DNSAPIURL). On the build side of `local`, state_dir (the
directory of the build's PowerDNS) supplies the API's address and key when the values do not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional

from adt.dns.base import ACME_LABEL, DEFAULT_TTL, DnsProvider, Record, setting, zone_name
from adt.errors import AdtError

__all__ = ["ACME_LABEL", "DEFAULT_TTL", "DnsProvider", "Record", "provider", "setting", "zone_name"]

# the providers' DNS, by DNS_CHOICE: module and class, imported only when asked for. Each is built as
# `Class(values, api_url)` from the same values (DNS_SECURITY_KEY / DNSSECURITYKEY, DNS_USERNAME ...); api_url
# replaces the provider's public endpoint (DNS_API_URL when set: the test fakes).
PROVIDERS = {
    "cloudflare": ("adt.dns.cloudflare", "CloudflareDns"),
    "digitalocean": ("adt.dns.digitalocean", "DigitalOceanDns"),
    "exoscale": ("adt.dns.exoscale", "ExoscaleDns"),
    "linode": ("adt.dns.linode", "LinodeDns"),
    "vultr": ("adt.dns.vultr", "VultrDns"),
}


def provider(values: Mapping[str, str], state_dir: Optional[Path] = None) -> DnsProvider:
    """The DNS provider the values choose, ready to call."""
    choice = setting(values, "DNS_CHOICE")
    if choice == "powerdns":
        from adt.dns.powerdns import PowerDnsApi, PowerDnsProvider, PowerDnsServer

        url, key = setting(values, "DNS_API_URL"), setting(values, "DNS_SECURITY_KEY")
        if state_dir is not None and not (url and key):
            server = PowerDnsServer(Path(state_dir))
            state = server.state
            url = url or (state["url"] if state else "")
            key = key or (server.api_key() if server.key_file.exists() else "")
        if not url:
            raise AdtError("DNS_CHOICE is powerdns but no DNS_API_URL (DNSAPIURL) is set", "the local build sets it")
        if not key:
            raise AdtError(
                "DNS_CHOICE is powerdns but no DNS_SECURITY_KEY (DNSSECURITYKEY) is set", "the build sets it"
            )
        return PowerDnsProvider(PowerDnsApi(url, key))
    if choice in ("", "NONE"):
        raise AdtError("DNS_CHOICE is NONE: this build has no DNS provider", "set DNS_CHOICE (powerdns on local)")
    if choice in PROVIDERS:
        import importlib

        module, name = PROVIDERS[choice]
        return getattr(importlib.import_module(module), name)(values, setting(values, "DNS_API_URL"))
    raise AdtError(f"unknown DNS_CHOICE {choice!r}", "use powerdns, NONE or a cloud provider's name")
