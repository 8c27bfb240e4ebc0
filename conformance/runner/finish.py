"""The end of a run: the watches stopped, the calls cleaned up, the verdict decided (with waivers and the
baseline), written to verdict.json with the report files (the run's exchanges in exchanges.har among them),
and summed up in the terminal."""

from __future__ import annotations

from typing import Any

import pytest
from _pytest import junitxml

from conformance.contract import openapi
from conformance.judgement import baseline as baselines
from conformance.judgement import verdict
from conformance.judgement import waivers as waiving
from conformance.reports import allure, har, report_page, terminal
from conformance.runner.cleanup import clean_up
from conformance.runner.interruption import note_unreached
from conformance.runner.run import Run, stop_reference
from conformance.deployment.redaction import REDACT


def finish(run: Run, exitstatus: int) -> dict[str, Any]:
    """Everything after the last test; returns the verdict (as written to verdict.json)."""
    run.finishing = True
    run.timeline.stop()
    if run.window_watch is not None:
        run.window_watch.stop()
    stopped = run.api.session.guard.stopped
    if stopped is not None and run.target_failure is None:
        run.target_failure = {"stage": "run", "kind": stopped.kind, "message": str(stopped),
                              "requests_sent": run.log.total}
    if run.preflight_error:
        for rid, req in run.ledger.catalogue.items():
            if req.testable:
                run.ledger.not_run("(preflight)", [rid], f"the preflight failed: {run.preflight_error}")
    else:
        clean_up(run)
    if run.interrupted:
        note_unreached(run)
    stop_reference(run)
    result = _decide(run, exitstatus)
    cfg = run.config
    verdict.write_verdict(result, cfg.reports_dir)
    scrub = REDACT.with_secrets(*cfg.secrets)
    har.write(cfg.reports_dir, run.history, scrub)
    report_page.write(cfg.reports_dir, result, scrub)
    allure.write_run_files(cfg.reports_dir, cfg.public_summary(), result, scrub)
    return result


def note_in_junit(config: pytest.Config, result: dict[str, Any]) -> None:
    """Each requirement's answer, and what it rests on when partial, as a property of junit.xml's test suite
    ("CALLS-X" = "PASS on 2 of 12 probes: 10 need --allow-create")."""
    xml = config.stash.get(junitxml.xml_key, None)
    if xml is None:
        return
    for row in result["requirements"]:
        word = verdict.OUTCOME_WORDS[row["status"]]
        if row["status"] == "failed":
            word = verdict.failure_word(row["level"], result["strict"])
        summary = row["evidence"]["summary"]
        if row["status"] in ("not-run", "not-selected") and row["reasons"]:
            summary = f"({verdict.short_reason(row['reasons'][0])})"
        xml.add_global_property(row["id"], f"{word} {summary}" if summary else word)


def _decide(run: Run, exitstatus: int) -> dict[str, Any]:
    """The verdict of the ledger, with the waivers and the baseline applied, and the run's exit code."""
    cfg = run.config
    stats = {"calls_created": len(run.budget.created), "create_attempts": run.budget.attempts,
             "requests_sent": run.log.total, "leftover_calls": run.leftovers,
             "failed_exchanges": run.api.session.guard.breaker.total_failures + run.target_errors,
             "pacing": run.api.session.pacer.summary(), **_watch_stats(run)}
    # --accept-incomplete covers requirements skipped by configuration, never a target that failed.
    accept_incomplete = cfg.accept_incomplete and not run.target_errors
    result = verdict.build_verdict(
        run.ledger, strict=cfg.strict, accept_incomplete=accept_incomplete, target=cfg.public_summary(),
        spec_version=openapi.spec_version(), started=run.started, stats=stats, target_failure=run.target_failure,
        artifacts={"har": har.FILE})
    if run.waivers is not None:
        waiving.apply(result, run.waivers, accept_incomplete=accept_incomplete, fail_on_stale=cfg.fail_on_stale_waivers)
    completed = exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or (
        run.preflight_error and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED)
    if run.interrupted:
        result["run_error"] = "interrupted"
        # What the run proved before it was interrupted stands (a MUST failure, a target that failed it);
        # anything else it might have become is unknown.
        if result["verdict"] not in (verdict.NOT_CONFORMANT, verdict.TARGET_FAILED):
            result["verdict"] = verdict.INTERRUPTED
            result["exit_code"] = verdict.EXIT_INTERRUPTED
    elif not completed:
        # Collection errors, no tests: the run itself did not complete.
        result["exit_code"] = int(exitstatus)
        result["run_error"] = pytest.ExitCode(exitstatus).name.lower().replace("_", " ")
        if result["verdict"] in (verdict.CONFORMANT, waiving.CONFORMANT_WITH_WAIVERS):
            result["verdict"] = verdict.INCOMPLETE
    if run.baseline is not None:
        baselines.apply(result, run.baseline, cfg.gate)
    return result


def _watch_stats(run: Run) -> dict[str, Any]:
    """What the background watches did, for the report: the run's timeline and, when the retention-window
    watch ran, its phase and its account of the call it followed."""
    stats: dict[str, Any] = {}
    events = run.timeline.in_order()
    if events:
        stats["timeline"] = [{"at": round(at, 2), "who": who, "what": what} for at, who, what in events]
    watch = run.window_watch
    if watch is not None:
        stats["window"] = {"phase": watch.phase, "not_judged": watch.skip_reason, "account": watch.describe()}
    return stats


def print_summary(run: Run, result: dict[str, Any], terminalreporter: Any, verbose: bool) -> None:
    """The verdict in the terminal: requirement by requirement (just the verdict line after a failed
    preflight), what waivers and the baseline did, the timeline with -v, and what was left on the target."""
    lines = terminal.requirement_lines(result)
    if run.preflight_error:
        lines = lines[-1:]  # nothing was run: the preflight line said what is wrong
    else:
        terminalreporter.section("Calls API conformance: requirement by requirement")
    for line in lines + terminal.waiver_lines(result) + terminal.baseline_lines(result):
        terminalreporter.write_line(line)
    if verbose and run.timeline.events:
        terminalreporter.section("Calls API conformance: timeline of the run and its background watches")
        for line in run.timeline.lines():
            terminalreporter.write_line(line)
    leftovers = result["stats"]["leftover_calls"]
    if leftovers:
        terminalreporter.write_line(f"WARNING: calls created by this run still listed after cleanup: {', '.join(leftovers)}")
    terminalreporter.write_line(f"verdict written to {run.config.reports_dir / 'verdict.json'}")
