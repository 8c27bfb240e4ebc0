"""The run-wide oracle: invariants judged on everything the run saw (conformance/evidence/call_model.py), at
the end of the run.

Each invariant is a small named function of the model returning its contradictions: the requirement it
breaks, a failure code, a message, and the two (or more) exchanges that contradict each other. Time is
judged honestly: the server handled a request at an unknown moment within [sent, received] of its
exchange, so "B was handled after A" is claimed only when B was sent after A's answer was received.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from conformance.contract.calls import ACTIVE_STATUSES
from conformance.evidence.call_model import CallModel, Model, Observation, build
from conformance.evidence.history import MAX_LIST_ITEMS, Record
from conformance.judgement.checks import RequirementViolation

#: Fields of a call that cannot change while the run watches it (D-41). Optional ones (application_sid,
#: originating_*) may be shown only once known: they are compared only when both observations carry them.
IMMUTABLE_FIELDS = ("account_sid", "direction", "from", "to", "call_id", "application_sid",
                    "originating_sip_ip", "originating_sip_trunk_name")
#: What an ended call shows that stays as it is (D-42).
FINAL_FIELDS = ("call_status", "sip_status", "duration")
MAX_PER_INVARIANT = 20  # contradictions kept per invariant: enough to report, bounded on a broken target
#: Seconds a duration may exceed the life the run saw: one for rounding to whole seconds, one for the
#: server's clock (D-51).
DURATION_SLACK = 2.0


@dataclass(frozen=True)
class Contradiction:
    requirement: str
    code: str
    message: str
    records: tuple[Record, ...]  # the exchanges that contradict each other, in run order

    def violation(self, more: int = 0, at_least: bool = False) -> RequirementViolation:
        """The violation to report, with this contradiction's exchanges as its evidence (each with its curl
        line); `more` other contradictions of the same invariant are counted, not listed."""
        records = sorted(self.records, key=lambda r: r.index)
        also = f" (and {'at least ' if at_least else ''}{more} more contradiction{'s' if more > 1 else ''})" if more else ""
        return RequirementViolation(self.requirement, self.code, f"{self.message}{also}",
                                    records[0].exchange, evidence=[(r.label(), r.exchange) for r in records])


def after(later: Record, earlier: Record) -> bool:
    """`later` was certainly handled after `earlier` whatever moment within its exchange each was handled."""
    return later.sent >= earlier.received


def _how(record: Record) -> str:
    return {"getCall": "get", "listCalls": "list", "createCall": "create", "deleteCall": "delete"}.get(
        record.operation or "", "request")


def named_again(records: list[Record], sid: str) -> Record | None:
    """The create of `records` that named `sid` again after an earlier answer had named it, or None."""
    call = build(records).calls.get(sid)
    return _named_again(call) if call is not None else None


def _named_again(call: CallModel) -> Record | None:
    """The first create that answered this sid after an earlier answer had already named it, or None. Such a
    sid names two calls: that is CALLS-CREATE-NEW-SID's to judge, and no other invariant's."""
    for create in call.creates:
        if any(r is not create and r.received <= create.sent for r in call.mentions()):
            return create
    return None


def same_everywhere(model: Model) -> list[Contradiction]:
    """A call shows the same unchangeable fields in every answer that shows it, list item or get."""
    found = []
    for call in model.calls.values():
        if _named_again(call) is not None:
            continue
        first: dict[str, tuple[object, Record]] = {}
        for seen in call.seen:
            for name in IMMUTABLE_FIELDS:
                if name not in seen.fields or seen.fields[name] is None:
                    continue
                value = seen.fields[name]
                if name not in first:
                    first[name] = (value, seen.record)
                elif first[name][0] != value:
                    was, where = first[name]
                    found.append(Contradiction(
                        "CALLS-SAME-EVERYWHERE", "CF114",
                        f"call {call.sid} shows {name} {was!r} in {where.label()} ({_how(where)}) and {value!r} "
                        f"in {seen.record.label()} ({_how(seen.record)})", (where, seen.record)))
                    first[name] = (value, seen.record)  # one contradiction per change, not per later answer
    return found[:MAX_PER_INVARIANT]


def final_stays_final(model: Model) -> list[Contradiction]:
    """What an ended call shows (status, SIP status, duration) is shown the same in every later answer.
    A later active status is CALLS-LIFECYCLE-MONOTONIC's to judge, not this one's."""
    found = []
    for call in model.calls.values():
        ended = call.first_ended()
        if ended is None or _named_again(call) is not None:
            continue
        for seen in call.seen:
            if seen is ended or not after(seen.record, ended.record):
                continue
            if seen.fields.get("call_status") in ACTIVE_STATUSES:
                continue
            changed = [name for name in FINAL_FIELDS
                       if name in ended.fields and name in seen.fields and ended.fields[name] != seen.fields[name]]
            if changed:
                what = ", ".join(f"{n} {ended.fields[n]!r} -> {seen.fields[n]!r}" for n in changed)
                found.append(Contradiction(
                    "CALLS-ENDED-STAYS-FINAL", "CF115",
                    f"call {call.sid} had ended in {ended.record.label()} ({_how(ended.record)}); a later answer, "
                    f"{seen.record.label()} ({_how(seen.record)}), shows {what}", (ended.record, seen.record)))
                break  # one account per call
    return found[:MAX_PER_INVARIANT]


def creates_name_new_calls(model: Model) -> list[Contradiction]:
    """Every successful create names a call no answer before it had named."""
    found = []
    for call in model.calls.values():
        create = _named_again(call)
        if create is not None:
            first = next(r for r in call.mentions() if r is not create and r.received <= create.sent)
            found.append(Contradiction(
                "CALLS-CREATE-NEW-SID", "CF116",
                f"the create of {create.label()} answered sid {call.sid}, which {first.label()} "
                f"({_how(first)}) had already named before that create was sent", (first, create)))
    return found[:MAX_PER_INVARIANT]


def deleted_stays_gone(model: Model) -> list[Contradiction]:
    """A call deleted after it had ended is not seen again for the rest of the run. A call deleted while live
    may still be written once more (D-21); a sid a later create named again is CALLS-CREATE-NEW-SID's."""
    found = []
    for call in model.calls.values():
        ended = call.first_ended()
        if ended is None:
            continue
        for delete in call.deletes:
            if not after(delete, ended.record):
                continue  # not known to have ended before the delete was handled
            if _named_again(call) is not None:
                continue
            back = _back_after_gone(call, delete)
            if back is not None:
                gone, again = back
                found.append(Contradiction(
                    "CALLS-DELETED-STAYS-GONE", "CF117",
                    f"call {call.sid} had ended ({ended.record.label()}), was deleted ({delete.label()}) and was "
                    f"gone ({gone.label()}, {_how(gone)}); {again.record.label()} ({_how(again.record)}) shows it "
                    f"again", (ended.record, delete, gone, again.record)))
                break
        if len(found) >= MAX_PER_INVARIANT:
            break
    return found


