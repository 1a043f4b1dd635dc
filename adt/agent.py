"""The per-machine agent: a long-lived process holding warm S3 clients, served on a root-only socket.

Protocol (one request per connection): the client sends, with its fds 0, 1 and 2 attached
(SCM_RIGHTS), a 4-byte big-endian length and a JSON object {argv, cwd, env}. The agent forks; the child
takes the fds as its own stdio, the cwd and the environment, runs the same Click CLI in-process and
sends back a 4-byte exit code. The parent never makes an S3 request, so children share no connection.
Only a peer with the agent's own uid is served.

This module is imported by every forwarded call: keep its top to the standard library.
"""

import json
import os
import socket
import struct
import sys

DEFAULT_SOCKET = "/run/adt/agent.sock"
_HEADER = struct.Struct("!I")
_CODE = struct.Struct("!i")


def socket_path() -> str:
    return os.environ.get("ADT_AGENT_SOCKET") or DEFAULT_SOCKET


# -- client ----------------------------------------------------------------------------------------

def forward(argv, path=None):
    """Run argv in the agent; its exit code, or None when no agent is there to ask."""
    path = path or socket_path()
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
    except OSError:
        return None
    payload = json.dumps({"argv": list(argv), "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
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
        message = _HEADER.pack(len(payload)) + payload
        sent = socket.send_fds(conn, [message], fds)
        if sent < len(message):
            conn.sendall(message[sent:])
        reply = _recv_exact(conn, _CODE.size)
    except OSError:
        reply = b""
    finally:
        for fd in opened:
            os.close(fd)
        conn.close()
    if len(reply) != _CODE.size:
        sys.stderr.write(f"adt: the agent at {path} ended the request without a result; "
                         f"see its log, or run with ADT_AGENT=off\n")
        return 1
    return _CODE.unpack(reply)[0]


def _recv_exact(conn, size):
    data = b""
    while len(data) < size:
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
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        finally:
            probe.close()
        return pid
    except (OSError, ValueError):
        return None


# -- server ----------------------------------------------------------------------------------------

def warm():
    """Import what a request needs and build the clients this machine's settings name."""
    import adt.cli  # noqa: F401
    import adt.cli.config  # noqa: F401
    import adt.datastore.config  # noqa: F401
    from adt.datastore import client as s3
    from adt.datastore.endpoints import Endpoint, endpoints_from_settings

    dummy = s3.s3_client(Endpoint(0, "http://127.0.0.1:9", "warm", "warm"))  # loads the S3 model once
    try:  # runs the request pipeline once (serialise, sign, retry); the discard port refuses at once
        dummy.list_objects_v2(Bucket="adt-agent-warm", Prefix="warm", Delimiter="/")
    except Exception:
        pass
    try:
        from adt.cli import Runtime

        for endpoint in endpoints_from_settings(Runtime(None, None, None).settings):
            s3.s3_client(endpoint)
        return True
    except Exception:  # no settings yet: requests build their clients from the warm session
        return False


def serve(path=None, log=None):
    """Serve requests until SIGTERM. Refuses to start if another agent answers at path."""
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
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old_umask)
    listener.listen(128)
    _write_pid(path)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"adt agent {os.getpid()} serving {path} (settings {'loaded' if warmed else 'not found yet'})",
          file=log, flush=True)
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except InterruptedError:
                continue
            try:
                _dispatch(listener, conn, log)
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
    tmp = f"{path}.pid.{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as handle:
        handle.write(f"{os.getpid()}\n")
    os.replace(tmp, path + ".pid")


def _dispatch(listener, conn, log):
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    if uid != os.geteuid():
        print(f"adt agent: refused a request from uid {uid}", file=log, flush=True)
        return
    conn.settimeout(10)
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
    try:
        if not data and not fds:  # a liveness probe (running_pid) connects and closes
            return
        if len(fds) != 3 or len(data) < _HEADER.size:
            raise ValueError("malformed request")
        (length,) = _HEADER.unpack(data[:_HEADER.size])
        body = data[_HEADER.size:]
        while len(body) < length:
            chunk = conn.recv(min(1 << 16, length - len(body)))
            if not chunk:
                raise ValueError("truncated request")
            body += chunk
        request = json.loads(body)
        conn.settimeout(None)
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            _child(listener, conn, fds, request)
    finally:
        for fd in fds:
            os.close(fd)


def _child(listener, conn, fds, request):
    """Run one request as the client would have run it, then exit. Never returns."""
    import signal

    import gc

    code = 1
    try:
        gc.disable()  # a short-lived child: collection would only copy pages
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        listener.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        sys.stdin = open(0, "r", closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        from adt.cli import main

        code = main(list(request["argv"]))
    except BaseException as exc:  # report, never let the child return into the accept loop
        try:
            sys.stderr.write(f"adt: agent child failed: {type(exc).__name__}: {exc}\n")
        except Exception:
            pass
    finally:
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
