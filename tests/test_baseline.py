"""The comparison with a baseline verdict, requirement by requirement, and the regressions gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.judgement import baseline
from conformance.reports.terminal import baseline_lines
from gate_helpers import TEST, make_verdict

OTHER_TEST = "conformance/suite/test_bad_input.py::test_delete_of_an_unknown_call_answers_404"


def compared(before: dict, now: dict, tmp_path: Path, gate: str = "regressions") -> dict:
    path = tmp_path / "verdict.json"
    path.write_text(json.dumps(before), encoding="utf-8")
    return baseline.apply(now, baseline.load(tmp_path), gate)


def change_of(result: dict, rid: str) -> str | None:
    return next((t["change"] for t in result["baseline"]["transitions"] if t["id"] == rid), None)


def test_a_newly_failing_must_is_a_regression_and_fails_the_gate(tmp_path):
    result = compared(make_verdict(), make_verdict({"CALLS-DELETE-204": [("CF101", TEST)]}), tmp_path)
    assert change_of(result, "CALLS-DELETE-204") == "newly failing"
    assert result["baseline"]["regressions"] == ["CALLS-DELETE-204"] and result["exit_code"] == 1
    assert any(line.strip().startswith("REGRESSION") for line in baseline_lines(result))


def test_a_still_failing_requirement_passes_the_regressions_gate(tmp_path):
    fails = {"CALLS-DELETE-204": [("CF101", TEST)]}
    result = compared(make_verdict(fails), make_verdict(fails), tmp_path)
    assert change_of(result, "CALLS-DELETE-204") == "still failing"
    assert result["verdict"] == "NOT CONFORMANT" and result["exit_code"] == 0


def test_the_verdict_gate_keeps_the_verdict_exit_code(tmp_path):
    fails = {"CALLS-DELETE-204": [("CF101", TEST)]}
    result = compared(make_verdict(fails), make_verdict(fails), tmp_path, gate="verdict")
    assert result["exit_code"] == 1 and result["baseline"]["regressions"] == []


def test_a_failure_for_another_reason_is_reported_as_changed(tmp_path):
    result = compared(make_verdict({"CALLS-DELETE-204": [("CF101", TEST)]}),
                      make_verdict({"CALLS-DELETE-204": [("CF106", OTHER_TEST)]}), tmp_path)
    assert change_of(result, "CALLS-DELETE-204") == "failure changed"
    transition = result["baseline"]["transitions"][0]
    assert transition["codes_before"] == ["CF101"] and transition["codes_after"] == ["CF106"]
    assert result["exit_code"] == 0


def test_a_requirement_that_passes_again_is_newly_passing(tmp_path):
    result = compared(make_verdict({"CALLS-DELETE-204": [("CF101", TEST)]}), make_verdict(), tmp_path)
    assert change_of(result, "CALLS-DELETE-204") == "newly passing" and result["exit_code"] == 0


def test_a_must_newly_not_run_fails_the_gate_and_a_should_does_not(tmp_path):
    result = compared(make_verdict(), make_verdict(not_run=("CALLS-DELETE-204",)), tmp_path)
    assert change_of(result, "CALLS-DELETE-204") == "newly not run" and result["exit_code"] == 1
    result = compared(make_verdict(), make_verdict(not_run=("CALLS-CREATE-201",)), tmp_path)
    assert change_of(result, "CALLS-CREATE-201") == "newly not run"
    assert result["baseline"]["regressions"] == [] and result["exit_code"] == 0


def test_a_newly_failing_should_is_listed_but_does_not_fail_the_gate(tmp_path):
    result = compared(make_verdict(), make_verdict({"CALLS-CREATE-201": [("CF101", "t")]}), tmp_path)
    assert change_of(result, "CALLS-CREATE-201") == "newly failing" and result["exit_code"] == 0


def test_a_lapsed_waiver_is_a_new_failure(tmp_path):
    before = make_verdict({"CALLS-DELETE-204": [("CF101", TEST)]})
    next(r for r in before["requirements"] if r["id"] == "CALLS-DELETE-204")["status"] = "waived"
    before["failed_requirements"] = []
    result = compared(before, make_verdict({"CALLS-DELETE-204": [("CF101", TEST)]}), tmp_path)
    assert change_of(result, "CALLS-DELETE-204") == "newly failing" and result["exit_code"] == 1


def test_a_baseline_of_another_version_is_explained_and_its_extra_requirements_are_not_regressions(tmp_path):
    before = make_verdict(suite_version="0.0.1", spec_version="0.9")
    before["requirements"] = [r for r in before["requirements"] if r["id"] != "CALLS-METHOD-UNSUPPORTED"]
    before["requirements"].append({"id": "CALLS-OLD-THING", "level": "MUST", "status": "passed", "failures": []})
    now = make_verdict({"CALLS-METHOD-UNSUPPORTED": [("CF101", "t")]})
    result = compared(before, now, tmp_path)
    info = result["baseline"]
    assert info["comparable"] is False
    assert any(m.startswith("suite_version") for m in info["mismatches"])
    assert any(m.startswith("spec_version") for m in info["mismatches"])
    assert info["added_requirements"] == ["CALLS-METHOD-UNSUPPORTED"] and info["removed_requirements"] == ["CALLS-OLD-THING"]
    assert info["regressions"] == [] and result["exit_code"] == 0
    text = "\n".join(baseline_lines(result))
    assert "added      CALLS-METHOD-UNSUPPORTED" in text and "removed    CALLS-OLD-THING" in text


def test_the_gate_never_turns_a_target_failure_into_a_pass(tmp_path):
    now = make_verdict(target_failure={"stage": "run", "kind": "run-budget", "message": "m", "requests_sent": 3})
    now.update(verdict="TARGET FAILED", exit_code=8)
    assert compared(make_verdict(), now, tmp_path)["exit_code"] == 8


@pytest.mark.parametrize("content, message", [
    (None, "baseline not found"), ("{not json", "not valid JSON"), ('{"verdict": "CONFORMANT"}', "not a verdict.json"),
])
def test_an_unreadable_baseline_is_one_line(tmp_path, content, message):
    path = tmp_path / "verdict.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(baseline.BaselineError, match=message):
        baseline.load(tmp_path)


def test_the_baseline_shows_in_the_report(tmp_path):
    from conformance.reports.report_page import report_page

    result = compared(make_verdict(), make_verdict({"CALLS-DELETE-204": [("CF101", TEST)]}), tmp_path)
    page = report_page(result)
    assert "Against the baseline" in page and "newly failing" in page


def test_the_regressions_gate_needs_a_baseline_and_a_known_gate_value():
    from conformance.deployment.config import ConfigError, resolve

    with pytest.raises(ConfigError, match="--gate regressions needs --baseline"):
        resolve({"gate": "regressions"}, environ={})
    with pytest.raises(ConfigError, match="expected verdict or regressions"):
        resolve({"gate": "everything"}, environ={})
    assert resolve({}, environ={"CALLS_API_GATE": "regressions", "CALLS_API_BASELINE": "b.json"}).gate == "regressions"