def _back_after_gone(call: CallModel, delete: Record) -> tuple[Record, Observation] | None:
    """An answer showing the call after the same kind of answer, for the same account, had shown it gone since
    the delete (a get after a 404, a list after a list without it). Still there right after the delete is
    CALLS-DELETE-REMOVES's; only gone and then back is this invariant's. Another account's view proves
    nothing: a call another account cannot see is not gone (a delete of it accepted there is
    CALLS-DELETE-UNKNOWN-404's or CALLS-ISOLATION-FOREIGN-CALL's)."""
    for seen in call.seen:
        if not after(seen.record, delete):
            continue
        kind = "getCall" if seen.via == "get" else "listCalls"
        gone = next((r for r in call.absent if r.operation == kind and r.account_sid == seen.record.account_sid
                     and after(r, delete) and after(seen.record, r)), None)
        if gone is not None:
            return gone, seen
    return None


def duration_within_life(model: Model) -> list[Contradiction]:
    """A call the run created lasts no longer than it existed: its duration, in the first answer that shows it
    ended, is at most the time from its create being sent to that answer being received (D-51)."""
    found = []
    for call in model.calls.values():
        ended = call.first_ended()
        if ended is None or not call.creates or _named_again(call) is not None:
            continue
        duration = ended.fields.get("duration")
        if not isinstance(duration, int) or isinstance(duration, bool):
            continue  # absent or mistyped: CALLS-CALL-DURATION-ENDED's and CALLS-CALL-SCHEMA's to judge
        create = call.creates[0]
        lived = ended.record.received - create.sent
        if duration > lived + DURATION_SLACK:
            found.append(Contradiction(
                "CALLS-CALL-DURATION-WITHIN-LIFE", "CF122",
                f"call {call.sid} shows duration {duration} s in {ended.record.label()} ({_how(ended.record)}), "
                f"the first answer showing it ended, received {lived:.1f} s after its create ({create.label()}) "
                f"was sent", (create, ended.record)))
    return found[:MAX_PER_INVARIANT]


