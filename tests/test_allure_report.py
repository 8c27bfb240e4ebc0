"""Each test's outcome reads the same in the terminal, JUnit and the Allure results of a real run.

A few tests of the suite are run (`-k`) against the reference server with one fault each: a SHOULD fault
(WARN), an ADVISORY one (ADVICE) and a MUST one (FAIL). A warning or advice is a passed test carrying its
word (never a skip or an expected failure: skipped means NOT RUN); a failure's message starts with the
requirement; every step has a name; a result's time covers setup to teardown, as JUnit's does. No HTML is generated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from conformance.reference.server import start_reference
from conformance.reference.settings import ReferenceSettings

REPO = Path(__file__).resolve().parent.parent

RUNS = {  # fault -> the tests selected (-k)
    "no-caller-name": "test_call_carries_caller_name",
    "accepts-mistyped-from": "test_invalid_create_body_is_refused_and_creates_nothing and from-as-number",
    "delete-200": "test_delete_of_an_ended_call_answers_204_with_no_body",
}


@pytest.fixture(scope="module", params=list(RUNS))
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of the selected tests against the fault; its terminal output, JUnit cases and Allure results."""
    fault = request.param
    reports = tmp_path_factory.mktemp(fault)
    with start_reference(ReferenceSettings.fast(fault=fault, window=4.0)) as server:
        main, other = server.accounts[0], server.accounts[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
        env.update(CALLS_API_TOKEN=main.token, CALLS_API_OTHER_TOKEN=other.token)
        command = [sys.executable, "-m", "conformance", "--reports-dir", str(reports), "--no-html",
                   "--base-url", server.base_url, "--account-sid", main.sid, "--other-account-sid", other.sid,
                   "--allow-create", "--from-number", "+15005550006", "--to-number", "+15005550001",
                   "--window", "4", "-k", RUNS[fault]]
        done = subprocess.run(command, cwd=reports, env=env, capture_output=True, text=True, timeout=600)
    results = [json.loads(p.read_text(encoding="utf-8")) for p in (reports / "allure-results").glob("*-result.json")]
    containers = [json.loads(p.read_text(encoding="utf-8"))
                  for p in (reports / "allure-results").glob("*-container.json")]
    cases = list(ET.parse(reports / "junit.xml").iter("testcase"))
    assert results and cases, done.stdout[-3000:] + done.stderr[-2000:]
    return {"fault": fault, "done": done, "results": results, "containers": containers, "cases": cases}


def _only(items: list[Any], what: str) -> Any:
    assert len(items) == 1, f"{len(items)} {what}"
    return items[0]


def _properties(case: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def test_each_outcome_reads_the_same_in_terminal_junit_and_allure(run: dict[str, Any]) -> None:
    word = {"no-caller-name": "WARN", "accepts-mistyped-from": "ADVICE", "delete-200": "FAIL"}[run["fault"]]
    stdout = run["done"].stdout
    result = _only([r for r in run["results"] if r["status"] != "skipped"], "results run")
    case = _only([c for c in run["cases"] if c.find("skipped") is None], "test cases run")
    message = (result.get("statusDetails") or {}).get("message", "")
    if word == "FAIL":
        assert result["status"] == "failed" and case.find("failure") is not None
        assert message.startswith("CALLS-DELETE-204 [CF101] "), message[:200]
        assert "RequirementViolation" not in message
        assert " 1 failed" in stdout
        return
    # Passed (it counts as no failure), with its word: progress letter, JUnit property, Allure title and tag.
    assert result["status"] == "passed" and result["name"].startswith(f"{word}: ")
    assert word in [label["value"] for label in result["labels"] if label["name"] == "tag"]
    prefix = "WARN SHOULD not met: CALLS-CALL-CALLER-NAME [CF110] " if word == "WARN" else \
        "ADVICE: CALLS-CREATE-REJECTS-MISTYPED [CF108] "
    assert message.startswith(prefix) and result["description"].startswith(prefix)
    assert case.find("failure") is None and case.find("skipped") is None
    assert _properties(case)["outcome"] == word and _properties(case)["message"].startswith(prefix)
    assert f"1 {word.lower()}" in stdout and "xfail" not in stdout.lower()
    assert "XFAIL" not in json.dumps(run["results"])


def test_requirement_links_point_at_the_requirement_page(run: dict[str, Any]) -> None:
    result = _only([r for r in run["results"] if r["status"] != "skipped"], "results run")
    requirements = [label["value"] for label in result["labels"] if label["name"] == "requirement"]
    links = {link["name"]: link["url"] for link in result["links"] if link["type"] == "requirement"}
    assert links == {rid: f"../report.html#{rid}" for rid in requirements}


def test_every_step_has_a_name_and_a_result_times_setup_too(run: dict[str, Any]) -> None:
    result = _only([r for r in run["results"] if r["status"] != "skipped"], "results run")
    fixtures = [f for c in run["containers"] if result["uuid"] in c.get("children", [])
                for f in c.get("befores", []) + c.get("afters", [])]
    assert fixtures
    assert not [f["name"] for f in fixtures if "<lambda>" in f["name"] or "::" in f["name"]]
    if run["fault"] == "delete-200":  # a fixture with a docstring is named by its first sentence
        assert "The gets until the call ended (or the call timeout passed), then a few more" in \
            [f["name"] for f in fixtures]
    # Its time spans setup, call and teardown, which JUnit adds up (to the millisecond Allure keeps).
    case = _only([c for c in run["cases"] if c.find("skipped") is None], "test cases run")
    assert (result["stop"] - result["start"]) / 1000 + 0.002 >= float(case.get("time", "0"))
