"""Start-up: a narrow selection (`-m window`, `-k lifecycle`) does not pay for the Schemathesis tests.

Importing test_properties.py and test_stateful.py builds their tests from the OpenAPI document (a few
seconds). When the -m and -k expressions cannot select any test of such a module, plugin.py's
`pytest_ignore_collect` leaves it out, and the requirements it names are recorded as collected but
deselected, exactly as if its tests had been collected and then deselected.

What a module's tests can be selected by is read from its source, without importing it: the test
functions, their markers (the module's `pytestmark` and the decorators), and the requirement ids it
names. For -k, the names a generated test is known by also include its parametrization ids (the
operations of the OpenAPI document) and the attributes Hypothesis gives the function. The expressions
are evaluated with pytest's own parser; anything the source cannot tell (a test class, a syntax
error) means the module is collected.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from _pytest.mark.expression import Expression

#: The suite modules whose collection builds Schemathesis tests (the costly imports).
COSTLY_MODULES = frozenset({"test_properties.py", "test_stateful.py"})
_REQUIREMENT = re.compile(r"CALLS-[A-Z0-9]+(?:-[A-Z0-9]+)*")
#: Markers every test gets at collection (conformance.report.label_items), and names Hypothesis gives a
#: test function (-k matches a function's attributes): tests/test_selection.py checks both against a
#: real collection.
ADDED_MARKERS = frozenset({"allure_description", "allure_label", "allure_link"})
HYPOTHESIS_NAMES = ("hypothesis", "hypothesis_explicit_examples", "is_hypothesis_test")


@dataclass(frozen=True)
class ModuleTests:
    name: str  # the file name (the Module node's name)
    tests: tuple[tuple[str, frozenset[str]], ...]  # (function name, marker names)
    requirements: tuple[str, ...]


def _mark_names(node: ast.AST) -> set[str]:
    """The names X of every `pytest.mark.X` (or `pytest.mark.X(...)`) in an expression."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Attribute) and sub.value.attr == "mark":
            names.add(sub.attr)
    return names


def read_module(path: Path) -> ModuleTests | None:
    """What the module's tests can be selected by; None when the source cannot be read that way."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    module_marks: set[str] = set()
    tests = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            module_marks |= _mark_names(node.value)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            marks = set().union(*(_mark_names(d) for d in node.decorator_list)) if node.decorator_list else set()
            tests.append((node.name, marks))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            return None  # test classes: not read here, the module is collected
    requirements = sorted({m for c in ast.walk(tree) if isinstance(c, ast.Constant) and isinstance(c.value, str)
                           for m in _REQUIREMENT.findall(c.value) if m == c.value})
    return ModuleTests(path.name, tuple((name, frozenset(marks | module_marks)) for name, marks in tests),
                       tuple(requirements))


def _could_select(expression: str, matches) -> bool:
    """Whether `expression` (-m or -k) is true when each identifier is `matches(identifier)`."""
    try:
        compiled = Expression.compile(expression)
    except (SyntaxError, ValueError):
        return True  # pytest reports it
    return compiled.evaluate(lambda ident, /, **kwargs: matches(ident))


def cannot_select(module: ModuleTests, markexpr: str, keywordexpr: str, operations: list[str],
                  extra_names: tuple[str, ...] = ()) -> bool:
    """True when no test of the module can be selected by -m `markexpr` and -k `keywordexpr`.
    `operations` are the parametrization ids of generated tests ("GET /Accounts/{account_sid}/Calls")."""
    if not module.tests:
        return False
    for name, marks in module.tests:
        marks = marks | ADDED_MARKERS
        if markexpr and not _could_select(markexpr, marks.__contains__):
            continue
        names = [n.lower() for n in (name, module.name, *marks, *HYPOTHESIS_NAMES, *extra_names)]
        names += [f"{name}[{operation}]".lower() for operation in operations]
        if keywordexpr and not _could_select(keywordexpr, lambda ident: any(ident.lower() in n for n in names)):
            continue
        return False
    return True
