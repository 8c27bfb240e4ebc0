"""Schemathesis glue: the contract-driven property and stateful tests.

Every generated request goes through the run's `TargetSession` (rate limit, 429 back-off, recording).
Safety: a generated create never dials a generated number. A valid create body is replaced by the
configured payload (plus harmless generated fields). An invalid one keeps what makes it invalid wherever
that reaches nobody: its numbers and addresses become the configured ones, its webhooks, hosts and SIP
headers survive only as values that name nothing (`safe_invalid_create`); it is dropped only when that
leaves it valid. Creates are taken from the run's call budget (an invalid one only if the server accepted
it), and every accepted create is deleted at the end of the run.
Each Schemathesis failure becomes a `RequirementViolation` naming the catalogue requirement it breaks.
"""

from __future__ import annotations

import copy
import re
import time
from typing import TYPE_CHECKING, Any

import hypothesis
import pytest
import schemathesis
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.config import HealthCheck
from schemathesis.generation import GenerationMode

from conformance import spec
from conformance.checks import TARGET_ADDRESS, RequirementViolation, invalid_create_requirement
from conformance.client import MAX_JSON_DEPTH, REDACT, loads_bounded
from conformance.visibility import DELETED, SEEN

INVALID_DIAL = "invalid-dial"  # CallBudget purpose: an invalid create that names the destination (no call)

if TYPE_CHECKING:
    from conformance.plugin import Run

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Generated fields a valid create may carry beside the configured payload: they reach nobody, and a
# server that accepts the configured payload accepts them too.
POSITIVE_GENERATED_FIELDS = ("timeout", "timeLimit")
# Generated fields an invalid create keeps whatever their value: none names a number, a host or a URL.
INERT_CREATE_FIELDS = (
    "tag", "timeout", "timeLimit", "callerName", "answerOnBridge", "speech_synthesis_vendor",
    "speech_synthesis_language", "speech_synthesis_voice", "speech_recognizer_vendor", "speech_recognizer_language",
)
# On an external target the generated tests may spend at most this many calls; the scenarios need the rest.
GENERATED_CALLS_EXTERNAL = {"property": 1, "stateful": 2}
# On an external target the generated tests send at most this many invalid creates that name the configured
# destination; later ones name none. A server that refuses a create yet places the call
# (CALLS-CREATE-REJECT-NO-CALL) is thus given at most this many calls by them.
INVALID_DIALS_EXTERNAL = 10
_MISSING = object()

# Not `ignored_auth`: its probes bypass the run's session (no rate limit, no 429 back-off, not logged),
# and test_auth.py checks CALLS-AUTH-REQUIRED on every operation.
CHECKS = [
    "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance",
    "negative_data_rejection", "positive_data_acceptance", "use_after_free", "ensure_resource_availability",
]

# Failure code -> requirement, where it does not depend on the operation.
_BY_CODE = {
    "ST101": "CALLS-NO-SERVER-ERROR", "ST102": "CALLS-NO-SERVER-ERROR",
    "ST103": "CALLS-CONTRACT-STATUS",
    "ST104": "CALLS-CONTENT-TYPE-JSON", "ST105": "CALLS-CONTENT-TYPE-JSON", "ST106": "CALLS-CONTENT-TYPE-JSON",
    "ST203": "CALLS-AUTH-REQUIRED", "ST401": "CALLS-AUTH-REQUIRED",
    "ST301": "CALLS-DELETE-REMOVES",
    "ST302": "CALLS-CREATE-VISIBLE",
}
# Failure code -> requirement by operation, for the body checks and the data-acceptance checks.
_BY_OPERATION = {
    "listCalls": {"body": "CALLS-LIST-200", "positive": "CALLS-LIST-200"},
    "getCall": {"body": "CALLS-GET-200", "positive": "CALLS-GET-UNKNOWN-404"},
    "createCall": {"body": "CALLS-CREATE-SUCCESS", "positive": "CALLS-CREATE-SUCCESS"},
    "deleteCall": {"body": "CALLS-DELETE-EMPTY-BODY", "positive": "CALLS-DELETE-UNKNOWN-404"},
}


