"""Benchmark of `calls-conformance fleet`: N local reference servers against one of them alone.

    python bench/fleet.py [--targets 8] [--parallel N] [--examples 25] [-m "not slow"] [--timings fast,standard]
                          [--output PATH] [--print] [--keep DIR]

Starts N reference servers, each a separate process (`python -m conformance.reference --port 0`, which
prints one JSON line with its base URL and accounts), and a profile for each (external style: base URL,
account, token file, --allow-create with numbers that dial nobody). Measures, on this machine:

1. one target alone: `calls-conformance --profile p0` (wall time, CPU time, peak memory of the process);
2. the fleet: `calls-conformance fleet --parallel N` over all N profiles (wall time, CPU time of the
   fleet and its runs, the peak memory of one target's run, which is what each concurrent target costs);
3. that every target of the fleet got the verdict the single run got (requirement by requirement);
4. the CPU the reference servers used meanwhile: with the suite's, the CPU floor of the fleet on this
   machine's cores.
Each with the reference's fast call lifecycle and with its standard one (calls that last 10 s).

The goal: fleet wall time <= 2 x the single run on 2 cores. Writes a section at the end of
docs/benchmarks.md (kept when bench/run.py rewrites the rest).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "benchmarks.md"
MARK = "<!-- fleet section: written by bench/fleet.py -->"
FROM_NUMBER, TO_NUMBER = "+15005550006", "+15005550001"
GOAL_RATIO = 2.0


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    return env


def start_servers(count: int, window: float, timings: str) -> list[tuple[subprocess.Popen, dict[str, Any]]]:
    servers = []
    for _ in range(count):
        process = subprocess.Popen([sys.executable, "-m", "conformance.reference", "--port", "0", "--timings", timings,
                                    "--window", str(window)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   text=True, env=environment())
        line = process.stdout.readline() if process.stdout else ""
        if not line:
            raise SystemExit("a reference server did not start")
        servers.append((process, json.loads(line)))
    return servers


def write_profiles(servers: list[tuple[subprocess.Popen, dict[str, Any]]], where: Path, window: float) -> list[Path]:
    profiles = []
    for index, (_, info) in enumerate(servers):
        account, other = info["accounts"][0], info["accounts"][1]
        token, other_token = where / f"t{index}.token", where / f"o{index}.token"
        token.write_text(account["token"], encoding="utf-8")
        other_token.write_text(other["token"], encoding="utf-8")
        profile = where / f"target-{index + 1}.toml"
        profile.write_text(f'base-url = "{info["base_url"]}"\naccount-sid = "{account["sid"]}"\n'
                           f'token-file = "{token}"\nother-account-sid = "{other["sid"]}"\n'
                           f'other-token-file = "{other_token}"\nallow-create = true\nfrom-number = "{FROM_NUMBER}"\n'
                           f'to-number = "{TO_NUMBER}"\nwindow = {window}\n', encoding="utf-8")
        profiles.append(profile)
    return profiles


def measured(command: list[str], cwd: Path, log: Path) -> dict[str, float]:
    """Run to the end; wall and CPU time and peak memory (the process and every process it waited for)."""
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(command, cwd=cwd, env=environment(), stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return {"wall": time.monotonic() - started, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_mib": usage.ru_maxrss / 1024, "exit": process.returncode}


def statuses(path: Path) -> tuple[str, dict[str, str]]:
    verdict = json.loads(path.read_text(encoding="utf-8"))
    return verdict["verdict"], {r["id"]: r["status"] for r in verdict["requirements"]}


def _cpu_of(pid: int) -> float:
    """CPU seconds a live process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _row(name: str, values: list[str], goal: str = "–", status: list[str] | None = None) -> str:
    cells = " | ".join(values)
    return f"| {name} | {cells} | {goal} | {' / '.join(status) if status else '–'} |"


