"""Unit tests of conformance/reports: the Allure run files, categories, executor, labels, the HTML step and the
one-page report (report.html)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conformance.reports import allure as report
from conformance.reports import allure_html, report_page
from conformance.deployment.config import TargetConfig
from conformance.deployment.redaction import REDACT

REPO = Path(__file__).resolve().parent.parent
TOKEN, OTHER_TOKEN = "unit-token-5c2f0d8e9a71", "unit-token-other-41b7e06c"

VERDICT = {
    "verdict": "NOT CONFORMANT", "exit_code": 1, "suite_version": "0.1.0", "spec_version": "1.2.3",
    "started_at": "2026-11-26T12:00:00Z", "counts": {"passed": 30, "failed": 2, "not-run": 1},
    "counts_by_word": {"PASS": 30, "FAIL": 1, "WARN": 1, "NOT RUN": 1},
    "warnings": ["CALLS-CREATE-201"], "failed_requirements": ["CALLS-DELETE-204"],
    "target": {"base_url": "https://api.example.net/v1"},
    "requirements": [
        {"id": "CALLS-DELETE-204", "level": "MUST", "area": "delete", "title": "Deleting an existing call answers 204",
         "status": "failed", "reasons": [],
         "failures": [{"test": "test_delete.py::test_delete", "code": "CF101",
                       "message": f"delete: answered 200, expected 204 <{TOKEN}>", "reproduce": None}]},
        {"id": "CALLS-CREATE-201", "level": "SHOULD", "area": "create", "title": "A successful create answers 201",
         "status": "failed", "reasons": [], "failures": [{"test": "t", "code": "CF101", "message": "200", "reproduce": None}]},
        {"id": "CALLS-WINDOW-VISIBLE", "level": "MUST", "area": "window", "title": "An ended call stays visible",
         "status": "not-run", "reasons": ["creating calls is disabled"], "failures": []},
    ],
}

# Failures of each kind as allure-pytest writes them (message: the exception's type first; trace: the
# pytest traceback), and the category each belongs to.
def _single(message: str) -> tuple[str, str]:
    return message, f"    def test_x():\n>       check()\nE       {message}\n\nconformance/judgement/checks.py:64: Error"


def _group(*violations: str) -> tuple[str, str]:
    lines = "".join(f"    | conformance.judgement.checks.RequirementViolation: {v}\n    +----\n" for v in violations)
    return f"ExceptionGroup: {len(violations)} requirement violation(s) ({len(violations)} sub-exceptions)", \
        f"  + Exception Group Traceback (most recent call last):\n{lines}"


SAMPLES = [
    ("Server error (5xx)", "failed",
     *_single("conformance.judgement.checks.RequirementViolation: CALLS-NO-SERVER-ERROR [CF102] server error 500\n  observed: GET")),
    ("Server error (5xx)", "failed", *_group("CALLS-NO-SERVER-ERROR [ST101] GET /Accounts/{account_sid}/Calls: "
                                             "Server error", "CALLS-SID-FORMAT [ST102] Server error")),
    ("Authentication or account isolation", "failed", *_single(
        "conformance.judgement.checks.RequirementViolation: CALLS-AUTH-REQUIRED [CF101] list with no token: answered 200")),
    ("Authentication or account isolation", "failed", *_single(
        "conformance.judgement.checks.RequirementViolation: CALLS-ISOLATION-READ [CF108] get with the other token: answered 200")),
    ("Authentication or account isolation", "failed", *_group("CALLS-AUTH-REQUIRED [ST401] API accepts requests "
                                                              "without authentication")),
    ("Timing or visibility", "failed", *_single(
        "conformance.judgement.checks.RequirementViolation: CALLS-WINDOW-VISIBLE [CF110] the ended call was gone after 2.1 s")),
    ("Timing or visibility", "failed", *_single(
        "conformance.judgement.checks.RequirementViolation: CALLS-LIFECYCLE-MONOTONIC [CF111] went from completed to ringing")),
    ("Contract violation", "failed", *_single(
        "conformance.judgement.checks.RequirementViolation: CALLS-DELETE-204 [CF101] delete: answered 200, expected 204")),
    ("Contract violation", "failed", *_group("CALLS-CALL-SCHEMA [ST110] Response violates schema",
                                             "CALLS-CONTRACT-STATUS [ST103] Undocumented HTTP status code")),
    ("Target unreachable or rate-limiting", "broken", *_single(
        "conformance.deployment.failures.TargetUnavailable: cannot connect to https://api.example.net/v1: Connection refused")),
    ("Target unreachable or rate-limiting", "broken", *_single(
        "conformance.deployment.failures.RateLimited: GET /Accounts/x/Calls: still 429 Too Many Requests after 4 retries")),
    ("Target unreachable or rate-limiting", "skipped", *_single(
        "conformance.deployment.failures.TargetUnavailable: GET /v1/Accounts/x/Calls: the connection was reset (no answer)")),
    ("Target unreachable or rate-limiting", "skipped", *_single(
        "Skipped: TARGET FAILED: target stopped answering after 37 requests: 5 timeouts in a row")),
    ("Contract violation", "failed", "CALLS-DELETE-204 [CF101] delete: answered 200, expected 204\n  observed: DELETE", ""),
    ("WARN: SHOULD not met", "passed", "WARN SHOULD not met: CALLS-CREATE-201 [CF101] create: answered 200, expected 201", ""),
    ("ADVICE: the suite's advice not followed", "passed",
     "ADVICE: CALLS-CREATE-REJECTS-MISTYPED [CF108] create with an invalid body (from over 256 characters): "
     "answered 201, expected a 4xx refusal", ""),
    ("Waived deviation", "passed", "WAIVED: deletes answer 200 (https://tracker.example.net/T-1)", ""),
]


def _categories_of(status: str, message: str, trace: str) -> list[str]:
    """The names of the categories a failure falls in (each rule needs its status and its regex)."""
    names = []
    for rule in report.CATEGORIES:
        if status in rule["matchedStatuses"] and (
                ("messageRegex" in rule and re.fullmatch(rule["messageRegex"], message))
                or ("traceRegex" in rule and re.fullmatch(rule["traceRegex"], trace))):
            names.append(rule["name"])
    return list(dict.fromkeys(names))


def _config(tmp_path: Path) -> TargetConfig:
    return TargetConfig(base_url="https://api.example.net/v1", account_sid="8314ce10-d397-4c60-a623-2995d177816a",
                        token=TOKEN, other_account_sid="1307929f-7ee4-4fa5-aab8-3548b1353ca0",
                        other_token=OTHER_TOKEN, window=4.0, reports_dir=tmp_path)


def _write_run_files(tmp_path: Path) -> None:
    """What the end of a run writes: the one-page report, and the Allure run files when results exist."""
    cfg = _config(tmp_path)
    scrub = REDACT.with_secrets(*cfg.secrets)
    report_page.write(tmp_path, VERDICT, scrub)
    report.write_run_files(tmp_path, cfg.public_summary(), VERDICT, scrub)


def _properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_run_files_describe_the_run_without_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CI", "GITHUB_ACTIONS", "GITLAB_CI"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "allure-results").mkdir()
    _write_run_files(tmp_path)

    props = _properties((tmp_path / "allure-results" / "environment.properties").read_text(encoding="ascii"))
    # A few lines, the verdict first: the report shows eight before "Show more".
    assert list(props)[0] == "verdict" and len(props) <= 8
    assert props["verdict"] == "NOT CONFORMANT (exit code 1)"
    assert props["failed"] == "CALLS-DELETE-204" and props["warnings"] == "CALLS-CREATE-201"
    assert "advice" not in props  # an empty list takes no line
    assert props["requirements"] == "33 requirements: 30 PASS, 1 FAIL, 1 WARN, 1 NOT RUN"  # as the terminal says
    assert props["target"] == "https://api.example.net/v1"
    assert props["suite"] == "0.1.0 (spec 1.2.3)"
    assert not (tmp_path / "allure-results" / "executor.json").exists()
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="CALLS-DELETE-204"' in page and "delete: answered 200, expected 204" in page
    for path in tmp_path.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert TOKEN not in text and OTHER_TOKEN not in text, path


def test_no_allure_files_without_alluredir(tmp_path: Path) -> None:
    _write_run_files(tmp_path)
    assert not (tmp_path / "allure-results").exists()
    assert (tmp_path / "report.html").is_file()


def test_properties_values_are_escaped() -> None:
    text = report.environment_properties({"base_url": "a\\b\nc é"}, {"counts": {}})
    assert "target=a\\\\b\\nc \\u00e9\n" in text


def test_categories_file_is_valid_json(tmp_path: Path) -> None:
    (tmp_path / "allure-results").mkdir()
    _write_run_files(tmp_path)
    categories = json.loads((tmp_path / "allure-results" / "categories.json").read_text(encoding="utf-8"))
    assert categories == report.CATEGORIES
    for rule in categories:
        assert set(rule) in ({"name", "matchedStatuses", "messageRegex"}, {"name", "matchedStatuses", "traceRegex"})
        re.compile(rule.get("messageRegex") or rule["traceRegex"])


@pytest.mark.parametrize("expected, status, message, trace", SAMPLES,
                         ids=[f"{s[0]}-{i}" for i, s in enumerate(SAMPLES)])
def test_each_failure_falls_in_exactly_its_category(expected: str, status: str, message: str, trace: str) -> None:
    assert _categories_of(status, message, trace) == [expected]


def test_violations_of_several_kinds_fall_first_in_the_gravest() -> None:
    mixed = _group("CALLS-CONTRACT-STATUS [ST103] Undocumented status", "CALLS-NO-SERVER-ERROR [ST101] Server error")
    assert _categories_of("failed", *mixed) == ["Server error (5xx)", "Contract violation"]


def test_other_errors_fall_in_no_category() -> None:
    assert _categories_of("broken", "KeyError: 'sid'", "E   KeyError: 'sid'") == []
    assert _categories_of("skipped", "Skipped: creating calls is disabled", "") == []


def test_every_category_has_a_sample() -> None:
    assert {rule["name"] for rule in report.CATEGORIES} == {name for name, *_ in SAMPLES}


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_category_regexes_work_in_javascript() -> None:
    """Allure 3 (Node) applies the same rules: they compile there and put each sample in the same category."""
    script = ("const [rules, samples] = JSON.parse(process.argv[1]);"
              "const match = (rule, [status, message, trace]) => rule.matchedStatuses.includes(status) && ("
              "(rule.messageRegex !== undefined && new RegExp(rule.messageRegex).test(message)) ||"
              " (rule.traceRegex !== undefined && new RegExp(rule.traceRegex).test(trace)));"
              "console.log(JSON.stringify(samples.map(s => rules.find(r => match(r, s))?.name ?? null)));")
    data = json.dumps([report.CATEGORIES, [sample[1:] for sample in SAMPLES]])
    done = subprocess.run(["node", "-e", script, data], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == [name for name, *_ in SAMPLES]


def test_executor_in_github_actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITLAB_CI",):
        monkeypatch.delenv(name, raising=False)
    env = {"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_REPOSITORY": "acme/calls", "GITHUB_RUN_ID": "991", "GITHUB_RUN_NUMBER": "17",
           "GITHUB_WORKFLOW": "conformance"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "allure-results").mkdir()
    _write_run_files(tmp_path)
    executor = json.loads((tmp_path / "allure-results" / "executor.json").read_text(encoding="utf-8"))
    assert executor["type"] == "github"
    assert executor["buildUrl"] == "https://github.com/acme/calls/actions/runs/991"
    assert executor["buildName"] == "conformance #17" and executor["buildOrder"] == "17"


def test_executor_in_gitlab_and_generic_ci() -> None:
    gitlab = report.executor({"CI": "true", "GITLAB_CI": "true", "CI_JOB_NAME": "conformance",
                              "CI_PIPELINE_IID": "5", "CI_JOB_URL": "https://gitlab.example/acme/calls/-/jobs/77"})
    assert gitlab is not None and gitlab["type"] == "gitlab"
    assert gitlab["buildUrl"] == "https://gitlab.example/acme/calls/-/jobs/77"
    generic = report.executor({"CI": "true"})
    assert generic is not None and generic["name"] == "CI"
    assert report.executor({}) is None


def test_generate_html_without_the_tool_prints_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "allure-results").mkdir()
    monkeypatch.setattr(allure_html, "find_allure", lambda: None)
    allure_html.generate_html(tmp_path)
    out = capsys.readouterr()
    assert out.err == ""
    assert len(out.out.splitlines()) == 1 and "npm ci" in out.out
    assert not (tmp_path / "allure-report").exists()


def test_pinned_allure_version_is_the_one_named() -> None:
    package = json.loads((REPO / "package.json").read_text(encoding="utf-8"))
    assert package["devDependencies"]["allure"] == allure_html.ALLURE_VERSION
    lock = json.loads((REPO / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"]["node_modules/allure"]["version"] == allure_html.ALLURE_VERSION


def test_generate_html_failure_prints_one_line_and_does_not_raise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "allure-results").mkdir()
    monkeypatch.setattr(allure_html, "find_allure", lambda: shutil.which("false") or "/bin/false")
    allure_html.generate_html(tmp_path)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "not generated" in lines[0]
    assert not (tmp_path / ".allure-build").exists()


_CONFTEST = """
    import pytest
    from conformance.contract.catalogue import load_catalogue
    from conformance.judgement.checks import RequirementViolation
    from conformance.reports import allure as report

    def pytest_configure(config):
        config.addinivalue_line("markers", "requirements(*ids): catalogue requirement ids")

    def pytest_collection_modifyitems(items):
        catalogue = load_catalogue()
        for item in items:
            ids = [rid for mark in item.iter_markers("requirements") for rid in mark.args]
            report.label_item(item, [catalogue[rid] for rid in dict.fromkeys(ids)])

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(item):
        try:
            return (yield)
        except RequirementViolation as error:
            report.attach_failure([error], [error.exchange])
            raise
