"""What the run's requests saw as they happened, whoever sent them: the statuses each call showed (`SEEN`),
and the calls whose delete the target accepted (`DELETED`) or that a watch will delete (`DELETING`).

A server may show a status change to one observer only, or report it once, to whichever request comes
first: a check that a terminal status never turns active again reads what every request of the run saw.
`ObservedClient` is the run's client; every get or list answer it receives is recorded in SEEN.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable

from conformance.deployment.api import ApiClient
from conformance.deployment.exchange import Exchange


@dataclass
class Seen:
    sid: str
    call_status: str
    sent: float  # monotonic
    received: float
    via: str  # "get" or "list"
    exchange: Exchange | None
    call: dict[str, Any] | None = None  # the call object as it was answered


class StatusLog:
    """The statuses of calls as the suite's requests saw them, from any test or a watch's thread. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, list[Seen]] = {}

    def record(self, sid: Any, status: Any, sent: float, received: float, via: str,
               exchange: Exchange | None, call: dict[str, Any] | None = None) -> None:
        if isinstance(sid, str) and isinstance(status, str):
            with self._lock:
                self._seen.setdefault(sid, []).append(Seen(sid, status, sent, received, via, exchange, call))

    def record_response(self, response: Any, sent: float, received: float, asked: str | None = None) -> None:
        """Record the statuses a 2xx get (one call) or list (several) answer shows."""
        self.record_body(response.success_json(), sent, received, response.exchange, asked)

    def record_body(self, body: Any, sent: float, received: float, exchange: Exchange | None,
                    asked: str | None = None) -> None:
        """Record the statuses the decoded body of a 2xx get or list answer shows. A get answered with
        another call than the one `asked` for says nothing reliable about either (CALLS-GET-MATCHES-SID)."""
        if isinstance(body, dict):
            if asked is None or body.get("call_sid") == asked:
                self.record(body.get("call_sid"), body.get("call_status"), sent, received, "get", exchange, body)
        elif isinstance(body, list):
            for call in body:
                if isinstance(call, dict):
                    self.record(call.get("call_sid"), call.get("call_status"), sent, received, "list", exchange,
                                call)

    def sids(self) -> list[str]:
        """Every call any request of the run has seen, created by the run or not."""
        with self._lock:
            return list(self._seen)

    def of(self, sid: str) -> list[Seen]:
        with self._lock:
            return sorted(self._seen.get(sid, []), key=lambda seen: seen.sent)


SEEN = StatusLog()


class ObservedClient(ApiClient):
    """The run's client: every get or list answer it receives is recorded in SEEN, whoever sent it."""

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

#: The calls the run itself may delete while other checks look (the lifecycle call, which a background
#: watch deletes when done; the calls of linked sequences, whose next step may delete them): no other
#: check relies on one of them staying visible, and a 404 of one is no evidence.
DELETING = DeletedCalls()


def sids_of(calls: Iterable[Any]) -> set[str]:
    """The sids a list names. A list the checks read (`checks.ListedCalls`) keeps in `named` the sid of every
    item that names one, well-formed or not: a call listed with a malformed property is still listed."""
    named = getattr(calls, "named", None)
    if named is not None:
        return set(named)
    return {c.get("call_sid") for c in calls if isinstance(c, dict)}
