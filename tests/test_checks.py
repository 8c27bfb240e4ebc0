"""Named checks: one defect costs the requirement it breaks, and the rest of the evidence is still judged."""

import json
from types import SimpleNamespace

import pytest

from conformance.judgement.checks import (
    RequirementViolation,
    expect_call_list,
    expect_rejected,
    judged,
    judgement,
    record,
    violation,
)

CALL = {"call_sid": "6b4931df-436a-4bfe-864e-3513d2917c02", "account_sid": "8314ce10-d397-4c60-a623-2995d177816a",
        "call_status": "completed", "direction": "outbound", "from": "15005550006", "to": "15005550001"}


def response(status=200, body=None, content_type="application/json"):
    content = json.dumps(body).encode()
    return SimpleNamespace(status=status, content_type=content_type, content=content, headers={},
                           json=lambda: json.loads(content), exchange=None)


def test_a_list_with_one_empty_item_fails_the_schema_only_and_returns_the_well_formed_calls():
    other = {**CALL, "call_sid": "7b4931df-436a-4bfe-864e-3513d2917c02", "call_status": "ringing"}
    with judgement() as found:
        listed = expect_call_list(response(body=[CALL, {}, other]), "list")
    assert listed == [CALL, other]
    assert [v.requirement for v in found.violations] == ["CALLS-CALL-SCHEMA"]
    assert "item 1 of 3" in found.violations[0].message


def test_a_call_listed_twice_breaks_list_distinct():
    with judgement() as found:
        listed = expect_call_list(response(body=[CALL, dict(CALL)]), "list")
    assert listed == [CALL]
    assert [v.requirement for v in found.violations] == ["CALLS-LIST-DISTINCT"]


def test_an_item_with_a_bad_status_and_no_from_breaks_each_requirement_once():
    bad = {**CALL, "call_status": "answered"}
    del bad["from"]
    with judgement() as found:
        expect_call_list(response(body=[bad]), "list")
    assert sorted(v.requirement for v in found.violations) == ["CALLS-CALL-SCHEMA", "CALLS-CALL-STATUS-ENUM"]


def test_outside_a_test_a_recorded_violation_is_raised():
    with pytest.raises(RequirementViolation):
        record(violation("CALLS-LIST-200", "CF101", "boom"))


def test_a_judged_block_records_and_goes_on():
    with judgement() as found:
        with judged():
            raise violation("CALLS-GET-200", "CF101", "first")
        reached = True
    assert reached and [v.message for v in found.violations] == ["first"]


def test_a_server_error_on_malformed_input_is_a_server_error_too():
    with pytest.raises(BaseExceptionGroup) as group:
        expect_rejected(response(500, {"msg": "boom"}), "CALLS-CREATE-REJECTS-MISTYPED", "create with a long from")
    assert {v.requirement for v in group.value.exceptions} == {"CALLS-CREATE-REJECTS-MISTYPED", "CALLS-NO-SERVER-ERROR"}
    assert "malformed input" in group.value.exceptions[1].message


def test_a_call_listed_with_a_malformed_property_is_still_listed():
    from conformance.evidence.observed import sids_of
    bad = {k: v for k, v in CALL.items() if k != "to"}
    with judgement() as found:
        listed = expect_call_list(response(body=[bad]), "list")
    assert listed == [] and sids_of(listed) == {CALL["call_sid"]}
    assert [v.requirement for v in found.violations] == ["CALLS-CALL-SCHEMA"]


def test_a_violation_with_evidence_shows_every_contradicting_exchange() -> None:
    from conformance.judgement.checks import RequirementViolation
    from conformance.deployment.exchange import Exchange

    first = Exchange("GET", "http://t/v1/Accounts/a/Calls", {}, None, status=200, response_body="[]")
    second = Exchange("GET", "http://t/v1/Accounts/a/Calls/b", {}, None, status=200, response_body="{}")
    v = RequirementViolation("CALLS-SAME-EVERYWHERE", "CF114", "they disagree", first,
                             evidence=[("exchange #1", first), ("exchange #2", second)])
    text = v.render()
    assert "exchange #1: GET http://t/v1/Accounts/a/Calls -> 200" in text
    assert "exchange #2: GET http://t/v1/Accounts/a/Calls/b -> 200" in text