"""

_TESTS = '''
    import pytest
    from conformance.judgement.checks import RequirementViolation
    from conformance.deployment.exchange import Exchange

    @pytest.mark.requirements("CALLS-DELETE-204", "CALLS-DELETE-UNKNOWN-404")
    def test_delete():
        """Deleting a call answers 204 {quickly}.

        More text.
        """
        exchange = Exchange("DELETE", "http://127.0.0.1:9/v1/Accounts/a/Calls/b",
                            {"Authorization": "Bearer [REDACTED]"}, None, 200, "OK", {}, "", 1.0, "CALLS_API_TOKEN")
        raise RequirementViolation("CALLS-DELETE-204", "CF101", "delete: answered 200, expected 204", exchange)

    @pytest.mark.requirements("CALLS-LIST-200")
    @pytest.mark.parametrize("page", [1, 2])
    def test_list(page):
        pass

    @pytest.mark.requirements("CALLS-CREATE-VISIBLE", "CALLS-CREATE-RECORD")
    def test_created_call_reads_back():
        pass
'''


def test_labels_titles_and_attachments_reach_allure(tmp_path: Path) -> None:
    """label_items and attach_failure, through allure-pytest, give each result its labels and evidence."""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(textwrap.dedent(_CONFTEST), encoding="utf-8")
    (suite / "test_sample.py").write_text(textwrap.dedent(_TESTS), encoding="utf-8")
    results = tmp_path / "results"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(suite),
                           "-c", os.devnull, f"--alluredir={results}", str(suite)],
                          cwd=suite, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    found = {}
    for path in results.glob("*-result.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        found[data["name"]] = data
    listing = "Listing an account's calls answers 200 with a JSON array of call objects"
    assert set(found) == {"Deleting a call answers 204 {quickly}.", f"{listing} [1]", f"{listing} [2]",
                          "Created call reads back"}
    delete = found["Deleting a call answers 204 {quickly}."]
    labels: dict[str, list[str]] = {}
    for label in delete["labels"]:
        labels.setdefault(label["name"], []).append(label["value"])
    assert labels["epic"] == ["Calls API conformance"]
    assert labels["feature"] == ["Deleting calls"]
    assert sorted(labels["requirement"]) == ["CALLS-DELETE-204", "CALLS-DELETE-UNKNOWN-404"]
    assert {"CALLS-DELETE-204", "CALLS-DELETE-UNKNOWN-404"} <= set(labels["tag"])
    assert labels["severity"] == ["critical"]  # MUST beats SHOULD
    # Grouped once, under its first requirement: the tree's counts add up to the tests run.
    assert labels["story"] == ["Deleting an existing call answers 204"]
    assert labels["parentSuite"] == ["Calls API conformance"] and labels["suite"] == ["Sample"]
    assert {link["name"]: link["url"] for link in delete["links"]}["CALLS-DELETE-204"] == \
        "../report.html#CALLS-DELETE-204"
    assert "CALLS-DELETE-UNKNOWN-404** (SHOULD)" in delete["description"]
    attachments = {a["name"]: (results / a["source"]).read_text(encoding="utf-8") for a in delete["attachments"]}
    curl = attachments["CALLS-DELETE-204 [CF101] reproduce with curl"]
    assert curl.startswith("curl -i -X DELETE") and "$CALLS_API_TOKEN" in curl
    assert "HTTP 200 OK" in attachments["CALLS-DELETE-204 [CF101] request and response"]
    assert any(name.startswith("the test's exchanges") for name in attachments)
    first_page = found[f"{listing} [1]"]
    assert [label["value"] for label in first_page["labels"] if label["name"] == "severity"] == ["critical"]
    assert not first_page.get("attachments")


def test_attach_failure_is_a_no_op_without_allure() -> None:
    class Boom:
        requirement, code = "CALLS-DELETE-204", "CF101"

        @property
        def exchange(self):  # reading it would mean work done for nothing
            raise AssertionError("attach_failure looked at the violation without Allure")

    if report._allure_active():
        pytest.skip("this run writes Allure results (--alluredir)")
    report.attach_failure([Boom()], [])


def test_generated_html_loses_the_third_party_analytics_tag(tmp_path):
    from conformance.reports.allure_html import strip_analytics

    page = tmp_path / "index.html"
    page.write_text('<script src="app.js"></script>\n    <script async src="https://www.googletagmanager.com/gtag/js?id=G-X"></script>\n'
                    "    <script>\n window.dataLayer = [];\n function gtag(){}\n gtag('js', new Date());\n </script>\n"
                    "<script async>window.allureReportDataReady = true;</script>")
    strip_analytics(page)
    html = page.read_text()
    assert "googletagmanager" not in html and "gtag(" not in html
    assert "app.js" in html and "allureReportDataReady" in html


# --- report.html ---------------------------------------------------------------------------------
def _failure(code: str, message: str, exchange: int | None = None) -> dict[str, object]:
    return {"test": "conformance/suite/test_lifecycle.py::test_delete", "code": code, "message": message,
            "observed": "DELETE https://api.example.net/v1/Accounts/a/Calls/c -> 200 OK [content-type: (none)] ''",
            "reproduce": "curl -i -X DELETE https://api.example.net/v1/Accounts/a/Calls/c "
                         "-H \"Authorization: Bearer $CALLS_API_TOKEN\"", "exchange": exchange}


def _row(rid: str, level: str, status: str, failures=(), reasons=(), **extra: object) -> dict[str, object]:
    return {"id": rid, "level": level, "area": "delete", "title": f"the title of {rid}", "status": status,
            "tests": ["conformance/suite/test_lifecycle.py::test_delete"], "failures": list(failures),
            "reasons": list(reasons), **extra}


WAIVER = {"requirement": "CALLS-DELETE-UNKNOWN-404", "reason": "deletes of unknown calls answer 204",
          "reference": "https://tracker.example.net/X-1", "expires": "2099-01-01", "targets": [], "check": None}
NEEDS_CREATE = "creating calls is disabled: pass --allow-create with --from-number and --to-number"
FULL_VERDICT = {
    **VERDICT, "strict": False, "artifacts": {"har": "exchanges.har"}, "duration_seconds": 41.5,
    "coverage": {"selected": 48, "total": 50}, "warnings": ["CALLS-CREATE-201"],
    "advisories": ["CALLS-CREATE-REJECTS-MISTYPED"],
    "target": {"base_url": "https://api.example.net/v1", "account_sid": "acc-main", "other_account": "acc-other",
               "run_id": "r-1234", "name": "eu-prod"},
    "counts": {"passed": 1, "failed": 3, "waived": 1, "not-run": 3, "not-selected": 0, "untestable": 0},
    "counts_by_word": None,  # counted from its rows, as a run counts them
    "stats": {"window": {"phase": "finished", "not_judged": None, "account": "watched call c-1; phase finished"},
              "timeline": [{"at": 0.5, "who": "retention window", "what": "created call c-1"}]},
    "requirements": [
        _row("CALLS-LIST-200", "MUST", "passed"),
        _row("CALLS-CREATE-201", "SHOULD", "failed", [_failure("CF101", "create: answered 200, expected 201", 3)]),
        _row("CALLS-DELETE-204", "MUST", "failed",
             [_failure("CF101", f"delete: answered 200, expected 204 <b>{TOKEN}</b>", 7)]),
        _row("CALLS-CREATE-REJECTS-MISTYPED", "ADVISORY", "failed", [_failure("CF108", "create accepted a number", 9)]),
        _row("CALLS-DELETE-UNKNOWN-404", "SHOULD", "waived", [_failure("CF101", "answered 204", 11)], waiver=WAIVER),
        _row("CALLS-WINDOW-VISIBLE", "MUST", "not-run", reasons=[NEEDS_CREATE],
             evidence={"summary": "on 0 of 2 probes: 2 need --allow-create", "partial": True}),
        _row("CALLS-WINDOW-EXPIRES", "SHOULD", "not-run", reasons=[NEEDS_CREATE]),
        _row("CALLS-ISOLATION-FOREIGN-APPLICATION", "MUST", "not-run", reasons=["pass --application-sid"]),
    ],
    "waivers": {"path": "waivers.yaml", "target": None, "today": "2026-11-26", "in_force": [WAIVER],
                "applied": ["CALLS-DELETE-UNKNOWN-404"], "expired": [], "stale": [], "unused": [],
                "fail_on_stale": False, "stale_failed_the_run": False},
    "baseline": {"path": "base/verdict.json", "verdict": "CONFORMANT", "started_at": "2026-11-20T10:00:00Z",
                 "mismatches": [], "added_requirements": [], "removed_requirements": [], "gate": "all",
                 "regressions": [], "counts": {}, "transitions": [
                     {"id": "CALLS-WINDOW-EXPIRES", "level": "SHOULD", "change": "newly not run", "before": "passed",
                      "after": "not-run", "codes_before": [], "codes_after": [], "message": ""}]},
}


def _page(verdict: dict[str, object] = FULL_VERDICT) -> str:
    return report_page.report_page(verdict, REDACT.with_secrets(TOKEN))


def test_report_shows_the_verdict_then_failures_warnings_and_advice_before_the_requirement_table() -> None:
    page = _page()
    order = [page.index(marker) for marker in (
        '<h1 id="verdict">NOT CONFORMANT</h1>', 'id="finding-CALLS-DELETE-204"', 'id="finding-CALLS-CREATE-201"',
        'id="finding-CALLS-CREATE-REJECTS-MISTYPED"', '<section id="not-run">', '<tr id="CALLS-LIST-200"')]
    assert order == sorted(order)
    assert "on the 48 of 50 requirements selected · exit code 1" in page
    assert '<a href="#failures">1 FAIL</a>' in page and '<a href="#warnings">1 WARN</a>' in page
    assert '<a href="#not-run">3 NOT RUN</a>' in page and "1 WAIVED" in page
    assert "https://api.example.net/v1" in page and "acc-main, acc-other" in page and "id r-1234" in page


def test_each_failure_shows_what_was_observed_its_curl_and_its_exchange() -> None:
    finding = re.search(r'<article class="finding FAIL" id="finding-CALLS-DELETE-204">.*?</article>', _page(), re.S)
    assert finding, "no detail of the failing requirement"
    text = finding.group(0)
    assert "[CF101] delete: answered 200, expected 204" in text and "test_lifecycle.py::test_delete" in text
    assert "<pre>DELETE https://api.example.net/v1/Accounts/a/Calls/c -&gt; 200 OK" in text
    assert "<pre>curl -i -X DELETE" in text and "$CALLS_API_TOKEN" in text
    assert '<a class="exchange" href="exchanges.har">exchange #7 in exchanges.har</a>' in text


def test_report_escapes_html_and_writes_no_token() -> None:
    page = _page()
    assert TOKEN not in page and "&lt;b&gt;[REDACTED]&lt;/b&gt;" in page and "<b>" not in page


def test_requirement_ids_are_anchors_that_do_not_wrap() -> None:
    page = _page()
    assert ".rid{white-space:nowrap" in page
    for row in FULL_VERDICT["requirements"]:
        assert f'<tr id="{row["id"]}"' in page
        assert f'<a class="rid" href="#{row["id"]}">{row["id"]}</a>' in page


def test_url_references_become_links() -> None:
    assert '<a href="https://tracker.example.net/X-1">https://tracker.example.net/X-1</a>' in _page()


def test_report_is_self_contained_and_prints_without_splitting_a_failure() -> None:
    page = _page()
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(" not in page
    assert "position:fixed" not in page and "position: fixed" not in page
    print_css = page[page.index("@media print"):]
    assert ".finding" in print_css and "break-inside:avoid" in print_css


def test_not_run_requirements_are_grouped_by_reason() -> None:
    page = _page()
    section = page[page.index('<section id="not-run">'):]
    section = section[:section.index("</section>")]
    assert section.count(NEEDS_CREATE) == 1
    assert "<strong>NOT RUN</strong> (2)" in section and "pass --application-sid" in section


def test_evidence_shows_in_the_headline_and_on_each_requirement_when_partial() -> None:
    page = _page({**FULL_VERDICT, "partial": 3})
    assert '<a href="#requirements">3 passed on partial evidence</a>' in page
    assert "Evidence (partial): on 0 of 2 probes: 2 need --allow-create" in page
    assert "partial evidence" not in _page(VERDICT) and "Evidence" not in _page(VERDICT)


def test_waivers_that_changed_the_answer_come_before_the_failures() -> None:
    page = _page()
    assert page.index('<section id="waivers">') < page.index('<section id="failures">')
    quiet = {**FULL_VERDICT, "waivers": {**FULL_VERDICT["waivers"], "applied": []}}
    page = _page(quiet)
    assert page.index('<section id="not-run">') < page.index('<section id="waivers">')


def test_a_requirement_newly_not_run_says_why_against_the_baseline() -> None:
    page = _page()
    section = page[page.index('<section id="baseline">'):]
    row = re.search(r'<tr class=""><td><a class="rid" href="#CALLS-WINDOW-EXPIRES">.*?</tr>', section, re.S)
    assert row and NEEDS_CREATE in row.group(0)


def test_the_window_watch_and_the_timeline_show_when_they_ran() -> None:
    page = _page()
    assert "watched call c-1; phase finished" in page and "created call c-1" in page
    assert '<section id="window">' not in _page(VERDICT)


@pytest.mark.parametrize("word, colour", [
    ("CONFORMANT", "ok"), ("CONFORMANT WITH WAIVERS", "waived"), ("NOT CONFORMANT", "bad"),
    ("INCOMPLETE", "amber"), ("TARGET FAILED", "bad"), ("SOMETHING ELSE", "neutral")])
def test_each_verdict_word_has_its_colour(word: str, colour: str) -> None:
    assert f'<header class="verdict {colour}">' in _page({**VERDICT, "verdict": word})


def test_a_target_failure_is_in_the_headline() -> None:
    failure = {"stage": "run", "kind": "unavailable", "message": "5 timeouts in a row", "requests_sent": 37}
    page = _page({**VERDICT, "verdict": "TARGET FAILED", "target_failure": failure})
    assert page.index("5 timeouts in a row") < page.index('<section id="failures">')


def test_the_end_of_a_run_keeps_the_timeline_and_the_window_watch_for_the_report() -> None:
    from types import SimpleNamespace

    from conformance.evidence.timeline import Timeline
    from conformance.runner.finish import _watch_stats

    timeline = Timeline()
    timeline.note("retention window", "created call c-1")
    watch = SimpleNamespace(phase="stopped", skip_reason="no selected test needs it", describe=lambda: "watched call c-1")
    stats = _watch_stats(SimpleNamespace(timeline=timeline, window_watch=watch))
    assert [(e["who"], e["what"]) for e in stats["timeline"]] == [("retention window", "created call c-1")]
    assert stats["window"] == {"phase": "stopped", "not_judged": "no selected test needs it", "account": "watched call c-1"}
    assert _watch_stats(SimpleNamespace(timeline=Timeline(), window_watch=None)) == {}


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("files,name", [
    ({"verdict.json": VERDICT}, "Calls API conformance: NOT CONFORMANT (exit 1)"),
    ({"matrix.json": {"exit_code": 1, "targets": [{"verdict": "CONFORMANT"}, {"verdict": "NOT CONFORMANT"},
                                                  {"verdict": "CONFORMANT"}]}},
     "Calls API conformance, 3 targets: 2 CONFORMANT, 1 NOT CONFORMANT (exit 1)"),
    ({}, "Calls API conformance"),
])
def test_the_html_report_is_named_after_the_verdict(tmp_path: Path, files: dict, name: str) -> None:
    """allurerc.mjs names the report (its heading, first thing on screen) after the run's answer."""
    for file, data in files.items():
        (tmp_path / file).write_text(json.dumps(data), encoding="utf-8")
    script = (f"const config = (await import({json.dumps(allure_html.ALLURE_CONFIG.as_uri())})).default;"
              "console.log(JSON.stringify([config.name, config.plugins.awesome.options.reportName,"
              " config.plugins['single-file'].options.reportName]));")
    done = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, CALLS_API_REPORTS_DIR=str(tmp_path)), check=True)
    assert json.loads(done.stdout) == [name, name, name]


