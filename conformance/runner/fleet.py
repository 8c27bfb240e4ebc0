"""`calls-conformance fleet` and `calls-conformance merge`: many targets, one matrix.

    calls-conformance fleet [--reports-dir OUT] [--parallel N] [--no-html] PROFILE... | DIR  [-- ARGS...]
    calls-conformance merge --reports-dir OUT [--no-html] DIR...

`fleet` runs the suite once per profile (a name under fixtures/targets/, a TOML path, or a directory of
them), each run a separate `calls-conformance` process with its own reports directory `OUT/<profile>/`,
its own run id and no Hypothesis database, at most N at once; one failing never stops the others. Each
run's settings come from its profile alone (the CALLS_API_* variables of the fleet's environment are not
handed down, so one target's token never reaches another) plus ARGS, given to every run (suite options
such as --waivers or --examples, and pytest arguments such as -m "not slow"). `merge` builds the same
matrix from reports directories made elsewhere (one CI job per target). Both exit with the worst of the
targets' exit codes (conformance.reports.matrix.WORST_FIRST).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conformance.reports import RESULTS_DIR, matrix
from conformance.deployment.config import PROFILE_DIRS

EXIT_USAGE = 4
DEFAULT_PARALLEL = 4
RUN_LOG = "run.log"


class FleetError(Exception):
    """A fleet that cannot be run, reported as one line (a usage error)."""


def profile_paths(references: list[str]) -> list[Path]:
    """Profile files from names, paths and directories (every *.toml of a directory, sorted)."""
    found: list[Path] = []
    for ref in references:
        path = Path(ref)
        if path.is_dir():
            inside = sorted(path.glob("*.toml"))
            if not inside:
                raise FleetError(f"no profile (*.toml) in the directory {path}")
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            named = [d / f"{ref}.toml" for d in PROFILE_DIRS if (d / f"{ref}.toml").is_file()]
            if path.suffix or not named:
                raise FleetError(f"profile not found: {ref}")
            found.append(named[0])
    names = [p.stem for p in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise FleetError(f"two profiles named {twice[0]!r}: each target needs its own name (its reports directory)")
    if not found:
        raise FleetError("no profile given")
    return found


def run_environment(environ: dict[str, str] | os._Environ) -> dict[str, str]:
    """The environment of one target's run: the fleet's, without any CALLS_API_* setting."""
    env = {k: v for k, v in environ.items() if not k.startswith("CALLS_API_")}
    package_root = str(Path(__file__).resolve().parents[2])  # the directory holding the conformance package
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (package_root, environ.get("PYTHONPATH"))))
    return env


def run_target(profile: Path, out: Path, extra: list[str], timeout: float | None) -> tuple[int, float]:
    """One target's run as a separate process; its output goes to OUT/<name>/run.log."""
    reports = out / profile.stem
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "verdict.json").unlink(missing_ok=True)  # a verdict left from an earlier fleet is not this run's
    command = [sys.executable, "-m", "conformance", "--profile", str(profile.resolve()),
               "--reports-dir", str(reports), "--no-html", *extra]
    started = time.monotonic()
    with (reports / RUN_LOG).open("w", encoding="utf-8") as log:
        try:
            done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=run_environment(os.environ),
                                  timeout=timeout, stdin=subprocess.DEVNULL)
            code = done.returncode
        except subprocess.TimeoutExpired:
            log.write(f"\ncalls-conformance fleet: the run took longer than {timeout} s and was stopped\n")
            code = 2
    return (code if code >= 0 else 2), time.monotonic() - started


def last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def run_fleet(profiles: list[Path], out: Path, parallel: int, extra: list[str],
              timeout: float | None = None, echo=print) -> list[matrix.TargetRun]:
    lock = threading.Lock()

    def one(profile: Path) -> matrix.TargetRun:
        code, seconds = run_target(profile, out, extra, timeout)
        run = matrix.read_run(out / profile.stem, name=profile.stem, exit_code=code)
        if run.verdict is None:
            run.note = last_line(out / profile.stem / RUN_LOG)
        with lock:
            echo(f"calls-conformance fleet: {profile.stem}: {run.verdict_word} (exit code {code}) in {seconds:.1f} s"
                 + (f": {run.note}" if run.verdict is None and run.note else ""))
        return run

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(one, profiles))


