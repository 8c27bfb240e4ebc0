"""A run against a deployment with a request quota (as jambonz ships: one fixed window for all clients, 429 past
it) fits that quota: paced by the RateLimit fields it announces with no option, or by --rate-limit where it
announces nothing, it meets no 429 and gets the verdict a run without a quota gets, calls cleaned up.

The quota is tighter than jambonz's default (150 per 5 s against 600 per 5 minutes), so that the run must
wait for the window to reset several times; the server counts what it refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.contract.quota import Quota
from conformance.reference import ReferenceSettings, start_reference

ROOT = Path(__file__).resolve().parent.parent
QUOTA = Quota(150, 5.0)
#: Long enough that no call the run created expires while it waits for the quota (the window's own tests are
#: not selected): what the run judges is the same as without a quota.
WINDOW = 60.0


def _run(settings: ReferenceSettings, reports: Path, *options: str) -> tuple[dict, int, str]:
    """The suite as an external run of a user (-m "not slow") against a reference server; its verdict, the
    429s the server answered, and the output."""
    with start_reference(settings) as server:
        main, other = server.accounts[:2]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_")}
        env.update(CALLS_API_TOKEN=main.token, CALLS_API_OTHER_TOKEN=other.token)
        command = [sys.executable, "-m", "conformance", "--base-url", server.base_url, "--account-sid", main.sid,
                   "--other-account-sid", other.sid, "--application-sid", main.application_sid,
                   "--other-application-sid", other.application_sid, "--allow-create",
                   "--from-number", "+15005550006", "--to-number", "+15005550001", "--window", f"{WINDOW:g}",
                   "--no-html", "--reports-dir", str(reports), "-m", "not slow", *options]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
        window = server.app.state.quota_window
        refused = window.refused if window is not None else 0
    verdict = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    return verdict, refused, done.stdout + done.stderr


@pytest.fixture(scope="module")
def unlimited(tmp_path_factory):
    return _run(ReferenceSettings.fast(window=WINDOW), tmp_path_factory.mktemp("unlimited"))


def _same_verdict(verdict: dict, unlimited: dict) -> None:
    not_run = [(r["id"], r["reasons"]) for r in verdict["requirements"] if r["status"] == "not-run"]
    assert verdict["verdict"] == unlimited["verdict"] == "CONFORMANT", not_run
    assert [(r["id"], r["status"]) for r in verdict["requirements"]] == \
        [(r["id"], r["status"]) for r in unlimited["requirements"]]
    assert verdict["stats"]["leftover_calls"] == []


def test_a_quota_the_target_announces_paces_the_run_with_no_option_and_no_429(unlimited, tmp_path):
    verdict, refused, output = _run(ReferenceSettings.fast(window=WINDOW, quota=QUOTA), tmp_path)
    assert refused == 0, output[-3000:]
    _same_verdict(verdict, unlimited[0])
    pacing = verdict["stats"]["pacing"]
    assert (pacing["quota"], pacing["source"], pacing["answers_429"]) == ("150/5s", "announced", 0)
    assert pacing["waited_seconds"] > 0  # the run needs more than one window of this quota
    assert "calls-conformance: pacing to 150/5s as the target announces" in output


def test_a_quota_given_with_rate_limit_paces_a_target_that_announces_nothing(unlimited, tmp_path):
    settings = ReferenceSettings.fast(window=WINDOW, quota=QUOTA, quota_headers=False)
    verdict, refused, output = _run(settings, tmp_path, "--rate-limit", "150/5s")
    assert refused == 0, output[-3000:]
    _same_verdict(verdict, unlimited[0])
    pacing = verdict["stats"]["pacing"]
    assert (pacing["quota"], pacing["source"], pacing["answers_429"]) == ("150/5s", "--rate-limit", 0)
    assert "calls-conformance: pacing to 150/5s as --rate-limit gives: about" in output


def test_without_pacing_the_same_quota_is_exceeded(tmp_path):
    """The counter-proof: the quota is tight enough that a run that ignored it would be refused."""
    settings = ReferenceSettings.fast(window=WINDOW, quota=QUOTA, quota_headers=False)
    verdict, refused, output = _run(settings, tmp_path)
    assert refused > 0
    assert verdict["stats"]["pacing"]["answers_429"] > 0
