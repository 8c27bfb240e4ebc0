"""The pytest plugin of the conformance suite: options, the target, preflight, fixtures, the requirement
ledger, cleanup and the verdict. Loaded with `-p conformance.plugin` (the `calls-conformance` command does).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urljoin

import pytest

from conformance import config as configuration
from conformance import report as reporting
from conformance import spec, verdict
from conformance import baseline as baselines
from conformance import waivers as waiving
from conformance.checks import Judgement, RequirementViolation, judgement, violations_in
from conformance.client import (REDACT, ApiClient, ExchangeLog, RateLimited, RateLimiter, TargetFailed, TargetSession,
                               TargetUnavailable, cut_words)
from conformance.config import ConfigError, TargetConfig
from conformance.history import History
from conformance.timeline import Timeline
from conformance.visibility import DELETED, ObservedClient

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
    account_sid: str | None = None  # the account it was made in (None: the tested account)


class CallBudget:
    """Creates the calls of a run: only when allowed, within --max-calls, each tagged and remembered."""

    def __init__(self, run: "Run") -> None:
        self.run = run
        self.created: list[CreatedCall] = []
        self.attempts = 0
        self._spent: dict[str, int] = {}

    def count(self, purpose: str, call: bool = True) -> None:
        """Count one request on behalf of `purpose` (e.g. the generated tests); with `call`, a create taken
        from the budget (without: e.g. an invalid create naming the destination, which places no call)."""
        if call:
            self.attempts += 1
        self._spent[purpose] = self._spent.get(purpose, 0) + 1

    def spent(self, purpose: str) -> int:
        return self._spent.get(purpose, 0)

    def skip_reason(self) -> str | None:
        cfg = self.run.config
        if not cfg.allow_create:
            return ("creating calls is disabled on an external target: "
                    + configuration.ways_to_give("allow-create", "from-number", "to-number"))
        if self.attempts >= cfg.max_calls:
            return f"the run's call budget is spent (--max-calls {cfg.max_calls})"
        return None

    def reserve(self) -> None:
        """Take one create from the budget, or skip the calling test."""
        reason = self.skip_reason()
        if reason:
            pytest.skip(reason)
        self.count("scenario")

    def payload(self, other_account: bool = False, **overrides: Any) -> dict[str, Any]:
        body = self.run.config.create_payload(other_account)
        body.update(overrides)
        return body

    def remember(self, sid: Any, body: dict[str, Any], account_sid: str | None = None) -> None:
        """Note a call the run made (in `account_sid`, by default the tested account): the cleanup deletes it."""
        if isinstance(sid, str) and sid and all(c.sid != sid for c in self.created):
            account = None if account_sid == self.run.config.account_sid else account_sid
            self.created.append(CreatedCall(sid, body, time.time(), account))

    def create(self, client: ApiClient | None = None, **overrides: Any):
        """POST a create with the configured payload; returns the response (the caller checks it)."""
        self.reserve()
        client = client or self.run.api
        body = self.payload(client.account_sid == self.run.config.other_account_sid != self.run.config.account_sid,
                            **overrides)
        response = client.create_call(body)
        if 200 <= response.status < 300:
            try:
                self.remember(response.json().get("sid"), body, client.account_sid)
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
    target_errors: int = 0  # tests left not run by a failed exchange: --accept-incomplete does not cover them
    target_failure: dict[str, Any] | None = None  # how the target failed the run (verdict.json `target_failure`)
    visibility: Any = None  # the background retention-window watch, when its tests are selected
    timeline: Timeline = field(default_factory=Timeline)  # the background watches, and what they did when
    waivers: Any = None  # conformance.waivers.Waivers of this target, with --waivers
    baseline: Any = None  # (path, verdict) read from --baseline
    history: History = field(default_factory=History)  # every exchange of the run, for the oracle

    def __post_init__(self) -> None:
        self.budget = CallBudget(self)

    def anonymous(self) -> ApiClient:
        """A client of the main account that sends no token unless told to."""
        return self.client(token=None)

    def client(self, token: str | None, account_sid: str | None = None) -> ApiClient:
        """A client of an account (the main one by default) with any token, sharing the run's session."""
        return ObservedClient(self.config.base_url, account_sid or self.config.account_sid, token, self.api.session)


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
    applications = (reference.accounts[0].application_sid, reference.accounts[1].application_sid)
    return reference, cfg.with_embedded_target(reference.base_url, accounts, applications)


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
    tokens = {cfg.token: cfg.account_sid}
    if cfg.has_other_account and cfg.other_token:
        tokens[cfg.other_token] = cfg.other_account_sid
    history = History(tokens)
    session = TargetSession(timeout=cfg.request_timeout, verify=cfg.verify, limiter=RateLimiter(cfg.rate_limit),
                            log=log, token_envs=token_envs, max_body_bytes=cfg.max_body_bytes,
                            budget=cfg.run_budget, on_wait=_announcer(config), history=history)
    api = ObservedClient(cfg.base_url, cfg.account_sid, cfg.token, session)
    other = ObservedClient(cfg.base_url, cfg.other_account_sid, cfg.other_token, session) if cfg.has_other_account else None
    config.stash[_RUN_KEY] = Run(cfg, api, other, log, verdict.Ledger(), reference=reference, history=history)
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


