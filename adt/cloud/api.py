"""The `local` cloud host as a machine sees it: its HTTP API on the build machine (adt.build.cloudapi), called
the way a cloud driver calls its provider.

An autoscaler makes and removes webservers with this driver, as it would on a cloud. Calls carry the token in
the Authorization header only (never in a URL, an argv or a log); listing, destroying and refreshing a firewall
are idempotent, so they are tried again with back-off when the API cannot be reached or answers 429 or 5xx; a
create is tried again only when the connection was refused (nothing was sent). Only what the API accepts is sent:
from the user data, the role's settings file text, never the command (the API gives a webserver its own).
"""

from __future__ import annotations

import http.client
import json
import time
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import quote, urlsplit

from adt import run
from adt.cloud.base import CloudDriver, Image, Server, UserData
from adt.errors import AdtError

SETTINGS_SUFFIX = "_configuration_settings.dat"
RETRY_STATUSES = (429, 500, 502, 503, 504)
HINTS = {
    400: "the request was refused as malformed: see the error",
    401: "the token is not the cloud API's (the build gives autoscalers theirs)",
    403: "this machine may not do that (only the build machine and the VPC's autoscalers, only webservers)",
    404: "no such machine, image or build",
    409: "destroy the other machine first, or pick another name",
    413: "the request is too large (settings files are 48 KiB at most)",
}


def settings_text(user_data: UserData) -> str:
    """The text of the role's settings file in user_data (the one file the API takes)."""
    found = [text for path, (text, _) in user_data.files.items() if path.endswith(SETTINGS_SUFFIX)]
    if len(found) != 1:
        raise AdtError(
            f"the user data holds {len(found)} settings files (*{SETTINGS_SUFFIX}), not one",
            "the cloud API makes a webserver from its settings file",
        )
    return found[0]


def _message(text: str) -> str:
    try:
        decoded = json.loads(text)
    except ValueError:
        return text.strip()[:200]
    return str(decoded.get("error", "")) if isinstance(decoded, dict) else ""


class ApiDriver(CloudDriver):
    """The local cloud host's driver over its HTTP API at url (http://<gateway>:<port>)."""

    name = "local"

    def __init__(self, url: str, token: str, timeout: float = 60.0, retries: int = 4, backoff: float = 0.5):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.query:
            raise AdtError(f"{url!r} is not the cloud API's URL", "such as http://10.171.0.1:8082")
        if not token:
            raise AdtError(f"no token for the cloud API at {url}", "the build gives autoscalers the API's token")
        self.url = url.rstrip("/")
        self._parts = parts
        self._token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    def _once(self, method: str, path: str, data: Optional[bytes]) -> Tuple[int, str, Dict[str, str]]:
        kind = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
        connection = kind(self._parts.hostname or "", self._parts.port, timeout=self.timeout)
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, self._parts.path.rstrip("/") + path, body=data, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.read().decode("utf-8", "replace"), dict(answer.getheaders())
        finally:
            connection.close()

    def call(self, method: str, path: str, body: Any = None, idempotent: bool = True) -> Any:
        """One call: the decoded JSON answer (None when empty), or an AdtError naming the status and the error."""
        if method != "GET" and run.dry_run():
            run.announce(f"{method} {self.url}{path}", kind="call")
            return None
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                status, text, headers = self._once(method, path, data)
            except ConnectionRefusedError as error:
                if last:
                    raise self._unreachable(error) from None
            except (OSError, http.client.HTTPException) as error:
                if not idempotent or last:
                    raise self._unreachable(error) from None
            else:
                if status < 400:
                    return json.loads(text) if text.strip() else None
                if not idempotent or last or status not in RETRY_STATUSES:
                    raise AdtError(
                        f"the cloud API at {self.url} answered {status} to {method} {path}: "
                        f"{_message(text) or http.client.responses.get(status, '')}",
                        HINTS.get(status, "try again later" if status in RETRY_STATUSES else ""),
                    )
                wait = headers.get("Retry-After", "")
                if wait.isdigit():
                    time.sleep(min(int(wait), 30))
                    continue
            time.sleep(min(self.backoff * 2**attempt, 10.0))
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def _unreachable(self, error: BaseException) -> AdtError:
        return AdtError(
            f"cannot reach the cloud API at {self.url}: {error}", "is the build machine's cloud API running?"
        )

    # -- the driver interface -------------------------------------------------------------------------
    def create_server(
        self,
        name: str,
        size: str,
        user_data: UserData,
        ssh_port: int,
        authorized_key: str,
        image: Optional[str] = None,
    ) -> Server:
        """A webserver made by the cloud host from the settings file in user_data."""
        body: Dict[str, Any] = {
            "name": name,
            "size": size,
            "settings": settings_text(user_data),
            "ssh_port": int(ssh_port),
            "authorized_key": authorized_key.strip(),
        }
        if image:
            body["image"] = image
        answer = self.call("POST", "/v1/servers", body, idempotent=False)
        if answer is None:  # a dry run
            return Server(name, name, "webserver", "", "", "stopped")
        return self._server(answer)

    def _server(self, item: Any) -> Server:
        try:
            return Server(
                **{key: str(item[key]) for key in ("name", "id", "role", "public_ip", "private_ip", "status")}
            )
        except (KeyError, TypeError):
            raise AdtError(f"the cloud API at {self.url} answered a server without its fields: {item!r:.200}") from None

    def list_servers(self, pattern: str = "") -> List[Server]:
        return [self._server(item) for item in self.call("GET", f"/v1/servers?name={quote(pattern, safe='')}") or []]

    def destroy_server(self, name: str) -> None:
        """Destroy one webserver; one already gone (404) is not an error: nothing of it is left."""
        try:
            self.call("DELETE", f"/v1/servers/{quote(name, safe='')}")
        except AdtError as error:
            if " answered 404 " not in error.message:
                raise

    def list_snapshots(self, pattern: str = "") -> List[Image]:
        found = []
        for item in self.call("GET", f"/v1/snapshots?name={quote(pattern, safe='')}") or []:
            try:
                found.append(Image(**item))
            except TypeError:
                raise AdtError(
                    f"the cloud API at {self.url} answered an image without its fields: {item!r:.200}"
                ) from None
        return found

    def refresh_firewall(self, build_identifier: str) -> List[str]:
        """Have the cloud host apply the build's native firewall again (its members changed); one line per
        machine."""
        return list(self.call("POST", f"/v1/firewalls/{quote(build_identifier, safe='')}") or [])
