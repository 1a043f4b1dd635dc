"""S3HOSTBASE values: what is accepted, and the one line a malformed one gives."""

import pytest
from hypothesis import given, strategies as st

from adt.datastore.endpoints import endpoints_from_settings, host_base_problem
from adt.errors import AdtError
from adt.settings.machine import MachineSettings


@pytest.mark.parametrize("value", [
    "sgp1.digitaloceanspaces.com", "sos-bg-sof-1.exo.io", "10.0.0.2:8333", "localhost:9000", "h.example.",
    "http://10.0.0.2:8333", "http://127.0.0.1:8333/", "https://[::1]:443", "https://us-east-1.linodeobjects.com",
])
def test_host_names_and_urls_are_accepted(value):
    assert host_base_problem(value) == ""


@pytest.mark.parametrize("value, problem", [
    ("http://[::1", "does not parse"),
    ("http://127.0.0.1:99999", "does not parse"),
    ("h:abc", "does not parse"),
    ("s3.example .com", "spaces"),
    ("", "empty"),
    ("ftp://10.0.0.2", "scheme 'ftp'"),
    ("http://user:secret@h", "user name or password"),
    ("http://h/bucket", "path"),
    ("h?x=1", "query"),
    ("h:", "port is missing"),
    ("http://h:0", "port is missing"),
    ("http://", "names no host"),
    ("-bad-.example", "not a valid host name"),
    ("a..b", "not a valid host name"),
    ("under_score_ok.but.bad!", "not a valid host name"),
])
def test_malformed_values_say_why(value, problem):
    assert problem in host_base_problem(value)


@given(st.text(max_size=30))
def test_any_text_gets_an_answer_not_an_exception(value):
    assert isinstance(host_base_problem(value), str)


def test_the_error_names_file_key_and_value(tmp_path):
    path = tmp_path / "webserver_configuration_settings.dat"
    path.write_text("S3ACCESSKEY:k1|k2\nS3SECRETKEY:s1|s2\nS3HOSTBASE:h.example|http://[::1\n")
    with pytest.raises(AdtError, match=rf"settings file {path}: value 2 of S3HOSTBASE is 'http://\[::1': it does not"):
        endpoints_from_settings(MachineSettings.load(path))


def test_credentials_in_the_value_are_not_repeated(tmp_path):
    path = tmp_path / "webserver_configuration_settings.dat"
    path.write_text("S3ACCESSKEY:k\nS3SECRETKEY:s\nS3HOSTBASE:http://me:pa55@h.example\n")
    with pytest.raises(AdtError) as caught:
        endpoints_from_settings(MachineSettings.load(path))
    assert "pa55" not in str(caught.value) and "S3HOSTBASE is a URL with credentials" in str(caught.value)
