"""The pytest plugin of the conformance suite, loaded with `-p conformance.runner.plugin` (the
`calls-conformance` command does). Each hook hands over to the part of the runner that does the work."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from conformance.judgement.baseline import BaselineError
from conformance.judgement.waivers import WaiverError
from conformance.reports import allure as reporting
from conformance.runner import (collection, console, finish, interruption, list_samples, options, outcome,
                               preflight, selection, watches)
from conformance.runner.run import current_run, has_run, runs_no_test, start_run
from conformance.deployment.config import ConfigError

pytest_plugins = ("conformance.runner.fixtures",)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirements(*ids): catalogue requirement ids the test checks")
    values = options.given(config)
    if values is None:
        return
    if runs_no_test(config):
        # A session that only lists (--collect-only, --fixtures...) writes no report: no JUnit, no Allure results
        # (read by their plugins' pytest_configure, after this one).
        config.option.xmlpath = None
        if hasattr(config.option, "allure_report_dir"):
            config.option.allure_report_dir = None
        # The suite's fixtures talk to the target: --setup-only lists them as --setup-plan does, unexecuted.
        config.option.setupplan = config.option.setupplan or config.option.setuponly
    try:
        run = start_run(config, values, console.announcer(config))
    except (ConfigError, WaiverError, BaselineError) as error:
        raise pytest.UsageError(f"calls-conformance: {error}") from None
    if run.runs_tests:
        config.add_cleanup(interruption.catch(run))


def pytest_sessionstart(session: pytest.Session) -> None:
    if not has_run(session.config) or not current_run(session.config).runs_tests:
        return
    run = current_run(session.config)
    try:
        if preflight.passes(run):
            watches.start_predicted(run, session.config)
    except KeyboardInterrupt:
        # Raised here, it would end the session without its end (no cleanup, no verdict): the run collects
        # nothing instead and ends interrupted.
        run.interrupted = run.interrupted or "SIGINT"


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> Any:
    if not has_run(session.config):
        return None
    run = current_run(session.config)
    if run.preflight_error or run.interrupted:
        session.items = []
        return True  # nothing to collect: the target failed the preflight, or the run was interrupted
    return None


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave out a module that builds Schemathesis tests when -m/-k cannot select any of them (start-up
    time); its requirements are recorded as deselected, as if it had been collected."""
    if not has_run(config):
        return None
    module = selection.left_out(collection_path, config.getoption("markexpr", ""), config.getoption("keyword", ""),
                                config.rootpath)
    if module is None:
        return None
    ledger = current_run(config).ledger
    ledger.collected([rid for rid in module.requirements if rid in ledger.catalogue], selected=False)
    return True


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if has_run(config):
        collection.declare(items, current_run(config).ledger)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    if not has_run(session.config):
        return
    run = current_run(session.config)
    for item in session.items:
        run.ledger.collected(collection.requirement_ids(item), selected=True)
    if not run.runs_tests:
        return
    run.unreached = {item.nodeid: collection.requirement_ids(item) for item in session.items}
    run.timeline.note("run", f"collection finished: {len(session.items)} tests selected")
    outlook = run.api.session.pacer.outlook(collection.expected_requests(session.items))
    if outlook and session.items:
        console.announcer(session.config)(outlook)
    # The watches were started from what the selection was predicted to need; now it is known.
    watches.match_selection(run, session.items)
    if any("CALLS-LIST-COMPLETE" in collection.requirement_ids(item) for item in session.items):
        run.list_sampler = list_samples.ListSampler()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[Any]:
    if has_run(item.config) and current_run(item.config).api.session.guard.stopped is not None:
        # The run stopped sending (circuit breaker, run budget): the test is not run, and says why.
        pytest.skip(f"TARGET FAILED: {current_run(item.config).api.session.guard.stopped}")
    return (yield from outcome.judging(item, start=True))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[Any]:
    return (yield from outcome.judging(item, start=False))


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    run = current_run(item.config) if has_run(item.config) else None
    if run is not None and run.list_sampler is not None and item.get_closest_marker("oracle") is None:
        run.list_sampler.after_test(run)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[Any]:
    report = yield
    if has_run(item.config):
        outcome.record(item, call, report)
        unreached = current_run(item.config).unreached
        if report.when == "teardown" and unreached is not None:
            unreached.pop(item.nodeid, None)  # the test went through: it was reached
    return report


@pytest.hookimpl(trylast=True)
def pytest_exception_interact(node: Any, call: pytest.CallInfo, report: pytest.TestReport) -> None:
    """Keep the account of every violation in the failure block (other plugins reformat exception groups)."""
    text = getattr(report, "conformance_text", None)
    if text is not None:
        report.longrepr = text


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    return outcome.progress_status(report)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    reporting.show_outcome(report)  # the report is final: the Allure result says the same


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    reporting.name_fixture_step(fixturedef)  # before allure-pytest starts the step
    try:
        return (yield)
    finally:
        reporting.name_teardown_steps(fixturedef)  # after allure-pytest has wrapped the finalizers


_VERDICT_KEY = pytest.StashKey[dict]()


@pytest.hookimpl(tryfirst=True)  # before junitxml writes its file: the verdict adds properties to it
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if has_run(session.config) and current_run(session.config).runs_tests:
        run = current_run(session.config)
        result = finish.finish(run, exitstatus)
        finish.note_in_junit(session.config, result)
        session.exitstatus = result["exit_code"]
        session.config.stash[_VERDICT_KEY] = result
        if run.interrupted:
            interruption.one_line_for(session.config, run)


def verdict_of(config: pytest.Config) -> dict | None:
    """The verdict the session wrote, or None (it ran no test, or was no conformance run)."""
    return config.stash.get(_VERDICT_KEY, None)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if _VERDICT_KEY in config.stash:
        finish.print_summary(current_run(config), config.stash[_VERDICT_KEY], terminalreporter,
                             verbose=config.option.verbose > 0)
