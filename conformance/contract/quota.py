"""The rate-limit vocabulary both sides of the API speak: a quota written as `600/5m`, and the RateLimit header
fields a server announces it with (draft-ietf-httpapi-ratelimit-headers; jambonz sends the draft-6 fields
through express-rate-limit's `standardHeaders: true`: RateLimit-Policy `600;w=300`, RateLimit-Limit,
RateLimit-Remaining and RateLimit-Reset in seconds).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Mapping

#: Seconds in each unit a quota may be written with.
UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_QUOTA = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*([smh])\s*$")


@dataclass(frozen=True)
class Quota:
    """At most `limit` requests in any `window` seconds."""

    limit: int
    window: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= 0:
            raise ValueError("a quota needs at least one request and a window longer than 0 s")

    @property
    def per_second(self) -> float:
        return self.limit / self.window

    def policy(self) -> str:
        """The quota as a RateLimit-Policy field value (`600;w=300`)."""
        return f"{self.limit};w={self.window:g}"

    def __str__(self) -> str:
        for unit, seconds in (("h", 3600.0), ("m", 60.0)):
            if self.window >= seconds and (self.window / seconds).is_integer():
                count = int(self.window / seconds)
                return f"{self.limit}/{'' if count == 1 else count}{unit}"
        return f"{self.limit}/{'' if self.window == 1 else f'{self.window:g}'}s"


def parse_quota(text: str) -> Quota:
    """A quota from `N/s`, `N/m`, `N/h` or with a count of units (`600/5m`, `100/30s`); a plain number is that many
    requests per second, evenly spaced (`2.5`). Raises ValueError saying what is accepted."""
    match = _QUOTA.match(text)
    try:
        if match:
            count, unit = match.group(2), match.group(3)
            return Quota(int(match.group(1)), (float(count) if count else 1.0) * UNITS[unit])
        rate = float(text)
    except ValueError:
        rate = -1.0
    if rate > 0:
        return Quota(1, 1.0 / rate)  # evenly spaced, as the plain number always meant
    raise ValueError(f"not a rate limit: {text!r} (write requests per time, such as 600/5m, 10/s or 1000/1h)")


@dataclass(frozen=True)
class Announced:
    """What one answer says of the quota: `remaining` requests until `reset` seconds from when it was received."""

    limit: int | None
    remaining: int
    reset: float
    window: float | None = None  # of the policy, when one is announced

    @property
    def quota(self) -> Quota | None:
        if self.limit and self.window:
            return Quota(self.limit, self.window)
        return None


def _number(value: str | None) -> float | None:
    try:
        return float(value.strip()) if value is not None else None
    except ValueError:
        return None


def _params(value: str) -> dict[str, str]:
    """`limit=600, remaining=599, reset=300` or `"default";r=50;t=30` as a dict of names to values (first wins)."""
    params: dict[str, str] = {}
    for part in re.split(r"[;,]", value):
        name, _, val = part.partition("=")
        if val:
            params.setdefault(name.strip().lower(), val.strip().strip('"'))
    return params


def _policy(value: str | None) -> tuple[int | None, float | None]:
    """The limit and window of a RateLimit-Policy field: draft-6/7 `600;w=300` or draft-8+ `"name";q=600;w=300`
    (the first policy of a list)."""
    if not value:
        return None, None
    first = value.split(",")[0]
    head = first.split(";")[0].strip()
    params = _params(first)
    limit = _number(params.get("q")) if "q" in params else _number(head)
    return (int(limit) if limit else None), _number(params.get("w"))


def read_announced(headers: Mapping[str, str]) -> Announced | None:
    """The quota an answer announces, from the RateLimit fields of any draft (separate fields, or one `RateLimit`
    field) or the common X-RateLimit-* ones; None when it announces none (or nothing usable)."""
    lower = {k.lower(): v for k, v in headers.items()}
    limit, window = _policy(lower.get("ratelimit-policy"))
    combined = _params(lower.get("ratelimit", ""))
    for prefix in ("ratelimit-", "x-ratelimit-"):
        remaining = _number(lower.get(prefix + "remaining"))
        reset = _number(lower.get(prefix + "reset"))
        if remaining is not None:
            limit = limit or (int(n) if (n := _number(lower.get(prefix + "limit"))) else None)
            break
    else:
        remaining = _number(combined.get("remaining", combined.get("r")))
        reset = _number(combined.get("reset", combined.get("t")))
        limit = limit or (int(n) if (n := _number(combined.get("limit"))) else None)
    if remaining is None or remaining < 0:
        return None
    if reset is None or reset < 0:
        reset = window or 0.0
    elif reset > 10**9:  # X-RateLimit-Reset as a Unix time, as some servers send it
        reset = max(0.0, reset - time.time())
    return Announced(limit, int(remaining), reset, window)
