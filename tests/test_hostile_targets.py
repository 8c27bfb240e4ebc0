"""Hostile and failing targets: every run ends in bounded time, with one clear answer, a verdict.json
that says why, and no token anywhere.

Each case points the suite (`python -m conformance`, in a child process) at a `Hostile` server
(tests/hostile.py) that is bad from the start, or turns bad after answering its first request (the
preflight) well; good answers come from a reference server behind it where the run needs real ones.
The runs of the selected cases are started together, a few at a time, when the first case asks.
"""

from __future__ import annotations

import json
import os
import string
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.reference.server import start_reference
from conformance.reference.settings import Account, ReferenceSettings
from hostile import ACCOUNT, Hostile

REPO = Path(__file__).resolve().parent.parent
# Any 4 characters of the token in a row, in any artifact, are a leak of it. Each such piece holds a "~" (valid in
# a Bearer token, RFC 6750), which no random text the run writes can hold: the case ids Schemathesis sends as
# X-Schemathesis-TestCaseId (6 random letters and digits), base64 (junit.xml), hex and uuids. A token of letters
# only would be found, now and then, in such an id by chance.
TOKEN = "ZQX~JVK~WBH~FPG~MTD~YRC"
PIECES = {TOKEN[i:i + 4] for i in range(len(TOKEN) - 3)}
RANDOM_TEXT_CHARACTERS = set(string.ascii_letters + string.digits + "+/=-_")
BUDGET = 30.0
SLACK = 30.0  # start-up, collection and the bounded cleanup, beyond the run budget
# Offsets of the echoed token in a body around every cut the suite makes of text it keeps (describe 600,
# a kept body 4000, reasons 160-300), each side of the cut.
OFFSETS = sorted({limit + delta for limit in (160, 200, 300, 600, 4000) for delta in range(-len(TOKEN) - 20, 4)})


@dataclass
class Case:
    behaviour: str
    good_first: int = 0
    upstream: bool = False  # good answers from a reference server (else canned answers of an empty target)
    options: tuple[str, ...] = ()
    server: dict[str, Any] = field(default_factory=dict)


CASES: dict[str, Case] = {
    "slow-from-the-start": Case("slow"),
    "slow-after-the-first": Case("slow", 1),
    "stall-after-headers": Case("stall", 1),
    "body-dripped": Case("drip", 1),
    "headers-dripped": Case("drip-headers", 1),
    "body-cut-short-from-the-start": Case("cut-short"),
    "body-cut-short-after-the-first": Case("cut-short", 1),
    "reset-every-third": Case("reset", 1, upstream=True, options=("--accept-incomplete",)),
    "endless-list": Case("endless", 1, upstream=True, options=("--max-body-bytes", str(4 * 1024 * 1024), "-k", "list")),
    "html-login-page": Case("html", 1, upstream=True),
    "wrong-content-type": Case("text-type", 1, upstream=True),
    "invalid-utf8": Case("bad-utf8", 1, upstream=True),
    "deeply-nested-from-the-start": Case("deep"),
    "deeply-nested-after-the-first": Case("deep", 1, upstream=True),
    "redirect-from-the-start": Case("redirect"),
    "redirect-after-the-first": Case("redirect", 1),
    "503-from-the-start": Case("unavailable"),
    "503-after-the-first": Case("unavailable", 1, upstream=True),
    "429-huge-retry-after": Case("rate-limited"),
    "429-after-the-first": Case("rate-limited", 1),
    "429-short-retry-after": Case("rate-limited", server={"retry_after": 1}),
    # Every coverage case: the run must get an answer at each offset.
    "token-echoed": Case("echo", 1, upstream=True, options=("--coverage-cases", "all"), server={"offsets": OFFSETS}),
    "budget-runs-out": Case("slow", 1, upstream=True, options=("--request-timeout", "3", "--run-budget", "8"),
                            server={"delay": 0.4}),
}


