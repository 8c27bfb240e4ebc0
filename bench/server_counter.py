"""Server-side counts of a reference server: every request it answers and every call its store takes.

Two ways to use it:

* in the benchmark process: `start_counting_reference(settings)` starts a reference server (as
  `conformance.reference.start_reference` does) whose app is wrapped by `RequestCounter`;
* inside a suite run with the embedded reference: load this module as a pytest plugin
  (`-p server_counter`, with `bench/` on `PYTHONPATH`) and set `CALLS_BENCH_COUNTS` to a file path;
  the embedded reference the suite starts is then counted, and the counts are written to that file
  as JSON when pytest ends.

The reference itself is not changed: a pure ASGI middleware is added to its Starlette app before the
app serves its first request, and the store's `add` is wrapped on that one store instance.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import conformance.reference.server as reference_server
from conformance.reference.settings import ReferenceSettings
from conformance.reference.testing import record_stored_calls

COUNTS_ENV = "CALLS_BENCH_COUNTS"
READY_CHECK_PATH = reference_server.API_PREFIX + "/ready-check"  # start_reference's own probe: not counted


class RequestCounter:
    """Counts what one reference server saw. Thread-safe; `snapshot()` gives plain data."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.by_method: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()
        self.by_agent: Counter[str] = Counter()  # User-Agent product name: who sent it
        self.creates_accepted = 0  # POST answered 2xx
        self.stored: list[Any] = []  # records the store took after seeding (the calls created on the target)
        self.first: float | None = None  # time.time() of the first and last request
        self.last: float | None = None

    def request_done(self, method: str, status: int | None, agent: str, started: float, ended: float) -> None:
        with self._lock:
            self.requests += 1
            self.by_method[method] += 1
            self.by_agent[agent] += 1
            self.by_status[str(status) if status is not None else "none"] += 1
            if method == "POST" and status is not None and 200 <= status < 300:
                self.creates_accepted += 1
            self.first = started if self.first is None else min(self.first, started)
            self.last = ended if self.last is None else max(self.last, ended)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            span = (self.last - self.first) if self.first is not None and self.last is not None else 0.0
            return {
                "requests": self.requests,
                "by_method": dict(self.by_method),
                "by_status": dict(sorted(self.by_status.items())),
                "by_agent": dict(self.by_agent),
                "creates_accepted": self.creates_accepted,
                "calls_stored": len(self.stored),
                "first_request": self.first,
                "last_request": self.last,
                "request_span_seconds": round(span, 3),
            }


class CountingMiddleware:
    """Pure ASGI middleware: one count per HTTP request, with the status it was answered with."""

    def __init__(self, app: Any, counter: RequestCounter) -> None:
        self.app = app
        self.counter = counter

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("path") == READY_CHECK_PATH:
            await self.app(scope, receive, send)
            return
        started = time.time()
        status: list[int] = []
        agent = "none"
        for name, value in scope.get("headers", []):
            if name == b"user-agent":
                agent = value.decode("latin-1").split("/")[0].strip() or "none"

        async def sending(message: Any) -> None:
            if message.get("type") == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.counter.request_done(str(scope.get("method", "")), status[0] if status else None, agent,
                                      started, time.time())


def instrument(app: Any, counter: RequestCounter) -> Any:
    """Count the requests of a reference app (before it has served anything) and the calls its store takes."""
    app.add_middleware(CountingMiddleware, counter=counter)
    counter.stored = record_stored_calls(app.state.store)  # seeded calls were added before
    return app


_PATCH_LOCK = threading.Lock()


def start_counting_reference(settings: ReferenceSettings) -> tuple[Any, RequestCounter]:
    """A running reference server (see `start_reference`) and the counter of what it serves."""
    counter = RequestCounter()
    with _PATCH_LOCK:
        original = reference_server.create_app
        reference_server.create_app = lambda s, clock=None: instrument(original(s, clock), counter)
        try:
            running = reference_server.start_reference(settings)
        finally:
            reference_server.create_app = original
    return running, counter


# --- as a pytest plugin inside a suite run (embedded reference) ----------------------------------

_COUNTERS: list[RequestCounter] = []


def _patch_embedded() -> None:
    original = reference_server.create_app
    if getattr(original, "_counted", False):
        return

    def counted_create_app(settings: ReferenceSettings, clock: Any = None) -> Any:
        counter = RequestCounter()
        _COUNTERS.append(counter)
        return instrument(original(settings, clock), counter)

    counted_create_app._counted = True  # type: ignore[attr-defined]
    reference_server.create_app = counted_create_app


if os.environ.get(COUNTS_ENV):
    _patch_embedded()  # at import: `-p server_counter` is imported before any pytest_configure runs


def pytest_unconfigure(config: Any) -> None:
    path = os.environ.get(COUNTS_ENV)
    if not path:
        return
    servers = [c.snapshot() for c in _COUNTERS]
    Path(path).write_text(json.dumps({"servers": servers}, indent=2) + "\n", encoding="utf-8")