def _announcer(config: pytest.Config) -> Any:
    """Prints a line about the run as it happens (a long wait, the run stopping): on the terminal, once."""
    def announce(message: str) -> None:
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        if terminal is None or capture is None:
            sys.stderr.write(f"calls-conformance: {message}\n")
            return
        with capture.global_and_fixture_disabled():  # seen as it happens, not in a test's captured output
            terminal.write_line(f"calls-conformance: {message}")
    return announce


def _preflight(run: Run) -> tuple[str, str] | None:
    """A list per account, and a get of an unknown call: reachability, TLS, redirects, health and the token.
    Returns (kind, one-line message) when the run cannot go on, else None."""
    cfg = run.config
    checks = [(run.api, cfg.account_sid, "--token")]
    if run.other_api is not None:
        checks.append((run.other_api, cfg.other_account_sid, "--other-token"))
    for client, sid, option in checks:
        path = client.calls_path()
        try:
            response = client.list_calls()
        except RateLimited as error:
            return "rate-limited", f"the target answers 429 Too Many Requests to every request: {error}"
        except TargetUnavailable as error:
            return error.kind, str(error)
        status = response.status
        if 300 <= status < 400:
            location = response.headers.get("location")
            if not location:
                return "redirect", f"{cfg.base_url}{path} answered {status} without a Location: the base URL is not the API"
            location = urljoin(f"{cfg.base_url}{path}", location)
            suggested = location.removesuffix(path) if location.endswith(path) else None
            if suggested:
                return "redirect", f"the base URL redirects ({status}) to {suggested}: use that URL"
            return "redirect", (f"{cfg.base_url}{path} redirects ({status}) to {location}: the base URL is not the API "
                                f"(the suite never follows redirects)")
        if status >= 500:
            try:
                probe = client.get_call("00000000-0000-4000-8000-000000000000").status
            except TargetUnavailable:
                probe = status
            if probe >= 500:
                return "unhealthy", (f"the target is unhealthy: answered {status} to GET {cfg.base_url}{path}, "
                                     f"and {probe} to a get of a call")
        if status == 401:
            return "token-refused", f"the token ({option}) was refused with 401 by {cfg.base_url}: wrong or expired token"
        if status == 403:
            return "wrong-account", f"the token ({option}) is not allowed on account {sid} (403): wrong account sid for this token"
        if status == 404 and "json" not in response.content_type:
            return "wrong-base-url", (f"{cfg.base_url}{path} answered 404: is the base URL right "
                                      f"(it must include the version prefix, e.g. /v1)?")
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    if _RUN_KEY not in session.config.stash:
        return
    run = current_run(session.config)
    found = _preflight(run)
    if found:
        kind, message = found
        run.preflight_error = message
        run.target_failure = {"stage": "preflight", "kind": kind, "message": message, "requests_sent": run.log.total}
        # Said once, here; the run then collects nothing and ends with exit code 7 and its verdict.json.
        sys.stderr.write(f"calls-conformance: preflight failed: {message}\n")
        sys.stderr.flush()
        return
    needs = _predicted_needs(session.config)
    if needs is not None:
        _start_watches(run, needs.window, needs.fixtures)