@dataclass
class Outcome:
    code: int
    output: str  # stdout and stderr
    reports: Path
    verdict: dict[str, Any] | None
    seconds: float
    requests: int
    elsewhere: int  # requests the other loopback address received


def _run_case(name: str, work: Path) -> Outcome:
    case = CASES[name]
    reports = work / name
    reports.mkdir(parents=True)
    accounts = (Account(sid=ACCOUNT, token=TOKEN), Account(sid=str(uuid.uuid4()), token=f"other-{uuid.uuid4().hex}"))
    with start_reference(ReferenceSettings.fast(window=4.0, accounts=accounts)) as reference, \
            Hostile("good", host="127.0.0.2") as elsewhere, \
            Hostile(case.behaviour, good_first=case.good_first, upstream=reference.base_url if case.upstream else "",
                    redirect_to=f"http://127.0.0.2:{elsewhere.port}", **case.server) as target:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
        env["CALLS_API_TOKEN"] = TOKEN
        command = [sys.executable, "-m", "conformance", "--base-url", target.base_url, "--account-sid", ACCOUNT,
                   "--reports-dir", str(reports), "--no-html", "--request-timeout", "1", "--run-budget", str(BUDGET),
                   "--examples", "3", "--window", "4", "-m", "not slow"]
        if case.upstream:
            command += ["--allow-create", "--from-number", "+15005550006", "--to-number", "+15005550001"]
        started = time.monotonic()
        done = subprocess.run([*command, *case.options], cwd=reports, env=env, capture_output=True, text=True,
                              timeout=BUDGET + 120)
        seconds = time.monotonic() - started
        requests, other = target.requests, elsewhere.requests
    path = reports / "verdict.json"
    verdict = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    return Outcome(done.returncode, done.stdout + "\n" + done.stderr, reports, verdict, seconds, requests, other)


_RUNS: dict[str, Future] = {}
_LOCK = threading.Lock()
_POOL: list[Any] = []  # the executor and the work directory of the module


def _submit(name: str) -> Future:
    with _LOCK:
        if name not in _RUNS:
            executor, work = _POOL
            _RUNS[name] = executor.submit(_run_case, name, work)
        return _RUNS[name]


