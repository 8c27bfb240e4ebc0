"""The suite proved on a zoo: every fault of the reference server caught, every conformant variant passed.

Each target is a reference server (`conformance.reference`) started in this process, with one fault, one
variant, or neither, and tested as an external target by a `calls-conformance` run in a subprocess (the
same program, options and code path as a user's run against a deployment). The runs go two at a time;
then one test per target reads its `verdict.json`, so that a failure names the fault or variant:

- a fault of a MUST requirement: NOT CONFORMANT, with that requirement among `failed_requirements`;
- a fault of a SHOULD requirement: that requirement among `warnings`; and run again with `--strict`:
  NOT CONFORMANT, with the requirement among `failed_requirements`;
- a fault of an ADVISORY requirement (the suite's advice): CONFORMANT, exit code 0, with the requirement
  among `advisories`, with and without `--strict`;
- the plain reference, and the reference and every variant with `--strict`: CONFORMANT, with no failed
  requirement, no warning and no advisory beyond those a variant is known not to follow (`ADVISED`);
- no fault is reported under a requirement that is neither its own nor a declared consequence, and a
  fault in `JUDGED_IN_FULL` leaves no requirement unjudged (one defect costs one requirement).

The servers' accounts are busy (30 calls each from the start, 10 of them ongoing): a list that shows
only some of an account's calls shows it only on an account holding more. At the end the score
(faults caught / faults, false verdicts on variants, wall time) is printed and written to
`reports/selftest.json` (and beside the runs' reports under pytest's temporary directory). Selecting
tests (`-k list-truncated`) runs only the targets selected. `python -m pytest -m selftest`;
docs/reference-server.md, "How the suite is proved", gives the settings and the score.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.contract.catalogue import load_catalogue
from conformance.runner.safe_creates import INVALID_DIALS_EXTERNAL
from conformance.reference import FAULTS, VARIANTS, ReferenceSettings, start_reference
from conformance.reference.testing import record_stored_calls

pytestmark = pytest.mark.selftest

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "selftest.json"

#: Retention window of the servers and the runs (seconds): the embedded run's, long enough for a few
#: samples inside it on a loaded machine.
WINDOW = 4.0
#: Property-test examples per operation and mode: the suite's default unless told (what a user's run sends).
EXAMPLES = os.environ.get("CALLS_SELFTEST_EXAMPLES")
#: The reference's calls end within 3 s (`slow-lifecycle`); a call still live after this never ends.
CALL_TIMEOUT = 10.0
#: Calls each account holds from the start (a third of them ongoing for an hour): busy accounts, so that
#: a list showing only some of an account's calls shows it.
SEEDED_CALLS = 30
WORKERS = int(os.environ.get("CALLS_SELFTEST_WORKERS", "2"))
RUN_TIMEOUT = 300.0
FROM_NUMBER, TO_NUMBER = "+15005550006", "+15005550001"
MAX_CALLS = 10  # the suite's default --max-calls, which the runs keep
#: Refused creates naming the destination a run may send: the invalid bodies of test_bad_input (12) and its
#: creates under malformed account sids (3), the refused creates of test_auth (5) and test_isolation (4),
#: and the generated ones (INVALID_DIALS_EXTERNAL).
REFUSED_CREATES_NAMING_THE_DESTINATION = 12 + 3 + 5 + 4 + INVALID_DIALS_EXTERNAL

LEVELS = {rid: requirement.level for rid, requirement in load_catalogue().items()}


@dataclass(frozen=True)
class Target:
    kind: str  # "reference", "fault" or "variant"
    name: str | None = None
    strict: bool = False

    @property
    def id(self) -> str:
        if self.kind == "reference":
            return "reference-strict" if self.strict else "reference"
        return f"{self.kind}-{'strict-' if self.strict else ''}{self.name}"

    @property
    def requirement(self) -> str | None:
        return FAULTS[self.name].requirement if self.kind == "fault" and self.name else None

    def settings(self) -> ReferenceSettings:
        return ReferenceSettings.fast(window=WINDOW, seeded_calls=SEEDED_CALLS,
                                      fault=self.name if self.kind == "fault" else None,
                                      variant=self.name if self.kind == "variant" else None)


@dataclass
class Outcome:
    target: Target
    seconds: float = 0.0
    exit_code: int | None = None
    verdict: dict[str, Any] | None = None
    error: str | None = None  # the run could not be judged (no verdict.json, timeout, server failure)
    output: str = ""
    calls_created: int | None = None  # calls the server stored during the run
    calls_dialled: int | None = None  # of those, calls with a destination: what the run cost a real deployment
    problems: list[str] = field(default_factory=list)


FAULT_TARGETS = [Target("fault", name) for name in FAULTS]
STRICT_TARGETS = [Target("fault", name, strict=True) for name, f in FAULTS.items() if LEVELS[f.requirement] != "MUST"]
# A conformant target passes with --strict, which also shows it has no warning: the variants run with it only.
CONFORMANT_TARGETS = [Target("reference"), Target("reference", strict=True)] + \
    [Target("variant", name, strict=True) for name in VARIANTS]
#: The suite's advice a conformant variant does not follow, by design.
ADVISED = {"lenient-from": {"CALLS-CREATE-REJECTS-MISTYPED"}}
#: Faults after which every other testable requirement must still be judged (none not run).
JUDGED_IN_FULL = {"list-empty-item", "list-duplicates-a-call", "no-caller-name"}
ALL_TARGETS = FAULT_TARGETS + STRICT_TARGETS + CONFORMANT_TARGETS


def _environment(token: str, other_token: str) -> dict[str, str]:
    """The parent's environment without any Calls API setting of its own, plus the two tokens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_")}
    env.update(CALLS_API_TOKEN=token, CALLS_API_OTHER_TOKEN=other_token, PYTHONDONTWRITEBYTECODE="1")
    return env


