"""The verdict: the overall answer from the ledger (ledger.py), `verdict.json` and the exit code.

Overall answer:
  NOT CONFORMANT  a MUST requirement failed (or a SHOULD one, with --strict)
  INCOMPLETE      nothing failed, but a selected testable requirement was not run (configuration, error)
  CONFORMANT      every selected testable requirement passed (SHOULD failures are listed as warnings)
  TARGET FAILED   the target failed the run (preflight, circuit breaker, run budget) and no MUST failed;
                  `target_failure` says how. Never CONFORMANT, never exit 0.
  INTERRUPTED     the run was interrupted (Ctrl-C, SIGTERM) before it could tell, and had found no MUST
                  failure and no target failure (those stand); the requirements of the tests not reached
                  are NOT RUN. Exit code 2. Set by the runner (runner/finish.py), after the waivers.

A failed ADVISORY requirement (the suite's own advice) is listed among the advisories and never changes
the answer, not even with --strict.

One word per outcome, the same from the pytest progress line to the Allure report (`OUTCOME_WORDS`).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.deployment.redaction import cut_words
from conformance.judgement.ledger import Evidence, Ledger, requirement_status

CONFORMANT, NOT_CONFORMANT, INCOMPLETE = "CONFORMANT", "NOT CONFORMANT", "INCOMPLETE"
TARGET_FAILED = "TARGET FAILED"
INTERRUPTED = "INTERRUPTED"

# Exit codes of a run (documented in the README). 2-5 are pytest's own.
EXIT_CONFORMANT = 0
EXIT_NOT_CONFORMANT = 1
EXIT_INTERRUPTED = 2  # Ctrl-C or SIGTERM (verdict INTERRUPTED); also pytest's code for collection errors
EXIT_INTERNAL_ERROR = 3
EXIT_USAGE_ERROR = 4
EXIT_NO_TESTS = 5
EXIT_INCOMPLETE = 6
EXIT_PREFLIGHT_FAILED = 7
EXIT_TARGET_FAILED = 8  # the target stopped answering during the run, or the run budget ran out
EXIT_STALE_WAIVERS = 9  # with --fail-on-stale-waivers (waivers.py)

VERDICT_SCHEMA_VERSION = 2

PASS, FAIL, WARN, ADVICE, WAIVED, NOT_RUN = "PASS", "FAIL", "WARN", "ADVICE", "WAIVED", "NOT RUN"
#: The word of each requirement status in every report.
OUTCOME_WORDS = {"passed": PASS, "failed": FAIL, "not-run": NOT_RUN, "not-selected": "NOT SELECTED",
                 "untestable": "UNTESTABLE", "waived": WAIVED}


def failure_word(level: str, strict: bool) -> str:
    """The word of a failed requirement of `level`: FAIL when it decides the verdict, else WARN or ADVICE."""
    if level == "ADVISORY":
        return ADVICE
    if level == "MUST" or strict:
        return FAIL
    return WARN


#: The words the counts of a verdict are given in (`counts_by_word`), in the order every report lists them.
COUNTED_WORDS = (PASS, FAIL, WARN, ADVICE, WAIVED, NOT_RUN, "NOT SELECTED", "UNTESTABLE")


def count_words(verdict: dict[str, Any]) -> dict[str, int]:
    """How many requirements got each word of the verdict (a failure as FAIL, WARN or ADVICE): what the
    terminal, JUnit and Allure say of the run, so that their numbers agree."""
    counts = {word: 0 for word in COUNTED_WORDS}
    for row in verdict.get("requirements", []):
        counts[row_word(row, verdict.get("strict", False))] += 1
    return counts


def row_word(row: dict[str, Any], strict: bool) -> str:
    """The word of a requirement's row of the verdict: its outcome, a failure as FAIL, WARN or ADVICE."""
    if row["status"] == "failed":
        return failure_word(row["level"], strict)
    return OUTCOME_WORDS[row["status"]]


def decide(ledger: Ledger, strict: bool) -> tuple[str, list[dict[str, Any]]]:
    """The overall answer and the per-requirement rows."""
    rows = []
    must_failed = should_failed = not_run = False
    for rid, req in ledger.catalogue.items():
        ev = ledger.evidence[rid]
        status = requirement_status(req, ev)
        if status == "failed":
            if failure_word(req.level, strict) == FAIL:
                must_failed = True
            else:
                should_failed = True
        if status == "not-run" and req.level in ("MUST", "SHOULD"):
            not_run = True
        reasons = sorted({reason for _, reason in ev.not_run} | set(ev.probes.unsent))
        if status == "not-run" and not reasons:
            reasons = ["no selected test checks it"] if ev.collected else ["no test checks it"]
        if status == "not-selected":
            reasons = ["its tests were deselected (-m/-k)"]
        if status == "untestable":
            reasons = [req.untestable_reason or "not observable through the API"]
        if status == "not-run" and ev.passed_by and not reasons:
            reasons = ["its tests sent no request that probes it"]
        if status == "failed":
            reasons = []  # a failure is the answer: what other tests left unjudged changes nothing (evidence keeps it)
        rows.append({
            "id": rid, "level": req.level, "area": req.area, "title": req.title, "status": status,
            "tests": sorted(set(ev.passed_by) | {test for f in ev.failures for test in f.seen_by}),
            "failures": [f.as_dict() for f in ev.failures], "reasons": reasons,
            "evidence": evidence_of(ev, status),
        })
    del should_failed  # SHOULD failures do not change the answer unless strict; they are listed as warnings
    if must_failed:
        return NOT_CONFORMANT, rows
    if not_run:
        return INCOMPLETE, rows
    return CONFORMANT, rows


