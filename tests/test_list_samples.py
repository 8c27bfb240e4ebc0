"""The lists the run takes when it holds the most calls of its own (runner/list_samples.py)."""

from __future__ import annotations

import time
from types import SimpleNamespace

from conformance.runner.budget import CreatedCall
from conformance.runner.list_samples import ListSampler


class Answer:
    def __init__(self, status, body=None):
        self.status, self.body = status, body

    def success_json(self):
        return self.body if 200 <= self.status < 300 else None


class Api:
    """A target whose list shows only `shown`; every get answers."""

    def __init__(self, shown):
        self.shown, self.sent = shown, []
        self.session = SimpleNamespace(guard=SimpleNamespace(stopped=None))

    def list_calls(self):
        self.sent.append("list")
        return Answer(200, [{"call_sid": sid} for sid in self.shown])

    def get_call(self, sid):
        self.sent.append(f"get {sid}")
        return Answer(200, {"call_sid": sid})


def run_holding(sids, api, window=600.0):
    created = [CreatedCall(sid, {}, time.time()) for sid in sids]
    return SimpleNamespace(api=api, config=SimpleNamespace(window=window), budget=SimpleNamespace(created=created))


def test_no_list_is_taken_while_the_run_holds_fewer_than_three_calls() -> None:
    api = Api(["a", "b"])
    ListSampler().after_test(run_holding(["a", "b"], api))
    assert api.sent == []


def test_a_list_naming_every_call_held_costs_one_request_and_is_not_taken_again_at_the_same_count() -> None:
    api = Api(["a", "b", "c"])
    sampler, run = ListSampler(), run_holding(["a", "b", "c"], api)
    sampler.after_test(run)
    sampler.after_test(run)
    assert api.sent == ["list"]


def test_a_call_the_list_lacks_is_got_listed_again_and_got_again() -> None:
    api = Api(["a", "b"])
    ListSampler().after_test(run_holding(["a", "b", "c"], api))
    assert api.sent == ["list", "get c", "list", "get c"]


def test_calls_created_more_than_a_window_ago_are_not_counted() -> None:
    api = Api([])
    run = run_holding(["a", "b", "c"], api, window=600.0)
    run.budget.created[0].created_at -= 601
    ListSampler().after_test(run)
    assert api.sent == []


def test_no_more_than_two_lists_are_taken_however_many_calls_the_run_comes_to_hold() -> None:
    api = Api([f"s{n}" for n in range(10)])
    sampler = ListSampler()
    for held in range(3, 11):
        sampler.after_test(run_holding([f"s{n}" for n in range(held)], api))
    assert api.sent == ["list", "list"]