def run_target(target: Target, reports: Path) -> Outcome:
    """Start the target's reference server, run the suite against it, read its verdict."""
    outcome = Outcome(target)
    started = time.monotonic()
    try:
        with start_reference(target.settings()) as server:
            (account, token), (other_account, other_token) = [(a.sid, a.token) for a in server.accounts[:2]]
            applications = [a.application_sid for a in server.accounts[:2]]
            stored = record_stored_calls(server.app.state.store)
            command = [
                sys.executable, "-m", "conformance", "--base-url", server.base_url,
                "--account-sid", account, "--other-account-sid", other_account,
                "--application-sid", applications[0], "--other-application-sid", applications[1],
                "--allow-create", "--from-number", FROM_NUMBER, "--to-number", TO_NUMBER,
                "--window", f"{WINDOW:g}", "--call-timeout", f"{CALL_TIMEOUT:g}",
                "--no-html", "--reports-dir", str(reports),
            ] + (["--strict"] if target.strict else []) + (["--examples", EXAMPLES] if EXAMPLES else [])
            done = subprocess.run(command, cwd=ROOT, env=_environment(token, other_token), capture_output=True,
                                  text=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL, check=False)
            outcome.exit_code = done.returncode
            outcome.calls_created = len(stored)
            outcome.calls_dialled = sum(1 for record in stored if record.to)
            outcome.output = (done.stdout[-6000:] + "\n--- stderr\n" + done.stderr[-3000:]).strip()
            if server.unexpected_errors:
                outcome.error = (f"the reference server hit its last-resort 500 handler "
                                 f"{server.unexpected_errors} time(s)")
    except subprocess.TimeoutExpired:
        outcome.error = f"the run did not finish within {RUN_TIMEOUT:g} s"
    except Exception as error:  # noqa: BLE001 - a broken start must name its target, not abort the zoo
        outcome.error = f"{type(error).__name__}: {error}"
    outcome.seconds = time.monotonic() - started
    path = reports / "verdict.json"
    if outcome.error is None:
        if path.is_file():
            outcome.verdict = json.loads(path.read_text(encoding="utf-8"))
        else:
            outcome.error = f"no verdict.json (exit code {outcome.exit_code})"
    outcome.problems = judge(outcome)
    return outcome


