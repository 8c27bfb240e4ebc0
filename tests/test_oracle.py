"""The run's history, the model built from it, and the run-wide invariants judged on it."""

from __future__ import annotations

import json

from conformance.evidence import call_model as models
from conformance.judgement import oracle
from conformance.deployment.exchange import Exchange
from conformance.evidence.history import History, Record, operation_of

ACCOUNT = "8314ce10-d397-4c60-a623-2995d177816a"
OTHER = "2a59ac63-45c8-479d-b24c-621c7ac4ea10"
SID = "3f0d3d1a-9d5e-4b7e-8a59-6a2f1c0e7b11"
BASE = "http://target/v1"


def call(**changes):
    body = {"call_sid": SID, "account_sid": ACCOUNT, "direction": "outbound", "from": "+15005550006",
            "to": "+15005550001", "call_id": "abc@host", "call_status": "completed", "sip_status": 200, "duration": 3}
    body.update(changes)
    return body


class Runner:
    """Builds records by hand: each exchange sent at `at` and answered `took` seconds later."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def add(self, method, path, status, body=None, at=0.0, took=0.1) -> Record:
        url = BASE + path
        exchange = Exchange(method, url, {}, None, status=status, response_body=json.dumps(body))
        operation, account, sid = operation_of(method, url)
        record = Record(len(self.records) + 1, exchange, at, at + took, 0.0, operation, account, sid, ACCOUNT, body)
        self.records.append(record)
        return record

    def get(self, body, at, status=200, account=ACCOUNT, sid=SID):
        return self.add("GET", f"/Accounts/{account}/Calls/{sid}", status, body, at)

    def list(self, items, at, account=ACCOUNT):
        return self.add("GET", f"/Accounts/{account}/Calls", 200, items, at)

    def judge(self, requirement):
        return oracle.INVARIANTS[requirement](models.build(self.records))


def test_operations_are_told_from_method_and_path() -> None:
    assert operation_of("GET", f"{BASE}/Accounts/{ACCOUNT}/Calls?x=1") == ("listCalls", ACCOUNT, None)
    assert operation_of("DELETE", f"{BASE}/Accounts/{ACCOUNT}/Calls/{SID}") == ("deleteCall", ACCOUNT, SID)
    assert operation_of("PUT", f"{BASE}/Accounts/{ACCOUNT}/Calls/{SID}")[0] is None
    assert operation_of("GET", f"{BASE}/health") == (None, None, None)


def test_history_is_bounded_and_counts_what_it_did_not_keep() -> None:
    history = History({"secret-token": ACCOUNT}, keep=3)
    for _ in range(5):
        exchange = Exchange("GET", f"{BASE}/Accounts/{ACCOUNT}/Calls", {}, None, status=200)
        history.add(exchange, "Bearer secret-token", 0.0, b"[]")
    assert len(history) == 3 and history.dropped == 2
    first = history.records()[0]
    assert first.token_account == ACCOUNT and first.body == [] and first.index == 1


def test_history_keeps_failed_exchanges_without_a_body() -> None:
    history = History()
    history.add(Exchange("GET", f"{BASE}/Accounts/{ACCOUNT}/Calls", {}, None), None, 0.0, None)
    (record,) = history.records()
    assert record.status is None and record.body is None and not record.ok


def test_list_item_and_get_that_disagree_on_call_id_are_a_contradiction_naming_both() -> None:
    run = Runner()
    run.list([call()], at=0)
    run.get(call(call_id="other@host"), at=1)
    (found,) = run.judge("CALLS-SAME-EVERYWHERE")
    violation = found.violation()
    assert violation.code == "CF114" and [label for label, _ in violation.evidence] == ["exchange #1", "exchange #2"]
    assert "curl" not in violation.message  # the message stays short; the curl lines reproduce each exchange
    assert violation.reproduce().splitlines()[0].startswith("exchange #1: curl")
    assert violation.reproduce().splitlines()[1].startswith("exchange #2: curl")


def test_a_value_its_own_answer_shows_wrong_is_left_to_its_own_requirement() -> None:
    run = Runner()
    run.list([call(account_sid=OTHER, direction="outgoing")], at=0)
    run.get(call(), at=1)
    assert run.judge("CALLS-SAME-EVERYWHERE") == []


def test_optional_fields_are_compared_only_when_both_answers_carry_them() -> None:
    run = Runner()
    run.list([call()], at=0)
    run.get(call(application_sid="app-1"), at=1)
    assert run.judge("CALLS-SAME-EVERYWHERE") == []


def test_an_ended_call_whose_duration_changes_later_is_a_contradiction() -> None:
    run = Runner()
    run.get(call(), at=0)
    run.list([call(duration=9)], at=5)
    (found,) = run.judge("CALLS-ENDED-STAYS-FINAL")
    assert found.code == "CF115" and "duration 3 -> 9" in found.message


def test_an_answer_overlapping_the_first_ended_one_is_not_held_later() -> None:
    run = Runner()
    run.get(call(), at=0.0)  # answered at 0.1
    run.list([call(duration=4)], at=0.05)  # sent before that answer came: its order is not known
    assert run.judge("CALLS-ENDED-STAYS-FINAL") == []


def test_an_ended_call_turning_active_is_left_to_the_lifecycle_requirement() -> None:
    run = Runner()
    run.get(call(), at=0)
    run.get(call(call_status="in-progress", duration=None), at=2)
    assert run.judge("CALLS-ENDED-STAYS-FINAL") == []


def test_a_create_answering_a_sid_seen_before_is_a_contradiction() -> None:
    run = Runner()
    run.list([call()], at=0)
    run.add("POST", f"/Accounts/{ACCOUNT}/Calls", 201, {"sid": SID}, at=1)
    (found,) = run.judge("CALLS-CREATE-NEW-SID")
    assert found.code == "CF116"
    assert run.judge("CALLS-SAME-EVERYWHERE") == [] and run.judge("CALLS-DELETED-STAYS-GONE") == []


def test_a_call_listed_while_it_was_being_created_is_no_contradiction() -> None:
    run = Runner()
    run.add("POST", f"/Accounts/{ACCOUNT}/Calls", 201, {"sid": SID}, at=0.0, took=0.5)
    run.list([call(call_status="trying")], at=0.1)
    assert run.judge("CALLS-CREATE-NEW-SID") == []


def test_a_deleted_ended_call_seen_gone_and_then_back_is_a_contradiction() -> None:
    run = Runner()
    run.get(call(), at=0)
    run.add("DELETE", f"/Accounts/{ACCOUNT}/Calls/{SID}", 204, None, at=1)
    run.get({"msg": "call not found"}, at=2, status=404)
    run.get(call(), at=5)
    (found,) = run.judge("CALLS-DELETED-STAYS-GONE")
    assert found.code == "CF117" and len(found.records) == 4


def test_a_call_absent_from_another_account_is_not_gone_from_its_own() -> None:
    """A delete another account's path accepted for this call, then that account's list without it: the call
    never left its own account, so its own list showing it is no return (the delete is another check's)."""
    run = Runner()
    run.list([call()], at=0)
    run.add("DELETE", f"/Accounts/{OTHER}/Calls/{SID}", 204, None, at=1)
    run.list([], at=2, account=OTHER)
    run.list([call()], at=3)
    assert run.judge("CALLS-DELETED-STAYS-GONE") == []
    run.list([call(account_sid=OTHER)], at=4, account=OTHER)  # but back where it was seen gone: a return
    (found,) = run.judge("CALLS-DELETED-STAYS-GONE")
    assert found.code == "CF117"


def test_a_sid_named_again_by_a_later_create_is_found_with_that_create() -> None:
    run = Runner()
    run.get(call(), at=0)
    assert oracle.named_again(run.records, SID) is None
    create = run.add("POST", f"/Accounts/{ACCOUNT}/Calls", 201, {"sid": SID}, at=2)
    assert oracle.named_again(run.records, SID) is create


def test_a_call_deleted_while_live_may_be_written_again() -> None:
    run = Runner()
    run.get(call(call_status="in-progress", duration=None), at=0)
    run.add("DELETE", f"/Accounts/{ACCOUNT}/Calls/{SID}", 204, None, at=1)
    run.get({"msg": "call not found"}, at=2, status=404)
    run.get(call(), at=5)
    assert run.judge("CALLS-DELETED-STAYS-GONE") == []


def test_a_deleted_call_still_there_at_once_is_left_to_the_delete_requirement() -> None:
    run = Runner()
    run.get(call(), at=0)
    run.add("DELETE", f"/Accounts/{ACCOUNT}/Calls/{SID}", 204, None, at=1)
    run.list([call()], at=2)
    assert run.judge("CALLS-DELETED-STAYS-GONE") == []


def test_history_stops_decoding_bodies_when_its_budget_is_spent(monkeypatch) -> None:
    import conformance.evidence.history as history_module

    monkeypatch.setattr(history_module, "MAX_DECODED_BYTES", 10)
    history = History()
    exchange = Exchange("GET", f"{BASE}/Accounts/{ACCOUNT}/Calls", {}, None, status=200)
    history.add(exchange, None, 0.0, b"[1, 2]")
    history.add(exchange, None, 0.0, b"[3, 4, 5]")
    first, second = history.records()
    assert first.body == [1, 2] and second.body is None and history.undecoded == 1


def test_a_session_records_a_failed_exchange_with_no_status() -> None:
    import pytest
    import requests

    from conformance.deployment.exchange import ExchangeLog
    from conformance.deployment.failures import TargetUnavailable
    from conformance.deployment.pacing import Pacer
    from conformance.deployment.transport import TargetSession

    history = History()
    session = TargetSession(timeout=2, verify=True, pacer=Pacer(), log=ExchangeLog(), token_envs={},
                            history=history)
    with pytest.raises(TargetUnavailable):
        session.send(requests.Request("GET", f"http://127.0.0.1:9/v1/Accounts/{ACCOUNT}/Calls").prepare())
    (record,) = history.records()
    assert record.status is None and record.operation == "listCalls" and record.account_sid == ACCOUNT


def _list_exchange(status=200) -> Exchange:
    return Exchange("GET", f"{BASE}/Accounts/{ACCOUNT}/Calls", {}, None, status=status)


def test_settled_waits_for_an_exchange_sent_before_and_still_in_flight() -> None:
    import threading
    import time

    history = History()
    ticket = history.sending()
    before = time.monotonic()
    late = threading.Timer(0.2, history.add, (_list_exchange(), None, 0.0, b"[]", ticket))
    late.start()
    records = history.settled(before, timeout=30)
    late.join()
    assert [r.operation for r in records] == ["listCalls"]


def test_settled_does_not_wait_for_exchanges_sent_after_or_abandoned() -> None:
    import threading
    import time

    history = History()
    abandoned = history.sending()  # never completes: an interrupt abandoned it
    before = time.monotonic()
    history.sending()  # sent after `before`, still in flight: not waited for
    assert history.settled(before, timeout=0.1) == []  # gives up on the abandoned one
    history.add(_list_exchange(), None, 0.0, b"[]", abandoned)
    waiter = threading.Thread(target=history.settled, args=(before, 600), daemon=True)
    waiter.start()
    waiter.join(timeout=10)
    assert not waiter.is_alive(), "settled waited for an exchange sent after the moment it was asked about"


def test_accepted_deletes_are_those_of_other_calls_of_the_account_completed_after_the_moment() -> None:
    from conformance.evidence.history import accepted_deletes

    runner = Runner()
    other_sid = "9a8b7c6d-0000-4000-8000-000000000001"
    early = runner.add("DELETE", f"/Accounts/{ACCOUNT}/Calls/{other_sid}", 204, at=0.0)
    meanwhile = runner.add("DELETE", f"/Accounts/{ACCOUNT}/Calls/{other_sid}", 204, at=1.0)
    runner.add("DELETE", f"/Accounts/{ACCOUNT}/Calls/{other_sid}", 404, at=1.0)  # refused: removed nothing
    runner.add("DELETE", f"/Accounts/{OTHER}/Calls/{other_sid}", 204, at=1.0)  # another account
    runner.add("DELETE", f"/Accounts/{ACCOUNT}/Calls/{SID}", 204, at=1.0)  # the call itself
    found = accepted_deletes(runner.records, ACCOUNT, since=0.5, other_than=SID)
    assert found == [meanwhile] and early not in found


def test_created_sids_are_those_accepted_creates_answered_with() -> None:
    from conformance.evidence.history import created_sids

    runner = Runner()
    runner.add("POST", f"/Accounts/{ACCOUNT}/Calls", 201, {"sid": SID})
    runner.add("POST", f"/Accounts/{ACCOUNT}/Calls", 400, {"sid": "refused"})
    runner.add("POST", f"/Accounts/{ACCOUNT}/Calls", 201, {"sid": 7})
    assert created_sids(runner.records) == {SID}


def test_a_duration_longer_than_the_time_since_the_create_is_a_contradiction() -> None:
    run = Runner()
    run.add("POST", f"/Accounts/{ACCOUNT}/Calls", 201, {"sid": SID}, at=0.0)
    run.get(call(call_status="in-progress", duration=None), at=1.0)
    run.get(call(duration=9), at=5.0)  # received 5.1 s after the create was sent: 9 > 5.1 + 2
    (found,) = run.judge("CALLS-CALL-DURATION-WITHIN-LIFE")
    assert found.code == "CF122" and [r.index for r in found.records] == [1, 3]


def test_a_duration_within_rounding_of_the_time_since_the_create_is_no_contradiction() -> None:
    run = Runner()
    run.add("POST", f"/Accounts/{ACCOUNT}/Calls", 201, {"sid": SID}, at=0.0)
    run.get(call(duration=7), at=5.0)  # 7 <= 5.1 + 2
    run.get(call(duration=30), at=40.0)  # a later change is CALLS-ENDED-STAYS-FINAL's, not this invariant's
    assert run.judge("CALLS-CALL-DURATION-WITHIN-LIFE") == []


def test_a_duration_of_a_call_the_run_did_not_create_is_not_judged() -> None:
    run = Runner()
    run.get(call(duration=3600), at=5.0)
    assert run.judge("CALLS-CALL-DURATION-WITHIN-LIFE") == []


def lists_complete(run, window=10.0, settle=2.0):
    return oracle.lists_complete(models.build(run.records), window, settle)


def test_a_list_lacking_a_settled_call_of_the_run_shown_again_after_it_is_a_contradiction() -> None:
    run = Runner()
    run.add("POST", f"/Accounts/{ACCOUNT}/Calls", 201, {"sid": SID}, at=0.0)
    run.list([], at=3.0)
    run.get(call(call_status="in-progress"), at=4.0)
    (found,) = lists_complete(run)
    assert found.requirement == "CALLS-LIST-COMPLETE" and found.code == "CF110"
    assert [r.index for r in found.records] == [1, 2, 3]


def test_a_call_read_by_a_get_before_the_list_needs_no_settle_time() -> None:
    run = Runner()
    run.add("POST", f"/Accounts/{ACCOUNT}/Calls", 201, {"sid": SID}, at=0.0)
    run.get(call(call_status="trying"), at=0.2)
    run.list([], at=0.4)
    run.get(call(call_status="trying"), at=0.6)
    assert len(lists_complete(run)) == 1


def test_a_list_is_not_blamed_for_a_call_it_cannot_be_sure_of() -> None:
    unsettled, deleted, too_old, not_seen_again, with_query = (Runner() for _ in range(5))
    for run in (unsettled, deleted, too_old, not_seen_again, with_query):
        run.add("POST", f"/Accounts/{ACCOUNT}/Calls", 201, {"sid": SID}, at=0.0)
    unsettled.list([], at=0.5)  # within the settle time, never read by a get: the list may lag
    unsettled.get(call(), at=1.0)
    deleted.add("DELETE", f"/Accounts/{ACCOUNT}/Calls/{SID}", 403, None, at=2.5)
    deleted.list([], at=3.0)
    deleted.get(call(), at=4.0)
    too_old.list([], at=11.0)  # its create was sent more than a window before: it may have expired
    too_old.get(call(), at=12.0)
    not_seen_again.list([], at=3.0)  # gone from get too: another requirement's to judge
    with_query.add("GET", f"/Accounts/{ACCOUNT}/Calls?page=2", 200, [], at=3.0)
    with_query.get(call(), at=4.0)
    assert [lists_complete(run) for run in (unsettled, deleted, too_old, not_seen_again, with_query)] == [[]] * 5


def test_a_list_naming_the_call_is_no_contradiction() -> None:
    run = Runner()
    run.add("POST", f"/Accounts/{ACCOUNT}/Calls", 201, {"sid": SID}, at=0.0)
    run.list([call()], at=3.0)
    run.get(call(), at=4.0)
    assert lists_complete(run) == []
    assert len(list(oracle.certainly_listed(models.build(run.records), 10.0, 2.0))) == 1
