"""The life of a call: the stages it goes through, and the outcome its destination number decides.

A call's plan is fixed when the call is made: a list of stages, each starting at a clock time. The
status at any moment is the last stage begun, so a status never depends on who asks or how often.

Outcome numbers (the last three digits of the destination's digits):

| ends in | outcome |
|---|---|
| `486` | `trying` -> `ringing`/180 -> `busy`/486 when it would have been answered; duration 0 |
| `487` | `trying` -> `ringing`/180 -> `no-answer`/487 when it would have ended; duration 0 |
| `503` | `trying` -> `failed`/503 when it would have rung; duration 0 |
| `183` | `trying` -> `early-media`/183 -> `in-progress`/200 -> `completed`/200 with a duration |
| anything else | `trying`/100 -> `ringing`/180 -> `in-progress`/200 -> `completed`/200 with a duration |
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.reference.settings import Timings

TERMINAL_STATUSES = frozenset({"completed", "failed", "busy", "no-answer"})
ACTIVE_STATUSES = frozenset({"queued", "trying", "ringing", "early-media", "in-progress"})
STATUSES = ACTIVE_STATUSES | TERMINAL_STATUSES

#: Destination suffix -> name of the outcome (documented in docs/reference-server.md).
OUTCOME_NUMBERS = {"486": "busy", "487": "no-answer", "503": "failed", "183": "early-media"}


@dataclass(frozen=True)
class Stage:
    at: float  # clock seconds
    call_status: str
    sip_status: int


@dataclass(frozen=True)
class Plan:
    """The stages of one call, in time order. `answered_at`/`ended_at` are None when never reached."""

    stages: tuple[Stage, ...]
    answered_at: float | None
    ended_at: float | None

    def __post_init__(self) -> None:
        if not self.stages or any(b.at < a.at for a, b in zip(self.stages, self.stages[1:])):
            raise ValueError("a plan needs stages in time order")

    def stage_at(self, now: float) -> Stage:
        current = self.stages[0]
        for stage in self.stages:
            if stage.at <= now:
                current = stage
            else:
                break
        return current

    def ended(self, now: float) -> bool:
        return self.ended_at is not None and now >= self.ended_at

    def duration(self) -> int:
        """Whole seconds between answer and end; 0 for a call never answered."""
        if self.ended_at is None or self.answered_at is None:
            return 0
        return max(0, int(round(self.ended_at - self.answered_at)))


def outcome_for(destination: str) -> str:
    digits = "".join(ch for ch in destination if "0" <= ch <= "9")
    return OUTCOME_NUMBERS.get(digits[-3:], "completed")


def plan_call(created_at: float, timings: Timings, destination: str) -> Plan:
    """The plan of an outbound call to `destination` created at `created_at`."""
    ring = created_at + timings.ring_after
    answer = created_at + timings.answer_after
    end = created_at + timings.call_length
    trying = Stage(created_at, "trying", 100)
    outcome = outcome_for(destination)
    if outcome == "failed":
        return Plan((trying, Stage(ring, "failed", 503)), None, ring)
    if outcome == "busy":
        return Plan((trying, Stage(ring, "ringing", 180), Stage(answer, "busy", 486)), None, answer)
    if outcome == "no-answer":
        return Plan((trying, Stage(ring, "ringing", 180), Stage(end, "no-answer", 487)), None, end)
    alerting = Stage(ring, "early-media", 183) if outcome == "early-media" else Stage(ring, "ringing", 180)
    return Plan((trying, alerting, Stage(answer, "in-progress", 200), Stage(end, "completed", 200)), answer, end)


def plan_inbound(started_at: float, answered_at: float, ended_at: float) -> Plan:
    """An inbound call as seeded: it rang, was answered and ends (or ended) at the given times."""
    return Plan(
        (Stage(started_at, "trying", 100), Stage(started_at + min(0.5, answered_at - started_at), "ringing", 180),
         Stage(answered_at, "in-progress", 200), Stage(ended_at, "completed", 200)),
        answered_at, ended_at,
    )
