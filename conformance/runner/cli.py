"""`calls-conformance`: run the bundled conformance suite against a target, or start the reference server.

    calls-conformance [options] [pytest arguments...]     run the suite (no --base-url: embedded reference)
    calls-conformance reference [--host --port --window]  serve the reference implementation
    calls-conformance fleet [--reports-dir OUT] [--parallel N] PROFILE... | DIR [-- ARGS]   many targets, one matrix
    calls-conformance merge --reports-dir OUT DIR...      the matrix of reports directories made elsewhere

Options are those of conformance/deployment/config.py (each with an environment variable); anything else is
handed to pytest (e.g. -m "not slow", -k lifecycle, -x, -v). No option may be abbreviated: `--max-call 3` is
refused, not read as `--max-calls 3`, and an option neither the suite nor pytest knows is one line, exit 4.
"""

from __future__ import annotations

import argparse
import atexit
import difflib
import gc
import os
import sys
from collections.abc import Generator
from pathlib import Path

import pytest

from conformance import __version__
from conformance.runner.options import pytest_name
from conformance.deployment.config import EMBEDDED_MAX_CALLS, EMBEDDED_WINDOW, OPTIONS, Option
from conformance.judgement.verdict import EXIT_USAGE_ERROR

PACKAGE_DIR = Path(__file__).resolve().parent.parent
SECRET_OPTIONS = ("token", "other_token")

EXIT_CODES_HELP = """exit codes:
  0  CONFORMANT (SHOULD failures are warnings unless --strict)
  1  NOT CONFORMANT: a MUST requirement failed (or a SHOULD one with --strict)
  2  INTERRUPTED: the run was interrupted (Ctrl-C, SIGTERM) before a MUST failure was seen
  3  internal error of the suite
  4  usage error: a bad option or configuration
  5  no test selected
  6  INCOMPLETE: nothing failed, but requirements were not run (e.g. --allow-create not given)
  7  preflight failed (TARGET FAILED): target unreachable, DNS or TLS failure, redirect, unhealthy,
     rate limited, token refused, wrong account, or a base URL that is not the API (e.g. without /v1)
  8  target failed during the run (TARGET FAILED): it stopped answering (circuit breaker) or the run
     budget ran out
  9  stale waivers with --fail-on-stale-waivers (a waiver covers no failure of a judged requirement)
fleet and merge exit with the worst of their targets' codes, in this order: 3, 2, 4, 7, 8, 1, 9, 6, 5, 0
"""


USAGE = """calls-conformance [options] [pytest arguments...]
       calls-conformance {fleet,merge,reference} ...   (each with its own --help)"""

DESCRIPTION = """Conformance suite of the Calls API: a requirement-by-requirement verdict on a deployment.
Without --base-url it starts the embedded reference server and tests that.

sub-commands:
  fleet      run the suite against several targets, one profile each, and merge the verdicts into one matrix
  merge      build that matrix from the reports directories of runs made elsewhere
  reference  serve the reference implementation of the Calls API on its own
"""

# What the embedded reference (no --base-url) uses instead of the default.
EMBEDDED_DEFAULTS = {"window": f"{EMBEDDED_WINDOW:g}", "max_calls": f"at least {EMBEDDED_MAX_CALLS}"}


def default_help(option: Option) -> str:
    """' Default: 600.' for an option with a fixed default; nothing for a flag (off unless given) or an option
    without one (those whose default is computed say how in their help)."""
    if option.is_flag or option.default is None:
        return ""
    shown = f"{option.default:g}" if isinstance(option.default, float) else str(option.default)
    embedded = EMBEDDED_DEFAULTS.get(option.dest)
    return f" Default: {shown} ({embedded} on the embedded reference)." if embedded else f" Default: {shown}."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="calls-conformance",
        usage=USAGE,
        description=DESCRIPTION,
        epilog=EXIT_CODES_HELP + "\nArguments it does not know are passed to pytest "
                                 "(e.g. -m \"not slow\", -k lifecycle, -x); no option may be abbreviated.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # `--max-call 3` must not be taken as `--max-calls 3`
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    for option in OPTIONS:
        help_text = f"{option.help}{default_help(option)} [env {option.env}]"
        if option.is_flag:
            parser.add_argument(f"--{option.name}", dest=option.dest, action="store_true", default=None, help=help_text)
        else:
            parser.add_argument(f"--{option.name}", dest=option.dest, metavar=option.metavar, default=None, help=help_text)
    parser.add_argument("--no-html", action="store_true", help="Do not generate the Allure HTML report.")
    return parser


def unknown_options_line(names: list[str], known: list[str]) -> str:
    """`calls-conformance: unknown option --stirct (did you mean --strict?)`: each name with the closest known
    option, if one is close."""
    named = []
    for name in names:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
        named.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return f"calls-conformance: unknown option{'s' if len(named) > 1 else ''} {', '.join(named)}"


class UnknownOptions(Exception):
    """Options neither the suite nor pytest knows; the message is the one line to print."""


