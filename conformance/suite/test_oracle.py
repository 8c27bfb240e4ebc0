"""The run-wide oracle: every answer of the run judged against everything else the run saw.

These tests run after every other test (the runner sorts them last): they read the run's history, every
exchange of every test, of the Schemathesis tests and of the background watches, build the model of the
target's calls from it (conformance/evidence/call_model.py) and judge the invariants of
conformance/judgement/oracle.py on it. A violation names the exchanges that contradict each other, each
with its curl line.

Before judging, a few calls the run deleted after they had ended are read again (at most three gets and
one list): what must stay gone is then observed as late in the run as possible.
"""

from __future__ import annotations

import pytest

from conformance.evidence import call_model as models
from conformance.judgement import oracle
from conformance.judgement.checks import expect_framed

pytestmark = pytest.mark.oracle
REREADS = 3  # deleted ended calls read again before judging


@pytest.fixture(scope="module")
def judged(run) -> models.Model:
    before = models.build(run.history.records())
    rereads = [c for c in oracle.deleted_ended(before)
               if c.deletes[-1].account_sid == run.config.account_sid][:REREADS]
    if rereads and run.api.session.guard.stopped is None:
        for call in rereads:
            run.api.get_call(call.sid)
        run.api.list_calls()
    return models.build(run.history.records())


def _judge(model: models.Model, requirement: str, evidence: int, what: str) -> None:
    found = oracle.INVARIANTS[requirement](model)
    if found:
        raise found[0].violation(more=len(found) - 1, at_least=len(found) >= oracle.MAX_PER_INVARIANT)
    if not evidence:
        pytest.skip(f"not judged: the run saw no {what}")


@pytest.mark.requirements("CALLS-SAME-EVERYWHERE")
def test_a_call_shows_the_same_fixed_fields_in_every_answer(judged) -> None:
    evidence = sum(1 for c in judged.calls.values() if len(c.seen) > 1)
    _judge(judged, "CALLS-SAME-EVERYWHERE", evidence, "call in two answers")


@pytest.mark.requirements("CALLS-ENDED-STAYS-FINAL")
def test_an_ended_call_shows_the_same_end_in_every_later_answer(judged) -> None:
    evidence = sum(1 for c in judged.calls.values()
                   if (end := c.first_ended()) is not None and any(oracle.after(s.record, end.record) for s in c.seen))
    _judge(judged, "CALLS-ENDED-STAYS-FINAL", evidence, "ended call seen again after it had ended")


@pytest.mark.requirements("CALLS-CREATE-NEW-SID")
def test_every_create_names_a_call_never_seen_before(judged) -> None:
    evidence = sum(len(c.creates) for c in judged.calls.values())
    _judge(judged, "CALLS-CREATE-NEW-SID", evidence, "successful create")


@pytest.mark.requirements("CALLS-DELETED-STAYS-GONE")
def test_a_deleted_ended_call_does_not_come_back(judged) -> None:
    evidence = sum(1 for c in oracle.deleted_ended(judged)
                   if any(r.sent >= c.deletes[-1].received for r in c.absent))
    _judge(judged, "CALLS-DELETED-STAYS-GONE", evidence, "deleted ended call read again after its delete")


@pytest.mark.requirements("CALLS-HTTP-FRAMING")
def test_every_answer_of_the_run_ends_where_its_framing_says(run) -> None:
    records = [r for r in run.history.records() if r.status is not None]
    expect_framed([(r.label(), r.exchange) for r in records])
    if not records:
        pytest.skip("not judged: the run saw no answer")


@pytest.mark.requirements("CALLS-CALL-DURATION-WITHIN-LIFE")
def test_an_ended_call_lasted_no_longer_than_it_existed(judged) -> None:
    evidence = sum(1 for c in judged.calls.values() if c.creates and (end := c.first_ended()) is not None
                   and isinstance(end.fields.get("duration"), int))
    _judge(judged, "CALLS-CALL-DURATION-WITHIN-LIFE", evidence, "call it created with a duration")


@pytest.mark.requirements("CALLS-LIST-COMPLETE")
def test_every_list_names_every_call_certainly_visible(judged, run) -> None:
    found = oracle.lists_complete(judged, run.config.window, run.config.settle)
    if found:
        raise found[0].violation(more=len(found) - 1, at_least=len(found) >= oracle.MAX_PER_INVARIANT)
    if not any(oracle.certainly_listed(judged, run.config.window, run.config.settle)):
        pytest.skip("not judged: the run saw no list while a call it created was certainly visible")
