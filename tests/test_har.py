"""exchanges.har: every exchange of a run as HAR 1.2, redacted, each entry numbered as the failures name it."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conformance.deployment.api import ApiClient
from conformance.deployment.exchange import MAX_BODY_CHARS, Exchange, ExchangeLog, body_text
from conformance.deployment.failures import TargetUnavailable
from conformance.deployment.pacing import Pacer
from conformance.deployment.redaction import REDACTED, Redactor
from conformance.deployment.transport import TargetSession
from conformance.evidence.history import History
from conformance.reference import ReferenceSettings, start_reference
from conformance.reference.settings import ACCOUNT_A, ACCOUNT_B
from conformance.reports import har
from conformance.reports.report_page import report_page

ROOT = Path(__file__).resolve().parent.parent

_PAIRS = {"type": "array", "items": {"type": "object", "required": ["name", "value"],
                                     "properties": {"name": {"type": "string"}, "value": {"type": "string"}}}}
_CONTENT = {"type": "object", "required": ["size", "mimeType"],
            "properties": {"size": {"type": "integer"}, "mimeType": {"type": "string"}, "text": {"type": "string"},
                           "comment": {"type": "string"}}}
#: The parts of HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) this file must have, and their types.
HAR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["log"],
    "properties": {"log": {
        "type": "object", "required": ["version", "creator", "entries"],
        "properties": {
            "version": {"const": "1.2"},
            "creator": {"type": "object", "required": ["name", "version"],
                        "properties": {"name": {"type": "string"}, "version": {"type": "string"}}},
            "comment": {"type": "string"},
            "entries": {"type": "array", "items": {
                "type": "object",
                "required": ["_id", "startedDateTime", "time", "request", "response", "cache", "timings"],
                "properties": {
                    "_id": {"type": "integer", "minimum": 1},
                    "startedDateTime": {"type": "string",
                                        "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$"},
                    "time": {"type": "number", "minimum": 0},
                    "request": {
                        "type": "object",
                        "required": ["method", "url", "httpVersion", "cookies", "headers", "queryString",
                                     "headersSize", "bodySize"],
                        "properties": {
                            "method": {"type": "string"}, "url": {"type": "string"},
                            "httpVersion": {"type": "string"}, "cookies": {"type": "array"}, "headers": _PAIRS,
                            "queryString": _PAIRS, "headersSize": {"type": "integer"},
                            "bodySize": {"type": "integer"},
                            "postData": {"type": "object", "required": ["mimeType", "text"],
                                         "properties": {"mimeType": {"type": "string"}, "text": {"type": "string"}}},
                        }},
                    "response": {
                        "type": "object",
                        "required": ["status", "statusText", "httpVersion", "cookies", "headers", "content",
                                     "redirectURL", "headersSize", "bodySize"],
                        "properties": {
                            "status": {"type": "integer"}, "statusText": {"type": "string"},
                            "httpVersion": {"type": "string"}, "cookies": {"type": "array"}, "headers": _PAIRS,
                            "content": _CONTENT, "redirectURL": {"type": "string"},
                            "headersSize": {"type": "integer"}, "bodySize": {"type": "integer"},
                        }},
                    "cache": {"type": "object"},
                    "timings": {"type": "object", "required": ["send", "wait", "receive"],
                                "properties": {k: {"type": "number", "minimum": 0}
                                               for k in ("send", "wait", "receive")}},
                }}},
        }}},
}


def _valid(document: dict[str, Any]) -> dict[str, Any]:
    jsonschema.validate(document, HAR_SCHEMA)
    return document


def _entries(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["log"]["entries"]


def _started(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["startedDateTime"])


# --- the writer, on hand-made exchanges ------------------------------------------------------------

SECRET = "tok-1234567890-secret"
BASE = "https://api.example.net/v1/Accounts/AC1/Calls"


def _history(keep: int = 10) -> History:
    history = History(keep=keep)
    created = Exchange("POST", BASE, {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"},
                       '{"to": "+15005550001"}', 201, "Created", {"content-type": "application/json"},
                       '{"sid": "CA1"}', 12.5)
    history.add(created, None, 1.0, None)
    listed = Exchange("GET", BASE + "?page=2&status=", {}, None, 200, "OK", {"content-type": "application/json"},
                      body_text("[" + "1," * 5000 + "1]"), 30.0)  # cut, as the client cuts it
    history.add(listed, None, 2.0, None)
    deleted = Exchange("DELETE", BASE + "/CA1", {}, None, 204, "No Content", {}, "", 5.0)
    history.add(deleted, None, 3.0, None)
    failed = Exchange("GET", BASE + "/CA2", {}, None, elapsed_ms=8000.0,
                      error="GET /v1/Accounts/AC1/Calls/CA2: no answer within 8 s")
    history.add(failed, None, 4.0, None)
    return history


def test_each_exchange_is_an_entry_numbered_as_the_run_numbers_it() -> None:
    document = _valid(har.har_document(_history().records()))
    entries = _entries(document)
    assert [e["_id"] for e in entries] == [1, 2, 3, 4]
    assert document["log"]["creator"]["name"] == "calls-conformance" and "comment" not in document["log"]
    created, listed, deleted, failed = entries
    assert created["request"]["postData"] == {"mimeType": "application/json", "text": '{"to": "+15005550001"}'}
    assert created["time"] == 12.5 and created["timings"]["wait"] == 12.5
    assert listed["request"]["queryString"] == [{"name": "page", "value": "2"}, {"name": "status", "value": ""}]
    assert "postData" not in listed["request"] and listed["request"]["bodySize"] == 0
    assert deleted["response"]["content"] == {"size": 0, "mimeType": "", "text": ""}


def test_a_cut_body_is_kept_as_the_run_kept_it_and_says_so() -> None:
    listed = _entries(har.har_document(_history().records()))[1]["response"]
    assert len(listed["content"]["text"]) > MAX_BODY_CHARS and listed["content"]["text"].endswith("characters)")
    assert "cut" in listed["content"]["comment"] and listed["bodySize"] == -1


def test_a_failed_exchange_is_an_entry_with_status_0_and_its_reason() -> None:
    failed = _entries(_valid(har.har_document(_history().records())))[3]
    assert failed["response"]["status"] == 0 and failed["response"]["statusText"] == ""
    assert failed["response"]["_error"] == "GET /v1/Accounts/AC1/Calls/CA2: no answer within 8 s"
    assert "no answer within 8 s" in failed["comment"] and failed["time"] == 8000.0


def test_an_exchange_that_found_no_server_keeps_its_reason_for_the_har() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    history = History()
    session = TargetSession(timeout=2, verify=True, pacer=Pacer(), log=ExchangeLog(), token_envs={},
                            history=history)
    with pytest.raises(TargetUnavailable) as error:
        ApiClient(f"http://127.0.0.1:{port}/v1", "AC1", "token", session).list_calls()
    (entry,) = _entries(_valid(har.har_document(history.records())))
    assert entry["response"]["status"] == 0 and entry["response"]["_error"] == str(error.value)
    assert entry["request"]["method"] == "GET" and entry["time"] > 0


def test_exchanges_the_run_did_not_keep_are_counted_in_the_comment() -> None:
    history = _history(keep=3)
    document = _valid(har.har_document(history.records(), history.dropped))
    assert len(_entries(document)) == 3
    assert document["log"]["comment"].startswith("1 later exchanges of the run are not in this file")


def test_the_file_is_scrubbed_of_the_run_s_secrets(tmp_path: Path) -> None:
    scrub = Redactor()
    scrub.add(SECRET)
    path = har.write(tmp_path, _history(), scrub)
    text = path.read_text(encoding="utf-8")
    assert path.name == "exchanges.har" and SECRET not in text and f"Bearer {REDACTED}" in text
    _valid(json.loads(text))


def test_the_report_names_the_exchange_of_each_failure() -> None:
    failures = [{"test": "t::a", "code": "CF101", "message": "delete: answered 200, expected 204", "exchange": 7},
                {"test": "t::b", "code": "CF104", "message": "<b>not json</b>", "exchange": None}]
    verdict = {"verdict": "NOT CONFORMANT", "requirements": [
        {"id": "CALLS-DELETE-204", "level": "MUST", "area": "delete", "title": "t", "status": "failed",
         "failures": failures, "reasons": []}]}
    page = report_page(verdict)
    assert '<a class="exchange" href="exchanges.har">exchange #7 in exchanges.har</a>' in page
    assert page.count("exchange #") == 1
    assert "[CF104] &lt;b&gt;not json&lt;/b&gt;" in page


# --- a run ---------------------------------------------------------------------------------------


def _environment(**tokens: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_")}
    env.update(tokens)
    return env


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reports of a run of the quick tests against the embedded reference."""
    reports = tmp_path_factory.mktemp("har-run")
    command = [sys.executable, "-m", "conformance", "--no-html", "--reports-dir", str(reports), "-m", "not slow"]
    done = subprocess.run(command, cwd=ROOT, env=_environment(), capture_output=True, text=True, timeout=300)
    assert (reports / "exchanges.har").is_file(), done.stdout[-3000:] + done.stderr[-2000:]
    return reports


