"""What the run knows about the target's calls, built from the run's history (history.py).

For every call sid the run has seen: each observation of it (when, through which operation, under which
account path and token, the fields it showed), its creates, its deletes, and the absences the run saw
(a 404 to a get). Observations carry the honest time bounds of the exchange that made them: the server
handled the request at some moment within [sent, received], and nothing narrower is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.contract.calls import DIRECTIONS, STATUSES, TERMINAL_STATUSES
from conformance.evidence.history import Record


@dataclass(frozen=True)
class Observation:
    """The call seen in one answer: a get of it, or an item of a list."""

    record: Record
    via: str  # "get" or "list"
    fields: dict[str, Any]

    @property
    def ended(self) -> bool:
        return self.fields.get("call_status") in TERMINAL_STATUSES


def _comparable(fields: dict[str, Any], record: Record) -> dict[str, Any]:
    """The fields an answer shows, less those it already shows wrong on its own (another requirement's: an
    account_sid not the path's, a direction or status outside its enum, a SIP status or duration that is no
    integer), so that one defect costs one requirement."""
    wrong = {name for name, value in fields.items() if
             (name == "account_sid" and value != record.account_sid)
             or (name == "direction" and value not in DIRECTIONS)
             or (name == "call_status" and value not in STATUSES)
             or (name in ("sip_status", "duration") and (not isinstance(value, int) or isinstance(value, bool)))}
    return {name: value for name, value in fields.items() if name not in wrong} if wrong else fields


@dataclass
class CallModel:
    sid: str
    seen: list[Observation] = field(default_factory=list)  # in the order their answers completed
    creates: list[Record] = field(default_factory=list)  # 2xx creates that named this sid
    deletes: list[Record] = field(default_factory=list)  # 2xx deletes of this sid
    delete_requests: list[Record] = field(default_factory=list)  # every delete of this sid, whatever it answered
    absent: list[Record] = field(default_factory=list)  # 404s to a get of this sid, lists that lack it

    def first_ended(self) -> Observation | None:
        return next((o for o in self.seen if o.ended), None)

    def mentions(self) -> list[Record]:
        """Every exchange that named this call as existing, in order."""
        return sorted([o.record for o in self.seen] + self.creates, key=lambda r: r.index)


@dataclass
class Model:
    calls: dict[str, CallModel] = field(default_factory=dict)
    records: int = 0
    lists: list[tuple[Record, set[str]]] = field(default_factory=list)  # each 2xx list, with the sids it names

    def call(self, sid: str) -> CallModel:
        if sid not in self.calls:
            self.calls[sid] = CallModel(sid)
        return self.calls[sid]


def build(records: list[Record]) -> Model:
    """The model of the target's calls seen in `records` (a snapshot of the history)."""
    model = Model(records=len(records))
    lists = model.lists
    for record in records:
        body = record.body
        if record.operation == "createCall" and record.ok and isinstance(body, dict):
            sid = body.get("sid")
            if isinstance(sid, str) and sid:
                model.call(sid).creates.append(record)
        elif record.operation == "getCall" and record.call_sid:
            if record.ok and isinstance(body, dict) and body.get("call_sid") == record.call_sid:
                model.call(record.call_sid).seen.append(Observation(record, "get", _comparable(body, record)))
            elif record.status == 404:
                model.call(record.call_sid).absent.append(record)
        elif record.operation == "listCalls" and record.ok and isinstance(body, list):
            listed = set()
            for item in body:
                if isinstance(item, dict) and isinstance(item.get("call_sid"), str) and item["call_sid"]:
                    listed.add(item["call_sid"])
                    model.call(item["call_sid"]).seen.append(Observation(record, "list", _comparable(item, record)))
            lists.append((record, listed))
        elif record.operation == "deleteCall" and record.call_sid:
            model.call(record.call_sid).delete_requests.append(record)
            if record.ok:
                model.call(record.call_sid).deletes.append(record)
    # A list of an account that does not show a call deleted from that account shows it gone.
    for call in model.calls.values():
        for delete in call.deletes:
            call.absent += [r for r, listed in lists if r.account_sid == delete.account_sid
                            and r.sent >= delete.received and call.sid not in listed]
        call.absent.sort(key=lambda r: r.index)
    return model
