"""The reports of a failing run, as a reader finds them: verdict.json, junit.xml, report.html and the Allure
report in Chromium.

Runs the suite (`python -m conformance`) against a reference server with a fault that breaks
CALLS-DELETE-204, then opens report.html and the generated Allure report in headless Chromium (the Debian
packages `chromium` and `chromium-driver`; nothing is downloaded) and checks that they show the verdict and
the failing requirement. Screenshots are saved under the run's reports directory.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from conformance.contract.catalogue import load_catalogue
from conformance.reference.faults import FAULTS
from conformance.reference.server import start_reference
from conformance.reference.settings import ReferenceSettings

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
REQUIREMENT = "CALLS-DELETE-204"


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One suite run against a reference server whose deletes answer 200 instead of 204."""
    fault = next(f for f in FAULTS.values() if f.requirement == REQUIREMENT)
    reports = tmp_path_factory.mktemp("reports")
    with start_reference(ReferenceSettings.fast(fault=fault.name, window=4.0)) as server:
        main, other = server.accounts[0], server.accounts[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
        env.update(CALLS_API_TOKEN=main.token, CALLS_API_OTHER_TOKEN=other.token)
        command = [sys.executable, "-m", "conformance", "--reports-dir", str(reports),
                   "--base-url", server.base_url, "--account-sid", main.sid, "--other-account-sid", other.sid,
                   "--allow-create", "--from-number", "+15005550006", "--to-number", "+15005550001",
                   "--window", "4", "--examples", "5", "-m", "not slow"]
        started = time.monotonic()
        done = subprocess.run(command, cwd=reports, env=env, capture_output=True, text=True, timeout=900)
        seconds = time.monotonic() - started
    print(f"suite run against fault {fault.name}: exit {done.returncode} in {seconds:.0f} s, reports in {reports}")
    yield {"reports": reports, "done": done, "fault": fault.name}


def test_verdict_and_junit_name_the_failing_requirement(failing_run: dict[str, Any]) -> None:
    reports, done = failing_run["reports"], failing_run["done"]
    assert done.returncode == 1, f"expected NOT CONFORMANT (exit 1):\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    verdict = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    assert verdict["verdict"] == "NOT CONFORMANT"
    assert REQUIREMENT in verdict["failed_requirements"]
    row = next(r for r in verdict["requirements"] if r["id"] == REQUIREMENT)
    assert row["status"] == "failed" and row["failures"][0]["code"]
    failures = [f for case in ET.parse(reports / "junit.xml").iter("testcase") for f in case.iter("failure")]
    assert any(REQUIREMENT in (f.get("message", "") + (f.text or "")) for f in failures)
    assert "calls-conformance: Allure report (opens from disk):" in done.stdout


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def http_root(failing_run: dict[str, Any]) -> Iterator[str]:
    """The reports directory over http on 127.0.0.1 (the multi-file report does not load from file://)."""
    handler = functools.partial(_QuietHandler, directory=str(failing_run["reports"]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()




def _text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def _wait_for(driver: Any, predicate: Any, what: str, timeout: float = 30) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.25).until(lambda d: predicate(_text(d)), message=what)


def _screenshots(reports: Path) -> Path:
    (reports / "screenshots").mkdir(exist_ok=True)
    return reports / "screenshots"


def _junit_counts(reports: Path) -> tuple[int, int]:
    cases = list(ET.parse(reports / "junit.xml").iter("testcase"))
    return len(cases), sum(1 for case in cases if case.find("failure") is not None or case.find("error") is not None)


def _statistic(driver: Any, name: str) -> int | None:
    """A number of the overview's statistic block ("total", "failed", "passed"...), None when not shown."""
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, f"[data-testid='metadata-item-{name}']")
    numbers = re.findall(r"\d+", found[0].text) if found else []
    return int(numbers[-1]) if numbers else None


def _click_first_shown(browser: Any, selector: str, what: str) -> None:
    """Click the first displayed element matching `selector`; the report re-renders its tree while a search
    settles, so an element found a moment ago may be gone: look again until one click lands."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def click(driver: Any) -> bool:
        shown = [e for e in driver.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()]
        if shown:
            shown[0].click()
        return bool(shown)

    WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException,)).until(click, what)


def test_html_report_shows_totals_and_the_failing_requirement(failing_run: dict[str, Any], http_root: str,
                                                              browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    reports = failing_run["reports"]
    shots = _screenshots(reports)
    assert (reports / "allure-report" / "index.html").is_file(), failing_run["done"].stdout[-2000:]
    browser.get(f"{http_root}/allure-report/index.html")
    _wait_for(browser, lambda t: "Total" in t and "Calls API conformance" in t, "the overview did not load")
    overview = _text(browser)
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(shots / "overview.png"))
    cases, failed = _junit_counts(reports)
    assert _statistic(browser, "total") == cases, overview[:1500]
    # Allure tells failed (a check) from broken (another error); junit.xml tells failures from setup errors.
    assert (_statistic(browser, "failed") or 0) + (_statistic(browser, "broken") or 0) == failed >= 1, overview[:1500]
    assert "NOT CONFORMANT" in overview and REQUIREMENT in overview  # the run's metadata

    search = browser.find_element(By.CSS_SELECTOR, "[data-testid='search-input']")
    search.send_keys(REQUIREMENT)
    title = load_catalogue()[REQUIREMENT].title
    _wait_for(browser, lambda t: title in t, "the search did not find the failing requirement's story")
    _click_first_shown(browser, "[data-testid='tree-leaf']", "no test listed under the failing requirement")
    _wait_for(browser, lambda t: f"{REQUIREMENT} [" in t and "Failed" in t, "the failing test did not open")
    browser.save_screenshot(str(shots / "failing-test.png"))

    links = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "[data-testid='test-result-meta-link']")]
    assert REQUIREMENT in links

    # The run's one-page report is in the Allure report, under Global Attachments.
    browser.get(f"{http_root}/allure-report/index.html")
    _wait_for(browser, lambda t: "Global Attachments" in t, "the overview did not load again")
    browser.find_element(By.CSS_SELECTOR, "[data-testid='nav-tab-globalAttachments']").click()
    WebDriverWait(browser, 10).until(
        lambda d: d.find_elements(By.XPATH, "//*[normalize-space(text())='report.html']"), "no one-page report")
    browser.find_element(By.XPATH, "//*[normalize-space(text())='report.html']").click()
    frame = WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.TAG_NAME, "iframe"), "no preview")[0]
    browser.save_screenshot(str(shots / "report-attachment.png"))
    browser.switch_to.frame(frame)
    row = browser.find_element(By.ID, REQUIREMENT)
    assert "FAIL" in row.get_attribute("class") and title in row.text
    browser.switch_to.default_content()


def test_single_file_report_opens_from_disk(failing_run: dict[str, Any], browser: Any) -> None:
    reports = failing_run["reports"]
    single = reports / "allure-report-single" / "index.html"
    assert single.is_file()
    assert not [p for p in single.parent.iterdir() if p.suffix in (".js", ".css")]  # nothing beside it to load
    browser.get(single.as_uri())
    _wait_for(browser, lambda t: "Total" in t and "Calls API conformance" in t, "the single file did not load")
    cases, _ = _junit_counts(reports)
    assert _statistic(browser, "total") == cases
    browser.save_screenshot(str(_screenshots(reports) / "single-file.png"))


def test_report_page_shows_the_verdict_and_the_first_failure_on_the_first_screen(failing_run: dict[str, Any],
                                                                                browser: Any) -> None:
    from selenium.webdriver.common.by import By

    reports = failing_run["reports"]
    page = reports / "report.html"
    browser.set_window_size(1280, 800)
    browser.get(page.as_uri())
    assert browser.execute_script("return window.scrollY") == 0
    height = browser.execute_script("return window.innerHeight")

    def on_first_screen(element: Any) -> bool:
        box = browser.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.top, r.bottom]", element)
        return 0 <= box[0] and box[1] <= height

    headline = browser.find_element(By.ID, "verdict")
    assert headline.text == "NOT CONFORMANT" and on_first_screen(headline)
    # The failures come in catalogue order: the first is the run's first failed requirement.
    verdict = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    first = browser.find_element(By.CSS_SELECTOR, "#failures .finding .rid")
    assert first.text == verdict["failed_requirements"][0] and on_first_screen(first)
    browser.save_screenshot(str(_screenshots(reports) / "report-first-screen.png"))

    anchors = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "a[href^='#']")]
    assert anchors
    missing = [href for href in anchors
               if not browser.execute_script("return document.getElementById(arguments[0]) !== null",
                                             href.split("#", 1)[1])]
    assert not missing
    exchanges = browser.find_elements(By.CSS_SELECTOR, "a.exchange")
    assert exchanges and all(Path(unquote(urlparse(a.get_attribute("href")).path)).is_file() for a in exchanges)
    # The background watches' timeline, which verdict.json keeps for it, is on the page.
    assert verdict["stats"]["timeline"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#window tr")) == len(verdict["stats"]["timeline"]) + 1
