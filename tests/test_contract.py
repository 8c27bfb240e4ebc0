"""The contract (openapi.yaml), the requirement catalogue and the decision record agree with each other."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import schemathesis
import yaml
from openapi_spec_validator import validate as validate_openapi
from openapi_spec_validator.validation import OpenAPIV31SpecValidator
from schemathesis.core.failures import FailureGroup
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conformance.contract.catalogue import CATALOGUE_PATH, LEVELS, SOURCE_KINDS, load_catalogue
from conformance.contract.openapi import load_spec, spec_path

ROOT = Path(__file__).resolve().parent.parent
DECISIONS = ROOT / "docs" / "spec-decisions.md"

OPERATIONS = {
    "listCalls": ("/Accounts/{account_sid}/Calls", "get"),
    "createCall": ("/Accounts/{account_sid}/Calls", "post"),
    "getCall": ("/Accounts/{account_sid}/Calls/{call_sid}", "get"),
    "deleteCall": ("/Accounts/{account_sid}/Calls/{call_sid}", "delete"),
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
REQUIRED_COMPONENTS = {"Call", "CallList", "CreateCallRequest", "CreateCallResponse", "Target", "Error"}
ACCOUNT_SID = "5f8e8f60-4771-44cb-92a6-94ea66df0450"
CALL_SID = "e1577b29-3609-4d83-9ddd-8bd7f965b53c"
RESPONSE_CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


# --- building blocks -----------------------------------------------------------------------------


def _spec() -> dict[str, Any]:
    return load_spec()


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (responses, parameters...) to the object it names."""
    while isinstance(node, dict) and "$ref" in node and len(node) == 1:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _validator(spec: dict[str, Any], schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """A 2020-12 validator for a schema of the contract; `#/components/...` references resolve against it."""
    root = copy.deepcopy(schema)
    root["components"] = spec["components"]
    cls = jsonschema.Draft202012Validator
    return cls(root, format_checker=cls.FORMAT_CHECKER)


def _media_examples(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, value) for every example of every request and response media type."""
    for _, _, operation in _operations(spec):
        label = operation["operationId"]
        body = operation.get("requestBody")
        if body:
            for media_type, media in _resolve(spec, body).get("content", {}).items():
                yield from _examples_of(f"{label} request {media_type}", media)
        for status, response in operation.get("responses", {}).items():
            for media_type, media in _resolve(spec, response).get("content", {}).items():
                yield from _examples_of(f"{label} {status} {media_type}", media)


def _examples_of(where: str, media: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    if "example" in media:
        yield where, media["schema"], media["example"]
    for name, example in media.get("examples", {}).items():
        yield f"{where} example {name}", media["schema"], example["value"]


def _decision_ids() -> list[str]:
    return re.findall(r"^## (D-\d+): \S", DECISIONS.read_text(encoding="utf-8"), flags=re.MULTILINE)


def _schemathesis_schema() -> Any:
    return schemathesis.openapi.from_path(str(spec_path()))


def _response(method: str, url: str, status: int, headers: dict[str, str], body: bytes) -> Response:
    request = requests.Request(method, url).prepare()
    return Response(
        status_code=status,
        headers={name.lower(): [value] for name, value in headers.items()},
        content=body,
        request=request,
        elapsed=0.01,
        message="",
        encoding="utf-8",
        http_version="1.1",
        verify=True,
    )


def _response_check_failures(operation_id: str, status: int, headers: dict[str, str], body: bytes) -> list[str]:
    """Names of the Schemathesis response checks a given answer to the operation fails."""
    schema = _schemathesis_schema()
    path, method = OPERATIONS[operation_id]
    operation = schema[path][method.upper()]
    parameters = {"account_sid": ACCOUNT_SID}
    if "{call_sid}" in path:
        parameters["call_sid"] = CALL_SID
    case = operation.Case(path_parameters=parameters)
    url = "https://api.example.net/v1" + path.format(**parameters)
    try:
        case.validate_response(_response(method.upper(), url, status, headers, body), checks=RESPONSE_CHECKS)
    except FailureGroup as group:
        return sorted(type(failure).__name__ for failure in group.exceptions)
    return []


# --- the contract --------------------------------------------------------------------------------


def test_contract_is_a_valid_openapi_3_1_document() -> None:
    spec = _spec()
    assert spec["openapi"] == "3.1.0"
    validate_openapi(spec, cls=OpenAPIV31SpecValidator)


def test_contract_has_exactly_the_four_operations_of_the_document() -> None:
    spec = _spec()
    found = {operation["operationId"]: (path, method) for path, method, operation in _operations(spec)}
    assert found == OPERATIONS
    assert [server["url"] for server in spec["servers"]] == ["https://api.example.net/v1"]
    assert spec["info"]["version"] == "1.0.0"


def test_contract_names_the_component_schemas_other_code_uses() -> None:
    assert REQUIRED_COMPONENTS <= set(_spec()["components"]["schemas"])


def test_every_operation_requires_the_bearer_token() -> None:
    spec = _spec()
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert spec["security"] == [{"bearerAuth": []}]
    for _, _, operation in _operations(spec):
        assert "security" not in operation, f"{operation['operationId']} overrides the global security"


def test_error_responses_declare_no_content_and_no_server_error_is_documented() -> None:
    spec = _spec()
    for _, _, operation in _operations(spec):
        for status, response in operation["responses"].items():
            assert status != "default", f"{operation['operationId']} documents a default response"
            assert not status.startswith("5"), f"{operation['operationId']} documents {status}"
            if not status.startswith("2"):
                assert "content" not in _resolve(spec, response), f"{operation['operationId']} {status} has content"


def test_every_documented_4xx_is_covered_for_every_operation() -> None:
    spec = _spec()
    for _, _, operation in _operations(spec):
        statuses = set(operation["responses"])
        assert {"400", "401", "403", "404", "429", "4XX"} <= statuses, operation["operationId"]


@pytest.mark.parametrize(
    ("where", "schema", "value"),
    [pytest.param(where, schema, value, id=where) for where, schema, value in _media_examples(load_spec())],
)
def test_every_example_validates_against_its_schema(where: str, schema: dict[str, Any], value: Any) -> None:
    errors = sorted(_validator(_spec(), schema).iter_errors(value), key=lambda error: list(error.absolute_path))
    assert not errors, f"{where}: " + "; ".join(error.message for error in errors)


def test_the_document_examples_are_all_present() -> None:
    found = {where.split(" example ")[0] for where, _, _ in _media_examples(_spec())}
    assert {
        "listCalls 200 application/json",
        "getCall 200 application/json",
        "createCall request application/json",
        "createCall 201 application/json",
    } <= found


def test_call_objects_may_carry_extra_fields_but_never_nulls() -> None:
    spec = _spec()
    validator = _validator(spec, {"$ref": "#/components/schemas/Call"})
    call = {
        "call_sid": CALL_SID,
        "account_sid": ACCOUNT_SID,
        "call_status": "in-progress",
        "direction": "outbound",
        "from": "84899199628",
        "to": "84376120177",
        "sip_reason": "OK",
        "trace_id": "0123456789abcdef",
    }
    assert validator.is_valid(call)
    assert not validator.is_valid({**call, "caller_name": None})
    assert not validator.is_valid({**call, "sip_status": "200"})
    assert not validator.is_valid({key: value for key, value in call.items() if key != "call_sid"})


def test_create_body_requires_the_address_its_target_type_needs() -> None:
    spec = _spec()
    validator = _validator(spec, {"$ref": "#/components/schemas/CreateCallRequest"})
    body = {"from": "+84899199628", "to": {"type": "phone", "number": "+84376120177"}, "unknown": 1}
    assert validator.is_valid(body)
    assert validator.is_valid({"from": "1", "to": {"type": "sip", "sipUri": "sip:alice@example.com"}})
    assert validator.is_valid({"from": "1", "to": {"type": "user", "name": "alice@example.com"}})
    assert not validator.is_valid({"from": "1", "to": {"type": "sip", "number": "1"}})
    assert not validator.is_valid({"from": "1", "to": {"type": "fax", "number": "1"}})
    assert not validator.is_valid({"from": "", "to": {"type": "phone", "number": "1"}})
    assert not validator.is_valid({"to": {"type": "phone", "number": "1"}})


def test_schemathesis_loads_the_contract_and_builds_a_state_machine() -> None:
    schema = _schemathesis_schema()
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert len(labels) == 4
    machine = schema.as_state_machine()
    explicit = {
        (link.status_code, link.target.label)
        for link in machine._transitions.operations["POST /Accounts/{account_sid}/Calls"].outgoing
        if not link.is_inferred
    }
    assert ("201", "GET /Accounts/{account_sid}/Calls/{call_sid}") in explicit
    assert ("201", "DELETE /Accounts/{account_sid}/Calls/{call_sid}") in explicit


def test_created_call_links_take_the_sid_from_the_body_and_the_account_from_the_request() -> None:
    links = _spec()["components"]["links"]
    for name, operation_id in (("GetCreatedCall", "getCall"), ("DeleteCreatedCall", "deleteCall")):
        assert links[name]["operationId"] == operation_id
        assert links[name]["parameters"] == {
            "account_sid": "$request.path.account_sid",
            "call_sid": "$response.body#/sid",
        }


JSON = {"Content-Type": "application/json"}
CONFORMANT_ANSWERS = [
    ("getCall", 404, {"Content-Type": "text/plain; charset=utf-8"}, b"Not Found", "404-text"),
    ("getCall", 401, {"WWW-Authenticate": 'Bearer realm="Users"'}, b"Unauthorized", "401-no-type"),
    ("listCalls", 404, {"Content-Type": "text/html"}, b"<html><body>x</body></html>", "404-html"),
    ("deleteCall", 403, JSON, b'{"msg":"insufficient permissions"}', "403-json"),
    ("createCall", 400, JSON, b'{"msg":"missing from parameter"}', "400-json"),
    ("createCall", 480, JSON, b'{"msg":"no available feature servers"}', "480-json"),
    ("createCall", 413, {}, b"", "413-empty"),
    ("listCalls", 405, {"Allow": "GET, POST"}, b"", "405-empty"),
    ("getCall", 429, {"Retry-After": "30"}, b"Too Many Requests", "429-retry-after"),
    ("deleteCall", 204, {}, b"", "delete-204"),
    ("createCall", 201, JSON, b'{"sid":"%s","callId":"x"}' % CALL_SID.encode(), "create-201"),
    ("createCall", 200, JSON, b'{"sid":"%s"}' % CALL_SID.encode(), "create-200"),
    ("listCalls", 200, {"Content-Type": "application/json; charset=utf-8"}, b"[]", "list-empty"),
]
NON_CONFORMANT_ANSWERS = [
    ("getCall", 500, {}, b"", ["UndefinedStatusCode"], "500"),
    ("getCall", 200, {"Content-Type": "text/plain"}, b"x", ["UndefinedContentType"], "200-text"),
    ("createCall", 201, JSON, b'{"id":"x"}', ["JsonSchemaError"], "201-no-sid"),
    ("deleteCall", 200, {}, b"", ["UndefinedStatusCode"], "delete-200"),
]


@pytest.mark.parametrize(
    ("operation_id", "status", "headers", "body"),
    [pytest.param(*answer[:-1], id=answer[-1]) for answer in CONFORMANT_ANSWERS],
)
def test_conformant_answers_pass_schemathesis_response_checks(
    operation_id: str, status: int, headers: dict[str, str], body: bytes
) -> None:
    assert _response_check_failures(operation_id, status, headers, body) == []


@pytest.mark.parametrize(
    ("operation_id", "status", "headers", "body", "expected"),
    [pytest.param(*answer[:-1], id=answer[-1]) for answer in NON_CONFORMANT_ANSWERS],
)
def test_non_conformant_answers_fail_schemathesis_response_checks(
    operation_id: str, status: int, headers: dict[str, str], body: bytes, expected: list[str]
) -> None:
    assert _response_check_failures(operation_id, status, headers, body) == expected


def test_every_decision_cited_by_the_contract_exists() -> None:
    cited = set(re.findall(r"\bD-\d+\b", spec_path().read_text(encoding="utf-8")))
    assert cited <= set(_decision_ids())


# --- the decision record -------------------------------------------------------------------------


def test_decisions_are_numbered_in_order_and_complete() -> None:
    ids = _decision_ids()
    assert ids == [f"D-{number}" for number in range(1, len(ids) + 1)]
    sections = re.split(r"^## D-\d+: .*$", DECISIONS.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]
    for decision, section in zip(ids, sections, strict=True):
        for part in ("**Context.**", "**Decision.**", "**Reason.**", "**What the suite does.**"):
            assert part in section, f"{decision} lacks {part}"


# --- the catalogue -------------------------------------------------------------------------------


def test_requirement_ids_are_unique_and_well_formed() -> None:
    raw = yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))["requirements"]
    ids = [entry["id"] for entry in raw]
    assert len(ids) == len(set(ids)), "duplicate requirement ids"
    for requirement_id in ids:
        assert re.fullmatch(r"CALLS(-[A-Z0-9]+)+", requirement_id), requirement_id
    assert list(load_catalogue()) == ids


def test_requirement_levels_and_source_kinds_are_known() -> None:
    for requirement in load_catalogue().values():
        assert requirement.level in LEVELS, requirement.id
        assert requirement.source_kind in SOURCE_KINDS, requirement.id
        assert requirement.source_quote.strip(), requirement.id
        assert requirement.title.strip(), requirement.id
        assert requirement.area.strip(), requirement.id


def test_requirement_operations_exist_in_the_contract() -> None:
    known = {operation["operationId"] for _, _, operation in _operations(_spec())}
    for requirement in load_catalogue().values():
        assert requirement.operations, requirement.id
        for operation in requirement.operations:
            assert operation == "*" or operation in known, f"{requirement.id}: unknown operation {operation}"


def test_decision_sources_name_an_existing_decision() -> None:
    decisions = set(_decision_ids())
    for requirement in load_catalogue().values():
        if requirement.source_kind == "decision":
            assert requirement.source_ref, f"{requirement.id} is a decision without a ref"
        if requirement.source_ref is not None:
            assert requirement.source_ref in decisions, f"{requirement.id}: no heading {requirement.source_ref}"


def test_untestable_requirements_say_why() -> None:
    for requirement in load_catalogue().values():
        if not requirement.testable:
            assert requirement.untestable_reason, requirement.id
        else:
            assert requirement.untestable_reason is None, requirement.id


def test_catalogue_is_loaded_once_and_returned_in_file_order() -> None:
    first, second = load_catalogue(), load_catalogue()
    assert first == second and first is not second
    assert next(iter(first)) == "CALLS-LIST-200"
