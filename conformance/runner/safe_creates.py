"""Generated creates made safe: a generated create never dials a generated number.

A valid create body is replaced by the configured payload (plus harmless generated fields). An invalid one
keeps what makes it invalid wherever that reaches nobody: its numbers and addresses become the configured
ones, its webhooks, hosts and SIP headers survive only as values that name nothing (`safe_invalid_create`);
it is dropped only when that leaves it valid. Creates are taken from the run's call budget (an invalid one
only if the server accepted it), and every accepted create is deleted at the end of the run.
"""

from __future__ import annotations

import re
from typing import Any

import hypothesis
from schemathesis.generation import GenerationMode

from conformance.contract import openapi
from conformance.contract.calls import TARGET_ADDRESS
from conformance.evidence.observed import DELETING
from conformance.runner.run import Run
from conformance.deployment.api import loads_bounded

INVALID_DIAL = "invalid-dial"  # CallBudget purpose: an invalid create that names the destination (no call)
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


def mode_of(case: Any) -> GenerationMode:
    """The generation mode of a case: positive (valid) or negative (invalid)."""
    return case.meta.generation.mode if case.meta is not None else GenerationMode.POSITIVE


def is_create(case: Any) -> bool:
    """Whether the case is a create of a call."""
    return case.operation.definition.raw.get("operationId") == "createCall"


def negative_in(case: Any, where: str) -> bool:
    """Whether the case was generated invalid in `where` (path, query, header or body)."""
    components = case.meta.components if case.meta is not None else {}
    return any(str(getattr(location, "value", location)).lower() == where and component.mode.is_negative
               for location, component in components.items())


def negative_in_body(case: Any) -> bool:
    return negative_in(case, "body")


def spends_a_call(case: Any) -> bool:
    """Whether sending `case` would place a call: a positive create, whose body becomes the configured payload."""
    return is_create(case) and isinstance(case.body, dict) and mode_of(case) == GenerationMode.POSITIVE


def generated_calls_allowed(run: Run, purpose: str) -> bool:
    """Whether a generated test (`property` or `stateful`) may create one more call."""
    if run.budget.skip_reason():
        return False
    return run.config.embedded or run.budget.spent(purpose) < GENERATED_CALLS_EXTERNAL[purpose]


def invalid_may_dial(run: Run, purpose: str) -> bool:
    """Whether the next invalid create a generated test sends may name the configured destination."""
    return generated_calls_allowed(run, purpose) and (run.config.embedded or run.budget.spent(INVALID_DIAL) < INVALID_DIALS_EXTERNAL)


def _inert(value: Any) -> bool:
    """A value no server can read as a number, an address or a URL."""
    return value is None or isinstance(value, (bool, int, float))


_VALID_TARGET = {"type": "phone", "number": "+15005550001"}
_VALID_CREATE = {"from": "+15005550006", "to": _VALID_TARGET}


def _makes_invalid(component: str, valid: dict[str, Any], key: str, value: Any) -> bool:
    """Whether `value` as the `key` field of an otherwise valid instance of `component` makes it invalid."""
    return not openapi.conforms({**valid, key: value}, component)


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
        if key in TARGET_ADDRESS.values() and isinstance(value, (int, float)) and not isinstance(value, bool):
            safe[key] = False  # a number where an address goes could be dialled by a lenient server: as mistyped
        elif _inert(value) or value == "":
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


def prepare_case(case: Any, run: Run, purpose: str = "property") -> None:
    """Point a generated case at the configured account and make any create safe; rejects unsafe examples."""
    cfg = run.config
    params = case.path_parameters or {}
    if UUID.match(str(params.get("account_sid", ""))):
        params["account_sid"] = cfg.account_sid
    if not is_create(case) or not isinstance(case.body, dict):
        return  # a body that is not an object names nobody; a conformant server rejects it
    configured = cfg.create_payload()
    if mode_of(case) == GenerationMode.NEGATIVE and negative_in_body(case):
        # The body is what this case tests: sent to the configured account, not refused for its path first.
        params["account_sid"] = cfg.account_sid
        body = safe_invalid_create(case.body, configured, invalid_may_dial(run, purpose))
        if openapi.conforms(body, "CreateCallRequest"):
            hypothesis.reject()  # what made it invalid could not be kept safely: sent, it would be a real create
    else:
        body = dict(configured)
        body.update({k: case.body[k] for k in POSITIVE_GENERATED_FIELDS if k in case.body})
        if isinstance(case.body.get("tag"), dict):
            body["tag"] = {**case.body["tag"], **configured["tag"]}
        if mode_of(case) == GenerationMode.POSITIVE:
            if not generated_calls_allowed(run, purpose):
                hypothesis.reject()  # the call budget is spent: no more valid creates
            run.budget.count(purpose)
        else:
            # Invalid elsewhere (its path): what it tests does not need a destination, and without one it
            # dials nobody on any server. test_bad_input sends a malformed path with the whole payload.
            del body["to"]
    if mode_of(case) == GenerationMode.NEGATIVE and _names_a_destination(body):
        run.budget.count(INVALID_DIAL, call=False)
    case.body = body


def remember_created(case: Any, response: Any, run: Run, purpose: str) -> None:
    """Any create the target accepted is remembered, so the run deletes it at the end. An accepted invalid
    create (a server that should have refused it) is also taken from the generated tests' call allowance."""
    if case.method.upper() == "POST" and 200 <= response.status_code < 300:
        if mode_of(case) == GenerationMode.NEGATIVE:
            run.budget.count(purpose)
        try:
            sid = loads_bounded(response.content).get("sid")
        except (ValueError, AttributeError):
            return
        run.budget.remember(sid, case.body if isinstance(case.body, dict) else {})
        if purpose == "stateful":
            # A linked sequence may delete its call at its next step: no background check may rely on it
            # staying visible meanwhile.
            DELETING.record(sid)
