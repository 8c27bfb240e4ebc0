"""The pytest plugin of the conformance suite: options, the target, preflight, fixtures, the requirement
ledger, cleanup and the verdict. Loaded with `-p conformance.plugin` (the `calls-conformance` command does).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest

from conformance import config as configuration
from conformance import report as reporting
from conformance import spec, verdict
from conformance import baseline as baselines
from conformance import waivers as waiving
from conformance.checks import RequirementViolation
from conformance.client import REDACT, ApiClient, ExchangeLog, RateLimited, RateLimiter, TargetSession, TargetUnavailable
from conformance.config import ConfigError, TargetConfig

_STRICT_PYTEST_NAME = "should-strict"  # pytest owns --strict; the console command maps its --strict here


def _pytest_name(option: configuration.Option) -> str:
    return _STRICT_PYTEST_NAME if option.name == "strict" else option.name


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("calls-api", "Calls API conformance target")
    for option in configuration.OPTIONS:
        kwargs: dict[str, Any] = {"dest": f"calls_{option.dest}", "help": f"{option.help} [env {option.env}]"}
        if option.is_flag:
            kwargs.update(action="store_true", default=None)
        else:
            kwargs.update(default=None, metavar=option.metavar)
        group.addoption(f"--{_pytest_name(option)}", **kwargs)


# --- the run -------------------------------------------------------------------------------------


@dataclass
class CreatedCall:
    sid: str
    body: dict[str, Any]
    created_at: float


class CallBudget:
    """Creates the calls of a run: only when allowed, within --max-calls, each tagged and remembered."""

    def __init__(self, run: "Run") -> None:
        self.run = run
        self.created: list[CreatedCall] = []
        self.attempts = 0
        self._spent: dict[str, int] = {}
        self.invalid_dials = 0  # invalid creates naming the destination that generated tests sent

    def count(self, purpose: str) -> None:
        """Take one create from the budget on behalf of `purpose` (e.g. the generated tests)."""
        self.attempts += 1
        self._spent[purpose] = self._spent.get(purpose, 0) + 1

    def spent(self, purpose: str) -> int:
        return self._spent.get(purpose, 0)

    def skip_reason(self) -> str | None:
        cfg = self.run.config
        if not cfg.allow_create:
            return "creating calls is disabled on an external target: pass --allow-create with --from-number and --to-number"
        if self.attempts >= cfg.max_calls:
            return f"the run's call budget is spent (--max-calls {cfg.max_calls})"
        return None

    def reserve(self) -> None:
        """Take one create from the budget, or skip the calling test."""
        reason = self.skip_reason()
        if reason:
            pytest.skip(reason)
        self.attempts += 1

    def payload(self, **overrides: Any) -> dict[str, Any]:
        body = self.run.config.create_payload()
        body.update(overrides)
        return body

    def remember(self, sid: Any, body: dict[str, Any]) -> None:
        if isinstance(sid, str) and sid and all(c.sid != sid for c in self.created):
            self.created.append(CreatedCall(sid, body, time.time()))

    def create(self, client: ApiClient | None = None, **overrides: Any):
        """POST a create with the configured payload; returns the response (the caller checks it)."""
        self.reserve()
        body = self.payload(**overrides)
        response = (client or self.run.api).create_call(body)
        if 200 <= response.status < 300:
            try:
                self.remember(response.json().get("sid"), body)
            except (ValueError, AttributeError):
                pass
        return response


@dataclass
class Run:
    config: TargetConfig
    api: ApiClient
    other_api: ApiClient | None
    log: ExchangeLog
    ledger: verdict.Ledger
    started: float = field(default_factory=time.time)
    reference: Any = None
    budget: CallBudget = field(init=False)
    leftovers: list[str] = field(default_factory=list)
    preflight_error: str | None = None
    visibility: Any = None  # the background retention-window watch, when its tests are selected
    waivers: Any = None  # conformance.waivers.Waivers of this target, with --waivers
    baseline: Any = None  # (path, verdict) read from --baseline

    def __post_init__(self) -> None:
        self.budget = CallBudget(self)

    def anonymous(self) -> ApiClient:
        """A client of the main account that sends no token unless told to."""
        return self.client(token=None)

    def client(self, token: str | None, account_sid: str | None = None) -> ApiClient:
        """A client of an account (the main one by default) with any token, sharing the run's session."""
        return ApiClient(self.config.base_url, account_sid or self.config.account_sid, token, self.api.session)


