"""Restores treat an archive as untrusted input (real SeaweedFS, the real `adt` command).

Archives of the original are made with the original's own command lines (adt-webserver-scripts,
application/backupscripts/Backup.sh: `rsync -av` of the webroot, the marker, then
`find . -name ".*" -exec tar cvfz … {} +`); crafted ones with Python's tarfile. Every refusal must leave the
target and everything outside it exactly as it was.
"""

import gzip
import hashlib
import io
import os
import stat
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from adt import fs
from adt.backup import archive as untrusted
from tests.integration.test_backup_website import tree

ARCHIVE = "applicationsourcecode.tar.gz"


def snapshot(root: Path):
    """Content, mode and owner of everything under root (links as links)."""
    found = {}
    for path in [root, *sorted(root.rglob("*"))]:
        info = path.lstat()
        kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
        content = os.readlink(path) if kind == "link" else \
            hashlib.sha256(path.read_bytes()).hexdigest() if kind == "file" else ""
        found[str(path.relative_to(root))] = (kind, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, content)
    return found


def originals_webroot(root: Path, lives_at: Path) -> Path:
    """A webroot with what trips tar pipelines: dot-files at the top and deeper, a dot-directory, empty
    directories, symlinks inside (to a file, to a directory, absolute into the webroot), a hard-linked pair,
    odd names, modes."""
    (root / "wp-content" / "uploads" / "2026").mkdir(parents=True)
    (root / "empty" / "deeper").mkdir(parents=True)
    (root / ".well-known" / "acme-challenge").mkdir(parents=True)
    (root / ".htaccess").write_text("RewriteEngine On\n")
    (root / ".user.ini").write_text("upload_max_filesize = 64M\n")
    (root / ".well-known" / "acme-challenge" / "token").write_text("abc\n")
    (root / "wp-content" / ".hidden").write_text("hidden\n")
    (root / "index.php").write_text("<?php require 'wp-blog-header.php';\n")
    (root / "wp-content" / "uploads" / "2026" / "photo.jpg").write_bytes(os.urandom(200_000))
    (root / "odd name with spaces 'quotes' \"double\" $dollar;semi").write_text("odd\n")
    (root / "été – ünïcode ✓.txt").write_text("unicode\n")
    (root / "-dash-first").write_text("dash\n")
    (root / "secret.php").write_text("<?php // private\n")
    os.chmod(root / "secret.php", 0o600)
    os.chmod(root / "empty", 0o750)
    (root / "latest").symlink_to("wp-content/uploads/2026")
    (root / "wp-content" / "home.php").symlink_to("../index.php")
    (root / "absolute.php").symlink_to(f"{lives_at}/index.php")  # absolute, into where it will be restored
    os.link(root / "index.php", root / "index-copy.php")  # rsync -av (without -H) makes two files of it
    return root


def originals_backup(webroot: Path, work: Path) -> bytes:
    """applicationsourcecode.tar.gz made as the original's Backup.sh makes it."""
    backuparea, live = work / "backuparea", work / "livebackup"
    backuparea.mkdir()
    live.mkdir()
    subprocess.run(["/usr/bin/rsync", "-a", f"{webroot}/", str(backuparea)], check=True)
    (backuparea / "XXXXXX-DO_NOT_REMOVE").touch()
    subprocess.run(f'/usr/bin/find . -name ".*" -exec tar cvfz {live}/{ARCHIVE} {{}} +', shell=True, check=True,
                   cwd=backuparea, capture_output=True)
    return (live / ARCHIVE).read_bytes()


@pytest.fixture
def site(plain_machine):
    bucket = plain_machine.website.replace(".", "-") + "-hourly"
    client = plain_machine.servers[0].client()
    client.create_bucket(Bucket=bucket)

    def upload(data: bytes, metadata=None):
        client.put_object(Bucket=bucket, Key=ARCHIVE, Body=data, Metadata=metadata or {})

    return plain_machine, bucket, upload


def restore(machine, target: Path, *extra):
    return machine.run("restore", "website", "--period", "HOURLY", "--target", str(target), *extra, timeout=120)


