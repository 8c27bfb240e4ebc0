"""The retention window: an ended call stays visible for the window, then goes.

The observations come from the retention-window watch (conformance/evidence/watches/window.py), started
with the session so that the window elapses while the rest of the run goes on; these tests run last and
only wait for what is left of it (printing their progress), then judge the record it kept.
"""

from __future__ import annotations

import threading

import pytest

from conformance.evidence.watches.sampler import Sample
from conformance.evidence.watches.window import WindowWatch
from conformance.evidence.watches.window_record import WindowRecord
from conformance.judgement.checks import RequirementViolation
from conformance.runner.console import progress_writer

pytestmark = [pytest.mark.slow, pytest.mark.window, pytest.mark.creates_calls]

def _wait(request: pytest.FixtureRequest, watch: WindowWatch, event: threading.Event) -> None:
    """Wait for `event`, with a line of progress now and then; bounded by the watch's deadline."""
    watch.wait(event, progress_writer(request.config))


@pytest.fixture(scope="module")
def watch(run) -> WindowWatch:
    if run.window_watch is None:
        reason = run.budget.skip_reason() or "the retention-window watch was not started"
        pytest.skip(reason)
    return run.window_watch


def _judged(watch: WindowWatch) -> None:
    if watch.record.lost is not None or watch.record.mismatch is not None:
        return  # judged by the caller: the call vanished before it was seen ending
    if watch.skip_reason:
        pytest.skip(watch.skip_reason)


def _late(seen: WindowRecord, sample: Sample) -> str:
    lo, hi = seen.since_end(sample)
    return f"between {lo:.2f} s and {hi:.2f} s after the call ended (window {seen.window:g} s)"


@pytest.mark.requirements("CALLS-WINDOW-VISIBLE")
def test_ended_call_stays_visible_through_the_window(request, watch: WindowWatch) -> None:
    _wait(request, watch, watch.visible_done)
    print(watch.describe())
    seen = watch.record
    if seen.mismatch is not None:
        raise RequirementViolation("CALLS-GET-MATCHES-SID", "CF107",
                                   f"get of watched call {seen.sid}: {seen.mismatch.error}", seen.mismatch.exchange)
    if seen.lost is not None:
        lost = seen.lost
        last_active = [p for p in seen.polls if p.present and p.error is None]
        if last_active and lost.received <= last_active[-1].sent + seen.window:
            raise RequirementViolation(
                "CALLS-WINDOW-VISIBLE", "CF110",
                f"call {seen.sid} answered {lost.status} {lost.received - last_active[-1].sent:.2f} s after it was "
                f"last seen active ({last_active[-1].call_status}), without ever being seen ended: it vanished "
                f"within the window of its end", lost.exchange)
        pytest.skip("the watched call was never seen before it vanished: " + (watch.skip_reason or ""))
    _judged(watch)
    judged = [s for s in seen.samples if seen.inside_window(s) and s.error is None]
    for sample in seen.samples:
        if not seen.inside_window(sample):
            continue
        if sample.error is not None:
            if sample.status is not None and sample.status >= 500:
                raise RequirementViolation(
                    "CALLS-NO-SERVER-ERROR", "CF102",
                    f"{sample.kind} of an ended call {_late(seen, sample)}: server error {sample.status}",
                    sample.exchange)
            continue
        if not sample.present:
            what = "get answered " + str(sample.status) if sample.kind == "get" else "the list did not show it"
            raise RequirementViolation(
                "CALLS-WINDOW-VISIBLE", "CF110",
                f"call {seen.sid}: {what} {_late(seen, sample)}, inside the retention window", sample.exchange)
    if not judged:
        pytest.skip("no sample of the watched call was both sent after its end and answered before the window "
                    "closed (requests too slow for this window)")
    latest = max(hi for _, hi in (seen.since_end(s) for s in judged))
    print(f"visible in {len(judged)} samples inside the window, the latest up to {latest:.2f} s after the end")


@pytest.mark.requirements("CALLS-WINDOW-EXPIRES")
def test_ended_call_is_gone_after_the_window(request, watch: WindowWatch) -> None:
    _wait(request, watch, watch.done)
    print(watch.describe())
    seen = watch.record
    if seen.lost is not None or seen.mismatch is not None:
        pytest.skip("the watch could not follow its call: see CALLS-WINDOW-VISIBLE")
    _judged(watch)
    for sample in seen.expiry:
        if sample.error is not None and sample.status is not None and sample.status >= 500:
            raise RequirementViolation("CALLS-NO-SERVER-ERROR", "CF102",
                                       f"{sample.kind} of an ended call after its window: server error {sample.status}",
                                       sample.exchange)
    gone = seen.gone()
    if gone is not None:
        lo, hi = seen.since_end(gone[0])
        print(f"gone from get and list between {lo:.2f} s and {hi:.2f} s after the call ended "
              f"(window {seen.window:g} s, grace {seen.grace:g} s)")
        return
    # Never seen gone: judged by the looks made once the window and the grace period had passed (D-48).
    checks = [s for s in seen.expiry if seen.after_window(s)]
    if not checks:
        pytest.skip("the watch took no sample after the window and grace had passed")
    for sample in checks:
        if sample.error is not None:
            pytest.skip(f"the {sample.kind} after the window could not be judged: {sample.error}")
        if sample.present:
            lo, _ = seen.since_end(sample)
            what = "get still answered it" if sample.kind == "get" else "the list still showed it"
            raise RequirementViolation(
                "CALLS-WINDOW-EXPIRES", "CF109",
                f"call {seen.sid}: {what} at least {lo:.2f} s after it ended, past the window ({seen.window:g} s) "
                f"and the grace period ({seen.grace:g} s)", sample.exchange)
    pytest.skip("the looks after the window and grace found the call gone from neither get nor list together")