_RUN_KEY = pytest.StashKey[Run]()
_ACTIVE: list[Run] = []  # the run of this process, for test modules that build from it at import time


def current_run(config: pytest.Config) -> Run:
    return config.stash[_RUN_KEY]


def active_run() -> Run:
    if not _ACTIVE:
        raise RuntimeError("the conformance plugin is not active: run with calls-conformance or -p conformance.plugin")
    return _ACTIVE[-1]


def _start_embedded_reference(cfg: TargetConfig) -> tuple[Any, TargetConfig]:
    from conformance.reference.server import start_reference
    from conformance.reference.settings import ReferenceSettings

    reference = start_reference(ReferenceSettings.fast(window=cfg.window))
    accounts = [(a.sid, a.token) for a in reference.accounts]
    return reference, cfg.with_embedded_target(reference.base_url, accounts)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirements(*ids): catalogue requirement ids the test checks")
    if not hasattr(config.option, "calls_base_url"):
        return
    cli = {option.dest: getattr(config.option, f"calls_{option.dest}") for option in configuration.OPTIONS}
    try:
        cfg = configuration.resolve(cli)
    except ConfigError as error:
        raise pytest.UsageError(f"calls-conformance: {error}") from None
    reference = None
    if cfg.embedded:
        reference, cfg = _start_embedded_reference(cfg)
    REDACT.add(*cfg.secrets)
    log = ExchangeLog()
    token_envs = {cfg.token: "CALLS_API_TOKEN"}
    if cfg.other_token:
        token_envs[cfg.other_token] = "CALLS_API_OTHER_TOKEN"
    session = TargetSession(timeout=cfg.request_timeout, verify=cfg.verify, limiter=RateLimiter(cfg.rate_limit),
                            log=log, token_envs=token_envs)
    api = ApiClient(cfg.base_url, cfg.account_sid, cfg.token, session)
    other = ApiClient(cfg.base_url, cfg.other_account_sid, cfg.other_token, session) if cfg.has_other_account else None
    config.stash[_RUN_KEY] = Run(cfg, api, other, log, verdict.Ledger(), reference=reference)
    try:
        _load_gates(config.stash[_RUN_KEY])
    except (waiving.WaiverError, baselines.BaselineError) as error:
        _stop_reference(config.stash[_RUN_KEY])
        raise pytest.UsageError(f"calls-conformance: {error}") from None
    _ACTIVE.append(config.stash[_RUN_KEY])


def _load_gates(run: Run) -> None:
    """Read the waiver file and the baseline before anything is sent: a bad one is a usage error."""
    cfg = run.config
    if cfg.waivers:
        run.waivers = waiving.Waivers.for_target(cfg.waivers, run.ledger.catalogue, cfg.name, cfg.base_url)
    if cfg.baseline:
        run.baseline = baselines.load(cfg.baseline)


def _preflight(run: Run) -> str | None:
    """One request per account: reachability, TLS and the token. Returns a one-line error or None."""
    cfg = run.config
    checks = [(run.api, cfg.account_sid, "--token")]
    if run.other_api is not None:
        checks.append((run.other_api, cfg.other_account_sid, "--other-token"))
    for client, sid, option in checks:
        try:
            response = client.list_calls()
        except TargetUnavailable as error:
            return f"target unreachable: {error}"
        except RateLimited as error:
            return f"target rate-limits every request: {error}"
        if response.status == 401:
            return f"the token ({option}) was refused with 401 by {cfg.base_url}: wrong or expired token"
        if response.status == 403:
            return f"the token ({option}) is not allowed on account {sid} (403): wrong account sid for this token"
        if response.status == 404 and "json" not in response.content_type:
            return (f"{cfg.base_url}{client.calls_path()} answered 404: is the base URL right "
                    f"(it must include the version prefix, e.g. /v1)?")
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    if _RUN_KEY not in session.config.stash:
        return
    run = current_run(session.config)
    error = _preflight(run)
    if error:
        run.preflight_error = error
        _stop_reference(run)
        pytest.exit(f"calls-conformance: preflight failed: {error}", returncode=verdict.EXIT_PREFLIGHT_FAILED)


