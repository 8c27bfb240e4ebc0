"""Authentication: every operation needs a valid Bearer token of the account.

No token, another scheme and an unknown token answer 401 (D-15); a malformed Bearer header (no token
after the scheme) answers 400 or 401 (D-16). Never data, never an action: the delete targets a random
call sid, and a create that a broken server accepts is remembered so that the run deletes it.
"""

from __future__ import annotations

import base64
import uuid

import pytest

from conformance.judgement.checks import expect_challenge, expect_refused, judged
from conformance.deployment.redaction import REDACT

OPERATIONS = ("list", "get", "create", "delete")

def _basic_with_token(token: str) -> str:
    """The account's real token, under the Basic scheme: still not a Bearer token."""
    credentials = base64.b64encode(f"api:{token}".encode()).decode()
    REDACT.add(credentials)  # it encodes the secret: never shown in a report
    return f"Basic {credentials}"


# Credentials that identify nobody, each a complete Authorization header value (None: no header).
REFUSED_WITH_401 = {
    "no-authorization-header": lambda token: None,
    "basic-scheme-with-the-token": _basic_with_token,
    "unknown-bearer-token": lambda token: f"Bearer {uuid.uuid4()}",
}
MALFORMED = {
    "bearer-with-empty-token": "Bearer ",
    "bearer-scheme-only": "Bearer",
}


@pytest.fixture(scope="module")
def existing_sid(api) -> str:
    """A call sid of the account to get without a valid token (any listed call; else a random sid)."""
    listed = api.list_calls().success_json()
    sids = [c["call_sid"] for c in listed if isinstance(c, dict) and isinstance(c.get("call_sid"), str)] \
        if isinstance(listed, list) else []
    return sids[0] if sids else str(uuid.uuid4())


def _send(operation: str, authorization, run, calls, existing_sid: str):
    """Send `operation` with the given Authorization value. A create that is accepted is remembered."""
    api = run.api
    if operation == "list":
        return api.request("GET", api.calls_path(), authorization=authorization)
    if operation == "get":
        return api.request("GET", api.call_path(existing_sid), authorization=authorization)
    if operation == "delete":
        return api.request("DELETE", api.call_path(str(uuid.uuid4())), authorization=authorization)
    reason = calls.skip_reason()
    if reason:
        pytest.skip(f"a create is only sent when a call could be afforded ({reason})")
    body = calls.payload()
    response = api.request("POST", api.calls_path(), json=body, authorization=authorization)
    if 200 <= response.status < 300:
        calls.count("accepted-refusal")  # the refused request was accepted: it counts against the budget after all
        calls.remember(response.created_sid(), body)
    return response


@pytest.mark.requirements("CALLS-AUTH-REQUIRED", "CALLS-AUTH-CHALLENGE")
@pytest.mark.parametrize("kind", list(REFUSED_WITH_401))
@pytest.mark.parametrize("operation", OPERATIONS)
def test_request_without_valid_credentials_answers_401(operation, kind, run, calls, existing_sid) -> None:
    authorization = REFUSED_WITH_401[kind](run.config.token)
    response = _send(operation, authorization, run, calls, existing_sid)
    what = f"{operation} with {kind.replace('-', ' ')}"
    with judged():
        expect_refused(response, "CALLS-AUTH-REQUIRED", what, allowed={401})
    expect_challenge(response, what)


@pytest.mark.requirements("CALLS-AUTH-MALFORMED", "CALLS-AUTH-CHALLENGE")
@pytest.mark.parametrize("kind", list(MALFORMED))
@pytest.mark.parametrize("operation", OPERATIONS)
def test_malformed_bearer_header_answers_400_or_401(operation, kind, run, calls, existing_sid) -> None:
    response = _send(operation, MALFORMED[kind], run, calls, existing_sid)
    what = f"{operation} with a {kind.replace('-', ' ')} header"
    with judged():
        expect_refused(response, "CALLS-AUTH-MALFORMED", what, allowed={400, 401})
    expect_challenge(response, what)
