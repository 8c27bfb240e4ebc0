"""What the run saw: one `Record` per exchange, whoever made it, in the order the exchanges completed.

`TargetSession` (conformance/deployment/transport.py) appends every exchange it completes, failed ones
included (with no status); the run's sessions all share the run's one `History`. The oracle
(conformance/judgement/oracle.py) judges it at the end of the run, through the model of the target's
calls (call_model.py).

Memory stays bounded whatever the run's length or the target's answers: at most MAX_RECORDS records are
kept (a default run makes about a thousand exchanges, a 600 s window run little more), each with its
redacted exchange (bodies already cut to a few thousand characters by the client); the JSON body of an
answer is decoded only when it is a 2xx answer of a call operation no larger than MAX_BODY_BYTES, and
only while the bodies decoded so far stay under MAX_DECODED_BYTES in all; a list keeps at most
MAX_LIST_ITEMS call objects. Records beyond the cap are counted (`dropped`), not kept, and so are bodies
not decoded (`undecoded`): the oracle then judges the part of the run it kept.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from conformance.deployment.api import loads_bounded
from conformance.deployment.exchange import Exchange

MAX_RECORDS = 20_000
MAX_BODY_BYTES = 256 * 1024
MAX_LIST_ITEMS = 500
MAX_DECODED_BYTES = 8 * 1024 * 1024  # of JSON text, over the whole run
SETTLE_TIMEOUT = 5.0  # longest wait, in `settled`, for exchanges still in flight

_CALLS_PATH = re.compile(r"/Accounts/([^/]+)/Calls(?:/([^/]+))?/?$")
_OPERATIONS = {("GET", False): "listCalls", ("POST", False): "createCall",
               ("GET", True): "getCall", ("DELETE", True): "deleteCall"}


@dataclass(frozen=True)
class Record:
    """One exchange of the run, as the oracle needs it."""

    index: int  # its place in the run, from 1
    exchange: Exchange  # redacted
    sent: float  # monotonic, when the request was sent
    received: float  # monotonic, when the answer was complete (or the exchange failed)
    wall: float  # time.time() when it was received
    operation: str | None  # listCalls, getCall, createCall, deleteCall, or None
    account_sid: str | None  # the account of the path
    call_sid: str | None  # the call of the path
    token_account: str | None  # the account whose configured token was sent (None: no configured token)
    body: Any = None  # the decoded JSON body of a 2xx answer of a call operation (bounded), else None

    @property
    def status(self) -> int | None:
        return self.exchange.status

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def label(self) -> str:
        return f"exchange #{self.index}"


def accepted_deletes(records: list[Record], account_sid: str, since: float, other_than: str) -> list[Record]:
    """Deletes of calls of `account_sid` other than `other_than`, accepted (2xx), that completed after `since`."""
    return [r for r in records if r.operation == "deleteCall" and r.ok and r.account_sid == account_sid
            and r.call_sid != other_than and r.received >= since]


def created_sids(records: list[Record]) -> set[str]:
    """The sids the accepted creates among `records` answered with."""
    return {r.body["sid"] for r in records if r.operation == "createCall" and r.ok and isinstance(r.body, dict)
            and isinstance(r.body.get("sid"), str)}


def operation_of(method: str, url: str) -> tuple[str | None, str | None, str | None]:
    """(operation, account sid, call sid) of a request, from its method and path."""
    found = _CALLS_PATH.search(urlsplit(url).path)
    if found is None:
        return None, None, None
    account, call = found.group(1), found.group(2)
    return _OPERATIONS.get((method.upper(), call is not None)), account, call


class History:
    """The run's exchanges, append-only and thread-safe."""

    def __init__(self, tokens: dict[str, str] | None = None, keep: int = MAX_RECORDS) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._records: list[Record] = []
        self._in_flight: dict[int, float] = {}  # ticket -> monotonic time it was sent
        self._tickets = 0
        self._tokens = dict(tokens or {})  # configured token -> its account sid; never written anywhere
        self.keep = keep
        self.dropped = 0
        self.undecoded = 0  # 2xx call answers whose body was not decoded: the run's decoding budget was spent
        self._decoded = 0

    def sending(self) -> int:
        """Note an exchange about to be sent; its ticket goes to `add` when it completes."""
        with self._lock:
            self._tickets += 1
            self._in_flight[self._tickets] = time.monotonic()
            return self._tickets

    def add(self, exchange: Exchange, authorization: str | None, sent: float, content: bytes | None,
            ticket: int | None = None) -> None:
        """Record one completed (or failed: no status) exchange; `content` is the raw body read."""
        received = time.monotonic()
        operation, account, call = operation_of(exchange.method, exchange.url)
        token_account = None
        if authorization and authorization.startswith("Bearer "):
            token_account = self._tokens.get(authorization[7:])
        body = None
        if operation is not None and exchange.status is not None and 200 <= exchange.status < 300 \
                and content and len(content) <= MAX_BODY_BYTES and exchange.over_cap is None \
                and self._spend(len(content)):
            try:
                body = loads_bounded(content.decode("utf-8"))
            except ValueError:
                body = None
            if isinstance(body, list) and len(body) > MAX_LIST_ITEMS:
                body = body[:MAX_LIST_ITEMS]
        with self._lock:
            if self._in_flight.pop(ticket, None) is not None:
                self._changed.notify_all()
            if len(self._records) >= self.keep:
                self.dropped += 1
                return
            self._records.append(Record(len(self._records) + 1, exchange, sent, received, time.time(), operation,
                                        account, call, token_account, body))

    def _spend(self, size: int) -> bool:
        with self._lock:
            if self._decoded + size > MAX_DECODED_BYTES:
                self.undecoded += 1
                return False
            self._decoded += size
            return True

    def records(self) -> list[Record]:
        """A snapshot, in the order the exchanges completed."""
        with self._lock:
            return list(self._records)

    def index_of(self, exchange: Exchange) -> int | None:
        """The number of the record of `exchange` (that very object), or None when it was not kept."""
        with self._lock:
            return next((r.index for r in reversed(self._records) if r.exchange is exchange), None)

    def settled(self, before: float, timeout: float = SETTLE_TIMEOUT) -> list[Record]:
        """The records once every exchange sent before monotonic time `before` has completed.

        Another thread's exchange may have reached the target before one's own, yet completed after it:
        a check that asks what else happened meanwhile must see it. Waits at most `timeout` seconds (an
        exchange abandoned by an interrupt never completes)."""
        end = time.monotonic() + timeout
        with self._changed:
            while any(t < before for t in self._in_flight.values()):
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return list(self._records)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)
