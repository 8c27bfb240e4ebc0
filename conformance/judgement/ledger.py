"""The ledger: what the run knows of each requirement, test by test (passed by, failed with, not run because).

Tests declare the requirements they check (`@pytest.mark.requirements(...)`). A passing test is evidence
that its requirements hold; a `RequirementViolation` fails the requirement it names; a skip or an error
leaves the test's requirements not run, with the reason. The runner writes each test's outcome here;
verdict.py turns the ledger into the run's answer.

What a requirement's answer rests on is counted in probes: the requests its tests meant to send, how many
were sent and judged, and why the others were not. A test that counts none is one probe (judged when it
passed or failed, unsent with its reason when it was not run). A requirement none of whose probes was
judged is not passed, whatever its tests did.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from conformance.contract.catalogue import Requirement, load_catalogue
from conformance.judgement.checks import Probes


@dataclass
class Failure:
    test: str
    code: str
    message: str
    reproduce: str | None = None
    observed: str | None = None  # what was sent and what came back: request line, status, content type, body
    exchange: int | None = None  # the observed exchange's number in the run (its `_id` in exchanges.har)

    def as_dict(self) -> dict[str, Any]:
        return {"test": self.test, "code": self.code, "message": self.message, "reproduce": self.reproduce,
                "observed": self.observed, "exchange": self.exchange}


@dataclass
class Evidence:
    passed_by: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    not_run: list[tuple[str, str]] = field(default_factory=list)
    selected: bool = False
    collected: bool = False
    probes: Probes = field(default_factory=Probes)
    counted: set[str] = field(default_factory=set)  # tests whose probes are in `probes`
    calls: dict[str, bool] = field(default_factory=dict)  # sid -> created by the run

    def count_test(self, test: str, judged: bool, reason: str = "") -> None:
        """A test that counted no probes of its own is one probe (once)."""
        if test not in self.counted:
            self.counted.add(test)
            self.probes.add(Probes(1, 1) if judged else Probes(unsent={reason: 1}))


class Ledger:
    """Collects, test by test, what is known of each requirement. Thread-safe."""

    def __init__(self, catalogue: dict[str, Requirement] | None = None) -> None:
        self.catalogue = catalogue or load_catalogue()
        self.evidence: dict[str, Evidence] = {rid: Evidence() for rid in self.catalogue}
        self._lock = threading.Lock()

    def _get(self, requirement: str) -> Evidence:
        if requirement not in self.evidence:
            raise KeyError(f"unknown requirement id {requirement!r} (not in the catalogue)")
        return self.evidence[requirement]

    def collected(self, requirements: list[str], selected: bool) -> None:
        with self._lock:
            for rid in requirements:
                ev = self._get(rid)
                ev.collected = True
                ev.selected = ev.selected or selected

    def probed(self, test: str, probes: dict[str, Probes], calls: dict[str, dict[str, bool]]) -> None:
        """The probes a test counted itself, and the calls its judgements rest on, by requirement."""
        with self._lock:
            for rid, counted in probes.items():
                ev = self._get(rid)
                ev.counted.add(test)
                ev.probes.add(counted)
            for rid, sids in calls.items():
                ev = self._get(rid)
                for sid, created in sids.items():
                    ev.calls[sid] = ev.calls.get(sid, False) or created

    def passed(self, test: str, requirements: list[str]) -> None:
        with self._lock:
            for rid in requirements:
                ev = self._get(rid)
                ev.passed_by.append(test)
                ev.count_test(test, judged=True)

    def failed(self, requirement: str, failure: Failure) -> None:
        with self._lock:
            ev = self._get(requirement)
            ev.selected = ev.collected = True
            ev.failures.append(failure)
            ev.count_test(failure.test, judged=True)

    def not_run(self, test: str, requirements: list[str], reason: str) -> None:
        with self._lock:
            for rid in requirements:
                ev = self._get(rid)
                ev.not_run.append((test, reason))
                ev.count_test(test, judged=False, reason=reason)


def requirement_status(req: Requirement, ev: Evidence) -> str:
    if not req.testable:
        return "untestable"
    if ev.failures:
        return "failed"
    if ev.probes.judged:
        return "passed"
    if ev.collected and not ev.selected:
        return "not-selected"
    return "not-run"