def build_schema(run: "Run", modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
                 max_examples: int | None = None, phases: list[str] | None = None) -> Any:
    """The contract as a Schemathesis schema, configured for this run's target (and, when given, one test's
    generation modes, examples per mode and phases)."""
    cfg = run.config
    schema = schemathesis.openapi.from_dict(copy.deepcopy(spec.load_spec()))
    schema.config.update(base_url=cfg.base_url, headers=run.api.auth_headers(),
                         suppress_health_check=[HealthCheck.all])
    schema.config.seed = cfg.seed
    schema.config.cache.enabled = False  # no replay of earlier runs' failures: each run stands on its own
    schema.config.generation.update(modes=list(modes), max_examples=max_examples or cfg.examples,
                                    deterministic=True, database="none")
    if phases is not None:
        schema.config.phases.update(phases=phases)
    schema.config.checks.update(included_check_names=CHECKS)
    # Schemathesis' messages uncut: a secret a target echoes must be redacted whole, before anything is cut.
    schema.config.output.truncation.update(enabled=False)
    schema.config.checks.negative_data_rejection.expected_statuses = ["4xx"]
    schema.config.checks.positive_data_acceptance.expected_statuses = ["2xx", "404", "429"]
    return schema


def valid_creates_schema(run: "Run") -> Any:
    """The schema of the valid-create property test. Every valid body becomes the configured payload, so on an
    external target more cases would only spend calls: it draws as many as the generated tests may spend."""
    if run.config.embedded:
        return build_schema(run, modes=(GenerationMode.POSITIVE,))
    return build_schema(run, modes=(GenerationMode.POSITIVE,), max_examples=GENERATED_CALLS_EXTERNAL["property"],
                        phases=["fuzzing"])


def invalid_creates_schema(run: "Run") -> Any:
    """The schema of the invalid-create property test: negative data only, and no examples phase (the
    contract's examples are valid requests)."""
    return build_schema(run, modes=(GenerationMode.NEGATIVE,), phases=["coverage", "fuzzing"])


def _mode(case: Any) -> GenerationMode:
    return case.meta.generation.mode if case.meta is not None else GenerationMode.POSITIVE


def _is_create(case: Any) -> bool:
    return case.operation.definition.raw.get("operationId") == "createCall"


def spends_a_call(case: Any) -> bool:
    """Whether sending `case` would place a call: a positive create, whose body becomes the configured payload."""
    return _is_create(case) and isinstance(case.body, dict) and _mode(case) == GenerationMode.POSITIVE


def generated_calls_allowed(run: "Run", purpose: str) -> bool:
    """Whether a generated test (`property` or `stateful`) may create one more call."""
    if run.budget.skip_reason():
        return False
    return run.config.embedded or run.budget.spent(purpose) < GENERATED_CALLS_EXTERNAL[purpose]


def invalid_may_dial(run: "Run", purpose: str) -> bool:
    """Whether the next invalid create a generated test sends may name the configured destination."""
    return generated_calls_allowed(run, purpose) and (run.config.embedded or run.budget.spent(INVALID_DIAL) < INVALID_DIALS_EXTERNAL)


def _inert(value: Any) -> bool:
    """A value no server can read as a number, an address or a URL."""
    return value is None or isinstance(value, (bool, int, float))


_VALID_TARGET = {"type": "phone", "number": "+15005550001"}
_VALID_CREATE = {"from": "+15005550006", "to": _VALID_TARGET}


def _makes_invalid(component: str, valid: dict[str, Any], key: str, value: Any) -> bool:
    """Whether `value` as the `key` field of an otherwise valid instance of `component` makes it invalid."""
    return not spec.conforms({**valid, key: value}, component)


