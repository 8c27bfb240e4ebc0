"""Near misses: requests that are almost those of a real call or a real account, and must not be taken for them.

- An identifier one character off a real call's sid (its last or first hex digit changed, cut short by one)
  names another call, or none: it never answers with the real call (D-45). The same sid in upper case is the
  same UUID (RFC 9562 section 4: UUIDs are case-insensitive on input): the real call or a 404 are both
  fine, another call never.
- A credential almost the account's token (one character changed, a character added, one cut off) is
  refused with a 4xx, never served (D-46); the scheme in other letter cases (`bearer`, `BEARER`) is the
  Bearer scheme (RFC 9110 section 11.1) and is accepted (D-47).
- The account sid of the path is an identifier too (D-50): one hex digit off, it names another account or
  none, and a list under it never shows the account's calls; in upper case it is the same UUID, whose list
  shows the account's own calls or is refused, never another account's (CALLS-SID-EXACT). With a space after
  it, or a character percent-encoded twice (`%2538...`, which one decoding makes `%38...`), it is no UUID at all: a
  malformed sid, refused with a 4xx (CALLS-SID-FORMAT, D-19). Encoded once (`%38...`), a path is the same URI
  as the plain one (RFC 3986 section 6.2.2.2; the client itself sends it decoded): not probed.
- A second create right after a first names a call of its own (CALLS-CREATE-NEW-SID, D-43).

Every probe is a get or a list (only the last sends creates, two, within the call budget); the near-miss
tokens are registered as secrets, so no report shows them.
"""

from __future__ import annotations

import pytest

import uuid

from conformance.judgement.checks import RequirementViolation, expect_rejected, violation
from conformance.deployment.redaction import REDACT


@pytest.fixture(scope="module")
def account_calls(api) -> list[str]:
    """The sids the account's own list shows: the calls to take near misses of, and what a list under a
    near-miss account sid must not show."""
    listed = api.list_calls().success_json()
    if not isinstance(listed, list):
        pytest.skip("the account's own list does not answer 2xx with an array: nothing to compare")
    return [c["call_sid"] for c in listed if isinstance(c, dict) and isinstance(c.get("call_sid"), str)]


@pytest.fixture(scope="module")
def real_sid(account_calls) -> str:
    """A call of the account the run can see (the first listed); the probes need one."""
    sids = [sid for sid in account_calls if len(sid) == 36]
    if not sids:
        pytest.skip("the account lists no call to take a near miss of")
    return sids[0]


def _other_hex(char: str) -> str:
    return "1" if char.lower() != "1" else "2"


NEAR_SIDS = {
    "last-digit-changed": lambda sid: sid[:-1] + _other_hex(sid[-1]),
    "first-digit-changed": lambda sid: _other_hex(sid[0]) + sid[1:],
    "cut-short-by-one": lambda sid: sid[:-1],
}


@pytest.mark.requirements("CALLS-SID-EXACT")
@pytest.mark.parametrize("kind", list(NEAR_SIDS))
def test_identifier_one_character_off_does_not_answer_for_the_call(kind, api, real_sid) -> None:
    near = NEAR_SIDS[kind](real_sid)
    response = api.get_call(near)
    body = response.success_json()
    if isinstance(body, dict) and str(body.get("call_sid", "")).lower() == real_sid.lower():
        raise violation("CALLS-SID-EXACT", "CF118", f"a get of {near} ({kind.replace('-', ' ')} of {real_sid}) "
                        f"answered {response.status} with the call {real_sid}", response)


@pytest.mark.requirements("CALLS-SID-EXACT")
def test_identifier_in_upper_case_answers_the_same_call_or_none(api, real_sid) -> None:
    response = api.get_call(real_sid.upper())
    body = response.success_json()
    if isinstance(body, dict) and "call_sid" in body and str(body["call_sid"]).lower() != real_sid.lower():
        raise violation("CALLS-SID-EXACT", "CF118", f"a get of {real_sid.upper()} (the upper-case form of "
                        f"{real_sid}) answered {response.status} with another call, {body.get('call_sid')!r}",
                        response)


@pytest.mark.requirements("CALLS-SID-EXACT")
def test_account_sid_one_digit_off_does_not_list_the_account_calls(api, account_calls) -> None:
    near = NEAR_SIDS["last-digit-changed"](api.account_sid)
    response = api.request("GET", api.calls_path(near))
    body = response.success_json()
    shown = [c for c in body if isinstance(c, dict) and (c.get("call_sid") in account_calls or str(
        c.get("account_sid", "")).lower() == api.account_sid.lower())] if isinstance(body, list) else []
    if shown:
        raise violation("CALLS-SID-EXACT", "CF118", f"a list under account sid {near} (the last digit of "
                        f"{api.account_sid} changed) answered {response.status} with {len(shown)} call(s) of account "
                        f"{api.account_sid}, e.g. {shown[0].get('call_sid')!r}", response)


