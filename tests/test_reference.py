"""The reference server behaves as the contract says: the rules of docs/reference-server.md, driven
through HTTP (in-process on a FakeClock, and on a real socket), with every list/get/create body
validated against the schemas of openapi.yaml."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from conformance.contract import openapi
from conformance.reference import (
    ACCOUNT_A, ACCOUNT_B, FAST_TIMINGS, FakeClock, ReferenceSettings, Timings, create_app, start_reference,
)
from conformance.reference.__main__ import main
from conformance.reference.lifecycle import TERMINAL_STATUSES, plan_call
from conformance.reference.store import CallRecord, CallStore, new_call_id
from conformance.reference.testing import DEFAULT_FROM, DEFAULT_TO, ReferenceClient, call_body, random_sid

ROOT = Path(__file__).resolve().parent.parent
STATUS_ORDER = {"queued": 0, "trying": 1, "ringing": 2, "early-media": 2, "in-progress": 3,
                "completed": 4, "failed": 4, "busy": 4, "no-answer": 4}


# ---------------------------------------------------------------------------------------- helpers
@pytest.fixture
def client() -> Any:
    c = ReferenceClient()
    yield c
    assert c.unexpected_errors == 0, "a request reached the last-resort 500 handler"


def assert_valid(instance: Any, component: str) -> None:
    errors = openapi.schema_errors(instance, component)
    assert not errors, f"{component}: {errors}"


def listed(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert_valid(body, "CallList")
    return body


def got(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert_valid(body, "Call")
    return body


def assert_error(response: Any, status: int) -> dict[str, Any]:
    """A 4xx with a JSON {"msg": ...} body, as the default server answers every error."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"msg"} and isinstance(body["msg"], str) and body["msg"]
    return body


def sids(calls: list[dict[str, Any]]) -> set[str]:
    return {c["call_sid"] for c in calls}


def operations(c: ReferenceClient, sid: str) -> dict[str, Any]:
    """One request maker per operation, each taking `headers=`."""
    return {
        "listCalls": lambda **kw: c.list(**kw),
        "getCall": lambda **kw: c.get(sid, **kw),
        "createCall": lambda **kw: c.create(**kw),
        "deleteCall": lambda **kw: c.delete(sid, **kw),
    }


# ----------------------------------------------------------------------------------- authentication
@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": f"Bearer {uuid.uuid4()}"},
    {"Authorization": "Bearer not-a-token-at-all"},
    {"Authorization": f"Basic {base64.b64encode(f'{ACCOUNT_A.sid}:{ACCOUNT_A.token}'.encode()).decode()}"},
    {"Authorization": f"Token {ACCOUNT_A.token}"},
    {"Authorization": f"Bearer{ACCOUNT_A.token}"},
    {"Authorization": f"Bearer {ACCOUNT_A.token} extra"},
], ids=["none", "unknown-uuid", "unknown-text", "basic", "token-scheme", "no-space", "trailing-word"])
def test_missing_unknown_or_other_scheme_credentials_answer_401_on_every_operation(client: Any, headers: dict) -> None:
    sid = client.new_call()
    before = sids(listed(client.list()))
    for name, call in operations(client, sid).items():
        response = call(headers=headers)
        assert_error(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer"), name
    assert sids(listed(client.list())) == before
    got(client.get(sid))


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "Bearer    ", "bearer"])
def test_empty_bearer_token_answers_400_on_every_operation(client: Any, value: str) -> None:
    sid = client.new_call()
    for call in operations(client, sid).values():
        assert_error(call(headers={"Authorization": value}), 400)
    got(client.get(sid))


def test_bearer_scheme_is_case_insensitive(client: Any) -> None:
    listed(client.list(headers={"Authorization": f"bearer {ACCOUNT_A.token}"}))
    listed(client.list(headers={"Authorization": f"BEARER   {ACCOUNT_A.token}"}))


def test_authentication_is_checked_before_the_sids(client: Any) -> None:
    assert_error(client.list(account_sid="not-a-uuid", headers={}), 401)
    assert_error(client.get("not-a-uuid", headers={}), 401)


