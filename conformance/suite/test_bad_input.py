"""Bad input: invalid create bodies, malformed sids, unknown calls and methods the API does not offer.

Every such request is refused with a 4xx, never a 5xx (D-13, D-19, D-25, D-30), and a refused create
leaves no call behind. A 5xx is a server error whatever the input: it fails CALLS-NO-SERVER-ERROR besides
the body's own requirement (the message says it was answered to malformed input). Refusing a numeric or
over-long `from`, and a 1 MiB body, is the suite's advice (CALLS-CREATE-REJECTS-MISTYPED, ADVISORY). Wherever a number appears in a bad body it is a configured number, so even a
server that wrongly accepts the body dials nobody else; such bodies are only sent when the run may
create calls, and count against the call budget only if the server accepted them (it should not).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from conformance.evidence.observed import sids_of
from conformance.judgement.checks import (
    expect_allow, expect_call_list, expect_rejected, expect_status, judged, same_number, violation,
)
from conformance.deployment.api import Response

MALFORMED_SIDS = {
    "words": "not-a-uuid",
    "digit": "1",
    "uuid-shaped-non-hex": "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
}
ONE_MIB = 1024 * 1024


@dataclass(frozen=True)
class BadBody:
    """An invalid create body. `build(payload)` returns (JSON value or raw bytes, raw?)."""

    requirement: str
    build: Callable[[dict[str, Any]], Any]
    raw: bool = False  # `build` returns bytes to send as they are
    dials: bool = True  # carries the configured destination: a lenient server could place a call
    numbers: bool = True  # built from the configured numbers


def _without(payload: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != name}


def _with(payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**payload, **fields}


def _padded(payload: dict[str, Any]) -> dict[str, Any]:
    tag = dict(payload.get("tag") or {})
    tag["padding"] = "x" * ONE_MIB
    return _with(payload, tag=tag)


def _unterminated(payload: dict[str, Any]) -> bytes:
    # The document's own example: the closing brace of the outer object is missing.
    return json.dumps(payload).encode()[:-1]


def _from_digits(payload: dict[str, Any]) -> int:
    return int("".join(ch for ch in payload["from"] if ch.isdigit()))


INVALID = "CALLS-CREATE-REJECTS-INVALID"
MISTYPED = "CALLS-CREATE-REJECTS-MISTYPED"
BAD_BODIES: dict[str, BadBody] = {
    "malformed-json": BadBody(INVALID, _unterminated, raw=True),
    "empty-body": BadBody(INVALID, lambda p: b"", raw=True, dials=False, numbers=False),
    "array-holding-a-valid-body": BadBody(INVALID, lambda p: [p]),
    "json-string": BadBody(INVALID, lambda p: "create a call", dials=False, numbers=False),
    "missing-from": BadBody(INVALID, lambda p: _without(p, "from")),
    "empty-from": BadBody(INVALID, lambda p: _with(p, **{"from": ""})),
    "missing-to": BadBody(INVALID, lambda p: _without(p, "to"), dials=False),
    "to-as-string": BadBody(INVALID, lambda p: _with(p, to=p["to"]["number"])),
    "to-without-type": BadBody(INVALID, lambda p: _with(p, to={"number": p["to"]["number"]})),
    "unknown-to-type": BadBody(INVALID, lambda p: _with(p, to={"type": "carrier-pigeon", "number": p["to"]["number"]})),
    "phone-to-without-number": BadBody(INVALID, lambda p: _with(p, to={"type": "phone"})),
    "from-as-object": BadBody(INVALID, lambda p: _with(p, **{"from": {"number": p["from"]}})),
    "from-as-number": BadBody(MISTYPED, lambda p: _with(p, **{"from": _from_digits(p)})),
    "from-over-256-characters": BadBody(MISTYPED, lambda p: _with(p, **{"from": p["from"] + "1" * 257})),
    "oversized-body-1-mib": BadBody(MISTYPED, _padded),
}


class Snapshot:
    """The sids of the account's calls, as last seen: the 'before' of the next rejected create."""

    def __init__(self, api) -> None:
        self.api = api
        self.sids: set[str] | None = None

    def refresh(self) -> tuple[Response, list[dict[str, Any]]]:
        response = self.api.list_calls()
        listed = expect_call_list(response, "list around a rejected create")
        self.sids = sids_of(listed)
        return response, listed

    def before(self) -> set[str]:
        if self.sids is None:
            self.refresh()
        assert self.sids is not None
        return set(self.sids)


@pytest.fixture(scope="module")
def snapshot(api) -> Snapshot:
    return Snapshot(api)


def _new_calls_like_ours(listed: list[dict[str, Any]], before: set[str], target) -> list[dict[str, Any]]:
    """Calls that appeared since `before` and look like the suite's: outbound, from or to a configured number."""
    found = []
    for call in listed:
        if call["call_sid"] in before or call.get("direction") != "outbound":
            continue
        numbers = [n for n in (target.from_number, target.to_number) if n]
        if not numbers or any(same_number(n, call.get(k)) for n in numbers for k in ("from", "to")):
            found.append(call)
    return found


