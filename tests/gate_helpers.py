"""Verdicts built the way a run builds them, for the tests of waivers, baselines and the matrix."""

from __future__ import annotations

import time
from typing import Any

from conformance.judgement import verdict as verdicts
from conformance.judgement.ledger import Failure, Ledger

TEST = "conformance/suite/test_lifecycle.py::test_delete_of_an_ended_call_answers_204_with_no_body"


def make_verdict(failures: dict[str, list[tuple[str, str]]] | None = None, not_run: tuple[str, ...] = (),
                 strict: bool = False, **extra: Any) -> dict[str, Any]:
    """A verdict on the whole catalogue: every testable requirement passed, except `failures`
    ({requirement: [(code, test)]}) and `not_run`."""
    ledger = Ledger()
    ids = [rid for rid, req in ledger.catalogue.items() if req.testable]
    ledger.collected(ids, selected=True)
    for rid in ids:
        if rid in (failures or {}):
            for code, test in failures[rid]:
                ledger.failed(rid, Failure(test, code, f"{rid} broke ({code})"))
        elif rid in not_run:
            ledger.not_run("t", [rid], "a reason")
        else:
            ledger.passed("t", [rid])
    result = verdicts.build_verdict(ledger, strict=strict, accept_incomplete=False, target={"base_url": "http://x/v1"},
                                    spec_version="1.0", started=time.time(), stats={"leftover_calls": []})
    result.update(extra)
    return result
