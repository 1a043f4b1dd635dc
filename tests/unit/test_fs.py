"""adt.fs: a file that may hold a secret is private from its first byte, whatever the umask, and a
symbolic link planted at its path is never followed."""

import errno
import fcntl
import os
import stat
from pathlib import Path

import pytest

from adt import fs
from adt.errors import AdtError


@pytest.fixture
def no_umask():
    old = os.umask(0)
    yield
    os.umask(old)


@pytest.fixture
def no_chmod(monkeypatch):
    """Any chmod fails the test: the mode must come from the call that creates the file."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"chmod after creation: {args}")

    monkeypatch.setattr(os, "chmod", refuse)
    monkeypatch.setattr(os, "fchmod", refuse)


@pytest.fixture
def opened(monkeypatch):
    """The modes os.open was given, by file name."""
    seen = {}
    real = os.open

    def record(path, flags, mode=0o777, *args, **kwargs):
        seen[os.path.basename(path)] = (flags, mode)
        return real(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", record)
    return seen


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_write_atomically_creates_0600_under_umask_0(tmp_path, no_umask, no_chmod, opened):
    target = tmp_path / "sub" / "credentials"
    fs.write_atomically(target, "PASSWORD:pw\n")
    assert target.read_text() == "PASSWORD:pw\n" and mode(target) == 0o600
    [(flags, given)] = opened.values()  # one temporary file, renamed over the target
    assert given == 0o600 and flags & os.O_CREAT and flags & os.O_EXCL and flags & os.O_NOFOLLOW
    assert [p.name for p in target.parent.iterdir()] == ["credentials"]


def test_write_atomically_gives_other_modes_at_creation_too(tmp_path, no_umask, no_chmod):
    fs.write_atomically(tmp_path / "wp-config.php", "<?php\n", 0o640)
    fs.write_atomically(tmp_path / "public", b"\x00bytes", 0o644)
    assert mode(tmp_path / "wp-config.php") == 0o640 and mode(tmp_path / "public") == 0o644
    assert (tmp_path / "public").read_bytes() == b"\x00bytes"


def test_a_umask_that_takes_bits_away_is_undone_before_the_first_byte(tmp_path):
    old = os.umask(0o077)
    try:
        fs.write_atomically(tmp_path / "wp-config.php", "<?php\n", 0o640)
        with fs.open_private(tmp_path / "log", "a", perm=0o640) as log:
            assert mode(tmp_path / "log") == 0o640  # already, with nothing written
            log.write("x")
    finally:
        os.umask(old)
    assert mode(tmp_path / "wp-config.php") == 0o640


def test_write_atomically_replaces_a_planted_symlink_without_following_it(tmp_path, no_umask):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("untouched\n")
    (tmp_path / "settings").symlink_to(elsewhere)
    fs.write_atomically(tmp_path / "settings", "S3SECRETKEY:k\n")
    assert elsewhere.read_text() == "untouched\n"
    assert not (tmp_path / "settings").is_symlink() and mode(tmp_path / "settings") == 0o600


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "state.json"
    target.write_text("old\n")

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="No space left"):
        fs.write_atomically(target, "new\n")
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"] and target.read_text() == "old\n"


@pytest.mark.parametrize("how", ["a", "ab", "w", "wb"])
def test_open_private_creates_0600_under_umask_0(tmp_path, no_umask, no_chmod, opened, how):
    path = tmp_path / "build_output_stream"
    with fs.open_private(path, how) as log:
        log.write(b"line\n" if "b" in how else "line\n")
    assert mode(path) == 0o600 and path.read_text() == "line\n"
    assert opened["build_output_stream"][1] == 0o600
    assert opened["build_output_stream"][0] & os.O_NOFOLLOW


def test_open_private_appends_and_keeps_its_name(tmp_path, no_umask):
    path = tmp_path / "bootstrap.log"
    for line in ("one\n", "two\n"):
        with fs.open_private(path) as log:
            log.write(line)
            assert log.name == str(path)
            assert not fcntl.fcntl(log.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK  # handed to children as a log
    assert path.read_text() == "one\ntwo\n"


def test_open_private_tightens_an_older_loose_file_before_writing(tmp_path, no_umask):
    path = tmp_path / "weed.out"
    path.write_text("old\n")
    os.chmod(path, 0o644)
    with fs.open_private(path, "a") as log:
        assert mode(path) == 0o600
        log.write("new\n")
    assert path.read_text() == "old\nnew\n"


def test_open_private_refuses_a_symlink_and_what_is_not_a_file(tmp_path):
    (tmp_path / "target").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with pytest.raises(OSError) as refused:
        fs.open_private(tmp_path / "link")
    assert refused.value.errno == errno.ELOOP  # O_NOFOLLOW
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError) as refused:
        fs.open_private(tmp_path / "fifo", "w")  # no reader: refused at once, never blocks
    assert refused.value.errno == errno.ENXIO
    reader = os.open(tmp_path / "fifo", os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(AdtError, match="fifo is not a regular file"):
            fs.open_private(tmp_path / "fifo", "w")  # with a reader: opened, then refused
    finally:
        os.close(reader)
    os.mkdir(tmp_path / "directory")
    with pytest.raises(OSError) as refused:
        fs.open_private(tmp_path / "directory", "a")
    assert refused.value.errno == errno.EISDIR
    with fs.open_private("/dev/null", "ab") as sink:  # a log sent nowhere stays possible
        sink.write(b"nothing")
    assert mode("/dev/null") == 0o666
    with pytest.raises(ValueError, match="writes only"):
        fs.open_private(tmp_path / "x", "r")


def test_atomic_writer_publishes_only_a_finished_file(tmp_path):
    target = tmp_path / "settings.dat"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="cut"):
        with fs.atomic_writer(target) as out:
            out.write(b"half")
            raise RuntimeError("cut")
    assert target.read_text() == "old\n" and os.listdir(tmp_path) == ["settings.dat"]
    with fs.atomic_writer(target, 0o640) as out:
        out.write(b"new\n")
    assert target.read_bytes() == b"new\n" and stat.S_IMODE(target.stat().st_mode) == 0o640


def test_swap_in_replaces_a_tree_and_restore_target_refuses_a_symlink(tmp_path):
    target, staging = tmp_path / "html", tmp_path / ".html.staging"
    target.mkdir()
    (target / "old.php").write_text("old")
    staging.mkdir()
    (staging / "new.php").write_text("new")
    fs.swap_in(staging, target)
    assert sorted(os.listdir(target)) == ["new.php"] and sorted(os.listdir(tmp_path)) == ["html"]
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(AdtError, match="link is a symlink"):
        fs.restore_target(tmp_path / "link")


def test_webroot_relative_and_escaping_symlinks(tmp_path):
    assert [fs.webroot_relative(p) for p in ("./.cache/", "/a/b", "x", "././y/")] == [".cache", "a/b", "x", "y"]
    tree = tmp_path / "tree"
    (tree / "d").mkdir(parents=True)
    (tree / "d" / "in").symlink_to("../d")
    (tree / "out").symlink_to("/etc/passwd")
    (tree / "up").symlink_to("d/../..")
    assert fs.escaping_symlinks(tree, Path("/var/www/html")) == [("out", "/etc/passwd"), ("up", "d/../..")]


def test_held_writes_its_pid_and_a_second_holder_waits_then_names_it(tmp_path):
    import os
    import subprocess
    import sys
    import time

    from adt.fs import held

    lock = tmp_path / "locks" / ".lock"
    with held(lock, "thing"):
        assert lock.read_text() == f"{os.getpid()}\n" and oct(lock.stat().st_mode)[-3:] == "600"
        assert oct(lock.parent.stat().st_mode)[-3:] == "700"
        other = [sys.executable, "-c", f"from adt.fs import held\nwith held({str(lock)!r}, 'thing', 0.4): pass"]
        started = time.monotonic()
        refused = subprocess.run(other, capture_output=True, text=True, timeout=30)
        assert refused.returncode == 1 and time.monotonic() - started >= 0.4
        assert f"another thing is in progress (pid {os.getpid()}, waited 0.4 s)" in refused.stderr
    assert subprocess.run(other, capture_output=True, timeout=30).returncode == 0  # released with the block
