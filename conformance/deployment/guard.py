"""What every session of one run shares to keep the run bounded: the circuit breaker, the run budget, the
count of requests sent, and the run's stop (once stopped, every request fails fast)."""

from __future__ import annotations

import threading
import time
from typing import Callable

from conformance.deployment.failures import TargetFailed


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
        """Count an answer; returns why the breaker trips, or None."""
        with self._lock:
            self.failures.clear()
            self.unavailable = self.unavailable + 1 if status in self.UNAVAILABLE_STATUSES else 0
            if status != 429:
                self.waited = 0.0
            if self.unavailable >= self.UNAVAILABLE:
                return f"{self.unavailable} answers in a row of 429/502/503/504"
        return None


class RunGuard:
    """The run's breaker and budget, shared by the sessions of every thread of the run. `on_wait` is told
    about long waits and about the run stopping (one line each)."""

    def __init__(self, budget: float | None = None, on_wait: Callable[[str], None] | None = None) -> None:
        self._lock = threading.Lock()
        self.breaker = Breaker()
        self.deadline = time.monotonic() + budget if budget else None  # the run budget, monotonic
        self.on_wait = on_wait or (lambda message: None)
        self.stopped: TargetFailed | None = None  # set once: the run sends nothing more
        self.sent = 0  # requests sent by every session of the run

    def count_sent(self) -> None:
        with self._lock:
            self.sent += 1

    def stop(self, message: str, kind: str) -> TargetFailed:
        """Stop sending: every later request fails fast with this error (the first reason is kept)."""
        with self._lock:
            if self.stopped is None:
                self.stopped = TargetFailed(message, kind)
                self.on_wait(message)
            return self.stopped

    def stopped_answering(self, why: str) -> TargetFailed:
        return self.stop(f"target stopped answering after {self.sent} requests: {why}", "stopped-answering")

    def budget_spent(self) -> TargetFailed:
        return self.stop(f"the run budget ran out after {self.sent} requests (--run-budget)", "run-budget")

    def reopen(self, seconds: float) -> None:
        """Allow requests again for `seconds` (the cleanup after a stop), with a fresh breaker."""
        self.stopped = None
        self.breaker = Breaker()
        self.deadline = time.monotonic() + seconds

    def remaining(self) -> float | None:
        """Seconds left of the run budget (None: no budget)."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def check_open(self) -> None:
        """Raise the run's stop, if any; a run budget spent stops the run (also between requests)."""
        if self.stopped is not None:
            raise self.stopped
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            raise self.budget_spent()

    def stopped_run(self) -> TargetFailed | None:
        """Why the run stopped sending, or None."""
        try:
            self.check_open()
        except TargetFailed as error:
            return error
        return None
