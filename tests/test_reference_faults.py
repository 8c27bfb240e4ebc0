"""Faults and variants of the reference server.

Each requirement of the catalogue has a probe here: a small black-box check through HTTP that says
whether the server keeps the requirement (`held`), visibly breaks it (`broken`), or cannot be judged
because something it needs is broken elsewhere (`inconclusive`). Then:

- every fault breaks the requirement it names, and breaks no requirement other than that one and the
  consequences it declares (`also`);
- the conformant server and every variant hold every requirement;
- every testable requirement of the catalogue is broken by at least one fault.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.contract import openapi
from conformance.reference import ACCOUNT_A, ACCOUNT_B, FAULTS, VARIANTS, ReferenceSettings
from conformance.reference.faults import FOREIGN_ACCOUNT_SID
from conformance.reference.testing import ReferenceClient, call_body, random_sid

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = yaml.safe_load((ROOT / "conformance" / "contract" / "catalogue.yaml").read_text(encoding="utf-8"))["requirements"]
# A MAY requirement is never failed (its absence is allowed): no fault can break it, no probe judges it.
TESTABLE = {r["id"] for r in CATALOGUE if r.get("testable", True) and r["level"] != "MAY"}
# The suite's advice (ADVISORY): a conformant variant may well not follow it.
ADVISORY = {r["id"] for r in CATALOGUE if r["level"] == "ADVISORY"}
SETTLE = 2.0  # seconds a created call may take to become gettable (decision D-35)
ALL_IDS = {r["id"] for r in CATALOGUE}

TERMINAL = {"completed", "failed", "busy", "no-answer"}
STATUS_ENUM = {"trying", "ringing", "early-media", "in-progress", "completed", "failed", "busy", "no-answer", "queued"}
RANK = {"queued": 0, "trying": 1, "ringing": 2, "early-media": 2, "in-progress": 3}
BAD_SIDS = ["abc", "8314ce10d3974c60a6232995d177816a", "8314ce10-d397-4c60-a623-2995d177816ax", "%00"]


class Inconclusive(Exception):
    """The probe cannot judge: something it relies on (creating, listing...) does not work."""


# --------------------------------------------------------------------------------- probe helpers
def body_of(response: Any) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is no JSON value")


def strict_json(content: bytes) -> Any:
    """JSON as RFC 8259 has it between systems: UTF-8 with no byte order mark (section 8.1), no NaN (section 6)."""
    if content.startswith(b"\xef\xbb\xbf"):
        raise ValueError("a byte order mark")
    return json.loads(content.decode("utf-8"), parse_constant=_no_constant)


def list_calls(c: ReferenceClient, account: Any = None, **kw: Any) -> list[dict[str, Any]]:
    response = c.list(account, **kw)
    body = body_of(response)
    if not 200 <= response.status_code < 300 or not isinstance(body, list):
        raise Inconclusive(f"list answered {response.status_code}")
    # An item that names no call is CALLS-CALL-SCHEMA's alone (its probe reads the raw list).
    return [call for call in body if isinstance(call, dict) and "call_sid" in call]


def listed_sids(c: ReferenceClient, account: Any = None) -> set[str]:
    return {call.get("call_sid") for call in list_calls(c, account)}


def create(c: ReferenceClient, account: Any = None, **fields: Any) -> str:
    response = c.create(call_body(**fields), account)
    body = body_of(response)
    if not 200 <= response.status_code < 300 or not isinstance(body, dict) or not isinstance(body.get("sid"), str):
        raise Inconclusive(f"create answered {response.status_code}")
    return body["sid"]


def fetch(c: ReferenceClient, sid: str, account: Any = None) -> dict[str, Any] | None:
    """The call object, or None for a 404."""
    response = c.get(sid, account)
    if response.status_code == 404:
        return None
    body = body_of(response)
    if not 200 <= response.status_code < 300 or not isinstance(body, dict):
        raise Inconclusive(f"get answered {response.status_code}")
    return body


def present(c: ReferenceClient, sid: str, account: Any = None) -> bool:
    """Whether the call is still there: gettable, or at least listed."""
    return fetch(c, sid, account) is not None or sid in listed_sids(c, account)


def delete(c: ReferenceClient, sid: str, account: Any = None) -> None:
    if not 200 <= c.delete(sid, account).status_code < 300:
        raise Inconclusive("delete failed")


def run_to_end(c: ReferenceClient, sid: str, limit: float = 120.0, step: float = 0.05) -> list[dict[str, Any]]:
    """Get the call at every step of the clock until it is terminal; the objects seen (404s skipped)."""
    seen: list[dict[str, Any]] = []
    waited = 0.0
    while waited <= limit:
        call = fetch(c, sid)
        if call is not None:
            seen.append(call)
            if call.get("call_status") in TERMINAL:
                return seen
        c.advance(step)
        waited += step
        step = min(step * 1.5, 2.0)
    raise Inconclusive("the call did not end")


def all_call_objects(c: ReferenceClient, malformed: bool = False) -> list[dict[str, Any]]:
    """Call objects of a session: created calls through their lifecycle, from list and get. Items that
    name no call (no call_sid) are CALLS-CALL-SCHEMA's alone: left out unless `malformed`."""
    made = [create(c, to=to) for to in ("+15005550001", "+15005550486", "+15005550503")]
    objects: list[dict[str, Any]] = []
    for _ in range(8):
        listed = body_of(c.list())
        objects.extend(call for call in (listed if isinstance(listed, list) else []) if isinstance(call, dict))
        objects.extend(call for sid in made if (call := fetch(c, sid)) is not None)
        c.advance(0.15)
    return objects if malformed else [call for call in objects if "call_sid" in call]


def schema_errors_except_enums(call: Any) -> list[str]:
    return [e for e in openapi.schema_errors(call, "Call")
            if not (e.startswith(("call_status:", "direction:")) and "is not one of" in e)]


def documented_statuses(path: str, method: str) -> set[str]:
    return set(openapi.load_spec()["paths"][path][method]["responses"])


def contract_allows(keys: set[str], status: int) -> bool:
    return str(status) in keys or f"{status // 100}XX" in keys or "default" in keys


def _body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


