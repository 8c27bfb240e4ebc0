"""Account isolation: an account's token gives access to its own calls and to nothing else.

Needs a second account (`--other-account-sid`, `--other-token`). Every check runs both ways: the
other account's token on this account's paths, and this account's token on the other's, since each
is "another account's token" for the account whose path it is. A request carries three identifiers
that belong to an account: the path's account sid, the path's call sid and (on create) the body's
application sid. All three are checked here; the applications are the configured ones
(`--application-sid`, `--other-application-sid`), never invented, and the second account's calls are
created with its own application and payload template.

After each refusal, the owner's token checks that nothing changed. A call that is gone afterwards is
a violation only when it was certain to be visible still (seen active, or created by this run, less
than a window ago); otherwise the check is inconclusive and skips.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from conformance.evidence.history import Record, accepted_deletes, created_sids
from conformance.evidence.lasting import find_lasting_call
from conformance.evidence.observed import DELETED, sids_of
from conformance.judgement.checks import (
    expect_call_list,
    expect_refused,
    expect_rejected,
    record,
    same_number,
    violation,
)
from conformance.deployment import config as configuration
from conformance.deployment.api import ApiClient

pytestmark = pytest.mark.isolation

DIRECTIONS = ("other-token-on-this-account", "this-token-on-other-account")


@dataclass
class Side:
    """One account: its client, and one of its calls certain (when `until` is known) to stay visible."""

    client: ApiClient
    sid: str | None
    until: float | None  # wall time until which the call is certain to be visible
    why: str


def _need(target) -> float:
    return min(10.0, target.window / 2)


def _lasting_call(client: ApiClient, calls, target, label: str) -> Side:
    """A call of `client`'s account to aim refused requests at: one its owner can get and certain to last."""
    found = find_lasting_call(client, calls, target.window, need=_need(target), label=label,
                              settle=target.settle)
    if found is None:
        return Side(client, None, None, f"the {label} account has no call and none could be created")
    return Side(client, found.sid, found.until, found.why)


@pytest.fixture(scope="module")
def sides(api, other_api, calls, target) -> dict[str, Side]:
    this = _lasting_call(api, calls, target, "tested")
    other = _lasting_call(other_api, calls, target, "other")
    return {"this": this, "other": other}  # calls created for it are deleted by the run's cleanup, in their account


def _roles(direction: str, sides: dict[str, Side]) -> tuple[Side, Side]:
    """(owner of the path, intruder whose token is used)."""
    if direction == DIRECTIONS[0]:
        return sides["this"], sides["other"]
    return sides["other"], sides["this"]


def _require_call(side: Side) -> tuple[str, float]:
    """The owner's call, checked to be there right now (earlier tests may have removed it), and when the
    check was sent (monotonic)."""
    if side.sid is None:
        pytest.skip(side.why)
    since = time.monotonic()
    response = side.client.get_call(side.sid)
    if not 200 <= response.status < 300:
        pytest.skip(f"call {side.sid} ({side.why}) answers {response.status} to its owner: nothing to protect")
    return side.sid, since


def _run_so_far(client: ApiClient) -> list[Record]:
    """Every exchange of the run until now, those other threads still had in flight included."""
    history = client.session.history
    return history.settled(time.monotonic()) if history is not None else []


def _still_there(owner: Side, since: float, requirement: str, what: str) -> None:
    """The owner's call, seen there at `since`, is still gettable after a refused request; a disappearance
    is judged honestly."""
    assert owner.sid is not None
    response = owner.client.get_call(owner.sid)
    if 200 <= response.status < 300:
        return
    if response.status not in (404, 410):
        pytest.skip(f"after {what}, the owner's get of call {owner.sid} answers {response.status}: cannot tell")
    if owner.until is None or time.time() > owner.until:
        pytest.skip(f"call {owner.sid} ({owner.why}) is gone after {what}, but it may simply have expired")
    meanwhile = accepted_deletes(_run_so_far(owner.client), owner.client.account_sid, since, other_than=owner.sid)
    if meanwhile:
        # Other work of the run (a watch, the cleanup) deleted a call of the account while this check ran: a
        # server that removes more than the call deleted (CALLS-DELETE-ONLY-TARGET) may have removed this one.
        pytest.skip(f"call {owner.sid} is gone after {what}, but the target also accepted a delete of call "
                    f"{meanwhile[0].call_sid} of the same account meanwhile ({meanwhile[0].label()}): cannot tell "
                    f"which request removed it")
    raise violation(requirement, "CF112", f"after {what}, the owner's get of call {owner.sid} ({owner.why}) answers "
                    f"{response.status}: the refused request removed it", response)


