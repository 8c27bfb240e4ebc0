"""Lines the run writes on the terminal: the header saying what the run will do (before the first request),
announcements (a long wait, the run stopping), the progress of a test waiting for a background watch (at
the end of the file's progress line, which it does not break), why a file's progress line starts again,
and the summary's lines in colour where the terminal shows colour (pytest's --color and NO_COLOR decide)."""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

import pytest

from conformance.deployment.config import TargetConfig
from conformance.deployment.redaction import cut_words
from conformance.reports.terminal import spans

#: After the name of a file whose progress line starts a second time.
RETURNING = "(its tests that wait) "
#: Seconds between two progress lines of a long wait.
PROGRESS_EVERY = 15.0
#: Room a folded wait leaves on its progress line, for pytest's ` [100%]` and a few tests' letters.
PROGRESS_ROOM = 16
#: Characters a folded wait shows at least, even on a line already full, and the room it leaves for updates.
MIN_FOLDED = 30
UPDATES_ROOM = 12


def header_lines(cfg: TargetConfig) -> list[str]:
    """What the run is about to do, for the session header: the target, the accounts, whether calls are
    created and to which number, the retention window and the run budget. Never a token."""
    target = "the embedded reference server" if cfg.embedded else (cfg.name or "")
    lines = [f"target: {cfg.base_url}" + (f" ({target})" if target else "")]
    accounts = f"account: {cfg.account_sid}"
    accounts += (f"; second account: {cfg.other_account_sid}" if cfg.has_other_account
                 else "; no second account (its isolation tests are not run)")
    lines.append(accounts)
    if cfg.allow_create:
        lines.append(f"calls: created, from {cfg.from_number} to {cfg.to_number}, at most {cfg.max_calls}")
    else:
        lines.append("calls: none created (no --allow-create): the tests that create calls are not run")
    lines.append(f"retention window: {cfg.window:g} s (grace {cfg.grace:g} s); run budget: {cfg.run_budget:g} s")
    return [f"calls-conformance: {line}" for line in lines]


def _reporter(config: Any) -> Any:
    return config.pluginmanager.get_plugin("terminalreporter")


def _uncaptured(config: Any, write: Callable[[], None]) -> None:
    """Do `write` on the terminal past any capture (a test's output is captured while it runs)."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        write()
    else:
        with capture.global_and_fixture_disabled():
            write()


def _write(config: Any, line: str) -> bool:
    """Write a line on pytest's terminal, past any capture; False when there is no terminal. A progress line
    left open goes on after it without its file name again, as pytest goes on a progress line too long
    (with -v, pytest writes the test's name again itself)."""
    reporter = _reporter(config)
    if reporter is None:
        return False
    open_line = reporter.currentfspath if reporter.verbosity <= 0 else None

    def write() -> None:
        reporter.write_line(line)
        reporter.currentfspath = open_line

    _uncaptured(config, write)
    return True


def announcer(config: Any) -> Callable[[str], None]:
    """`announce(message)`: one line about the run as it happens, on the terminal (else standard error)."""
    def announce(message: str) -> None:
        if not _write(config, f"calls-conformance: {message}"):
            sys.stderr.write(f"calls-conformance: {message}\n")
    return announce


def progress_writer(config: Any) -> Callable[[str, bool], None]:
    """`say(line, final)` for `Watch.wait`. At the end of an open progress line (the waiting test's file) the
    wait is folded in, cut to the room left, `[waiting for ...; 15 s; 30 s]`, and the file's line goes on
    after it. Otherwise one terminal line at once, then one every PROGRESS_EVERY seconds (the line says how
    far the wait is)."""
    started = time.monotonic()
    last = [float("-inf")]
    folded = [False]

    def say(line: str, final: bool) -> None:
        now = time.monotonic()
        reporter = _reporter(config)
        if folded[0]:
            tail = "]" if final else f"; {now - started:.0f} s"
            if final or (now - last[0] >= PROGRESS_EVERY and _room(reporter) > len(tail) + 1):
                _uncaptured(config, lambda: reporter.write(tail))
                last[0] = now
            return
        if final or now - last[0] < PROGRESS_EVERY:
            return
        if reporter is not None and reporter.currentfspath is not None:
            text = " [" + cut_words(line, max(MIN_FOLDED, _room(reporter) - UPDATES_ROOM))
            _uncaptured(config, lambda: reporter.write(text))
            folded[0] = True
            last[0] = now
        elif _write(config, line):
            last[0] = now

    return say


def _room(reporter: Any) -> int:
    """Characters left on the current line before pytest's percentage and a few more tests' letters."""
    return reporter._tw.fullwidth - reporter._tw.width_of_current_line - PROGRESS_ROOM


class FileReturns:
    """A plugin of the run: when a file's progress line starts a second time (its tests that wait for a
    background watch run at the end), the line says so after the file's name."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.seen: set[str] = set()
        self.last: str | None = None

    @pytest.hookimpl(trylast=True)  # after pytest has written the file's name
    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        path = location[0]
        reporter = _reporter(self.config)
        if path != self.last and path in self.seen and reporter is not None and reporter.verbosity <= 0:
            reporter.write(RETURNING)
        self.seen.add(path)
        self.last = path


def write_marked(reporter: Any, line: str) -> None:
    """A summary line on the terminal, its outcome words and verdict in colour where the terminal shows it."""
    reporter.ensure_newline()
    for text, colour in spans(line):
        reporter.write(text, **({colour: True, "bold": text.startswith("VERDICT")} if colour else {}))
    reporter.line("")
