"""The life of one call, its start: create, get and list (and lists and gets of the calls already there).

One call is created for the whole run (the call budget is small on a real target), by the lifecycle
watch of conformance/evidence/watches/lifecycle.py: it starts with the session and follows the call
in the background while the rest of the run goes on. The fixtures (conftest.py) wait for its records; each
test judges one promise about them, so that a SHOULD (a warning) never hides a MUST (a failure) and the
other way round. The call's end and its delete are test_lifecycle_end.py's, which runs late.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from conformance.contract import openapi
from conformance.evidence.lasting import lasting_candidates
from conformance.evidence.observed import DELETING, sids_of
from conformance.evidence.watches.lifecycle import Created
from conformance.judgement.checks import (
    expect_call_list,
    expect_json,
    expect_no_server_error,
    expect_status,
    judge_call_object,
    judged,
    not_judged,
    record,
    same_number,
    violation,
)
from conformance.deployment.api import Response
from conformance.suite.test_visible_calls import judge_known_visible


# --- list and get without creating anything -------------------------------------------------


def _judge_list_account(listed: list[dict[str, Any]], account_sid: str, response: Response, what: str) -> None:
    """Every well-formed listed call is of the path's account: one violation naming the first stranger."""
    strangers = [c for c in listed if c.get("account_sid") != account_sid]
    if strangers:
        first = strangers[0]
        more = f" (and {len(strangers) - 1} more)" if len(strangers) > 1 else ""
        record(violation("CALLS-LIST-ACCOUNT", "CF107",
                         f"{what}: listed call {first.get('call_sid')} has account_sid {first.get('account_sid')!r}, "
                         f"the path's account is {account_sid}{more}", response))


@pytest.mark.requirements("CALLS-LIST-200", "CALLS-LIST-ACCOUNT", "CALLS-LIST-DISTINCT", "CALLS-CALL-SCHEMA",
                          "CALLS-CALL-STATUS-ENUM", "CALLS-CALL-DIRECTION-ENUM", "CALLS-CONTENT-TYPE-JSON")
def test_list_answers_200_with_valid_calls_of_its_account(api) -> None:
    response = api.list_calls()
    listed = expect_call_list(response, "list of the account's calls")
    _judge_list_account(listed, api.account_sid, response, "list of the account's calls")
    print(f"{len(listed)} well-formed calls listed")


@pytest.mark.requirements("CALLS-GET-UNKNOWN-404")
def test_get_of_unknown_call_answers_404(api) -> None:
    response = api.get_call(str(uuid.uuid4()))
    expect_status(response, 404, "CALLS-GET-UNKNOWN-404", "get of a random (unknown) call sid")


@pytest.mark.requirements("CALLS-GET-200", "CALLS-GET-MATCHES-SID", "CALLS-CALL-SCHEMA", "CALLS-CONTENT-TYPE-JSON")
def test_get_of_listed_calls_answers_those_calls(api, run, target) -> None:
    """Works without creating anything: calls the list shows can be got (one of each direction listed)."""
    observed_at = time.time()
    listed = expect_call_list(api.list_calls(), "list of the account's calls")
    created_at = {c.sid: c.created_at for c in run.budget.created}
    candidates = lasting_candidates(listed, observed_at, target.window, created_at, need=min(5.0, target.window / 2))
    if not candidates:
        pytest.skip("the account lists no call to get")
    direction = {c["call_sid"]: c.get("direction") for c in listed}
    chosen: dict[Any, tuple[str, float | None]] = {}
    for sid, until, _ in candidates:
        chosen.setdefault(direction.get(sid), (sid, until))
    checked = objects = 0
    for sid, until in chosen.values():
        response = api.get_call(sid)
        if response.status == 404 and sid in DELETING:
            print(f"listed call {sid} answered 404: the run's lifecycle watch deleted it meanwhile")
            continue
        if response.status == 404 and (until is None or time.time() > until):
            print(f"listed call {sid} answered 404, but it had ended at an unknown time and may have just expired")
            continue
        with judged():
            expect_status(response, 200, "CALLS-GET-200", f"get of listed {direction.get(sid)} call {sid}")
            got = expect_json(response, "CALLS-GET-200", f"get of listed call {sid}")
            objects += 1
            judge_call_object(got, response, f"get of listed call {sid}")
            if not isinstance(got, dict) or got.get("call_sid") != sid:
                record(violation("CALLS-GET-MATCHES-SID", "CF107", f"asked for {sid}, got call_sid "
                                 f"{got.get('call_sid') if isinstance(got, dict) else None!r}", response))
        checked += 1
    if not checked:
        pytest.skip("every listed call tried may have expired meanwhile")
    if not objects:
        for requirement in ("CALLS-GET-MATCHES-SID", "CALLS-CALL-SCHEMA", "CALLS-CONTENT-TYPE-JSON"):
            not_judged(requirement, "no get of a listed call answered a JSON call object (see CALLS-GET-200)")


# --- create ---------------------------------------------------------------------------------