def _safe_address(kind: str, value: Any, configured_number: Any) -> Any:
    """A mistyped address made harmless: a number a lenient server would coerce is the configured one."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and kind in ("phone", "teams"):
        return int("".join(ch for ch in str(configured_number or "") if ch.isdigit()) or 0)
    return value if value is None or isinstance(value, bool) else None


def _safe_target(to: Any, configured: dict[str, Any]) -> Any:
    """The `to` of an invalid create, keeping what makes it invalid but naming no destination other than the
    configured one; _MISSING when it is left out."""
    if isinstance(to, str):
        return configured["number"]  # a bare string: a lenient server would dial the configured number
    if not isinstance(to, dict):
        return to if _inert(to) else _MISSING
    kind = to.get("type", _MISSING)
    address = TARGET_ADDRESS.get(kind) if isinstance(kind, str) else None
    safe: dict[str, Any]
    if address is not None and not (isinstance(to.get(address), str) and to[address]):
        # A known type whose address is missing, empty or mistyped: no usable destination in it.
        safe = {"type": kind}
        if address in to:
            safe[address] = "" if to[address] == "" else _safe_address(kind, to[address], configured["number"])
    else:
        # The address is a valid one, or the type is unknown: the destination becomes the configured one.
        safe = dict(configured)
        if kind is _MISSING:
            del safe["type"]
        elif address is None:
            safe["type"] = kind if isinstance(kind, str) or _inert(kind) else None
        number = to.get("number", _MISSING)
        if address != "number" and number is not _MISSING and not (isinstance(number, str) and number):
            # An empty or mistyped `number` beside another type's address: it stays the invalid part.
            safe["number"] = "" if number == "" else _safe_address("phone", number, configured["number"])
    # Other fields (trunk, headers, auth, unused addresses) only as values that name nothing.
    for key, value in to.items():
        if key in safe:
            continue
        if _inert(value) or value == "":
            safe[key] = value
        elif _makes_invalid("Target", _VALID_TARGET, key, value):
            safe[key] = False  # invalid, as generated, but it could name a host: an inert invalid value instead
    return safe


def _names_a_destination(body: dict[str, Any]) -> bool:
    to = body.get("to")
    if isinstance(to, dict):
        return any(to.get(k) not in (None, "", False) for k in set(TARGET_ADDRESS.values()))
    return isinstance(to, str)


def safe_invalid_create(body: dict[str, Any], configured: dict[str, Any], may_dial: bool) -> dict[str, Any]:
    """An invalid create body that keeps what makes it invalid wherever that reaches nobody. A number or an
    address becomes the configured one, and only while `may_dial` (else the body has no `to`); a webhook, host
    or SIP header set survives only as a value no server can read as an address (`false` when it was the
    invalid part); a well-formed application sid becomes the configured one."""
    safe: dict[str, Any] = {}
    for key, value in body.items():
        if key == "from":
            # An empty or over-long `from` is no number: kept, it is what makes the body invalid.
            keep = not isinstance(value, str) or not 1 <= len(value) <= 256
            safe["from"] = value if keep else configured["from"]
        elif key == "to":
            to = _safe_target(value, configured["to"])
            if to is not _MISSING:
                safe["to"] = to
        elif key == "application_sid":
            if not (isinstance(value, str) and UUID.match(value)):
                safe[key] = value
            elif configured.get("application_sid"):
                safe[key] = configured["application_sid"]
        elif key in INERT_CREATE_FIELDS or _inert(value):
            safe[key] = value
        elif _makes_invalid("CreateCallRequest", _VALID_CREATE, key, value):
            # A webhook, host, SIP header set or AMD setting that is invalid as generated but could name a
            # URL or host: an inert invalid value keeps the body invalid in the same field.
            safe[key] = False
    if isinstance(safe.get("tag", {}), dict):
        safe["tag"] = {**safe.get("tag", {}), **configured["tag"]}  # the run tag, unless the tag is the invalid part
    if not may_dial and _names_a_destination(safe):
        del safe["to"]  # still invalid (`to` is required), and it dials nobody
    return safe


def prepare_case(case: Any, run: "Run", purpose: str = "property") -> None:
    """Point a generated case at the configured account and make any create safe; rejects unsafe examples."""
    cfg = run.config
    params = case.path_parameters or {}
    if UUID.match(str(params.get("account_sid", ""))):
        params["account_sid"] = cfg.account_sid
    if not _is_create(case) or not isinstance(case.body, dict):
        return  # a body that is not an object names nobody; a conformant server rejects it
    configured = cfg.create_payload()
    if _mode(case) == GenerationMode.NEGATIVE and _negative_in_body(case):
        # The body is what this case tests: sent to the configured account, not refused for its path first.
        params["account_sid"] = cfg.account_sid
        body = safe_invalid_create(case.body, configured, invalid_may_dial(run, purpose))
        if spec.conforms(body, "CreateCallRequest"):
            hypothesis.reject()  # what made it invalid could not be kept safely: sent, it would be a real create
    else:
        body = dict(configured)
        body.update({k: case.body[k] for k in POSITIVE_GENERATED_FIELDS if k in case.body})
        if isinstance(case.body.get("tag"), dict):
            body["tag"] = {**case.body["tag"], **configured["tag"]}
        if _mode(case) == GenerationMode.POSITIVE:
            if not generated_calls_allowed(run, purpose):
                hypothesis.reject()  # the call budget is spent: no more valid creates
            run.budget.count(purpose)
        else:
            # Invalid elsewhere (its path): what it tests does not need a destination, and without one it
            # dials nobody on any server. test_bad_input sends a malformed path with the whole payload.
            del body["to"]
    if _mode(case) == GenerationMode.NEGATIVE and _names_a_destination(body):
        run.budget.count(INVALID_DIAL, call=False)
    case.body = body


def remember_created(case: Any, response: Any, run: "Run", purpose: str) -> None:
    """Any create the target accepted is remembered, so the run deletes it at the end. An accepted invalid
    create (a server that should have refused it) is also taken from the generated tests' call allowance."""
    if case.method.upper() == "POST" and 200 <= response.status_code < 300:
        if _mode(case) == GenerationMode.NEGATIVE:
            run.budget.count(purpose)
        try:
            sid = loads_bounded(response.content).get("sid")
        except (ValueError, AttributeError):
            return
        run.budget.remember(sid, case.body if isinstance(case.body, dict) else {})


