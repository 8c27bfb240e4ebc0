"""The one HTTP client of the suite: timeouts, rate limiting, 429 back-off, redaction and an exchange log.

Every request to the target goes through a `TargetSession`: the suite's own (`ApiClient`) and
Schemathesis' (which is handed the same session). Each exchange is recorded with the Authorization value
and every configured secret redacted, and can be replayed with `Exchange.curl()`, which names a
configured token by its environment variable instead of printing it.
"""

from __future__ import annotations

import json as jsonlib
import re
import shlex
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from conformance import __version__

REDACTED = "[REDACTED]"
MAX_BODY_CHARS = 4000
MAX_BODY_BYTES = 16 * 1024 * 1024  # default of --max-body-bytes
KEPT_OVER_CAP = 64 * 1024  # bytes kept of a body over the cap
MAX_JSON_DEPTH = 64  # a call object is 3 levels deep; far deeper is no answer of this API
MAX_RETRY_AFTER = 60.0  # longest wait for one 429 before retrying
# Response headers that carry credentials, redacted by name whatever their value.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
                                "x-auth-token", "proxy-authenticate", "www-authenticate"})
_DEFAULT = object()
_CHUNK = 64 * 1024


class TargetUnavailable(Exception):
    """The target failed an exchange: no connection, DNS, TLS, a timeout, a reset, a body cut short.
    `kind` is a short machine word (e.g. "timeout", "dns"), the message one line."""

    def __init__(self, message: str, kind: str = "unreachable") -> None:
        super().__init__(message)
        self.kind = kind


class RateLimited(TargetUnavailable):
    """The target kept answering 429 after the suite backed off: not a failure of the operation."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "rate-limited")


class TargetFailed(TargetUnavailable):
    """The run stopped sending: the target stopped answering (circuit breaker) or the run budget ran out."""


class Redactor:
    """Replaces every registered secret in text, whatever its length, in one pass (a short secret cannot
    match inside the marker of a longer one). Shared by everything that writes output."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, *secrets: str | None) -> None:
        self._secrets.update(s for s in secrets if s)
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern is not None else text

    def cut(self, text: str, limit: int) -> str:
        """Redacted, then cut to `limit` characters: a secret straddling the cut cannot survive in part."""
        text = self(text)
        return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


REDACT = Redactor()


def redact_headers(headers: Any) -> dict[str, str]:
    """Header values with secrets redacted; credential headers redacted by name."""
    return {str(k): REDACTED if str(k).lower() in CREDENTIAL_HEADERS else REDACT(str(v)) for k, v in headers.items()}


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
    over_cap: int | None = None  # the size cap, when the body was larger and not read to its end

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


class BodyUnusable(ValueError):
    """A body that cannot be an answer of this API whatever it holds: over the size cap, or nested too deep."""


