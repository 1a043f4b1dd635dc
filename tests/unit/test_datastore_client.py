"""The one S3 client factory: its two profiles, its dry-run hook, and SeaweedS3 built on it (no server needed:
nothing here reaches one, except the read that must, which meets a closed port)."""

import json

import pytest

from adt import run
from adt.datastore import client as s3
from adt.datastore.endpoints import Endpoint
from adt.datastore.seaweed import SeaweedS3

CLOSED = Endpoint(1, "http://127.0.0.1:9", "AKEY", "a-secret")  # the discard port: refused at once


def limits(client):
    config = client.meta.config
    return config.connect_timeout, config.read_timeout, config.retries["total_max_attempts"]


def test_profiles_short_for_configuration_long_for_archives():
    assert limits(s3.s3_client(CLOSED)) == (2, 3.5, 2)
    assert limits(s3.s3_client(CLOSED, profile="bulk")) == (10, 120, 5)
    assert s3.s3_client(CLOSED, "bulk") is s3.s3_client(CLOSED, profile="bulk") is not s3.s3_client(CLOSED)
    with pytest.raises(KeyError, match="huge"):
        s3.s3_client(CLOSED, profile="huge")


@pytest.mark.parametrize("operation", ["PutObject", "DeleteObject", "DeleteObjects", "CreateBucket", "DeleteBucket",
                                       "CopyObject", "CreateMultipartUpload", "UploadPart", "UploadPartCopy",
                                       "CompleteMultipartUpload", "AbortMultipartUpload", "PutBucketPolicy",
                                       "PutBucketLifecycleConfiguration", "PutObjectTagging", "RestoreObject"])
def test_changing_operations(operation):
    assert s3.changes(operation)


@pytest.mark.parametrize("operation", ["GetObject", "HeadObject", "HeadBucket", "ListObjectsV2", "ListBuckets",
                                       "ListMultipartUploads", "GetBucketLocation", "GetObjectTagging"])
def test_reading_operations(operation):
    assert not s3.changes(operation)


def test_targets_name_bucket_and_keys():
    assert s3.targets("PutObject", {"Bucket": "b", "Key": "a/k"}) == ["s3://b/a/k"]
    assert s3.targets("CreateBucket", {"Bucket": "b"}) == ["s3://b/"]
    assert s3.targets("DeleteObjects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "x"}, {"Key": "y/z"}]}}) == [
        "s3://b/x", "s3://b/y/z"]


def test_a_dry_run_prints_changing_calls_and_sends_none_while_reads_go_out():
    client = s3.s3_client(CLOSED, profile="bulk")
    lines = []
    with run.dry_running(echo=lines.append):
        client.create_bucket(Bucket="b-dry")
        client.put_object(Bucket="b-dry", Key="a/key", Body=b"data")
        assert client.create_multipart_upload(Bucket="b-dry", Key="big")["UploadId"] == "dry-run"
        assert client.upload_part(Bucket="b-dry", Key="big", UploadId="dry-run", PartNumber=1, Body=b"x")["ETag"]
        client.complete_multipart_upload(Bucket="b-dry", Key="big", UploadId="dry-run",
                                         MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"e"'}]})
        client.delete_objects(Bucket="b-dry", Delete={"Objects": [{"Key": "x"}, {"Key": "y"}]})
        client.copy_object(Bucket="b-dry", Key="live", CopySource={"Bucket": "b-dry", "Key": "a/key"})
        with pytest.raises(Exception, match="Could not connect"):  # a read is sent (and meets the closed port)
            client.head_object(Bucket="b-dry", Key="a/key")
    assert lines == ["would call: CreateBucket s3://b-dry/", "would call: PutObject s3://b-dry/a/key",
                     "would call: CreateMultipartUpload s3://b-dry/big", "would call: UploadPart s3://b-dry/big",
                     "would call: CompleteMultipartUpload s3://b-dry/big",
                     "would call: DeleteObjects s3://b-dry/x s3://b-dry/y", "would call: CopyObject s3://b-dry/live"]
    with pytest.raises(Exception, match="Could not connect"):  # outside the dry run, writes are sent again
        s3.s3_client(CLOSED).put_object(Bucket="b-dry", Key="a/key", Body=b"data")


def seaweed_with_state(tmp_path) -> SeaweedS3:
    state = {"pid": 0, "ports": {"s3": 9}, "rw": ["rwkey", "rwsecret"], "ro": ["rokey", "rosecret"], "ip": "127.0.0.1"}
    (tmp_path / "state.json").write_text(json.dumps(state))
    return SeaweedS3(tmp_path)


def test_seaweed_clients_come_from_the_factory(tmp_path):
    server = seaweed_with_state(tmp_path)
    client = server.client()
    assert client is s3.s3_client(Endpoint(0, "http://127.0.0.1:9", "rwkey", "rwsecret", "us-east-1"))
    assert limits(client) == (2, 3.5, 2)
    assert limits(server.client(profile="bulk")) == (10, 120, 5)
    assert server.client(readonly=True).meta.region_name == "us-east-1"
    assert server.client(readonly=True) is not client


def test_seaweed_start_in_a_dry_run_prints_the_command_and_makes_nothing(tmp_path):
    lines = []
    server = SeaweedS3(tmp_path / "s3")
    with run.dry_running(echo=lines.append):
        server.start()
    assert not (tmp_path / "s3").exists() and server.state is None
    (line,) = lines
    assert line.startswith("would run: ") and f" -logdir={tmp_path / 's3' / 'logs'} mini -dir=" in line
    assert f"-s3.config={tmp_path / 's3' / 's3config.json'}" in line and " -s3.port=" in line
