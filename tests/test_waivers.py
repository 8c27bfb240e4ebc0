"""Waivers: which failures a waiver file covers, and what that does to the verdict (on verdict dicts)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from conformance.judgement import waivers
from conformance.reports.terminal import waiver_lines
from conformance.contract.catalogue import load_catalogue
from gate_helpers import TEST, make_verdict

TODAY = datetime.date(2026, 6, 1)
IDS = list(load_catalogue())


def waiver_file(tmp_path: Path, *entries: str) -> Path:
    path = tmp_path / "waivers.toml"
    path.write_text("\n".join(f"[[waiver]]\n{e}" for e in entries), encoding="utf-8")
    return path


def entry(requirement="CALLS-DELETE-204", expires="2026-12-31", **more: object) -> str:
    lines = [f'requirement = "{requirement}"', 'reason = "deletes answer 200"',
             'reference = "https://tracker.example.net/T-1"', f"expires = {expires}"]
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in more.items()]
    return "\n".join(lines) + "\n"


def applied(tmp_path: Path, verdict: dict, *entries: str, name: str = "eu-prod", base_url: str = "https://eu.example.net/v1",
            fail_on_stale: bool = False, today: datetime.date = TODAY) -> dict:
    found = waivers.Waivers.for_target(waiver_file(tmp_path, *entries), IDS, name, base_url, today)
    return waivers.apply(verdict, found, accept_incomplete=False, fail_on_stale=fail_on_stale)


DELETE_FAILS = {"CALLS-DELETE-204": [("CF101", TEST)]}


def test_a_waived_must_failure_makes_the_run_conformant_with_waivers_exit_0(tmp_path):
    result = applied(tmp_path, make_verdict(DELETE_FAILS), entry())
    row = next(r for r in result["requirements"] if r["id"] == "CALLS-DELETE-204")
    assert row["status"] == "waived"
    assert row["waiver"]["reference"] == "https://tracker.example.net/T-1" and row["waiver"]["expires"] == "2026-12-31"
    assert result["verdict"] == "CONFORMANT-WITH-WAIVERS" and result["exit_code"] == 0
    assert result["failed_requirements"] == [] and result["counts"]["waived"] == 1 and result["counts"]["failed"] == 0
    assert result["waivers"]["applied"] == ["CALLS-DELETE-204"]
    assert any(line.startswith("CONFORMANT WITH WAIVERS") for line in waiver_lines(result))


def test_a_waived_should_warning_alone_is_conformant_with_waivers(tmp_path):
    result = applied(tmp_path, make_verdict({"CALLS-CREATE-201": [("CF101", "t")]}), entry("CALLS-CREATE-201"))
    assert result["verdict"] == "CONFORMANT-WITH-WAIVERS" and result["warnings"] == []


def test_a_waiver_narrowed_to_a_check_does_not_hide_another_failure_of_the_requirement(tmp_path):
    verdict = make_verdict({"CALLS-DELETE-204": [("CF101", TEST), ("CF104", "conformance/suite/test_x.py::test_y")]})
    result = applied(tmp_path, verdict, entry(check="CF101"))
    assert result["verdict"] == "NOT CONFORMANT" and result["exit_code"] == 1
    assert next(r for r in result["requirements"] if r["id"] == "CALLS-DELETE-204")["status"] == "failed"


def test_a_waiver_narrowed_to_a_check_covers_that_check(tmp_path):
    by_code = applied(tmp_path, make_verdict(DELETE_FAILS), entry(check="CF101"))
    assert by_code["verdict"] == "CONFORMANT-WITH-WAIVERS"
    by_test = applied(tmp_path, make_verdict(DELETE_FAILS), entry(check="test_delete_of_an_ended_call"))
    assert by_test["verdict"] == "CONFORMANT-WITH-WAIVERS"
    other_test = applied(tmp_path, make_verdict(DELETE_FAILS), entry(check="test_something_else"))
    assert other_test["verdict"] == "NOT CONFORMANT"


@pytest.mark.parametrize("targets, covered", [
    (["eu-prod"], True), (["us-*"], False), (["https://*.example.net/*"], True), (["https://us.example.net/*"], False),
    (["us-prod", "eu-*"], True),
])
def test_a_waiver_narrowed_to_targets_covers_only_those_profiles_or_base_urls(tmp_path, targets, covered):
    result = applied(tmp_path, make_verdict(DELETE_FAILS), entry(targets=targets))
    assert (result["verdict"] == "CONFORMANT-WITH-WAIVERS") is covered


def test_an_expired_waiver_lets_the_failure_count_and_says_when_it_expired(tmp_path):
    result = applied(tmp_path, make_verdict(DELETE_FAILS), entry(expires="2026-05-31"))
    assert result["verdict"] == "NOT CONFORMANT" and result["exit_code"] == 1
    row = next(r for r in result["requirements"] if r["id"] == "CALLS-DELETE-204")
    assert row["status"] == "failed" and row["waiver_expired"]["expires"] == "2026-05-31"
    assert any("expired on 2026-05-31" in line for line in waiver_lines(result))


def test_a_waiver_expires_on_its_date(tmp_path):
    on_the_day = applied(tmp_path, make_verdict(DELETE_FAILS), entry(expires="2026-06-01"))
    day_before = applied(tmp_path, make_verdict(DELETE_FAILS), entry(expires="2026-06-02"))
    assert on_the_day["verdict"] == "NOT CONFORMANT" and day_before["verdict"] == "CONFORMANT-WITH-WAIVERS"


def test_a_waiver_of_a_passing_requirement_is_stale_and_says_remove_it(tmp_path):
    result = applied(tmp_path, make_verdict(), entry())
    assert result["verdict"] == "CONFORMANT" and result["exit_code"] == 0
    assert [w["requirement"] for w in result["waivers"]["stale"]] == ["CALLS-DELETE-204"]
    assert any("STALE WAIVER" in line and "remove it" in line for line in waiver_lines(result))


def test_a_waiver_whose_check_no_failure_matches_is_stale(tmp_path):
    verdict = make_verdict({"CALLS-DELETE-204": [("CF104", TEST)]})
    result = applied(tmp_path, verdict, entry(check="CF101"))
    assert result["verdict"] == "NOT CONFORMANT"
    assert [w["check"] for w in result["waivers"]["stale"]] == ["CF101"]


def test_a_waiver_of_a_requirement_not_run_is_not_stale(tmp_path):
    result = applied(tmp_path, make_verdict(not_run=("CALLS-DELETE-204",)), entry())
    assert result["waivers"]["stale"] == [] and len(result["waivers"]["unused"]) == 1
    assert result["verdict"] == "INCOMPLETE"


def test_stale_waivers_fail_the_run_with_the_option(tmp_path):
    result = applied(tmp_path, make_verdict(), entry(), fail_on_stale=True)
    assert result["exit_code"] == waivers.EXIT_STALE_WAIVERS == 9
    assert result["waivers"]["stale_failed_the_run"] is True
    assert any("--fail-on-stale-waivers" in line for line in waiver_lines(result))


def test_stale_waivers_do_not_change_a_failing_exit_code(tmp_path):
    verdict = make_verdict({"CALLS-GET-200": [("CF101", "t")]})
    assert applied(tmp_path, verdict, entry(), fail_on_stale=True)["exit_code"] == 1


def test_waivers_never_pass_a_target_failure(tmp_path):
    failure = {"stage": "run", "kind": "stopped-answering", "message": "the target stopped answering", "requests_sent": 9}
    verdict = make_verdict(DELETE_FAILS, target_failure=failure)
    verdict.update(verdict="NOT CONFORMANT", exit_code=1)
    result = applied(tmp_path, verdict, entry())
    assert result["verdict"] == "NOT CONFORMANT" and result["exit_code"] == 1
    target_failed = make_verdict(DELETE_FAILS, target_failure=failure)
    target_failed.update(verdict="TARGET FAILED", exit_code=8)
    result = applied(tmp_path, target_failed, entry())
    assert result["verdict"] == "TARGET FAILED" and result["exit_code"] == 8


def test_waivers_never_cover_requirements_not_run(tmp_path):
    verdict = make_verdict(DELETE_FAILS, not_run=("CALLS-DELETE-EMPTY-BODY",))
    result = applied(tmp_path, verdict, entry(), entry("CALLS-DELETE-EMPTY-BODY"))
    assert result["verdict"] == "INCOMPLETE" and result["exit_code"] == 6


@pytest.mark.parametrize("text, message", [
    (entry("CALLS-NO-SUCH-THING"), "unknown requirement id 'CALLS-NO-SUCH-THING'"),
    (entry(expires='"2026-13-01"'), "expires must be a date YYYY-MM-DD"),
    (entry(expires='"next week"'), "expires must be a date YYYY-MM-DD"),
    (entry().replace('reason = "deletes answer 200"\n', ""), "missing key 'reason'"),
    (entry(owner="me"), "unknown key 'owner'"),
    (entry(targets="eu-prod"), "targets must be a list"),
    (entry("CALLS-ISOLATION-DELETE"), "cannot be waived: the suite's safety"),
    (entry("CALLS-CREATE-REJECT-NO-CALL"), "cannot be waived"),
])
def test_a_bad_waiver_is_one_line_naming_the_problem(tmp_path, text, message):
    with pytest.raises(waivers.WaiverError) as raised:
        waivers.load(waiver_file(tmp_path, text), IDS)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_waiver_file_that_is_not_toml_or_missing_is_one_line(tmp_path):
    bad = tmp_path / "w.toml"
    bad.write_text("[[waiver]\n", encoding="utf-8")
    with pytest.raises(waivers.WaiverError, match="not valid TOML"):
        waivers.load(bad, IDS)
    with pytest.raises(waivers.WaiverError, match="not found"):
        waivers.load(tmp_path / "absent.toml", IDS)


def test_the_example_waiver_file_is_valid():
    example = Path(__file__).resolve().parent.parent / "fixtures" / "waivers" / "example.toml"
    assert waivers.load(example, IDS)


def test_a_test_is_waived_only_when_every_violation_is_covered(tmp_path):
    found = waivers.Waivers.for_target(waiver_file(tmp_path, entry(check="CF101")), IDS, "", "", TODAY)
    assert found.test_outcome(TEST, [("CALLS-DELETE-204", "CF101")]) == \
        "WAIVED: deletes answer 200 (https://tracker.example.net/T-1)"
    assert found.test_outcome(TEST, [("CALLS-DELETE-204", "CF101"), ("CALLS-CONTRACT-STATUS", "ST202")]) is None
    assert found.test_outcome(TEST, [("CALLS-DELETE-204", "CF104")]) is None


def test_a_defect_seen_by_two_tests_is_one_failure_waived_only_when_the_waiver_covers_both(tmp_path):
    other = "conformance/suite/test_bad_input.py::test_delete_of_an_unknown_call_answers_404"
    seen_twice = {"CALLS-DELETE-204": [("CF101", TEST), ("CF101", other)]}
    [failure] = next(r for r in make_verdict(seen_twice)["requirements"] if r["id"] == "CALLS-DELETE-204")["failures"]
    assert (failure["count"], failure["seen_by"]) == (2, [TEST, other])
    narrowed = applied(tmp_path, make_verdict(seen_twice), entry(check="test_delete_of_an_ended_call"))
    assert narrowed["verdict"] == "NOT CONFORMANT"
    assert applied(tmp_path, make_verdict(seen_twice), entry())["verdict"] == "CONFORMANT-WITH-WAIVERS"
