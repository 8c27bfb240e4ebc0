"""The documentation says what the code does.

- docs/requirements.md is the list tools/gen_requirements.py generates (and its reading of the suite's
  marks agrees with what pytest collects);
- README.md documents every option of the console command and every exit code, and the fields of
  verdict.json;
- the CI recipes of docs/ci use only options the console command has, put no token on a command line,
  and publish the JUnit XML;
- CHANGELOG.md's latest version is the package's, and `calls-conformance --version` prints it;
- relative links of the Markdown files lead to files that exist.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from conformance import __version__
from conformance.contract.catalogue import LEVELS, load_catalogue
from conformance.runner.cli import EXIT_CODES_HELP, build_parser
from conformance.runner.fleet import fleet_parser, merge_parser
from conformance.deployment.config import OPTIONS, resolve
from conformance.judgement import verdict as verdict_module
from conformance.judgement.ledger import Failure, Ledger
from conformance.judgement.waivers import CONFORMANT_WITH_WAIVERS
from conformance.reference import ACCOUNT_A, ACCOUNT_B

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
REQUIREMENTS_MD = ROOT / "docs" / "requirements.md"
GENERATOR = ROOT / "tools" / "gen_requirements.py"
CI_DIR = ROOT / "docs" / "ci"
GITHUB = CI_DIR / "github-actions.yml"
GITLAB = CI_DIR / "gitlab-ci.yml"
GITHUB_FLEET = CI_DIR / "github-actions-fleet.yml"
GITLAB_FLEET = CI_DIR / "gitlab-ci-fleet.yml"
RECIPES = [GITHUB, GITLAB, GITHUB_FLEET, GITLAB_FLEET]
RECIPE_IDS = ["github", "gitlab", "github-fleet", "gitlab-fleet"]
CHANGELOG = ROOT / "CHANGELOG.md"
SECRET_OPTIONS = ("--token", "--other-token")
TOKEN_VARIABLES = ("CALLS_API_TOKEN", "CALLS_API_OTHER_TOKEN")


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_requirements", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def _readme() -> str:
    return README.read_text(encoding="utf-8")


# --- docs/requirements.md ------------------------------------------------------------------------


def test_requirements_md_is_the_generated_list() -> None:
    expected = _generator().render()
    current = REQUIREMENTS_MD.read_text(encoding="utf-8") if REQUIREMENTS_MD.exists() else ""
    assert current == expected, "docs/requirements.md is stale: run `python tools/gen_requirements.py`"


def test_generator_check_fails_on_a_stale_file_and_passes_on_a_fresh_one(tmp_path: Path) -> None:
    stale = tmp_path / "requirements.md"
    stale.write_text("# Requirements\n\nout of date\n", encoding="utf-8")
    command = [sys.executable, str(GENERATOR), "--check", "--output", str(stale)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "stale" in done.stderr
    done = subprocess.run([sys.executable, str(GENERATOR), "--output", str(stale)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_requirements_md_lists_every_requirement_with_its_level_and_title() -> None:
    text = REQUIREMENTS_MD.read_text(encoding="utf-8")
    for rid, requirement in load_catalogue().items():
        assert f"### {rid}\n" in text
        assert f"| [{rid}](#{rid.lower()}) | {requirement.level} |" in text


def test_every_decision_a_requirement_cites_has_an_entry() -> None:
    anchors = _generator().decision_anchors()
    cited = {r.source_ref for r in load_catalogue().values() if r.source_ref}
    assert cited - set(anchors) == set(), "decisions cited by the catalogue but missing from docs/spec-decisions.md"


def test_the_source_scan_agrees_with_the_collected_marks(suite_requirements: dict[str, list[str]]) -> None:
    """What the generator reads from source is what pytest collects, test function by test function."""
    collected: dict[str, set[str]] = {}
    for node, ids in suite_requirements.items():
        collected.setdefault(node.split("[", 1)[0], set()).update(ids)
    scanned = _generator().declared_tests()
    for function, ids in collected.items():
        assert function in scanned, f"{function} is collected but the source scan does not see it"
        assert scanned[function] == ids, f"{function}: source scan {sorted(scanned[function])}, collected {sorted(ids)}"


# --- README.md -----------------------------------------------------------------------------------


def _option_strings(parser: Any = None) -> list[str]:
    parser = parser or build_parser()
    return sorted({s for action in parser._actions for s in action.option_strings if s.startswith("--")} - {"--help"})


# --- docs/standards.md ---------------------------------------------------------------------------
STANDARDS_GENERATOR = ROOT / "tools" / "gen_standards.py"


def _standards_generator() -> Any:
    sys.path.insert(0, str(GENERATOR.parent))  # it imports its sibling gen_requirements
    spec = importlib.util.spec_from_file_location("gen_standards", STANDARDS_GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_standards_md_is_the_generated_document() -> None:
    expected = _standards_generator().render()
    current = (ROOT / "docs" / "standards.md").read_text(encoding="utf-8")
    assert current == expected, "docs/standards.md is stale: run `python tools/gen_standards.py`"


def test_every_standards_rule_is_judged_by_a_requirement_check_and_fault_or_says_why_not() -> None:
    from conformance.reference import FAULTS
    codes = set(re.findall(r"\bCF\d{3}\b", (ROOT / "conformance" / "judgement" / "checks.py").read_text()))
    catalogue = load_catalogue()
    for rule in _standards_generator().load_rules():
        what = f"{rule['rfc']} {rule['section']}: {rule['says']}"
        assert {"rfc", "section", "keyword", "says", "applies_to"} <= rule.keys(), what
        if "reason" in rule:
            assert not {"requirement", "check", "fault"} & rule.keys() and rule["reason"].strip(), what
            continue
        assert rule["requirement"] in catalogue, what
        assert rule["check"] in codes, what
        # a fault of that very requirement: the self-test runs the suite on every fault and fails when its
        # requirement is not among the failed ones
        assert rule["fault"] in FAULTS and FAULTS[rule["fault"]].requirement == rule["requirement"], what


def test_the_requirements_list_and_the_readme_link_the_standards_document() -> None:
    assert "(standards.md)" in REQUIREMENTS_MD.read_text(encoding="utf-8")
    assert "(docs/standards.md)" in _readme()


def test_readme_documents_every_option_and_its_environment_variable() -> None:
    text = _readme()
    missing = [f"--{o.name}" for o in OPTIONS if f"`--{o.name}" not in text]
    missing += [o.env for o in OPTIONS if f"`{o.env}`" not in text]
    missing += [s for s in _option_strings() if f"`{s}" not in text]
    assert not missing, f"README.md does not document: {', '.join(missing)}"


def _exit_codes() -> dict[int, str]:
    codes = {}
    for line in EXIT_CODES_HELP.splitlines():
        match = re.match(r"^\s+(\d+)\s+(.+)$", line)
        if match:
            codes[int(match.group(1))] = match.group(2)
    return codes


def test_exit_codes_of_the_help_are_those_of_the_verdict() -> None:
    constants = {value for name, value in vars(verdict_module).items() if name.startswith("EXIT_")}
    assert set(_exit_codes()) == constants


def test_readme_documents_every_exit_code() -> None:
    text = _readme()
    codes = _exit_codes()
    assert codes
    rows = {int(m.group(1)): m.group(2) for m in re.finditer(r"^\|\s*`?(\d+)`?\s*\|\s*(.+?)\s*\|\s*$", text, re.M)}
    missing = [code for code in codes if code not in rows]
    assert not missing, f"README.md has no row for exit code(s) {missing}"
    for code, meaning in codes.items():
        first_word = re.sub(r"[^\w ]", "", meaning).split()[0].lower()
        assert first_word in rows[code].lower(), f"exit code {code}: help says {meaning!r}, README {rows[code]!r}"


def test_readme_documents_every_field_of_verdict_json() -> None:
    ledger = Ledger()
    result = verdict_module.build_verdict(ledger, strict=False, accept_incomplete=False, target={},
                                          spec_version="0", started=time.time(), stats={})
    fields = set(result) | {"run_error"} | set(result["requirements"][0]) | set(result["counts"])
    fields |= set(Failure("test", "CF101", "message").as_dict())
    fields |= set(resolve({}, environ={}).public_summary())  # the `target` object
    text = _readme()
    missing = sorted(f for f in fields if f"`{f}`" not in text)
    assert not missing, f"README.md does not document these fields of verdict.json: {', '.join(missing)}"


def test_readme_lists_every_verdict_in_the_verdict_field() -> None:
    row = next(line for line in _readme().splitlines() if line.startswith("| `verdict` |"))
    verdicts = (verdict_module.CONFORMANT, CONFORMANT_WITH_WAIVERS, verdict_module.NOT_CONFORMANT,
                verdict_module.INCOMPLETE, verdict_module.TARGET_FAILED)
    missing = [v for v in verdicts if f'`"{v}"`' not in row]
    assert not missing, f"README.md's verdict row does not list {missing}"


def test_readme_run_against_the_standalone_reference_can_be_complete() -> None:
    """Its accounts table and the command of the run against it give both accounts' sids and applications."""
    text = _readme()
    for account in (ACCOUNT_A, ACCOUNT_B):
        assert re.search(rf"^\| [AB] \| `{account.sid}` \| `{account.token}` \| `{account.application_sid}` \|$",
                         text, re.M), f"README.md's accounts table lacks {account.sid}"
    command = next(" ".join(words) for block in re.findall(r"```\n(.*?)```", text, re.S)
                   for words in _commands(block) if "--base-url" in words and "http://127.0.0.1:8080/v1" in words)
    for option, value in (("--account-sid", ACCOUNT_A.sid), ("--other-account-sid", ACCOUNT_B.sid),
                          ("--application-sid", ACCOUNT_A.application_sid),
                          ("--other-application-sid", ACCOUNT_B.application_sid)):
        assert f"{option} {value}" in command, f"the run against the standalone reference lacks {option}"


