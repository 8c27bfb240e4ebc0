"""The call store: thread-safe, and aware of time only through its clock.

A record holds what was known when the call was made (numbers, account, plan of stages); its
status at a given moment is read from the plan. An ended call stays visible for the retention the
store is given (`retention(record)` seconds after its end, or forever when that is None), then
disappears from get, list and delete alike. Expired records are purged as the store is used.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from conformance.reference.clock import Clock
from conformance.reference.lifecycle import Plan, plan_inbound
from conformance.reference.settings import SEED_APPLICATION_SID, ReferenceSettings

Retention = Callable[["CallRecord"], "float | None"]

_sequence = itertools.count(1)


@dataclass(frozen=True)
class CallRecord:
    call_sid: str
    account_sid: str
    direction: str  # "inbound" | "outbound"
    from_: str
    to: str
    call_id: str
    service_url: str
    plan: Plan
    created_at: float
    caller_name: str = ""
    application_sid: str | None = None
    tag: dict[str, Any] | None = None
    extra: dict[str, str] = field(default_factory=dict)  # e.g. originating_sip_ip of inbound calls
    seq: int = field(default_factory=lambda: next(_sequence))  # creation order

    def with_changes(self, **changes: Any) -> "CallRecord":
        return replace(self, **changes)


def new_call_id() -> str:
    return str(uuid.uuid4())


class CallStore:
    """Call records by sid, in creation order. Every method takes the lock; none sleeps."""

    def __init__(self, clock: Clock, retention: Retention) -> None:
        self._clock = clock
        self._retention = retention
        self._lock = threading.Lock()
        self._records: dict[str, CallRecord] = {}
        self._ever: set[str] = set()  # every sid ever stored, to tell "never existed" from "gone"
        self._operations = 0

    # -- visibility ------------------------------------------------------------------------------
    def _visible(self, record: CallRecord, now: float) -> bool:
        ended_at = record.plan.ended_at
        if ended_at is None or now < ended_at:
            return True
        keep = self._retention(record)
        return keep is None or now < ended_at + keep

    def visible(self, record: CallRecord) -> bool:
        """Whether a record (stored or not) is within its retention now."""
        return self._visible(record, self._clock.now())

    def _tick(self, now: float) -> None:
        """Purge expired records now and then (every 64 operations), so memory stays bounded."""
        self._operations += 1
        if self._operations % 64 == 0:
            for sid in [s for s, r in self._records.items() if not self._visible(r, now)]:
                del self._records[sid]

    # -- operations --------------------------------------------------------------------------------
    def add(self, record: CallRecord) -> CallRecord:
        with self._lock:
            if record.call_sid in self._records:
                raise KeyError(f"duplicate call sid {record.call_sid}")
            self._tick(self._clock.now())
            self._records[record.call_sid] = record
            self._ever.add(record.call_sid)
            return record

    def get(self, call_sid: str) -> CallRecord | None:
        with self._lock:
            now = self._clock.now()
            self._tick(now)
            record = self._records.get(call_sid)
            return record if record is not None and self._visible(record, now) else None

    def calls(self, account_sid: str | None = None) -> list[CallRecord]:
        """Visible records of one account (or of all accounts), oldest first."""
        with self._lock:
            now = self._clock.now()
            self._tick(now)
            return [r for r in self._records.values()
                    if (account_sid is None or r.account_sid == account_sid) and self._visible(r, now)]

    def remove(self, call_sid: str) -> CallRecord | None:
        """Remove a visible record; None when there is none."""
        with self._lock:
            now = self._clock.now()
            self._tick(now)
            record = self._records.get(call_sid)
            if record is None or not self._visible(record, now):
                return None
            del self._records[call_sid]
            return record

    def ever_held(self, call_sid: str) -> bool:
        """Whether a record with this sid was ever stored (deleted and expired ones included)."""
        with self._lock:
            return call_sid in self._ever

    def __len__(self) -> int:
        with self._lock:
            now = self._clock.now()
            return sum(1 for r in self._records.values() if self._visible(r, now))


def seed_records(settings: ReferenceSettings, clock: Clock) -> list[CallRecord]:
    """The inbound calls each account has from the start: two ended a little while ago (well inside
    the window), one answered a moment ago that goes on for an hour."""
    now = clock.now()
    window = settings.window
    records: list[CallRecord] = []
    for index, account in enumerate(settings.accounts):
        shapes = [
            # (started ago, answered after, ended after): seconds
            (window * 0.10 + 62.0, 4.0, 62.0),
            (window * 0.05 + 21.0, 3.0, 21.0),
            (30.0, 5.0, 3600.0),
        ]
        for n in range(settings.seeded_calls):
            started_ago, answered_after, ended_after = shapes[n % len(shapes)]
            started = now - started_ago
            plan = plan_inbound(started, started + answered_after, started + ended_after)
            caller = f"1500555{index:02d}{n:02d}"
            records.append(CallRecord(
                call_sid=str(uuid.uuid4()), account_sid=account.sid, direction="inbound",
                from_=caller, to=f"150055501{index:02d}", call_id=new_call_id(),
                service_url=settings.service_url, plan=plan, created_at=started,
                caller_name="", application_sid=account.application_sid or SEED_APPLICATION_SID,
                extra={"originating_sip_ip": f"192.0.2.{10 + n}:5060", "originating_sip_trunk_name": "SBC"},
            ))
    return records