def _negative_in(case: Any, where: str) -> bool:
    components = case.meta.components if case.meta is not None else {}
    return any(str(getattr(location, "value", location)).lower() == where and component.mode.is_negative
               for location, component in components.items())


def _negative_in_body(case: Any) -> bool:
    return _negative_in(case, "body")


def _path_sent_invalid(case: Any, run: "Run") -> bool:
    """Whether the request went out with an invalid path (a create with an invalid body gets the configured
    account whatever was generated for its path)."""
    if _is_create(case):
        return (case.path_parameters or {}).get("account_sid") != run.config.account_sid
    return _negative_in(case, "path")


def _requirement_for(failure: Failure, case: Any, operation_id: str, run: "Run") -> str:
    code = failure.code
    path_invalid = _path_sent_invalid(case, run)
    if code in _BY_CODE:  # a 5xx is a server error whatever the input (D-13)
        return _BY_CODE[code]
    by_op = _BY_OPERATION.get(operation_id, {})
    if code == "ST201":
        # A malformed sid in the path is refused before any body is read: it decides the requirement.
        if path_invalid or not _negative_in_body(case):
            return "CALLS-SID-FORMAT"
        return invalid_create_requirement(case.body)
    if code == "ST202":
        return by_op.get("positive", "CALLS-CONTRACT-STATUS")
    if code == "ST108" and operation_id in ("listCalls", "getCall"):
        if operation_id == "listCalls" and not list(getattr(failure, "instance_path", None) or []):
            return "CALLS-LIST-200"  # the body itself is not an array (of calls)
        path = "/".join(str(p) for p in getattr(failure, "instance_path", []))
        message = getattr(failure, "_raw_message", "")
        if path.endswith("call_status") and "is not one of" in message:
            return "CALLS-CALL-STATUS-ENUM"
        if path.endswith("direction") and "is not one of" in message:
            return "CALLS-CALL-DIRECTION-ENUM"
        return "CALLS-CALL-SCHEMA"
    return by_op.get("body", "CALLS-CONTRACT-STATUS")


def _answered(exchange: Any) -> str:
    """What came back, in a few words: status, content type and the start of the body."""
    if exchange is None:
        return "no answer recorded"
    body = " ".join(exchange.response_body.split())
    excerpt = body if len(body) <= 120 else body[:120] + "..."
    ctype = exchange.response_headers.get("content-type", "(none)")
    return f"answered {exchange.status} [{ctype}] {excerpt!r}"


def _sent(case: Any) -> str:
    """What was sent: the generated input as the contract sees it (valid, or invalid in which part)."""
    invalid = [where for where in ("path", "query", "header", "body") if _negative_in(case, where)]
    return "invalid " + " and ".join(invalid) if invalid else "a valid request"


