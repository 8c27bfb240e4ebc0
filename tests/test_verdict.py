"""The verdict: how evidence per requirement becomes CONFORMANT, NOT CONFORMANT or INCOMPLETE."""

import json

from conformance.contract.catalogue import Requirement
from conformance.judgement.checks import Probes
from conformance.judgement.ledger import Failure, Ledger
from conformance.judgement.verdict import (CONFORMANT, INCOMPLETE, NOT_CONFORMANT, build_verdict, decide, exit_code_for,
                                           write_verdict)
from conformance.reports.terminal import counts_line, skipped_lines, spans
from conformance.reports.terminal import requirement_lines as summary_lines


def req(rid, level="MUST", testable=True):
    return Requirement(rid, level, "get", ("getCall",), f"title of {rid}", "decision", "q", None, testable,
                       None if testable else "cannot be observed")


def ledger_with(*requirements):
    ledger = Ledger({r.id: r for r in requirements})
    ledger.collected([r.id for r in requirements if r.testable], selected=True)
    return ledger


def test_all_passed_is_conformant():
    ledger = ledger_with(req("CALLS-A"), req("CALLS-B", "SHOULD"), req("CALLS-C", testable=False))
    ledger.passed("t1", ["CALLS-A", "CALLS-B"])
    assert decide(ledger, strict=False)[0] == CONFORMANT


def test_a_failed_must_is_not_conformant_even_if_another_test_passed_it():
    ledger = ledger_with(req("CALLS-A"))
    ledger.passed("t1", ["CALLS-A"])
    ledger.failed("CALLS-A", Failure("t2", "CF101", "boom", "curl ..."))
    answer, rows = decide(ledger, strict=False)
    assert answer == NOT_CONFORMANT
    assert rows[0]["status"] == "failed" and rows[0]["failures"][0]["reproduce"] == "curl ..."


def test_a_failed_should_is_a_warning_unless_strict():
    ledger = ledger_with(req("CALLS-A"), req("CALLS-B", "SHOULD"))
    ledger.passed("t1", ["CALLS-A"])
    ledger.failed("CALLS-B", Failure("t2", "CF101", "201 expected"))
    assert decide(ledger, strict=False)[0] == CONFORMANT
    assert decide(ledger, strict=True)[0] == NOT_CONFORMANT


def test_a_requirement_not_run_makes_the_run_incomplete():
    ledger = ledger_with(req("CALLS-A"), req("CALLS-B"))
    ledger.passed("t1", ["CALLS-A"])
    ledger.not_run("t2", ["CALLS-B"], "creating calls is disabled")
    answer, rows = decide(ledger, strict=False)
    assert answer == INCOMPLETE
    assert rows[1]["reasons"] == ["creating calls is disabled"]
    assert exit_code_for(answer, accept_incomplete=False) == 6
    assert exit_code_for(answer, accept_incomplete=True) == 0


def test_deselected_requirements_are_reported_but_do_not_make_the_run_incomplete():
    ledger = Ledger({"CALLS-A": req("CALLS-A"), "CALLS-W": req("CALLS-W")})
    ledger.collected(["CALLS-A"], selected=True)
    ledger.collected(["CALLS-W"], selected=False)
    ledger.passed("t1", ["CALLS-A"])
    answer, rows = decide(ledger, strict=False)
    assert answer == CONFORMANT
    assert rows[1]["status"] == "not-selected"


def test_a_requirement_no_test_checks_makes_the_run_incomplete():
    ledger = Ledger({"CALLS-A": req("CALLS-A")})
    answer, rows = decide(ledger, strict=False)
    assert answer == INCOMPLETE and rows[0]["reasons"] == ["no test checks it"]


def test_verdict_json_names_the_failing_requirement_and_summary_ends_with_the_answer(tmp_path):
    ledger = ledger_with(req("CALLS-A"), req("CALLS-B", "SHOULD"))
    ledger.failed("CALLS-A", Failure("test_x", "CF106", "a 3-byte body, expected none"))
    ledger.failed("CALLS-B", Failure("test_y", "CF101", "answered 200, expected 201"))
    verdict = build_verdict(ledger, strict=False, accept_incomplete=False, target={"base_url": "http://x/v1"},
                            spec_version="1.0.0", started=0.0, stats={})
    path = write_verdict(verdict, tmp_path)
    data = json.loads(path.read_text())
    assert data["verdict"] == NOT_CONFORMANT and data["exit_code"] == 1
    assert data["failed_requirements"] == ["CALLS-A"] and data["warnings"] == ["CALLS-B"]
    lines = summary_lines(data)
    assert lines[-1].startswith("VERDICT: NOT CONFORMANT")
    assert any(line.startswith("FAIL") and "CALLS-A" in line and "CF106" in line for line in lines)
    assert any(line.startswith("WARN") and "CALLS-B" in line for line in lines)


