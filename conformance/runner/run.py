"""The run: its settings, its clients over one session, its history, ledger, call budget and watches, kept for
the whole pytest session (`current_run`). `start_run` makes it from the options before anything is sent."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from conformance.evidence.history import History
from conformance.evidence.observed import ObservedClient
from conformance.evidence.timeline import Timeline
from conformance.judgement import baseline as baselines
from conformance.judgement import waivers as waiving
from conformance.judgement.checks import judge_contract_status
from conformance.judgement.ledger import Ledger
from conformance.runner.budget import CallBudget
from conformance.runner.case_selection import CoverageSelection
from conformance.deployment import config as configuration
from conformance.deployment.api import ApiClient
from conformance.deployment.config import TargetConfig
from conformance.deployment.exchange import ExchangeLog
from conformance.deployment.pacing import Pacer
from conformance.deployment.redaction import REDACT
from conformance.deployment.transport import TargetSession


@dataclass
class Run:
    config: TargetConfig
    api: ApiClient
    other_api: ApiClient | None
    log: ExchangeLog
    ledger: Ledger
    started: float = field(default_factory=time.time)
    reference: Any = None  # the embedded reference server, when the run started one
    budget: CallBudget = field(init=False)
    leftovers: list[str] = field(default_factory=list)
    preflight_error: str | None = None
    target_errors: int = 0  # tests left not run by a failed exchange: --accept-incomplete does not cover them
    target_failure: dict[str, Any] | None = None  # how the target failed the run (verdict.json `target_failure`)
    window_watch: Any = None  # the background retention-window watch, when its tests are selected
    timeline: Timeline = field(default_factory=Timeline)  # the background watches, and what they did when
    waivers: Any = None  # conformance.judgement.waivers.Waivers of this target, with --waivers
    baseline: Any = None  # (path, verdict) read from --baseline
    history: History = field(default_factory=History)  # every exchange of the run, for the oracle
    coverage: CoverageSelection = field(init=False)  # the coverage-phase cases sent
    list_sampler: Any = None  # lists taken when the run holds the most calls, when a selected test judges them
    runs_tests: bool = True  # False for a session that only lists (--collect-only, --fixtures...): it sends nothing
    interrupted: str | None = None  # the signal that interrupted the run (SIGINT, SIGTERM)
    finishing: bool = False  # the run is cleaning up and deciding its verdict
    unreached: dict[str, list[str]] | None = None  # selected tests not finished yet, with their requirements

    def __post_init__(self) -> None:
        self.budget = CallBudget(self.config, self.api)
        self.coverage = CoverageSelection(every=self.config.coverage_cases == "all")

    def anonymous(self) -> ApiClient:
        """A client of the main account that sends no token unless told to."""
        return self.client(token=None)

    def client(self, token: str | None, account_sid: str | None = None) -> ApiClient:
        """A client of an account (the main one by default) with any token, sharing the run's session."""
        return JudgedClient(self.config.base_url, account_sid or self.config.account_sid, token, self.api.session)


class JudgedClient(ObservedClient):
    """The client of the suite's tests: every answer's status is judged against the contract, whatever the
    test makes of it (checks.judge_contract_status; the generated tests judge theirs in property_tests.py)."""

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = super().request(method, path, **kwargs)
        judge_contract_status(response)
        return response


_RUN_KEY = pytest.StashKey[Run]()
#: pytest's options with which a session runs no test: it lists, it sends nothing and writes no report.
_NO_TEST_OPTIONS = ("collectonly", "setuponly", "setupplan", "showfixtures", "show_fixtures_per_test", "markers",
                    "help", "version")
_ACTIVE: list[Run] = []  # the run of this process, for test modules that build from it at import time


def has_run(config: pytest.Config) -> bool:
    """Whether this pytest session is a conformance run (the plugin's options were given)."""
    return _RUN_KEY in config.stash


def runs_no_test(config: pytest.Config) -> bool:
    return any(getattr(config.option, name, None) for name in _NO_TEST_OPTIONS)


