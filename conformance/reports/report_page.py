"""report.html: the run's answer on one self-contained page, verdict first.

Top to bottom: the verdict word with what it covers, the counts and the run's facts; the waivers and the
baseline when they changed the answer; each failure (then each SHOULD warning, then each piece of advice)
with what was sent and what came back, its curl line and its exchange in exchanges.har; the requirements
not run, grouped by reason; the waivers and the baseline otherwise; the retention-window watch's timeline;
and every requirement, anchored by its id (`report.html#CALLS-DELETE-204`), which the Allure report links
to. Inline CSS, no script, nothing loaded from elsewhere: it opens from disk and prints.
"""

from __future__ import annotations

import html
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from conformance.contract.catalogue import AREAS, load_catalogue
from conformance.judgement.verdict import (ADVICE, FAIL, NOT_RUN, OUTCOME_WORDS, PASS, WAIVED, WARN, count_words,
                                          row_word)
from conformance.reports import REPORT_NAME, har

PAGE = "report.html"

#: The colour of each verdict word; any other word is shown neutral.
_VERDICT_CLASS = {"CONFORMANT": "ok", "CONFORMANT WITH WAIVERS": "waived", "NOT CONFORMANT": "bad",
                  "INCOMPLETE": "amber", "TARGET FAILED": "bad", "INTERRUPTED": "amber"}
_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_STYLE = """
body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;padding:1em 1.5em;max-width:80em;color:#222}
h1{font-size:2.6em;margin:.1em 0;letter-spacing:.02em}h2{margin:1.2em 0 .4em;border-bottom:2px solid #ddd}
h3{margin:.2em 0;font-size:1.1em}a{color:#1a56b0}
.verdict{border-left:.5em solid #888;padding:.3em 1em;background:#f4f4f4}
.verdict.ok{border-color:#1e7d32;background:#e9f7ec}.verdict.ok h1{color:#1e7d32}
.verdict.waived{border-color:#2e6b8f;background:#e8f2f8}.verdict.waived h1{color:#2e6b8f}
.verdict.bad{border-color:#b3261e;background:#fde8e8}.verdict.bad h1{color:#b3261e}
.verdict.amber{border-color:#b26a00;background:#fff3d6}.verdict.amber h1{color:#8a5200}
.verdict p{margin:.2em 0}.counts span{display:inline-block;margin-right:1em;white-space:nowrap}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:0 1em;margin:.5em 0;font-size:.9em}
.facts dt{color:#555}.facts dd{margin:0;overflow-wrap:anywhere}
nav{font-size:.9em;margin:.4em 0}nav a{margin-right:1em;white-space:nowrap}
.rid{white-space:nowrap;font-family:ui-monospace,monospace}
.level{font-size:.8em;padding:0 .4em;border:1px solid #999;border-radius:3px;white-space:nowrap}
.finding{border:1px solid #ddd;border-left:.4em solid #b3261e;padding:.4em .8em;margin:.6em 0}
.finding.WARN{border-left-color:#b26a00}.finding.ADVICE{border-left-color:#2e6b8f}
.one{margin:.4em 0 .8em}.msg{white-space:pre-wrap;margin:.2em 0;font-weight:600}.test{color:#555;font-size:.85em}
pre{background:#f6f6f6;border:1px solid #e2e2e2;padding:.4em .6em;white-space:pre-wrap;overflow-wrap:anywhere;
margin:.2em 0;font-size:.85em}
.label{font-size:.8em;color:#555;margin:.4em 0 0}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;
vertical-align:top;overflow-wrap:anywhere}th{background:#fafafa}.reqs td:nth-child(-n+2){white-space:nowrap}
.reqs td:nth-child(4){min-width:14em;width:28%}.reqs td:nth-child(5){width:42%}
tr.FAIL{background:#fde8e8}tr.WARN{background:#fff6d6}tr.ADVICE{background:#eef3fb}tr.PASS{background:#f3faf4}
tr.WAIVED{background:#eef0ff}:target{outline:3px solid #36c}
.small{font-size:.85em;color:#444}.none{color:#777}.counts .none{color:#888}
@media print{body{max-width:none;padding:0;font-size:11pt}nav{display:none}a{color:inherit}
.finding,.group,tr{break-inside:avoid;page-break-inside:avoid}h2{break-after:avoid;page-break-after:avoid}
*{position:static!important}}
"""


