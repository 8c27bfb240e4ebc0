"""Reference implementation of the Calls API: the default target of the suite and the executable form
of the contract (`openapi.yaml`). A conformant server by default; with a fault it breaks exactly one
requirement of the catalogue, with a variant it differs in ways the vendor document allows.

    from conformance.reference import ReferenceSettings, start_reference
    with start_reference(ReferenceSettings.fast(window=4)) as server:
        server.base_url, server.accounts
"""

from conformance.reference.app import create_app
from conformance.reference.clock import Clock, FakeClock
from conformance.reference.faults import FAULTS, VARIANTS, Fault, Variant
from conformance.reference.server import ReferenceStartError, RunningReference, start_reference
from conformance.reference.settings import (
    ACCOUNT_A, ACCOUNT_B, DEFAULT_ACCOUNTS, FAST_TIMINGS, STANDARD_TIMINGS, Account, ReferenceSettings, Timings,
)

__all__ = [
    "ACCOUNT_A", "ACCOUNT_B", "DEFAULT_ACCOUNTS", "FAST_TIMINGS", "FAULTS", "STANDARD_TIMINGS", "VARIANTS",
    "Account", "Clock", "FakeClock", "Fault", "ReferenceSettings", "ReferenceStartError", "RunningReference",
    "Timings", "Variant", "create_app", "start_reference",
]
