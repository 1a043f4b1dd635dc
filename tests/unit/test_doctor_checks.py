"""adt doctor's pure parts: findings from template problems, the setting a driver's problem names, bucket names,
rendering and JSON; the key check on real key files; the provider image names; and `adt cloud`'s word parsing."""

import os
import shutil
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from adt.build import doctor
from adt.build.cloudhost import cloud_driver, missing_credentials, value
from adt.build.doctor import READY, Finding
from adt.cli.cloud import WordsCommand, original_arguments
from adt.errors import AdtError

ROOT = Path(__file__).resolve().parents[2]
DO_VALUES = {
    "CLOUDHOST": "digitalocean",
    "REGION": "lon1",
    "DB_SERVER_TYPE": "s-1vcpu-1gb",
    "WS_SERVER_TYPE": "s-2vcpu-2gb",
    "AS_SERVER_TYPE": "s-1vcpu-1gb",
    "AUTH_SERVER_TYPE": "",
    "RP_SERVER_TYPE": "s-1vcpu-1gb",
    "BUILDOS": "debian",
    "BUILDOS_VERSION": "13",
    "BUILD_IDENTIFIER": "t1",
    "VPC_NAME": "adt-vpc",
    "TOKEN": "dop_v1_x",
    "WEBSITE_URL": "www.example.com",
    "DNS_CHOICE": "digitalocean",
}


def test_render_one_line_a_finding_naming_the_setting_else_ready():
    findings = [
        Finding("cloud", "REGION", "digitalocean has no region 'xyz1'"),
        Finding("template", "TOKEN", 'TOKEN="": MANDATORY value missing'),
        Finding("cloud", "", "the droplet limit is reached (25 of 25)"),
    ]
    assert doctor.render(findings) == [
        "cloud: REGION: digitalocean has no region 'xyz1'",
        'template: TOKEN="": MANDATORY value missing',
        "cloud: the droplet limit is reached (25 of 25)",
    ]
    assert doctor.render([]) == [READY] == ["ready to build"]


def test_as_json_says_ready_and_lists_every_problem():
    found = doctor.as_json([Finding("dns", "WEBSITE_URL", "no zone")], "digitalocean", "/t/digitalocean1.tmpl")
    assert found == {
        "cloudhost": "digitalocean",
        "template": "/t/digitalocean1.tmpl",
        "ready": False,
        "problems": [{"area": "dns", "setting": "WEBSITE_URL", "message": "no zone"}],
    }
    assert doctor.as_json([], "local", "x")["ready"] is True


def test_a_template_s_problems_all_at_once_secrets_hidden(tmp_path):
    template = tmp_path / "digitalocean" / "digitalocean1.tmpl"
    template.parent.mkdir()
    text = (ROOT / "templates" / "digitalocean" / "digitalocean1.tmpl").read_text()
    text = text.replace('export REGION="lon1"', 'export REGION="mars1"').replace('TOKEN=""', 'TOKEN="secret-x"')
    template.write_text(text)
    values, found = doctor.load_template(template, "digitalocean", "t1")
    assert values["BUILD_IDENTIFIER"] == "t1" and values["CLOUDHOST"] == "digitalocean"
    settings = [f.setting for f in found]
    assert "REGION" in settings and "WEBSITE_URL" in settings and "S3_ACCESS_KEY" in settings
    assert "TOKEN" not in settings and "BUILD_IDENTIFIER" not in settings
    assert all(f.area == "template" for f in found)
    assert not any("secret-x" in f.render() for f in found)
    region = next(f for f in found if f.setting == "REGION")
    assert region.render().startswith('template: REGION="mars1": not allowed on digitalocean; allowed: nyc1')


def test_a_template_that_does_not_load_is_one_finding_and_no_values(tmp_path):
    values, found = doctor.load_template(tmp_path / "missing.tmpl", "vultr")
    assert values == {}
    assert len(found) == 1 and found[0].area == "template" and found[0].setting == str(tmp_path / "missing.tmpl")