def loads_bounded(data: bytes | str) -> Any:
    """json.loads, with nesting bounded: too deep is a ValueError, never a RecursionError."""
    too_deep = BodyUnusable(f"not valid JSON for this API: nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = jsonlib.loads(data)
    except RecursionError:
        raise too_deep from None
    stack = [(value, 1)]
    while stack:  # iterative: checking the depth must not recurse either
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise too_deep
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return value


class Response:
    """A response with its redacted exchange: what checks look at."""

    def __init__(self, raw: requests.Response, exchange: Exchange) -> None:
        self.raw = raw
        self.exchange = exchange
        self.status = raw.status_code
        self.headers = raw.headers
        self.content = raw.content
        self.truncated: int | None = getattr(raw, "truncated", None)  # the cap, when the body went over it

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The decoded body, or raises ValueError (BodyUnusable: over the size cap or nested too deep)."""
        if self.truncated is not None:
            raise BodyUnusable(f"the body is larger than {self.truncated} bytes (--max-body-bytes): "
                               f"not read to its end")
        return loads_bounded(self.content.decode("utf-8"))

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
    return REDACT.cut(body, MAX_BODY_CHARS)


class Breaker:
    """The circuit breaker of a run: trips on a run of failed exchanges or of "service unavailable" answers.

    Thresholds: FAILURES transport failures in a row (timeouts, resets, bodies cut short, no connection),
    or UNAVAILABLE answers in a row that say the service is not there (429, 502, 503, 504). A 500 is not
    counted: it is an answer, and a finding of its own."""

    FAILURES = 5
    UNAVAILABLE = 20
    UNAVAILABLE_STATUSES = frozenset({429, 502, 503, 504})
    RATE_LIMIT_PATIENCE = 120.0  # most seconds of 429 back-off in a row, with no other answer between

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failures: list[str] = []  # kinds of the current run of transport failures
        self.unavailable = 0
        self.waited = 0.0  # seconds of 429 back-off since the last other answer
        self.total_failures = 0

    def failed(self, kind: str) -> str | None:
        """Count a transport failure; returns why the breaker trips, or None."""
        with self._lock:
            self.failures.append(kind)
            self.total_failures += 1
            if len(self.failures) >= self.FAILURES:
                kinds = set(self.failures)
                what = "timeouts" if kinds == {"timeout"} else "failed exchanges"
                return f"{len(self.failures)} {what} in a row"
        return None

    def answered(self, status: int) -> str | None:
        with self._lock:
            self.failures.clear()
            self.unavailable = self.unavailable + 1 if status in self.UNAVAILABLE_STATUSES else 0
            if status != 429:
                self.waited = 0.0
            if self.unavailable >= self.UNAVAILABLE:
                return f"{self.unavailable} answers in a row of 429/502/503/504"
        return None


_CURRENT = threading.local()  # the deadline of the exchange the calling thread is in, and its connection


class _Bounded:
    """A connection that is shut when its response headers have not all come by the exchange's deadline:
    headers dripped byte by byte would pass every socket timeout."""

    expired = False

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        deadline = getattr(_CURRENT, "deadline", None)
        if deadline is None:
            return super().getresponse(*args, **kwargs)  # type: ignore[misc]
        _CURRENT.connection = self
        # Half a second late: a target that sends nothing at all meets the socket timeout first, and is told so.
        timer = threading.Timer(max(0.0, deadline - time.monotonic()) + 0.5, self._expire)
        timer.daemon = True
        timer.start()
        try:
            return super().getresponse(*args, **kwargs)  # type: ignore[misc]
        finally:
            timer.cancel()

    def _expire(self) -> None:
        self.expired = True
        sock = getattr(self, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _BoundedHTTPConnection(_Bounded, HTTPConnection):
    pass


class _BoundedHTTPSConnection(_Bounded, HTTPSConnection):
    pass


class _BoundedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _BoundedHTTPConnection


class _BoundedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _BoundedHTTPSConnection


def _no_netrc(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """The session's `auth`: adds nothing (its presence keeps requests from reading ~/.netrc)."""
    return request


class TargetSession(requests.Session):
    """The session every request to the target goes through: a total deadline per exchange, a body size cap,
    the run budget, the circuit breaker, rate limit, 429 back-off, recording, and every transport problem
    raised as a one-line `TargetUnavailable`."""

    def __init__(self, *, timeout: float, verify: bool | str, limiter: RateLimiter, log: ExchangeLog,
                 token_envs: dict[str, str], max_429_retries: int = 4, max_body_bytes: int = MAX_BODY_BYTES,
                 budget: float | None = None, on_wait: Callable[[str], None] | None = None,
                 parent: "TargetSession | None" = None, history: Any = None) -> None:
        super().__init__()
        self.timeout = timeout
        self.verify = verify
        self.limiter = limiter
        self.log = log
        self.history = history  # the run's conformance.history.History: every exchange is recorded in it
        self.token_envs = token_envs  # configured token -> the environment variable a curl command names
        self.max_429_retries = max_429_retries
        self.max_body_bytes = max_body_bytes
        self.deadline = time.monotonic() + budget if budget else None  # the run budget, monotonic
        self.on_wait = on_wait or (lambda message: None)  # told about long waits (429 back-off)
        # A session of the same run in another thread shares the run's budget, breaker and stop.
        self.parent = parent
        self.breaker = parent.breaker if parent is not None else Breaker()
        if parent is not None:
            self.on_wait = parent.on_wait
        self.stopped: TargetFailed | None = None  # set once: the run sends nothing more
        self.sent = 0  # requests sent (counted on the run's first session)
        self.headers["User-Agent"] = f"calls-api-conformance/{__version__}"
        # A request carries exactly the credentials its test gives it: never those of a ~/.netrc, which
        # requests would add to a request without Authorization (a check of missing credentials).
        self.auth = _no_netrc
        self._environment: dict[Any, dict[str, Any]] = {}  # proxies and CA bundle, read once per origin
        for adapter in self.adapters.values():
            adapter.poolmanager.pool_classes_by_scheme = {"http": _BoundedHTTPPool, "https": _BoundedHTTPSPool}

    def merge_environment_settings(self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        """The proxy and CA settings of the environment (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE...), read
        once per origin: requests reads the whole environment again for every request otherwise."""
        key = (urlsplit(url)[:2], tuple(sorted((proxies or {}).items())), stream, verify, cert)
        if key not in self._environment:
            self._environment[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        return dict(self._environment[key])

    # --- the run's stop -----------------------------------------------------------------------
    def stop(self, message: str, kind: str) -> TargetFailed:
        """Stop sending: every later request fails fast with this error (the first reason is kept)."""
        if self.parent is not None:
            return self.parent.stop(message, kind)
        with self.breaker._lock:
            if self.stopped is None:
                self.stopped = TargetFailed(message, kind)
                self.on_wait(message)
            return self.stopped

    def reopen(self, seconds: float) -> None:
        """Allow requests again for `seconds` (the cleanup after a stop), with a fresh breaker."""
        self.stopped = None
        self.breaker = Breaker()
        self.deadline = time.monotonic() + seconds

    def _remaining(self) -> float | None:
        if self.parent is not None:
            return self.parent._remaining()
        return None if self.deadline is None else self.deadline - time.monotonic()

    def sent_by_run(self) -> int:
        """Requests the run has sent, by every session of it."""
        return self.parent.sent_by_run() if self.parent is not None else self.sent

    def stopped_run(self) -> TargetFailed | None:
        """Why the run stopped sending, or None; a run budget spent stops it (also between requests)."""
        if self.parent is not None:
            return self.parent.stopped_run()
        try:
            self._check_open()
        except TargetFailed as error:
            return error
        return None

    def _check_open(self) -> None:
        if self.parent is not None:
            return self.parent._check_open()
        if self.stopped is not None:
            raise self.stopped
        remaining = self._remaining()
        if remaining is not None and remaining <= 0:
            raise self.stop(f"the run budget ran out after {self.sent_by_run()} requests (--run-budget)", "run-budget")

    def _exchange(self, request: requests.PreparedRequest) -> Exchange:
        headers = {k: str(v) for k, v in request.headers.items()}
        auth = headers.get("Authorization", "")
        token_env = self.token_envs.get(auth[7:]) if auth.startswith("Bearer ") else None
        # Configured tokens are secrets (redacted everywhere); made-up tokens of the auth tests are shown.
        safe = {name: REDACT(value) for name, value in headers.items()}
        # The URL too: a target may echo a secret in a sid the suite then puts in a path.
        return Exchange(request.method or "GET", REDACT(str(request.url)), safe, _body_text(request.body),
                        token_env=token_env)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        timeout = kwargs.get("timeout")
        timeout = self.timeout if timeout is None or isinstance(timeout, tuple) else min(float(timeout), self.timeout)
        kwargs["allow_redirects"] = False
        for attempt in range(self.max_429_retries + 1):
            self._check_open()
            self.limiter.wait()
            raw = self._send_once(request, timeout, kwargs)
            trip = self.breaker.answered(raw.status_code)
            if trip:
                raise self.stop(f"target stopped answering after {self.sent_by_run()} requests: {trip}",
                                "stopped-answering")
            if raw.status_code != 429:
                return raw
            self._back_off(request, raw, attempt)
        what = REDACT(f"{request.method} {urlsplit(str(request.url)).path}")
        raise RateLimited(f"{what}: still 429 Too Many Requests after {self.max_429_retries} retries")

    def _back_off(self, request: requests.PreparedRequest, raw: requests.Response, attempt: int) -> None:
        """Wait before retrying a 429, within the run budget; a long wait is announced."""
        wait, why = _retry_after(raw.headers.get("Retry-After"), attempt)
        left = self.max_429_retries - attempt
        path = REDACT(urlsplit(str(request.url)).path)
        remaining = self._remaining()
        if left == 0:
            return
        if self.breaker.waited + wait > self.breaker.RATE_LIMIT_PATIENCE:
            raise self.stop(f"target stopped answering after {self.sent_by_run()} requests: rate limited (429) for "
                            f"{self.breaker.waited:.0f} s with no other answer", "rate-limited")
        if remaining is not None and wait >= remaining:
            raise RateLimited(f"{request.method} {path}: 429 Too Many Requests, and waiting {wait:.0f} s ({why}) "
                              f"would outlast the run budget")
        if wait >= 1:
            self.on_wait(f"rate limited, waiting {wait:.0f} s ({why}), {left} tr{'y' if left == 1 else 'ies'} left")
        self.breaker.waited += wait
        time.sleep(wait)

    def _send_once(self, request: requests.PreparedRequest, timeout: float, kwargs: dict[str, Any]) -> requests.Response:
        """One exchange under a total deadline (connect, headers and the whole body), the body read up to the cap."""
        remaining = self._remaining()
        total = timeout if remaining is None else max(0.05, min(timeout, remaining))
        what = REDACT(f"{request.method} {urlsplit(str(request.url)).path}")
        exchange = self._exchange(request)
        with self.breaker._lock:
            (self.parent or self).sent += 1
        ticket = self.history.sending() if self.history is not None else None
        started = time.monotonic()
        deadline = started + total
        received = 0
        headers_in = False
        raw = None
        _CURRENT.deadline, _CURRENT.connection = deadline, None
        try:
            try:
                raw = super().send(request, **{**kwargs, "timeout": (total, total), "stream": True})
            finally:
                _CURRENT.deadline = None
            headers_in = True
            raw.truncated = None  # type: ignore[attr-defined]
            body = bytearray()
            for chunk in _chunks(raw, deadline):
                body += chunk
                received = len(body)
                if received > self.max_body_bytes:
                    # Not an answer of this API whatever it holds: only its start is kept, for the report.
                    del body[KEPT_OVER_CAP:]
                    raw.truncated = self.max_body_bytes  # type: ignore[attr-defined]
                    break
            raw.close()  # an unread rest (over the cap) is dropped with its connection
            raw._content = bytes(body)  # later reads (Schemathesis') see the bounded body
            raw._content_consumed = True
        except Exception as error:  # noqa: BLE001 - every failure of the exchange is the target's
            if raw is not None:
                raw.close()
            if getattr(_CURRENT.connection, "expired", False) and not headers_in:
                failure = TargetUnavailable(f"{what}: no complete answer within {total:g} s (the response headers "
                                            f"were still arriving)", "timeout")
            else:
                failure = _transport_failure(error, what, request, total, headers_in, received)
            self.log.total += 1
            self._record(exchange, request, started, None, ticket)
            if failure.kind == "timeout" and remaining is not None and remaining < timeout:
                raise self.stop(f"the run budget ran out after {self.sent_by_run()} requests (--run-budget)",
                                "run-budget") from None
            trip = self.breaker.failed(failure.kind)
            if trip:
                self.stop(f"target stopped answering after {self.sent_by_run()} requests: {trip}", "stopped-answering")
            raise failure from None
        exchange.elapsed_ms = (time.monotonic() - started) * 1000
        exchange.status, exchange.reason = raw.status_code, raw.reason or ""
        exchange.response_headers = {k.lower(): v for k, v in redact_headers(raw.headers).items()}
        exchange.response_body = _body_text(raw._content) or ""
        if raw.truncated is not None:  # type: ignore[attr-defined]
            exchange.over_cap = raw.truncated  # type: ignore[attr-defined]
            exchange.response_body += f"\n(body over the {raw.truncated}-byte cap: not read further)"
        raw.exchange = exchange  # type: ignore[attr-defined]
        self.log.add(exchange)
        self._record(exchange, request, started, raw._content, ticket)
        return raw

    def _record(self, exchange: Exchange, request: requests.PreparedRequest, started: float,
                content: bytes | None, ticket: int | None) -> None:
        if self.history is not None:
            self.history.add(exchange, request.headers.get("Authorization"), started, content, ticket)


class _Stalled(Exception):
    """The exchange's total deadline passed while the body was still arriving."""


def _chunks(raw: requests.Response, deadline: float) -> Iterator[bytes]:
    """The body as it arrives, each socket read given at most the time left before `deadline`."""
    stream = raw.raw
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Stalled()
        sock = getattr(getattr(stream, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(left)
        chunk = stream.read1(_CHUNK, decode_content=True)  # what has arrived: a drip cannot outlast the deadline
        if not chunk:
            return
        yield chunk


def _transport_failure(error: BaseException, what: str, request: requests.PreparedRequest, total: float,
                       headers_in: bool, received: int) -> TargetUnavailable:
    """One `TargetUnavailable` with a precise one-line reason for whatever broke the exchange."""
    parts = urlsplit(str(request.url))
    base = f"{parts.scheme}://{parts.netloc}"
    text = _reason(error)
    low = f"{type(error).__name__} {text} {error!r}".lower()
    if isinstance(error, _Stalled) or (headers_in and "timed out" in low):
        if received:
            return TargetUnavailable(f"{what}: stalled: the body was not complete after {total:g} s "
                                     f"({received} bytes received)", "timeout")
        return TargetUnavailable(f"{what}: stalled: no byte of the body within {total:g} s after the headers",
                                 "timeout")
    plain_http = "wrong_version_number" in low or "record layer" in low
    if isinstance(error, requests.exceptions.SSLError) or plain_http or ("ssl" in low and "certificate" in low):
        hint = " (is the port plain http? try http://)" if plain_http else ""
        if "certificate" in low:
            hint = " (a self-signed or private CA? pass --ca-bundle, or --insecure)"
        # "[SSL: CODE] what it means", without the C source location and the nested reprs around it.
        found = re.search(r"\[SSL: \w+\] [^('\"]*?(?=\s*\(_ssl|['\"(]|$)", f"{error}")
        return TargetUnavailable(f"TLS failure talking to {base}: {found.group(0) if found else text}{hint}", "tls")
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return TargetUnavailable(f"cannot connect to {base}: no connection within {total:g} s", "timeout")
    if isinstance(error, requests.exceptions.Timeout) or "timed out" in low:
        return TargetUnavailable(f"{what}: no answer within {total:g} s (connected, no response headers)", "timeout")
    if "name or service not known" in low or "nodename nor servname" in low or "getaddrinfo" in low \
            or "name resolution" in low or "no address associated" in low:
        return TargetUnavailable(f"DNS: the name {parts.hostname} was not found "
                                 f"(is the host name in --base-url right?)", "dns")
    if headers_in:
        if "incompleteread" in low or "connection broken" in low or "ended prematurely" in low:
            return TargetUnavailable(f"{what}: the body was cut short ({received} bytes received, then the "
                                     f"connection ended)", "cut-short")
        if isinstance(error, requests.exceptions.ContentDecodingError) or "decode" in low:
            return TargetUnavailable(f"{what}: the body could not be decoded ({text})", "protocol")
        if "reset" in low:
            return TargetUnavailable(f"{what}: the connection was reset while the body was read "
                                     f"({received} bytes received)", "reset")
        return TargetUnavailable(f"{what}: the connection failed while the body was read: {text}", "reset")
    if "refused" in low:
        return TargetUnavailable(f"cannot connect to {base}: connection refused", "unreachable")
    if "reset" in low:
        return TargetUnavailable(f"{what}: the connection was reset (no answer)", "reset")
    if "aborted" in low or "remotedisconnected" in low or "without response" in low or "broken pipe" in low:
        return TargetUnavailable(f"{what}: the connection was closed without an answer", "reset")
    if isinstance(error, (requests.exceptions.ConnectionError, OSError)):
        return TargetUnavailable(f"cannot connect to {base}: {text}", "unreachable")
    return TargetUnavailable(f"{what}: the exchange failed: {text}", "protocol")


def _reason(error: BaseException) -> str:
    """The innermost readable reason of a transport error, one line, redacted, cut at a word boundary."""
    text = str(error) or type(error).__name__
    # requests nests the root cause; the innermost reason is the readable part.
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
    text = REDACT(text.strip(" ()'\"").splitlines()[0] if text.strip() else type(error).__name__)
    text = re.sub(r"<[^<>]*object at 0x[0-9a-f]+>:?\s*", "", text).strip(" ()'\":,")
    return cut_words(text, 160)


def cut_words(text: str, limit: int) -> str:
    """At most `limit` characters (and a few more to close brackets), cut at a word boundary."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:([")
    opened = cut.count("(") - cut.count(")")
    return cut + "..." + ")" * max(opened, 0)


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


def _retry_after(header: str | None, attempt: int) -> tuple[float, str]:
    """Seconds to wait before retrying a 429, and why: the server's Retry-After (capped), else back-off."""
    if header and header.strip().isdigit():
        return min(float(header.strip()), MAX_RETRY_AFTER), "Retry-After"
    return min(0.5 * 2**attempt, 30.0), "back-off"