def write(reports_dir: Path, verdict: dict[str, Any], scrub: Callable[[str], str] = str) -> Path:
    """Write the page into `reports_dir`; `scrub` takes secrets out of what the verdict quotes."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / PAGE
    path.write_text(report_page(verdict, scrub), encoding="utf-8")
    return path


def report_page(verdict: dict[str, Any], scrub: Callable[[str], str] = str) -> str:
    """The whole page of a verdict (as in verdict.json)."""
    v = _scrubbed(verdict, scrub)
    words = {row["id"]: row_word(row, v.get("strict", False)) for row in v.get("requirements", [])}
    findings = {word: [r for r in v.get("requirements", []) if words[r["id"]] == word] for word in (FAIL, WARN, ADVICE)}
    waivers, baseline = _waivers_section(v), _baseline_section(v)
    early = _waivers_changed_the_answer(v), _baseline_changed_the_answer(v)
    sections = [
        ("waivers", "Waivers", waivers) if early[0] else None,
        ("baseline", "Against the baseline", baseline) if early[1] else None,
        ("failures", "Failures", _findings(findings[FAIL], v) or '<p class="none">No requirement failed.</p>'),
        ("warnings", "Warnings (SHOULD not met)", _findings(findings[WARN], v)),
        ("advice", "Advice (the suite's advice not followed)", _findings(findings[ADVICE], v)),
        ("not-run", "Not run", _not_run_section(v)),
        None if early[0] else ("waivers", "Waivers", waivers),
        None if early[1] else ("baseline", "Against the baseline", baseline),
        ("window", "Retention window and timeline", _window_section(v)),
        ("requirements", "Every requirement", _requirements_table(v, words)),
    ]
    shown = [s for s in sections if s and s[2]]
    nav = "<nav>" + "".join(f'<a href="#{key}">{html.escape(title)}</a>' for key, title, _ in shown) + "</nav>"
    body = "".join(f'<section id="{key}"><h2>{html.escape(title)}</h2>{content}</section>' for key, title, content in shown)
    title = f"{REPORT_NAME}: {v.get('verdict')}"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>{_headline(v)}{nav}{body}</body></html>\n")


def _scrubbed(value: Any, scrub: Callable[[str], str]) -> Any:
    """The verdict with every string it quotes passed through `scrub`."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrubbed(item, scrub) for k, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item, scrub) for item in value]
    return value


def _text(value: Any) -> str:
    """Escaped text whose URLs are links."""
    text, out, at = str(value), [], 0
    for found in _URL.finditer(text):
        url = found.group(0).rstrip(".,;:")
        out.append(html.escape(text[at:found.start()]))
        out.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        at = found.start() + len(url)
    return "".join(out) + html.escape(text[at:])


def _rid(rid: str) -> str:
    return f'<a class="rid" href="#{html.escape(rid)}">{html.escape(rid)}</a>'


# --- the headline ----------------------------------------------------------------------------------
#: Each word the headline counts, in its order, and the section that lists its requirements.
_COUNTED_SECTIONS = ((FAIL, "failures"), (WARN, "warnings"), (ADVICE, "advice"), (WAIVED, "waivers"),
                     (NOT_RUN, "not-run"), (PASS, "requirements"), ("NOT SELECTED", "not-run"),
                     ("UNTESTABLE", "requirements"))


