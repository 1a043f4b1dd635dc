"""Semantics of the configuration datastore, through the Python API, against a real SeaweedFS."""



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
    client = plain_machine.servers[0].client()
    store.put("seed")
    for i in range(1005):
        client.put_object(Bucket=plain_machine.bucket, Key=f"many/{i:05d}", Body=b"")
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
