"""The one HTTP client of the suite: timeouts, rate limiting, 429 back-off, redaction and an exchange log.

Every request to the target goes through a `TargetSession`: the suite's own (`ApiClient`) and
Schemathesis' (which is handed the same session). Each exchange is recorded with the Authorization value
and every configured secret redacted, and can be replayed with `Exchange.curl()`, which names a
configured token by its environment variable instead of printing it.
"""

from __future__ import annotations

import json as jsonlib
import shlex
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from conformance import __version__

REDACTED = "[REDACTED]"
MAX_BODY_CHARS = 4000
_DEFAULT = object()


class TargetUnavailable(Exception):
    """The target could not be reached (connection refused, DNS, TLS, timeout)."""


class RateLimited(Exception):
    """The target kept answering 429 after the suite backed off: not a failure of the operation."""


class Redactor:
    """Replaces every registered secret in text. Shared by everything that writes output."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, *secrets: str | None) -> None:
        self._secrets.update(s for s in secrets if s and len(s) >= 4)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text


REDACT = Redactor()


@dataclass
class Exchange:
    """One request and its response, secrets already redacted."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int | None = None
    reason: str = ""
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    elapsed_ms: float = 0.0
    token_env: str | None = None

    def curl(self) -> str:
        parts = ["curl", "-i", "-X", self.method, shlex.quote(self.url)]
        for name, value in self.request_headers.items():
            if name.lower() == "authorization" and self.token_env:
                parts += ["-H", f'"Authorization: Bearer ${self.token_env}"']
            elif name.lower() in ("accept", "authorization", "content-type"):
                parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.request_body is not None:
            parts += ["--data-raw", shlex.quote(self.request_body)]
        return " ".join(parts)

    def describe(self) -> str:
        """Request line, status and a bounded body, for failure messages and attachments."""
        body = self.response_body if len(self.response_body) <= 600 else self.response_body[:600] + "..."
        ctype = self.response_headers.get("content-type", "(none)")
        return f"{self.method} {self.url} -> {self.status} {self.reason} [content-type: {ctype}] {body!r}"

    def as_text(self) -> str:
        lines = [f"{self.method} {self.url}"]
        lines += [f"{k}: {v}" for k, v in self.request_headers.items()]
        if self.request_body is not None:
            lines += ["", self.request_body]
        lines += ["", f"HTTP {self.status} {self.reason}  ({self.elapsed_ms:.0f} ms)"]
        lines += [f"{k}: {v}" for k, v in self.response_headers.items()]
        lines += ["", self.response_body]
        return "\n".join(lines)


class ExchangeLog:
    """The recent exchanges, kept per test for the report; thread-safe."""

    def __init__(self, keep: int = 50) -> None:
        self._lock = threading.Lock()
        self._items: deque[Exchange] = deque(maxlen=keep)
        self._last = threading.local()
        self.total = 0

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self._items.append(exchange)
            self.total += 1
        self._last.exchange = exchange

    def last_in_thread(self) -> Exchange | None:
        """The latest exchange of the calling thread (background watches send their own)."""
        return getattr(self._last, "exchange", None)

    def drain(self) -> list[Exchange]:
        with self._lock:
            items = list(self._items)
            self._items.clear()
            return items


class RateLimiter:
    """Spaces requests to at most `rate` per second (0: no limit), shared by all clients of a run."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


class Response:
    """A response with its redacted exchange: what checks look at."""

    def __init__(self, raw: requests.Response, exchange: Exchange) -> None:
        self.raw = raw
        self.exchange = exchange
        self.status = raw.status_code
        self.headers = raw.headers
        self.content = raw.content
        self.text = raw.text

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The decoded body, or raises ValueError."""
        return jsonlib.loads(self.content.decode("utf-8"))

    def success_json(self) -> Any:
        """The decoded body of a 2xx answer; None for another status or a body that is not JSON."""
        if not 200 <= self.status < 300:
            return None
        try:
            return self.json()
        except ValueError:
            return None

    def created_sid(self) -> str | None:
        """The `sid` a 2xx create answer carries, if it carries one."""
        body = self.success_json()
        sid = body.get("sid") if isinstance(body, dict) else None
        return sid if isinstance(sid, str) and sid else None


def _body_text(body: bytes | str | None) -> str | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if len(body) > MAX_BODY_CHARS:
        body = body[:MAX_BODY_CHARS] + f"... ({len(body)} characters)"
    return REDACT(body)


