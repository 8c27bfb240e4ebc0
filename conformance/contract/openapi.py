"""Loading of openapi.yaml, the machine-readable contract, and validation against its schemas."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

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
def component_validator(name: str) -> jsonschema.protocols.Validator:
    """A validator for `#/components/schemas/<name>` (OpenAPI 3.1 schemas are JSON Schema 2020-12)."""
    components = load_spec()["components"]["schemas"]
    schema = _resolve_refs(components[name], components)
    validator_class = jsonschema.Draft202012Validator
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def conforms(instance: Any, component: str) -> bool:
    """Whether `instance` conforms to a component schema (stops at the first violation: no messages built)."""
    return component_validator(component).is_valid(instance)


def schema_errors(instance: Any, component: str) -> list[str]:
    """Human-readable violations of `instance` against a component schema; empty when it conforms."""
    errors = sorted(component_validator(component).iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
