"""The one session every request to the target goes through: the suite's own (`ApiClient`) and
Schemathesis' (which is handed the same session).

Each exchange runs under one total deadline (connect, headers and the whole body), its body is read up to
the size cap, it is paced to the target's quota (pacing.py) and retried after a 429, and the run's guard (circuit
breaker, run budget) may stop it. Each is recorded, redacted, in the test's exchange log and the run's
history; whatever breaks it is raised as one `TargetUnavailable` with a one-line reason.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from conformance import __version__
from conformance.deployment.exchange import Exchange, ExchangeLog, body_text
from conformance.deployment.failures import BodyStalled, RateLimited, TargetUnavailable, transport_failure
from conformance.deployment.guard import RunGuard
from conformance.deployment.pacing import Pacer
from conformance.deployment.redaction import REDACT, redact_headers

MAX_BODY_BYTES = 16 * 1024 * 1024  # default of --max-body-bytes
KEPT_OVER_CAP = 64 * 1024  # bytes kept of a body over the cap
_CHUNK = 64 * 1024

_CURRENT = threading.local()  # the deadline of the exchange the calling thread is in, and its connection


class _Watchdog:
    """One daemon thread that expires the connections whose response headers are late (a thread started
    per exchange cost a thread start and two switches on every request)."""

    def __init__(self) -> None:
        self._due: dict[Any, tuple[float, Callable[[], None]]] = {}
        self._changed = threading.Condition()
        self._wakes_at = float("inf")  # when the thread next looks, unless woken
        self._thread: threading.Thread | None = None

    def watch(self, key: Any, when: float, expire: Callable[[], None]) -> None:
        with self._changed:
            self._due[key] = (when, expire)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="header-deadlines", daemon=True)
                self._thread.start()
            if when < self._wakes_at:
                self._changed.notify()  # only an earlier deadline than the one it waits for needs it awake

    def forget(self, key: Any) -> None:
        with self._changed:
            self._due.pop(key, None)

    def _run(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                expired = [self._due.pop(key)[1] for key, (when, _) in list(self._due.items()) if when <= now]
                if not expired:
                    self._wakes_at = min((when for when, _ in self._due.values()), default=float("inf"))
                    self._changed.wait(None if self._wakes_at == float("inf") else self._wakes_at - now)
                    continue
            for expire in expired:
                expire()


_WATCHDOG = _Watchdog()


#: Statuses whose answer ends with its header section (RFC 9110 sections 6.4.1, 15.3.5, 15.4.5); HEAD too.
NO_CONTENT = (204, 304)
EXCESS_SHOWN = 64  # bytes kept of what an answer sent past its end


class _FramedResponse(http.client.HTTPResponse):
    """An answer that tells when it broke HTTP/1.1 framing: content announced on a status that has none, or
    bytes past the end its framing gives (a Content-Length shorter than the content, content after a 204).
    Either would be read as the start of the next answer on the connection, so the connection is not kept:
    the next request gets a fresh one. `framing` says what was wrong (None when nothing was)."""

    framing: str | None = None

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self._socket = sock

    def begin(self) -> None:
        super().begin()
        if self.status in NO_CONTENT or 100 <= self.status < 200:
            announced = [f"{name}: {self.headers[name]}" for name in ("Content-Length", "Transfer-Encoding")
                         if (self.headers.get(name) or "0").strip() != "0"]
            if announced:  # its content may still come: a fresh connection for the next request
                self.framing = f"a {self.status} answer announces content ({', '.join(announced)}), which it cannot have"
                self.will_close = True

    def _close_conn(self) -> None:
        # length 0: the body its framing gives was read to its end (or it has none); anything waiting is excess
        if self.length == 0 and self.fp is not None and self.framing is None:
            excess = self._waiting()
            if excess:
                end = "its header section" if self.status in NO_CONTENT or self._method == "HEAD" else \
                    "the content its Content-Length announces"
                self.framing = f"{len(excess)}{'+' if len(excess) >= EXCESS_SHOWN else ''} bytes came after " \
                               f"{end}: {excess[:EXCESS_SHOWN]!r}"
                try:
                    self._socket.shutdown(socket.SHUT_RDWR)  # the pool then opens a fresh connection
                except OSError:
                    pass
        super()._close_conn()

    def _waiting(self) -> bytes:
        """What has already arrived past the answer, without waiting for more."""
        timeout = self._socket.gettimeout()
        try:
            self._socket.settimeout(0)
            return self.fp.peek(EXCESS_SHOWN) or b""  # buffered bytes, else one read of what is waiting
        except (OSError, ValueError):
            return b""
        finally:
            try:
                self._socket.settimeout(timeout)
            except OSError:
                pass


class _Bounded:
    """A connection that is shut when its response headers have not all come by the exchange's deadline:
    headers dripped byte by byte would pass every socket timeout. Its answers check their framing."""

    expired = False
    response_class = _FramedResponse

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        deadline = getattr(_CURRENT, "deadline", None)
        if deadline is None:
            return super().getresponse(*args, **kwargs)  # type: ignore[misc]
        _CURRENT.connection = self
        # Half a second late: a target that sends nothing at all meets the socket timeout first, and is told so.
        _WATCHDOG.watch(self, max(time.monotonic(), deadline) + 0.5, self._expire)
        try:
            return super().getresponse(*args, **kwargs)  # type: ignore[misc]
        finally:
            _WATCHDOG.forget(self)

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
    """The session every request to the target goes through (see the module's docstring). One per thread:
    `sibling()` gives another thread a session of the same run, sharing its guard, pacing and history."""

    def __init__(self, *, timeout: float, verify: bool | str, pacer: Pacer, log: ExchangeLog,
                 token_envs: dict[str, str], max_429_retries: int = 4, max_body_bytes: int = MAX_BODY_BYTES,
                 budget: float | None = None, on_wait: Callable[[str], None] | None = None,
                 history: Any = None, guard: RunGuard | None = None) -> None:
        super().__init__()
        self.timeout = timeout
        self.verify = verify
        self.pacer = pacer
        self.log = log
        self.history = history  # the run's conformance.evidence.history.History: every exchange is recorded in it
        self.token_envs = token_envs  # configured token -> the environment variable a curl command names
        self.max_429_retries = max_429_retries
        self.max_body_bytes = max_body_bytes
        self.guard = guard or RunGuard(budget, on_wait)
        self.headers["User-Agent"] = f"calls-api-conformance/{__version__}"
        # A request carries exactly the credentials its test gives it: never those of a ~/.netrc, which
        # requests would add to a request without Authorization (a check of missing credentials).
        self.auth = _no_netrc
        self._environment: dict[Any, dict[str, Any]] = {}  # proxies and CA bundle, read once per origin
        for adapter in self.adapters.values():
            adapter.poolmanager.pool_classes_by_scheme = {"http": _BoundedHTTPPool, "https": _BoundedHTTPSPool}

    def sibling(self, log: ExchangeLog) -> "TargetSession":
        """A session for another thread of the same run (requests sessions are not shared between threads),
        with a log of its own, sharing the run's guard, pacer and history."""
        return TargetSession(timeout=self.timeout, verify=self.verify, pacer=self.pacer, log=log,
                             token_envs=dict(self.token_envs), max_429_retries=self.max_429_retries,
                             max_body_bytes=self.max_body_bytes, history=self.history, guard=self.guard)

    def merge_environment_settings(self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        """The proxy and CA settings of the environment (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE...), read
        once per origin: requests reads the whole environment again for every request otherwise."""
        key = (urlsplit(url)[:2], tuple(sorted((proxies or {}).items())), stream, verify, cert)
        if key not in self._environment:
            self._environment[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        return dict(self._environment[key])

    def _exchange(self, request: requests.PreparedRequest) -> Exchange:
        headers = {k: str(v) for k, v in request.headers.items()}
        auth = headers.get("Authorization", "")
        token_env = self.token_envs.get(auth[7:]) if auth.startswith("Bearer ") else None
        # Configured tokens are secrets (redacted everywhere); made-up tokens of the auth tests are shown.
        safe = {name: REDACT(value) for name, value in headers.items()}
        # The URL too: a target may echo a secret in a sid the suite then puts in a path.
        return Exchange(request.method or "GET", REDACT(str(request.url)), safe, body_text(request.body),
                        token_env=token_env)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        timeout = kwargs.get("timeout")
        timeout = self.timeout if timeout is None or isinstance(timeout, tuple) else min(float(timeout), self.timeout)
        kwargs["allow_redirects"] = False
        for attempt in range(self.max_429_retries + 1):
            self.guard.check_open()
            self.pacer.wait(self.guard.remaining())
            self.guard.check_open()
            raw = self._send_once(request, timeout, kwargs)
            self.pacer.answered(raw.headers)
            trip = self.guard.breaker.answered(raw.status_code)
            if trip:
                raise self.guard.stopped_answering(trip)
            if raw.status_code != 429:
                return raw
            self._back_off(request, raw, attempt)
        what = REDACT(f"{request.method} {urlsplit(str(request.url)).path}")
        raise RateLimited(f"{what}: still 429 Too Many Requests after {self.max_429_retries} retries")

    def _back_off(self, request: requests.PreparedRequest, raw: requests.Response, attempt: int) -> None:
        """Wait before retrying a 429, within the run budget; a long wait is announced. On a paced run the
        wait is the quota's (its window resets), not a sign of a target that stopped answering."""
        wait, why = self.pacer.refused(raw.headers, attempt)
        paced = self.pacer.paced  # the 429 itself may be the first answer to announce the quota
        left = self.max_429_retries - attempt
        path = REDACT(urlsplit(str(request.url)).path)
        remaining = self.guard.remaining()
        if left == 0:
            return
        breaker = self.guard.breaker
        if remaining is not None and wait >= remaining:
            raise RateLimited(f"{request.method} {path}: 429 Too Many Requests, and waiting {wait:.0f} s ({why}) "
                              f"would outlast the run budget")
        if not (paced or self.pacer.in_cleanup) and breaker.waited + wait > breaker.RATE_LIMIT_PATIENCE:
            raise self.guard.stop(f"target stopped answering after {self.guard.sent} requests: rate limited (429) "
                                  f"for {breaker.waited:.0f} s with no other answer, and told to wait {wait:.0f} s "
                                  f"more ({why})", "rate-limited")
        if wait >= 1 and not paced:  # on a paced run the pacer tells the first 429, and the run goes on at its pace
            self.guard.on_wait(f"rate limited, waiting {wait:.0f} s ({why}), {left} tr{'y' if left == 1 else 'ies'} left")
        breaker.waited += wait
        self.pacer.hold(wait)

    def _send_once(self, request: requests.PreparedRequest, timeout: float, kwargs: dict[str, Any]) -> requests.Response:
        """One exchange under a total deadline (connect, headers and the whole body), the body read up to the cap."""
        remaining = self.guard.remaining()
        total = timeout if remaining is None else max(0.05, min(timeout, remaining))
        what = REDACT(f"{request.method} {urlsplit(str(request.url)).path}")
        exchange = self._exchange(request)
        self.guard.count_sent()
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
                failure = transport_failure(error, what, request, total, headers_in, received)
            exchange.elapsed_ms = (time.monotonic() - started) * 1000
            exchange.error = REDACT(str(failure))
            self.log.count_failed()
            self._record(exchange, request, started, None, ticket)
            if failure.kind == "timeout" and remaining is not None and remaining < timeout:
                raise self.guard.budget_spent() from None
            trip = self.guard.breaker.failed(failure.kind)
            if trip:
                self.guard.stopped_answering(trip)
            raise failure from None
        exchange.elapsed_ms = (time.monotonic() - started) * 1000
        exchange.status, exchange.reason = raw.status_code, raw.reason or ""
        exchange.response_headers = {k.lower(): v for k, v in redact_headers(raw.headers).items()}
        exchange.response_body = body_text(raw._content) or ""
        framing = getattr(getattr(raw.raw, "_original_response", None), "framing", None)
        exchange.framing = REDACT(framing) if framing else None
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


def _chunks(raw: requests.Response, deadline: float) -> Iterator[bytes]:
    """The body as it arrives, each socket read given at most the time left before `deadline`."""
    stream = raw.raw
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BodyStalled()
        sock = getattr(getattr(stream, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(left)
        chunk = stream.read1(_CHUNK, decode_content=True)  # what has arrived: a drip cannot outlast the deadline
        if not chunk:
            return
        yield chunk
