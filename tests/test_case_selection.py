"""The coverage-phase cases a run sends: the first of each kind of defect and place, the optional fields of a create
as one place, the defects the scenario tests probe left to them, and every case with --coverage-cases all."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from conformance.deployment.config import ConfigError, resolve
from conformance.runner.case_selection import CoverageSelection, decides_the_call


def coverage_case(scenario: str, parameter: str | None, location: str | None, description: str = "",
                  operation: str = "createCall", body: object = None) -> SimpleNamespace:
    """A stand-in for a Schemathesis case of the coverage phase (what the selection reads of one)."""
    data = SimpleNamespace(scenario=SimpleNamespace(value=scenario), parameter=parameter, location=location,
                           description=description)
    meta = SimpleNamespace(phase=SimpleNamespace(data=data), generation=SimpleNamespace(mode=SimpleNamespace(value="negative")))
    method = description.rsplit(" ", 1)[-1] if scenario == "unspecified_http_method" else "POST"
    return SimpleNamespace(meta=meta, operation=SimpleNamespace(definition=SimpleNamespace(raw={"operationId": operation})),
                           method=method, path_parameters={}, query=None, headers=None,
                           body={"case": location} if body is None else body, media_type=None)


def sent(selection: CoverageSelection, cases: list[SimpleNamespace]) -> list[int]:
    return [index for index, case in enumerate(cases) if selection.admits(case)]


def test_the_forms_of_one_defect_at_one_place_are_sent_once():
    wrong_types = [coverage_case("incorrect_type", "application/json", "/properties/from/type", body={"from": value})
                   for value in (1, True, None, [], {})]
    selection = CoverageSelection()
    assert sent(selection, wrong_types) == [0]
    assert selection.dropped == 4
    assert selection.admits(wrong_types[0])  # Hypothesis replays a failing example: the same case goes again


def test_each_place_that_decides_the_call_is_a_place_of_its_own():
    cases = [coverage_case("string_below_min_length", "application/json", f"/properties/to/properties/{name}/minLength")
             for name in ("number", "sipUri", "name")]
    cases.append(coverage_case("string_below_min_length", "application/json", "/properties/from/minLength"))
    assert sent(CoverageSelection(), cases) == [0, 1, 2, 3]


def test_the_optional_fields_of_a_create_are_one_place_per_kind_of_defect():
    cases = [
        coverage_case("invalid_pattern", "application/json", "/properties/call_hook/anyOf/1/properties/url/pattern"),
        coverage_case("invalid_pattern", "application/json",
                      "/properties/sipRequestWithinDialogHook/anyOf/1/properties/url/pattern"),
        coverage_case("incorrect_type", "application/json", "/properties/to/properties/trunk/type"),
        coverage_case("incorrect_type", "application/json", "/properties/tag/type"),
    ]
    assert sent(CoverageSelection(), cases) == [0, 2]


def test_methods_the_contract_does_not_offer_are_one_place_per_operation():
    cases = [coverage_case("unspecified_http_method", None, None, f"Unspecified HTTP method: {method}", operation)
             for operation in ("listCalls", "getCall") for method in ("TRACE", "PUT", "PATCH")]
    assert sent(CoverageSelection(), cases) == [0, 3]


def test_defects_the_scenario_tests_probe_are_left_to_them():
    cases = [coverage_case("incorrect_type", "account_sid", "/type", operation="getCall"),
             coverage_case("invalid_format", "call_sid", "/format", operation="getCall"),
             coverage_case("missing_parameter", "Authorization", None, "Missing `Authorization` at header"),
             coverage_case("missing_parameter", None, None, "Missing request body")]
    assert sent(CoverageSelection(), cases) == [3]


def test_all_coverage_cases_are_sent_when_asked():
    cases = [coverage_case("incorrect_type", "application/json", "/properties/from/type", body={"from": v})
             for v in (1, True)] + [coverage_case("incorrect_type", "account_sid", "/type")]
    assert sent(CoverageSelection(every=True), cases) == [0, 1, 2]


def test_a_case_of_another_phase_is_always_sent():
    case = coverage_case("incorrect_type", "application/json", "/properties/from/type")
    case.meta.phase.data = SimpleNamespace()  # fuzzing and stateful phases have no scenario
    selection = CoverageSelection()
    assert selection.admits(case) and selection.admits(case)


@pytest.mark.parametrize("chain, decides", [
    (("from",), True), (("to",), True), (("to", "type"), True), (("to", "number"), True), (("to", "sipUri"), True),
    (("to", "trunk"), False), (("to", "auth", "username"), False), (("tag",), False), (("call_hook", "url"), False),
])
def test_the_fields_that_decide_the_call_are_read_from_the_contract(chain, decides):
    assert decides_the_call(chain) is decides


def test_coverage_cases_takes_distinct_or_all():
    assert resolve({}).coverage_cases == "distinct"
    assert resolve({"coverage_cases": "ALL"}).coverage_cases == "all"
    with pytest.raises(ConfigError, match="^--coverage-cases 'some': expected distinct or all$"):
        resolve({"coverage_cases": "some"})