def test_another_accounts_token_answers_403_on_every_operation_and_changes_nothing(client: Any) -> None:
    sid = client.new_call()
    before = sids(listed(client.list()))
    for name, call in operations(client, sid).items():
        body = assert_error(call(headers=client.auth(ACCOUNT_B)), 403)
        assert "call_sid" not in body, name
    assert sids(listed(client.list())) == before
    got(client.get(sid))
    assert_error(client.get(random_sid(), as_=ACCOUNT_B), 403)


def test_unknown_account_uuid_answers_403(client: Any) -> None:
    assert_error(client.list(account_sid=random_sid()), 403)


# --------------------------------------------------------------------------------------------- sids
@pytest.mark.parametrize("bad", ["abc", "1", "8314ce10d3974c60a6232995d177816a",
                                 "8314ce10-d397-4c60-a623-2995d177816ax",
                                 "{8314ce10-d397-4c60-a623-2995d177816a}", "8314ce10-d397-4c60-a623-2995d17781",
                                 "%00", "null", "ゼロ", "8314ce10-d397-4c60-a623-2995d177816a%20"])
def test_malformed_account_sid_answers_400_on_every_operation(client: Any, bad: str) -> None:
    sid = client.new_call()
    assert_error(client.list(account_sid=bad), 400)
    assert_error(client.get(sid, account_sid=bad), 400)
    assert_error(client.delete(sid, account_sid=bad), 400)
    assert_error(client.create(account_sid=bad), 400)
    got(client.get(sid))


@pytest.mark.parametrize("bad", ["abc", "0", "8314ce10d3974c60a6232995d177816a", "x" * 300, "%20"])
def test_malformed_call_sid_answers_400_on_get_and_delete(client: Any, bad: str) -> None:
    assert_error(client.get(bad), 400)
    assert_error(client.delete(bad), 400)


def test_upper_case_form_of_an_existing_sid_is_another_sid_404(client: Any) -> None:
    sid = client.new_call()
    assert_error(client.get(sid.upper()), 404)
    assert_error(client.delete(sid.upper()), 404)
    got(client.get(sid))


# ------------------------------------------------------------------------------------------- create
def test_create_answers_201_with_the_new_sid(client: Any) -> None:
    response = client.create()
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert_valid(body, "CreateCallResponse")
    assert set(body) == {"sid"}


def test_created_call_is_gettable_at_once_with_the_fields_of_the_request(client: Any) -> None:
    application = str(uuid.uuid4())
    tag = {"conformance_run": "r1", "n": [1, 2]}
    response = client.create(call_body(application_sid=application, tag=tag))
    sid = response.json()["sid"]
    call = got(client.get(sid))
    assert call == {
        "service_url": client.settings.service_url, "direction": "outbound", "caller_name": "",
        "call_sid": sid, "account_sid": ACCOUNT_A.sid, "application_sid": application,
        "call_status": "trying", "call_id": call["call_id"], "sip_status": 100,
        "from": DEFAULT_FROM, "to": DEFAULT_TO, "tag": tag,
    }
    assert call["call_id"]
    assert sid in sids(listed(client.list()))


def test_created_call_without_application_sid_or_tag_has_neither(client: Any) -> None:
    call = got(client.get(client.new_call()))
    assert "application_sid" not in call and "tag" not in call and "duration" not in call


def test_caller_name_comes_from_callerName(client: Any) -> None:
    assert got(client.get(client.new_call(callerName="Alice")))["caller_name"] == "Alice"


@pytest.mark.parametrize("target, shown", [
    ({"type": "phone", "number": "+15005550001"}, "+15005550001"),
    ({"type": "phone", "number": "15005550001", "trunk": "carrier-1"}, "15005550001"),
    ({"type": "teams", "number": "+15005550002", "tenant": "example.com"}, "+15005550002"),
    ({"type": "sip", "sipUri": "sip:alice@example.com"}, "sip:alice@example.com"),
    ({"type": "user", "name": "bob@example.com"}, "bob@example.com"),
])
def test_the_record_shows_the_address_of_each_target_type(client: Any, target: dict, shown: str) -> None:
    response = client.create({"from": "+15005550006", "to": target})
    assert response.status_code == 201
    assert got(client.get(response.json()["sid"]))["to"] == shown


