"""The Allure side of a run: labels per test, failure attachments, run files and the HTML report.

- `label_items`: at collection, each test gets its Allure labels from the requirements it declares
  (epic, feature = area, story = requirement title, severity = highest level, requirement, tag, link)
  and a title that reads as a sentence, so tests need no Allure code of their own.
- `attach_failure`: a failing test gets the curl reproduction and the exchange of each violation.
- `write_run_files`: environment.properties, categories.json and (in CI) executor.json in
  `<reports>/allure-results/`, and `<reports>/requirements.html`, the run's requirement list (shown in
  the HTML report under "Global Attachments").
- `generate_html`: runs the Allure 3 command-line tool (npm package `allure`, pinned in package.json)
  with `allurerc.mjs` to write `<reports>/allure-report/` and the single file
  `<reports>/allure-report-single/index.html`; the history trend is kept in `<reports>/history.jsonl`.

Requirement links point to `../requirements.html#<id>`, beside the report. The awesome report of
Allure 3 makes only http(s) links clickable:
`--allure-link-pattern requirement:https://docs.example.net/requirements#{}` points them at a
published requirement list instead.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterable

import allure
import allure_commons
import pytest

from conformance import baseline, waivers
from conformance.client import REDACT
from conformance.verdict import ADVICE, OUTCOME_WORDS, WARN

REPORT_NAME = "Calls API conformance"
ALLURE_VERSION = "3.18.0"  # the npm package `allure` pinned in package.json
REPO_ROOT = Path(__file__).resolve().parent.parent
# Bundled in the wheel beside this module; at the repository root in a checkout.
ALLURE_CONFIG = next((p for p in (Path(__file__).with_name("allurerc.mjs"), REPO_ROOT / "allurerc.mjs") if p.is_file()),
                     REPO_ROOT / "allurerc.mjs")
RESULTS_DIR, HTML_DIR, SINGLE_FILE_DIR = "allure-results", "allure-report", "allure-report-single"
REQUIREMENTS_PAGE = "requirements.html"
LINK_TYPE = "requirement"

AREAS = {
    "list": "Listing calls", "get": "Getting a call", "create": "Creating calls", "delete": "Deleting calls",
    "window": "Retention window", "lifecycle": "Call lifecycle", "auth": "Authentication",
    "isolation": "Account isolation", "input": "Input validation", "shape": "Response shape",
}
SEVERITIES = {"MUST": "critical", "SHOULD": "normal", "MAY": "minor", "ADVISORY": "trivial"}

# --- categories ----------------------------------------------------------------------------------
# Every failure message starts with `CALLS-...-ID [CODE]`, after the exception's type as Allure writes
# it ("conformance.checks.RequirementViolation: CALLS-DELETE-204 [CF101] ..."). Several violations at
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


def _requirement_ids(item: pytest.Item) -> list[str]:
    ids: list[str] = []
    for mark in item.iter_markers("requirements"):
        ids.extend(mark.args)
    return list(dict.fromkeys(ids))


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


def label_items(items: list[pytest.Item], catalogue: dict[str, Any]) -> None:
    """Give each test its Allure labels, links, title and description from its requirements."""
    for item in items:
        requirements = [catalogue[rid] for rid in _requirement_ids(item) if rid in catalogue]
        if not requirements:
            continue
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


def _scrubber(secrets: Iterable[str]) -> Any:
    secrets = sorted((s for s in secrets if s), key=len, reverse=True)

    def scrub(value: Any) -> str:
        text = REDACT(str(value))
        for secret in secrets:
            text = text.replace(secret, "[REDACTED]")
        return text
    return scrub


def _property(value: str) -> str:
    """A .properties value: backslashes, line breaks and non-ASCII escaped."""
    out = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return "".join(c if 32 <= ord(c) < 127 else f"\\u{ord(c):04x}" for c in out)


def environment_properties(summary: dict[str, Any], verdict: dict[str, Any], scrub: Any = str) -> str:
    counts = verdict.get("counts", {})
    values: dict[str, Any] = {
        "verdict": verdict.get("verdict"),
        "exit_code": verdict.get("exit_code"),
        "failed_requirements": ", ".join(verdict.get("failed_requirements", [])) or "(none)",
        "should_warnings": ", ".join(verdict.get("warnings", [])) or "(none)",
        "advisories": ", ".join(verdict.get("advisories", [])) or "(none)",
        "requirements": ", ".join(f"{n} {status}" for status, n in counts.items()),
        "suite_version": verdict.get("suite_version"),
        "spec_version": verdict.get("spec_version"),
        "started_at": verdict.get("started_at"),
    }
    if verdict.get("waivers"):
        values["waived_requirements"] = ", ".join(verdict["waivers"]["applied"]) or "(none)"
    if verdict.get("baseline"):
        values["baseline_regressions"] = ", ".join(verdict["baseline"]["regressions"]) or "(none)"
    values.update(summary)
    return "".join(f"{key}={_property(scrub(value))}\n" for key, value in values.items())


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


#: The words of the terminal summary (verdict.OUTCOME_WORDS), for the requirement page's status column.
_WORDS = {**OUTCOME_WORDS, "warning": WARN, "advice": ADVICE}


def requirements_page(verdict: dict[str, Any], scrub: Any = str) -> str:
    """The requirement list with this run's status of each, one anchor per requirement id."""
    e = html.escape
    rows = []
    for row in verdict.get("requirements", []):
        status = "warning" if row["id"] in verdict.get("warnings", []) else \
            "advice" if row["id"] in verdict.get("advisories", []) else row["status"]
        notes = [f"[{f['code']}] {f['message'].splitlines()[0] if f['message'] else ''} ({f['test']})"
                 for f in row.get("failures", [])] or row.get("reasons", [])
        if row.get("waiver"):
            notes.insert(0, f"WAIVED: {row['waiver']['reason']} ({row['waiver']['reference']}, until {row['waiver']['expires']})")
        rows.append(f'<tr id="{e(row["id"])}" class="{e(status)}"><td><a href="#{e(row["id"])}">{e(row["id"])}</a></td>'
                    f'<td>{e(row["level"])}</td><td>{e(AREAS.get(row["area"], row["area"]))}</td>'
                    f'<td>{e(_WORDS.get(status, status))}</td><td>{e(row["title"])}</td>'
                    f'<td>{"<br>".join(e(scrub(n)) for n in notes)}</td></tr>')
    style = ("body{font-family:sans-serif;margin:2em}td,th{border-bottom:1px solid #ddd;padding:4px 8px;"
             "text-align:left;vertical-align:top}.failed{background:#fde8e8}.warning{background:#fff6d6}"
             ".advice{background:#eef3fb}"
             ".passed{background:#e9f7ec}.waived{background:#eef0ff}:target{outline:3px solid #36c}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{REPORT_NAME}: requirements</title>'
            f"<style>{style}</style></head><body><h1>{REPORT_NAME}: requirements</h1>"
            f"<p>Verdict: <strong>{e(str(verdict.get('verdict')))}</strong> &middot; target "
            f"{e(scrub(verdict.get('target', {}).get('base_url', '')))} &middot; started {e(str(verdict.get('started_at')))}</p>"
            "<table><tr><th>Requirement</th><th>Level</th><th>Area</th><th>Status</th><th>Title</th><th>Why</th></tr>\n"
            + "\n".join(rows) + "\n</table>" + waivers.html_section(verdict) + baseline.html_section(verdict)
            + "</body></html>\n")