def finish(runs: list[matrix.TargetRun], out: Path, html: bool, echo=print) -> int:
    """Matrix in the terminal and in files, the combined Allure report; returns the fleet's exit code."""
    table = matrix.write(runs, out)
    for line in matrix.terminal_lines(table):
        echo(line)
    echo(f"calls-conformance: fleet matrix: {out / matrix.MATRIX_HTML} (Markdown: {out / matrix.MATRIX_MD})")
    for run in runs:
        page = run.reports_dir / "report.html"
        if page.is_file():
            echo(f"calls-conformance: {run.name}: report {page}")
    if html:
        from conformance import report

        report.generate_html(out, group_by="parentSuite,feature,story")
    else:
        echo(f"calls-conformance: combined Allure results in {out / RESULTS_DIR} "
             f"(for the Allure report: npx allure@{_allure_version()} generate {out / RESULTS_DIR})")
    return int(table["exit_code"])


def _allure_version() -> str:
    from conformance.reports.allure_html import ALLURE_VERSION

    return ALLURE_VERSION


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], argv[at + 1:]
    return argv, []


def fleet_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="calls-conformance fleet",
        allow_abbrev=False,  # `--par 3` must not be taken as `--parallel 3`
        description="Run the suite against several targets, one profile each, and merge the verdicts into one "
                    "matrix. Arguments after -- are given to every run (e.g. -- --waivers w.toml -m \"not slow\").")
    parser.add_argument("profiles", nargs="+", metavar="PROFILE|DIR", help="profile names, TOML paths or a directory of them")
    parser.add_argument("--reports-dir", default="reports", metavar="OUT", help="OUT/<profile>/ per target, the matrix in OUT")
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, metavar="N",
                        help=f"most targets run at once (default {DEFAULT_PARALLEL})")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="stop a target's run after this long")
    parser.add_argument("--no-html", action="store_true", help="do not generate the combined Allure HTML report")
    return parser


def merge_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="calls-conformance merge",
        allow_abbrev=False,
        description="Build the fleet matrix and the combined Allure results from reports directories of separate "
                    "runs (each holding verdict.json and allure-results/; a directory of such directories works too).")
    parser.add_argument("dirs", nargs="+", metavar="DIR")
    parser.add_argument("--reports-dir", required=True, metavar="OUT", help="where the matrix and combined results go")
    parser.add_argument("--no-html", action="store_true", help="do not generate the combined Allure HTML report")
    return parser


def fleet_main(argv: list[str]) -> int:
    own, extra = _split(argv)
    parser = fleet_parser()
    try:
        args = parser.parse_args(own)
    except SystemExit as stop:
        return EXIT_USAGE if stop.code else 0
    if args.parallel < 1:
        print("calls-conformance fleet: --parallel must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        profiles = profile_paths(args.profiles)
    except FleetError as error:
        print(f"calls-conformance fleet: {error}", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.reports_dir)
    started = time.monotonic()
    try:
        runs = run_fleet(profiles, out, args.parallel, extra, args.timeout)
    except KeyboardInterrupt:  # the runs got the same Ctrl-C and stop with their own reports
        print("calls-conformance fleet: interrupted", file=sys.stderr)
        return 2
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"calls-conformance fleet: {len(runs)} targets in {time.monotonic() - started:.1f} s, at most "
          f"{args.parallel} at once; largest run {peak:.0f} MiB")
    return finish(runs, out, html=not args.no_html)


def merge_main(argv: list[str]) -> int:
    parser = merge_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return EXIT_USAGE if stop.code else 0
    missing = [d for d in args.dirs if not Path(d).is_dir()]
    if missing:
        print(f"calls-conformance merge: no such directory: {missing[0]}", file=sys.stderr)
        return EXIT_USAGE
    dirs = matrix.find_run_dirs(args.dirs)
    if not dirs:
        print(f"calls-conformance merge: no verdict.json in {', '.join(args.dirs)}", file=sys.stderr)
        return EXIT_USAGE
    runs = [matrix.read_run(d) for d in dirs]
    return finish(runs, Path(args.reports_dir), html=not args.no_html)