def test_created_sids_are_distinct_uuids(client: Any) -> None:
    made = [client.new_call() for _ in range(20)]
    assert len(set(made)) == 20
    assert all(str(uuid.UUID(s)) == s for s in made)


INVALID_BODIES = {
    "malformed-json": b'{"from": "+1500", "to": {"type": "phone", "number": "+1"}',
    "empty": b"",
    "array": b"[]",
    "string": b'"call"',
    "null": b"null",
    "number": b"42",
    "missing-from": json.dumps({"to": {"type": "phone", "number": "+15005550001"}}).encode(),
    "missing-to": json.dumps({"from": "+15005550006"}).encode(),
    "empty-from": json.dumps({"from": "", "to": {"type": "phone", "number": "+1"}}).encode(),
    "from-number": json.dumps({"from": 15005550006, "to": {"type": "phone", "number": "+1"}}).encode(),
    "to-string": json.dumps({"from": "+1", "to": "+15005550001"}).encode(),
    "to-type-unknown": json.dumps({"from": "+1", "to": {"type": "fax", "number": "+15005550001"}}).encode(),
    "to-type-missing": json.dumps({"from": "+1", "to": {"number": "+15005550001"}}).encode(),
    "phone-without-number": json.dumps({"from": "+1", "to": {"type": "phone"}}).encode(),
    "sip-without-uri": json.dumps({"from": "+1", "to": {"type": "sip", "number": "+1"}}).encode(),
    "user-without-name": json.dumps({"from": "+1", "to": {"type": "user"}}).encode(),
    "application-sid-not-uuid": json.dumps({"from": "+1", "to": {"type": "phone", "number": "+1"},
                                            "application_sid": "app-1"}).encode(),
    "tag-not-object": json.dumps({"from": "+1", "to": {"type": "phone", "number": "+1"}, "tag": "x"}).encode(),
    "nan": b'{"from": "+1", "to": {"type": "phone", "number": "+1"}, "timeout": NaN}',
    "infinity": b'{"from": "+1", "to": {"type": "phone", "number": "+1"}, "tag": {"x": Infinity}}',
    "invalid-utf8": b'{"from": "\xff\xfe", "to": {"type": "phone", "number": "+1"}}',
    "deep-array": b"[" * 5000 + b"]" * 5000,
    "deep-tag": (b'{"from": "+1", "to": {"type": "phone", "number": "+1"}, "tag": ' + b'{"a":' * 200 + b"1"
                 + b"}" * 200 + b"}"),
    "huge-integer": b'{"from": "+1", "to": {"type": "phone", "number": "+1"}, "timeout": ' + b"9" * 5000 + b"}",
    "bom": b'\xef\xbb\xbf{"from": "+1", "to": {"type": "phone", "number": "+1"}}',
}


@pytest.mark.parametrize("name", sorted(INVALID_BODIES))
def test_an_invalid_create_body_answers_400_and_creates_nothing(client: Any, name: str) -> None:
    before = sids(listed(client.list()))
    assert_error(client.create(content=INVALID_BODIES[name]), 400)
    assert sids(listed(client.list())) == before


def test_a_body_over_the_limit_answers_413_and_creates_nothing(client: Any) -> None:
    before = sids(listed(client.list()))
    big = json.dumps(call_body(tag={"pad": "x" * (64 * 1024)})).encode()
    assert_error(client.create(content=big), 413)

    def chunks() -> Any:  # no Content-Length: the limit holds on a streamed body too
        for start in range(0, len(big), 4096):
            yield big[start:start + 4096]
    response = client.http.post(client.path(ACCOUNT_A.sid), headers={**client.auth(ACCOUNT_A),
                                "Content-Type": "application/json"}, content=chunks())
    assert_error(response, 413)
    assert sids(listed(client.list())) == before


