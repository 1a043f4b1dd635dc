"""Untrusted tar archives, extracted so that nothing outside the target can change.

A restore takes an archive from object storage: anyone who could write to the bucket could have crafted it.
Python's own extraction is not enough: its stream mode cannot restore the archives the original's Backup.sh
makes (its `find . -name ".*" -exec tar cvfz … {} +` stores a top-level dot-file twice, the second time as a
hard link to itself, and tarfile then seeks backwards), and its filters still let a hard link to an outside
file change that file's mode. So members are read as a stream and written here, by rules:

- a member's path is relative: an absolute path or a `..` component is refused;
- every directory on the way is opened relative to the target with O_NOFOLLOW, so nothing is ever written
  through a symlink, whether it came with the archive or not;
- a hard link must name an earlier regular file of the same archive (a link to itself, the original's
  duplicate, is that file again and is left as it is);
- a symlink must resolve inside the target (where the target will finally live: an absolute link into
  /var/www/html is fine for a webroot restored there), following the links the archive made before it;
- device nodes, FIFOs and other special members are refused;
- modes keep their permission bits only (no setuid, setgid or sticky); owners are kept when run as root.

A refused member stops the extraction with `Unsafe` naming it, unless `skip_unsafe` is given: then it is left
out and listed. The caller extracts into a fresh directory beside the target and swaps it in only once
everything is checked, so a refusal leaves the target untouched.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

from adt.errors import AdtError
from adt.fs import leads_out

CHUNK = 1 << 20
Parts = Tuple[str, ...]


class Unsafe(AdtError):
    """A member that would reach outside the target, or that is not a file, directory or link."""

    def __init__(self, member: str, reason: str):
        super().__init__(f"member {member!r} {reason}", "--skip-unsafe restores the archive without such members")
        self.member, self.reason = member, reason


@dataclass
class Extracted:
    members: int = 0
    skipped: List[str] = field(default_factory=list)  # "<member>: <reason>"


def member_parts(name: str) -> Parts:
    """The path components of a member name, checked: relative, no `..`. `./` and `.` name the root, ()."""
    if name.startswith("/"):
        raise ValueError("has an absolute path")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise ValueError("has a '..' component")
    return parts


class _Tree:
    """Writes into a directory through descriptors, never following a symlink on the way."""

    def __init__(self, root: Path):
        self.root = root
        self.root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        self._cached: Optional[Tuple[Parts, int]] = None
        self.as_root = os.geteuid() == 0

    def close(self) -> None:
        self._forget()
        os.close(self.root_fd)

    def _forget(self) -> None:
        if self._cached:
            if self._cached[1] != self.root_fd:
                os.close(self._cached[1])
            self._cached = None

    def directory(self, parts: Parts, create: bool = True) -> int:
        """A descriptor of the directory `parts` (created as needed, mode 0755 as tar does); ValueError when
        a component is a symlink or not a directory."""
        if not parts:
            return self.root_fd
        if self._cached and self._cached[0] == parts:
            return self._cached[1]
        fd = self.root_fd
        try:
            for part in parts:
                try:
                    child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(part, 0o755, dir_fd=fd)
                    child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise ValueError(
                            f"goes through {'/'.join(parts[: parts.index(part) + 1])!r}, "
                            "which is a symlink or not a directory"
                        ) from None
                    raise
                if fd != self.root_fd:
                    os.close(fd)
                fd = child
        except BaseException:
            if fd != self.root_fd:
                os.close(fd)
            raise
        self._forget()
        self._cached = (parts, fd)
        return fd

    def clear(self, parts: Parts) -> int:
        """Make room for a new non-directory at `parts`: the parent's descriptor; an existing file or link is
        removed, an existing empty directory too (a non-empty one is refused)."""
        parent = self.directory(parts[:-1])
        try:
            info = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return parent
        if stat.S_ISDIR(info.st_mode):
            try:
                os.rmdir(parts[-1], dir_fd=parent)
            except OSError:
                raise ValueError("would replace a directory that is not empty") from None
            self._forget()
            return self.directory(parts[:-1])
        os.unlink(parts[-1], dir_fd=parent)
        return parent

    def owner(self, member: tarfile.TarInfo) -> Tuple[int, int]:
        """The owner tar would give as root: by name when this machine knows it, else by number."""
        try:
            uid = pwd.getpwnam(member.uname).pw_uid if member.uname else member.uid
        except KeyError:
            uid = member.uid
        try:
            gid = grp.getgrnam(member.gname).gr_gid if member.gname else member.gid
        except KeyError:
            gid = member.gid
        return uid, gid


def extract(archive: tarfile.TarFile, staging: Path, final_root: Path, skip_unsafe: bool = False) -> Extracted:
    """Extract a tar archive read in member order (opened in stream mode, `r|`, `r|gz`, or over a forward-only
    file, gzipstream.open_tar) into the empty directory `staging`, which will become `final_root`. Raises
    Unsafe for a refused member unless `skip_unsafe`."""
    tree = _Tree(staging)
    result = Extracted()
    files: Set[Parts] = set()
    symlinks: Dict[Parts, str] = {}
    directories: Dict[Parts, tarfile.TarInfo] = {}

    def refuse(name: str, reason: str) -> None:
        if not skip_unsafe:
            raise Unsafe(name, reason)
        result.skipped.append(f"{name}: {reason}")

    try:
        for member in archive:
            try:
                parts = member_parts(member.name)
            except ValueError as exc:
                refuse(member.name, str(exc))
                continue
            try:
                if member.isdir():
                    _directory(tree, parts)
                    directories[parts] = member
                    files.discard(parts)
                    symlinks.pop(parts, None)
                elif member.isreg():
                    if not parts:
                        raise ValueError("is a file in place of the archive's root")
                    _file(tree, parts, member, archive)
                    files.add(parts)
                    symlinks.pop(parts, None)
                elif member.islnk():
                    try:
                        source = member_parts(member.linkname)
                    except ValueError as exc:
                        raise ValueError(f"is a hard link to {member.linkname!r}, which {exc}") from None
                    if source == parts and (parts in files or parts in symlinks):
                        pass  # the original's duplicate of a dot-file: this very member again
                    elif source in files and source != parts:
                        _hardlink(tree, source, parts)
                        files.add(parts)
                        symlinks.pop(parts, None)
                    else:
                        raise ValueError(
                            f"is a hard link to {member.linkname!r}, which is not an earlier file of the archive"
                        )
                elif member.issym():
                    if not parts:
                        raise ValueError("is a symlink in place of the archive's root")
                    if not member.linkname or "\0" in member.linkname:
                        raise ValueError("is a symlink with an empty target")
                    parent = tree.clear(parts)
                    os.symlink(member.linkname, parts[-1], dir_fd=parent)
                    if tree.as_root:
                        os.chown(parts[-1], *tree.owner(member), dir_fd=parent, follow_symlinks=False)
                    symlinks[parts] = member.linkname
                    files.discard(parts)
                else:
                    kind = (
                        "a device node"
                        if member.ischr() or member.isblk()
                        else "a FIFO"
                        if member.isfifo()
                        else f"of tar type {member.type!r}"
                    )
                    raise ValueError(f"is {kind}, which a restore never creates")
            except ValueError as exc:
                refuse(member.name, str(exc))
                continue
            result.members += 1
        for parts, target in sorted(symlinks.items()):
            if leads_out(parts, target, str(final_root), staging):
                refuse("/".join((".",) + parts), f"is a symlink to {target!r}, which leads out of {final_root}")
                parent = tree.directory(parts[:-1], create=False)
                os.unlink(parts[-1], dir_fd=parent)
        for parts in sorted(directories, key=len, reverse=True):  # deepest first: a parent's mode may forbid
            _finish_directory(tree, parts, directories[parts])
    finally:
        tree.close()
    return result


def _directory(tree: _Tree, parts: Parts) -> None:
    if not parts:
        return
    parent = tree.directory(parts[:-1])
    try:
        info = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            return
        os.unlink(parts[-1], dir_fd=parent)  # a file or link of an earlier member gives way, as with tar
    except FileNotFoundError:
        pass
    os.mkdir(parts[-1], 0o700, dir_fd=parent)


def _file(tree: _Tree, parts: Parts, member: tarfile.TarInfo, archive: tarfile.TarFile) -> None:
    parent = tree.clear(parts)
    fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=parent)
    try:
        source = archive.extractfile(member)
        while source is not None:
            chunk = source.read(CHUNK)
            if not chunk:
                break
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
        if tree.as_root:
            os.fchown(fd, *tree.owner(member))
        os.fchmod(fd, member.mode & 0o777)
        os.utime(fd, (member.mtime, member.mtime))
    finally:
        os.close(fd)


def _hardlink(tree: _Tree, source: Parts, parts: Parts) -> None:
    source_dir = tree.directory(source[:-1], create=False)
    source_fd = os.dup(source_dir)  # directory() of the link's parent may close the cached one
    try:
        info = os.stat(source[-1], dir_fd=source_fd, follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"is a hard link to {'/'.join(source)!r}, which is no longer a file")
        parent = tree.clear(parts)
        os.link(source[-1], parts[-1], src_dir_fd=source_fd, dst_dir_fd=parent, follow_symlinks=False)
    finally:
        os.close(source_fd)


def _finish_directory(tree: _Tree, parts: Parts, member: tarfile.TarInfo) -> None:
    try:
        fd = tree.directory(parts, create=False)
    except (ValueError, FileNotFoundError):
        return  # replaced by a later member
    if tree.as_root:
        os.fchown(fd, *tree.owner(member))
    os.fchmod(fd, member.mode & 0o777)
    os.utime(fd, (member.mtime, member.mtime))
