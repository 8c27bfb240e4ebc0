"""The Allure side of a run: labels per test, failure attachments and the run files of allure-results.

- `label_item`: at collection, each test gets its Allure labels from the requirements it declares
  (epic; feature and story: the area and title of its first requirement, so that it is counted once in
  the report's tree; severity = highest level; requirement, tag and link for each) and a title that
  reads as a sentence, so tests need no Allure code of their own.
- `attach_failure`: a failing test gets the curl reproduction and the exchange of each violation.
- `show_outcome`: each test's result says what the terminal says: FAIL is failed with a message that
  starts with the requirement; WARN, ADVICE and WAIVED are passed, with the word in the title, a tag and
  the description; skipped is NOT RUN only. Its duration runs from setup to teardown, as JUnit counts it.
- `write_run_files`: environment.properties (a few lines, the verdict first), categories.json and (in CI)
  executor.json in `<reports>/allure-results/`.

allure_html.py renders the HTML report from those results. Requirement links point to
`../report.html#<id>` (report_page.py), beside the report: Allure 3 renders only http(s) links as links,
so allure_html.py makes those clickable in the generated page. `--allure-link-pattern
requirement:https://docs.example.net/requirements#{}` points them at a published requirement list instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable

import allure
import allure_commons
import pytest
from allure_commons.model2 import Label, Status, StatusDetails
from allure_commons.types import LabelType

from conformance.contract.catalogue import AREAS, Requirement
from conformance.judgement.waivers import WAIVED_PREFIX
from conformance.reports import REPORT_NAME, RESULTS_DIR
from conformance.reports.report_page import PAGE as REPORT_PAGE
from conformance.deployment.redaction import REDACT

LINK_TYPE = "requirement"
SEVERITIES = {"MUST": "critical", "SHOULD": "normal", "MAY": "minor", "ADVISORY": "trivial"}

# --- categories ----------------------------------------------------------------------------------
# A failure's message starts with `CALLS-...-ID [CODE]` (show_outcome); a traceback (several violations
# raised at once, as an exception group) names each after "RequirementViolation: ", so each kind is
# matched in either. A test that only warns (SHOULD, not strict), only advises (ADVISORY) or is waived
# passed, with a message that starts with its word (verdict.OUTCOME_WORDS): "WARN SHOULD not met: ...",
# "ADVICE: ...", "WAIVED: ...". The kinds are disjoint: Allure 3 takes the first category that matches,
# Allure 2 every one, and a single violation gets one either way.
_START = r"^(?:[\w.]+: )?"
_IN_TRACE = r"[\s\S]*RequirementViolation: "
_REST = r"[\s\S]*"
_SERVER_CODE = r"(?:CF102|ST101|ST102)"
_ANY_CODE = r"[A-Z]+\d+"
_OTHER_CODE = rf"(?!{_SERVER_CODE}\]){_ANY_CODE}"
_AUTH_IDS = r"(?:AUTH|ISOLATION)-[A-Z0-9-]+"
_TIMING_IDS = r"(?:WINDOW-[A-Z0-9-]+|LIFECYCLE-[A-Z0-9-]+|CREATE-VISIBLE|LIST-INCLUDES-ACTIVE)"
FAILED = ["failed", "broken"]
WARN_PREFIX, ADVICE_PREFIX = "WARN SHOULD not met: ", "ADVICE: "  # outcome.py words a test's note so


def _violations(name: str, violation: str) -> list[dict[str, Any]]:
    return [{"name": name, "matchedStatuses": FAILED, "messageRegex": f"{_START}{violation}{_REST}"},
            {"name": name, "matchedStatuses": FAILED, "traceRegex": f"{_IN_TRACE}{violation}{_REST}"}]


CATEGORIES: list[dict[str, Any]] = [
    *_violations("Server error (5xx)", rf"CALLS-(?:NO-SERVER-ERROR \[{_ANY_CODE}|[A-Z0-9-]+ \[{_SERVER_CODE})\]"),
    *_violations("Authentication or account isolation", rf"CALLS-{_AUTH_IDS} \[{_OTHER_CODE}\]"),
    *_violations("Timing or visibility", rf"CALLS-{_TIMING_IDS} \[{_OTHER_CODE}\]"),
    *_violations("Contract violation",
                 rf"CALLS-(?!{_AUTH_IDS} \[|{_TIMING_IDS} \[|NO-SERVER-ERROR \[)[A-Z0-9-]+ \[{_OTHER_CODE}\]"),
    {"name": "Target unreachable or rate-limiting", "matchedStatuses": FAILED + ["skipped"],
     "messageRegex": rf"^(?:(?:[\w.]+\.)?(?:TargetUnavailable|RateLimited|TargetFailed)|(?:Skipped: )?TARGET FAILED): {_REST}"},
    {"name": "WARN: SHOULD not met", "matchedStatuses": ["passed"], "messageRegex": rf"^{WARN_PREFIX}{_REST}"},
    {"name": "ADVICE: the suite's advice not followed", "matchedStatuses": ["passed"],
     "messageRegex": rf"^{ADVICE_PREFIX}{_REST}"},
    {"name": "Waived deviation", "matchedStatuses": ["passed"], "messageRegex": rf"^{WAIVED_PREFIX}{_REST}"},
]


# --- labels at collection ------------------------------------------------------------------------


def _requirement_link(item: pytest.Item, rid: str) -> Any:
    patterns = dict(item.config.getoption("allure_link_pattern", None) or [])
    url = rid if LINK_TYPE in patterns else f"../{REPORT_PAGE}#{rid}"
    return allure.link(url, link_type=LINK_TYPE, name=rid)


def _title(item: pytest.Item, requirements: list[Any]) -> str:
    """The docstring's first line; else the one requirement's title; else the function name as words."""
    doc = (getattr(getattr(item, "function", None), "__doc__", None) or "").strip()
    if doc:
        text = doc.splitlines()[0].strip()
    elif len(requirements) == 1:
        text = requirements[0].title
    else:
        text = _words(str(getattr(item, "originalname", item.name)).split("[")[0])
    text = text.replace("{", "{{").replace("}", "}}")  # allure-pytest formats titles with str.format
    operation = getattr(item, "operation_label", None)  # Schemathesis: one function per operation
    if operation:
        text += " (" + str(operation).replace("{", "{{").replace("}", "}}") + ")"
    if hasattr(item, "callspec"):
        text += " [{param_id}]"
    return text


def _words(name: str) -> str:
    """A module or function name as words with a capital: test_bad_input -> Bad input."""
    words = name.removeprefix("test_").replace("_", " ")
    return words[:1].upper() + words[1:]


def label_item(item: pytest.Item, requirements: list[Requirement]) -> None:
    """Give a test its Allure labels, links, title and description from the requirements it declares.
    It is grouped (feature, story) under its first requirement only: a test counted under several groups
    would make the tree's counts add up to more than the tests run."""
    if not requirements:
        return
    ids = [r.id for r in requirements]
    level = next((lv for lv in SEVERITIES if any(r.level == lv for r in requirements)), "SHOULD")
    first = requirements[0]
    marks = [
        allure.epic(REPORT_NAME),
        allure.parent_suite(REPORT_NAME),
        allure.suite(_words(Path(str(item.path)).stem)),
        allure.feature(AREAS.get(first.area, first.area)),
        allure.story(first.title),
        allure.severity(SEVERITIES[level]),
        allure.label("requirement", *ids),
        allure.tag(*ids),
        *(_requirement_link(item, rid) for rid in ids),
    ]
    doc = (getattr(getattr(item, "function", None), "__doc__", None) or "").strip()
    checks = "\n".join(f"- **{r.id}** ({r.level}): {r.title}" for r in requirements)
    marks.append(allure.description(f"{doc}\n\nRequirements checked:\n\n{checks}".strip()))
    for mark in marks:
        if isinstance(mark, pytest.MarkDecorator):  # not so when allure-pytest is disabled (-p no:...)
            item.add_marker(mark)
    function = getattr(item, "obj", None)
    function = getattr(function, "__func__", function)  # a method: the title goes on its function
    if callable(function) and not hasattr(function, "__allure_display_name__"):
        allure.title(_title(item, requirements))(function)


