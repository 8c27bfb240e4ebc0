"""The cleanup at the end of a run: every call the run created is deleted in the account it was made in,
with every listed call of that account carrying the run's tag; what is still listed afterwards is
reported. Bounded in time, and whatever the target answers it ends with a line, never a traceback."""

from __future__ import annotations

from typing import Any

from conformance.evidence.observed import DELETED
from conformance.runner.run import Run
from conformance.deployment.api import ApiClient
from conformance.deployment.config import TargetConfig
from conformance.deployment.failures import TargetFailed, TargetUnavailable
from conformance.deployment.redaction import REDACT


def cleanup_budget(cfg: TargetConfig, created: int, quota_wait: float = 0.0) -> float:
    """Seconds the cleanup may take: ten request timeouts, and one more per call to delete (at most 5 min), plus
    the wait for a rate-limited target's quota to come back (`quota_wait`: its window, at most an hour)."""
    return min(300.0, (10 + created) * cfg.request_timeout) + min(quota_wait, 3600.0)


def clean_up(run: Run) -> None:
    """Delete the run's calls (a deployment may also place a call for a create it refused: the tagged ones go
    too); `run.leftovers` lists what is still there, and why the cleanup could not finish."""
    if not run.budget.created and not run.config.allow_create:
        return  # nothing was sent that could place a call
    pacer = run.api.session.pacer
    # The requests kept for it are the cleanup's now; a 429 is waited out, within its own budget, not given up on.
    pacer.in_cleanup = True
    run.api.session.guard.reopen(cleanup_budget(run.config, len(run.budget.created), pacer.window()))
    problems: list[str] = []

    def attempt(action: Any, *args: Any) -> Any:
        """One step of the cleanup; a failed one is noted and the cleanup goes on (until the target stops)."""
        try:
            return action(*args)
        except TargetFailed:
            raise
        except (Exception, RecursionError, MemoryError) as error:  # noqa: BLE001 - a hostile answer, not a crash
            problems.append(str(error) if isinstance(error, TargetUnavailable) else f"{type(error).__name__}: {error}")
            return None

    accounts = [(run.api, {c.sid for c in run.budget.created if c.account_sid is None})]
    if run.other_api is not None:
        accounts.append((run.other_api, {c.sid for c in run.budget.created if c.account_sid == run.other_api.account_sid}))
    leftovers: set[str] = set()
    try:
        for client, created in accounts:
            if not created and client is not run.api:
                continue
            # A call whose delete the target accepted is gone, unless it was live and its next status update
            # wrote it again (D-21): the list right after finds those, and they go with the tagged ones.
            remaining = {sid for sid in created if sid not in DELETED}
            for sid in sorted(remaining):
                attempt(client.delete_call, sid)
            listed = attempt(_listed_sids, run, client)
            tagged = (listed[1] | (listed[0] & created)) if listed else set()
            for sid in sorted(tagged - remaining):
                attempt(client.delete_call, sid)
            final = attempt(_listed_sids, run, client) if created or tagged else (set(), set())
            if final is not None:
                seen, still_tagged = final
                leftovers |= (seen & (created | tagged)) | still_tagged
    except TargetFailed as error:
        problems.append(str(error))
    run.leftovers = sorted(leftovers)
    if problems:
        first = REDACT.cut(problems[0].splitlines()[0] if problems[0] else "", 300)
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        run.leftovers.append(f"(cleanup incomplete: {first}{more})")


def _listed_sids(run: Run, client: ApiClient) -> tuple[set[str], set[str]]:
    """The sids the client's account lists now, and those of them that carry this run's tag."""
    listed = client.list_calls().success_json()
    calls = [c for c in listed if isinstance(c, dict) and isinstance(c.get("call_sid"), str)] \
        if isinstance(listed, list) else []
    tagged = {c["call_sid"] for c in calls
              if isinstance(c.get("tag"), dict) and c["tag"].get("conformance_run") == run.config.run_id}
    return {c["call_sid"] for c in calls}, tagged
