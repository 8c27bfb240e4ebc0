#!/usr/bin/env python3
"""Write docs/requirements.md, the requirement list, from conformance/contract/catalogue.yaml.

    python tools/gen_requirements.py            rewrite docs/requirements.md
    python tools/gen_requirements.py --check    exit 1 (and say why) when docs/requirements.md is stale
    python tools/gen_requirements.py --stdout   print the list instead of writing it

For each requirement: its id, level, area, title, operations, source (with a link to the decision in
docs/spec-decisions.md) and the tests of conformance/suite that declare it with
`@pytest.mark.requirements(...)`. The suite is read as source (its modules need a running target to be
imported): marks on test functions, on their classes, in `pytestmark`, and in the `marks=` of
`pytest.param(...)`. An argument of a mark may be a string, a module-level name bound to strings or to
a tuple or list of them (`*COMMON`), or an expression over a module-level collection; such an
expression stands for every requirement id the collection holds.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the conformance package of this checkout, installed or not

from conformance.contract.catalogue import AREAS, Requirement, load_catalogue, tests_by_requirement  # noqa: E402

SUITE = ROOT / "conformance" / "suite"
DECISIONS = ROOT / "docs" / "spec-decisions.md"
OUTPUT = ROOT / "docs" / "requirements.md"

LEVELS = ("MUST", "SHOULD", "MAY", "ADVISORY")
GROUND_KINDS = {
    "document": "the document's words",
    "standard": "a standard the document relies on",
    "reasoned": "a reasoned decision",
    "advice": "the suite's advice",
}
SOURCE_KINDS = {
    "document": "the vendor's Calls document",
    "jambonz": "a fact about jambonz, the server the API white-labels",
    "decision": "a decision of this suite",
}
ID_LIKE = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+$")


def github_anchor(heading: str) -> str:
    """The anchor GitHub (and most Markdown renderers) give a heading."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def decision_anchors(path: Path = DECISIONS) -> dict[str, tuple[str, str]]:
    """Decision id -> (heading title, anchor), from the `## D-n: title` headings."""
    anchors = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^##\s+(D-\d+):\s*(.*)$", line)
        if match:
            heading = line.lstrip("#").strip()
            anchors[match.group(1)] = (match.group(2).strip(), github_anchor(heading))
    return anchors


# --- the tests that declare each requirement -----------------------------------------------------


@dataclass
class _Module:
    """Module-level bindings of a test module: name -> every expression assigned or added to it."""

    bindings: dict[str, list[ast.expr]] = field(default_factory=dict)

    def bind(self, name: str, value: ast.expr) -> None:
        self.bindings.setdefault(name, []).append(value)


def _module_bindings(tree: ast.Module) -> _Module:
    module = _Module()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        module.bind(target.id, node.value)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name) \
                    and node.value is not None:
                module.bind(node.target.id, node.value)
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                # NAME.append(x) / .extend(xs) / .add(x) / .update(xs): what may be added to a collection.
                func = node.value.func
                if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
                        and func.attr in ("append", "extend", "add", "update", "insert"):
                    for arg in node.value.args:
                        module.bind(func.value.id, arg)
            elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
                for part in ("body", "orelse", "finalbody"):
                    visit(getattr(node, part, []) or [])
                for handler in getattr(node, "handlers", []) or []:
                    visit(handler.body)

    visit(tree.body)
    return module


