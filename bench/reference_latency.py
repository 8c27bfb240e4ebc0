"""Request latency of the reference server, per operation, on this machine.

Starts the reference server (`start_reference`, a free loopback port), then times N sequential
requests of each operation with one `requests.Session` (keep-alive):

    createCall      N creates (each a new call)
    getCall         N gets, one per created call
    listCalls/small N lists of an account with its 3 seeded calls
    listCalls/large N lists of the account holding the N created calls
    deleteCall      N deletes, one per created call

    python bench/reference_latency.py [--requests 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conformance.reference import ReferenceSettings, start_reference  # noqa: E402


def timed(count: int, request: Callable[[int], requests.Response], expect: int) -> list[float]:
    samples = []
    for index in range(count):
        start = time.perf_counter()
        response = request(index)
        samples.append((time.perf_counter() - start) * 1000.0)
        if response.status_code != expect:
            raise SystemExit(f"unexpected {response.status_code}: {response.text[:200]}")
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"n": len(samples), "p50_ms": round(cuts[49], 3), "p95_ms": round(cuts[94], 3),
            "p99_ms": round(cuts[98], 3), "mean_ms": round(statistics.fmean(samples), 3),
            "max_ms": round(max(samples), 3)}


def run(count: int) -> dict[str, Any]:
    with start_reference(ReferenceSettings(window=600)) as server:
        a, b = server.accounts[0], server.accounts[1]
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {a.token}", "Accept": "application/json"})
        calls = f"{server.base_url}/Accounts/{a.sid}/Calls"
        other = requests.Session()
        other.headers.update({"Authorization": f"Bearer {b.token}", "Accept": "application/json"})
        other_calls = f"{server.base_url}/Accounts/{b.sid}/Calls"
        body = {"from": "+15005550006", "to": {"type": "phone", "number": "+15005550001"}, "tag": {"bench": True}}

        for _ in range(20):  # warm-up: connections, caches, the schema validator
            session.get(calls)
            other.get(other_calls)
        sids: list[str] = []

        def create(_: int) -> requests.Response:
            response = session.post(calls, json=body)
            sids.append(response.json()["sid"])
            return response

        results = {"createCall": timed(count, create, 201)}
        results["getCall"] = timed(count, lambda i: session.get(f"{calls}/{sids[i]}"), 200)
        results["listCalls/small"] = timed(count, lambda i: other.get(other_calls), 200)
        results["listCalls/large"] = timed(count, lambda i: session.get(calls), 200)
        results["deleteCall"] = timed(count, lambda i: session.delete(f"{calls}/{sids[i]}"), 204)
        assert server.unexpected_errors == 0
    return {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "processor": platform.processor() or platform.machine()},
            "requests_per_operation": count,
            "operations": {name: summary(samples) for name, samples in results.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--requests", type=int, default=300, help="requests per operation (default 300)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.requests < 2:
        parser.error("--requests must be at least 2")
    result = run(args.requests)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"reference server latency, {args.requests} sequential requests per operation "
          f"(Python {result['machine']['python']}, {result['machine']['platform']})")
    print(f"{'operation':18} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'max ms':>8}")
    for name, s in result["operations"].items():
        columns = (s["p50_ms"], s["p95_ms"], s["p99_ms"], s["mean_ms"], s["max_ms"])
        print(f"{name:18} " + " ".join(f"{value:8.2f}" for value in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
