"""Debian's strace as a witness that secrets stay out of argv and that secret files are born private.

A command runs under `strace -f` (every process it starts is followed, detached ones included); the trace
is then read back as data: each execve's argv and environment, each file created (with the mode given
to the open() that created it, renames followed), each chmod. Tests then assert on that data:

    trace = tmp_path / "trace"
    result = strace.run(["adt", "backup", "database", "HOURLY"], trace, env=env)
    calls = strace.parse(trace)
    assert strace.argv_leaks(calls, {"DBPASSWORD": password}) == []

The traps of reading strace (reference components.md §11d): `-e signal=none` (no SIGCHLD lines), a large
`-s` with a check that no argument was cut, `-v` for whole environments, `-y` for the paths behind
descriptors, `-I1` so that SIGTERM detaches from a command that leaves daemons running.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence

CALLS = ("execve,execveat,openat,open,creat,chmod,fchmod,fchmodat,rename,renameat,renameat2,umask,"
         "clone,clone3,fork,vfork")
STRSIZE = 1 << 16


def command(trace: Path, argv: Sequence[str]) -> List[str]:
    return ["strace", "-f", "-q", "-I1", "-e", f"trace={CALLS}", "-e", "signal=none", "-s", str(STRSIZE), "-v",
            "-y", "-o", str(trace), "--", *map(str, argv)]


def run(argv: Sequence[str], trace: Path, **kwargs) -> subprocess.CompletedProcess:
    """Run a command (which ends, with everything it started) under strace; its output captured."""
    kwargs.setdefault("timeout", 600)
    return subprocess.run(command(trace, argv), capture_output=True, text=True, **kwargs)


def exit_status(line: str, pid: int) -> Optional[int]:
    """The exit status in a `PID +++ exited with N +++` (or `killed by SIG`) line of that pid; strace pads
    pids to five characters, so there may be more than one space."""
    ended = re.match(rf"^{pid}\s+\+\+\+ (?:exited with (\d+)|killed by (\w+))", line)
    if not ended:
        return None
    return int(ended[1]) if ended[1] else 128 + getattr(signal, ended[2], 0)


class Traced:
    """A command under strace that leaves processes running (a build leaves its machines' daemons):
    `wait()` returns when the command itself has exited, `detach()` lets the rest run on untraced."""

    def __init__(self, argv: Sequence[str], trace: Path, stdout: Path, stderr: Path, **kwargs):
        self.trace = trace
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            self.tracer = subprocess.Popen(command(trace, argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                           **kwargs)

    def wait(self, timeout: float) -> int:
        """The command's exit status, once it has exited (its descendants may still run)."""
        deadline = time.monotonic() + timeout
        handle, pid, partial = None, None, ""
        try:
            while time.monotonic() < deadline:
                if self.tracer.poll() is not None:
                    return self.tracer.returncode  # everything ended: strace passes the command's status on
                if handle is None and self.trace.exists():
                    handle = open(self.trace, errors="replace")
                if handle:
                    lines = (partial + handle.read()).split("\n")
                    partial = lines.pop()
                    for line in lines:
                        pid = pid or int(line.split()[0])  # the first line is the command's own
                        status = exit_status(line, pid)
                        if status is not None:
                            return status
                time.sleep(0.2)
        finally:
            if handle:
                handle.close()
        raise TimeoutError(f"the traced command did not end within {timeout:g} s")

    def detach(self) -> None:
        """Stop tracing: strace (with -I1) detaches from every process it follows and exits."""
        if self.tracer.poll() is None:
            self.tracer.send_signal(signal.SIGTERM)
            self.tracer.wait(60)


# -- reading a trace ---------------------------------------------------------------------------------
@dataclass
class Call:
    index: int
    pid: int
    name: str
    args: list
    result: str
    cwd: str = ""
    umask: int = 0o022

    @property
    def ok(self) -> bool:
        return not self.result.startswith("-1") and self.result != "?"


@dataclass
class Exec:
    pid: int
    path: str
    argv: List[str]
    env: List[str]
    cut: bool  # an argument longer than the trace shows


class Raw(str):
    """An argument strace printed as it is (a flag set, a number, `3</path>`)."""


class Cut(str):
    """A string strace shortened (`"..."...`)."""


_ESCAPES = {"n": b"\n", "t": b"\t", "r": b"\r", "v": b"\v", "f": b"\f", "a": b"\a", "b": b"\b", "\\": b"\\",
            '"': b'"', "'": b"'"}


def _string(text: str, i: int):
    """A C string literal at text[i] == '"': (the value, the index after it)."""
    out = bytearray()
    i += 1
    while text[i] != '"':
        char = text[i]
        if char != "\\":
            out += char.encode("latin-1", "replace")
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in _ESCAPES:
            out += _ESCAPES[nxt]
            i += 2
        elif nxt == "x":
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        else:
            digits = re.match(r"[0-7]{1,3}", text[i + 1:])[0]
            out.append(int(digits, 8) & 0xFF)
            i += 1 + len(digits)
    value = out.decode("utf-8", "surrogateescape")
    i += 1
    if text.startswith("...", i):
        return Cut(value), i + 3
    return value, i


def _value(text: str, i: int):
    while text[i] == " ":
        i += 1
    if text[i] == '"':
        return _string(text, i)
    if text[i] in "[{":
        close = "]" if text[i] == "[" else "}"
        items, i = _values(text, i + 1, close)
        return items, i
    start, depth = i, 0
    while i < len(text):
        char = text[i]
        if char == "<":  # a descriptor's path, `3</a/b>`: may hold commas and parentheses
            end = text.find(">", i)
            i = end + 1 if end > 0 else len(text)
            continue
        if char == '"':
            _, i = _string(text, i)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif char == "," and depth == 0:
            break
        i += 1
    return Raw(text[start:i].strip()), i


def _values(text: str, i: int, close: str):
    items = []
    while True:
        while text[i] == " ":
            i += 1
        if text[i] == close:
            return items, i + 1
        item, i = _value(text, i)
        items.append(item)
        while text[i] == " ":
            i += 1
        if text[i] == ",":
            i += 1


_LINE = re.compile(r"^(\d+)\s+(.*)$")
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
_DECORATION = re.compile(r"<(/[^>]*)>$")


def decorated_path(token: str) -> str:
    """`AT_FDCWD</a/b>` or `3</a/b>` -> /a/b; '' when there is none."""
    found = _DECORATION.search(str(token))
    return found[1] if found else ""


def _current_umask() -> int:
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def parse(trace: Path, umask: Optional[int] = None) -> List[Call]:
    """The calls of a trace, in its order, each with its process's working directory and umask then (a
    process starts with its parent's; the first one with `umask`, by default this process's own)."""
    calls: List[Call] = []
    pending: Dict[int, str] = {}
    parent: Dict[int, int] = {}
    with open(trace, encoding="ascii", errors="surrogateescape") as handle:
        for raw in handle:
            match = _LINE.match(raw.rstrip("\n"))
            if not match:
                continue
            pid, text = int(match[1]), match[2]
            if text.endswith("<unfinished ...>"):
                pending[pid] = text[:-len("<unfinished ...>")].rstrip()
                continue
            resumed = _RESUMED.match(text)
            if resumed:
                text = pending.pop(pid, resumed[1] + "(") + resumed[2]
            if text.startswith(("+++", "---")):
                continue
            call = re.match(r"^(\w+)\(", text)
            if not call:
                continue
            try:
                args, end = _values(text, call.end(), ")")
            except (IndexError, TypeError):
                raise ValueError(f"cannot read this strace line: {raw[:300]}") from None
            entry = Call(len(calls), pid, call[1], args, text[end:].strip().lstrip("=").strip())
            child = re.match(r"\d+", entry.result)  # not `? ERESTARTNOINTR`: a fork the kernel restarts
            if entry.name in ("clone", "clone3", "fork", "vfork") and entry.ok and child:
                parent.setdefault(int(child[0]), pid)
            calls.append(entry)
    # a child's first line may come before its parent's clone returns: who is whose child is known first
    cwd: Dict[int, str] = {}
    mask: Dict[int, int] = {}
    initial = _current_umask() if umask is None else umask
    for entry in calls:
        pid = entry.pid
        if pid not in mask:
            mask[pid] = mask.get(parent.get(pid), initial)
            cwd[pid] = cwd.get(parent.get(pid), "")
        for arg in entry.args:
            if isinstance(arg, Raw) and arg.startswith("AT_FDCWD<"):
                cwd[pid] = decorated_path(arg)
        entry.cwd, entry.umask = cwd[pid], mask[pid]
        if entry.name == "umask":
            mask[pid] = int(str(entry.args[0]), 8)
    return calls


def execs(calls: Iterable[Call]) -> List[Exec]:
    found = []
    for call in calls:
        if call.name in ("execve", "execveat"):
            path, argv, env = (call.args[0:3] if call.name == "execve" else call.args[1:4])
            argv = argv if isinstance(argv, list) else []
            env = env if isinstance(env, list) else []
            found.append(Exec(call.pid, str(path), [str(a) for a in argv], [str(e) for e in env],
                              any(isinstance(a, Cut) for a in argv)))
    return found


def forms(secrets: Mapping[str, str]) -> Dict[str, str]:
    """Each secret, and the forms it takes on the way out: base64 (an HTTP Authorization header carries
    `user:token` so) and percent-encoding."""
    from urllib.parse import quote

    out = {}
    for name, value in secrets.items():
        if not value:
            continue
        out[name] = value
        out[f"{name} (base64)"] = base64.b64encode(value.encode()).decode()
        if quote(value, safe="") != value:
            out[f"{name} (percent-encoded)"] = quote(value, safe="")
    return out


def argv_leaks(calls: Iterable[Call], secrets: Mapping[str, str], skip_first: int = 0) -> List[str]:
    """Where a secret (or one of its forms) is in a process's arguments: one line per leak. The first
    `skip_first` execs (the test's own command) are not checked."""
    leaks = []
    every = forms(secrets)
    for exec_ in execs(calls)[skip_first:]:
        joined = " ".join(exec_.argv)
        if exec_.cut:
            leaks.append(f"pid {exec_.pid}: an argument longer than {STRSIZE} bytes, not fully seen: {joined[:200]}")
        for name, value in every.items():
            if value in joined:
                leaks.append(f"pid {exec_.pid}: {name} in the arguments of {exec_.path}")
    return leaks


def in_env(calls: Iterable[Call], value: str) -> int:
    """How many execs carried `value` in their environment (env is allowed: this proves the trace saw it)."""
    return sum(any(value in e for e in exec_.env) for exec_ in execs(calls))


# -- files ---------------------------------------------------------------------------------------------
@dataclass
class Born:
    """One file as the trace saw it come to be: where it ended, the modes of the opens that created it
    (or, with O_CREAT on an existing file, could have), and the chmods it got after."""

    path: str
    creations: List[tuple] = field(default_factory=list)  # (pid, call, flags, mode, umask)
    chmods: List[tuple] = field(default_factory=list)  # (pid, call, mode)


def _resolve(base: str, path: str) -> str:
    return os.path.normpath(path if path.startswith("/") or not base else os.path.join(base, path))


def files(calls: Iterable[Call]) -> Dict[str, Born]:
    """Every file created under the trace, by the path it has at the end (renames followed)."""
    at: Dict[str, Born] = {}
    for call in calls:
        if not call.ok:
            continue
        name, args = call.name, call.args
        if name in ("openat", "open", "creat"):
            if name == "openat":
                base, path, flags = decorated_path(args[0]), args[1], str(args[2])
                mode = args[3] if len(args) > 3 else None
            elif name == "open":
                base, path, flags = call.cwd, args[0], str(args[1])
                mode = args[2] if len(args) > 2 else None
            else:
                base, path, flags, mode = call.cwd, args[0], "O_CREAT|O_WRONLY|O_TRUNC", args[1]
            if "O_CREAT" not in flags:
                continue
            where = decorated_path(call.result) or _resolve(base, str(path))
            born = at.setdefault(where, Born(where))
            born.creations.append((call.pid, call.name, flags, int(str(mode), 8) if mode is not None else None,
                                   call.umask))
        elif name in ("rename", "renameat", "renameat2"):
            if name == "rename":
                old, new = _resolve(call.cwd, str(args[0])), _resolve(call.cwd, str(args[1]))
            else:
                old = _resolve(decorated_path(args[0]), str(args[1]))
                new = _resolve(decorated_path(args[2]), str(args[3]))
            if old in at:
                moved = at.pop(old)
                moved.path = new
                at[new] = moved
        elif name in ("chmod", "fchmodat", "fchmod"):
            if name == "chmod":
                where, mode = _resolve(call.cwd, str(args[0])), args[1]
            elif name == "fchmodat":
                where, mode = _resolve(decorated_path(args[0]), str(args[1])), args[2]
            else:
                where, mode = decorated_path(args[0]), args[1]
            if where in at:
                at[where].chmods.append((call.pid, call.name, int(str(mode), 8)))
    return at


def exposed(born: Iterable[Born], holds_secret: Callable[[str], bool],
            allowed: Callable[[str], int] = lambda path: 0o600) -> List[str]:
    """The files that hold a secret and were not private from their first byte: created by an open whose
    mode gives more than `allowed(path)` (0600 unless said otherwise), or chmod-ed after. One line each."""
    problems = []
    for file in born:
        if not holds_secret(file.path):
            continue
        limit = allowed(file.path)
        for pid, call, flags, mode, umask in file.creations:
            if mode is None or mode & ~umask & ~limit & 0o7777:  # the kernel gives the file mode & ~umask
                problems.append(f"{file.path}: created by pid {pid} with {call}(..., {flags}, "
                                f"{'no mode' if mode is None else oct(mode)}) under umask {oct(umask)}, "
                                f"not {oct(limit)} or stricter")
        for pid, call, mode in file.chmods:
            problems.append(f"{file.path}: {call} {oct(mode)} by pid {pid} after it was created")
    return problems


def contains(path: Path, values: Iterable[str]) -> bool:
    """Whether a regular file holds one of the values (anything else, or nothing there: no)."""
    try:
        if not Path(path).is_file():
            return False
        data = Path(path).read_bytes()
    except OSError:
        return False
    return any(value.encode() in data for value in values if value)