def test_a_body_of_exactly_the_limit_is_accepted(client: Any) -> None:
    body = call_body(tag={"pad": ""})
    pad = client.settings.max_body - len(json.dumps(body).encode())
    body["tag"]["pad"] = "x" * pad
    content = json.dumps(body).encode()
    assert len(content) == client.settings.max_body
    assert client.create(content=content).status_code == 201


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/xml", "json"])
def test_a_non_json_content_type_answers_415(client: Any, content_type: str) -> None:
    before = sids(listed(client.list()))
    assert_error(client.create(content=json.dumps(call_body()).encode(), content_type=content_type), 415)
    assert sids(listed(client.list())) == before


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON",
                                          "application/merge-patch+json", None])
def test_json_content_types_and_no_content_type_are_accepted(client: Any, content_type: str | None) -> None:
    assert client.create(content=json.dumps(call_body()).encode(), content_type=content_type).status_code == 201


def test_odd_but_valid_strings_are_stored_and_echoed(client: Any) -> None:
    body = call_body(from_="\ud800 lone surrogate", to="+1 (500) 555-0001 \u2028", callerName="Zoë \x00")
    sid = client.create(content=json.dumps(body).encode()).json()["sid"]
    call = got(client.get(sid))
    assert call["from"] == "\ud800 lone surrogate" and call["caller_name"] == "Zoë \x00"
    listed(client.list())


def test_unknown_body_properties_are_ignored(client: Any) -> None:
    response = client.create(call_body(something_else={"a": 1}, amd={"thresholdWordCount": 4}, timeout=30))
    assert response.status_code == 201


# ----------------------------------------------------------------------------------------- lifecycle
def test_the_status_follows_the_clock_from_trying_to_completed(client: Any) -> None:
    timings = client.settings.timings
    sid = client.new_call()
    seen = [got(client.get(sid))]
    for moment in (timings.ring_after, timings.answer_after, timings.call_length):
        client.advance(moment - (client.clock.now() - 1000.0))
        seen.append(got(client.get(sid)))
    assert [(c["call_status"], c["sip_status"]) for c in seen] == [
        ("trying", 100), ("ringing", 180), ("in-progress", 200), ("completed", 200)]
    assert all("duration" not in c for c in seen[:3])
    assert seen[3]["duration"] == round(timings.call_length - timings.answer_after)


@pytest.mark.parametrize("to, statuses, final", [
    ("+15005550486", ["trying", "ringing", "busy"], ("busy", 486)),
    ("+15005550487", ["trying", "ringing", "no-answer"], ("no-answer", 487)),
    ("+15005550503", ["trying", "failed"], ("failed", 503)),
    ("+15005550183", ["trying", "early-media", "in-progress", "completed"], ("completed", 200)),
    ("sip:486@example.com", ["trying", "ringing", "busy"], ("busy", 486)),
])
def test_outcome_numbers_decide_how_a_call_ends(client: Any, to: str, statuses: list[str], final: tuple) -> None:
    body = {"from": "+15005550006", "to": {"type": "sip", "sipUri": to} if to.startswith("sip:")
            else {"type": "phone", "number": to}}
    sid = client.create(body).json()["sid"]
    seen: list[str] = []
    for _ in range(40):
        call = got(client.get(sid))
        if not seen or seen[-1] != call["call_status"]:
            seen.append(call["call_status"])
        client.advance(0.05)
    assert seen == statuses
    assert (call["call_status"], call["sip_status"]) == final
    assert call["duration"] == (0 if final[0] != "completed" else 1)


def test_a_status_never_goes_back_and_every_call_ends(client: Any) -> None:
    made = [client.new_call(to=f"+1500555{n:04d}") for n in (1, 486, 487, 503, 183)]
    last = {sid: 0 for sid in made}
    for _ in range(30):
        for sid in made:
            rank = STATUS_ORDER[got(client.get(sid))["call_status"]]
            assert rank >= last[sid]
            last[sid] = rank
        client.advance(0.05)
    assert all(rank == 4 for rank in last.values())


