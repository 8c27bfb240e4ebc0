"""Waivers, baselines and fleets on real runs of the suite against reference servers (short selections)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.reference.server import start_reference
from conformance.reference.settings import ReferenceSettings
from conformance.reports.terminal import counts_line, verdict_line

REPO = Path(__file__).resolve().parent.parent
SELECTION = ["--examples", "1", "--no-html", "--", "-m", "not slow", "-k", "lifecycle"]
SERVERS = {"conformant": None, "delete-200": "delete-200", "create-200": "create-200"}


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Three reference servers (conformant, a MUST fault, a SHOULD fault), a profile file for each."""
    where = tmp_path_factory.mktemp("profiles")
    servers = [start_reference(ReferenceSettings.fast(fault=fault, window=4.0)) for fault in SERVERS.values()]
    found = {}
    try:
        for name, server in zip(SERVERS, servers):
            account = server.accounts[0]
            (where / f"{name}.token").write_text(account.token, encoding="utf-8")
            found[name] = where / f"{name}.toml"
            found[name].write_text(
                f'base-url = "{server.base_url}"\naccount-sid = "{account.sid}"\n'
                f'token-file = "{where / (name + ".token")}"\nallow-create = true\nfrom-number = "+15005550006"\n'
                f'to-number = "+15005550001"\nwindow = 4\n', encoding="utf-8")
        yield found
    finally:
        for server in servers:
            server.stop()


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
    return subprocess.run([sys.executable, "-m", "conformance", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def single(profile: Path, reports: Path, *options: str) -> tuple[subprocess.CompletedProcess, dict[str, Any]]:
    split = SELECTION.index("--")
    done = cli("--profile", str(profile), "--reports-dir", str(reports), *options, *SELECTION[:split],
               *SELECTION[split + 1:], cwd=reports.parent)
    path = reports / "verdict.json"
    return done, (json.loads(path.read_text(encoding="utf-8")) if path.exists() else {})


def statuses(verdict: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["status"] for r in verdict["requirements"]}


def waiver_file(tmp_path: Path, requirement: str, expires: str = "2099-12-31", targets_line: str = "",
                **more: str) -> Path:
    path = tmp_path / "waivers.toml"
    extra = "".join(f'{k} = "{v}"\n' for k, v in more.items())
    extra += f'targets = ["{targets_line}"]\n' if targets_line else ""
    path.write_text(f'[[waiver]]\nrequirement = "{requirement}"\nreason = "known deviation"\n'
                    f'reference = "https://tracker.example.net/T-7"\nexpires = {expires}\n{extra}', encoding="utf-8")
    return path


def test_a_fleet_gives_each_target_the_verdict_its_single_run_gives(profiles, tmp_path):
    out = tmp_path / "fleet"
    done = cli("fleet", "--reports-dir", str(out), "--parallel", "3", "--no-html", *map(str, profiles.values()),
               "--", "--examples", "1", *SELECTION[4:], cwd=tmp_path)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]  # the worst: delete-200 is NOT CONFORMANT
    run_ids = set()
    for name, profile in profiles.items():
        fleet_verdict = json.loads((out / name / "verdict.json").read_text(encoding="utf-8"))
        _, alone = single(profile, tmp_path / f"single-{name}")
        assert (fleet_verdict["verdict"], fleet_verdict["exit_code"]) == (alone["verdict"], alone["exit_code"]), name
        assert statuses(fleet_verdict) == statuses(alone), name
        assert fleet_verdict["target"]["name"] == name
        run_ids.add(fleet_verdict["target"]["run_id"])
    assert len(run_ids) == 3
    verdicts = {n: json.loads((out / n / "verdict.json").read_text())["verdict"] for n in profiles}
    assert verdicts == {"conformant": "CONFORMANT", "delete-200": "NOT CONFORMANT", "create-200": "CONFORMANT"}
    matrix = json.loads((out / "matrix.json").read_text(encoding="utf-8"))
    row = next(r for r in matrix["requirements"] if r["id"] == "CALLS-DELETE-204")
    assert [c["word"] for c in row["cells"]] == ["PASS", "FAIL", "PASS"]
    row = next(r for r in matrix["requirements"] if r["id"] == "CALLS-CREATE-201")
    assert [c["word"] for c in row["cells"]] == ["PASS", "PASS", "WARN"]
    assert "FLEET: exit code 1" in done.stdout and str(out / "matrix.html") in done.stdout
    assert (out / "matrix.md").is_file() and (out / "allure-results" / "environment.properties").is_file()
    targets = {lb["value"] for p in (out / "allure-results").glob("*-result.json")
               for lb in json.loads(p.read_text())["labels"] if lb["name"] == "target"}
    assert targets == set(profiles)
    # The same matrix from the reports directories alone, as a CI merge job builds it.
    merged = tmp_path / "merged"
    done = cli("merge", "--reports-dir", str(merged), "--no-html", str(out), cwd=tmp_path)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    def cells(table: dict) -> dict:
        return {(r["id"], c["target"]): c["word"] for r in table["requirements"] for c in r["cells"]}
    assert cells(json.loads((merged / "matrix.json").read_text())) == cells(matrix)


def test_a_waived_should_fault_is_conformant_with_waivers_in_every_report(profiles, tmp_path):
    done, verdict = single(profiles["create-200"], tmp_path / "reports", "--waivers",
                           str(waiver_file(tmp_path, "CALLS-CREATE-201", check="CF101")))
    assert done.returncode == 0, done.stdout[-3000:]
    assert verdict["verdict"] == "CONFORMANT-WITH-WAIVERS" and verdict["counts"]["waived"] == 1
    assert "CONFORMANT WITH WAIVERS: every failure is a known deviation" in done.stdout
    assert "WAIVED       SHOULD   CALLS-CREATE-201" in done.stdout
    # Passed with its word everywhere: never a skip (NOT RUN) nor an expected failure.
    junit = ET.parse(tmp_path / "reports" / "junit.xml")
    outcomes = {p.get("value") for p in junit.iter("property") if p.get("name") == "outcome"}
    messages = {p.get("value") for p in junit.iter("property") if p.get("name") == "message"}
    assert outcomes == {"WAIVED"} and "WAIVED: known deviation (https://tracker.example.net/T-7)" in messages
    assert not [s for s in junit.iter("skipped") if "WAIVED" in (s.get("message") or "")]
    results = [json.loads(p.read_text()) for p in (tmp_path / "reports" / "allure-results").glob("*-result.json")]
    waived = [r for r in results if (r.get("statusDetails") or {}).get("message", "").startswith("WAIVED: known")]
    assert len(waived) == 1 and waived[0]["status"] == "passed" and waived[0]["name"].startswith("WAIVED: ")
    categories = json.loads((tmp_path / "reports" / "allure-results" / "categories.json").read_text())
    assert any(c["name"] == "Waived deviation" for c in categories)


def test_a_waived_must_fault_is_waived_but_what_it_stopped_stays_not_run(profiles, tmp_path):
    done, verdict = single(profiles["delete-200"], tmp_path / "reports", "--waivers",
                           str(waiver_file(tmp_path, "CALLS-DELETE-204")))
    assert statuses(verdict)["CALLS-DELETE-204"] == "waived"
    assert verdict["verdict"] == "INCOMPLETE" and done.returncode == 6  # CALLS-DELETE-EMPTY-BODY was not judged


def test_a_waiver_for_another_target_or_check_leaves_the_failure(profiles, tmp_path):
    for more in ({"check": "CF104"}, {}):
        path = waiver_file(tmp_path, "CALLS-DELETE-204", **more)
        if not more:
            path.write_text(path.read_text() + 'targets = ["conformant", "https://elsewhere.example.net/*"]\n')
        done, verdict = single(profiles["delete-200"], tmp_path / "reports", "--waivers", str(path))
        assert done.returncode == 1 and statuses(verdict)["CALLS-DELETE-204"] == "failed", more


def test_an_expired_waiver_fails_the_run_and_says_it_expired(profiles, tmp_path):
    done, verdict = single(profiles["create-200"], tmp_path / "reports", "--strict", "--waivers",
                           str(waiver_file(tmp_path, "CALLS-CREATE-201", expires="2020-01-31")))
    assert done.returncode == 1 and verdict["verdict"] == "NOT CONFORMANT"
    assert "the waiver expired on 2020-01-31" in done.stdout


def test_a_stale_waiver_is_reported_and_fails_the_run_with_the_option(profiles, tmp_path):
    waiver = str(waiver_file(tmp_path, "CALLS-DELETE-204"))
    done, verdict = single(profiles["conformant"], tmp_path / "reports", "--waivers", waiver)
    assert done.returncode == 0 and "STALE WAIVER   CALLS-DELETE-204" in done.stdout and "remove it" in done.stdout
    done, verdict = single(profiles["conformant"], tmp_path / "reports", "--waivers", waiver, "--fail-on-stale-waivers")
    assert done.returncode == 9 and verdict["exit_code"] == 9


def test_a_waiver_of_an_unknown_requirement_is_a_usage_error_before_any_request(profiles, tmp_path):
    done, _ = single(profiles["conformant"], tmp_path / "reports", "--waivers",
                     str(waiver_file(tmp_path, "CALLS-DELETE-2O4")))
    assert done.returncode == 4
    errors = [line for line in (done.stdout + done.stderr).splitlines() if "CALLS-DELETE-2O4" in line]
    assert len(errors) == 1 and "unknown requirement id" in errors[0] and "Traceback" not in done.stderr


def test_regressions_gate_fails_only_on_new_failures(profiles, tmp_path):
    _, good = single(profiles["conformant"], tmp_path / "good")
    done, _ = single(profiles["delete-200"], tmp_path / "now", "--baseline", str(tmp_path / "good"),
                     "--gate", "regressions")
    assert done.returncode == 1 and "REGRESSION newly failing" in done.stdout
    single(profiles["delete-200"], tmp_path / "bad")
    done, verdict = single(profiles["delete-200"], tmp_path / "again", "--baseline",
                           str(tmp_path / "bad" / "verdict.json"), "--gate", "regressions")
    assert done.returncode == 0 and verdict["verdict"] == "NOT CONFORMANT", done.stdout[-2000:]
    assert verdict["baseline"]["counts"]["still failing"] == 1 and verdict["baseline"]["regressions"] == []


def test_an_unreadable_baseline_is_a_usage_error(profiles, tmp_path):
    done, _ = single(profiles["conformant"], tmp_path / "reports", "--baseline", str(tmp_path / "nowhere"))
    assert done.returncode == 4 and "baseline not found" in done.stdout + done.stderr


def test_a_fleet_of_an_unknown_profile_is_a_usage_error(tmp_path):
    done = cli("fleet", "--reports-dir", str(tmp_path / "out"), "no-such-profile-anywhere", cwd=tmp_path)
    assert done.returncode == 4 and "profile not found: no-such-profile-anywhere" in done.stderr


def test_a_waived_must_fault_alone_is_conformant_with_waivers_exit_0(tmp_path):
    """get-unknown-400 breaks one MUST requirement, checked by a test of its own: waived, the run passes."""
    with start_reference(ReferenceSettings.fast(fault="get-unknown-400", window=4.0)) as server:
        account = server.accounts[0]
        (tmp_path / "token").write_text(account.token, encoding="utf-8")
        profile = tmp_path / "lenient.toml"
        profile.write_text(f'base-url = "{server.base_url}"\naccount-sid = "{account.sid}"\n'
                           f'token-file = "{tmp_path / "token"}"\nallow-create = true\nfrom-number = "+15005550006"\n'
                           f'to-number = "+15005550001"\nwindow = 4\n', encoding="utf-8")
        done, unwaived = single(profile, tmp_path / "plain")
        assert done.returncode == 1 and statuses(unwaived)["CALLS-GET-UNKNOWN-404"] == "failed"
        done, verdict = single(profile, tmp_path / "waived", "--waivers",
                               str(waiver_file(tmp_path, "CALLS-GET-UNKNOWN-404", targets_line="lenient")))
    assert done.returncode == 0, done.stdout[-3000:]
    assert verdict["verdict"] == "CONFORMANT-WITH-WAIVERS" and verdict["failed_requirements"] == []
    assert statuses(verdict)["CALLS-GET-UNKNOWN-404"] == "waived"
    assert "VERDICT: CONFORMANT-WITH-WAIVERS" in done.stdout


def test_a_linked_sequence_that_cannot_be_replayed_reports_what_it_found(profiles, tmp_path):
    """Against delete-200 Hypothesis cannot replay the failing sequence on a server whose state moved on;
    the finding of the first pass (an undocumented 200) is the test's result, not the flaky replay."""
    reports = tmp_path / "reports"
    done = cli("--profile", str(profiles["delete-200"]), "--reports-dir", str(reports), "--no-html", "-k", "stateful",
               cwd=tmp_path)
    verdict = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    assert done.returncode == 1, done.stdout[-3000:]
    assert statuses(verdict)["CALLS-CONTRACT-STATUS"] == "failed"
    assert "Flaky" not in json.dumps(verdict)


def test_a_run_shows_its_header_first_one_line_per_file_skips_by_reason_and_its_verdict_last(profiles, tmp_path):
    reports = tmp_path / "reports"
    done = cli("--profile", str(profiles["create-200"]), "--reports-dir", str(reports), "--examples", "1",
               "--no-html", "--color=yes", "-m", "not slow", "-k", "isolation or lifecycle", cwd=tmp_path)
    verdict = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    raw = done.stdout
    text = re.sub(r"\x1b\[[0-9;]*m", "", raw)
    lines = [line for line in text.splitlines() if line.strip()]
    # The header, before the first test: what the run will do, and never a token.
    header = next(i for i, line in enumerate(lines) if line.startswith("calls-conformance: target: "))
    collected = next(i for i, line in enumerate(lines) if line.startswith("collected "))
    assert header < collected and "calls: created, from +15005550006 to +15005550001" in text
    token = (profiles["create-200"].parent / "create-200.token").read_text(encoding="utf-8")
    assert token not in raw
    # A wait is folded into its file's progress line: one line per file (the tests that wait for the
    # lifecycle call's end are a workflow, and a file, of their own).
    assert [Path(line.split()[0]).name for line in lines if "conformance/suite/test_" in line.split()[0]] == \
        ["test_isolation.py", "test_lifecycle.py", "test_lifecycle_end.py"]
    # The skipped tests (no second account in the profile): one line per reason, none per test.
    skips = [line for line in lines if line.startswith("SKIPPED")]
    assert skips and len(skips) == len({line.split(": ", 1)[1] for line in skips})
    assert not any(line.startswith("SKIPPED [") for line in lines)
    # The end: pytest's line counts tests; the requirements in the verdict's words; the verdict, in colour, last.
    words = verdict["counts_by_word"]
    assert words["WARN"] == len(verdict["warnings"]) == 1 and words["FAIL"] == len(verdict["failed_requirements"])
    assert re.match(r"=+ tests: \d+ ", lines[-3])
    assert lines[-2] == counts_line(verdict) and lines[-2].startswith(f"{len(verdict['requirements'])} requirements: ")
    assert lines[-1] == verdict_line(verdict) and lines[-1].startswith(f"VERDICT: {verdict['verdict']} ")
    assert raw.rstrip().endswith("\x1b[0m") and "\x1b[32mPASS\x1b[0m" in raw
    suite = ET.parse(reports / "junit.xml").getroot().find("testsuite")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["verdict"] == verdict["verdict"] and properties["requirements WARN"] == "1"


def test_tests_a_first_failure_kept_from_running_are_not_reached(profiles, tmp_path):
    """-x stops at the first failure: what it kept from running says so, not "no selected test checks it"."""
    done, verdict = single(profiles["delete-200"], tmp_path / "reports", "-x")
    assert done.returncode == 1, done.stdout[-3000:]
    reasons = {reason for row in verdict["requirements"] if row["status"] == "not-run" for reason in row["reasons"]}
    assert "not reached: the run stopped at its first failures (-x or --maxfail)" in reasons
    assert not any("no selected test checks it" in reason for reason in reasons)