# --- attachments ---------------------------------------------------------------------------------


def _allure_active() -> bool:
    return bool(allure_commons.plugin_manager.hook.attach_data.get_hookimpls())


def attach_failure(violations: Iterable[Any], exchanges: Iterable[Any]) -> None:
    """Attach the reproduction and the exchanges of a failing test (nothing without --alluredir)."""
    if not _allure_active():
        return
    text = allure.attachment_type.TEXT
    for v in violations:
        if v.evidence:
            # The exchanges that contradict each other, side by side in one attachment.
            labels = " vs ".join(label for label, _ in v.evidence)
            parts = [f"=== {label}\n{e.curl()}\n\n{e.as_text()}" for label, e in v.evidence]
            allure.attach(REDACT(("\n\n" + "-" * 72 + "\n\n").join(parts)),
                          name=f"{v.requirement} [{v.code}] contradiction: {labels}", attachment_type=text)
        if v.exchange is None:
            continue
        allure.attach(REDACT(v.exchange.curl()), name=f"{v.requirement} [{v.code}] reproduce with curl",
                      attachment_type=text)
        allure.attach(REDACT(v.exchange.as_text()), name=f"{v.requirement} [{v.code}] request and response",
                      attachment_type=text)
    exchanges = list(exchanges)
    if exchanges:
        body = "\n\n" + "-" * 72 + "\n\n"
        allure.attach(REDACT(body.join(e.as_text() for e in exchanges)),
                      name=f"the test's exchanges ({len(exchanges)})", attachment_type=text)


