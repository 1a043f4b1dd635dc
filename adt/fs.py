"""Files and trees, written so that nothing is seen half-done and nothing leaks: the one home of atomic writes,
private files, staged swap-ins and the check that a tree's symlinks stay inside it.

Files that may hold a secret get their final mode in the call that creates them.

Writing a file and then chmod-ing it leaves a moment (or, after a crash, forever) in which the umask's
mode (often 0644) lets anyone on the machine read it. Here the mode is given to open() itself, with
O_EXCL and O_NOFOLLOW, so a symbolic link planted at the path is never followed. A umask can only take
bits away; when it did, the mode is set on the still-empty file, before a byte is written.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import IO, Iterator, List, Tuple, Union

from adt.errors import AdtError

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


def _settle(fd: int, path, mode: int) -> None:
    """The fd is a regular file with exactly `mode` before anything is written to it (or a character
    device such as /dev/null, left as it is)."""
    status = os.fstat(fd)
    if stat.S_ISCHR(status.st_mode):
        return
    if not stat.S_ISREG(status.st_mode):
        os.close(fd)
        raise AdtError(f"{path} is not a regular file", "remove it, then run this again")
    if stat.S_IMODE(status.st_mode) != mode:  # a umask took bits away, or an older file was looser
        os.fchmod(fd, mode)


@contextlib.contextmanager
def atomic_writer(target: Union[str, Path], mode: int = 0o600) -> Iterator[IO[bytes]]:
    """A binary file that replaces `target` all at once when the block ends well (a temporary file beside it,
    created with `mode`, then renamed); when the block raises, the target is left as it was."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}"
        try:
            fd = os.open(tmp, _CREATE | os.O_EXCL, mode)
            break
        except FileExistsError:
            continue
    try:
        _settle(fd, tmp, mode)
        with os.fdopen(fd, "wb") as out:
            yield out
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomically(target: Union[str, Path], data: Union[str, bytes], mode: int = 0o600) -> None:
    """Replace `target` by `data` all at once: a reader sees the old file or the new one, never a partial or
    open one; the new file has `mode` from its creation."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    with atomic_writer(target, mode) as out:
        out.write(data)


def open_private(path: Union[str, Path], mode: str = "a", perm: int = 0o600) -> IO:
    """Open a file for writing ("a", "ab", "w" or "wb"), created with `perm` (an existing one is made
    `perm` before anything is written). For logs and other files written as they go."""
    if mode not in ("a", "ab", "w", "wb"):
        raise ValueError(f"open_private writes only ('a', 'ab', 'w', 'wb'), not {mode!r}")

    def opener(name, flags):  # O_NONBLOCK: a fifo planted here fails at once instead of blocking
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK, perm)
        _settle(fd, name, perm)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)  # children get it plain
        return fd

    return open(path, mode, opener=opener) if "b" in mode else open(path, mode, encoding="utf-8", opener=opener)


@contextlib.contextmanager
def held(path: Union[str, Path], what: str, wait: float = 0.0) -> Iterator[None]:
    """An exclusive lock (fcntl) on `path` (0600, its folder made 0700) for the block, which writes this process's
    pid into it. Held by another process: waited for at most `wait` seconds (polled), then an AdtError naming `what`
    and the holder's pid. The kernel releases it when the holder exits, however it exits."""
    import time

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open_private(path, "a") as lock:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = path.read_text(errors="replace").strip() or "another process"
                    waited = f", waited {wait:g} s" if wait else ""
                    raise AdtError(
                        f"another {what} is in progress (pid {holder}{waited})",
                        "it finishes on its own; run this again after it",
                    ) from None
                time.sleep(0.1)
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield


# -- trees: staged, checked, swapped in ------------------------------------------------------------------

MAX_SYMLINK_HOPS = 40  # as the kernel's limit for one path walk


def webroot_relative(path: str) -> str:
    """A path under the webroot as an operator writes it (`x`, `./x`, `/x`, `x/`) in one form, `x`; dots that
    are part of a name stay (`.cache`)."""
    while path.startswith("./"):
        path = path[2:]
    return path.strip("/")


def restore_target(target: Path) -> Path:
    """The directory a restore replaces, checked: a symlink is refused (the swap would replace the link and
    leave the tree it points to, and an absolute link in the archive could reach that tree)."""
    target = Path(target)
    if target.is_symlink():
        raise AdtError(
            f"{target} is a symlink (to {os.readlink(target)}): not restoring through it",
            f"restore into the directory itself: --target {os.path.realpath(target)}",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def swap_in(staging: Path, target: Path) -> None:
    """Put a fully prepared tree (beside the target, same filesystem) in the target's place by renames; if
    the second rename fails, the old tree is put back."""
    old = target.with_name(f".{target.name}.replaced-{os.getpid()}")
    moved = target.exists()
    if moved:
        os.rename(target, old)
    try:
        os.rename(staging, target)
    except BaseException:
        if moved:
            os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def leads_out(link_parts: Tuple[str, ...], target: str, final_root: str, staged: Path) -> bool:
    """Whether the symlink at `link_parts` (inside the tree staged at `staged`, which will live at
    `final_root`) resolves outside the tree, following the symlinks already in the staged tree."""
    absolute_roots = {final_root.rstrip("/") or "/", os.path.realpath(final_root)}
    current: List[str] = list(link_parts[:-1])
    pending: List[str] = []
    hops = 0

    def start(text: str) -> bool:
        """Begin walking `text` from the current directory; False when it leaves the tree at once."""
        nonlocal current, pending
        if text.startswith("/"):
            root = next((r for r in absolute_roots if text == r or text.startswith(r.rstrip("/") + "/")), None)
            if root is None:
                return False
            current, text = [], text[len(root) :]
        pending = [p for p in text.split("/") if p not in ("", ".")] + pending
        return True

    if not start(target):
        return True
    while pending:
        part = pending.pop(0)
        if part == "..":
            if not current:
                return True
            current.pop()
            continue
        current.append(part)
        path = staged.joinpath(*current)
        if path.is_symlink():
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                return True  # a loop: nothing can be served through it, and we cannot tell where it leads
            current.pop()
            if not start(os.readlink(path)):
                return True
    return False


def escaping_symlinks(tree: Path, final_root: Path) -> List[Tuple[str, str]]:
    """(path, target) of the symlinks under `tree` (which will live at `final_root`) that resolve outside it:
    for trees that did not come from a tar archive (a baseline's clone)."""
    found = []
    for directory, dirs, names in os.walk(tree):
        for name in dirs + names:
            path = Path(directory, name)
            if path.is_symlink():
                parts = path.relative_to(tree).parts
                if leads_out(parts, os.readlink(path), str(final_root), tree):
                    found.append(("/".join(parts), os.readlink(path)))
    return sorted(found)