def test_the_originals_backup_restores_whole(site, tmp_path):
    machine, bucket, upload = site
    target = tmp_path / "restored"
    webroot = originals_webroot(tmp_path / "html", target)
    data = originals_backup(webroot, tmp_path)
    names = [m.name for m in tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")]
    assert names.count("./.htaccess") == 2  # the original stores a top-level dot-file twice
    upload(data)  # the original's put: no checksum metadata
    result = restore(machine, target)
    assert result.returncode == 0, result.stderr
    assert f"restored {bucket}/{ARCHIVE} into {target}" in result.stdout
    assert tree(target) == tree(webroot)
    assert os.listdir(target / "empty" / "deeper") == []
    verified = machine.run("backup", "verify", "HOURLY", "--website")
    assert verified.returncode == 0 and "verified" in verified.stdout, verified.stderr


def _member(name, kind=tarfile.REGTYPE, data=b"", linkname="", mode=None):
    info = tarfile.TarInfo(name)
    mode = mode if mode is not None else 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.type, info.linkname, info.mode, info.size, info.mtime = kind, linkname, mode, len(data), time.time()
    return info, (io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def crafted(*members) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.GNU_FORMAT) as out:
        for info, data in [_member("./", tarfile.DIRTYPE), _member("./index.php", data=b"<?php\n"), *members,
                           _member("./XXXXXX-DO_NOT_REMOVE")]:
            out.addfile(info, data)
    return buffer.getvalue()


@pytest.fixture
def outside(tmp_path):
    """A victim beside the target and a private file elsewhere: neither may change."""
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.chmod(victim, 0o600)
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "live.php").write_text("the live site\n")
    return tmp_path


def _crafted_cases(victim: Path):
    return {
        "absolute path": crafted(_member(str(victim), data=b"pwned\n")),
        "dot-dot": crafted(_member("./../victim", data=b"pwned\n")),
        "dot-dot deep": crafted(_member("./a/../../victim", data=b"pwned\n")),
        "hard link outside, absolute": crafted(_member("./h", tarfile.LNKTYPE, linkname=str(victim)),
                                               _member("./h", data=b"pwned\n", mode=0o644)),
        "hard link outside, relative": crafted(_member("./h", tarfile.LNKTYPE, linkname="../victim")),
        "hard link to no earlier member": crafted(_member("./h", tarfile.LNKTYPE, linkname="later.php"),
                                                  _member("./later.php", data=b"x")),
        "symlink out, then written through": crafted(_member("./d", tarfile.SYMTYPE, linkname=str(victim.parent)),
                                                     _member("./d/victim", data=b"pwned\n")),
        "relative symlink out, then written through": crafted(
            _member("./d", tarfile.SYMTYPE, linkname=".."), _member("./d/victim", data=b"pwned\n")),
        "symlink out": crafted(_member("./v", tarfile.SYMTYPE, linkname="../victim")),
        "symlink out, absolute": crafted(_member("./v", tarfile.SYMTYPE, linkname=str(victim))),
        "symlink out through an earlier symlink": crafted(
            _member("./a/b/", tarfile.DIRTYPE), _member("./top/", tarfile.DIRTYPE),
            _member("./a/b/d", tarfile.SYMTYPE, linkname="../../top"),
            _member("./a/b/x", tarfile.SYMTYPE, linkname="d/../..")),
        "device node": crafted(_member("./null", tarfile.CHRTYPE)),
        "fifo": crafted(_member("./pipe", tarfile.FIFOTYPE)),
    }


CASES = ["absolute path", "dot-dot", "dot-dot deep", "hard link outside, absolute", "hard link outside, relative",
         "hard link to no earlier member", "symlink out, then written through",
         "relative symlink out, then written through", "symlink out", "symlink out, absolute",
         "symlink out through an earlier symlink", "device node", "fifo"]
REASONS = {"absolute path": "absolute path", "dot-dot": "'..'", "dot-dot deep": "'..'",
           "hard link outside, absolute": "absolute path", "hard link outside, relative": "'..'",
           "hard link to no earlier member": "not an earlier file", "symlink out, then written through": "symlink",
           "relative symlink out, then written through": "symlink", "symlink out": "leads out",
           "symlink out, absolute": "leads out", "symlink out through an earlier symlink": "leads out",
           "device node": "device node", "fifo": "FIFO"}


