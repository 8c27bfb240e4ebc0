"""The shape of the conformance package: its folders are the layers a run flows through, and imports run only
downward through them, never in a circle.

    contract -> deployment -> evidence -> judgement -> reports -> runner -> suite

A module may import its own layer and the layers before it. The reference server (conformance/reference/)
stands apart: it reads the contract and nothing else of the suite, and only the runner starts it. Every
import counts, also one inside a function or under `if TYPE_CHECKING:`: a type is a dependency too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

LAYERS = ("contract", "deployment", "evidence", "judgement", "reports", "runner", "suite")
APART = "reference"
#: Who may import the reference server, and what it may import.
REFERENCE_USERS = {"runner"}
REFERENCE_READS = {"contract"}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    imported: str  # dotted module name (a module of the package, or a package's __init__)
    where: str  # path:line


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_imports(root: Path, package: str = "conformance") -> tuple[set[str], list[Import]]:
    """The modules of `package` under `root`, and every import between them."""
    modules = {module_name(path, root): path for path in sorted((root / package).rglob("*.py"))}
    found = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from a.b import c`: c is a module when the package has one by that name, else a name of a.b.
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                           for alias in node.names]
            for target in targets:
                if target == package or target.startswith(package + "."):
                    where = f"{path.relative_to(root)}:{node.lineno}"
                    found += [Import(name, target, where)] if target in modules else []
    return set(modules), found


def layer_of(module: str) -> str | None:
    """The layer (or APART) a module belongs to; None for the package's face (its version, `python -m`)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in (*LAYERS, APART)) else None


def upward(imports: list[Import]) -> list[str]:
    """Every import that runs up the layers, or into or out of the reference server where it may not."""
    wrong = []
    for imp in imports:
        low, high = layer_of(imp.imported), layer_of(imp.importer)
        if low is None or high is None or low == high:
            continue
        if APART in (low, high):
            allowed = (high == APART and low in REFERENCE_READS) or (low == APART and high in REFERENCE_USERS)
        else:
            allowed = LAYERS.index(low) < LAYERS.index(high)
        if not allowed:
            wrong.append(f"{imp.where}: {imp.importer} ({high}) imports {imp.imported} ({low})")
    return wrong


def circles(imports: list[Import]) -> list[list[str]]:
    """The import circles among modules (strongly connected components of more than one module, or a module
    importing itself)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        graph.setdefault(imp.importer, set()).add(imp.imported)
        graph.setdefault(imp.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the package is small, recursion is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_imports_run_only_downward_through_the_layers() -> None:
    modules, imports = package_imports(ROOT)
    assert not upward(imports), "imports that run upward:\n  " + "\n  ".join(upward(imports))


def test_no_modules_import_each_other_in_a_circle() -> None:
    _, imports = package_imports(ROOT)
    assert not circles(imports), f"import circles: {circles(imports)}"


def test_every_module_of_the_package_sits_in_a_layer() -> None:
    modules, _ = package_imports(ROOT)
    outside = sorted(m for m in modules if layer_of(m) is None and m not in ("conformance", "conformance.__main__"))
    assert not outside, f"modules in no layer: {outside}"


# --- the checks themselves, on a package made to break them ----------------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"conformance/__init__.py": "", **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_an_upward_import_is_caught_even_inside_a_function(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "conformance/contract/openapi.py": "",
        "conformance/deployment/api.py": "from conformance.contract import openapi\n",
        "conformance/judgement/checks.py": "def late():\n    from conformance.runner import plugin\n",
        "conformance/runner/plugin.py": "import conformance.judgement.checks\n",
    })
    _, imports = package_imports(root)
    assert upward(imports) == ["conformance/judgement/checks.py:2: conformance.judgement.checks (judgement) "
                               "imports conformance.runner.plugin (runner)"]


def test_the_reference_server_reads_only_the_contract_and_only_the_runner_starts_it(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "conformance/contract/openapi.py": "",
        "conformance/reference/app.py": "from conformance.contract import openapi\nfrom conformance.deployment import api\n",
        "conformance/deployment/api.py": "",
        "conformance/runner/run.py": "from conformance.reference import app\n",
        "conformance/judgement/checks.py": "from conformance.reference import app\n",
    })
    _, imports = package_imports(root)
    assert sorted(line.split(":")[0] for line in upward(imports)) == [
        "conformance/judgement/checks.py", "conformance/reference/app.py"]


def test_a_circle_within_one_layer_is_caught(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "conformance/evidence/timeline.py": "from conformance.evidence import window\n",
        "conformance/evidence/window.py": "from conformance.evidence.timeline import Watch\n",
        "conformance/evidence/history.py": "from conformance.evidence import window\n",
    })
    _, imports = package_imports(root)
    assert not upward(imports)
    assert circles(imports) == [["conformance.evidence.timeline", "conformance.evidence.window"]]
