"""The scaling profile on real S3 servers (SeaweedFS, and moto, which like AWS creates no bucket on write):
both layouts written and read, an older fleet's profile read, replacement leaving one object per autoscaler."""

import uuid
from datetime import datetime, timezone

import pytest

from adt.datastore.endpoints import Endpoint
from adt.errors import AdtError
from adt.scaling.profile import Profile

S3_SERVERS = ("seaweedfs", "moto")


class Fleet:
    def __init__(self, server):
        self.server = server
        self.client = server.client()
        self.website = f"www.s{uuid.uuid4().hex[:10]}.example.com"
        self.user = "Sc" + uuid.uuid4().hex[:6].upper()
        key, secret = server.state["rw"]
        self.endpoint = Endpoint(1, server.endpoint, key, secret, "us-east-1")
        self.profile = Profile([self.endpoint], self.website, self.user, "local", "lon1")
        self.scaling = self.profile.scaling.bucket
        self.config = self.profile.config.bucket

    def keys(self, bucket):
        try:
            return sorted(o["Key"] for o in self.client.list_objects_v2(Bucket=bucket).get("Contents", []))
        except self.client.exceptions.NoSuchBucket:
            return []

    def seed(self, bucket, key, body=b""):
        try:
            self.client.create_bucket(Bucket=bucket)
        except (self.client.exceptions.BucketAlreadyOwnedByYou, self.client.exceptions.BucketAlreadyExists):
            pass
        self.client.put_object(Bucket=bucket, Key=key, Body=body)

    def remove(self):
        for bucket in (self.scaling, self.config):
            for key in self.keys(bucket):
                self.client.delete_object(Bucket=bucket, Key=key)
            try:
                self.client.delete_bucket(Bucket=bucket)
            except self.client.exceptions.NoSuchBucket:
                pass


@pytest.fixture
def fleet(s3_server):
    made = Fleet(s3_server)
    yield made
    made.remove()


def test_bucket_names_are_the_originals(fleet):
    dashed = fleet.website.replace(".", "-")
    assert fleet.scaling == f"{dashed}-scaling-local-lon1"
    assert fleet.config == f"{dashed}-config-{fleet.user[:4].lower()}"


def test_nothing_written_reads_as_no_count(fleet):
    assert fleet.profile.read(1) is None
    assert fleet.profile.counts() == {}
    assert fleet.profile.count_in_force(1) is None
    assert fleet.keys(fleet.scaling) == [] and fleet.keys(fleet.config) == []  # reads create no bucket


def test_initialise_writes_the_split_in_both_layouts_creating_the_buckets(fleet):
    assert fleet.profile.initialise(5, 2) == {1: 3, 2: 2}
    assert fleet.keys(fleet.scaling) == ["autoscaler-1/STATIC_SCALE:3", "autoscaler-2/STATIC_SCALE:2"]
    assert fleet.keys(fleet.config) == ["STATIC_SCALE:3:2"]
    head = fleet.client.head_object(Bucket=fleet.scaling, Key="autoscaler-1/STATIC_SCALE:3")
    assert head["ContentLength"] == 0  # zero-byte: the count is in the name
    assert fleet.profile.read(1) == 3 and fleet.profile.read(2) == 2 and fleet.profile.read(3) is None
    assert fleet.profile.counts() == {1: 3, 2: 2}


def test_an_older_fleets_profile_is_read_from_the_config_bucket(fleet):
    fleet.seed(fleet.config, "STATIC_SCALE:4:1")
    fleet.seed(fleet.config, "webserverips/10.0.0.7")
    assert fleet.profile.read(1) == 4 and fleet.profile.read(2) == 1 and fleet.profile.read(3) is None
    assert fleet.profile.counts() == {1: 4, 2: 1}


def test_the_current_layout_wins_over_the_older(fleet):
    fleet.seed(fleet.config, "STATIC_SCALE:4:1")
    fleet.seed(fleet.scaling, "autoscaler-2/STATIC_SCALE:6")
    assert fleet.profile.read(2) == 6 and fleet.profile.read(1) == 4
    assert fleet.profile.counts() == {1: 4, 2: 6}