def attach_traceback(error: BaseException) -> None:
    """Attach the traceback of an error that is no requirement failure (the terminal shows one line)."""
    if not _allure_active():
        return
    import traceback

    text = "".join(traceback.format_exception(error, limit=30))
    allure.attach(REDACT.cut(text, 20000), name=f"{type(error).__name__} (details)",
                  attachment_type=allure.attachment_type.TEXT)


# --- each test's outcome, as the terminal words it ------------------------------------------------


def _current_result() -> Any:
    """allure-pytest's result of the running test (None without --alluredir)."""
    for plugin in allure_commons.plugin_manager.get_plugins():
        logger = getattr(plugin, "allure_logger", None)
        if logger is not None:
            return logger.get_test(None)
    return None


_SETUP_STARTS: dict[str, int] = {}  # node id -> when its setup started (ms), until its teardown


def show_outcome(report: pytest.TestReport) -> None:
    """Make the Allure result of a test phase say what the terminal and JUnit say (called once the phase's
    report is final). allure-pytest times only the call and words a failure after the exception's type."""
    result = _current_result()
    if result is None:
        return
    # From the start of setup to the end of teardown, as JUnit counts a test's time (allure-pytest restarts
    # the clock at the call).
    started = _SETUP_STARTS.setdefault(report.nodeid, int(report.start * 1000))
    if report.when == "teardown":
        del _SETUP_STARTS[report.nodeid]
    result.start = min(result.start or started, started)
    result.stop = max(result.stop or 0, int(report.stop * 1000))
    word = getattr(report, "conformance_word", None)
    if word is None:
        return
    if report.failed:
        result.status = Status.FAILED
        # The account of every violation, requirement first (not the exception's type).
        result.statusDetails = StatusDetails(message=getattr(report, "conformance_text", None) or report.longreprtext)
        return
    note = report.conformance_note
    result.status = Status.PASSED  # it counts as no failure in the verdict, like the terminal's word
    result.statusDetails = StatusDetails(message=note)  # what the categories read
    result.name = f"{word}: {result.name}"
    result.labels.append(Label(name=LabelType.TAG, value=word))
    result.description = f"{note}\n\n{result.description or ''}".strip()


def name_fixture_step(fixturedef: Any) -> None:
    """A fixture's setup step is named after the first sentence of its docstring (allure-pytest names it after
    the function: "life"); call before allure-pytest starts the step."""
    func = fixturedef.func
    doc = " ".join((getattr(func, "__doc__", None) or "").split())
    # pytest's own functions (a parameter's value) serve many fixtures: their name stays the argument's.
    if doc and getattr(func, "__name__", None) == fixturedef.argname and not hasattr(func, "__allure_display_name__"):
        func.__allure_display_name__ = doc.split(". ")[0].rstrip(".")