PHONE = {"type": "phone", "number": "+15005550001"}
# Bodies that describe no call (CALLS-CREATE-REJECTS-INVALID, decision D-30).
INVALID_BODIES = {
    "malformed-json": b'{"from": "+15005550006", "to": ',
    "not-an-object": b"[1, 2]",
    "missing-from": _body(to=PHONE),
    "empty-from": _body(**{"from": "", "to": PHONE}),
    "missing-to": _body(**{"from": "+15005550006"}),
    "to-not-object": _body(**{"from": "+15005550006", "to": "+15005550001"}),
    "missing-to-type": _body(**{"from": "+15005550006", "to": {"number": "+15005550001"}}),
    "unknown-to-type": _body(**{"from": "+15005550006", "to": {"type": "fax", "number": "+15005550001"}}),
    "to-without-address": _body(**{"from": "+15005550006", "to": {"type": "sip", "number": "+15005550001"}}),
    "from-an-object": _body(**{"from": {"number": "+15005550006"}, "to": PHONE}),
}
# Bodies the suite advises refusing (CALLS-CREATE-REJECTS-MISTYPED, ADVISORY, decision D-30).
MISTYPED_BODIES = {
    "from-not-string": _body(**{"from": 15005550006, "to": PHONE}),
    "from-too-long": _body(**{"from": "1" * 257, "to": PHONE}),
    "timeout-not-integer": _body(**{"from": "+15005550006", "to": PHONE, "timeout": "soon"}),
    "tag-not-object": _body(**{"from": "+15005550006", "to": PHONE, "tag": "x"}),
    "one-mebibyte": json.dumps(call_body(tag={"pad": "x" * (1 << 20)})).encode(),
}
BAD_BODIES = {**INVALID_BODIES, **MISTYPED_BODIES}


# ------------------------------------------------------------------------------------------ probes
Probe = Callable[[ReferenceClient], list[str]]
PROBES: dict[str, Probe] = {}


def probe(requirement: str) -> Callable[[Probe], Probe]:
    def register(function: Probe) -> Probe:
        PROBES[requirement] = function
        return function
    return register


@probe("CALLS-LIST-200")
def _list_200(c: ReferenceClient) -> list[str]:
    create(c)
    response = c.list()
    body = body_of(response)
    if response.status_code != 200:
        return [f"list answered {response.status_code}"]
    if not isinstance(body, list):
        return [f"list body is {type(body).__name__}, not an array"]
    return [f"item {i} is not an object" for i, call in enumerate(body) if not isinstance(call, dict)]


@probe("CALLS-LIST-ACCOUNT")
def _list_account(c: ReferenceClient) -> list[str]:
    create(c)
    return [f"listed call has account_sid {call.get('account_sid')}" for call in list_calls(c)
            if "call_sid" in call and call.get("account_sid") != c.a.sid]


@probe("CALLS-LIST-DISTINCT")
def _list_distinct(c: ReferenceClient) -> list[str]:
    create(c)
    create(c)
    sids = [call["call_sid"] for call in list_calls(c) if "call_sid" in call]
    return sorted({f"call {sid} listed {sids.count(sid)} times" for sid in sids if sids.count(sid) > 1})


@probe("CALLS-LIST-INCLUDES-ACTIVE")
def _list_includes_active(c: ReferenceClient) -> list[str]:
    made = [create(c) for _ in range(3)]
    shown = listed_sids(c)
    return [f"ongoing call {sid} not listed" for sid in made if sid not in shown]


@probe("CALLS-GET-200")
def _get_200(c: ReferenceClient) -> list[str]:
    mine = create(c)
    c.advance(1.5)  # ended, recently
    problems = []
    for sid in [mine] + [call["call_sid"] for call in list_calls(c) if call.get("direction") == "inbound"]:
        response = c.get(sid)
        if response.status_code != 200:
            problems.append(f"get of {sid} answered {response.status_code}")
        elif not isinstance(body_of(response), dict):
            problems.append("get body is not an object")
    return problems


@probe("CALLS-GET-MATCHES-SID")
def _get_matches_sid(c: ReferenceClient) -> list[str]:
    targets = [create(c)] + [call["call_sid"] for call in list_calls(c)]
    problems = []
    for sid in targets:
        for _ in range(3):
            call = fetch(c, sid)
            if call is not None and call.get("call_sid") != sid:
                problems.append(f"get of {sid} carries call_sid {call.get('call_sid')}")
    return problems


@probe("CALLS-GET-UNKNOWN-404")
def _get_unknown_404(c: ReferenceClient) -> list[str]:
    status = c.get(random_sid()).status_code
    return [] if status == 404 else [f"unknown call answered {status}"]


@probe("CALLS-CALL-SCHEMA")
def _call_schema(c: ReferenceClient) -> list[str]:
    return [f"{call.get('call_sid')}: {error}" for call in all_call_objects(c, malformed=True)
            for error in schema_errors_except_enums(call)]


@probe("CALLS-CALL-STATUS-ENUM")
def _status_enum(c: ReferenceClient) -> list[str]:
    return sorted({f"call_status {call.get('call_status')!r}" for call in all_call_objects(c)
                   if call.get("call_status") not in STATUS_ENUM})


@probe("CALLS-CALL-DIRECTION-ENUM")
def _direction_enum(c: ReferenceClient) -> list[str]:
    return sorted({f"direction {call.get('direction')!r}" for call in all_call_objects(c)
                   if call.get("direction") not in ("inbound", "outbound")})


@probe("CALLS-CALL-DOCUMENTED-FIELDS")
def _documented_fields(c: ReferenceClient) -> list[str]:
    return sorted({f"{name} missing" for call in all_call_objects(c)
                   for name in ("call_id", "sip_status", "service_url") if name not in call})


@probe("CALLS-CALL-CALLER-NAME")
def _caller_name(c: ReferenceClient) -> list[str]:
    return sorted({"caller_name missing" for call in all_call_objects(c) if "caller_name" not in call})


@probe("CALLS-CALL-DURATION-ENDED")
def _duration_ended(c: ReferenceClient) -> list[str]:
    ended = [run_to_end(c, create(c, to=to))[-1] for to in ("+15005550001", "+15005550486", "+15005550503")]
    calls = ended + [call for call in list_calls(c) if call.get("call_status") in TERMINAL]
    problems = []
    for call in calls:
        if call.get("call_status") not in TERMINAL:
            continue
        duration = call.get("duration")
        if not isinstance(duration, int) or isinstance(duration, bool) or duration < 0:
            problems.append(f"{call.get('call_status')} call {call.get('call_sid')} has duration {duration!r}")
    return problems


@probe("CALLS-CONTENT-TYPE-JSON")
def _content_type_json(c: ReferenceClient) -> list[str]:
    created = c.create()
    sid = (body_of(created) or {}).get("sid") if isinstance(body_of(created), dict) else None
    responses = {"create": created, "list": c.list()}
    if sid:
        responses["get"] = c.get(sid)
    problems = []
    for name, response in responses.items():
        media = response.headers.get("content-type", "").split(";")[0].strip()
        if 200 <= response.status_code < 300 and response.content and media != "application/json":
            problems.append(f"{name} answered {media or 'no content type'}")
    return problems


