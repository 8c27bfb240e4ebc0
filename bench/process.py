"""Running a measured process: the code it runs, its environment, its command line, its times."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RUN_TIMEOUT = 900.0  # seconds; a suite run that takes longer is stopped and reported

# What a suite run imports and reads. A benchmark copies them when it starts (`snapshot_code`) and
# measures that copy, so that edits made while it runs do not change what it measures.
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


def child_environment(code_root: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a measured run: this one, without bytecode suppression or target settings,
    importing the measured code from `code_root` (and bench/, for the server_counter plugin)."""
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("CALLS_API_") and k != "CALLS_BENCH_COUNTS"}
    paths = [str(code_root), str(BENCH_DIR)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra or {})
    return env


def suite_command() -> list[str]:
    """`calls-conformance`, as the module it runs (so that it works without installing the package)."""
    return [sys.executable, "-m", "conformance"]


def schemathesis_command() -> list[str]:
    script = Path(sys.executable).parent / "st"
    if script.exists():
        return [str(script)]
    found = shutil.which("st")
    return [found] if found else [sys.executable, "-m", "schemathesis.cli"]


def display_command(command: Sequence[str], replacements: dict[str, str]) -> str:
    """A command line to show: the program by its name, the given substrings replaced, spaces quoted."""
    shown = [Path(command[0]).name] + list(command[1:])
    out = []
    for part in shown:
        for old, new in replacements.items():
            part = part.replace(old, new)
        out.append(f'"{part}"' if " " in part else part)
    return " ".join(out)


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


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None
