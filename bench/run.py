"""Benchmarks of the conformance suite on the machine it runs on; writes docs/benchmarks.md.

    python bench/run.py [--runs 3] [--quick] [--with-window [--window-runs 1]] [--profile]
                        [--examples N] [--output PATH] [--json PATH] [--from-json PATH] [--keep-workdir]

What it measures (each several times: median and min-max):

1. wall and CPU time of a default run against the embedded reference (`calls-conformance --no-html`,
   as a user runs it, its 4 s window included), of the same from an empty directory and without
   bytecode caching, and of `-m "not slow"`, with the time of each test file (the JUnit test-case
   times, setup + call + teardown, summed by file);
2. property-test throughput: the suite's Schemathesis tests (`-m property`, against the embedded
   reference and against a reference treated as an external target) and the plain Schemathesis
   command line (`st run`, same examples, checks, phases and modes), each against a fresh server;
   requests are counted on the server and divided by wall time;
3. calls created and requests sent per run, counted on the server (the store and a request
   counter), for the embedded default run and for an external-style run (a reference server treated
   as an external target with --allow-create, --window 60, -m "not slow", default --max-calls 10);
4. with --with-window: a real-time retention-window run (--window 60) against a reference server,
   `-m window` and the whole run: how much the run adds beyond the window.

With --profile, one default run is also profiled with pyinstrument (pip install pyinstrument) and its
time is broken down by phase and kind of work. Every suite run writes its reports to a temporary
directory, never to reports/. Runs start in one shared working directory with bytecode caching on
(PYTHONDONTWRITEBYTECODE is removed from their environment), as a user's repeated runs do; one
unmeasured run warms those caches first.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import json
import logging
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"

FROM_NUMBER = "+15005550006"  # numbers that dial nobody on the reference (and on Twilio-style test setups)
TO_NUMBER = "+15005550001"
EXTERNAL_WINDOW = 60.0
EXTERNAL_MAX_CALLS = 10  # the suite's default --max-calls: the target of an external run
THROUGHPUT_TARGET = 0.9  # suite rate / plain Schemathesis rate
WINDOW_SLACK = 60.0  # a window run may add at most this much beyond the window
HOSTILE_MEMORY_TARGET = 400.0  # MiB: peak RSS of a run against a 2 GB list body (the body size cap holds)
RUN_TIMEOUT = 900.0  # seconds; a suite run that takes longer is stopped and reported


# --- statistics and rendering (pure) -------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Median and spread of a series of measurements."""

    median: float
    low: float
    high: float
    count: int

    @property
    def spread(self) -> float:
        return self.high - self.low


def summarize(values: Iterable[float | int | None]) -> Summary | None:
    """Median, min and max of the values that are not None; None when there are none."""
    data = [float(v) for v in values if v is not None]
    if not data:
        return None
    return Summary(statistics.median(data), min(data), max(data), len(data))


def number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if digits == 0:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def median_cell(summary: Summary | None, unit: str = "", digits: int = 1) -> str:
    if summary is None:
        return "–"
    return f"{number(summary.median, digits)}{(' ' + unit) if unit else ''}"


