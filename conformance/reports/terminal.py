"""The run's answer in the terminal: one line per requirement, the counts, the verdict line, then what the
waivers did and what changed since the baseline. Plain text, also what a CI job summary shows."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Iterable

from conformance.judgement.baseline import FAILURE_CHANGED
from conformance.judgement.verdict import (ADVICE, CONFORMANT, EXIT_STALE_WAIVERS, FAIL, INCOMPLETE, NOT_CONFORMANT,
                                           NOT_RUN, PASS, TARGET_FAILED, WAIVED, WARN, count_words, row_word)
from conformance.judgement.waivers import CONFORMANT_WITH_WAIVERS
from conformance.deployment.redaction import cut_words


def summary_lines(verdict: dict[str, Any]) -> list[str]:
    """Everything the terminal shows of a verdict.json, in order."""
    return requirement_lines(verdict) + waiver_lines(verdict) + baseline_lines(verdict)


def requirement_lines(verdict: dict[str, Any]) -> list[str]:
    """One line per requirement, the counts, and the answer (the verdict line last)."""
    return requirement_rows(verdict) + [""] + answer_lines(verdict)


def requirement_rows(verdict: dict[str, Any]) -> list[str]:
    """One line per requirement: its word, its level, its id, and why (its first failure, or the reason)."""
    lines = []
    for row in verdict["requirements"]:
        mark = row_word(row, verdict.get("strict", False))
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
    return lines


def answer_lines(verdict: dict[str, Any]) -> list[str]:
    """The counts of the requirements by word, how the target failed (if it did), and the verdict line."""
    lines = [counts_line(verdict)]
    failure = verdict.get("target_failure")
    if failure:
        lines.append(f"TARGET FAILED ({failure['stage']}, {failure['kind']}): {failure['message']}")
    return lines + [verdict_line(verdict)]


def counts_line(verdict: dict[str, Any]) -> str:
    """`51 requirements: 48 PASS, 1 FAIL, 1 WARN, 1 UNTESTABLE`, in the verdict's words (`counts_by_word`):
    PASS and FAIL always, the other words when some requirement got them."""
    counts = verdict.get("counts_by_word") or count_words(verdict)
    shown = [f"{n} {word}" for word, n in counts.items() if n or word in (PASS, FAIL)]
    total = sum(counts.values())
    return f"{total} requirement{'' if total == 1 else 's'}: {', '.join(shown)}"


#: The colour of each word where the terminal shows colour: of a requirement's outcome, and of the answer.
WORD_COLOURS = {PASS: "green", FAIL: "red", WARN: "yellow", ADVICE: "cyan", WAIVED: "blue", NOT_RUN: "yellow",
                TARGET_FAILED: "red"}
VERDICT_COLOURS = {CONFORMANT: "green", CONFORMANT_WITH_WAIVERS: "green", NOT_CONFORMANT: "red",
                   INCOMPLETE: "yellow", TARGET_FAILED: "red"}
_VERDICT = re.compile("VERDICT: (" + "|".join(sorted(map(re.escape, VERDICT_COLOURS), key=len, reverse=True)) + ")")
_COUNT = re.compile(r"\b([1-9][0-9]*) (" + "|".join(map(re.escape, WORD_COLOURS)) + r")\b")


def spans(line: str) -> list[tuple[str, str | None]]:
    """A summary line in pieces, each with its colour (None: none): the verdict line in its answer's colour,
    a requirement line's first word, each word of the counts that some requirement got."""
    verdict = _VERDICT.match(line)
    if verdict:
        return [(line, VERDICT_COLOURS[verdict.group(1)])]
    first = next((w for w in WORD_COLOURS if line.startswith(w + " ")), None)
    if first is not None:
        return [(first, WORD_COLOURS[first]), (line[len(first):], None)]
    pieces: list[tuple[str, str | None]] = []
    at = 0
    for count in _COUNT.finditer(line) if re.match(r"\d+ requirements?: ", line) else ():
        pieces += [(line[at:count.start()], None), (count.group(0), WORD_COLOURS[count.group(2)])]
        at = count.end()
    return [p for p in pieces + [(line[at:], None)] if p[0]]


def skipped_lines(reasons: Iterable[str]) -> list[str]:
    """The tests skipped, one line per reason with how many tests it skipped, the most frequent first."""
    return [f"SKIPPED {n} test{'' if n == 1 else 's'}: {reason}" for reason, n in Counter(reasons).most_common()]


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