@pytest.mark.parametrize(
    "message, setting",
    [
        ("digitalocean has no size 's-2vcpu-2gb'", "WS_SERVER_TYPE"),
        ("vultr has no plan (size) 's-1vcpu-1gb'", "DB_SERVER_TYPE, AS_SERVER_TYPE, RP_SERVER_TYPE"),
        ("digitalocean has no region 'lon1' (regions: ams3, nyc1)", "REGION"),
        ("digitalocean droplet size s-2vcpu-2gb is not offered in lon1", "WS_SERVER_TYPE"),
        ("digitalocean region lon1 takes no new droplets now", "REGION"),
        ("exoscale has no zone 'ch-gva-9'", "REGION"),
        ("digitalocean has no image 'debian-13-x64'", "BUILDOS_VERSION"),
        ("digitalocean refused the token (401): check TOKEN", "TOKEN"),
        ("digitalocean: the token lacks the scope droplet:create", "TOKEN"),
        ("digitalocean: the droplet limit is reached (25 of 25)", ""),
    ],
)
def test_the_setting_a_driver_s_problem_is_about(message, setting):
    assert doctor.cloud_setting("digitalocean", message, DO_VALUES, "debian-13-x64") == setting


def test_exoscale_credentials_are_its_two_keys():
    assert doctor.cloud_setting("exoscale", "exoscale: 403 forbidden", {}) == "ACCESS_KEY, SECRET_KEY"


def test_every_size_once_in_order():
    assert doctor.sizes_of(DO_VALUES) == ["s-1vcpu-1gb", "s-2vcpu-2gb"]


def test_bucket_names_of_a_long_website_url_are_one_finding_naming_each():
    assert doctor.bucket_findings(DO_VALUES, "digitalocean") == []
    long_url = "www." + "a" * 35 + ".example.com"  # 51 characters dashed
    (found,) = doctor.bucket_findings({**DO_VALUES, "WEBSITE_URL": long_url}, "digitalocean")
    assert found.area == "datastore" and found.setting == "WEBSITE_URL"
    assert "-db-bimonthly (bimonthly database backups, 64 characters)" in found.message
    assert "-digitalocean-snap (snapshots, 69 characters)" in found.message
    assert "-config-xabc" not in found.message  # 63 characters: valid
    assert "-bimonthly (bimonthly backups" not in found.message  # 61


def test_bucket_names_are_the_builds():
    names = doctor.bucket_names(DO_VALUES, "digitalocean")
    assert names["www-example-com-config-xabc"] == "config"
    assert names["www-example-com-db-daily"] == "daily database backups"
    assert names["www-example-com-digitalocean-snap"] == "snapshots"
    assert names["www-example-com-scaling-digitalocean-lon1"] == "scaling"


