"""A real OpenSSH server on 127.0.0.1 for tests: its own host key, one client key allowed to log in as root,
stopped by the PID it was started with."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from tests.services.databases import free_port


class Sshd:
    def __init__(self, workdir: Path):
        self.dir = Path(workdir)
        self.port = free_port()
        self.key = self.dir / "client_key"
        self.process = None

    def start(self) -> "Sshd":
        self.dir.mkdir(parents=True, exist_ok=True)
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.dir / name)], check=True)
        shutil.copy(self.dir / "client_key.pub", self.dir / "authorized_keys")
        config = self.dir / "sshd_config"
        config.write_text(f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.dir / 'host_key'}\n"
                          f"AuthorizedKeysFile {self.dir / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
                          "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                          f"PidFile {self.dir / 'sshd.pid'}\nStrictModes no\n")
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
        self.process = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=open(self.dir / "sshd.log", "wb"))
        deadline = time.monotonic() + 20
        while subprocess.run([*self.ssh_command(), "root@127.0.0.1", "true"], capture_output=True).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not start: {(self.dir / 'sshd.log').read_text()[-2000:]}")
            time.sleep(0.1)
        return self

    def ssh_command(self, port: bool = True):
        return ["ssh", "-i", str(self.key), *(["-p", str(self.port)] if port else []), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes"]

    def git_env(self) -> dict:
        """git puts the port of an ssh:// URL on the command line itself."""
        return {"GIT_SSH_COMMAND": " ".join(self.ssh_command(port=False))}

    def url(self, path: Path) -> str:
        return f"ssh://root@127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
