"""One request and its answer as the reports show it (secrets already redacted), with its curl line, and the
log of the latest exchanges that a test's report attaches."""

from __future__ import annotations

import shlex
import threading
from collections import deque
from dataclasses import dataclass, field

from conformance.deployment.redaction import REDACT

MAX_BODY_CHARS = 4000  # of a body kept in an exchange


def body_text(body: bytes | str | None) -> str | None:
    """A request or response body as an exchange keeps it: text, redacted, cut to MAX_BODY_CHARS."""
    if body is None:
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    return REDACT.cut(body, MAX_BODY_CHARS)


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
    error: str | None = None  # why the exchange failed (no status), redacted
    framing: str | None = None  # how the answer broke HTTP/1.1 framing (see transport.py), redacted

    def curl(self) -> str:
        """The request as a curl command; a configured token is named by its environment variable."""
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
    """The recent exchanges, kept per test for the report, and the count of every exchange; thread-safe."""

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

    def count_failed(self) -> None:
        """Count an exchange that failed (no answer to keep)."""
        with self._lock:
            self.total += 1

    def last_in_thread(self) -> Exchange | None:
        """The latest exchange of the calling thread (background watches send their own)."""
        return getattr(self._last, "exchange", None)

    def drain(self) -> list[Exchange]:
        with self._lock:
            items = list(self._items)
            self._items.clear()
            return items
