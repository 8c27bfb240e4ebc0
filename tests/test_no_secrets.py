"""No API token ever reaches a report file or the terminal.

Two runs of the suite (`python -m conformance`) against a reference server whose accounts have
recognizable tokens: a run with failures (isolation broken, so failing exchanges carry the second
account's token) and a run whose token is wrong (the preflight path). Every file under each reports
directory, and everything the runs printed, is searched for the tokens, as text and base64-encoded
(the single-file HTML report embeds its data in base64).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conformance.reports import allure_html
from conformance.reference.faults import FAULTS
from conformance.reference.server import start_reference
from conformance.reference.settings import Account, ReferenceSettings

REPO = Path(__file__).resolve().parent.parent
# A fault whose failing exchanges are made with the second account's token.
FAULT = next(f.name for f in FAULTS.values() if f.requirement == "CALLS-ISOLATION-READ")


def _encodings(secret: str) -> list[bytes]:
    """The secret as bytes, and the part of its base64 form that does not depend on its neighbours."""
    raw = secret.encode()
    forms = [raw]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        forms.append(encoded[4 if shift else 0:-4])
    return forms


def _files_containing(root: Path, secret: str) -> list[str]:
    forms = _encodings(secret)
    return sorted(str(path.relative_to(root)) for path in root.rglob("*")
                  if path.is_file() and any(form in path.read_bytes() for form in forms))


def test_the_search_sees_a_token_in_text_and_in_base64(tmp_path: Path) -> None:
    token = f"calls-secret-{uuid.uuid4().hex}"
    for offset in range(3):
        blob = base64.b64encode(b"x" * offset + f'{{"auth": "Bearer {token}"}}'.encode())
        (tmp_path / f"embedded{offset}.html").write_bytes(b'd("data/a.json","' + blob + b'")')
    (tmp_path / "plain.txt").write_text(f"token={token}\n", encoding="utf-8")
    (tmp_path / "clean.txt").write_text("token=[REDACTED]\n", encoding="utf-8")
    assert _files_containing(tmp_path, token) == ["embedded0.html", "embedded1.html", "embedded2.html", "plain.txt"]


def _run(reports: Path, server, *options: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    main, other = server.accounts[0], server.accounts[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
    env.update(CALLS_API_OTHER_TOKEN=other.token)
    if token is None:
        env["CALLS_API_TOKEN"] = main.token
    command = [sys.executable, "-m", "conformance", "--reports-dir", str(reports), "--base-url", server.base_url,
               "--account-sid", main.sid, "--other-account-sid", other.sid, "--allow-create",
               "--from-number", "+15005550006", "--to-number", "+15005550001", "--window", "4",
               "--examples", "5", "-m", "not slow", *options]
    if token is not None:
        command += ["--token", token]
    return subprocess.run(command, cwd=reports, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def server():
    accounts = tuple(Account(sid=str(uuid.uuid4()), token=f"calls-secret-{uuid.uuid4().hex}") for _ in range(2))
    with start_reference(ReferenceSettings.fast(fault=FAULT, window=4.0, accounts=accounts)) as running:
        yield running


def test_a_failing_run_writes_no_token(server, tmp_path: Path) -> None:
    done = _run(tmp_path, server, "-v")
    expected = ["verdict.json", "junit.xml", "report.html", "allure-results/environment.properties"]
    if allure_html.find_allure():
        expected += ["allure-report/index.html", "allure-report-single/index.html"]
    for name in expected:
        assert (tmp_path / name).is_file(), f"{name}\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
    verdict = json.loads((tmp_path / "verdict.json").read_text(encoding="utf-8"))
    assert verdict["counts"]["failed"] >= 1, done.stdout[-3000:]  # failures, with their exchanges, were written
    sid = server.accounts[0].sid
    assert "verdict.json" in _files_containing(tmp_path, sid)  # the search reads what was written
    if allure_html.find_allure():
        assert "allure-report-single/index.html" in _files_containing(tmp_path, sid)  # and sees through base64
    for account in server.accounts:
        assert _files_containing(tmp_path, account.token) == []
        assert account.token not in done.stdout + done.stderr


def test_a_refused_token_is_not_echoed(server, tmp_path: Path) -> None:
    wrong = f"calls-wrong-{uuid.uuid4().hex}"
    done = _run(tmp_path, server, token=wrong)
    assert done.returncode == 7, done.stdout[-3000:] + done.stderr[-2000:]  # preflight failed
    assert "401" in done.stdout + done.stderr
    for secret in (wrong, *(account.token for account in server.accounts)):
        assert _files_containing(tmp_path, secret) == []
        assert secret not in done.stdout + done.stderr