class RefuseUnknownOptions:
    """A plugin of the run's pytest: an option pytest cannot parse becomes UnknownOptions, instead of pytest's
    usage message with its inifile and rootdir lines. Only pytest knows every option (its own and its plugins'),
    so the check is its parse."""

    def __init__(self, suite_options: list[str]) -> None:
        self.suite_options = suite_options
        self.parser: pytest.Parser | None = None

    def pytest_addoption(self, parser: pytest.Parser) -> None:
        self.parser = parser

    @pytest.hookimpl(wrapper=True)
    def pytest_cmdline_parse(self, args: list[str]) -> Generator[None, pytest.Config, pytest.Config]:
        try:
            return (yield)
        except pytest.UsageError:
            if self.parser is None:
                raise
            unknown = self.parser.parse_known_and_unknown_args(args)[1]
            if not unknown:
                raise
            # Only the option's name: a value after `=` could be a token.
            names = [word.split("=", 1)[0] for word in unknown]
            raise UnknownOptions(unknown_options_line(names, self.known_options())) from None

    def known_options(self) -> list[str]:
        """The long options to suggest: the suite's, as its command line spells them, then pytest's."""
        assert self.parser is not None
        renamed = {f"--{pytest_name(option)}" for option in OPTIONS} - set(self.suite_options)
        return self.suite_options + [s for s in long_options(self.parser.optparser) if s not in renamed]


class SessionConfig:
    """A plugin of the run's pytest that keeps its config, to tell afterwards whether the run wrote a verdict."""

    def __init__(self) -> None:
        self.config: pytest.Config | None = None

    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config

    def wrote_verdict(self) -> bool:
        from conformance.runner.plugin import verdict_of

        return self.config is not None and verdict_of(self.config) is not None


def long_options(parser: argparse.ArgumentParser) -> list[str]:
    return [s for action in parser._actions for s in action.option_strings if s.startswith("--")]


def pytest_args(values: dict[str, object], extra: list[str]) -> list[str]:
    """The pytest command line of a run: the bundled suite, its plugin, its reports."""
    reports_dir = Path(str(values.get("reports_dir") or "reports"))
    args = [
        "-c", str(PACKAGE_DIR / "suite" / "conformance.ini"), "--rootdir", str(PACKAGE_DIR.parent),
        "-p", "conformance.runner.plugin", "-p", "no:cacheprovider",
        # Plugins a conformance run has no use for, each a cost at start-up or at the end: parallel workers
        # (the run is one session with one call budget and its background watches), anyio's test runner,
        # and the hunt for unraisable exceptions (several full garbage collections at the end).
        "-p", "no:xdist", "-p", "no:xdist.looponfail", "-p", "no:anyio", "-p", "no:unraisableexception",
        f"--junitxml={reports_dir / 'junit.xml'}", f"--alluredir={reports_dir / 'allure-results'}", "--clean-alluredir",
    ]
    for option in OPTIONS:
        value = values.get(option.dest)
        if value in (None, False):
            continue
        if option.dest in SECRET_OPTIONS:
            # Handed over in the environment: a command line shows up in process lists and logs.
            os.environ[option.env] = str(value)
            continue
        name = pytest_name(option)
        args.append(f"--{name}" if option.is_flag else f"--{name}={value}")
    return args + extra + [str(PACKAGE_DIR / "suite")]


def run_suite(argv: list[str]) -> int:
    parser = build_parser()
    try:
        namespace, extra = parser.parse_known_args(argv)
    except SystemExit as stop:  # --help, --version, or a bad value (argparse says 2; a usage error is 4 here)
        return EXIT_USAGE_ERROR if stop.code else 0
    values = vars(namespace)
    session = SessionConfig()
    try:
        plugins = [RefuseUnknownOptions(long_options(parser)), session]
        code = int(pytest.main(pytest_args(values, extra), plugins=plugins))
    except UnknownOptions as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE_ERROR
    # At exit the run's objects are only garbage: frozen, they are not walked by the collections of the
    # interpreter's shutdown (about 0.3 s of every run).
    atexit.register(gc.freeze)
    if not session.wrote_verdict():
        return code  # nothing was run (--collect-only, --fixtures...): no report to render
    reports_dir = Path(str(values.get("reports_dir") or "reports"))
    page = reports_dir / "report.html"
    if page.is_file() and code not in (4, 7):
        print(f"calls-conformance: report (opens anywhere): {page}")
    if not values["no_html"] and code not in (4, 7):  # nothing was tested
        from conformance.reports.allure_html import generate_html

        try:
            generate_html(reports_dir)
        except KeyboardInterrupt:  # the verdict is written: an interruption now only skips the HTML report
            print("calls-conformance: interrupted: the Allure HTML report was not rendered", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "reference":
        from conformance.reference.__main__ import main as reference_main

        return int(reference_main(argv[1:], prog="calls-conformance reference") or 0)
    if argv and argv[0] in ("fleet", "merge"):
        from conformance.runner import fleet

        return (fleet.fleet_main if argv[0] == "fleet" else fleet.merge_main)(argv[1:])
    return run_suite(argv)


if __name__ == "__main__":
    sys.exit(main())
