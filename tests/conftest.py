"""Fixtures shared by the project's own tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "conformance" / "suite"

# Run in a child process: collect the suite as a run does (embedded reference, plugin loaded) and write
# {node id: [requirement ids]} to the file named by argv[1]. The recorder runs first among the collection
# hooks, so it sees every item before -m deselects the retention-window tests (whose watch would
# otherwise create a call at the end of collection).
_COLLECT = r"""
import json, sys
import pytest

class Recorder:
    def __init__(self):
        self.items = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items):
        for item in items:
            ids = [rid for mark in item.iter_markers("requirements") for rid in mark.args]
            self.items[item.nodeid] = sorted(set(ids))

recorder = Recorder()
code = pytest.main(sys.argv[2:], plugins=[recorder])
with open(sys.argv[1], "w", encoding="utf-8") as handle:
    json.dump({"exit": int(code), "items": recorder.items}, handle)
"""


@pytest.fixture(scope="session")
def suite_requirements(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Node id -> requirement ids, for every test of the conformance suite, as pytest collects them."""
    work = tmp_path_factory.mktemp("suite-collection")
    out = work / "items.json"
    args = [sys.executable, "-c", _COLLECT, str(out), "-p", "conformance.plugin", "-p", "no:cacheprovider",
            "-c", str(SUITE / "conformance.ini"), "--rootdir", str(ROOT),
            "--collect-only", "-q", "-m", "not window", "--reports-dir", str(work / "reports"), str(SUITE)]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if not out.exists():
        pytest.fail(f"collecting the suite failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    items = json.loads(out.read_text(encoding="utf-8"))["items"]
    if not items:
        pytest.fail(f"no test collected from {SUITE}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return items
