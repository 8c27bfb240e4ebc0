"""Schemathesis glue: the contract-driven property and stateful tests.

Every generated request goes through the run's `TargetSession` (rate limit, 429 back-off, recording).
Safety: a generated create never dials a generated number. Positive create bodies are replaced by the
configured payload (plus harmless generated fields); negative ones have their dialable parts replaced
by the configured ones, and are dropped when that makes them valid. Each accepted create is taken from
the run's call budget and deleted at the end of the run.
Each Schemathesis failure becomes a `RequirementViolation` naming the catalogue requirement it breaks.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import hypothesis
import pytest
import schemathesis
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.config import HealthCheck
from schemathesis.generation import GenerationMode

from conformance import spec
from conformance.checks import RequirementViolation, invalid_create_requirement
from conformance.client import REDACT
from conformance.visibility import DELETED

if TYPE_CHECKING:
    from conformance.plugin import Run

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Generated create fields that cannot reach anybody; everything else comes from the configuration.
HARMLESS_CREATE_FIELDS = ("tag", "timeout", "timeLimit")
# On an external target the generated tests may spend at most this many calls; the scenarios need the rest.
GENERATED_CALLS_EXTERNAL = {"property": 1, "stateful": 2}

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


def build_schema(run: "Run") -> Any:
    """The contract as a Schemathesis schema, configured for this run's target."""
    cfg = run.config
    schema = schemathesis.openapi.from_path(str(spec.spec_path()))
    schema.config.update(base_url=cfg.base_url, headers=run.api.auth_headers(),
                         suppress_health_check=[HealthCheck.all])
    schema.config.seed = cfg.seed
    schema.config.cache.enabled = False  # no replay of earlier runs' failures: each run stands on its own
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=cfg.examples,
        deterministic=True, database="none",
    )
    schema.config.checks.update(included_check_names=CHECKS)
    schema.config.checks.negative_data_rejection.expected_statuses = ["4xx"]
    schema.config.checks.positive_data_acceptance.expected_statuses = ["2xx", "404", "429"]
    return schema


def _mode(case: Any) -> GenerationMode:
    return case.meta.generation.mode if case.meta is not None else GenerationMode.POSITIVE


def spends_a_call(case: Any) -> bool:
    """Whether sending `case` would place a call: a positive create, whose body becomes the configured payload."""
    return (case.operation.definition.raw.get("operationId") == "createCall" and isinstance(case.body, dict)
            and _mode(case) == GenerationMode.POSITIVE)


def generated_calls_allowed(run: "Run", purpose: str) -> bool:
    """Whether a generated test (`property` or `stateful`) may create one more call."""
    if run.budget.skip_reason():
        return False
    return run.config.embedded or run.budget.spent(purpose) < GENERATED_CALLS_EXTERNAL[purpose]


def prepare_case(case: Any, run: "Run", purpose: str = "property") -> None:
    """Point a generated case at the configured account and make any create safe; rejects unsafe examples."""
    cfg = run.config
    params = case.path_parameters or {}
    if UUID.match(str(params.get("account_sid", ""))):
        params["account_sid"] = cfg.account_sid
    if case.operation.definition.raw.get("operationId") != "createCall":
        return
    if not isinstance(case.body, dict):
        return  # not an object: no number in it can be dialled; a conformant server rejects it
    configured = cfg.create_payload()
    if _mode(case) == GenerationMode.POSITIVE:
        body = dict(configured)
        body.update({k: case.body[k] for k in HARMLESS_CREATE_FIELDS if k in case.body and k != "tag"})
        if isinstance(case.body.get("tag"), dict):
            body["tag"] = {**case.body["tag"], **configured["tag"]}
        case.body = body
        if not generated_calls_allowed(run, purpose):
            hypothesis.reject()  # the call budget is spent: no more positive creates
        run.budget.count(purpose)
        return
    body = {k: v for k, v in case.body.items() if k in HARMLESS_CREATE_FIELDS or k in ("from", "to", "application_sid")}
    if isinstance(body.get("to"), dict):
        body["to"] = dict(configured["to"])
    if isinstance(body.get("from"), str):
        body["from"] = configured["from"]
    if isinstance(body.get("application_sid"), str) and UUID.match(body["application_sid"]):
        if cfg.application_sid:
            body["application_sid"] = cfg.application_sid
        else:
            del body["application_sid"]
    if not spec.schema_errors(body, "CreateCallRequest"):
        hypothesis.reject()  # making it safe made it valid: it would be a real create, not a negative case
    case.body = body


