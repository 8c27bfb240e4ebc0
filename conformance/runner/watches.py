"""Starting the background watches: as soon as the preflight has passed, for what the selection is predicted
to need (read from the suite's source, selection.py); after collection, matched to the real selection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.evidence.watches.lifecycle import start_lifecycle
from conformance.evidence.watches.window import start_window_watch
from conformance.runner import selection
from conformance.runner.run import Run

SUITE = Path(__file__).resolve().parent.parent / "suite"
#: Options with which a session may run fewer tests than the -m/-k reading predicts: the watches then
#: wait for the real collection.
_NARROWING_OPTIONS = ("deselect", "ignore", "ignore_glob", "lf", "stepwise")


def start_predicted(run: Run, config: pytest.Config) -> None:
    """Start what the selected tests are predicted to need, when that can be told before collection."""
    needs = _predicted_needs(config)
    if needs is not None:
        _start(run, needs.window, needs.fixtures)


def match_selection(run: Run, items: list[pytest.Item]) -> None:
    """After collection: stop a watch started for tests that were not selected after all (its call is
    deleted with the run's other calls), follow the lifecycle call only as far as the selected tests
    need, and start whatever the prediction missed."""
    window = any(item.get_closest_marker("window") for item in items)
    needs = {name for item in items for name in getattr(item, "fixturenames", ())}
    if run.window_watch is not None and not window:
        run.window_watch.give_up("no selected test needs it")
        run.window_watch.stop()
    lifecycle = run.timeline.watches.get("lifecycle")
    if lifecycle is not None and "created" not in needs:
        lifecycle.give_up("no selected test needs it")
        lifecycle.stop()
    elif lifecycle is not None:
        lifecycle.follow, lifecycle.delete = _lifecycle_parts(needs)
    _start(run, window, needs)


def _predicted_needs(config: pytest.Config) -> selection.Needs | None:
    """What the selected tests will need of the background watches, read from the suite's source before
    collection, or None when it cannot be told that way."""
    if any(getattr(config.option, name, None) for name in _NARROWING_OPTIONS):
        return None
    paths = [Path(str(arg).split("::", 1)[0]).resolve() for arg in config.args]
    if not any(path == SUITE or path in SUITE.parents for path in paths):
        return None  # only some of the suite's files are collected
    return selection.predict_needs(SUITE, config.getoption("markexpr", ""), config.getoption("keyword", ""),
                                   selection.operations(), selection.parents(SUITE, config.rootpath))


def _lifecycle_parts(needs: Any) -> tuple[bool, bool]:
    """How far the selected tests need the lifecycle call followed: (to its end, then to its delete)."""
    return bool(needs & {"life", "deletion"}), "deletion" in needs


def _start(run: Run, window: bool, needs: Any) -> None:
    """Start, in the background, what waits on real time and is not started yet: the retention-window
    call (its create is made here), then the lifecycle call (created in its thread), so that the calls
    are taken from the budget in that order."""
    if window and run.window_watch is None and run.budget.skip_reason() is None:
        run.window_watch = start_window_watch(run)
    if "created" in needs and "lifecycle" not in run.timeline.watches:
        follow, delete = _lifecycle_parts(needs)
        lifecycle = start_lifecycle(run, follow=follow, delete=delete)
        if run.window_watch is not None and follow:
            # Both calls are made at once with the same payload: the lifecycle call's end, seen by its
            # closer polls, says when to look at the window's call (a long window polls it seldom).
            run.window_watch.sibling = lambda: lifecycle.created.sid if lifecycle.created else None
