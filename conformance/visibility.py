"""The retention-window watch: one created call, followed from its creation until its record expires.

The document promises that an ended call stays visible for ten minutes (the window, a setting of the
run). Checking that takes real time, so the watch starts with the session, runs in a background
thread beside the rest of the run, and the window tests (ordered last) only judge what it observed:

1. create one call (it counts against the run's call budget);
2. poll it with get until it reaches a terminal status, which brackets the moment it ended between
   the last request that still saw it active and the first that saw it ended
   (`end_lower` <= end <= `end_upper`, in seconds of the monotonic clock);
3. sample get AND list at several points of the window, the last one planned to complete shortly
   before `end_lower + window`. A sample counts as inside the window only when it was sent after
   `end_upper` and its answer arrived before `end_lower + window`: whatever the true end, the server
   handled the request inside the window;
4. once the window has certainly closed (`end_upper + window`), look for it with a get (and a list
   when the get no longer finds it) a few times during the grace period (`expiry_plan`); the first
   look that finds it gone in both ends the watch. The last look, at `end_upper + window + grace`,
   sends both whatever it finds: a call still visible then has outstayed the window (D-48).

It is a `conformance.timeline.Watch`: its plan is `window_plan` (when to sample), its sampler the
timeline's `CallSampler` (how a get or list is taken), its record the brackets and samples below; the
tests of conformance/suite/test_visibility.py judge them. Every request is bounded (the client's
timeout) and so is every wait (the call timeout, the window, the grace period), so the watch always
finishes.

The module also answers questions other tests ask: until when is a call certain to stay visible
(`visible_until`, `find_lasting_call`), which statuses did the run's requests see for a call,
whoever sent them (`SEEN`), and which calls did the run delete (`DELETED`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from collections.abc import Collection
from typing import Any

from conformance.checks import ACTIVE_STATUSES, TERMINAL_STATUSES
from conformance.client import ApiClient, Exchange
from conformance.timeline import CallSampler, Sample, Watch

#: Fractions of the window at which the call is sampled (the last sample is planned separately,
#: just before the window closes).
SAMPLE_FRACTIONS = (0.25, 0.5, 0.75)
#: Fractions of the grace period, after the window has certainly closed, at which the watch looks for
#: the call gone; the look at 1.0 (window and grace passed) is the one a lingering call fails.
EXPIRY_FRACTIONS = (0.05, 0.3, 1.0)
#: Consecutive failed requests (transport errors, 5xx, 429 after retries) after which the watch gives up.
MAX_CONSECUTIVE_ERRORS = 5


def poll_interval(window: float) -> float:
    """Seconds between polls while waiting for the call to end: proportional to the window."""
    return min(15.0, max(0.2, window / 20.0))


# --- how long a call is certain to stay visible ------------------------------------------------


def visible_until(call: Any, observed_at: float, window: float, created_at: float | None = None) -> float | None:
    """Wall-clock time until which `call` must stay visible, or None when it cannot be known.

    A call seen active at `observed_at` ends at that time or later, so it must stay visible until at
    least `observed_at + window`. A call the run created at `created_at` ended after that, hence stays
    visible until at least `created_at + window`. An ended call of unknown age may expire any moment.
    """
    bounds = []
    if isinstance(call, dict) and call.get("call_status") in ACTIVE_STATUSES:
        bounds.append(observed_at + window)
    if created_at is not None:
        bounds.append(created_at + window)
    return max(bounds) if bounds else None


def lasting_candidates(calls: list[Any], observed_at: float, window: float, created: dict[str, float],
                       exclude: Collection[str] = (), need: float = 0.0) -> list[tuple[str, float | None, bool]]:
    """Listed `calls` as (sid, visible_until, lasting), best first.

    `created` maps the sids the run created to their creation (wall) times; `lasting` means certain to
    stay visible at least `need` more seconds. Calls the run created come first (most recent first:
    they are the suite's own), then other lasting calls, then calls whose age is unknown (a caller
    cannot tell their disappearance from an expiry).
    """
    now = time.time()
    ranked = []
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("call_sid"), str) or call["call_sid"] in exclude:
            continue
        sid = call["call_sid"]
        until = visible_until(call, observed_at, window, created.get(sid))
        lasting = until is not None and until >= now + need
        ranked.append(((lasting, sid in created, until if until is not None else float("-inf")), (sid, until, lasting)))
    ranked.sort(key=lambda pair: pair[0], reverse=True)
    return [entry for _, entry in ranked]


@dataclass
class LastingCall:
    sid: str
    until: float | None  # wall time until which it is certain to be visible (None: unknown)
    why: str


def _gettable(client: ApiClient, sid: str, settle: float = 0.0) -> bool:
    until = time.monotonic() + settle
    while True:
        status = client.get_call(sid).status
        if 200 <= status < 300:
            return True
        if status != 404 or time.monotonic() >= until:
            return False
        time.sleep(0.1)


def find_lasting_call(client: ApiClient, budget: Any, window: float, *, need: float, label: str,
                      exclude: Collection[str] = (), settle: float = 2.0) -> LastingCall | None:
    """A call of `client`'s account that its owner can get now and that is certain to stay visible for
    `need` more seconds: a listed one (the run's own first), else a new one when the call budget
    allows, else any listed call (of unknown age). None when the account has no call at all.

    `budget` is the run's CallBudget; creating is only tried when its `skip_reason()` is None.
    """
    observed_at = time.time()
    response = client.list_calls()
    listed = response.success_json()
    created = {c.sid: c.created_at for c in budget.created}
    # A call a watch deletes when it is done with it cannot be relied on to stay.
    listed = [c for c in listed if not (isinstance(c, dict) and c.get("call_sid") in DELETING)] \
        if isinstance(listed, list) else []
    candidates = lasting_candidates(listed, observed_at, window, created, exclude, need)
    for sid, until, lasting in candidates:
        if lasting and _gettable(client, sid):
            mine = "a call this run created" if sid in created else "a call seen active"
            return LastingCall(sid, until, f"{mine}, listed in the {label} account")
    if budget.skip_reason() is None:
        sent = time.time()
        answer = budget.create(client=client)
        try:
            sid = answer.json().get("sid") if 200 <= answer.status < 300 else None
        except (ValueError, AttributeError):
            sid = None
        if isinstance(sid, str) and _gettable(client, sid, settle):
            return LastingCall(sid, sent + window, f"a call created in the {label} account for this check")
    for sid, until, lasting in candidates:
        if not lasting and _gettable(client, sid):
            return LastingCall(sid, until, f"a listed call of the {label} account, of unknown age")
    return None


# --- every status the suite saw, whoever asked ------------------------------------------------


@dataclass
class Seen:
    sid: str
    call_status: str
    sent: float  # monotonic
    received: float
    via: str  # "get" or "list"
    exchange: Exchange | None


class StatusLog:
    """The statuses of calls as the suite's requests saw them, from any test or the watch's thread.

    A server may show a status change to one observer only; a check that a terminal status never
    turns active again reads what every request of the run saw. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, list[Seen]] = {}

    def record(self, sid: Any, status: Any, sent: float, received: float, via: str,
               exchange: Exchange | None) -> None:
        if isinstance(sid, str) and isinstance(status, str):
            with self._lock:
                self._seen.setdefault(sid, []).append(Seen(sid, status, sent, received, via, exchange))

    def record_response(self, response: Any, sent: float, received: float, asked: str | None = None) -> None:
        """Record the statuses a 2xx get (one call) or list (several) answer shows."""
        self.record_body(response.success_json(), sent, received, response.exchange, asked)

    def record_body(self, body: Any, sent: float, received: float, exchange: Exchange | None,
                    asked: str | None = None) -> None:
        """Record the statuses the decoded body of a 2xx get or list answer shows. A get answered with
        another call than the one `asked` for says nothing reliable about either (CALLS-GET-MATCHES-SID)."""
        if isinstance(body, dict):
            if asked is None or body.get("call_sid") == asked:
                self.record(body.get("call_sid"), body.get("call_status"), sent, received, "get", exchange)
        elif isinstance(body, list):
            for call in body:
                if isinstance(call, dict):
                    self.record(call.get("call_sid"), call.get("call_status"), sent, received, "list", exchange)

    def of(self, sid: str) -> list[Seen]:
        with self._lock:
            return sorted(self._seen.get(sid, []), key=lambda seen: seen.sent)