def test_a_failed_advisory_requirement_is_advice_and_never_decides_the_verdict_not_even_strict():
    ledger = ledger_with(req("CALLS-A"), req("CALLS-H", "ADVISORY"))
    ledger.passed("t1", ["CALLS-A"])
    ledger.failed("CALLS-H", Failure("t2", "CF108", "a 300-character from was accepted"))
    for strict in (False, True):
        verdict = build_verdict(ledger, strict=strict, accept_incomplete=False, target={}, spec_version="1",
                                started=0.0, stats={})
        assert verdict["verdict"] == CONFORMANT and verdict["exit_code"] == 0
        assert verdict["advisories"] == ["CALLS-H"] and verdict["warnings"] == [] == verdict["failed_requirements"]
        assert any(line.startswith("ADVICE") and "CALLS-H" in line for line in summary_lines(verdict))


def test_an_advisory_requirement_not_run_does_not_make_the_run_incomplete():
    ledger = ledger_with(req("CALLS-A"), req("CALLS-H", "ADVISORY"))
    ledger.passed("t1", ["CALLS-A"])
    ledger.not_run("t2", ["CALLS-H"], "no --allow-create")
    assert decide(ledger, strict=False)[0] == CONFORMANT


def test_a_narrowed_run_says_how_many_requirements_it_covers():
    ledger = Ledger({r.id: r for r in (req("CALLS-A"), req("CALLS-B"), req("CALLS-C"), req("CALLS-U", testable=False))})
    ledger.collected(["CALLS-A"], selected=True)
    ledger.collected(["CALLS-B", "CALLS-C"], selected=False)
    ledger.passed("t1", ["CALLS-A"])
    verdict = build_verdict(ledger, strict=False, accept_incomplete=False, target={}, spec_version="1",
                            started=0.0, stats={})
    assert verdict["coverage"] == {"selected": 1, "total": 3}
    assert summary_lines(verdict)[-1] == "VERDICT: CONFORMANT on the 1 of 3 requirements selected (exit code 0)"


def test_a_full_run_says_nothing_of_coverage():
    ledger = ledger_with(req("CALLS-A"))
    ledger.passed("t1", ["CALLS-A"])
    verdict = build_verdict(ledger, strict=False, accept_incomplete=False, target={}, spec_version="1",
                            started=0.0, stats={})
    assert summary_lines(verdict)[-1] == "VERDICT: CONFORMANT (exit code 0)"


def test_the_same_defect_seen_by_many_tests_is_one_failure_with_its_count_and_first_places(tmp_path):
    ledger = ledger_with(req("CALLS-A"))
    for number in range(5):
        ledger.failed("CALLS-A", Failure(f"suite.py::test_{number}", "CF104", f"list {number}, item {number + 1} "
                                         "of 9 {}: 'call_sid' is a required property at $[0] (required)",
                                         observed=f"GET http://x/v1/Accounts/8314ce10-d397-4c60-a623-2995d177816a"
                                                  f"/Calls -> 200 OK", key="empty item"))
    ledger.failed("CALLS-A", Failure("suite.py::test_9", "CF104", "another defect"))
    verdict = build_verdict(ledger, strict=False, accept_incomplete=False, target={}, spec_version="1",
                            started=0.0, stats={})
    data = json.loads(write_verdict(verdict, tmp_path).read_text())
    [row] = data["requirements"]
    assert [(f["test"], f["count"]) for f in row["failures"]] == [("suite.py::test_0", 5), ("suite.py::test_9", 1)]
    assert row["failures"][0]["places"] == [f"GET /v1/Accounts/8314ce10…/Calls (test_{n})" for n in range(3)]
    assert row["failures"][0]["seen_by"] == [f"suite.py::test_{n}" for n in range(5)]
    assert row["tests"] == [f"suite.py::test_{n}" for n in (0, 1, 2, 3, 4, 9)]
    assert any("(seen in 5 answers)" in line for line in summary_lines(data))


