"""Named checks: one defect costs the requirement it breaks, and the rest of the evidence is still judged."""

import json
from types import SimpleNamespace

import jsonschema_rs
import pytest
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.openapi.checks import JsonSchemaError

from conformance.contract import openapi
from conformance.deployment.exchange import Exchange
from conformance.judgement.checks import (
    MESSAGE_LIMIT,
    RequirementViolation,
    call_object_violations,
    contract_status_violation,
    expect_call_list,
    expect_no_server_error,
    expect_refused,
    expect_rejected,
    judge_contract_status,
    judged,
    judgement,
    record,
    violation,
)
from conformance.runner import property_tests

CALL = {"call_sid": "6b4931df-436a-4bfe-864e-3513d2917c02", "account_sid": "8314ce10-d397-4c60-a623-2995d177816a",
        "call_status": "completed", "direction": "outbound", "from": "15005550006", "to": "15005550001"}


BASE = "https://api.example.net/v1/Accounts/8314ce10-d397-4c60-a623-2995d177816a/Calls"


def response(status=200, body=None, content_type="application/json", method=None, url=BASE):
    content = json.dumps(body).encode()
    exchange = Exchange(method, url, {}, None, status=status) if method else None
    return SimpleNamespace(status=status, content_type=content_type, content=content, headers={},
                           json=lambda: json.loads(content), exchange=exchange)


def test_a_list_with_one_empty_item_fails_the_schema_only_and_returns_the_well_formed_calls():
    other = {**CALL, "call_sid": "7b4931df-436a-4bfe-864e-3513d2917c02", "call_status": "ringing"}
    with judgement() as found:
        listed = expect_call_list(response(body=[CALL, {}, other]), "list")
    assert listed == [CALL, other]
    assert [v.requirement for v in found.violations] == ["CALLS-CALL-SCHEMA"]
    assert "item 2 of 3" in found.violations[0].message


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


# --- messages: bounded, exact, the same defect recognised in any answer --------------------------------------
def test_a_bad_list_item_is_counted_from_one_quoted_and_placed_by_keyword_and_path():
    with judgement() as found:
        expect_call_list(response(body=[{}, CALL]), "list")
    message = found.violations[0].message
    assert "item 1 of 2 {}" in message
    assert "'call_sid' is a required property at $[0] (required) (and 5 more)" in message


def test_the_same_bad_item_in_other_lists_and_tests_is_the_same_defect():
    with judgement() as first:
        expect_call_list(response(body=[{}, CALL]), "list after a create")
    with judgement() as second:
        expect_call_list(response(body=[CALL, dict(CALL, call_sid="7b4931df-436a-4bfe-864e-3513d2917c02"), {}]),
                         "list around a refused create")
    assert first.violations[0].message != second.violations[0].message
    assert first.violations[0].key == second.violations[0].key


def test_a_schema_error_names_its_keyword_and_place_and_stays_bounded_whatever_the_value():
    call = {**CALL, "sip_status": "9" * 5000}
    [found] = call_object_violations(call, response(), "get of a call")
    assert "at $.sip_status (type)" in found.message
    assert len(found.message) <= MESSAGE_LIMIT + 10
    [other] = call_object_violations({**CALL, "sip_status": "200"}, response(), "get of another call")
    assert other.key == found.key


def test_an_invalid_body_answered_500_is_not_called_accepted():
    with pytest.raises(RequirementViolation) as refused:
        expect_refused(response(201), "CALLS-AUTH-REQUIRED", "list without a token")
    assert "accepted (answered 201)" in refused.value.message
    with pytest.raises(BaseExceptionGroup) as failed:
        expect_rejected(response(500), "CALLS-CREATE-REJECTS-INVALID", "a create without from")
    assert all("accepted" not in v.message and "500" in v.message for v in failed.value.exceptions)


def test_server_errors_of_one_operation_met_by_different_probes_are_one_defect():
    keys = set()
    for what in ("a create without from", "a create with an object from"):
        with pytest.raises(RequirementViolation) as error:
            expect_no_server_error(response(500, method="POST"), what, malformed=True)
        keys.add(error.value.key)
    assert len(keys) == 1


def test_an_undocumented_status_of_an_operation_breaks_contract_status():
    undocumented = contract_status_violation("createCall", 500, None)
    assert (undocumented.requirement, undocumented.code) == ("CALLS-CONTRACT-STATUS", "CF121")
    assert "createCall answered 500" in undocumented.message
    assert contract_status_violation("listCalls", 201, None) is not None  # only 200 is a listing's success
    assert contract_status_violation("createCall", 202, None) is None  # 2XX is documented for create
    assert contract_status_violation("deleteCall", 418, None) is None  # 4XX is documented everywhere
    assert contract_status_violation("createCall", 500, None).key == contract_status_violation("createCall", 500,
                                                                                                None).key


def test_every_answer_of_a_probe_is_judged_for_its_status_and_nothing_outside_a_test():
    answer = response(500, method="POST")
    judge_contract_status(answer)  # no test running: nothing is charged, nothing raised
    with judgement() as found:
        judge_contract_status(answer)
        judge_contract_status(response(404, method="GET", url=BASE + "/6b4931df-436a-4bfe-864e-3513d2917c02"))
        judge_contract_status(response(500, method="PUT"))  # not an operation of the API
    assert [(v.requirement, v.code) for v in found.violations] == [("CALLS-CONTRACT-STATUS", "CF121")]


def test_a_generated_schema_error_quotes_its_keyword_place_and_value_never_the_schema():
    schema = {"type": "array", "items": openapi.component_schema("Call")}
    with pytest.raises(jsonschema_rs.ValidationError) as error:
        jsonschema_rs.Draft202012Validator(schema).validate([CALL, {}])
    failure = JsonSchemaError.from_exception(operation="GET /Accounts/{account_sid}/Calls", exc=error.value,
                                             root_schema=schema)
    assert "Schema at" in failure.message  # Schemathesis' own message quotes the schema
    text, key = property_tests._failure_text(failure)
    assert text == 'Response violates schema: "call_sid" is a required property at $[1] (required)'
    exchange = Exchange("GET", BASE, {}, None, status=200, response_headers={"content-type": "application/json"},
                        response_body=json.dumps([CALL] * 50 + [{}]))
    assert property_tests._answered(exchange, [failure]).endswith("with $[1] = {}")
    assert "[1]" not in key


def test_a_generated_invalid_request_answered_500_is_not_called_accepted():
    failure = AcceptedNegativeData(operation="POST /Accounts/{account_sid}/Calls", status_code=500,
                                   message="Invalid data should have been rejected\nExpected: 4xx",
                                   expected_statuses=["4xx"])
    text, _ = property_tests._failure_text(failure)
    assert "accepted" not in text and "answered 500" in text
