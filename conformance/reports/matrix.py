"""The fleet matrix: requirement x target from the verdict.json of many runs, and one combined Allure result set.

`merge(run_dirs, out)` reads each run's reports directory (its verdict.json and allure-results/) and writes
  <out>/matrix.md         the matrix in Markdown (a CI job summary, a pull-request comment)
  <out>/matrix.html       the matrix as one self-contained page (no script, no external resource)
  <out>/matrix.json       the same data, for tools
  <out>/allure-results/   every run's results, each carrying its target (label `target`, parent suite and
                          parameter `target`), so one Allure report shows one target or all
and returns the fleet's exit code: the worst of the runs' (WORST_FIRST).
"""

from __future__ import annotations

import hashlib
import html
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from conformance.judgement.baseline import BaselineError, load as load_verdict
from conformance.judgement.verdict import OUTCOME_WORDS
from conformance.reports import RESULTS_DIR

# The fleet's exit code is the worst of its targets': a run that could not be made at all first, then a
# target that failed, then a verdict, then an incomplete one; 0 only when every target exits 0.
WORST_FIRST = (3, 2, 4, 7, 8, 1, 9, 6, 5, 0)
WORDS = ("PASS", "FAIL", "WARN", "ADVICE", "WAIVED", "NOT RUN", "NOT SELECTED", "UNTESTABLE", "TARGET FAILED")
MATRIX_MD, MATRIX_HTML, MATRIX_JSON = "matrix.md", "matrix.html", "matrix.json"
_EXIT_MEANING = {0: "exit 0", 1: "NOT CONFORMANT", 2: "interrupted", 3: "internal error", 4: "usage error",
                 5: "no test selected", 6: "INCOMPLETE", 7: "preflight failed", 8: "target failed during the run",
                 9: "stale waivers"}


def worst_exit_code(codes: Iterable[int]) -> int:
    codes = list(codes)
    ranked = [c for c in WORST_FIRST if c in codes]
    unknown = [c for c in codes if c not in WORST_FIRST]
    return unknown[0] if unknown else (ranked[0] if ranked else 0)


@dataclass
class TargetRun:
    """One target's run as the matrix sees it: its name, reports directory, verdict (None: no verdict.json)."""

    name: str
    reports_dir: Path
    verdict: dict[str, Any] | None
    exit_code: int
    note: str = ""

    @property
    def target_failed(self) -> bool:
        v = self.verdict
        if v is None:
            return self.exit_code in (7, 8)
        return bool(v.get("target_failure")) or v.get("verdict") == "TARGET FAILED"

    @property
    def verdict_word(self) -> str:
        if self.verdict is None:
            return "TARGET FAILED" if self.target_failed else f"NO VERDICT ({_EXIT_MEANING.get(self.exit_code, 'exit')})"
        return str(self.verdict.get("verdict"))

    @property
    def base_url(self) -> str:
        return str(((self.verdict or {}).get("target") or {}).get("base_url") or "")


def read_run(reports_dir: Path, name: str | None = None, exit_code: int | None = None, note: str = "") -> TargetRun:
    """A run from its reports directory; a missing or unreadable verdict.json leaves a column with no verdict."""
    reports_dir = Path(reports_dir)
    try:
        _, verdict = load_verdict(reports_dir)
    except BaselineError as error:
        verdict, note = None, note or str(error)
    if name is None:
        given = ((verdict or {}).get("target") or {}).get("name")
        name = given if given and given != "(none)" else reports_dir.name
    code = exit_code if exit_code is not None else int((verdict or {}).get("exit_code", 3))
    return TargetRun(name, reports_dir, verdict, code, note)


def cell(run: TargetRun, row: dict[str, Any] | None) -> tuple[str, str]:
    """The word of one requirement on one target, and why (the failure, the waiver, the reason not run). A
    target without a verdict says why once, in its own note, not in each of its cells."""
    if run.verdict is None:
        return ("TARGET FAILED" if run.target_failed else "NOT RUN"), ""
    if row is None:
        return "NOT RUN", "not in this run's catalogue"
    word = OUTCOME_WORDS.get(row["status"], row["status"].upper())
    if row["status"] == "failed":
        if row["id"] in run.verdict.get("advisories", []):
            word = "ADVICE"
        elif row["id"] in run.verdict.get("warnings", []):
            word = "WARN"
    if word == "NOT RUN" and run.target_failed:
        word = "TARGET FAILED"
    failures = row.get("failures") or []
    if row.get("waiver"):
        why = f"{row['waiver']['reason']} ({row['waiver']['reference']}, until {row['waiver']['expires']})"
    elif failures:
        first = failures[0]
        why = f"[{first.get('code')}] {(first.get('message') or '').splitlines()[0] if first.get('message') else ''}"
    else:
        why = "; ".join(row.get("reasons") or [])
    if word == "TARGET FAILED":
        why = str((run.verdict.get("target_failure") or {}).get("message") or why)
    return word, why[:300]


