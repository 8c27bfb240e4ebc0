"""Start-up: the Schemathesis test modules are left out only when -m/-k cannot select any of their tests."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conformance.runner import selection
from tests.conftest import ROOT, SUITE

OPERATIONS = selection.operations()
PROPERTIES = selection.read_module(SUITE / "test_properties.py")
STATEFUL = selection.read_module(SUITE / "test_stateful.py")


@pytest.mark.parametrize("markexpr, keywordexpr, properties_left_out, stateful_left_out", [
    ("window", "", True, True),
    ("slow", "", True, True),
    ("not slow", "", False, False),
    ("property", "", False, True),
    ("stateful", "", True, False),
    ("creates_calls and not stateful", "", False, True),
    ("", "lifecycle", True, True),
    ("", "not lifecycle", False, False),
    ("", "Accounts", False, True),  # the parametrization ids of the generated tests name the path
    ("", "linked", True, False),
    ("", "contract", False, False),
    ("hypothesis", "", False, True),
    ("not hypothesis", "", True, False),
    ("not window", "lifecycle or visibility", True, True),
])
def test_a_module_is_left_out_only_when_no_test_of_it_can_be_selected(markexpr, keywordexpr, properties_left_out,
                                                                      stateful_left_out) -> None:
    assert selection.cannot_select(PROPERTIES, markexpr, keywordexpr, OPERATIONS) is properties_left_out
    assert selection.cannot_select(STATEFUL, markexpr, keywordexpr, OPERATIONS) is stateful_left_out


def test_a_module_the_source_cannot_tell_about_is_collected(tmp_path) -> None:
    (tmp_path / "test_classy.py").write_text("class TestX:\n    def test_a(self):\n        pass\n")
    (tmp_path / "test_broken.py").write_text("def test_a(:\n")
    assert selection.read_module(tmp_path / "test_classy.py") is None
    assert selection.read_module(tmp_path / "test_broken.py") is None


def test_the_requirements_of_a_left_out_module_are_those_its_tests_declare(suite_requirements) -> None:
    for module in (PROPERTIES, STATEFUL):
        declared = {rid for node, ids in suite_requirements.items() if f"/{module.name}::" in node for rid in ids}
        assert declared and declared <= set(module.requirements), module.name


# In a child process: collect the suite and write, for each test of the costly modules, the names -k
# matches and the markers -m matches.
_NAMES = r"""
import json, sys
import pytest
from _pytest.mark import KeywordMatcher

class Recorder:
    items = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        for item in items:
            if item.path.name in sys.argv[2].split(","):
                self.items[item.nodeid] = {"names": sorted(KeywordMatcher.from_item(item)._names),
                                           "marks": sorted({m.name for m in item.iter_markers()})}

recorder = Recorder()
pytest.main(sys.argv[3:], plugins=[recorder])
with open(sys.argv[1], "w", encoding="utf-8") as handle:
    json.dump(recorder.items, handle)
"""


def test_the_source_reading_knows_every_name_and_marker_a_collected_test_has(tmp_path) -> None:
    out = tmp_path / "names.json"
    args = [sys.executable, "-c", _NAMES, str(out), ",".join(sorted(selection.COSTLY_MODULES)),
            "-p", "conformance.runner.plugin", "-p", "no:cacheprovider", "-c", str(SUITE / "conformance.ini"),
            "--rootdir", str(ROOT), "--collect-only", "-q", "--reports-dir", str(tmp_path / "reports"), str(SUITE)]
    subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    collected = json.loads(out.read_text(encoding="utf-8"))
    assert collected
    modules = {module.name: module for module in (PROPERTIES, STATEFUL)}
    for node, seen in collected.items():
        module = modules[node.split("::")[0].rsplit("/", 1)[-1]]
        function = node.split("::")[-1].split("[")[0]
        marks = dict(module.tests)[function] | selection.ADDED_MARKERS
        assert set(seen["marks"]) == set(marks), node
        parents = set(SUITE.relative_to(ROOT).parts)
        known = {function, module.name, *marks, *parents}
        if selection.GENERATED in marks:
            known |= {*selection.HYPOTHESIS_NAMES, *(f"{function}[{operation}]" for operation in OPERATIONS)}
        assert set(seen["names"]) <= known, (node, set(seen["names"]) - known)


# In a child process: collect the suite with -m/-k and write what the selected tests need of the watches.
_NEEDS = r"""
import json, sys
import pytest

class Recorder:
    needs = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session):
        self.needs = {"window": any(item.get_closest_marker("window") for item in session.items),
                      "fixtures": sorted({name for item in session.items for name in item.fixturenames}),
                      "selected": len(session.items)}

recorder = Recorder()
pytest.main(sys.argv[2:], plugins=[recorder])
with open(sys.argv[1], "w", encoding="utf-8") as handle:
    json.dump(recorder.needs, handle)
"""
WATCH_FIXTURES = {"created", "life", "deletion"}


@pytest.mark.parametrize("markexpr, keywordexpr", [
    ("", ""), ("not slow", ""), ("window", ""), ("", "lifecycle and not deleted"), ("", "auth"),
    ("not window", "created_call_is_listed"),
])
def test_what_the_source_predicts_the_selection_needs_covers_what_it_does_need(tmp_path, markexpr,
                                                                                keywordexpr) -> None:
    out = tmp_path / "needs.json"
    args = [sys.executable, "-c", _NEEDS, str(out), "-p", "conformance.runner.plugin", "-p", "no:cacheprovider",
            "-c", str(SUITE / "conformance.ini"), "--rootdir", str(ROOT), "--collect-only", "-q",
            "--reports-dir", str(tmp_path / "reports"), "-m", markexpr, "-k", keywordexpr, str(SUITE)]
    subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    actual = json.loads(out.read_text(encoding="utf-8"))
    assert actual["selected"] > 0
    predicted = selection.predict_needs(SUITE, markexpr, keywordexpr, OPERATIONS, SUITE.relative_to(ROOT).parts)
    assert predicted is not None
    # A prediction may start a watch the selection turns out not to need (it is then stopped), never miss one,
    # and for these selections it is exact.
    assert predicted.window == actual["window"]
    assert predicted.fixtures & WATCH_FIXTURES == set(actual["fixtures"]) & WATCH_FIXTURES
