"""What the run follows over real time, in background threads: a `Watch`.

Some promises take real time to check: a created call must end (the lifecycle), an ended call must stay
visible for the window and then go (the retention window). Waiting for them one after the other would
make the run as long as their sum plus everything else; instead each is a `Watch`, started with the
session (before collection, from what the selection will need) in a thread of its own, and the tests
that judge it run last (the runner orders them by when their watch is expected to be done) and only
wait for what is left.

A watch is cut into parts with one job each:

- its plan: when to send what (`window_plan.window_plan`, `lifecycle.follow_life`);
- its sampler: how one request is sent and what its answer shows (`sampler.CallSampler`, `Sample`);
- its record: what it saw and what that proves (`window_record.WindowRecord`; the lifecycle's `Created`,
  `Life`, `Deletion`), read by the tests, which alone judge.

Every request of a watch goes through a `TargetSession` of its own (a requests session is not shared
between threads) that shares the run's rate limiter, guard (circuit breaker, run budget) and history,
and its calls are taken from the run's one call budget. Every wait is bounded, so a watch always
finishes.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from conformance.evidence.observed import ObservedClient
from conformance.deployment.api import ApiClient
from conformance.deployment.exchange import ExchangeLog


def background_client(run: Any) -> ApiClient:
    """A client of the main account for a watch's thread: a session of its own (requests sessions are not
    shared between threads) and a log of its own (its exchanges are not those of the test running
    meanwhile), sharing the run's rate limiter, breaker, run budget and history."""
    session = run.api.session.sibling(ExchangeLog(keep=20))
    return ObservedClient(run.config.base_url, run.config.account_sid, run.config.token, session)



class Watch:
    """A background observation: a thread that follows something over time and records what it saw.

    Subclasses implement `observe()` (the thread's work, using `sleep_until` for every wait),
    `expected_done()` and `waiting_for()`. Whatever happens, `done` is set in the end, with
    `skip_reason` saying why the observation could not be completed, if so.
    """

    name = "watch"

    def __init__(self) -> None:
        self.client: ApiClient | None = None
        self.timeline: Any = None  # the run's conformance.evidence.timeline.Timeline, once added to it
        self.phase = "starting"
        self.skip_reason: str | None = None
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._counted: Callable[[int], None] | None = None

    # Lifecycle --------------------------------------------------------------------------------
    def attach(self, run: Any) -> None:
        """Give the watch its client and count its requests into the run's when it stops."""
        self.client = background_client(run)

        def count(total: int) -> None:
            run.log.total += total

        self._counted = count

    def start(self) -> None:
        self._thread = threading.Thread(target=self._guarded, name=f"calls-{self.name}", daemon=True)
        self._thread.start()

    def _guarded(self) -> None:
        try:
            self.observe()
        except Exception as error:  # the thread must never die silently
            self.give_up(f"the {self.name} watch failed: {type(error).__name__}: {error}")
        finally:
            self.finished()

    def observe(self) -> None:
        raise NotImplementedError

    def finished(self) -> None:
        """Set every event a test may wait for (called once the thread ends, whatever happened)."""
        self.done.set()

    def give_up(self, reason: str) -> None:
        self.skip_reason = self.skip_reason or reason
        self.phase = "stopped"
        self.note(f"stopped: {reason}")
        self.finished()

    def note(self, what: str) -> None:
        if self.timeline is not None:
            self.timeline.note(self.name, what)

    def stop(self) -> None:
        """Stop the thread (bounded by one request timeout) and account for its requests."""
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=(self.client.session.timeout if self.client else 0.0) + 2.0)
        if not self.done.is_set():
            self.give_up(f"the run ended before the {self.name} watch finished")
        if self._counted is not None and self.client is not None:
            self._counted(self.client.session.log.total)
            self._counted = None
            self.client.session.close()

    def sleep_until(self, when: float) -> bool:
        """Sleep until monotonic `when`; False when the watch was stopped meanwhile, or the run stopped sending
        (the target failed it: the watch gives up with that reason)."""
        while True:
            stopped = self.client.session.guard.stopped_run() if self.client else None
            if stopped is not None:
                self.give_up(f"TARGET FAILED: {stopped}")
                return False
            remaining = when - time.monotonic()
            if remaining <= 0:
                return not self._stop.is_set()
            if self._stop.wait(min(remaining, 1.0)):
                return False

    # What a waiting test needs ---------------------------------------------------------------
    def expected_done(self) -> float | None:
        """Monotonic time by which the watch should be done (None: not known yet)."""
        return None

    def deadline(self) -> float:
        """Monotonic time after which a waiting test stops waiting, whatever happened."""
        raise NotImplementedError

    def waiting_for(self) -> str:
        """One line: what a test waiting for this watch is waiting for, and how far it is."""
        return f"{self.name}: {self.phase}"

    def wait(self, event: threading.Event, say: Callable[[str, bool], None] | None = None) -> None:
        """Wait for `event` (one of the watch's), bounded by `deadline()`; `say(line, final)` shows progress
        (rewriting one line where the terminal can)."""
        deadline = self.deadline()
        next_report = time.monotonic()
        said = False
        while not event.is_set():
            now = time.monotonic()
            if now >= deadline:
                self.give_up(f"the {self.name} watch did not finish in time")
                break
            if say is not None and now >= next_report:
                say(f"waiting for {self.waiting_for()}", False)
                said = True
                next_report = now + 1.0
            event.wait(timeout=min(1.0, max(0.05, deadline - now)))
        if said and say is not None:
            say(f"done waiting: {self.name} {self.phase}", True)
