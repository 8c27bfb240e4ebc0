"""Safety of generated creates: an invalid body the property tests send names no destination, host or URL
but the configured ones, keeps what makes it invalid where it can, and dials nobody once the budget is spent."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.generation import GenerationMode

from conformance.contract import openapi
from conformance.contract.calls import TARGET_ADDRESS
from conformance.runner import safe_creates
from conformance.deployment.config import resolve

APP = "0d27aee6-d1e6-4707-bdde-1cc20b50ca88"
FROM, TO = "+15005550006", "+15005550001"
CONFIGURED = {"application_sid": APP, "from": FROM, "to": {"type": "phone", "number": TO}, "tag": {"conformance_run": "r"}}
ADDRESSES = set(TARGET_ADDRESS.values())
TO_DIGITS = int(TO.lstrip("+"))


def _create_operation() -> Any:
    schema = schemathesis.openapi.from_dict(copy.deepcopy(openapi.load_spec()))
    return schema["/Accounts/{account_sid}/Calls"]["POST"]


def invalid_bodies() -> Any:
    """Create bodies Schemathesis generates in negative mode (whether or not the body is the invalid part)."""
    strategy = _create_operation().as_strategy(generation_mode=GenerationMode.NEGATIVE)
    return strategy.map(lambda case: case.body).filter(lambda body: isinstance(body, dict))


def assert_names_nothing_unconfigured(safe: dict[str, Any]) -> None:
    for key, value in safe.items():
        if key == "from":
            assert value == FROM or not isinstance(value, str) or not 1 <= len(value) <= 256, value
        elif key == "to":
            if isinstance(value, dict):
                for field, part in value.items():
                    if field in ADDRESSES:
                        assert part in (TO, TO_DIGITS, "", None) or isinstance(part, bool), (field, part)
                    elif field != "type":
                        assert safe_creates._inert(part) or part == "", (field, part)
            else:
                assert value == TO or safe_creates._inert(value), value
        elif key == "application_sid":
            assert value == APP or not (isinstance(value, str) and safe_creates.UUID.match(value)), value
        elif key not in safe_creates.INERT_CREATE_FIELDS:
            # webhooks, fromHost, SIP headers, AMD settings, unknown fields: nothing a server could contact
            assert safe_creates._inert(value), (key, value)


@hypothesis.settings(max_examples=300, derandomize=True, database=None, deadline=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(body=invalid_bodies(), may_dial=hypothesis.strategies.booleans())
def test_an_invalid_create_names_no_number_address_or_url_but_the_configured_ones(body, may_dial):
    safe = safe_creates.safe_invalid_create(body, CONFIGURED, may_dial)
    assert_names_nothing_unconfigured(safe)
    if not may_dial:
        assert not safe_creates._names_a_destination(safe)


@pytest.mark.parametrize("body", [
    {"from": FROM, "to": {"type": "phone", "number": TO}, "timeout": "soon"},
    {"from": "", "to": {"type": "phone", "number": "+15551230000"}},
    {"from": "+15551230000", "to": "+15551230000"},
    {"from": "+15551230000", "to": {"type": "phone"}},
    {"from": "+15551230000", "to": {"type": "phone", "number": 15551230000}},
    {"from": "+15551230000", "to": {"type": "carrier-pigeon", "number": "+15551230000"}},
    {"from": "+15551230000", "to": {"number": "+15551230000"}},
    {"from": "+15551230000", "to": {"type": "sip", "sipUri": ""}},
    {"from": "+15551230000", "to": {"type": "phone", "number": "+15551230000", "trunk": 7}},
    {"from": "+15551230000", "to": {"type": "phone", "number": "+15551230000"}, "call_hook": 5},
    {"from": "+15551230000", "to": {"type": "phone", "number": "+15551230000"}, "application_sid": "not-a-uuid"},
    {"to": {"type": "phone", "number": "+15551230000"}},
], ids=["mistyped-timeout", "empty-from", "to-as-string", "phone-without-number", "number-as-integer",
        "unknown-type", "no-type", "empty-sip-uri", "mistyped-trunk", "mistyped-webhook", "malformed-application-sid",
        "no-from"])
def test_what_makes_a_body_invalid_is_kept_and_only_configured_numbers_are_named(body):
    assert openapi.schema_errors(body, "CreateCallRequest")
    safe = safe_creates.safe_invalid_create(body, CONFIGURED, may_dial=True)
    assert openapi.schema_errors(safe, "CreateCallRequest"), safe
    assert "+15551230000" not in repr(safe) and "15551230000" not in repr(safe)


@pytest.mark.parametrize("hook", ["HTTP://hooks.example.net/call", {"url": "https://hooks.example.net", "method": "PUT"}])
def test_an_invalid_webhook_that_could_be_fetched_becomes_an_inert_invalid_value(hook):
    safe = safe_creates.safe_invalid_create({"from": FROM, "to": CONFIGURED["to"], "call_hook": hook}, CONFIGURED, True)
    assert safe["call_hook"] is False
    assert openapi.schema_errors(safe, "CreateCallRequest")


def test_a_valid_webhook_in_an_invalid_body_is_left_out():
    body = {"from": "", "to": CONFIGURED["to"], "call_hook": "https://hooks.example.net/call",
            "to_headers": {"X-Where": "sip:elsewhere.example.net"}}
    safe = safe_creates.safe_invalid_create(body, CONFIGURED, True)
    assert "call_hook" not in safe and "to_headers" not in safe


@hypothesis.settings(max_examples=100, derandomize=True, database=None, deadline=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(body=invalid_bodies())
def test_an_invalid_body_stays_invalid_once_made_safe(body):
    hypothesis.assume(openapi.schema_errors(body, "CreateCallRequest"))
    assert openapi.schema_errors(safe_creates.safe_invalid_create(body, CONFIGURED, may_dial=True), "CreateCallRequest")


# --- prepare_case: which body is sent, and what it costs ---------------------------------------------


def _run(embedded: bool = False, allow_create: bool = True):
    from conformance.runner.budget import CallBudget

    values = {} if embedded else {"base_url": "https://api.example.net/v1", "account_sid": APP, "token": "t" * 20,
                                  "allow_create": allow_create, "from_number": FROM, "to_number": TO}
    run = SimpleNamespace(config=resolve(values, environ={}))
    run.budget = CallBudget(run.config, None)  # the generated creates are sent by Schemathesis
    return run


def _create_case(body: dict[str, Any], mode: GenerationMode, body_is_invalid: bool) -> Any:
    component = SimpleNamespace(mode=SimpleNamespace(is_negative=body_is_invalid))
    return SimpleNamespace(
        operation=SimpleNamespace(definition=SimpleNamespace(raw={"operationId": "createCall"})),
        meta=SimpleNamespace(generation=SimpleNamespace(mode=mode), components={"body": component}),
        path_parameters={"account_sid": "not-a-uuid"}, body=body, method="POST",
    )


def test_a_request_invalid_only_in_its_path_carries_the_configured_payload_without_a_destination():
    run = _run()
    case = _create_case({"from": "+15551230000", "to": {"type": "sip", "sipUri": "sip:x@example.net"}},
                        GenerationMode.NEGATIVE, body_is_invalid=False)
    safe_creates.prepare_case(case, run)
    assert "to" not in case.body and case.body["from"] == FROM
    assert case.path_parameters["account_sid"] == "not-a-uuid"  # the invalid part, kept
    assert run.budget.attempts == 0 and run.budget.spent("invalid-dial") == 0


def test_a_request_invalid_in_its_body_goes_to_the_configured_account():
    run = _run()
    case = _create_case({"from": "", "to": CONFIGURED["to"]}, GenerationMode.NEGATIVE, body_is_invalid=True)
    safe_creates.prepare_case(case, run)
    assert case.path_parameters["account_sid"] == run.config.account_sid
    assert case.body["from"] == "" and case.body["to"] == CONFIGURED["to"]


def test_once_the_generated_calls_are_spent_invalid_requests_name_no_destination():
    run = _run()
    run.budget.count("property")  # the one call the property tests may spend on an external target
    case = _create_case({"from": "+15551230000", "to": "+15551230000"}, GenerationMode.NEGATIVE, body_is_invalid=True)
    safe_creates.prepare_case(case, run)
    assert "to" not in case.body
    elsewhere = _create_case(dict(CONFIGURED), GenerationMode.NEGATIVE, body_is_invalid=False)
    safe_creates.prepare_case(elsewhere, run)
    assert "to" not in elsewhere.body


def test_without_allow_create_no_generated_request_names_a_destination():
    run = _run(allow_create=False)
    case = _create_case({"from": FROM, "to": {"type": "phone", "number": 5}}, GenerationMode.NEGATIVE, body_is_invalid=True)
    safe_creates.prepare_case(case, run)
    assert not safe_creates._names_a_destination(case.body)


def test_an_accepted_invalid_create_is_taken_from_the_budget():
    run = _run()
    run.budget.remember = lambda sid, body: None
    case = _create_case({"from": FROM}, GenerationMode.NEGATIVE, body_is_invalid=True)
    accepted = SimpleNamespace(status_code=201, json=lambda: {"sid": APP})
    safe_creates.remember_created(case, accepted, run, "property")
    assert run.budget.spent("property") == 1
    assert not safe_creates.generated_calls_allowed(run, "property")


def test_an_invalid_create_carries_the_run_tag_unless_its_tag_is_the_invalid_part():
    tagged = safe_creates.safe_invalid_create({"from": "", "to": CONFIGURED["to"], "tag": {"team": "qa"}}, CONFIGURED, True)
    assert tagged["tag"] == {"team": "qa", "conformance_run": "r"}
    untagged = safe_creates.safe_invalid_create({"from": FROM, "to": CONFIGURED["to"], "tag": 5}, CONFIGURED, True)
    assert untagged["tag"] == 5


def test_an_external_run_sends_a_bounded_number_of_invalid_creates_naming_the_destination():
    run = _run()
    sent = []
    for _ in range(safe_creates.INVALID_DIALS_EXTERNAL + 5):
        case = _create_case({"from": FROM, "to": CONFIGURED["to"], "timeout": "soon"}, GenerationMode.NEGATIVE,
                            body_is_invalid=True)
        safe_creates.prepare_case(case, run)
        sent.append(safe_creates._names_a_destination(case.body))
    assert sent == [True] * safe_creates.INVALID_DIALS_EXTERNAL + [False] * 5
    assert run.budget.attempts == 0  # none was accepted: none is taken from the call budget


def test_the_embedded_reference_gets_every_invalid_create_with_its_destination():
    run = _run(embedded=True)
    for _ in range(safe_creates.INVALID_DIALS_EXTERNAL + 5):
        case = _create_case({"from": FROM, "to": CONFIGURED["to"], "timeout": "soon"}, GenerationMode.NEGATIVE,
                            body_is_invalid=True)
        safe_creates.prepare_case(case, run)
        assert safe_creates._names_a_destination(case.body)


@pytest.mark.parametrize("to", [{"type": "phone", "number": "+15550100", "sipUri": 0}, {"sipUri": 7},
                                {"type": "nowhere", "name": 5.5}])
def test_a_number_where_an_unused_address_goes_is_sent_as_a_mistyped_false(to):
    """A lenient server could dial a number it finds in any address field: it becomes `false`, still mistyped."""
    safe = safe_creates.safe_invalid_create({"from": "+1", "to": to}, CONFIGURED, may_dial=True)["to"]
    unused = [key for key in to if key in ADDRESSES and key != "number"]
    assert all(safe[key] is False for key in unused), safe
    assert_names_nothing_unconfigured({"to": safe})


@pytest.mark.parametrize("purpose, relied_on", [("stateful", False), ("property", True)])
def test_a_call_a_linked_sequence_created_is_never_relied_on_to_stay(purpose: str, relied_on: bool) -> None:
    """A linked sequence may delete its call at its next step, while the lifecycle watch looks for a call
    certain to stay visible: that watch must not pick it."""
    from conformance.evidence.observed import DELETING

    sid = f"c0ffee00-0000-4000-8000-{sum(map(ord, purpose)):012d}"
    remembered = []
    run = SimpleNamespace(budget=SimpleNamespace(remember=lambda sid, body: remembered.append(sid), count=print))
    case = SimpleNamespace(method="POST", meta=None, body={})
    response = SimpleNamespace(status_code=201, content=f'{{"sid": "{sid}"}}'.encode())
    safe_creates.remember_created(case, response, run, purpose)
    assert remembered == [sid] and (sid not in DELETING) == relied_on
