"""Loading of openapi.yaml, the machine-readable contract, and validation against its schemas."""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs
import yaml

if TYPE_CHECKING:
    import jsonschema

_PACKAGE = Path(__file__).resolve().parent.parent
#: Bundled in the package of an installed wheel; at the repository root in a checkout.
_CANDIDATES = (_PACKAGE / "openapi.yaml", _PACKAGE.parent / "openapi.yaml")


def spec_path() -> Path:
    """The contract file: bundled in an installed wheel, at the repository root in a checkout."""
    for candidate in _CANDIDATES:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("openapi.yaml not found in the conformance package or at the repository root")


#: libyaml's safe loader when PyYAML was built with it (a few times faster at start-up), else PyYAML's own.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    """A YAML file of the project (the contract, the catalogue), read with a safe loader."""
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader


@functools.lru_cache(maxsize=1)
def load_spec() -> dict[str, Any]:
    return load_yaml(spec_path())


def spec_version() -> str:
    return str(load_spec()["info"]["version"])


def _resolve_refs(node: Any, components: dict[str, Any]) -> Any:
    """Inline local `#/components/schemas/X` references so jsonschema sees one self-contained schema."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            return _resolve_refs(components[ref.rsplit("/", 1)[1]], components)
        return {key: _resolve_refs(value, components) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve_refs(item, components) for item in node]
    return node


@functools.lru_cache(maxsize=None)
def component_schema(name: str) -> dict[str, Any]:
    """`#/components/schemas/<name>` with its references inlined (do not change it: it is shared)."""
    components = load_spec()["components"]["schemas"]
    return _resolve_refs(components[name], components)


@functools.lru_cache(maxsize=None)
def component_validator(name: str) -> jsonschema.protocols.Validator:
    """A validator for `#/components/schemas/<name>` (OpenAPI 3.1 schemas are JSON Schema 2020-12)."""
    import jsonschema  # only for the messages of schema_errors: a run that needs none does not import it

    validator_class = jsonschema.Draft202012Validator
    return validator_class(component_schema(name), format_checker=validator_class.FORMAT_CHECKER)


def _is_uuid(instance: Any) -> bool:
    """The `uuid` format exactly as jsonschema checks it (laxer than jsonschema_rs' own check: `uuid.UUID`
    also takes e.g. a sign, an underscore or non-ASCII digits where the dashes are in place)."""
    if not isinstance(instance, str):
        return True
    try:
        uuid.UUID(instance)
    except ValueError:
        return False
    return all(instance[position] == "-" for position in (8, 13, 18, 23))


#: The formats the contract uses, each checked as jsonschema checks it, so both validators agree.
FORMATS = {"uuid": _is_uuid}


def _formats_in(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["format"]} if isinstance(node.get("format"), str) else set()
        return found.union(*(_formats_in(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_formats_in(item) for item in node))
    return set()


@functools.lru_cache(maxsize=None)
def fast_validator(name: str) -> jsonschema_rs.Validator | None:
    """A compiled validator for a component schema with the same answers as `component_validator`; None when
    the schema has a format FORMATS does not cover (jsonschema_rs may check it otherwise)."""
    schema = component_schema(name)
    if not _formats_in(schema) <= FORMATS.keys():
        return None
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True, formats=FORMATS)


def conforms(instance: Any, component: str) -> bool:
    """Whether `instance` conforms to a component schema (a yes/no answer: no messages built)."""
    fast = fast_validator(component)
    if fast is not None:
        try:
            return fast.is_valid(instance)
        except (ValueError, TypeError, OverflowError):
            pass  # not convertible to JSON for Rust (a lone surrogate, a non-string key): jsonschema decides
    return component_validator(component).is_valid(instance)


@dataclass(frozen=True)
class SchemaError:
    path: tuple[str | int, ...]  # where in the instance
    keyword: str  # the schema keyword that failed: required, type, enum...
    message: str


def schema_findings(instance: Any, component: str) -> list[SchemaError]:
    """The violations of `instance` against a component schema, in instance order; empty when it conforms."""
    errors = sorted(component_validator(component).iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [SchemaError(tuple(e.absolute_path), str(e.validator), e.message) for e in errors]


def schema_errors(instance: Any, component: str) -> list[str]:
    """Human-readable violations of `instance` against a component schema; empty when it conforms."""
    return [f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in schema_findings(instance, component)]


@functools.lru_cache(maxsize=1)
def _operations() -> dict[str, tuple[str, re.Pattern[str], tuple[str, ...]]]:
    """operationId -> (method, pattern of its path's end, documented status keys)."""
    found = {}
    for template, item in load_spec()["paths"].items():
        pattern = re.compile(re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template)) + "$")
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found[operation["operationId"]] = (method.upper(), pattern, tuple(map(str, operation["responses"])))
    return found


def operation_of(method: str, path: str) -> str | None:
    """The operation a request is (by method and the end of its URL path), or None when none is."""
    return next((op for op, (verb, pattern, _) in _operations().items()
                 if verb == method.upper() and pattern.search(path)), None)


def documented_statuses(operation_id: str) -> tuple[str, ...]:
    """The response keys the contract documents for an operation ("200", "4XX"...)."""
    return _operations()[operation_id][2]


def documents_status(operation_id: str, status: int) -> bool:
    """Whether the contract documents `status` for the operation: by its code, its range (4XX) or a default."""
    keys = documented_statuses(operation_id)
    return str(status) in keys or f"{status // 100}XX" in keys or "default" in keys
