"""The isolation checks blame a refused request for a call's disappearance only when nothing else can explain it."""

from __future__ import annotations

import time

import pytest

from conformance.judgement.checks import RequirementViolation
from conformance.deployment.api import ApiClient
from conformance.deployment.exchange import ExchangeLog
from conformance.deployment.pacing import Pacer
from conformance.deployment.transport import TargetSession
from conformance.evidence.history import History
from conformance.reference import ReferenceSettings, start_reference
from conformance.suite.test_isolation import Side, _require_call, _still_there


def _owner(server) -> tuple[Side, list[str]]:
    account = server.accounts[0]
    session = TargetSession(timeout=5, verify=True, pacer=Pacer(), log=ExchangeLog(), token_envs={},
                            history=History({account.token: account.sid}))
    client = ApiClient(server.base_url, account.sid, account.token, session)
    newest_first = sorted(server.app.state.store.calls(account.sid), key=lambda r: r.seq, reverse=True)
    # The newest call is the one aimed at: the fault below removes it when another call is deleted.
    side = Side(client, newest_first[0].call_sid, time.time() + 600, "a seeded call")
    return side, [r.call_sid for r in newest_first[1:]]


def test_a_call_removed_while_another_call_of_its_account_was_deleted_is_not_blamed_on_the_refused_request() -> None:
    with start_reference(ReferenceSettings.fast(window=600.0, fault="delete-removes-sibling")) as server:
        owner, others = _owner(server)
        sid, since = _require_call(owner)
        # Other work of the run deletes another call of the account while the check runs.
        assert owner.client.delete_call(others[0]).status == 204
        with pytest.raises(pytest.skip.Exception, match=f"accepted a delete of call {others[0]}"):
            _still_there(owner, since, "CALLS-ISOLATION-FOREIGN-CALL", "a refused delete")
        assert server.app.state.store.get(sid) is None  # it was removed: only the blame is withheld


def test_a_call_removed_with_no_other_delete_meanwhile_is_a_violation() -> None:
    with start_reference(ReferenceSettings.fast(window=600.0)) as server:
        owner, others = _owner(server)
        assert owner.client.delete_call(others[0]).status == 204  # before the check: not an explanation
        sid, since = _require_call(owner)
        server.app.state.store.remove(sid)  # what a server that obeyed the refused request would do
        with pytest.raises(RequirementViolation, match="the refused request removed it") as raised:
            _still_there(owner, since, "CALLS-ISOLATION-FOREIGN-CALL", "a refused delete")
        assert raised.value.code == "CF112"
