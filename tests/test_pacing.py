"""Pacing to a quota: the `600/5m` form, the RateLimit fields a target announces its quota with, the Pacer that
keeps a run within both, and a session against a reference server that enforces one (no 429 met)."""

from __future__ import annotations

import threading
import time

import pytest

from conformance.contract.quota import Quota, parse_quota, read_announced
from conformance.deployment.api import ApiClient
from conformance.deployment.config import ConfigError, resolve
from conformance.deployment.exchange import ExchangeLog
from conformance.deployment.pacing import OTHERS_SHARE, Pacer
from conformance.deployment.transport import TargetSession
from conformance.reference import ReferenceSettings, start_reference


@pytest.mark.parametrize("text, limit, window", [
    ("600/5m", 600, 300.0), ("10/s", 10, 1.0), ("100/30s", 100, 30.0), ("1000/1h", 1000, 3600.0),
    ("600/300s", 600, 300.0), (" 20 / 2m ", 20, 120.0), ("2.5", 1, 0.4), ("1", 1, 1.0),
])
def test_a_quota_is_read_in_the_forms_users_write(text, limit, window):
    assert parse_quota(text) == Quota(limit, window)


@pytest.mark.parametrize("text", ["lots", "600", "/5m", "600/5", "600/5d", "0/5m", "-1", "0", ""])
def test_a_quota_that_is_not_one_is_refused_saying_what_is_accepted(text):
    if text == "600":  # a plain number is requests per second
        assert parse_quota(text) == Quota(1, 1 / 600)
        return
    with pytest.raises(ValueError, match="600/5m"):
        parse_quota(text)


def test_a_quota_is_written_back_as_it_is_read_and_as_a_policy_field():
    assert (str(Quota(600, 300.0)), Quota(600, 300.0).policy()) == ("600/5m", "600;w=300")
    assert (str(Quota(10, 1.0)), str(Quota(100, 30.0)), str(Quota(5, 7200.0))) == ("10/s", "100/30s", "5/2h")