def judge(outcome: Outcome) -> list[str]:
    """What is wrong with the verdict on this target; empty when the suite judged it right."""
    target = outcome.target
    if outcome.error is not None or outcome.verdict is None:
        return [outcome.error or "no verdict"]
    verdict = outcome.verdict
    answer, failed, warnings = verdict["verdict"], verdict["failed_requirements"], verdict["warnings"]
    advisories = verdict.get("advisories", [])
    problems = []
    bound = call_bound(target)
    if outcome.calls_dialled is not None and outcome.calls_dialled > bound:
        problems.append(f"the run made the server place {outcome.calls_dialled} calls with a destination, "
                        f"more than {bound}")
    not_run = [r["id"] for r in verdict["requirements"] if r["status"] == "not-run"]
    if target.kind in ("reference", "variant"):
        advised = ADVISED.get(target.name or "", set())
        if answer != "CONFORMANT" or failed or warnings or set(advisories) - advised or outcome.exit_code != 0:
            problems.append(f"expected CONFORMANT with no failure and no warning, got {answer} (exit code "
                            f"{outcome.exit_code}); failed {failed}, warnings {warnings}, advisories {advisories}"
                            + (f", not run {not_run}" if not_run else ""))
        return problems
    requirement = target.requirement
    assert requirement is not None
    if target.name in JUDGED_IN_FULL and not_run:
        problems.append(f"one defect left other requirements not judged: not run {not_run}")
    if LEVELS[requirement] == "ADVISORY":
        if answer != "CONFORMANT" or requirement not in advisories or outcome.exit_code != 0:
            problems.append(f"expected CONFORMANT (exit code 0) with the advice {requirement} among the advisories, "
                            f"got {answer} (exit code {outcome.exit_code}); advisories {advisories}, failed {failed}")
    elif LEVELS[requirement] == "MUST" or target.strict:
        if answer != "NOT CONFORMANT" or requirement not in failed:
            problems.append(f"expected NOT CONFORMANT with {requirement} failed, got {answer}; failed {failed}, "
                            f"warnings {warnings}")
    elif requirement not in warnings:
        problems.append(f"expected the SHOULD requirement {requirement} among the warnings, got {answer}; "
                        f"failed {failed}, warnings {warnings}")
    return problems


def call_bound(target: Target) -> int:
    """The most calls with a destination a run may make a server place: --max-calls (default 10) accepted
    creates; a server that places calls it refused also gets the refused creates that name the destination."""
    if target.kind == "fault" and FAULTS[target.name or ""].requirement == "CALLS-CREATE-REJECT-NO-CALL":
        return MAX_CALLS + REFUSED_CREATES_NAMING_THE_DESTINATION
    return MAX_CALLS


#: Consequences a fault shows only on the zoo's busy accounts, which the fault's probes (each on a fresh
#: server with three seeded calls) cannot see: a list cut short also leaves out ended calls inside the window.
BUSY_ACCOUNT_CONSEQUENCES = {("list-truncated-after-5", "CALLS-WINDOW-VISIBLE")}


def extra_failures(outcome: Outcome) -> list[str]:
    """Requirements reported failed (or warned) beyond the fault's own and its declared consequences."""
    if outcome.verdict is None or outcome.target.kind != "fault":
        return []
    fault = FAULTS[outcome.target.name or ""]
    reported = outcome.verdict["failed_requirements"] + outcome.verdict["warnings"] + \
        outcome.verdict.get("advisories", [])
    return [rid for rid in reported if rid != fault.requirement and rid not in fault.also
            and (fault.name, rid) not in BUSY_ACCOUNT_CONSEQUENCES]


