"""The Allure HTML report of a run: the Allure 3 command-line tool (npm package `allure`, pinned in
package.json) renders `<reports>/allure-results` with `allurerc.mjs` into `<reports>/allure-report/` (to
serve over HTTP) and the single file `<reports>/allure-report-single/index.html`; the history trend is
kept in `<reports>/history.jsonl`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from conformance.reports import REPORT_NAME, RESULTS_DIR
from conformance.deployment.redaction import REDACT

ALLURE_VERSION = "3.18.0"  # the npm package `allure` pinned in package.json
_PACKAGE = Path(__file__).resolve().parent.parent
REPO_ROOT = _PACKAGE.parent
# Bundled in the wheel in the package; at the repository root in a checkout.
ALLURE_CONFIG = next((p for p in (_PACKAGE / "allurerc.mjs", REPO_ROOT / "allurerc.mjs") if p.is_file()),
                     REPO_ROOT / "allurerc.mjs")
HTML_DIR, SINGLE_FILE_DIR = "allure-report", "allure-report-single"


def find_allure() -> str | None:
    local = REPO_ROOT / "node_modules" / ".bin" / "allure"
    return str(local) if local.is_file() else shutil.which("allure")


_ANALYTICS = re.compile(r"<script[^>]*googletagmanager[^>]*></script>\s*<script>[^<]*gtag\([^<]*</script>", re.S)


def strip_analytics(page: Path) -> None:
    """Remove the web-analytics tag Allure's report template carries: a conformance report is opened on
    private networks and must not call out to a third party."""
    if page.is_file():
        html = page.read_text(encoding="utf-8")
        page.write_text(_ANALYTICS.sub("", html), encoding="utf-8")


# Allure 3 (3.18) renders a link whose address is not http(s) as plain text (sanitizeExternalUrl in
# @allurereport/core-api): the requirement links, relative to the report's page (../report.html#ID),
# are made clickable again by this script, in the served report and in the single file opened from disk.
_LINK_SCRIPT = """<script>
(() => {
  const urls = %s;
  const clickable = () => document.querySelectorAll("[data-testid='test-result-meta-link']").forEach((row) => {
    const label = row.lastElementChild;
    const url = label && !row.querySelector("a") && urls[label.textContent.trim()];
    if (!url || label.dataset.href) return;
    label.dataset.href = new URL(url, location.href).href;
    label.setAttribute("role", "link");
    label.title = label.dataset.href;
    label.style.cursor = "pointer";
    label.style.textDecoration = "underline";
    label.addEventListener("click", () => window.open(label.dataset.href, "_blank", "noopener"));
  });
  new MutationObserver(clickable).observe(document.documentElement, { childList: true, subtree: true });
})();
</script>
"""


def local_links(results: Path) -> dict[str, str]:
    """Link name -> address of every link of the results that Allure 3 would show as text (no http(s))."""
    links: dict[str, str] = {}
    for path in Path(results).glob("*-result.json"):
        try:
            found = json.loads(path.read_text(encoding="utf-8")).get("links") or []
        except (OSError, ValueError):
            continue
        for link in found:
            url, name = str(link.get("url") or ""), str(link.get("name") or "")
            if name and url and not re.match(r"(?i)^(https?|mailto|tel):", url):
                links[name] = url
    return links


def make_links_clickable(page: Path, links: dict[str, str]) -> None:
    if page.is_file() and links:
        html = page.read_text(encoding="utf-8")
        script = _LINK_SCRIPT % json.dumps(links).replace("</", "<\\/")
        page.write_text(html.replace("</body>", script + "</body>", 1), encoding="utf-8")


def generate_html(reports_dir: Path, group_by: str | None = None) -> None:
    """Render the HTML report from `<reports>/allure-results`. Prints one line; never raises.
    `group_by`: the labels the report's tree groups by (a fleet's: parentSuite, its target, first)."""
    reports_dir = Path(reports_dir).resolve()
    results = reports_dir / RESULTS_DIR
    if not results.is_dir():
        print(f"calls-conformance: no HTML report: {results} does not exist")
        return
    binary = find_allure()
    if binary is None:
        print(f"calls-conformance: no HTML report (the Allure command-line tool is not installed): run `npm ci` "
              f"in a checkout of the suite, or `npx allure@{ALLURE_VERSION} generate {results} --output <dir>`")
        return
    stage = reports_dir / ".allure-build"
    command = [binary, "generate", str(results), "--output", str(stage)]
    command += ["--config", str(ALLURE_CONFIG)] if ALLURE_CONFIG.is_file() else ["--report-name", REPORT_NAME]
    env = dict(os.environ, CALLS_API_REPORTS_DIR=str(reports_dir), NO_COLOR="1")
    if group_by:
        env["CALLS_API_REPORT_GROUP_BY"] = group_by
    try:
        shutil.rmtree(stage, ignore_errors=True)
        done = subprocess.run(command, cwd=reports_dir, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}").splitlines()[-1]
            raise RuntimeError(f"allure generate failed: {last[:300]}")
        outputs = {HTML_DIR: stage / "awesome" if (stage / "awesome").is_dir() else stage,
                   SINGLE_FILE_DIR: stage / "single-file"}
        for name, built in outputs.items():
            if built.is_dir():
                shutil.rmtree(reports_dir / name, ignore_errors=True)
                shutil.move(str(built), str(reports_dir / name))
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        print(f"calls-conformance: HTML report not generated: {REDACT(str(error))}")
        return
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    links = local_links(results)
    for page in (reports_dir / HTML_DIR / "index.html", reports_dir / SINGLE_FILE_DIR / "index.html"):
        strip_analytics(page)
        make_links_clickable(page, links)
    print(opening_line(reports_dir))


def opening_line(reports_dir: Path) -> str:
    """Where to open the Allure report: first what opens from disk, then how to serve the other (its data is
    loaded by scripts, which a browser refuses from file://). Served from the reports directory, its
    requirement links reach the requirement page beside it."""
    single = reports_dir / SINGLE_FILE_DIR / "index.html"
    served = f"serve with: python3 -m http.server -d {reports_dir}, then open http://localhost:8000/{HTML_DIR}/"
    if single.is_file():
        return f"calls-conformance: Allure report (opens from disk): {single}; {served}"
    return f"calls-conformance: Allure report: {served}"
