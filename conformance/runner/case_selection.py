"""Which generated cases of the coverage phase are sent: one per kind of defect and place.

Schemathesis' coverage phase writes each defect it knows in every form it knows: five wrong JSON types for
one field, six methods the contract does not offer, the same bad pattern in every optional field. Measured on
the reference's fault zoo (bench/property_yield.py; docs/benchmarks.md, "Where generated requests find
faults"), the forms of one kind at one place found what the first of them found, and the optional fields of a
create found nothing their first did not. A deployment's quota is shared with its real traffic, so a run
sends the first case of each kind at each place of the request that decides what the call is (the path, the
credentials, the body's type, its required fields and the destination's type and address), and the first case
of each kind among the optional fields. Defects of the path's sids and of the credentials are left to the
scenario tests, which probe them on every operation. `--coverage-cases all` sends every case, for a deeper run
where requests cost nothing; `--examples` governs the fuzzing phase.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from conformance.contract import openapi

OPTIONAL_FIELD = "an optional field"
ANY_METHOD = "a method the contract does not offer"
#: Parameters whose defects the scenario tests probe on every operation, each form worded for what it is:
#: malformed sids in the path (test_bad_input.py) and missing or wrong credentials (test_auth.py).
PROBED_BY_SCENARIOS = frozenset({"account_sid", "call_sid", "Authorization"})


def _required(schema: dict[str, Any]) -> set[str]:
    """Properties the schema requires, also those required only under a condition (`allOf` of if/then)."""
    names = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        names |= set(part.get("then", {}).get("required", []))
    return names


@functools.lru_cache(maxsize=None)
def decides_the_call(chain: tuple[str, ...], component: str = "CreateCallRequest") -> bool:
    """Whether the body field at `chain` (property names from the root) is required all the way down."""
    schema = openapi.component_schema(component)
    for name in chain:
        if name not in _required(schema):
            return False
        schema = schema.get("properties", {}).get(name, {})
    return True


def _property_chain(location: str) -> tuple[str, ...]:
    """The property names of a schema location: `/properties/to/properties/number/minLength` -> (to, number)."""
    parts = location.split("/")
    return tuple(parts[i + 1] for i, part in enumerate(parts[:-1]) if part == "properties")


def place_of(case: Any) -> tuple[Any, ...] | None:
    """The kind of defect and the place of a coverage-phase case; None for a case of another phase."""
    meta = case.meta
    data = getattr(getattr(meta, "phase", None), "data", None)
    scenario = getattr(getattr(data, "scenario", None), "value", None)
    if scenario is None:
        return None
    operation = case.operation.definition.raw.get("operationId", "")
    mode = meta.generation.mode.value
    if scenario == "unspecified_http_method":
        return operation, mode, scenario, ANY_METHOD
    location = data.location or ""
    if data.parameter == "application/json" and location.startswith("/properties/"):
        chain = _property_chain(location)
        if not decides_the_call(chain):
            return operation, mode, scenario, OPTIONAL_FIELD
    return operation, mode, scenario, data.parameter, location, "" if location else data.description


class CoverageSelection:
    """The coverage-phase cases a run sends: the first of each kind and place (see the module's docstring)."""

    def __init__(self, every: bool = False) -> None:
        self.every = every  # --coverage-cases all: every case is sent
        self._sent: dict[tuple[Any, ...], str] = {}  # place -> the case sent for it
        self._lock = threading.Lock()
        self.dropped = 0

    def admits(self, case: Any) -> bool:
        """Whether to send `case`: the first of its place, or that same case again (Hypothesis replays a
        failing example to report it); never one of a defect the scenario tests probe."""
        place = None if self.every else place_of(case)
        if place is None:
            return True
        if place[3] in PROBED_BY_SCENARIOS:
            self.dropped += 1
            return False
        which = repr((case.method, case.path_parameters, case.query, case.headers, case.body, case.media_type))
        with self._lock:
            if self._sent.setdefault(place, which) == which:
                return True
            self.dropped += 1
            return False
