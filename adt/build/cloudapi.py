"""The local cloud host's HTTP API: what a provider's API is to its cloud drivers, for the machines of one VPC.

Autoscalers make and remove webservers through it the way they do on a cloud (adt.cloud.api.ApiDriver is its
client). It runs on the build machine, on the VPC's first address (the build side of the bridge), as a detached
`adt cloud-api serve` process: one per VPC, beside the VPC's object storage and DNS, started by the production
build, found running again by later processes (state.json), stopped by its PID with the last fleet on the VPC.
It lives in the build layer because refreshing a build's native firewall is the build's apply_native.

Everything that arrives is untrusted and checked before anything is done: the body's size, the bearer token
(compared in constant time), the client's address (the build machine or one of the VPC's autoscalers), then
every field. A client sends only a webserver's settings text: the server writes the new machine's user data
itself, with the one first-boot command a build gives a webserver, so no command ever crosses the API. The
token sits only in a 0600 file and in the Authorization header; the log has one line per request (method,
path, client, status), never a header or a body.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import re
import secrets
import sys
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple
from urllib.parse import parse_qs, unquote, urlsplit

from adt import run
from adt.cloud.base import UserData, first_boot, role_of
from adt.errors import AdtError
from adt.fs import write_atomically

DEFAULT_PORT = 8082  # PowerDNS's API is 8081 on the same address
MAX_BODY = 64 * 1024
DRAIN = 1024 * 1024  # at most this much of a refused body is read (and dropped) before the connection closes
MAX_SETTINGS = 48 * 1024
MAX_SETTINGS_LINES = 500
NAME = re.compile(r"^ws-[A-Za-z0-9][A-Za-z0-9-]{0,56}$")  # a hostname and a namespace name (adt-<name>) fit
PATTERN = re.compile(r"^[A-Za-z0-9-]{0,64}$")
SETTING_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
SERVER_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,31}$")  # it becomes /home/<SERVERUSER>
SIZE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
IMAGE_ID = re.compile(r"^img-[0-9a-f]{12}$")  # the local driver's image ids
IDENTIFIER = re.compile(r"^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$")  # BUILD_IDENTIFIER (adt.settings.validate)
PUBLIC_KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com"
    r"|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]{16,8192}={0,3}( [\x21-\x7e][\x20-\x7e]{0,199})?$"
)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FIELDS = {"name", "size", "settings", "ssh_port", "authorized_key", "image"}
REQUIRED = FIELDS - {"image"}


class Refused(AdtError):
    """A request the API refuses: its HTTP status and what is wrong with it."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class NewServer:
    """A checked request for a webserver."""

    name: str
    size: str
    settings: str
    server_user: str
    ssh_port: int
    authorized_key: str
    image: Optional[str] = None


def cloud_api_home(driver) -> Path:
    """Where the local cloud host keeps its API server for one VPC (token, state, log): beside its machines'
    state, like its object storage and DNS."""
    return Path(driver.state) / "cloudapi" / driver.switch


# -- pure: the checks -----------------------------------------------------------------------------
def check_name(name: Any) -> str:
    """A webserver's name (`ws-<REGION>-<BUILD>-<n>-...`); other roles' names are refused (403)."""
    if not isinstance(name, str) or not name:
        raise Refused(400, "name must be a non-empty string")
    role = role_of(name)
    if role not in ("webserver", "unknown"):
        article = "an" if role[0] in "aeiou" else "a"
        raise Refused(403, f"{name!r} names {article} {role} machine: this API makes and removes webservers only")
    if not NAME.fullmatch(name):
        raise Refused(400, f"name {name[:80]!r} is not a webserver name (ws- then up to 57 letters, digits and '-')")
    return name


def check_pattern(pattern: str) -> str:
    """A listing's name filter: a substring of letters, digits and '-'."""
    if not PATTERN.fullmatch(pattern):
        raise Refused(400, f"name filter {pattern[:80]!r} may hold only letters, digits and '-' (64 at most)")
    return pattern


