"""The Allure side of a run: labels per test, failure attachments and the run files of allure-results.

- `label_items`: at collection, each test gets its Allure labels from the requirements it declares
  (epic, feature = area, story = requirement title, severity = highest level, requirement, tag, link)
  and a title that reads as a sentence, so tests need no Allure code of their own.
- `attach_failure`: a failing test gets the curl reproduction and the exchange of each violation.
- `write_run_files`: environment.properties, categories.json and (in CI) executor.json in
  `<reports>/allure-results/`; `relabel_waived` words a waived test as the terminal does.

allure_html.py renders the HTML report from those results. Requirement links point to
`../requirements.html#<id>` (requirements_page.py), beside the report. The awesome report of Allure 3
makes only http(s) links clickable: `--allure-link-pattern requirement:https://docs.example.net/requirements#{}`
points them at a published requirement list instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable

import allure
import allure_commons
import pytest

from conformance.contract.catalogue import AREAS, Requirement
from conformance.judgement.waivers import WAIVED_PREFIX
from conformance.reports import REPORT_NAME, RESULTS_DIR
from conformance.reports.requirements_page import PAGE as REQUIREMENTS_PAGE
from conformance.deployment.redaction import REDACT

LINK_TYPE = "requirement"
SEVERITIES = {"MUST": "critical", "SHOULD": "normal", "MAY": "minor", "ADVISORY": "trivial"}

# --- categories ----------------------------------------------------------------------------------
# Every failure message starts with `CALLS-...-ID [CODE]`, after the exception's type as Allure writes
# it ("conformance.judgement.checks.RequirementViolation: CALLS-DELETE-204 [CF101] ..."). Several violations at
# once (an exception group) show in the traceback instead, so each kind is matched in either. A SHOULD
# failure (not strict) is reported as skipped with "XFAIL WARN SHOULD not met: ...", a failed piece of the
# suite's advice (ADVISORY) as skipped with "XFAIL ADVICE: ...": the words of the terminal summary and
# verdict.json (verdict.OUTCOME_WORDS). The kinds are disjoint: Allure 3
# takes the first category that matches, Allure 2 every one, and a single violation gets one either way.
_START = r"^(?:[\w.]+: )?"
_IN_TRACE = r"[\s\S]*RequirementViolation: "
_REST = r"[\s\S]*"
_SERVER_CODE = r"(?:CF102|ST101|ST102)"
_ANY_CODE = r"[A-Z]+\d+"
_OTHER_CODE = rf"(?!{_SERVER_CODE}\]){_ANY_CODE}"
_AUTH_IDS = r"(?:AUTH|ISOLATION)-[A-Z0-9-]+"
_TIMING_IDS = r"(?:WINDOW-[A-Z0-9-]+|LIFECYCLE-[A-Z0-9-]+|CREATE-VISIBLE|LIST-INCLUDES-ACTIVE)"
FAILED = ["failed", "broken"]


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
    {"name": "WARN: SHOULD not met", "matchedStatuses": ["skipped"], "messageRegex": rf"^XFAIL WARN SHOULD not met: {_REST}"},
    {"name": "ADVICE: the suite's advice not followed", "matchedStatuses": ["skipped"],
     "messageRegex": rf"^XFAIL ADVICE: {_REST}"},
    {"name": "Waived deviation", "matchedStatuses": ["skipped"], "messageRegex": rf"^WAIVED: {_REST}"},
]


# --- labels at collection ------------------------------------------------------------------------


def _requirement_link(item: pytest.Item, rid: str) -> Any:
    patterns = dict(item.config.getoption("allure_link_pattern", None) or [])
    url = rid if LINK_TYPE in patterns else f"../{REQUIREMENTS_PAGE}#{rid}"
    return allure.link(url, link_type=LINK_TYPE, name=rid)


def _title(item: pytest.Item, requirements: list[Any]) -> str:
    """The docstring's first line; else the one requirement's title; else the function name as words."""
    doc = (getattr(getattr(item, "function", None), "__doc__", None) or "").strip()
    if doc:
        text = doc.splitlines()[0].strip()
    elif len(requirements) == 1:
        text = requirements[0].title
    else:
        words = str(getattr(item, "originalname", item.name)).split("[")[0].removeprefix("test_").replace("_", " ")
        text = words[:1].upper() + words[1:]
    text = text.replace("{", "{{").replace("}", "}}")  # allure-pytest formats titles with str.format
    operation = getattr(item, "operation_label", None)  # Schemathesis: one function per operation
    if operation:
        text += " (" + str(operation).replace("{", "{{").replace("}", "}}") + ")"
    if hasattr(item, "callspec"):
        text += " [{param_id}]"
    return text


def label_item(item: pytest.Item, requirements: list[Requirement]) -> None:
    """Give a test its Allure labels, links, title and description from the requirements it declares."""
    if not requirements:
        return
    ids = [r.id for r in requirements]
    level = next((lv for lv in SEVERITIES if any(r.level == lv for r in requirements)), "SHOULD")
    marks = [
        allure.epic(REPORT_NAME),
        allure.feature(*dict.fromkeys(AREAS.get(r.area, r.area) for r in requirements)),
        allure.story(*dict.fromkeys(r.title for r in requirements)),
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


# --- run files -----------------------------------------------------------------------------------


def _property(value: str) -> str:
    """A .properties value: backslashes, line breaks and non-ASCII escaped."""
    out = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return "".join(c if 32 <= ord(c) < 127 else f"\\u{ord(c):04x}" for c in out)


def environment_properties(summary: dict[str, Any], verdict: dict[str, Any], scrub: Callable[[str], str] = str) -> str:
    counts = verdict.get("counts", {})
    values: dict[str, Any] = {
        "verdict": verdict.get("verdict"),
        "exit_code": verdict.get("exit_code"),
        "failed_requirements": ", ".join(verdict.get("failed_requirements", [])) or "(none)",
        "should_warnings": ", ".join(verdict.get("warnings", [])) or "(none)",
        "advisories": ", ".join(verdict.get("advisories", [])) or "(none)",
        "requirements": ", ".join(f"{n} {status}" for status, n in counts.items()),
        "passed_on_partial_evidence": ", ".join(r["id"] for r in verdict.get("requirements", [])
                                                if (r.get("evidence") or {}).get("partial")) or "(none)",
        "suite_version": verdict.get("suite_version"),
        "spec_version": verdict.get("spec_version"),
        "started_at": verdict.get("started_at"),
    }
    if verdict.get("waivers"):
        values["waived_requirements"] = ", ".join(verdict["waivers"]["applied"]) or "(none)"
    if verdict.get("baseline"):
        values["baseline_regressions"] = ", ".join(verdict["baseline"]["regressions"]) or "(none)"
    values.update(summary)
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


def relabel_waived(results_dir: Path) -> None:
    """allure-pytest reports a waived test as "XFAIL WAIVED: ..."; the report says WAIVED, like JUnit does."""
    if not Path(results_dir).is_dir():
        return
    for path in Path(results_dir).glob("*-result.json"):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        details = result.get("statusDetails") or {}
        message = str(details.get("message") or "")
        if not message.startswith("XFAIL " + WAIVED_PREFIX):
            continue
        details["message"] = message.removeprefix("XFAIL ")
        result["labels"] = [*result.get("labels", []), {"name": "tag", "value": "waived"}]
        path.write_text(json.dumps(result), encoding="utf-8")
