"""What the retention-window watch saw of its call, and what those samples prove.

The moment the call ended is bracketed between the last request that still saw it active and the first
that saw it ended (`end_lower` <= end <= `end_upper`, monotonic seconds). A sample counts as inside the
window only when it was sent after `end_upper` and answered before `end_lower + window`: whatever the
true end, the server handled the request inside the window. A sample sent after `end_upper + window`
was handled once the window had certainly closed; after `end_upper + window + grace`, once the grace
period had passed too: a call still shown then has outstayed the window (D-48).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.evidence.watches.sampler import Sample
from conformance.deployment.exchange import Exchange


@dataclass
class WindowRecord:
    """The watch's record. Read it only after the watch's `visible_done` (samples) or `done` (expiry)."""

    window: float
    grace: float
    sid: str | None = None
    created_sent: float | None = None  # monotonic time the create was sent
    create_exchange: Exchange | None = None
    polls: list[Sample] = field(default_factory=list)  # gets while waiting for the end
    lost: Sample | None = None  # a 404 before the call was seen ending
    mismatch: Sample | None = None  # a get that answered another call than the one asked for
    end_lower: float | None = None
    end_upper: float | None = None
    samples: list[Sample] = field(default_factory=list)  # gets and lists planned inside the window
    expiry: list[Sample] = field(default_factory=list)  # gets and lists once the window has closed

    def inside_window(self, sample: Sample) -> bool:
        """The server handled the request after the call ended and before the window closed."""
        if self.end_lower is None or self.end_upper is None:
            return False
        return sample.sent >= self.end_upper and sample.received <= self.end_lower + self.window

    def after_close(self, sample: Sample) -> bool:
        """The request was sent once the window had certainly closed (the grace period may not have passed)."""
        return self.end_upper is not None and sample.sent >= self.end_upper + self.window

    def after_window(self, sample: Sample) -> bool:
        """The request was sent once the window and the grace period had certainly passed."""
        return self.end_upper is not None and sample.sent >= self.end_upper + self.window + self.grace

    def gone(self) -> tuple[Sample, Sample] | None:
        """The first get and list, both sent after the window closed, that did not find the call."""
        for get, listed in zip(self.expiry, self.expiry[1:]):
            if (get.kind, listed.kind) == ("get", "list") and get.error is None and listed.error is None \
                    and get.present is False and listed.present is False and self.after_close(get):
                return get, listed
        return None

    def since_end(self, sample: Sample) -> tuple[float, float]:
        """How long after the end the request was handled: a range, since the end is bracketed."""
        assert self.end_lower is not None and self.end_upper is not None
        return max(0.0, sample.sent - self.end_upper), max(0.0, sample.received - self.end_lower)

    def describe(self, phase: str, skip_reason: str | None) -> str:
        """A one-paragraph account of what the watch saw, for test output."""
        parts = [f"watched call {self.sid or '(none)'}; phase {phase}"]
        if self.polls:
            statuses = [p.call_status or str(p.status) for p in self.polls]
            compact = [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]]
            parts.append("statuses seen: " + " -> ".join(compact))
        if self.end_lower is not None and self.end_upper is not None:
            parts.append(f"ended between {self.end_lower - (self.created_sent or 0):.2f} s and "
                         f"{self.end_upper - (self.created_sent or 0):.2f} s after its create")
        for sample in self.samples + self.expiry:
            if self.end_lower is None:
                break
            lo, hi = self.since_end(sample)
            where = ("inside the window" if self.inside_window(sample) else
                     "after the window and grace" if self.after_window(sample) else
                     "after the window, within the grace" if self.after_close(sample) else "at the edge of the window")
            seen = "error: " + sample.error if sample.error else ("present" if sample.present else "absent")
            parts.append(f"{sample.kind} {lo:.2f}-{hi:.2f} s after the end ({where}): {sample.status} {seen}")
        if skip_reason:
            parts.append("not judged: " + skip_reason)
        return "\n  ".join(parts)
