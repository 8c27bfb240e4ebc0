"""An interrupted run (Ctrl-C: SIGINT, or SIGTERM): the signal stops the test under way as pytest's
KeyboardInterrupt does, and the run still ends through its verdict: the calls it created are deleted, the
requirements judged so far keep their outcome, those of the tests not reached are NOT RUN, and pytest's
KeyboardInterrupt lines give way to one line."""

from __future__ import annotations

import signal
import sys
import threading
from types import SimpleNamespace
from typing import Any, Callable

import pytest

from conformance.runner.run import Run

SIGNALS = (signal.SIGINT, signal.SIGTERM)
UNREACHED = "not reached: the run was interrupted"


def catch(run: Run) -> Callable[[], None]:
    """Interrupt the run on SIGINT and SIGTERM (signals reach the main thread only); returns what puts the
    previous handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: Any) -> None:
        if run.finishing:  # the cleanup is bounded: let it delete what the run created
            sys.stderr.write("calls-conformance: already stopping: deleting the calls the run created first\n")
            return
        run.interrupted = signal.Signals(signum).name
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, interrupt) for number in SIGNALS}

    def restore() -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)

    return restore


def note_unreached(run: Run) -> None:
    """The requirements of the tests the interruption kept from finishing are NOT RUN, saying so; before the
    tests were known, every requirement nothing was learnt of."""
    if run.unreached is not None:
        for test, requirements in run.unreached.items():
            run.ledger.not_run(test, requirements, UNREACHED)
        return
    for rid, req in run.ledger.catalogue.items():
        ev = run.ledger.evidence[rid]
        if req.testable and not (ev.passed_by or ev.failures or ev.not_run):
            run.ledger.not_run("(interrupted)", [rid], UNREACHED)


def one_line_for(config: pytest.Config, run: Run) -> None:
    """pytest ends an interrupted session with KeyboardInterrupt and where it struck; the run says instead what
    happened. (The terminal reporter keeps that account in `_keyboardinterrupt_memo` until its summary.)"""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if getattr(reporter, "_keyboardinterrupt_memo", None) is not None:
        line = f"the run was interrupted ({run.interrupted}): the tests not reached are NOT RUN"
        reporter._keyboardinterrupt_memo = SimpleNamespace(reprcrash=SimpleNamespace(message=line))
