"""Debian's pebble (a real ACME server, RFC 8555) for tests, and a small renewal-information endpoint beside it.

Pebble listens on a given address with its own HTTPS certificate, made here by a throwaway CA whose bundle the test
gives adt (`SSL_ACME_CA_BUNDLE`): trusted in the test only. Pebble resolves DNS-01 challenges through the DNS
server it is given (the test's or the build's PowerDNS), so issuance goes through adt's own DNS driver. Its
nonce rejection and validation sleeps are off (they are there to shake clients; adt's retries are tested elsewhere).

`always_valid` skips the validation itself (pebble's PEBBLE_VA_ALWAYS_VALID): for a provider's fake DNS, an HTTP API
with no DNS server behind it, where the challenge's records are still put and taken away through the driver.
pebble-challtestsrv is not needed: the tests' PowerDNS answers the challenges for real.

Pebble 2.4 has no ACME Renewal Information (RFC 9773): `RenewalInfo` serves a directory that is pebble's plus a
`renewalInfo` URL, and answers that URL with the window the test sets. Everything else the client sends goes to
pebble itself (the URLs in pebble's directory).
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Dict, Optional

from adt.datastore.seaweed import free_ports
from tests.services.testca import TestCA


def server_certificate(directory: Path, ips) -> Path:
    """A throwaway CA and a certificate for pebble's own HTTPS on `ips`, written to directory (ca.pem, cert.pem,
    key.pem); the CA bundle's path is returned."""
    ca = TestCA("adt test ACME CA")
    leaf = ca.issue([*ips, "localhost"])
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_bytes(ca.pem)
    (directory / "cert.pem").write_bytes(leaf.fullchain)
    (directory / "key.pem").write_bytes(leaf.privkey)
    return directory / "ca.pem"


class Pebble:
    """One pebble process: `start()`, `directory_url`, `ca_bundle` (trust for its HTTPS), `roots()` (the issuing
    root, for `openssl verify`), `stop()` (by its pid), `down()`/`up()` (SIGSTOP/SIGCONT: a CA that does not answer)."""

    def __init__(
        self,
        home: Path,
        dns_server: str,
        ip: str = "127.0.0.1",
        validity: int = 0,
        eab: Optional[Dict[str, str]] = None,
        always_valid: bool = False,
    ):
        self.home, self.dns_server, self.ip = Path(home), dns_server, ip
        self.validity, self.eab, self.always_valid = validity, eab, always_valid
        self.port, self.management_port = free_ports(2)
        self.process: Optional[subprocess.Popen] = None
        self.ca_bundle = server_certificate(self.home, sorted({ip, "127.0.0.1"}))

    @property
    def directory_url(self) -> str:
        return f"https://{self.ip}:{self.port}/dir"

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_bundle))

    def start(self) -> "Pebble":
        http_port, tls_port = free_ports(2)
        config = {
            "pebble": {
                "listenAddress": f"{self.ip}:{self.port}",
                "managementListenAddress": f"{self.ip}:{self.management_port}",
                "certificate": str(self.home / "cert.pem"),
                "privateKey": str(self.home / "key.pem"),
                "httpPort": http_port,
                "tlsPort": tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": bool(self.eab),
                "externalAccountMACKeys": self.eab or {},
                "domainBlocklist": [],
                "certificateValidityPeriod": self.validity,
            }
        }
        (self.home / "pebble.json").write_text(json.dumps(config))
        env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0",
               "PEBBLE_VA_ALWAYS_VALID": "1" if self.always_valid else "0"}
        log = open(self.home / "pebble.log", "ab")
        self.process = subprocess.Popen(
            ["pebble", "-config", str(self.home / "pebble.json"), "-dnsserver", self.dns_server],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(self.directory_url, context=self.context(), timeout=2) as answer:
                    json.loads(answer.read())
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pebble did not start: {self.log()}") from None
                time.sleep(0.1)

    def log(self) -> str:
        path = self.home / "pebble.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def roots(self) -> bytes:
        """The root that signs pebble's certificates (it changes with every start)."""
        url = f"https://{self.ip}:{self.management_port}/roots/0"
        with urllib.request.urlopen(url, context=self.context(), timeout=5) as answer:
            return answer.read()

    def down(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def up(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


class RenewalInfo:
    """An HTTPS endpoint (same test CA as pebble's) whose `/dir` is pebble's directory with `renewalInfo` added, and
    whose `/renewal-info/<certificate id>` answers the window in `self.window` (start, end), or 404 when None.
    `self.asked` lists the certificate ids asked for."""

    def __init__(self, pebble: Pebble):
        self.pebble = pebble
        self.window: Optional[tuple] = None
        self.asked: list = []
        self.server = None
        self.port = 0

    @property
    def directory_url(self) -> str:
        return f"https://{self.pebble.ip}:{self.port}/dir"

    def start(self) -> "RenewalInfo":
        from werkzeug.serving import make_server
        from werkzeug.wrappers import Request, Response

        def app(environ, start_response):
            request = Request(environ)
            if request.path == "/dir":
                with urllib.request.urlopen(self.pebble.directory_url, context=self.pebble.context()) as answer:
                    directory = json.loads(answer.read())
                directory["renewalInfo"] = f"https://{self.pebble.ip}:{self.port}/renewal-info"
                response = Response(json.dumps(directory), content_type="application/json")
            elif request.path.startswith("/renewal-info/"):
                self.asked.append(request.path.rsplit("/", 1)[1])
                if self.window is None:
                    response = Response("{}", status=404, content_type="application/problem+json")
                else:
                    start, end = (moment.strftime("%Y-%m-%dT%H:%M:%SZ") for moment in self.window)
                    body = {"suggestedWindow": {"start": start, "end": end}}
                    response = Response(json.dumps(body), content_type="application/json",
                                        headers={"Retry-After": "21600"})  # fmt: skip
            else:
                response = Response("not here", status=404)
            return response(environ, start_response)

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pebble.home / "cert.pem", self.pebble.home / "key.pem")
        (self.port,) = free_ports(1)
        self.server = make_server(self.pebble.ip, self.port, app, threaded=True, ssl_context=context)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None