@probe("CALLS-CONTRACT-STATUS")
def _contract_status(c: ReferenceClient) -> list[str]:
    collection, item = "/Accounts/{account_sid}/Calls", "/Accounts/{account_sid}/Calls/{call_sid}"
    sid = create(c)
    other = create(c)
    exchanges = [
        (collection, "get", c.list()), (collection, "get", c.list(headers={})),
        (collection, "get", c.list(as_=ACCOUNT_B)), (collection, "get", c.list(account_sid="abc")),
        (item, "get", c.get(sid)), (item, "get", c.get(random_sid())), (item, "get", c.get("abc")),
        (collection, "post", c.create()), (collection, "post", c.create(content=BAD_BODIES["malformed-json"])),
        (collection, "post", c.create(content=BAD_BODIES["one-mebibyte"])),
        (collection, "post", c.create(content=b"{}", content_type="text/plain")),
        (item, "delete", c.delete(other)), (item, "delete", c.delete(other)),
        (item, "delete", c.delete(random_sid())), (item, "delete", c.delete("abc")),
    ]
    # Every answer counts, whatever was sent: each invalid body, an undefined query parameter.
    exchanges += [(collection, "post", c.create(content=content)) for content in BAD_BODIES.values()]
    exchanges += [(path, "get", c.request("GET", url, params={"page": "1"}, headers=c.auth(c.a)))
                  for path, url in ((collection, c.path(c.a.sid)), (item, c.path(c.a.sid, sid)))]
    # No 5xx is documented (decision D-13): a server error is an undocumented status as well.
    return [f"{method.upper()} {path} answered {response.status_code}" for path, method, response in exchanges
            if not contract_allows(documented_statuses(path, method), response.status_code)]


@probe("CALLS-CREATE-SUCCESS")
def _create_success(c: ReferenceClient) -> list[str]:
    response = c.create()
    if not 200 <= response.status_code < 300:
        return [f"create answered {response.status_code}"]
    try:
        body = strict_json(response.content)
    except ValueError:
        return [f"create body is not JSON as RFC 8259 has it: {response.content[:80]!r}"]
    if not isinstance(body, dict) or not isinstance(body.get("sid"), str):
        return [f"create body carries no sid: {response.content[:80]!r}"]
    try:
        uuid.UUID(body["sid"])
    except ValueError:
        return [f"sid {body['sid']!r} is not a UUID"]
    return []


@probe("CALLS-CREATE-201")
def _create_201(c: ReferenceClient) -> list[str]:
    status = c.create().status_code
    return [] if status == 201 else [f"create answered {status}"]


@probe("CALLS-CREATE-VISIBLE")
def _create_visible(c: ReferenceClient) -> list[str]:
    sid = create(c)
    waited = 0.0
    while (status := c.get(sid).status_code) == 404 and waited < SETTLE:
        c.advance(0.25)
        waited += 0.25
    return [] if 200 <= status < 300 else [f"get after create answered {status} for {waited} s"]


@probe("CALLS-CREATE-RECORD")
def _create_record(c: ReferenceClient) -> list[str]:
    sid = create(c, to="+15005550001", from_="+15005550006")
    call, waited = fetch(c, sid), 0.0
    while call is None and waited < SETTLE:  # when it can be read is CALLS-CREATE-VISIBLE's business
        c.advance(0.25)
        waited += 0.25
        call = fetch(c, sid)
    if call is None:
        raise Inconclusive("the created call is not gettable")
    expected = {"call_sid": sid, "account_sid": c.a.sid, "direction": "outbound"}
    problems = [f"{k} is {call.get(k)!r}, expected {v!r}" for k, v in expected.items() if call.get(k) != v]
    for field, sent in (("from", "+15005550006"), ("to", "+15005550001")):
        if not isinstance(call.get(field), str) or call[field].lstrip("+") != sent.lstrip("+"):
            problems.append(f"{field} is {call.get(field)!r}, sent {sent!r}")
    return problems


@probe("CALLS-CREATE-REJECTS-INVALID")
def _create_rejects_invalid(c: ReferenceClient) -> list[str]:
    return [f"{name} answered {status}" for name, content in INVALID_BODIES.items()
            if not 400 <= (status := c.create(content=content).status_code) < 500]


@probe("CALLS-CREATE-REJECTS-MISTYPED")
def _create_rejects_mistyped(c: ReferenceClient) -> list[str]:
    return [f"{name} answered {status}" for name, content in MISTYPED_BODIES.items()
            if not 400 <= (status := c.create(content=content).status_code) < 500]


@probe("CALLS-CREATE-REJECT-NO-CALL")
def _create_reject_no_call(c: ReferenceClient) -> list[str]:
    problems = []
    for name, content in BAD_BODIES.items():
        before = listed_sids(c)
        status = c.create(content=content).status_code
        if 400 <= status < 500 and (added := listed_sids(c) - before):
            problems.append(f"{name} was refused with {status} yet made {sorted(added)}")
    return problems


@probe("CALLS-DELETE-204")
def _delete_204(c: ReferenceClient) -> list[str]:
    status = c.delete(create(c)).status_code
    return [] if status == 204 else [f"delete answered {status}"]


@probe("CALLS-DELETE-EMPTY-BODY")
def _delete_empty_body(c: ReferenceClient) -> list[str]:
    response = c.delete(create(c))
    if response.status_code != 204:
        raise Inconclusive(f"delete answered {response.status_code}")
    problems = []
    if response.content:
        problems.append(f"{len(response.content)}-byte body")
    if response.headers.get("content-length", "0") != "0":
        problems.append(f"Content-Length {response.headers['content-length']} announced")
    return problems


@probe("CALLS-DELETE-REMOVES")
def _delete_removes(c: ReferenceClient) -> list[str]:
    problems = []
    live, ended = create(c), create(c)
    c.advance(2)  # `ended` has ended; `live` is deleted after its end too, so nothing brings it back
    for sid in (live, ended):
        delete(c, sid)
        if (status := c.get(sid).status_code) != 404:
            problems.append(f"get after delete answered {status}")
        if sid in listed_sids(c):
            problems.append("the deleted call is still listed")
    return problems


@probe("CALLS-DELETE-ONLY-TARGET")
def _delete_only_target(c: ReferenceClient) -> list[str]:
    seeded = [call["call_sid"] for call in list_calls(c) if "call_sid" in call]
    first, second = create(c), create(c)
    delete(c, first)
    return [f"{sid} is gone too" for sid in [second] + seeded if not present(c, sid)]


@probe("CALLS-DELETE-UNKNOWN-404")
def _delete_unknown_404(c: ReferenceClient) -> list[str]:
    problems = []
    if (status := c.delete(random_sid()).status_code) != 404:
        problems.append(f"delete of an unknown call answered {status}")
    sid = create(c)
    delete(c, sid)
    if (status := c.delete(sid).status_code) != 404:
        problems.append(f"second delete answered {status}")
    return problems


