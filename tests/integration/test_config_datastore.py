"""Semantics of the configuration datastore, through the Python API, against SeaweedFS and moto."""

import pytest

S3_SERVERS = ("seaweedfs", "moto")


def test_missing_bucket_reads_empty_and_first_put_creates_it(store, plain_machine):
    assert store.list("") == []
    assert store.check("anything") is False
    assert store.get("anything", plain_machine.root / "x") is False
    store.delete("anything")  # nothing to delete is not an error
    store.put("INSTALLED_SUCCESSFULLY")
    assert plain_machine.keys() == ["INSTALLED_SUCCESSFULLY"]


def test_markers_are_zero_byte_objects(store, plain_machine):
    store.put("webserverips/10.0.0.7")
    head = plain_machine.servers[0].client().head_object(Bucket=plain_machine.bucket, Key="webserverips/10.0.0.7")
    assert head["ContentLength"] == 0


def test_prefix_matching_is_s3cmds(store):
    for key in ("beenonline/10.0.0.1", "beenonline/10.0.0.12", "beenonline2/x", "webserverips/10.0.0.7"):
        store.put(key)
    assert [e.key for e in store.list("beenonline/10.0.0.1")] == ["beenonline/10.0.0.1", "beenonline/10.0.0.12"]
    assert [e.key for e in store.list("beenonline*")] == ["beenonline/10.0.0.1", "beenonline/10.0.0.12",
                                                            "beenonline2/x"]
    assert store.check("beenonline/10.0.0.1") and store.check("beenonline") and store.check("webserverips/*")
    assert not store.check("beenonline/10.0.0.2") and not store.check("")
    non_recursive = store.list("beenonline", recursive=False)
    assert [(e.key, e.is_dir) for e in non_recursive] == [("beenonline/", True), ("beenonline2/", True)]


def test_get_writes_atomically_and_replaces(store, plain_machine, tmp_path):
    source = tmp_path / "wordpress_config.php"
    source.write_bytes(b"<?php define('A', 1);\n" * 1000)
    store.put("wordpress_config.php", source)
    target = tmp_path / "out" / "wordpress_config.php"
    target.parent.mkdir()
    target.write_text("old")
    assert store.get("wordpress_config.php", target)
    assert target.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in target.parent.iterdir()) == ["wordpress_config.php"]


def test_delete_exact_wildcard_and_recursive(store, plain_machine):
    for key in ("webserverips/1", "webserverips/2", "webserverips/sub/3", "backuplock.a.file",
                "backuplock.b.filex", "STATIC_SCALE:3", "STATIC_SCALE:4", "KEEP"):
        store.put(key)
    store.delete("backuplock.*.file")
    assert "backuplock.a.file" not in plain_machine.keys() and "backuplock.b.filex" in plain_machine.keys()
    store.delete("webserverips/*")  # direct children only, as s3cmd's wildcard
    assert [k for k in plain_machine.keys() if k.startswith("webserverips")] == ["webserverips/sub/3"]
    store.delete("STATIC_SCALE:", recursive=True)  # a raw prefix, as `DeleteFromConfigDatastore.sh STATIC_SCALE: yes`
    store.delete("webserverips", recursive=True)
    store.delete("backuplock.b.filex")
    assert plain_machine.keys() == ["KEEP"]


def test_listing_more_than_one_page(store, plain_machine):
    from concurrent.futures import ThreadPoolExecutor

    client = plain_machine.servers[0].client()
    store.put("seed")
    with ThreadPoolExecutor(8) as pool:  # seeding, not under test: in parallel
        list(pool.map(lambda i: client.put_object(Bucket=plain_machine.bucket, Key=f"many/{i:05d}", Body=b""),
                      range(1005)))
    assert len(store.list("many/")) == 1005
    store.delete("many/", recursive=True)
    assert plain_machine.keys() == ["seed"]


def test_seaweedfs_starts_again_on_fresh_ports_when_one_was_taken(tmp_path, monkeypatch):
    """Free ports are only free when picked: a weed that meets a taken one is started again."""
    import socket

    from adt.datastore import seaweed

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    picks = []
    real = seaweed.free_ports

    def first_pick_busy(count, ip):
        ports = real(count, ip)
        if not picks:
            ports[2] = busy.getsockname()[1]  # the master port
        picks.append(ports)
        return ports

    monkeypatch.setattr(seaweed, "free_ports", first_pick_busy)
    server = seaweed.SeaweedS3(tmp_path / "s3")
    try:
        server.start()
        assert len(picks) == 2 and server.client().list_buckets()["Buckets"] == []
    finally:
        server.stop()
        busy.close()


def test_first_put_of_a_file_creates_the_bucket(store, plain_machine, tmp_path):
    """moto, like AWS, refuses a write to a missing bucket; upload_file wraps that refusal (S3UploadFailedError)."""
    source = tmp_path / "joomla_configuration.php"
    source.write_text("<?php class JConfig {}\n")
    store.put("joomla_configuration.php", source)
    assert plain_machine.keys() == ["joomla_configuration.php"]


def test_list_cuts_the_key_at_its_first_star_as_the_january_list(store):
    for key in ("backuplock.web-1.file", "backuplock.web-2.file", "backuplockx",
                "webrootsync/additions/additions1.tar.gz", "webrootsync/additions/other.tar.gz"):
        store.put(key)
    assert [e.key for e in store.list("backuplock.*.file")] == ["backuplock.web-1.file", "backuplock.web-2.file"]
    assert [e.key for e in store.list("webrootsync/additions/additions*.tar.gz")] == [
        "webrootsync/additions/additions1.tar.gz"]


def test_delete_returns_the_keys_as_s3cmd_names_them(store):
    for key in ("webserverips/1", "webserverips/sub/2", "backuplock.a.file"):
        store.put(key)
    assert store.delete("nothing-here") == ["nothing-here"]  # s3cmd names a single key, present or not
    assert store.delete("backuplock.*.file") == ["backuplock.a.file"]
    assert store.delete("absent.*") == []
    assert store.delete("webserverips/", recursive=True) == ["webserverips/1", "webserverips/sub/2"]


def test_the_two_servers_differ_on_writes_to_a_missing_bucket(s3, s3_moto):
    """Why the datastore tests run on both: moto, like AWS, refuses a write to a missing bucket; SeaweedFS creates it."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="NoSuchBucket"):
        s3_moto.client().put_object(Bucket="no-such-bucket-moto", Key="k", Body=b"")
    s3.client().put_object(Bucket="no-such-bucket-weed", Key="k", Body=b"")
    assert s3.client().get_object(Bucket="no-such-bucket-weed", Key="k")["Body"].read() == b""


def test_a_dry_run_prints_the_writes_and_makes_none_while_reads_still_go_out(store, plain_machine, tmp_path):
    from adt import run

    store.put("KEEP")
    source = tmp_path / "wordpress_config.php"
    source.write_text("<?php\n")
    lines = []
    with run.dry_running(echo=lines.append):
        store.put("INSTALLED_SUCCESSFULLY")
        store.put("wordpress_config.php", source)
        assert store.delete("KEEP") == ["KEEP"]
        assert [e.key for e in store.list()] == ["KEEP"]  # a read: the bucket as it is
    bucket = plain_machine.bucket
    assert lines == [f"would call: PutObject s3://{bucket}/INSTALLED_SUCCESSFULLY",
                     f"would call: PutObject s3://{bucket}/wordpress_config.php",
                     f"would call: DeleteObjects s3://{bucket}/KEEP"]
    assert plain_machine.keys() == ["KEEP"]