def as_violations(group: FailureGroup, case: Any, run: "Run") -> ExceptionGroup:
    """Schemathesis failures as requirement violations, with the exchange that showed them: one per
    requirement, in catalogue order, each saying what was sent and what came back."""
    operation_id = case.operation.definition.raw.get("operationId", "")
    exchange = run.log.last_in_thread()
    by_requirement: dict[str, list[Any]] = {}
    for failure in group.exceptions:
        by_requirement.setdefault(_requirement_for(failure, case, operation_id, run), []).append(failure)
    order = {rid: index for index, rid in enumerate(run.ledger.catalogue)}
    violations = []
    for requirement in sorted(by_requirement, key=lambda rid: order.get(rid, len(order))):
        failures = by_requirement[requirement]
        texts = []
        for f in failures:
            text = " ".join(f"{f.title}: {f.message}".split()).rstrip(":")
            if "maximum recursion depth exceeded" in text:
                text = f"not valid JSON for this API: nested deeper than {MAX_JSON_DEPTH} levels"
            texts.append(text)
        # Whole messages, redacted before any cut (Schemathesis cuts none).
        message = REDACT.cut(f"{case.operation.label} with {_sent(case)}: {'; '.join(texts)} ({_answered(exchange)})",
                             4000)
        violations.append(RequirementViolation(requirement, failures[0].code, message, exchange))
    first = violations[0].render().splitlines()[0]
    more = f" (+{len(violations) - 1} more, below)" if len(violations) > 1 else ""
    return ExceptionGroup(f"{first}{more}", violations)


def send(case: Any, run: "Run", purpose: str = "property") -> Any:
    """Make the case safe, send it through the run's session, remember any call it created."""
    prepare_case(case, run, purpose)
    sent = time.monotonic()
    response = case.call(session=run.api.session, headers=run.api.auth_headers())
    if case.method.upper() == "GET" and 200 <= response.status_code < 300:
        try:
            body = loads_bounded(response.content)
        except ValueError:
            body = None
        asked = (case.path_parameters or {}).get("call_sid")
        SEEN.record_body(body, sent, time.monotonic(), run.log.last_in_thread(),
                         asked if isinstance(asked, str) else None)  # statuses seen, whoever asked
    remember_created(case, response, run, purpose)
    if case.method.upper() == "DELETE":
        DELETED.record((case.path_parameters or {}).get("call_sid"), response.status_code)
    if case.method.upper() == "POST" and response.status_code == 480:
        # jambonz: no feature server can take a call now. A state of the deployment, not a verdict (D-29).
        pytest.skip("the target answered 480 (no capacity for calls): creation could not be tested")
    return response


def validate(case: Any, response: Any, run: "Run", **kwargs: Any) -> None:
    """Schemathesis' checks on one answer; failures become requirement violations. A body nested too deep
    for the checks, or a success answer larger than the body size cap, is itself the finding (the answer cannot
    be an answer of this API); the checks do not parse the part of an over-cap body that was read."""
    operation_id = case.operation.definition.raw.get("operationId", "")
    requirement = _BY_OPERATION.get(operation_id, {}).get("body", "CALLS-CONTRACT-STATUS")
    exchange = run.log.last_in_thread()
    if exchange is not None and exchange.over_cap and 200 <= response.status_code < 300:
        raise RequirementViolation(requirement, "CF104", f"{case.operation.label}: the body is larger than "
                                   f"{exchange.over_cap} bytes (--max-body-bytes): not read to its end", exchange)
    try:
        case.validate_response(response, headers=run.api.auth_headers(),
                               transport_kwargs={"session": run.api.session, "headers": run.api.auth_headers()},
                               **kwargs)
    except FailureGroup as group:
        raise as_violations(group, case, run) from None
    except RecursionError:
        raise RequirementViolation(requirement, "CF104", f"{case.operation.label}: not valid JSON for this API: "
                                   f"nested deeper than {MAX_JSON_DEPTH} levels", exchange) from None


def call_and_check(case: Any, run: "Run") -> None:
    """Prepare, send and validate one generated case; failures become requirement violations."""
    validate(case, send(case, run), run)


def stateful_settings(run: "Run") -> hypothesis.settings:
    """Few, short scenarios: each step is a request, and on an external target creates cost calls."""
    return hypothesis.settings(max_examples=max(2, run.config.examples // 5), stateful_step_count=6,
                               derandomize=True, database=None, deadline=None,
                               suppress_health_check=list(hypothesis.HealthCheck), print_blob=False)
