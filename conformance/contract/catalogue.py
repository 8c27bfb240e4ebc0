"""Loading of catalogue.yaml, the requirements of the Calls API and where each comes from."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from conformance.contract.openapi import load_yaml

#: ADVISORY is the suite's own advice (input hygiene, limits the document never states): reported, never
#: deciding the verdict or the exit code, not even with --strict.
LEVELS = ("MUST", "SHOULD", "MAY", "ADVISORY")
SOURCE_KINDS = ("document", "jambonz", "decision")
#: What a level rests on. What rests only on how one implementation behaves is no MUST or SHOULD.
GROUND_KINDS = ("document", "standard", "reasoned", "advice")
CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")
#: The areas requirements are grouped in, in the order and with the names every report shows them.
AREAS = {
    "list": "Listing calls", "get": "Getting a call", "shape": "Response shape", "create": "Creating calls",
    "input": "Input validation", "delete": "Deleting calls", "window": "Retention window",
    "lifecycle": "Call lifecycle", "auth": "Authentication", "isolation": "Account isolation",
    "call": "Consistency across answers",
}


@dataclass(frozen=True)
class Requirement:
    """One requirement: what a conformant deployment does, at which level, and on what authority."""

    id: str
    level: str
    area: str
    operations: tuple[str, ...]
    title: str
    source_kind: str
    source_quote: str
    source_ref: str | None
    testable: bool
    untestable_reason: str | None
    ground_kind: str = "reasoned"
    grounds: str = ""

    @property
    def is_mandatory(self) -> bool:
        return self.level == "MUST"

    @property
    def is_advisory(self) -> bool:
        return self.level == "ADVISORY"


class CatalogueError(ValueError):
    """The catalogue file is malformed."""


def _requirement(entry: Any, position: int) -> Requirement:
    if not isinstance(entry, dict):
        raise CatalogueError(f"entry {position} is not a mapping")
    try:
        source = entry["source"]
        if not isinstance(source, dict):
            raise CatalogueError(f"entry {position} ({entry.get('id')}): source is not a mapping")
        operations = entry["operations"]
        if isinstance(operations, str) or not isinstance(operations, list):
            raise CatalogueError(f"entry {position} ({entry.get('id')}): operations is not a list")
        ref = source.get("ref")
        reason = entry.get("untestable_reason")
        grounds = entry["grounds"]
        if not isinstance(grounds, dict) or grounds.get("kind") not in GROUND_KINDS or not grounds.get("why"):
            raise CatalogueError(f"entry {position} ({entry.get('id')}): grounds needs a kind "
                                 f"({', '.join(GROUND_KINDS)}) and a why")
        level = str(entry["level"])
        if level not in LEVELS:
            raise CatalogueError(f"entry {position} ({entry.get('id')}): unknown level {level!r}")
        if (level == "ADVISORY") != (grounds["kind"] == "advice"):
            raise CatalogueError(f"entry {position} ({entry.get('id')}): advice grounds an ADVISORY level, and only it")
        return Requirement(
            id=str(entry["id"]),
            level=level,
            area=str(entry["area"]),
            operations=tuple(str(operation) for operation in operations),
            title=str(entry["title"]),
            source_kind=str(source["kind"]),
            source_quote=str(source["quote"]),
            source_ref=None if ref is None else str(ref),
            testable=bool(entry.get("testable", True)),
            untestable_reason=None if reason is None else str(reason).strip(),
            ground_kind=str(grounds["kind"]),
            grounds=" ".join(str(grounds["why"]).split()),
        )
    except KeyError as missing:
        raise CatalogueError(f"entry {position} ({entry.get('id')}): missing {missing}") from None


@functools.lru_cache(maxsize=1)
def _load(path: Path) -> tuple[Requirement, ...]:
    data = load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("requirements"), list):
        raise CatalogueError(f"{path.name}: expected a mapping with a `requirements` list")
    requirements = tuple(_requirement(entry, index) for index, entry in enumerate(data["requirements"]))
    seen: set[str] = set()
    for requirement in requirements:
        if requirement.id in seen:
            raise CatalogueError(f"{path.name}: duplicate requirement id {requirement.id}")
        seen.add(requirement.id)
    return requirements


def load_catalogue() -> dict[str, Requirement]:
    """All requirements by id, in the order of the file (parsed once, a fresh dict per call)."""
    return {requirement.id: requirement for requirement in _load(CATALOGUE_PATH)}


def tests_by_requirement(tests: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Requirement id -> the tests declaring it (sorted), from test -> the requirement ids it declares."""
    by_id: dict[str, list[str]] = {}
    for test, ids in tests.items():
        for rid in ids:
            by_id.setdefault(rid, []).append(test)
    return {rid: sorted(names) for rid, names in by_id.items()}
