"""The build's interrogation, its pure parts: a template's repository values as the baseline helpers read them
(the token goes to askpass, never into the URL), and the clone's exact command line."""

import pytest

from adt.baseline import publish
from adt.build import interrogate
from adt.errors import AdtError

TEMPLATE = {
    "APPLICATION_REPOSITORY_PROVIDER": "github",
    "APPLICATION_REPOSITORY_OWNER": "acme",
    "APPLICATION_REPOSITORY_USERNAME": "robot",
    "APPLICATION_REPOSITORY_TOKEN": "ghp_secret",
}


def test_template_values_reach_the_remote_through_askpass_only():
    settings = interrogate._TemplateSettings(TEMPLATE)
    remote = publish.remote_url(settings, publish.repository_name("shop", "website"), None)
    assert remote.url == "https://github.com/acme/shop-webroot-sourcecode-baseline.git"
    assert (remote.username, remote.token) == ("robot", "ghp_secret")
    assert "ghp_secret" not in repr(remote)


def test_the_password_stands_in_for_a_missing_token_as_in_the_original():
    values = {**TEMPLATE, "APPLICATION_REPOSITORY_TOKEN": "", "APPLICATION_REPOSITORY_PASSWORD": "pw"}
    assert interrogate._TemplateSettings(values).require("APPLICATIONREPOSITORYTOKEN") == "pw"


def test_a_missing_value_is_named_by_its_template_name():
    with pytest.raises(AdtError, match="APPLICATION_REPOSITORY_OWNER is not set"):
        publish.remote_url(interrogate._TemplateSettings({"APPLICATION_REPOSITORY_PROVIDER": "gitlab"}), "x", None)


def test_clone_command():
    assert interrogate.clone_command("https://github.com/acme/r.git", "/tmp/x") == [
        "git", "-c", "credential.helper=", "clone", "-q", "--depth", "1", "--no-checkout", "--filter=blob:limit=1024",
        "-b", "main", "https://github.com/acme/r.git", "/tmp/x"]
