"""The reference server enforces a request quota as a jambonz server does (express-rate-limit, `standardHeaders:
true`): one fixed window shared by every client, 429 with Retry-After past the limit, and the draft-6 RateLimit
fields on every answer. In-process on a FakeClock, so that windows pass without sleeping."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests

from conformance.contract.quota import Announced, Quota, read_announced
from conformance.reference import ACCOUNT_A, FakeClock, ReferenceSettings, start_reference
from conformance.reference.__main__ import build_parser, main, settings_from
from conformance.reference.app import READY_CHECK_PATH
from conformance.reference.quota import TOO_MANY_REQUESTS, FixedWindow
from conformance.reference.testing import ReferenceClient, random_sid
from tests.test_reference import serving_main

RATELIMIT_FIELDS = {"ratelimit-policy", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"}


def quota_client(quota: Quota, **settings: Any) -> ReferenceClient:
    return ReferenceClient(ReferenceSettings.fast(quota=quota, **settings))


def announced(response: Any) -> dict[str, str]:
    return {name: response.headers[name] for name in RATELIMIT_FIELDS if name in response.headers}


def assert_refused(response: Any, retry_after: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == str(retry_after)


# ------------------------------------------------------------------------------------------- counting
def test_every_answer_announces_the_quota_counting_down() -> None:
    c = quota_client(Quota(5, 60))
    answers = [
        c.list(),                               # 200
        c.get(random_sid()),                    # 404
        c.create(),                             # 201
        c.list(headers={}),                     # 401, no token
        c.request("GET", "/v1/elsewhere"),      # 404, no route
    ]
    assert [r.status_code for r in answers] == [200, 404, 201, 401, 404]
    for left, response in zip(range(4, -1, -1), answers):
        assert announced(response) == {"ratelimit-policy": "5;w=60", "ratelimit-limit": "5",
                                       "ratelimit-remaining": str(left), "ratelimit-reset": "60"}
        assert "retry-after" not in response.headers
    assert read_announced(answers[0].headers) == Announced(limit=5, remaining=4, reset=60.0, window=60.0)


def test_the_reset_counts_down_in_whole_seconds_rounded_up() -> None:
    c = quota_client(Quota(600, 300))
    assert announced(c.list())["ratelimit-reset"] == "300"
    c.advance(10.5)
    response = c.list()
    assert announced(response)["ratelimit-reset"] == "290"  # 289.5 s, rounded up
    assert announced(response)["ratelimit-policy"] == "600;w=300"
    assert announced(response)["ratelimit-remaining"] == "598"


def test_the_quota_is_shared_by_every_token_and_by_unauthenticated_requests() -> None:
    c = quota_client(Quota(3, 60))
    assert announced(c.list(c.a))["ratelimit-remaining"] == "2"
    assert announced(c.list(c.b))["ratelimit-remaining"] == "1"
    assert announced(c.list(headers={}))["ratelimit-remaining"] == "0"
    for account in (c.a, c.b):
        assert_refused(c.list(account), retry_after=60)


def test_past_the_limit_every_request_answers_429_until_the_window_resets() -> None:
    c = quota_client(Quota(2, 60))
    assert c.list().status_code == 200 and c.create().status_code == 201
    refused = c.list()
    assert_refused(refused, retry_after=60)
    assert refused.json() == {"msg": TOO_MANY_REQUESTS}
    assert announced(refused)["ratelimit-remaining"] == "0"
    c.advance(20.2)
    for response in (c.list(), c.create(), c.get(random_sid()), c.list(headers={})):
        assert_refused(response, retry_after=40)  # 39.8 s, rounded up
        assert announced(response)["ratelimit-remaining"] == "0"
    assert c.unexpected_errors == 0


def test_the_window_resets_after_its_length_and_counting_starts_again() -> None:
    c = quota_client(Quota(2, 60))
    c.list()
    c.list()
    c.advance(59.9)
    assert_refused(c.list(), retry_after=1)
    c.advance(0.1)
    response = c.list()
    assert response.status_code == 200
    assert announced(response)["ratelimit-remaining"] == "1" and announced(response)["ratelimit-reset"] == "60"


def test_a_window_begins_with_the_first_request_after_the_last_one_ended() -> None:
    c = quota_client(Quota(2, 60))
    c.list()
    c.advance(75)  # idle past the window: the next one starts at this request, not at 60 s
    assert announced(c.list())["ratelimit-reset"] == "60"
    c.advance(30)
    assert announced(c.list())["ratelimit-reset"] == "30"
    assert_refused(c.list(), retry_after=30)


def test_the_window_counts_exactly_under_concurrent_requests() -> None:
    clock = FakeClock()
    window = FixedWindow(Quota(500, 60), clock)
    allowed: list[bool] = []
    lock = threading.Lock()

    def work() -> None:
        taken = [window.take().allowed for _ in range(100)]
        with lock:
            allowed.extend(taken)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 500 and len(allowed) == 800


# ------------------------------------------------------------------------------------------ variants
def test_without_headers_the_quota_is_enforced_unannounced() -> None:
    c = quota_client(Quota(1, 60), quota_headers=False)
    allowed = c.list()
    assert allowed.status_code == 200
    assert not announced(allowed) and "retry-after" not in allowed.headers
    refused = c.list()
    assert_refused(refused, retry_after=60)
    assert not announced(refused)
    assert read_announced(refused.headers) is None


def test_without_a_quota_nothing_changes() -> None:
    c = ReferenceClient()
    for _ in range(30):
        response = c.list()
        assert response.status_code == 200
        assert not announced(response) and "retry-after" not in response.headers
    assert c.app.state.quota_window is None


def test_the_quota_works_with_a_fault() -> None:
    c = ReferenceClient(ReferenceSettings.fast(quota=Quota(2, 60), fault="list-empty-item"))
    faulty = c.list()
    assert faulty.status_code == 200 and {} in faulty.json()  # the fault still shows
    assert announced(faulty)["ratelimit-remaining"] == "1"
    crashed = ReferenceClient(ReferenceSettings.fast(quota=Quota(2, 60), fault="query-param-500"))
    answer = crashed.request("GET", crashed.path(crashed.a.sid) + "?page=1", headers=crashed.auth(crashed.a))
    assert answer.status_code == 500 and announced(answer)["ratelimit-remaining"] == "1"
    c.list()
    refused = c.list()
    assert_refused(refused, retry_after=60)
    assert refused.json() == {"msg": TOO_MANY_REQUESTS}


def test_the_quota_works_with_a_variant() -> None:
    c = ReferenceClient(ReferenceSettings.fast(quota=Quota(2, 60), variant="plain-text-errors"))
    not_found = c.get(random_sid())
    assert not_found.status_code == 404 and not_found.text == "Not Found"  # the variant still shows
    assert announced(not_found)["ratelimit-remaining"] == "1"
    c.list()
    refused = c.list()
    assert_refused(refused, retry_after=60)
    assert refused.headers["content-type"].startswith("text/plain")  # the variant's error format
    assert announced(refused)["ratelimit-remaining"] == "0"


# ----------------------------------------------------------------------------------------- the server
def test_the_ready_check_is_not_counted() -> None:
    c = quota_client(Quota(1, 60))
    for _ in range(3):
        check = c.request("GET", READY_CHECK_PATH)
        assert check.status_code == 404 and not announced(check) and "retry-after" not in check.headers
    assert announced(c.list())["ratelimit-remaining"] == "0"


def test_a_started_server_has_its_whole_quota_left() -> None:
    with start_reference(ReferenceSettings.fast(quota=Quota(1, 60))) as server:
        url = f"{server.base_url}/Accounts/{ACCOUNT_A.sid}/Calls"
        headers = {"Authorization": f"Bearer {ACCOUNT_A.token}"}
        first = requests.get(url, headers=headers, timeout=5)
        assert first.status_code == 200 and first.headers["ratelimit-remaining"] == "0"
        second = requests.get(url, headers=headers, timeout=5)
        assert second.status_code == 429 and 1 <= int(second.headers["retry-after"]) <= 60


def test_settings_refuse_a_quota_that_is_not_one() -> None:
    with pytest.raises(ValueError, match="quota must be a Quota"):
        ReferenceSettings(quota="600/5m")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="quota_headers"):
        ReferenceSettings(quota=Quota(600, 300), quota_headers="no")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- CLI
def test_the_command_line_takes_a_quota() -> None:
    settings = settings_from(build_parser().parse_args(["--quota", "600/5m"]))
    assert settings.quota == Quota(600, 300) and settings.quota_headers is True
    settings = settings_from(build_parser().parse_args(["--quota", "10/s", "--no-quota-headers"]))
    assert settings.quota == Quota(10, 1) and settings.quota_headers is False
    assert settings_from(build_parser().parse_args([])).quota is None


def test_the_command_line_refuses_a_bad_quota_in_one_line(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--quota", "lots"])
    assert exit_.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("python -m conformance.reference: error: argument --quota: not a rate limit: 'lots'")


def test_the_start_line_names_the_quota(capsys: Any) -> None:
    with serving_main(["--port", "0", "--timings", "fast", "--quota", "600/5m"], capsys) as line:
        assert line["quota"] == "600/5m" and line["quota_headers"] is True
        response = requests.get(f"{line['base_url']}/Accounts/{ACCOUNT_A.sid}/Calls",
                                headers={"Authorization": f"Bearer {ACCOUNT_A.token}"}, timeout=5)
        assert response.headers["ratelimit-policy"] == "600;w=300"
        assert response.headers["ratelimit-remaining"] == "599"
