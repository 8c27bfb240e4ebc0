"""docs/benchmarks.md from the plain results of a benchmark run (see bench/measurements.py): one function
a section, and the writing of the file, which keeps the sections other bench scripts wrote into it.
It measures nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from measurements import CALL_LENGTH, EXTERNAL_WINDOW, FROM_NUMBER, QUOTA, TIGHT_QUOTA, TO_NUMBER
from tables import Summary, markdown_table, median_cell, number, ratio, spread_cell, summarize, verdict_of

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"

EXTERNAL_MAX_CALLS = 10  # the suite's default --max-calls: the target of an external run
MAX_REQUESTS = 300  # per complete external run: half of jambonz's 600 per 5 minutes, which all its clients share
THROUGHPUT_TARGET = 1.0  # suite rate / plain Schemathesis rate
# Time to verdict: a run may end at most VERDICT_SLACK after what it must wait for (the call it follows; with a
# window, the window too). Times are judged on the median (load moves them), counts on every run.
VERDICT_SLACK = 3.0
EMBEDDED_TARGET = 5.0  # seconds: the default run against the embedded reference
EXTERNAL_TARGET = CALL_LENGTH + VERDICT_SLACK
WINDOW_TARGET = EXTERNAL_WINDOW + CALL_LENGTH + VERDICT_SLACK
HOSTILE_MEMORY_TARGET = 400.0  # MiB: peak RSS of a run against a 2 GB list body (the body size cap holds)

# Sections other scripts write at the end of docs/benchmarks.md, in this order; bench/run.py keeps them.
TIME_TO_VERDICT_MARK = "<!-- time-to-verdict section: written by bench/time_to_verdict.py -->"
FLEET_MARK = "<!-- fleet section: written by bench/fleet.py -->"

# The target compares like with like: the suite and the command line against the same kind of server,
# hosted by the benchmark. The embedded reference serves from the suite's own process (one interpreter
# for client and server), so its ratio is shown for information only. (key, label, judged)
SUITE_VARIANTS = (("suite_external", "suite, same server as the command line (external-style)", True),
                  ("suite_embedded", "suite, embedded reference (server in the suite's process)", False))

# The runs against a reference enforcing a quota (measurements.rate_limited): (key, label, requests judged)
QUOTA_VARIANTS = (
    ("announced", f"complete run (`--window 60`), reference with a {QUOTA} quota announced in RateLimit-* headers", True),
    ("unannounced", f"complete run (`--window 60`), reference with a {QUOTA} quota not announced, "
                    f"suite given `--rate-limit {QUOTA}`", True),
    ("tight", f"`-m \"not slow\"`, reference with a {TIGHT_QUOTA} quota announced (the run must wait)", False),
)

Runs = Sequence[dict[str, Any]]


def _values(runs: Runs, *path: str) -> list[Any]:
    out = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        out.append(value)
    return out


def _rate(run: dict[str, Any], over: str = "wall") -> float | None:
    requests = run.get("server", {}).get("requests")
    seconds = run.get("wall_seconds") if over == "wall" else run.get("server", {}).get("request_span_seconds")
    return ratio(requests, seconds)


def _row(label: str, summary: Summary | None, unit: str, digits: int = 1, target: str = "–", status: str = "–") -> list[str]:
    return [label, median_cell(summary, unit, digits), spread_cell(summary, digits),
            str(summary.count) if summary else "0", target, status]


def _at_most(summary: Summary | None, limit: float, unit: str = "", every_run: bool = True) -> tuple[str, str]:
    """The target cell `≤ limit` and its status, judged on every run (the highest) or on the median."""
    value = None if summary is None else (summary.high if every_run else summary.median)
    return f"≤ {limit:g}{' ' + unit if unit else ''}", verdict_of(value, lambda v: v <= limit)


def _refusals(run: dict[str, Any]) -> int | None:
    """429 answers the server gave in a run."""
    return run["server"].get("by_status", {}).get("429", 0) if "server" in run else None


def _outside_tests(run: dict[str, Any]) -> float | None:
    if run.get("tests_seconds") is None:
        return None
    return run["wall_seconds"] - run["tests_seconds"]


def _failures(runs: Runs) -> list[str]:
    notes = []
    for run in runs:
        if run.get("exit_code") not in (0,):
            notes.append(f"{run['name']} exited {run.get('exit_code')} ({run.get('verdict', 'no verdict')})")
    return notes


def _median_and_range(summary: Summary | None, digits: int) -> str:
    return f"{median_cell(summary, '', digits)} ({spread_cell(summary, digits)})"


# --- sections ----------------------------------------------------------------------------------------


def machine_section(results: dict[str, Any]) -> list[str]:
    facts = results["machine"]
    return [
        "# Benchmarks",
        "",
        "Written by `bench/run.py` (`make bench`); do not edit by hand. Numbers are from the machine the",
        "script ran on and move with its load: compare runs made on the same machine, and read the spread.",
        "",
        "## Machine",
        "",
        markdown_table(["fact", "value"], [
            ["date", facts["date"]],
            ["code measured", f"{results.get('code', 'unknown')} (copied when the benchmark started)"],
            ["cores", facts["cores"]],
            ["platform", f"{facts['platform']} ({facts['machine']})"],
            ["Python", facts["python"]],
            ["schemathesis / hypothesis / pytest", " / ".join(facts["versions"][n] for n in ("schemathesis", "hypothesis", "pytest"))],
            ["uvicorn / requests", " / ".join(facts["versions"][n] for n in ("uvicorn", "requests"))],
            ["load average (1 min) at start / end", f"{results.get('load_start')} / {results.get('load_end')}"],
            ["load average (1 min) before each measured run", spread_cell(summarize(results.get("loads", [])), 2)],
            ["runs per measurement", f"{results['runs']}" + (" (quick smoke run)" if results.get("quick") else "")],
            ["command", f"`{results.get('invocation', 'bench/run.py')}`"
                        + (f", {results['bench_seconds']:.0f} s in all" if results.get("bench_seconds") else "")],
            ["examples per operation and mode", results["examples"]],
        ]),
        "",
    ]


def _run_time_rows(results: dict[str, Any]) -> list[list[str]]:
    """Wall and CPU time of the default run, its variants and the `not slow` run (embedded reference)."""
    default = results.get("embedded_default", [])
    not_slow = results.get("embedded_not_slow", [])
    rows: list[list[str]] = []
    if default:
        wall = summarize(_values(default, "wall_seconds"))
        rows.append(_row("default run, embedded reference (`calls-conformance --no-html`): wall time", wall, "s", 1,
                         *_at_most(wall, EMBEDDED_TARGET, "s", every_run=False)))
        rows.append(_row("  of which pytest session (verdict `duration_seconds`)",
                         summarize(_values(default, "pytest_seconds")), "s"))
        rows.append(_row("  of which outside the tests (start-up, collection, session end)",
                         summarize(_outside_tests(r) for r in default), "s"))
        rows.append(_row("  CPU time of the suite process (embedded reference included)",
                         summarize(_values(default, "cpu_seconds")), "s"))
    variants = results.get("default_variants", {})
    for key, label in (("fresh_directory", "default run started in an empty directory (cold Hypothesis cache): wall time"),
                       ("no_bytecode_cache", "default run without any bytecode cache (`PYTHONDONTWRITEBYTECODE=1`, "
                                             "empty `PYTHONPYCACHEPREFIX`): wall time")):
        runs = variants.get(key) or []
        if runs:
            rows.append(_row(label, summarize(_values(runs, "wall_seconds")), "s"))
            rows.append(_row("  CPU time of the suite process", summarize(_values(runs, "cpu_seconds")), "s"))
    if not_slow:
        rows.append(_row("`-m \"not slow\"`, embedded reference: wall time", summarize(_values(not_slow, "wall_seconds")), "s"))
        rows.append(_row("  CPU time of the suite process", summarize(_values(not_slow, "cpu_seconds")), "s"))
    return rows


def _throughput_rows(throughput: dict[str, Runs]) -> list[list[str]]:
    """Request rates of the property tests and the suite's ratio to the plain command line."""
    if not throughput.get("plain"):
        return []
    plain = throughput["plain"]
    rows = [_row("property tests, plain `st run`: requests/s (server) over wall time",
                 summarize(_rate(r) for r in plain), "req/s")]
    for key, label, judged in SUITE_VARIANTS:
        runs = throughput.get(key) or []
        if not runs:
            continue
        rows.append(_row(f"property tests, {label} (`-m property`): requests/s (server) over wall time",
                         summarize(_rate(r) for r in runs), "req/s"))
        pairs = summarize(ratio(_rate(a), _rate(b)) for a, b in zip(runs, plain))
        if judged:
            rows.append(_row("  ratio to plain `st run` (per interleaved pair)", pairs, "", 2, f"≥ {THROUGHPUT_TARGET}",
                             verdict_of(pairs.median if pairs else None, lambda v: v >= THROUGHPUT_TARGET)))
        else:
            rows.append(_row("  ratio to plain `st run` (per interleaved pair; for information)", pairs, "", 2))
    return rows


