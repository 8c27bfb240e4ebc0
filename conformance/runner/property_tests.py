"""Schemathesis glue: the contract-driven property and stateful tests.

Every generated request goes through the run's `TargetSession` (pacing, guard, recording), made safe first
(safe_creates.py). Each Schemathesis failure becomes a `RequirementViolation` naming the catalogue
requirement it breaks, with what was sent and what came back.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.config import HealthCheck
from schemathesis.core.failures import AcceptedNegativeData, Failure, FailureGroup
from schemathesis.openapi.checks import JsonSchemaError
from schemathesis.generation import GenerationMode

from conformance.contract import openapi
from conformance.evidence.observed import DELETED, SEEN
from conformance.judgement.checks import (MESSAGE_LIMIT, QUOTE_LIMIT, RequirementViolation, answer_words,
                                          contract_status_violation, invalid_create_requirement, json_path, probe_sent,
                                          quote, record, schema_error_key, schema_error_text)
from conformance.runner.safe_creates import (GENERATED_CALLS_EXTERNAL, is_create, negative_in, negative_in_body,
                                             prepare_case, remember_created)
from conformance.runner.run import Run
from conformance.deployment.api import MAX_JSON_DEPTH, loads_bounded
from conformance.deployment.redaction import REDACT, cut_words

# Not `ignored_auth`: its probes bypass the run's session (no rate limit, no 429 back-off, not logged),
# and test_auth.py checks CALLS-AUTH-REQUIRED on every operation. Not `status_code_conformance`: every
# answer's status is judged by the suite's own check, the one its hand-written probes use (`validate`).
CHECKS = [
    "not_a_server_error", "content_type_conformance", "response_schema_conformance",
    "negative_data_rejection", "positive_data_acceptance", "use_after_free", "ensure_resource_availability",
]

# Failure code -> requirement, where it does not depend on the operation.
_BY_CODE = {
    "ST101": "CALLS-NO-SERVER-ERROR", "ST102": "CALLS-NO-SERVER-ERROR",
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


def build_schema(run: Run, modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
                 max_examples: int | None = None, phases: list[str] | None = None) -> Any:
    """The contract as a Schemathesis schema, configured for this run's target (and, when given, one test's
    generation modes, examples per mode and phases)."""
    cfg = run.config
    schema = schemathesis.openapi.from_dict(copy.deepcopy(openapi.load_spec()))
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


def valid_creates_schema(run: Run) -> Any:
    """The schema of the valid-create property test. Every valid body becomes the configured payload, so on an
    external target more cases would only spend calls: it draws as many as the generated tests may spend."""
    if run.config.embedded:
        return build_schema(run, modes=(GenerationMode.POSITIVE,))
    return build_schema(run, modes=(GenerationMode.POSITIVE,), max_examples=GENERATED_CALLS_EXTERNAL["property"],
                        phases=["fuzzing"])


def invalid_creates_schema(run: Run) -> Any:
    """The schema of the invalid-create property test: negative data only, and no examples phase (the
    contract's examples are valid requests)."""
    return build_schema(run, modes=(GenerationMode.NEGATIVE,), phases=["coverage", "fuzzing"])


def _path_sent_invalid(case: Any, run: Run) -> bool:
    """Whether the request went out with an invalid path (a create with an invalid body gets the configured
    account whatever was generated for its path)."""
    if is_create(case):
        return (case.path_parameters or {}).get("account_sid") != run.config.account_sid
    return negative_in(case, "path")


def _requirement_for(failure: Failure, case: Any, operation_id: str, run: Run) -> str:
    code = failure.code
    path_invalid = _path_sent_invalid(case, run)
    if code in _BY_CODE:  # a 5xx is a server error whatever the input (D-13)
        return _BY_CODE[code]
    by_op = _BY_OPERATION.get(operation_id, {})
    if code == "ST201":
        # A malformed sid in the path is refused before any body is read: it decides the requirement.
        if path_invalid or not negative_in_body(case):
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


def _answered(exchange: Any, failures: list[Any]) -> str:
    """What came back, in a few words: status, content type and a bounded excerpt of the body; for a schema
    error, of the value it is about (the start of a long list may stop before the bad item)."""
    if exchange is None:
        return "no answer recorded"
    ctype = exchange.response_headers.get("content-type", "(none)")
    wrong = next((f for f in failures if isinstance(f, JsonSchemaError)), None)
    if wrong is not None:
        excerpt = f"with {json_path(wrong.instance_path)} = {quote(wrong.instance)}"
    else:
        body = " ".join(exchange.response_body.split())
        excerpt = repr(body if len(body) <= QUOTE_LIMIT else body[:QUOTE_LIMIT] + "...")
    return f"answered {exchange.status} [{ctype}] {excerpt}"


def _failure_text(failure: Any) -> tuple[str, str]:
    """One Schemathesis failure in a bounded sentence, and what makes it the same defect in another answer:
    a schema error by its keyword and place (never the schema itself), a refusal by what the answer did."""
    if isinstance(failure, JsonSchemaError):
        path, keyword = list(failure.instance_path), str((list(failure.schema_path) or ["schema"])[-1])
        text = f"{failure.title}: {schema_error_text(failure._raw_message, path, keyword)}"
        return text, schema_error_key(path, keyword, failure._raw_message)
    if isinstance(failure, AcceptedNegativeData):
        # Schemathesis titles any answer but the expected ones "accepted": a 5xx refused nothing either.
        return (f"Schema-violating request {answer_words(failure.status_code)}, expected a 4xx refusal",
                f"{failure.code} {failure.status_code}")
    text = " ".join(f"{failure.title}: {failure.message}".split()).rstrip(":")
    if "maximum recursion depth exceeded" in text:
        text = f"not valid JSON for this API: nested deeper than {MAX_JSON_DEPTH} levels"
    return cut_words(REDACT(text), 200), f"{failure.code} {failure.title}"  # redacted before it is cut


def _sent(case: Any) -> str:
    """What was sent: the generated input as the contract sees it (valid, or invalid in which part)."""
    invalid = [where for where in ("path", "query", "header", "body") if negative_in(case, where)]
    return "invalid " + " and ".join(invalid) if invalid else "a valid request"


def as_violations(group: FailureGroup, case: Any, run: Run) -> ExceptionGroup:
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
        texts, keys = zip(*(_failure_text(f) for f in failures))
        # Redacted before it is cut: a secret straddling the cut cannot survive in part.
        message = cut_words(REDACT(f"{case.operation.label} with {_sent(case)}: {'; '.join(texts)} "
                                   f"({_answered(exchange, failures)})"), MESSAGE_LIMIT)
        violations.append(RequirementViolation(requirement, failures[0].code, message, exchange,
                                               key=f"{case.operation.label} {'; '.join(keys)}"))
    first = violations[0].render().splitlines()[0]
    more = f" (+{len(violations) - 1} more, below)" if len(violations) > 1 else ""
    return ExceptionGroup(f"{first}{more}", violations)


def send(case: Any, run: Run, purpose: str = "property") -> Any:
    """Make the case safe, send it through the run's session, remember any call it created. A coverage-phase case
    of a kind and place already sent is not sent (case_selection.py)."""
    if not run.coverage.admits(case):
        hypothesis.reject()
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


def validate(case: Any, response: Any, run: Run, **kwargs: Any) -> None:
    """Schemathesis' checks on one answer; failures become requirement violations. A body nested too deep
    for the checks, or a success answer larger than the body size cap, is itself the finding (the answer cannot
    be an answer of this API); the checks do not parse the part of an over-cap body that was read."""
    operation_id = case.operation.definition.raw.get("operationId", "")
    requirement = _BY_OPERATION.get(operation_id, {}).get("body", "CALLS-CONTRACT-STATUS")
    exchange = run.log.last_in_thread()
    # A case sent with another method (Schemathesis mutates it) is no longer the operation: not judged as one.
    if exchange is not None and exchange.method.upper() == case.operation.method.upper():
        undocumented = contract_status_violation(operation_id, response.status_code, exchange)
        if undocumented is not None:
            record(undocumented)  # and the other checks go on: a status is one requirement of the answer
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


def invalid_body_requirement(case: Any, run: Run) -> str | None:
    """The requirement a create sent with a valid path and an invalid body probes (as a refusal of it is
    charged: `_requirement_for`), or None."""
    if not is_create(case) or _path_sent_invalid(case, run) or not negative_in_body(case):
        return None
    return invalid_create_requirement(case.body)


def call_and_check(case: Any, run: Run, count_invalid_bodies: bool = False) -> None:
    """Prepare, send and validate one generated case; failures become requirement violations. With
    `count_invalid_bodies`, a create with an invalid body is a probe of the requirement its body falls under."""
    response = send(case, run)
    probed = invalid_body_requirement(case, run) if count_invalid_bodies else None
    if probed:
        probe_sent(probed)
    validate(case, response, run)


def stateful_settings(run: Run) -> hypothesis.settings:
    """Few, short scenarios: each step is a request, and on an external target creates cost calls."""
    return hypothesis.settings(max_examples=max(2, run.config.examples // 5), stateful_step_count=6,
                               derandomize=True, database=None, deadline=None,
                               suppress_health_check=list(hypothesis.HealthCheck), print_blob=False)