def spread_cell(summary: Summary | None, digits: int = 1) -> str:
    """"low – high", or the single value when every run gave the same."""
    if summary is None:
        return "–"
    if summary.count == 1 or number(summary.low, digits) == number(summary.high, digits):
        return number(summary.low, digits)
    return f"{number(summary.low, digits)} – {number(summary.high, digits)}"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; `|` in cells is escaped."""
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def junit_file_times(path: Path) -> dict[str, float]:
    """Seconds per test file from a JUnit XML report (a test case's time covers setup, call and teardown)."""
    times: dict[str, float] = {}
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        classname = case.get("classname") or "?"
        name = classname.rsplit(".", 1)[-1] + ".py"
        times[name] = times.get(name, 0.0) + float(case.get("time") or 0.0)
    return dict(sorted(times.items()))


_HYPOTHESIS_COUNTS = re.compile(r"(\d+) passing, (\d+) failing, and (\d+) invalid test cases")
_HYPOTHESIS_PHASE = re.compile(r"during (\w+) phase \(([\d.]+) seconds\)")


def junit_hypothesis_stats(path: Path) -> dict[str, dict[str, float]]:
    """Hypothesis statistics pytest stores in a JUnit report: per test, the examples that ran (passing,
    failing), those thrown away (invalid: rejected or filtered) and the seconds of each phase."""
    stats: dict[str, dict[str, float]] = {}
    root = ET.parse(path).getroot()
    for prop in root.iter("property"):
        name = prop.get("name") or ""
        if not name.startswith("hypothesis-statistics-"):
            continue
        try:
            text = base64.b64decode(prop.get("value") or "").decode("utf-8", errors="replace")
        except (ValueError, binascii.Error):
            continue
        test = name.removeprefix("hypothesis-statistics-").rsplit("::", 1)[-1]
        entry: dict[str, float] = {"passing": 0, "failing": 0, "invalid": 0}
        for passing, failing, invalid in _HYPOTHESIS_COUNTS.findall(text):
            entry["passing"] += int(passing)
            entry["failing"] += int(failing)
            entry["invalid"] += int(invalid)
        for phase, seconds in _HYPOTHESIS_PHASE.findall(text):
            entry[f"{phase}_seconds"] = entry.get(f"{phase}_seconds", 0.0) + float(seconds)
        stats[test] = entry
    return stats


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def verdict_of(target: float | None, ok: Callable[[float], bool]) -> str:
    if target is None:
        return "–"
    return "met" if ok(target) else "NOT met"


# --- running things --------------------------------------------------------------------------------


# Where the measured code is imported from: a snapshot of the checkout taken when the benchmark starts
# (see `snapshot_code`), so that edits made while it runs do not change what it measures.
CODE_ROOT = ROOT
SNAPSHOT_ITEMS = ("conformance", "openapi.yaml", "allurerc.mjs")


def snapshot_code(destination: Path) -> Path:
    """Copy what a suite run imports and reads (the package, the contract) to `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in SNAPSHOT_ITEMS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.is_file():
            shutil.copy2(source, destination / name)
    return destination


def code_version() -> str:
    """The commit of the checkout and how many files of the measured code differ from it."""
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", *SNAPSHOT_ITEMS],
                                 capture_output=True, text=True, timeout=10, check=True).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return f"commit {commit}" + (f" with {len(changed)} changed file(s) in {', '.join(SNAPSHOT_ITEMS[:2])}" if changed else "")


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a measured run: this one, without bytecode suppression or target settings."""
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("CALLS_API_") and k != "CALLS_BENCH_COUNTS"}
    paths = [str(CODE_ROOT), str(BENCH_DIR)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra or {})
    return env


def suite_command() -> list[str]:
    """`calls-conformance`, as the module it runs (so that it works without installing the package)."""
    return [sys.executable, "-m", "conformance.cli"]


def schemathesis_command() -> list[str]:
    script = Path(sys.executable).parent / "st"
    if script.exists():
        return [str(script)]
    found = shutil.which("st")
    return [found] if found else [sys.executable, "-m", "schemathesis.cli"]


