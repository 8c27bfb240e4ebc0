"""The lifecycle call after its end: its statuses never turn active again, it ends, every call the run saw
carries the documented properties, and its delete answers 204, removes it and only it, and a second delete
answers 404.

These tests wait for the lifecycle watch (conformance/evidence/watches/lifecycle.py) to see the call end and
to delete it, so they run late; the call's create, get and list are test_lifecycle.py's.
"""

from __future__ import annotations

import pytest

from conformance.contract.calls import ACTIVE_STATUSES, STATUSES, TERMINAL_STATUSES
from conformance.evidence.observed import DELETED, SEEN, Seen, sids_of
from conformance.evidence.watches.lifecycle import Created, Deletion, Life, LifecycleWatch, TimedAnswer
from conformance.judgement.checks import (
    RequirementViolation,
    expect_call_list,
    expect_empty_body,
    expect_no_server_error,
    expect_json,
    expect_status,
    judge_call_object,
    judged,
    record,
    rests_on,
    violation,
)
from conformance.judgement.oracle import named_again
from conformance.runner.console import progress_writer


# --- the life of the call -------------------------------------------------------------------


@pytest.mark.creates_calls
@pytest.mark.requirements("CALLS-LIFECYCLE-MONOTONIC", "CALLS-GET-200", "CALLS-GET-MATCHES-SID", "CALLS-CALL-SCHEMA",
                          "CALLS-CALL-STATUS-ENUM")
def test_call_status_never_turns_active_after_a_terminal_one(life: Life, created: Created, target, run) -> None:
    terminal: TimedAnswer | None = None
    last_active: TimedAnswer | None = None
    for observation in life.observations:
        response = observation.response
        if response.status == 404:
            continue  # judged below
        expect_status(response, 200, "CALLS-GET-200", "get of the created call during its life")
        call = expect_json(response, "CALLS-GET-200", "get of the created call")
        # A malformed object is charged to its own requirement; the statuses are judged on the others.
        if not judge_call_object(call, response, "get of the created call during its life") and \
                not (isinstance(call, dict) and isinstance(call.get("call_status"), str)):
            continue
        if call.get("call_sid") != created.sid:
            record(violation("CALLS-GET-MATCHES-SID", "CF107",
                             f"asked for {created.sid}, got call_sid {call.get('call_sid')!r}", response))
            continue
        status = call["call_status"]
        if status in TERMINAL_STATUSES and terminal is None:
            terminal = observation
        elif status in ACTIVE_STATUSES:
            if terminal is not None:
                raise violation("CALLS-LIFECYCLE-MONOTONIC", "CF111",
                                f"the call was {terminal.call_status!r} and then {status!r} again "
                                f"{observation.received - terminal.received:.2f} s later", response)
            last_active = observation
    # Every request of the run that showed this call (lists included, the retention watch's too): a
    # server may report the end to one observer only. Once a later create has named the sid again, it
    # names two calls: that is CALLS-CREATE-NEW-SID's (D-43), and what follows says nothing of this one.
    renamed = named_again(run.history.records(), created.sid)
    observed = [seen for seen in SEEN.of(created.sid) if renamed is None or seen.sent < renamed.sent]
    ended_seen = None
    for seen in observed:
        if seen.call_status in TERMINAL_STATUSES and (ended_seen is None or seen.received < ended_seen.received):
            ended_seen = seen
    for seen in observed:
        if ended_seen is not None and seen.call_status in ACTIVE_STATUSES and seen.sent > ended_seen.received:
            raise RequirementViolation(
                "CALLS-LIFECYCLE-MONOTONIC", "CF111",
                f"a {ended_seen.via} showed the call {ended_seen.call_status!r}; a {seen.via} sent "
                f"{seen.sent - ended_seen.received:.2f} s later showed it {seen.call_status!r} again", seen.exchange)
    statuses = [o.call_status or o.response.status for o in life.observations]
    print("statuses seen:", " -> ".join(str(s) for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]))
    if life.vanished is not None:
        since = life.vanished.received - (last_active.sent if last_active else life.vanished.sent)
        raise violation("CALLS-GET-200", "CF110",
                        f"the call answered 404 while it had not been seen ending ({since:.2f} s after it was last seen "
                        f"active, window {target.window:g} s)", life.vanished.response)
    if last_active is None and terminal is None:
        pytest.skip("the call could never be got: see CALLS-CREATE-VISIBLE")
    if terminal is None:
        pytest.skip("the call did not end within the call timeout: see CALLS-LIFECYCLE-ENDS")