#: Options with which a session runs no test: no watch is started, no call placed.
_NO_TEST_OPTIONS = ("collectonly", "setuponly", "setupplan", "showfixtures", "show_fixtures_per_test")
#: Options with which a session may run fewer tests than the -m/-k reading predicts: the watches then
#: wait for the real collection.
_NARROWING_OPTIONS = ("deselect", "ignore", "ignore_glob", "lf", "stepwise")


def _runs_no_test(config: pytest.Config) -> bool:
    return any(getattr(config.option, name, None) for name in _NO_TEST_OPTIONS)


def _predicted_needs(config: pytest.Config) -> Any:
    """What the selected tests will need of the background watches, read from the suite's source before
    collection (conformance.selection), or None when it cannot be told that way."""
    from conformance import selection

    if _runs_no_test(config) or any(getattr(config.option, name, None) for name in _NARROWING_OPTIONS):
        return None
    suite = Path(__file__).resolve().parent / "suite"
    paths = [Path(str(arg).split("::", 1)[0]).resolve() for arg in config.args]
    if not any(path == suite or path in suite.parents for path in paths):
        return None  # only some of the suite's files are collected
    return selection.predict_needs(suite, config.getoption("markexpr", ""), config.getoption("keyword", ""),
                                   selection.operations(), _parents(suite, config))


def _parents(directory: Path, config: pytest.Config) -> tuple[str, ...]:
    """The directory names -k matches a test of `directory` by (its path below the rootdir)."""
    try:
        return directory.relative_to(config.rootpath).parts
    except ValueError:
        return ()


def _lifecycle_parts(needs: Any) -> tuple[bool, bool]:
    """How far the selected tests need the lifecycle call followed: (to its end, then to its delete)."""
    return bool(needs & {"life", "deletion"}), "deletion" in needs


def _start_watches(run: Run, window: bool, needs: Any) -> None:
    """Start, in the background, what waits on real time and is not started yet: the retention-window
    call (its create is made here), then the lifecycle call (created in its thread), so that the calls
    are taken from the budget in that order."""
    if window and run.visibility is None and run.budget.skip_reason() is None:
        from conformance.visibility import start_watch

        run.visibility = start_watch(run)
    if "created" in needs and "lifecycle" not in run.timeline.watches:
        from conformance.lifecycle import start_lifecycle

        follow, delete = _lifecycle_parts(needs)
        start_lifecycle(run, follow=follow, delete=delete)


def _reconcile_watches(run: Run, window: bool, needs: set[str]) -> None:
    """After collection: stop a watch started for tests that were not selected after all (its call is
    deleted with the run's other calls), follow the lifecycle call only as far as the selected tests
    need, and start whatever the prediction missed."""
    if run.visibility is not None and not window:
        run.visibility.give_up("no selected test needs it")
        run.visibility.stop()
    lifecycle = run.timeline.watches.get("lifecycle")
    if lifecycle is not None and "created" not in needs:
        lifecycle.give_up("no selected test needs it")
        lifecycle.stop()
    elif lifecycle is not None:
        lifecycle.follow, lifecycle.delete = _lifecycle_parts(needs)
    _start_watches(run, window, needs)


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> Any:
    if _RUN_KEY in session.config.stash and current_run(session.config).preflight_error:
        session.items = []
        return True  # nothing to collect: the target failed the preflight
    return None


def pytest_ignore_collect(collection_path: Any, config: pytest.Config) -> bool | None:
    """Leave out a module that builds Schemathesis tests when -m/-k cannot select any of them (start-up
    time); its requirements are recorded as deselected, as if it had been collected."""
    from conformance import selection

    if _RUN_KEY not in config.stash or collection_path.name not in selection.COSTLY_MODULES:
        return None
    markexpr, keywordexpr = config.getoption("markexpr", ""), config.getoption("keyword", "")
    if not markexpr and not keywordexpr:
        return None
    module = selection.read_module(collection_path)
    if module is None:
        return None
    if not selection.cannot_select(module, markexpr, keywordexpr, selection.operations(),
                                   _parents(collection_path.parent, config)):
        return None
    ledger = current_run(config).ledger
    ledger.collected([rid for rid in module.requirements if rid in ledger.catalogue], selected=False)
    return True


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
    items.sort(key=need_order)