def build(runs: list[TargetRun]) -> dict[str, Any]:
    """The matrix: one row per requirement (the catalogue order of the runs), one cell per target."""
    order: dict[str, dict[str, Any]] = {}
    for run in runs:
        for row in (run.verdict or {}).get("requirements", []):
            order.setdefault(row["id"], row)
    rows = []
    for rid, first in order.items():
        cells = []
        for run in runs:
            mine = next((r for r in (run.verdict or {}).get("requirements", []) if r["id"] == rid), None)
            word, why = cell(run, mine)
            cells.append({"target": run.name, "word": word, "why": why})
        rows.append({"id": rid, "level": first.get("level", ""), "title": first.get("title", ""), "cells": cells})
    targets = [{"name": r.name, "verdict": r.verdict_word, "exit_code": r.exit_code, "base_url": r.base_url,
                "reports_dir": str(r.reports_dir), "note": r.note if r.verdict is None else ""} for r in runs]
    return {"targets": targets, "requirements": rows, "exit_code": worst_exit_code(r.exit_code for r in runs)}


def terminal_lines(matrix: dict[str, Any]) -> list[str]:
    """The matrix in aligned columns (two spaces at least between them), then each target's verdict and note."""
    head = ["requirement", "level", *(t["name"] for t in matrix["targets"])]
    rows = [[row["id"], row["level"], *(c["word"] for c in row["cells"])] for row in matrix["requirements"]]
    widths = [max(len(line[i]) for line in [head, *rows]) for i in range(len(head))]

    def aligned(line: list[str]) -> str:
        return "  ".join(f"{text:<{width}}" for text, width in zip(line, widths)).rstrip()

    lines = [aligned(head), "-" * (sum(widths) + 2 * (len(widths) - 1)), *map(aligned, rows), ""]
    for t in matrix["targets"]:
        lines.append(f"{t['name']}: {t['verdict']} (exit code {t['exit_code']}) {t['base_url']}".rstrip())
        if t.get("note"):
            lines.append(f"  {t['note']}")
    lines.append(f"FLEET: exit code {matrix['exit_code']} (the worst of the targets')")
    return lines


def _md(text: Any) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def markdown(matrix: dict[str, Any]) -> str:
    names = [t["name"] for t in matrix["targets"]]
    out = ["# Calls API conformance: fleet matrix", "", "| target | verdict | exit code | base URL |",
           "|---|---|---|---|"]
    out += [f"| {_md(t['name'])} | **{_md(t['verdict'])}**{': ' + _md(t['note']) if t.get('note') else ''} | "
            f"{t['exit_code']} | {_md(t['base_url'])} |" for t in matrix["targets"]]
    out += ["", f"Fleet exit code: **{matrix['exit_code']}** (the worst of the targets').", "",
            "| requirement | level | " + " | ".join(_md(n) for n in names) + " |",
            "|---|---|" + "---|" * len(names)]
    for row in matrix["requirements"]:
        cells = [c["word"] if c["word"] in ("PASS", "NOT SELECTED", "UNTESTABLE") or not c["why"]
                 else f"{c['word']}: {_md(c['why'][:80])}" for c in row["cells"]]
        out.append(f"| {row['id']} | {row['level']} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


_CSS = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ddd;"
        "padding:3px 6px;text-align:left;vertical-align:top;font-size:13px}th{background:#f4f4f4}"
        "small{display:block;color:#555;max-width:22em}.PASS{background:#e9f7ec}.FAIL{background:#fde8e8}"
        ".WARN,.ADVICE{background:#fff6d6}.WAIVED{background:#eef0ff}.TARGET-FAILED{background:#f3d6f0}"
        ".NOT-RUN{background:#f1f1f1}:target{outline:3px solid #36c}")