def _headline(v: dict[str, Any]) -> str:
    e = html.escape
    word = str(v.get("verdict"))
    coverage = v.get("coverage") or {}
    covers = ""
    if coverage:
        covers = (f"on all {coverage['total']} testable requirements" if coverage["selected"] >= coverage["total"]
                  else f"on the {coverage['selected']} of {coverage['total']} requirements selected")
    # As the terminal's verdict line: how many requirements passed on part of their probes (the table says which).
    partial = int(v.get("partial") or 0)
    partial_note = f' · <a href="#requirements">{partial} passed on partial evidence</a>' if partial else ""
    lines = [f'<p class="covers">{e(covers)}{" · " if covers else ""}exit code {e(str(v.get("exit_code")))}'
             + (" · strict" if v.get("strict") else "") + partial_note + "</p>"]
    counts = v.get("counts_by_word") or count_words(v)  # the terminal's numbers
    lines.append('<p class="counts">' + "".join(
        f'<span><a href="#{anchor}">{counts.get(name)} {e(name)}</a></span>' if counts.get(name)
        else f'<span class="none">0 {e(name)}</span>' for name, anchor in _COUNTED_SECTIONS) + "</p>")
    failure = v.get("target_failure")
    if failure:
        lines.append(f"<p><strong>The target failed the run</strong> ({e(str(failure.get('stage')))}, "
                     f"{e(str(failure.get('kind')))}, after {e(str(failure.get('requests_sent')))} requests): "
                     f"{_text(failure.get('message', ''))}</p>")
    if v.get("run_error"):
        lines.append(f"<p><strong>The run did not complete:</strong> {e(str(v['run_error']))}</p>")
    return (f'<header class="verdict {_VERDICT_CLASS.get(word, "neutral")}"><div class="small">{e(REPORT_NAME)}</div>'
            f'<h1 id="verdict">{e(word)}</h1>{"".join(lines)}</header>{_facts(v)}')


def _facts(v: dict[str, Any]) -> str:
    """The run's facts: target, accounts, run id, versions, when and how long."""
    target = v.get("target") or {}
    accounts = ", ".join(str(target[k]) for k in ("account_sid", "other_account") if target.get(k))
    duration = v.get("duration_seconds")
    facts = [("Target", (target.get("base_url") or "") + (f" ({target['name']})" if target.get("name")
                                                           and target["name"] != "(none)" else "")
              + (" (embedded reference)" if target.get("embedded_reference") else "")),
             ("Accounts", accounts), ("Run", " · ".join(filter(None, (
                 f"id {target['run_id']}" if target.get("run_id") else "",
                 f"started {v['started_at']}" if v.get("started_at") else "",
                 f"took {duration} s" if duration is not None else "")))),
             ("Versions", f"suite {v.get('suite_version')} · contract {v.get('spec_version')}"
                          f" · verdict.json schema {v.get('schema_version')}")]
    har_file = (v.get("artifacts") or {}).get("har")
    files = ['<a href="verdict.json">verdict.json</a>'] + ([f'<a href="{quote(har_file)}">{html.escape(har_file)}</a>']
                                                           if har_file else [])
    rows = "".join(f"<dt>{name}</dt><dd>{_text(value)}</dd>" for name, value in facts if value)
    rows += f"<dt>Files</dt><dd>{' · '.join(files)}</dd>"
    settings = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{_text(val)}</td></tr>" for k, val in target.items())
    return (f'<dl class="facts">{rows}</dl>'
            + (f"<details class=\"small\"><summary>All settings of the run</summary><table>{settings}</table></details>"
               if settings else ""))


# --- failures, warnings, advice ----------------------------------------------------------------------
def _findings(rows: list[dict[str, Any]], v: dict[str, Any]) -> str:
    """Each failed requirement with every failure: message, test, what was observed, curl, exchange."""
    har_file = (v.get("artifacts") or {}).get("har") or har.FILE
    e = html.escape
    out = []
    for row in rows:
        word = row_word(row, v.get("strict", False))
        parts = [f'<article class="finding {e(word)}" id="finding-{e(row["id"])}"><h3>{e(word)} {_rid(row["id"])} '
                 f'<span class="level">{e(row["level"])}</span> {e(row["title"])}</h3>{_evidence(row)}']
        for failure in row.get("failures", []):
            parts.append(f'<div class="one"><p class="msg">[{e(str(failure.get("code")))}] '
                         f'{_text(failure.get("message") or "")}</p><div class="test">{e(str(failure.get("test")))}</div>')
            if failure.get("count", 1) > 1:
                # One defect seen again and again is one failure: how often, and where first.
                parts.append(f'<p class="small">seen in {int(failure["count"])} answers, first: '
                             f'{e(", ".join(failure.get("places") or []))}</p>')
            if failure.get("observed"):
                parts.append(f'<p class="label">Observed (sent, then answered)</p><pre>{e(failure["observed"])}</pre>')
            if failure.get("reproduce"):
                parts.append(f'<p class="label">Reproduce</p><pre>{e(failure["reproduce"])}</pre>')
            if failure.get("exchange"):
                parts.append(f'<p class="small"><a class="exchange" href="{quote(har_file)}">exchange '
                             f'#{int(failure["exchange"])} in {e(har_file)}</a></p>')
            parts.append("</div>")
        out.append("".join(parts) + "</article>")
    return "".join(out)


