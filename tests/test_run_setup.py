"""A wrong set-up gets no verdict on the target: a base URL that is not the API stops the run at the preflight
(exit code 7), a session that runs no test (--collect-only, --fixtures...) sends nothing and writes nothing,
and an interrupted run (SIGINT, SIGTERM) ends with what it reached, its calls deleted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from conformance.contract.quota import Quota
from conformance.deployment.config import resolve
from conformance.reference import FAULTS, VARIANTS, ReferenceSettings, start_reference
from conformance.reference.testing import record_stored_calls
from conformance.judgement.ledger import Failure
from conformance.runner.finish import _decide
from conformance.runner.interruption import UNREACHED, note_unreached
from conformance.runner.preflight import preflight
from conformance.runner.run import Run, open_run

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "6a0f1c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
TOKEN = "a-token-of-the-account"


def _environment(token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_")}
    return env | {"CALLS_API_TOKEN": token, "PYTHONUNBUFFERED": "1"}


def _suite(args: list[str], reports: Path, token: str = TOKEN) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "conformance", "--no-html", "--reports-dir", str(reports), *args]
    return subprocess.run(command, cwd=ROOT, env=_environment(token), capture_output=True, text=True, timeout=300)


def _preflight_of(base_url: str, account_sid: str, token: str, **options: Any) -> tuple[str, str] | None:
    return preflight(open_run(resolve({"base_url": base_url, "account_sid": account_sid, "token": token, **options},
                                      environ={})))


# --- a base URL that is not the API ----------------------------------------------------------------


def test_a_base_url_without_the_version_prefix_stops_at_the_preflight_with_exit_7(tmp_path: Path) -> None:
    with start_reference(ReferenceSettings.fast()) as server:
        account = server.accounts[0]
        done = _suite(["--base-url", server.base_url.removesuffix("/v1"), "--account-sid", account.sid],
                      tmp_path / "reports", account.token)
    verdict = json.loads((tmp_path / "reports" / "verdict.json").read_text(encoding="utf-8"))
    assert done.returncode == 7, done.stdout[-3000:] + done.stderr[-3000:]
    assert verdict["verdict"] == "TARGET FAILED" and verdict["exit_code"] == 7
    failure = verdict["target_failure"]
    assert failure["kind"] == "wrong-base-url" and failure["requests_sent"] == 1, failure
    assert "call list" in failure["message"] and "answered 404" in failure["message"], failure
    assert "(the version prefix /v1 missing?)" in failure["message"], failure
    assert done.stderr.count(f"calls-conformance: preflight failed: {failure['message']}") == 1, done.stderr
    assert {row["status"] for row in verdict["requirements"]} <= {"not-run", "untestable"}


def test_a_versioned_base_url_that_is_not_found_names_the_account_sid_not_the_prefix() -> None:
    with start_reference(ReferenceSettings.fast()) as server:
        account = server.accounts[0]
        found = _preflight_of(server.base_url.replace("/v1", "/v2"), account.sid, account.token)
    assert found is not None and found[0] == "wrong-base-url", found
    assert "/v1 missing" not in found[1], found
    assert found[1].endswith("is the base URL right, and the account sid (--account-sid)?"), found


class _Canned(BaseHTTPRequestHandler):
    answer: tuple[int, str, bytes] = (200, "application/json", b"[]")  # the default answer: an empty list

    def do_GET(self) -> None:
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        status, content_type, body = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def canned() -> Iterator[Any]:
    """A server answering every GET with `server.answer` (status, content type, body); `server.seen`: the paths
    it was asked for."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    server.answer, server.seen = _Canned.answer, []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"  # type: ignore[attr-defined]
    yield server
    server.shutdown()
    server.server_close()


NOT_THE_API = {
    "404-json": ((404, "application/json", b'{"msg": "not found"}'), "answered 404"),
    "404-text": ((404, "text/plain", b"Not Found"), "answered 404"),
    "404-html": ((404, "text/html", b"<html><body>Cannot GET</body></html>"), "answered 404"),
    "405": ((405, "application/json", b'{"msg": "method not allowed"}'), "answered 405"),
    "200-html-page": ((200, "text/html", b"<html><body>Please log in</body></html>"), "with an HTML page"),
    "200-json-status": ((200, "application/json", b'{"status": "UP"}'), "holds no list of calls"),
    "200-json-null": ((200, "application/json", b"null"), "holds no list of calls"),
}


@pytest.mark.parametrize("name", list(NOT_THE_API))
def test_an_own_list_answer_that_is_not_the_api_is_a_wrong_base_url(canned: Any, name: str) -> None:
    canned.answer, words = NOT_THE_API[name]
    found = _preflight_of(canned.base_url, ACCOUNT, TOKEN)
    assert found is not None and found[0] == "wrong-base-url" and words in found[1], found


