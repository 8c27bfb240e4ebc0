"""One measured `calls-conformance` run and what its reports say, as plain data."""

from __future__ import annotations

import base64
import binascii
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable

from process import child_environment, load_average, suite_command, timed_process


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


def read_reports(reports: Path) -> dict[str, Any]:
    """What a run's verdict.json and junit.xml say: its verdict and stats, the seconds per test file and
    the Hypothesis statistics (nothing for a report the run did not write)."""
    found: dict[str, Any] = {}
    verdict_path = reports / "verdict.json"
    if verdict_path.exists():
        verdict = json.loads(verdict_path.read_text(encoding="utf-8"))
        found["verdict"] = verdict.get("verdict")
        found["pytest_seconds"] = verdict.get("duration_seconds")
        found["suite_stats"] = verdict.get("stats", {})
    junit = reports / "junit.xml"
    if junit.exists():
        files = junit_file_times(junit)
        found["file_seconds"] = {k: round(v, 3) for k, v in files.items()}
        found["tests_seconds"] = round(sum(files.values()), 3)
        found["hypothesis"] = junit_hypothesis_stats(junit)
    return found


class Bench:
    """Where the runs of one benchmark happen: a directory per run, one shared working directory, the
    measured code (`code_root`, a snapshot of the checkout) and how many times each measurement runs."""

    def __init__(self, workdir: Path, runs: int, examples: int, say: Callable[[str], None], code_root: Path) -> None:
        self.workdir = workdir
        self.runs = runs
        self.examples = examples
        self.say = say
        self.code_root = code_root
        self.sequence = 0
        # Every run starts in this one directory, as a user's runs do: Hypothesis keeps its caches (e.g.
        # the table of characters a codec can encode) in .hypothesis/ under the working directory.
        self.home = workdir / "working-directory"
        self.home.mkdir(parents=True, exist_ok=True)

    def run_dir(self, name: str) -> Path:
        """A new directory for one run's reports and output, numbered in the order of the runs."""
        self.sequence += 1
        path = self.workdir / f"{self.sequence:03d}-{name}"
        path.mkdir(parents=True)
        return path

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return child_environment(self.code_root, extra)

    def suite_run(self, name: str, args: list[str], env: dict[str, str] | None = None,
                  counter: Any = None, fresh_directory: bool = False) -> dict[str, Any]:
        """One `calls-conformance` run; server counts come from `counter` (a bench-side server) or from
        the embedded reference through the server_counter plugin. It starts in the shared working
        directory, or with `fresh_directory` in an empty one (as a first run, or CI in a fresh clone)."""
        where = self.run_dir(name)
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
        times = timed_process(command, self.environment(extra_env), cwd, where / "output.txt")
        wall, code = times.wall, times.exit_code
        result: dict[str, Any] = {"name": name, "wall_seconds": round(wall, 3), "exit_code": code,
                                  "cpu_seconds": round(times.cpu, 3), "load_before": load_before,
                                  "load_after": load_average()}
        if counter is not None:
            result["server_cpu_seconds"] = round(times.host_cpu, 3)
        result.update(read_reports(reports))
        if counter is not None:
            result["server"] = counter.snapshot()
        elif counts_file.exists():
            servers = json.loads(counts_file.read_text(encoding="utf-8"))["servers"]
            if servers:
                result["server"] = servers[0]
        self.say(f"  {name}: {wall:.1f} s, exit {code}, {result.get('verdict', '?')}, "
                 f"{result.get('server', {}).get('requests', '?')} requests on the server, load {load_before}")
        return result

