"""Which requirements of the catalogue the conformance suite checks.

The suite (conformance/suite) is collected the way a run collects it, with the plugin loaded, in a
separate process: every test's `requirements` marks are recorded before any deselection. Every
testable requirement that no test declares is listed; with FAIL_ON_UNCOVERED, an uncovered MUST or
SHOULD requirement fails this test (an uncovered MAY requirement is only listed).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.catalogue import load_catalogue

FAIL_ON_UNCOVERED = True
ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "conformance" / "suite"

# Run in the child process: collect the suite with the conformance plugin and write
# {node id: [requirement ids]} to the file named by argv[1]. The recorder runs first among the
# collection hooks, so it sees every item before -m deselects the retention-window tests (whose
# watch would otherwise create a call at the end of collection).
_COLLECT = r"""
import json, sys
import pytest

class Recorder:
    def __init__(self):
        self.items = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items):
        for item in items:
            ids = []
            for mark in item.iter_markers("requirements"):
                ids.extend(mark.args)
            self.items[item.nodeid] = sorted(set(ids))

recorder = Recorder()
code = pytest.main(sys.argv[2:], plugins=[recorder])
with open(sys.argv[1], "w", encoding="utf-8") as handle:
    json.dump({"exit": int(code), "items": recorder.items}, handle)
"""


@pytest.fixture(scope="module")
def declared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Node id -> requirement ids, for every test of the suite."""
    work = tmp_path_factory.mktemp("coverage")
    out = work / "items.json"
    args = [sys.executable, "-c", _COLLECT, str(out), "-p", "conformance.plugin", "-p", "no:cacheprovider",
            "--collect-only", "-q", "-m", "not window", "--reports-dir", str(work / "reports"), str(SUITE)]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if not out.exists():
        pytest.fail(f"collecting the suite failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    result = json.loads(out.read_text(encoding="utf-8"))
    if not result["items"]:
        pytest.fail(f"no test collected from {SUITE}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return result["items"]


def _coverage(declared: dict[str, list[str]]) -> dict[str, list[str]]:
    """Requirement id -> the tests declaring it."""
    tests: dict[str, list[str]] = {}
    for node, ids in declared.items():
        for rid in ids:
            tests.setdefault(rid, []).append(node)
    return tests


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
    tests = _coverage(declared)
    claimed = sorted(rid for rid, req in catalogue.items() if not req.testable and rid in tests)
    assert not claimed, "requirements marked untestable are declared by tests: " + \
        ", ".join(f"{rid} ({', '.join(tests[rid])})" for rid in claimed)


def test_every_testable_requirement_is_checked_by_a_test(declared) -> None:
    catalogue = load_catalogue()
    tests = _coverage(declared)
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
