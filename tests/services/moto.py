"""moto's standalone S3 server (`moto_server`, PyPI moto[server]) on loopback: a second S3 implementation
for the datastore tests. Like AWS and the providers' object stores, and unlike SeaweedFS, it refuses a
write to a bucket that does not exist (NoSuchBucket). It checks no credentials, so tests of refused
credentials stay on SeaweedFS. It offers what a `SeaweedS3` offers the tests: `endpoint`, `state["rw"]`,
`client()`, and it is stopped by the PID it was started with.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from pathlib import Path

from tests.services.databases import free_port


class MotoS3:
    name = "moto"

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.process = None
        self.state = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.state['port']}"

    def client(self):
        import boto3
        from botocore.config import Config

        key, secret = self.state["rw"]
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=key, aws_secret_access_key=secret,
                            config=Config(s3={"addressing_style": "path"}))

    def start(self, timeout: float = 60.0, attempts: int = 3) -> "MotoS3":
        """Start on a free port; a server that exits at once (the port taken meanwhile) starts again."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        binary = str(Path(sys.executable).parent / "moto_server")
        for _ in range(attempts):
            port = free_port()
            log = open(self.workdir / "moto.log", "ab")
            self.process = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=log, start_new_session=True)
            log.close()
            self.state = {"pid": self.process.pid, "port": port,
                          "rw": ("moto" + secrets.token_hex(6), secrets.token_hex(16))}
            deadline = time.monotonic() + timeout
            while self.process.poll() is None and time.monotonic() < deadline:
                try:
                    self.client().list_buckets()
                    return self
                except Exception:  # not up yet
                    time.sleep(0.1)
            if self.process.poll() is None:
                self.stop()
                raise RuntimeError(f"moto_server did not answer within {timeout} s (log: {self.workdir / 'moto.log'})")
        tail = (self.workdir / "moto.log").read_text(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"moto_server exited with {self.process.returncode}: {' | '.join(tail)}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.state = None
