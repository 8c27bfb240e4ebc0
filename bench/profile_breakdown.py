"""Where a suite run spends its time, from a pyinstrument session of the run's main thread.

Every sample's self time is put in one cell of a table: the *phase* of the run it belongs to (the
outermost recognised frame of its stack: startup, configure, collection, a test file, session end)
and the *kind* of work (the innermost recognised frame: sleeping, HTTP, imports, Schemathesis or
Hypothesis, JSON Schema validation, pytest, the suite's own code). pyinstrument samples wall-clock
time, so waiting counts: time spent waiting for the server's answer is HTTP, `time.sleep` is sleep.

The functions work on any tree of frames that have `function`, `file_path`, `time` and `children`
(pyinstrument's `Frame`, or plain objects in tests).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence

SUITE_DIR = Path(__file__).resolve().parent.parent / "conformance" / "suite"

PHASE_STARTUP = "startup (interpreter, pytest, plugin imports)"
PHASE_CONFIGURE = "configure (options, embedded reference start)"
PHASE_COLLECTION = "collection (test modules, Schemathesis test building)"
PHASE_FINISH = "session end (cleanup, verdict, reports)"
PHASE_OTHER = "other"

KIND_SLEEP = "sleep / wait"
KIND_HTTP = "HTTP (client and server answer)"
KIND_IMPORT = "imports (incl. assertion rewriting)"
KIND_GENERATION = "Schemathesis / Hypothesis (generation, checks)"
KIND_JSONSCHEMA = "JSON Schema validation"
KIND_PYTEST = "pytest / pluggy"
KIND_SUITE = "suite code (conformance/)"
KIND_OTHER = "other"

KINDS = (KIND_SLEEP, KIND_HTTP, KIND_IMPORT, KIND_GENERATION, KIND_JSONSCHEMA, KIND_PYTEST, KIND_SUITE, KIND_OTHER)

_TEST_DEF = re.compile(r"^\s*def (test_\w+)\s*\(", re.MULTILINE)
_FIXTURE_DEF = re.compile(r"^def (\w+)\s*\(", re.MULTILINE)


def suite_functions(suite_dir: Path = SUITE_DIR) -> dict[str, str]:
    """Test and top-level function names of the suite -> the file that defines them (first wins)."""
    names: dict[str, str] = {}
    for path in sorted(suite_dir.glob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern in (_TEST_DEF, _FIXTURE_DEF):
            for name in pattern.findall(text):
                names.setdefault(name, path.name)
    return names


def _path(frame: Any) -> str:
    return (getattr(frame, "file_path", None) or "").replace("\\", "/")


def phase_of(stack: Sequence[Any], functions: dict[str, str]) -> str:
    """The phase of the run a stack (outermost frame first) belongs to."""
    in_tests = False
    for frame in stack:
        name, path = frame.function, _path(frame)
        if not in_tests:
            if name == "_prepareconfig":
                return PHASE_STARTUP
            if name == "pytest_collection":
                return PHASE_COLLECTION
            if name in ("pytest_sessionfinish", "pytest_unconfigure", "pytest_terminal_summary",
                        "generate_html", "_ensure_unconfigure"):
                return PHASE_FINISH
            if name in ("_do_configure", "pytest_configure", "pytest_sessionstart"):
                return PHASE_CONFIGURE
            if name == "pytest_runtestloop":
                in_tests = True
            continue
        if "/conformance/suite/test_" in path:
            return "tests: " + path.rsplit("/", 1)[1]
        if name in functions and (name.startswith("test_") or "/conformance/" in path):
            return "tests: " + functions[name]
    return "tests: (pytest between tests)" if in_tests else PHASE_OTHER


def kind_of(stack: Sequence[Any]) -> str:
    """The kind of work of a stack's innermost recognised frame."""
    for frame in reversed(stack):
        name, path = frame.function, _path(frame)
        if path in ("<built-in>", ""):
            if name in ("sleep",):
                return KIND_SLEEP
            continue
        if path.endswith("/threading.py") and name in ("wait", "join", "_wait_for_tstate_lock"):
            return KIND_SLEEP
        if "importlib" in path or name == "_rewrite_test" or "/_pytest/assertion/rewrite.py" in path:
            return KIND_IMPORT
        if any(part in path for part in ("/requests/", "/urllib3/", "/http/client.py", "/socket.py", "/ssl.py")):
            return KIND_HTTP
        if "/jsonschema/" in path or "/jsonschema_rs/" in path or "/referencing/" in path:
            return KIND_JSONSCHEMA
        if "/schemathesis/" in path or "/hypothesis/" in path:
            return KIND_GENERATION
        if "/_pytest/" in path or "/pluggy/" in path or "/allure" in path:
            return KIND_PYTEST
        if "/conformance/" in path:
            return KIND_SUITE
    return KIND_OTHER


def _walk(frame: Any, stack: list[Any]) -> Iterable[tuple[list[Any], float]]:
    """(stack, self time) for every frame of a tree."""
    stack.append(frame)
    children = list(frame.children)
    own = frame.time - sum(child.time for child in children)
    if own > 0:
        yield stack, own
    for child in children:
        yield from _walk(child, stack)
    stack.pop()


def breakdown(root: Any, functions: dict[str, str] | None = None) -> dict[str, dict[str, float]]:
    """Seconds by phase, then by kind."""
    functions = suite_functions() if functions is None else functions
    table: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for stack, seconds in _walk(root, []):
        table[phase_of(stack, functions)][kind_of(stack)] += seconds
    return {phase: dict(kinds) for phase, kinds in table.items()}


def top_functions(root: Any, count: int = 15, threshold: float = 0.0) -> list[tuple[str, float]]:
    """The frames that account for the most time, largest first, as "function (file:line)".

    pytest's, pluggy's and the import system's plumbing is left out, and so is every frame that only
    passes through to one child (that child has 95 % of its time or more): what remains names what a
    run does rather than how it is dispatched. Recursion is counted once per stack.
    """
    totals: dict[str, float] = defaultdict(float)

    def visit(frame: Any, active: set[str]) -> None:
        path = _path(frame)
        children = list(frame.children)
        label = f"{frame.function} ({_short(path)}:{getattr(frame, 'line_no', None) or '?'})"
        plumbing = path in ("", "<built-in>") or any(
            part in path for part in ("/_pytest/", "/pluggy/", "importlib", "<frozen", "/runpy.py"))
        passes_through = any(child.time >= 0.95 * frame.time for child in children)
        added = False
        if not plumbing and not passes_through and label not in active and frame.time >= threshold:
            totals[label] += frame.time
            active.add(label)
            added = True
        for child in children:
            visit(child, active)
        if added:
            active.discard(label)

    visit(root, set())
    return sorted(totals.items(), key=lambda item: -item[1])[:count]


def _short(path: str) -> str:
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    if "/conformance/" in path:
        path = "conformance/" + path.split("/conformance/", 1)[1]
    return path


def load_session_root(path: Path) -> Any:
    """The root frame of a saved pyinstrument session (`-r pyisession`)."""
    from pyinstrument.session import Session

    return Session.load(path).root_frame(trim_stem=False)
