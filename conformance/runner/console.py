"""Lines the run writes on the terminal while tests run: announcements (a long wait, the run stopping) and
the progress of a test waiting for a background watch. Seen as they happen, not in a test's captured
output."""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

#: Seconds between two progress lines of a long wait.
PROGRESS_EVERY = 15.0


def _write(config: Any, line: str) -> bool:
    """Write a line on pytest's terminal, past any capture; False when there is no terminal."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return False
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        reporter.write_line(line)
    else:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)
    return True


def announcer(config: Any) -> Callable[[str], None]:
    """`announce(message)`: one line about the run as it happens, on the terminal (else standard error)."""
    def announce(message: str) -> None:
        if not _write(config, f"calls-conformance: {message}"):
            sys.stderr.write(f"calls-conformance: {message}\n")
    return announce


def progress_writer(config: Any) -> Callable[[str, bool], None]:
    """`say(line, final)` for `Watch.wait`: one terminal line at once, then one every PROGRESS_EVERY
    seconds (the line says how far the wait is)."""
    last = [float("-inf")]

    def say(line: str, final: bool) -> None:
        now = time.monotonic()
        if final or now - last[0] < PROGRESS_EVERY:
            return
        if _write(config, line):
            last[0] = now

    return say