def test_the_lifecycle_timings_are_settings() -> None:
    c = ReferenceClient(ReferenceSettings(timings=Timings(ring_after=5, answer_after=10, call_length=70)))
    sid = c.new_call()
    c.advance(9.9)
    assert got(c.get(sid))["call_status"] == "ringing"
    c.advance(60.1)
    call = got(c.get(sid))
    assert call["call_status"] == "completed" and call["duration"] == 60


# ------------------------------------------------------------------------------------------ window
def test_an_ended_call_stays_visible_for_the_window_then_disappears(client: Any) -> None:
    window = client.settings.window
    sid = client.new_call()
    client.advance(client.settings.timings.call_length)  # ends now
    assert got(client.get(sid))["call_status"] == "completed"
    client.advance(window - 0.001)
    assert got(client.get(sid))["call_status"] == "completed"
    assert sid in sids(listed(client.list()))
    client.advance(0.001)
    assert_error(client.get(sid), 404)
    assert sid not in sids(listed(client.list()))
    assert_error(client.delete(sid), 404)


def test_the_window_is_a_setting() -> None:
    c = ReferenceClient(ReferenceSettings.fast(window=4))
    sid = c.new_call()
    c.advance(1.0 + 3.9)
    got(c.get(sid))
    c.advance(0.2)
    assert_error(c.get(sid), 404)


def test_a_live_call_is_not_subject_to_the_window() -> None:
    c = ReferenceClient(ReferenceSettings(window=5))
    sid = c.new_call()
    c.advance(9.9)  # standard timings: ends at 10 s
    assert got(c.get(sid))["call_status"] == "in-progress"


def test_each_account_starts_with_three_inbound_calls_inside_the_window(client: Any) -> None:
    for account in (ACCOUNT_A, ACCOUNT_B):
        calls = listed(client.list(account))
        assert len(calls) == 3
        assert {c["direction"] for c in calls} == {"inbound"}
        assert {c["account_sid"] for c in calls} == {account.sid}
        assert sorted(c["call_status"] for c in calls) == ["completed", "completed", "in-progress"]
        for call in calls:
            assert call["originating_sip_ip"].endswith(":5060") and call["originating_sip_trunk_name"] == "SBC"
            assert got(client.get(call["call_sid"], account)) == call
            assert ("duration" in call) == (call["call_status"] == "completed")
    client.advance(client.settings.window * 0.85)  # the ended ones ended at most 10 % of the window ago
    assert len(listed(client.list())) == 3
    client.advance(client.settings.window * 0.2)
    assert [c["call_status"] for c in listed(client.list())] == ["in-progress"]


def test_the_number_of_seeded_calls_is_a_setting() -> None:
    assert listed(ReferenceClient(ReferenceSettings.fast(seeded_calls=0)).list()) == []


# ------------------------------------------------------------------------------------------ delete
def test_delete_answers_204_without_body_and_removes_that_call_only(client: Any) -> None:
    first, second = client.new_call(), client.new_call()
    before = sids(listed(client.list()))
    response = client.delete(first)
    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers
    assert response.headers.get("content-length", "0") == "0"
    assert_error(client.get(first), 404)
    assert sids(listed(client.list())) == before - {first}
    got(client.get(second))


def test_deleting_twice_or_an_unknown_call_answers_404(client: Any) -> None:
    sid = client.new_call()
    assert client.delete(sid).status_code == 204
    assert_error(client.delete(sid), 404)
    assert_error(client.delete(random_sid()), 404)


def test_deleting_an_ended_call_removes_it(client: Any) -> None:
    sid = client.new_call()
    client.advance(5)
    assert client.delete(sid).status_code == 204
    assert_error(client.get(sid), 404)


