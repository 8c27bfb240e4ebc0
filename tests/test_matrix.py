"""The fleet matrix from verdicts: cells, the fleet's exit code, the Markdown and HTML files, combined results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.reports import matrix
from conformance.runner.fleet import fleet_note
from gate_helpers import TEST, make_verdict


def write_run(root: Path, name: str, verdict: dict | None, results: list[dict] | None = None) -> Path:
    where = root / name
    where.mkdir(parents=True)
    if verdict is not None:
        verdict.setdefault("target", {})["name"] = name
        (where / "verdict.json").write_text(json.dumps(verdict), encoding="utf-8")
    for i, result in enumerate(results or []):
        (where / "allure-results").mkdir(exist_ok=True)
        (where / "allure-results" / f"{name}-{i}-result.json").write_text(json.dumps(result), encoding="utf-8")
    return where


def word(table: dict, rid: str, target: str) -> str:
    row = next(r for r in table["requirements"] if r["id"] == rid)
    return next(c["word"] for c in row["cells"] if c["target"] == target)


@pytest.mark.parametrize("codes, worst", [
    ([0, 0], 0), ([0, 6], 6), ([6, 1], 1), ([1, 9], 1), ([0, 9, 6], 9), ([1, 8], 8), ([8, 7], 7), ([7, 4], 4),
    ([4, 3, 2], 3), ([5, 0], 5), ([0, 42], 42),
])
def test_the_fleet_exits_with_the_worst_exit_code_of_its_targets(codes, worst):
    assert matrix.worst_exit_code(codes) == worst


def test_each_cell_says_what_became_of_the_requirement_on_that_target(tmp_path):
    waived = make_verdict({"CALLS-DELETE-204": [("CF101", TEST)]})
    row = next(r for r in waived["requirements"] if r["id"] == "CALLS-DELETE-204")
    row.update(status="waived", waiver={"reason": "known", "reference": "T-1", "expires": "2099-01-01"})
    failed = make_verdict({"CALLS-DELETE-204": [("CF101", TEST)], "CALLS-CREATE-201": [("CF101", "t")]},
                          not_run=("CALLS-GET-200",))
    stopped = make_verdict(target_failure={"stage": "run", "kind": "stopped-answering",
                                           "message": "the target stopped answering", "requests_sent": 4},
                           not_run=("CALLS-LIST-200",))
    stopped.update(verdict="TARGET FAILED", exit_code=8)
    dirs = [write_run(tmp_path, "eu", failed), write_run(tmp_path, "us", waived), write_run(tmp_path, "ap", stopped),
            write_run(tmp_path, "za", None)]
    runs = [matrix.read_run(d) for d in dirs]
    runs[3].exit_code = 7
    table = matrix.write(runs, tmp_path / "out")
    assert word(table, "CALLS-DELETE-204", "eu") == "FAIL" and word(table, "CALLS-DELETE-204", "us") == "WAIVED"
    assert word(table, "CALLS-CREATE-201", "eu") == "WARN" and word(table, "CALLS-GET-200", "eu") == "NOT RUN"
    assert word(table, "CALLS-LIST-200", "ap") == "TARGET FAILED" and word(table, "CALLS-GET-200", "ap") == "PASS"
    assert word(table, "CALLS-DELETE-NO-HANGUP", "eu") == "UNTESTABLE"
    assert {word(table, "CALLS-GET-200", "za"), word(table, "CALLS-LIST-200", "za")} == {"TARGET FAILED"}
    assert table["exit_code"] == 7
    eu_cell = next(c for c in next(r for r in table["requirements"] if r["id"] == "CALLS-DELETE-204")["cells"]
                   if c["target"] == "eu")
    assert eu_cell["why"].startswith("[CF101]")


def test_the_markdown_and_html_matrix_show_every_target_and_requirement(tmp_path):
    hostile = make_verdict({"CALLS-DELETE-204": [("CF101", TEST)]})
    hostile["requirements"][0]["failures"] = [{"test": "t", "code": "CF101", "message": "<script>alert(1)</script> | x"}]
    hostile["requirements"][0]["status"] = "failed"
    dirs = [write_run(tmp_path, "eu-prod", make_verdict()), write_run(tmp_path, "us<prod>", hostile)]
    table = matrix.write([matrix.read_run(d) for d in dirs], tmp_path / "out")
    md = (tmp_path / "out" / "matrix.md").read_text(encoding="utf-8")
    page = (tmp_path / "out" / "matrix.html").read_text(encoding="utf-8")
    assert "| requirement | level | eu-prod | us&lt;prod> |" in md
    assert "| CALLS-DELETE-204 | MUST | PASS | FAIL: [CF101]" in md
    assert "\\| x" in md and "<script>" not in md
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page.split("<body>")[0]
    assert 'data-target="eu-prod"' in page and 'data-target="us&lt;prod&gt;"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<tr id=") == len(table["requirements"])
    assert "Fleet exit code: **1**" in md


def test_combined_results_carry_their_target_and_stay_apart(tmp_path):
    result = {"uuid": "u", "historyId": "h", "testCaseId": "c", "status": "passed",
              "labels": [{"name": "parentSuite", "value": "conformance.suite"}, {"name": "suite", "value": "test_x"}],
              "parameters": [{"name": "case", "value": "1"}]}
    dirs = [write_run(tmp_path, n, make_verdict(), [dict(result, uuid=f"u-{n}")]) for n in ("eu", "us")]
    matrix.write([matrix.read_run(d) for d in dirs], tmp_path / "out")
    combined = [json.loads(p.read_text()) for p in sorted((tmp_path / "out" / "allure-results").glob("*-result.json"))]
    assert len(combined) == 2
    for one, name in zip(combined, ("eu", "us")):
        labels = {(lb["name"], lb["value"]) for lb in one["labels"]}
        assert ("target", name) in labels and ("parentSuite", name) in labels and ("suite", "test_x") in labels
        assert {"name": "target", "value": name} in one["parameters"] and {"name": "case", "value": "1"} in one["parameters"]
    assert combined[0]["historyId"] != combined[1]["historyId"]
    env = (tmp_path / "out" / "allure-results" / "environment.properties").read_text()
    assert "target.eu=CONFORMANT (exit code 0)" in env


def test_merge_finds_runs_in_a_directory_of_downloaded_artifacts(tmp_path):
    write_run(tmp_path / "artifacts", "reports-eu", make_verdict())
    write_run(tmp_path / "artifacts", "reports-us", make_verdict())
    assert [p.name for p in matrix.find_run_dirs([tmp_path / "artifacts"])] == ["reports-eu", "reports-us"]


def test_two_runs_of_the_same_name_get_their_own_columns(tmp_path):
    dirs = [write_run(tmp_path / "a", "prod", make_verdict()), write_run(tmp_path / "b", "prod", make_verdict())]
    table = matrix.write([matrix.read_run(d) for d in dirs], tmp_path / "out")
    assert [t["name"] for t in table["targets"]] == ["prod", "prod-2"]


def test_the_terminal_matrix_keeps_two_spaces_between_its_aligned_columns(tmp_path):
    failed = make_verdict({"CALLS-DELETE-204": [("CF101", TEST)]}, not_run=("CALLS-GET-200",))
    dirs = [write_run(tmp_path, "a", make_verdict()), write_run(tmp_path, "b", failed), write_run(tmp_path, "c", None)]
    runs = [matrix.read_run(d) for d in dirs]
    runs[2].exit_code = 8
    lines = matrix.terminal_lines(matrix.build(runs))
    head = lines[0]
    starts = [head.index(word) for word in ("level", " a ", " b ", " c")]
    table = [line for line in lines[2:] if line.startswith("CALLS-")]
    longest = max(table, key=lambda line: len(line.split()[0]))
    assert len(longest.split()[0]) + 2 <= starts[0]  # the longest id stays apart from its level
    for line in table:
        cells = [line[at + 1:].split("  ")[0].strip() for at in starts[1:]]
        assert all(cell in matrix.WORDS for cell in cells), line
    delete = next(line for line in table if line.startswith("CALLS-DELETE-204 "))
    assert "PASS  " in delete and "FAIL  " in delete and delete.endswith("TARGET FAILED")


def test_a_target_without_a_verdict_says_why_once_not_in_each_cell(tmp_path):
    run = matrix.read_run(write_run(tmp_path, "eu", None), exit_code=4)
    run.note = "its profile eu.toml gives no token"
    table = matrix.write([matrix.read_run(write_run(tmp_path, "us", make_verdict())), run], tmp_path / "out")
    assert {c["why"] for r in table["requirements"] for c in r["cells"] if c["target"] == "eu"} == {""}
    assert table["targets"][1]["note"] == "its profile eu.toml gives no token"
    page = (tmp_path / "out" / "matrix.html").read_text(encoding="utf-8")
    assert page.count("gives no token") == 1
    assert (tmp_path / "out" / "matrix.md").read_text(encoding="utf-8").count("gives no token") == 1
    assert matrix.terminal_lines(table).count("  its profile eu.toml gives no token") == 1


def test_a_fleet_target_refused_for_want_of_a_token_is_told_to_put_a_token_file_in_its_profile(tmp_path):
    profile = tmp_path / "eu.toml"
    profile.write_text('base-url = "https://api.example.net/v1"\naccount-sid = "x"\n', encoding="utf-8")
    note = fleet_note(profile, 4, "calls-conformance: an external target needs --account-sid and a token "
                                  "(--token-file or CALLS_API_TOKEN)")
    assert "gives no token" in note and 'token-file = "' in note and str(profile) in note
    assert "CALLS_API_TOKEN " not in note and "--token-file" not in note
    assert fleet_note(profile, 8, "stopped") == "stopped"  # not a refused setting: the run's own last line
