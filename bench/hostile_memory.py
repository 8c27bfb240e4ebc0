"""Peak memory of a run against a target whose list answer is a 2 GB body.

The suite runs in a child process (`python -m conformance`, the list tests: `-k list`) against the
project's hostile test server (tests/hostile.py), which answers its first request (the preflight) with an
empty list and every later one with a 2 GB JSON list. The child's peak resident set size is read from
the kernel when it ends (`wait4`). With the body size cap the figure stays near that of a normal run;
without it the suite would hold the whole body, several times over.

    bench/hostile_memory.py [--runs N] [--body-bytes N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from hostile import ACCOUNT, Hostile  # noqa: E402

TOKEN = "bench-hostile-memory-token"


def one_run(workdir: Path, body_bytes: int, code_root: Path = ROOT) -> dict[str, Any]:
    """One suite run against the endless list; its peak RSS (MiB), wall time, exit code and bytes sent."""
    reports = Path(tempfile.mkdtemp(prefix="reports-", dir=workdir))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(code_root), env.get("PYTHONPATH"))))
    env["CALLS_API_TOKEN"] = TOKEN
    with Hostile("endless", good_first=1, body_bytes=body_bytes) as target:
        command = [sys.executable, "-m", "conformance", "--base-url", target.base_url, "--account-sid", ACCOUNT,
                   "--reports-dir", str(reports), "--no-html", "--request-timeout", "60", "-k", "list"]
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=reports, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        sent = target.sent_bytes
    verdict = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    return {"peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "wall_seconds": round(wall, 1),
            "exit_code": os.waitstatus_to_exitcode(status), "verdict": verdict["verdict"],
            "requests": verdict["stats"]["requests_sent"], "bytes_sent_by_target": sent,
            "max_body_bytes": verdict["target"]["max_body_bytes"], "body_bytes": body_bytes}


def measure(workdir: Path, runs: int = 1, body_bytes: int = 2 * 1024**3, code_root: Path = ROOT) -> list[dict[str, Any]]:
    return [one_run(workdir, body_bytes, code_root) for _ in range(runs)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--body-bytes", type=int, default=2 * 1024**3, help="size of the list body offered (2 GB)")
    parser.add_argument("--json", type=Path, help="also write the measurements to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="calls-hostile-memory-") as work:
        results = measure(Path(work), args.runs, args.body_bytes)
    peaks = [r["peak_rss_mib"] for r in results]
    for r in results:
        print(f"peak RSS {r['peak_rss_mib']} MiB, {r['wall_seconds']} s, exit {r['exit_code']} ({r['verdict']}), "
              f"{r['requests']} requests, {r['bytes_sent_by_target'] / 2**20:.0f} MiB sent by the target "
              f"(cap {r['max_body_bytes'] / 2**20:.0f} MiB, body offered {r['body_bytes'] / 2**30:.0f} GiB)")
    print(f"median peak RSS {statistics.median(peaks)} MiB (min {min(peaks)}, max {max(peaks)})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