# --------------------------------------------------------------------------------------- isolation
def test_an_account_lists_only_its_own_calls(client: Any) -> None:
    mine, theirs = client.new_call(), client.new_call(account=ACCOUNT_B)
    a_calls, b_calls = listed(client.list()), listed(client.list(ACCOUNT_B))
    assert mine in sids(a_calls) and theirs not in sids(a_calls)
    assert theirs in sids(b_calls) and mine not in sids(b_calls)
    assert {c["account_sid"] for c in a_calls} == {ACCOUNT_A.sid}
    assert not sids(a_calls) & sids(b_calls)


def test_another_accounts_call_sid_under_this_accounts_path_answers_404_and_is_untouched(client: Any) -> None:
    theirs = client.new_call(account=ACCOUNT_B)
    assert_error(client.get(theirs), 404)
    assert_error(client.delete(theirs), 404)
    got(client.get(theirs, ACCOUNT_B))


# ------------------------------------------------------------------------------- methods and routes
@pytest.mark.parametrize("method", ["PUT", "PATCH", "HEAD", "OPTIONS", "TRACE", "QUERY", "CONNECT", "FOO"])
def test_methods_the_api_does_not_offer_answer_405_with_allow(client: Any, method: str) -> None:
    sid = client.new_call()
    for path, allow in ((client.path(ACCOUNT_A.sid), "GET, POST"), (client.path(ACCOUNT_A.sid, sid), "GET, DELETE")):
        for headers in ({}, client.auth(ACCOUNT_A)):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 405
            assert response.headers["allow"] == allow
            if method != "HEAD":
                assert_error(response, 405)
    assert client.request("POST", client.path(ACCOUNT_A.sid, sid), headers=client.auth(ACCOUNT_A)).status_code == 405
    assert client.request("DELETE", client.path(ACCOUNT_A.sid), headers=client.auth(ACCOUNT_A)).status_code == 405
    got(client.get(sid))


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/", "/v1/Accounts", f"/v1/Accounts/{ACCOUNT_A.sid}",
                                  f"/v1/Accounts/{ACCOUNT_A.sid}/Calls/", f"/v1/Accounts/{ACCOUNT_A.sid}/calls",
                                  f"/v2/Accounts/{ACCOUNT_A.sid}/Calls", f"/v1/Accounts/{ACCOUNT_A.sid}/Calls/x/y",
                                  f"/v1/Accounts/{ACCOUNT_A.sid}/RecentCalls", "/openapi.json"])
def test_unknown_routes_answer_404_json(client: Any, path: str) -> None:
    for method in ("GET", "POST", "DELETE"):
        assert_error(client.request(method, path, headers=client.auth(ACCOUNT_A)), 404)


def test_query_strings_are_ignored(client: Any) -> None:
    everything = listed(client.list())
    response = client.http.get(client.path(ACCOUNT_A.sid) + "?direction=outbound&page=2&callStatus=%ff",
                               headers=client.auth(ACCOUNT_A))
    assert listed(response) == everything


# ---------------------------------------------------------------------------------- schema of bodies
def test_every_body_of_a_busy_session_is_schema_valid(client: Any) -> None:
    made = [client.new_call(to=f"+1500555{n:04d}", tag={"i": n}) for n in (1, 486, 487, 503, 183)]
    made.append(client.create({"from": "x", "to": {"type": "user", "name": "u"}}).json()["sid"])
    for _ in range(25):
        listed(client.list())
        listed(client.list(ACCOUNT_B))
        for sid in made:
            got(client.get(sid))
        client.advance(0.05)


# ------------------------------------------------------------------------------------------- store
def test_the_store_is_safe_under_concurrent_adds_gets_and_removes() -> None:
    clock = FakeClock()
    store = CallStore(clock, lambda record: 600.0)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for n in range(300):
                record = CallRecord(call_sid=str(uuid.uuid4()), account_sid=ACCOUNT_A.sid, direction="outbound",
                                    from_="1", to="2", call_id=new_call_id(), service_url="s",
                                    plan=plan_call(clock.now(), FAST_TIMINGS, "2"), created_at=clock.now())
                store.add(record)
                assert store.get(record.call_sid) is record
                store.calls(ACCOUNT_A.sid)
                if n % 2:
                    assert store.remove(record.call_sid) is record
                    assert store.get(record.call_sid) is None
                clock.advance(0.001)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(store) == 8 * 150


