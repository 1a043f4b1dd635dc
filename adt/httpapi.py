"""One HTTP client for the providers' APIs (DigitalOcean, Vultr, Cloudflare; the SDK-backed drivers use their SDK's
own): retries with back-off and jitter on 429 (honouring Retry-After), on 5xx and on a lost connection; one clear
error for a refused token or a missing scope; a count of the calls made. The same retries for a call through an
SDK (`retrying`), a create retried without making two (`created_once`), the dry run's `would call:` (`planned`).
And one wait, `poll`, for everything that becomes true later (a machine running, an action completed, a listing
that catches up), with back-off, never a fixed sleep.

The token is sent in a header and never logged; an error names the method and path, never the headers.
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, TypeVar

from adt.errors import AdtError

T = TypeVar("T")

RETRIED = frozenset({429, 500, 502, 503, 504})


class ApiError(AdtError):
    """The provider answered a request with an error (after the retries): `status` is its HTTP status (0: no
    answer at all)."""

    def __init__(self, message: str, hint: str = "", status: int = 0, body: Any = None):
        super().__init__(message, hint)
        self.status = status
        self.body = body


def backoff(attempt: int, base: float = 0.25, cap: float = 8.0) -> float:
    """The pause before retry `attempt` (1, 2 ...): exponential from `base`, capped, with full jitter."""
    return random.uniform(base / 2, min(cap, base * 2 ** (attempt - 1)))


def retry_after(value: Optional[str], cap: float = 60.0) -> Optional[float]:
    """Seconds a Retry-After header asks for (delta-seconds form; an HTTP date or junk gives None), capped."""
    try:
        return min(cap, max(0.0, float(value))) if value else None
    except ValueError:
        return None


def poll(
    check: Callable[[], Optional[T]],
    what: str,
    timeout: float = 600,
    first: float = 0.05,
    cap: float = 5.0,
    hint: str = "",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `check` until it returns something other than None (returned), pausing `first` seconds, then 1.5
    times longer each time up to `cap`; an AdtError naming `what` after `timeout` seconds."""
    deadline = clock() + timeout
    pause = first
    while True:
        found = check()
        if found is not None:
            return found
        if clock() + pause > deadline:
            raise AdtError(f"timed out after {timeout:g} s waiting for {what}", hint)
        sleep(pause)
        pause = min(cap, pause * 1.5)


def requests_failure(error: BaseException) -> Optional[Tuple[int, Optional[str]]]:
    """What a failed call through a requests-based SDK (exoscale ...) was, for `retrying`: (status, its
    Retry-After header) of an HTTP answer the error carries, (0, None) for a request that got no answer (refused,
    reset, timed out), None for anything else."""
    import requests

    response: Any = getattr(error, "response", None)
    if response is not None and getattr(response, "status_code", None):
        return int(response.status_code), response.headers.get("Retry-After")
    return (0, None) if isinstance(error, requests.RequestException) else None