@pytest.mark.requirements("CALLS-SID-EXACT")
def test_account_sid_in_upper_case_lists_the_account_calls_or_none(api) -> None:
    upper = api.account_sid.upper()
    if upper == api.account_sid:
        pytest.skip("the account sid has no letter to write in upper case")
    response = api.request("GET", api.calls_path(upper))
    body = response.success_json()
    strangers = [c for c in body if isinstance(c, dict) and "account_sid" in c
                 and str(c["account_sid"]).lower() != api.account_sid.lower()] if isinstance(body, list) else []
    if strangers:
        raise violation("CALLS-SID-EXACT", "CF118", f"a list under account sid {upper} (the upper-case form of "
                        f"{api.account_sid}) answered {response.status} with call {strangers[0].get('call_sid')!r} "
                        f"of account {strangers[0].get('account_sid')!r}", response)


MALFORMED_NEAR_ACCOUNT_SIDS = {
    "trailing-space": lambda sid: sid + " ",
    "percent-encoded-twice": lambda sid: f"%25{ord(sid[0]):X}{sid[1:]}",
}


@pytest.mark.requirements("CALLS-SID-FORMAT", "CALLS-NO-SERVER-ERROR")
@pytest.mark.parametrize("kind", list(MALFORMED_NEAR_ACCOUNT_SIDS))
def test_account_sid_written_otherwise_is_refused(kind, api) -> None:
    near = MALFORMED_NEAR_ACCOUNT_SIDS[kind](api.account_sid)
    response = api.request("GET", api.calls_path(near))
    expect_rejected(response, "CALLS-SID-FORMAT", f"list under the account sid {near!r} ({kind.replace('-', ' ')} "
                    f"of {api.account_sid}), not a UUID")


def _changed_last(token: str) -> str:
    return token[:-1] + ("x" if token[-1] != "x" else "y")


NEAR_TOKENS = {
    "last-character-changed": _changed_last,
    "character-added": lambda token: token + "x",
    "cut-short-by-one": lambda token: token[:-1],
}


@pytest.mark.requirements("CALLS-AUTH-NEAR-MISS")
@pytest.mark.parametrize("kind", list(NEAR_TOKENS))
def test_credential_almost_the_account_token_is_refused(kind, api, target) -> None:
    if not target.token or len(target.token) < 2:
        pytest.skip("the token is too short to take a near miss of")
    near = NEAR_TOKENS[kind](target.token)
    if near in target.secrets:
        pytest.skip("the near miss is another configured token")
    REDACT.add(near)  # almost the secret: shown nowhere either
    if api.request("GET", api.calls_path(), authorization=f"Bearer {uuid.uuid4()}").status < 400:
        pytest.skip("not judged: an unknown token is served too (CALLS-AUTH-REQUIRED's defect, not a near miss)")
    response = api.request("GET", api.calls_path(), authorization=f"Bearer {near}")
    if 400 <= response.status < 500:
        return
    code = "CF119" if 200 <= response.status < 300 else "CF101"
    raise violation("CALLS-AUTH-NEAR-MISS", code, f"a list with the account's token {kind.replace('-', ' ')} "
                    f"answered {response.status}, expected a refusal (4xx)", response)


@pytest.mark.requirements("CALLS-AUTH-SCHEME-CASE")
@pytest.mark.parametrize("scheme", ["bearer", "BEARER"])
def test_bearer_scheme_in_other_letter_cases_is_accepted(scheme, api, target) -> None:
    if not target.token:
        pytest.skip("no token configured")
    response = api.request("GET", api.calls_path(), authorization=f"{scheme} {target.token}")
    if 200 <= response.status < 300:
        return
    if not 200 <= api.list_calls().status < 300:
        pytest.skip("the list does not answer 2xx with the usual `Bearer` either: nothing to compare")
    raise violation("CALLS-AUTH-SCHEME-CASE", "CF120", f"a list with the scheme written `{scheme}` answered "
                    f"{response.status}, while `Bearer` is served: the scheme is case-insensitive", response)


@pytest.mark.requirements("CALLS-CREATE-NEW-SID")
@pytest.mark.creates_calls
def test_second_create_right_after_a_first_names_a_new_call(run, calls) -> None:
    reason = calls.skip_reason()
    if reason is None and calls.attempts + 2 > run.config.max_calls:
        reason = f"the run's call budget has no room for two more creates (--max-calls {run.config.max_calls})"
    if reason:
        pytest.skip(reason)
    first, second = calls.create(), calls.create()
    sids = first.created_sid(), second.created_sid()
    if None in sids:
        pytest.skip("a create did not answer 2xx with a sid: nothing to compare (the create tests judge it)")
    if sids[0] == sids[1]:
        raise RequirementViolation("CALLS-CREATE-NEW-SID", "CF116", f"two creates sent one after the other both "
                                   f"answered sid {sids[0]}", second.exchange,
                                   evidence=[("first create", first.exchange), ("second create", second.exchange)])
