"""The per-machine agent: a long-lived process holding warm S3 clients, served on a root-only socket.

Protocol (one request per connection), a handshake so that a call runs exactly once:
1. The client connects and reads the socket owner's uid (SO_PEERCRED). Unless it is the client's own
   effective uid, it sends nothing and runs the call in-process: a request carries the whole environment
   (secrets) and the caller's stdio. Root is no exception either way: a root client uses only a root
   agent (a socket planted by a user gets nothing), and a user's client never hands its call to root's
   agent (which would refuse it, and must not run a user's command as root).
2. The client sends a 4-byte big-endian length and a JSON object {argv, cwd, env}.
3. The agent reads it and answers ACK (b"A").
4. The client, still waiting, answers GO (b"G") with its fds 0, 1 and 2 attached (SCM_RIGHTS). Only now
   does the agent run the same Click CLI in-process, with those fds as stdio, the cwd and the
   environment; it sends back a 4-byte exit code.
A client that has no ACK within TIMEOUT seconds closes and runs the call in-process. The agent runs
nothing without a GO, and a client that sent GO never falls back, so no call runs twice. The stdio
travel only with GO, so a stuck agent never holds a caller's pipe open.

The parent only accepts, checks the peer's uid (only its own uid is served) and forks one child per
connection; the child reads the request (within DEADLINE of the accept, in total) and runs it. The
parent never reads from a client, so a slow or silent one costs only its own child, at most
MAX_CHILDREN at once (beyond that a connection is closed at once and its client runs in-process).
Forking at accept, not threads: a process that forks should have no other threads. The parent never
makes an S3 request, so children share no connection.

The server knows nothing of the CLI (which sits above it): `adt agent run` hands `serve` the CLI's `main`
as the handler of each request, and a warm-up that builds the S3 clients.

This module is imported by every forwarded call: its top imports only what the client needs, and cheap
modules (the client uses `_socket`, not `socket`, and no json: together 25 ms of a 90 ms call).
"""

import _socket
import os
import struct
import sys
import time

DEFAULT_SOCKET = "/run/adt/agent.sock"
TIMEOUT = 2.0  # seconds a client waits for the agent to take a call (ACK) before running it itself
DEADLINE = 5.0  # seconds a child allows, from the accept, for the whole request and the GO
MAX_CHILDREN = 32  # connections served at once
MAX_REQUEST = 1 << 20  # bytes of request (an environment is a few kB)
_HEADER = struct.Struct("!I")
_CODE = struct.Struct("!i")
_CRED = struct.Struct("3i")
_ACK, _GO = b"A", b"G"


def socket_path() -> str:
    return os.environ.get("ADT_AGENT_SOCKET") or DEFAULT_SOCKET


# -- client ----------------------------------------------------------------------------------------


def forward(argv, path=None, timeout=TIMEOUT):
    """Run argv in the agent; its exit code, or None when the call is to run in-process.

    None means the agent never started the call: no agent answers, the socket belongs to another
    user, or the agent did not take the call within timeout seconds.
    """
    path = path or socket_path()
    deadline = time.monotonic() + timeout
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)  # `_socket`: no context manager
    try:
        try:
            conn.settimeout(timeout)
            conn.connect(path)
        except TimeoutError:
            return _fallback(path, f"no answer within {timeout:g} s")
        except OSError:
            return None
        owner, ours = peer_uid(conn), os.geteuid()
        if owner != ours:
            sys.stderr.write(
                f"adt: the agent socket {path} belongs to uid {owner}, not {ours}: nothing was sent "
                f"to it, the call runs in-process; remove the socket or set ADT_AGENT_SOCKET\n"
            )
            return None
        payload = encode_request(argv, os.getcwd(), os.environ)
        try:
            conn.settimeout(_left(deadline))
            conn.sendall(_HEADER.pack(len(payload)) + payload)
            ack = _recv_exact(conn, len(_ACK), deadline)
        except TimeoutError:
            return _fallback(path, f"no answer within {timeout:g} s")
        except (BrokenPipeError, ConnectionResetError):
            return _fallback(path, "it closed the connection")
        except OSError as exc:
            return _fallback(path, exc.strerror or type(exc).__name__)
        if ack != _ACK:
            return _fallback(path, "it closed the connection")
        fds, opened = [], []
        for fd in (0, 1, 2):
            try:
                os.fstat(fd)
                fds.append(fd)
            except OSError:  # a closed stdio (possible under cron): give the agent /dev/null instead
                spare = os.open(os.devnull, os.O_RDWR)
                opened.append(spare)
                fds.append(spare)
        try:
            conn.settimeout(None)
            from array import array

            conn.sendmsg([_GO], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array("i", fds))])
        except OSError:  # the GO never left, so the agent cannot run the call
            return _fallback(path, "it closed the connection")
        finally:
            for fd in opened:
                os.close(fd)
        try:  # from here on the call is the agent's: wait as long as the command takes
            reply = _recv_exact(conn, _CODE.size)
        except OSError:
            reply = b""
    finally:
        conn.close()
    if len(reply) != _CODE.size:
        sys.stderr.write(
            f"adt: the agent at {path} ended the request without a result; see its log, or run with ADT_AGENT=off\n"
        )
        return 1
    return _CODE.unpack(reply)[0]


