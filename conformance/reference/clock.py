"""Time for the reference server: every lifecycle stage and every expiry is computed from a clock.

`Clock` reads the monotonic clock (seconds, arbitrary origin) and the wall clock for timestamps
shown to clients. `FakeClock` stands still until a test moves it with `advance()`, so a test can
walk a call through its lifecycle, or past the retention window, without sleeping.
"""

from __future__ import annotations

import threading
import time


class Clock:
    """Real time: `now()` is monotonic seconds, `wall()` is seconds since the epoch."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()


class FakeClock(Clock):
    """A clock that only moves when told to. Thread-safe."""

    def __init__(self, start: float = 1_000.0, wall_start: float = 1_767_225_600.0) -> None:
        self._lock = threading.Lock()
        self._now = float(start)
        self._offset = float(wall_start) - float(start)

    def now(self) -> float:
        with self._lock:
            return self._now

    def wall(self) -> float:
        with self._lock:
            return self._now + self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds` (never backward); returns the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backward")
        with self._lock:
            self._now += float(seconds)
            return self._now
