"""The measurements of the benchmark: each runs the suite (or the Schemathesis command line) as it says
and returns plain data (dicts and lists of the runs), which bench/report.py turns into Markdown.

The conformance package is imported inside the functions, from the snapshot of the code the benchmark
measures (`Bench.code_root`, put first on sys.path by the script that runs them).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from process import ROOT, display_command, load_average, schemathesis_command, timed_process
from suite_run import Bench

FROM_NUMBER = "+15005550006"  # numbers that dial nobody on the reference (and on Twilio-style test setups)
TO_NUMBER = "+15005550001"
EXTERNAL_WINDOW = 60.0
CALL_LENGTH = 10.0  # seconds a call lasts on the reference with its standard timings
QUOTA = "600/5m"  # jambonz's default quota, shared by all the clients of a deployment
TIGHT_QUOTA = "100/20s"  # small enough that a `-m "not slow"` run has to wait for it
SELFTEST_REPORT = ROOT / "reports" / "selftest.json"

Runs = list[dict[str, Any]]


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


# --- against the embedded reference ----------------------------------------------------------------


def embedded(bench: Bench, marker: str | None) -> Runs:
    """Runs against the embedded reference: the default run, or the tests of a marker expression."""
    args = ["-m", marker] if marker else []
    name = "embedded-" + (marker.replace(" ", "-") if marker else "default")
    return [bench.suite_run(name, args) for _ in range(bench.runs)]


def default_variants(bench: Bench) -> dict[str, Runs]:
    """The default run from an empty directory, and without bytecode caching."""
    return {
        "fresh_directory": [bench.suite_run("embedded-default-fresh-directory", [], fresh_directory=True)
                            for _ in range(bench.runs)],
        "no_bytecode_cache": [no_bytecode_run(bench) for _ in range(bench.runs)],
    }


def no_bytecode_run(bench: Bench) -> dict[str, Any]:
    """A default run that finds no compiled bytecode and writes none: an empty PYTHONPYCACHEPREFIX makes
    Python (and pytest's assertion rewriting, which pytest applies to the Hypothesis and Schemathesis
    plugins' packages) compile every module from source, as in an image without .pyc files that sets
    PYTHONDONTWRITEBYTECODE."""
    prefix = Path(tempfile.mkdtemp(prefix="pycache-", dir=bench.workdir))
    return bench.suite_run("embedded-default-no-bytecode", [],
                           {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(prefix)})


# --- against a reference server treated as an external target --------------------------------------


def external_args(running: Any, window: float = EXTERNAL_WINDOW) -> tuple[list[str], dict[str, str]]:
    main, other = running.accounts[0], running.accounts[1]
    # Both accounts' applications too: with them nothing is left unjudged, the run is complete.
    args = ["--base-url", running.base_url, "--account-sid", main.sid, "--other-account-sid", other.sid,
            "--application-sid", main.application_sid, "--other-application-sid", other.application_sid,
            "--allow-create", "--from-number", FROM_NUMBER, "--to-number", TO_NUMBER, "--window", f"{window:g}"]
    # Tokens travel in the environment, as the suite recommends (a command line shows in process lists).
    return args, {"CALLS_API_TOKEN": main.token, "CALLS_API_OTHER_TOKEN": other.token}


def external(bench: Bench, name: str, extra: list[str], window: float = EXTERNAL_WINDOW,
             call_length: float | None = None, quota: str | None = None, quota_headers: bool = True) -> dict[str, Any]:
    """A run against a reference server treated as an external target (standard timings: 10 s calls;
    `call_length` scales them to calls of that length; `quota` makes the server enforce one, as jambonz does,
    announced in RateLimit-* headers unless `quota_headers` is False)."""
    from conformance.contract.quota import parse_quota
    from conformance.reference.settings import STANDARD_TIMINGS, ReferenceSettings
    from server_counter import start_counting_reference

    timings = STANDARD_TIMINGS.scaled(call_length / STANDARD_TIMINGS.call_length) if call_length else STANDARD_TIMINGS
    settings = ReferenceSettings(port=0, window=window, timings=timings, quota=parse_quota(quota) if quota else None,
                                 quota_headers=quota_headers)
    running, counter = start_counting_reference(settings)
    try:
        args, env = external_args(running, window)
        return bench.suite_run(name, args + extra, env, counter)
    finally:
        running.stop()


def external_not_slow(bench: Bench) -> Runs:
    """The external-style run a user makes: `-m "not slow"`, --window 60, the default --max-calls."""
    return [external(bench, "external-not-slow", ["-m", "not slow"]) for _ in range(bench.runs)]


def window(bench: Bench, runs: int) -> dict[str, Runs]:
    """The real-time retention-window run (`-m window`) and the whole run, with --window 60."""
    return {
        "window_only": [external(bench, "window-only", ["-m", "window"]) for _ in range(runs)],
        "whole": [external(bench, "window-whole", []) for _ in range(runs)],
    }


def rate_limited(bench: Bench, runs: int) -> dict[str, Runs]:
    """Complete runs (--window 60) against a reference enforcing jambonz's quota, announced in its headers and
    unannounced with the suite given --rate-limit; and a `-m "not slow"` run against a quota it must wait for."""
    return {
        "announced": [external(bench, "quota-announced", [], quota=QUOTA) for _ in range(runs)],
        "unannounced": [external(bench, "quota-unannounced", ["--rate-limit", QUOTA], quota=QUOTA, quota_headers=False)
                        for _ in range(runs)],
        "tight": [external(bench, "quota-tight", ["-m", "not slow"], quota=TIGHT_QUOTA) for _ in range(runs)],
    }


# --- the self-test's score ----------------------------------------------------------------------------


def selftest_score(path: Path = SELFTEST_REPORT, expected_faults: int | None = None) -> dict[str, Any]:
    """What the last self-test (`python -m pytest -m selftest`) wrote: faults caught of how many, the commit it
    tested when it says, else when the file was written; `complete` when it ran every fault of the reference."""
    if expected_faults is None:
        from conformance.reference import FAULTS

        expected_faults = len(FAULTS)
    found: dict[str, Any] = {"expected_faults": expected_faults, "complete": False}
    try:
        score = json.loads(path.read_text(encoding="utf-8"))
        modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
    except (OSError, ValueError):
        return found
    found.update(faults_caught=score.get("faults_caught"), faults=score.get("faults"), commit=score.get("commit"),
                 modified=modified.strftime("%Y-%m-%d %H:%M UTC"), complete=score.get("faults") == expected_faults)
    return found


# --- property-test throughput -----------------------------------------------------------------------


def plain_schemathesis(bench: Bench) -> dict[str, Any]:
    """One `st run` with the suite's examples, checks, phases and modes, against a fresh counted server."""
    from conformance.runner.property_tests import CHECKS
    from conformance.reference.settings import ReferenceSettings
    from server_counter import start_counting_reference

    running, counter = start_counting_reference(ReferenceSettings(port=0, window=EXTERNAL_WINDOW))
    where = bench.run_dir("schemathesis-cli")
    contract = str(bench.code_root / "openapi.yaml")
    try:
        main = running.accounts[0]
        # The suite points every generated account sid at its own account; the same for the CLI, so
        # that both exercise the operations rather than 403 answers.
        config = where / "schemathesis.toml"
        config.write_text(f'[parameters]\n"path.account_sid" = "{main.sid}"\n', encoding="utf-8")
        command = schemathesis_command() + [
            "--config-file", str(config), "--no-color", "run", contract,
            "--url", running.base_url, "-H", f"Authorization: Bearer {main.token}",
            "--max-examples", str(bench.examples), "--checks", ",".join(CHECKS),
            "--phases", "examples,coverage,fuzzing", "--mode", "all", "--generation-deterministic",
            "--suppress-health-check", "all", "--workers", "1",
        ]
        load_before = load_average()
        times = timed_process(command, bench.environment(), bench.home, where / "output.txt")
    finally:
        running.stop()
    wall, code = times.wall, times.exit_code
    result = {"name": "schemathesis-cli", "wall_seconds": round(wall, 3), "exit_code": code,
              "cpu_seconds": round(times.cpu, 3), "server_cpu_seconds": round(times.host_cpu, 3),
              "load_before": load_before, "load_after": load_average(), "server": counter.snapshot(),
              "command": display_command(command, {str(config): "schemathesis.toml", contract: "openapi.yaml",
                                                   running.base_url: "<base_url>", main.token: "<token>"})}
    bench.say(f"  schemathesis-cli: {wall:.1f} s, exit {code}, {result['server']['requests']} requests "
              f"on the server, load {load_before}")
    return result


def throughput(bench: Bench) -> dict[str, Runs]:
    """The suite's property tests (embedded, and external-style) and the plain command line."""
    results: dict[str, Runs] = {"suite_embedded": [], "suite_external": [], "plain": []}
    # Every coverage case, as the command line sends them: the same work per run on both sides.
    selection = ["-m", "property", "--examples", str(bench.examples), "--coverage-cases", "all"]
    for _ in range(bench.runs):  # interleaved, so that a change of load hits all alike
        results["suite_embedded"].append(bench.suite_run("property-suite-embedded", selection))
        results["suite_external"].append(external(bench, "property-suite-external", selection))
        results["plain"].append(plain_schemathesis(bench))
    return results


# --- memory and profile -------------------------------------------------------------------------------


def hostile_memory(bench: Bench) -> Runs:
    """Peak memory of runs against a 2 GB list body (bench/hostile_memory.py)."""
    import hostile_memory as memory_bench  # it puts tests/ on sys.path for the hostile server: imported when needed

    return memory_bench.measure(bench.workdir, bench.runs, code_root=bench.code_root)


def profile(bench: Bench) -> dict[str, Any]:
    """One default run under pyinstrument, its time by phase and kind of work, and its costliest frames."""
    import profile_breakdown

    where = bench.run_dir("profile")
    session = where / "run.pyisession"
    command = [sys.executable, "-m", "pyinstrument", "-r", "pyisession", "-o", str(session),
               "-m", "conformance", "--no-html", "--reports-dir", str(where / "reports")]
    load_before = load_average()
    times = timed_process(command, bench.environment(), bench.home, where / "output.txt")
    wall, code = times.wall, times.exit_code
    if not session.exists():
        raise SystemExit(f"the profiled run wrote no session (exit {code}); see {where / 'output.txt'}")
    root = profile_breakdown.load_session_root(session)
    bench.say(f"  profile: {wall:.1f} s, exit {code}")
    return {"wall_seconds": round(wall, 3), "exit_code": code, "load_before": load_before,
            "load_after": load_average(), "sampled_seconds": round(root.time, 3),
            "breakdown": profile_breakdown.breakdown(root, profile_breakdown.suite_functions(bench.code_root / "conformance" / "suite")),
            "top": profile_breakdown.top_functions(root, 20)}
