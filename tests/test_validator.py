"""The compiled validator behind `openapi.conforms` gives the answers of the reference validator (Python
jsonschema, Draft 2020-12 with format checking) for every component schema of the contract, and no invalid
create body the property tests prepare goes out valid."""

from __future__ import annotations

import copy
import itertools
import math
import uuid
from typing import Any

import hypothesis
import jsonschema
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.core import NotSet
from schemathesis.generation import GenerationMode

from conformance.contract import openapi
from conformance.runner import safe_creates
from tests.test_generated_creates import _run

SPEC = openapi.load_spec()
COMPONENTS = sorted(SPEC["components"]["schemas"])


def settings(examples: int) -> hypothesis.settings:
    return hypothesis.settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                               suppress_health_check=list(hypothesis.HealthCheck))


def reference(component: str) -> jsonschema.protocols.Validator:
    """Python jsonschema on the contract itself: `#/components/...` references resolve against openapi.yaml."""
    cls = jsonschema.Draft202012Validator
    return cls({"$ref": f"#/components/schemas/{component}", "components": SPEC["components"]},
               format_checker=cls.FORMAT_CHECKER)


REFERENCE = {name: reference(name) for name in COMPONENTS}


def fast_answer(instance: Any, component: str) -> bool:
    """What `openapi.conforms` answers: the compiled validator's answer, or jsonschema's for a value Rust cannot take."""
    assert openapi.fast_validator(component) is not None
    return openapi.conforms(instance, component)


def _formats(node: Any) -> set[str]:
    if isinstance(node, dict):
        return ({node["format"]} if isinstance(node.get("format"), str) else set()).union(*map(_formats, node.values()))
    return set().union(*map(_formats, node)) if isinstance(node, list) else set()


def test_every_format_the_contract_uses_is_checked_as_jsonschema_checks_it():
    assert _formats(SPEC) == {"uuid"}
    assert _formats(SPEC) <= openapi.FORMATS.keys()
    for name in COMPONENTS:
        assert openapi.fast_validator(name) is not None, name


# --- the uuid format ----------------------------------------------------------------------------------

UUID = "8314ce10-d397-4c60-a623-2995d177816a"
# Characters uuid.UUID takes or trips on: hex digits, signs, underscores, white space, braces, non-ASCII
# digits, a lone surrogate.
UUID_CHARS = "0123456789abcdefABCDEFg-+_ {}:u\t\n\u0663\uff13\u00e9\ud800\ufffd"
UUID_EDGES = [
    UUID, UUID.upper(), UUID.replace("-", ""), "{" + UUID + "}", "urn:uuid:" + UUID, UUID + "\n", " " + UUID[1:],
    "+" + UUID[1:], UUID[:35] + " ", "1_" + UUID[2:], "\u0663" * 8 + UUID[8:], "\uff13" * 8 + UUID[8:],
    "-" + UUID[1:], UUID[:8] + "_" + UUID[9:], "\ud800" + UUID[1:], "", "-" * 36, "0" * 36, 5, None,
]


@pytest.mark.parametrize("value", UUID_EDGES)
def test_the_uuid_format_is_jsonschemas_on_edge_cases(value):
    assert openapi.FORMATS["uuid"](value) == jsonschema.Draft202012Validator.FORMAT_CHECKER.conforms(value, "uuid")


def _uuid_like() -> st.SearchStrategy[str]:
    group = lambda n: st.text(st.sampled_from(UUID_CHARS), min_size=n, max_size=n)  # noqa: E731
    dashed = st.tuples(group(8), group(4), group(4), group(4), group(12)).map("-".join)
    return st.one_of(dashed, st.text(st.sampled_from(UUID_CHARS), min_size=30, max_size=42), st.uuids().map(str))


@settings(2000)
@hypothesis.given(value=_uuid_like())
def test_the_uuid_format_is_jsonschemas(value):
    assert openapi.FORMATS["uuid"](value) == jsonschema.Draft202012Validator.FORMAT_CHECKER.conforms(value, "uuid")
    body = {"from": "+1", "to": {"type": "phone", "number": "+2"}, "application_sid": value}
    assert fast_answer(body, "CreateCallRequest") == REFERENCE["CreateCallRequest"].is_valid(body)


# --- every component: valid and invalid instances -------------------------------------------------------

CALL = {"call_sid": UUID, "account_sid": UUID, "call_status": "ringing", "direction": "outbound",
        "from": "+15005550006", "to": "+15005550001"}