def _target_rows(results: dict[str, Any]) -> list[list[str]]:
    """Calls created and requests sent per run, and the wall time of the external-style run."""
    external = results.get("external_not_slow", [])
    rows: list[list[str]] = []
    for label, runs, target in (("embedded default run", results.get("embedded_default", []), None),
                                ("external-style run", external, EXTERNAL_MAX_CALLS)):
        if not runs:
            continue
        created = summarize(_values(runs, "server", "calls_stored"))
        rows.append(_row(f"calls created on the target per {label} (server store)", created, "", 0,
                         f"≤ {target}" if target else "–",
                         verdict_of(created.high if created and target else None, lambda v: v <= (target or 0))))
        rows.append(_row(f"requests per {label} (server)", summarize(_values(runs, "server", "requests")), "", 0))
    if external:
        wall = summarize(_values(external, "wall_seconds"))
        rows.append(_row("external-style run (`-m \"not slow\"`, `--window 60`): wall time", wall, "s", 1,
                         *_at_most(wall, EXTERNAL_TARGET, "s", every_run=False)))
    return rows


def _window_rows(window_runs: dict[str, Runs]) -> list[list[str]]:
    """The window runs' wall time, what they add beyond the window, and the requests of the whole (complete) run."""
    rows: list[list[str]] = []
    for key, label in (("window_only", "window run `-m window`, `--window 60`: wall time"),
                       ("whole", "whole run with `--window 60`: wall time")):
        runs = window_runs.get(key) or []
        if not runs:
            continue
        wall = summarize(_values(runs, "wall_seconds"))
        rows.append(_row(label, wall, "s", 1, *_at_most(wall, WINDOW_TARGET, "s", every_run=False)))
        rows.append(_row("  added beyond the 60 s window", summarize((r["wall_seconds"] - EXTERNAL_WINDOW) for r in runs), "s"))
        if key == "whole":
            requests = summarize(_values(runs, "server", "requests"))
            rows.append(_row("  requests per complete external run (server)", requests, "", 0,
                             *_at_most(requests, MAX_REQUESTS)))
    return rows