@probe("CALLS-WINDOW-VISIBLE")
def _window_visible(c: ReferenceClient) -> list[str]:
    sid = create(c)
    run_to_end(c, sid)
    c.advance(c.settings.window * 0.9)
    problems = []
    if fetch(c, sid) is None:
        problems.append("gone from get inside the window")
    if sid not in listed_sids(c):
        problems.append("gone from the list inside the window")
    return problems


@probe("CALLS-WINDOW-EXPIRES")
def _window_expires(c: ReferenceClient) -> list[str]:
    sid = create(c)
    run_to_end(c, sid)
    c.advance(c.settings.window + 5)
    problems = []
    if fetch(c, sid) is not None:
        problems.append("still gettable after the window")
    if sid in listed_sids(c):
        problems.append("still listed after the window")
    return problems


@probe("CALLS-LIFECYCLE-MONOTONIC")
def _lifecycle_monotonic(c: ReferenceClient) -> list[str]:
    sid = create(c)
    seen = [call.get("call_status") for call in run_to_end(c, sid)]
    for _ in range(3):
        c.advance(0.5)
        if (call := fetch(c, sid)) is not None:
            seen.append(call.get("call_status"))
    problems, best = [], -1
    for status in seen:
        rank = 4 if status in TERMINAL else RANK.get(status)
        if rank is None:
            continue  # not a documented status: CALLS-CALL-STATUS-ENUM's business
        if rank < best:
            problems.append(f"went back to {status} in {seen}")
        best = max(best, rank)
    return problems


@probe("CALLS-LIFECYCLE-ENDS")
def _lifecycle_ends(c: ReferenceClient) -> list[str]:
    sid = create(c)
    try:
        run_to_end(c, sid)
    except Inconclusive:
        return ["the call did not reach a terminal status in 120 s"]
    return []


def _credentials() -> dict[str, dict[str, str]]:
    basic = base64.b64encode(f"{ACCOUNT_A.sid}:{ACCOUNT_A.token}".encode()).decode()
    return {"none": {}, "unknown-bearer": {"Authorization": f"Bearer {uuid.uuid4()}"},
            "basic": {"Authorization": f"Basic {basic}"}, "token-scheme": {"Authorization": f"Token {ACCOUNT_A.token}"}}


def _every_operation(c: ReferenceClient, sid: str, headers: dict[str, str]) -> dict[str, Any]:
    return {"list": c.list(headers=headers), "get": c.get(sid, headers=headers),
            "create": c.create(headers=headers), "delete": c.delete(sid, headers=headers)}


@probe("CALLS-AUTH-REQUIRED")
def _auth_required(c: ReferenceClient) -> list[str]:
    sid = create(c)
    return [f"{op} with {name} credentials answered {response.status_code}"
            for name, headers in _credentials().items()
            for op, response in _every_operation(c, sid, headers).items() if response.status_code != 401]


@probe("CALLS-AUTH-MALFORMED")
def _auth_malformed(c: ReferenceClient) -> list[str]:
    sid = create(c)
    return [f"{op} with {value!r} answered {response.status_code}" for value in ("Bearer", "Bearer ")
            for op, response in _every_operation(c, sid, {"Authorization": value}).items()
            if response.status_code not in (400, 401)]


@probe("CALLS-ISOLATION-READ")
def _isolation_read(c: ReferenceClient) -> list[str]:
    sid = create(c)
    responses = {"list": c.list(as_=ACCOUNT_B), "get": c.get(sid, as_=ACCOUNT_B)}
    return [f"{op} with another account's token answered {r.status_code}" for op, r in responses.items()
            if r.status_code not in (401, 403, 404)]


@probe("CALLS-ISOLATION-CREATE")
def _isolation_create(c: ReferenceClient) -> list[str]:
    before = listed_sids(c)
    status = c.create(as_=ACCOUNT_B).status_code
    problems = [] if 400 <= status < 500 else [f"create with another account's token answered {status}"]
    if added := listed_sids(c) - before:
        problems.append(f"calls appeared: {sorted(added)}")
    return problems


@probe("CALLS-ISOLATION-FOREIGN-APPLICATION")
def _isolation_foreign_application(c: ReferenceClient) -> list[str]:
    before = listed_sids(c) | listed_sids(c, ACCOUNT_B)
    status = c.create(call_body(application_sid=ACCOUNT_B.application_sid)).status_code
    problems = [] if 400 <= status < 500 else [f"create naming another account's application answered {status}"]
    if added := (listed_sids(c) | listed_sids(c, ACCOUNT_B)) - before:
        problems.append(f"calls appeared: {sorted(added)}")
    return problems


@probe("CALLS-ISOLATION-DELETE")
def _isolation_delete(c: ReferenceClient) -> list[str]:
    sid = create(c)
    status = c.delete(sid, as_=ACCOUNT_B).status_code
    problems = [] if status in (401, 403, 404) else [f"delete with another account's token answered {status}"]
    if not present(c, sid):
        problems.append("the call was deleted")
    return problems


@probe("CALLS-ISOLATION-FOREIGN-CALL")
def _isolation_foreign_call(c: ReferenceClient) -> list[str]:
    theirs = create(c, account=ACCOUNT_B)
    problems = [f"{op} of another account's call under this path answered {r.status_code}"
                for op, r in (("get", c.get(theirs)), ("delete", c.delete(theirs))) if r.status_code not in (403, 404)]
    if not present(c, theirs, ACCOUNT_B):
        problems.append("the other account's call is gone")
    return problems


@probe("CALLS-ISOLATION-LIST")
def _isolation_list(c: ReferenceClient) -> list[str]:
    create(c, account=ACCOUNT_B)
    foreign = listed_sids(c, ACCOUNT_B)
    return [f"{sid} of the other account is listed" for sid in listed_sids(c) & foreign]


@probe("CALLS-SID-FORMAT")
def _sid_format(c: ReferenceClient) -> list[str]:
    sid = create(c)
    problems = []
    account = c.a.sid
    # Starlette's test client decodes a path once more than a server does: `%252538` reaches the app as a
    # server receiving `%2538` (the first character percent-encoded twice) would see it.
    for near in (account + " ", " " + account, f"%2525{ord(account[0]):X}{account[1:]}"):
        response = c.list(account_sid=near)
        if not 400 <= response.status_code < 500:
            problems.append(f"list under account sid {near!r} answered {response.status_code}")
    for bad in BAD_SIDS:
        for op, response in {"list": c.list(account_sid=bad), "get": c.get(sid, account_sid=bad),
                             "create": c.create(account_sid=bad), "delete": c.delete(sid, account_sid=bad),
                             "get-call": c.get(bad), "delete-call": c.delete(bad)}.items():
            if not 400 <= response.status_code < 500:
                problems.append(f"{op} with sid {bad!r} answered {response.status_code}")
    return problems


