"""When the retention-window watch sends what: polls until its call ends, samples inside the window (the
last one just before it closes), and looks for the call gone once the window has certainly closed."""

from __future__ import annotations

#: Fractions of the window at which the call is sampled (the last sample is planned separately,
#: just before the window closes).
SAMPLE_FRACTIONS = (0.25, 0.5, 0.75)
#: Fractions of the grace period, after the window has certainly closed, at which the watch looks for
#: the call gone; the look at 1.0 (window and grace passed) is the one a lingering call fails.
EXPIRY_FRACTIONS = (0.05, 0.3, 1.0)
#: Consecutive failed requests (transport errors, 5xx, 429 after retries) after which the watch gives up.
MAX_CONSECUTIVE_ERRORS = 5


def poll_interval(window: float) -> float:
    """Seconds between polls while waiting for the call to end: proportional to the window."""
    return min(15.0, max(0.2, window / 20.0))


def window_plan(end_lower: float, end_upper: float, window: float) -> list[float]:
    """When to sample inside the window (monotonic): as soon as the end is known, then at fractions of
    the window. A sample planned before `end_upper` is pushed after it (it would prove nothing about the
    ended call); the last sample, just before the window closes, is planned once latencies are known."""
    return [end_upper] + [max(end_upper, end_lower + f * window) for f in SAMPLE_FRACTIONS]


def last_sample_margin(window: float, latencies: list[float]) -> float:
    """How long before the window closes the last get-plus-list starts: twice the slowest pair seen so
    far, and a little for the scheduler (at most a quarter of the window)."""
    return min(window / 4, 0.1 + 2 * 2 * max(latencies or [0.0]))


def expiry_plan(end_upper: float, window: float, grace: float) -> list[float]:
    """When to look for the call gone (monotonic): soon after the window has certainly closed, so that a
    server that expires it on time ends the watch at once, and last when the grace period has passed."""
    return [end_upper + window + f * grace for f in EXPIRY_FRACTIONS]
