"""How fast the run sends: the spacing of requests (--rate-limit) and the wait before retrying a 429."""

from __future__ import annotations

import threading
import time

MAX_RETRY_AFTER = 60.0  # longest wait for one 429 before retrying


class RateLimiter:
    """Spaces requests to at most `rate` per second (0: no limit), shared by all sessions of a run."""

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


def retry_after(header: str | None, attempt: int) -> tuple[float, str]:
    """Seconds to wait before retrying a 429, and why: the server's Retry-After (capped), else back-off."""
    if header and header.strip().isdigit():
        return min(float(header.strip()), MAX_RETRY_AFTER), "Retry-After"
    return min(0.5 * 2**attempt, 30.0), "back-off"