def encode_request(argv, cwd, env) -> bytes:
    """A request as bytes: the number of words, the words, the cwd, then NAME=value for each variable, each
    ended by NUL (none of them can hold one). Bytes that are not UTF-8 travel as they came."""
    fields = [str(len(argv)), *argv, cwd, *(f"{name}={value}" for name, value in env.items())]
    return "".join(f"{field}\0" for field in fields).encode("utf-8", "surrogateescape")


def decode_request(body: bytes) -> dict:
    """{argv, cwd, env} from encode_request's bytes; ValueError for anything else."""
    fields = body.decode("utf-8", "surrogateescape").split("\0")
    if len(fields) < 3 or fields.pop() != "" or not fields[0].isdigit() or len(fields) < int(fields[0]) + 2:
        raise ValueError("not a request")
    count = int(fields[0])
    argv, cwd, variables = fields[1 : count + 1], fields[count + 1], fields[count + 2 :]
    if any("=" not in variable or variable.startswith("=") for variable in variables):
        raise ValueError("not a request: a variable without a name")
    return {"argv": argv, "cwd": cwd, "env": dict(variable.split("=", 1) for variable in variables)}


def _fallback(path, reason):
    sys.stderr.write(f"adt: the agent at {path} did not take the call ({reason}); it runs in-process\n")
    return None


def peer_uid(conn):
    """The uid of the process at the other end of a connected Unix socket."""
    _pid, uid, _gid = _CRED.unpack(conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, _CRED.size))
    return uid


def _left(deadline):
    return max(deadline - time.monotonic(), 0.001)


def _recv_exact(conn, size, deadline=None):
    """size bytes, or fewer if the peer closed; with a deadline, TimeoutError once it has passed."""
    data = b""
    while len(data) < size:
        if deadline is not None:
            conn.settimeout(_left(deadline))
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def running_pid(path=None):
    """The pid of the agent answering at path, or None."""
    path = path or socket_path()
    try:
        with open(path + ".pid", encoding="ascii") as handle:
            pid = int(handle.read().strip())
        probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            probe.connect(path)
        finally:
            probe.close()
        return pid
    except (OSError, ValueError):
        return None


# -- server ----------------------------------------------------------------------------------------


def serve(handler, path=None, log=None, warm=lambda: False):
    """Serve requests until SIGTERM: each runs `handler(argv)` (the CLI's main, which returns the exit code)
    in a child with the client's stdio, cwd and environment. `warm()` runs once before the first request
    (imports and clients the children then share; True when it found this machine's settings).
    Refuses to start if another agent answers at path."""
    import signal

    path = path or socket_path()
    log = log or sys.stderr
    if running_pid(path):
        raise RuntimeError(f"an agent is already running at {path}")
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if os.stat(directory).st_uid != os.geteuid():
        raise RuntimeError(f"{directory} belongs to another user; the agent socket needs a private directory")
    os.chmod(directory, 0o700)
    warmed = warm()
    import gc

    gc.freeze()  # children then leave the warm heap alone (fewer copy-on-write faults)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    import socket

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old_umask)
    listener.listen(128)
    listener.settimeout(1.0)  # wakes the loop each second to reap children even when idle
    _write_pid(path)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        f"adt agent {os.getpid()} serving {path} (settings {'loaded' if warmed else 'not found yet'})",
        file=log,
        flush=True,
    )
    children = set()
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except (TimeoutError, InterruptedError):
                _reap(children)
                continue
            try:
                _dispatch(listener, conn, children, log, handler)
            except Exception as exc:  # one bad request never stops the agent
                print(f"adt agent: request failed: {type(exc).__name__}: {exc}", file=log, flush=True)
            finally:
                conn.close()
    finally:
        listener.close()
        for leftover in (path, path + ".pid"):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass


def _write_pid(path):
    from adt.fs import write_atomically  # the server only: the client side stays on the standard library

    write_atomically(path + ".pid", f"{os.getpid()}\n", 0o644)


def _reap(children):
    while children:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            children.clear()
            return
        if pid == 0:
            return
        children.discard(pid)


