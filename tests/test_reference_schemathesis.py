"""The reference server against the contract, judged by plain Schemathesis (its own command line, not
this suite): no server error, no contract violation, in every phase including the stateful one."""

import shutil
import subprocess
import sys
from pathlib import Path

from conformance.contract import openapi
from conformance.runner import property_tests
from conformance.reference.server import start_reference
from conformance.reference.settings import ReferenceSettings


def test_plain_schemathesis_finds_no_violation_in_the_reference(tmp_path):
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
    assert st, "the schemathesis command line (st) is installed with the project"
    with start_reference(ReferenceSettings.fast(window=60)) as reference:
        account = reference.accounts[0]
        config = tmp_path / "schemathesis.toml"
        # The account in the path is the token's own: random account sids would only meet 403s.
        config.write_text(f'[parameters]\n"path.account_sid" = "{account.sid}"\n')
        result = subprocess.run(
            [st, "--config-file", str(config), "run", str(openapi.spec_path()), "--url", reference.base_url,
             "-H", f"Authorization: Bearer {account.token}", "--checks", ",".join(property_tests.CHECKS + ["status_code_conformance"]),
             "--mode", "all", "--max-examples", "20", "--generation-deterministic", "--no-color"],
            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "No issues found" in result.stdout