def _evidence(row: dict[str, Any]) -> str:
    """The row's evidence summary, when the verdict has one."""
    evidence = row.get("evidence")
    if not isinstance(evidence, dict) or not evidence.get("summary"):
        return ""
    partial = " (partial)" if evidence.get("partial") else ""
    return f'<p class="small evidence">Evidence{partial}: {_text(evidence["summary"])}</p>'


# --- not run -----------------------------------------------------------------------------------------
def _not_run_section(v: dict[str, Any]) -> str:
    """The requirements not run (or not selected), grouped by their reasons, which say how to run them."""
    groups: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = defaultdict(list)
    for row in v.get("requirements", []):
        if row["status"] in ("not-run", "not-selected"):
            groups[(row["status"], tuple(row.get("reasons") or ["no reason recorded"]))].append(row)
    out = []
    for (status, reasons), rows in groups.items():
        word = OUTCOME_WORDS.get(status, status)
        reasons_html = "".join(f"<li>{_text(reason)}</li>" for reason in reasons)
        ids = ", ".join(f'{_rid(r["id"])} <span class="level">{html.escape(r["level"])}</span>' for r in rows)
        out.append(f'<div class="group"><p><strong>{html.escape(word)}</strong> ({len(rows)}): {ids}</p>'
                   f"<ul>{reasons_html}</ul></div>")
    return "".join(out)


# --- waivers and baseline ----------------------------------------------------------------------------
def _waivers_changed_the_answer(v: dict[str, Any]) -> bool:
    info = v.get("waivers") or {}
    return bool(info.get("applied") or info.get("expired") or info.get("stale_failed_the_run"))


def _baseline_changed_the_answer(v: dict[str, Any]) -> bool:
    info = v.get("baseline") or {}
    return info.get("gate") == "regressions" or bool(info.get("regressions"))


def _waivers_section(v: dict[str, Any]) -> str:
    info = v.get("waivers")
    if not info:
        return ""
    e = html.escape
    rows = []
    for w in info.get("in_force", []):
        state = ("applied" if w["requirement"] in info.get("applied", []) else
                 "expired: its failure counts again" if w in info.get("expired", []) else
                 "stale: no failure it covers in this run; remove it" if w in info.get("stale", []) else
                 "not judged in this run")
        rows.append(f"<tr><td>{_rid(w['requirement'])}</td><td>{e(w.get('check') or '')}</td><td>{_text(w['reason'])}</td>"
                    f"<td>{_text(w['reference'])}</td><td>{e(w['expires'])}</td><td>{e(state)}</td></tr>")
    note = " Stale waivers fail the run (--fail-on-stale-waivers)." if info.get("stale_failed_the_run") else ""
    return (f"<p>From {e(str(info.get('path')))}.{e(note)}</p><table><tr><th>Requirement</th><th>Check</th>"
            "<th>Reason</th><th>Reference</th><th>Expires</th><th>In this run</th></tr>" + "".join(rows) + "</table>")


def _baseline_section(v: dict[str, Any]) -> str:
    info = v.get("baseline")
    if not info:
        return ""
    e = html.escape
    by_id = {r["id"]: r for r in v.get("requirements", [])}
    notes = "".join(f"<li>not comparable as is: {e(m)}</li>" for m in info.get("mismatches", []))
    notes += "".join(f"<li>added: {_rid(r)}</li>" for r in info.get("added_requirements", []))
    notes += "".join(f"<li>removed: {e(r)} (not in this run's catalogue)</li>" for r in info.get("removed_requirements", []))
    rows = []
    for t in info.get("transitions", []):
        row = by_id.get(t["id"], {})
        why = t.get("message") or "; ".join(row.get("reasons") or []) or f"{t['before']} before, {t['after']} now"
        regression = t["id"] in info.get("regressions", [])
        rows.append(f'<tr class="{"FAIL" if regression else ""}"><td>{_rid(t["id"])}</td><td>{e(t["level"])}</td>'
                    f'<td>{"REGRESSION: " if regression else ""}{e(t["change"])}</td><td>{e(t["before"])}</td>'
                    f"<td>{e(t['after'])}</td><td>{_text(why)}</td></tr>")
    gate = " (--gate regressions: only these fail the run)" if info.get("gate") == "regressions" else ""
    return (f"<p>{e(str(info.get('path')))} ({e(str(info.get('verdict')))}, {e(str(info.get('started_at')))}): "
            f"{len(info.get('regressions', []))} regressions{e(gate)}</p>" + (f"<ul>{notes}</ul>" if notes else "")
            + "<table><tr><th>Requirement</th><th>Level</th><th>Change</th><th>Before</th><th>Now</th><th>Why</th></tr>"
            + ("".join(rows) or '<tr><td colspan="6">no change</td></tr>') + "</table>")