def retrying(
    call: Callable[[], T],
    failure: Callable[[BaseException], Optional[Tuple[int, Optional[str]]]] = requests_failure,
    attempts: int = 6,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """call()'s answer, called again after a back-off while it fails for a reason worth a retry: `failure(error)`
    gives (status, Retry-After) of an HTTP answer, retried for a status in RETRIED (a 429's Retry-After honoured),
    (0, None) for no answer at all (retried), or None (raised at once). The last failure is raised as it is: the
    caller makes its one line of it."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as error:
            seen = failure(error)
            if seen is None or attempt == attempts or (seen[0] and seen[0] not in RETRIED):
                raise
            wait = retry_after(seen[1]) if seen[0] == 429 else None
            sleep(wait if wait is not None else backoff(attempt))
    raise AssertionError("unreachable")


def created_once(
    post: Callable[[], T],
    made: Callable[[], Optional[T]],
    attempts: int = 6,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """post()'s answer: a create, which is not idempotent, retried without making a second. After a 5xx or a lost
    answer (an ApiError with status 0) it may have been made all the same, so made() is asked before each retry
    and what it finds is taken; a 429 was refused before anything was made and is simply retried; any other
    ApiError, or the last, is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return post()
        except ApiError as error:
            if attempt == attempts or not (error.status == 0 or error.status in RETRIED):
                raise
            if error.status != 429:
                found = made()
                if found is not None:
                    return found
        sleep(backoff(attempt))
    raise AssertionError("unreachable")


def planned(call: str) -> bool:
    """In a dry run (adt.run.dry_running) a request that would change something is printed, `would call: <call>`,
    and not sent: True; False else."""
    from adt import run

    if not run.dry_run():
        return False
    run.announce(call, kind="call")
    return True


class ApiClient:
    """JSON over HTTPS to one provider's API. `provider` names it in errors; `scopes` (path prefix -> the
    token scope it needs) lets a 403 name the missing scope; `forbidden(method, path, error)`, when given, makes
    the provider's own error of a 403 instead (scopes that depend on the method, say)."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float = 30.0,
        attempts: int = 6,
        scopes: Optional[Mapping[str, str]] = None,
        sleep: Callable[[float], None] = time.sleep,
        forbidden: Optional[Callable[[str, str, ApiError], ApiError]] = None,
    ):
        import httpx

        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.attempts = attempts
        self.scopes = dict(scopes or {})
        self.sleep = sleep
        self.forbidden = forbidden
        self.calls = 0
        self._http = httpx.Client(base_url=self.base_url, headers=dict(headers), timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def planned(self, method: str, path: str, note: str = "") -> bool:
        """`planned` for `method path` of this API (and a note, in brackets)."""
        return planned(f"{method} {self.base_url}{path}" + (f" ({note})" if note else ""))

    def scope(self, path: str) -> str:
        return next(
            (s for prefix, s in sorted(self.scopes.items(), key=lambda i: -len(i[0])) if path.startswith(prefix)), ""
        )

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        params: Optional[Mapping[str, Any]] = None,
        ok: tuple = (),
    ) -> Any:
        """The decoded JSON answer (None for an empty one) of `method path`; statuses in `ok` are returned as
        None too (404 on a delete that raced, say). Retries 429, 5xx and lost connections; an ApiError else."""
        import httpx

        what = f"{self.provider}: {method} {path}"
        for attempt in range(1, self.attempts + 1):
            self.calls += 1
            try:
                response = self._http.request(method, path, json=json, params=params)
            except httpx.TransportError as error:  # refused, reset, timed out: the request may not have arrived
                if attempt == self.attempts:
                    raise ApiError(
                        f"{what} failed: {type(error).__name__}", "is the provider's API reachable?"
                    ) from None
                self.sleep(backoff(attempt))
                continue
            status = response.status_code
            if status in RETRIED and attempt < self.attempts:
                wait = retry_after(response.headers.get("Retry-After")) if status == 429 else None
                self.sleep(wait if wait is not None else backoff(attempt))
                continue
            if status in ok:
                return None
            if status >= 400:
                raise self.error(what, path, response, method)
            if not response.content:
                return None
            return response.json()
        raise AssertionError("unreachable")

    def error(self, what: str, path: str, response, method: str = "") -> ApiError:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = response.text[:200]
        detail = _message(body)
        if status == 401:
            return ApiError(
                f"{self.provider} refused the token (401 Unauthorized) for {what.split(': ', 1)[1]}",
                f"check the template's token for {self.provider}: it is mistyped, expired or revoked",
                status,
                body,
            )
        if status == 403 and self.forbidden is not None:
            return self.forbidden(method, path, ApiError(f"{what} answered 403", "", status, body))
        if status == 403:
            scope = self.scope(path)
            return ApiError(
                f"{self.provider}: the token may not {what.split(': ', 1)[1]} (403 Forbidden)"
                + (f": it needs the {scope} scope" if scope else ""),
                f"give the token {scope or 'the scope this needs'} in the {self.provider} control panel",
                status,
                body,
            )
        return ApiError(f"{what} answered {status}" + (f": {detail}" if detail else ""), "", status, body)


def _message(body: Any) -> str:
    """The provider's own words in an error body (DigitalOcean: message, Vultr: error, Cloudflare: errors[])."""
    if isinstance(body, dict):
        for key in ("message", "error"):
            if isinstance(body.get(key), str):
                return body[key][:200]
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0]
            return str(first.get("message", first) if isinstance(first, dict) else first)[:200]
    return body[:200] if isinstance(body, str) else ""


def paged(fetch: Callable[[int], Dict[str, Any]], items: str, more: Callable[[Dict[str, Any], int], bool]) -> list:
    """Every item over the pages of a listing: fetch(page) for page 1, 2 ... while more(answer, page)."""
    found: list = []
    page = 1
    while True:
        answer = fetch(page) or {}
        found.extend(answer.get(items) or [])
        if not more(answer, page):
            return found
        page += 1