def _quota_rows(rate_limited: dict[str, Runs]) -> list[list[str]]:
    """The runs against a reference enforcing a quota: what they sent, how long they waited, the 429s they met."""
    rows: list[list[str]] = []
    for key, label, judged in QUOTA_VARIANTS:
        runs = rate_limited.get(key) or []
        if not runs:
            continue
        requests = summarize(_values(runs, "server", "requests"))
        rows.append(_row(f"{label}: requests (server)", requests, "", 0,
                         *(_at_most(requests, MAX_REQUESTS) if judged else ("–", "–"))))
        rows.append(_row("  calls created (server store)", summarize(_values(runs, "server", "calls_stored")), "", 0))
        rows.append(_row("  wall time", summarize(_values(runs, "wall_seconds")), "s"))
        rows.append(_row("  time some request waited for the quota (verdict `stats.pacing.waited_seconds`)",
                         summarize(_values(runs, "suite_stats", "pacing", "waited_seconds")), "s"))
        refused = summarize(_refusals(r) for r in runs)
        rows.append(_row("  429 answers (server)", refused, "", 0, "0",
                         verdict_of(refused.high if refused else None, lambda v: v == 0)))
        paced = sorted({f"{r.get('verdict', 'no verdict')}, paced to "
                        f"{(r.get('suite_stats', {}).get('pacing') or {}).get('quota') or 'no quota'} "
                        f"({(r.get('suite_stats', {}).get('pacing') or {}).get('source') or '–'})" for r in runs})
        rows.append(["  verdict, and the quota the run kept to (verdict `stats.pacing`)", "; ".join(paced), "–",
                     str(len(runs)), "–", "–"])
    return rows