def current_run(config: pytest.Config) -> Run:
    return config.stash[_RUN_KEY]


def active_run() -> Run:
    if not _ACTIVE:
        raise RuntimeError("the conformance plugin is not active: run with calls-conformance "
                           "or -p conformance.runner.plugin")
    return _ACTIVE[-1]


def open_run(cfg: TargetConfig, reference: Any = None, on_wait: Callable[[str], None] | None = None) -> Run:
    """The run of `cfg`: its session (pacing, guard, history), a client per account, its ledger."""
    log = ExchangeLog()
    token_envs = {cfg.token: "CALLS_API_TOKEN"}
    if cfg.other_token:
        token_envs[cfg.other_token] = "CALLS_API_OTHER_TOKEN"
    tokens = {cfg.token: cfg.account_sid}
    if cfg.has_other_account and cfg.other_token:
        tokens[cfg.other_token] = cfg.other_account_sid
    history = History(tokens)
    pacer = Pacer(cfg.rate_limit, on_wait)
    # Kept of an announced quota for the cleanup: a delete per call the run may create, two lists per account.
    pacer.cleanup_reserve = cfg.max_calls + 4 if cfg.allow_create else 0
    session = TargetSession(timeout=cfg.request_timeout, verify=cfg.verify, pacer=pacer,
                            log=log, token_envs=token_envs, max_body_bytes=cfg.max_body_bytes,
                            budget=cfg.run_budget, on_wait=on_wait, history=history)
    api = JudgedClient(cfg.base_url, cfg.account_sid, cfg.token, session)
    other = JudgedClient(cfg.base_url, cfg.other_account_sid, cfg.other_token, session) if cfg.has_other_account else None
    return Run(cfg, api, other, log, Ledger(), reference=reference, history=history)


def start_run(config: pytest.Config, values: dict[str, Any], on_wait: Callable[[str], None]) -> Run:
    """Resolve the settings, start the embedded reference when no target is given (and the session runs tests),
    open the run and read its waivers and baseline. Raises ConfigError, WaiverError or BaselineError (usage
    errors), having stopped whatever it started."""
    cfg = configuration.resolve(values)
    runs_tests = not runs_no_test(config)
    reference = None
    if cfg.embedded:
        reference, cfg = _embedded_reference(cfg, start=runs_tests)
    REDACT.add(*cfg.secrets)
    run = open_run(cfg, reference, on_wait)
    run.runs_tests = runs_tests
    try:
        _load_gates(run)
    except (waiving.WaiverError, baselines.BaselineError):
        stop_reference(run)
        raise
    config.stash[_RUN_KEY] = run
    _ACTIVE.append(run)
    return run


def _embedded_reference(cfg: TargetConfig, start: bool) -> tuple[Any, TargetConfig]:
    """The embedded reference and the settings that point at it; when not `start`ed (a session that sends
    nothing), its accounts at an address no request is sent to."""
    from conformance.reference.app import API_PREFIX
    from conformance.reference.server import start_reference
    from conformance.reference.settings import ReferenceSettings

    settings = ReferenceSettings.fast(window=cfg.window)
    reference = start_reference(settings) if start else None
    base_url = reference.base_url if reference else f"http://{settings.host}:{settings.port}{API_PREFIX}"
    accounts = [(a.sid, a.token) for a in settings.accounts]
    applications = (settings.accounts[0].application_sid, settings.accounts[1].application_sid)
    return reference, cfg.with_embedded_target(base_url, accounts, applications)


def _load_gates(run: Run) -> None:
    """Read the waiver file and the baseline before anything is sent: a bad one is a usage error."""
    cfg = run.config
    if cfg.waivers:
        run.waivers = waiving.Waivers.for_target(cfg.waivers, run.ledger.catalogue, cfg.name, cfg.base_url)
    if cfg.baseline:
        run.baseline = baselines.load(cfg.baseline)


def stop_reference(run: Run) -> None:
    if run.reference is not None:
        run.reference.stop()
        run.reference = None
