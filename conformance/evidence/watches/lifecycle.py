"""The life of one call, followed in the background: create, get, list, watch it end, delete, check it is gone.

The watch starts with the session (conformance/runner/watches.py), so the call lives and ends while the
rest of the run goes on. It records, in the order a client makes the requests:

1. `Created`: the create, the gets right after it (retrying a 404 for the settle time, D-35), a list;
2. `Life`: gets until the call ends (or the call timeout passes), then a few more;
3. `Deletion`: at once after that (an ended call expires after the window), the delete and what
   follows it (get, list, another call of the account, a second delete).

The tests of conformance/suite/test_lifecycle.py judge each record; those of the end and the delete
wait only for their part (they are ordered last). The watch uses a client of its own, sharing the run's
rate limiter, breaker, budgets and history, and takes its calls from the run's call budget.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from conformance.contract.calls import TERMINAL_STATUSES
from conformance.evidence.lasting import find_lasting_call, lasting_candidates
from conformance.evidence.observed import DELETED, DELETING, SEEN, sids_of
from conformance.evidence.watches.base import Watch
from conformance.deployment.api import ApiClient, Response

AFTER_END_POLLS = 2  # gets after the first terminal status, to see that it stays terminal
QUICK_LOOK = 0.25  # seconds between those gets: the delete checks, and the verdict, wait for them


def poll_cap(target: Any) -> float:
    """Longest pause between two gets of a live call: proportional to the call timeout, and short
    enough that a call cannot end and expire unseen between two gets."""
    return max(0.1, min(3.0, target.call_timeout / 40, target.window / 4))


def call_body(response: Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


@dataclass
class TimedAnswer:
    """An answer with the moments its request was sent and answered, and the call object of a 2xx body."""

    sent: float  # monotonic
    received: float
    response: Response
    call: Any = None

    @property
    def call_status(self) -> Any:
        return self.call.get("call_status") if isinstance(self.call, dict) else None


def timed_get(api: ApiClient, sid: str) -> TimedAnswer:
    """Get a call, keeping when it was sent and answered and the decoded body of a 2xx answer."""
    sent = time.monotonic()
    response = api.get_call(sid)
    received = time.monotonic()
    return TimedAnswer(sent, received, response, response.success_json())


@dataclass
class Created:
    body: dict[str, Any]
    response: Response
    sid: str | None
    sent: float
    gets: list[TimedAnswer] = field(default_factory=list)  # the gets right after the create (settle retries)
    listing: TimedAnswer | None = None


@dataclass
class Life:
    observations: list[TimedAnswer]
    ended: TimedAnswer | None  # the first get that showed a terminal status
    vanished: TimedAnswer | None  # a get that answered 404 before the call was seen ending
    timed_out: bool


@dataclass
class Deletion:
    sid: str
    before: Response  # the get right before the delete
    other_sid: str | None
    other_until: float | None  # wall time until which the other call is certain to stay visible
    other_why: str
    delete: Response
    get_after: Response
    list_after: Response
    other_get_after: Response | None
    delete_again: Response
    ended_before_delete: bool
    checked_at: float  # wall time of the other call's get after the delete
    vanished: list[tuple[str, Response]] = field(default_factory=list)  # other calls certain to be there, gone


# --- the three steps, each a plain function of a client ---------------------------------------


def create_and_look(api: ApiClient, calls: Any, target: Any) -> Created:
    """Create one call, get it at once (retrying a 404 for the settle time), and list at once."""
    body = calls.payload()
    sent = time.monotonic()
    response = calls.create(client=api)
    result = Created(body, response, response.created_sid(), sent)
    if result.sid is None:
        return result
    DELETING.record(result.sid)
    settle_until = time.monotonic() + target.settle
    while True:  # every attempt is kept
        observation = timed_get(api, result.sid)
        result.gets.append(observation)
        if observation.response.status != 404 or time.monotonic() >= settle_until:
            break
        time.sleep(0.1)
    sent = time.monotonic()
    result.listing = TimedAnswer(sent, sent, api.list_calls())
    result.listing.received = time.monotonic()
    return result


def follow_life(api: ApiClient, target: Any, created: Created, sleep_until: Any = None) -> Life | None:
    """Poll the created call until it ends (or the call timeout passes), then a few times more. None when
    `sleep_until` (the watch's) says the watch was stopped."""
    assert created.sid is not None
    sleep_until = sleep_until or (lambda when: time.sleep(max(0.0, when - time.monotonic())) or True)
    observations = list(created.gets)
    deadline = created.sent + target.call_timeout
    cap = poll_cap(target)
    ended: TimedAnswer | None = None
    vanished: TimedAnswer | None = None
    after_end = 0
    if observations and observations[-1].call_status in TERMINAL_STATUSES:
        ended = observations[-1]
    while True:
        if ended is not None and after_end >= AFTER_END_POLLS:
            break
        if ended is None and time.monotonic() >= deadline:
            break
        # While the call lives, a pause of a fifth of its age so far (a call that has lasted t seconds
        # may well last as long again: its end is seen at most a fifth late, with few requests); once
        # it has ended, a few quick looks (an ended call expires after the window, and the delete
        # checks need it still there).
        if ended is None:
            pause = min(cap, max(0.25, (time.monotonic() - created.sent) / 5))
        else:
            pause = min(QUICK_LOOK, max(0.1, target.window / 20))
        if not sleep_until(time.monotonic() + pause):
            return None
        observation = timed_get(api, created.sid)
        observations.append(observation)
        if observation.response.status == 404:
            if ended is None and any(isinstance(o.call, dict) for o in observations):
                vanished = observation  # seen, then gone before it was seen ending
            break
        if ended is not None:
            after_end += 1
        elif observation.call_status in TERMINAL_STATUSES:
            ended = observation
    return Life(observations, ended, vanished, timed_out=ended is None and vanished is None)


def delete_and_check(api: ApiClient, calls: Any, target: Any, sid: str, life: Life) -> Deletion:
    """Delete the (ended) call, then get, list, check another call of the account, and delete again."""
    # Another call of the account, certain to stay visible while the delete is checked when possible:
    # one this run created less than a window ago, or one seen active; else a new one if the budget
    # allows; else any listed call (its disappearance then proves nothing).
    other = find_lasting_call(api, calls, target.window, need=min(10.0, target.window / 2), label="tested",
                              exclude={sid}, settle=target.settle)
    other_sid, other_until = (other.sid, other.until) if other else (None, None)
    why = other.why if other else "no other call of the account could be got"
    # Every other listed call certain to stay visible (seen active, or created by this run less than a
    # window ago) must still be listed after the delete.
    observed_at = time.time()
    listing = api.list_calls()
    body = call_body(listing) if listing.status == 200 else None
    listed_before = body if isinstance(body, list) else []
    created_at = {c.sid: c.created_at for c in calls.created}
    lasting = {entry[0]: entry[1] for entry in lasting_candidates(listed_before, observed_at, target.window, created_at,
                                                                   exclude={sid}) if entry[1] is not None}
    before = api.get_call(sid)
    delete = api.delete_call(sid)
    DELETED.record(sid, delete.status)
    get_after = api.get_call(sid)
    list_after = api.list_calls()
    other_get_after = api.get_call(other_sid) if other_sid else None
    checked_at = time.time()
    vanished: list[tuple[str, Response]] = []
    after = call_body(list_after) if list_after.status == 200 else None
    if isinstance(after, list):
        now = time.time()
        for gone in sorted(set(lasting) - sids_of(after) - {other_sid}):
            if lasting[gone] > now:
                check = api.get_call(gone)
                if check.status == 404:
                    vanished.append((gone, check))
    delete_again = api.delete_call(sid)
    return Deletion(sid, before, other_sid, other_until, why, delete, get_after, list_after, other_get_after,
                    delete_again, ended_before_delete=life.ended is not None,
                    checked_at=checked_at, vanished=vanished)


# --- the watch -----------------------------------------------------------------------------------


class LifecycleWatch(Watch):
    """The three steps in a thread. Each record is set with its event: `created_done`, `ended`, `done`.
    A failed exchange that stopped a step is kept in `failure` (the waiting test raises it)."""

    name = "lifecycle"

    def __init__(self, run: Any, follow: bool = True, delete: bool = True) -> None:
        super().__init__()
        self.run = run
        self.target = run.config
        self.follow, self.delete = follow, delete
        self.created: Created | None = None
        self.life: Life | None = None
        self.deletion: Deletion | None = None
        self.failure: BaseException | None = None
        self.started_at = time.monotonic()
        self.created_done = threading.Event()
        self.ended = threading.Event()

    def finished(self) -> None:
        self.created_done.set()
        self.ended.set()
        self.done.set()

    def _guarded(self) -> None:
        try:
            self.observe()
        except BaseException as error:  # noqa: BLE001 - kept for the waiting test (a skip too)
            self.failure = error
            self.give_up(f"the lifecycle watch stopped: {type(error).__name__}: {error}")
        finally:
            self.finished()

    def observe(self) -> None:
        assert self.client is not None
        self.phase = "creating its call"
        self.created = create_and_look(self.client, self.run.budget, self.target)
        sid = self.created.sid
        self.note(f"created call {sid}" if sid else f"create answered {self.created.response.status}: no call")
        self.created_done.set()
        if sid is None or not self.follow:
            return
        self.phase = "waiting for its call to end"
        self.life = follow_life(self.client, self.target, self.created, self.sleep_until)
        if self.life is None:
            return
        ended = self.life.ended
        self.note(f"call {sid} seen {ended.call_status} after at most {ended.received - self.created.sent:.2f} s"
                  if ended else f"call {sid} not seen ending ({'vanished' if self.life.vanished else 'timed out'})")
        self.ended.set()
        if not self.delete:
            return
        self.phase = "deleting its call"
        self.deletion = delete_and_check(self.client, self.run.budget, self.target, sid, self.life)
        self.note(f"call {sid} deleted ({self.deletion.delete.status}); get then answered "
                  f"{self.deletion.get_after.status}")
        self.phase = "finished"

    def deadline(self) -> float:
        timeout = self.target.request_timeout
        # The settle time, the call timeout, a few polls after the end, the delete's dozen requests.
        return self.started_at + self.target.settle + self.target.call_timeout + poll_cap(self.target) \
            + (AFTER_END_POLLS + 20) * 2 * timeout + 30.0

    def waiting_for(self) -> str:
        created = self.created
        if created is None or created.sid is None:
            return "the lifecycle call to be created"
        if not self.ended.is_set():
            last = next((o.call_status for o in reversed(created.gets) if o.call_status), None)
            if self.life is None:
                # The thread keeps its observations locally until the end; SEEN has the latest status.
                seen = SEEN.of(created.sid)
                last = seen[-1].call_status if seen else last
            return (f"call {created.sid[:8]}… to end: {last or 'unknown'} for "
                    f"{time.monotonic() - created.sent:.0f} s of at most {self.target.call_timeout:g} s")
        return f"the delete of call {created.sid[:8]}… to be checked"


def start_lifecycle(run: Any, follow: bool = True, delete: bool = True) -> LifecycleWatch:
    """Start the lifecycle watch now (its call is created in its thread). Never raises."""
    watch = LifecycleWatch(run, follow=follow, delete=delete)
    if getattr(run, "timeline", None) is not None:
        run.timeline.add(watch)
    watch.attach(run)
    watch.start()
    return watch