def _hostile_memory_rows(hostile: Runs) -> list[list[str]]:
    if not hostile:
        return []
    peak = summarize(r["peak_rss_mib"] for r in hostile)
    return [_row("run against a 2 GB list body (`-k list`, bench/hostile_memory.py): peak memory (RSS)", peak,
                 "MiB", 0, f"≤ {HOSTILE_MEMORY_TARGET:g} MiB",
                 verdict_of(peak.high if peak else None, lambda v: v <= HOSTILE_MEMORY_TARGET))]


def results_section(results: dict[str, Any]) -> list[str]:
    rows = (_run_time_rows(results) + _throughput_rows(results.get("throughput", {})) + _target_rows(results)
            + _window_rows(results.get("window", {})) + _quota_rows(results.get("rate_limited", {}))
            + _hostile_memory_rows(results.get("hostile_memory") or []))
    lines = ["## Results", "", markdown_table(["measurement", "median", "min – max", "runs", "target", "status"], rows), ""]
    if not results.get("window", {}):
        lines += ["The real-time window run was not measured in this benchmark run (`bench/run.py --with-window`).", ""]
    return lines


def _complete_run_requests(results: dict[str, Any]) -> tuple[str, Summary | None]:
    """Requests per complete external run: the window run's, else the one against the announced quota's."""
    for label, runs in (("whole run, `--window 60`", results.get("window", {}).get("whole")),
                        (f"complete run against the announced {QUOTA} quota",
                         results.get("rate_limited", {}).get("announced")),
                        ("external-style `-m \"not slow\"`, not a complete run", results.get("external_not_slow"))):
        if runs:
            return label, summarize(_values(runs, "server", "requests"))
    return "not measured", None


def selftest_section(results: dict[str, Any]) -> list[str]:
    """The self-test's kill rate beside the requests a run sends for it."""
    score = results.get("selftest")
    if score is None:
        return []
    if score.get("complete"):
        caught, faults = score["faults_caught"], score["faults"]
        source = (f"commit {score['commit']}" if score.get("commit")
                  else f"it records no commit; the file was written {score['modified']}")
        label, requests = _complete_run_requests(results)
        rows = [[f"faults caught by the self-test (reports/selftest.json; {source})", f"{caught} / {faults}"],
                [f"requests per external run (this benchmark: {label}; server, median)", median_cell(requests, "", 0)],
                ["requests per fault caught", number(ratio(requests.median if requests else None, caught), 1)]]
    else:
        why = ("there is none" if score.get("faults") is None
               else f"the one there is of a partial run: {score['faults']} of {score['expected_faults']} faults")
        rows = [["faults caught by the self-test", f"run `python -m pytest -m selftest` first ({why})"]]
    return ["## Requests per fault caught", "",
            "The self-test runs the suite against every fault of the reference (`conformance.reference.FAULTS`);",
            "a complete one is set beside the requests one external run sends.", "",
            markdown_table(["measurement", "value"], rows), ""]


def file_times_section(results: dict[str, Any]) -> list[str]:
    """Seconds per test file, a column for each kind of run that was measured."""
    columns_by_label = (("default, embedded", results.get("embedded_default", [])),
                        ("not slow, embedded", results.get("embedded_not_slow", [])),
                        ("not slow, external-style", results.get("external_not_slow", [])))
    measured = [(label, runs) for label, runs in columns_by_label if runs]
    if not measured:
        return []
    files = sorted({f for _, runs in measured for r in runs for f in r.get("file_seconds", {})})
    headers = ["test file"] + [f"{label}: median s (min – max)" for label, _ in measured]
    table_rows = []
    for name in files + ["(all tests)", "(outside the tests)"]:
        row = [name]
        for _, runs in measured:
            if name == "(all tests)":
                summary = summarize(_values(runs, "tests_seconds"))
            elif name == "(outside the tests)":
                summary = summarize(_outside_tests(r) for r in runs)
            else:
                summary = summarize(r.get("file_seconds", {}).get(name) for r in runs)
            row.append(_median_and_range(summary, 2))
        table_rows.append(row)
    return ["## Time per test file", "",
            "JUnit test-case times (setup + call + teardown) summed by file. \"Outside the tests\" is the",
            "wall time less those: interpreter and plugin start-up, collection (which builds the Schemathesis",
            "tests), the embedded reference, cleanup and the verdict.", "",
            markdown_table(headers, table_rows), ""]