def test_failures_without_a_key_are_the_same_defect_only_when_their_messages_are_equal():
    ledger = ledger_with(req("CALLS-A"))
    ledger.failed("CALLS-A", Failure("t1", "CF101", "answered 200, expected 404"))
    ledger.failed("CALLS-A", Failure("t2", "CF101", "answered 200, expected 404"))
    ledger.failed("CALLS-A", Failure("t3", "CF101", "answered 201, expected 404"))
    ledger.failed("CALLS-A", Failure("t4", "CF108", "answered 200, expected 404"))
    assert [(f.test, f.count) for f in ledger.evidence["CALLS-A"].failures] == [("t1", 2), ("t3", 1), ("t4", 1)]


# --- what each answer rests on: probes ------------------------------------------------------------

NEEDS_CREATE = "creating calls is disabled on an external target: pass --allow-create and --from-number"


def _verdict(ledger, strict=False):
    return build_verdict(ledger, strict=strict, accept_incomplete=False, target={}, spec_version="1", started=0.0,
                         stats={})


def _row(verdict, rid):
    return next(row for row in verdict["requirements"] if row["id"] == rid)


def test_a_requirement_whose_probes_were_all_unsent_is_not_run_though_a_test_of_it_passed():
    """A test that counts its probes and sent none of a requirement's (an invalid-create test that drew no
    mistyped body) gives that requirement no evidence: NOT RUN with the real reason, never PASS."""
    ledger = ledger_with(req("CALLS-INVALID"), req("CALLS-MISTYPED", "SHOULD"))
    ledger.probed("generated", {"CALLS-INVALID": Probes(sent=5, judged=5), "CALLS-MISTYPED": Probes()}, {})
    ledger.passed("generated", ["CALLS-INVALID", "CALLS-MISTYPED"])
    ledger.not_run("from-as-number", ["CALLS-MISTYPED"], NEEDS_CREATE)
    verdict = _verdict(ledger)
    row = _row(verdict, "CALLS-MISTYPED")
    assert row["status"] == "not-run" and row["reasons"] == [NEEDS_CREATE]
    assert row["evidence"]["probes"] == {"planned": 1, "sent": 0, "judged": 0}
    assert verdict["verdict"] == INCOMPLETE


def test_a_requirement_judged_on_part_of_its_probes_passes_with_its_coverage_shown():
    ledger = ledger_with(req("CALLS-INVALID"))
    ledger.passed("empty-body", ["CALLS-INVALID"])
    ledger.passed("json-string", ["CALLS-INVALID"])
    for body in range(10):
        ledger.not_run(f"body-{body}", ["CALLS-INVALID"], NEEDS_CREATE)
    verdict = _verdict(ledger)
    evidence = _row(verdict, "CALLS-INVALID")["evidence"]
    assert _row(verdict, "CALLS-INVALID")["status"] == "passed" and evidence["partial"]
    assert evidence["summary"] == "on 2 of 12 probes: 10 need --allow-create"
    assert evidence["unsent"] == [{"count": 10, "reason": "need --allow-create"}]
    assert verdict["partial"] == 1
    lines = summary_lines(verdict)
    assert any(line.startswith("PASS") and line.endswith("CALLS-INVALID  on 2 of 12 probes: 10 need --allow-create")
               for line in lines)
    assert lines[-1] == "VERDICT: CONFORMANT, 1 passed on partial evidence (exit code 0)"


def test_a_failure_stays_a_failure_whatever_the_coverage():
    ledger = ledger_with(req("CALLS-INVALID"))
    ledger.failed("CALLS-INVALID", Failure("empty-body", "CF108", "answered 201"))
    for body in range(10):
        ledger.not_run(f"body-{body}", ["CALLS-INVALID"], NEEDS_CREATE)
    verdict = _verdict(ledger)
    assert _row(verdict, "CALLS-INVALID")["status"] == "failed" and verdict["verdict"] == NOT_CONFORMANT


def test_a_failed_requirement_carries_no_reason_for_not_being_judged():
    """What another test left unjudged ("the test stopped at ...") is no reason on a row that failed."""
    ledger = ledger_with(req("CALLS-A"), req("CALLS-B"))
    ledger.failed("CALLS-A", Failure("t1", "CF101", "answered 200, expected 204"))
    ledger.not_run("t2", ["CALLS-A"], "not judged: the test stopped at CALLS-B")
    assert _row(_verdict(ledger), "CALLS-A")["reasons"] == []


