"""Which calls are certain to stay visible, and for how long: a check that needs a call still there a while
(another call of the account while one is deleted, the call an isolation probe aims at) picks one.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from conformance.contract.calls import ACTIVE_STATUSES
from conformance.evidence.observed import DELETING
from conformance.deployment.api import ApiClient


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
        sid = budget.create(client=client).created_sid()
        if sid is not None and _gettable(client, sid, settle):
            return LastingCall(sid, sent + window, f"a call created in the {label} account for this check")
    for sid, until, lasting in candidates:
        if not lasting and _gettable(client, sid):
            return LastingCall(sid, until, f"a listed call of the {label} account, of unknown age")
    return None
