"""The command line: no option is abbreviated, a mistyped one is one line naming the closest known option,
`--help` shows the defaults and the sub-commands, and the reference's own command names itself.

Each test parses, or starts a command that stops before anything is tested.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.deployment.config import OPTIONS
from conformance.reference import __main__ as reference
from conformance.reference.faults import FAULTS
from conformance.runner import cli
from conformance.runner.fleet import fleet_main, fleet_parser, merge_main, merge_parser
from tests.conftest import ROOT


def calls_conformance(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("calls-conformance")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "conformance"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


# --- no abbreviations ----------------------------------------------------------------------------


@pytest.mark.parametrize("make_parser", [cli.build_parser, fleet_parser, merge_parser, reference.build_parser],
                         ids=["suite", "fleet", "merge", "reference"])
def test_no_parser_of_the_command_line_takes_an_abbreviation(make_parser: Any) -> None:
    assert make_parser().allow_abbrev is False


def test_an_abbreviated_option_of_the_suite_is_not_taken_for_the_option() -> None:
    namespace, extra = cli.build_parser().parse_known_args(["--max-call", "3"])
    assert namespace.max_calls is None
    assert extra == ["--max-call", "3"]


def test_fleet_and_merge_refuse_an_abbreviated_option(capsys: Any) -> None:
    assert fleet_main(["--paral", "3", "staging"]) == 4
    assert merge_main(["--reports", "out", "dir"]) == 4
    assert "unrecognized arguments: --paral" in capsys.readouterr().err


def test_the_reference_refuses_an_abbreviated_option() -> None:
    with pytest.raises(SystemExit) as stop:
        reference.main(["--fau", "delete-200"])
    assert stop.value.code == 2


# --- a mistyped option ---------------------------------------------------------------------------


def test_the_line_of_a_mistyped_option_names_the_closest_known_one() -> None:
    known = cli.long_options(cli.build_parser())
    assert cli.unknown_options_line(["--max-call"], known) == \
        "calls-conformance: unknown option --max-call (did you mean --max-calls?)"
    assert cli.unknown_options_line(["--stirct"], known) == \
        "calls-conformance: unknown option --stirct (did you mean --strict?)"
    assert cli.unknown_options_line(["--stirct", "--zzz"], known) == \
        "calls-conformance: unknown options --stirct (did you mean --strict?), --zzz"


@pytest.mark.parametrize(("args", "line"), [
    (["--stirct"], "calls-conformance: unknown option --stirct (did you mean --strict?)"),
    (["--max-call", "3"], "calls-conformance: unknown option --max-call (did you mean --max-calls?)"),
    # pytest's options are known too, and a value after `=` (a token, maybe) is never repeated
    (["--maxfal=2", "--tokn=secret-value"],
     "calls-conformance: unknown options --maxfal (did you mean --maxfail?), --tokn (did you mean --token?)"),
], ids=["stirct", "max-call", "pytest-option-and-value"])
def test_a_mistyped_option_is_one_line_and_exit_code_4(args: list[str], line: str, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    done = calls_conformance(*args, "--reports-dir", str(reports), cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    assert done.stderr.splitlines() == [line]
    assert done.stdout == ""
    assert "rootdir:" not in done.stderr and "secret-value" not in done.stderr
    assert not reports.exists(), "nothing is run, so nothing is written"


def test_a_missing_option_value_is_a_usage_error(capsys: Any) -> None:
    assert cli.run_suite(["--window"]) == 4
    assert "argument --window: expected one argument" in capsys.readouterr().err


def test_pytest_arguments_still_pass_through() -> None:
    namespace, extra = cli.build_parser().parse_known_args(
        ["--max-calls", "3", "-m", "not slow", "-k", "lifecycle", "-x", "-v", "-p", "no:randomly", "--co", "-q"])
    assert namespace.max_calls == "3"
    args = cli.pytest_args(vars(namespace), extra)
    assert args[args.index("-m") + 1] == "not slow" and args[args.index("-k") + 1] == "lifecycle"
    assert {"-x", "-v", "--co", "-q", "--max-calls=3"} <= set(args)


def test_a_collect_only_run_with_pytest_arguments_starts(tmp_path: Path) -> None:
    done = calls_conformance("--co", "-q", "-k", "lifecycle", "--no-html", "--reports-dir", str(tmp_path / "r"),
                             cwd=tmp_path)
    assert done.returncode != 4, done.stderr
    assert re.search(r"\d+/\d+ tests collected", done.stdout), done.stdout


# --- --help --------------------------------------------------------------------------------------


def test_help_shows_the_defaults_the_sub_commands_and_the_exit_codes(capsys: Any) -> None:
    assert cli.run_suite(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # as one line: argparse wraps to the terminal's width
    assert "Default: 600 (2 on the embedded reference)" in text
    assert "Default: 10 (at least 200 on the embedded reference)" in text
    for name, words in (("fleet", "several targets"), ("merge", "reports directories"), ("reference", "on its own")):
        assert re.search(rf"\b{name} [^.]*{words}", text), f"--help does not describe the sub-command {name}"
    assert "exit codes: 0 CONFORMANT" in text


def test_help_shows_every_fixed_default() -> None:
    for option in OPTIONS:
        text = cli.default_help(option)
        if option.is_flag or option.default is None:
            assert text == "", option.name
        else:
            assert text.startswith(" Default: "), option.name
    by_name = {option.name: cli.default_help(option) for option in OPTIONS}
    assert by_name["examples"] == " Default: 2."
    assert by_name["request-timeout"] == " Default: 15."
    assert by_name["reports-dir"] == " Default: reports."


# --- calls-conformance reference ------------------------------------------------------------------


def test_reference_help_names_the_command_it_was_started_as(capsys: Any) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["reference", "--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith("usage: calls-conformance reference ")
    with pytest.raises(SystemExit):
        reference.main(["--help"])
    assert capsys.readouterr().out.startswith("usage: python -m conformance.reference ")


@pytest.mark.parametrize(("args", "line"), [
    (["--fault", "nope"],
     "calls-conformance reference: unknown fault 'nope': the faults are listed by calls-conformance reference --list"),
    (["--fault", "delete-20"],
     "calls-conformance reference: unknown fault 'delete-20' (did you mean 'delete-200'?): the faults are listed by "
     "calls-conformance reference --list"),
    (["--variant", "jambonz"],
     "calls-conformance reference: unknown variant 'jambonz' (did you mean 'jambonz-like'?): the variants are listed "
     "by calls-conformance reference --list"),
], ids=["no-match", "close-fault", "close-variant"])
def test_an_unknown_fault_or_variant_is_one_line(args: list[str], line: str, capsys: Any) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["reference", *args])
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines() == [line]
    assert "delete-200" in FAULTS


def test_the_reference_started_on_its_own_names_its_own_list_command(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        reference.main(["--fault", "nope"])
    assert capsys.readouterr().err.rstrip().endswith("listed by python -m conformance.reference --list")


# --- the header ----------------------------------------------------------------------------------


def test_the_header_is_printed_before_the_first_request(tmp_path: Path) -> None:
    """The preflight's first request fails at once here (nothing listens on port 9): its line follows the header."""
    script = Path(sys.executable).with_name("calls-conformance")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "conformance"]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_")}, "PYTHONPATH": str(ROOT),
           "CALLS_API_TOKEN": "a-token-never-printed"}
    done = subprocess.run([*command, "--base-url", "http://127.0.0.1:9/v1", "--account-sid",
                           "8314ce10-d397-4c60-a623-2995d177816a", "--no-html", "--reports-dir", str(tmp_path / "r")],
                          cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120)
    lines = done.stdout.splitlines()
    assert done.returncode == 7, done.stdout
    header = [i for i, line in enumerate(lines) if line.startswith(("calls-conformance: target: http://127.0.0.1:9/v1",
                                                                    "calls-conformance: calls: none created"))]
    preflight = next(i for i, line in enumerate(lines) if line.startswith("calls-conformance: preflight failed"))
    assert len(header) == 2 and max(header) < preflight
    assert "a-token-never-printed" not in done.stdout
    assert lines[-1] == "VERDICT: TARGET FAILED (exit code 7)"