def _account_for_accepted_create(calls, response: Response, body: Any) -> str | None:
    """A create that should have been refused was accepted: count it, remember it for cleanup."""
    if not 200 <= response.status < 300:
        return None
    calls.count("accepted-refusal")
    sid = response.created_sid()
    calls.remember(sid, body if isinstance(body, dict) else {"body": body})
    return sid


def _needs_create_allowed(calls, dials: bool) -> None:
    reason = calls.skip_reason()
    if dials and reason:
        pytest.skip(f"this body names the configured destination and is only sent when a call could be afforded "
                    f"({reason})")


@pytest.mark.requirements("CALLS-CREATE-REJECT-NO-CALL", "CALLS-NO-SERVER-ERROR")
@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.requirements(bad.requirement)) for name, bad in BAD_BODIES.items()
])
def test_invalid_create_body_is_refused_and_creates_nothing(name, api, calls, target, snapshot) -> None:
    bad = BAD_BODIES[name]
    _needs_create_allowed(calls, bad.dials)
    payload = calls.payload()
    if bad.numbers and not (payload.get("from") and isinstance(payload.get("to"), dict) and payload["to"].get("number")):
        pytest.skip("no --from-number/--to-number configured: bad bodies are built from the configured numbers")
    body = bad.build(payload)
    # Calls listed before, and calls the run made itself (a list may show them late: reads may lag, D-35).
    before = snapshot.before() | {c.sid for c in calls.created}
    if bad.raw:
        response = api.request("POST", api.calls_path(), data=body, headers={"Content-Type": "application/json"})
    else:
        response = api.request("POST", api.calls_path(), json=body)
    sid = _account_for_accepted_create(calls, response, body)
    listing, listed = snapshot.refresh()  # before judging: an accepted call must not count as the next test's
    expect_rejected(response, bad.requirement,
                    f"create with an invalid body ({name.replace('-', ' ')})" + (f", accepted as call {sid}" if sid else ""))
    appeared = _new_calls_like_ours(listed, before, target)
    if appeared:
        for call in appeared:
            calls.remember(call["call_sid"], {"refused-create": name})
        raise violation("CALLS-CREATE-REJECT-NO-CALL", "CF112",
                        f"after the create ({name.replace('-', ' ')}) was refused with {response.status}, the list shows "
                        f"new call(s) {', '.join(c['call_sid'] for c in appeared)}", listing)


# --- malformed sids ---------------------------------------------------------------------------


SID_CASES = [  # (operation, which sid is malformed)
    ("list", "account"), ("get", "account"), ("get", "call"),
    ("delete", "account"), ("delete", "call"), ("create", "account"),
]


@pytest.mark.requirements("CALLS-SID-FORMAT", "CALLS-NO-SERVER-ERROR")
@pytest.mark.parametrize("sid_kind", list(MALFORMED_SIDS))
@pytest.mark.parametrize("operation,which", SID_CASES, ids=[f"{o}-{w}" for o, w in SID_CASES])
def test_malformed_sid_is_refused(operation, which, sid_kind, api, calls) -> None:
    bad = MALFORMED_SIDS[sid_kind]
    account = bad if which == "account" else api.account_sid
    call = bad if which == "call" else str(uuid.uuid4())
    what = f"{operation} with a malformed {which} sid {bad!r}"
    if operation == "list":
        response = api.request("GET", api.calls_path(account))
    elif operation == "get":
        response = api.request("GET", api.call_path(call, account))
    elif operation == "delete":
        response = api.request("DELETE", api.call_path(call, account))
    else:
        _needs_create_allowed(calls, dials=True)
        body = calls.payload()
        response = api.request("POST", api.calls_path(account), json=body)
        sid = _account_for_accepted_create(calls, response, body)
        if sid:
            what += f" (accepted as call {sid})"
    expect_rejected(response, "CALLS-SID-FORMAT", what)


# --- unknown calls ------------------------------------------------------------------------------


@pytest.mark.requirements("CALLS-DELETE-UNKNOWN-404")
def test_delete_of_an_unknown_call_answers_404(api) -> None:
    response = api.delete_call(str(uuid.uuid4()))
    expect_status(response, 404, "CALLS-DELETE-UNKNOWN-404", "delete of a random (unknown) call sid")


# --- methods the API does not offer -------------------------------------------------------------


METHOD_CASES = [  # (method, path kind). PUT and POST on a call are live call control in jambonz: not sent.
    ("PATCH", "collection"), ("PUT", "collection"), ("DELETE", "collection"), ("PATCH", "call"),
]


@pytest.mark.requirements("CALLS-METHOD-UNSUPPORTED", "CALLS-METHOD-ALLOW", "CALLS-NO-SERVER-ERROR")
@pytest.mark.parametrize("method,path_kind", METHOD_CASES, ids=[f"{m}-{p}" for m, p in METHOD_CASES])
def test_method_the_api_does_not_offer_is_refused(method, path_kind, api) -> None:
    path = api.calls_path() if path_kind == "collection" else api.call_path(str(uuid.uuid4()))
    response = api.request(method, path, json={})
    what = f"{method} on the {path_kind} path"
    if response.status == 501:
        return  # Not Implemented: RFC 9110's answer for a method the server does not recognise (D-25)
    with judged():
        expect_rejected(response, "CALLS-METHOD-UNSUPPORTED", what)
    expect_allow(response, what)  # owed by a 405 only: another refusal owes no Allow (D-25)