#: The fixtures through which a test waits for a background watch, in the order their records are
#: expected to be complete: the lifecycle call's end, then its delete (at once after the end).
WAITING_FIXTURES = {"life": 1, "deletion": 2, "lifecycle_settled": 2}


def need_order(item: pytest.Item) -> tuple[bool, int]:
    """Ordering by need: tests that wait for a background watch run at the end, in the order their watch is
    expected to be done (the lifecycle call ends within a call's length; the retention window passes
    after that); tests of what the whole run saw (`oracle`) run last of all. Stable: file order otherwise."""
    if item.get_closest_marker("window") is not None:
        rank = 3
    else:
        rank = max((WAITING_FIXTURES.get(name, 0) for name in getattr(item, "fixturenames", ())), default=0)
    return item.get_closest_marker("oracle") is not None, rank


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    if _RUN_KEY not in session.config.stash:
        return
    run = current_run(session.config)
    for item in session.items:
        run.ledger.collected(_requirements_of(item), selected=True)
    # Everything that waits on real time was started at the session's start from what the selection was
    # predicted to need; now that the selection is known, the watches are made to match it.
    run.timeline.note("run", f"collection finished: {len(session.items)} tests selected")
    if _runs_no_test(session.config):
        return
    window = any(item.get_closest_marker("window") for item in session.items)
    _reconcile_watches(run, window, {name for item in session.items for name in getattr(item, "fixturenames", ())})


_JUDGEMENTS = pytest.StashKey[dict[str, Judgement]]()


def _transport_error(error: BaseException | None) -> TargetUnavailable | None:
    """The failed exchange that ended a test, wherever it sits (an exception group, a cause)."""
    if error is None or isinstance(error, TargetUnavailable):
        return error
    if isinstance(error, BaseExceptionGroup):
        return next(filter(None, (_transport_error(inner) for inner in error.exceptions)), None)
    return _transport_error(error.__cause__ or error.__context__)


def _attaching_failures(item: pytest.Item, start: bool) -> Iterator[Any]:
    """Run a test phase, recording the violations its checks charge without stopping (checks.record); when
    it raises or recorded any, attach its exchanges and curl reproductions to the report."""
    if _RUN_KEY not in item.config.stash:
        return (yield)
    log = current_run(item.config).log
    if start:
        log.drain()  # what came before this test belongs to no one
    with judgement() as judged:
        item.stash.setdefault(_JUDGEMENTS, {})["setup" if start else "call"] = judged
        try:
            result = yield
        except BaseException as error:
            raised = violations_in(error)
            reporting.attach_failure(judged.violations + raised, log.drain())
            if not raised and isinstance(error, Exception):
                reporting.attach_traceback(error)  # the details of an error that is no requirement failure
            raise
        if judged.violations:
            reporting.attach_failure(judged.violations, log.drain())
        return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[Any]:
    if _RUN_KEY in item.config.stash and current_run(item.config).api.session.stopped is not None:
        # The run stopped sending (circuit breaker, run budget): the test is not run, and says why.
        pytest.skip(f"TARGET FAILED: {current_run(item.config).api.session.stopped}")
    return (yield from _attaching_failures(item, start=True))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[Any]:
    return (yield from _attaching_failures(item, start=False))


def _redact_report(report: pytest.TestReport) -> None:
    """Secrets out of what the terminal, JUnit and Allure show of a test: a target may echo a token into values a
    traceback quotes (a test's arguments). The structured failure is kept unless it holds a secret."""
    if isinstance(report.longrepr, str):
        report.longrepr = REDACT(report.longrepr)
    elif report.longrepr is not None and not isinstance(report.longrepr, tuple):
        text = str(report.longrepr)
        if REDACT(text) != text:
            report.longrepr = REDACT(text)
    report.sections = [(name, REDACT(content)) for name, content in report.sections]