def test_requirement_links_are_made_clickable_in_the_generated_page(tmp_path: Path) -> None:
    """Allure 3 shows a link that is not http(s) as text: the page gets each such link's address back."""
    results = tmp_path / "allure-results"
    results.mkdir()
    links = [{"type": "requirement", "name": "CALLS-DELETE-204", "url": "../report.html#CALLS-DELETE-204"},
             {"type": "issue", "name": "T-1", "url": "https://tracker.example.net/T-1"}]
    (results / "a-result.json").write_text(json.dumps({"name": "t", "links": links}), encoding="utf-8")
    found = allure_html.local_links(results)
    assert found == {"CALLS-DELETE-204": "../report.html#CALLS-DELETE-204"}  # http(s) ones work already
    page = tmp_path / "index.html"
    page.write_text("<html><body><div id=app></div></body></html>", encoding="utf-8")
    allure_html.make_links_clickable(page, found)
    html = page.read_text(encoding="utf-8")
    assert html.index('"CALLS-DELETE-204": "../report.html#CALLS-DELETE-204"') < html.index("</body>")
    assert "test-result-meta-link" in html


def test_the_last_line_names_first_what_opens_from_disk(tmp_path: Path) -> None:
    assert "opens from disk" not in allure_html.opening_line(tmp_path)
    single = tmp_path / allure_html.SINGLE_FILE_DIR / "index.html"
    single.parent.mkdir()
    single.write_text("<html></html>", encoding="utf-8")
    line = allure_html.opening_line(tmp_path)
    assert line.index(str(single)) < line.index("serve with: python3 -m http.server -d")
    assert "opens from disk" in line and f"/{allure_html.HTML_DIR}/" in line


def test_a_defect_seen_in_many_answers_says_how_often_and_where_first() -> None:
    failure = {**_failure("CF103", "item 1 of 2 {}: 'call_sid' is a required property at $[0] (required)", 4),
               "count": 41, "places": ["GET /v1/Accounts/a/Calls (test_list)", "GET /v1/Accounts/a/Calls (test_b)"]}
    verdict = {**FULL_VERDICT, "requirements": [_row("CALLS-CALL-SCHEMA", "MUST", "failed", [failure])]}
    assert "seen in 41 answers, first: GET /v1/Accounts/a/Calls (test_list), GET /v1/Accounts/a/Calls (test_b)" \
        in _page(verdict)
