"""The run's answer in the terminal: one line per requirement, the counts, the verdict line, then what the
waivers did and what changed since the baseline. Plain text, also what a CI job summary shows."""

from __future__ import annotations

from typing import Any

from conformance.judgement.baseline import FAILURE_CHANGED
from conformance.judgement.verdict import EXIT_STALE_WAIVERS, OUTCOME_WORDS, failure_word
from conformance.judgement.waivers import CONFORMANT_WITH_WAIVERS
from conformance.deployment.redaction import cut_words


def summary_lines(verdict: dict[str, Any]) -> list[str]:
    """Everything the terminal shows of a verdict.json, in order."""
    return requirement_lines(verdict) + waiver_lines(verdict) + baseline_lines(verdict)


def requirement_lines(verdict: dict[str, Any]) -> list[str]:
    """One line per requirement, the counts, and the answer (the verdict line last)."""
    lines = []
    for row in verdict["requirements"]:
        mark = OUTCOME_WORDS[row["status"]]
        if row["status"] == "failed":
            mark = failure_word(row["level"], verdict.get("strict", False))
        why = ""
        if row["failures"]:
            first = row["failures"][0]
            why = f"  {first['test']}: [{first['code']}] {first['message'].splitlines()[0]}"
            if first.get("count", 1) > 1:
                why += f" (seen in {first['count']} answers)"
            if len(row["failures"]) > 1:
                why += f" (+{len(row['failures']) - 1} more in verdict.json)"
            if row.get("waiver"):
                why = f"  {row['waiver']['reason']} ({row['waiver']['reference']}, until {row['waiver']['expires']}):{why}"
            elif row.get("waiver_expired"):
                why += f"  (its waiver expired on {row['waiver_expired']['expires']})"
        elif row["status"] in ("not-run", "not-selected"):
            why = "  " + cut_words("; ".join(row["reasons"]), 160)
        elif (row.get("evidence") or {}).get("summary"):
            why = "  " + row["evidence"]["summary"]  # passed on part of its probes: what it rests on
        lines.append(f"{mark:<12} {row['level']:<8} {row['id']}{why}")
    c = verdict["counts"]
    lines.append("")
    lines.append(f"{c['passed']} passed, {c['failed']} failed ({len(verdict['warnings'])} SHOULD warnings, "
                 f"{len(verdict.get('advisories', []))} advice), "
                 f"{c['not-run']} not run, {c['not-selected']} not selected, {c['untestable']} untestable"
                 + (f", {c['waived']} waived" if c.get("waived") else ""))
    failure = verdict.get("target_failure")
    if failure:
        lines.append(f"TARGET FAILED ({failure['stage']}, {failure['kind']}): {failure['message']}")
    lines.append(verdict_line(verdict))
    return lines


def verdict_line(verdict: dict[str, Any]) -> str:
    """`VERDICT: ...`, saying what it covers when not every requirement was selected, and how many
    requirements passed on part of their probes."""
    coverage = verdict.get("coverage") or {}
    covers = ""
    if coverage and coverage.get("selected", 0) < coverage.get("total", 0):
        covers = f" on the {coverage['selected']} of {coverage['total']} requirements selected"
    partial = verdict.get("partial") or 0
    if partial:
        covers += f", {partial} passed on partial evidence"
    return f"VERDICT: {verdict['verdict']}{covers} (exit code {verdict['exit_code']})"


def waiver_lines(verdict: dict[str, Any]) -> list[str]:
    """What the waivers did, for the end of the terminal summary."""
    info = verdict.get("waivers")
    if not info:
        return []
    lines = []
    for w in info["expired"]:
        lines.append(f"EXPIRED WAIVER {w['requirement']}: the waiver expired on {w['expires']} ({w['reference']}); "
                     f"its failure counts again")
    for w in info["stale"]:
        lines.append(f"STALE WAIVER   {w['requirement']}{' [' + w['check'] + ']' if w['check'] else ''}: "
                     f"no failure it covers in this run; remove it from {info['path']} ({w['reference']})")
    if verdict["verdict"] == CONFORMANT_WITH_WAIVERS:
        lines.append(f"CONFORMANT WITH WAIVERS: every failure is a known deviation waived in {info['path']} "
                     f"({', '.join(info['applied'])})")
    if info["stale_failed_the_run"]:
        lines.append(f"stale waivers fail the run (--fail-on-stale-waivers): exit code {EXIT_STALE_WAIVERS}")
    return lines


def baseline_lines(verdict: dict[str, Any]) -> list[str]:
    """A short table of the changes since the baseline, for the terminal summary."""
    info = verdict.get("baseline")
    if not info:
        return []
    lines = ["", f"Against the baseline {info['path']} ({info.get('verdict')}, {info.get('started_at')}):"]
    lines += [f"  not comparable as is: {m}" for m in info["mismatches"]]
    for rid in info["added_requirements"]:
        lines.append(f"  added      {rid} (not in the baseline)")
    for rid in info["removed_requirements"]:
        lines.append(f"  removed    {rid} (not in this run's catalogue)")
    for t in info["transitions"]:
        mark = "REGRESSION " if t["id"] in info["regressions"] else ""
        codes = f"  [{', '.join(t['codes_before']) or '-'} -> {', '.join(t['codes_after']) or '-'}]" \
            if t["change"] == FAILURE_CHANGED else ""
        lines.append(f"  {mark}{t['change']:<15} {t['level']:<6} {t['id']}  {t['before']} -> {t['after']}{codes}")
    if not info["transitions"]:
        lines.append("  no change")
    counts = ", ".join(f"{n} {c}" for c, n in info["counts"].items() if n)
    lines.append(f"  {counts or 'nothing changed'}; {len(info['regressions'])} regressions"
                 + (" (--gate regressions: only these fail the run)" if info["gate"] == "regressions" else ""))
    return lines