@probe("CALLS-NO-SERVER-ERROR")
def _no_server_error(c: ReferenceClient) -> list[str]:
    sid = create(c)
    responses = [c.list(), c.get(sid), c.get(random_sid()), c.create(), c.delete(sid), c.delete(sid)]
    responses += [c.create(content=content) for content in BAD_BODIES.values()]
    responses += [c.create(content=b"[" * 20000 + b"]" * 20000), c.create(content=b'{"from": NaN}'),
                  c.create(content=b"\xff\xfe"), c.create(content=b"{}", content_type="text/plain")]
    responses += [c.get("abc"), c.list(account_sid="abc"), c.list(headers={"Authorization": "Bearer"})]
    responses += [c.request(m, c.path(c.a.sid), headers=c.auth(c.a)) for m in ("PUT", "PATCH", "TRACE")]
    responses += [c.request("GET", path, params={"page": "1", "_": "1700000000000"}, headers=c.auth(c.a))
                  for path in (c.path(c.a.sid), c.path(c.a.sid, sid))]
    return [f"{r.request.method} {r.request.url.path} answered {r.status_code}" for r in responses
            if r.status_code >= 500]


@probe("CALLS-COMMON-HEADERS")
def _common_headers(c: ReferenceClient) -> list[str]:
    sid = next((call["call_sid"] for call in list_calls(c) if "call_sid" in call), None)
    if sid is None:
        raise Inconclusive("the account lists no call")
    headers = {**c.auth(c.a), "Accept": "application/json, text/plain, */*", "Accept-Encoding": "gzip, deflate"}
    problems = []
    for what, send in (("list", lambda h=None: c.list(headers=h)), ("get", lambda h=None: c.get(sid, headers=h))):
        plain, added = send(), send(headers)
        if (added.status_code, type(body_of(added))) != (plain.status_code, type(body_of(plain))):
            problems.append(f"{what} with common client headers answered {added.status_code} "
                            f"({type(body_of(added)).__name__}), without them {plain.status_code}")
    return problems


@probe("CALLS-METHOD-UNSUPPORTED")
def _method_unsupported(c: ReferenceClient) -> list[str]:
    sid = create(c)
    problems = []
    # PUT and POST on a call are live call control, out of scope (decision D-25)
    for path, methods in ((c.path(c.a.sid), ("PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")),
                          (c.path(c.a.sid, sid), ("PATCH", "OPTIONS", "TRACE"))):
        for method in methods:
            status = c.request(method, path, headers=c.auth(c.a)).status_code
            if not 400 <= status < 500:
                problems.append(f"{method} {path} answered {status}")
    return problems


@probe("CALLS-METHOD-ALLOW")
def _method_allow(c: ReferenceClient) -> list[str]:
    problems = []
    for method in ("PUT", "PATCH", "DELETE"):
        response = c.request(method, c.path(c.a.sid), headers=c.auth(c.a))
        if response.status_code == 405 and "allow" not in response.headers:
            problems.append(f"{method} answered 405 without Allow")
    return problems


def _challenge_problem(challenge: str) -> str | None:
    """What RFC 9110 section 11.6.1 and RFC 6750 section 3 rule out in a 401's WWW-Authenticate."""
    if not re.match(r"(?i)(.*,)?\s*bearer(\s|,|$)", challenge):
        return "no Bearer challenge"
    if any(len(re.findall(rf"(?i)\b{name}\s*=", challenge)) > 1 for name in ("realm", "scope", "error")):
        return "an attribute twice"
    if re.search(r'(?i)\b(error|error_description|error_uri|scope)\s*=\s*"[^"]*\\', challenge):
        return "a quote or backslash in an attribute that may not hold one"
    return None


@probe("CALLS-AUTH-CHALLENGE")
def _auth_challenge(c: ReferenceClient) -> list[str]:
    sid = random_sid()
    return [f"{op} with {name} credentials answered 401 with WWW-Authenticate {challenge!r}: {problem}"
            for name, headers in _credentials().items()
            for op, response in _every_operation(c, sid, headers).items() if response.status_code == 401
            and (problem := _challenge_problem(challenge := response.headers.get("www-authenticate", "")))]