@dataclass(frozen=True)
class ProcessTimes:
    wall: float  # seconds from start to exit
    exit_code: int
    cpu: float  # user + system seconds of the process (and anything it waited for)
    host_cpu: float  # user + system seconds of this process meanwhile: a reference server it hosts


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def timed_process(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> ProcessTimes:
    """Run a command to its end (output to `log`); its wall time, exit code and CPU time."""
    children_before, self_before = _cpu(resource.RUSAGE_CHILDREN), _cpu(resource.RUSAGE_SELF)
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        try:
            code = process.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = -9
        wall = time.perf_counter() - started
    return ProcessTimes(wall, code, _cpu(resource.RUSAGE_CHILDREN) - children_before,
                        _cpu(resource.RUSAGE_SELF) - self_before)


def display_command(command: Sequence[str], replacements: dict[str, str]) -> str:
    """A command line to show: the program by its name, the given substrings replaced, spaces quoted."""
    shown = [Path(command[0]).name] + list(command[1:])
    out = []
    for part in shown:
        for old, new in replacements.items():
            part = part.replace(old, new)
        out.append(f'"{part}"' if " " in part else part)
    return " ".join(out)


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


class Bench:
    """Runs the measurements; every result is plain data (see `results`)."""

    def __init__(self, workdir: Path, runs: int, examples: int, say: Callable[[str], None]) -> None:
        self.workdir = workdir
        self.runs = runs
        self.examples = examples
        self.say = say
        self.sequence = 0
        # Every run starts in this one directory, as a user's runs do: Hypothesis keeps its caches (e.g.
        # the table of characters a codec can encode) in .hypothesis/ under the working directory.
        self.home = workdir / "working-directory"
        self.home.mkdir(parents=True, exist_ok=True)

    def _next_dir(self, name: str) -> Path:
        self.sequence += 1
        path = self.workdir / f"{self.sequence:03d}-{name}"
        path.mkdir(parents=True)
        return path

    # one suite run ------------------------------------------------------------------------------
    def suite_run(self, name: str, args: list[str], env: dict[str, str] | None = None,
                  counter: Any = None, fresh_directory: bool = False) -> dict[str, Any]:
        """One `calls-conformance` run; server counts come from `counter` (a bench-side server) or from
        the embedded reference through the server_counter plugin. It starts in the shared working
        directory, or with `fresh_directory` in an empty one (as a first run, or CI in a fresh clone)."""
        where = self._next_dir(name)
        reports = where / "reports"
        extra_env = dict(env or {})
        command = suite_command() + ["--no-html", "--reports-dir", str(reports)]
        counts_file = where / "server-counts.json"
        if counter is None:
            command += ["-p", "server_counter"]
            extra_env["CALLS_BENCH_COUNTS"] = str(counts_file)
        command += args
        load_before = load_average()
        cwd = where if fresh_directory else self.home
        times = timed_process(command, child_environment(extra_env), cwd, where / "output.txt")
        wall, code = times.wall, times.exit_code
        result: dict[str, Any] = {"name": name, "wall_seconds": round(wall, 3), "exit_code": code,
                                  "cpu_seconds": round(times.cpu, 3), "load_before": load_before,
                                  "load_after": load_average()}
        if counter is not None:
            result["server_cpu_seconds"] = round(times.host_cpu, 3)
        verdict_path = reports / "verdict.json"
        if verdict_path.exists():
            verdict = json.loads(verdict_path.read_text(encoding="utf-8"))
            result["verdict"] = verdict.get("verdict")
            result["pytest_seconds"] = verdict.get("duration_seconds")
            result["suite_stats"] = verdict.get("stats", {})
        junit = reports / "junit.xml"
        if junit.exists():
            files = junit_file_times(junit)
            result["file_seconds"] = {k: round(v, 3) for k, v in files.items()}
            result["tests_seconds"] = round(sum(files.values()), 3)
            result["hypothesis"] = junit_hypothesis_stats(junit)
        if counter is not None:
            result["server"] = counter.snapshot()
        elif counts_file.exists():
            servers = json.loads(counts_file.read_text(encoding="utf-8"))["servers"]
            if servers:
                result["server"] = servers[0]
        self.say(f"  {name}: {wall:.1f} s, exit {code}, {result.get('verdict', '?')}, "
                 f"{result.get('server', {}).get('requests', '?')} requests on the server, load {load_before}")
        return result

    # measurements ------------------------------------------------------------------------------
    def embedded(self, marker: str | None) -> list[dict[str, Any]]:
        args = ["-m", marker] if marker else []
        name = "embedded-" + (marker.replace(" ", "-") if marker else "default")
        return [self.suite_run(name, args) for _ in range(self.runs)]

    def default_variants(self) -> dict[str, list[dict[str, Any]]]:
        """The default run from an empty directory, and without bytecode caching."""
        return {
            "fresh_directory": [self.suite_run("embedded-default-fresh-directory", [], fresh_directory=True)
                                for _ in range(self.runs)],
            "no_bytecode_cache": [self.no_bytecode_run() for _ in range(self.runs)],
        }

    def no_bytecode_run(self) -> dict[str, Any]:
        """A default run that finds no compiled bytecode and writes none: an empty PYTHONPYCACHEPREFIX makes
        Python (and pytest's assertion rewriting, which pytest applies to the Hypothesis and Schemathesis
        plugins' packages) compile every module from source, as in an image without .pyc files that sets
        PYTHONDONTWRITEBYTECODE."""
        prefix = Path(tempfile.mkdtemp(prefix="pycache-", dir=self.workdir))
        return self.suite_run("embedded-default-no-bytecode", [],
                              {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(prefix)})

    def external_args(self, running: Any, window: float = EXTERNAL_WINDOW) -> tuple[list[str], dict[str, str]]:
        main, other = running.accounts[0], running.accounts[1]
        args = ["--base-url", running.base_url, "--account-sid", main.sid, "--other-account-sid", other.sid,
                "--allow-create", "--from-number", FROM_NUMBER, "--to-number", TO_NUMBER, "--window", f"{window:g}"]
        # Tokens travel in the environment, as the suite recommends (a command line shows in process lists).
        return args, {"CALLS_API_TOKEN": main.token, "CALLS_API_OTHER_TOKEN": other.token}

    def external(self, name: str, extra: list[str], window: float = EXTERNAL_WINDOW,
                 call_length: float | None = None) -> dict[str, Any]:
        """A run against a reference server treated as an external target (standard timings: 10 s calls;
        `call_length` scales them to calls of that length)."""
        from conformance.reference.settings import STANDARD_TIMINGS, ReferenceSettings
        from server_counter import start_counting_reference

        timings = STANDARD_TIMINGS.scaled(call_length / STANDARD_TIMINGS.call_length) if call_length else STANDARD_TIMINGS
        running, counter = start_counting_reference(ReferenceSettings(port=0, window=window, timings=timings))
        try:
            args, env = self.external_args(running, window)
            return self.suite_run(name, args + extra, env, counter)
        finally:
            running.stop()

    def plain_schemathesis(self) -> dict[str, Any]:
        from conformance.properties import CHECKS
        from conformance.reference.settings import ReferenceSettings
        from server_counter import start_counting_reference

        running, counter = start_counting_reference(ReferenceSettings(port=0, window=EXTERNAL_WINDOW))
        where = self._next_dir("schemathesis-cli")
        try:
            main = running.accounts[0]
            # The suite points every generated account sid at its own account; the same for the CLI, so
            # that both exercise the operations rather than 403 answers.
            config = where / "schemathesis.toml"
            config.write_text(f'[parameters]\n"path.account_sid" = "{main.sid}"\n', encoding="utf-8")
            command = schemathesis_command() + [
                "--config-file", str(config), "--no-color", "run", str(CODE_ROOT / "openapi.yaml"),
                "--url", running.base_url, "-H", f"Authorization: Bearer {main.token}",
                "--max-examples", str(self.examples), "--checks", ",".join(CHECKS),
                "--phases", "examples,coverage,fuzzing", "--mode", "all", "--generation-deterministic",
                "--suppress-health-check", "all", "--workers", "1",
            ]
            load_before = load_average()
            times = timed_process(command, child_environment(), self.home, where / "output.txt")
        finally:
            running.stop()
        wall, code = times.wall, times.exit_code
        result = {"name": "schemathesis-cli", "wall_seconds": round(wall, 3), "exit_code": code,
                  "cpu_seconds": round(times.cpu, 3), "server_cpu_seconds": round(times.host_cpu, 3),
                  "load_before": load_before, "load_after": load_average(), "server": counter.snapshot(),
                  "command": display_command(command, {str(config): "schemathesis.toml", str(CODE_ROOT / "openapi.yaml"): "openapi.yaml",
                                                       running.base_url: "<base_url>", main.token: "<token>"})}
        self.say(f"  schemathesis-cli: {wall:.1f} s, exit {code}, {result['server']['requests']} requests "
                 f"on the server, load {load_before}")
        return result

    def throughput(self) -> dict[str, list[dict[str, Any]]]:
        results: dict[str, list[dict[str, Any]]] = {"suite_embedded": [], "suite_external": [], "plain": []}
        selection = ["-m", "property", "--examples", str(self.examples)]
        for _ in range(self.runs):  # interleaved, so that a change of load hits all alike
            results["suite_embedded"].append(self.suite_run("property-suite-embedded", selection))
            results["suite_external"].append(self.external("property-suite-external", selection))
            results["plain"].append(self.plain_schemathesis())
        return results

    def profile(self) -> dict[str, Any]:
        import profile_breakdown

        where = self._next_dir("profile")
        session = where / "run.pyisession"
        command = [sys.executable, "-m", "pyinstrument", "-r", "pyisession", "-o", str(session),
                   "-m", "conformance.cli", "--no-html", "--reports-dir", str(where / "reports")]
        load_before = load_average()
        times = timed_process(command, child_environment(), self.home, where / "output.txt")
        wall, code = times.wall, times.exit_code
        if not session.exists():
            raise SystemExit(f"the profiled run wrote no session (exit {code}); see {where / 'output.txt'}")
        root = profile_breakdown.load_session_root(session)
        self.say(f"  profile: {wall:.1f} s, exit {code}")
        return {"wall_seconds": round(wall, 3), "exit_code": code, "load_before": load_before,
                "load_after": load_average(), "sampled_seconds": round(root.time, 3),
                "breakdown": profile_breakdown.breakdown(root, profile_breakdown.suite_functions(CODE_ROOT / "conformance" / "suite")),
                "top": profile_breakdown.top_functions(root, 20)}


# --- the report ------------------------------------------------------------------------------------


def machine_facts() -> dict[str, Any]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "versions": {name: version(name) for name in ("schemathesis", "hypothesis", "pytest", "uvicorn", "requests")},
    }