def _is_requirements_mark(node: ast.AST) -> bool:
    """`pytest.mark.requirements(...)` or `mark.requirements(...)`."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    func = node.func
    if func.attr != "requirements":
        return False
    owner = func.value
    return (isinstance(owner, ast.Name) and owner.id == "mark") or \
        (isinstance(owner, ast.Attribute) and owner.attr == "mark")


class _Resolver:
    def __init__(self, module: _Module) -> None:
        self.module = module

    def strings(self, node: ast.AST, local: dict[str, ast.expr], top: bool, seen: frozenset[str]) -> set[str]:
        """The requirement ids an expression may stand for. `top`: a direct argument of the mark, where
        any string counts; deeper down only strings shaped like requirement ids do."""
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str) and (top or ID_LIKE.match(node.value)):
                return {node.value}
            return set()
        if isinstance(node, ast.Starred):
            return self.strings(node.value, local, top, seen)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            found: set[str] = set()
            for element in node.elts:
                found |= self.strings(element, local, top, seen)
            return found
        if isinstance(node, ast.Name):
            if node.id in local:
                return self.strings(local[node.id], local, False, seen)
            if node.id in seen:
                return set()
            found = set()
            for value in self.module.bindings.get(node.id, []):
                found |= self.strings(value, {}, top, seen | {node.id})
            return found
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            inner = dict(local)
            for generator in node.generators:
                for target in ast.walk(generator.target):
                    if isinstance(target, ast.Name):
                        inner[target.id] = generator.iter
            parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            found = set()
            for part in parts:
                found |= self.strings(part, inner, False, seen)
            return found
        if isinstance(node, ast.Lambda):
            return set()
        found = set()
        for child in ast.iter_child_nodes(node):
            found |= self.strings(child, local, False, seen)
        return found

    def marks_in(self, node: ast.AST, local: dict[str, ast.expr] | None = None) -> set[str]:
        """Every requirement id of every requirements mark inside an expression (a decorator, a
        parametrize list of pytest.param(..., marks=...), a pytestmark list)."""
        local = dict(local or {})
        if _is_requirements_mark(node):
            assert isinstance(node, ast.Call)
            found: set[str] = set()
            for arg in node.args:
                found |= self.strings(arg, local, True, frozenset())
            return found
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            for generator in node.generators:
                for target in ast.walk(generator.target):
                    if isinstance(target, ast.Name):
                        local[target.id] = generator.iter
        found = set()
        for child in ast.iter_child_nodes(node):
            found |= self.marks_in(child, local)
        return found


def _pytestmark(statements: list[ast.stmt], resolver: _Resolver) -> set[str]:
    found: set[str] = set()
    for node in statements:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            found |= resolver.marks_in(node.value)
    return found


def declared_tests(suite: Path = SUITE, root: Path = ROOT) -> dict[str, set[str]]:
    """Test (`path::name` or `path::Class::name`) -> the requirement ids it declares, read from source."""
    tests: dict[str, set[str]] = {}
    for path in sorted(suite.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        resolver = _Resolver(_module_bindings(tree))
        module_ids = _pytestmark(tree.body, resolver)
        prefix = path.relative_to(root).as_posix()

        def functions(statements: list[ast.stmt], owner: str, inherited: set[str]) -> None:
            for node in statements:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                    ids = set(inherited)
                    for decorator in node.decorator_list:
                        ids |= resolver.marks_in(decorator)
                    tests[f"{prefix}::{owner}{node.name}"] = ids
                elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                    ids = set(inherited) | _pytestmark(node.body, resolver)
                    for decorator in node.decorator_list:
                        ids |= resolver.marks_in(decorator)
                    functions(node.body, f"{owner}{node.name}::", ids)

        functions(tree.body, "", module_ids)
    return tests


# --- rendering -----------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _short_test(test: str) -> str:
    return test.removeprefix("conformance/suite/")


def render(entries: list[Requirement] | None = None, tests: dict[str, set[str]] | None = None,
           decisions: dict[str, tuple[str, str]] | None = None) -> str:
    entries = list(load_catalogue().values()) if entries is None else entries
    tests = declared_tests() if tests is None else tests
    decisions = decision_anchors() if decisions is None else decisions
    by_id = tests_by_requirement(tests)
    known = {e.id for e in entries}
    areas = list(AREAS) + sorted({e.area for e in entries} - set(AREAS))

    out: list[str] = []
    add = out.append
    add("<!-- Generated by tools/gen_requirements.py from conformance/contract/catalogue.yaml and the marks of")
    add("     conformance/suite. Do not edit: change the catalogue or the tests, then run")
    add("     `python tools/gen_requirements.py`. -->")
    add("")
    add("# Requirements")
    add("")
    add("Every requirement the conformance suite checks, from `conformance/contract/catalogue.yaml`. Each has a "
        "stable id (the one")
    add("the terminal summary, `reports/verdict.json`, the JUnit XML and the Allure report use), an "
        "RFC 2119 level and a")
    add("source: the vendor's Calls document, a fact about jambonz (the server the API white-labels), or "
        "a decision")
    add("recorded in [spec-decisions.md](spec-decisions.md) where the document is silent or ambiguous.")
    add("What the standards the document relies on (RFC 9110, RFC 6750, RFC 8259) oblige of an answer, rule by")
    add("rule, and which requirement judges each, is in [standards.md](standards.md).")
    add("")
    add("A MUST failure makes a deployment NOT CONFORMANT; a SHOULD failure is a warning (a failure with "
        "`--strict`); a")
    add("MAY requirement is only reported; an ADVISORY requirement is the suite's own advice (input hygiene, "
        "limits the")
    add("document never states): reported as ADVICE, never changing the verdict, not even with `--strict`. "
        "A requirement")
    add("that no black-box client can observe is listed as untestable.")
    add("")
    add("Each requirement states its grounds: the document's words, a standard the document relies on "
        "(RFC 9110, RFC 6750,")
    add("RFC 8259, RFC 3261), a reasoned decision showing no reasonable implementation would do otherwise, or "
        "(ADVISORY")
    add("only) the suite's advice. What rests only on how jambonz or the reference behaves is no MUST or "
        "SHOULD (decision D-37).")
    add("")
    add("The tests of a requirement are those of `conformance/suite` that declare it with "
        "`@pytest.mark.requirements(...)`")
    add("(their own, their class's, their module's `pytestmark`, or one of their parameters'). A test that "
        "declares a")
    add("requirement only on some targets (decided when the suite is collected) is listed under it too.")
    add("")
    counts = {level: sum(1 for e in entries if e.level == level) for level in LEVELS}
    untestable = sum(1 for e in entries if not e.testable)
    add(f"{len(entries)} requirements: " + ", ".join(f"{n} {level}" for level, n in counts.items() if n)
        + f"; {untestable} untestable.")
    add("")
    add("| id | level | grounds | area | title | tests |")
    add("|---|---|---|---|---|---|")
    for area in areas:
        for e in (e for e in entries if e.area == area):
            count = "untestable" if not e.testable else str(len(by_id.get(e.id, [])))
            add(f"| [{e.id}](#{github_anchor(e.id)}) | {e.level} | {e.ground_kind} | {AREAS.get(e.area, e.area)} | "
                f"{_cell(e.title.strip())} | {count} |")
    add("")
    for area in areas:
        in_area = [e for e in entries if e.area == area]
        if not in_area:
            continue
        add(f"## {AREAS.get(area, area)}")
        add("")
        for e in in_area:
            add(f"### {e.id}")
            add("")
            add(f"**{e.level}** · area `{e.area}` · operations "
                + ", ".join(f"`{o}`" for o in e.operations))
            add("")
            add(e.title.strip() + ("" if e.title.strip().endswith(".") else "."))
            add("")
            source = f"Source: {SOURCE_KINDS.get(e.source_kind, e.source_kind)}: “{e.source_quote.strip()}”"
            if e.source_ref and e.source_ref in decisions:
                title, anchor = decisions[e.source_ref]
                source += f" — [{e.source_ref}: {title}](spec-decisions.md#{anchor})"
            elif e.source_ref:
                source += f" — {e.source_ref}"
            add(source)
            add("")
            add(f"Grounds ({GROUND_KINDS.get(e.ground_kind, e.ground_kind)}): {e.grounds}")
            add("")
            if not e.testable:
                add(f"Untestable: {' '.join((e.untestable_reason or 'not observable through the API').split())}")
            elif e.id in by_id:
                add("Tests:")
                add("")
                for test in by_id[e.id]:
                    add(f"- `{_short_test(test)}`")
            else:
                add("Tests: none declares it.")
            add("")
    unknown = sorted(rid for rid in by_id if rid not in known)
    if unknown:
        add("## Declared by tests but not in the catalogue")
        add("")
        for rid in unknown:
            add(f"- `{rid}`: " + ", ".join(f"`{_short_test(t)}`" for t in by_id[rid]))
        add("")
    return "\n".join(out).rstrip("\n") + "\n"


def write_or_check(argv: list[str] | None, text: str, output: Path, source: str, command: str) -> int:
    """The command line of a generated document: write `text` to its file, check it (--check) or print it."""
    parser = argparse.ArgumentParser(description=f"Write {output.relative_to(ROOT)} from {source}.", allow_abbrev=False)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    group.add_argument("--stdout", action="store_true", help="print the document instead of writing it")
    parser.add_argument("--output", type=Path, default=output, help="file to write or check (default %(default)s)")
    args = parser.parse_args(argv)
    if args.stdout:
        sys.stdout.write(text)
        return 0
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
    if args.check:
        if current == text:
            return 0
        diff = difflib.unified_diff(current.splitlines(), text.splitlines(), str(args.output), "generated",
                                    lineterm="", n=1)
        print(f"{args.output} is stale: run `{command}`", file=sys.stderr)
        print("\n".join(list(diff)[:40]), file=sys.stderr)
        return 1
    if current != text:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(f"{args.output} is up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    return write_or_check(argv, render(), OUTPUT, "conformance/contract/catalogue.yaml",
                          "python tools/gen_requirements.py")

if __name__ == "__main__":
    sys.exit(main())
