"""The local cloud host's mount points on this computer outlive a fleet while another fleet still uses them."""

import subprocess

from adt.cloud import local
from adt.cloud.local import LocalDriver


def test_mount_points_stay_while_another_fleet_runs_and_go_with_the_last(tmp_path, monkeypatch):
    """Removing a mount point detaches the private folders mounted on it in every machine of every fleet (this is
    how a build's destroy once took /opt/adt, and so adt, from the machines of another build)."""
    monkeypatch.setattr(local, "LEFT_MOUNTPOINTS", tmp_path / "left")
    point = tmp_path / "made-by-adt"
    point.mkdir()
    driver = LocalDriver("10.179.0.0/24", str(tmp_path / "state"))
    driver.state.mkdir()
    (driver.state / "created-mountpoints").write_text(f"{point}\n")
    other = "adt-sw-zztest01"
    subprocess.run(["ip", "netns", "add", other], check=True)
    try:
        assert other in driver._other_switches()
        driver.remove_network(force=True)
        assert point.is_dir()  # another fleet's machines may have their folders mounted there
        assert (tmp_path / "left").read_text() == f"{point}\n"
        assert not (driver.state / "created-mountpoints").exists()
    finally:
        subprocess.run(["ip", "netns", "del", other], check=True)
    monkeypatch.setattr(driver, "_other_switches", lambda: [])  # the last fleet (whatever else runs here now)
    driver.remove_network(force=True)
    assert not point.exists() and not (tmp_path / "left").exists()