class TargetSession(requests.Session):
    """The session every request to the target goes through: default timeout, rate limit, 429 back-off,
    recording, and connection problems raised as one-line `TargetUnavailable` errors."""

    def __init__(self, *, timeout: float, verify: bool | str, limiter: RateLimiter, log: ExchangeLog,
                 token_envs: dict[str, str], max_429_retries: int = 4) -> None:
        super().__init__()
        self.timeout = timeout
        self.verify = verify
        self.limiter = limiter
        self.log = log
        self.token_envs = token_envs  # configured token -> the environment variable a curl command names
        self.max_429_retries = max_429_retries
        self.headers["User-Agent"] = f"calls-api-conformance/{__version__}"

    def _exchange(self, request: requests.PreparedRequest) -> Exchange:
        headers = {k: str(v) for k, v in request.headers.items()}
        auth = headers.get("Authorization", "")
        token_env = self.token_envs.get(auth[7:]) if auth.startswith("Bearer ") else None
        # Configured tokens are secrets (redacted everywhere); made-up tokens of the auth tests are shown.
        safe = {name: REDACT(value) for name, value in headers.items()}
        return Exchange(request.method or "GET", str(request.url), safe, _body_text(request.body), token_env=token_env)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        kwargs["allow_redirects"] = False
        parts = urlsplit(str(request.url))
        base = f"{parts.scheme}://{parts.netloc}"
        for attempt in range(self.max_429_retries + 1):
            self.limiter.wait()
            exchange = self._exchange(request)
            started = time.perf_counter()
            try:
                raw = super().send(request, **kwargs)
            except requests.exceptions.SSLError as error:
                raise TargetUnavailable(f"TLS failure talking to {base}: {_first_line(error)}") from None
            except requests.exceptions.Timeout:
                raise TargetUnavailable(f"{request.method} {parts.path} timed out after {kwargs['timeout']} s") from None
            except requests.exceptions.ConnectionError as error:
                raise TargetUnavailable(f"cannot connect to {base}: {_first_line(error)}") from None
            exchange.elapsed_ms = (time.perf_counter() - started) * 1000
            exchange.status, exchange.reason = raw.status_code, raw.reason or ""
            exchange.response_headers = {k.lower(): REDACT(v) for k, v in raw.headers.items()}
            exchange.response_body = _body_text(raw.content) or ""
            raw.exchange = exchange  # type: ignore[attr-defined]
            self.log.add(exchange)
            if raw.status_code != 429:
                return raw
            time.sleep(_retry_after(raw.headers.get("Retry-After"), attempt))
        raise RateLimited(f"{request.method} {parts.path}: still 429 Too Many Requests after "
                          f"{self.max_429_retries} retries")


class ApiClient:
    """Talks to one account of the target. Paths are relative to the base URL (which ends in /v1)."""

    def __init__(self, base_url: str, account_sid: str, token: str | None, session: TargetSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.account_sid = account_sid
        self.token = token
        self.session = session

    def calls_path(self, account_sid: str | None = None) -> str:
        return f"/Accounts/{account_sid or self.account_sid}/Calls"

    def call_path(self, call_sid: str, account_sid: str | None = None) -> str:
        return f"{self.calls_path(account_sid)}/{call_sid}"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token is not None else {}

    def list_calls(self, **kwargs: Any) -> Response:
        return self.request("GET", self.calls_path(), **kwargs)

    def get_call(self, call_sid: str, **kwargs: Any) -> Response:
        return self.request("GET", self.call_path(call_sid), **kwargs)

    def create_call(self, body: Any, **kwargs: Any) -> Response:
        return self.request("POST", self.calls_path(), json=body, **kwargs)

    def delete_call(self, call_sid: str, **kwargs: Any) -> Response:
        return self.request("DELETE", self.call_path(call_sid), **kwargs)

    def request(self, method: str, path: str, *, json: Any = _DEFAULT, data: bytes | str | None = None,
                headers: dict[str, str] | None = None, authorization: Any = _DEFAULT) -> Response:
        """Send one request. `authorization=None` sends no Authorization header; a string replaces it."""
        all_headers = {"Accept": "application/json"}
        if authorization is _DEFAULT:
            all_headers.update(self.auth_headers())
        elif authorization is not None:
            all_headers["Authorization"] = authorization
        if json is not _DEFAULT:
            data = jsonlib.dumps(json)
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        raw = self.session.request(method, self.base_url + path, data=data, headers=all_headers)
        return Response(raw, raw.exchange)


def _retry_after(header: str | None, attempt: int) -> float:
    """Seconds to wait before retrying a 429: the server's Retry-After (capped), else exponential back-off."""
    if header and header.strip().isdigit():
        return min(float(header.strip()), 60.0)
    return min(0.5 * 2**attempt, 30.0)


def _first_line(error: Exception) -> str:
    text = str(error)
    # requests nests the root cause; the innermost reason is the readable part.
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
    return REDACT(text.strip(" ()'\"").splitlines()[0])[:200]