@pytest.mark.parametrize("headers, expected", [
    ({"RateLimit-Policy": "600;w=300", "RateLimit-Limit": "600", "RateLimit-Remaining": "599", "RateLimit-Reset": "300"},
     (600, 599, 300.0, 300.0)),  # draft 6: jambonz (express-rate-limit, standardHeaders: true)
    ({"RateLimit-Policy": "600;w=300", "RateLimit": "limit=600, remaining=12, reset=30"}, (600, 12, 30.0, 300.0)),
    ({"RateLimit-Policy": '"default";q=100;w=60', "RateLimit": '"default";r=50;t=30'}, (100, 50, 30.0, 60.0)),
    ({"ratelimit-limit": "50", "ratelimit-remaining": "0", "ratelimit-reset": "7"}, (50, 0, 7.0, None)),
    ({"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "12"}, (60, 3, 12.0, None)),
])
def test_the_quota_an_answer_announces_is_read_from_every_draft_of_the_fields(headers, expected):
    announced = read_announced(headers)
    assert (announced.limit, announced.remaining, announced.reset, announced.window) == expected


def test_an_answer_that_announces_nothing_usable_gives_no_quota():
    assert read_announced({"Content-Type": "application/json"}) is None
    assert read_announced({"RateLimit-Remaining": "many"}) is None
    unix_time = read_announced({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": str(int(time.time()) + 20)})
    assert 18 <= unix_time.reset <= 21  # a Unix time, as some servers send it: seconds from now


def test_a_given_quota_is_kept_in_every_window_of_its_length():
    pacer = Pacer(Quota(5, 0.5))
    started = time.monotonic()
    for _ in range(5):
        pacer.wait()
    assert time.monotonic() - started < 0.2  # a burst within the quota goes out at once
    pacer.wait()
    assert time.monotonic() - started >= 0.5  # the sixth waits for the first to leave the window
    assert pacer.summary()["source"] == "--rate-limit"


def test_an_announced_quota_is_never_spent_below_what_others_and_the_cleanup_need():
    said = []
    pacer = Pacer(on_wait=said.append)
    pacer.cleanup_reserve = 2
    floor = int(100 * OTHERS_SHARE) + 2
    pacer.answered({"RateLimit-Policy": "100;w=1", "RateLimit-Remaining": str(floor + 2), "RateLimit-Reset": "1"})
    started = time.monotonic()
    pacer.wait()
    pacer.wait()
    assert time.monotonic() - started < 0.2
    pacer.wait()  # the floor is reached: the window's reset is waited for
    assert time.monotonic() - started >= 0.9
    assert said and "waiting 1 s for its window to reset" in said[0] and "100/s as the target announces" in said[0]


def test_the_cleanup_may_spend_what_was_kept_for_it():
    pacer = Pacer()
    pacer.cleanup_reserve = 5
    pacer.answered({"RateLimit-Policy": "100;w=300", "RateLimit-Remaining": "3", "RateLimit-Reset": "300"})
    pacer.in_cleanup = True
    started = time.monotonic()
    for _ in range(3):
        pacer.wait()
    assert time.monotonic() - started < 0.2


def test_a_429_holds_every_request_until_the_quota_comes_back_and_a_paced_run_says_so_once():
    said = []
    pacer = Pacer(Quota(600, 300.0), on_wait=said.append)
    wait, why = pacer.refused({"Retry-After": "1"}, attempt=0)
    assert (wait, why) == (1.0, "Retry-After")
    holding = threading.Thread(target=pacer.hold, args=(wait,))
    started = time.monotonic()
    holding.start()
    time.sleep(0.05)
    pacer.wait()  # another thread's request waits too
    assert time.monotonic() - started >= 0.9
    holding.join()
    pacer.refused({"Retry-After": "0"}, attempt=0)
    assert len(said) == 1 and "429" in said[0] and "600/5m as --rate-limit gives" in said[0]
    assert pacer.summary() == {"quota": "600/5m", "source": "--rate-limit", "waited_seconds": pytest.approx(1, abs=0.2),
                               "answers_429": 2}


def test_a_429_without_retry_after_waits_for_the_announced_reset():
    pacer = Pacer()
    headers = {"RateLimit-Policy": "10;w=60", "RateLimit-Remaining": "0", "RateLimit-Reset": "42"}
    pacer.answered(headers)  # as the session does with every answer
    wait, why = pacer.refused(headers, attempt=0)
    assert why == "RateLimit-Reset" and 41 <= wait <= 42


def test_the_start_line_says_what_the_pace_costs():
    assert Pacer().outlook(300) is None  # no quota known: nothing to say
    assert Pacer(Quota(10, 1.0)).outlook(300) == \
        "pacing to 10/s as --rate-limit gives: about 300 requests, at least 29 s of waiting for the quota"
    pacer = Pacer()
    pacer.answered({"RateLimit-Policy": "600;w=300", "RateLimit-Remaining": "599", "RateLimit-Reset": "300"})
    assert pacer.outlook(290) == ("pacing to 600/5m as the target announces (599 left in this window; 60 kept for "
                                  "other clients and the cleanup): about 290 requests, no wait for the quota expected")
    assert "at least 300 s of waiting" in pacer.outlook(700)


@pytest.mark.parametrize("given, expected", [("600/5m", Quota(600, 300.0)), ("10/s", Quota(10, 1.0)),
                                             ("0", None), ("2", Quota(1, 0.5))])
def test_rate_limit_takes_a_quota_or_requests_per_second(given, expected):
    assert resolve({"rate_limit": given}).rate_limit == expected


def test_a_rate_limit_that_is_no_quota_is_one_line():
    with pytest.raises(ConfigError, match=r"^--rate-limit: not a rate limit: 'lots' \(write .*600/5m"):
        resolve({"rate_limit": "lots"})


def test_a_session_paced_by_the_announced_quota_meets_no_429_over_several_windows():
    with start_reference(ReferenceSettings.fast(quota=Quota(20, 1.0))) as server:
        account = server.accounts[0]
        pacer = Pacer()
        session = TargetSession(timeout=5, verify=True, pacer=pacer, log=ExchangeLog(), token_envs={})
        client = ApiClient(server.base_url, account.sid, account.token, session)
        statuses = [client.list_calls().status for _ in range(45)]
    assert statuses == [200] * 45
    assert pacer.summary()["answers_429"] == 0 and pacer.waited >= 1.0


def test_a_session_paced_by_a_given_quota_meets_no_429_where_nothing_is_announced():
    quota = Quota(20, 1.0)
    with start_reference(ReferenceSettings.fast(quota=quota, quota_headers=False)) as server:
        account = server.accounts[0]
        pacer = Pacer(quota)
        session = TargetSession(timeout=5, verify=True, pacer=pacer, log=ExchangeLog(), token_envs={})
        client = ApiClient(server.base_url, account.sid, account.token, session)
        statuses = [client.list_calls().status for _ in range(45)]
    assert statuses == [200] * 45
    assert pacer.summary()["answers_429"] == 0