def score(outcomes: list[Outcome], wall: float) -> dict[str, Any]:
    faults = [o for o in outcomes if o.target.kind == "fault" and not o.target.strict]
    strict = [o for o in outcomes if o.target.kind == "fault" and o.target.strict]
    conformant = [o for o in outcomes if o.target.kind in ("reference", "variant")]
    caught = sum(not o.problems for o in faults)
    requests = [o.verdict["stats"]["requests_sent"] for o in faults if o.verdict]
    return {
        "commit": _commit(),
        "faults_caught": caught,
        "faults": len(faults),
        "faults_reported_under_other_requirements": sum(bool(extra_failures(o)) for o in faults),
        "strict_should_faults_caught": sum(not o.problems for o in strict),
        "strict_should_faults": len(strict),
        "false_verdicts_on_conformant": sum(bool(o.problems) for o in conformant),
        "conformant_targets": len(conformant),
        "wall_seconds": round(wall, 1),
        # What the kill rate cost: requests of a run against a fault, and all of the faults' runs per fault caught.
        "requests_per_run": round(sum(requests) / len(requests)) if requests else None,
        "requests_per_fault_caught": round(sum(requests) / caught) if caught else None,
        "settings": {"window": WINDOW, "examples": EXAMPLES or "default", "call_timeout": CALL_TIMEOUT,
                     "seeded_calls": SEEDED_CALLS, "workers": WORKERS},
        "missed": {o.target.id: o.problems for o in outcomes if o.problems},
        "also_reported": {o.target.id: extra_failures(o) for o in faults if extra_failures(o)},
        "most_calls_dialled": max((o.calls_dialled or 0 for o in outcomes), default=0),
        "runs": {o.target.id: {"verdict": (o.verdict or {}).get("verdict"), "seconds": round(o.seconds, 1),
                               "calls_created": o.calls_created, "calls_dialled": o.calls_dialled,
                               "failed": (o.verdict or {}).get("failed_requirements"),
                               "warnings": (o.verdict or {}).get("warnings"), "error": o.error}
                 for o in outcomes},
    }


def _commit() -> str | None:
    """The commit the zoo ran on (with `+changes` when the checkout differs from it), or None outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+changes" if dirty else "")


def _selected(session: pytest.Session) -> list[Target]:
    wanted = {item.callspec.params["target"] for item in session.items
              if hasattr(item, "callspec") and isinstance(item.callspec.params.get("target"), Target)}
    targets = [t for t in ALL_TARGETS if t in wanted]
    # The slowest first (by the last run's times, when there is one), so that no long run starts last.
    try:
        last = json.loads(REPORT.read_text(encoding="utf-8"))["runs"]
    except (OSError, ValueError, KeyError, TypeError):
        last = {}
    return sorted(targets, key=lambda t: -float((last.get(t.id) or {}).get("seconds") or 0.0))


@pytest.fixture(scope="session")
def zoo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Run the suite against every selected target, WORKERS at a time; print and store the score."""
    targets = _selected(request.session)
    base = tmp_path_factory.mktemp("selftest")
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    lock = threading.Lock()
    finished: list[Outcome] = []

    def say(text: str) -> None:
        if reporter is None:
            return
        with lock:
            if capture is not None:
                with capture.global_and_fixture_disabled():
                    reporter.write_line(text)
            else:
                reporter.write_line(text)

    def one(target: Target) -> Outcome:
        outcome = run_target(target, base / target.id)
        finished.append(outcome)
        mark = "ok " if not outcome.problems else "BAD"
        answer = (outcome.verdict or {}).get("verdict", outcome.error)
        say(f"selftest {len(finished):>3}/{len(targets)} {mark} {target.id}: {answer} ({outcome.seconds:.0f} s, "
            f"{outcome.calls_dialled} calls dialled)")
        return outcome

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="selftest") as pool:
        outcomes = list(pool.map(one, targets))
    result = score(outcomes, time.monotonic() - started)
    text = json.dumps(result, indent=2) + "\n"
    (base / "selftest.json").write_text(text, encoding="utf-8")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text, encoding="utf-8")
    say(f"selftest: {result['faults_caught']}/{result['faults']} faults caught "
        f"({result['faults_reported_under_other_requirements']} also reported under undeclared requirements), "
        f"{result['strict_should_faults_caught']}/{result['strict_should_faults']} SHOULD and ADVISORY faults judged "
        f"right with --strict (SHOULD failed, ADVISORY still advice), "
        f"{result['false_verdicts_on_conformant']} false verdicts on {result['conformant_targets']} conformant "
        f"targets, "
        f"{result['requests_per_run']} requests per run against a fault, "
        f"{result['wall_seconds']:.0f} s wall time (window {WINDOW:g} s, {EXAMPLES or 'default'} examples, "
        f"{WORKERS} at a time); "
        f"written to {REPORT}")
    return {o.target.id: o for o in outcomes}


