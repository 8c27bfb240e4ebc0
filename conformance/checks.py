"""Named checks. Each failure names the requirement it breaks and a stable failure code.

A check raises `RequirementViolation`; the plugin turns it into a failed requirement of the verdict,
with the exchange that showed it and a curl command to reproduce it (token redacted).

Failure codes:
  CF101 unexpected status          CF102 server error (5xx)           CF103 wrong content type
  CF104 body is not the JSON shape CF105 value outside its enum        CF106 body where none belongs
  CF107 record differs from request CF108 refused request gave data   CF109 still present
  CF110 missing                     CF111 status went backwards         CF112 unexpected side effect
  CF113 call did not end in time
Schemathesis' own checks keep their codes (ST101...).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from conformance import spec
from conformance.client import REDACT, BodyUnusable, Exchange, Response

TERMINAL_STATUSES = frozenset({"completed", "failed", "busy", "no-answer"})
ACTIVE_STATUSES = frozenset({"queued", "trying", "ringing", "early-media", "in-progress"})
REFUSAL_STATUSES = frozenset({401, 403, 404})


class RequirementViolation(AssertionError):
    """A requirement of the catalogue was seen broken."""

    def __init__(self, requirement: str, code: str, message: str, exchange: Exchange | None = None) -> None:
        self.requirement = requirement
        self.code = code
        self.message = REDACT(message)  # it may quote what the target sent, which may echo a secret
        self.exchange = exchange
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.requirement} [{self.code}] {self.message}"
        if self.exchange is not None:
            text += f"\n  observed: {self.exchange.describe()}\n  reproduce: {self.exchange.curl()}"
        return text


def violation(requirement: str, code: str, message: str, response: Response | None = None) -> RequirementViolation:
    return RequirementViolation(requirement, code, message, response.exchange if response is not None else None)


def _describe_allowed(allowed: Collection[int]) -> str:
    return " or ".join(str(s) for s in sorted(allowed))


def expect_no_server_error(response: Response) -> None:
    if response.status >= 500:
        raise violation("CALLS-NO-SERVER-ERROR", "CF102", f"server error {response.status}", response)


def expect_status(response: Response, allowed: int | Collection[int], requirement: str, what: str) -> None:
    """The response status is one of `allowed`; a 5xx is reported as a server error first."""
    allowed = {allowed} if isinstance(allowed, int) else set(allowed)
    if response.status in allowed:
        return
    expect_no_server_error(response)
    raise violation(requirement, "CF101", f"{what}: answered {response.status}, expected {_describe_allowed(allowed)}", response)


def expect_client_error(response: Response, requirement: str, what: str) -> None:
    """A 4xx: the request was refused as the client's fault."""
    if 400 <= response.status < 500:
        return
    expect_no_server_error(response)
    raise violation(requirement, "CF101", f"{what}: answered {response.status}, expected a 4xx refusal", response)


def expect_rejected(response: Response, requirement: str, what: str, *, server_error_is_must: bool = True) -> None:
    """A 4xx for a request that must be refused: a 2xx (served, data given or action taken) is CF108.

    A 5xx breaks both `requirement` (which asks for a 4xx) and CALLS-NO-SERVER-ERROR: both are raised,
    together, as an exception group. For input the document does not call invalid (decision D-30's
    SHOULD group) `server_error_is_must=False` reports a 5xx under `requirement` alone."""
    if 400 <= response.status < 500:
        return
    if response.status >= 500:
        message = f"{what}: server error {response.status}, expected a 4xx refusal"
        if not server_error_is_must:
            raise violation(requirement, "CF102", message, response)
        raise BaseExceptionGroup(message, [violation(requirement, "CF102", message, response),
                                           violation("CALLS-NO-SERVER-ERROR", "CF102", message, response)])
    code = "CF108" if 200 <= response.status < 300 else "CF101"
    raise violation(requirement, code, f"{what}: answered {response.status}, expected a 4xx refusal", response)