def _values(runs: Sequence[dict[str, Any]], *path: str) -> list[Any]:
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


def _outside_tests(run: dict[str, Any]) -> float | None:
    if run.get("tests_seconds") is None:
        return None
    return run["wall_seconds"] - run["tests_seconds"]


def _failures(runs: Sequence[dict[str, Any]]) -> list[str]:
    notes = []
    for run in runs:
        if run.get("exit_code") not in (0,):
            notes.append(f"{run['name']} exited {run.get('exit_code')} ({run.get('verdict', 'no verdict')})")
    return notes


def render_report(results: dict[str, Any]) -> str:
    """docs/benchmarks.md from the results of a benchmark run."""
    facts = results["machine"]
    lines = [
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

    default = results.get("embedded_default", [])
    not_slow = results.get("embedded_not_slow", [])
    throughput = results.get("throughput", {})
    external = results.get("external_not_slow", [])

    rows: list[list[str]] = []
    if default:
        rows.append(_row("default run, embedded reference (`calls-conformance --no-html`): wall time",
                         summarize(_values(default, "wall_seconds")), "s"))
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
    # The target compares like with like: the suite and the command line against the same kind of server,
    # hosted by the benchmark. The embedded reference serves from the suite's own process (one interpreter
    # for client and server), so its ratio is shown for information only.
    suite_variants = (("suite_external", "suite, same server as the command line (external-style)", True),
                      ("suite_embedded", "suite, embedded reference (server in the suite's process)", False))
    if throughput.get("plain"):
        plain = throughput["plain"]
        rows.append(_row("property tests, plain `st run`: requests/s (server) over wall time",
                         summarize(_rate(r) for r in plain), "req/s"))
        for key, label, judged in suite_variants:
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
    for label, runs, target in (("embedded default run", default, None), ("external-style run", external, EXTERNAL_MAX_CALLS)):
        if not runs:
            continue
        created = summarize(_values(runs, "server", "calls_stored"))
        rows.append(_row(f"calls created on the target per {label} (server store)", created, "", 0,
                         f"≤ {target}" if target else "–",
                         verdict_of(created.high if created and target else None, lambda v: v <= (target or 0))))
        rows.append(_row(f"requests per {label} (server)", summarize(_values(runs, "server", "requests")), "", 0))
    if external:
        rows.append(_row("external-style run (`-m \"not slow\"`, `--window 60`): wall time",
                         summarize(_values(external, "wall_seconds")), "s"))
    window_runs = results.get("window", {})
    for key, label in (("window_only", "window run `-m window`, `--window 60`: wall time"),
                       ("whole", "whole run with `--window 60`: wall time")):
        runs = window_runs.get(key) or []
        if not runs:
            continue
        wall = summarize(_values(runs, "wall_seconds"))
        rows.append(_row(label, wall, "s", 1, f"≤ {EXTERNAL_WINDOW + WINDOW_SLACK:g} s" if key == "window_only" else "–",
                         verdict_of(wall.high if wall and key == "window_only" else None,
                                    lambda v: v <= EXTERNAL_WINDOW + WINDOW_SLACK)))
        added = summarize((r["wall_seconds"] - EXTERNAL_WINDOW) for r in runs)
        rows.append(_row("  added beyond the 60 s window", added, "s", 1,
                         f"≤ {WINDOW_SLACK:g} s" if key == "window_only" else "–",
                         verdict_of(added.high if added and key == "window_only" else None, lambda v: v <= WINDOW_SLACK)))

    hostile = results.get("hostile_memory") or []
    if hostile:
        peak = summarize(r["peak_rss_mib"] for r in hostile)
        rows.append(_row("run against a 2 GB list body (`-k list`, bench/hostile_memory.py): peak memory (RSS)", peak,
                         "MiB", 0, f"≤ {HOSTILE_MEMORY_TARGET:g} MiB",
                         verdict_of(peak.high if peak else None, lambda v: v <= HOSTILE_MEMORY_TARGET)))
    lines += ["## Results", "", markdown_table(["measurement", "median", "min – max", "runs", "target", "status"], rows), ""]
    if not window_runs:
        lines += ["The real-time window run was not measured in this benchmark run (`bench/run.py --with-window`).", ""]

    # per test file
    if default or not_slow or external:
        files = sorted({f for r in default + not_slow + external for f in r.get("file_seconds", {})})
        headers = ["test file"]
        columns = []
        for label, runs in (("default, embedded", default), ("not slow, embedded", not_slow),
                            ("not slow, external-style", external)):
            if runs:
                headers.append(f"{label}: median s (min – max)")
                columns.append(runs)
        table_rows = []
        for name in files + ["(all tests)", "(outside the tests)"]:
            row = [name]
            for runs in columns:
                if name == "(all tests)":
                    summary = summarize(_values(runs, "tests_seconds"))
                elif name == "(outside the tests)":
                    summary = summarize(_outside_tests(r) for r in runs)
                else:
                    summary = summarize(r.get("file_seconds", {}).get(name) for r in runs)
                row.append(f"{median_cell(summary, '', 2)} ({spread_cell(summary, 2)})")
            table_rows.append(row)
        lines += ["## Time per test file", "",
                  "JUnit test-case times (setup + call + teardown) summed by file. \"Outside the tests\" is the",
                  "wall time less those: interpreter and plugin start-up, collection (which builds the Schemathesis",
                  "tests), the embedded reference, cleanup and the verdict.", "",
                  markdown_table(headers, table_rows), ""]

    if throughput.get("plain"):
        def cell(runs: Sequence[dict[str, Any]], get: Callable[[dict[str, Any]], Any], digits: int) -> str:
            summary = summarize(get(r) for r in runs)
            return f"{median_cell(summary, '', digits)} ({spread_cell(summary, digits)})"

        t_rows = []
        for key, label in (("plain", "plain `st run`"),) + tuple((k, lbl) for k, lbl, _ in suite_variants):
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
        lines += ["## Property-test throughput", "",
                  "Requests are counted by the server and divided by the wall time of the whole command (start-up",
                  "included on both sides); \"over the request span\" divides by the time from the server's first to",
                  "its last request instead. Each run gets a fresh server. The plain command line and the",
                  "external-style suite run test a reference server (standard timings, window 60 s) that the",
                  "benchmark hosts in its own process: that pair is the like-for-like comparison the target applies",
                  "to. The embedded suite run tests the reference it starts itself, which serves from the suite's",
                  "own process (one interpreter for client and server). The suite runs `-m property`: its",
                  "Schemathesis tests (examples, coverage and fuzzing phases; positive and negative modes, creates",
                  "split into a valid-create and an invalid-create test). The command line gets the",
                  f"same examples ({results['examples']}), checks (`conformance/properties.py` CHECKS), phases and modes,",
                  "one worker, and the account sid pinned to the token's account (as the suite does):", "",
                  f"    {plain_command}", "",
                  "On an external target the suite's valid-create test draws only as many cases as its call",
                  "allowance (one): it creates fewer calls by design. Invalid creates are all sent, made safe (their",
                  "numbers are the configured ones); a case is dropped only when making it safe would make it valid.",
                  "", markdown_table(["", "requests", "creates accepted", "wall s", "CPU s (client)", "req/s over wall",
                                      "req/s over request span", "by method (last run)", "by User-Agent (last run)"],
                                     t_rows), ""]

    counting_rows = []
    for label, runs in (("embedded default", default), ("embedded `-m \"not slow\"`", not_slow),
                        ("external-style `-m \"not slow\"`", external)):
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
    if counting_rows:
        lines += ["## Calls and requests per run", "",
                  "Counted on the server (its store and a request counter) and, for comparison, as the suite",
                  "reports them in `verdict.json` `stats`. Ranges over the runs.", "",
                  markdown_table(["run", "calls created (server)", "calls_created (verdict)", "requests (server)",
                                  "requests_sent (verdict)", "requests by User-Agent (last run)"], counting_rows), ""]

    profile = results.get("profile")
    if profile:
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
        lines += ["## Profile of one default run", "",
                  "pyinstrument, wall-clock samples of the main thread (the embedded reference serves in another",
                  f"thread: waiting for its answers counts as HTTP). The profiled run took {profile['wall_seconds']:.1f} s",
                  f"({profile['sampled_seconds']:.1f} s sampled); the profiler slows Python-heavy code, so read",
                  "shares rather than absolute seconds.", "",
                  markdown_table(["phase", "seconds", "by kind of work (seconds)"], p_rows), "",
                  "Frames with the most time (their whole subtree; pass-through wrappers and pytest plumbing left out):", "",
                  markdown_table(["frame", "seconds"], top_rows), ""]

    hyp_rows = []
    for label, runs in (("embedded default", default), ("external-style `-m \"not slow\"`", external),
                        ("external-style `-m property`", throughput.get("suite_external") or [])):
        if not runs:
            continue
        for test, entry in sorted((runs[-1].get("hypothesis") or {}).items()):
            ran = entry.get("passing", 0) + entry.get("failing", 0)
            generated = ran + entry.get("invalid", 0)
            hyp_rows.append([label, test, f"{ran:.0f}", f"{entry.get('invalid', 0):.0f}",
                             f"{100.0 * entry.get('invalid', 0) / generated:.0f} %" if generated else "–",
                             number(entry.get("generate_seconds"), 2)])
    if hyp_rows:
        lines += ["## Hypothesis statistics of the generated tests", "",
                  "From the last run of each kind (pytest stores them in the JUnit report). \"Thrown away\" are generated",
                  "cases rejected or filtered before a request was sent: generation time that tests nothing.", "",
                  markdown_table(["run", "test", "cases run", "thrown away", "share thrown away", "generate phase s"],
                                 hyp_rows), ""]

    notes = _failures(default + not_slow + external + [r for runs_ in variants.values() for r in runs_]
                      + throughput.get("suite_embedded", [])
                      + throughput.get("suite_external", []) + throughput.get("plain", [])
                      + window_runs.get("window_only", []) + window_runs.get("whole", []))
    lines += ["## How to run", "",
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
              "- Each suite run is `python -m conformance.cli --no-html --reports-dir <temporary dir>` (the same",
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
              "- CPU s is user + system time of the measured process (from the kernel's accounting of this",
              "  script's children): less sensitive to other work on the machine than wall time.",
              "- Medians and min – max are over the runs; the load average is the 1-minute one.", ""]
    if notes:
        lines += ["Runs that did not end with exit code 0: " + "; ".join(notes) + ".", ""]
    return "\n".join(lines).rstrip() + "\n"


# --- command line -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmarks of the conformance suite on this machine; writes docs/benchmarks.md.",
    )
    parser.add_argument("--runs", type=int, default=3, metavar="N", help="runs of each measurement (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: one run each, 5 examples, no warm-up; prints the report instead of "
                             "writing docs/benchmarks.md unless --output is given")
    parser.add_argument("--with-window", action="store_true",
                        help="also measure a real-time window run (--window 60) against a reference server: minutes")
    parser.add_argument("--window-runs", type=int, default=1, metavar="N",
                        help="runs of each window measurement (default 1)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one default run with pyinstrument (must be installed)")
    parser.add_argument("--examples", type=int, default=None, metavar="N",
                        help="examples per operation for the throughput comparison (default: the suite's default, 25)")
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


