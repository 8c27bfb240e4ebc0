"""The wheel is complete: built from the checkout, installed into a fresh virtual environment, it runs.

The wheel is built (`python -m build --wheel`, or `pip wheel --no-deps` when `build` is missing), then
installed with its dependencies from the package index into a new virtual environment. Everything
afterwards runs from a temporary directory, so that the package comes from the wheel and not from the
checkout: `calls-conformance --help` lists every option, `--version` prints the version, the embedded
reference answers standalone, and a run of the suite against it (without the real-time window) is
CONFORMANT. That needs the wheel to carry openapi.yaml, catalogue.yaml, the suite with its
conformance.ini, and the reference server.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from conformance import __version__
from conformance.deployment.config import OPTIONS

ROOT = Path(__file__).resolve().parent.parent
INSTALL_TIMEOUT = 900
RUN_TIMEOUT = 600
# Files a run needs from the wheel, relative to site-packages.
REQUIRED_FILES = (
    "conformance/openapi.yaml",
    "conformance/contract/catalogue.yaml",
    "conformance/suite/conformance.ini",
    "conformance/suite/test_lifecycle.py",
    "conformance/reference/__main__.py",
    "conformance/waivers-examples/example.toml",
)


def _run(command: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _tail(done: subprocess.CompletedProcess) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    if importlib.util.find_spec("build") is not None:
        command = [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)]
    else:
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), str(ROOT)]
    done = _run(command, cwd=out, timeout=INSTALL_TIMEOUT)
    wheels = sorted(out.glob("calls_api_conformance-*.whl"))
    assert done.returncode == 0 and wheels, f"building the wheel failed: {_tail(done)}"
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A fresh virtual environment with the wheel installed, and an empty working directory."""
    home = tmp_path_factory.mktemp("fresh-venv")
    env_dir = home / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    done = _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
                cwd=home, timeout=INSTALL_TIMEOUT)
    assert done.returncode == 0, f"installing the wheel failed: {_tail(done)}"
    work = home / "work"
    work.mkdir()
    return {"python": python, "command": bin_dir / "calls-conformance", "work": work}


def _clean_env() -> dict[str, str]:
    """The environment of the tests without the suite's own settings nor a path into the checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLS_API_") and k != "PYTHONPATH"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def test_the_package_comes_from_the_wheel_with_its_data_files(installed: dict[str, Path]) -> None:
    code = ("import json, pathlib, conformance; root = pathlib.Path(conformance.__file__).parent.parent; "
            "print(json.dumps({'file': conformance.__file__, 'version': conformance.__version__, "
            f"'missing': [p for p in {list(REQUIRED_FILES)!r} if not (root / p).is_file()]}}))")
    done = _run([str(installed["python"]), "-c", code], cwd=installed["work"], timeout=60, env=_clean_env())
    assert done.returncode == 0, _tail(done)
    found = json.loads(done.stdout)
    venv_dir = installed["python"].parent.parent
    assert Path(found["file"]).resolve().is_relative_to(venv_dir.resolve()), f"imported from {found['file']}"
    assert found["version"] == __version__
    assert not found["missing"], f"the wheel lacks {found['missing']}"


def test_help_lists_every_option(installed: dict[str, Path]) -> None:
    done = _run([str(installed["command"]), "--help"], cwd=installed["work"], timeout=60, env=_clean_env())
    assert done.returncode == 0, _tail(done)
    missing = [f"--{o.name}" for o in OPTIONS if f"--{o.name}" not in done.stdout]
    missing += [flag for flag in ("--no-html", "--version") if flag not in done.stdout]
    assert not missing, f"--help does not list {missing}"
    assert "exit codes:" in done.stdout


def test_version(installed: dict[str, Path]) -> None:
    done = _run([str(installed["command"]), "--version"], cwd=installed["work"], timeout=60, env=_clean_env())
    assert done.returncode == 0, _tail(done)
    assert done.stdout.strip() == f"calls-conformance {__version__}"


def test_reference_server_starts_from_the_wheel(installed: dict[str, Path]) -> None:
    process = subprocess.Popen([str(installed["command"]), "reference", "--port", "0"], cwd=installed["work"],
                               env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first, f"no output from the reference server: {process.stderr.read() if process.poll() is not None else ''}"
        started = json.loads(first)
        assert started["base_url"].startswith("http://127.0.0.1:")
        assert len(started["accounts"]) == 2
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_run_against_the_embedded_reference_is_conformant(installed: dict[str, Path]) -> None:
    reports = installed["work"] / "reports"
    command = [str(installed["command"]), "--no-html", "-m", "not slow", "--reports-dir", str(reports), "-q"]
    done = _run(command, cwd=installed["work"], timeout=RUN_TIMEOUT, env=_clean_env())
    assert done.returncode == 0, _tail(done)
    verdict = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    assert verdict["verdict"] == "CONFORMANT"
    assert verdict["suite_version"] == __version__
    assert verdict["target"]["embedded_reference"] is True
    assert (reports / "junit.xml").is_file()
    tests = {test for row in verdict["requirements"] for test in row["tests"]}
    assert any(test.startswith("conformance/suite/test_lifecycle.py::") for test in tests)
