"""The benchmark scripts (bench/): statistics, process and report parsing, report rendering, their --help.
No timing is asserted: the numbers depend on the machine."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def _load(name: str):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


run = _load("run")
tables = _load("tables")
process = _load("process")
suite_run = _load("suite_run")
measurements = _load("measurements")
report = _load("report")
breakdown = _load("profile_breakdown")


def test_summarize_gives_median_and_spread_and_ignores_missing_values() -> None:
    summary = tables.summarize([3.0, None, 1.0, 10.0])
    assert (summary.median, summary.low, summary.high, summary.count) == (3.0, 1.0, 10.0, 3)
    assert summary.spread == 9.0
    assert tables.summarize([2.0, 4.0]).median == 3.0
    assert tables.summarize([]) is None
    assert tables.summarize([None]) is None


def test_cells_show_median_and_range() -> None:
    summary = tables.summarize([12.34, 10.0, 15.0])
    assert tables.median_cell(summary, "s") == "12.3 s"
    assert tables.spread_cell(summary) == "10.0 – 15.0"
    assert tables.spread_cell(tables.summarize([7.0])) == "7.0"
    assert tables.spread_cell(tables.summarize([7.01, 7.02])) == "7.0"  # same when rounded: one value
    assert tables.median_cell(None) == "–" and tables.spread_cell(None) == "–"
    assert tables.median_cell(tables.summarize([4.0]), "", 0) == "4"


def test_ratio_and_target_verdict() -> None:
    assert tables.ratio(9.0, 10.0) == pytest.approx(0.9)
    assert tables.ratio(None, 10.0) is None and tables.ratio(1.0, 0) is None
    assert tables.verdict_of(0.95, lambda v: v >= 0.9) == "met"
    assert tables.verdict_of(0.5, lambda v: v >= 0.9) == "NOT met"
    assert tables.verdict_of(None, lambda v: True) == "–"


def test_markdown_table_escapes_pipes() -> None:
    table = tables.markdown_table(["a", "b"], [["x|y", 1], ["z", "two\nlines"]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1 |", "| z | two lines |"]


def _stats(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _write_junit(path: Path) -> Path:
    statistics = ("x::test_create:\n\n  - during generate phase (3.04 seconds):\n"
                  "    - 25 passing, 0 failing, and 131 invalid test cases\n")
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="s" tests="3"><properties>'
        f'<property name="hypothesis-statistics-conformance/suite/test_properties.py::test_create" value="{_stats(statistics)}"/>'
        '<property name="other" value="1"/></properties>'
        '<testcase classname="conformance.suite.test_auth" name="a" time="0.25"/>'
        '<testcase classname="conformance.suite.test_auth" name="b" time="0.5"/>'
        '<testcase classname="conformance.suite.test_properties" name="test_create" time="4"/>'
        "</testsuite></testsuites>", encoding="utf-8")
    return path


def test_junit_times_are_summed_by_file_and_hypothesis_statistics_parsed(tmp_path: Path) -> None:
    junit = _write_junit(tmp_path / "junit.xml")
    assert suite_run.junit_file_times(junit) == {"test_auth.py": 0.75, "test_properties.py": 4.0}
    assert suite_run.junit_hypothesis_stats(junit) == {
        "test_create": {"passing": 25, "failing": 0, "invalid": 131, "generate_seconds": 3.04}}


def test_a_runs_reports_give_its_verdict_file_times_and_hypothesis_statistics(tmp_path: Path) -> None:
    assert suite_run.read_reports(tmp_path) == {}  # a run that wrote no report
    (tmp_path / "verdict.json").write_text(
        json.dumps({"verdict": "CONFORMANT", "duration_seconds": 12.5, "stats": {"requests_sent": 9}}), encoding="utf-8")
    _write_junit(tmp_path / "junit.xml")
    found = suite_run.read_reports(tmp_path)
    assert (found["verdict"], found["pytest_seconds"], found["suite_stats"]) == ("CONFORMANT", 12.5, {"requests_sent": 9})
    assert found["file_seconds"] == {"test_auth.py": 0.75, "test_properties.py": 4.0}
    assert found["tests_seconds"] == 4.75 and found["hypothesis"]["test_create"]["invalid"] == 131


def _suite_run(name: str, wall: float, calls: int, requests: int, **extra) -> dict:
    return {"name": name, "wall_seconds": wall, "exit_code": 0, "cpu_seconds": wall / 2, "verdict": "CONFORMANT",
            "pytest_seconds": wall - 2, "tests_seconds": wall - 5,
            "file_seconds": {"test_auth.py": 1.0, "test_lifecycle.py": wall - 6},
            "suite_stats": {"calls_created": calls, "requests_sent": requests - 10},
            "server": {"requests": requests, "calls_stored": calls, "creates_accepted": calls, "request_span_seconds": wall - 3,
                       "by_method": {"GET": requests}, "by_agent": {"calls-api-conformance": requests}},
            "hypothesis": {"test_create": {"passing": 25, "failing": 0, "invalid": 75, "generate_seconds": 1.5}},
            **extra}


def _quota_run(name: str, wall: float, requests: int, refused: int, waited: float, quota: str | None,
               source: str | None) -> dict:
    run_ = _suite_run(name, wall, 6, requests)
    run_["server"]["by_status"] = {"200": requests - refused, **({"429": refused} if refused else {})}
    run_["suite_stats"]["pacing"] = {"quota": quota, "source": source, "waited_seconds": waited, "answers_429": refused}
    return run_


MACHINE = {"date": "2026-11-26 21:00 UTC", "cores": 2, "platform": "Linux", "machine": "x86_64",
           "python": "3.11.7", "versions": {"schemathesis": "4.32.5", "hypothesis": "6.170.17",
                                            "pytest": "9.2.0", "uvicorn": "0.54.0", "requests": "2.34.2"}}


def test_report_renders_every_section_with_targets() -> None:
    results = {
        "machine": MACHINE,
        "runs": 3, "quick": False, "examples": 25, "load_start": 1.5, "load_end": 2.5, "loads": [1.5, 2.0, 2.5],
        "embedded_default": [_suite_run("d", w, 113, 850) for w in (20.0, 22.0, 30.0)],
        "embedded_not_slow": [_suite_run("n", w, 112, 830) for w in (18.0, 19.0, 21.0)],
        "default_variants": {"fresh_directory": [_suite_run("f", 25.0, 113, 850)],
                             "no_bytecode_cache": [_suite_run("b", 27.0, 113, 850)]},
        "external_not_slow": [_suite_run("e", w, c, 390) for w, c in ((40.0, 4), (41.0, 4), (45.0, 5))],
        "throughput": {
            "suite_embedded": [_suite_run("pe", 10.0, 85, 450)],
            "suite_external": [_suite_run("px", 10.0, 1, 130)],
            "plain": [_suite_run("st", 9.0, 98, 450, command="st run openapi.yaml ...")],
        },
        "window": {"window_only": [_suite_run("w", 95.0, 1, 60)], "whole": [_suite_run("ww", 130.0, 5, 500)]},
        "hostile_memory": [{"peak_rss_mib": 290.0}, {"peak_rss_mib": 300.0}, {"peak_rss_mib": 310.0}],
        "rate_limited": {"announced": [_quota_run("qa", 74.0, 280, 0, 0.0, "600/5m", "announced")],
                         "unannounced": [_quota_run("qu", 75.0, 320, 2, 3.5, "600/5m", "--rate-limit")],
                         "tight": [_quota_run("qt", 48.0, 230, 0, 31.0, "100/20s", "announced")]},
        "selftest": {"expected_faults": 70, "complete": True, "faults_caught": 70, "faults": 70, "commit": "abc1234",
                     "modified": "2026-11-26 20:00 UTC"},
        "profile": {"wall_seconds": 25.0, "sampled_seconds": 24.0,
                    "breakdown": {"collection": {"imports": 1.0, "generation": 4.0}},
                    "top": [["add_coverage (schemathesis/x.py:1)", 4.5]]},
    }
    rendered = report.render_report(results)
    for heading in ("## Machine", "## Results", "## Requests per fault caught", "## Time per test file",
                    "## Property-test throughput",
                    "## Calls and requests per run", "## Hypothesis statistics", "## Profile of one default run",
                    "## How it was measured"):
        assert heading in rendered
    assert ("| default run, embedded reference (`calls-conformance --no-html`): wall time | 22.0 s | 20.0 – 30.0 | 3 "
            "| ≤ 5 s | NOT met |") in rendered
    assert "| external-style run (`-m \"not slow\"`, `--window 60`): wall time | 41.0 s | 40.0 – 45.0 | 3 | ≤ 13 s | NOT met |" in rendered
    assert "| requests per external-style run (server) | 390 | 390 | 3 | – | – |" in rendered  # no target: not a complete run
    assert "| calls created on the target per external-style run (server store) | 4 | 4 – 5 | 3 | ≤ 10 | met |" in rendered
    # 450 requests in 10 s against 450 in 9 s: 0.9 of the plain rate.
    # the target applies to the suite against the same server as the command line; embedded is informative
    assert "ratio to plain `st run` (per interleaved pair) | 0.26 | 0.26 | 1 | ≥ 1.0 | NOT met |" in rendered
    assert "ratio to plain `st run` (per interleaved pair; for information) | 0.90 | 0.90 | 1 | – | – |" in rendered
    # a window run may end 10 s (its call) + 3 s after the 60 s window; a complete run sends at most 300 requests
    assert "| window run `-m window`, `--window 60`: wall time | 95.0 s | 95.0 | 1 | ≤ 73 s | NOT met |" in rendered
    assert "|   added beyond the 60 s window | 35.0 s | 35.0 | 1 | – | – |" in rendered
    assert "|   requests per complete external run (server) | 500 | 500 | 1 | ≤ 300 | NOT met |" in rendered
    # against a quota: the requests of a complete run judged, 429s judged (none), the wait shown
    assert ("| complete run (`--window 60`), reference with a 600/5m quota announced in RateLimit-* headers: "
            "requests (server) | 280 | 280 | 1 | ≤ 300 | met |") in rendered
    assert "suite given `--rate-limit 600/5m`: requests (server) | 320 | 320 | 1 | ≤ 300 | NOT met |" in rendered
    assert "|   429 answers (server) | 0 | 0 | 1 | 0 | met |" in rendered
    assert "|   429 answers (server) | 2 | 2 | 1 | 0 | NOT met |" in rendered
    assert "the run must wait): requests (server) | 230 | 230 | 1 | – | – |" in rendered
    assert "|   time some request waited for the quota (verdict `stats.pacing.waited_seconds`) | 31.0 s | 31.0 | 1 | – | – |" in rendered
    assert "| CONFORMANT, paced to 100/20s (announced) | – | 1 | – | – |" in rendered
    assert "| CONFORMANT, paced to 600/5m (--rate-limit) | – | 1 | – | – |" in rendered
    assert "| whole run, 600/5m quota announced | 6 | 6 | 280 | 270 |" in rendered
    # the kill rate beside the requests of the complete (window) run
    assert "| faults caught by the self-test (reports/selftest.json; commit abc1234) | 70 / 70 |" in rendered
    assert "| requests per external run (this benchmark: whole run, `--window 60`; server, median) | 500 |" in rendered
    assert "| requests per fault caught | 7.1 |" in rendered
    assert "| test_lifecycle.py | 16.00 (14.00 – 24.00) |" in rendered
    assert "| default run started in an empty directory (cold Hypothesis cache): wall time | 25.0 s |" in rendered
    assert "| default run without any bytecode cache (`PYTHONDONTWRITEBYTECODE=1`, empty `PYTHONPYCACHEPREFIX`): wall time | 27.0 s |" in rendered
    assert "| embedded default | test_create | 25 | 75 | 75 % | 1.50 |" in rendered
    assert "2026-11-26 21:00 UTC" in rendered and "1.50 – 2.50" in rendered
    assert "not measured" not in rendered
    assert "2 GB list body (`-k list`, bench/hostile_memory.py): peak memory (RSS) | 300 MiB | 290 – 310 | 3 | ≤ 400 MiB | met |" in rendered


def test_report_without_optional_parts_says_the_window_was_not_measured() -> None:
    results = {"machine": {"date": "d", "cores": 2, "platform": "p", "machine": "m", "python": "3.11",
                           "versions": dict.fromkeys(("schemathesis", "hypothesis", "pytest", "uvicorn", "requests"), "1")},
               "runs": 1, "quick": True, "examples": 5, "load_start": None, "load_end": None, "loads": [],
               "embedded_default": [dict(_suite_run("d", 20.0, 113, 850), exit_code=1, verdict="NOT CONFORMANT")],
               "throughput": {}}
    rendered = report.render_report(results)
    assert "window run was not measured" in rendered
    assert "d exited 1 (NOT CONFORMANT)" in rendered
    assert "## Profile" not in rendered and "## Property-test throughput" not in rendered


def _selftest_results(selftest: dict | None, **runs) -> dict:
    return {"machine": MACHINE, "runs": 1, "quick": True, "examples": 3, "load_start": None, "load_end": None,
            "loads": [], "throughput": {}, "selftest": selftest, **runs}


def test_the_kill_rate_needs_a_complete_self_test_and_says_when_its_file_has_no_commit(tmp_path: Path) -> None:
    path = tmp_path / "selftest.json"
    assert measurements.selftest_score(path, 70) == {"expected_faults": 70, "complete": False}
    path.write_text(json.dumps({"faults_caught": 3, "faults": 3, "wall_seconds": 12.9}), encoding="utf-8")
    partial = measurements.selftest_score(path, 70)
    assert partial["complete"] is False and partial["faults"] == 3 and partial["commit"] is None
    rendered = report.render_report(_selftest_results(partial))
    assert "run `python -m pytest -m selftest` first (the one there is of a partial run: 3 of 70 faults)" in rendered
    missing = report.render_report(_selftest_results(measurements.selftest_score(tmp_path / "none.json", 70)))
    assert "run `python -m pytest -m selftest` first (there is none)" in missing

    path.write_text(json.dumps({"faults_caught": 68, "faults": 70}), encoding="utf-8")
    complete = measurements.selftest_score(path, 70)
    assert complete["complete"] is True and complete["modified"].endswith("UTC")
    # without the window run, the requests are those of the complete run against the announced quota
    rendered = report.render_report(_selftest_results(
        complete, rate_limited={"announced": [_quota_run("qa", 74.0, 272, 0, 0.0, "600/5m", "announced")]}))
    assert f"(reports/selftest.json; it records no commit; the file was written {complete['modified']}) | 68 / 70 |" in rendered
    assert "complete run against the announced 600/5m quota; server, median) | 272 |" in rendered
    assert "| requests per fault caught | 4.0 |" in rendered


def _frame(function: str, path: str, time: float, *children) -> SimpleNamespace:
    return SimpleNamespace(function=function, file_path=path, line_no=1, time=time, children=list(children))


def test_profile_breakdown_puts_time_in_phase_and_kind() -> None:
    functions = {"test_create": "test_properties.py", "life": "test_lifecycle.py"}
    root = _frame("main", "/x/conformance/runner/cli.py", 10.0,
                  _frame("_prepareconfig", "/v/_pytest/config/__init__.py", 2.0,
                         _frame("_find_and_load", "<frozen importlib._bootstrap>", 2.0)),
                  _frame("pytest_collection", "/v/_pytest/main.py", 3.0,
                         _frame("add_coverage", "/v/site-packages/schemathesis/gen.py", 3.0)),
                  _frame("pytest_runtestloop", "/v/_pytest/main.py", 5.0,
                         _frame("test_create", "/v/site-packages/schemathesis/builder.py", 3.0,
                                _frame("send", "/v/site-packages/requests/sessions.py", 1.0,
                                       _frame("recv_into", "<built-in>", 1.0))),
                         _frame("life", "/w/conformance/suite/test_lifecycle.py", 2.0,
                                _frame("sleep", "<built-in>", 2.0))))
    table = breakdown.breakdown(root, functions)
    assert table[breakdown.PHASE_STARTUP] == {breakdown.KIND_IMPORT: 2.0}
    assert table[breakdown.PHASE_COLLECTION] == {breakdown.KIND_GENERATION: 3.0}
    assert table["tests: test_properties.py"] == {breakdown.KIND_GENERATION: 2.0, breakdown.KIND_HTTP: 1.0}
    assert table["tests: test_lifecycle.py"] == {breakdown.KIND_SLEEP: 2.0}
    top = dict(breakdown.top_functions(root, 10))
    assert top["add_coverage (schemathesis/gen.py:1)"] == 3.0
    assert not any(label.startswith(("pytest_collection", "_prepareconfig")) for label in top)  # plumbing


def test_suite_functions_map_tests_to_their_files() -> None:
    names = breakdown.suite_functions()
    assert names.get("test_create_call_refuses_what_the_contract_forbids") == "test_properties.py"


def test_only_options_that_shape_the_measurements_are_recorded() -> None:
    argv = ["--runs", "5", "--json", "out.json", "--keep-workdir", "--output=x.md", "--with-window"]
    assert run.measuring_options(argv) == ["--runs", "5", "--with-window"]


def test_help_works() -> None:
    result = subprocess.run([sys.executable, str(BENCH / "run.py"), "--help"], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    for option in ("--runs", "--quick", "--with-window", "--profile", "--output"):
        assert option in result.stdout


@pytest.mark.parametrize("script", ["time_to_verdict.py", "fleet.py", "hostile_memory.py"])
def test_the_other_bench_scripts_answer_help_when_run_from_the_repository_root(script: str) -> None:
    result = subprocess.run([sys.executable, f"bench/{script}", "--help"], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "--json" in result.stdout or "--output" in result.stdout


def test_the_loads_recorded_are_those_before_every_suite_and_command_line_run() -> None:
    results = {"embedded_default": [{"load_before": 1.0}], "embedded_not_slow": [{"load_before": 2.0}],
               "default_variants": {"fresh_directory": [{"load_before": 3.0}]},
               "throughput": {"plain": [{"load_before": 4.0}]}, "external_not_slow": [{"load_before": 5.0}],
               "window": {"whole": [{"load_before": 6.0}]}, "hostile_memory": [{"peak_rss_mib": 300.0}],
               "rate_limited": {"tight": [{"load_before": 7.0}]}}
    assert sorted(r["load_before"] for r in run.measured_runs(results)) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]


def test_a_measured_run_imports_the_measured_code_first_and_none_of_the_target_settings(monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("CALLS_API_TOKEN", "secret")
    env = process.child_environment(Path("/snapshot"), {"CALLS_BENCH_COUNTS": "/tmp/counts.json"})
    assert env["PYTHONPATH"].split(os.pathsep) == ["/snapshot", str(BENCH), "/elsewhere"]
    assert "PYTHONDONTWRITEBYTECODE" not in env and "CALLS_API_TOKEN" not in env
    assert env["CALLS_BENCH_COUNTS"] == "/tmp/counts.json"


def test_a_timed_process_gives_its_exit_code_and_writes_its_output_to_the_log(tmp_path: Path) -> None:
    log = tmp_path / "output.txt"
    times = process.timed_process([sys.executable, "-c", "print('hello'); raise SystemExit(3)"], dict(os.environ),
                                  tmp_path, log)
    assert times.exit_code == 3 and times.wall > 0 and times.cpu >= 0
    assert log.read_text(encoding="utf-8").strip() == "hello"


def test_a_shown_command_names_the_program_and_hides_what_is_replaced() -> None:
    shown = process.display_command(["/venv/bin/st", "run", "-H", "Authorization: Bearer tok"], {"tok": "<token>"})
    assert shown == 'st run -H "Authorization: Bearer <token>"'


def test_an_external_style_run_passes_the_tokens_in_the_environment_not_on_the_command_line() -> None:
    accounts = [SimpleNamespace(sid="AC1", token="t1", application_sid="AP1"),
                SimpleNamespace(sid="AC2", token="t2", application_sid="AP2")]
    args, env = measurements.external_args(SimpleNamespace(base_url="http://127.0.0.1:1/v1", accounts=accounts))
    assert env == {"CALLS_API_TOKEN": "t1", "CALLS_API_OTHER_TOKEN": "t2"}
    assert "t1" not in args and "t2" not in args
    assert args[args.index("--window") + 1] == "60" and "--allow-create" in args
    # Both applications: a complete run, nothing left unjudged for want of them.
    assert args[args.index("--application-sid") + 1] == "AP1" and args[args.index("--other-application-sid") + 1] == "AP2"


def test_server_counter_counts_requests_and_created_calls() -> None:
    import requests

    from conformance.reference import ReferenceSettings

    counter_module = _load("server_counter")
    running, counter = counter_module.start_counting_reference(ReferenceSettings.fast())
    try:
        account = running.accounts[0]
        calls = f"{running.base_url}/Accounts/{account.sid}/Calls"
        headers = {"Authorization": f"Bearer {account.token}", "User-Agent": "probe/1"}
        assert requests.get(calls, headers=headers, timeout=10).status_code == 200
        body = {"from": "+15005550006", "to": {"type": "phone", "number": "+15005550001"}}
        assert requests.post(calls, json=body, headers=headers, timeout=10).status_code == 201
        assert requests.get(calls, timeout=10).status_code == 401
    finally:
        running.stop()
    counts = counter.snapshot()
    assert counts["requests"] == 3  # the server's own ready check is not counted
    assert counts["calls_stored"] == 1 and counts["creates_accepted"] == 1  # seeded calls are not counted
    assert counts["by_method"] == {"GET": 2, "POST": 1}
    assert counts["by_status"] == {"200": 1, "201": 1, "401": 1}
    assert counts["by_agent"]["probe"] == 2


fleet_bench = _load("fleet")


def _fleet_results(single_wall: float, fleet_wall: float, same: int = 8) -> dict:
    run_ = {"wall": single_wall, "cpu": 5.0, "peak_mib": 102.0, "exit": 0}
    measured = {"warm": run_, "single": run_, "fleet": {**run_, "wall": fleet_wall}, "servers_cpu": 3.0, "same": same,
                "verdict": "CONFORMANT"}
    return {"targets": 8, "parallel": 8, "examples": 25, "marker": "not slow", "date": "2026-12-03 10:00 UTC",
            "cores": 2, "python": "3.11.7", "load_before": 0.1, "load_after": 0.2, "presets": ["fast"],
            "measured": {"fast": measured}}


def test_fleet_benchmark_judges_the_wall_time_ratio_and_the_verdicts() -> None:
    met = fleet_bench.render(_fleet_results(10.0, 19.0))
    assert "| fleet wall time / single wall time | 1.90 | <= 2 | met |" in met
    assert "| 8 of 8 | all | met |" in met
    assert "| CPU floor of the fleet: (suite + servers CPU) / cores / single wall time | 0.40 |" in met
    missed = fleet_bench.render(_fleet_results(10.0, 25.0, same=7))
    assert "| 2.50 | <= 2 | not met |" in missed and "| 7 of 8 | all | not met |" in missed


def test_fleet_section_replaces_its_old_self_and_survives_the_main_benchmark(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    output.write_text("# Benchmarks\n\nmain results\n", encoding="utf-8")
    fleet_bench.write_section(fleet_bench.render(_fleet_results(10.0, 12.0)), output)
    fleet_bench.write_section(fleet_bench.render(_fleet_results(10.0, 14.0)), output)
    text = output.read_text(encoding="utf-8")
    assert text.count(fleet_bench.MARK) == 1 and "main results" in text and "| 1.40 |" in text
    kept = report.keep_fleet_section("# Benchmarks\n\nnew main results\n", output)
    assert kept.startswith("# Benchmarks\n\nnew main results") and "| 1.40 |" in kept
    report.write_report("# Benchmarks\n\nnewer main results\n", output)
    text = output.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\nnewer main results\n\n") and text.count(fleet_bench.MARK) == 1
    assert "| 1.40 |" in text


def test_time_to_verdict_section_sits_before_the_fleet_section_and_survives_the_main_benchmark(tmp_path: Path) -> None:
    ttv = _load("time_to_verdict")
    output = tmp_path / "benchmarks.md"
    output.write_text("# Benchmarks\n\nmain results\n", encoding="utf-8")
    fleet_bench.write_section(fleet_bench.render(_fleet_results(10.0, 12.0)), output)
    runs = {"external-not-slow": [{"wall_seconds": 13.0, "server": {"requests": 600}, "suite_stats": {"calls_created": 4},
                                   "verdict": "INCOMPLETE"}]}
    table = tables.markdown_table(["run", "wall", "goal", "met", "requests", "calls", "verdict"], ttv.rows(runs))
    assert "| external-not-slow | 13.0 | ≤ 13 s | yes | 600 | 4 | INCOMPLETE |" in table
    window = ttv.rows({"window-whole": [{"wall_seconds": 73.5, "server": {"requests": 290}}],
                       "embedded-default": [{"wall_seconds": 4.9}]})
    assert window[0][2:4] == ["≤ 73 s", "no"] and window[1][2:4] == ["≤ 5 s", "yes"]
    ttv.write_section(ttv.section(table, runs, (0.5, 0.6)), output)
    ttv.write_section(ttv.section(table, runs, (0.5, 0.7)), output)
    text = output.read_text(encoding="utf-8")
    assert text.count(report.TIME_TO_VERDICT_MARK) == 1 and text.count(fleet_bench.MARK) == 1
    assert text.index(report.TIME_TO_VERDICT_MARK) < text.index(fleet_bench.MARK) and "0.7 after" in text
    kept = report.keep_fleet_section("# Benchmarks\n\nnew main results\n", output)
    assert "new main results" in kept and report.TIME_TO_VERDICT_MARK in kept and fleet_bench.MARK in kept