FLEET_MARK = "<!-- fleet section: written by bench/fleet.py -->"
TIME_TO_VERDICT_MARK = "<!-- time-to-verdict section: written by bench/time_to_verdict.py -->"


def keep_fleet_section(report: str, output: Path) -> str:
    """The report, followed by the sections bench/time_to_verdict.py and bench/fleet.py wrote into the file."""
    current = output.read_text(encoding="utf-8") if output.exists() else ""
    starts = [current.index(mark) for mark in (TIME_TO_VERDICT_MARK, FLEET_MARK) if mark in current]
    if not starts:
        return report
    return report.rstrip("\n") + "\n\n" + current[min(starts):]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.runs < 1 or args.window_runs < 1:
        raise SystemExit("--runs and --window-runs must be at least 1")
    if args.from_json:
        report = render_report(json.loads(args.from_json.read_text(encoding="utf-8")))
        output = args.output or DEFAULT_OUTPUT
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(keep_fleet_section(report, output), encoding="utf-8")
        print(f"report written to {output}")
        return 0
    global CODE_ROOT
    workdir = Path(tempfile.mkdtemp(prefix="calls-bench-"))
    version = code_version()
    CODE_ROOT = snapshot_code(workdir / "code")
    sys.path[:0] = [str(CODE_ROOT), str(BENCH_DIR)]
    from conformance.config import OPTIONS_BY_DEST

    runs = 1 if args.quick else args.runs
    examples = args.examples or (5 if args.quick else int(OPTIONS_BY_DEST["examples"].default))
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
    results: dict[str, Any] = {"machine": machine_facts(), "code": version, "runs": runs, "quick": args.quick, "invocation": invocation,
                               "examples": examples, "load_start": load_average()}
    started = time.perf_counter()
    try:
        bench = Bench(workdir, runs, examples, say)
        if not args.quick:
            say("warm-up run (not measured)")
            bench.suite_run("warm-up", [])
        say("1. default run against the embedded reference")
        results["embedded_default"] = bench.embedded(None)
        if not args.quick:
            say("1. default run from an empty directory, and with PYTHONDONTWRITEBYTECODE=1")
            results["default_variants"] = bench.default_variants()
        say('1. -m "not slow" against the embedded reference')
        results["embedded_not_slow"] = bench.embedded("not slow")
        say("2. property-test throughput: the suite and the Schemathesis command line")
        results["throughput"] = bench.throughput()
        say('3. external-style run (-m "not slow", --window 60)')
        results["external_not_slow"] = [bench.external("external-not-slow", ["-m", "not slow"]) for _ in range(runs)]
        say("5. peak memory of a run against a 2 GB list body")
        import hostile_memory

        results["hostile_memory"] = hostile_memory.measure(workdir, runs, code_root=CODE_ROOT)
        if args.with_window:
            say("4. real-time window run (--window 60)")
            results["window"] = {
                "window_only": [bench.external("window-only", ["-m", "window"]) for _ in range(args.window_runs)],
                "whole": [bench.external("window-whole", []) for _ in range(args.window_runs)],
            }
        if args.profile:
            say("profile of one default run")
            results["profile"] = bench.profile()
    finally:
        if args.keep_workdir:
            say(f"runs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["load_end"] = load_average()
    results["bench_seconds"] = round(time.perf_counter() - started, 1)
    measured = [r for key in ("embedded_default", "embedded_not_slow", "external_not_slow") for r in results.get(key, [])]
    measured += [r for runs_ in results.get("default_variants", {}).values() for r in runs_]
    measured += [r for runs_ in results["throughput"].values() for r in runs_]
    measured += [r for runs_ in results.get("window", {}).values() for r in runs_]
    results["loads"] = [r.get("load_before") for r in measured]

    report = render_report(results)
    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    if output is None:
        print(report)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(keep_fleet_section(report, output), encoding="utf-8")
        say(f"report written to {output} ({results['bench_seconds']:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