def test_a_run_writes_every_exchange_as_har_1_2_and_names_the_file_in_verdict_json(embedded_run: Path) -> None:
    verdict = json.loads((embedded_run / "verdict.json").read_text(encoding="utf-8"))
    document = _valid(json.loads((embedded_run / "exchanges.har").read_text(encoding="utf-8")))
    entries = _entries(document)
    assert verdict["artifacts"] == {"har": "exchanges.har"}
    # Every exchange is kept (a run drops none below History.MAX_RECORDS), the watches' ones included.
    assert "comment" not in document["log"]
    assert len(entries) == verdict["stats"]["requests_sent"] > 0
    assert sorted(e["_id"] for e in entries) == list(range(1, len(entries) + 1))
    starts = [_started(e) for e in entries]
    assert starts == sorted(starts), "entries are not in the order they were sent"


def test_the_har_of_a_run_holds_no_configured_token(embedded_run: Path) -> None:
    text = (embedded_run / "exchanges.har").read_text(encoding="utf-8")
    for account in (ACCOUNT_A, ACCOUNT_B):
        assert account.token not in text
    assert f"Bearer {REDACTED}" in text


def test_the_har_of_a_run_shows_bodies_as_they_went(embedded_run: Path) -> None:
    entries = _entries(json.loads((embedded_run / "exchanges.har").read_text(encoding="utf-8")))
    deletes = [e for e in entries if e["request"]["method"] == "DELETE" and e["response"]["status"] == 204]
    creates = [e for e in entries if e["request"]["method"] == "POST" and e["response"]["status"] == 201]
    assert deletes and all(e["response"]["content"]["size"] == 0 and e["response"]["content"]["text"] == ""
                           for e in deletes)
    assert creates and all(e["request"]["postData"]["text"] and
                           e["request"]["postData"]["mimeType"].startswith("application/json") for e in creates)


