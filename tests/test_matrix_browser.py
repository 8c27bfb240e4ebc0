"""The fleet matrix page as a reader finds it: opened from disk in headless Chromium, one column per target.

Needs the Debian packages `chromium` and `chromium-driver` (skipped without them; nothing is downloaded).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.reports import matrix
from gate_helpers import TEST, make_verdict

pytestmark = pytest.mark.browser

TARGETS = ("eu-prod", "us-prod", "staging")




def test_matrix_page_shows_a_column_per_target_with_its_cells(tmp_path: Path, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    verdicts = [make_verdict(), make_verdict({"CALLS-DELETE-204": [("CF101", TEST)]}),
                make_verdict({"CALLS-CREATE-201": [("CF101", "t")]})]
    runs = []
    for name, verdict in zip(TARGETS, verdicts):
        (tmp_path / name).mkdir()
        verdict["target"]["name"] = name
        (tmp_path / name / "verdict.json").write_text(json.dumps(verdict), encoding="utf-8")
        runs.append(matrix.read_run(tmp_path / name))
    matrix.write(runs, tmp_path / "out")
    browser.get((tmp_path / "out" / matrix.MATRIX_HTML).resolve().as_uri())
    heads = browser.find_elements(By.CSS_SELECTOR, "th.target")
    assert [h.get_attribute("data-target") for h in heads] == list(TARGETS)
    assert all(h.is_displayed() for h in heads)
    row = browser.find_element(By.ID, "CALLS-DELETE-204")
    cells = [c.text.split("\n")[0] for c in row.find_elements(By.TAG_NAME, "td")[1:]]
    assert cells == ["PASS", "FAIL", "PASS"]
    row = browser.find_element(By.ID, "CALLS-CREATE-201")
    assert [c.text.split("\n")[0] for c in row.find_elements(By.TAG_NAME, "td")[1:]] == ["PASS", "PASS", "WARN"]
    failing = browser.find_element(By.CSS_SELECTOR, "#CALLS-DELETE-204 td.FAIL")
    assert failing.get_attribute("title").startswith("[CF101]")
    browser.save_screenshot(str(tmp_path / "out" / "matrix.png"))
