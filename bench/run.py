"""Benchmarks of the conformance suite on the machine it runs on; writes docs/benchmarks.md.

    python bench/run.py [--runs 3] [--quick] [--with-window] [--window-runs 1] [--profile]
                        [--examples N] [--output PATH] [--json PATH] [--from-json PATH] [--keep-workdir]

What it measures (each several times: median and min-max; the runs that last a window --window-runs times):

1. wall and CPU time of a default run against the embedded reference (`calls-conformance --no-html`,
   as a user runs it, its 4 s window included; target 5 s), of the same from an empty directory and without
   bytecode caching, and of `-m "not slow"`, with the time of each test file (the JUnit test-case
   times, setup + call + teardown, summed by file);
2. property-test throughput: the suite's Schemathesis tests (`-m property`, against the embedded
   reference and against a reference treated as an external target) and the plain Schemathesis
   command line (`st run`, same examples, checks, phases and modes), each against a fresh server;
   requests are counted on the server and divided by wall time (target: the suite as fast, ratio 1.0);
3. calls created and requests sent per run, counted on the server (the store and a request
   counter), for the embedded default run and for an external-style run (a reference server treated
   as an external target with --allow-create, --window 60, -m "not slow", default --max-calls 10;
   target: its wall time at most the call's 10 s + 3 s);
4. with --with-window: a real-time retention-window run (--window 60) against a reference server,
   `-m window` and the whole run: wall time (target 60 + 10 + 3 s) and, of the whole (complete) run,
   the requests it sends (target 300: half of jambonz's default quota of 600 per 5 minutes);
5. peak memory of a run against a 2 GB list body (bench/hostile_memory.py);
6. runs against a reference enforcing a quota as jambonz does: complete runs (--window 60) against
   600/5m announced in RateLimit-* headers, and unannounced with the suite given --rate-limit 600/5m;
   a `-m "not slow"` run against 100/20s announced, which the run must wait for: requests, calls,
   wall time, time waited for the quota and 429 answers (target none);
7. the self-test's kill rate (reports/selftest.json, of a complete `python -m pytest -m selftest`)
   beside the requests per complete external run: requests per fault caught.

With --profile, one default run is also profiled with pyinstrument (pip install pyinstrument) and its
time is broken down by phase and kind of work. Every suite run writes its reports to a temporary
directory, never to reports/. Runs start in one shared working directory with bytecode caching on
(PYTHONDONTWRITEBYTECODE is removed from their environment), as a user's repeated runs do; one
unmeasured run warms those caches first.

This file is the command line. The measurements are in bench/measurements.py (each returns plain data),
one suite run in bench/suite_run.py, process timing in bench/process.py, and the Markdown of
docs/benchmarks.md in bench/report.py (with bench/tables.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import measurements
from process import BENCH_DIR, ROOT, code_version, load_average, snapshot_code
from report import DEFAULT_OUTPUT, render_report, write_report
from suite_run import Bench

THROUGHPUT_EXAMPLES = 25


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmarks of the conformance suite on this machine; writes docs/benchmarks.md.",
        allow_abbrev=False,
    )
    parser.add_argument("--runs", type=int, default=3, metavar="N", help="runs of each measurement (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: one run each, no warm-up; prints the report instead of "
                             "writing docs/benchmarks.md unless --output is given")
    parser.add_argument("--with-window", action="store_true",
                        help="also measure a real-time window run (--window 60) against a reference server: minutes")
    parser.add_argument("--window-runs", type=int, default=1, metavar="N",
                        help="runs of each measurement that lasts a window or waits for a quota (default 1)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one default run with pyinstrument (must be installed)")
    parser.add_argument("--examples", type=int, default=None, metavar="N",
                        help=f"examples per operation for the throughput comparison (default {THROUGHPUT_EXAMPLES})")
    parser.add_argument("--output", type=Path, default=None, metavar="PATH",
                        help=f"where to write the Markdown report (default {DEFAULT_OUTPUT.relative_to(ROOT)})")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the raw results as JSON")
    parser.add_argument("--keep-workdir", action="store_true", help="keep the temporary directory of the runs")
    parser.add_argument("--from-json", type=Path, default=None, metavar="PATH",
                        help="measure nothing: render the report from the raw results of an earlier --json")
    return parser


def measuring_options(argv: list[str]) -> list[str]:
    """The options that shape the measurements (where the results go does not)."""
    shown, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--json", "--output"):
            skip = True
            continue
        if arg == "--keep-workdir" or arg.startswith(("--json=", "--output=")):
            continue
        shown.append(arg)
    return shown


def measured_runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The suite and command-line runs whose load before the run the report shows."""
    runs = [r for key in ("embedded_default", "embedded_not_slow", "external_not_slow") for r in results.get(key, [])]
    runs += [r for key in ("default_variants", "rate_limited") for runs_ in results.get(key, {}).values() for r in runs_]
    runs += [r for runs_ in results["throughput"].values() for r in runs_]
    runs += [r for runs_ in results.get("window", {}).values() for r in runs_]
    return runs


