"""The one place a process starts.

Four modes, one rule set (argv lists, never a shell string; a missing program is one clear error; secrets
redacted from everything shown):
- `run`: run to the end, output captured, an AdtError naming the step on failure;
- `start`: a streaming process whose pipes the caller reads or writes (tar, dumps, compressors, clients);
- `interactive`: a process on our terminal (an editor, ssh), its exit code returned; `replace` execs it;
- `spawn`: a long-lived process detached from us (its own session), output to a private log.

Dry-run: inside `dry_running()` every step that changes something is printed ("would run: ...") instead of
run; steps marked `changes=False` (reads) still run, so a plan can be based on what is there. Streaming
callers ask `dry_run()` first and `announce()` their pipeline. The datastore client factory prints the S3
calls that would write the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterable, Iterator, List, Mapping, NoReturn, Optional, Sequence

from adt.errors import AdtError
from adt.fs import open_private


class _State:
    dry = False
    echo: Optional[Callable[[str], None]] = None


_state = _State()


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def shown(args: Sequence[object], secrets: Iterable[str] = ()) -> str:
    """A command line as a person would type it (quoted where needed), secrets hidden."""
    return redact(shlex.join(map(str, args)), list(secrets))


def dry_run() -> bool:
    """Whether steps that change something are only printed."""
    return _state.dry


@contextlib.contextmanager
def dry_running(enabled: bool = True, echo: Optional[Callable[[str], None]] = None) -> Iterator[None]:
    """Within the block, changing steps are printed instead of run (echo: where the lines go, default stdout)."""
    saved = (_state.dry, _state.echo)
    _state.dry, _state.echo = bool(enabled) or saved[0], echo or saved[1]
    try:
        yield
    finally:
        _state.dry, _state.echo = saved


def announce(text: str, kind: str = "run") -> None:
    """Print one dry-run line: `would <kind>: <text>`."""
    line = f"would {kind}: {text}"
    echo = _state.echo
    if echo:
        echo(line)
    else:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _argv(args: Sequence[object]) -> List[str]:
    return [os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in args]


def _missing(args: Sequence[object], what: str) -> AdtError:
    return AdtError(f"{what or 'a step'} needs {args[0]}, which is not installed", "run 'make deps'")


def run(
    args: Sequence[object],
    *,
    check: bool = True,
    timeout: Optional[float] = 120,
    input: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    log: Optional[IO[str]] = None,
    secrets: Iterable[str] = (),
    what: str = "",
    changes: bool = True,
    pass_fds: Sequence[int] = (),
) -> subprocess.CompletedProcess:
    """Run argv to its end, capture its output; on failure raise one AdtError naming it.
    In a dry run a changing step is printed and "succeeds" with no output."""
    secrets = list(secrets)
    line = shown(args, secrets)
    if changes and dry_run():
        announce(line)
        return subprocess.CompletedProcess(_argv(args), 0, "", "")
    if log:
        log.write(f"$ {line}\n")
        log.flush()
    try:
        result = subprocess.run(
            _argv(args),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=None if env is None else dict(env),
            cwd=cwd,
            pass_fds=tuple(pass_fds),
        )
    except FileNotFoundError:
        raise _missing(args, what) from None
    except subprocess.TimeoutExpired:
        raise AdtError(f"{what or line} did not finish within {timeout:g} s") from None
    if log and (result.stdout or result.stderr):
        log.write(redact(result.stdout + result.stderr, secrets))
        log.flush()
    if check and result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        tail = redact(lines[-1], secrets) if lines else ""
        raise AdtError(f"{what or line} failed (exit {result.returncode}){': ' + tail if tail else ''}")
    return result


def start(
    args: Sequence[object],
    *,
    stdin=None,
    stdout=None,
    stderr=None,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    pass_fds: Sequence[int] = (),
    bufsize: int = -1,
    text: bool = False,
    new_session: bool = False,
    what: str = "",
) -> subprocess.Popen:
    """Start a streaming process (tar, a dump, a compressor, a database client); the caller owns its pipes
    and waits for it. Not dry-run aware: a streaming caller checks `dry_run()` and `announce()`s first."""
    try:
        return subprocess.Popen(
            _argv(args),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            bufsize=bufsize,
            env=None if env is None else dict(env),
            pass_fds=tuple(pass_fds),
            text=text,
            start_new_session=new_session,
        )
    except FileNotFoundError:
        raise _missing(args, what) from None


PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL


def interactive(
    args: Sequence[object],
    *,
    env: Optional[Mapping[str, str]] = None,
    secrets: Iterable[str] = (),
    what: str = "",
    changes: bool = True,
) -> int:
    """Run a process on our terminal (stdin, stdout and stderr are ours) and return its exit code."""
    if changes and dry_run():
        announce(shown(args, secrets))
        return 0
    try:
        return subprocess.call(_argv(args), env=None if env is None else dict(env))
    except FileNotFoundError:
        raise _missing(args, what) from None


def replace(args: Sequence[object], *, what: str = "") -> NoReturn:
    """Become the process (exec): for an interactive ssh session, so signals and the terminal are its own."""
    if dry_run():
        announce(shown(args))
        raise SystemExit(0)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp(str(args[0]), _argv(args))
    except FileNotFoundError:
        raise _missing(args, what) from None


def alive(pid: int) -> bool:
    """Whether a process runs. A zombie (exited, not yet reaped by a parent that may never reap it) has not."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def command_line(pid: int) -> List[bytes]:
    """The arguments of a live process, [] when it is gone or cannot be read: how a server adt started is told
    from a process that took its recorded pid since."""
    if pid <= 0 or not alive(pid):
        return []
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def recorded(state_file: Path, ours: Callable[[List[bytes]], bool]) -> Optional[Dict[str, Any]]:
    """A server's state file (JSON with its `pid`), when that pid is alive and `ours` recognises its
    command line; else None (never started, stopped, or the pid reused)."""
    try:
        state = json.loads(Path(state_file).read_text())
        pid = int(state.get("pid", 0))
    except (FileNotFoundError, ValueError, TypeError, AttributeError):
        return None
    argv = command_line(pid)
    return state if argv and ours(argv) else None