def write_run_files(config: Any, verdict: dict[str, Any]) -> None:
    """Write the run-level Allure files and the requirement list. Never writes a secret."""
    reports_dir = Path(config.reports_dir)
    scrub = _scrubber(config.secrets)
    reports_dir.mkdir(parents=True, exist_ok=True)
    (reports_dir / REQUIREMENTS_PAGE).write_text(requirements_page(verdict, scrub), encoding="utf-8")
    results = reports_dir / RESULTS_DIR
    if not results.is_dir():  # allure-pytest creates it when --alluredir is given
        return
    (results / "environment.properties").write_text(
        environment_properties(config.public_summary(), verdict, scrub), encoding="utf-8")
    (results / "categories.json").write_text(json.dumps(CATEGORIES, indent=2) + "\n", encoding="utf-8")
    ci = executor(os.environ)
    if ci is not None:
        (results / "executor.json").write_text(scrub(json.dumps(ci, indent=2)) + "\n", encoding="utf-8")


# --- HTML ----------------------------------------------------------------------------------------


def find_allure() -> str | None:
    local = REPO_ROOT / "node_modules" / ".bin" / "allure"
    return str(local) if local.is_file() else shutil.which("allure")


_ANALYTICS = re.compile(r"<script[^>]*googletagmanager[^>]*></script>\s*<script>[^<]*gtag\([^<]*</script>", re.S)


def strip_analytics(page: Path) -> None:
    """Remove the web-analytics tag Allure's report template carries: a conformance report is opened on
    private networks and must not call out to a third party."""
    if page.is_file():
        html = page.read_text(encoding="utf-8")
        page.write_text(_ANALYTICS.sub("", html), encoding="utf-8")


def generate_html(reports_dir: Path, group_by: str | None = None) -> None:
    """Render the HTML report from `<reports>/allure-results`. Prints one line; never raises.
    `group_by`: the labels the report's tree groups by (a fleet's: parentSuite, its target, first)."""
    reports_dir = Path(reports_dir).resolve()
    results = reports_dir / RESULTS_DIR
    if not results.is_dir():
        print(f"calls-conformance: no HTML report: {results} does not exist")
        return
    binary = find_allure()
    if binary is None:
        print(f"calls-conformance: no HTML report (the Allure command-line tool is not installed): run `npm ci` "
              f"in a checkout of the suite, or `npx allure@{ALLURE_VERSION} generate {results} --output <dir>`")
        return
    stage = reports_dir / ".allure-build"
    command = [binary, "generate", str(results), "--output", str(stage)]
    command += ["--config", str(ALLURE_CONFIG)] if ALLURE_CONFIG.is_file() else ["--report-name", REPORT_NAME]
    env = dict(os.environ, CALLS_API_REPORTS_DIR=str(reports_dir), NO_COLOR="1")
    if group_by:
        env["CALLS_API_REPORT_GROUP_BY"] = group_by
    try:
        shutil.rmtree(stage, ignore_errors=True)
        done = subprocess.run(command, cwd=reports_dir, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}").splitlines()[-1]
            raise RuntimeError(f"allure generate failed: {last[:300]}")
        outputs = {HTML_DIR: stage / "awesome" if (stage / "awesome").is_dir() else stage,
                   SINGLE_FILE_DIR: stage / "single-file"}
        for name, built in outputs.items():
            if built.is_dir():
                shutil.rmtree(reports_dir / name, ignore_errors=True)
                shutil.move(str(built), str(reports_dir / name))
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        print(f"calls-conformance: HTML report not generated: {REDACT(str(error))}")
        return
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    for page in (reports_dir / HTML_DIR / "index.html", reports_dir / SINGLE_FILE_DIR / "index.html"):
        strip_analytics(page)
    single = reports_dir / SINGLE_FILE_DIR / "index.html"
    extra = f" (single file: {single})" if single.is_file() else ""
    print(f"calls-conformance: HTML report: {reports_dir / HTML_DIR / 'index.html'}{extra}")
