"""The one place a subprocess starts: timeouts, an optional log file, secrets redacted from what is shown."""

from __future__ import annotations

import subprocess
from typing import IO, Iterable, Mapping, Optional, Sequence

from adt.errors import AdtError
from adt.files import open_private


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def run(args: Sequence[str], *, check: bool = True, timeout: Optional[float] = 120, input: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None, log: Optional[IO[str]] = None,
        secrets: Iterable[str] = (), what: str = "") -> subprocess.CompletedProcess:
    """Run argv (never a shell string), capture its output; on failure raise one AdtError naming it."""
    secrets = list(secrets)
    shown = redact(" ".join(map(str, args)), secrets)
    if log:
        log.write(f"$ {shown}\n")
        log.flush()
    try:
        result = subprocess.run(list(map(str, args)), input=input, capture_output=True, text=True, timeout=timeout,
                                env=None if env is None else dict(env), cwd=cwd)
    except FileNotFoundError:
        raise AdtError(f"{what or 'a step'} needs {args[0]}, which is not installed", "run 'make deps'") from None
    except subprocess.TimeoutExpired:
        raise AdtError(f"{what or shown} did not finish within {timeout:g} s") from None
    if log and (result.stdout or result.stderr):
        log.write(redact(result.stdout + result.stderr, secrets))
        log.flush()
    if check and result.returncode != 0:
        tail = redact((result.stderr or result.stdout).strip().splitlines()[-1:] and
                      (result.stderr or result.stdout).strip().splitlines()[-1] or "", secrets)
        raise AdtError(f"{what or shown} failed (exit {result.returncode}){': ' + tail if tail else ''}")
    return result


def alive(pid: int) -> bool:
    """Whether a process runs. A zombie (exited, not yet reaped by a parent that may never reap it) has not."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def spawn(args: Sequence[str], *, log_path: str, env: Optional[Mapping[str, str]] = None) -> int:
    """Start a long-lived process detached from us (its own session), output to log_path; its pid."""
    with open_private(log_path, "ab") as log:  # 0600 from its first byte
        process = subprocess.Popen(list(map(str, args)), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   start_new_session=True, env=None if env is None else dict(env))
    return process.pid