def check_settings(text: Any) -> str:
    """A webserver's settings file text: `KEY:value` lines, bounded; its SERVERUSER (it names the home)."""
    if not isinstance(text, str):
        raise Refused(400, "settings must be a string of KEY:value lines")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SETTINGS:
        raise Refused(400, f"settings are larger than {MAX_SETTINGS} bytes")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > MAX_SETTINGS_LINES:
        raise Refused(400, f"settings have {len(lines)} lines, more than {MAX_SETTINGS_LINES}")
    server_user = None
    for number, line in enumerate(lines, 1):
        key, colon, value = line.partition(":")
        if not colon or not SETTING_KEY.fullmatch(key):
            raise Refused(400, f"settings line {number} is not KEY:value (an upper-case KEY, a colon, the value)")
        if CONTROL.search(value):
            raise Refused(400, f"settings line {number} ({key}) holds a control character")
        if key == "SERVERUSER" and server_user is None:
            server_user = value
    if server_user is None:
        raise Refused(400, "settings have no SERVERUSER line (it names the machine's home)")
    if not SERVER_USER.fullmatch(server_user):
        raise Refused(
            400, f"SERVERUSER {server_user[:40]!r} is not a user name (letters, digits, '_' and '-', 32 at most)"
        )
    return server_user


def check_new_server(body: Any) -> NewServer:
    """The body of POST /v1/servers, every field checked; anything else in it is refused."""
    if not isinstance(body, dict):
        raise Refused(400, "the body must be a JSON object")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise Refused(400, f"unknown field {unknown[0]!r} (the fields are {', '.join(sorted(FIELDS))})")
    missing = sorted(REQUIRED - set(body))
    if missing:
        raise Refused(400, f"missing field {missing[0]!r}")
    name = check_name(body["name"])
    size = body["size"]
    if not isinstance(size, str) or not SIZE.fullmatch(size):
        raise Refused(400, "size must be 1 to 64 letters, digits, '.', '_' or '-'")
    port = body["ssh_port"]
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise Refused(400, f"ssh_port {str(port)[:20]!r} is not a port number (1 to 65535)")
    key = body["authorized_key"]
    if not isinstance(key, str) or not PUBLIC_KEY.fullmatch(key.strip()):
        raise Refused(400, "authorized_key is not one OpenSSH public key line (type, base64 key, comment)")
    image = body.get("image")
    if image is not None and (not isinstance(image, str) or not IMAGE_ID.fullmatch(image)):
        raise Refused(400, f"image {str(image)[:40]!r} is not an image id (img- and 12 hex digits)")
    server_user = check_settings(body["settings"])
    return NewServer(name, size, body["settings"], server_user, port, key.strip(), image)


def check_identifier(identifier: str) -> str:
    """A BUILD_IDENTIFIER: lower-case letters, digits and '-', 12 at most."""
    if not IDENTIFIER.fullmatch(identifier):
        raise Refused(400, f"build identifier {identifier[:40]!r} is not one (lower-case letters, digits, '-')")
    return identifier


def authorized(header: Optional[str], token: str) -> bool:
    """Whether an Authorization header carries the token as a bearer token (compared in constant time)."""
    if not header or not token or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), token.encode())


def check_client(address: str, gateway: str, autoscalers: Iterable[str]) -> None:
    """Only the build machine (the gateway) and the VPC's autoscalers act on the cloud."""
    if address != gateway and address not in set(autoscalers):
        raise Refused(403, f"{address} is neither the build machine nor an autoscaler of this VPC")