TARGET = {"type": "phone", "number": "+15005550001"}
HOOK = "https://hooks.example.net/call"
BASES = {
    "Call": CALL, "CallList": [CALL, dict(CALL, call_sid=str(uuid.UUID(int=1)))], "Target": TARGET,
    "Webhook": {"url": HOOK, "method": "POST"}, "WebhookUrl": HOOK, "CreateCallRequest": {"from": "+15005550006",
    "to": TARGET}, "CreateCallResponse": {"sid": UUID}, "Error": {"msg": "no"},
}
# (component, instance, valid?): each keyword of the contract met on both sides of its limit.
EXPLICIT = [
    *[(name, base, True) for name, base in BASES.items()],
    ("Call", {**CALL, "sip_status": 100, "duration": 0, "application_sid": UUID, "extra": [1]}, True),
    ("Call", {**CALL, "sip_status": 699.0}, True),
    ("Call", {**CALL, "sip_status": 700}, False),
    ("Call", {**CALL, "sip_status": 99}, False),
    ("Call", {**CALL, "sip_status": 200.5}, False),
    ("Call", {**CALL, "duration": -1}, False),
    ("Call", {**CALL, "duration": True}, False),
    ("Call", {**CALL, "call_status": "ended"}, False),
    ("Call", {**CALL, "direction": "Inbound"}, False),
    ("Call", {**CALL, "call_sid": "+" + UUID[1:]}, True),  # uuid.UUID takes a sign: so does the contract's check
    ("Call", {**CALL, "account_sid": UUID.replace("-", "")}, False),
    ("Call", {k: v for k, v in CALL.items() if k != "to"}, False),
    ("Call", {**CALL, "from": None}, False),
    ("CallList", [], True),
    ("CallList", [CALL, {**CALL, "direction": 1}], False),
    ("CallList", {"0": CALL}, False),
    ("Target", {"type": "sip", "sipUri": "sip:a@b"}, True),
    ("Target", {"type": "sip", "number": "+1"}, False),
    ("Target", {"type": "user", "name": ""}, False),
    ("Target", {"type": "teams", "number": "+1", "headers": {"X-A": "b"}, "auth": {"username": "u"}}, True),
    ("Target", {"type": "phone", "number": "+1", "headers": {"X-A": 1}}, False),
    ("Target", {"type": "phone", "number": "+1", "auth": {"password": 5}}, False),
    ("Target", {"type": "fax", "number": "+1"}, False),
    ("Target", {"number": "+1"}, False),
    ("Webhook", HOOK, True),
    ("Webhook", "wss://x", True),
    ("Webhook", {"url": HOOK, "method": "PUT"}, False),
    ("Webhook", {"method": "GET"}, False),
    ("Webhook", "ftp://x", False),
    ("WebhookUrl", "https://" + "a" * 2040, True),
    ("WebhookUrl", "https://" + "a" * 2041, False),
    ("WebhookUrl", "https://a" + "\U0001F600" * 2039, True),  # maxLength counts characters, not bytes
    ("WebhookUrl", "https://\x7f", False),
    ("WebhookUrl", "https:// x", False),
    ("WebhookUrl", "HTTPS://x", False),
    ("WebhookUrl", "xhttps://x", False),
    ("WebhookUrl", "https://\ud800", False),  # a lone surrogate: jsonschema_rs cannot take it, jsonschema answers
    ("CreateCallRequest", {"from": "\U0001F600" * 256, "to": TARGET, "timeout": 1.0, "timeLimit": 10 ** 30}, True),
    ("CreateCallRequest", {"from": "\U0001F600" * 257, "to": TARGET}, False),
    ("CreateCallRequest", {"from": "", "to": TARGET}, False),
    ("CreateCallRequest", {"from": "+1", "to": TARGET, "timeout": 0}, False),
    ("CreateCallRequest", {"from": "+1", "to": TARGET, "timeout": math.nan}, False),
    ("CreateCallRequest", {"from": "+1", "to": TARGET, "timeLimit": math.inf}, False),
    ("CreateCallRequest", {"from": "+1", "to": TARGET, "call_hook": {"url": HOOK}, "tag": {}, "amd": {}}, True),
    ("CreateCallRequest", {"from": "+1", "to": TARGET, "call_hook": False}, False),
    ("CreateCallRequest", {"from": "+1", "to": TARGET, "application_sid": "not-a-uuid"}, False),
    ("CreateCallRequest", {"from": "+1", "to": "+2"}, False),
    ("CreateCallRequest", {"from": "+1", "to": TARGET, "\ud800": 1}, True),  # a key Rust cannot take
    ("CreateCallRequest", {"from": "+1", "to": TARGET, 7: 1}, True),  # a non-string key: no JSON, same answer
    ("CreateCallRequest", [], False),
    ("CreateCallResponse", {"sid": 5}, False),
    ("CreateCallResponse", {}, False),
    ("Error", {"msg": 1}, False),
    ("Error", "plain text", False),
]


@pytest.mark.parametrize("component,instance,valid", EXPLICIT, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(EXPLICIT)])
def test_both_validators_answer_as_the_contract_says(component, instance, valid):
    assert REFERENCE[component].is_valid(instance) is valid
    assert fast_answer(instance, component) is valid


def _property_names(node: Any) -> set[str]:
    if isinstance(node, dict):
        names = set(node["properties"]) if isinstance(node.get("properties"), dict) else set()
        return names.union(*map(_property_names, node.values()))
    return set().union(*map(_property_names, node)) if isinstance(node, list) else set()