def _requirements_of(item: pytest.Item) -> list[str]:
    ids: list[str] = []
    for mark in item.iter_markers("requirements"):
        ids.extend(mark.args)
    return list(dict.fromkeys(ids))


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if _RUN_KEY not in config.stash:
        return
    ledger = current_run(config).ledger
    for item in items:
        requirements = _requirements_of(item)
        if not requirements:
            raise pytest.UsageError(f"{item.nodeid} declares no requirement (@pytest.mark.requirements)")
        try:
            ledger.collected(requirements, selected=False)
        except KeyError as error:
            raise pytest.UsageError(f"{item.nodeid}: {error.args[0]}") from None


    reporting.label_items(items, ledger.catalogue)
    # The retention-window tests assert last: their watch starts with the session and runs beside the rest.
    items.sort(key=lambda item: item.get_closest_marker("window") is not None)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    if _RUN_KEY not in session.config.stash:
        return
    run = current_run(session.config)
    for item in session.items:
        run.ledger.collected(_requirements_of(item), selected=True)
    if any(item.get_closest_marker("window") for item in session.items) and run.budget.skip_reason() is None:
        from conformance.visibility import start_watch

        run.visibility = start_watch(run)


def _violations(error: BaseException | None) -> list[RequirementViolation]:
    if error is None:
        return []
    if isinstance(error, RequirementViolation):
        return [error]
    if isinstance(error, BaseExceptionGroup):
        found = []
        for inner in error.exceptions:
            found.extend(_violations(inner))
        return found
    return _violations(error.__cause__) if isinstance(error.__cause__, BaseException) else []


def _attaching_failures(item: pytest.Item, start: bool) -> Iterator[Any]:
    """Run a test phase; when it raises, attach its exchanges and curl reproductions to the report."""
    if _RUN_KEY not in item.config.stash:
        return (yield)
    log = current_run(item.config).log
    if start:
        log.drain()  # what came before this test belongs to no one
    try:
        return (yield)
    except BaseException as error:
        reporting.attach_failure(_violations(error), log.drain())
        raise


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[Any]:
    return (yield from _attaching_failures(item, start=True))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[Any]:
    return (yield from _attaching_failures(item, start=False))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[Any]:
    report = yield
    if _RUN_KEY not in item.config.stash:
        return report
    run = current_run(item.config)
    requirements = _requirements_of(item)
    name = item.nodeid
    if report.when == "call" and report.passed:
        run.ledger.passed(name, requirements)
    elif report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        run.ledger.not_run(name, requirements, reason.removeprefix("Skipped: "))
    elif report.failed:
        error = call.excinfo.value if call.excinfo else None
        found = _violations(error)
        if not found:
            kind = type(error).__name__ if error is not None else "error"
            detail = str(error).splitlines()[0] if error is not None and str(error) else kind
            if isinstance(error, (TargetUnavailable, RateLimited)):
                reason = f"{kind}: {detail}"
            else:
                reason = f"{report.when} error, {kind}: {detail}"
            run.ledger.not_run(name, requirements, reason[:300])
            return report
        for v in found:
            curl = v.exchange.curl() if v.exchange else None
            run.ledger.failed(v.requirement, verdict.Failure(name, v.code, v.message, curl))
        failed_ids = {v.requirement for v in found}
        run.ledger.not_run(name, [r for r in requirements if r not in failed_ids],
                           f"not judged: the test stopped at {', '.join(sorted(failed_ids))}")
        levels = {run.ledger.catalogue[v.requirement].level for v in found}
        if _waive(run, report, name, found):
            return report
        if "MUST" not in levels and not run.config.strict:
            # Only SHOULD requirements broke: a warning, reported as an expected failure.
            report.outcome = "skipped"
            report.wasxfail = "SHOULD not met: " + "; ".join(f"{v.requirement} [{v.code}] {v.message}" for v in found)
    return report


def _waive(run: Run, report: pytest.TestReport, name: str, found: list[RequirementViolation]) -> bool:
    """A failed test whose every violation a waiver covers is reported WAIVED (skipped, with the waiver)."""
    message = run.waivers.test_outcome(name, [(v.requirement, v.code) for v in found]) if run.waivers else None
    if message is None:
        return False
    report.outcome = "skipped"
    report.wasxfail = message
    return True


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    if str(getattr(report, "wasxfail", "")).startswith(waiving.WAIVED_PREFIX):
        return "waived", "w", "WAIVED"
    return None


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def run(request: pytest.FixtureRequest) -> Run:
    return current_run(request.config)