def _on_the_wire(server: Any, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One request on a connection of its own, read to the server's close: the answer's status, headers and
    every byte after its header section (what a client's framing would split into content and excess)."""
    import socket
    head = (f"{method} {path} HTTP/1.1\r\nHost: {server.host}\r\nConnection: close\r\n"
            f"Authorization: Bearer {ACCOUNT_A.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    data = b""
    with socket.create_connection((server.host, server.port), timeout=10) as conn:
        conn.sendall(head.encode() + body)
        while chunk := conn.recv(65536):
            data += chunk
    header_section, _, after = data.partition(b"\r\n\r\n")
    lines = header_section.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, after


@probe("CALLS-HTTP-FRAMING")
def _http_framing(c: ReferenceClient) -> list[str]:
    from conformance.reference import start_reference
    problems = []
    with start_reference(c.settings) as server:
        calls = c.path(ACCOUNT_A.sid)
        status, _, after = _on_the_wire(server, "POST", calls, json.dumps(call_body()).encode())
        try:
            sid = json.loads(after)["sid"]
        except (ValueError, TypeError, KeyError):
            raise Inconclusive(f"create answered {status} {after[:80]!r}") from None
        for method, path in (("GET", calls), ("GET", f"{calls}/{sid}"), ("GET", f"{calls}/{random_sid()}"),
                             ("DELETE", f"{calls}/{sid}")):
            status, headers, after = _on_the_wire(server, method, path)
            announced = headers.get("content-length")
            if status in (204, 304) and (after or announced not in (None, "0")):
                problems.append(f"{method} answered {status} with {len(after)} bytes, Content-Length {announced}")
            elif status not in (204, 304) and announced is not None and int(announced) != len(after):
                problems.append(f"{method} answered {status} with {len(after)} bytes, Content-Length {announced}")
    return problems


# ------------------------------------------------------------------------- judged across the run
IMMUTABLE = ("account_sid", "direction", "from", "to", "call_id")


@probe("CALLS-SAME-EVERYWHERE")
def _same_everywhere(c: ReferenceClient) -> list[str]:
    sid = create(c)
    problems = []
    for _ in range(3):
        got = fetch(c, sid)
        item = next((call for call in list_calls(c) if call.get("call_sid") == sid), None)
        if got is None or item is None:
            raise Inconclusive("the created call is not both gettable and listed")
        for view in (got, item):  # a value its own answer already shows wrong is another requirement's
            if view.get("account_sid") != ACCOUNT_A.sid:
                view.pop("account_sid", None)
            if view.get("direction") not in ("inbound", "outbound"):
                view.pop("direction", None)
        problems += [f"{name}: get {got.get(name)!r}, list {item.get(name)!r}" for name in IMMUTABLE
                     if name in got and name in item and got[name] != item[name]]
        c.advance(0.5)
    return problems


@probe("CALLS-ENDED-STAYS-FINAL")
def _ended_stays_final(c: ReferenceClient) -> list[str]:
    sid = create(c)
    end = run_to_end(c, sid)[-1]
    problems = []
    for _ in range(3):
        c.advance(c.settings.window * 0.2)
        later = fetch(c, sid)
        if later is None or later.get("call_status") not in TERMINAL:
            continue  # expired, or active again (CALLS-LIFECYCLE-MONOTONIC's)
        problems += [f"{name} {end.get(name)!r} -> {later.get(name)!r}" for name in ("call_status", "sip_status",
                     "duration") if name in end and name in later and end[name] != later[name]]
    return problems


@probe("CALLS-CREATE-NEW-SID")
def _create_new_sid(c: ReferenceClient) -> list[str]:
    known = {call["call_sid"] for call in list_calls(c)}
    first = create(c)
    c.advance(2)
    delete(c, first)
    known.add(first)
    problems = []
    for _ in range(3):
        sid = create(c)
        if sid in known:
            problems.append(f"a create answered the known sid {sid}")
        known.add(sid)
    return problems


@probe("CALLS-DELETED-STAYS-GONE")
def _deleted_stays_gone(c: ReferenceClient) -> list[str]:
    sid = create(c)
    run_to_end(c, sid)
    delete(c, sid)
    if present(c, sid):
        raise Inconclusive("the deleted call is still there right after its delete (CALLS-DELETE-REMOVES)")
    problems = []
    for _ in range(3):
        c.advance(1.0)
        if present(c, sid):
            problems.append("the deleted ended call is there again")
    return problems


@probe("CALLS-SID-EXACT")
def _sid_exact(c: ReferenceClient) -> list[str]:
    sid = create(c)
    problems = []
    for near in (sid[:-1] + ("1" if sid[-1] != "1" else "2"), ("1" if sid[0] != "1" else "2") + sid[1:], sid[:-1]):
        body = body_of(c.get(near))
        if isinstance(body, dict) and body.get("call_sid") == sid:
            problems.append(f"a get of {near} answered the call {sid}")
    response = c.get(sid.upper())
    body = body_of(response) if response.status_code == 200 else None
    if isinstance(body, dict) and "call_sid" in body and str(body["call_sid"]).lower() != sid:
        problems.append(f"a get of the upper-case sid answered another call {body.get('call_sid')!r}")
    account = c.a.sid
    near = body_of(c.list(account_sid=account[:-1] + ("1" if account[-1] != "1" else "2")))
    if isinstance(near, list) and any(isinstance(call, dict) and call.get("call_sid") == sid for call in near):
        problems.append("a list under the account sid one digit off shows the account's call")
    upper = body_of(c.list(account_sid=account.upper()))
    if isinstance(upper, list) and any(isinstance(call, dict) and str(call.get("account_sid")).lower() != account
                                       for call in upper):
        problems.append("a list under the upper-case account sid shows another account's call")
    return problems


@probe("CALLS-CALL-DURATION-WITHIN-LIFE")
def _duration_within_life(c: ReferenceClient) -> list[str]:
    problems = []
    for to in ("+15005550001", "+15005550183"):
        started = c.clock.now()
        ended = run_to_end(c, create(c, to=to))[-1]
        lived, duration = c.clock.now() - started, ended.get("duration")
        if isinstance(duration, int) and not isinstance(duration, bool) and duration > lived + 2:
            problems.append(f"call {ended.get('call_sid')} lasted at most {lived:.1f} s but shows duration {duration}")
    return problems


@probe("CALLS-LIST-COMPLETE")
def _list_complete(c: ReferenceClient) -> list[str]:
    made = [create(c) for _ in range(2)]
    c.advance(c.settings.timings.call_length)  # these have ended, well inside the window; two more are live
    made += [create(c) for _ in range(2)]
    shown = listed_sids(c)
    return [f"call {sid} ({(fetch(c, sid) or {}).get('call_status')}) not listed" for sid in made if sid not in shown]


@probe("CALLS-AUTH-NEAR-MISS")
def _auth_near_miss(c: ReferenceClient) -> list[str]:
    token = ACCOUNT_A.token
    if c.list(headers={"Authorization": f"Bearer {uuid.uuid4()}"}).status_code < 400:
        raise Inconclusive("an unknown token is served too (CALLS-AUTH-REQUIRED)")
    near = {"changed": token[:-1] + ("x" if token[-1] != "x" else "y"), "added": token + "x", "cut": token[:-1]}
    return [f"token with a character {kind} answered {status}" for kind, value in near.items()
            if not 400 <= (status := c.list(headers={"Authorization": f"Bearer {value}"}).status_code) < 500]


@probe("CALLS-AUTH-SCHEME-CASE")
def _auth_scheme_case(c: ReferenceClient) -> list[str]:
    usual = c.list().status_code
    if not 200 <= usual < 300:
        raise Inconclusive(f"the list answers {usual} with `Bearer` too")
    return [f"scheme {scheme!r} answered {status}" for scheme in ("bearer", "BEARER")
            if (status := c.list(headers={"Authorization": f"{scheme} {ACCOUNT_A.token}"}).status_code) != usual]


def judge(requirement: str, client: ReferenceClient) -> tuple[str, list[str]]:
    try:
        problems = PROBES[requirement](client)
    except Inconclusive as why:
        return "inconclusive", [str(why)]
    return ("broken" if problems else "held"), problems


# -------------------------------------------------------------------------------------- registry
def test_there_are_at_least_32_faults_and_the_registries_are_well_formed() -> None:
    assert len(FAULTS) >= 32
    for name, fault in {**FAULTS, **VARIANTS}.items():
        assert name == fault.name == fault.behaviour.name
        assert name == name.lower() and " " not in name and "_" not in name
        assert fault.description.endswith(".") and fault.description[0].isupper()
    assert not set(FAULTS) & set(VARIANTS)


def test_every_fault_names_a_testable_catalogue_requirement() -> None:
    for fault in FAULTS.values():
        assert fault.requirement in TESTABLE, fault.name
        assert set(fault.also) <= ALL_IDS and fault.requirement not in fault.also, fault.name


def test_every_testable_requirement_is_broken_by_some_fault_and_has_a_probe() -> None:
    assert {f.requirement for f in FAULTS.values()} == TESTABLE
    assert set(PROBES) == TESTABLE


def test_a_shape_refuses_unknown_or_missing_parameters_and_fixed_an_unknown_hook() -> None:
    from conformance.reference.hooks import FieldChange, StatusOverride, fixed
    with pytest.raises(TypeError, match="unknown parameters \\['feild'\\]"):
        FieldChange.of(feild="to", change=str)
    with pytest.raises(TypeError, match="missing \\['status'\\]"):
        StatusOverride.of(operations=("listCalls",))
    with pytest.raises(ValueError, match="no hook"):
        fixed("no_such_hook", None)


def test_there_are_the_variants_the_documentation_promises() -> None:
    assert {"plain-text-errors", "extra-fields", "sparse-fields", "plus-dropped", "slow-lifecycle", "refuse-404",
            "jambonz-like"} <= set(VARIANTS)


# -------------------------------------------------------------------------------- the conformant
@pytest.mark.parametrize("requirement", sorted(TESTABLE))
def test_the_conformant_server_holds_every_requirement(requirement: str) -> None:
    client = ReferenceClient()
    assert judge(requirement, client) == ("held", [])
    assert client.unexpected_errors == 0


# ---------------------------------------------------------------------------------------- faults
@pytest.mark.parametrize("name", sorted(FAULTS))
def test_each_fault_visibly_breaks_its_requirement(name: str) -> None:
    fault = FAULTS[name]
    client = ReferenceClient(fault=name)
    verdict, problems = judge(fault.requirement, client)
    assert verdict == "broken", f"{name} should break {fault.requirement}: {verdict} {problems}"
    assert client.unexpected_errors == 0


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_each_fault_breaks_nothing_but_its_requirement_and_declared_consequences(name: str) -> None:
    fault = FAULTS[name]
    allowed = {fault.requirement, *fault.also}
    broken = {}
    for requirement in sorted(TESTABLE - allowed):
        client = ReferenceClient(fault=name)
        verdict, problems = judge(requirement, client)
        if verdict == "broken":
            broken[requirement] = problems
        assert client.unexpected_errors == 0
    assert not broken, f"{name} also breaks {broken}"


# Consequences a client sees only when it watches a call through the window alongside other checks
# (a faulty delete removes the watched call; a call reported live again after its end expires while
# "live", so a check that counts on a live call staying visible sees it vanish), or only when it puts
# what the whole run saw side by side (another account's call relabelled in this account's list is one
# call seen under two accounts), or only when tests run side by side (a concurrent create takes a deleted
# sid before the deleting test looks at it again): the probes, each on a fresh server, do not reproduce them.
WATCHED_CONSEQUENCES = {
    ("create-reuses-deleted-sid", "CALLS-DELETE-REMOVES"),
    ("create-reuses-deleted-sid", "CALLS-DELETE-UNKNOWN-404"),
    ("list-foreign-calls", "CALLS-SAME-EVERYWHERE"),
    ("foreign-token-deletes", "CALLS-WINDOW-VISIBLE"),
    ("foreign-call-deletable", "CALLS-WINDOW-VISIBLE"),
    ("delete-removes-sibling", "CALLS-WINDOW-VISIBLE"),
    ("completed-back-to-in-progress", "CALLS-WINDOW-VISIBLE"),
    ("completed-back-to-in-progress", "CALLS-DELETE-ONLY-TARGET"),
    ("list-drops-beyond-2", "CALLS-WINDOW-VISIBLE"),
}


def test_declared_consequences_are_real() -> None:
    """Each `also` requirement is in fact seen broken (or cannot be judged) under its fault."""
    for fault in FAULTS.values():
        for requirement in fault.also:
            if (fault.name, requirement) in WATCHED_CONSEQUENCES:
                continue
            verdict, problems = judge(requirement, ReferenceClient(fault=fault.name))
            assert verdict in ("broken", "inconclusive"), f"{fault.name}: {requirement} {verdict}"
    assert all(requirement in FAULTS[name].also for name, requirement in WATCHED_CONSEQUENCES)


# -------------------------------------------------------------------------------------- variants
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_each_variant_holds_every_requirement(name: str) -> None:
    results = {}
    for requirement in sorted(TESTABLE - ADVISORY):
        client = ReferenceClient(variant=name)
        results[requirement] = judge(requirement, client)
        assert client.unexpected_errors == 0
    assert all(verdict == "held" for verdict, _ in results.values()), \
        {r: v for r, v in results.items() if v[0] != "held"}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_each_variant_answers_schema_valid_bodies(name: str) -> None:
    c = ReferenceClient(variant=name)
    made = [create(c, to=to, tag={"n": i}) for i, to in enumerate(("+15005550001", "+15005550486", "+15005550487"))]
    created = c.create()
    assert not openapi.schema_errors(body_of(created), "CreateCallResponse")
    made.append(body_of(created)["sid"])
    for _ in range(40):
        response = c.list()
        assert response.headers["content-type"] == "application/json"
        assert not openapi.schema_errors(body_of(response), "CallList")
        for sid in made:
            response = c.get(sid)
            assert response.status_code == 200 and response.headers["content-type"] == "application/json"
            assert not openapi.schema_errors(body_of(response), "Call")
        c.advance(0.25)
    assert c.unexpected_errors == 0


def test_plain_text_errors_variant_answers_reason_phrases_and_a_bare_401() -> None:
    c = ReferenceClient(variant="plain-text-errors")
    response = c.get(random_sid())
    assert (response.status_code, response.text) == (404, "Not Found")
    assert response.headers["content-type"].startswith("text/plain")
    response = c.list(headers={})
    assert response.status_code == 401 and response.content == b"" and "content-type" not in response.headers
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert (c.get("abc").text, c.list(as_=ACCOUNT_B).text) == ("Bad Request", "Forbidden")


def test_extra_fields_variant_adds_jambonz_fields_and_callId() -> None:
    c = ReferenceClient(variant="extra-fields")
    created = body_of(c.create())
    assert set(created) == {"sid", "callId"}
    call = fetch(c, created["sid"])
    assert call["sip_reason"] == "Trying" and len(call["trace_id"]) == 32 and call["fs_sip_address"]
    assert call["callId"] if "callId" in call else created["callId"] == call["call_id"]


def test_sparse_fields_variant_omits_only_unpromised_fields() -> None:
    c = ReferenceClient(variant="sparse-fields")
    for call in list_calls(c) + [fetch(c, create(c, application_sid=str(uuid.uuid4())))]:
        assert not {"application_sid", "originating_sip_ip", "originating_sip_trunk_name"} & set(call)
        assert "caller_name" in call  # a documented property (D-6)
        assert {"call_id", "sip_status", "service_url"} <= set(call)


def test_plus_dropped_variant_records_numbers_without_plus() -> None:
    c = ReferenceClient(variant="plus-dropped")
    call = fetch(c, create(c, to="+15005550001", from_="+15005550006"))
    assert (call["from"], call["to"]) == ("15005550006", "15005550001")


def test_slow_lifecycle_variant_starts_queued_and_takes_three_times_as_long() -> None:
    c = ReferenceClient(variant="slow-lifecycle")
    sid = create(c)
    statuses = [call["call_status"] for call in run_to_end(c, sid, step=0.05)]
    assert statuses[0] == "queued" and statuses[-1] == "completed"
    assert c.clock.now() - 1000.0 >= 3 * c.settings.timings.call_length


def test_refuse_404_variant_answers_404_to_another_accounts_token() -> None:
    c = ReferenceClient(variant="refuse-404")
    sid = create(c)
    assert [c.list(as_=ACCOUNT_B).status_code, c.get(sid, as_=ACCOUNT_B).status_code,
            c.create(as_=ACCOUNT_B).status_code, c.delete(sid, as_=ACCOUNT_B).status_code] == [404] * 4


def test_no_tag_variant_does_not_echo_the_tag() -> None:
    c = ReferenceClient(variant="no-tag")
    assert "tag" not in fetch(c, create(c, tag={"conformance_run": "x"}))


def test_jambonz_like_variant_answers_as_the_notes_describe() -> None:
    c = ReferenceClient(variant="jambonz-like")
    unknown = c.get(random_sid())
    assert (unknown.status_code, unknown.text, unknown.headers["content-type"].split(";")[0]) == \
        (404, "Not Found", "text/plain")
    no_token = c.list(headers={})
    assert (no_token.status_code, no_token.text) == (401, "Unauthorized")
    assert "content-type" not in no_token.headers and no_token.headers["www-authenticate"] == 'Bearer realm="Users"'
    empty = c.list(headers={"Authorization": "Bearer"})
    assert (empty.status_code, empty.text) == (400, "Bad Request") and "content-type" not in empty.headers
    assert body_of(c.get("abc")) == {"msg": "Bad request"} and c.get("abc").status_code == 400
    assert body_of(c.list(as_=ACCOUNT_B)) == {"msg": "insufficient permissions"}
    route = c.request("GET", "/v1/nothing-here", headers=c.auth(c.a))
    assert route.status_code == 404 and route.headers["content-type"].startswith("text/html")
    assert c.request("PUT", c.path(c.a.sid), headers=c.auth(c.a)).status_code == 404
    created = body_of(c.create(call_body(to="+15005550001", from_="+15005550006")))
    assert set(created) == {"sid", "callId"}
    call = fetch(c, created["sid"])
    assert call["caller_name"] == "" and (call["from"], call["to"]) == ("15005550006", "15005550001")
    assert {"sip_reason", "trace_id", "fs_sip_address"} <= set(call)
    assert c.create(content=b"{}", content_type="text/plain").status_code == 400
    listed = [call["call_sid"] for call in list_calls(c)]
    assert listed == sorted(listed)


def test_jambonz_as_observed_fault_lists_an_empty_item_and_relays_refused_creates_as_a_bare_500() -> None:
    c = ReferenceClient(fault="jambonz-as-observed")
    listed = body_of(c.list())
    assert listed.count({}) == 1 and len(listed) > 1
    for name in ("from-an-object", "from-not-string", "from-too-long"):
        refused = c.create(content=BAD_BODIES[name])
        assert (refused.status_code, refused.text, refused.headers["content-type"].split(";")[0]) == \
            (500, "Internal Server Error", "text/plain"), name
    # What the api-server checks itself is still a 400.
    assert {c.create(content=BAD_BODIES[name]).status_code for name in ("missing-from", "missing-to",
                                                                        "unknown-to-type", "tag-not-object")} == {400}
    assert c.unexpected_errors == 0


def test_list_account_sid_wrong_uses_an_account_the_server_does_not_have() -> None:
    assert FOREIGN_ACCOUNT_SID not in {a.sid for a in ReferenceSettings().accounts}


def test_the_204_with_body_fault_announces_a_body_on_a_real_socket() -> None:
    import requests
    from conformance.reference import start_reference
    with start_reference(ReferenceSettings.fast(fault="delete-204-with-body")) as server:
        url = f"{server.base_url}/Accounts/{ACCOUNT_A.sid}/Calls"
        headers = {"Authorization": f"Bearer {ACCOUNT_A.token}"}
        session = requests.Session()
        sid = session.post(url, json=call_body(), headers=headers).json()["sid"]
        response = session.delete(f"{url}/{sid}", headers=headers)
        assert response.status_code == 204 and response.headers["content-length"] == "17"
        assert response.headers["content-type"] == "application/json"
        assert session.get(url, headers=headers).status_code == 200  # the connection is still sound
        assert server.unexpected_errors == 0


def test_the_documentation_lists_every_fault_and_variant_as_registered() -> None:
    import re
    doc = (ROOT / "docs" / "reference-server.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| `(CALLS-[A-Z0-9-]+)` \| ([^|]*) \|", doc, re.M)
    faults = {name: (requirement, also) for name, requirement, also in rows}
    assert set(faults) == set(FAULTS)
    for name, (requirement, also) in faults.items():
        assert requirement == FAULTS[name].requirement, name
        assert set(re.findall(r"`(CALLS-[A-Z0-9-]+)`", also)) == set(FAULTS[name].also), name
    variants = set(re.findall(r"^\| `([a-z0-9-]+)` \| [A-Z]", doc, re.M))
    assert variants == set(VARIANTS)


def test_lenient_from_variant_accepts_any_non_empty_from_string_and_only_breaks_the_advice() -> None:
    c = ReferenceClient(variant="lenient-from")
    for sender in ("1" * 300, "anonymous"):
        assert c.create(call_body(from_=sender)).status_code == 201
    assert c.create(call_body(from_="")).status_code == 400
    assert judge("CALLS-CREATE-REJECTS-MISTYPED", ReferenceClient(variant="lenient-from"))[0] == "broken"


def test_each_account_may_name_its_own_application_but_not_the_others() -> None:
    c = ReferenceClient()
    assert c.create(call_body(application_sid=ACCOUNT_A.application_sid)).status_code == 201
    assert c.create(call_body(application_sid=ACCOUNT_B.application_sid)).status_code == 400
    assert c.create(call_body(application_sid=ACCOUNT_A.application_sid), ACCOUNT_B).status_code == 400


def test_open_ends_variant_writes_a_call_deleted_while_live_again_at_its_next_status_change() -> None:
    c = ReferenceClient(variant="open-ends")
    sid = create(c)
    delete(c, sid)
    assert fetch(c, sid) is None and sid not in listed_sids(c)
    c.advance(5)
    assert fetch(c, sid) is not None and sid in listed_sids(c)
    listed = list_calls(c)
    assert list(listed[0])[0] != "service_url" and "region" in listed[0]
