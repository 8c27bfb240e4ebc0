"""Cleanup at the end of a run: the calls it created and the calls that carry its run tag are deleted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from conformance.runner.safe_creates import INVALID_DIALS_EXTERNAL
from conformance.reference import ReferenceSettings, start_reference
from conformance.reference.testing import record_stored_calls

ROOT = Path(__file__).resolve().parent.parent


def test_calls_a_server_made_of_refused_creates_are_deleted_by_their_run_tag(tmp_path: Path) -> None:
    # This server refuses an invalid create with 400 but makes the call all the same: the run never learns
    # the sids, only its tag marks them.
    settings = ReferenceSettings.fast(window=600.0, fault="rejected-create-persists")  # nothing expires
    with start_reference(settings) as server:
        account = server.accounts[0]
        stored = record_stored_calls(server.app.state.store)
        command = [sys.executable, "-m", "conformance", "--base-url", server.base_url,
                   "--account-sid", account.sid, "--allow-create", "--from-number", "+15005550006",
                   "--to-number", "+15005550001", "--examples", "1", "--no-html", "--reports-dir", str(tmp_path),
                   "-k", "test_create_call_refuses_what_the_contract_forbids"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_")}
        env["CALLS_API_TOKEN"] = account.token
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        verdict = json.loads((tmp_path / "verdict.json").read_text(encoding="utf-8"))
        run_id = verdict["target"]["run_id"]
        made = sum(1 for record in stored if record.to)  # calls with a destination
        still = [r.call_sid for r in server.app.state.store.calls()
                 if isinstance(r.tag, dict) and r.tag.get("conformance_run") == run_id]
    assert 0 < made <= INVALID_DIALS_EXTERNAL, f"{made} calls made of refused creates\n{done.stdout[-2000:]}"
    assert still == [], f"{len(still)} calls of the run still held by the server, e.g. {still[:3]}"
    assert verdict["stats"]["leftover_calls"] == []


@pytest.mark.parametrize("fault, selection", [
    (None, "test_foreign_token_cannot_get"),  # the isolation checks create a call in the second account
    ("foreign-token-creates", "test_foreign_token_cannot_create"),  # a broken server places one there
], ids=["call-to-aim-at", "create-a-broken-server-accepted"])
def test_calls_the_run_made_in_the_second_account_are_deleted_there(tmp_path: Path, fault, selection) -> None:
    settings = ReferenceSettings.fast(window=600.0, seeded_calls=0, fault=fault)  # nothing expires during the run
    with start_reference(settings) as server:
        main, other = server.accounts[0], server.accounts[1]
        stored = record_stored_calls(server.app.state.store)
        command = [sys.executable, "-m", "conformance", "--base-url", server.base_url,
                   "--account-sid", main.sid, "--other-account-sid", other.sid, "--allow-create",
                   "--from-number", "+15005550006", "--to-number", "+15005550001", "--no-html",
                   "--reports-dir", str(tmp_path), "-k", selection]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_")}
        env.update(CALLS_API_TOKEN=main.token, CALLS_API_OTHER_TOKEN=other.token)
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        made_there = [r.call_sid for r in stored if r.account_sid == other.sid]
        still = {r.call_sid for r in server.app.state.store.calls(other.sid)}
    assert made_there, f"the run made no call in the second account\n{done.stdout[-2000:]}"
    assert still.isdisjoint(made_there), f"still held in the second account: {sorted(still & set(made_there))}"


def test_the_cleanup_waits_out_a_quota_other_clients_spent_and_deletes_every_call() -> None:
    """Whatever the run and the deployment's other clients spent of its quota, the run's calls are deleted: the
    cleanup waits for the window to reset (within its own budget) instead of giving up on a 429."""
    from conformance.contract.quota import Quota
    from conformance.deployment.config import resolve
    from conformance.runner.cleanup import clean_up
    from conformance.runner.run import open_run

    settings = ReferenceSettings.fast(window=600.0, seeded_calls=0, quota=Quota(12, 3.0))
    with start_reference(settings) as server:
        account = server.accounts[0]
        cfg = resolve({"base_url": server.base_url, "account_sid": account.sid, "token": account.token,
                       "allow_create": True, "from_number": "+15005550006", "to_number": "+15005550001"})
        run = open_run(cfg)
        for _ in range(3):
            response = run.api.create_call(cfg.create_payload())
            run.budget.remember(response.json()["sid"], cfg.create_payload())
        url = f"{server.base_url}/Accounts/{account.sid}/Calls"
        headers = {"Authorization": f"Bearer {account.token}"}
        # Another client of the deployment spends the rest of the window, and more.
        statuses = [requests.get(url, headers=headers, timeout=5).status_code for _ in range(15)]
        assert 429 in statuses
        clean_up(run)
        left = [r.call_sid for r in server.app.state.store.calls(account.sid)]
    assert run.leftovers == [] and left == []
    assert run.api.session.pacer.summary()["answers_429"] >= 1