@pytest.mark.parametrize("case", CASES)
def test_a_crafted_archive_changes_nothing_outside_the_target(site, outside, case):
    machine, bucket, upload = site
    upload(_crafted_cases(outside / "victim")[case])
    before = snapshot(outside)
    result = restore(machine, outside / "target")
    assert result.returncode == 1, result.stdout
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"adt: not restoring {bucket}/{ARCHIVE}: member ") and REASONS[case] in first, first
    assert "--skip-unsafe" in result.stderr and "internal error" not in result.stderr
    assert snapshot(outside) == before  # the victim, the target, and no staging left beside it


def test_skip_unsafe_restores_the_rest_and_lists_what_it_left_out(site, outside):
    machine, bucket, upload = site
    victim = outside / "victim"
    upload(crafted(_member("./v", tarfile.SYMTYPE, linkname=str(victim)), _member("./../victim", data=b"x"),
                   _member("./inside", tarfile.SYMTYPE, linkname="index.php"), _member("./null", tarfile.CHRTYPE)))
    before = snapshot(outside)
    result = restore(machine, outside / "target", "--skip-unsafe")
    assert result.returncode == 0, result.stderr
    assert "3 unsafe member(s) left out" in result.stdout
    assert sorted(line.split(":")[0] for line in result.stderr.splitlines()) == \
        ["left out ./../victim", "left out ./null", "left out ./v"]
    restored = outside / "target"
    assert sorted(os.listdir(restored)) == ["index.php", "inside"]
    assert {k: v for k, v in snapshot(outside).items() if not k.startswith("target")} == \
        {k: v for k, v in before.items() if not k.startswith("target")}


def test_an_archive_without_a_root_entry_keeps_the_webroots_mode(site, outside):
    machine, bucket, upload = site
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as out:
        for info, data in [_member("./index.php", data=b"<?php\n"), _member("./XXXXXX-DO_NOT_REMOVE")]:
            out.addfile(info, data)
    upload(buffer.getvalue())
    os.chmod(outside / "target", 0o751)
    assert restore(machine, outside / "target").returncode == 0
    assert stat.S_IMODE((outside / "target").stat().st_mode) == 0o751


def test_hard_links_between_members_are_kept(site, outside):
    machine, bucket, upload = site
    upload(crafted(_member("./a.php", data=b"<?php // a\n"), _member("./sub/", tarfile.DIRTYPE),
                   _member("./sub/b.php", tarfile.LNKTYPE, linkname="./a.php")))
    assert restore(machine, outside / "target").returncode == 0
    a, b = outside / "target" / "a.php", outside / "target" / "sub" / "b.php"
    assert a.stat().st_ino == b.stat().st_ino and b.read_text() == "<?php // a\n"


def _damaged(good: bytes):
    middle = len(good) // 2
    return {
        "not gzip": (b"this is not an archive at all\n" * 10, "is not a whole gzip file"),
        "truncated": (good[:middle], "is truncated"),
        "corrupt": (good[:middle] + bytes(b ^ 0xFF for b in good[middle:middle + 64]) + good[middle + 64:],
                    "corrupt|not a whole gzip file|not a readable tar"),
        "gzip of no tar": (gzip.compress(b"plain text, not a tar archive\n" * 100), "not a readable tar archive"),
    }


@pytest.mark.parametrize("case", ["not gzip", "truncated", "corrupt", "gzip of no tar"])
def test_a_damaged_archive_is_one_line_and_the_target_is_untouched(site, outside, case):
    import re

    machine, bucket, upload = site
    good = crafted(*[_member(f"./file{i}.php", data=os.urandom(4096)) for i in range(64)])
    data, reason = _damaged(good)[case]
    upload(data)
    before = snapshot(outside)
    result = restore(machine, outside / "target")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"adt: not restoring: {bucket}/{ARCHIVE} ") and re.search(reason, lines[0]), lines
    assert len([line for line in lines if not line.startswith("  hint:")]) == 1
    assert snapshot(outside) == before