def test_complete_evidence_has_no_summary_and_counts_the_calls_it_rests_on():
    ledger = ledger_with(req("CALLS-A"))
    ledger.probed("t1", {}, {"CALLS-A": {"made": True, "seen": False}})
    ledger.passed("t1", ["CALLS-A"])
    evidence = _row(_verdict(ledger), "CALLS-A")["evidence"]
    assert evidence["summary"] == "" and not evidence["partial"]
    assert evidence["calls"] == {"created": 1, "observed": 1, "sids": ["made", "seen"]}


# --- the counts and the colours of the terminal summary ------------------------------------------


def _four_failures(strict):
    ledger = ledger_with(req("CALLS-A"), req("CALLS-B"), req("CALLS-S", "SHOULD"), req("CALLS-H", "ADVISORY"),
                         req("CALLS-N"), req("CALLS-U", testable=False))
    ledger.failed("CALLS-A", Failure("t1", "CF101", "answered 200, expected 201"))
    ledger.passed("t2", ["CALLS-B"])
    ledger.failed("CALLS-S", Failure("t3", "CF101", "answered 200, expected 201"))
    ledger.failed("CALLS-H", Failure("t4", "CF108", "a 300-character from was accepted"))
    ledger.not_run("t5", ["CALLS-N"], "no --allow-create")
    return build_verdict(ledger, strict=strict, accept_incomplete=False, target={}, spec_version="1",
                         started=0.0, stats={})


def test_the_counts_line_counts_requirements_in_the_verdicts_words_as_verdict_json_does():
    verdict = _four_failures(strict=False)
    assert counts_line(verdict) == "6 requirements: 1 PASS, 1 FAIL, 1 WARN, 1 ADVICE, 1 NOT RUN, 1 UNTESTABLE"
    words = verdict["counts_by_word"]
    assert words["FAIL"] == len(verdict["failed_requirements"]) and words["WARN"] == len(verdict["warnings"])
    assert words["ADVICE"] == len(verdict["advisories"]) and sum(words.values()) == len(verdict["requirements"])
    strict = _four_failures(strict=True)
    assert counts_line(strict) == "6 requirements: 1 PASS, 2 FAIL, 1 ADVICE, 1 NOT RUN, 1 UNTESTABLE"
    assert summary_lines(strict)[-2:] == [counts_line(strict), "VERDICT: NOT CONFORMANT (exit code 1)"]


def test_the_counts_line_says_requirement_for_one():
    ledger = ledger_with(req("CALLS-A"))
    ledger.passed("t1", ["CALLS-A"])
    verdict = build_verdict(ledger, strict=False, accept_incomplete=False, target={}, spec_version="1",
                            started=0.0, stats={})
    assert counts_line(verdict) == "1 requirement: 1 PASS, 0 FAIL"


def test_only_the_outcome_words_the_counts_and_the_verdict_are_coloured():
    assert spans("FAIL         MUST     CALLS-A  t1: [CF101] answered 200") == [
        ("FAIL", "red"), ("         MUST     CALLS-A  t1: [CF101] answered 200", None)]
    assert spans("NOT RUN      MUST     CALLS-N  no --allow-create")[0] == ("NOT RUN", "yellow")
    assert spans("6 requirements: 1 PASS, 0 FAIL, 1 WARN") == [
        ("6 requirements: ", None), ("1 PASS", "green"), (", 0 FAIL, ", None), ("1 WARN", "yellow")]
    assert spans("VERDICT: NOT CONFORMANT (exit code 1)") == [("VERDICT: NOT CONFORMANT (exit code 1)", "red")]
    assert spans("VERDICT: CONFORMANT-WITH-WAIVERS (exit code 0)")[0][1] == "green"
    assert spans("verdict written to reports/verdict.json") == [("verdict written to reports/verdict.json", None)]


def test_skipped_tests_are_one_line_per_reason_with_their_number():
    reasons = ["pass --allow-create (env CALLS_API_ALLOW_CREATE)"] * 3 + ["no second account"]
    assert skipped_lines(reasons) == ["SKIPPED 3 tests: pass --allow-create (env CALLS_API_ALLOW_CREATE)",
                                      "SKIPPED 1 test: no second account"]
