"""The ledger: what the run knows of each requirement, test by test (passed by, failed with, not run because).

Tests declare the requirements they check (`@pytest.mark.requirements(...)`). A passing test is evidence
that its requirements hold; a `RequirementViolation` fails the requirement it names; a skip or an error
leaves the test's requirements not run, with the reason. The runner writes each test's outcome here;
verdict.py turns the ledger into the run's answer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from conformance.contract.catalogue import Requirement, load_catalogue


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

    def passed(self, test: str, requirements: list[str]) -> None:
        with self._lock:
            for rid in requirements:
                self._get(rid).passed_by.append(test)

    def failed(self, requirement: str, failure: Failure) -> None:
        with self._lock:
            ev = self._get(requirement)
            ev.selected = ev.collected = True
            ev.failures.append(failure)

    def not_run(self, test: str, requirements: list[str], reason: str) -> None:
        with self._lock:
            for rid in requirements:
                self._get(rid).not_run.append((test, reason))


def requirement_status(req: Requirement, ev: Evidence) -> str:
    if not req.testable:
        return "untestable"
    if ev.failures:
        return "failed"
    if ev.passed_by:
        return "passed"
    if ev.collected and not ev.selected:
        return "not-selected"
    return "not-run"