def _in_catalogue_order(found: list[RequirementViolation], catalogue: dict[str, Any]) -> list[RequirementViolation]:
    """One violation per requirement and message, in catalogue order: the same account on every run."""
    order = {rid: index for index, rid in enumerate(catalogue)}
    unique = {(v.requirement, v.code, v.message): v for v in reversed(found)}
    return sorted(unique.values(), key=lambda v: (order.get(v.requirement, len(order)), v.code, v.message))


def report_word(found: list[RequirementViolation], run: Run) -> str:
    """The one word for a test whose checks found `found` (non-empty): FAIL if any decides the verdict,
    else WARN (SHOULD or MAY, not strict), else ADVICE. The one place a test's outcome is decided."""
    words = {verdict.failure_word(run.ledger.catalogue[v.requirement].level, run.config.strict) for v in found}
    for word in (verdict.FAIL, verdict.WARN, verdict.ADVICE):
        if word in words:
            return word
    return verdict.FAIL


def _skip_reason(report: pytest.TestReport) -> str:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return reason.removeprefix("Skipped: ")


def _error_reason(error: BaseException | None, when: str) -> str:
    """One line for an error that is no requirement failure (redacted, cut at a word)."""
    kind = type(error).__name__ if error is not None else "error"
    detail = str(error).splitlines()[0] if error is not None and str(error) else kind
    if isinstance(error, (TargetUnavailable, RateLimited)):
        return cut_words(REDACT(f"{kind}: {detail}"), 300)
    return cut_words(REDACT(f"{when} error, {kind}: {detail}"), 300)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[Any]:
    """Charge each violation to the requirement it breaks; judge the test's other requirements on the rest
    of its evidence: passed when the test went through, NOT RUN (with the real reason) when it could not
    judge them."""
    report = yield
    if _RUN_KEY not in item.config.stash:
        return report
    _redact_report(report)
    run = current_run(item.config)
    requirements = _requirements_of(item)
    name = item.nodeid
    phases = item.stash.get(_JUDGEMENTS, {})
    if report.when == "setup" and report.passed:
        return report  # what the fixtures recorded is judged with the test's call
    judged = phases.get(report.when) or Judgement()
    if report.when == "call" and "setup" in phases:
        setup = phases["setup"]
        judged = Judgement(setup.violations + judged.violations, {**setup.not_judged, **judged.not_judged})
    error = call.excinfo.value if call.excinfo else None
    raised = violations_in(error) if report.failed else []
    found = _in_catalogue_order(judged.violations + raised, run.ledger.catalogue)
    if report.failed and error is not None and not raised and not judged.violations:
        error = _transport_error(error) or error  # a failed exchange, also inside a group
        reason = _error_reason(error, report.when)
        run.ledger.not_run(name, requirements, reason)  # broken, not failed
        # One line in the terminal; the traceback is in the report's attachments.
        report.longrepr = f"NOT RUN: {reason}"
        if isinstance(error, TargetUnavailable):
            # The target failed the exchange: the test is not run (a skip), and says why.
            run.target_errors += 1
            report.outcome = "skipped"
            report.longrepr = (str(item.path), (item.location[1] or 0) + 1, f"NOT RUN: {reason}")
        return report
    if report.when != "call" and not found:
        if report.skipped:
            run.ledger.not_run(name, requirements, _skip_reason(report))
        return report
    failed_ids = {v.requirement for v in found}
    for v in found:
        curl, observed = (v.exchange.curl(), REDACT(v.exchange.describe())) if v.exchange else (None, None)
        run.ledger.failed(v.requirement, verdict.Failure(name, v.code, v.message, curl, observed))
    rest = [r for r in requirements if r not in failed_ids]
    unjudged = {r: judged.not_judged[r] for r in rest if r in judged.not_judged}
    for rid, reason in unjudged.items():
        run.ledger.not_run(name, [rid], reason)
    rest = [r for r in rest if r not in unjudged]
    if report.skipped and not found:
        run.ledger.not_run(name, rest, _skip_reason(report))
        return report
    if report.skipped:
        run.ledger.not_run(name, rest, _skip_reason(report))
    elif raised:
        # The test stopped at a violation: what it had not reached yet was not judged.
        stopped = ", ".join(sorted({v.requirement for v in raised}))
        run.ledger.not_run(name, rest, f"not judged: the test stopped at {stopped}")
    elif report.failed:
        run.ledger.not_run(name, rest, _error_reason(_transport_error(error) or error, report.when))
    else:
        run.ledger.passed(name, rest)
    if found:
        word = report_word(found, run)
        text = "\n\n".join(v.render() for v in found)
        crashed = report.failed and not raised  # an error of the test itself stays a visible failure
        if crashed:
            text += f"\n\nthe test then stopped on an error:\n{report.longrepr}"
        report.outcome = "failed"
        report.longrepr = report.conformance_text = text
        if not crashed and _waive(run, report, name, found):
            word = verdict.WAIVED
        elif word != verdict.FAIL and not crashed:
            # Reported as an expected failure: JUnit writes the message as a skip, Allure as skipped.
            report.outcome = "skipped"
            prefix = "WARN SHOULD not met: " if word == verdict.WARN else "ADVICE: "
            report.wasxfail = prefix + "; ".join(f"{v.requirement} [{v.code}] {v.message}" for v in found)
        report.conformance_word = word
    return report