def route(method: str, path: str) -> Tuple[str, str]:
    """(action, argument) of a request's method and path (without its query)."""
    parts = path.split("/")
    if len(parts) == 3 and parts[:2] == ["", "v1"] and parts[2] in ("servers", "snapshots"):
        wanted = {("servers", "GET"): "list", ("servers", "POST"): "create", ("snapshots", "GET"): "snapshots"}
        if (parts[2], method) in wanted:
            return wanted[(parts[2], method)], ""
        raise Refused(405, f"{method} is not allowed on {path}")
    if len(parts) == 4 and parts[:2] == ["", "v1"] and parts[2] in ("servers", "firewalls") and parts[3]:
        action = {"servers": ("DELETE", "destroy"), "firewalls": ("POST", "firewall")}[parts[2]]
        if method != action[0]:
            raise Refused(405, f"{method} is not allowed on {parts[2]}/<name>")
        return action[1], unquote(parts[3])
    raise Refused(404, f"no such endpoint: {path[:80]}")


def user_data(request: NewServer, adt: str) -> UserData:
    """What the new webserver is given: the files and the first-boot command a build gives a webserver."""
    return first_boot("webserver", request.server_user, request.settings, adt)


def loggable(text: str, limit: int = 200) -> str:
    """Text from a request, safe for one log line."""
    return CONTROL.sub("?", text)[:limit]


# -- the service ------------------------------------------------------------------------------------
class CloudApi:
    """The API's answers, given a local driver for the VPC and the token."""

    def __init__(self, driver, token: str, build_home: Optional[Path] = None, adt: Optional[str] = None):
        self.driver = driver
        self.token = token
        self.build_home = build_home
        self.adt = adt or str(Path(sys.executable).parent / "adt")
        self._firewall = threading.Lock()

    def answer(
        self, method: str, target: str, client: str, authorization: Optional[str], length: int, read: Callable
    ) -> Tuple[int, Any]:
        """(status, JSON payload) of one request; `read(n)` reads the body, only once everything else passed."""
        try:
            if length > MAX_BODY:
                raise Refused(413, f"the body is larger than {MAX_BODY} bytes")
            if not authorized(authorization, self.token):
                raise Refused(401, "no valid token (Authorization: Bearer <token>)")
            check_client(client, self.driver.gateway, self._autoscalers())
            url = urlsplit(target)
            action, argument = route(method, url.path)
            query = parse_qs(url.query)
            pattern = check_pattern(query.get("name", [""])[0])
            body = None
            if action == "create":
                try:
                    body = json.loads(read(length).decode("utf-8")) if length else None
                except ValueError:
                    raise Refused(400, "the body is not JSON") from None
            return self.act(action, argument, pattern, body)
        except Refused as refused:
            return refused.status, {"error": refused.message}
        except AdtError as error:
            return 500, {"error": error.message}

    def _autoscalers(self) -> List[str]:
        return [s.private_ip for s in self.driver.list_servers() if s.role == "autoscaler" and s.status == "running"]

    def act(self, action: str, argument: str, pattern: str, body: Any) -> Tuple[int, Any]:
        if action == "list":
            return 200, [asdict(server) for server in self.driver.list_servers(pattern)]
        if action == "snapshots":
            return 200, [asdict(image) for image in self.driver.list_snapshots(pattern)]
        if action == "create":
            request = check_new_server(body)
            if any(s.name == request.name for s in self.driver.list_servers(request.name)):
                raise Refused(409, f"a machine named {request.name} exists already")
            if request.image and request.image not in {i.id for i in self.driver.list_snapshots()}:
                raise Refused(404, f"no image {request.image}")
            server = self.driver.create_server(
                request.name,
                request.size,
                user_data(request, self.adt),
                request.ssh_port,
                request.authorized_key,
                **({"image": request.image} if request.image else {}),
            )
            return 201, asdict(server)
        if action == "destroy":
            name = check_name(argument)
            if not any(s.name == name for s in self.driver.list_servers(name)):
                raise Refused(404, f"no machine named {name}")
            self.driver.destroy_server(name)
            return 204, None
        return 200, self.refresh_firewall(check_identifier(argument))

    def refresh_firewall(self, identifier: str) -> List[str]:
        """Apply the native firewall of build local/<identifier> again (its members changed)."""
        from adt.build.config import BuildConfig
        from adt.build.firewall import apply_native
        from adt.settings.runtime import RuntimeData

        if self.build_home is None or not RuntimeData(self.build_home).environment_file("local", identifier).is_file():
            raise Refused(404, f"no build local/{identifier} on this cloud host")
        config = BuildConfig.load("local", identifier, home=str(self.build_home), env={})
        if ipaddress.ip_network(config.vpc, strict=False) != self.driver.network:
            raise Refused(404, f"build local/{identifier} is not on this VPC ({self.driver.network})")
        with self._firewall:
            return apply_native(config, driver=self.driver)


