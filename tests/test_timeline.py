"""The background watches (conformance/timeline.py, lifecycle.py, visibility.py) and the ordering by need."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from conformance import verdict
from conformance.client import ApiClient, ExchangeLog, RateLimiter, TargetSession
from conformance.config import resolve
from conformance.lifecycle import start_lifecycle
from conformance.plugin import Run, need_order
from conformance.reference import ReferenceSettings, start_reference
from conformance.timeline import Timeline
from conformance.visibility import DELETED, DELETING, window_plan


def _run_against(server) -> Run:
    cfg = resolve({}, environ={})
    accounts = [(a.sid, a.token) for a in server.accounts]
    applications = (server.accounts[0].application_sid, server.accounts[1].application_sid)
    cfg = cfg.with_embedded_target(server.base_url, accounts, applications)
    log = ExchangeLog()
    session = TargetSession(timeout=cfg.request_timeout, verify=cfg.verify, limiter=RateLimiter(cfg.rate_limit),
                            log=log, token_envs={cfg.token: "CALLS_API_TOKEN"}, max_body_bytes=cfg.max_body_bytes)
    return Run(cfg, ApiClient(cfg.base_url, cfg.account_sid, cfg.token, session), None, log, verdict.Ledger())


def test_window_plan_never_samples_before_the_end_is_certain() -> None:
    plan = window_plan(end_lower=10.0, end_upper=12.0, window=4.0)
    assert plan[0] == 12.0 and all(when >= 12.0 for when in plan)
    assert plan == sorted(plan) and plan[-1] == 13.0


def test_timeline_lists_what_each_watch_did_in_order() -> None:
    timeline = Timeline()
    timeline.note("lifecycle", "created call a")
    timeline.note("retention window", "created call b")
    lines = timeline.lines()
    assert len(lines) == 2 and "lifecycle" in lines[0] and "created call b" in lines[1]


def test_lifecycle_watch_records_a_call_that_turns_active_after_completing() -> None:
    """The end-of-call fault shows in the background watch's record, which the test judges later."""
    with start_reference(ReferenceSettings.fast(fault="completed-back-to-in-progress")) as server:
        run = _run_against(server)
        watch = start_lifecycle(run)
        watch.wait(watch.done)
        watch.stop()
    assert watch.skip_reason is None, watch.skip_reason
    statuses = [o.call_status for o in watch.life.observations if o.call_status]
    first_end = statuses.index("completed")
    assert "in-progress" in statuses[first_end:], statuses
    assert watch.deletion is not None and watch.deletion.delete.status == 204
    assert watch.created.sid in DELETING and watch.created.sid in DELETED
    assert run.log.total >= len(watch.life.observations)  # its requests count as the run's
    assert any("deleted (204)" in line for line in run.timeline.lines())


def test_lifecycle_watch_without_a_call_budget_skips_its_tests_with_the_reason() -> None:
    with start_reference(ReferenceSettings.fast()) as server:
        run = _run_against(server)
        run.budget.attempts = run.config.max_calls  # spent
        watch = start_lifecycle(run)
        watch.wait(watch.done)
        watch.stop()
    assert watch.created is None
    assert isinstance(watch.failure, pytest.skip.Exception) and "call budget" in str(watch.failure)


def _item(marks: tuple[str, ...] = (), fixtures: tuple[str, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(get_closest_marker=lambda name: object() if name in marks else None,
                           fixturenames=list(fixtures))


def test_tests_that_wait_run_last_in_the_order_of_their_watch_and_oracle_tests_after_all() -> None:
    items = {
        "oracle": _item(marks=("oracle",)),
        "window": _item(marks=("window",)),
        "deletion": _item(fixtures=("deletion", "life", "created")),
        "life": _item(fixtures=("life", "created")),
        "created": _item(fixtures=("created",)),
        "plain": _item(),
    }
    ordered = sorted(items, key=lambda name: need_order(items[name]))
    assert ordered == ["created", "plain", "life", "deletion", "window", "oracle"]