def test_a_failure_on_the_requirement_page_names_its_exchange_in_the_har(tmp_path: Path) -> None:
    with start_reference(ReferenceSettings.fast(fault="delete-200")) as server:
        main, other = server.accounts[0], server.accounts[1]
        command = [sys.executable, "-m", "conformance", "--base-url", server.base_url,
                   "--account-sid", main.sid, "--other-account-sid", other.sid, "--allow-create",
                   "--from-number", "+15005550006", "--to-number", "+15005550001", "--no-html",
                   "--reports-dir", str(tmp_path), "-m", "not slow", "-k", "delete"]
        env = _environment(CALLS_API_TOKEN=main.token, CALLS_API_OTHER_TOKEN=other.token)
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    verdict = json.loads((tmp_path / "verdict.json").read_text(encoding="utf-8"))
    row = next(r for r in verdict["requirements"] if r["id"] == "CALLS-DELETE-204")
    assert row["status"] == "failed", done.stdout[-3000:]
    number = row["failures"][0]["exchange"]
    entry = next(e for e in _entries(json.loads((tmp_path / "exchanges.har").read_text(encoding="utf-8")))
                 if e["_id"] == number)
    assert entry["request"]["method"] == "DELETE" and entry["response"]["status"] == 200
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    finding = re.search(r'<article [^>]*id="finding-CALLS-DELETE-204".*?</article>', page, re.S)
    assert finding and f'exchange #{number} in exchanges.har</a>' in finding.group(0)