def test_expired_records_are_purged_from_memory() -> None:
    clock = FakeClock()
    store = CallStore(clock, lambda record: 10.0)
    for _ in range(100):
        store.add(CallRecord(call_sid=str(uuid.uuid4()), account_sid="a", direction="outbound", from_="1", to="2",
                             call_id="c", service_url="s", plan=plan_call(clock.now(), FAST_TIMINGS, "2"),
                             created_at=clock.now()))
    clock.advance(100)
    for _ in range(64):
        store.calls()
    assert len(store._records) == 0


# -------------------------------------------------------------------------------------- settings
def test_settings_refuse_inconsistent_values() -> None:
    with pytest.raises(ValueError):
        Timings(ring_after=3, answer_after=1, call_length=10)
    with pytest.raises(ValueError):
        ReferenceSettings(window=0)
    with pytest.raises(ValueError):
        ReferenceSettings(fault="delete-200", variant="extra-fields")
    with pytest.raises(ValueError):
        ReferenceSettings(accounts=(ACCOUNT_A, ACCOUNT_A))
    with pytest.raises(ValueError, match="unknown fault"):
        create_app(ReferenceSettings(fault="no-such-fault"))
    with pytest.raises(ValueError, match="unknown variant"):
        create_app(ReferenceSettings(variant="no-such-variant"))


def test_default_accounts_are_the_documented_constants() -> None:
    assert ReferenceSettings().accounts == (ACCOUNT_A, ACCOUNT_B)
    doc = (ROOT / "docs" / "reference-server.md").read_text(encoding="utf-8")
    for account in (ACCOUNT_A, ACCOUNT_B):
        assert account.sid in doc and account.token in doc
        uuid.UUID(account.sid), uuid.UUID(account.token)


def test_the_fast_preset_makes_a_call_last_about_one_second() -> None:
    assert ReferenceSettings.fast().timings.call_length == pytest.approx(1.0)
    assert ReferenceSettings().timings == Timings(1.0, 3.0, 10.0)


# --------------------------------------------------------------------------------- real socket
def test_start_reference_serves_on_a_free_port_and_stops_cleanly() -> None:
    with start_reference(ReferenceSettings.fast()) as server:
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
        assert [a.sid for a in server.accounts] == [ACCOUNT_A.sid, ACCOUNT_B.sid]
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {ACCOUNT_A.token}"
        url = f"{server.base_url}/Accounts/{ACCOUNT_A.sid}/Calls"
        created = session.post(url, json=call_body())
        assert created.status_code == 201
        sid = created.json()["sid"]
        assert got(session.get(f"{url}/{sid}"))["call_sid"] == sid
        assert sid in sids(listed(session.get(url)))
        deleted = session.delete(f"{url}/{sid}")
        assert deleted.status_code == 204 and deleted.content == b"" and "content-type" not in deleted.headers
        assert_error(session.get(f"{url}/{sid}"), 404)
        assert session.put(url).status_code == 405
        assert_error(requests.get(url), 401)
        assert server.unexpected_errors == 0
    assert not server.running
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)


def test_the_lifecycle_runs_on_real_time() -> None:
    with start_reference(ReferenceSettings.fast()) as server:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {ACCOUNT_A.token}"
        url = f"{server.base_url}/Accounts/{ACCOUNT_A.sid}/Calls"
        sid = session.post(url, json=call_body()).json()["sid"]
        deadline = time.monotonic() + 5
        statuses = []
        while time.monotonic() < deadline:
            status = got(session.get(f"{url}/{sid}"))["call_status"]
            if not statuses or statuses[-1] != status:
                statuses.append(status)
            if status in TERMINAL_STATUSES:
                break
            time.sleep(0.02)
        assert statuses[-1] == "completed"
        assert statuses[0] in ("trying", "ringing")


