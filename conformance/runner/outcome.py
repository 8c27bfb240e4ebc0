"""Each test's outcome: the violations its checks recorded or raised are charged to the requirements they
break, its other requirements are judged on the rest of its evidence, and its report says so in the
words of the verdict (FAIL, WARN, ADVICE, WAIVED, NOT RUN)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from conformance.judgement import verdict
from conformance.judgement.checks import Judgement, RequirementViolation, judgement, violations_in
from conformance.judgement.ledger import Failure
from conformance.reports import allure as reporting
from conformance.runner.collection import requirement_ids
from conformance.runner.run import Run, current_run, has_run
from conformance.deployment.failures import RateLimited, TargetUnavailable
from conformance.deployment.redaction import REDACT, cut_words

_JUDGEMENTS = pytest.StashKey[dict[str, Judgement]]()


def judging(item: pytest.Item, start: bool) -> Iterator[Any]:
    """Run a test phase (setup when `start`, else call), recording the violations its checks charge without
    stopping (checks.record); when it raises or recorded any, attach its exchanges and curl reproductions
    to the report. A generator for pytest's wrapper hooks."""
    if not has_run(item.config):
        return (yield)
    log = current_run(item.config).log
    if start:
        log.drain()  # what came before this test belongs to no one
    with judgement() as judged:
        item.stash.setdefault(_JUDGEMENTS, {})["setup" if start else "call"] = judged
        try:
            result = yield
        except BaseException as error:
            raised = violations_in(error)
            reporting.attach_failure(judged.violations + raised, log.drain())
            if not raised and isinstance(error, Exception):
                reporting.attach_traceback(error)  # the details of an error that is no requirement failure
            raise
        if judged.violations:
            reporting.attach_failure(judged.violations, log.drain())
        return result


def record(item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport) -> None:
    """Charge each violation to the requirement it breaks; judge the test's other requirements on the rest
    of its evidence: passed when the test went through, NOT RUN (with the real reason) when it could not
    judge them. Rewrites the report to say so."""
    _redact_report(report)
    run = current_run(item.config)
    requirements = requirement_ids(item)
    name = item.nodeid
    phases = item.stash.get(_JUDGEMENTS, {})
    if report.when == "setup" and report.passed:
        return  # what the fixtures recorded is judged with the test's call
    judged = phases.get(report.when) or Judgement()
    if report.when == "call" and "setup" in phases:
        judged = phases["setup"].merged(judged)
    error = call.excinfo.value if call.excinfo else None
    raised = violations_in(error) if report.failed else []
    found = _in_catalogue_order(judged.violations + raised, run.ledger.catalogue)
    run.ledger.probed(name, judged.probes, judged.calls)  # before the outcome: counted probes replace the default one
    if report.failed and error is not None and not raised and not judged.violations:
        _not_run_by_error(item, run, report, requirements, error)
        return
    if report.when != "call" and not found:
        if report.skipped:
            run.ledger.not_run(name, requirements, skip_reason(report))
        return
    failed_ids = {v.requirement for v in found}
    for v in found:
        curl, observed = (v.reproduce(), REDACT(v.exchange.describe())) if v.exchange else (None, None)
        number = run.history.index_of(v.exchange) if v.exchange else None
        run.ledger.failed(v.requirement, Failure(name, v.code, v.message, curl, observed, number, v.key))
    rest = [r for r in requirements if r not in failed_ids]
    unjudged = {r: judged.not_judged[r] for r in rest if r in judged.not_judged}
    for rid, reason in unjudged.items():
        run.ledger.not_run(name, [rid], reason)
    rest = [r for r in rest if r not in unjudged]
    if report.skipped:
        run.ledger.not_run(name, rest, skip_reason(report))
        if not found:
            return
    elif raised:
        # The test stopped at a violation: what it had not reached yet was not judged.
        stopped = ", ".join(sorted({v.requirement for v in raised}))
        run.ledger.not_run(name, rest, f"not judged: the test stopped at {stopped}")
    elif report.failed:
        run.ledger.not_run(name, rest, _error_reason(_transport_error(error) or error, report.when))
    else:
        run.ledger.passed(name, rest)
    if found:
        _report_violations(item, run, report, found, crashed=report.failed and not raised)


def _not_run_by_error(item: pytest.Item, run: Run, report: pytest.TestReport, requirements: list[str],
                      error: BaseException) -> None:
    """A test broken by an error that is no requirement failure: its requirements are not run, with one line
    (the traceback is in the report's attachments). A failed exchange makes it a skip."""
    error = _transport_error(error) or error  # a failed exchange, also inside a group
    reason = _error_reason(error, report.when)
    run.ledger.not_run(item.nodeid, requirements, reason)  # broken, not failed
    report.longrepr = f"NOT RUN: {reason}"
    if isinstance(error, TargetUnavailable):
        run.target_errors += 1
        report.outcome = "skipped"
        report.longrepr = (str(item.path), (item.location[1] or 0) + 1, f"NOT RUN: {reason}")