@pytest.hookimpl(trylast=True)
def pytest_exception_interact(node: Any, call: pytest.CallInfo, report: pytest.TestReport) -> None:
    """Keep the account of every violation in the failure block (other plugins reformat exception groups)."""
    text = getattr(report, "conformance_text", None)
    if text is not None:
        report.longrepr = text


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """The progress letter and word of a test whose requirements only warn or advise: W/WARN, A/ADVICE."""
    word = getattr(report, "conformance_word", None)
    if word == verdict.WAIVED:
        return "waived", "w", word
    if word in (verdict.WARN, verdict.ADVICE):
        return word.lower(), word[0], word


def _waive(run: Run, report: pytest.TestReport, name: str, found: list[RequirementViolation]) -> bool:
    """A failed test whose every violation a waiver covers is reported WAIVED (skipped, with the waiver)."""
    message = run.waivers.test_outcome(name, [(v.requirement, v.code) for v in found]) if run.waivers else None
    if message is None:
        return False
    report.outcome = "skipped"
    report.wasxfail = message
    return True
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
        pytest.skip("no second account configured: "
                    + configuration.ways_to_give("other-account-sid", ("other-token", "other-token-file")))
    return run.other_api


@pytest.fixture(scope="session")
def calls(run: Run) -> CallBudget:
    return run.budget


# --- cleanup and verdict -------------------------------------------------------------------------


def _listed_sids(run: Run, client: ApiClient) -> tuple[set[str], set[str]]:
    """The sids the client's account lists now, and those of them that carry this run's tag."""
    listed = client.list_calls().success_json()
    calls = [c for c in listed if isinstance(c, dict) and isinstance(c.get("call_sid"), str)] \
        if isinstance(listed, list) else []
    tagged = {c["call_sid"] for c in calls
              if isinstance(c.get("tag"), dict) and c["tag"].get("conformance_run") == run.config.run_id}
    return {c["call_sid"] for c in calls}, tagged