SEEN = StatusLog()


class ObservedClient(ApiClient):
    """The run's client: every get or list answer it receives is recorded in SEEN, whoever sent it (a
    server may report a status change once, to whichever request comes first)."""

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        sent = time.monotonic()
        response = super().request(method, path, **kwargs)
        if method.upper() == "GET":
            tail = path.split("?", 1)[0].rstrip("/").split("/")
            asked = tail[-1] if len(tail) >= 2 and tail[-2] == "Calls" else None
            SEEN.record_response(response, sent, time.monotonic(), asked)
        return response


class DeletedCalls:
    """The call sids whose delete the target accepted (2xx), whoever sent it. Such a call is gone, or (a
    live call on a jambonz server, D-21) written again by its next status update: the calls a check
    expects to be visible leave them out. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sids: set[str] = set()

    def record(self, sid: Any, status: int = 204) -> None:
        if isinstance(sid, str) and 200 <= status < 300:
            with self._lock:
                self._sids.add(sid)

    def __contains__(self, sid: object) -> bool:
        with self._lock:
            return sid in self._sids


DELETED = DeletedCalls()

#: The calls a background watch of the run deletes when it is done with them (the lifecycle call): no
#: other check relies on one of them staying visible, and a 404 of one is no evidence.
DELETING = DeletedCalls()


# --- the watch ---------------------------------------------------------------------------------


def window_plan(end_lower: float, end_upper: float, window: float) -> list[float]:
    """When to sample inside the window (monotonic): as soon as the end is known, then at fractions of
    the window. A sample planned before `end_upper` is pushed after it (it would prove nothing about the
    ended call); the last sample, just before the window closes, is planned once latencies are known."""
    return [end_upper] + [max(end_upper, end_lower + f * window) for f in SAMPLE_FRACTIONS]


def expiry_plan(end_upper: float, window: float, grace: float) -> list[float]:
    """When to look for the call gone (monotonic): soon after the window has certainly closed, so that a
    server that expires it on time ends the watch at once, and last when the grace period has passed."""
    return [end_upper + window + f * grace for f in EXPIRY_FRACTIONS]


def last_sample_margin(window: float, latencies: list[float]) -> float:
    """How long before the window closes the last get-plus-list starts: twice the slowest pair seen so
    far, and a little for the scheduler (at most a quarter of the window)."""
    return min(window / 4, 0.1 + 2 * 2 * max(latencies or [0.0]))


class VisibilityWatch(Watch):
    """What the watch saw. Read it only after `visible_done` (samples) or `done` (expiry) is set."""

    name = "retention window"

    def __init__(self, window: float, grace: float, call_timeout: float, client: ApiClient | None = None) -> None:
        super().__init__()
        self.window, self.grace, self.call_timeout = window, grace, call_timeout
        self.client = client
        self.sid: str | None = None
        self.created_sent: float | None = None  # monotonic time the create was sent
        self.create_exchange: Exchange | None = None
        self.polls: list[Sample] = []  # gets while waiting for the end
        self.lost: Sample | None = None  # a 404 before the call was seen ending
        self.mismatch: Sample | None = None  # a get that answered another call than the one asked for
        self.settle = 2.0  # seconds a created call may take to become gettable (D-35)
        self.end_lower: float | None = None
        self.end_upper: float | None = None
        self.samples: list[Sample] = []  # gets and lists planned inside the window
        self.expiry: list[Sample] = []  # gets and lists once the window has closed (expiry_plan)
        self.planned_samples = 0
        self.margin = 0.0
        self.visible_done = threading.Event()

    def finished(self) -> None:
        self.visible_done.set()
        self.done.set()

    def expected_visible_done(self) -> float | None:
        """Monotonic time by which the window samples should be complete (None: not known yet)."""
        if self.visible_done.is_set():
            return time.monotonic()
        if self.end_lower is not None:
            return self.end_lower + self.window
        if self.created_sent is not None:
            return self.created_sent + self.call_timeout + self.window
        return None

    def expected_done(self) -> float | None:
        """Monotonic time by which the expiry check should be complete (None: not known yet)."""
        if self.done.is_set():
            return time.monotonic()
        if self.end_upper is not None:
            return self.end_upper + self.window + self.grace
        if self.created_sent is not None:
            return self.created_sent + self.call_timeout + self.window + self.grace
        return None

    def deadline(self) -> float:
        timeout = self.client.session.timeout if self.client else 15.0
        start = self.created_sent if self.created_sent is not None else time.monotonic()
        # Every phase is bounded: the end, the window, the grace, and a few requests per sample.
        return start + self.call_timeout + self.window + self.grace + (self.planned_samples + 8) * 2 * timeout + 30.0

    # Window bounds -----------------------------------------------------------------------------
    def inside_window(self, sample: Sample) -> bool:
        """The server handled the request after the call ended and before the window closed."""
        if self.end_lower is None or self.end_upper is None:
            return False
        return sample.sent >= self.end_upper and sample.received <= self.end_lower + self.window

    def after_close(self, sample: Sample) -> bool:
        """The request was sent once the window had certainly closed (the grace period may not have passed)."""
        return self.end_upper is not None and sample.sent >= self.end_upper + self.window

    def after_window(self, sample: Sample) -> bool:
        """The request was sent once the window and the grace period had certainly passed."""
        return self.end_upper is not None and sample.sent >= self.end_upper + self.window + self.grace

    def gone(self) -> tuple[Sample, Sample] | None:
        """The first get and list, both sent after the window closed, that did not find the call."""
        for get, listed in zip(self.expiry, self.expiry[1:]):
            if (get.kind, listed.kind) == ("get", "list") and get.error is None and listed.error is None \
                    and get.present is False and listed.present is False and self.after_close(get):
                return get, listed
        return None

    def since_end(self, sample: Sample) -> tuple[float, float]:
        """How long after the end the request was handled: a range, since the end is bracketed."""
        assert self.end_lower is not None and self.end_upper is not None
        return max(0.0, sample.sent - self.end_upper), max(0.0, sample.received - self.end_lower)

    def describe(self) -> str:
        """A one-paragraph account of what the watch saw, for test output."""
        parts = [f"watched call {self.sid or '(none)'}; phase {self.phase}"]
        if self.polls:
            statuses = [p.call_status or str(p.status) for p in self.polls]
            compact = [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]]
            parts.append("statuses seen: " + " -> ".join(compact))
        if self.end_lower is not None and self.end_upper is not None:
            parts.append(f"ended between {self.end_lower - (self.created_sent or 0):.2f} s and "
                         f"{self.end_upper - (self.created_sent or 0):.2f} s after its create")
        for sample in self.samples + self.expiry:
            if self.end_lower is None:
                break
            lo, hi = self.since_end(sample)
            where = ("inside the window" if self.inside_window(sample) else
                     "after the window and grace" if self.after_window(sample) else
                     "after the window, within the grace" if self.after_close(sample) else "at the edge of the window")
            seen = "error: " + sample.error if sample.error else ("present" if sample.present else "absent")
            parts.append(f"{sample.kind} {lo:.2f}-{hi:.2f} s after the end ({where}): {sample.status} {seen}")
        if self.skip_reason:
            parts.append("not judged: " + self.skip_reason)
        return "\n  ".join(parts)

    # The thread --------------------------------------------------------------------------------
    def _sampler(self) -> CallSampler:
        assert self.client is not None and self.sid is not None
        return CallSampler(self.client, self.sid)

    def _get(self) -> Sample:
        sample = self._sampler().get()
        if sample.call is not None and not sample.present:
            self.mismatch = self.mismatch or sample  # a 2xx answer about another call
        return sample

    def _wait_for_end(self) -> bool:
        """Poll get until a terminal status; sets the end bracket. False when the watch cannot go on."""
        assert self.created_sent is not None
        interval = poll_interval(self.window)
        deadline = self.created_sent + self.call_timeout
        last_active_sent = self.created_sent  # the call cannot have ended before it was created
        seen = False
        errors = 0
        while True:
            sample = self._get()
            self.polls.append(sample)
            if sample.error is None and sample.present and sample.call_status in TERMINAL_STATUSES:
                self.end_lower, self.end_upper = last_active_sent, sample.received
                self.note(f"call {self.sid} seen {sample.call_status}: the window runs until "
                          f"{self.end_lower + self.window - self.timeline.started if self.timeline else 0:.2f} s")
                return True
            settling = sample.error is None and sample.present is False and not seen \
                and sample.received < self.created_sent + self.settle
            if settling:
                pass  # not gettable yet: allowed for the settle time after the create
            elif sample.error is None and sample.present is False:
                self.lost = sample
                self.give_up("the watched call disappeared before it was seen ending")
                return False
            elif sample.error is None and sample.present:
                seen = True
                last_active_sent = sample.sent
                errors = 0
            else:
                errors += 1
                if errors >= MAX_CONSECUTIVE_ERRORS:
                    self.give_up(f"{errors} consecutive failed requests while waiting for the watched call to end "
                                 f"(last: {sample.error})")
                    return False
            if time.monotonic() >= deadline:
                self.give_up(f"the watched call did not reach a terminal status within the call timeout "
                             f"({self.call_timeout:g} s; last status {sample.call_status or sample.status}): "
                             f"see CALLS-LIFECYCLE-ENDS")
                return False
            pause = min(interval, 0.1) if settling else interval
            if not self.sleep_until(min(time.monotonic() + pause, deadline)):
                return False

    def _sample_window(self) -> bool:
        assert self.end_lower is not None and self.end_upper is not None
        latencies = [p.latency for p in self.polls]
        plan = window_plan(self.end_lower, self.end_upper, self.window)
        self.planned_samples = len(plan) + 1
        for when in plan:
            if not self.sleep_until(when):
                return False
            self._sample_pair(self.samples)
        # The last sample: its get and list must both be answered before the window closes.
        self.margin = last_sample_margin(self.window, latencies + [s.latency for s in self.samples])
        last = max(self.end_upper, self.end_lower + self.window - self.margin)
        if not self.sleep_until(last):
            return False
        self._sample_pair(self.samples)
        return True

    def _sample_pair(self, into: list[Sample]) -> None:
        sampler = self._sampler()
        into.append(self._get())
        into.append(sampler.list())

    def observe(self) -> None:
        self.phase = "waiting for the call to end"
        if not self._wait_for_end():
            return
        self.phase = "sampling the window"
        if not self._sample_window():
            self.give_up("the watch was stopped during the window")
            return
        self.note(f"{len(self.samples) // 2} get-and-list samples taken inside the window")
        self.visible_done.set()
        assert self.end_upper is not None
        plan = expiry_plan(self.end_upper, self.window, self.grace)
        for number, when in enumerate(plan, 1):
            self.phase = "waiting for the window to close" if number == 1 else "waiting for the call to go"
            if not self.sleep_until(when):
                self.give_up("the watch was stopped before the window had passed")
                return
            self.phase = "checking that the call is gone"
            if self._look_for_expiry(last=number == len(plan)):
                break
        gone = self.gone()
        looks = list(gone) if gone else self.expiry[-2:]
        after = (looks[0].sent - self.end_upper) if looks else 0.0
        self.note(f"call {self.sid} checked {after:.2f} s after its end, {len(self.expiry)} request(s) since the window "
                  "closed: " + ", ".join(f"{s.kind} {'present' if s.present else 'absent'}" for s in looks))
        self.phase = "finished"

    def _look_for_expiry(self, last: bool) -> bool:
        """One look after the window closed: a get, and a list when the get no longer finds the call (or on
        the last look, whatever the get found). True when both found it gone."""
        get = self._get()
        self.expiry.append(get)
        if not last and not (get.error is None and get.present is False):
            return False
        listed = self._sampler().list()
        self.expiry.append(listed)
        return self.gone() is not None

    def progress(self) -> str:
        now = time.monotonic()
        end = self.expected_done()
        # A bound: the call timeout until the call is seen ending, the grace period until it is seen gone.
        left = f"at most {max(0.0, end - now):.0f} s left" if end is not None else "time left unknown"
        judged = len([s for s in self.samples if s.kind == "get"])
        return (f"retention window: watching 1 call ({self.sid}); {self.phase}; "
                f"{judged} of {self.planned_samples or '?'} window samples taken; {left}")

    def waiting_for(self) -> str:
        return self.progress()


def start_watch(run: Any) -> VisibilityWatch:
    """Create the watched call now and follow it in a background thread. Never raises.

    `run` is the plugin's Run: its config, its call budget and its session (rate limiter, breaker, run
    budget, history) are used. The call counts against the budget like any other; when creating is not
    possible the watch is returned already finished, with the reason, and the window tests skip with it.
    """
    cfg = run.config
    watch = VisibilityWatch(window=cfg.window, grace=cfg.grace, call_timeout=cfg.call_timeout)
    if getattr(run, "timeline", None) is not None:
        run.timeline.add(watch)
    settle = getattr(cfg, "settle", None)
    if isinstance(settle, (int, float)):
        watch.settle = float(settle)
    reason = run.budget.skip_reason()
    if reason:
        watch.give_up(reason)
        return watch
    watch.attach(run)
    client = watch.client
    assert client is not None
    try:
        run.budget.reserve()  # cannot skip: the budget was just found open
        body = run.budget.payload()
        watch.created_sent = time.monotonic()
        response = client.create_call(body)
        watch.create_exchange = response.exchange
        sid = response.created_sid()
        if sid is None:
            watch.give_up(f"the watch could not create its call (answered {response.status}): "
                          f"see CALLS-CREATE-SUCCESS")
            return watch
        run.budget.remember(sid, body)
        watch.sid = sid
        watch.note(f"created call {sid}")
    except Exception as error:  # a broken target must not break the run's start
        watch.give_up(f"the watch could not create its call: {type(error).__name__}: {error}")
        return watch
    watch.start()
    return watch
