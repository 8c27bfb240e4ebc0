"""Target configuration: every option of a run, from the command line, the environment or a profile file.

Precedence, highest first: command-line option, environment variable, profile file, built-in default.
A profile is a TOML file of `option-name = value` pairs; `--profile NAME` reads `fixtures/targets/NAME.toml`
(or any path). Secrets are never echoed: `TargetConfig.__repr__` leaves them out.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from conformance.contract.quota import Quota, parse_quota

_PACKAGE = Path(__file__).resolve().parent.parent
# Bundled in the wheel as conformance/profiles; fixtures/targets in a checkout.
PROFILE_DIRS = (_PACKAGE / "profiles", _PACKAGE.parent / "fixtures" / "targets")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# Used when no --base-url is given: the suite starts the reference server with these settings.
EMBEDDED_WINDOW = 2.0
EMBEDDED_MAX_CALLS = 200


class ConfigError(Exception):
    """A configuration problem, reported as one line."""


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected a boolean, got {value!r}")


def _coverage_cases(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ("distinct", "all"):
        raise ConfigError(f"--coverage-cases {value!r}: expected distinct or all")
    return text


def _rate_limit(value: Any) -> Quota | None:
    """--rate-limit: a quota (`600/5m`, `10/s`) or a plain number of requests per second; 0 is none."""
    if isinstance(value, Quota):
        return value
    text = str(value).strip()
    if text in ("", "0", "0.0"):
        return None
    try:
        return parse_quota(text)
    except ValueError as error:
        raise ConfigError(f"--rate-limit: {error}") from None


@dataclass(frozen=True)
class Option:
    """One setting of a run: its command-line name, environment variable, type and help."""

    name: str
    env: str
    help: str
    parse: Callable[[Any], Any] = str
    default: Any = None
    is_flag: bool = False
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


OPTIONS: tuple[Option, ...] = (
    Option("profile", "CALLS_API_PROFILE", "Profile: a name under fixtures/targets/ or a path to a TOML file of option = value pairs.", metavar="NAME|PATH"),
    Option("base-url", "CALLS_API_BASE_URL", "Base URL of the target, including the version prefix (e.g. https://api.example.net/v1). Without it the embedded reference server is started and used.", metavar="URL"),
    Option("account-sid", "CALLS_API_ACCOUNT_SID", "Account sid whose calls are tested.", metavar="SID"),
    Option("token", "CALLS_API_TOKEN", "API token of that account (prefer the environment variable or --token-file: a command line leaks into logs).", metavar="TOKEN"),
    Option("token-file", "CALLS_API_TOKEN_FILE", "File holding the API token of that account.", metavar="PATH"),
    Option("other-account-sid", "CALLS_API_OTHER_ACCOUNT_SID", "A second account, for the isolation tests (skipped without it).", metavar="SID"),
    Option("other-token", "CALLS_API_OTHER_TOKEN", "API token of the second account.", metavar="TOKEN"),
    Option("other-token-file", "CALLS_API_OTHER_TOKEN_FILE", "File holding the API token of the second account.", metavar="PATH"),
    Option("window", "CALLS_API_WINDOW", "Retention window in seconds: how long an ended call stays visible (the document says 10 minutes).", float, 600.0, metavar="SECONDS"),
    Option("grace", "CALLS_API_GRACE", "Extra seconds after the window before an ended call must be gone (default: 10%% of the window, at least 2 s).", float, metavar="SECONDS"),
    Option("call-timeout", "CALLS_API_CALL_TIMEOUT", "How long a created call may take to reach a terminal status.", float, 120.0, metavar="SECONDS"),
    Option("settle", "CALLS_API_SETTLE", "How long after a create the new call may take to become gettable (decision D-35).", float, 2.0, metavar="SECONDS"),
    Option("allow-create", "CALLS_API_ALLOW_CREATE", "Allow tests that create calls on an external target (they dial --to-number and may cost money).", _flag, False, is_flag=True),
    Option("from-number", "CALLS_API_FROM_NUMBER", "Caller number of every call the suite creates.", metavar="NUMBER"),
    Option("to-number", "CALLS_API_TO_NUMBER", "The only number the suite ever dials.", metavar="NUMBER"),
    Option("application-sid", "CALLS_API_APPLICATION_SID", "Application that handles the calls the suite creates.", metavar="SID"),
    Option("payload-template", "CALLS_API_PAYLOAD_TEMPLATE", "JSON file of extra create-call fields (e.g. call_hook); from, to and tag are always set by the suite.", metavar="PATH"),
    Option("other-application-sid", "CALLS_API_OTHER_APPLICATION_SID", "Application of the second account: its calls are created with it, and a create naming it in the tested account must be refused.", metavar="SID"),
    Option("other-payload-template", "CALLS_API_OTHER_PAYLOAD_TEMPLATE", "JSON file of extra create-call fields for the second account's calls (like --payload-template).", metavar="PATH"),
    Option("max-calls", "CALLS_API_MAX_CALLS", "Most calls the run may create on the target.", int, 10, metavar="N"),
    Option("examples", "CALLS_API_EXAMPLES", "Property-test examples per operation and generation mode in the fuzzing phase (the coverage phase sends one case per kind of defect and place).", int, 2, metavar="N"),
    Option("coverage-cases", "CALLS_API_COVERAGE_CASES", "Coverage-phase cases of the property tests sent: distinct (one per kind of defect and place, the default) or all (every variant Schemathesis writes: about 450 requests more per run).", _coverage_cases, "distinct", metavar="distinct|all"),
    Option("seed", "CALLS_API_SEED", "Seed of the property tests (fixed by default so that runs are reproducible).", int, 20261126, metavar="N"),
    Option("request-timeout", "CALLS_API_REQUEST_TIMEOUT", "Most seconds one HTTP exchange may take in total (connect, headers and the whole body).", float, 15.0, metavar="SECONDS"),
    Option("run-budget", "CALLS_API_RUN_BUDGET", "Most seconds the whole run may take; when spent, the run stops sending, cleans up and ends TARGET FAILED (exit 8). Default: window + grace + 2 x call timeout + 100 x request timeout.", float, metavar="SECONDS"),
    Option("max-body-bytes", "CALLS_API_MAX_BODY_BYTES", "Largest response body read; a larger one is not read further and is no usable answer (a finding).", int, 16 * 1024 * 1024, metavar="BYTES"),
    Option("rate-limit", "CALLS_API_RATE_LIMIT", "Most requests the run sends in a time, for a target that does not announce its quota in RateLimit-* header fields (one that does is paced by them): 600/5m, 10/s, or a number of requests per second (default: none).", _rate_limit, metavar="N/TIME"),
    Option("insecure", "CALLS_API_INSECURE", "Do not verify TLS certificates (verification is on by default).", _flag, False, is_flag=True),
    Option("ca-bundle", "CALLS_API_CA_BUNDLE", "CA bundle to verify the target's TLS certificate with.", metavar="PATH"),
    Option("strict", "CALLS_API_STRICT", "Treat SHOULD violations as failures (exit code 1).", _flag, False, is_flag=True),
    Option("accept-incomplete", "CALLS_API_ACCEPT_INCOMPLETE", "Exit 0 on an INCOMPLETE verdict (requirements not run because of the configuration).", _flag, False, is_flag=True),
    Option("reports-dir", "CALLS_API_REPORTS_DIR", "Directory of every report artifact.", str, "reports", metavar="DIR"),
    Option("waivers", "CALLS_API_WAIVERS", "TOML file of known, accepted deviations ([[waiver]] tables); a failure a waiver covers is WAIVED.", metavar="PATH"),
    Option("fail-on-stale-waivers", "CALLS_API_FAIL_ON_STALE_WAIVERS", "Fail the run (exit code 9) when a waiver covers no failure of a requirement that was judged.", _flag, False, is_flag=True),
    Option("baseline", "CALLS_API_BASELINE", "A previous verdict.json (or the reports directory holding it) to compare with, requirement by requirement.", metavar="PATH"),
    Option("gate", "CALLS_API_GATE", "What fails the run: verdict (any failure, the default) or regressions (only new failures against --baseline).", default="verdict", metavar="verdict|regressions"),
)
OPTIONS_BY_DEST = {option.dest: option for option in OPTIONS}


def _either(words: list[str], joiner: str = " or ") -> str:
    return joiner.join(words)


def ways_to_give(*needs: str | tuple[str, ...]) -> str:
    """How to give what is missing, every way: each need is an option name, or a tuple of alternatives.
    E.g. ways_to_give("other-account-sid", ("other-token", "other-token-file")) ->
    'pass --other-account-sid and --other-token or --other-token-file (env CALLS_API_OTHER_ACCOUNT_SID and
    CALLS_API_OTHER_TOKEN or CALLS_API_OTHER_TOKEN_FILE; profile keys other-account-sid and other-token or
    other-token-file)'."""
    groups = [(need,) if isinstance(need, str) else need for need in needs]
    options = [[OPTIONS_BY_DEST[name.replace("-", "_")] for name in group] for group in groups]
    flags = " and ".join(_either([f"--{o.name}" for o in group]) for group in options)
    envs = " and ".join(_either([o.env for o in group]) for group in options)
    keys = " and ".join(_either([o.name for o in group]) for group in options)
    noun = "profile key" if len(options) == 1 and len(options[0]) == 1 else "profile keys"
    return f"pass {flags} (env {envs}; {noun} {keys})"


