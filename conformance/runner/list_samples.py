"""A list taken whenever the run holds more calls of its own than at any earlier moment (D-52).

A list cut to a page shows only when the account holds more calls than the page: with a short retention
window the run's calls are seldom visible together, and a list taken at another moment proves nothing. After
each test, when the calls the run created in the tested account and may still see (not deleted, created less
than a window ago) are more than at the last sample, and at least `FEW`, the run lists the account once (at
most `MOST_SAMPLES` times: with a long window the calls stay together and every later list sees them). A call
the list lacks is got (a get that answers it shows that the call was there, and readable), and when one
answers, the account is listed once more, and a call that list lacks too is got again. Nothing is judged
here: the oracle judges every list of the run (`oracle.lists_complete`), these ones included. On a server
that lists every call, a sample costs one list.
"""

from __future__ import annotations

import time
from typing import Any

from conformance.deployment.failures import TargetUnavailable
from conformance.evidence.observed import DELETED, DELETING, sids_of

FEW = 3  # calls of the run's own held at once before a list is taken
MOST_SAMPLES = 2  # lists a run takes this way: a run's whole cost is bounded (D-49)


class ListSampler:
    def __init__(self) -> None:
        self.most = FEW - 1  # the most calls held at a sample so far
        self.taken = 0

    def after_test(self, run: Any) -> None:
        if run.api.session.guard.stopped is not None or self.taken >= MOST_SAMPLES:
            return
        since = time.time() - run.config.window
        held = [c.sid for c in run.budget.created if c.account_sid is None and c.created_at > since
                and c.sid not in DELETED and c.sid not in DELETING]
        if len(held) <= self.most:
            return
        self.most, self.taken = len(held), self.taken + 1
        try:
            self._sample(run.api, held)
        except TargetUnavailable:
            pass  # a sample is extra evidence; the tests meet the target's failure themselves

    def _sample(self, api: Any, held: list[str]) -> None:
        listed = _listed(api)
        there = [sid for sid in held if sid not in listed and _gettable(api, sid)]
        if there:
            listed = _listed(api)
            for sid in [sid for sid in there if sid not in listed]:
                _gettable(api, sid)  # still there after the second list


def _listed(api: Any) -> set[str]:
    body = api.list_calls().success_json()
    return sids_of(body) if isinstance(body, list) else set()


def _gettable(api: Any, sid: str) -> bool:
    return 200 <= api.get_call(sid).status < 300
