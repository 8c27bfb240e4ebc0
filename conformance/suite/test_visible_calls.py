"""The list is the whole set: every call known to be visible is in it, not a page or a sample of them.

This runs late in the run, when the calls the run created have accumulated (with the document's
ten-minute window, all of them are still visible at the end of a run), and early too, right after the
lifecycle's create (test_lifecycle), when the evidence exists whatever the window. A call is known to be visible
when the run created it (more than the settle time ago, D-35), did not delete it, and its get answers
it, as a call of the account, right before and right after the list: a server that can get it at both
moments must list it in between. Which promise a missing call breaks depends on what the gets showed:

- seen active after the list: it was ongoing when the list was answered (CALLS-LIST-INCLUDES-ACTIVE);
- seen active before the list only: it was ongoing, or had ended a moment before ("ongoing or recently
  ended calls", CALLS-LIST-INCLUDES-ACTIVE);
- seen ended before the list: it must be listed when it is certain to have ended less than a window
  earlier (CALLS-WINDOW-VISIBLE); otherwise the server may have dropped it from the list at the end
  of the window while its get keeps it longer, and the call is not judged.

Calls the run deleted are left out: a deleted live call may be written again by its next status
update (D-21), and a list taken meanwhile need not show it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from conformance.contract.calls import ACTIVE_STATUSES
from conformance.evidence.observed import DELETED, SEEN, sids_of
from conformance.evidence.watches.lifecycle import timed_get
from conformance.judgement.checks import RequirementViolation, expect_call_list
from conformance.runner.console import progress_writer
from conformance.deployment.api import Response


@dataclass
class Look:
    """One get of a call: when it was sent and answered (monotonic), and the status it showed."""

    sent: float
    received: float
    response: Response
    call_status: str | None

    @property
    def active(self) -> bool:
        return self.call_status in ACTIVE_STATUSES


def _look(api, sid: str) -> Look | None:
    """Get the call; None unless it answers 2xx with that very call, of the client's account."""
    seen = timed_get(api, sid)
    body = seen.call
    if not isinstance(body, dict) or body.get("call_sid") != sid or body.get("account_sid") != api.account_sid:
        return None
    status = body.get("call_status")
    return Look(seen.sent, seen.received, seen.response, status if isinstance(status, str) else None)


def _ended_after(sid: str, created_at: float, before: Look) -> float:
    """A monotonic time the call certainly ended after: the latest request that saw it active, or its
    creation (the wall time its create was answered, less a second for the request's own time)."""
    bounds = [created_at - (time.time() - time.monotonic()) - 1.0]
    bounds += [seen.sent for seen in SEEN.of(sid) if seen.call_status in ACTIVE_STATUSES]
    if before.active:
        bounds.append(before.sent)
    return max(bounds)


def judge_known_visible(api, run, target, when: str, settled_sids: frozenset[str] = frozenset()) -> int:
    """Get every call this run created (and did not delete), list, get them again: each gettable at both
    moments must be listed. `settled_sids` were already seen gettable (no settle time to wait for), as
    is every call a get of the run has answered (SEEN). Returns how many were judged; skips when none could be."""
    # A call created within the settle time may not be readable everywhere yet (D-35): left out, unless
    # it was read already.
    settled = time.time() - target.settle
    created = [c for c in run.budget.created if c.sid not in DELETED and c.account_sid is None  # the tested account's
               and (c.created_at <= settled or c.sid in settled_sids or any(s.via == "get" for s in SEEN.of(c.sid)))]
    before = {c.sid: look for c in created if (look := _look(api, c.sid)) is not None}
    if not before:
        pytest.skip("no call this run created (and did not delete) can be got any more")
    response = api.list_calls()
    list_received = time.monotonic()
    listed = sids_of(expect_call_list(response, f"list {when}"))
    created_at = {c.sid: c.created_at for c in created}
    judged = 0
    for sid, first in before.items():
        after = _look(api, sid)
        if after is None:
            continue  # gone meanwhile: it may have reached the end of its window
        if after.active or (first.active and list_received - first.sent <= target.window):
            judged += 1
            if sid not in listed:
                seen = "ongoing" if after.active else "ongoing, or ended less than " \
                    f"{list_received - first.sent:.2f} s before"
                raise RequirementViolation(
                    "CALLS-LIST-INCLUDES-ACTIVE", "CF110",
                    f"call {sid}, gettable right before and right after the list, is not among the {len(listed)} "
                    f"calls listed, though it was {seen} when the list was answered", response.exchange)
            continue
        since_end = list_received - _ended_after(sid, created_at[sid], first)
        if since_end > target.window:
            continue  # it may be past the window of the list, though its get keeps it
        judged += 1
        if sid not in listed:
            raise RequirementViolation(
                "CALLS-WINDOW-VISIBLE", "CF110",
                f"call {sid} ({first.call_status}), gettable right before and right after the list, is not among "
                f"the {len(listed)} calls listed, though it had ended less than {since_end:.2f} s before (window "
                f"{target.window:g} s)", response.exchange)
    if not judged:
        pytest.skip("every call of this run that can still be got may be past its window")
    print(f"{judged} call(s) of this run known to be visible, all among the {len(listed)} calls listed")
    return judged


@pytest.fixture
def lifecycle_settled(request, run) -> None:
    """Late means after the lifecycle watch has deleted its call (when it runs): a call deleted while it
    is judged here would prove nothing."""
    watch = run.timeline.watches.get("lifecycle")
    if watch is not None:
        watch.wait(watch.done, progress_writer(request.config))


@pytest.mark.requirements("CALLS-LIST-INCLUDES-ACTIVE", "CALLS-LIST-200")
def test_every_call_known_to_be_visible_is_listed(api, run, target, lifecycle_settled) -> None:
    judge_known_visible(api, run, target, "late in the run")
