"""The frame of every provider fake: a threaded HTTP server on loopback, routes with path parameters, state behind
one lock, fault switches, and validation of every request and every response against the provider's OpenAPI
specification (openapi-core) when the fake has one.

A request the specification refuses is answered 400 and recorded in `violations`; a response it refuses is sent
all the same and recorded; a path the fake does not implement is answered 404 and recorded. A test (the fixture)
ends with `fake.check()`, which fails on any violation: a driver that drifts from the documented API fails.

Faults (`fake.faults`), each consumed by the requests that meet it:
- `rate_limited = n`: the next n requests get 429 with `Retry-After: retry_after`;
- `errors = n`: the next n requests get 500;
- `delay = s`: every request waits s seconds first (a slow API; past the client's timeout: a time-out);
- `slow_actions = s`: actions and new machines stay in progress / provisioning for s seconds;
- `stale = s`: a resource made less than s seconds ago is missing from listings (eventual consistency);
- `page_size = n`: listings are cut into pages of n whatever the client asks.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

SPECS = Path(__file__).resolve().parents[2] / "fixtures" / "cloud-apis"

Answer = Tuple[int, Any]  # (status, JSON body or None)


@dataclass
class Faults:
    rate_limited: int = 0
    retry_after: float = 1
    errors: int = 0
    delay: float = 0.0
    slow_actions: float = 0.0
    stale: float = 0.0
    page_size: Optional[int] = None


class HttpError(Exception):
    """Raised by a handler: answered with `status` and the provider's error body."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@functools.lru_cache(maxsize=None)
def _spec_text(path: str) -> str:
    return Path(path).read_text()


def openapi(spec_path: Path, server_url: str, fix: Optional[Callable[[dict], None]] = None):
    """openapi-core's validator for the specification at spec_path, with server_url (the fake's own base URL)
    added to its servers, as openapi-core matches a request's URL against them. `fix` may amend the spec first."""
    from openapi_core import Config, OpenAPI

    spec = json.loads(_spec_text(str(spec_path)))
    if fix is not None:
        fix(spec)
    spec.setdefault("servers", []).append({"url": server_url})
    # the specification itself is not checked again at each start (about a second each): the published files
    # are fixed data, checked once by tests/unit/test_cloudfakes_specs.py
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


def route(method: str, pattern: str):
    """Mark a FakeProvider method as the handler of `method pattern` ({name} matches one path segment)."""

    def mark(function):
        function.route = (method, pattern)
        return function

    return mark