# --- another account's token on the path -------------------------------------------------------


@pytest.mark.requirements("CALLS-ISOLATION-READ")
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_foreign_token_cannot_list(direction, sides) -> None:
    owner, intruder = _roles(direction, sides)
    response = intruder.client.request("GET", intruder.client.calls_path(owner.client.account_sid))
    expect_refused(response, "CALLS-ISOLATION-READ", f"list of account {owner.client.account_sid} with another "
                   f"account's token")


@pytest.mark.requirements("CALLS-ISOLATION-READ")
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_foreign_token_cannot_get(direction, sides) -> None:
    owner, intruder = _roles(direction, sides)
    sid, _ = _require_call(owner)
    response = intruder.client.request("GET", intruder.client.call_path(sid, owner.client.account_sid))
    expect_refused(response, "CALLS-ISOLATION-READ", f"get of call {sid} of account {owner.client.account_sid} with "
                   f"another account's token")


@pytest.mark.requirements("CALLS-ISOLATION-DELETE")
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_foreign_token_cannot_delete(direction, sides) -> None:
    owner, intruder = _roles(direction, sides)
    sid, since = _require_call(owner)
    response = intruder.client.request("DELETE", intruder.client.call_path(sid, owner.client.account_sid))
    DELETED.record(sid, response.status)
    expect_refused(response, "CALLS-ISOLATION-DELETE", f"delete of call {sid} of account {owner.client.account_sid} "
                   f"with another account's token")
    _still_there(owner, since, "CALLS-ISOLATION-DELETE", "a delete with another account's token")


def _outbound_like_ours(listed: list[dict[str, Any]], before: set[str], target) -> list[dict[str, Any]]:
    numbers = [n for n in (target.from_number, target.to_number) if n]
    return [c for c in listed if c["call_sid"] not in before and c.get("direction") == "outbound"
            and (not numbers or any(same_number(n, c.get(k)) for n in numbers for k in ("from", "to")))]


@pytest.mark.creates_calls
@pytest.mark.requirements("CALLS-ISOLATION-CREATE")
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_foreign_token_cannot_create(direction, sides, calls, target) -> None:
    owner, intruder = _roles(direction, sides)
    reason = calls.skip_reason()
    if reason:
        pytest.skip(f"a create is only sent when a call could be afforded ({reason})")
    path = intruder.client.calls_path(owner.client.account_sid)
    lists = {side.client.account_sid: side for side in (owner, intruder)}
    # Calls listed before, and calls the run made itself (a list may show them late: reads may lag, D-35).
    made = {c.sid for c in calls.created}
    before = {acc: sids_of(expect_call_list(side.client.list_calls(), "list before a foreign create")) | made
              for acc, side in lists.items()}
    body = calls.payload()
    response = intruder.client.request("POST", path, json=body)
    what = f"create in account {owner.client.account_sid} with another account's token"
    if 200 <= response.status < 300:
        calls.count("accepted-refusal")  # refused requests count against the budget only when a broken server accepts them
        sid = response.created_sid()
        calls.remember(sid, body, owner.client.account_sid)
        what += f" (accepted as call {sid})"
    expect_rejected(response, "CALLS-ISOLATION-CREATE", what)
    for account, side in lists.items():
        listing = side.client.list_calls()
        appeared = _outbound_like_ours(expect_call_list(listing, "list after a foreign create"), before[account], target)
        if appeared:  # calls the run's other work (a watch) made meanwhile are not the refused create's
            ours = created_sids(_run_so_far(side.client))
            appeared = [c for c in appeared if c["call_sid"] not in ours]
        if appeared:
            for call in appeared:
                calls.remember(call["call_sid"], {"refused-create": direction}, account)
            raise violation("CALLS-ISOLATION-CREATE", "CF112",
                            f"{what} was refused with {response.status}, yet account {account} now lists new call(s) "
                            f"{', '.join(c['call_sid'] for c in appeared)}", listing)


# --- a call of another account under one's own path -----------------------------------------------


