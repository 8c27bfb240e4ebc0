"""What the run writes on the terminal: its header, the waits folded into a progress line, and the summary's
colours under pytest's rules (--color, NO_COLOR)."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest
from _pytest._io import TerminalWriter

from conformance.deployment.config import TargetConfig
from conformance.runner import console


class Reporter:
    """The part of pytest's terminal reporter the console writes through, on a real TerminalWriter."""

    def __init__(self, writer: TerminalWriter, open_line: str | None = None) -> None:
        self._tw = writer
        self.currentfspath = open_line
        self.verbosity = 0

    def write(self, text: str, **markup: bool) -> None:
        self._tw.write(text, **markup)

    def line(self, text: str) -> None:
        self._tw.line(text)

    def ensure_newline(self) -> None:
        pass

    def write_line(self, text: str) -> None:
        self._tw.line(text)
        self.currentfspath = None


def config_of(reporter: Reporter) -> Any:
    plugins = {"terminalreporter": reporter}
    return SimpleNamespace(pluginmanager=SimpleNamespace(get_plugin=plugins.get))


def test_the_header_names_target_accounts_numbers_window_and_budget_but_no_token() -> None:
    cfg = TargetConfig(base_url="https://api.example.net/v1", account_sid="a-1", token="s3cret-token",
                       other_account_sid="a-2", other_token="other-s3cret", allow_create=True,
                       from_number="+15005550006", to_number="+15005550001", max_calls=3, window=600, grace=60,
                       run_budget=2400, name="staging")
    text = "\n".join(console.header_lines(cfg))
    assert "target: https://api.example.net/v1 (staging)" in text
    assert "account: a-1; second account: a-2" in text
    assert "calls: created, from +15005550006 to +15005550001, at most 3" in text
    assert "retention window: 600 s (grace 60 s); run budget: 2400 s" in text
    assert "s3cret" not in text
    without = TargetConfig(base_url="https://api.example.net/v1", account_sid="a-1", token="t")
    text = "\n".join(console.header_lines(without))
    assert "calls: none created (no --allow-create)" in text and "no second account" in text


@pytest.mark.parametrize("env, coloured", [({"FORCE_COLOR": "1"}, True), ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False)])
def test_the_summary_is_coloured_only_where_pytest_would_colour(env: dict[str, str], coloured: bool,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PY_COLORS", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    reporter = Reporter(TerminalWriter(out))
    console.write_marked(reporter, "FAIL         MUST     CALLS-A")
    console.write_marked(reporter, "VERDICT: NOT CONFORMANT (exit code 1)")
    text = out.getvalue()
    assert ("\x1b[31m" in text) is coloured
    assert text.replace("\x1b[31m", "").replace("\x1b[1m", "").replace("\x1b[0m", "") == \
        "FAIL         MUST     CALLS-A\nVERDICT: NOT CONFORMANT (exit code 1)\n"


def test_a_wait_is_folded_into_the_end_of_the_open_progress_line() -> None:
    out = io.StringIO()
    writer = TerminalWriter(out)
    writer.fullwidth = 160
    reporter = Reporter(writer, open_line="conformance/suite/test_lifecycle.py")
    reporter.write("conformance/suite/test_lifecycle.py ...")
    say = console.progress_writer(config_of(reporter))
    say("waiting for call 1a2b… to end: ringing for 0 s of at most 120 s", False)
    say("waiting for call 1a2b… to end: ringing for 1 s of at most 120 s", False)  # before PROGRESS_EVERY: not shown
    say("done waiting", True)
    reporter.write(".")
    assert out.getvalue() == ("conformance/suite/test_lifecycle.py ... [waiting for call 1a2b… to end: ringing for 0 s "
                              "of at most 120 s].")
    assert reporter.currentfspath == "conformance/suite/test_lifecycle.py"


def test_an_announcement_does_not_make_the_file_name_appear_again() -> None:
    out = io.StringIO()
    reporter = Reporter(TerminalWriter(out), open_line="conformance/suite/test_lifecycle.py")
    console.announcer(config_of(reporter))("rate limited, waiting 3 s")
    assert "calls-conformance: rate limited, waiting 3 s" in out.getvalue()
    assert reporter.currentfspath == "conformance/suite/test_lifecycle.py"  # pytest goes on without repeating it


def test_a_folded_wait_is_cut_to_the_room_left_on_the_line() -> None:
    out = io.StringIO()
    reporter = Reporter(TerminalWriter(out), open_line="conformance/suite/test_visibility.py")
    reporter.write("conformance/suite/test_visibility.py ")
    say = console.progress_writer(config_of(reporter))
    say("waiting for retention window: watching 1 call (419ff307-0847-4e32-a1aa-04f526382280); sampling the "
        "window; 4 of 5 window samples taken; at most 3 s left", False)
    say("done waiting", True)
    line = out.getvalue()
    assert line.startswith("conformance/suite/test_visibility.py  [waiting for retention window") and line.endswith("...]")
    assert len(line) <= 80


def test_a_file_whose_progress_line_starts_again_says_these_are_its_tests_that_wait() -> None:
    out = io.StringIO()
    reporter = Reporter(TerminalWriter(out))
    returns = console.FileReturns(config_of(reporter))
    for path in ("test_lifecycle.py", "test_lifecycle.py", "test_stateful.py", "test_lifecycle.py",
                 "test_lifecycle.py"):
        returns.pytest_runtest_logstart(f"{path}::t", (path, 1, "t"))
    assert out.getvalue() == console.RETURNING  # once: at the second start of test_lifecycle.py's line
