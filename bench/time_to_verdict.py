"""Time to verdict: the benchmark rows that wait on real time, measured on their own (a few minutes,
not the whole bench). Uses the measurements of bench/measurements.py.

    python bench/time_to_verdict.py [--runs 1] [--with-window] [--json PATH] [--output docs/benchmarks.md]

Rows: the default run against the embedded reference; an external-style run (`-m "not slow"`, a
reference server treated as an external target, --window 60) with the standard timings (10 s calls)
and with 30 s calls; with --with-window, the retention-window run (`-m window`, --window 60) and the
whole run with that window. Each says its goal (docs/benchmarks.md, "Time to verdict").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import measurements
from process import BENCH_DIR, load_average, snapshot_code
from report import EMBEDDED_TARGET, FLEET_MARK, TIME_TO_VERDICT_MARK, VERDICT_SLACK, WINDOW_TARGET
from suite_run import Bench
from tables import markdown_table, number


def _median(runs: list[dict[str, Any]], *path: str) -> float | None:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, (int, float)):
            values.append(float(value))
    return statistics.median(values) if values else None


def rows(results: dict[str, list[dict[str, Any]]]) -> list[list[str]]:
    # A run may end at most VERDICT_SLACK after what it must wait for: the call it follows, and the window.
    goals = {"embedded-default": EMBEDDED_TARGET, "external-not-slow": measurements.CALL_LENGTH + VERDICT_SLACK,
             "external-not-slow-30s-calls": 30.0 + VERDICT_SLACK,
             "window-only": WINDOW_TARGET, "window-whole": WINDOW_TARGET}
    table = []
    for name, runs in results.items():
        wall = _median(runs, "wall_seconds")
        goal = goals.get(name)
        met = "–" if wall is None or goal is None else ("yes" if wall <= goal else "no")
        requests = _median(runs, "server", "requests")
        created = _median(runs, "suite_stats", "calls_created")
        verdicts = ", ".join(sorted({str(r.get("verdict")) for r in runs}))
        table.append([name, number(wall), f"≤ {goal:g} s" if goal else "–", met,
                      number(requests, 0), number(created, 0), verdicts])
    return table


def section(table: str, results: dict[str, list[dict[str, Any]]], load: tuple[Any, Any]) -> str:
    """The Markdown section of docs/benchmarks.md these rows make."""
    return "\n".join([
        TIME_TO_VERDICT_MARK, "## Time to verdict (`bench/time_to_verdict.py`)", "",
        "The runs that wait on real time, measured on their own: the default run against the embedded",
        "reference; an external-style run (`-m \"not slow\"`, a reference server treated as an external",
        "target, `--window 60`) with the standard timings (10 s calls) and with 30 s calls (the wait is",
        "overlapped, not shortened: a run cannot end before the call it follows); the retention-window run",
        "(`-m window`, `--window 60`) and the whole run with that window (it cannot end before the call's",
        "create, its length and the window have passed: about 1 + 10 + 60 s; the grace period is waited out",
        "only by a call that lingers, D-48). Goal: a run ends at most "
        f"{VERDICT_SLACK:g} s after what it must wait for; the",
        f"embedded default run within {EMBEDDED_TARGET:g} s. Requests are counted on the server.",
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores; "
        f"load average (1 min) {load[0]} before, {load[1]} after; "
        f"{max(len(runs) for runs in results.values())} run(s) per row.", "",
        table, ""])


def write_section(text: str, output: Path) -> None:
    """Replace this script's section of `output` (before the fleet section, which bench/fleet.py writes last)."""
    current = output.read_text(encoding="utf-8") if output.exists() else "# Benchmarks\n"
    rest = ""
    if FLEET_MARK in current:
        current, rest = current[:current.index(FLEET_MARK)], current[current.index(FLEET_MARK):]
    if TIME_TO_VERDICT_MARK in current:
        current = current[:current.index(TIME_TO_VERDICT_MARK)]
    output.write_text(current.rstrip("\n") + "\n\n" + text + ("\n" + rest if rest else ""), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--with-window", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--output", type=Path, help="write the section into this file (docs/benchmarks.md)")
    args = parser.parse_args(argv)
    load_before = load_average()
    workdir = Path(tempfile.mkdtemp(prefix="calls-ttv-"))
    code_root = snapshot_code(workdir / "code")
    sys.path[:0] = [str(code_root), str(BENCH_DIR)]
    bench = Bench(workdir, args.runs, 0, lambda text: print(text, flush=True), code_root)
    results: dict[str, list[dict[str, Any]]] = {}
    try:
        bench.suite_run("warm-up", [])
        results["embedded-default"] = measurements.embedded(bench, None)
        results["external-not-slow"] = measurements.external_not_slow(bench)
        results["external-not-slow-30s-calls"] = [
            measurements.external(bench, "external-not-slow-30s-calls", ["-m", "not slow", "--call-timeout", "120"],
                                  call_length=30.0) for _ in range(args.runs)]
        if args.with_window:
            window = measurements.window(bench, args.runs)
            results["window-only"], results["window-whole"] = window["window_only"], window["whole"]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    headers = ["run", "wall (s, median)", "goal", "met", "requests on the server", "calls created", "verdict"]
    table = markdown_table(headers, rows(results))
    print(table)
    if args.output:
        write_section(section(table, results, (load_before, load_average())), args.output)
        print(f"section written to {args.output}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