def _report_violations(item: pytest.Item, run: Run, report: pytest.TestReport, found: list[RequirementViolation],
                       crashed: bool) -> None:
    """The report of a test that found violations: failed when one decides the verdict; else passed, carrying
    its word (WARN, ADVICE, or WAIVED when a waiver covers every one) and what it found, for the progress
    letter, a JUnit property and the Allure result (reports/allure.py). Never a skip or an expected failure:
    skipped means NOT RUN everywhere."""
    word = report_word(found, run)
    text = "\n\n".join(v.render() for v in found)
    waiver = None if crashed else _waive(run, item.nodeid, found)
    if waiver is not None:
        word, note = verdict.WAIVED, waiver
    else:
        prefix = {verdict.WARN: reporting.WARN_PREFIX, verdict.ADVICE: reporting.ADVICE_PREFIX}.get(word, "")
        note = prefix + "; ".join(f"{v.requirement} [{v.code}] {v.message}" for v in found)
    report.conformance_word, report.conformance_note = word, note
    if word == verdict.FAIL or crashed:  # an error of the test itself stays a visible failure
        if crashed:
            text += f"\n\nthe test then stopped on an error:\n{report.longrepr}"
        report.outcome = "failed"
        report.longrepr = report.conformance_text = text
        return
    report.outcome, report.longrepr = "passed", None
    item.user_properties += [("outcome", word), ("message", note)]  # JUnit writes them on the test case


def report_word(found: list[RequirementViolation], run: Run) -> str:
    """The one word for a test whose checks found `found` (non-empty): FAIL if any decides the verdict,
    else WARN (SHOULD or MAY, not strict), else ADVICE. The one place a test's outcome is decided."""
    words = {verdict.failure_word(run.ledger.catalogue[v.requirement].level, run.config.strict) for v in found}
    for word in (verdict.FAIL, verdict.WARN, verdict.ADVICE):
        if word in words:
            return word
    return verdict.FAIL


def progress_status(report: pytest.TestReport) -> tuple[str, str, str] | None:
    """The progress letter and word of a test that passed but warns, advises or is waived: counted under its own
    word ("1 warn"), never as skipped or xfailed."""
    word = getattr(report, "conformance_word", None)
    if not report.passed or word not in (verdict.WARN, verdict.ADVICE, verdict.WAIVED):
        return None
    return word.lower(), "w" if word == verdict.WAIVED else word[0], word


def _waive(run: Run, name: str, found: list[RequirementViolation]) -> str | None:
    """The waiver's message when a waiver covers every violation of a failed test, else None."""
    return run.waivers.test_outcome(name, [(v.requirement, v.code) for v in found]) if run.waivers else None


def skip_reason(report: pytest.TestReport) -> str:
    """The reason a skipped test gives, without pytest's `Skipped: `."""
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return reason.removeprefix("Skipped: ")


def _error_reason(error: BaseException | None, when: str) -> str:
    """One line for an error that is no requirement failure (redacted, cut at a word)."""
    kind = type(error).__name__ if error is not None else "error"
    detail = str(error).splitlines()[0] if error is not None and str(error) else kind
    if isinstance(error, (TargetUnavailable, RateLimited)):
        return cut_words(REDACT(f"{kind}: {detail}"), 300)
    return cut_words(REDACT(f"{when} error, {kind}: {detail}"), 300)


def _transport_error(error: BaseException | None) -> TargetUnavailable | None:
    """The failed exchange that ended a test, wherever it sits (an exception group, a cause)."""
    if error is None or isinstance(error, TargetUnavailable):
        return error
    if isinstance(error, BaseExceptionGroup):
        return next(filter(None, (_transport_error(inner) for inner in error.exceptions)), None)
    return _transport_error(error.__cause__ or error.__context__)


def _redact_report(report: pytest.TestReport) -> None:
    """Secrets out of what the terminal, JUnit and Allure show of a test: a target may echo a token into values a
    traceback quotes (a test's arguments). The structured failure is kept unless it holds a secret."""
    if isinstance(report.longrepr, str):
        report.longrepr = REDACT(report.longrepr)
    elif report.longrepr is not None and not isinstance(report.longrepr, tuple):
        text = str(report.longrepr)
        if REDACT(text) != text:
            report.longrepr = REDACT(text)
    report.sections = [(name, REDACT(content)) for name, content in report.sections]


def _in_catalogue_order(found: list[RequirementViolation], catalogue: dict[str, Any]) -> list[RequirementViolation]:
    """One violation per requirement and message, in catalogue order: the same account on every run."""
    order = {rid: index for index, rid in enumerate(catalogue)}
    unique = {(v.requirement, v.code, v.message): v for v in reversed(found)}
    return sorted(unique.values(), key=lambda v: (order.get(v.requirement, len(order)), v.code, v.message))
