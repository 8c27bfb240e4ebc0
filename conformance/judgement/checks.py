"""Named checks. Each failure names the requirement it breaks and a stable failure code.

A check raises `RequirementViolation`; the runner turns it into a failed requirement of the verdict,
with the exchange that showed it and a curl command to reproduce it (token redacted).

A defect must cost the requirement it breaks, not the others a test judges: `record(violation)` (or a
`with judged():` block) charges a violation and lets the test go on with the rest of its evidence; the
runner fails the recorded requirements at the end of the test and judges the others on what remains.
`not_judged(requirement, reason)` says a declared requirement could not be judged, and why.

What a judgement rests on: a test that sends several requests to judge one requirement counts them as
probes (`probe_sent`, `probe_unsent`, or `counts_probes` when it may send none); a test that counts none is
one probe. `rests_on` names a call a judgement read, created by the run or merely seen.

Failure codes:
  CF101 unexpected status          CF102 server error (5xx)           CF103 wrong content type
  CF104 body is not the JSON shape CF105 value outside its enum        CF106 body where none belongs
  CF107 record differs from request CF108 refused request gave data   CF109 still present
  CF110 missing                     CF111 status went backwards         CF112 unexpected side effect
  CF113 call did not end in time    CF114 observations of a call disagree
  CF115 an ended call changed       CF116 a create named a known sid   CF117 a deleted call came back
  CF118 answered for another sid    CF119 near-miss credential served  CF120 scheme case refused
  CF121 status the contract does not document for the operation
  CF122 duration longer than the call existed
  CF123 401 without a Bearer challenge CF124 405 without Allow          CF125 answer breaks HTTP framing
Schemathesis' own checks keep their codes (ST101...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from conformance.contract import openapi
from conformance.contract.calls import TARGET_ADDRESS
from conformance.deployment.api import BodyUnusable, Response
from conformance.deployment.exchange import Exchange
from conformance.deployment.redaction import REDACT, cut_words

REFUSAL_STATUSES = frozenset({401, 403, 404})
#: A Bearer challenge in a WWW-Authenticate value: the scheme first in the value or after a comma, not a parameter.
_BEARER_CHALLENGE = re.compile(r"(?:^|,)\s*bearer(?=\s|,|$)", re.IGNORECASE)
#: One auth-param of a challenge: a name, then a token or a quoted string (RFC 9110 section 11.2).
_AUTH_PARAM = re.compile(r'\s*,?\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)')
#: The attributes RFC 6750 section 3 defines, each at most once, and the characters their values may hold.
_ERROR_TEXT = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
_BEARER_ATTRIBUTES: dict[str, re.Pattern[str] | None] = {
    "realm": None, "scope": re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*"), "error": _ERROR_TEXT,
    "error_description": _ERROR_TEXT, "error_uri": re.compile(r"[\x21\x23-\x5b\x5d-\x7e]*"),
}


class RequirementViolation(AssertionError):
    """A requirement of the catalogue was seen broken."""

    def __init__(self, requirement: str, code: str, message: str, exchange: Exchange | None = None,
                 evidence: list[tuple[str, Exchange]] | None = None, key: str | None = None) -> None:
        self.requirement = requirement
        self.code = code
        self.message = REDACT(message)  # it may quote what the target sent, which may echo a secret
        # What makes two violations the same defect, seen in other answers: the message without what varies
        # from answer to answer (the test's words, a position in a list, a sid). The ledger files it once.
        self.key = REDACT(key) if key else self.message
        self.exchange = exchange
        # Exchanges that contradict each other, each with its label ("exchange #12"): `exchange` is the first.
        self.evidence = list(evidence or [])
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.requirement} [{self.code}] {self.message}"
        if self.evidence:
            for label, exchange in self.evidence:
                text += f"\n  {label}: {exchange.describe()}"
            text += "\n  reproduce:\n    " + self.reproduce().replace("\n", "\n    ")
        elif self.exchange is not None:
            text += f"\n  observed: {self.exchange.describe()}\n  reproduce: {self.exchange.curl()}"
        return text

    def reproduce(self) -> str | None:
        """The curl line of the exchange it observed, or one per exchange that contradict each other."""
        if self.evidence:
            return "\n".join(f"{label}: {exchange.curl()}" for label, exchange in self.evidence)
        return self.exchange.curl() if self.exchange is not None else None


def violation(requirement: str, code: str, message: str, response: Response | None = None) -> RequirementViolation:
    return RequirementViolation(requirement, code, message, response.exchange if response is not None else None)


@dataclass
class Probes:
    """The requests one test meant to send to judge one requirement: how many it sent and judged, and why
    the others were not sent (reason -> count)."""

    sent: int = 0
    judged: int = 0
    unsent: dict[str, int] = field(default_factory=dict)

    @property
    def planned(self) -> int:
        return self.sent + sum(self.unsent.values())

    def add(self, other: "Probes") -> None:
        self.sent += other.sent
        self.judged += other.judged
        for reason, count in other.unsent.items():
            self.unsent[reason] = self.unsent.get(reason, 0) + count


@dataclass
class Judgement:
    """What one test recorded without stopping: violations, requirements it could not judge (with why),
    the probes it counted and the calls its judgements rest on (requirement -> sid -> created by the run)."""

    violations: list[RequirementViolation] = field(default_factory=list)
    not_judged: dict[str, str] = field(default_factory=dict)
    probes: dict[str, Probes] = field(default_factory=dict)
    calls: dict[str, dict[str, bool]] = field(default_factory=dict)

    def merged(self, later: "Judgement") -> "Judgement":
        """This phase's record followed by a later phase's (setup, then call)."""
        merged = Judgement(self.violations + later.violations, {**self.not_judged, **later.not_judged})
        for source in (self, later):
            for rid, counted in source.probes.items():
                merged.probes.setdefault(rid, Probes()).add(counted)
            for rid, sids in source.calls.items():
                merged.calls.setdefault(rid, {}).update(sids)
        return merged


_JUDGEMENT: ContextVar[Judgement | None] = ContextVar("judgement", default=None)


@contextmanager
def judgement() -> Iterator[Judgement]:
    """The recording of one test phase (the runner opens it around setup and call)."""
    current = Judgement()
    token = _JUDGEMENT.set(current)
    try:
        yield current
    finally:
        _JUDGEMENT.reset(token)


def violations_in(error: BaseException | None) -> list[RequirementViolation]:
    """The requirement violations an exception carries (itself, a group's members, or its cause)."""
    if error is None:
        return []
    if isinstance(error, RequirementViolation):
        return [error]
    if isinstance(error, BaseExceptionGroup):
        found = []
        for inner in error.exceptions:
            found.extend(violations_in(inner))
        return found
    return violations_in(error.__cause__) if isinstance(error.__cause__, BaseException) else []


def record(found: RequirementViolation | BaseExceptionGroup) -> None:
    """Charge a violation (or a group of them) to its requirement and go on: the test keeps judging the rest
    of its evidence. Outside a test (no recording open) the violation is raised as before."""
    current = _JUDGEMENT.get()
    violations = violations_in(found)
    if current is None or not violations:
        raise found
    current.violations.extend(violations)


@contextmanager
def judged() -> Iterator[None]:
    """A block of checks whose violation is recorded (see `record`) instead of stopping the test."""
    try:
        yield
    except (RequirementViolation, BaseExceptionGroup) as error:
        if not violations_in(error):
            raise
        record(error)


def not_judged(requirement: str, reason: str) -> None:
    """A requirement the test declares could not be judged on its evidence: NOT RUN, for `reason`."""
    current = _JUDGEMENT.get()
    if current is not None:
        current.not_judged.setdefault(requirement, reason)


def _answer_key(response: Response, kind: str) -> str | None:
    """A status that is the same defect whichever probe met it: by operation (or method), status and kind."""
    exchange = response.exchange
    if exchange is None:
        return None
    operation = openapi.operation_of(exchange.method, urlsplit(exchange.url).path) or exchange.method
    return f"{operation} {response.status} {kind}"


def _probes(requirement: str) -> Probes | None:
    current = _JUDGEMENT.get()
    return None if current is None else current.probes.setdefault(requirement, Probes())


def counts_probes(*requirements: str) -> None:
    """This test counts its probes of `requirements` itself, and may send none (then it judged nothing)."""
    for requirement in requirements:
        _probes(requirement)


def probe_sent(requirement: str, count: int = 1, judged: bool = True) -> None:
    """`count` requests sent to judge `requirement` (and their answers judged, unless `judged` is False)."""
    counted = _probes(requirement)
    if counted is not None:
        counted.sent += count
        counted.judged += count if judged else 0


def probe_unsent(requirement: str, reason: str, count: int = 1) -> None:
    """`count` requests meant to judge `requirement` were not sent, for `reason`."""
    counted = _probes(requirement)
    if counted is not None:
        counted.unsent[reason] = counted.unsent.get(reason, 0) + count


def rests_on(requirement: str, sid: str, created: bool) -> None:
    """The judgement of `requirement` read call `sid`, which the run created or merely saw."""
    current = _JUDGEMENT.get()
    if current is not None:
        sid = REDACT.cut(sid, 64)  # what the target named it: it may echo a secret
        sids = current.calls.setdefault(requirement, {})
        sids[sid] = sids.get(sid, False) or created


def _describe_allowed(allowed: Collection[int]) -> str:
    return " or ".join(str(s) for s in sorted(allowed))


def expect_no_server_error(response: Response, what: str = "", *, malformed: bool = False) -> None:
    """No 5xx. `malformed` says the request was invalid on purpose: the message then says the server erred
    on bad input it should have refused with a 4xx (still a server error, D-13)."""
    if response.status >= 500:
        kind = "on malformed input (expected a 4xx refusal)" if malformed else "on a valid request"
        prefix = f"{what}: " if what else ""
        raise RequirementViolation("CALLS-NO-SERVER-ERROR", "CF102", f"{prefix}server error {response.status} {kind}",
                                   response.exchange, key=_answer_key(response, kind))


def contract_status_violation(operation_id: str, status: int | None,
                              exchange: Exchange | None) -> RequirementViolation | None:
    """CALLS-CONTRACT-STATUS: an answer whose status the contract does not document for its operation. The one
    check of every answer's status, generated requests and the suite's own probes alike; the same status of
    the same operation is one defect, however many answers show it."""
    if status is None or openapi.documents_status(operation_id, status):
        return None
    documented = ", ".join(openapi.documented_statuses(operation_id))
    return RequirementViolation("CALLS-CONTRACT-STATUS", "CF121", f"{operation_id} answered {status}, a status "
                                f"the contract does not document for it (it documents {documented})", exchange,
                                key=f"{operation_id} {status}")


def judge_contract_status(response: Response) -> None:
    """Record (see `record`) an undocumented status of an answer to one of the API's operations, whatever the
    test made of it. Outside a test (preflight, cleanup, background watches) nothing is judged."""
    exchange = response.exchange
    if _JUDGEMENT.get() is None or exchange is None:
        return
    operation = openapi.operation_of(exchange.method, urlsplit(exchange.url).path)
    found = contract_status_violation(operation, response.status, exchange) if operation else None
    if found is not None:
        record(found)


def expect_status(response: Response, allowed: int | Collection[int], requirement: str, what: str) -> None:
    """The response status is one of `allowed`; a 5xx is reported as a server error first."""
    allowed = {allowed} if isinstance(allowed, int) else set(allowed)
    if response.status in allowed:
        return
    expect_no_server_error(response, what)
    raise violation(requirement, "CF101", f"{what}: answered {response.status}, expected {_describe_allowed(allowed)}", response)


def expect_client_error(response: Response, requirement: str, what: str) -> None:
    """A 4xx: the request was refused as the client's fault."""
    if 400 <= response.status < 500:
        return
    expect_no_server_error(response, what, malformed=True)
    raise violation(requirement, "CF101", f"{what}: {answer_words(response.status)}, expected a 4xx refusal", response)


def expect_rejected(response: Response, requirement: str, what: str) -> None:
    """A 4xx for a request that must be refused: a 2xx (served, data given or action taken) is CF108.

    A 5xx breaks both `requirement` (which asks for a 4xx) and CALLS-NO-SERVER-ERROR, whatever the input
    (D-13): both are raised, together, as an exception group, in catalogue order."""
    if 400 <= response.status < 500:
        return
    if response.status >= 500:
        message = f"{what}: server error {response.status} on malformed input, expected a 4xx refusal"
        key = _answer_key(response, "on malformed input (expected a 4xx refusal)")
        raise BaseExceptionGroup(message, [
            RequirementViolation(requirement, "CF102", message, response.exchange, key=key),
            RequirementViolation("CALLS-NO-SERVER-ERROR", "CF102", message, response.exchange, key=key)])
    code = "CF108" if 200 <= response.status < 300 else "CF101"
    raise violation(requirement, code, f"{what}: {answer_words(response.status)}, expected a 4xx refusal", response)


def expect_json(response: Response, requirement: str, what: str) -> Any:
    """A JSON body with an application/json content type; returns the decoded value."""
    if response.content_type != "application/json" and not response.content_type.endswith("+json"):
        raise violation("CALLS-CONTENT-TYPE-JSON", "CF103",
                        f"{what}: content type {response.content_type or '(none)'}, expected application/json", response)
    try:
        return response.json()
    except BodyUnusable as error:
        raise violation(requirement, "CF104", f"{what}: {error}", response) from None
    except ValueError as error:
        raise violation(requirement, "CF104", f"{what}: body is not valid JSON ({error})", response) from None


def _schema_requirement(path: tuple[str | int, ...], message: str) -> str:
    field = str(path[-1]) if path else ""
    if field == "call_status" and "is not one of" in message:
        return "CALLS-CALL-STATUS-ENUM"
    if field == "direction" and "is not one of" in message:
        return "CALLS-CALL-DIRECTION-ENUM"
    return "CALLS-CALL-SCHEMA"


ENUM_FIELDS = {"CALLS-CALL-STATUS-ENUM": "call_status", "CALLS-CALL-DIRECTION-ENUM": "direction"}

#: Failure messages stay a few hundred characters: they quote what matters (the item, the keyword and its
#: place), never a whole body or schema; the exchange itself is in `observed` and exchanges.har.
MESSAGE_LIMIT = 400
QUOTE_LIMIT = 120


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """A JSON value as compact JSON, redacted, then cut to `limit` characters (a secret the target echoes is
    redacted whole before any cut)."""
    try:
        text = REDACT(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    except (TypeError, ValueError):
        text = REDACT(repr(value))
    return text if len(text) <= limit else text[:limit] + "..."


def json_path(parts: Iterable[Any]) -> str:
    """A place in a JSON value, as a JSONPath: $[0].sip_status."""
    path = "$"
    for part in parts:
        name = str(part)
        path += f"[{part}]" if isinstance(part, int) else f".{name}" if name.isidentifier() else f"[{name!r}]"
    return path


def schema_error_text(message: str, path: Iterable[Any], keyword: str) -> str:
    """One JSON Schema error: its message (bounded), where, and the keyword that failed."""
    return f"{cut_words(REDACT(' '.join(message.split())), 160)} at {json_path(path)} ({keyword})"


def schema_error_key(path: Iterable[Any], keyword: str, message: str) -> str:
    """The same error in another answer: its place without list positions and its keyword (and which property
    is missing: a type or enum message quotes the value, which varies)."""
    place = json_path(p for p in path if not isinstance(p, int))
    return f"{place} {keyword}" + (f" {message}" if keyword == "required" else "")


def answer_words(status: int) -> str:
    """What an answer did with a request, in the words of what happened: a 5xx neither accepted nor refused it."""
    if 200 <= status < 300:
        return f"accepted (answered {status})"
    if 400 <= status < 500:
        return f"refused (answered {status})"
    if status >= 500:
        return f"answered {status} (a server error, not a refusal)"
    return f"answered {status}"


def call_object_violations(call: Any, response: Response, what: str,
                           at: tuple[int, ...] = ()) -> list[RequirementViolation]:
    """What is wrong with a call object against the contract's `Call` schema: one violation per requirement
    (the schema, each enum), each with its first error (keyword and place in the body, `at` being the object's)
    and how many more. Its key leaves out `what` and the object's place: the same defect in any answer."""
    by_requirement: dict[str, list[openapi.SchemaError]] = {}
    for error in openapi.schema_findings(call, "Call"):
        by_requirement.setdefault(_schema_requirement(error.path, error.message), []).append(error)
    found = []
    for requirement, errors in by_requirement.items():
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        code = "CF104" if requirement == "CALLS-CALL-SCHEMA" else "CF105"
        text = schema_error_text(first.message, at + first.path, first.keyword)
        key = f"{requirement} {code} " + "; ".join(schema_error_key(e.path, e.keyword, e.message) for e in errors)
        found.append(RequirementViolation(requirement, code, cut_words(f"{what}: {text}{more}", MESSAGE_LIMIT),
                                          response.exchange, key=key))
    return found


def expect_call_object(call: Any, response: Response, what: str) -> dict[str, Any]:
    """A call object valid against the contract's `Call` schema; enum errors name their own requirement."""
    found = call_object_violations(call, response, what)
    if len(found) == 1:
        raise found[0]
    if found:
        raise BaseExceptionGroup(f"{what}: the call object breaks {len(found)} requirements", found)
    return call


def judge_call_object(call: Any, response: Response, what: str) -> bool:
    """Record what is wrong with a call object (see `record`) and go on; an enum whose field is absent or not
    a string is not judged on it. True when the object is valid."""
    found = call_object_violations(call, response, what)
    for v in found:
        record(v)
    for requirement, name in ENUM_FIELDS.items():
        if not isinstance(call, dict) or not isinstance(call.get(name), str):
            not_judged(requirement, f"{what}: the call object carries no {name} string (see CALLS-CALL-SCHEMA)")
    return not found


class ListedCalls(list):
    """The well-formed calls of a list. `named` holds the sid of every item that names one, well-formed or
    not: a call listed with a malformed property is still listed (its property is another requirement's)."""

    named: set[str]


def expect_call_list(response: Response, what: str) -> ListedCalls:
    """A 200 JSON array of call objects, naming each call once; returns its well-formed items.

    A malformed item, or a call listed twice, is recorded against its own requirement (CALLS-CALL-SCHEMA,
    an enum, CALLS-LIST-DISTINCT) and the test goes on with the well-formed items (see `record`)."""
    expect_status(response, 200, "CALLS-LIST-200", what)
    body = expect_json(response, "CALLS-LIST-200", what)
    if not isinstance(body, list):
        raise violation("CALLS-LIST-200", "CF104", f"{what}: body is a {type(body).__name__}, expected a JSON array", response)
    valid, seen, twice = ListedCalls(), set(), []
    for index, call in enumerate(body):
        sid = call.get("call_sid") if isinstance(call, dict) else None
        if isinstance(sid, str):
            if sid in seen:
                twice.append(sid)
                continue
            seen.add(sid)
        # 1-based, as a reader counts; the item quoted, since the body excerpt may stop before it.
        found = call_object_violations(call, response, f"{what}, item {index + 1} of {len(body)} {quote(call)}",
                                       at=(index,))
        for v in found:
            record(v)
        if not found:
            valid.append(call)
    valid.named = seen
    if twice:
        record(violation("CALLS-LIST-DISTINCT", "CF107", f"{what}: the list of {len(body)} items names call(s) "
                         f"{', '.join(sorted(set(twice)))} more than once", response))
    return valid


def expect_empty_body(response: Response, requirement: str, what: str) -> None:
    """No body, and none announced: a Content-Length above 0 is a body as far as the client can tell
    (HTTP/1.1 framing may keep the bytes of a 204 off the wire, but the header still promises them)."""
    if response.content:
        raise violation(requirement, "CF106", f"{what}: a {len(response.content)}-byte body, expected none", response)
    announced = (response.headers.get("content-length") or "0").strip()
    if announced not in ("", "0"):
        raise violation(requirement, "CF106", f"{what}: announces a body (Content-Length: {announced}), expected none",
                        response)


def expect_challenge(response: Response, what: str) -> None:
    """A 401 carries WWW-Authenticate with a Bearer challenge: RFC 9110 section 11.6.1 and RFC 6750 section 3
    oblige the header on every 401, and it is how a client learns to send a bearer token."""
    if response.status != 401:
        return
    value = response.headers.get("www-authenticate", "")
    if not value.strip():
        raise violation("CALLS-AUTH-CHALLENGE", "CF123", f"{what}: a 401 answer without WWW-Authenticate", response)
    found = _BEARER_CHALLENGE.search(value)
    if not found:
        raise violation("CALLS-AUTH-CHALLENGE", "CF123",
                        f"{what}: the 401 answer's WWW-Authenticate ({value}) has no Bearer challenge", response)
    problem = _bearer_attribute_problem(value[found.end():])
    if problem:
        raise violation("CALLS-AUTH-CHALLENGE", "CF123", f"{what}: the 401 answer's Bearer challenge ({value}) "
                        f"{problem} (RFC 6750 section 3)", response)


def _bearer_attribute_problem(params: str) -> str | None:
    """What breaks RFC 6750's rules in the attributes of a Bearer challenge (the text after the scheme, up to
    the next challenge): an attribute given twice, or a value with a character it may not hold."""
    seen: set[str] = set()
    while (param := _AUTH_PARAM.match(params)) is not None and param.end() > 0:
        name, raw = param[1].lower(), param[2]
        params = params[param.end():]
        value = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\") if raw.startswith('"') else raw
        if name in seen and name in _BEARER_ATTRIBUTES:
            return f"gives {name} more than once"
        seen.add(name)
        allowed = _BEARER_ATTRIBUTES.get(name)
        if allowed is not None and not allowed.fullmatch(value):
            return f"has {name} with a character outside the set its value may hold"
    return None


def expect_allow(response: Response, what: str) -> None:
    """A 405 carries Allow, the methods the path offers (RFC 9110 sections 10.2.1 and 15.5.6)."""
    if response.status == 405 and "allow" not in response.headers:
        raise violation("CALLS-METHOD-ALLOW", "CF124", f"{what}: a 405 answer without an Allow header", response)


def expect_framed(exchanges: list[tuple[str, Exchange]]) -> None:
    """Every answer ended where its framing says (RFC 9110 sections 6.4.1, 8.6 and 15.3.5): the transport
    notes an answer that did not (`Exchange.framing`) and gives the next request a fresh connection."""
    bad = [(label, exchange) for label, exchange in exchanges if exchange.framing]
    if bad:
        label, first = bad[0]
        more = f" (and {len(bad) - 1} more answers)" if len(bad) > 1 else ""
        raise RequirementViolation("CALLS-HTTP-FRAMING", "CF125", f"{label}, the answer {first.status} to "
                                   f"{first.method} {first.url}: {first.framing}{more}", first)


def expect_refused(response: Response, requirement: str, what: str,
                   allowed: Collection[int] = REFUSAL_STATUSES) -> None:
    """Refused with one of `allowed`; a 2xx means data was given or an action taken."""
    if response.status in allowed:
        return
    expect_no_server_error(response, what, malformed=True)
    code = "CF108" if 200 <= response.status < 300 else "CF101"
    raise violation(requirement, code, f"{what}: {answer_words(response.status)}, expected refusal with "
                    f"{_describe_allowed(allowed)}", response)


def invalid_create_requirement(body: Any) -> str:
    """Which requirement a refused-as-invalid create body falls under (decision D-30): a body that
    describes no call at all MUST be refused; refusing a numeric or over-long `from`, or a wrongly typed
    optional field, is the suite's advice (ADVISORY)."""
    if not isinstance(body, dict):
        return "CALLS-CREATE-REJECTS-INVALID"
    sender, to = body.get("from"), body.get("to")
    numeric = isinstance(sender, (int, float)) and not isinstance(sender, bool)
    if sender is None or sender == "" or not (isinstance(sender, str) or numeric) or not isinstance(to, dict):
        return "CALLS-CREATE-REJECTS-INVALID"
    address = TARGET_ADDRESS.get(to.get("type")) if isinstance(to.get("type"), str) else None
    if address is None or to.get(address) in (None, ""):
        return "CALLS-CREATE-REJECTS-INVALID"
    return "CALLS-CREATE-REJECTS-MISTYPED"


def same_number(sent: str, recorded: Any) -> bool:
    """Numbers match when equal, allowing the leading '+' the signalling may drop (decision record)."""
    return isinstance(recorded, str) and sent.lstrip("+") == recorded.lstrip("+")