def until_answering(
    process: subprocess.Popen,
    probe: Callable[[], Any],
    what: str,
    tail: Callable[[], str],
    log_file: Path,
    timeout: float,
    stop: Callable[[], None],
) -> None:
    """Wait until a server just spawned answers `probe` (which raises AdtError until it does). When it exits
    first, or does not answer within `timeout` seconds, `stop` cleans up and one AdtError says why (`tail`:
    the last lines of its log)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stop()
            raise AdtError(f"{what} exited with {process.returncode}: {tail()}", f"its log is {log_file}")
        try:
            probe()
            return
        except AdtError as error:
            last = error.message
            time.sleep(0.05)
    stop()
    raise AdtError(f"{what} did not answer within {timeout:g} s: {last}", f"its log is {log_file}")


def terminate(pid: int, timeout: float = 10.0) -> None:
    """Stop a process this program started (a server of ours, by its recorded pid): SIGTERM, then SIGKILL
    when it is still there after `timeout` seconds; reaped when it is our child, so no zombie is left."""

    def reap() -> None:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass

    if not alive(pid):
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            reap()
            if not alive(pid):
                reap()  # it may have ended between the two looks
                return
            time.sleep(0.02)


def spawn(
    args: Sequence[object],
    *,
    log_path: str,
    env: Optional[Mapping[str, str]] = None,
    process: bool = False,
    what: str = "",
):
    """Start a long-lived process detached from us (its own session), output to log_path (0600 from its first
    byte); its pid, or the Popen when `process` (to watch it start). In a dry run: printed, pid 0."""
    if dry_run():
        announce(shown(args))
        return 0
    with open_private(log_path, "ab") as log:
        try:
            child = subprocess.Popen(
                _argv(args),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                env=None if env is None else dict(env),
            )
        except FileNotFoundError:
            raise _missing(args, what) from None
    return child if process else child.pid
