"""The request quota of the reference server, counted as jambonz's api-server counts it (express-rate-limit 7 and
its MemoryStore): one fixed window shared by every client, which begins with the first request after the previous
window ended and lasts the quota's window; past the limit every request is refused until the window resets.
"""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

from conformance.contract.quota import Quota
from conformance.reference.clock import Clock

#: express-rate-limit's default message for a refused request.
TOO_MANY_REQUESTS = "Too many requests, please try again later."


class Take(NamedTuple):
    """What counting one request gave."""

    allowed: bool
    remaining: int  # requests left in this window (0 once it is used up)
    reset_seconds: float  # until the window resets


class FixedWindow:
    """Counts requests against `quota` in fixed windows on `clock`. Thread-safe."""

    def __init__(self, quota: Quota, clock: Clock) -> None:
        self.quota = quota
        self._clock = clock
        self._lock = threading.Lock()
        self._hits = 0
        self._resets_at: float | None = None
        self.refused = 0  # requests refused with 429 since the server started

    def take(self) -> Take:
        """Count one request; refused ones count too, as express-rate-limit counts them."""
        with self._lock:
            now = self._clock.now()
            if self._resets_at is None or now >= self._resets_at:
                self._resets_at, self._hits = now + self.quota.window, 0
            self._hits += 1
            allowed = self._hits <= self.quota.limit
            self.refused += not allowed
            return Take(allowed, max(0, self.quota.limit - self._hits), self._resets_at - now)


def quota_headers(quota: Quota, taken: Take, announce: bool = True) -> dict[str, str]:
    """The headers of an answer: the draft-6 RateLimit fields express-rate-limit sends with `standardHeaders: true`
    (when `announce`), and Retry-After on a refused request (always: a client needs it to wait)."""
    reset = math.ceil(round(taken.reset_seconds, 6))  # round first: 300.00000000000006 is 300
    headers = {}
    if announce:
        headers = {"RateLimit-Policy": quota.policy(), "RateLimit-Limit": str(quota.limit),
                   "RateLimit-Remaining": str(taken.remaining), "RateLimit-Reset": str(reset)}
    if not taken.allowed:
        headers["Retry-After"] = str(max(1, reset))
    return headers