KEYS = sorted(_property_names(SPEC["components"]["schemas"]))
TEXT = st.text(st.one_of(st.characters(), st.sampled_from("\ud800\udfff\ufffd\x7f\x00 ")), max_size=12)
STRINGS = st.one_of(
    TEXT, st.sampled_from(["", "phone", "sip", "user", "teams", "PHONE", "GET", "post", "PUT", "inbound",
                           "ringing", "queued", UUID, UUID.upper(), "+" + UUID[1:], HOOK, "wss://x", "HTTP://x",
                           "https://", "https:// x", "ftp://x", "https://\ud800"]),
    st.builds(lambda n, c: c * n, st.sampled_from([0, 1, 255, 256, 257, 2040, 2041, 2048, 2049]),
              st.sampled_from(["a", "\U0001F600", "\ud800"])),
    st.builds(lambda s: "https://" + s, TEXT), _uuid_like(),
)
SCALARS = st.one_of(
    STRINGS, st.none(), st.booleans(), st.integers(), st.sampled_from([0, 1, 99, 100, 699, 700, 2 ** 63, 2 ** 64, -2 ** 63 - 1]),
    st.floats(), st.sampled_from([0.0, -0.0, 1.0, 1.5, 100.0, 699.0, 699.5, 1e308]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(st.one_of(st.sampled_from(KEYS), TEXT), inner, max_size=3)),
                      max_leaves=8)


@st.composite
def near(draw: Any, base: Any) -> Any:
    """`base` with a few fields set (to any value), added or removed, at any depth: valid or just not."""
    instance = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        node, parent, key = instance, None, None
        while isinstance(node, (dict, list)) and node and draw(st.booleans()):
            parent, key = node, draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
            node = node[key]
        if isinstance(node, dict) and draw(st.booleans()):
            field = draw(st.one_of(st.sampled_from(KEYS), TEXT))
            if field in node and draw(st.booleans()):
                del node[field]
            else:
                node[field] = draw(VALUES)
        elif parent is None and isinstance(node, str) and draw(st.booleans()):
            instance = node[:draw(st.integers(0, len(node)))] + draw(TEXT)  # cut, and something appended
        elif parent is None:
            instance = draw(VALUES)
        else:
            parent[key] = draw(VALUES)
    return instance


@pytest.mark.parametrize("component", COMPONENTS)
def test_both_validators_agree_near_every_component(component):
    answers = []

    @settings(800)
    @hypothesis.given(instance=near(BASES[component]))
    def agree(instance):
        expected = REFERENCE[component].is_valid(instance)
        assert fast_answer(instance, component) == expected
        answers.append(expected)

    agree()
    assert True in answers and False in answers  # both sides of the schema were met


# --- no invalid create goes out valid -----------------------------------------------------------------

INVALID_CREATES = schemathesis.openapi.from_dict(copy.deepcopy(SPEC))
INVALID_CREATES.config.update(base_url="https://api.example.net/v1")
INVALID_CREATES.config.generation.update(modes=[GenerationMode.NEGATIVE], max_examples=300, deterministic=True,
                                         database="none")
INVALID_CREATES.config.phases.update(phases=["coverage", "fuzzing"])  # as the suite's invalid-create test
INVALID_CREATES.config.cache.enabled = False
# Each generated case is prepared for one of these runs in turn: an external one that may still name the
# destination, one whose generated calls are spent (no `to`), the embedded reference (always a destination).
RUN_KINDS = itertools.cycle(["external", "spent", "embedded"])
SENT: list[Any] = []  # the bodies prepared to be sent, for the count below


def _a_run(kind: str) -> Any:
    run = _run(embedded=kind == "embedded")
    if kind == "spent":
        run.budget.count("property")
    return run


@INVALID_CREATES.include(operation_id="createCall").parametrize()
@hypothesis.settings(suppress_health_check=list(hypothesis.HealthCheck), deadline=None)
def test_no_invalid_create_goes_out_valid(case):
    """Every body of an invalid create, as prepare_case leaves it to be sent, is invalid for the reference."""
    original = copy.deepcopy(case.body)
    if isinstance(original, dict):
        assert fast_answer(original, "CreateCallRequest") == REFERENCE["CreateCallRequest"].is_valid(original)
    safe_creates.prepare_case(case, _a_run(next(RUN_KINDS)))  # rejects what it cannot send safely
    if isinstance(case.body, NotSet):
        return  # no body: nothing is created
    SENT.append(case.body)
    assert not REFERENCE["CreateCallRequest"].is_valid(case.body), case.body


def test_many_invalid_creates_were_checked():
    """The test above (run first: file order) saw a good number of bodies go out."""
    if not SENT:
        pytest.skip("counts what test_no_invalid_create_goes_out_valid sent: run it too")
    assert len(SENT) >= 200, len(SENT)