def remember_created(case: Any, response: Any, run: "Run") -> None:
    """Any create the target accepted is remembered, so the run deletes it at the end."""
    if case.method.upper() == "POST" and 200 <= response.status_code < 300:
        try:
            sid = response.json().get("sid")
        except (ValueError, AttributeError):
            return
        run.budget.remember(sid, case.body if isinstance(case.body, dict) else {})


def _negative_in(case: Any, where: str) -> bool:
    components = case.meta.components if case.meta is not None else {}
    return any(str(getattr(location, "value", location)).lower() == where and component.mode.is_negative
               for location, component in components.items())


def _negative_in_body(case: Any) -> bool:
    return _negative_in(case, "body")


def _requirement_for(failure: Failure, case: Any, operation_id: str) -> str:
    code = failure.code
    mistyped_body = operation_id == "createCall" and _negative_in_body(case) and not _negative_in(case, "path") \
        and invalid_create_requirement(case.body) == "CALLS-CREATE-REJECTS-MISTYPED"
    if code in ("ST101", "ST102") and mistyped_body:
        return "CALLS-CREATE-REJECTS-MISTYPED"  # input the document does not call invalid (D-30)
    if code in _BY_CODE:
        return _BY_CODE[code]
    by_op = _BY_OPERATION.get(operation_id, {})
    if code == "ST201":
        # A malformed sid in the path is refused before any body is read: it decides the requirement.
        if _negative_in(case, "path") or not _negative_in_body(case):
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


def as_violations(group: FailureGroup, case: Any, run: "Run") -> ExceptionGroup:
    """Schemathesis failures as requirement violations, with the exchange that showed them."""
    operation_id = case.operation.definition.raw.get("operationId", "")
    exchange = run.log.last_in_thread()
    violations = []
    for failure in group.exceptions:
        text = REDACT(f"{failure.title}: {failure.message}".strip().replace("\n\n", "\n"))
        violations.append(RequirementViolation(_requirement_for(failure, case, operation_id), failure.code,
                                               f"{case.operation.label}: {text}", exchange))
    first = violations[0].render().splitlines()[0]
    more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
    return ExceptionGroup(f"{first}{more}", violations)


def send(case: Any, run: "Run", purpose: str = "property") -> Any:
    """Make the case safe, send it through the run's session, remember any call it created."""
    prepare_case(case, run, purpose)
    response = case.call(session=run.api.session, headers=run.api.auth_headers())
    remember_created(case, response, run)
    if case.method.upper() == "DELETE":
        DELETED.record((case.path_parameters or {}).get("call_sid"), response.status_code)
    if case.method.upper() == "POST" and response.status_code == 480:
        # jambonz: no feature server can take a call now. A state of the deployment, not a verdict (D-29).
        pytest.skip("the target answered 480 (no capacity for calls): creation could not be tested")
    return response


def call_and_check(case: Any, run: "Run") -> None:
    """Prepare, send and validate one generated case; failures become requirement violations."""
    response = send(case, run)
    try:
        case.validate_response(response, headers=run.api.auth_headers(),
                               transport_kwargs={"session": run.api.session, "headers": run.api.auth_headers()})
    except FailureGroup as group:
        raise as_violations(group, case, run) from None


def stateful_settings(run: "Run") -> hypothesis.settings:
    """Few, short scenarios: each step is a request, and on an external target creates cost calls."""
    return hypothesis.settings(max_examples=max(2, run.config.examples // 5), stateful_step_count=6,
                               derandomize=True, database=None, deadline=None,
                               suppress_health_check=list(hypothesis.HealthCheck), print_blob=False)
