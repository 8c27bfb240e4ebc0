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

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from conformance.contract.catalogue import Requirement, load_catalogue
from conformance.judgement.checks import Probes


#: How many places a failure seen again and again names (the first ones): enough to find it, not a list of all.
MAX_PLACES = 3

_UUID = re.compile(r"([0-9a-fA-F]{8})-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass
class Failure:
    """One defect of a requirement, as the first test that saw it reported it. The same defect seen again (same
    code and `key`) is counted in `count`, and its first `MAX_PLACES` places are kept, not filed again."""

    test: str
    code: str
    message: str
    reproduce: str | None = None
    observed: str | None = None  # what was sent and what came back: request line, status, content type, body
    exchange: int | None = None  # the observed exchange's number in the run (its `_id` in exchanges.har)
    key: str = ""  # what makes two failures the same defect (the check's, else the message)
    count: int = 1  # answers in which the defect was seen
    places: list[str] = field(default_factory=list)  # the first of them: request and test
    seen_by: list[str] = field(default_factory=list)  # every test that saw it (a waiver must cover each)

    def __post_init__(self) -> None:
        self.key = self.key or self.message
        self.places = self.places or [place(self.test, self.observed)]
        self.seen_by = self.seen_by or [self.test]

    def same_defect(self, other: "Failure") -> bool:
        return (self.code, self.key) == (other.code, other.key)

    def seen_again(self, other: "Failure") -> None:
        self.count += other.count
        self.places = (self.places + [p for p in other.places if p not in self.places])[:MAX_PLACES]
        self.seen_by += [test for test in other.seen_by if test not in self.seen_by]

    def as_dict(self) -> dict[str, Any]:
        return {"test": self.test, "code": self.code, "message": self.message, "reproduce": self.reproduce,
                "observed": self.observed, "exchange": self.exchange, "count": self.count, "places": self.places,
                "seen_by": self.seen_by}


def place(test: str, observed: str | None) -> str:
    """Where a failure was seen, in a few words: the request (sids cut short) and the test's own name."""
    name = test.rsplit("::", 1)[-1]
    if not observed:
        return name
    method, _, rest = observed.partition(" ")
    url = rest.split(" ", 1)[0]
    path = "/" + url.split("://", 1)[-1].partition("/")[2] if "://" in url else url
    return f"{method} {_UUID.sub(lambda m: m.group(1) + '…', path)} ({name})"


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
        """File a failure; the same defect already filed is counted there instead. One defect, one entry: a
        malformed list item every listing test meets is one failure (filed under the test that saw it first,
        with its count and first places), not one per test. Each test still reports it in its own result."""
        with self._lock:
            ev = self._get(requirement)
            ev.selected = ev.collected = True
            same = next((f for f in ev.failures if f.same_defect(failure)), None)
            if same is None:
                ev.failures.append(failure)
            else:
                same.seen_again(failure)
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