def _cleanup(run: Run) -> None:
    """Delete every call the run created, in the account it was made in, and every listed call of the
    tested account that carries the run's tag (a deployment may place a call for a create it refused); what
    is still listed afterwards is reported. Bounded in time (`cleanup_budget`), and whatever the target
    answers it ends with a line, never a traceback."""
    if not run.budget.created and not run.config.allow_create:
        return  # nothing was sent that could place a call
    run.api.session.reopen(cleanup_budget(run.config, len(run.budget.created)))
    problems: list[str] = []

    def attempt(action: Any, *args: Any) -> Any:
        """One step of the cleanup; a failed one is noted and the cleanup goes on (until the target stops)."""
        try:
            return action(*args)
        except TargetFailed:
            raise
        except (Exception, RecursionError, MemoryError) as error:  # noqa: BLE001 - a hostile answer, not a crash
            problems.append(str(error) if isinstance(error, TargetUnavailable) else f"{type(error).__name__}: {error}")
            return None

    accounts = [(run.api, {c.sid for c in run.budget.created if c.account_sid is None})]
    if run.other_api is not None:
        accounts.append((run.other_api, {c.sid for c in run.budget.created if c.account_sid == run.other_api.account_sid}))
    leftovers: set[str] = set()
    try:
        for client, created in accounts:
            if not created and client is not run.api:
                continue
            # A call whose delete the target accepted is gone, unless it was live and its next status update
            # wrote it again (D-21): the list right after finds those, and they go with the tagged ones.
            remaining = {sid for sid in created if sid not in DELETED}
            for sid in sorted(remaining):
                attempt(client.delete_call, sid)
            listed = attempt(_listed_sids, run, client)
            tagged = (listed[1] | (listed[0] & created)) if listed else set()
            for sid in sorted(tagged - remaining):
                attempt(client.delete_call, sid)
            final = attempt(_listed_sids, run, client) if created or tagged else (set(), set())
            if final is not None:
                seen, still_tagged = final
                leftovers |= (seen & (created | tagged)) | still_tagged
    except TargetFailed as error:
        problems.append(str(error))
    run.leftovers = sorted(leftovers)
    if problems:
        first = REDACT.cut(problems[0].splitlines()[0] if problems[0] else "", 300)
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        run.leftovers.append(f"(cleanup incomplete: {first}{more})")


def cleanup_budget(cfg: TargetConfig, created: int) -> float:
    """Seconds the cleanup may take: ten request timeouts, and one more per call to delete (at most 5 min)."""
    return min(300.0, (10 + created) * cfg.request_timeout)


def _stop_reference(run: Run) -> None:
    if run.reference is not None:
        run.reference.stop()
        run.reference = None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _RUN_KEY not in session.config.stash:
        return
    run = current_run(session.config)
    run.timeline.stop()
    if run.visibility is not None:
        run.visibility.stop()
    stopped = run.api.session.stopped
    if stopped is not None and run.target_failure is None:
        run.target_failure = {"stage": "run", "kind": stopped.kind, "message": str(stopped),
                              "requests_sent": run.log.total}
    if run.preflight_error:
        for rid, req in run.ledger.catalogue.items():
            if req.testable:
                run.ledger.not_run("(preflight)", [rid], f"the preflight failed: {run.preflight_error}")
    else:
        _cleanup(run)
    _stop_reference(run)
    stats = {"calls_created": len(run.budget.created), "create_attempts": run.budget.attempts,
             "requests_sent": run.log.total, "leftover_calls": run.leftovers,
             "failed_exchanges": run.api.session.breaker.total_failures + run.target_errors}
    result = verdict.build_verdict(
        run.ledger, strict=run.config.strict,
        # --accept-incomplete covers requirements skipped by configuration, never a target that failed.
        accept_incomplete=run.config.accept_incomplete and not run.target_errors,
        target=run.config.public_summary(), spec_version=spec.spec_version(), started=run.started, stats=stats,
        target_failure=run.target_failure)
    if run.waivers is not None:
        waiving.apply(result, run.waivers, accept_incomplete=run.config.accept_incomplete and not run.target_errors,
                      fail_on_stale=run.config.fail_on_stale_waivers)
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or (
            run.preflight_error and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED):
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
    lines = verdict.summary_lines(result)
    if current_run(config).preflight_error:
        lines = lines[-1:]  # nothing was run: the preflight line said what is wrong
    else:
        terminalreporter.section("Calls API conformance: requirement by requirement")
    for line in lines + waiving.summary_lines(result) + baselines.summary_lines(result):
        terminalreporter.write_line(line)
    if config.option.verbose > 0 and current_run(config).timeline.events:
        terminalreporter.section("Calls API conformance: timeline of the run and its background watches")
        for line in current_run(config).timeline.lines():
            terminalreporter.write_line(line)
    leftovers = result["stats"]["leftover_calls"]
    if leftovers:
        terminalreporter.write_line(f"WARNING: calls created by this run still listed after cleanup: {', '.join(leftovers)}")
    terminalreporter.write_line(f"verdict written to {config.stash[_RUN_KEY].config.reports_dir / 'verdict.json'}")