def short_reason(reason: str) -> str:
    """A few words for why probes were not sent: the option they need, when the reason names one."""
    match = re.search(r"\b(?:pass|no) (--[a-z-]+)", reason)
    if match:
        return f"need {match.group(1)}"
    return cut_words(re.split(r"[:(]", reason, maxsplit=1)[0].strip(), 60)


def evidence_of(ev: Evidence, status: str) -> dict[str, Any]:
    """What a requirement's answer rests on: its probes (planned, sent, judged), why the others were not
    sent, and the calls it read. `partial` when it passed on part of its probes; `summary` says so in a few
    words ("on 2 of 12 probes: 10 need --allow-create"), empty when the evidence is complete."""
    counted = ev.probes
    grouped: dict[str, int] = {}
    for reason, count in counted.unsent.items():
        grouped[short_reason(reason)] = grouped.get(short_reason(reason), 0) + count
    unsent = sorted(grouped.items(), key=lambda item: -item[1])  # the most common reason first
    created = sorted(sid for sid, made in ev.calls.items() if made)
    observed = sorted(sid for sid, made in ev.calls.items() if not made)
    partial = status == "passed" and counted.judged < counted.planned
    summary = ""
    if partial:
        why = [f"{count} {reason}" for reason, count in unsent]
        if counted.sent > counted.judged:
            why.append(f"{counted.sent - counted.judged} sent but not judged")
        summary = f"on {counted.judged} of {counted.planned} probes: {', '.join(why)}"
    return {"probes": {"planned": counted.planned, "sent": counted.sent, "judged": counted.judged},
            "calls": {"created": len(created), "observed": len(observed), "sids": created + observed},
            "partial": partial, "unsent": [{"count": n, "reason": r} for r, n in unsent],
            "summary": summary}


def exit_code_for(answer: str, accept_incomplete: bool, target_failure: dict[str, Any] | None = None) -> int:
    if answer == NOT_CONFORMANT:
        return EXIT_NOT_CONFORMANT
    if answer == TARGET_FAILED:
        return EXIT_PREFLIGHT_FAILED if (target_failure or {}).get("stage") == "preflight" else EXIT_TARGET_FAILED
    if answer == INCOMPLETE and not accept_incomplete:
        return EXIT_INCOMPLETE
    return EXIT_CONFORMANT


def build_verdict(ledger: Ledger, *, strict: bool, accept_incomplete: bool, target: dict[str, Any],
                  spec_version: str, started: float, stats: dict[str, Any],
                  target_failure: dict[str, Any] | None = None,
                  artifacts: dict[str, str] | None = None) -> dict[str, Any]:
    """`target_failure`: how the target failed the run ({stage, kind, message, requests_sent}), or None.
    `artifacts`: the other files of the run, by kind, relative to the reports directory ({"har": ...})."""
    answer, rows = decide(ledger, strict)
    if target_failure and answer != NOT_CONFORMANT:
        answer = TARGET_FAILED
    counts = {s: 0 for s in ("passed", "failed", "waived", "not-run", "not-selected", "untestable")}
    for row in rows:
        counts[row["status"]] += 1
    failed = [r for r in rows if r["status"] == "failed"]
    warnings = [r["id"] for r in failed if failure_word(r["level"], strict) == WARN]
    advisories = [r["id"] for r in failed if failure_word(r["level"], strict) == ADVICE]
    testable = [r for r in rows if r["status"] != "untestable"]
    coverage = {"selected": sum(1 for r in testable if r["status"] != "not-selected"), "total": len(testable)}
    result = {
        "schema_version": VERDICT_SCHEMA_VERSION,
        "verdict": answer,
        "exit_code": exit_code_for(answer, accept_incomplete, target_failure),
        "target_failure": target_failure,
        "strict": strict,
        "suite_version": __version__,
        "spec_version": spec_version,
        "target": target,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_seconds": round(time.time() - started, 2),
        "counts": counts,
        "warnings": warnings,
        "advisories": advisories,
        "failed_requirements": [r["id"] for r in failed if failure_word(r["level"], strict) == FAIL],
        "coverage": coverage,
        "partial": sum(1 for r in rows if r["evidence"]["partial"]),  # passed on part of their probes
        "stats": stats,
        "artifacts": dict(artifacts or {}),
        "requirements": rows,
    }
    result["counts_by_word"] = count_words(result)
    return result


def write_verdict(verdict: dict[str, Any], reports_dir: Path) -> Path:
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / "verdict.json"
    path.write_text(json.dumps(verdict, indent=2) + "\n", encoding="utf-8")
    return path
