import pytest
from hypothesis import given, strategies as st

from adt.datastore import naming
from adt.errors import AdtError


def test_config_bucket_dots_to_dashes_and_lower_token():
    assert naming.config_bucket("www.example.com", "ABCDxyz") == "www-example-com-config-abcd"


def test_config_bucket_short_server_user():
    assert naming.config_bucket("a.b", "Xy") == "a-b-config-xy"


@pytest.mark.parametrize("call, expected", [
    (lambda: naming.ssl_bucket("www.ex.com", "cloudflare", "LETSENCRYPT"), "www-ex-com-cloudflare-lets-ssl"),
    (lambda: naming.ssl_bucket("www.ex.com", "digitalocean", "ZEROSSL"), "www-ex-com-digitalocean-zero-ssl"),
    (lambda: naming.backup_bucket("www.ex.com", "hourly"), "www-ex-com-hourly"),
    (lambda: naming.backup_bucket("www.ex.com", "daily", "linode"), "www-ex-com-daily-linode"),
    (lambda: naming.backup_bucket("www.ex.com", "weekly", database=True), "www-ex-com-db-weekly"),
    (lambda: naming.backup_bucket("www.ex.com", "monthly", "vultr", True), "www-ex-com-db-monthly-vultr"),
    (lambda: naming.scaling_bucket("www.ex.com", "digitalocean", "lon1"), "www-ex-com-scaling-digitalocean-lon1"),
    (lambda: naming.multi_region_bucket("www.ex.com"), "www-ex-com-multi-region"),
    (lambda: naming.webroot_sync_bucket("www.ex.com", "/var/www/html"), "www-ex-com-webroot-sync-tunnel-var-www-html"),
    (lambda: naming.config_sync_bucket("www.ex.com", "/var/lib/adt-config"),
     "www-ex-com-config-sync-tunnel-var-lib-adt-config"),
    (lambda: naming.asset_bucket("www.ex.com", "wp-content/uploads"), "www-ex-com-assets-wp-content-uploads"),
    (lambda: naming.asset_bucket("www.ex.com", "/images_big"), "www-ex-com-assets-images-big"),
    (lambda: naming.auth_bucket("203.0.113.5"), "authip-adt-allowed-203-0-113-5"),
    (lambda: naming.firewall_auth_laptop_ips_bucket("www.ex.com"), "www-ex-com-firewall-auth-laptop-ips"),
    (lambda: naming.basic_auth_credentials_bucket("www.ex.com"), "www-ex-com-basic-auth-credentials"),
    (lambda: naming.dbaas_bucket("www.ex.com", "cloudflare"), "www-ex-com-cloudflare-dbaas"),
    (lambda: naming.snap_bucket("www.ex.com", "cloudflare"), "www-ex-com-cloudflare-snap"),
])
def test_bucket_names_as_the_original(call, expected):
    assert call() == expected


def test_asset_bucket_collapses_double_dash_in_one_pass_like_sed():
    # sed 's/--/-/g' is a single non-overlapping pass: '---' becomes '--'
    assert naming.asset_bucket("a.b", "x---y") == "a-b-assets-x--y"


def test_unknown_ssl_service_is_a_clear_error():
    with pytest.raises(AdtError, match="SSL generation service"):
        naming.ssl_bucket("a.b", "cloudflare", "OTHER")


@pytest.mark.parametrize("bad", ["ab", "Www-example", "a_b-config-x", "-abc", "a" * 64, "10.0.0.1", "a..b"])
def test_check_bucket_name_refuses_what_s3_refuses(bad):
    with pytest.raises(AdtError, match="not a valid S3 bucket name"):
        naming.check_bucket_name(bad, "WEBSITEURL")


hosts = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10),
                 min_size=2, max_size=4).map(".".join)


@given(url=hosts, user=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                               min_size=4, max_size=20))
def test_config_bucket_properties(url, user):
    name = naming.config_bucket(url, user)
    assert "." not in name
    assert name.startswith(url.replace(".", "-") + "-config-")
    assert name.endswith(user[:4].lower())
    if len(name) <= 63:
        assert naming.check_bucket_name(name, "test") == name
