"""Several endpoints (`|` in the settings): writes go to every one, reads come from the first. The pairs:
two SeaweedFS servers, and moto (which, like AWS, creates no bucket on write) before SeaweedFS."""

import pytest

from tests.integration.conftest import _machine


@pytest.fixture(params=["seaweedfs+seaweedfs", "moto+seaweedfs"])
def pair(request, s3, s3_second):
    return [request.getfixturevalue("s3_moto"), s3] if request.param.startswith("moto") else [s3, s3_second]


@pytest.fixture(params=["in-process", "agent"])
def two(request, tmp_path, pair):
    m = _machine(tmp_path, pair, request.param == "agent")
    yield m
    m.stop_agent()


def test_writes_reach_every_endpoint_reads_the_first(two, pair, tmp_path):
    s3, s3_second = pair
    assert two.run("config", "put", "10.0.0.7", "webserverips").returncode == 0
    assert two.keys(s3) == two.keys(s3_second) == ["webserverips/10.0.0.7"]
    s3_second.client().put_object(Bucket=two.bucket, Key="webserverips/10.9.9.9", Body=b"")
    assert two.run("config", "list", "webserverips/").stdout == "10.0.0.7\n"
    assert two.run("config", "delete", "webserverips", "yes").returncode == 0
    assert two.keys(s3) == two.keys(s3_second) == []


def test_a_failing_endpoint_fails_the_write_but_not_the_others(two, pair):
    s3, s3_second = pair  # the second is SeaweedFS, which checks credentials
    two.write_settings(S3SECRETKEY=f"{s3.state['rw'][1]}|wrong-secret-for-two")
    result = two.run("config", "put", "INSTALLED_SUCCESSFULLY")
    assert result.returncode == 1
    assert "endpoint 2" in result.stderr and s3_second.endpoint in result.stderr
    assert two.keys(s3) == ["INSTALLED_SUCCESSFULLY"]  # endpoint 1 was still written
    assert "wrong-secret" not in result.stderr


def test_a_file_put_reaches_the_endpoints_after_a_failing_one(tmp_path, s3, s3_moto):
    """A file upload refused by endpoint 1 (boto3 wraps that refusal) is reported by name, and endpoint 2 (moto,
    its bucket missing) is still written."""
    m = _machine(tmp_path, [s3, s3_moto], False)
    m.write_settings(S3SECRETKEY=f"wrong-secret-for-one|{s3_moto.state['rw'][1]}")
    source = tmp_path / "wordpress_config.php"
    source.write_text("<?php\n")
    result = m.run("config", "put", str(source))
    assert result.returncode == 1
    assert f"S3 endpoint {s3.endpoint} (endpoint 1), bucket {m.bucket} refused to put" in result.stderr
    assert "internal error" not in result.stderr and "wrong-secret" not in result.stderr
    assert m.keys(s3_moto) == ["wordpress_config.php"] and m.keys(s3) == []