@pytest.mark.creates_calls
@pytest.mark.requirements("CALLS-LIFECYCLE-ENDS")
def test_created_call_ends_within_the_call_timeout(life: Life, created: Created, target) -> None:
    if life.vanished is not None:
        pytest.skip("the call vanished before it was seen ending: see CALLS-GET-200")
    if not any(isinstance(o.call, dict) for o in life.observations):
        pytest.skip("the call could never be got: see CALLS-CREATE-VISIBLE")
    if life.ended is None:
        last = life.observations[-1]
        raise violation("CALLS-LIFECYCLE-ENDS", "CF113",
                        f"the call was still {last.call_status!r} {last.received - created.sent:.1f} s after its create "
                        f"(call timeout {target.call_timeout:g} s)", last.response)
    print(f"ended {life.ended.call_status} after at most {life.ended.received - created.sent:.2f} s")


# --- the properties of every call the run saw -------------------------------------------------


@pytest.fixture(scope="module")
def seen_calls(request, run, api) -> dict[str, list[Seen]]:
    """Every call the run has seen, created by it or not (listed or got, by any request): its observations.
    When the run follows a created call, after that call has ended; a list now adds what the account shows."""
    watch = run.timeline.watches.get(LifecycleWatch.name)
    if watch is not None and watch.follow:
        watch.wait(watch.ended, progress_writer(request.config))
    api.list_calls()  # its answer is seen like any other
    # An object whose status is none of the documented ones is CALLS-CALL-STATUS-ENUM's defect, and may be no
    # call at all: its other properties are not judged.
    seen = {sid: [s for s in SEEN.of(sid) if isinstance(s.call, dict) and s.call_status in STATUSES]
            for sid in SEEN.sids()}
    return {sid: observations for sid, observations in seen.items() if observations}


def _judging_calls(requirement: str, run, observations: dict[str, list[Seen]], what: str) -> None:
    """Name the calls `requirement` is judged on (created by the run or merely seen); skip when there is none."""
    if not observations:
        pytest.skip(f"the run saw no {what}")
    created = {c.sid for c in run.budget.created}
    for sid in observations:
        rests_on(requirement, sid, sid in created)
    print(f"judged on {len(observations)} {what}(s): {', '.join(sorted(observations))}")


def _ended(observations: list[Seen]) -> list[Seen]:
    return [seen for seen in observations if seen.call_status in TERMINAL_STATUSES]


@pytest.mark.requirements("CALLS-CALL-DURATION-ENDED")
def test_ended_call_carries_its_duration(run, seen_calls) -> None:
    ended = {sid: _ended(observations) for sid, observations in seen_calls.items() if _ended(observations)}
    _judging_calls("CALLS-CALL-DURATION-ENDED", run, ended, "ended call")
    for sid, observations in ended.items():
        for seen in observations:
            duration = seen.call.get("duration")
            if isinstance(duration, bool) or not isinstance(duration, int) or duration < 0:
                raise RequirementViolation(
                    "CALLS-CALL-DURATION-ENDED", "CF104",
                    f"call {sid} ended {seen.call_status!r} with duration {duration!r}, expected an integer >= 0"
                    if "duration" in seen.call else f"call {sid} ended {seen.call_status!r} without a duration",
                    seen.exchange)


@pytest.mark.requirements("CALLS-CALL-DOCUMENTED-FIELDS")
def test_call_carries_the_documented_fields(run, seen_calls) -> None:
    # A property may be unknown at some stage of a call (D-5): each call is judged as last seen ended.
    last = {sid: _ended(observations)[-1] for sid, observations in seen_calls.items() if _ended(observations)}
    _judging_calls("CALLS-CALL-DOCUMENTED-FIELDS", run, last, "ended call")
    for sid, seen in last.items():
        missing = [name for name in ("call_id", "sip_status", "service_url") if name not in seen.call]
        if missing:
            raise RequirementViolation("CALLS-CALL-DOCUMENTED-FIELDS", "CF110",
                                       f"call {sid} ({seen.call_status}) lacks {', '.join(missing)}", seen.exchange)


@pytest.mark.requirements("CALLS-CALL-CALLER-NAME")
def test_call_carries_caller_name(run, seen_calls) -> None:
    last = {sid: observations[-1] for sid, observations in seen_calls.items()}
    _judging_calls("CALLS-CALL-CALLER-NAME", run, last, "call")
    for sid, seen in last.items():
        if "caller_name" not in seen.call:
            raise RequirementViolation("CALLS-CALL-CALLER-NAME", "CF110",
                                       f"call {sid} ({seen.call_status}) lacks caller_name, a documented property "
                                       f"(an empty string when there is no name)", seen.exchange)
        if not isinstance(seen.call["caller_name"], str):
            raise RequirementViolation("CALLS-CALL-SCHEMA", "CF104", f"call {sid}: caller_name is "
                                       f"{seen.call['caller_name']!r}, not a string", seen.exchange)