#: requirement -> the invariant that judges it
INVARIANTS: dict[str, Callable[[Model], list[Contradiction]]] = {
    "CALLS-SAME-EVERYWHERE": same_everywhere,
    "CALLS-ENDED-STAYS-FINAL": final_stays_final,
    "CALLS-CREATE-NEW-SID": creates_name_new_calls,
    "CALLS-DELETED-STAYS-GONE": deleted_stays_gone,
    "CALLS-CALL-DURATION-WITHIN-LIFE": duration_within_life,
}


def certainly_listed(model: Model, window: float,
                     settle: float) -> Iterator[tuple[CallModel, Record, Record, Observation]]:
    """(call, its create, a list, a later answer showing the call) for each 2xx list of an account, asked with
    the account's own token and no query, and each call the run created there that was certainly visible when
    the list was answered (D-52): readable (its create answered a settle time before the list was sent, or
    got before it), never the target of a delete, its create sent at most a window before the list was
    received (the call ended after its create, so it was ongoing or ended less than a window before), and
    shown again after the list (not removed meanwhile: that would be another requirement's)."""
    lists = [r for r, _ in model.lists if r.token_account == r.account_sid and "?" not in r.exchange.url
             and len(r.body) < MAX_LIST_ITEMS]
    for call in model.calls.values():
        create = next((c for c in call.creates if c.token_account == c.account_sid), None)
        if create is None or _named_again(call) is not None:
            continue
        for listing in lists:
            if listing.account_sid != create.account_sid or listing.received - create.sent > window \
                    or any(d.sent <= listing.received for d in call.delete_requests):
                continue
            readable = create.received + settle <= listing.sent or any(
                o.via == "get" and o.record.received <= listing.sent for o in call.seen)
            again = next((o for o in call.seen if after(o.record, listing)
                          and o.record.account_sid == listing.account_sid), None)
            if readable and again is not None:
                yield call, create, listing, again


def lists_complete(model: Model, window: float, settle: float) -> list[Contradiction]:
    """Every list names every call certainly visible when it was answered (`certainly_listed`)."""
    found: list[Contradiction] = []
    named = {id(r): listed for r, listed in model.lists}
    blamed: set[str] = set()
    for call, create, listing, again in certainly_listed(model, window, settle):
        listed = named[id(listing)]
        if call.sid in listed or call.sid in blamed:
            continue
        blamed.add(call.sid)  # one account per call
        found.append(Contradiction(
            "CALLS-LIST-COMPLETE", "CF110",
            f"the list of {listing.label()} names {len(listed)} calls but not call {call.sid}, created by "
            f"{create.label()} at most {listing.received - create.sent:.1f} s before and shown again by "
            f"{again.record.label()} ({_how(again.record)}) after it", (create, listing, again.record)))
    return found[:MAX_PER_INVARIANT]
def deleted_ended(model: Model) -> list[CallModel]:
    """Calls the run deleted after it had seen them ended (the oracle re-reads a few of them)."""
    return [c for c in model.calls.values()
            if c.deletes and (e := c.first_ended()) is not None and any(after(d, e.record) for d in c.deletes)]
