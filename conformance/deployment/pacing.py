"""How fast the run sends: to the quota the user gives (--rate-limit) and to the one the target announces.

A deployment's quota is shared with its real traffic (jambonz: 600 requests per 5 minutes for all clients,
then 429 until the window resets), so the run is a guest. The `Pacer` keeps the run's own requests within a
given quota in every window of its length (then no fixed window of the target, wherever it starts, sees
more), and, when the target announces its quota (RateLimit-* fields, read by conformance/contract/quota.py),
never spends the last of it: a share stays with the deployment's other clients and enough for the cleanup to
delete the calls the run created. A 429 nonetheless (someone else spent the quota) is waited out to the
window's reset, told once, and the run goes on at that pace.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Callable, Mapping

from conformance.contract.quota import Quota, read_announced

MAX_RETRY_AFTER = 900.0  # longest wait for one 429 before retrying (the run budget may end it sooner)
OTHERS_SHARE = 0.1  # of an announced quota, left to the deployment's other clients
SAME_WINDOW = 1.5  # seconds: two announcements whose resets differ by less speak of the same window
#: Added to a given quota's window: requests sent a window apart may arrive less than one apart.
WINDOW_MARGIN = 0.25


class Pacer:
    """Paces the requests of every session of one run (see the module's docstring). `wait()` before each
    request, `answered()` with each answer's headers."""

    def __init__(self, quota: Quota | None = None, on_wait: Callable[[str], None] | None = None) -> None:
        self.given = quota  # --rate-limit
        self.on_wait = on_wait or (lambda message: None)
        self.announced: Quota | None = None  # the quota the target's fields describe, once they did
        self.cleanup_reserve = 0  # requests kept for the cleanup (the calls created, and its lists)
        self.in_cleanup = False  # the cleanup may spend every request left
        self.waited = 0.0  # seconds during which some request of the run waited for the quota, 429s included
        self.refusals = 0  # 429 answers
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()  # when the run's requests in the last window of `given` went out
        self._remaining: int | None = None  # requests left of the announced quota (the run's estimate)
        self._reset_at = 0.0  # monotonic: when the announced window resets
        self._told: set[float] = set()  # windows whose wait was announced
        self._hold_until = 0.0  # monotonic: after a 429, nothing goes out before then, from any thread
        self._waited_until = 0.0  # monotonic: the end of the latest wait counted in `waited`

    @property
    def paced(self) -> bool:
        return self.given is not None or self.announced is not None

    def describe(self) -> str:
        if self.announced is not None:
            return f"{self.announced} as the target announces"
        if self.given is not None:
            return f"{self.given} as --rate-limit gives"
        return "no quota known"

    def window(self) -> float:
        """Seconds of the quota's window (the longest a wait for it can last), 0 when no quota is known."""
        quota = self.announced or self.given
        return quota.window if quota else 0.0

    def floor(self) -> int:
        """Requests of the announced quota the run leaves unspent now: a share for the deployment's other clients
        and the cleanup's reserve, yet at most half a quota (a run under a tiny quota still goes on)."""
        if self.in_cleanup:
            return 0
        if self.announced is None:
            return 1 + self.cleanup_reserve
        others = math.ceil(self.announced.limit * OTHERS_SHARE)
        return min(others + self.cleanup_reserve, self.announced.limit // 2)

    def wait(self, within: float | None = None) -> None:
        """Block until one more request keeps within the quotas, then count it as sent; but return once `within`
        seconds are over (the run budget: the caller then stops the run)."""
        deadline = None if within is None else time.monotonic() + within
        while True:
            with self._lock:
                now = time.monotonic()
                delay, why = self._delay(now)
                if delay <= 0:
                    self._take(now)
                    return
                told = self._reset_at if why == "announced" else None
                if told is not None and told not in self._told and round(delay) >= 1:
                    self._told.add(told)
                    self.on_wait(f"pacing to the target's quota ({self.describe()}): {self._remaining} requests "
                                 f"left, kept for others and the cleanup; waiting {delay:.0f} s for its window to reset")
            if deadline is not None and now + delay >= deadline:
                self.pause(max(0.0, deadline - now))
                return
            self.pause(delay)

    def pause(self, seconds: float) -> None:
        """Sleep for the quota; `waited` counts the time any request of the run waited, overlaps once."""
        with self._lock:
            end = time.monotonic() + seconds
            self.waited += max(0.0, end - max(self._waited_until, time.monotonic()))
            self._waited_until = max(self._waited_until, end)
        time.sleep(seconds)

    def _delay(self, now: float) -> tuple[float, str]:
        if now < self._hold_until:
            return self._hold_until - now, "refused"
        if self.given is not None:
            while self._sent and self._sent[0] <= now - self.given.window - WINDOW_MARGIN:
                self._sent.popleft()
            if len(self._sent) >= self.given.limit:
                return self._sent[0] + self.given.window + WINDOW_MARGIN - now, "given"
        if self._remaining is not None:
            if now >= self._reset_at:  # a new window: its whole quota, until an answer says otherwise
                self._remaining = self.announced.limit if self.announced else None
                self._reset_at = now + (self.announced.window if self.announced else 0.0)
            if self._remaining is not None and self._remaining <= self.floor():
                return self._reset_at - now, "announced"
        return 0.0, ""

    def _take(self, now: float) -> None:
        if self.given is not None:
            self._sent.append(now)
        if self._remaining is not None:
            self._remaining -= 1

    def answered(self, headers: Mapping[str, str]) -> None:
        """Learn from an answer what the target says of its quota (nothing when it says nothing)."""
        announced = read_announced(headers)
        if announced is None:
            return
        now = time.monotonic()
        with self._lock:
            if announced.quota is not None:
                self.announced = announced.quota
            reset_at = now + announced.reset
            if self._remaining is not None and abs(reset_at - self._reset_at) < SAME_WINDOW:
                # The same window: answers of requests sent earlier may come later; the lower count is the truer.
                self._remaining = min(self._remaining, announced.remaining)
            else:
                self._remaining, self._reset_at = announced.remaining, reset_at

    def refused(self, headers: Mapping[str, str], attempt: int) -> tuple[float, str]:
        """Seconds to wait after a 429, and why: the server's Retry-After, else the announced window's reset,
        else back-off (the session has read the answer's fields already). On a paced run the first one is told,
        with the quota that was assumed."""
        wait, why = retry_after(headers.get("Retry-After"), attempt)
        with self._lock:
            self.refusals += 1
            if why == "back-off" and self._remaining is not None and self._reset_at > time.monotonic():
                wait, why = min(self._reset_at - time.monotonic(), MAX_RETRY_AFTER), "RateLimit-Reset"
            first = self.refusals == 1 and self.paced
        if first:
            self.on_wait(f"rate limited (429) although the run kept to {self.describe()}: other clients share "
                         f"the quota; waiting {wait:.0f} s ({why}), then going on at that pace")
        return wait, why

    def hold(self, seconds: float) -> None:
        """Wait out a 429: no request of the run, from any thread, goes out before then."""
        with self._lock:
            self._hold_until = max(self._hold_until, time.monotonic() + seconds)
        self.pause(seconds)

    def outlook(self, requests: int) -> str | None:
        """What the pace means for a run of about `requests` requests, in a line; None when the run is not paced."""
        if not self.paced:
            return None
        with self._lock:
            remaining, reset = self._remaining, max(0.0, self._reset_at - time.monotonic())
        waits = 0.0
        kept = ""
        if self.announced is not None and remaining is not None:
            usable = max(0, self.announced.limit - self.floor())
            kept = (f" ({remaining} left in this window; {self.floor()} kept for other clients and the cleanup)")
            short = requests - max(0, remaining - self.floor())
            if short > 0:
                waits = reset + (math.ceil(short / usable) - 1) * self.announced.window if usable else float("inf")
        if self.given is not None and requests > self.given.limit:
            waits = max(waits, (math.ceil(requests / self.given.limit) - 1) * self.given.window)
        timing = "no wait for the quota expected" if not waits else f"at least {waits:.0f} s of waiting for the quota"
        return f"pacing to {self.describe()}{kept}: about {requests} requests, {timing}"

    def summary(self) -> dict[str, object]:
        """For verdict.json: the quota the run kept to, how long it waited for it, and the 429s it met."""
        return {"quota": str(self.announced or self.given) if self.paced else None,
                "source": "announced" if self.announced else ("--rate-limit" if self.given else None),
                "waited_seconds": round(self.waited, 1), "answers_429": self.refusals}


def retry_after(header: str | None, attempt: int) -> tuple[float, str]:
    """Seconds to wait before retrying a 429, and why: the server's Retry-After (capped), else back-off."""
    if header and header.strip().isdigit():
        return min(float(header.strip()), MAX_RETRY_AFTER), "Retry-After"
    return min(0.5 * 2**attempt, 30.0), "back-off"
