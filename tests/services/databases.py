"""Real database servers for tests and benchmarks: MariaDB and PostgreSQL, each in its own directory,
listening on 127.0.0.1 and a free port, stopped by the PID they were started with.

    with MariaDB(Path(d)) as db: db.sql("CREATE DATABASE x")
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), default=Path("/nonexistent"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(check, what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start in {timeout:g} s:\n{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


class MariaDB:
    dialect = "mysql"

    def __init__(self, workdir: Path):
        self.dir = Path(workdir)
        self.port = free_port()
        self.socket = self.dir / "mysqld.sock"
        self.process = None

    def start(self) -> "MariaDB":
        data = self.dir / "data"
        if not (data / "mysql").exists():
            subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                            "--auth-root-authentication-method=socket", "--skip-test-db"],
                           check=True, capture_output=True, timeout=120)
        log = self.dir / "mariadb.log"
        self.process = subprocess.Popen(
            ["mariadbd", "--no-defaults", "--user=root", f"--datadir={data}", f"--socket={self.socket}",
             f"--port={self.port}", "--bind-address=127.0.0.1", f"--pid-file={self.dir / 'mariadbd.pid'}",
             f"--log-error={log}", "--innodb-buffer-pool-size=128M", "--skip-name-resolve"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        _wait(lambda: self.sql("SELECT 1", check=False).returncode == 0, "MariaDB", log)
        return self

    def client(self):
        return ["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot"]

    def sql(self, statements: str, database: str = "", check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self.client(), "-N", "-B", *([database] if database else [])], input=statements,
                              text=True, capture_output=True, check=check, timeout=600)

    def create_application(self, name: str, user: str, password: str, host: str = "127.0.0.1") -> None:
        self.sql(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n"
                 f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{password}';\n"
                 f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'{host}';\nFLUSH PRIVILEGES;\n")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Postgres:
    """PostgreSQL refuses to run as root: its directory lives under /var/tmp, owned by postgres."""

    dialect = "postgres"

    def __init__(self, workdir: Path | None = None):
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="adt-pg-", dir="/var/tmp"))
        self.owned = workdir is None
        self.port = free_port()
        self.started = False

    def _as_postgres(self, *argv, **kwargs):
        return subprocess.run(["runuser", "-u", "postgres", "--", *argv], **kwargs)

    def start(self) -> "Postgres":
        self.dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.dir, "postgres", "postgres")
        data = self.dir / "data"
        if not data.exists():
            self._as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
                              "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
                              check=True, capture_output=True, timeout=120)
        log = self.dir / "server.log"
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o",
                          f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir}"
                          " -c fsync=off", "start", check=True, capture_output=True, timeout=120)
        self.started = True
        return self

    def client(self, database: str = "postgres"):
        return ["runuser", "-u", "postgres", "--", "psql", "-h", str(self.dir), "-p", str(self.port), "-U",
                "postgres", "-v", "ON_ERROR_STOP=1", "-X", "-q", "-At", "-d", database]

    def sql(self, statements: str, database: str = "postgres", check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(self.client(database), input=statements, text=True, capture_output=True,
                              check=check, timeout=600)

    def create_application(self, name: str, user: str, password: str, host: str = "127.0.0.1") -> None:
        self.sql(f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{password}';\n")
        self.sql(f"CREATE DATABASE \"{name}\" OWNER \"{user}\" ENCODING 'UTF8' TEMPLATE template0;\n")

    def pid(self) -> int | None:
        try:
            return int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if self.started:
            pid = self.pid()
            result = self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w",
                                       "stop", capture_output=True, timeout=60)
            if result.returncode != 0 and pid:
                os.kill(pid, signal.SIGKILL)
            self.started = False
        if self.owned:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