def expect_json(response: Response, requirement: str, what: str) -> Any:
    """A JSON body with an application/json content type; returns the decoded value."""
    if response.content_type != "application/json" and not response.content_type.endswith("+json"):
        raise violation("CALLS-CONTENT-TYPE-JSON", "CF103",
                        f"{what}: content type {response.content_type or '(none)'}, expected application/json", response)
    try:
        return response.json()
    except BodyUnusable as error:
        raise violation(requirement, "CF104", f"{what}: {error}", response) from None
    except ValueError:
        raise violation(requirement, "CF104", f"{what}: body is not valid JSON", response) from None


def _schema_requirement(path: str, message: str) -> str:
    field = path.split("/")[-1]
    if field == "call_status" and "is not one of" in message:
        return "CALLS-CALL-STATUS-ENUM"
    if field == "direction" and "is not one of" in message:
        return "CALLS-CALL-DIRECTION-ENUM"
    return "CALLS-CALL-SCHEMA"


def expect_call_object(call: Any, response: Response, what: str) -> dict[str, Any]:
    """A call object valid against the contract's `Call` schema; enum errors name their own requirement."""
    errors = spec.schema_errors(call, "Call")
    if errors:
        first = errors[0]
        path, _, message = first.partition(": ")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        code = "CF105" if "is not one of" in message else "CF104"
        raise violation(_schema_requirement(path, message), code, f"{what}: {first}{more}", response)
    return call


def expect_call_list(response: Response, what: str) -> list[dict[str, Any]]:
    """A 200 JSON array of valid call objects."""
    expect_status(response, 200, "CALLS-LIST-200", what)
    body = expect_json(response, "CALLS-LIST-200", what)
    if not isinstance(body, list):
        raise violation("CALLS-LIST-200", "CF104", f"{what}: body is a {type(body).__name__}, expected a JSON array", response)
    for index, call in enumerate(body):
        expect_call_object(call, response, f"{what}, item {index}")
    return body


def expect_empty_body(response: Response, requirement: str, what: str) -> None:
    """No body, and none announced: a Content-Length above 0 is a body as far as the client can tell
    (HTTP/1.1 framing may keep the bytes of a 204 off the wire, but the header still promises them)."""
    if response.content:
        raise violation(requirement, "CF106", f"{what}: a {len(response.content)}-byte body, expected none", response)
    announced = (response.headers.get("content-length") or "0").strip()
    if announced not in ("", "0"):
        raise violation(requirement, "CF106", f"{what}: announces a body (Content-Length: {announced}), expected none",
                        response)


def expect_refused(response: Response, requirement: str, what: str,
                   allowed: Collection[int] = REFUSAL_STATUSES) -> None:
    """Refused with one of `allowed`; a 2xx means data was given or an action taken."""
    if response.status in allowed:
        return
    expect_no_server_error(response)
    code = "CF108" if 200 <= response.status < 300 else "CF101"
    raise violation(requirement, code, f"{what}: answered {response.status}, expected refusal with "
                    f"{_describe_allowed(allowed)}", response)


TARGET_ADDRESS = {"phone": "number", "teams": "number", "sip": "sipUri", "user": "name"}


def invalid_create_requirement(body: Any) -> str:
    """Which requirement a refused-as-invalid create body falls under (decision D-30): a body that
    describes no call at all MUST be refused; a wrongly typed or over-long field SHOULD be."""
    if not isinstance(body, dict):
        return "CALLS-CREATE-REJECTS-INVALID"
    sender, to = body.get("from"), body.get("to")
    if sender is None or sender == "" or not isinstance(to, dict):
        return "CALLS-CREATE-REJECTS-INVALID"
    address = TARGET_ADDRESS.get(to.get("type")) if isinstance(to.get("type"), str) else None
    if address is None or to.get(address) in (None, ""):
        return "CALLS-CREATE-REJECTS-INVALID"
    return "CALLS-CREATE-REJECTS-MISTYPED"


def same_number(sent: str, recorded: Any) -> bool:
    """Numbers match when equal, allowing the leading '+' the signalling may drop (decision record)."""
    return isinstance(recorded, str) and sent.lstrip("+") == recorded.lstrip("+")


def sids_of(calls: Iterable[dict[str, Any]]) -> set[str]:
    return {c.get("call_sid") for c in calls if isinstance(c, dict)}