def test_replacing_keeps_exactly_one_object_per_autoscaler_and_touches_nothing_else(fleet):
    fleet.profile.initialise(4, 2)
    fleet.profile.set_schedule(1, "mon-fri 08:00-18:00 4\n")
    fleet.seed(fleet.config, "webserverips/10.0.0.7")
    fleet.seed(fleet.config, "STATIC_SCALE_NOTES")  # not an older-layout count (no colon): kept
    fleet.seed(fleet.scaling, "autoscaler-1/STATIC_SCALE:9")  # what a crash between put and delete leaves
    fleet.profile.write({1: 5})
    assert fleet.keys(fleet.scaling) == ["autoscaler-1/STATIC_SCALE:5", "autoscaler-2/STATIC_SCALE:2",
                                         "schedules/autoscaler-1"]
    assert fleet.keys(fleet.config) == ["STATIC_SCALE:5:2", "STATIC_SCALE_NOTES", "webserverips/10.0.0.7"]
    fleet.profile.write({1: 5, 2: 2})  # the same counts again: still one each
    assert fleet.keys(fleet.scaling) == ["autoscaler-1/STATIC_SCALE:5", "autoscaler-2/STATIC_SCALE:2",
                                         "schedules/autoscaler-1"]
    assert fleet.keys(fleet.config) == ["STATIC_SCALE:5:2", "STATIC_SCALE_NOTES", "webserverips/10.0.0.7"]


def test_autoscaler_ten_is_not_autoscaler_one(fleet):
    fleet.profile.write(dict((n, n) for n in range(1, 11)))
    fleet.profile.write({1: 0})
    assert fleet.profile.read(10) == 10 and fleet.profile.read(1) == 0
    assert fleet.keys(fleet.config) == ["STATIC_SCALE:0:2:3:4:5:6:7:8:9:10"]


def test_a_write_with_a_gap_is_refused_before_anything_changes(fleet):
    fleet.profile.initialise(2, 1)
    with pytest.raises(AdtError, match=r"autoscaler\(s\) 2 have no count, and the older layout needs one"):
        fleet.profile.write({3: 1})
    assert fleet.keys(fleet.scaling) == ["autoscaler-1/STATIC_SCALE:2"]
    assert fleet.keys(fleet.config) == ["STATIC_SCALE:2"]


def test_initialise_drops_autoscalers_an_earlier_build_had(fleet):
    fleet.profile.initialise(6, 3)
    fleet.profile.initialise(3, 2)
    assert fleet.keys(fleet.scaling) == ["autoscaler-1/STATIC_SCALE:2", "autoscaler-2/STATIC_SCALE:1"]
    assert fleet.keys(fleet.config) == ["STATIC_SCALE:2:1"]


def test_schedules_are_stored_read_and_cleared_and_give_the_count_in_force(fleet):
    fleet.profile.initialise(2, 1)
    monday_nine = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    sunday = datetime(2026, 3, 8, 9, 0, tzinfo=timezone.utc)
    fleet.profile.set_schedule(1, "# busy\nmon-fri 08:00-18:00 4")
    assert fleet.profile.schedule_text(1) == "# busy\nmon-fri 08:00-18:00 4\n"
    assert fleet.profile.count_in_force(1, monday_nine) == 4 and fleet.profile.count_in_force(1, sunday) == 2
    with pytest.raises(AdtError, match=r"schedule line 1 \('mon 9-10 2'\)"):
        fleet.profile.set_schedule(1, "mon 9-10 2")
    assert fleet.profile.schedule_text(1) == "# busy\nmon-fri 08:00-18:00 4\n"  # a bad schedule changes nothing
    [row] = fleet.profile.report(1, 3, monday_nine)
    assert row == {"autoscaler": 1, "current": 2, "older": 2, "schedule": ["# busy", "mon-fri 08:00-18:00 4"],
                   "scheduled": True, "in_force": 4, "cap": 3, "desired": 3}
    fleet.profile.clear_schedule(1)
    assert fleet.profile.schedule_text(1) is None and fleet.profile.count_in_force(1, monday_nine) == 2


def test_from_settings_names_the_same_buckets(fleet, tmp_path):
    from adt.settings.machine import MachineSettings

    key, secret = fleet.server.state["rw"]
    path = tmp_path / "autoscaler_configuration_settings.dat"
    path.write_text(f"WEBSITEURL:{fleet.website}\nSERVERUSER:{fleet.user}\nCLOUDHOST:local\nREGION:lon1\n"
                    f"S3ACCESSKEY:{key}\nS3SECRETKEY:{secret}\nS3LOCATION:us-east-1\nS3HOSTBASE:{fleet.server.endpoint}\n")
    machine = Profile.from_settings(MachineSettings.load(path))
    assert (machine.scaling.bucket, machine.config.bucket) == (fleet.scaling, fleet.config)
    fleet.profile.initialise(3, 2)
    assert machine.counts() == {1: 2, 2: 1}