# Lists of the wrong status, shape or label: findings of the tests (CALLS-LIST-200, CALLS-CONTENT-TYPE-JSON),
# never a wrong set-up.
A_FINDING_NOT_A_SET_UP = {
    "empty-list": (200, "application/json", b"[]"),
    "wrapped-list": (200, "application/json", b'{"calls": []}'),
    "list-labelled-text": (200, "text/plain", b"[]"),
    "list-labelled-html": (200, "text/html", b"[]"),
    "not-json-text": (200, "text/plain", b"OK"),
    "not-utf8": (200, "application/json", b'[{"call_sid": "\xff\xfe"}]'),
    "201": (201, "application/json", b"[]"),
    "400": (400, "application/json", b'{"msg": "Bad request"}'),
}


@pytest.mark.parametrize("name", list(A_FINDING_NOT_A_SET_UP))
def test_an_own_list_answer_of_the_api_passes_the_preflight(canned: Any, name: str) -> None:
    canned.answer = A_FINDING_NOT_A_SET_UP[name]
    assert _preflight_of(canned.base_url, ACCOUNT, TOKEN) is None


REFERENCES = ([ReferenceSettings.fast(fault=name) for name in FAULTS] +
              [ReferenceSettings.fast(variant=name) for name in VARIANTS] +
              [ReferenceSettings.fast(seeded_calls=0), ReferenceSettings.fast(quota=Quota(600, 300.0)),
               ReferenceSettings.fast(quota=Quota(600, 300.0), quota_headers=False)])


def test_the_preflight_passes_every_fault_and_variant_of_the_reference() -> None:
    """A fault must be caught under its requirement and a variant found conformant: none is a wrong set-up."""
    stopped = {}
    for settings in REFERENCES:
        with start_reference(settings) as server:
            account, other = server.accounts[0], server.accounts[1]
            found = _preflight_of(server.base_url, account.sid, account.token, other_account_sid=other.sid,
                                  other_token=other.token)
        if found is not None:
            stopped[settings.fault or settings.variant or repr(settings.quota)] = found
    assert stopped == {}


# --- a session that runs no test -------------------------------------------------------------------

NO_TEST = {"collect-only": ["--co", "-q"], "fixtures": ["--fixtures"], "markers": ["--markers"],
           "setup-plan": ["--setup-plan", "-q", "-k", "auth"], "setup-only": ["--setup-only", "-q", "-k", "auth"]}


def _kept_reports(reports: Path) -> dict[str, str]:
    """A reports directory left by an earlier run: what a listing session must leave as it is."""
    files = {"verdict.json": '{"verdict": "CONFORMANT"}', "history.jsonl": "{}\n", "allure-results/a-result.json": "{}"}
    for name, text in files.items():
        (reports / name).parent.mkdir(parents=True, exist_ok=True)
        (reports / name).write_text(text, encoding="utf-8")
    return files