@pytest.fixture(scope="session")
def target(run: Run) -> TargetConfig:
    return run.config


@pytest.fixture(scope="session")
def api(run: Run) -> ApiClient:
    return run.api


@pytest.fixture(scope="session")
def other_api(run: Run) -> ApiClient:
    if run.other_api is None:
        pytest.skip("no second account configured: pass --other-account-sid and --other-token-file")
    return run.other_api


@pytest.fixture(scope="session")
def calls(run: Run) -> CallBudget:
    return run.budget


# --- cleanup and verdict -------------------------------------------------------------------------


def _listed_sids(run: Run) -> tuple[set[str], set[str]]:
    """The sids the account lists now, and those of them that carry this run's tag."""
    listed = run.api.list_calls().success_json()
    calls = [c for c in listed if isinstance(c, dict) and isinstance(c.get("call_sid"), str)] \
        if isinstance(listed, list) else []
    tagged = {c["call_sid"] for c in calls
              if isinstance(c.get("tag"), dict) and c["tag"].get("conformance_run") == run.config.run_id}
    return {c["call_sid"] for c in calls}, tagged


def _cleanup(run: Run) -> None:
    """Delete every call the run created, and every listed call that carries the run's tag (a deployment may
    place a call for a create it refused); what is still listed afterwards is reported."""
    created = {c.sid for c in run.budget.created}
    if not created and not run.config.allow_create:
        return  # nothing was sent that could place a call
    try:
        for sid in sorted(created):
            run.api.delete_call(sid)
        _, tagged = _listed_sids(run)
        for sid in sorted(tagged - created):
            run.api.delete_call(sid)
        seen, still_tagged = _listed_sids(run) if created or tagged else (set(), set())
        run.leftovers = sorted((seen & (created | tagged)) | still_tagged)
    except (TargetUnavailable, RateLimited) as error:
        run.leftovers = [f"(cleanup incomplete: {error})"]


def _stop_reference(run: Run) -> None:
    if run.reference is not None:
        run.reference.stop()
        run.reference = None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _RUN_KEY not in session.config.stash:
        return
    run = current_run(session.config)
    if run.preflight_error:
        return
    if run.visibility is not None:
        run.visibility.stop()
    _cleanup(run)
    _stop_reference(run)
    stats = {"calls_created": len(run.budget.created), "create_attempts": run.budget.attempts,
             "requests_sent": run.log.total, "leftover_calls": run.leftovers}
    result = verdict.build_verdict(
        run.ledger, strict=run.config.strict, accept_incomplete=run.config.accept_incomplete,
        target=run.config.public_summary(), spec_version=spec.spec_version(), started=run.started, stats=stats)
    if run.waivers is not None:
        waiving.apply(result, run.waivers, accept_incomplete=run.config.accept_incomplete,
                      fail_on_stale=run.config.fail_on_stale_waivers)
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        session.exitstatus = result["exit_code"]
    else:
        # Interrupted, collection errors, no tests: the run itself did not complete.
        result["exit_code"] = int(exitstatus)
        result["run_error"] = pytest.ExitCode(exitstatus).name.lower().replace("_", " ")
        if result["verdict"] in (verdict.CONFORMANT, waiving.CONFORMANT_WITH_WAIVERS):
            result["verdict"] = verdict.INCOMPLETE
    if run.baseline is not None:
        baselines.apply(result, run.baseline, run.config.gate)
        session.exitstatus = result["exit_code"]
    verdict.write_verdict(result, run.config.reports_dir)
    waiving.relabel_allure_results(run.config.reports_dir / reporting.RESULTS_DIR)
    reporting.write_run_files(run.config, result)
    session.config.stash[_VERDICT_KEY] = result


_VERDICT_KEY = pytest.StashKey[dict]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if _VERDICT_KEY not in config.stash:
        return
    result = config.stash[_VERDICT_KEY]
    terminalreporter.section("Calls API conformance: requirement by requirement")
    for line in verdict.summary_lines(result) + waiving.summary_lines(result) + baselines.summary_lines(result):
        terminalreporter.write_line(line)
    leftovers = result["stats"]["leftover_calls"]
    if leftovers:
        terminalreporter.write_line(f"WARNING: calls created by this run still listed after cleanup: {', '.join(leftovers)}")
    terminalreporter.write_line(f"verdict written to {config.stash[_RUN_KEY].config.reports_dir / 'verdict.json'}")
