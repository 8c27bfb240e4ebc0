"""What each collected test declares (its requirements), and the order tests run in: by need."""

from __future__ import annotations

import pytest

from conformance.judgement.ledger import Ledger
from conformance.reports.allure import label_item

#: The fixtures through which a test waits for a background watch, in the order their records are
#: expected to be complete: the lifecycle call's end (every call seen, that one ended among them), then its
#: delete (at once after the end).
WAITING_FIXTURES = {"life": 1, "seen_calls": 1, "deletion": 2, "lifecycle_settled": 2}


def requirement_ids(item: pytest.Item) -> list[str]:
    """The catalogue ids a test declares (`@pytest.mark.requirements`), in order, once each."""
    ids: list[str] = []
    for mark in item.iter_markers("requirements"):
        ids.extend(mark.args)
    return list(dict.fromkeys(ids))


def declare(items: list[pytest.Item], ledger: Ledger) -> None:
    """Note each collected test's requirements in the ledger, label it for Allure, and order the tests by need.
    A test that declares no requirement, or one the catalogue lacks, is a usage error."""
    for item in items:
        requirements = requirement_ids(item)
        if not requirements:
            raise pytest.UsageError(f"{item.nodeid} declares no requirement (@pytest.mark.requirements)")
        try:
            ledger.collected(requirements, selected=False)
        except KeyError as error:
            raise pytest.UsageError(f"{item.nodeid}: {error.args[0]}") from None
        label_item(item, [ledger.catalogue[rid] for rid in requirements])
    items.sort(key=need_order)


def need_order(item: pytest.Item) -> tuple[bool, int]:
    """Ordering by need: tests that wait for a background watch run at the end, in the order their watch is
    expected to be done (the lifecycle call ends within a call's length; the retention window passes
    after that); tests of what the whole run saw (`oracle`) run last of all. Stable: file order otherwise."""
    if item.get_closest_marker("window") is not None:
        rank = 3
    else:
        rank = max((WAITING_FIXTURES.get(name, 0) for name in getattr(item, "fixturenames", ())), default=0)
    return item.get_closest_marker("oracle") is not None, rank


#: Requests a test sends, roughly, on an external target (docs/benchmarks.md, "Calls and requests per run"): for
#: the start line's estimate of a paced run only, never a limit.
REQUESTS_PER_TEST = 1.7
REQUESTS_PER_GENERATED_TEST = 12
REQUESTS_OF_THE_WINDOW_WATCH = 20


def expected_requests(items: list[pytest.Item]) -> int:
    """About how many requests the selected tests send (preflight and cleanup included)."""
    generated = sum(1 for item in items if item.get_closest_marker("property") or "stateful" in item.nodeid)
    watched = any(item.get_closest_marker("window") for item in items)
    return round(10 + REQUESTS_PER_GENERATED_TEST * generated + REQUESTS_PER_TEST * (len(items) - generated)
                 + (REQUESTS_OF_THE_WINDOW_WATCH if watched else 0))
