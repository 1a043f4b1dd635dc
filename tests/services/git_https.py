"""A token-protected HTTPS git remote on 127.0.0.1, as a provider's is: nginx (TLS with a self-signed
certificate, basic auth) in front of `git http-backend` through fcgiwrap. Stopped by the PIDs it was
started with; fcgiwrap's socket is removed.

    with GitHttps() as remote:
        remote.create("shop-webroot-sourcecode-baseline")
        url = remote.base  # https://127.0.0.1:<port>/git ; remote.user, remote.token, remote.cafile

nginx's workers and fcgiwrap run as www-data, so the directory lives under /var/tmp (pytest's are root's
own, 0700); the token itself is never written anywhere, only its hash in htpasswd.
"""

from __future__ import annotations

import secrets
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from adt.fs import write_atomically
from tests.services.databases import free_port

FCGIWRAP = "/usr/sbin/fcgiwrap"
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"


class GitHttps:
    def __init__(self, user: str = "adt"):
        self.dir = Path(tempfile.mkdtemp(prefix="adt-git-https-", dir="/var/tmp"))
        self.dir.chmod(0o755)
        self.port = free_port()
        self.user = user
        self.token = "adttok_" + secrets.token_hex(20)
        self.nginx = self.fcgiwrap = None

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}/git"

    @property
    def cafile(self) -> str:
        return str(self.dir / "tls" / "server.crt")

    @property
    def repos(self) -> Path:
        return self.dir / "repos"

    def start(self) -> "GitHttps":
        d = self.dir
        for sub in ("tls", "logs", "tmp", "repos"):
            (d / sub).mkdir()
        (d / "tls").chmod(0o700)
        run = d / "run"  # fcgiwrap (www-data) creates its socket here
        run.mkdir()
        shutil.chown(run, "www-data", "www-data")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "tls/server.key"),
                        "-out", self.cafile, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
        digest = subprocess.run(["openssl", "passwd", "-apr1", "-stdin"], input=self.token, text=True,
                                check=True, capture_output=True).stdout.strip()  # the token on stdin only
        write_atomically(d / "htpasswd", f"{self.user}:{digest}\n", 0o640)
        shutil.chown(d / "htpasswd", group="www-data")  # nginx's workers read it
        (d / "nginx.conf").write_text(f"""daemon off;
user www-data;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/logs/error.log;
events {{ worker_connections 64; }}
http {{
  access_log {d}/logs/access.log;
  client_body_temp_path {d}/tmp/body; proxy_temp_path {d}/tmp/proxy; fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi; scgi_temp_path {d}/tmp/scgi;
  server {{
    listen 127.0.0.1:{self.port} ssl;
    ssl_certificate {self.cafile};
    ssl_certificate_key {d}/tls/server.key;
    client_max_body_size 0;
    location ~ ^/git(/.*)$ {{
      auth_basic "git";
      auth_basic_user_file {d}/htpasswd;
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME {HTTP_BACKEND};
      fastcgi_param GIT_PROJECT_ROOT {self.repos};
      fastcgi_param GIT_HTTP_EXPORT_ALL "";
      fastcgi_param PATH_INFO $1;
      fastcgi_param REMOTE_USER $remote_user;
      fastcgi_pass unix:{run}/fcgiwrap.sock;
    }}
  }}
}}
""")
        # setpriv execs fcgiwrap, so the pid is fcgiwrap's; one process (no -c), its environment its own
        self.fcgiwrap = subprocess.Popen(
            ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"HOME={run}", "setpriv", "--reuid=www-data",
             "--regid=www-data", "--init-groups", FCGIWRAP, "-s", f"unix:{run}/fcgiwrap.sock"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(d / "logs" / "fcgiwrap.log", "wb"))
        self.nginx = subprocess.Popen(["nginx", "-c", str(d / "nginx.conf"), "-p", f"{d}/"],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=open(d / "logs" / "nginx.out", "wb"))
        context = ssl.create_default_context(cafile=self.cafile)
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{self.base}/", timeout=2, context=context)
            except urllib.error.HTTPError as answer:
                if answer.code == 401 and (run / "fcgiwrap.sock").exists():
                    return self
            except OSError:
                pass
            if self.nginx.poll() is not None or self.fcgiwrap.poll() is not None or time.monotonic() > deadline:
                logs = " | ".join(p.read_text(errors="replace")[-500:] for p in (d / "logs").glob("*") if p.is_file())
                self.stop()
                raise RuntimeError(f"the HTTPS git remote did not start: {logs}")
            time.sleep(0.05)

    def create(self, name: str) -> Path:
        """An empty bare repository `<name>.git` on branch main that accepts pushes."""
        path = self.repos / f"{name}.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
        subprocess.run(["git", "--git-dir", str(path), "config", "http.receivepack", "true"], check=True)
        shutil.chown(path, "www-data", "www-data")
        for item in path.rglob("*"):
            shutil.chown(item, "www-data", "www-data")
        return path

    def git(self, *args) -> subprocess.CompletedProcess:
        """git as root on a repository here (owned by www-data: trusted explicitly)."""
        return subprocess.run(["git", "-c", "safe.directory=*", *args], capture_output=True, text=True)

    def access_log(self) -> str:
        path = self.dir / "logs" / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for process in (self.nginx, self.fcgiwrap):
            if process and process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        (self.dir / "run" / "fcgiwrap.sock").unlink(missing_ok=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
