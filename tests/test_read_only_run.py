"""A read-only run (no --allow-create) against a reference server: each answer says what it rests on."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from conformance.reference.server import start_reference
from conformance.reference.settings import ReferenceSettings

from tests.test_gates_runs import cli


def test_a_read_only_run_shows_partial_evidence_and_passes_nothing_it_never_probed(tmp_path):
    # A window long enough for the account's ended calls to be seen before they expire.
    with start_reference(ReferenceSettings.fast(window=60.0)) as server:
        account = server.accounts[0]
        (tmp_path / "token").write_text(account.token, encoding="utf-8")
        profile = tmp_path / "read-only.toml"
        profile.write_text(f'base-url = "{server.base_url}"\naccount-sid = "{account.sid}"\n'
                           f'token-file = "{tmp_path / "token"}"\nwindow = 60\n', encoding="utf-8")
        done = cli("--profile", str(profile), "--reports-dir", str(tmp_path / "reports"), "--examples", "2",
                   "--no-html", cwd=tmp_path)
    verdict = json.loads((tmp_path / "reports" / "verdict.json").read_text(encoding="utf-8"))
    rows = {row["id"]: row for row in verdict["requirements"]}
    assert done.returncode == 6 and verdict["verdict"] == "INCOMPLETE", done.stdout[-3000:]
    # Nothing passes on probes that were never sent.
    assert not [rid for rid, row in rows.items() if row["status"] == "passed" and not row["evidence"]["probes"]["judged"]]
    # No mistyped body is sent without --allow-create: the advice is not run, not passed.
    mistyped = rows["CALLS-CREATE-REJECTS-MISTYPED"]
    assert mistyped["status"] == "not-run" and mistyped["evidence"]["probes"]["sent"] == 0
    # Some invalid bodies are sent, the others need --allow-create: a pass on part of its probes.
    invalid = rows["CALLS-CREATE-REJECTS-INVALID"]["evidence"]
    assert invalid["partial"] and "need --allow-create" in invalid["summary"]
    assert verdict["partial"] == sum(1 for row in rows.values() if row["evidence"]["partial"]) > 0
    assert f"INCOMPLETE, {verdict['partial']} passed on partial evidence (exit code 6)" in done.stdout
    assert any(line.startswith("PASS") and "CALLS-CREATE-REJECTS-INVALID  on " in line
               for line in done.stdout.splitlines())
    # The calls the account shows are evidence too: judged on calls the run saw but did not create.
    for rid in ("CALLS-CALL-CALLER-NAME", "CALLS-CALL-DOCUMENTED-FIELDS", "CALLS-CALL-DURATION-ENDED"):
        assert rows[rid]["status"] == "passed", rows[rid]
        assert rows[rid]["evidence"]["calls"]["created"] == 0 < rows[rid]["evidence"]["calls"]["observed"]
    properties = {p.get("name"): p.get("value") for p in ET.parse(tmp_path / "reports" / "junit.xml").iter("property")}
    assert properties["CALLS-CREATE-REJECTS-INVALID"] == f"PASS {invalid['summary']}"
