"""`calls-conformance`: run the bundled conformance suite against a target, or start the reference server.

    calls-conformance [options] [pytest arguments...]     run the suite (no --base-url: embedded reference)
    calls-conformance reference [--host --port --window]  serve the reference implementation
    calls-conformance fleet [--reports-dir OUT] [--parallel N] PROFILE... | DIR [-- ARGS]   many targets, one matrix
    calls-conformance merge --reports-dir OUT DIR...      the matrix of reports directories made elsewhere

Options are those of conformance/deployment/config.py (each with an environment variable); anything else is
handed to pytest (e.g. -m "not slow", -k lifecycle, -x, -v).
"""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
from pathlib import Path

from conformance import __version__
from conformance.runner.options import pytest_name
from conformance.deployment.config import OPTIONS

PACKAGE_DIR = Path(__file__).resolve().parent.parent
SECRET_OPTIONS = ("token", "other_token")

EXIT_CODES_HELP = """exit codes:
  0  CONFORMANT (SHOULD failures are warnings unless --strict)
  1  NOT CONFORMANT: a MUST requirement failed (or a SHOULD one with --strict)
  2  interrupted (Ctrl-C)
  3  internal error of the suite
  4  usage error: a bad option or configuration
  5  no test selected
  6  INCOMPLETE: nothing failed, but requirements were not run (e.g. --allow-create not given)
  7  preflight failed (TARGET FAILED): target unreachable, DNS or TLS failure, redirect, unhealthy,
     rate limited, token refused or wrong account
  8  target failed during the run (TARGET FAILED): it stopped answering (circuit breaker) or the run
     budget ran out
  9  stale waivers with --fail-on-stale-waivers (a waiver covers no failure of a judged requirement)
fleet and merge exit with the worst of their targets' codes, in this order: 3, 2, 4, 7, 8, 1, 9, 6, 5, 0
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="calls-conformance",
        description="Conformance suite of the Calls API: a requirement-by-requirement verdict on a deployment. "
                    "Without --base-url it starts the embedded reference server and tests that. "
                    "'calls-conformance reference --help' starts the reference server on its own.",
        epilog=EXIT_CODES_HELP + "\nArguments it does not know are passed to pytest (e.g. -m \"not slow\").",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    for option in OPTIONS:
        help_text = f"{option.help} [env {option.env}]"
        if option.is_flag:
            parser.add_argument(f"--{option.name}", dest=option.dest, action="store_true", default=None, help=help_text)
        else:
            parser.add_argument(f"--{option.name}", dest=option.dest, metavar=option.metavar, default=None, help=help_text)
    parser.add_argument("--no-html", action="store_true", help="Do not generate the Allure HTML report.")
    return parser


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
    import pytest

    parser = build_parser()
    namespace, extra = parser.parse_known_args(argv)
    values = vars(namespace)
    code = int(pytest.main(pytest_args(values, extra)))
    # At exit the run's objects are only garbage: frozen, they are not walked by the collections of the
    # interpreter's shutdown (about 0.3 s of every run).
    atexit.register(gc.freeze)
    reports_dir = Path(str(values.get("reports_dir") or "reports"))
    page = reports_dir / "requirements.html"
    if page.is_file() and code not in (4, 7):
        print(f"calls-conformance: requirement page (opens anywhere): {page}")
    if not values["no_html"] and code not in (4, 7):  # nothing was tested
        from conformance.reports.allure_html import generate_html

        generate_html(reports_dir)
    return code


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "reference":
        from conformance.reference.__main__ import main as reference_main

        return int(reference_main(argv[1:]) or 0)
    if argv and argv[0] in ("fleet", "merge"):
        from conformance.runner import fleet

        return (fleet.fleet_main if argv[0] == "fleet" else fleet.merge_main)(argv[1:])
    return run_suite(argv)


if __name__ == "__main__":
    sys.exit(main())