def throughput_section(results: dict[str, Any]) -> list[str]:
    throughput = results.get("throughput", {})
    if not throughput.get("plain"):
        return []

    def cell(runs: Runs, get: Callable[[dict[str, Any]], Any], digits: int) -> str:
        return _median_and_range(summarize(get(r) for r in runs), digits)

    t_rows = []
    for key, label in (("plain", "plain `st run`"),) + tuple((k, lbl) for k, lbl, _ in SUITE_VARIANTS):
        runs = throughput.get(key) or []
        if not runs:
            continue
        last = runs[-1].get("server", {})
        t_rows.append([
            label,
            cell(runs, lambda r: r.get("server", {}).get("requests"), 0),
            cell(runs, lambda r: r.get("server", {}).get("creates_accepted"), 0),
            cell(runs, lambda r: r.get("wall_seconds"), 1),
            cell(runs, lambda r: r.get("cpu_seconds"), 1),
            cell(runs, _rate, 1),
            cell(runs, lambda r: _rate(r, "span"), 1),
            ", ".join(f"{k} {v}" for k, v in sorted(last.get("by_method", {}).items())),
            ", ".join(f"{k} {v}" for k, v in sorted(last.get("by_agent", {}).items())),
        ])
    plain_command = throughput["plain"][-1].get("command", "")
    return ["## Property-test throughput", "",
            "Requests are counted by the server and divided by the wall time of the whole command (start-up",
            "included on both sides); \"over the request span\" divides by the time from the server's first to",
            "its last request instead. Each run gets a fresh server. The plain command line and the",
            "external-style suite run test a reference server (standard timings, window 60 s) that the",
            "benchmark hosts in its own process: that pair is the like-for-like comparison the target applies",
            "to. The embedded suite run tests the reference it starts itself, which serves from the suite's",
            "own process (one interpreter for client and server). The suite runs `-m property --coverage-cases all`",
            f"`--examples {results['examples']}` (the same workload as the command line; its default sends far fewer): its",
            "Schemathesis tests (examples, coverage and fuzzing phases; positive and negative modes, creates",
            "split into a valid-create and an invalid-create test). The command line gets the",
            f"same examples ({results['examples']}), checks (`conformance/runner/property_tests.py` CHECKS), phases and modes,",
            "one worker, and the account sid pinned to the token's account (as the suite does):", "",
            f"    {plain_command}", "",
            "On an external target the suite's valid-create test draws only as many cases as its call",
            "allowance (one): it creates fewer calls by design. Invalid creates are all sent, made safe (their",
            "numbers are the configured ones); a case is dropped only when making it safe would make it valid.",
            "", markdown_table(["", "requests", "creates accepted", "wall s", "CPU s (client)", "req/s over wall",
                                "req/s over request span", "by method (last run)", "by User-Agent (last run)"],
                               t_rows), ""]


def calls_section(results: dict[str, Any]) -> list[str]:
    """Calls created and requests sent, as the server counted them and as the verdict reports them."""
    counting_rows = []
    quota = results.get("rate_limited", {})
    for label, runs in (("embedded default", results.get("embedded_default", [])),
                        ("embedded `-m \"not slow\"`", results.get("embedded_not_slow", [])),
                        ("external-style `-m \"not slow\"`", results.get("external_not_slow", [])),
                        ("whole run, `--window 60`", results.get("window", {}).get("whole", [])),
                        (f"whole run, {QUOTA} quota announced", quota.get("announced", [])),
                        (f"whole run, {QUOTA} quota not announced, `--rate-limit`", quota.get("unannounced", [])),
                        (f"`-m \"not slow\"`, {TIGHT_QUOTA} quota announced", quota.get("tight", []))):
        if not runs:
            continue
        counting_rows.append([
            label,
            spread_cell(summarize(_values(runs, "server", "calls_stored")), 0),
            spread_cell(summarize(_values(runs, "suite_stats", "calls_created")), 0),
            spread_cell(summarize(_values(runs, "server", "requests")), 0),
            spread_cell(summarize(_values(runs, "suite_stats", "requests_sent")), 0),
            ", ".join(f"{k} {v}" for k, v in sorted(runs[-1].get("server", {}).get("by_agent", {}).items())),
        ])
    if not counting_rows:
        return []
    return ["## Calls and requests per run", "",
            "Counted on the server (its store and a request counter) and, for comparison, as the suite",
            "reports them in `verdict.json` `stats`. Ranges over the runs.", "",
            markdown_table(["run", "calls created (server)", "calls_created (verdict)", "requests (server)",
                            "requests_sent (verdict)", "requests by User-Agent (last run)"], counting_rows), ""]