def html_page(matrix: dict[str, Any]) -> str:
    e = html.escape
    heads = "".join(f'<th class="target" data-target="{e(t["name"])}">{e(t["name"])}<small>{e(t["verdict"])} '
                    f'(exit {t["exit_code"]})</small><small>{e(t["base_url"])}</small>'
                    + (f'<small class="note">{e(t["note"])}</small>' if t.get("note") else "") + "</th>"
                    for t in matrix["targets"])
    body = []
    for row in matrix["requirements"]:
        cells = "".join(f'<td class="{e(c["word"].replace(" ", "-"))}" title="{e(c["why"])}">{e(c["word"])}'
                        + (f"<small>{e(c['why'][:120])}</small>" if c["why"] and c["word"] not in ("PASS",) else "")
                        + "</td>" for c in row["cells"])
        body.append(f'<tr id="{e(row["id"])}"><th><a href="#{e(row["id"])}">{e(row["id"])}</a>'
                    f'<small>{e(row["title"])}</small></th><td>{e(row["level"])}</td>{cells}</tr>')
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>Calls API conformance: fleet matrix</title><style>{_CSS}</style></head><body>"
            f"<h1>Calls API conformance: fleet matrix</h1><p>{len(matrix['targets'])} targets; fleet exit code "
            f"<strong>{matrix['exit_code']}</strong> (the worst of the targets'). Each cell: "
            + ", ".join(f'<span class="{w.replace(" ", "-")}">{w}</span>' for w in WORDS)
            + "; the reason shows under it and in its tooltip.</p>"
            f"<table><tr><th>Requirement</th><th>Level</th>{heads}</tr>\n" + "\n".join(body)
            + "\n</table></body></html>\n")


def _tagged(result: dict[str, Any], name: str) -> dict[str, Any]:
    """A result of one target's run, marked with its target: Allure 3 tells results apart by their parameters."""
    labels = [lb for lb in result.get("labels", []) if lb.get("name") not in ("parentSuite", "target")]
    result["labels"] = [*labels, {"name": "parentSuite", "value": name}, {"name": "target", "value": name}]
    result["parameters"] = [*(p for p in result.get("parameters", []) if p.get("name") != "target"),
                            {"name": "target", "value": name}]
    for key in ("historyId", "testCaseId"):
        if result.get(key):
            result[key] = hashlib.md5(f"{result[key]}:{name}".encode()).hexdigest()
    return result


def combine_allure(runs: list[TargetRun], out: Path) -> Path:
    """One allure-results directory from every run's, each result carrying its target."""
    combined = out / RESULTS_DIR
    shutil.rmtree(combined, ignore_errors=True)
    combined.mkdir(parents=True)
    for run in runs:
        source = run.reports_dir / RESULTS_DIR
        if not source.is_dir():
            continue
        for path in source.iterdir():
            if path.name.endswith("-result.json"):
                try:
                    result = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                (combined / path.name).write_text(json.dumps(_tagged(result, run.name)), encoding="utf-8")
            elif path.name == "categories.json":
                if not (combined / path.name).exists():
                    shutil.copyfile(path, combined / path.name)
            elif path.is_file() and path.name not in ("environment.properties", "executor.json"):
                shutil.copyfile(path, combined / path.name)
    lines = [f"target.{r.name}={r.verdict_word} (exit code {r.exit_code}) {r.base_url}".rstrip() for r in runs]
    (combined / "environment.properties").write_text(
        "".join(line.replace("\\", "\\\\").replace("\n", " ") + "\n" for line in lines), encoding="utf-8")
    return combined


def unique_names(runs: list[TargetRun]) -> None:
    seen: dict[str, int] = {}
    for run in runs:
        n = seen.get(run.name, 0)
        seen[run.name] = n + 1
        if n:
            run.name = f"{run.name}-{n + 1}"


def write(runs: list[TargetRun], out: Path) -> dict[str, Any]:
    """Write the matrix files and the combined Allure results; return the matrix."""
    out.mkdir(parents=True, exist_ok=True)
    unique_names(runs)
    matrix = build(runs)
    (out / MATRIX_JSON).write_text(json.dumps(matrix, indent=2) + "\n", encoding="utf-8")
    (out / MATRIX_MD).write_text(markdown(matrix), encoding="utf-8")
    (out / MATRIX_HTML).write_text(html_page(matrix), encoding="utf-8")
    combine_allure(runs, out)
    return matrix


def find_run_dirs(paths: Iterable[str | Path]) -> list[Path]:
    """Reports directories: each path holding a verdict.json, or else each of its subdirectories that does."""
    found: list[Path] = []
    for path in map(Path, paths):
        if (path / "verdict.json").is_file() or not path.is_dir():
            found.append(path)
        else:
            found += sorted(p.parent for p in path.glob("*/verdict.json")) or [path]
    return found