def _dispatch(listener, conn, children, log, handler):
    """Check the peer and fork its child; never reads from the connection."""
    _reap(children)
    uid = peer_uid(conn)
    if uid != os.geteuid():
        print(f"adt agent: refused a request from uid {uid}", file=log, flush=True)
        return
    if len(children) >= MAX_CHILDREN:
        print(
            f"adt agent: {MAX_CHILDREN} requests in progress; closed a new one (its client runs it in-process)",
            file=log,
            flush=True,
        )
        return
    import signal

    for stream in (sys.stdout, sys.stderr, log):
        stream.flush()
    # a stop signal during fork would run its handler inside fork's callbacks, where its SystemExit is lost
    stops = (signal.SIGTERM, signal.SIGINT)
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        pid = os.fork()
        if pid == 0:
            _child(listener, conn, log, handler)
        children.add(pid)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)


class _Dropped(Exception):
    """A connection that brings nothing to run; the message says why (empty for a liveness probe)."""


def _take(conn, deadline):
    """Read the request, acknowledge it and wait for the GO: (request, fds). Raises _Dropped."""
    header = _recv_exact(conn, _HEADER.size, deadline)
    if not header:
        raise _Dropped("")  # a liveness probe (running_pid) connects and closes
    if len(header) < _HEADER.size:
        raise _Dropped("truncated request")
    (length,) = _HEADER.unpack(header)
    if length > MAX_REQUEST:
        raise _Dropped(f"a request of {length} bytes (the limit is {MAX_REQUEST})")
    body = _recv_exact(conn, length, deadline)
    if len(body) < length:
        raise _Dropped("truncated request")
    request = decode_request(body)
    left = _Dropped("the client left before the go; the request was not run")
    try:
        conn.sendall(_ACK)
        conn.settimeout(_left(deadline))
        import socket

        go, fds, _flags, _addr = socket.recv_fds(conn, len(_GO), 3)
    except (BrokenPipeError, ConnectionResetError):
        raise left from None
    if go != _GO or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise left
    return request, fds


def _child(listener, conn, log, handler):
    """Take one request and run it as the client would have, then exit. Never returns."""
    import gc
    import signal

    try:
        gc.disable()  # a short-lived child: collection would only copy pages
        for signum in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the client leaving interrupts the call
        signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGTERM, signal.SIGINT))  # blocked over the fork
        listener.close()
        request, fds = _take(conn, time.monotonic() + DEADLINE)
    except BaseException as exc:  # never return into the accept loop
        if isinstance(exc, TimeoutError):
            reason = f"no whole request and go within {DEADLINE:g} s of connecting; dropped"
        elif isinstance(exc, _Dropped):
            reason = str(exc)
        else:
            reason = f"request failed: {type(exc).__name__}: {exc}"
        try:
            if reason:
                print(f"adt agent: {reason}", file=log, flush=True)
        finally:
            os._exit(0)
    try:
        _run(conn, request, fds, handler)
    finally:  # never return into the accept loop, whatever interrupts the call's end
        os._exit(1)


def _watch(conn):
    """Interrupt the call, as a Ctrl-C would, when its client leaves before it ends (Ctrl-C, a closed ssh session, a
    killed cron job): its cleanup runs and nothing goes on in the agent that nobody waits for. The client sends
    nothing more while it waits for the code, so the connection becomes readable only when it closes: the kernel
    then signals SIGIO (no thread, which would cost a GIL hand-over at every call)."""
    import fcntl
    import signal

    def readable(signum, frame):
        try:
            gone = conn.recv(1, _socket.MSG_PEEK | _socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            gone = False
        except OSError:
            gone = True
        if gone:
            signal.signal(signal.SIGIO, signal.SIG_IGN)
            raise KeyboardInterrupt

    conn.settimeout(None)  # blocking, so MSG_DONTWAIT answers at once (a timeout would make recv wait first)
    signal.signal(signal.SIGIO, readable)
    fcntl.fcntl(conn.fileno(), fcntl.F_SETOWN, os.getpid())
    fcntl.fcntl(conn.fileno(), fcntl.F_SETFL, fcntl.fcntl(conn.fileno(), fcntl.F_GETFL) | os.O_ASYNC)
    readable(signal.SIGIO, None)  # a client that left before this was set up


def _run(conn, request, fds, handler):
    """Run the request with the client's stdio, cwd and environment; send the exit code and exit."""
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            if fd > 2:
                os.close(fd)
        sys.stdin = open(0, "r", closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        _watch(conn)
        code = handler(list(request["argv"]))
    except BaseException as exc:  # report, never let the child return into the accept loop
        try:
            sys.stderr.write(f"adt: agent child failed: {type(exc).__name__}: {exc}\n")
        except Exception:
            pass
    finally:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the client leaves once it has the code
        signal.signal(signal.SIGIO, signal.SIG_IGN)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        try:
            conn.sendall(_CODE.pack(int(code)))
        except Exception:
            pass
        os._exit(int(code) & 0xFF)
