"""The preflight: before any test, a list per account and (on a 5xx) a get of an unknown call tell whether the
run can go on: reachability, TLS, redirects, health, the token and the account. A target that fails it
gets one line and exit code 7, and nothing else is sent."""

from __future__ import annotations

import sys
from urllib.parse import urljoin

from conformance.runner.run import Run
from conformance.deployment.failures import RateLimited, TargetUnavailable


def preflight(run: Run) -> tuple[str, str] | None:
    """(kind, one-line message) when the run cannot go on, else None."""
    cfg = run.config
    checks = [(run.api, cfg.account_sid, "--token")]
    if run.other_api is not None:
        checks.append((run.other_api, cfg.other_account_sid, "--other-token"))
    for client, sid, option in checks:
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
        if status == 404 and "json" not in response.content_type:
            return "wrong-base-url", (f"{cfg.base_url}{path} answered 404: is the base URL right "
                                      f"(it must include the version prefix, e.g. /v1)?")
    return None


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