@pytest.mark.creates_calls
@pytest.mark.requirements("CALLS-CREATE-SUCCESS", "CALLS-CONTENT-TYPE-JSON")
def test_create_answers_2xx_with_the_new_call_sid(created: Created) -> None:
    response = created.response
    if not 200 <= response.status < 300:
        expect_no_server_error(response)
        raise violation("CALLS-CREATE-SUCCESS", "CF101",
                        f"create with the configured payload answered {response.status}, expected 2xx", response)
    try:
        answer = response.json()
    except ValueError as error:
        raise violation("CALLS-CREATE-SUCCESS", "CF104", f"create answer: the body is not JSON ({error}), expected "
                        "an object carrying sid", response) from None
    errors = openapi.schema_errors(answer, "CreateCallResponse")
    if errors:
        raise violation("CALLS-CREATE-SUCCESS", "CF104", f"create answer: {errors[0]}", response)
    expect_json(response, "CALLS-CREATE-SUCCESS", "create answer")  # the content type


@pytest.mark.creates_calls
@pytest.mark.requirements("CALLS-CREATE-201")
def test_create_answers_201(created: Created, created_sid: str) -> None:
    expect_status(created.response, 201, "CALLS-CREATE-201", "successful create")


@pytest.mark.creates_calls
@pytest.mark.requirements("CALLS-CREATE-VISIBLE", "CALLS-GET-200", "CALLS-GET-MATCHES-SID", "CALLS-CALL-SCHEMA",
                          "CALLS-CALL-STATUS-ENUM", "CALLS-CALL-DIRECTION-ENUM", "CALLS-CONTENT-TYPE-JSON")
def test_created_call_can_be_got_at_once(created: Created, created_sid: str, target) -> None:
    sid = created_sid
    first = created.gets[-1]
    response = first.response
    if response.status == 404:
        raise violation("CALLS-CREATE-VISIBLE", "CF110",
                        f"created call {sid} still answered 404 {first.received - created.sent:.2f} s after its create "
                        f"(settle time {target.settle:g} s)", response)
    expect_status(response, 200, "CALLS-GET-200", f"get of the call just created ({sid})")
    call = expect_json(response, "CALLS-GET-200", "get of the created call")
    judge_call_object(call, response, "get of the created call")
    if not isinstance(call, dict) or call.get("call_sid") != sid:
        raise violation("CALLS-GET-MATCHES-SID", "CF107", f"asked for {sid}, got call_sid "
                        f"{call.get('call_sid') if isinstance(call, dict) else None!r}", response)
    print(f"got {len(created.gets)} time(s) after {first.received - created.sent:.3f} s: {call.get('call_status')}")


@pytest.mark.creates_calls
@pytest.mark.requirements("CALLS-CREATE-RECORD")
def test_created_call_record_matches_the_request(created: Created, created_sid: str, api) -> None:
    sid = created_sid
    response = created.gets[-1].response
    call = created.gets[-1].call
    if not isinstance(call, dict):
        pytest.skip(f"the created call could not be got (answered {response.status}): see CALLS-CREATE-VISIBLE")
    sent_from, sent_to = created.body["from"], created.body["to"]["number"]
    expected = {
        "call_sid": (sid, call.get("call_sid") == sid),
        "account_sid": (api.account_sid, call.get("account_sid") == api.account_sid),
        "direction": ("outbound", call.get("direction") == "outbound"),
        "from": (sent_from, same_number(sent_from, call.get("from"))),
        "to": (sent_to, same_number(sent_to, call.get("to"))),
    }
    for name, (wanted, ok) in expected.items():
        if not ok:
            raise violation("CALLS-CREATE-RECORD", "CF107",
                            f"created call {sid}: {name} is {call.get(name)!r}, the request implies {wanted!r}"
                            + (" (a leading '+' may be dropped)" if name in ("from", "to") else ""), response)


@pytest.mark.creates_calls
@pytest.mark.requirements("CALLS-LIST-INCLUDES-ACTIVE", "CALLS-LIST-200", "CALLS-LIST-ACCOUNT", "CALLS-LIST-DISTINCT")
def test_created_call_is_listed(created: Created, created_sid: str, api) -> None:
    sid = created_sid
    assert created.listing is not None
    response = created.listing.response
    listed = expect_call_list(response, "list right after a create")
    _judge_list_account(listed, api.account_sid, response, "list right after a create")
    if sid not in sids_of(listed):
        raise violation("CALLS-LIST-INCLUDES-ACTIVE", "CF110",
                        f"call {sid}, created {created.listing.sent - created.sent:.2f} s before, is not in the list "
                        f"of {len(listed.named)} calls", response)
    mine = [c for c in listed if c.get("call_sid") == sid]
    print(f"listed with status {mine[0].get('call_status') if mine else '(a malformed item)'}")


@pytest.mark.creates_calls
@pytest.mark.requirements("CALLS-LIST-INCLUDES-ACTIVE", "CALLS-LIST-200")
def test_calls_this_run_created_are_listed_right_after_a_create(created_sid: str, api, run, target) -> None:
    """The list as a collection, early: every call this run created that can be got, the one just created
    included, is listed, whatever the retention window (the same check runs again late in the run)."""
    judge_known_visible(api, run, target, "right after a create", frozenset({created_sid}))