def test_readme_counts_the_requirements_of_the_catalogue() -> None:
    catalogue = load_catalogue()
    counts = {level: sum(1 for r in catalogue.values() if r.level == level) for level in LEVELS}
    text = " ".join(_readme().split())
    assert f"{len(catalogue)} of them" in text
    assert "(" + ", ".join(f"{n} {level}" for level, n in counts.items() if n) + ")" in text


def test_readme_lists_every_file_of_the_suite() -> None:
    text = _readme()
    missing = [p.name for p in sorted((ROOT / "conformance" / "suite").glob("test_*.py")) if f"`{p.name}`" not in text]
    assert not missing, f"README.md does not describe {', '.join(missing)}"


def test_readme_starts_with_the_two_commands() -> None:
    text = _readme()
    first_block = text.split("```", 2)[1]
    assert "make conformance" in first_block and "make test" in first_block


# --- CI recipes ----------------------------------------------------------------------------------


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _scripts(node: Any) -> Iterator[str]:
    """Every shell script of a workflow or pipeline: GitHub `run`, GitLab `script`/`before_script`/`after_script`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                yield value
            elif key in ("script", "before_script", "after_script"):
                yield from ([value] if isinstance(value, str) else [v for v in value if isinstance(v, str)])
            else:
                yield from _scripts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _scripts(value)


def _commands(script: str) -> Iterator[list[str]]:
    """The `calls-conformance` command lines of a script, as words (line continuations joined)."""
    joined = re.sub(r"\\\n\s*", " ", script)
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if "calls-conformance" not in line:
            continue
        words = shlex.split(line)
        for index, word in enumerate(words):
            if word.endswith("calls-conformance"):
                yield words[index + 1:]
                break


def _recipe_commands(path: Path) -> list[list[str]]:
    return [words for script in _scripts(_load(path)) for words in _commands(script)]


def _assert_known(path: Path, words: list[str], known: set[str]) -> None:
    for word in words:
        if word.startswith("--") and word != "--":
            assert word.split("=", 1)[0] in known, f"{path.name}: calls-conformance has no option {word}"


@pytest.mark.parametrize("path", RECIPES, ids=RECIPE_IDS)
def test_ci_recipe_runs_the_suite_with_known_options_only(path: Path) -> None:
    commands = _recipe_commands(path)
    assert commands, f"{path.name} never runs calls-conformance"
    for words in commands:
        if words[:1] == ["reference"]:
            continue
        subcommand = {"fleet": fleet_parser, "merge": merge_parser}.get(words[0] if words else "")
        if subcommand:
            # A fleet's own options, then after `--` what it gives to every run: options of the suite.
            at = words.index("--") if "--" in words else len(words)
            _assert_known(path, words[1:at], set(_option_strings(subcommand())))
            words = words[at + 1:]
        _assert_known(path, words, set(_option_strings()))


@pytest.mark.parametrize("path", RECIPES, ids=RECIPE_IDS)
def test_ci_recipe_puts_no_token_on_a_command_line(path: Path) -> None:
    for script in _scripts(_load(path)):
        for words in _commands(script):
            for word in words:
                assert word.split("=", 1)[0] not in SECRET_OPTIONS, f"{path.name}: a token option on the command line"
                assert not any(v in word for v in TOKEN_VARIABLES) or word.endswith("_FILE"), \
                    f"{path.name}: a token variable expanded on the command line: {word}"
        assert "secrets." not in script, f"{path.name}: a secret expanded into a script; pass it in env"


def test_github_workflow_publishes_junit_and_keeps_the_reports() -> None:
    workflow = _load(GITHUB)
    steps = [step for job in workflow["jobs"].values() for step in job.get("steps", [])]
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and any("reports" in str(s.get("with", {}).get("path", "")) for s in uploads)
    assert all("always()" in str(s.get("if", "")) for s in uploads), "reports must be kept when the run fails"
    junit = [s for s in steps if "reports/junit.xml" in json.dumps(s.get("with", {}))]
    assert junit, "no step publishes reports/junit.xml"
    assert all("always()" in str(s.get("if", "")) for s in junit)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "schedule" in triggers, "no nightly schedule"
    setup = [s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python")]
    assert setup and all(str(s["with"]["python-version"]) == "3.11" for s in setup)


def test_gitlab_job_publishes_junit_and_keeps_the_reports() -> None:
    pipeline = _load(GITLAB)
    jobs = {name: job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job}
    assert jobs
    for name, job in jobs.items():
        merged = dict(job)
        for parent in ([job["extends"]] if isinstance(job.get("extends"), str) else job.get("extends", [])):
            merged = {**pipeline[parent], **merged}
        artifacts = merged.get("artifacts", {})
        assert artifacts.get("when") == "always", f"{name}: reports must be kept when the run fails"
        assert any(str(p).rstrip("/") == "reports" for p in artifacts.get("paths", [])), f"{name}: reports/ not kept"
        assert artifacts.get("reports", {}).get("junit") == "reports/junit.xml", f"{name}: no junit report"


def test_github_fleet_runs_one_job_per_target_and_merges_them_whatever_they_did() -> None:
    jobs = _load(GITHUB_FLEET)["jobs"]
    target, merge = jobs["target"], jobs["matrix"]
    assert target["strategy"]["fail-fast"] is False and len(target["strategy"]["matrix"]["include"]) >= 2
    assert "matrix.target" in target["env"]["CALLS_API_PROFILE"]
    assert "secrets[" in target["env"]["CALLS_API_TOKEN"], "each target needs its own token"
    uploads = [s for s in target["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and all("always()" in str(s.get("if", "")) for s in uploads)
    assert "matrix.target" in uploads[0]["with"]["name"]
    assert merge["needs"] == "target" and "always()" in merge["if"]
    downloads = [s for s in merge["steps"] if str(s.get("uses", "")).startswith("actions/download-artifact")]
    assert downloads and downloads[0]["with"]["pattern"] == "calls-api-reports-*"
    merges = [w for s in merge["steps"] for w in _commands(s.get("run", ""))]
    assert merges and merges[0][0] == "merge" and downloads[0]["with"]["path"] in merges[0]
    assert any("matrix.md" in s.get("run", "") and "GITHUB_STEP_SUMMARY" in s.get("run", "") for s in merge["steps"])


def test_gitlab_fleet_runs_a_parallel_matrix_and_merges_whatever_it_did() -> None:
    pipeline = _load(GITLAB_FLEET)
    target, merge = pipeline["conformance-target"], pipeline["fleet-matrix"]
    targets = target["parallel"]["matrix"][0]["TARGET"]
    assert len(targets) >= 2
    runs = [w for w in _commands("\n".join(target["script"]))]
    assert runs and "$TARGET" in " ".join(runs[0]) and "--profile" in runs[0]
    assert target["artifacts"]["when"] == "always" and "reports/" in target["artifacts"]["paths"]
    assert target["artifacts"]["reports"]["junit"] == "reports/*/junit.xml"
    assert merge["when"] == "always" and merge["needs"][0]["job"] == "conformance-target"
    merges = [w for w in _commands("\n".join(merge["script"]))]
    assert merges and merges[0][0] == "merge" and "reports/" in merges[0]
    assert merge["artifacts"]["when"] == "always" and "fleet/" in merge["artifacts"]["paths"]


# --- CHANGELOG.md and the version ---------------------------------------------------------------


def test_changelog_latest_version_is_the_package_version() -> None:
    versions = re.findall(r"^## \[(\d+\.\d+\.\d+[^\]]*)\]", CHANGELOG.read_text(encoding="utf-8"), re.M)
    assert versions, "CHANGELOG.md has no `## [x.y.z]` entry"
    assert versions[0] == __version__


def test_console_command_prints_the_version() -> None:
    script = Path(sys.executable).with_name("calls-conformance")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "conformance"]
    done = subprocess.run([*command, "--version"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"calls-conformance {__version__}"


# --- links -------------------------------------------------------------------------------------


@pytest.mark.parametrize("document", ["README.md", "docs/ci/README.md", "CHANGELOG.md", "docs/requirements.md"])
def test_relative_links_lead_to_existing_files(document: str) -> None:
    path = ROOT / document
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        file_part = target.split("#", 1)[0]
        if not (path.parent / file_part).exists():
            broken.append(target)
    assert not broken, f"{document}: links to missing files: {', '.join(broken)}"
