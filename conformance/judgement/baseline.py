"""Regressions: this run's verdict against a baseline verdict.json, requirement by requirement, and the gate.

Each requirement judged in both runs falls in one of:
  newly failing    it failed now (or was waived) and had not before
  newly passing    it passes now and failed (or was waived) before
  still failing    it fails now and failed before, for the same reasons (failure codes and tests)
  failure changed  it fails now and failed before, for other reasons
  newly not run    it passed or failed before and is not run now
Requirements in one catalogue only (another suite or contract version) are listed as added or removed,
never counted as regressions.

`--gate regressions` fails the run (exit 1) on a newly failing requirement that decides the verdict
(a MUST, or a SHOULD with --strict), and on a MUST newly not run; anything else exits 0. A target
failure or a run error keeps its own exit code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NEWLY_FAILING, NEWLY_PASSING, STILL_FAILING = "newly failing", "newly passing", "still failing"
FAILURE_CHANGED, NEWLY_NOT_RUN = "failure changed", "newly not run"
FAILING = ("failed", "waived")
JUDGED = ("passed", "failed", "waived")
VERSION_KEYS = ("schema_version", "suite_version", "spec_version")
# Exit codes a gate may replace: a verdict (0, 1) or INCOMPLETE (6); target failures and run errors stay.
GATED_EXIT_CODES = (0, 1, 6)


class BaselineError(Exception):
    """A baseline that cannot be read, reported as one line (a usage error)."""


def load(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The baseline verdict: a verdict.json, or a reports directory holding one."""
    path = Path(path)
    if path.is_dir():
        path = path / "verdict.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"baseline not found: {path}") from None
    except OSError as error:
        raise BaselineError(f"cannot read the baseline {path}: {error.strerror}") from None
    except ValueError as error:
        raise BaselineError(f"baseline {path} is not valid JSON: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("requirements"), list) \
            or not all(isinstance(r, dict) and "id" in r and "status" in r for r in data["requirements"]):
        raise BaselineError(f"baseline {path} is not a verdict.json of this suite (no requirement rows)")
    return path, data


def _reasons(row: dict[str, Any]) -> list[tuple[str, str]]:
    # Every test that saw a failure (`seen_by`; one failure may stand for the same defect seen by many tests).
    return sorted({(f.get("code", ""), test.split("[", 1)[0]) for f in row.get("failures", [])
                   for test in f.get("seen_by") or [f.get("test", "")]})


def _transition(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    was, now = before["status"], after["status"]
    if now in FAILING and was in FAILING:
        if now == "failed" and was == "waived":
            return NEWLY_FAILING  # its waiver lapsed
        return STILL_FAILING if _reasons(before) == _reasons(after) else FAILURE_CHANGED
    if now in FAILING and was in ("passed", "not-run", "not-selected"):
        return NEWLY_FAILING if now == "failed" or was == "passed" else None
    if now == "passed" and was in FAILING:
        return NEWLY_PASSING
    if now == "not-run" and was in JUDGED:
        return NEWLY_NOT_RUN
    return None


def compare(current: dict[str, Any], baseline: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The comparison written into verdict.json under `baseline`."""
    now = {r["id"]: r for r in current["requirements"]}
    before = {r["id"]: r for r in baseline["requirements"]}
    transitions = []
    for rid, row in now.items():
        if rid not in before:
            continue
        change = _transition(before[rid], row)
        if change is None:
            continue
        first = (row.get("failures") or [{}])[0]
        transitions.append({"id": rid, "level": row["level"], "change": change, "before": before[rid]["status"],
                            "after": row["status"], "codes_before": [c for c, _ in _reasons(before[rid])],
                            "codes_after": [c for c, _ in _reasons(row)],
                            "message": (first.get("message") or "").splitlines()[0][:200] if first else ""})
    mismatches = [f"{key}: baseline {baseline.get(key)!r}, this run {current.get(key)!r}" for key in VERSION_KEYS
                  if baseline.get(key) != current.get(key)]
    added, removed = sorted(set(now) - set(before)), sorted(set(before) - set(now))
    if added or removed:
        mismatches.append(f"requirements: {len(added)} added, {len(removed)} removed (not counted as regressions)")
    deciding = set(current.get("failed_requirements", []))
    regressions = [t["id"] for t in transitions
                   if (t["change"] == NEWLY_FAILING and t["id"] in deciding)
                   or (t["change"] == NEWLY_NOT_RUN and t["level"] == "MUST")]
    return {"path": str(path), "verdict": baseline.get("verdict"), "started_at": baseline.get("started_at"),
            "schema_version": baseline.get("schema_version"), "suite_version": baseline.get("suite_version"),
            "spec_version": baseline.get("spec_version"), "comparable": not mismatches, "mismatches": mismatches,
            "added_requirements": added, "removed_requirements": removed,
            "counts": {c: sum(t["change"] == c for t in transitions)
                       for c in (NEWLY_FAILING, NEWLY_PASSING, STILL_FAILING, FAILURE_CHANGED, NEWLY_NOT_RUN)},
            "regressions": regressions, "transitions": transitions}


def gate_exit_code(current: dict[str, Any], comparison: dict[str, Any]) -> int:
    """The exit code under --gate regressions."""
    code = int(current["exit_code"])
    if code not in GATED_EXIT_CODES or current.get("target_failure") or current.get("verdict") == "TARGET FAILED":
        return code
    return 1 if comparison["regressions"] else 0


def apply(verdict: dict[str, Any], loaded: tuple[Path, dict[str, Any]], gate: str) -> dict[str, Any]:
    """Compare with the baseline `load` read, write the comparison into the verdict, apply the gate. In place."""
    found, baseline = loaded
    comparison = compare(verdict, baseline, found)
    comparison["gate"] = gate
    verdict["baseline"] = comparison
    if gate == "regressions":
        verdict["exit_code"] = gate_exit_code(verdict, comparison)
    return verdict