class FakeProvider:
    """Subclasses set `name`, `base_path` (the API's path prefix: /v2, /v4 ...), `spec_path` (None: no
    specification) and implement handlers marked with @route, each `handler(self, request, **params) -> Answer`
    (request: a werkzeug Request; its JSON body is `self.body(request)`). `error_body(status, message)` is the
    provider's error shape; `authorised(request)` checks the credentials."""

    name = "fake"
    base_path = ""
    spec_path: Optional[Path] = None

    def __init__(self, token: str = "test-token", host: str = "127.0.0.1"):
        self.token = token
        self.host = host  # loopback; the local cloud host's gateway when machines behind it call it (autoscalers)
        self.faults = Faults()
        self.lock = threading.RLock()
        self.violations: List[str] = []
        self.calls: List[Tuple[str, str]] = []
        self.started = time.monotonic()
        self._server = None
        self._thread: Optional[threading.Thread] = None
        self._validator = None
        self._routes = []
        for attribute in dir(type(self)):
            function = getattr(type(self), attribute)
            if callable(function) and hasattr(function, "route"):
                method, pattern = function.route
                regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$"
                self._routes.append((method, re.compile(regex), getattr(self, attribute)))

    # -- serving -----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The API's base URL, as a driver's api_url takes it."""
        return f"http://{self.host}:{self._server.server_port}{self.base_path}"

    def start(self) -> "FakeProvider":
        from werkzeug.serving import make_server

        self._server = make_server(self.host, 0, self._wsgi, threaded=True)
        if self.spec_path is not None:
            self._validator = openapi(self.spec_path, self.url, self.fix_spec)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"{self.name} fake", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeProvider":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def check(self) -> None:
        """Fail when any request or response broke the specification, or asked for what the fake lacks."""
        assert not self.violations, f"{self.name} fake: " + "\n".join(self.violations)

    def fix_spec(self, spec: dict) -> None:
        """Amend the specification before it is loaded (a provider's own known error)."""

    # -- for subclasses ----------------------------------------------------------------------------
    def now(self) -> float:
        return time.time()

    def visible(self, created: float) -> bool:
        """Whether a resource made at `created` (self.now()) is in listings yet (the `stale` fault)."""
        return self.now() - created >= self.faults.stale

    def finished(self, started: float) -> bool:
        """Whether an action or a provisioning begun at `started` is over (the `slow_actions` fault)."""
        return self.now() - started >= self.faults.slow_actions

    @staticmethod
    def body(request) -> Any:
        data = request.get_data()
        return json.loads(data) if data else None

    def error_body(self, status: int, message: str) -> Any:
        return {"message": message}

    def authorised(self, request) -> bool:
        return request.headers.get("Authorization", "") == f"Bearer {self.token}"

    # -- the request's way -------------------------------------------------------------------------
    def _wsgi(self, environ, start_response):
        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        response = self._answer(request)
        if self._validator is not None and response.status_code < 500 and response.status_code != 429:
            self._validate_response(request, response)
        return response(environ, start_response)

    def _answer(self, request):
        from werkzeug.wrappers import Response

        def reply(status: int, body: Any, headers: Optional[Dict[str, str]] = None):
            text = "" if body is None else json.dumps(body)
            return Response(text, status=status, headers=headers or {}, content_type="application/json")

        with self.lock:
            self.calls.append((request.method, request.path))
            delay = self.faults.delay
            if self.faults.rate_limited > 0:
                self.faults.rate_limited -= 1
                return reply(429, self.error_body(429, "Too many requests"), {"Retry-After": str(self.faults.retry_after)})
            if self.faults.errors > 0:
                self.faults.errors -= 1
                return reply(500, self.error_body(500, "Server was unable to give you a response."))
        if delay:
            time.sleep(delay)
        if not self.authorised(request):
            return reply(401, self.error_body(401, "Unable to authenticate you"))
        if self._validator is not None:
            problem = self._validate_request(request)
            if problem:
                return reply(400, self.error_body(400, problem))
        path = request.path[len(self.base_path):] if request.path.startswith(self.base_path) else request.path
        for method, regex, handler in self._routes:
            match = regex.match(path)
            if match and method == request.method:
                try:
                    with self.lock:
                        status, body = handler(request, **match.groupdict())
                except HttpError as error:
                    return reply(error.status, self.error_body(error.status, error.message))
                return reply(status, body)
        self.violations.append(f"not implemented by the fake: {request.method} {request.path}")
        return reply(404, self.error_body(404, "The resource you were accessing could not be found."))

    def _validate_request(self, request) -> str:
        from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest

        try:
            self._validator.validate_request(WerkzeugOpenAPIRequest(request))
        except Exception as error:  # openapi-core's validation errors: the request breaks the specification
            problem = f"request {request.method} {request.full_path.rstrip('?')}: {_why(error)}"
            self.violations.append(problem)
            return problem
        return ""

    def _validate_response(self, request, response) -> None:
        from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

        try:
            self._validator.validate_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response))
        except Exception as error:
            self.violations.append(f"response to {request.method} {request.path} ({response.status_code}): {_why(error)}")


def _why(error: Exception) -> str:
    """openapi-core's error with its underlying schema errors, on one line."""
    parts = [str(error)]
    for inner in getattr(error, "schema_errors", None) or []:
        parts.append(getattr(inner, "message", str(inner)))
    cause = error.__cause__
    if cause is not None:
        parts.append(str(cause))
        for inner in getattr(cause, "schema_errors", None) or []:
            parts.append(getattr(inner, "message", str(inner)))
    return "; ".join(p for p in parts if p)[:600]


def page(items: List[Any], number: int, size: int) -> List[Any]:
    """Page `number` (from 1) of items cut in pages of `size`."""
    start = (max(1, number) - 1) * size
    return items[start : start + size]