@pytest.mark.requirements("CALLS-ISOLATION-FOREIGN-CALL")
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_foreign_call_sid_under_own_path_is_not_found(direction, sides) -> None:
    owner, intruder = _roles(direction, sides)
    sid, since = _require_call(owner)
    response = intruder.client.get_call(sid)
    expect_refused(response, "CALLS-ISOLATION-FOREIGN-CALL",
                   f"get of another account's call {sid} under account {intruder.client.account_sid}", allowed={403, 404})
    response = intruder.client.delete_call(sid)
    DELETED.record(sid, response.status)
    if not 200 <= response.status < 300:  # a 2xx may be how the server answers any unknown sid (D-20): judged below
        expect_refused(response, "CALLS-ISOLATION-FOREIGN-CALL",
                       f"delete of another account's call {sid} under account {intruder.client.account_sid}",
                       allowed={403, 404})
    _still_there(owner, since, "CALLS-ISOLATION-FOREIGN-CALL",
                 f"a delete of it under account {intruder.client.account_sid}")


# --- lists ---------------------------------------------------------------------------------------


@pytest.mark.requirements("CALLS-ISOLATION-LIST", "CALLS-LIST-ACCOUNT")
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_list_never_shows_the_other_account_calls(direction, sides) -> None:
    owner, intruder = _roles(direction, sides)
    # A call its owner can get right now: it is the owner's, and must not be in the intruder's own list.
    sid, _ = _require_call(owner)
    response = intruder.client.list_calls()
    listed = expect_call_list(response, f"list of account {intruder.client.account_sid}")
    if sid in sids_of(listed):
        record(violation("CALLS-ISOLATION-LIST", "CF108",
                         f"the list of account {intruder.client.account_sid} shows call {sid} of account "
                         f"{owner.client.account_sid}", response))
    strangers = [c for c in listed if c.get("account_sid") != intruder.client.account_sid]
    if strangers:
        record(violation("CALLS-LIST-ACCOUNT", "CF107",
                         f"the list of account {intruder.client.account_sid} shows call {strangers[0].get('call_sid')} "
                         f"of account {strangers[0].get('account_sid')!r}"
                         + (f" (and {len(strangers) - 1} more)" if len(strangers) > 1 else ""), response))


# --- another account's application in a create --------------------------------------------------


APPLICATION_DIRECTIONS = ("other-application-in-this-account", "this-application-in-other-account")


@pytest.mark.creates_calls
@pytest.mark.requirements("CALLS-ISOLATION-FOREIGN-APPLICATION")
@pytest.mark.parametrize("direction", APPLICATION_DIRECTIONS)
def test_create_naming_another_account_application_is_refused(direction, api, other_api, calls, target) -> None:
    in_other = direction == APPLICATION_DIRECTIONS[1]
    owner, stranger = (other_api, api) if in_other else (api, other_api)
    foreign = target.application_sid if in_other else target.other_application_sid
    if not foreign:
        option = "application-sid" if in_other else "other-application-sid"
        pytest.skip(f"no application of account {stranger.account_sid} is known: "
                    + configuration.ways_to_give(option))
    reason = calls.skip_reason()
    if reason:
        pytest.skip(f"a create is only sent when a call could be afforded ({reason})")
    made = {c.sid for c in calls.created}
    before = {client.account_sid: sids_of(expect_call_list(client.list_calls(), "list before the create")) | made
              for client in (owner, stranger)}
    body = calls.payload(other_account=in_other)
    body["application_sid"] = foreign
    response = owner.create_call(body)
    what = (f"create in account {owner.account_sid}, with its own token, naming application {foreign} of account "
            f"{stranger.account_sid}")
    if 200 <= response.status < 300:
        calls.count("accepted-refusal")
        sid = response.created_sid()
        what += f" (accepted as call {sid})"
        calls.remember(sid, body, owner.account_sid)
    expect_rejected(response, "CALLS-ISOLATION-FOREIGN-APPLICATION", what)
    for client in (owner, stranger):
        listing = client.list_calls()
        appeared = _outbound_like_ours(expect_call_list(listing, "list after the create"), before[client.account_sid],
                                       target)
        if appeared:
            for call in appeared:
                calls.remember(call["call_sid"], {"refused-create": direction}, client.account_sid)
            raise violation("CALLS-ISOLATION-FOREIGN-APPLICATION", "CF112",
                            f"{what} was refused with {response.status}, yet account {client.account_sid} now lists "
                            f"new call(s) {', '.join(c['call_sid'] for c in appeared)}", listing)