def test_the_recorded_checksum_is_checked_before_anything_is_swapped_in(site, outside):
    machine, bucket, upload = site
    data = crafted(_member("./new.php", data=b"<?php // new\n"))
    upload(data, {"sha256": hashlib.sha256(data + b"x").hexdigest()})
    before = snapshot(outside)
    result = restore(machine, outside / "target")
    assert result.returncode == 1
    assert result.stderr.startswith(f"adt: not restoring: {bucket}/{ARCHIVE} does not match its recorded sha256")
    assert snapshot(outside) == before
    upload(data, {"sha256": hashlib.sha256(data).hexdigest()})
    assert restore(machine, outside / "target").returncode == 0
    assert (outside / "target" / "new.php").read_text() == "<?php // new\n"


def test_symlink_resolution_follows_the_archives_own_links(tmp_path):
    staged = tmp_path / "staged"
    (staged / "a" / "b").mkdir(parents=True)
    (staged / "top").mkdir()
    (staged / "a" / "b" / "d").symlink_to("../../top")
    (staged / "loop1").symlink_to("loop2")
    (staged / "loop2").symlink_to("loop1")
    root = "/var/www/html"
    assert not fs.leads_out(("a", "b", "d"), "../../top", root, staged)
    assert fs.leads_out(("a", "b", "x"), "d/../..", root, staged)  # lexically inside, really outside
    assert not fs.leads_out(("a", "b", "y"), "d/..", root, staged)
    assert not fs.leads_out(("x",), "/var/www/html/index.php", root, staged)
    assert fs.leads_out(("x",), "/var/www/htmlx/index.php", root, staged)
    assert fs.leads_out(("x",), "/etc/passwd", root, staged)
    assert not fs.leads_out(("x",), "missing/but/inside", root, staged)
    assert fs.leads_out(("x",), "loop1", root, staged)


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../../x", "./a/../b"])
def test_member_names_that_leave_are_refused(name):
    with pytest.raises(ValueError, match="absolute path|'\\.\\.' component"):
        untrusted.member_parts(name)


def test_member_names_inside_are_kept():
    assert untrusted.member_parts("./") == ()
    assert untrusted.member_parts("./a//b/./c") == ("a", "b", "c")
    assert untrusted.member_parts("..hidden") == ("..hidden",)


def _baseline_repository(machine, tmp_path, links):
    """A webroot baseline repository (file://) holding index.php and the given symlinks."""
    base = tmp_path / "git"
    work = tmp_path / "work"
    work.mkdir(parents=True)
    (work / "index.php").write_text("<?php // www.applicationdomain.tld\n")
    for name, points_to in links.items():
        (work / name).symlink_to(points_to)
    run = lambda *argv: subprocess.run(["git", *argv], cwd=work, check=True, capture_output=True)  # noqa: E731
    run("init", "-q", "-b", "main")
    run("add", "-A")
    run("-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-q", "-m", "baseline")
    base.mkdir()
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(base / "shop-webroot-sourcecode-baseline.git")],
                   check=True)
    run("push", "-q", str(base / "shop-webroot-sourcecode-baseline.git"), "main:main")
    return f"file://{base}"


def test_a_baseline_with_symlinks_leading_out_is_refused_or_restored_without_them(site, outside):
    machine = site[0]
    base = _baseline_repository(machine, outside / "repo", {"passwd": "/etc/passwd", "up": "../victim",
                                                             "inside": "index.php"})
    before = snapshot(outside)
    argv = ["restore", "website", "--baseline", "shop", "--remote-base", base, "--target", str(outside / "target")]
    result = machine.run(*argv, timeout=120)
    assert result.returncode == 1
    assert "leads out of" in result.stderr and "--skip-unsafe" in result.stderr and "internal error" not in result.stderr
    assert {k: v for k, v in snapshot(outside).items() if not k.startswith("repo")} == \
        {k: v for k, v in before.items() if not k.startswith("repo")}
    result = machine.run(*argv, "--skip-unsafe", timeout=120)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(outside / "target")) == ["index.php", "inside"]
    assert sorted(line.split(" -> ")[0] for line in result.stderr.splitlines()) == ["left out passwd", "left out up"]


def test_a_target_that_is_a_symlink_is_refused(site, outside):
    machine, bucket, upload = site
    upload(crafted(_member("./new.php", data=b"<?php\n")))
    (outside / "link").symlink_to(outside / "target")
    before = snapshot(outside)
    result = restore(machine, outside / "link")
    assert result.returncode == 1 and "is a symlink" in result.stderr and f"--target {outside / 'target'}" in result.stderr
    assert snapshot(outside) == before