@dataclass(frozen=True)
class TargetConfig:
    """Everything a run needs to know about its target. Secrets are excluded from repr."""

    base_url: str
    account_sid: str
    token: str = field(repr=False)
    other_account_sid: str | None = None
    other_token: str | None = field(default=None, repr=False)
    window: float = 600.0
    grace: float = 60.0
    call_timeout: float = 120.0
    settle: float = 2.0
    allow_create: bool = False
    from_number: str | None = None
    to_number: str | None = None
    application_sid: str | None = None
    extra_payload: Mapping[str, Any] = field(default_factory=dict)
    other_application_sid: str | None = None
    other_extra_payload: Mapping[str, Any] = field(default_factory=dict)
    max_calls: int = 10
    examples: int = 2
    coverage_cases: str = "distinct"
    seed: int = 20261126
    request_timeout: float = 15.0
    run_budget: float = 2400.0
    max_body_bytes: int = 16 * 1024 * 1024
    rate_limit: Quota | None = None
    verify: bool | str = True
    strict: bool = False
    accept_incomplete: bool = False
    reports_dir: Path = Path("reports")
    embedded: bool = False
    name: str = ""  # the profile's name, which waivers and the fleet matrix know the target by
    waivers: str | None = None
    fail_on_stale_waivers: bool = False
    baseline: str | None = None
    gate: str = "verdict"
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def has_other_account(self) -> bool:
        return bool(self.other_account_sid and self.other_token)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.token, self.other_token) if s)

    def create_payload(self, other_account: bool = False) -> dict[str, Any]:
        """The body of every call the suite creates: the template, then the configured numbers and the run tag.
        With `other_account`, the second account's template and application instead of this account's."""
        template = self.other_extra_payload if other_account else self.extra_payload
        application = self.other_application_sid if other_account else self.application_sid
        body: dict[str, Any] = json.loads(json.dumps(dict(template)))
        if application:
            body["application_sid"] = application
        body["from"] = self.from_number
        body["to"] = {"type": "phone", "number": self.to_number}
        tag = dict(body.get("tag") or {})
        tag["conformance_run"] = self.run_id
        body["tag"] = tag
        return body

    def public_summary(self) -> dict[str, Any]:
        """Settings that shaped the run, safe to print and to store in reports (no secret)."""
        return {
            "base_url": self.base_url,
            "account_sid": self.account_sid,
            "other_account": self.other_account_sid or "(none)",
            "embedded_reference": self.embedded,
            "window_seconds": self.window,
            "grace_seconds": self.grace,
            "call_timeout_seconds": self.call_timeout,
            "settle_seconds": self.settle,
            "allow_create": self.allow_create,
            "to_number": self.to_number or "(none)",
            "max_calls": self.max_calls,
            "examples": self.examples,
            "coverage_cases": self.coverage_cases,
            "seed": self.seed,
            "rate_limit": str(self.rate_limit) if self.rate_limit else None,
            "request_timeout_seconds": self.request_timeout,
            "run_budget_seconds": self.run_budget,
            "max_body_bytes": self.max_body_bytes,
            "tls_verify": self.verify if isinstance(self.verify, bool) else "custom CA bundle",
            "strict": self.strict,
            "name": self.name or "(none)",
            "run_id": self.run_id,
        }

    def with_embedded_target(self, base_url: str, accounts: list[tuple[str, str]],
                             applications: tuple[str | None, str | None] = (None, None)) -> "TargetConfig":
        (sid, token), (other_sid, other_token) = accounts[0], accounts[1]
        return dataclasses.replace(
            self, base_url=base_url, account_sid=sid, token=token,
            other_account_sid=other_sid, other_token=other_token, embedded=True,
            application_sid=self.application_sid or applications[0],
            other_application_sid=self.other_application_sid or applications[1],
        )