def profile_section(results: dict[str, Any]) -> list[str]:
    profile = results.get("profile")
    if not profile:
        return []
    phases = sorted(profile["breakdown"].items(), key=lambda item: -sum(item[1].values()))
    p_rows = []
    for phase, kinds in phases:
        total = sum(kinds.values())
        if total < 0.05:
            continue
        parts = ", ".join(f"{kind} {seconds:.2f}" for kind, seconds in sorted(kinds.items(), key=lambda i: -i[1])
                          if seconds >= 0.05)
        p_rows.append([phase, f"{total:.2f}", parts])
    top_rows = [[label, f"{seconds:.2f}"] for label, seconds in profile["top"]]
    return ["## Profile of one default run", "",
            "pyinstrument, wall-clock samples of the main thread (the embedded reference serves in another",
            f"thread: waiting for its answers counts as HTTP). The profiled run took {profile['wall_seconds']:.1f} s",
            f"({profile['sampled_seconds']:.1f} s sampled); the profiler slows Python-heavy code, so read",
            "shares rather than absolute seconds.", "",
            markdown_table(["phase", "seconds", "by kind of work (seconds)"], p_rows), "",
            "Frames with the most time (their whole subtree; pass-through wrappers and pytest plumbing left out):", "",
            markdown_table(["frame", "seconds"], top_rows), ""]


def hypothesis_section(results: dict[str, Any]) -> list[str]:
    """Cases run and thrown away per generated test, from the last run of each kind."""
    hyp_rows = []
    for label, runs in (("embedded default", results.get("embedded_default", [])),
                        ("external-style `-m \"not slow\"`", results.get("external_not_slow", [])),
                        ("external-style `-m property`", results.get("throughput", {}).get("suite_external") or [])):
        if not runs:
            continue
        for test, entry in sorted((runs[-1].get("hypothesis") or {}).items()):
            ran = entry.get("passing", 0) + entry.get("failing", 0)
            generated = ran + entry.get("invalid", 0)
            hyp_rows.append([label, test, f"{ran:.0f}", f"{entry.get('invalid', 0):.0f}",
                             f"{100.0 * entry.get('invalid', 0) / generated:.0f} %" if generated else "–",
                             number(entry.get("generate_seconds"), 2)])
    if not hyp_rows:
        return []
    return ["## Hypothesis statistics of the generated tests", "",
            "From the last run of each kind (pytest stores them in the JUnit report). \"Thrown away\" are generated",
            "cases rejected or filtered before a request was sent: generation time that tests nothing.", "",
            markdown_table(["run", "test", "cases run", "thrown away", "share thrown away", "generate phase s"],
                           hyp_rows), ""]


