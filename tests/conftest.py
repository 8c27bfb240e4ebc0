"""Fixtures shared by the project's own tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "conformance" / "suite"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1000")

# Run in a child process: collect the suite as a run does (embedded reference, plugin loaded) and write
# {node id: [requirement ids]} to the file named by argv[1]. The recorder runs first among the collection
# hooks, so it sees every item before -m deselects the retention-window tests (whose watch would
# otherwise create a call at the end of collection).
_COLLECT = r"""
import json, sys
import pytest

class Recorder:
    def __init__(self):
        self.items = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items):
        for item in items:
            ids = [rid for mark in item.iter_markers("requirements") for rid in mark.args]
            self.items[item.nodeid] = sorted(set(ids))

recorder = Recorder()
code = pytest.main(sys.argv[2:], plugins=[recorder])
with open(sys.argv[1], "w", encoding="utf-8") as handle:
    json.dump({"exit": int(code), "items": recorder.items}, handle)
"""


@pytest.fixture(scope="session")
def suite_requirements(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Node id -> requirement ids, for every test of the conformance suite, as pytest collects them."""
    work = tmp_path_factory.mktemp("suite-collection")
    out = work / "items.json"
    args = [sys.executable, "-c", _COLLECT, str(out), "-p", "conformance.runner.plugin", "-p", "no:cacheprovider",
            "-c", str(SUITE / "conformance.ini"), "--rootdir", str(ROOT),
            "--collect-only", "-q", "-m", "not window", "--reports-dir", str(work / "reports"), str(SUITE)]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if not out.exists():
        pytest.fail(f"collecting the suite failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    items = json.loads(out.read_text(encoding="utf-8"))["items"]
    if not items:
        pytest.fail(f"no test collected from {SUITE}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return items


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium for the tests that open a report page (skipped without the Debian packages)."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("headless Chromium is not installed (Debian packages chromium and chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROME_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