def default_run_budget(window: float, grace: float, call_timeout: float, request_timeout: float) -> float:
    """The run budget when none is given: the retention-window wait, two calls' lifetimes, and a hundred
    requests each taking the whole request timeout (a healthy target answers far faster)."""
    return window + grace + 2 * call_timeout + 100 * request_timeout


def _read_profile(reference: str) -> dict[str, Any]:
    path = Path(reference)
    if not path.suffix and not path.exists():
        found = [d / f"{reference}.toml" for d in PROFILE_DIRS if (d / f"{reference}.toml").is_file()]
        path = found[0] if found else PROFILE_DIRS[-1] / f"{reference}.toml"
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"profile not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"profile {path} is not valid TOML: {error}") from None
    values = {}
    for key, value in data.items():
        dest = key.replace("-", "_")
        if dest not in OPTIONS_BY_DEST or dest == "profile":
            raise ConfigError(f"profile {path}: unknown setting {key!r}")
        values[dest] = value
    return values


def _payload_template(path: str | None, option: str) -> dict[str, Any]:
    if not path:
        return {}
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"--{option} {path}: {error}") from None
    if not isinstance(payload, dict):
        raise ConfigError(f"--{option} {path}: must hold a JSON object")
    return payload


def _read_secret_file(path: str, what: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(f"cannot read the {what} file {path}: {error.strerror}") from None
    if not text:
        raise ConfigError(f"the {what} file {path} is empty")
    return text


def resolve(cli: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> TargetConfig:
    """Merge command-line values (None = not given), environment and profile into a TargetConfig."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    profile = cli.get("profile") or environ.get(OPTIONS_BY_DEST["profile"].env)
    if profile:
        raw.update(_read_profile(profile))
    for option in OPTIONS:
        if option.env in environ and environ[option.env] != "":
            raw[option.dest] = environ[option.env]
        if cli.get(option.dest) not in (None, False):
            raw[option.dest] = cli[option.dest]
    values: dict[str, Any] = {}
    for option in OPTIONS:
        value = raw.get(option.dest, option.default)
        if value is not None:
            try:
                value = option.parse(value)
            except (TypeError, ValueError):
                raise ConfigError(f"--{option.name}: invalid value {value!r}") from None
        values[option.dest] = value
    if values["gate"] not in ("verdict", "regressions"):
        raise ConfigError(f"--gate {values['gate']!r}: expected verdict or regressions")
    if values["gate"] == "regressions" and not values["baseline"]:
        raise ConfigError("--gate regressions needs --baseline: the verdict.json to compare with")
    cfg = _build(values, window_given="window" in raw)
    return dataclasses.replace(cfg, name=Path(str(profile)).stem if profile else "", waivers=values["waivers"],
                               fail_on_stale_waivers=values["fail_on_stale_waivers"], baseline=values["baseline"],
                               gate=values["gate"])


def _build(v: dict[str, Any], window_given: bool = False) -> TargetConfig:
    token = v["token"] or (v["token_file"] and _read_secret_file(v["token_file"], "token"))
    other_token = v["other_token"] or (v["other_token_file"] and _read_secret_file(v["other_token_file"], "other token"))
    embedded = not v["base_url"]
    if v["settle"] < 0:
        raise ConfigError("--settle must be >= 0")
    for name in ("window", "call_timeout", "request_timeout", "run_budget", "max_body_bytes"):
        if v[name] is not None and v[name] <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be greater than 0")
    if v["max_calls"] < 0 or v["examples"] < 1:
        raise ConfigError("--max-calls must be >= 0 and --examples >= 1")
    extra_payload = _payload_template(v["payload_template"], "payload-template")
    other_extra_payload = _payload_template(v["other_payload_template"], "other-payload-template")
    verify: bool | str = not v["insecure"]
    if v["ca_bundle"]:
        if not Path(v["ca_bundle"]).is_file():
            raise ConfigError(f"--ca-bundle {v['ca_bundle']}: no such file")
        verify = v["ca_bundle"]
    window = v["window"]
    if embedded and not window_given:
        window = EMBEDDED_WINDOW
    grace = v["grace"] if v["grace"] is not None else max(2.0, window * (0.5 if embedded else 0.1))
    run_budget = v["run_budget"] or default_run_budget(window, grace, v["call_timeout"], v["request_timeout"])
    common = dict(run_budget=run_budget, max_body_bytes=v["max_body_bytes"],
        call_timeout=v["call_timeout"], settle=v["settle"], extra_payload=extra_payload, examples=v["examples"], seed=v["seed"],
        coverage_cases=v["coverage_cases"],
        other_extra_payload=other_extra_payload, other_application_sid=v["other_application_sid"],
        request_timeout=v["request_timeout"], rate_limit=v["rate_limit"], verify=verify, strict=v["strict"],
        accept_incomplete=v["accept_incomplete"], reports_dir=Path(v["reports_dir"]),
    )
    if embedded:
        # The embedded reference: a short window so the visibility scenario runs in seconds, and
        # creation allowed (its numbers dial nobody). Accounts are filled in once it has started.
        return TargetConfig(
            base_url="", account_sid="", token="", window=window, grace=grace,
            allow_create=True, from_number=v["from_number"] or "+15005550006",
            to_number=v["to_number"] or "+15005550001", application_sid=v["application_sid"],
            max_calls=max(v["max_calls"], EMBEDDED_MAX_CALLS), embedded=True, **common,
        )
    base_url = v["base_url"].rstrip("/")
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise ConfigError(f"--base-url {base_url!r}: expected an http:// or https:// URL")
    if not v["account_sid"] or not token:
        raise ConfigError("an external target needs --account-sid and a token (--token-file or CALLS_API_TOKEN)")
    for name in ("account_sid", "other_account_sid", "application_sid", "other_application_sid"):
        if v[name] and not UUID_RE.match(v[name]):
            raise ConfigError(f"--{name.replace('_', '-')} {v[name]!r} is not a UUID")
    if bool(v["other_account_sid"]) != bool(other_token):
        raise ConfigError("the second account needs both --other-account-sid and its token")
    if v["allow_create"] and not (v["from_number"] and v["to_number"]):
        raise ConfigError("--allow-create needs --from-number and --to-number: the suite dials only the number it is given")
    return TargetConfig(
        base_url=base_url, account_sid=v["account_sid"], token=token,
        other_account_sid=v["other_account_sid"], other_token=other_token,
        window=window, grace=grace,
        allow_create=v["allow_create"], from_number=v["from_number"], to_number=v["to_number"],
        application_sid=v["application_sid"], max_calls=v["max_calls"], **common,
    )
