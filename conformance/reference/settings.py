"""Settings of the reference server: where it listens, its accounts, its timings and its behaviour."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from conformance.contract.quota import Quota


@dataclass(frozen=True)
class Account:
    """An account the server knows, with the one API token that acts for it and its application (a create
    may name its own application, never another account's)."""

    sid: str
    token: str = field(repr=False)
    application_sid: str | None = None


#: The two accounts every reference server has unless told otherwise. Constant, so that a profile
#: file or a curl command written once keeps working.
ACCOUNT_A = Account(sid="8314ce10-d397-4c60-a623-2995d177816a", token="d8972e5a-5229-4c00-8f88-9637245ab2a6",
                    application_sid="0d27aee6-d1e6-4707-bdde-1cc20b50ca88")
ACCOUNT_B = Account(sid="1307929f-7ee4-4fa5-aab8-3548b1353ca0", token="6b855d73-6026-4855-99b8-49f2241ceb0f",
                    application_sid="5c7f2e0a-93b4-4c1e-8d2a-7e61f0b9a3d4")
DEFAULT_ACCOUNTS: tuple[Account, ...] = (ACCOUNT_A, ACCOUNT_B)

#: application_sid of the seeded inbound calls.
SEED_APPLICATION_SID = "b18aeae4-4579-4509-a69e-62572304e7b2"


@dataclass(frozen=True)
class Timings:
    """When a created call changes status, in seconds after its creation.

    A call is `trying` at once, `ringing` after `ring_after`, `in-progress` (answered) after
    `answer_after`, and `completed` after `call_length`; its `duration` is then the answered time,
    `call_length - answer_after`, rounded to whole seconds.
    """

    ring_after: float = 1.0
    answer_after: float = 3.0
    call_length: float = 10.0

    def __post_init__(self) -> None:
        if not 0 <= self.ring_after <= self.answer_after <= self.call_length:
            raise ValueError("timings must satisfy 0 <= ring_after <= answer_after <= call_length, "
                             f"got {self.ring_after}, {self.answer_after}, {self.call_length}")

    def scaled(self, factor: float) -> "Timings":
        return Timings(self.ring_after * factor, self.answer_after * factor, self.call_length * factor)


#: Standalone default: ring after 1 s, answered after 3 s, ended after 10 s (duration 7).
STANDARD_TIMINGS = Timings()
#: For the embedded run: a whole call lasts one second (duration 1).
FAST_TIMINGS = Timings(ring_after=0.1, answer_after=0.3, call_length=1.0)
TIMING_PRESETS = {"standard": STANDARD_TIMINGS, "fast": FAST_TIMINGS}


@dataclass(frozen=True)
class ReferenceSettings:
    """Everything a reference server needs. The defaults make a conformant standalone server."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port is chosen
    window: float = 600.0  # seconds an ended call stays visible
    timings: Timings = STANDARD_TIMINGS
    accounts: tuple[Account, ...] = DEFAULT_ACCOUNTS
    seeded_calls: int = 3  # inbound calls per account present from the start
    max_body: int = 64 * 1024  # bytes; a larger create body answers 413
    fault: str | None = None  # a name of faults.FAULTS
    variant: str | None = None  # a name of faults.VARIANTS
    service_url: str = "https://cpaas.example.com"
    quota: Quota | None = None  # requests allowed per fixed window, shared by every client (None: no limit)
    quota_headers: bool = True  # announce the quota in RateLimit-* headers (False: enforce it unannounced)

    def __post_init__(self) -> None:
        if self.window <= 0:
            raise ValueError("window must be positive")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port out of range: {self.port}")
        if len(self.accounts) < 1:
            raise ValueError("at least one account is needed")
        if len({a.sid for a in self.accounts}) != len(self.accounts) or \
                len({a.token for a in self.accounts}) != len(self.accounts):
            raise ValueError("account sids and tokens must be distinct")
        applications = [a.application_sid for a in self.accounts if a.application_sid]
        if len(set(applications)) != len(applications):
            raise ValueError("an application belongs to one account")
        if self.seeded_calls < 0 or self.max_body < 1:
            raise ValueError("seeded_calls must be >= 0 and max_body >= 1")
        if self.fault is not None and self.variant is not None:
            raise ValueError("a server runs one fault or one variant, not both")
        if self.quota is not None and not isinstance(self.quota, Quota):
            raise ValueError(f"quota must be a Quota (e.g. parse_quota('600/5m')), not {self.quota!r}")
        if not isinstance(self.quota_headers, bool):
            raise ValueError(f"quota_headers must be True or False, not {self.quota_headers!r}")
        # Unknown fault and variant names are refused where the registries are (faults.behaviour_for).

    @classmethod
    def fast(cls, **changes: object) -> "ReferenceSettings":
        """The preset of the embedded run: a call's whole life takes about one second."""
        changes.setdefault("timings", FAST_TIMINGS)
        return cls(**changes)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> "ReferenceSettings":
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def account(self, sid: str) -> Account | None:
        return next((a for a in self.accounts if a.sid == sid), None)

    def application_owner(self, application_sid: str) -> Account | None:
        return next((a for a in self.accounts if a.application_sid == application_sid), None)