def test_a_taken_port_is_reported() -> None:
    from conformance.reference import ReferenceStartError
    with start_reference(ReferenceSettings.fast()) as server:
        with pytest.raises(ReferenceStartError, match="cannot listen"):
            start_reference(ReferenceSettings.fast(port=server.port))


def test_concurrent_creates_gets_and_deletes_from_threads_on_a_real_server() -> None:
    with start_reference(ReferenceSettings.fast(window=600)) as server:
        url = f"{server.base_url}/Accounts/{ACCOUNT_A.sid}/Calls"
        made: list[str] = []
        deleted: list[str] = []
        statuses: list[int] = []
        lock = threading.Lock()

        def work() -> None:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {ACCOUNT_A.token}"
            for n in range(25):
                response = session.post(url, json=call_body(tag={"n": n}))
                sid = response.json()["sid"]
                get = session.get(f"{url}/{sid}")
                with lock:
                    statuses.extend([response.status_code, get.status_code])
                    made.append(sid)
                if n % 2:
                    response = session.delete(f"{url}/{sid}")
                    with lock:
                        statuses.append(response.status_code)
                        deleted.append(sid)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(made) == len(set(made)) == 200
        assert set(statuses) == {201, 200, 204}
        remaining = sids(listed(requests.get(url, headers={"Authorization": f"Bearer {ACCOUNT_A.token}"})))
        assert remaining >= set(made) - set(deleted)
        assert not remaining & set(deleted)
        assert server.unexpected_errors == 0


# --------------------------------------------------------------------------------- standalone
@contextlib.contextmanager
def serving_main(argv: list[str], capsys: Any) -> Iterator[dict[str, Any]]:
    """`main(argv)` serving in a thread: yields its start line (as JSON), then stops it; it must return 0."""
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(main(argv, stop_event=stop)))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        out = ""
        while "\n" not in out and time.monotonic() < deadline:
            time.sleep(0.02)
            out += capsys.readouterr().out
        yield json.loads(out.splitlines()[0])
    finally:
        stop.set()
        thread.join(10)
    assert result == [0]


def test_main_prints_one_json_line_then_serves_until_stopped(capsys: Any) -> None:
    with serving_main(["--port", "0", "--window", "30", "--timings", "fast"], capsys) as line:
        assert set(line) == {"base_url", "accounts", "window", "fault", "variant"}
        assert line["window"] == 30 and line["fault"] is None and line["variant"] is None
        assert line["accounts"] == [{"sid": a.sid, "token": a.token, "application_sid": a.application_sid}
                                    for a in (ACCOUNT_A, ACCOUNT_B)]
        url = f"{line['base_url']}/Accounts/{ACCOUNT_A.sid}/Calls"
        listed(requests.get(url, headers={"Authorization": f"Bearer {ACCOUNT_A.token}"}, timeout=5))


def test_the_module_runs_standalone_and_stops_on_sigterm() -> None:
    process = subprocess.Popen([sys.executable, "-m", "conformance.reference", "--port", "0", "--fault", "delete-200"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = json.loads(process.stdout.readline())
        assert line["fault"] == "delete-200"
        url = f"{line['base_url']}/Accounts/{line['accounts'][0]['sid']}/Calls"
        headers = {"Authorization": f"Bearer {line['accounts'][0]['token']}"}
        sid = requests.post(url, json=call_body(), headers=headers, timeout=5).json()["sid"]
        assert requests.delete(f"{url}/{sid}", headers=headers, timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        assert process.stdout.read() == ""


def test_main_lists_the_faults_and_variants(capsys: Any) -> None:
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "delete-200" in out and "CALLS-DELETE-204" in out and "jambonz-like" in out


def test_main_refuses_bad_options(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        main(["--fault", "no-such-fault"])
    with pytest.raises(SystemExit):
        main(["--ring-after", "5", "--answer-after", "1"])