def test_a_whole_profile_replaces_every_autoscalers_count(fleet):
    fleet.profile.initialise(6, 3)
    fleet.profile.write({1: 1, 2: 1}, whole=True)
    assert fleet.keys(fleet.scaling) == ["autoscaler-1/STATIC_SCALE:1", "autoscaler-2/STATIC_SCALE:1"]
    assert fleet.keys(fleet.config) == ["STATIC_SCALE:1:1"]
    fleet.profile.write({2: 4})  # one autoscaler: the others keep theirs
    assert fleet.keys(fleet.config) == ["STATIC_SCALE:1:4"]


@pytest.fixture
def build(fleet, tmp_path, monkeypatch):
    """A production build_environment of the fleet's website on the fleet's S3 server, as the active build."""
    runtime = tmp_path / "buildhome" / "runtimedata"
    (runtime / "local" / "sc1").mkdir(parents=True)
    (runtime / "ACTIVE_CLOUDHOST").write_text("local\n")
    (runtime / "ACTIVE_BUILD_IDENTIFIER").write_text("sc1\n")
    (runtime / "local" / "sc1" / "build_environment").write_text(
        f"WEBSITE_URL={fleet.website}\nSERVER_USER={fleet.user}\nREGION=lon1\nPRODUCTION=1\nNO_AUTOSCALERS=2\n"
        f"MAX_WEBSERVERS=10\nS3_HOST_BASE={fleet.endpoint.host_base}\nS3_ACCESS_KEY={fleet.endpoint.access_key}\n"
        f"S3_SECRET_KEY={fleet.endpoint.secret_key}\nS3_LOCATION=us-east-1\n")
    monkeypatch.setenv("ADT_BUILD_HOME", str(tmp_path / "buildhome"))
    monkeypatch.setenv("ADT_BUILDHOME_FILE", str(tmp_path / "none"))
    return fleet


def _adjust_on_a_terminal(monkeypatch, answers):
    from click.testing import CliRunner

    from adt.cli import cli, scale

    monkeypatch.setattr(scale, "_interactive", lambda: True)
    return CliRunner().invoke(cli, ["scale", "adjust"], input=answers)


def test_adjust_asks_which_autoscaler_and_how_many_as_the_original(build, monkeypatch):
    build.profile.initialise(2, 2)
    result = _adjust_on_a_terminal(monkeypatch, "autoscaler-9x\n2\nmany\n4\ny\n")
    assert result.exit_code == 0, result.output
    assert "autoscaler-1: 1\n  autoscaler-2: 1\n" in result.output  # the counts now, before the questions
    assert "Error: 'autoscaler-9x' is not an autoscaler number" in result.output  # asked again
    assert "Error: the count must be a whole number >= 0, not 'many'" in result.output
    assert "Set autoscaler-2: 4 webservers? [y/N]" in result.output
    assert result.output.endswith("autoscaler-1: 1\nautoscaler-2: 4\n")
    assert build.keys(build.config) == ["STATIC_SCALE:1:4"]


def test_adjust_answered_no_changes_nothing(build, monkeypatch):
    from adt.errors import AdtError

    build.profile.initialise(2, 2)
    result = _adjust_on_a_terminal(monkeypatch, "1\n3\nn\n")
    assert isinstance(result.exception, AdtError) and result.exception.message == "nothing changed"
    assert build.keys(build.scaling) == ["autoscaler-1/STATIC_SCALE:1", "autoscaler-2/STATIC_SCALE:1"]


def test_a_reader_always_finds_a_count_while_it_is_replaced(fleet):
    """Every moment of a replacement (after each delete it makes), both layouts still hold a count for every
    autoscaler: the new one is put before the old one goes."""
    fleet.profile.initialise(4, 2)
    seen = []
    for store in (fleet.profile.scaling, fleet.profile.config):
        real = store.delete

        def delete(key, recursive=False, real=real):
            deleted = real(key, recursive)
            seen.append((fleet.profile.current(), fleet.profile.older()))
            return deleted

        store.delete = delete
    fleet.profile.write({1: 5, 2: 6})
    assert len(seen) == 3  # two current-layout objects and the older layout's one replaced
    for current, older in seen:
        assert set(current) == {1, 2} and set(older) == {1, 2}
    assert fleet.profile.counts() == {1: 5, 2: 6}