# --- delete ---------------------------------------------------------------------------------


def _existed_before(deletion: Deletion) -> None:
    if not 200 <= deletion.before.status < 300:
        pytest.skip(f"call {deletion.sid} already answered {deletion.before.status} right before the delete "
                    f"(expired, or never visible: see CALLS-GET-200 and CALLS-WINDOW-VISIBLE)")


def _delete_succeeded(deletion: Deletion, which: str = "the delete") -> None:
    if not 200 <= deletion.delete.status < 300:
        pytest.skip(f"{which} answered {deletion.delete.status}: see CALLS-DELETE-204")


@pytest.mark.creates_calls
@pytest.mark.requirements("CALLS-DELETE-204", "CALLS-DELETE-EMPTY-BODY")
def test_delete_of_an_ended_call_answers_204_with_no_body(deletion: Deletion) -> None:
    _existed_before(deletion)
    expect_status(deletion.delete, 204, "CALLS-DELETE-204", f"delete of call {deletion.sid}")
    with judged():  # a body on the 204 costs CALLS-DELETE-EMPTY-BODY only: the 204 itself was right
        expect_empty_body(deletion.delete, "CALLS-DELETE-EMPTY-BODY", "204 answer to a delete")


@pytest.mark.creates_calls
@pytest.mark.requirements("CALLS-DELETE-REMOVES")
def test_deleted_call_is_gone_from_get_and_list(deletion: Deletion) -> None:
    _existed_before(deletion)
    _delete_succeeded(deletion)
    when = "an ended call" if deletion.ended_before_delete else "a live call, checked right after the delete"
    if deletion.get_after.status != 404:
        expect_no_server_error(deletion.get_after)
        raise violation("CALLS-DELETE-REMOVES", "CF109",
                        f"get of deleted call {deletion.sid} ({when}) answered {deletion.get_after.status}, expected 404",
                        deletion.get_after)
    listed = expect_call_list(deletion.list_after, "list after a delete")
    if deletion.sid in sids_of(listed):
        raise violation("CALLS-DELETE-REMOVES", "CF109", f"deleted call {deletion.sid} ({when}) is still listed",
                        deletion.list_after)


@pytest.mark.creates_calls
@pytest.mark.requirements("CALLS-DELETE-ONLY-TARGET")
def test_delete_removes_only_that_call(deletion: Deletion) -> None:
    _delete_succeeded(deletion)
    # The delete ran in the background: a call another request of the run deleted meanwhile is no evidence.
    vanished = [(sid, response) for sid, response in deletion.vanished if sid not in DELETED]
    if vanished:
        gone, response = vanished[0]
        raise violation("CALLS-DELETE-ONLY-TARGET", "CF112",
                        f"deleting call {deletion.sid} removed {len(vanished)} other call(s) certain to be "
                        f"visible: {', '.join(v[0] for v in vanished)} (now gone from list and get)", response)
    if deletion.other_sid is None:
        pytest.skip(f"no other call of the account to watch: {deletion.other_why}")
    response = deletion.other_get_after
    assert response is not None
    # Only a 404 says it was removed: a call its get still finds but a list leaves out breaks
    # CALLS-LIST-COMPLETE, which the oracle judges on every list, this one included.
    if response.status == 404:
        if deletion.other_sid in DELETED:
            pytest.skip(f"the other call ({deletion.other_why}) was deleted by another request of the run meanwhile")
        if deletion.other_until is None or deletion.checked_at > deletion.other_until:
            pytest.skip(f"the other call ({deletion.other_why}) is gone, but it had ended at an unknown time and "
                        f"may have expired meanwhile")
        raise violation("CALLS-DELETE-ONLY-TARGET", "CF112",
                        f"deleting call {deletion.sid} removed call {deletion.other_sid} too "
                        f"({deletion.other_why}): its get answers {response.status}", response)
    if not 200 <= response.status < 300:
        expect_no_server_error(response)
        pytest.skip(f"the other call's get answered {response.status} after the delete: cannot tell")


@pytest.mark.creates_calls
@pytest.mark.requirements("CALLS-DELETE-UNKNOWN-404")
def test_delete_of_a_deleted_call_answers_404(deletion: Deletion) -> None:
    _existed_before(deletion)
    _delete_succeeded(deletion, "the first delete")
    expect_status(deletion.delete_again, 404, "CALLS-DELETE-UNKNOWN-404", f"second delete of call {deletion.sid}")
