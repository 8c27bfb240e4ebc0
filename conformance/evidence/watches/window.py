"""The retention-window watch: one created call, followed from its creation until its record expires.

The document promises that an ended call stays visible for ten minutes (the window, a setting of the
run). Checking that takes real time, so the watch starts with the session, runs in a background
thread beside the rest of the run, and the window tests (ordered last) only judge what it recorded:

1. create one call (it counts against the run's call budget);
2. poll it with get until it reaches a terminal status, which brackets the moment it ended;
3. sample get AND list at several points of the window, the last one planned to complete shortly
   before the window closes (window_plan.py);
4. once the window has certainly closed, look for it with a get (and a list when the get no longer
   finds it) a few times during the grace period; the first look that finds it gone in both ends the
   watch. The last look, once the grace period has passed, sends both whatever it finds.

What to sample and when is window_plan.py; how a sample is taken, sampler.py; what the samples prove,
window_record.py; the tests of conformance/suite/test_visibility.py judge that record. Every request is
bounded (the client's timeout) and so is every wait (the call timeout, the window, the grace period), so
the watch always finishes.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from conformance.contract.calls import TERMINAL_STATUSES
from conformance.evidence.observed import SEEN
from conformance.evidence.watches.base import Watch
from conformance.evidence.watches.sampler import CallSampler, Sample
from conformance.evidence.watches.window_plan import (MAX_CONSECUTIVE_ERRORS, expiry_plan, last_sample_margin,
                                                      poll_interval, window_plan)
from conformance.evidence.watches.window_record import WindowRecord
from conformance.deployment.api import ApiClient

#: Seconds between two looks at what the run saw of the sibling call, while waiting for the watched call's end.
SIBLING_LOOK = 0.1


class WindowWatch(Watch):
    """Follows one call through the retention window in a thread; fills `record` (read it only after
    `visible_done` for the window's samples, or `done` for the expiry)."""

    name = "retention window"

    def __init__(self, window: float, grace: float, call_timeout: float, client: ApiClient | None = None) -> None:
        super().__init__()
        self.window, self.grace, self.call_timeout = window, grace, call_timeout
        self.client = client
        self.record = WindowRecord(window, grace)
        self.settle = 2.0  # seconds a created call may take to become gettable (D-35)
        self.planned_samples = 0
        self.margin = 0.0
        self.visible_done = threading.Event()
        # The sid of a call made with the same payload at about the same time and followed closely (the
        # lifecycle watch's): once it is seen ended, this one is looked at at once, its end likely near too.
        self.sibling: Callable[[], str | None] | None = None
        self._sibling_ended = False

    def finished(self) -> None:
        self.visible_done.set()
        self.done.set()

    def describe(self) -> str:
        return self.record.describe(self.phase, self.skip_reason)

    # When a waiting test may expect it ------------------------------------------------------------
    def expected_visible_done(self) -> float | None:
        """Monotonic time by which the window samples should be complete (None: not known yet)."""
        record = self.record
        if self.visible_done.is_set():
            return time.monotonic()
        if record.end_lower is not None:
            return record.end_lower + self.window
        if record.created_sent is not None:
            return record.created_sent + self.call_timeout + self.window
        return None

    def expected_done(self) -> float | None:
        """Monotonic time by which the expiry check should be complete (None: not known yet)."""
        record = self.record
        if self.done.is_set():
            return time.monotonic()
        if record.end_upper is not None:
            return record.end_upper + self.window + self.grace
        if record.created_sent is not None:
            return record.created_sent + self.call_timeout + self.window + self.grace
        return None

    def deadline(self) -> float:
        timeout = self.client.session.timeout if self.client else 15.0
        start = self.record.created_sent if self.record.created_sent is not None else time.monotonic()
        # Every phase is bounded: the end, the window, the grace, and a few requests per sample.
        return start + self.call_timeout + self.window + self.grace + (self.planned_samples + 8) * 2 * timeout + 30.0

    def waiting_for(self) -> str:
        now = time.monotonic()
        end = self.expected_done()
        # A bound: the call timeout until the call is seen ending, the grace period until it is seen gone.
        left = f"at most {max(0.0, end - now):.0f} s left" if end is not None else "time left unknown"
        judged = len([s for s in self.record.samples if s.kind == "get"])
        return (f"retention window: watching 1 call ({self.record.sid}); {self.phase}; "
                f"{judged} of {self.planned_samples or '?'} window samples taken; {left}")

    # The thread ------------------------------------------------------------------------------------
    def observe(self) -> None:
        record = self.record
        self.phase = "waiting for the call to end"
        if not self._wait_for_end():
            return
        self.phase = "sampling the window"
        if not self._sample_window():
            self.give_up("the watch was stopped during the window")
            return
        self.note(f"{len(record.samples) // 2} get-and-list samples taken inside the window")
        self.visible_done.set()
        assert record.end_upper is not None
        plan = expiry_plan(record.end_upper, self.window, self.grace)
        for number, when in enumerate(plan, 1):
            self.phase = "waiting for the window to close" if number == 1 else "waiting for the call to go"
            if not self.sleep_until(when):
                self.give_up("the watch was stopped before the window had passed")
                return
            self.phase = "checking that the call is gone"
            if self._look_for_expiry(last=number == len(plan)):
                break
        gone = record.gone()
        looks = list(gone) if gone else record.expiry[-2:]
        after = (looks[0].sent - record.end_upper) if looks else 0.0
        self.note(f"call {record.sid} checked {after:.2f} s after its end, {len(record.expiry)} request(s) since the "
                  "window closed: " + ", ".join(f"{s.kind} {'present' if s.present else 'absent'}" for s in looks))
        self.phase = "finished"

    def _sampler(self) -> CallSampler:
        assert self.client is not None and self.record.sid is not None
        return CallSampler(self.client, self.record.sid)

    def _get(self) -> Sample:
        sample = self._sampler().get()
        if sample.call is not None and not sample.present:
            self.record.mismatch = self.record.mismatch or sample  # a 2xx answer about another call
        return sample

    def _wait_for_end(self) -> bool:
        """Poll get until a terminal status; sets the end bracket. False when the watch cannot go on."""
        record = self.record
        assert record.created_sent is not None
        interval = poll_interval(self.window)
        deadline = record.created_sent + self.call_timeout
        last_active_sent = record.created_sent  # the call cannot have ended before it was created
        seen = False
        errors = 0
        while True:
            sample = self._get()
            record.polls.append(sample)
            if sample.error is None and sample.present and sample.call_status in TERMINAL_STATUSES:
                record.end_lower, record.end_upper = last_active_sent, sample.received
                closes = record.end_lower + self.window - self.timeline.started if self.timeline else 0
                self.note(f"call {record.sid} seen {sample.call_status}: the window runs until {closes:.2f} s")
                return True
            settling = sample.error is None and sample.present is False and not seen \
                and sample.received < record.created_sent + self.settle
            if settling:
                pass  # not gettable yet: allowed for the settle time after the create
            elif sample.error is None and sample.present is False:
                record.lost = sample
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
            if settling:
                pause = min(interval, 0.1)
            elif self.sibling is None:
                # No closer watch to take the hint from: a pause of a fifth of the call's age, as the
                # lifecycle watch polls (its end is seen at most a fifth late, with few requests).
                pause = min(interval, max(0.25, (time.monotonic() - record.created_sent) / 5))
            else:
                pause = interval
            if not self._sleep_or_sibling_ended(min(time.monotonic() + pause, deadline)):
                return False

    def _sleep_or_sibling_ended(self, when: float) -> bool:
        """Sleep until `when`, or until the sibling call is first seen ended (what the run already saw: no
        request); False when the watch cannot go on."""
        if self.sibling is None or self._sibling_ended:
            return self.sleep_until(when)
        while True:
            step = min(when, time.monotonic() + SIBLING_LOOK)
            if not self.sleep_until(step):
                return False
            sid = self.sibling()
            if sid and any(seen.call_status in TERMINAL_STATUSES for seen in SEEN.of(sid)):
                self._sibling_ended = True
                return True
            if step >= when:
                return True

    def _sample_window(self) -> bool:
        record = self.record
        assert record.end_lower is not None and record.end_upper is not None
        latencies = [p.latency for p in record.polls]
        plan = window_plan(record.end_lower, record.end_upper, self.window)
        self.planned_samples = len(plan) + 1
        for when in plan:
            if not self.sleep_until(when):
                return False
            self._sample_pair()
        # The last sample: its get and list must both be answered before the window closes.
        self.margin = last_sample_margin(self.window, latencies + [s.latency for s in record.samples])
        last = max(record.end_upper, record.end_lower + self.window - self.margin)
        if not self.sleep_until(last):
            return False
        self._sample_pair()
        return True

    def _sample_pair(self) -> None:
        self.record.samples.append(self._get())
        self.record.samples.append(self._sampler().list())

    def _look_for_expiry(self, last: bool) -> bool:
        """One look after the window closed: a get, and a list when the get no longer finds the call (or on
        the last look, whatever the get found). True when both found it gone."""
        get = self._get()
        self.record.expiry.append(get)
        if not last and not (get.error is None and get.present is False):
            return False
        self.record.expiry.append(self._sampler().list())
        return self.record.gone() is not None


def start_window_watch(run: Any) -> WindowWatch:
    """Create the watched call now and follow it in a background thread. Never raises.

    `run` is the runner's Run: its config, its call budget and its session (rate limiter, guard, history)
    are used. The call counts against the budget like any other; when creating is not possible the watch
    is returned already finished, with the reason, and the window tests skip with it.
    """
    cfg = run.config
    watch = WindowWatch(window=cfg.window, grace=cfg.grace, call_timeout=cfg.call_timeout)
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
        watch.record.created_sent = time.monotonic()
        response = client.create_call(body)
        watch.record.create_exchange = response.exchange
        sid = response.created_sid()
        if sid is None:
            watch.give_up(f"the watch could not create its call (answered {response.status}): "
                          f"see CALLS-CREATE-SUCCESS")
            return watch
        run.budget.remember(sid, body)
        watch.record.sid = sid
        watch.note(f"created call {sid}")
    except Exception as error:  # a broken target must not break the run's start
        watch.give_up(f"the watch could not create its call: {type(error).__name__}: {error}")
        return watch
    watch.start()
    return watch
