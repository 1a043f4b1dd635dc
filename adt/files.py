"""Files that may hold a secret get their final mode in the call that creates them.

Writing a file and then chmod-ing it leaves a moment (or, after a crash, forever) in which the umask's
mode (often 0644) lets anyone on the machine read it. Here the mode is given to open() itself, with
O_EXCL and O_NOFOLLOW, so a symbolic link planted at the path is never followed. A umask can only take
bits away; when it did, the mode is set on the still-empty file, before a byte is written.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import stat
from pathlib import Path
from typing import IO, Union

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


def write_atomically(target: Union[str, Path], data: Union[str, bytes], mode: int = 0o600) -> None:
    """Replace `target` by `data` all at once (a temporary file beside it, then rename), the temporary
    file created with `mode`: a reader sees the old file or the new one, never a partial or open one."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
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
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