def render(r: dict[str, Any]) -> str:
    presets = r["presets"]
    m = [r["measured"][p] for p in presets]
    ratios = [x["fleet"]["wall"] / x["single"]["wall"] for x in m]
    head = " | ".join(f"`--timings {p}`" for p in presets)
    lines = [
        MARK, "## Fleet (`bench/fleet.py`)", "",
        f"`calls-conformance fleet` over {r['targets']} local reference servers (each a separate process, tested",
        f"external-style: two accounts, `--allow-create`, `-m \"{r['marker']}\"`, `--examples {r['examples']}`), at",
        f"most {r['parallel']} at once, against one of them alone; with the reference's fast call lifecycle (a",
        "call lasts 1 s) and its standard one (10 s), where a run waits on the target as against a real",
        f"deployment. {r['date']}, {r['cores']} cores, Python {r['python']}; load average (1 min)",
        f"{r['load_before']:.2f} before, {r['load_after']:.2f} after (other work shared the machine).", "",
        f"| measurement | {head} | goal | status |", "|---|" + "---|" * len(presets) + "---|---|",
        _row("one target alone: wall time", [f"{x['single']['wall']:.1f} s" for x in m]),
        _row("one target alone: CPU time of the suite", [f"{x['single']['cpu']:.1f} s" for x in m]),
        _row("one target alone: peak memory of the run", [f"{x['single']['peak_mib']:.0f} MiB" for x in m]),
        _row(f"fleet of {r['targets']}: wall time", [f"{x['fleet']['wall']:.1f} s" for x in m]),
        _row(f"fleet of {r['targets']}: CPU time of the suite (fleet and its runs)", [f"{x['fleet']['cpu']:.1f} s" for x in m]),
        _row(f"fleet of {r['targets']}: CPU time of the {r['targets']} reference servers", [f"{x['servers_cpu']:.1f} s" for x in m]),
        _row("fleet wall time / single wall time", [f"{q:.2f}" for q in ratios], f"<= {GOAL_RATIO:g}",
             ["met" if q <= GOAL_RATIO else "not met" for q in ratios]),
        _row("CPU floor of the fleet: (suite + servers CPU) / cores / single wall time",
             [f"{(x['fleet']['cpu'] + x['servers_cpu']) / (r['cores'] or 1) / x['single']['wall']:.2f}" for x in m]),
        _row("peak memory per concurrent target (largest run of the fleet)", [f"{x['fleet']['peak_mib']:.0f} MiB" for x in m]),
        _row(f"suite memory at {r['parallel']} at once (per target x parallel)",
             [f"{x['fleet']['peak_mib'] * r['parallel']:.0f} MiB" for x in m]),
        _row("targets whose verdict equals the single run's, requirement by requirement",
             [f"{x['same']} of {r['targets']}" for x in m], "all", ["met" if x["same"] == r["targets"] else "not met" for x in m]),
        "",
        "Verdicts: " + "; ".join(f"{p}: {x['verdict']} (single exit {x['single']['exit']}, fleet exit {x['fleet']['exit']})"
                                 for p, x in zip(presets, m)) + ".",
        "The unmeasured warm-up run before each (the first in a fresh directory fills Hypothesis' Unicode",
        "cache in `.hypothesis/`, which later runs read) peaked at "
        + ", ".join(f"{x['warm']['peak_mib']:.0f} MiB" for x in m) + ".",
        "When the CPU floor is above the goal, the fleet is bound by the machine's cores, not by waiting:",
        "its runs and the servers they test need that much CPU between them.", "",
    ]
    return "\n".join(lines)


def write_section(text: str, output: Path) -> None:
    current = output.read_text(encoding="utf-8") if output.exists() else "# Benchmarks\n"
    if MARK in current:
        current = current[:current.index(MARK)]
    output.write_text(current.rstrip("\n") + "\n\n" + text, encoding="utf-8")


def measure(preset: str, args: argparse.Namespace, parallel: int, work: Path) -> dict[str, Any]:
    """Warm-up, one target alone, then the fleet, against fresh reference servers of a timing preset."""
    work.mkdir(parents=True, exist_ok=True)
    servers = start_servers(args.targets, args.window, preset)
    try:
        profiles = write_profiles(servers, work, args.window)
        common = ["--no-html", "--examples", str(args.examples), "-m", args.marker]
        print(f"[{preset}] warm-up run...", flush=True)
        warm = measured([sys.executable, "-m", "conformance", "--profile", str(profiles[0]),
                         "--reports-dir", str(work / "warm"), *common], work, work / "warm.log")
        print(f"[{preset}] single run against {profiles[0].stem}...", flush=True)
        single = measured([sys.executable, "-m", "conformance", "--profile", str(profiles[0]),
                           "--reports-dir", str(work / "single"), *common], work, work / "single.log")
        print(f"[{preset}]   {single['wall']:.1f} s; fleet of {len(profiles)}, {parallel} at once...", flush=True)
        servers_before = sum(_cpu_of(p.pid) for p, _ in servers)
        fleet = measured([sys.executable, "-m", "conformance", "fleet", "--reports-dir", str(work / "fleet"),
                          "--parallel", str(parallel), "--no-html", *map(str, profiles), "--", *common],
                         work, work / "fleet.log")
        servers_cpu = sum(_cpu_of(p.pid) for p, _ in servers) - servers_before
        largest = re.search(r"largest run (\d+) MiB", (work / "fleet.log").read_text(encoding="utf-8"))
        if largest:
            fleet["peak_mib"] = float(largest.group(1))
        print(f"[{preset}]   {fleet['wall']:.1f} s", flush=True)
        verdict, alone = statuses(work / "single" / "verdict.json")
        same = sum(statuses(work / "fleet" / p.stem / "verdict.json")[1] == alone for p in profiles)
    finally:
        for process, _ in servers:
            process.terminate()
        for process, _ in servers:
            process.wait(timeout=10)
    return {"warm": warm, "single": single, "fleet": fleet, "servers_cpu": servers_cpu, "same": same,
            "verdict": verdict}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--targets", type=int, default=8)
    parser.add_argument("--parallel", type=int, default=None, help="default: all targets at once")
    parser.add_argument("--examples", type=int, default=25)
    parser.add_argument("-m", dest="marker", default="not slow")
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--timings", default="fast,standard", help="reference timing presets, comma-separated")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--print", action="store_true", help="print the section instead of writing it")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR", help="work in DIR and keep it (logs, reports)")
    args = parser.parse_args(argv)
    parallel = args.parallel or args.targets
    presets = [p for p in args.timings.split(",") if p]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        work = Path(args.keep or tmp)
        results_by_preset = {p: measure(p, args, parallel, work / p) for p in presets}
    results = {"targets": args.targets, "parallel": parallel, "examples": args.examples, "marker": args.marker,
               "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "cores": os.cpu_count(),
               "python": platform.python_version(), "load_before": load_before, "load_after": os.getloadavg()[0],
               "presets": presets, "measured": results_by_preset}
    text = render(results)
    if args.print:
        print(text)
    else:
        write_section(text, args.output)
        print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
