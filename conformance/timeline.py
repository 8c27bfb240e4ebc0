"""What the run follows over real time: background watches, and the timeline of the run in one place.

Some promises take real time to check: a created call must end (the lifecycle), an ended call must stay
visible for the window and then go (the retention window). Waiting for them one after the other would
make the run as long as their sum plus everything else; instead each is a `Watch`, started with the
session (before collection, from what the selection will need) in a thread of its own, and the tests that judge it run last (plugin.py orders them by when
their watch is expected to be done) and only wait for what is left.

A watch is cut into parts with one job each:

- its plan: when to send what (each watch's schedule: `visibility.window_plan`, `lifecycle.follow_life`);
- its sampler: how one request is sent and what its answer shows (`CallSampler`, `Sample`);
- its record: the samples and brackets it collected, read by the tests, which alone judge.

Every request of a watch goes through a `TargetSession` of its own (a requests session is not shared
between threads) that shares the run's rate limiter, circuit breaker, run budget and history, and its
calls are taken from the run's one call budget. Every wait is bounded, so a watch always finishes.

`Timeline` is where a reader sees what happened when: every watch notes its steps there (created,
ended, sampled, deleted, gone), and `-v` prints it at the end of the run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from conformance.client import ApiClient, Exchange, ExchangeLog, RateLimited, TargetSession, TargetUnavailable

#: Seconds between two progress lines of a long wait when the terminal cannot rewrite its last line.
PROGRESS_EVERY = 15.0


class Timeline:
    """The run's timeline: what each watch did, and when (seconds since the run started). Thread-safe."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self.events: list[tuple[float, str, str]] = []
        self.watches: dict[str, "Watch"] = {}

    def add(self, watch: "Watch") -> "Watch":
        self.watches[watch.name] = watch
        watch.timeline = self
        return watch

    def note(self, who: str, what: str) -> None:
        with self._lock:
            self.events.append((time.monotonic() - self.started, who, what))

    def lines(self) -> list[str]:
        with self._lock:
            events = sorted(self.events)
        return [f"{at:7.2f} s  {who:<17} {what}" for at, who, what in events]

    def stop(self) -> None:
        for watch in self.watches.values():
            watch.stop()


# --- sampling one call ---------------------------------------------------------------------------


@dataclass
class Sample:
    """One request about one call and what it showed."""

    kind: str  # "get" or "list"
    sent: float  # monotonic
    received: float  # monotonic
    status: int | None = None
    present: bool | None = None  # the call was in the answer (None: the answer could not tell)
    call_status: str | None = None
    exchange: Exchange | None = None
    error: str | None = None
    response: Any = None  # the Response, when there was one
    call: Any = None  # the decoded call object of a 2xx answer (a get's body, a list's item)

    @property
    def latency(self) -> float:
        return self.received - self.sent


class CallSampler:
    """Sends a get or a list about one call and says what the answer shows (the run's client records every
    status it sees in conformance.visibility.SEEN)."""

    def __init__(self, client: ApiClient, sid: str) -> None:
        self.client = client
        self.sid = sid

    def _send(self, kind: str, action: Callable[[], Any]) -> tuple[Sample, Any]:
        sent = time.monotonic()
        try:
            response = action()
        except (TargetUnavailable, RateLimited) as error:
            return Sample(kind, sent, time.monotonic(), error=f"{type(error).__name__}: {error}"), None
        sample = Sample(kind, sent, time.monotonic(), response.status, exchange=response.exchange, response=response)
        return sample, response

    def get(self) -> Sample:
        sample, response = self._send("get", lambda: self.client.get_call(self.sid))
        if response is None:
            return sample
        if 200 <= response.status < 300:
            body = response.success_json()
            if not isinstance(body, dict):
                sample.error = f"the {response.status} answer is not a JSON object"
            elif body.get("call_sid") != self.sid:
                sample.error = f"the {response.status} answer is another call ({body.get('call_sid')!r})"
                sample.call = body
            else:
                sample.present, sample.call = True, body
                status = body.get("call_status")
                sample.call_status = status if isinstance(status, str) else None
        elif response.status in (404, 410):
            sample.present = False
        else:
            sample.error = f"answered {response.status}"
        return sample

    def list(self) -> Sample:
        sample, response = self._send("list", self.client.list_calls)
        if response is None:
            return sample
        body = response.success_json()
        if isinstance(body, list):
            match = [c for c in body if isinstance(c, dict) and c.get("call_sid") == self.sid]
            sample.present = bool(match)
            if match:
                sample.call = match[0]
                if isinstance(match[0].get("call_status"), str):
                    sample.call_status = match[0]["call_status"]
        else:
            sample.error = f"answered {response.status}" if response.status != 200 else "the 200 answer is not a JSON array"
        return sample


def background_client(run: Any) -> ApiClient:
    """A client of the main account for a watch's thread: a session of its own (requests sessions are not
    shared between threads) and a log of its own (its exchanges are not those of the test running
    meanwhile), sharing the run's rate limiter, breaker, run budget and history."""
    shared = run.api.session
    session = TargetSession(timeout=shared.timeout, verify=shared.verify, limiter=shared.limiter,
                            log=ExchangeLog(keep=20), token_envs=dict(shared.token_envs),
                            max_body_bytes=shared.max_body_bytes, parent=shared,
                            history=getattr(run, "history", None))
    from conformance.visibility import ObservedClient

    return ObservedClient(run.config.base_url, run.config.account_sid, run.config.token, session)


# --- a watch -------------------------------------------------------------------------------------


class Watch:
    """A background observation: a thread that follows something over time and records what it saw.

    Subclasses implement `observe()` (the thread's work, using `sleep_until` for every wait),
    `expected_done()` and `waiting_for()`. Whatever happens, `done` is set in the end, with
    `skip_reason` saying why the observation could not be completed, if so.
    """

    name = "watch"

    def __init__(self) -> None:
        self.client: ApiClient | None = None
        self.timeline: Timeline | None = None
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
            stopped = getattr(self.client.session, "stopped_run", lambda: None)() if self.client else None
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


def progress_writer(config: Any) -> Callable[[str, bool], None]:
    """`say(line, final)` for `Watch.wait`: one terminal line at once, then one every PROGRESS_EVERY
    seconds (the line says how far the wait is). Shown even while the test's output is captured."""
    last = [float("-inf")]

    def say(line: str, final: bool) -> None:
        reporter = config.pluginmanager.getplugin("terminalreporter")
        capture = config.pluginmanager.getplugin("capturemanager")
        now = time.monotonic()
        if reporter is None or final or now - last[0] < PROGRESS_EVERY:
            return
        last[0] = now
        if capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(line)
        else:
            reporter.write_line(line)

    return say