def run_measurements(args: argparse.Namespace, bench: Bench, results: dict[str, Any]) -> None:
    """Every measurement the options ask for, in order, into `results`."""
    say = bench.say
    if not args.quick:
        say("warm-up run (not measured)")
        bench.suite_run("warm-up", [])
    say("1. default run against the embedded reference")
    results["embedded_default"] = measurements.embedded(bench, None)
    if not args.quick:
        say("1. default run from an empty directory, and with PYTHONDONTWRITEBYTECODE=1")
        results["default_variants"] = measurements.default_variants(bench)
    say('1. -m "not slow" against the embedded reference')
    results["embedded_not_slow"] = measurements.embedded(bench, "not slow")
    say("2. property-test throughput: the suite and the Schemathesis command line")
    results["throughput"] = measurements.throughput(bench)
    say('3. external-style run (-m "not slow", --window 60)')
    results["external_not_slow"] = measurements.external_not_slow(bench)
    say("5. peak memory of a run against a 2 GB list body")
    results["hostile_memory"] = measurements.hostile_memory(bench)
    if args.with_window:
        say("4. real-time window run (--window 60)")
        results["window"] = measurements.window(bench, args.window_runs)
    say("6. runs against a reference enforcing a quota (600/5m announced and not; 100/20s)")
    results["rate_limited"] = measurements.rate_limited(bench, args.window_runs)
    results["selftest"] = measurements.selftest_score()
    if args.profile:
        say("profile of one default run")
        results["profile"] = measurements.profile(bench)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.runs < 1 or args.window_runs < 1:
        raise SystemExit("--runs and --window-runs must be at least 1")
    if args.from_json:
        output = args.output or DEFAULT_OUTPUT
        write_report(render_report(json.loads(args.from_json.read_text(encoding="utf-8"))), output)
        print(f"report written to {output}")
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="calls-bench-"))
    version = code_version()
    code_root = snapshot_code(workdir / "code")
    sys.path[:0] = [str(code_root), str(BENCH_DIR)]
    runs = 1 if args.quick else args.runs
    # The throughput comparison sends the same workload on both sides: Schemathesis' every coverage case and
    # this many fuzzing examples (the suite's own default sends far fewer requests, by design).
    examples = args.examples or THROUGHPUT_EXAMPLES
    if args.profile:
        try:
            import pyinstrument  # noqa: F401
        except ImportError:
            raise SystemExit("--profile needs pyinstrument: pip install pyinstrument") from None

    # The reference servers this process hosts log the fuzzer's malformed requests: expected, not news.
    logging.getLogger("uvicorn.error").addFilter(lambda record: "Invalid HTTP request" not in record.getMessage())

    def say(text: str) -> None:
        print(text, flush=True)

    invocation = " ".join(["bench/run.py"] + measuring_options(list(argv if argv is not None else sys.argv[1:])))
    results: dict[str, Any] = {"machine": measurements.machine_facts(), "code": version, "runs": runs,
                               "quick": args.quick, "invocation": invocation, "examples": examples,
                               "load_start": load_average()}
    started = time.perf_counter()
    try:
        run_measurements(args, Bench(workdir, runs, examples, say, code_root), results)
    finally:
        if args.keep_workdir:
            say(f"runs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["load_end"] = load_average()
    results["bench_seconds"] = round(time.perf_counter() - started, 1)
    results["loads"] = [r.get("load_before") for r in measured_runs(results)]

    report = render_report(results)
    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    if output is None:
        print(report)
    else:
        write_report(report, output)
        say(f"report written to {output} ({results['bench_seconds']:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
