"""Requests as HTTP clients commonly make them: with harmless additions the document does not mention.

Browsers, HTTP libraries and API gateways add things to a request: a cache-busting or paging query
parameter (`?_=<timestamp>`, `?page=1`), an `Accept` list (`application/json, text/plain, */*`),
`Accept-Encoding: gzip`. None changes what is asked for (D-38):

- an undefined query parameter may be ignored or refused with a 4xx (D-26), never answered with a 5xx;
  a 2xx answer is the documented one (a list of calls, the call asked for);
- an `Accept` list that includes application/json, and `Accept-Encoding`, get the answer the request
  gets without them (RFC 9110 sections 12.5.1 and 12.5.3).

Nothing here creates a call: the list, and a call it shows, are enough.
"""

from __future__ import annotations

import time

import pytest

from conformance.judgement.checks import (
    expect_call_list,
    expect_json,
    expect_no_server_error,
    judge_call_object,
    violation,
)

COMMON_HEADERS = {"Accept": "application/json, text/plain, */*", "Accept-Encoding": "gzip"}


def _queries() -> dict[str, str]:
    return {"page": "page=1", "cache-buster": f"_={int(time.time() * 1000)}", "several": "page=1&limit=50&_=1"}


QUERY_NAMES = list(_queries())


def _a_listed_call(api) -> str:
    listed = expect_call_list(api.list_calls(), "list of the account's calls")
    if not listed:
        pytest.skip("the account lists no call to get")
    return listed[0]["call_sid"]


@pytest.mark.requirements("CALLS-NO-SERVER-ERROR", "CALLS-LIST-200")
@pytest.mark.parametrize("query", QUERY_NAMES)
def test_list_with_an_undefined_query_parameter_is_no_server_error(query, api) -> None:
    text = _queries()[query]
    response = api.request("GET", f"{api.calls_path()}?{text}")
    what = f"list with the undefined query ?{text}"
    expect_no_server_error(response, what)
    if 400 <= response.status < 500:
        print(f"{what}: refused with {response.status} (allowed, D-26)")
        return
    expect_call_list(response, what)


@pytest.mark.requirements("CALLS-NO-SERVER-ERROR", "CALLS-GET-200", "CALLS-GET-MATCHES-SID")
@pytest.mark.parametrize("query", QUERY_NAMES)
def test_get_with_an_undefined_query_parameter_is_no_server_error(query, api) -> None:
    sid = _a_listed_call(api)
    text = _queries()[query]
    response = api.request("GET", f"{api.call_path(sid)}?{text}")
    what = f"get of listed call {sid} with the undefined query ?{text}"
    expect_no_server_error(response, what)
    if not 200 <= response.status < 300:
        print(f"{what}: answered {response.status} (a refusal, or the call just expired)")
        return
    call = expect_json(response, "CALLS-GET-200", what)
    judge_call_object(call, response, what)
    if not isinstance(call, dict) or call.get("call_sid") != sid:
        raise violation("CALLS-GET-MATCHES-SID", "CF107", f"{what}: answered another call "
                        f"({call.get('call_sid') if isinstance(call, dict) else None!r})", response)


@pytest.mark.requirements("CALLS-COMMON-HEADERS", "CALLS-NO-SERVER-ERROR")
@pytest.mark.parametrize("operation", ["list", "get"])
def test_common_client_headers_get_the_same_answer(operation, api) -> None:
    sid = _a_listed_call(api) if operation == "get" else None
    path = api.call_path(sid) if sid else api.calls_path()
    plain = api.request("GET", path)
    added = api.request("GET", path, headers=COMMON_HEADERS)
    what = f"{operation} with Accept: {COMMON_HEADERS['Accept']} and Accept-Encoding: gzip"
    expect_no_server_error(added, what)
    if not 200 <= plain.status < 300:
        pytest.skip(f"the same {operation} without those headers answered {plain.status}: nothing to compare")
    if added.status != plain.status:
        raise violation("CALLS-COMMON-HEADERS", "CF101",
                        f"{what}: answered {added.status}, without them {plain.status}", added)
    body = plain.success_json()
    got = expect_json(added, "CALLS-COMMON-HEADERS", what)
    if type(got) is not type(body):
        raise violation("CALLS-COMMON-HEADERS", "CF104", f"{what}: a JSON {type(got).__name__}, without them a "
                        f"JSON {type(body).__name__}", added)