def _all_runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every suite and command-line run of the results (not the memory runs nor the profile)."""
    throughput = results.get("throughput", {})
    window_runs = results.get("window", {})
    return (results.get("embedded_default", []) + results.get("embedded_not_slow", [])
            + results.get("external_not_slow", [])
            + [r for runs_ in results.get("default_variants", {}).values() for r in runs_]
            + throughput.get("suite_embedded", []) + throughput.get("suite_external", []) + throughput.get("plain", [])
            + window_runs.get("window_only", []) + window_runs.get("whole", [])
            + [r for runs_ in results.get("rate_limited", {}).values() for r in runs_])


def method_section(results: dict[str, Any]) -> list[str]:
    """How to run the benchmark, how it measures, and the runs that failed."""
    lines = ["## How to run", "",
             "    make bench                                   # bench/run.py: 3 runs each, writes this file",
             "    python bench/run.py --quick                  # smoke run: prints the report",
             "    python bench/run.py --with-window --profile  # also the 60 s window run and a profile",
             "    python bench/run.py --from-json results.json # re-render from the raw results of --json", "",
             "--profile needs pyinstrument in the same environment (`pip install pyinstrument`).", ""]
    lines += ["## How it was measured", "",
              "- The peak memory row runs the list tests (`-k list`) against tests/hostile.py serving a 2 GB JSON",
              "  list after its first answer (bench/hostile_memory.py, also on its own); the child's peak RSS",
              "  comes from `wait4`. The body size cap (`--max-body-bytes`, 16 MiB) keeps it at the figure of a",
              "  run whose list is empty; without the cap the whole body was read, then copied as text.",
              "- Each suite run is `python -m conformance --no-html --reports-dir <temporary dir>` (the same",
              "  program as `calls-conformance`), timed from process start to exit. Embedded runs also load",
              "  `-p server_counter` (bench/server_counter.py), which adds a request counter to the embedded",
              "  reference; the counting costs microseconds per request.",
              "- External-style runs use a reference server started by the benchmark in its own process",
              "  (`start_reference`, standard timings, `--window 60`), with the second account, `--allow-create`,",
              f"  `--from-number {FROM_NUMBER} --to-number {TO_NUMBER}`; tokens are passed in the environment.",
              "- Every run starts in one working directory, as a user's repeated runs do; one unmeasured default",
              "  run first warms the caches there (Hypothesis keeps the table of the characters a codec can encode",
              "  in `.hypothesis/` under the working directory; bytecode caching is on). The \"empty directory\"",
              "  and \"without any bytecode cache\" rows show what a run costs without those caches: a first run or",
              "  CI in a fresh clone; an image without .pyc files that sets `PYTHONDONTWRITEBYTECODE` (every module",
              "  compiled from source, including pytest's assertion rewriting of Hypothesis and Schemathesis).",
              "- The quota runs start that reference with a quota (`ReferenceSettings(quota=...)`) enforced as",
              "  jambonz enforces it: one fixed window shared by all clients, RateLimit-* headers on every answer",
              "  (unless not announced), 429 with Retry-After past it. The 429 answers are counted on the server.",
              f"- Targets: at most {MAX_REQUESTS} requests per complete external run; a run ends at most",
              f"  {VERDICT_SLACK:g} s after what it must wait for ({CALL_LENGTH:g} s calls, the {EXTERNAL_WINDOW:g} s window);",
              f"  the embedded default run within {EMBEDDED_TARGET:g} s. Times are judged on the median, counts on every run.",
              "- CPU s is user + system time of the measured process (from the kernel's accounting of this",
              "  script's children): less sensitive to other work on the machine than wall time.",
              "- Medians and min – max are over the runs; the load average is the 1-minute one.", ""]
    notes = _failures(_all_runs(results))
    if notes:
        lines += ["Runs that did not end with exit code 0: " + "; ".join(notes) + ".", ""]
    return lines


SECTIONS = (machine_section, results_section, selftest_section, file_times_section, throughput_section, calls_section,
            profile_section, hypothesis_section, method_section)


def render_report(results: dict[str, Any]) -> str:
    """docs/benchmarks.md from the results of a benchmark run."""
    lines = [line for section in SECTIONS for line in section(results)]
    return "\n".join(lines).rstrip() + "\n"


# --- the file ------------------------------------------------------------------------------------------


def keep_fleet_section(report: str, output: Path) -> str:
    """The report, followed by the sections bench/time_to_verdict.py and bench/fleet.py wrote into the file."""
    current = output.read_text(encoding="utf-8") if output.exists() else ""
    starts = [current.index(mark) for mark in (TIME_TO_VERDICT_MARK, FLEET_MARK) if mark in current]
    if not starts:
        return report
    return report.rstrip("\n") + "\n\n" + current[min(starts):]


def write_report(report: str, output: Path) -> None:
    """Write the report to `output`, keeping the sections the other bench scripts wrote there."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(keep_fleet_section(report, output), encoding="utf-8")