def test_a_bad_s3_host_base_is_named_without_asking_it():
    values = {**DO_VALUES, "S3_HOST_BASE": "ams3.digitaloceanspaces.com/x", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b"}
    (found,) = doctor.datastore_findings(values, "digitalocean")
    assert found.setting == "S3_HOST_BASE"
    assert "it has a path, a query or a fragment" in found.message


def test_no_dns_to_check_for_none_or_powerdns():
    assert doctor.dns_findings({**DO_VALUES, "DNS_CHOICE": "NONE"}) == []
    assert doctor.dns_findings({**DO_VALUES, "DNS_CHOICE": "powerdns"}) == []
    (found,) = doctor.dns_findings({**DO_VALUES, "WEBSITE_URL": "localhost"})
    assert found.setting == "WEBSITE_URL" and "has no zone" in found.message


def test_missing_credentials_are_findings_unless_the_template_said_so():
    values = {**DO_VALUES, "TOKEN": ""}
    assert doctor.cloud_findings("digitalocean", values) == [
        Finding("cloud", "TOKEN", "not set: the digitalocean API needs it")
    ]
    assert doctor.cloud_findings("digitalocean", values, flagged=["TOKEN"]) == []
    assert doctor.cloud_findings("local", values) == []


def _keypair(folder: Path, name: str) -> Path:
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


def test_the_key_check_on_real_keys(tmp_path):
    assert doctor.key_findings(tmp_path / "none") == []
    key = _keypair(tmp_path, "id_ed25519_AGILE_DEPLOYMENT_BUILD_KEY_t1")
    assert doctor.key_findings(key) == []
    os.chmod(key, 0o644)
    (found,) = doctor.key_findings(key)
    assert found == Finding(
        "key", str(key), "mode 0644: ssh refuses a private key others may read; chmod 600 it"
    )
    os.chmod(key, 0o600)
    other = _keypair(tmp_path, "other")
    shutil.copy(other.with_name("other.pub"), key.with_name(key.name + ".pub"))
    (found,) = doctor.key_findings(key)
    assert found.setting == str(key) + ".pub" and found.message.startswith("is not the public half of")
    key.with_name(key.name + ".pub").unlink()
    (found,) = doctor.key_findings(key)
    assert found.message == "missing: the machines are given the build key's .pub"


def test_credentials_and_driver_settings_from_either_naming():
    assert missing_credentials("exoscale", {"ACCESS_KEY": "a", "SECRETKEY": "b"}) == []
    assert missing_credentials("exoscale", {"ACCESS_KEY": "a"}) == ["SECRET_KEY"]
    assert missing_credentials("local", {}) == []
    assert value({"BUILDOSVERSION": "12"}, "BUILDOS_VERSION") == "12"
    with pytest.raises(AdtError, match="no DigitalOcean API token"):
        cloud_driver("digitalocean", {"REGION": "lon1", "BUILDIDENTIFIER": "t1"})


def test_original_arguments_by_position():
    named = {"ip": "10.0.0.1", "cloudhost": "vultr", "private_ip": ""}
    assert original_arguments("destroy", ["10.0.0.1", "vultr"]) == named
    with pytest.raises(click.UsageError, match=r"at most 2 arguments \(PATTERN CLOUDHOST\), not 3"):
        original_arguments("ips", ["a", "b", "c"])


def test_words_that_start_with_a_dash_are_words_and_options_stay_options():
    @click.command(cls=WordsCommand)
    @click.argument("words", nargs=-1)
    @click.option("--build-identifier", "-b")
    @click.option("--dry-run", is_flag=True)
    def show(words, build_identifier, dry_run):
        click.echo(f"{list(words)} {build_identifier} {dry_run}")

    result = CliRunner().invoke(show, ["-as-", "-b", "t1", "vultr", "--dry-run", "-bc"])
    assert result.output == "['-as-', 'vultr', '-bc'] t1 True\n"
    assert CliRunner().invoke(show, ["--build-identifier=x", "--", "--dry-run"]).output == "['--dry-run'] x False\n"


def test_one_rule_makes_a_providers_driver_from_either_naming(monkeypatch):
    """A build's values and a fleet machine's settings give the same placement; an autoscaler's OSIMAGE, VPCNAME
    and CLOUDAPIURL, when set, are taken as they are."""
    from adt.cloud import driver_for

    monkeypatch.setenv("ADT_API_URL_DIGITALOCEAN", "http://127.0.0.1:9/v2")
    build = driver_for("digitalocean", {"TOKEN": "t", "REGION": "lon1", "BUILD_IDENTIFIER": "b1",
                                        "BUILDOS": "debian", "BUILDOS_VERSION": "12"})
    machine = driver_for("digitalocean", {"TOKEN": "t", "REGION": "lon1", "BUILDIDENTIFIER": "b1",
                                          "BUILDOS": "debian", "BUILDOSVERSION": "12"})
    assert build.placement == machine.placement
    assert (build.placement.os_image, build.placement.vpc, build.placement.build) == ("debian-12-x64", "adt-lon1-b1", "b1")
    autoscaler = driver_for("digitalocean", {"TOKEN": "t", "REGION": "lon1", "BUILDIDENTIFIER": "b1",
                                             "OSIMAGE": "debian-13-x64", "VPCNAME": "adt-other",
                                             "CLOUDAPIURL": "http://10.0.0.1:9/v2"})
    assert (autoscaler.placement.os_image, autoscaler.placement.vpc) == ("debian-13-x64", "adt-other")