def _check(zoo: dict[str, Outcome], target: Target) -> None:
    outcome = zoo[target.id]
    if outcome.problems:
        pytest.fail(f"{target.id}: " + "; ".join(outcome.problems) + f"\n--- the run's output (tail)\n{outcome.output}",
                    pytrace=False)


@pytest.mark.parametrize("target", FAULT_TARGETS, ids=lambda t: t.name)
def test_fault_is_caught(zoo, target: Target) -> None:
    _check(zoo, target)


@pytest.mark.parametrize("target", FAULT_TARGETS, ids=lambda t: t.name)
def test_fault_is_reported_under_its_requirement_and_declared_consequences_only(zoo, target: Target) -> None:
    """A fault reported under a requirement it does not break misleads whoever reads the report."""
    outcome = zoo[target.id]
    if outcome.verdict is None:
        pytest.skip(f"no verdict: {outcome.error}")
    extra = extra_failures(outcome)
    if extra:
        rows = {r["id"]: r["failures"][:1] for r in outcome.verdict["requirements"] if r["id"] in extra}
        pytest.fail(f"{target.id} is also reported under {extra}, neither its requirement nor a declared "
                    f"consequence (`also`): {json.dumps(rows, indent=1)[:3000]}", pytrace=False)


@pytest.mark.parametrize("target", STRICT_TARGETS, ids=lambda t: t.name)
def test_should_fault_fails_with_strict(zoo, target: Target) -> None:
    _check(zoo, target)


@pytest.mark.parametrize("target", CONFORMANT_TARGETS, ids=lambda t: t.id)
def test_conformant_target_is_conformant(zoo, target: Target) -> None:
    _check(zoo, target)


#: Faults whose defect every listing (or every refused create) shows again.
REPEATED_DEFECTS = ["list-empty-item", "jambonz-as-observed"]
#: The longest failure message a reader should meet: a few hundred characters, never a body or a schema.
MESSAGE_BOUND = 500


@pytest.mark.parametrize("target", [t for t in FAULT_TARGETS if t.name in REPEATED_DEFECTS], ids=lambda t: t.name)
def test_a_defect_seen_again_and_again_is_one_failure_with_its_count_and_a_bounded_message(zoo, target: Target) -> None:
    """One failure per requirement and check (not one per test that met it), with how often it was seen."""
    verdict = zoo[target.id].verdict
    if verdict is None:
        pytest.skip(f"no verdict: {zoo[target.id].error}")
    failures = [(row["id"], f) for row in verdict["requirements"] for f in row["failures"]]
    too_long = [f["message"] for _, f in failures if len(f["message"]) > MESSAGE_BOUND]
    assert not too_long, f"{len(too_long)} message(s) over {MESSAGE_BOUND} characters, e.g. {too_long[0][:200]}"
    filed = [(rid, f["code"]) for rid, f in failures]
    assert len(filed) == len(set(filed)), f"the same defect filed more than once: {sorted(filed)}"
    assert any(f["count"] > 1 for rid, f in failures if rid == FAULTS[target.name].requirement)
