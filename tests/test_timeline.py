"""The background watches (conformance/evidence/watches/: the lifecycle and the retention window), the run's
timeline, and the ordering by need."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conformance.evidence.observed import DELETED, DELETING
from conformance.evidence.timeline import Timeline
from conformance.evidence.watches.lifecycle import start_lifecycle
from conformance.evidence.watches.window import WindowWatch, start_window_watch
from conformance.evidence.watches.window_plan import EXPIRY_FRACTIONS, expiry_plan, window_plan
from conformance.reference import ReferenceSettings, start_reference
from conformance.reference.testing import record_stored_calls
from conformance.runner.collection import need_order
from conformance.runner.run import Run, open_run
from conformance.deployment.config import resolve
from tests.conftest import ROOT


def _run_against(server) -> Run:
    cfg = resolve({}, environ={})
    accounts = [(a.sid, a.token) for a in server.accounts]
    applications = (server.accounts[0].application_sid, server.accounts[1].application_sid)
    return open_run(cfg.with_embedded_target(server.base_url, accounts, applications))


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


# --- the retention window's expiry: judged at the first look that finds the call gone -------------


def test_expiry_plan_looks_soon_after_the_window_closes_and_last_once_the_grace_has_passed() -> None:
    plan = expiry_plan(end_upper=10.0, window=4.0, grace=2.0)
    assert plan == sorted(plan) and len(plan) == len(EXPIRY_FRACTIONS)
    assert 14.0 < plan[0] <= 14.2  # right after the window has certainly closed
    assert plan[-1] == 16.0  # window and grace passed: a call still visible now has outstayed the window


def _watch_expiry(server_window: float, window: float, grace: float) -> WindowWatch:
    """Follow one call of a fast reference that keeps ended calls `server_window` seconds, with a watch
    told the window is `window` and the grace `grace`."""
    with start_reference(ReferenceSettings.fast(window=server_window)) as server:
        run = _run_against(server)
        run.config = dataclasses.replace(run.config, window=window, grace=grace)
        watch = start_window_watch(run)
        watch.wait(watch.done)
        watch.stop()
    assert watch.skip_reason is None, watch.skip_reason
    assert watch.record.end_upper is not None
    return watch


def test_retention_watch_ends_at_the_first_look_that_finds_the_call_gone() -> None:
    seen = _watch_expiry(server_window=2.0, window=2.0, grace=4.0).record
    gone = seen.gone()
    assert gone is not None and [s.kind for s in seen.expiry] == ["get", "list"]
    closes = seen.end_upper + seen.window
    assert closes <= gone[0].sent < closes + seen.grace / 2  # the grace period was not waited out


def test_retention_watch_keeps_looking_while_the_call_lingers_within_the_grace() -> None:
    watch = _watch_expiry(server_window=3.0, window=2.0, grace=4.0)
    seen = watch.record
    first, gone = seen.expiry[0], seen.gone()
    assert first.kind == "get" and first.present, watch.describe()  # still there just after the window
    assert gone is not None and gone[0].sent < seen.end_upper + seen.window + seen.grace, watch.describe()


def test_retention_watch_records_a_call_still_visible_after_the_grace() -> None:
    watch = _watch_expiry(server_window=8.0, window=2.0, grace=1.0)
    assert watch.record.gone() is None
    last = [s for s in watch.record.expiry if watch.record.after_window(s)]
    assert [s.kind for s in last] == ["get", "list"] and all(s.present for s in last), watch.describe()


# --- the watches start with the session, before collection -------------------------------------


def _suite(args: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "conformance", "--no-html", "--reports-dir", str(tmp_path / "reports"), *args]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_")} | (env or {})
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)


def _timeline(output: str) -> list[tuple[float, str]]:
    return [(float(m.group(1)), m.group(2)) for m in re.finditer(r"^\s*(\d+\.\d+) s  (.+)$", output, re.MULTILINE)]


def test_the_watched_call_is_created_before_collection_has_finished(tmp_path: Path) -> None:
    done = _suite(["-m", "window", "-v"], tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    events = _timeline(done.stdout)
    created = next(at for at, what in events if what.startswith("retention window") and "created call" in what)
    collected = next(at for at, what in events if what.startswith("run") and "collection finished" in what)
    assert created < collected, events


@pytest.mark.parametrize("args", [
    ["--collect-only", "-q"],
    ["-k", "test_request_without_valid_credentials_answers_401", "--examples", "1"],
], ids=["collect-only", "no-test-needs-a-call"])
def test_a_run_whose_tests_need_no_call_places_none(tmp_path: Path, args: list[str]) -> None:
    with start_reference(ReferenceSettings.fast()) as server:
        stored = record_stored_calls(server.app.state.store)
        account = server.accounts[0]
        done = _suite(["--base-url", server.base_url, "--account-sid", account.sid, "--allow-create",
                       "--from-number", "+15005550006", "--to-number", "+15005550001", *args], tmp_path,
                      {"CALLS_API_TOKEN": account.token})
    assert done.returncode in (0, 6), done.stdout[-3000:]
    assert [record.call_sid for record in stored] == [], done.stdout[-3000:]


def test_the_window_watch_looks_at_its_call_at_once_when_the_sibling_call_is_seen_ended():
    """The lifecycle call, made at the same time with the same payload, is followed closely; the window's call
    is polled seldom on a long window. When what the run saw shows the sibling ended, the wait ends at once."""
    import time
    import uuid

    from conformance.evidence.observed import SEEN

    sibling = str(uuid.uuid4())
    watch = WindowWatch(window=600.0, grace=60.0, call_timeout=120.0)
    watch.sibling = lambda: sibling
    started = time.monotonic()
    SEEN.record(sibling, "in-progress", started, started, "get", None)
    assert watch._sleep_or_sibling_ended(started + 0.3)  # not ended: the whole pause is slept
    assert time.monotonic() - started >= 0.3
    SEEN.record(sibling, "completed", started, started, "get", None)
    again = time.monotonic()
    assert watch._sleep_or_sibling_ended(again + 10.0)
    assert time.monotonic() - again < 0.5
    assert watch._sleep_or_sibling_ended(time.monotonic() + 0.2)  # once only: then the watch's own pace
    assert time.monotonic() - again >= 0.2