def name_teardown_steps(fixturedef: Any) -> None:
    """allure-pytest shows each finalizer of a fixture as a teardown step named after its function: pytest's
    own bookkeeping (a lambda) is no step of the test, and a yield fixture's teardown is "<fixture>: teardown"
    (call after allure-pytest has wrapped the finalizers)."""
    finalizers = getattr(fixturedef, "_finalizers", [])
    title = getattr(fixturedef.func, "__allure_display_name__", fixturedef.argname)
    for index, finalizer in enumerate(finalizers):
        inner = getattr(finalizer, "_fixture_function", None)
        if inner is None:
            continue
        if "pytest_fixture_post_finalizer" in getattr(getattr(inner, "__code__", None), "co_names", ()):
            finalizers[index] = inner
        else:
            finalizer._name = f"{title}: teardown"


# --- run files -----------------------------------------------------------------------------------


def _property(value: str) -> str:
    """A .properties value: backslashes, line breaks and non-ASCII escaped."""
    out = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return "".join(c if 32 <= ord(c) < 127 else f"\\u{ord(c):04x}" for c in out)


def environment_properties(summary: dict[str, Any], verdict: dict[str, Any], scrub: Callable[[str], str] = str) -> str:
    """The report's metadata: a few lines, the verdict first (the report shows eight before "Show more");
    the run's settings are in verdict.json and on the requirement page."""
    waived = (verdict.get("waivers") or {}).get("applied", [])
    regressions = (verdict.get("baseline") or {}).get("regressions", [])
    lists = {"failed": verdict.get("failed_requirements", []), "warnings": verdict.get("warnings", []),
             "advice": verdict.get("advisories", []), "waived": waived, "regressions": regressions}
    values: dict[str, Any] = {"verdict": f"{verdict.get('verdict')} (exit code {verdict.get('exit_code')})"}
    values.update({key: ", ".join(ids) for key, ids in lists.items() if ids})
    partial = [r["id"] for r in verdict.get("requirements", []) if (r.get("evidence") or {}).get("partial")]
    if partial:
        values["passed on partial evidence"] = ", ".join(partial)
    values["requirements"] = ", ".join(f"{n} {status}" for status, n in verdict.get("counts", {}).items() if n)
    values["target"] = " ".join(str(v) for v in (summary.get("name"), summary.get("base_url")) if v and v != "(none)")
    values["suite"] = f"{verdict.get('suite_version')} (spec {verdict.get('spec_version')})"
    return "".join(f"{key}={_property(scrub(str(value)))}\n" for key, value in values.items())


def executor(environ: dict[str, str] | os._Environ) -> dict[str, Any] | None:
    """executor.json for Allure when the run is in CI (GitHub Actions, GitLab CI, or any CI=true)."""
    if environ.get("GITHUB_ACTIONS") == "true":
        server, repo, run_id = (environ.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
        number = environ.get("GITHUB_RUN_NUMBER", "")
        return {"name": "GitHub Actions", "type": "github", "buildOrder": number,
                "buildName": f"{environ.get('GITHUB_WORKFLOW', 'workflow')} #{number}",
                "buildUrl": f"{server}/{repo}/actions/runs/{run_id}", "reportName": REPORT_NAME}
    if environ.get("GITLAB_CI") == "true":
        return {"name": "GitLab CI", "type": "gitlab", "buildOrder": environ.get("CI_PIPELINE_IID", ""),
                "buildName": f"{environ.get('CI_JOB_NAME', 'job')} #{environ.get('CI_PIPELINE_IID', '')}",
                "buildUrl": environ.get("CI_JOB_URL") or environ.get("CI_PIPELINE_URL", ""),
                "reportName": REPORT_NAME}
    if environ.get("CI", "").lower() in ("true", "1"):
        return {"name": "CI", "type": "ci", "reportName": REPORT_NAME}
    return None


def write_run_files(reports_dir: Path, summary: dict[str, Any], verdict: dict[str, Any],
                    scrub: Callable[[str], str]) -> None:
    """Write the run-level Allure files (`summary`: the target's public settings). Never writes a secret."""
    results = Path(reports_dir) / RESULTS_DIR
    if not results.is_dir():  # allure-pytest creates it when --alluredir is given
        return
    (results / "environment.properties").write_text(
        environment_properties(summary, verdict, scrub), encoding="utf-8")
    (results / "categories.json").write_text(json.dumps(CATEGORIES, indent=2) + "\n", encoding="utf-8")
    ci = executor(os.environ)
    if ci is not None:
        (results / "executor.json").write_text(scrub(json.dumps(ci, indent=2)) + "\n", encoding="utf-8")