def _files(reports: Path) -> dict[str, str]:
    return {str(p.relative_to(reports)): p.read_text(encoding="utf-8") for p in reports.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", list(NO_TEST))
def test_a_session_that_runs_no_test_sends_nothing_and_writes_nothing(canned: Any, tmp_path: Path, name: str) -> None:
    reports = tmp_path / "reports"
    kept = _kept_reports(reports)
    done = _suite(["--base-url", canned.base_url, "--account-sid", ACCOUNT, *NO_TEST[name]], reports)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert canned.seen == []
    assert _files(reports) == kept
    assert "VERDICT" not in done.stdout and "NOT RUN" not in done.stdout


# In a child process: a collect-only session of the embedded reference, with starting a reference forbidden.
_NO_REFERENCE = r"""
import sys
import conformance.reference.server as server

def refuse(*args, **kwargs):
    raise SystemExit("a reference server was started")

server.start_reference = refuse
from conformance.runner.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_collect_only_session_starts_no_reference_server(tmp_path: Path) -> None:
    command = [sys.executable, "-c", _NO_REFERENCE, "--no-html", "--reports-dir", str(tmp_path / "reports"),
               "--co", "-q", "-k", "lifecycle"]
    done = subprocess.run(command, cwd=ROOT, env=_environment(TOKEN), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "tests collected" in done.stdout
    assert not (tmp_path / "reports").exists()


# --- an interrupted run ----------------------------------------------------------------------------

# Tests that pass at once, then one that waits for a 300 s retention window: the signal, sent when the first
# result is shown, always finds the run waiting.
INTERRUPTED_SELECTION = ["--window", "300", "-v", "-k", "test_malformed_bearer_header_answers_400_or_401 or "
                         "test_ended_call_stays_visible_through_the_window"]


def _interrupted_run(tmp_path: Path, number: int,
                     fault: str | None = None) -> tuple[int, str, dict[str, Any], list[str]]:
    """Run the selection, send `number` once the first test has a result; (exit code, output, verdict, sids of
    the calls the run created still held by the server)."""
    reports = tmp_path / "reports"
    with start_reference(ReferenceSettings.fast(window=300.0, fault=fault)) as server:
        created = record_stored_calls(server.app.state.store)
        account = server.accounts[0]
        command = [sys.executable, "-m", "conformance", "--no-html", "--reports-dir", str(reports),
                   "--base-url", server.base_url, "--account-sid", account.sid, "--allow-create",
                   "--from-number", "+15005550006", "--to-number", "+15005550001", *INTERRUPTED_SELECTION]
        child = subprocess.Popen(command, cwd=ROOT, env=_environment(account.token), stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        output = []
        assert child.stdout is not None
        for line in child.stdout:
            output.append(line)
            if "test_malformed_bearer_header" in line and (" PASS" in line or " FAIL" in line):
                child.send_signal(number)
                break
        output.append(child.stdout.read())
        code = child.wait(timeout=120)
        held = {record.call_sid for record in server.app.state.store.calls(account.sid)}
        left = [record.call_sid for record in created if record.call_sid in held]
        assert created, "the run created no call: nothing showed that the cleanup ran"
    verdict = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    return code, "".join(output), verdict, left


def _interrupted(unreached: dict[str, list[str]] | None) -> Run:
    run = open_run(resolve({"base_url": "http://127.0.0.1:9/v1", "account_sid": ACCOUNT, "token": TOKEN},
                           environ={}))
    run.interrupted, run.unreached = "SIGINT", unreached
    return run


def test_an_interruption_keeps_what_was_judged_and_says_what_was_not_reached() -> None:
    run = _interrupted({"test_window": ["CALLS-WINDOW-VISIBLE"]})
    run.ledger.collected(["CALLS-AUTH-REQUIRED", "CALLS-WINDOW-VISIBLE"], selected=True)
    run.ledger.passed("test_auth", ["CALLS-AUTH-REQUIRED"])
    note_unreached(run)
    result = _decide(run, int(pytest.ExitCode.INTERRUPTED))
    rows = {row["id"]: row for row in result["requirements"]}
    assert (result["verdict"], result["exit_code"], result["run_error"]) == ("INTERRUPTED", 2, "interrupted")
    assert rows["CALLS-AUTH-REQUIRED"]["status"] == "passed"
    window = rows["CALLS-WINDOW-VISIBLE"]
    assert (window["status"], window["reasons"]) == ("not-run", [UNREACHED])
    assert rows["CALLS-LIST-200"]["reasons"] == ["no test checks it"]  # not selected: nothing to reach


def test_an_interruption_before_the_tests_were_known_leaves_every_requirement_not_reached() -> None:
    run = _interrupted(None)
    note_unreached(run)
    result = _decide(run, int(pytest.ExitCode.INTERRUPTED))
    assert result["verdict"] == "INTERRUPTED"
    reasons = {tuple(row["reasons"]) for row in result["requirements"] if row["status"] != "untestable"}
    assert reasons == {(UNREACHED,)}


def test_a_must_failure_seen_before_an_interruption_stands() -> None:
    run = _interrupted({"test_window": ["CALLS-WINDOW-VISIBLE"]})
    run.ledger.failed("CALLS-AUTH-REQUIRED", Failure("test_auth", "CF101", "answered 200"))
    note_unreached(run)
    result = _decide(run, int(pytest.ExitCode.INTERRUPTED))
    assert (result["verdict"], result["exit_code"], result["run_error"]) == ("NOT CONFORMANT", 1, "interrupted")


def _status(verdict: dict[str, Any], requirement: str) -> tuple[str, list[str]]:
    row = next(r for r in verdict["requirements"] if r["id"] == requirement)
    return row["status"], row["reasons"]


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_ends_interrupted_with_what_it_reached_and_its_calls_deleted(tmp_path: Path,
                                                                                        number: int) -> None:
    code, output, verdict, left = _interrupted_run(tmp_path, number)
    assert code == 2, output[-3000:]
    assert (verdict["verdict"], verdict["exit_code"], verdict["run_error"]) == ("INTERRUPTED", 2, "interrupted")
    assert _status(verdict, "CALLS-AUTH-MALFORMED")[0] == "passed"
    assert _status(verdict, "CALLS-WINDOW-VISIBLE") == ("not-run", ["not reached: the run was interrupted"])
    assert left == []
    assert "KeyboardInterrupt" not in output and "Traceback" not in output, output[-3000:]
    assert f"the run was interrupted ({signal.Signals(number).name})" in output
    assert "VERDICT: INTERRUPTED" in output


def test_a_must_failure_seen_before_the_interruption_makes_it_not_conformant(tmp_path: Path) -> None:
    code, output, verdict, left = _interrupted_run(tmp_path, signal.SIGINT, fault="empty-bearer-gives-data")
    assert code == 1, output[-3000:]
    assert (verdict["verdict"], verdict["run_error"]) == ("NOT CONFORMANT", "interrupted")
    assert _status(verdict, "CALLS-AUTH-MALFORMED")[0] == "failed"
    assert _status(verdict, "CALLS-WINDOW-VISIBLE") == ("not-run", ["not reached: the run was interrupted"])
    assert left == []
    assert "KeyboardInterrupt" not in output