def handler_for(api: CloudApi, log: Callable[[str], None]) -> type:
    """The request handler class of an HTTP server answering with `api`."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "adt-cloud-api"
        sys_version = ""
        timeout = 30  # a client that stalls mid-request loses its connection, not a thread for ever

        def _serve(self) -> None:
            raw = self.headers.get("Content-Length", "0") or "0"
            length, consumed = (int(raw) if raw.isdigit() else 0), [0]

            def read(size: int) -> bytes:
                data = self.rfile.read(size)
                consumed[0] += len(data)
                return data

            if self.headers.get("Transfer-Encoding") or not raw.isdigit():
                status, payload = 400, {"error": "give the body with a Content-Length (no chunked encoding)"}
            else:
                try:
                    status, payload = api.answer(
                        self.command, self.path, self.client_address[0], self.headers.get("Authorization"), length, read
                    )
                except Exception as error:  # a defect: one line in the log, a 500 to the client, the server goes on
                    log(f"{self.client_address[0]}: internal error: {type(error).__name__}: {loggable(str(error))}")
                    status, payload = 500, {"error": f"internal error ({type(error).__name__}): see the API's log"}
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if data:
                self.wfile.write(data)
            self.wfile.flush()
            # an unread body (refused before it was read) is read and dropped, up to a bound: a connection
            # closed on unread data is reset, and the client would lose the answer
            left = min(length - consumed[0], DRAIN)
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            method, path = self.command or "-", urlsplit(self.path or "").path
            log(f"{method} {loggable(path)} from {self.client_address[0]}: {code}")

        def log_message(self, format: str, *args: Any) -> None:
            log(f"{self.client_address[0]}: {loggable(format % args)}")

    return Handler


def serve(directory: Path) -> None:
    """Run the API of the server kept in `directory` (its config.json and token) until stopped."""
    from adt.cloud.local import LocalDriver

    server = CloudApiServer(directory)
    config = json.loads(server.config_file.read_text())
    driver = LocalDriver(config["vpc"], state_dir=config["state_dir"])
    api = CloudApi(driver, server.token(), Path(config["build_home"]) if config.get("build_home") else None)

    def log(line: str) -> None:
        sys.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
        sys.stderr.flush()

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:  # one line, never a traceback
            error = sys.exc_info()[1]
            log(f"{client_address[0]}: the connection failed: {type(error).__name__}: {loggable(str(error))}")

    http = Server((config["ip"], int(config["port"])), handler_for(api, log))
    log(f"the cloud API of {config['vpc']} answers on http://{config['ip']}:{config['port']}")
    http.serve_forever()


# -- the supervised server --------------------------------------------------------------------------
class CloudApiServer:
    """An `adt cloud-api serve` process whose files are in `directory`: token, config.json and state.json
    (0600), cloudapi.log. The token outlives a stop, so autoscalers keep theirs across restarts."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.token_file = self.directory / "token"
        self.config_file = self.directory / "config.json"
        self.state_file = self.directory / "state.json"
        self.log_file = self.directory / "cloudapi.log"

    @property
    def state(self) -> Optional[Dict[str, Any]]:
        """The running server's facts (pid, ip, port, url, vpc, state_dir, build_home), None when it does not run."""
        return run.recorded(self.state_file, self._recognised)

    @property
    def url(self) -> str:
        state = self.state
        if state is None:
            raise AdtError(
                f"the cloud API in {self.directory} is not running", "run the production build (it starts it)"
            )
        return state["url"]

    def token(self) -> str:
        """The API's token, made once (and kept across restarts)."""
        try:
            return self.token_file.read_text().strip()
        except FileNotFoundError:
            pass
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = self.directory / f".token.{os.getpid()}.{threading.get_ident()}"
        write_atomically(partial, secrets.token_urlsafe(32) + "\n", 0o600)
        try:
            os.link(partial, self.token_file)  # the first one made wins; a racing maker reads it
        except FileExistsError:
            pass
        finally:
            partial.unlink(missing_ok=True)
        return self.token_file.read_text().strip()

    def command(self) -> List[str]:
        return [str(Path(sys.executable).parent / "adt"), "cloud-api", "serve", "--directory", str(self.directory)]

    def _recognised(self, argv: List[bytes]) -> bool:
        return b"cloud-api" in argv and b"serve" in argv and os.fsencode(str(self.directory)) in argv

    def _ours(self, pid: int) -> bool:
        """Whether pid is a live server of this directory (not a reused pid)."""
        argv = run.command_line(pid)
        return bool(argv) and self._recognised(argv)

    def start(
        self,
        ip: str,
        port: int,
        vpc: str,
        build_home: Path,
        state_dir: Optional[str] = None,
        timeout: float = 15.0,
    ) -> "CloudApiServer":
        """Start the API on the VPC's gateway address ip:port for the local machines of `vpc` (kept in
        state_dir, default the local driver's) and the builds under build_home, and wait until it answers.
        Already running with the same settings: nothing to do."""
        from adt.cloud.api import ApiDriver
        from adt.cloud.local import LocalDriver

        driver = LocalDriver(vpc, state_dir=state_dir)
        if ip != driver.gateway:
            raise AdtError(f"the cloud API of {vpc} listens on its gateway {driver.gateway}, not on {ip}")
        if isinstance(port, bool) or not 1 <= int(port) <= 65535:
            raise AdtError(f"{port} is not a port number")
        config = {
            "ip": ip,
            "port": int(port),
            "vpc": str(driver.network),
            "state_dir": str(driver.state.resolve()),
            "build_home": str(Path(build_home).resolve()),
        }
        running = self.state
        if running:
            if all(running.get(k) == v for k, v in config.items()):
                return self
            raise AdtError(
                f"the cloud API in {self.directory} already runs on {running['url']} with other settings",
                "stop it first",
            )
        if run.dry_run():
            run.spawn(self.command(), log_path=os.devnull, what="the cloud API")
            return self
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        token = self.token()
        write_atomically(self.config_file, json.dumps(config), 0o600)
        process = run.spawn(self.command(), log_path=str(self.log_file), process=True, what="the cloud API")
        url = f"http://{ip}:{int(port)}"
        write_atomically(self.state_file, json.dumps({"pid": process.pid, "url": url, **config}), 0o600)
        client = ApiDriver(url, token, timeout=2.0, retries=0)
        run.until_answering(
            process, client.list_servers, "the cloud API", self._log_tail, self.log_file, timeout, self.stop
        )
        return self

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log_file.read_text(errors="replace").strip().splitlines()[-3:])
        except FileNotFoundError:
            return "no log"

    def stop(self) -> None:
        """Stop the server (its own pid only, checked against its command line); the token stays."""
        try:
            pid = int(json.loads(self.state_file.read_text()).get("pid", 0))
        except (FileNotFoundError, ValueError):
            return
        if run.dry_run():
            run.announce(f"the cloud API of {self.directory} (pid {pid})", "stop")
            return
        if self._ours(pid):
            run.terminate(pid)
        self.state_file.unlink(missing_ok=True)