@pytest.fixture(scope="module")
def pool(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Starts the runs of every selected case at once, three at a time; a test then waits for its own."""
    with ThreadPoolExecutor(max_workers=3) as executor:
        _POOL[:] = [executor, tmp_path_factory.mktemp("hostile")]
        for item in request.session.items:
            if item.module is request.module:
                for name in getattr(item, "callspec", None) and [item.callspec.params.get("name")] or []:
                    if name:
                        _submit(name)
        yield
        _RUNS.clear()


def outcome(name: str) -> Outcome:
    return _submit(name).result()


def _assert_common(name: str, result: Outcome) -> dict[str, Any]:
    """What holds for every hostile case: ended in its budget, a verdict.json, no traceback, no token."""
    where = f"{name}: exit {result.code}\n{result.output[-4000:]}"
    assert result.verdict is not None, where
    assert result.code == result.verdict["exit_code"], where
    assert result.code != 0, where  # a hostile target never passes
    budget = float(result.verdict["target"]["run_budget_seconds"])
    assert result.verdict["duration_seconds"] <= budget + SLACK, where
    noise = ["INTERNALERROR", "_pytest.outcomes", "RecursionError", "MemoryError", "requests.exceptions", "urllib3"]
    if result.code != 1:
        noise.append("Traceback")  # nothing failed: nothing to show but one line per problem
    for word in noise:
        assert word not in result.output, f"{word} in the output of {where}"
    texts = {"output": result.output}
    texts.update({str(p.relative_to(result.reports)): p.read_text(encoding="utf-8", errors="replace")
                  for p in result.reports.rglob("*") if p.is_file()})
    for where_, text in texts.items():
        found = sorted(piece for piece in PIECES if piece in text)
        assert not found, f"{name}: token pieces {found} in {where_}"
    return result.verdict


def _failure_messages(verdict: dict[str, Any]) -> str:
    return "\n".join(f["message"] for row in verdict["requirements"] for f in row["failures"])


def _reasons(verdict: dict[str, Any]) -> str:
    return "\n".join(r for row in verdict["requirements"] for r in row["reasons"])


def _line_once(result: Outcome, text: str) -> None:
    lines = [line for line in result.output.splitlines() if text in line]
    assert len(lines) == 1, f"{text!r} printed {len(lines)} times:\n{result.output[-3000:]}"


PREFLIGHT = {
    "slow-from-the-start": ("timeout", "no answer within 1 s"),
    "body-cut-short-from-the-start": ("cut-short", "the body was cut short"),
    "redirect-from-the-start": ("redirect", "the base URL redirects (307) to http://127.0.0.2:"),
    "503-from-the-start": ("unhealthy", "the target is unhealthy: answered 503"),
    "429-huge-retry-after": ("rate-limited", "would outlast the run budget"),
    "429-short-retry-after": ("rate-limited", "still 429 Too Many Requests after 4 retries"),
}


@pytest.mark.parametrize("name", list(PREFLIGHT))
def test_a_target_that_fails_the_preflight_gets_one_line_exit_7_and_a_verdict(pool, name: str) -> None:
    result = outcome(name)
    verdict = _assert_common(name, result)
    kind, message = PREFLIGHT[name]
    assert result.code == 7
    assert verdict["verdict"] == "TARGET FAILED"
    failure = verdict["target_failure"]
    assert failure["stage"] == "preflight" and failure["kind"] == kind, failure
    assert message in failure["message"], failure
    _line_once(result, f"calls-conformance: preflight failed: {failure['message']}")


def test_a_redirecting_target_names_the_url_to_use_and_the_other_address_receives_nothing(pool) -> None:
    result = outcome("redirect-from-the-start")
    assert result.verdict is not None
    assert result.verdict["target_failure"]["message"].endswith("/v1: use that URL")
    assert result.elsewhere == 0


def test_a_long_rate_limit_wait_is_announced(pool) -> None:
    result = outcome("429-short-retry-after")
    assert "calls-conformance: rate limited, waiting 1 s (Retry-After), 4 tries left" in result.output
    assert "1 try left" in result.output


STOPPED = {
    "slow-after-the-first": "5 timeouts in a row",
    "stall-after-headers": "5 timeouts in a row",
    "body-dripped": "5 timeouts in a row",
    "headers-dripped": "5 timeouts in a row",
    "body-cut-short-after-the-first": "5 failed exchanges in a row",
    "429-after-the-first": "20 answers in a row of 429/502/503/504",
}


@pytest.mark.parametrize("name", list(STOPPED))
def test_a_target_that_stops_answering_mid_run_trips_the_breaker_exit_8(pool, name: str) -> None:
    result = outcome(name)
    verdict = _assert_common(name, result)
    assert result.code == 8
    assert verdict["verdict"] == "TARGET FAILED"
    failure = verdict["target_failure"]
    assert failure["stage"] == "run" and failure["kind"] == "stopped-answering", failure
    assert failure["message"].startswith("target stopped answering after ") and STOPPED[name] in failure["message"]
    assert result.requests <= 40  # it stopped sending: no test waits out its timeouts after the trip
    _line_once(result, f"calls-conformance: {failure['message']}")
    assert "TARGET FAILED: " + failure["message"] in _reasons(verdict)


def test_a_stall_is_reported_as_a_stall_not_as_a_connection_failure(pool) -> None:
    for name in ("stall-after-headers", "body-dripped"):
        reasons = _reasons(outcome(name).verdict or {"requirements": []})
        assert "stalled: " in reasons and "cannot connect" not in reasons, reasons


def test_503_after_the_first_answer_stops_the_run_and_is_never_conformant(pool) -> None:
    result = outcome("503-after-the-first")
    verdict = _assert_common("503-after-the-first", result)
    assert verdict["target_failure"]["kind"] == "stopped-answering"
    # A 503 breaks CALLS-NO-SERVER-ERROR before the breaker trips: NOT CONFORMANT, the failure still set.
    assert (result.code, verdict["verdict"]) in ((1, "NOT CONFORMANT"), (8, "TARGET FAILED"))


def test_the_run_budget_stops_a_slow_target_exit_8(pool) -> None:
    result = outcome("budget-runs-out")
    verdict = _assert_common("budget-runs-out", result)
    assert result.code == 8 and verdict["verdict"] == "TARGET FAILED"
    assert verdict["target_failure"]["kind"] == "run-budget"
    assert verdict["target"]["run_budget_seconds"] == 8.0


def test_connection_resets_are_never_accepted_as_incomplete(pool) -> None:
    result = outcome("reset-every-third")
    verdict = _assert_common("reset-every-third", result)
    assert result.code in (1, 6, 8), result.output[-3000:]  # --accept-incomplete does not cover a failing target
    assert "the connection was reset" in _reasons(verdict)
    assert verdict["stats"]["failed_exchanges"] > 0


GARBAGE = {
    "endless-list": ("CALLS-LIST-200", "larger than 4194304 bytes"),
    "html-login-page": ("CALLS-CONTENT-TYPE-JSON", "text/html"),
    "wrong-content-type": ("CALLS-CONTENT-TYPE-JSON", "text/plain"),
    "invalid-utf8": ("CALLS-LIST-200", "the JSON text is not UTF-8 (RFC 8259 section 8.1)"),
    "deeply-nested-from-the-start": ("CALLS-LIST-200", "nested deeper than"),
    "deeply-nested-after-the-first": ("CALLS-LIST-200", "nested deeper than"),
    "redirect-after-the-first": ("CALLS-LIST-200", "307"),
}


@pytest.mark.parametrize("name", list(GARBAGE))
def test_a_garbage_answer_is_a_finding_against_the_requirement_checked(pool, name: str) -> None:
    result = outcome(name)
    verdict = _assert_common(name, result)
    requirement, message = GARBAGE[name]
    assert result.code == 1 and verdict["verdict"] == "NOT CONFORMANT", result.output[-3000:]
    row = next(r for r in verdict["requirements"] if r["id"] == requirement)
    assert row["status"] == "failed", row
    assert message in _failure_messages(verdict), _failure_messages(verdict)[:3000]
    assert result.elsewhere == 0


def test_an_echoed_token_is_redacted_at_every_offset(pool) -> None:
    result = outcome("token-echoed")
    verdict = _assert_common("token-echoed", result)  # no 4 letters of the token in any artifact
    assert result.requests > len(OFFSETS)  # every offset was served
    assert "[REDACTED]" in _failure_messages(verdict)


def test_no_piece_of_the_token_can_be_drawn_by_chance_in_a_random_id_or_base64_text() -> None:
    assert all(set(piece) - RANDOM_TEXT_CHARACTERS for piece in PIECES)


def test_the_run_budget_also_ends_a_wait_for_the_retention_window(tmp_path: Path) -> None:
    """No request is due while the window is waited out: the budget still ends the run, and the call the watch
    created is deleted."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
    done = subprocess.run([sys.executable, "-m", "conformance", "--reports-dir", str(tmp_path), "--no-html",
                           "-m", "window", "--window", "60", "--run-budget", "15"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    verdict = json.loads((tmp_path / "verdict.json").read_text(encoding="utf-8"))
    assert done.returncode == 8, done.stdout[-3000:] + done.stderr[-2000:]
    assert verdict["target_failure"]["kind"] == "run-budget"
    assert verdict["duration_seconds"] <= 15 + SLACK
    assert verdict["stats"]["calls_created"] == 1 and verdict["stats"]["leftover_calls"] == []
