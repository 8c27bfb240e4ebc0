"""Which requirements of the catalogue the conformance suite checks.

The suite (conformance/suite) is collected the way a run collects it, with the plugin loaded, in a
separate process: every test's `requirements` marks are recorded before any deselection. Every
testable requirement that no test declares is listed; with FAIL_ON_UNCOVERED, an uncovered MUST or
SHOULD requirement fails this test (an uncovered MAY requirement is only listed).
"""

from __future__ import annotations

import pytest

from conformance.contract.catalogue import load_catalogue
from conformance.contract.catalogue import tests_by_requirement as declarations_by_requirement

FAIL_ON_UNCOVERED = True


@pytest.fixture(scope="module")
def declared(suite_requirements: dict[str, list[str]]) -> dict[str, list[str]]:
    """Node id -> requirement ids, for every test of the suite."""
    return suite_requirements


def test_every_declared_requirement_is_in_the_catalogue(declared) -> None:
    known = set(load_catalogue())
    unknown = sorted({(rid, node) for node, ids in declared.items() for rid in ids if rid not in known})
    assert not unknown, "tests declare requirements the catalogue does not have: " + \
        ", ".join(f"{rid} ({node})" for rid, node in unknown)


def test_every_test_declares_a_requirement(declared) -> None:
    bare = sorted(node for node, ids in declared.items() if not ids)
    assert not bare, "tests without @pytest.mark.requirements: " + ", ".join(bare)


def test_untestable_requirements_are_not_claimed(declared) -> None:
    catalogue = load_catalogue()
    tests = declarations_by_requirement(declared)
    claimed = sorted(rid for rid, req in catalogue.items() if not req.testable and rid in tests)
    assert not claimed, "requirements marked untestable are declared by tests: " + \
        ", ".join(f"{rid} ({', '.join(tests[rid])})" for rid in claimed)


def test_every_testable_requirement_is_checked_by_a_test(declared) -> None:
    catalogue = load_catalogue()
    tests = declarations_by_requirement(declared)
    lines, failing = [], []
    for rid, req in catalogue.items():
        if not req.testable:
            lines.append(f"  untestable  {req.level:<6} {rid}")
            continue
        count = len(tests.get(rid, []))
        lines.append(f"  {count:>4} tests {req.level:<6} {rid}")
        if count == 0 and req.level in ("MUST", "SHOULD"):
            failing.append(f"{req.level} {rid}: {req.title}")
    uncovered = [rid for rid, req in catalogue.items() if req.testable and rid not in tests]
    print("catalogue coverage of conformance/suite:")
    print("\n".join(lines))
    print("uncovered testable requirements: " + (", ".join(uncovered) if uncovered else "none"))
    if FAIL_ON_UNCOVERED and failing:
        pytest.fail("testable requirements no test of conformance/suite declares:\n  " + "\n  ".join(failing))
