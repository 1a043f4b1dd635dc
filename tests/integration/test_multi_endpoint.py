"""Several endpoints (`|` in the settings): writes go to every one, reads come from the first."""

import pytest

from tests.integration.conftest import _machine


@pytest.fixture(params=["in-process", "agent"])
def two(request, tmp_path, s3, s3_second):
    m = _machine(tmp_path, [s3, s3_second], request.param == "agent")
    yield m
    m.stop_agent()


def test_writes_reach_every_endpoint_reads_the_first(two, s3, s3_second):
    assert two.run("config", "put", "10.0.0.7", "webserverips").returncode == 0
    assert two.keys(s3) == two.keys(s3_second) == ["webserverips/10.0.0.7"]
    s3_second.client().put_object(Bucket=two.bucket, Key="webserverips/10.9.9.9", Body=b"")
    assert two.run("config", "list", "webserverips/").stdout == "10.0.0.7\n"
    assert two.run("config", "delete", "webserverips", "yes").returncode == 0
    assert two.keys(s3) == two.keys(s3_second) == []


def test_a_failing_endpoint_fails_the_write_but_not_the_others(two, s3, s3_second):
    two.write_settings(S3SECRETKEY=f"{s3.state['rw'][1]}|wrong-secret-for-two")
    result = two.run("config", "put", "INSTALLED_SUCCESSFULLY")
    assert result.returncode == 1
    assert "endpoint 2" in result.stderr and s3_second.endpoint in result.stderr
    assert two.keys(s3) == ["INSTALLED_SUCCESSFULLY"]  # endpoint 1 was still written
    assert "wrong-secret" not in result.stderr
