"""The preflight: before any test, a list per account and (on a 5xx) a get of an unknown call tell whether the
run can go on: reachability, TLS, redirects, health, the token, the account and the base URL. A target that
fails it gets one line and exit code 7, and nothing else is sent."""

from __future__ import annotations

import re
import sys
from typing import Any
from urllib.parse import urljoin, urlsplit

from conformance.runner.run import Run
from conformance.deployment.failures import RateLimited, TargetUnavailable

_VERSION_SEGMENT = re.compile(r"/v\d+(/|$)")


def preflight(run: Run) -> tuple[str, str] | None:
    """(kind, one-line message) when the run cannot go on, else None."""
    cfg = run.config
    checks = [(run.api, cfg.account_sid, "--token", "--account-sid")]
    if run.other_api is not None:
        checks.append((run.other_api, cfg.other_account_sid, "--other-token", "--other-account-sid"))
    for client, sid, option, sid_option in checks:
        path = client.calls_path()
        try:
            response = client.list_calls()
        except RateLimited as error:
            return "rate-limited", f"the target answers 429 Too Many Requests to every request: {error}"
        except TargetUnavailable as error:
            return error.kind, str(error)
        status = response.status
        if 300 <= status < 400:
            location = response.headers.get("location")
            if not location:
                return "redirect", f"{cfg.base_url}{path} answered {status} without a Location: the base URL is not the API"
            location = urljoin(f"{cfg.base_url}{path}", location)
            suggested = location.removesuffix(path) if location.endswith(path) else None
            if suggested:
                return "redirect", f"the base URL redirects ({status}) to {suggested}: use that URL"
            return "redirect", (f"{cfg.base_url}{path} redirects ({status}) to {location}: the base URL is not the API "
                                f"(the suite never follows redirects)")
        if status >= 500:
            try:
                probe = client.get_call("00000000-0000-4000-8000-000000000000").status
            except TargetUnavailable:
                probe = status
            if probe >= 500:
                return "unhealthy", (f"the target is unhealthy: answered {status} to GET {cfg.base_url}{path}, "
                                     f"and {probe} to a get of a call")
        if status == 401:
            return "token-refused", f"the token ({option}) was refused with 401 by {cfg.base_url}: wrong or expired token"
        if status == 403:
            return "wrong-account", f"the token ({option}) is not allowed on account {sid} (403): wrong account sid for this token"
        answered = _not_the_api(response)
        if answered:
            return "wrong-base-url", _wrong_base_url(cfg.base_url, path, answered, sid_option if status == 404 else None)
    return None


def _not_the_api(response: Any) -> str | None:
    """What the account's own list, asked with the account's own token, answered when that cannot be the list
    the document describes (a JSON array of calls), else None. Only what no deployment of this API answers
    there is taken for a wrong set-up: a list of the wrong status or shape is a finding of the tests."""
    status = response.status
    if status in (404, 405, 410):
        return f"answered {status}"  # whatever the body: no such resource at this address
    if not 200 <= status < 300:
        return None
    try:
        body = response.json()
    except ValueError:
        # A web page is not this API; other bodies that are not JSON are findings (CALLS-LIST-200).
        return f"answered {status} with an HTML page" if response.content_type == "text/html" else None
    if isinstance(body, list) or (isinstance(body, dict) and any(isinstance(v, list) for v in body.values())):
        return None  # a list of calls, or one wrapped in an object (CALLS-LIST-200 judges that)
    return f"answered {status} with JSON that holds no list of calls"


def _wrong_base_url(base_url: str, path: str, answered: str, sid_option: str | None) -> str:
    """The one line of a base URL that is not the API's, with what is most likely wrong: the version prefix
    when the base URL has none, the account sid when the list was not found."""
    line = f"the account's call list (GET {base_url}{path}) {answered}: is the base URL right"
    versioned = _VERSION_SEGMENT.search(urlsplit(base_url).path)
    if not versioned:
        line += " (the version prefix /v1 missing?)"
    if sid_option:
        return f"{line}, and the account sid ({sid_option})?"
    return line if not versioned else f"{line}?"


def passes(run: Run) -> bool:
    """Run the preflight; when it fails, say so once and note the target failure (the run then collects
    nothing and ends with exit code 7 and its verdict.json)."""
    found = preflight(run)
    if found is None:
        return True
    kind, message = found
    run.preflight_error = message
    run.target_failure = {"stage": "preflight", "kind": kind, "message": message, "requests_sent": run.log.total}
    sys.stderr.write(f"calls-conformance: preflight failed: {message}\n")
    sys.stderr.flush()
    return False
