"""requirements.html: the run's requirement list, one row (and anchor) per requirement with its status and
why (each failure with the number of its exchange in exchanges.har), then the waivers and the comparison
with the baseline. A page that opens anywhere; the Allure report links each test's requirements to its
anchors."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable

from conformance.contract.catalogue import AREAS
from conformance.judgement.verdict import ADVICE, OUTCOME_WORDS, WARN
from conformance.reports import REPORT_NAME, har

PAGE = "requirements.html"


def write(reports_dir: Path, verdict: dict[str, Any], scrub: Callable[[str], str] = str) -> Path:
    """Write the page into `reports_dir`; `scrub` takes secrets out of what the verdict quotes."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / PAGE
    path.write_text(requirements_page(verdict, scrub), encoding="utf-8")
    return path


#: The words of the terminal summary (verdict.OUTCOME_WORDS), for the status column.
_WORDS = {**OUTCOME_WORDS, "warning": WARN, "advice": ADVICE}


def requirements_page(verdict: dict[str, Any], scrub: Any = str) -> str:
    """The requirement list with this run's status of each, one anchor per requirement id."""
    e = html.escape
    rows = []
    for row in verdict.get("requirements", []):
        status = "warning" if row["id"] in verdict.get("warnings", []) else \
            "advice" if row["id"] in verdict.get("advisories", []) else row["status"]
        notes = [_failure_note(f, scrub) for f in row.get("failures", [])] \
            or [e(scrub(reason)) for reason in row.get("reasons", [])]
        if row.get("waiver"):
            waiver = row["waiver"]
            notes.insert(0, e(scrub(f"WAIVED: {waiver['reason']} ({waiver['reference']}, until {waiver['expires']})")))
        rows.append(f'<tr id="{e(row["id"])}" class="{e(status)}"><td><a href="#{e(row["id"])}">{e(row["id"])}</a></td>'
                    f'<td>{e(row["level"])}</td><td>{e(AREAS.get(row["area"], row["area"]))}</td>'
                    f'<td>{e(_WORDS.get(status, status))}</td><td>{e(row["title"])}</td>'
                    f'<td>{"<br>".join(notes)}</td></tr>')
    style = ("body{font-family:sans-serif;margin:2em}td,th{border-bottom:1px solid #ddd;padding:4px 8px;"
             "text-align:left;vertical-align:top}.failed{background:#fde8e8}.warning{background:#fff6d6}"
             ".advice{background:#eef3fb}"
             ".passed{background:#e9f7ec}.waived{background:#eef0ff}:target{outline:3px solid #36c}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{REPORT_NAME}: requirements</title>'
            f"<style>{style}</style></head><body><h1>{REPORT_NAME}: requirements</h1>"
            f"<p>Verdict: <strong>{e(str(verdict.get('verdict')))}</strong> &middot; target "
            f"{e(scrub(verdict.get('target', {}).get('base_url', '')))} &middot; started {e(str(verdict.get('started_at')))}</p>"
            "<table><tr><th>Requirement</th><th>Level</th><th>Area</th><th>Status</th><th>Title</th><th>Why</th></tr>\n"
            + "\n".join(rows) + "\n</table>" + _waivers_section(verdict) + _baseline_section(verdict)
            + "</body></html>\n")


def _failure_note(failure: dict[str, Any], scrub: Any) -> str:
    """One failure of a requirement, as HTML: its code, first line and test, and the exchange it observed
    (its entry in the run's exchanges.har)."""
    first = failure["message"].splitlines()[0] if failure["message"] else ""
    seen = f"; seen in {failure['count']} answers, first: {', '.join(failure['places'])}" \
        if failure.get("count", 1) > 1 else ""
    note = html.escape(scrub(f"[{failure['code']}] {first} ({failure['test']}{seen})"))
    if failure.get("exchange"):
        note += f' &middot; <a href="{har.FILE}">exchange #{int(failure["exchange"])} in {har.FILE}</a>'
    return note


def _waivers_section(verdict: dict[str, Any]) -> str:
    """The waivers of a run, for the requirement page."""
    info = verdict.get("waivers")
    if not info:
        return ""
    e = html.escape
    rows = []
    for w in info["in_force"]:
        state = ("applied" if w["requirement"] in info["applied"] else "expired" if w in info["expired"]
                 else "stale: remove it" if w in info["stale"] else "not judged in this run")
        rows.append(f"<tr><td>{e(w['requirement'])}</td><td>{e(w['check'] or '')}</td><td>{e(w['reason'])}</td>"
                    f"<td>{e(w['reference'])}</td><td>{e(w['expires'])}</td><td>{e(state)}</td></tr>")
    return (f"<h2>Waivers</h2><p>From {e(info['path'])}</p><table><tr><th>Requirement</th><th>Check</th>"
            "<th>Reason</th><th>Reference</th><th>Expires</th><th>In this run</th></tr>" + "".join(rows) + "</table>")


def _baseline_section(verdict: dict[str, Any]) -> str:
    """The comparison with the baseline, for the requirement page."""
    info = verdict.get("baseline")
    if not info:
        return ""
    e = html.escape
    notes = "".join(f"<li>{e(m)}</li>" for m in info["mismatches"])
    notes += "".join(f"<li>added: {e(r)}</li>" for r in info["added_requirements"])
    notes += "".join(f"<li>removed: {e(r)}</li>" for r in info["removed_requirements"])
    rows = "".join(f"<tr class=\"{'failed' if t['id'] in info['regressions'] else ''}\"><td>{e(t['id'])}</td>"
                   f"<td>{e(t['level'])}</td><td>{e(t['change'])}</td><td>{e(t['before'])}</td><td>{e(t['after'])}</td>"
                   f"<td>{e(t['message'])}</td></tr>" for t in info["transitions"])
    return (f"<h2>Against the baseline</h2><p>{e(info['path'])} ({e(str(info.get('verdict')))}, "
            f"{e(str(info.get('started_at')))}): {len(info['regressions'])} regressions</p>"
            + (f"<ul>{notes}</ul>" if notes else "")
            + "<table><tr><th>Requirement</th><th>Level</th><th>Change</th><th>Before</th><th>Now</th><th>Why</th></tr>"
            + (rows or "<tr><td colspan=6>no change</td></tr>") + "</table>")
