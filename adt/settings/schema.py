"""Every template variable: its group, type, allowed values, defaults, and whether it is mandatory
or a secret. Pure data and small pure functions; `validate.py` checks templates against it and
`generate.py` writes the shipped templates from it, so the two never disagree.

Templates: 1 = development from a virgin application, 2 = development from a baseline,
3 = production from temporal backups with autoscalers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, FrozenSet, Optional, Tuple

from adt.settings.providers import CLOUDHOSTS, PROVIDERS

ALL = frozenset({1, 2, 3})
CLOUD = frozenset(c for c in CLOUDHOSTS if c != "local")


@dataclass(frozen=True)
class Var:
    name: str
    group: str
    kind: str = "text"  # text | enum | int | email | hostname | cidr | ident | url
    choices: Tuple[str, ...] = ()
    per_cloudhost: str = ""  # a PROVIDERS field whose list is the allowed values
    low: Optional[int] = None
    high: Optional[int] = None
    default: str = ""
    by_template: Dict[int, str] = field(default_factory=dict)
    mandatory: FrozenSet[int] = frozenset()  # templates in which an empty value is an error
    mandatory_on: FrozenSet[str] = CLOUD  # cloud hosts on which `mandatory` applies
    not_required_on: FrozenSet[str] = frozenset()  # cloud hosts that do not use it at all
    optional: bool = False  # an empty value is allowed besides the choices
    secret: bool = False
    chained: bool = False  # `|`-separated, one value per datastore
    in_template: bool = True
    help: str = ""


G_APP, G_S3, G_OS, G_PROVIDER, G_DNS, G_WEB = (
    "Application Settings",
    "S3 Datastore Settings",
    "OS Settings",
    "Cloudhost Provider Settings",
    "DNS Settings",
    "Webserver Settings",
)
G_GIT, G_INFRA, G_APPREPO, G_EMAIL, G_DB, G_SERVER = (
    "Git Settings",
    "Infrastructure Repository Settings",
    "Application Repository Settings",
    "System Email Settings",
    "Database Settings",
    "Server Settings",
)
G_BUILD, G_SNAP, G_SEC, G_AUTH, G_MULTI, G_STYLE, G_HARD = (
    "Build Settings",
    "Snapshot Settings",
    "Security Settings",
    "Authentication Server",
    "Multi Region Deployments",
    "Build Style",
    "Hardcore Build",
)
ZERO_ONE = ("0", "1")
DNS_CHOICES = ("cloudflare", "digitalocean", "exoscale", "linode", "vultr", "powerdns", "NONE")
PERIODS = ("hourly", "daily", "weekly", "monthly", "bimonthly")

VARIABLES: Tuple[Var, ...] = (
    # Application
    Var(
        "APPLICATION",
        G_APP,
        "enum",
        ("none", "joomla", "wordpress", "drupal", "moodle"),
        by_template={1: "joomla"},
        mandatory=ALL,
        mandatory_on=frozenset(CLOUDHOSTS),
        help="the CMS to deploy (none for a plain HTML or PHP site)",
    ),
    Var(
        "APPLICATION_BASELINE_SOURCECODE_REPOSITORY",
        G_APP,
        mandatory=frozenset({2}),
        mandatory_on=frozenset(CLOUDHOSTS),
        help="<identifier>-webroot-sourcecode-baseline, for template 2",
    ),
    Var(
        "BASELINE_DB_REPOSITORY",
        G_APP,
        mandatory=frozenset({2}),
        mandatory_on=frozenset(CLOUDHOSTS),
        help="<identifier>-db-baseline, for template 2",
    ),
    Var("APPLICATION_LANGUAGE", G_APP, "enum", ("HTML", "PHP"), default="PHP", help="the site's language"),
    Var(
        "PHP_VERSION",
        G_APP,
        "enum",
        ("8.0", "8.1", "8.2", "8.3", "8.4", "8.5"),
        default="8.5",
        help="PHP version on the webservers",
    ),
    Var(
        "BUILD_ARCHIVE_CHOICE",
        G_APP,
        "enum",
        ("virgin", "baseline") + PERIODS,
        by_template={1: "virgin", 2: "baseline", 3: "hourly"},
        help="build from a virgin application, a baseline, or a temporal backup of that periodicity",
    ),
    Var("APPLICATION_NAME", G_APP, default="Demo Application", help="free text naming the application"),
    # S3 datastore
    Var(
        "S3_ACCESS_KEY",
        G_S3,
        mandatory=ALL,
        secret=True,
        chained=True,
        help="object-store access key(s), '|'-separated for several datastores",
    ),
    Var("S3_SECRET_KEY", G_S3, mandatory=ALL, secret=True, chained=True, help="object-store secret key(s)"),
    Var(
        "S3_HOST_BASE",
        G_S3,
        "enum",
        per_cloudhost="s3_hosts",
        chained=True,
        help="object-store endpoint host(s), or the URL of any S3 server (local: empty = embedded datastore)",
    ),
    Var(
        "S3_LOCATION",
        G_S3,
        "enum",
        ("US",),
        default="US",
        chained=True,
        optional=True,
        help="object-store location; always US for these providers",
    ),
    Var("DIRECTORIES_TO_MOUNT", G_S3, help="colon-separated asset directories kept in the datastore"),
    Var(
        "PERSIST_ASSETS_TO_DATASTORE",
        G_S3,
        "enum",
        ZERO_ONE,
        default="0",
        help="1 keeps asset directories in the datastore",
    ),
    # OS
    Var("BUILDOS", G_OS, "enum", ("ubuntu", "debian"), default="debian", help="operating system of the machines"),
    Var(
        "BUILDOS_VERSION",
        G_OS,
        "enum",
        ("24.04", "12", "13"),
        default="13",
        help="24.04 for ubuntu; 12 or 13 for debian",
    ),
    # Provider credentials
    Var(
        "TOKEN",
        G_PROVIDER,
        mandatory=ALL,
        mandatory_on=frozenset({"digitalocean", "linode", "vultr"}),
        not_required_on=frozenset({"exoscale", "local"}),
        secret=True,
        help="the cloud host's API token",
    ),
    Var(
        "ACCESS_KEY",
        G_PROVIDER,
        mandatory=ALL,
        mandatory_on=frozenset({"exoscale"}),
        not_required_on=frozenset({"digitalocean", "linode", "vultr", "local"}),
        secret=True,
        help="Exoscale API key",
    ),
    Var(
        "SECRET_KEY",
        G_PROVIDER,
        mandatory=ALL,
        mandatory_on=frozenset({"exoscale"}),
        not_required_on=frozenset({"digitalocean", "linode", "vultr", "local"}),
        secret=True,
        help="Exoscale API secret",
    ),
    Var(
        "CLOUDHOST_ACCOUNT_ID",
        G_PROVIDER,
        mandatory=ALL,
        mandatory_on=frozenset({"exoscale", "linode"}),
        not_required_on=frozenset({"digitalocean", "vultr", "local"}),
        help="Exoscale login e-mail or Linode user name",
    ),
    # DNS
    Var("DNS_USERNAME", G_DNS, "email", mandatory=ALL, help="the DNS provider account's e-mail"),
    Var(
        "DNS_SECURITY_KEY",
        G_DNS,
        mandatory=ALL,
        secret=True,
        help="DNS API key; for cloudflare <account-id>:::<api-token>",
    ),
    Var("DNS_CHOICE", G_DNS, "enum", DNS_CHOICES, help="who serves the website's DNS records"),
    Var(
        "DNS_API_URL",
        G_DNS,
        optional=True,
        in_template=False,
        help="powerdns: the build's PowerDNS HTTP API, http://<bridge ip>:<port> (set by the local build)",
    ),
    # Website
    Var("WEBSITE_DISPLAY_NAME", G_WEB, mandatory=ALL, help="the site's name as people read it"),
    Var("WEBSITE_NAME", G_WEB, mandatory=ALL, help="the second label of WEBSITE_URL (example for www.example.com)"),
    Var("WEBSITE_URL", G_WEB, "hostname", mandatory=ALL, help="the site's host name, such as www.example.com"),
    Var(
        "WEBSERVER_CHOICE",
        G_WEB,
        "enum",
        ("NGINX", "APACHE", "LIGHTTPD"),
        default="APACHE",
        by_template={1: "NGINX"},
        help="webserver software",
    ),
    Var(
        "REVERSE_PROXY_WEBSERVER",
        G_WEB,
        "enum",
        ("NGINX", "APACHE"),
        default="APACHE",
        by_template={1: "NGINX"},
        help="reverse proxy software",
    ),
    Var("MOD_SECURITY", G_WEB, "enum", ZERO_ONE, default="0", help="1 enables ModSecurity"),
    # Git
    Var("GIT_USER", G_GIT, default="ADT User", help="git author name for baselines and backups"),
    Var("GIT_EMAIL_ADDRESS", G_GIT, "email", default="adt-user@example.com", optional=True, help="git author e-mail"),
    Var(
        "INFRASTRUCTURE_REPOSITORY_PROVIDER",
        G_INFRA,
        "enum",
        ("github", "gitlab", "bitbucket"),
        default="github",
        help="where the toolkit's own repositories are",
    ),
    Var("INFRASTRUCTURE_REPOSITORY_OWNER", G_INFRA, default="wintersys-projects", help="their owner"),
    Var("INFRASTRUCTURE_REPOSITORY_USERNAME", G_INFRA, default="wintersys-projects", help="user to fetch them as"),
    Var(
        "INFRASTRUCTURE_REPOSITORY_NAME",
        G_INFRA,
        optional=True,
        in_template=False,
        help="adt's repository under the owner, cloned by a provider's machines at first boot (default adt)",
    ),
    Var(
        "INFRASTRUCTURE_REPOSITORY_BRANCH",
        G_INFRA,
        optional=True,
        in_template=False,
        help="its branch (default main)",
    ),
    Var(
        "APPLICATION_REPOSITORY_PROVIDER",
        G_APPREPO,
        "enum",
        ("github", "gitlab", "bitbucket"),
        default="github",
        help="where baseline and backup repositories are",
    ),
    Var(
        "APPLICATION_REPOSITORY_OWNER",
        G_APPREPO,
        by_template={2: "adt-demos", 3: "adt-demos"},
        help="owner of the application repositories",
    ),
    Var(
        "APPLICATION_REPOSITORY_USERNAME",
        G_APPREPO,
        by_template={2: "adt-demos", 3: "adt-demos"},
        help="user to reach them as",
    ),
    Var("APPLICATION_REPOSITORY_TOKEN", G_APPREPO, secret=True, help="token for private application repositories"),
    # System e-mail
    Var(
        "SYSTEM_EMAIL_PROVIDER",
        G_EMAIL,
        "enum",
        ("1", "2", "3"),
        optional=True,
        help="1 SendPulse, 2 Mailjet, 3 AWS SES; empty for no e-mail",
    ),
    Var("SYSTEM_TOEMAIL_ADDRESS", G_EMAIL, "email", optional=True, help="who receives system e-mail"),
    Var("SYSTEM_FROMEMAIL_ADDRESS", G_EMAIL, "email", optional=True, help="who sends it"),
    Var("SYSTEM_EMAIL_USERNAME", G_EMAIL, help="SMTP user name"),
    Var("SYSTEM_EMAIL_PASSWORD", G_EMAIL, secret=True, help="SMTP password"),
    Var(
        "EMAIL_NOTIFICATION_LEVEL",
        G_EMAIL,
        "enum",
        ("ERROR", "INFO", "MANDATORY"),
        default="ERROR",
        help="which events are mailed",
    ),
    # Database
    Var("DB_PORT", G_DB, "int", low=1, high=65535, default="2035", help="database port (DigitalOcean DBaaS: 25060)"),
    Var(
        "DATABASE_INSTALLATION_TYPE",
        G_DB,
        "enum",
        ("Maria", "MySQL", "Postgres", "DBaaS"),
        default="Maria",
        help="database engine, or a managed database",
    ),
    Var(
        "DATABASE_DBaaS_INSTALLATION_TYPE",
        G_DB,
        help="managed database descriptor, first field Maria, MySQL or Postgres",
    ),
    Var(
        "DB_INSTALL_MODE",
        G_DB,
        "enum",
        ("0", "1", "2"),
        default="1",
        help="0 no database machine, 1 install, 2 a database machine without installing (reuse DBaaS)",
    ),
    # Servers
    Var("REGION", G_SERVER, "enum", per_cloudhost="regions", help="the cloud host's region"),
    Var("DB_SERVER_TYPE", G_SERVER, "enum", per_cloudhost="sizes", help="database machine size"),
    Var("WS_SERVER_TYPE", G_SERVER, "enum", per_cloudhost="sizes", help="webserver machine size"),
    Var("AS_SERVER_TYPE", G_SERVER, "enum", per_cloudhost="sizes", help="autoscaler machine size"),
    Var("AUTH_SERVER_TYPE", G_SERVER, "enum", per_cloudhost="sizes", help="authenticator machine size"),
    Var("RP_SERVER_TYPE", G_SERVER, "enum", per_cloudhost="sizes", help="reverse proxy machine size"),
    Var("CLOUDHOST", G_SERVER, "enum", CLOUDHOSTS, help="the cloud host"),
    Var(
        "BUILD_MACHINE_IP",
        G_SERVER,
        "text",
        optional=True,
        in_template=False,
        help="the build machine's address as the fleet sees it, on a provider (found when unset)",
    ),
    Var(
        "MACHINE_TYPE",
        G_SERVER,
        "enum",
        tuple(PROVIDERS[c]["machine_type"] for c in CLOUDHOSTS),
        help="the cloud host's machine kind",
    ),
    Var("SSH_PORT", G_SERVER, "int", low=1, high=65535, default="1035", help="sshd port on every machine"),
    Var("SERVER_TIMEZONE_CONTINENT", G_SERVER, default="Europe", help="machines' time zone, continent part"),
    Var("SERVER_TIMEZONE_CITY", G_SERVER, default="London", help="machines' time zone, city part"),
    Var("USER", G_SERVER, "enum", ("root",), default="root", help="the build machine user"),
    Var("SYNC_WEBROOTS", G_SERVER, "enum", ZERO_ONE, default="0", help="1 keeps webroots in step"),
    # Build
    Var("PRODUCTION", G_BUILD, "enum", ZERO_ONE, default="0", by_template={3: "1"}, help="1 for production"),
    Var("DEVELOPMENT", G_BUILD, "enum", ZERO_ONE, default="1", by_template={3: "0"}, help="1 for development"),
    Var(
        "BUILD_IDENTIFIER",
        G_BUILD,
        "ident",
        mandatory=ALL,
        help="names this build: 1-12 characters a-z, 0-9 and '-', not starting or ending with '-'",
    ),
    Var(
        "NO_AUTOSCALERS",
        G_BUILD,
        "int",
        low=0,
        high=5,
        default="0",
        by_template={3: "1"},
        help="autoscalers (production: at least 1)",
    ),
    Var("NO_REVERSE_PROXY", G_BUILD, "int", low=0, high=5, default="0", help="reverse proxies"),
    Var("NO_WEBSERVERS", G_BUILD, "int", low=1, high=5, default="1", help="webservers to keep running"),
    Var("MAX_WEBSERVERS", G_BUILD, "int", low=1, high=1000, default="10", help="most webservers scaling may make"),
    # the autoscaler's cycle (adt's, not the original's: its cron ran every 2 and 3 minutes)
    Var(
        "SCALING_INTERVAL",
        G_BUILD,
        "int",
        low=1,
        high=600,
        optional=True,
        in_template=False,
        help="seconds between autoscaler cycles (5)",
    ),
    Var(
        "SCALING_CONFIRM_SECONDS",
        G_BUILD,
        "int",
        low=1,
        high=3600,
        optional=True,
        in_template=False,
        help="seconds of failed liveness probes before a webserver is replaced (8)",
    ),
    Var(
        "SCALING_GRACE",
        G_BUILD,
        "int",
        low=1,
        high=3600,
        optional=True,
        in_template=False,
        help="seconds a booted webserver has to serve the site before it counts as unready (120)",
    ),
    Var(
        "SCALING_LIST_INTERVAL",
        G_BUILD,
        "int",
        low=0,
        high=600,
        optional=True,
        in_template=False,
        help="seconds between an autoscaler's listings of a provider's machines and DNS while nothing moves (30; "
        "every cycle on local): the providers count API requests",
    ),
    Var(
        "DNS_TTL",
        G_DNS,
        "int",
        low=1,
        high=86400,
        optional=True,
        in_template=False,
        help="TTL of the round robin's records; a webserver leaves DNS this long before it is ended (60)",
    ),
    # Snapshots
    Var(
        "GENERATE_SNAPSHOTS",
        G_SNAP,
        "enum",
        ZERO_ONE,
        default="0",
        help="1 makes snapshot images of the autoscaler, webserver and database at the end of the build",
    ),
    Var(
        "AUTOSCALE_FROM_SNAPSHOTS",
        G_SNAP,
        "enum",
        ZERO_ONE,
        default="0",
        help="1 builds the fleet (and every new webserver) from the snapshot images below",
    ),
    Var(
        "BUILD_FROM_SNAPSHOT",
        G_SNAP,
        "enum",
        ZERO_ONE,
        optional=True,
        in_template=False,
        help="the original's newer name for AUTOSCALE_FROM_SNAPSHOTS",
    ),
    Var("AUTOSCALER_SNAPSHOT_ID", G_SNAP, help="snapshot image of the autoscaler"),
    Var("WEBSERVER_SNAPSHOT_ID", G_SNAP, help="snapshot image of the webserver"),
    Var("DATABASE_SNAPSHOT_ID", G_SNAP, help="snapshot image of the database machine"),
    # Security
    Var(
        "ACTIVE_FIREWALLS",
        G_SEC,
        "enum",
        ("0", "1", "2", "3"),
        default="3",
        help="0 none, 1 ufw/iptables, 2 the cloud host's, 3 both",
    ),
    Var("PUBLIC_KEY_NAME", G_SEC, default="AGILE_TOOLKIT_PUBLIC_KEY", help="name of the build key at the cloud host"),
    Var(
        "SSL_GENERATION_METHOD",
        G_SEC,
        "enum",
        ("AUTOMATIC", "MANUAL"),
        default="AUTOMATIC",
        help="issue certificates automatically or install them by hand",
    ),
    Var(
        "SSL_GENERATION_SERVICE",
        G_SEC,
        "enum",
        ("LETSENCRYPT", "ZEROSSL"),
        default="ZEROSSL",
        help="the ACME certificate authority",
    ),
    Var("SSL_LIVE_CERT", G_SEC, "enum", ZERO_ONE, default="1", help="0 staging certificates, 1 live"),
    Var(
        "SSL_ACME_DIRECTORY",
        G_SEC,
        "text",
        optional=True,
        in_template=False,
        help="an ACME directory instead of the service's (a private CA; pebble on local); empty: the service's",
    ),
    Var(
        "SSL_ACME_CA_BUNDLE",
        G_SEC,
        optional=True,
        in_template=False,
        help="a CA bundle to trust for SSL_ACME_DIRECTORY's HTTPS; empty: the system's",
    ),
    Var(
        "SSL_DNS_PROPAGATION_TIMEOUT",
        G_SEC,
        "int",
        low=0,
        high=900,
        optional=True,
        in_template=False,
        help="seconds DNS-01 records are waited for at the zone's nameservers before the CA looks (120; 0 none)",
    ),
    Var("SSL_EMAIL_ADDRESS", G_SEC, "email", optional=True, in_template=False, help="the ACME account's e-mail"),
    Var("SSL_EAB_KID", G_SEC, optional=True, in_template=False, help="external account binding key id (ZeroSSL)"),
    Var(
        "SSL_EAB_HMAC_KEY",
        G_SEC,
        optional=True,
        secret=True,
        in_template=False,
        help="external account binding HMAC key; empty with ZeroSSL: asked of ZeroSSL for SSL_EMAIL_ADDRESS",
    ),
    Var("ALGORITHM", G_SEC, "enum", ("rsa", "ecdsa", "ed25519"), default="ed25519", help="SSH key algorithm"),
    Var("BUILD_MACHINE_VPC", G_SEC, "enum", ZERO_ONE, default="1", help="1 when the build machine is in the VPC"),
    Var("VPC_IP_RANGE", G_SEC, "cidr", mandatory=ALL, help="the fleet's private network, such as 10.116.0.0/20"),
    Var("VPC_NAME", G_SEC, default="adt-vpc", help="name of the private network"),
    # Authenticator
    Var("NO_AUTHENTICATORS", G_AUTH, "int", low=0, high=5, default="0", help="authentication servers"),
    Var(
        "AUTHENTICATOR_TYPE",
        G_AUTH,
        "enum",
        ("firewall", "basic-auth"),
        optional=True,
        help="how authenticators admit people",
    ),
    Var("AUTH_SERVER_URL", G_AUTH, "hostname", optional=True, help="the authenticator's host name"),
    Var("AUTH_DNS_USERNAME", G_AUTH, "email", optional=True, help="its DNS account e-mail"),
    Var("AUTH_DNS_SECURITY_KEY", G_AUTH, secret=True, help="its DNS API key"),
    Var("AUTH_DNS_CHOICE", G_AUTH, "enum", DNS_CHOICES, default="cloudflare", help="its DNS provider"),
    Var("USER_EMAIL_DOMAIN", G_AUTH, help="e-mail domain of the people it admits"),
    # Multi-region
    Var("MULTI_REGION", G_MULTI, "enum", ZERO_ONE, default="0", help="1 for a fleet across regions"),
    Var("PRIMARY_REGION", G_MULTI, "enum", ZERO_ONE, default="0", help="1 in the primary region"),
    Var("DBaaS_PUBLIC_ENDPOINT", G_MULTI, help="managed database endpoint for non-primary regions"),
    # Build style
    Var("IN_PARALLEL", G_STYLE, "enum", ZERO_ONE, default="0", help="1 builds machines in parallel"),
    # Hardcore builds (environment of a user-data build, not in templates)
    Var("SSH", G_HARD, in_template=False, help="the build machine user's public key"),
    Var(
        "SELECTED_TEMPLATE",
        G_HARD,
        "enum",
        ("1", "2", "3"),
        optional=True,
        in_template=False,
        help="which template a hardcore build uses",
    ),
    Var("BUILDMACHINE_USER", G_HARD, in_template=False, help="build machine user"),
    Var("BUILDMACHINE_PASSWORD", G_HARD, secret=True, in_template=False, help="its password"),
    Var(
        "BUILDMACHINE_SSH_PORT", G_HARD, "int", low=1, high=65535, optional=True, in_template=False, help="its SSH port"
    ),
    Var("LAPTOP_IP", G_HARD, in_template=False, help="an address allowed through the build machine's firewall"),
    Var(
        "INFRASTRUCTURE_REPOSITORY_TOKEN",
        G_HARD,
        secret=True,
        in_template=False,
        help="token for private infrastructure repositories",
    ),
)

BY_NAME: Dict[str, Var] = {v.name: v for v in VARIABLES}

# Secrets the build adds to build_environment at run time (not template variables).
RUNTIME_SECRETS = frozenset({"SERVER_USER_PASSWORD", "DB_PASSWORD"})


def is_secret(name: str) -> bool:
    return name in RUNTIME_SECRETS or (name in BY_NAME and BY_NAME[name].secret)


# Names the original used before, and what replaced them.
RENAMED = {
    "BUILD_CHOICE": "BUILD_ARCHIVE_CHOICE",
    "INPARALLEL": "IN_PARALLEL",
    "BYPASS_DB_LAYER": "DB_INSTALL_MODE",
    "AUTHENTICATION_SERVER": "NO_AUTHENTICATORS",
}

# Values a template takes on a cloud host, whatever its number.
PROVIDER_DEFAULTS = {
    "digitalocean": {
        "REGION": "lon1",
        "SIZE": "s-1vcpu-1gb",
        "S3_HOST_BASE": "ams3.digitaloceanspaces.com",
        "DNS_CHOICE": "digitalocean",
    },
    "exoscale": {"REGION": "ch-gva-2", "SIZE": "tiny", "S3_HOST_BASE": "sos-ch-gva-2.exo.io", "DNS_CHOICE": "exoscale"},
    "linode": {
        "REGION": "gb-lon",
        "SIZE": "g6-nanode-1",
        "S3_HOST_BASE": "gb-lon-1.linodeobjects.com",
        "DNS_CHOICE": "linode",
    },
    "vultr": {"REGION": "lhr", "SIZE": "vc2-1c-1gb", "S3_HOST_BASE": "ams1.vultrobjects.com", "DNS_CHOICE": "vultr"},
    # The local cloud host needs no account: every value has a working default.
    "local": {
        "REGION": "local",
        "SIZE": "local",
        "S3_HOST_BASE": "",
        "DNS_CHOICE": "NONE",
        "WEBSITE_DISPLAY_NAME": "ADT Demo",
        "WEBSITE_NAME": "adt-demo",
        "WEBSITE_URL": "www.adt-demo.local",
        "BUILD_IDENTIFIER": "demo",
        "VPC_IP_RANGE": "10.171.0.0/24",
        "SSL_LIVE_CERT": "0",
        "SSH_PORT": "2222",
        "PHP_VERSION": "8.2",
        "BUILDOS_VERSION": "12",
    },
}
# Values for one template of one cloud host: the local development build deploys WordPress (Debian's package).
TEMPLATE_DEFAULTS = {("local", 1): {"APPLICATION": "wordpress"}}
SIZE_VARIABLES = ("DB_SERVER_TYPE", "WS_SERVER_TYPE", "AS_SERVER_TYPE", "AUTH_SERVER_TYPE", "RP_SERVER_TYPE")


def requirement(var: Var, cloudhost: str, template: int) -> str:
    """`MANDATORY`, `NOT REQUIRED` or '' for a variable in a template of a cloud host."""
    if cloudhost in var.not_required_on:
        return "NOT REQUIRED"
    if template in var.mandatory and cloudhost in var.mandatory_on:
        return "MANDATORY"
    return ""


def default(var: Var, cloudhost: str, template: int) -> str:
    if var.name == "CLOUDHOST":
        return cloudhost
    if var.name == "MACHINE_TYPE":
        return PROVIDERS[cloudhost]["machine_type"]
    provider = PROVIDER_DEFAULTS.get(cloudhost, {})
    for table in (TEMPLATE_DEFAULTS.get((cloudhost, template), {}), provider):
        if var.name in table:
            return table[var.name]
    if var.name in SIZE_VARIABLES:
        return provider.get("SIZE", "")
    return var.by_template.get(template, var.default)


def allowed(var: Var, cloudhost: Optional[str]) -> Tuple[str, ...]:
    if var.per_cloudhost:
        return tuple(PROVIDERS.get(cloudhost or "", {}).get(var.per_cloudhost, ()))
    return var.choices