# --- the window watch --------------------------------------------------------------------------------
def _window_section(v: dict[str, Any]) -> str:
    """What the retention-window watch saw of its call, and the run's timeline, when a watch ran."""
    stats = v.get("stats") or {}
    window, timeline = stats.get("window"), stats.get("timeline") or []
    if not window and not timeline:
        return ""
    e = html.escape
    out = ""
    if window:
        out += (f"<p>The retention-window watch: {e(str(window.get('phase')))}"
                + (f"; not judged: {_text(window['not_judged'])}" if window.get("not_judged") else "")
                + f"</p><pre>{e(str(window.get('account') or ''))}</pre>")
    if timeline:
        out += ('<table class="small"><tr><th>Seconds into the run</th><th>Who</th><th>What</th></tr>'
                + "".join(f"<tr><td>{float(t['at']):.2f}</td><td>{e(str(t['who']))}</td><td>{_text(t['what'])}</td></tr>"
                          for t in timeline) + "</table>")
    return out


# --- every requirement -------------------------------------------------------------------------------
def _requirements_table(v: dict[str, Any], words: dict[str, str]) -> str:
    """One row per requirement, anchored by its id: word, level, id, title, area, source, tests and why."""
    e = html.escape
    catalogue = load_catalogue()
    rows = []
    for row in v.get("requirements", []):
        word = words[row["id"]]
        notes = [f"[{e(str(f.get('code')))}] {_text((f.get('message') or '').splitlines()[0] if f.get('message') else '')}"
                 for f in row.get("failures", [])] or [_text(reason) for reason in row.get("reasons", [])]
        if row.get("waiver"):
            w = row["waiver"]
            notes.insert(0, f"WAIVED: {_text(w['reason'])} ({_text(w['reference'])}, until {e(w['expires'])})")
        if row["failures"] and word in (FAIL, WARN, ADVICE):
            notes.append(f'<a href="#finding-{e(row["id"])}">the failure in detail</a>')
        req = catalogue.get(row["id"])
        source = (f"{e(req.source_kind)}{' ' + _text(req.source_ref) if req.source_ref else ''}" if req else "")
        tests = "<br>".join(f"{e(name)}{f' ({n} cases)' if n > 1 else ''}" for name, n in _tests(row).items())
        rows.append(f'<tr id="{e(row["id"])}" class="{e(word.replace(" ", "-"))}"><td>{e(word)}</td>'
                    f'<td>{e(row["level"])}</td><td>{_rid(row["id"])}</td>'
                    f'<td>{e(row["title"])}<div class="small">{e(AREAS.get(row["area"], row["area"]))}'
                    f'{" · source: " + source if source else ""}</div>{_evidence(row)}</td>'
                    f'<td>{"<br>".join(notes) or ("" if tests else "<span class=none>-</span>")}'
                    f'{f"<div class=small>{tests}</div>" if tests else ""}</td></tr>')
    return ('<table class="reqs"><tr><th>Status</th><th>Level</th><th>Requirement</th><th>Title</th><th>Why, and the tests</th></tr>'
            + "\n".join(rows) + "</table>")


def _tests(row: dict[str, Any]) -> dict[str, int]:
    """The row's tests, each parametrized test once with its number of cases."""
    return Counter(t.removeprefix("conformance/suite/").split("[", 1)[0] for t in row.get("tests", []))
