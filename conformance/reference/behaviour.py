"""How the reference server behaves, as a set of named hook points.

The app (`app.py`) owns the HTTP flow of each operation and calls the hooks of one `Behaviour`
object at fixed points:

    route found?          -> route_not_found
    method offered?       -> method_not_allowed
    authenticate          -> the account of the bearer token (or 401 / 400)
    check_sids            -> 400 for a malformed account or call sid
    authorize             -> 403 when the token's account is not the path's account
    createCall:  body_limit, oversized, parse_create, validate_create, invalid_create,
                 new_record (destination, plan_call), on_create
    getCall:     find_call, call_not_found, view_call (status_of)
    listCalls:   list_calls, view_call (status_of)
    deleteCall:  find_call, delete_unknown, on_delete
    every answer -> finish (post-processing), errors through error_reply

`Behaviour` itself is the conformant server. A fault or a variant (`faults.py`) is a subclass that
overrides one hook (rarely two working together), so each difference from the conformant server is
in one place; most are one of the parameterised shapes of `hooks.py`. Hooks that keep state (e.g.
counting gets) use `self.lock`.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from conformance.contract import openapi
from conformance.reference.clock import Clock
from conformance.reference.lifecycle import TERMINAL_STATUSES, Plan, plan_call
from conformance.reference.settings import Account, ReferenceSettings
from conformance.reference.store import CallRecord, CallStore, new_call_id, seed_records

LIST, GET, CREATE, DELETE = "listCalls", "getCall", "createCall", "deleteCall"
OPERATIONS = (LIST, GET, CREATE, DELETE)
COLLECTION_METHODS = {"GET": LIST, "POST": CREATE}
ITEM_METHODS = {"GET": GET, "DELETE": DELETE}

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
WWW_AUTHENTICATE = 'Bearer realm="Calls API"'
#: The address field of each `to.type`.
TARGET_FIELDS = {"phone": "number", "teams": "number", "sip": "sipUri", "user": "name"}
#: A body larger than this is never read, whatever a behaviour says its limit is.
HARD_BODY_LIMIT = 16 * 1024 * 1024
#: Deepest JSON nesting a create body may have (a deeper one answers 400: it could not be echoed safely).
MAX_NESTING = 64


def is_uuid(value: str) -> bool:
    return bool(UUID_RE.match(value))


@dataclass(frozen=True)
class Reply:
    """An answer before it becomes an HTTP response.

    `body` is a JSON value (rendered as JSON), or str/bytes when `raw` is set, or None for no body.
    `media_type` None means no Content-Type header. `wire` rewrites the answer's bytes on their way to the
    socket (wire.py), for the faults that break HTTP framing.
    """

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    media_type: str | None = "application/json"
    raw: bool = False
    wire: Callable[[bytes], bytes] | None = None

    def but(self, **changes: Any) -> "Reply":
        return replace(self, **changes)


class HttpError(Exception):
    """Ends the handling of a request with this status (rendered by `Behaviour.error_reply`).

    `reason` names the cause for behaviours that render errors differently: no-route, method,
    auth-missing, auth-scheme, auth-empty, auth-invalid, bad-sid, forbidden, not-found, too-large,
    media-type, bad-json, bad-body, server, rate-limited.
    """

    def __init__(self, status: int, msg: str, headers: Mapping[str, str] | None = None, *, reason: str = "") -> None:
        super().__init__(f"{status} {msg}")
        self.status = status
        self.msg = msg
        self.headers = dict(headers or {})
        self.reason = reason


@dataclass
class Context:
    """What the hooks know about the request being handled."""

    operation: str | None  # one of OPERATIONS; None for an unknown route or an unsupported method
    method: str
    path: str
    headers: Mapping[str, str]
    account_sid: str | None = None
    call_sid: str | None = None
    account: Account | None = None  # set once authenticated
    query: str = ""  # the raw query string (the API defines no query parameter)


@dataclass(frozen=True)
class Status:
    call_status: str
    sip_status: int
    duration: int | None  # set once the call has ended


class Behaviour:
    """The conformant reference server."""

    name = "conformant"

    def __init__(self, settings: ReferenceSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.lock = threading.Lock()
        self.store = CallStore(clock, self.retention)

    def seed(self) -> None:
        for record in seed_records(self.settings, self.clock):
            self.store.add(record)

    # -- routing -----------------------------------------------------------------------------------
    def route_not_found(self, ctx: Context) -> Reply:
        return self.error_reply(ctx, HttpError(404, "not found", reason="no-route"))

    def method_not_allowed(self, ctx: Context, allowed: list[str]) -> Reply:
        allow = ", ".join(allowed)
        return self.error_reply(ctx, HttpError(405, f"method {ctx.method} not allowed; allowed: {allow}",
                                               {"Allow": allow}, reason="method"))

    # -- authentication and authorization ---------------------------------------------------------
    def authenticate(self, ctx: Context) -> Account:
        scheme, token = parse_authorization(ctx.headers.get("authorization"))
        if scheme is None:
            raise HttpError(401, "authentication required", {"WWW-Authenticate": WWW_AUTHENTICATE},
                            reason="auth-missing")
        if scheme.lower() != "bearer":
            raise HttpError(401, "unsupported authorization scheme", {"WWW-Authenticate": WWW_AUTHENTICATE},
                            reason="auth-scheme")
        if not token:
            raise HttpError(400, "empty bearer token", reason="auth-empty")
        account = self.account_for_token(token)
        if account is None:
            raise HttpError(401, "invalid token", {"WWW-Authenticate": WWW_AUTHENTICATE}, reason="auth-invalid")
        return account

    def account_for_token(self, token: str) -> Account | None:
        found = None
        for account in self.settings.accounts:  # constant time over all tokens
            if hmac.compare_digest(account.token.encode(), token.encode("utf-8", "surrogatepass")):
                found = account
        return found

    def check_sids(self, ctx: Context) -> None:
        if ctx.account_sid is not None and not is_uuid(ctx.account_sid):
            raise HttpError(400, "invalid account_sid format", reason="bad-sid")
        if ctx.call_sid is not None and not is_uuid(ctx.call_sid):
            raise HttpError(400, "invalid call_sid format", reason="bad-sid")

    def authorize(self, ctx: Context) -> None:
        assert ctx.account is not None
        if ctx.account.sid != ctx.account_sid:
            raise HttpError(403, "insufficient permissions", reason="forbidden")

    # -- create ------------------------------------------------------------------------------------
    def body_limit(self, ctx: Context) -> int:
        return self.settings.max_body

    def oversized(self, ctx: Context) -> None:
        raise HttpError(413, f"request body larger than {self.body_limit(ctx)} bytes", reason="too-large")

    def parse_create(self, ctx: Context, raw: bytes) -> Any:
        """The decoded JSON body; 415 for a non-JSON content type, 400 for malformed JSON."""
        content_type = ctx.headers.get("content-type")
        if content_type is not None:
            media = content_type.split(";", 1)[0].strip().lower()
            if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
                raise HttpError(415, "Content-Type must be application/json", reason="media-type")
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise HttpError(400, "malformed JSON body", reason="bad-json") from None

    def validate_create(self, ctx: Context, body: Any) -> list[str]:
        """Violations of the contract's CreateCallRequest schema; empty when the body is valid."""
        if not isinstance(body, dict):
            return [f"<root>: the body must be a JSON object, not {type(body).__name__}"]
        if _depth(body) > MAX_NESTING:
            return [f"<root>: nested deeper than {MAX_NESTING} levels"]
        errors = openapi.schema_errors(body, "CreateCallRequest")
        foreign = self.foreign_application(ctx, body)
        return errors + ([foreign] if foreign else [])

    def foreign_application(self, ctx: Context, body: dict[str, Any]) -> str | None:
        """An error when the body names an application of another account (an unknown one is not refused)."""
        application = body.get("application_sid")
        owner = self.settings.application_owner(application) if isinstance(application, str) else None
        if owner is not None and owner.sid != ctx.account_sid:
            return f"application_sid: {application} is not an application of account {ctx.account_sid}"
        return None

    def invalid_create(self, ctx: Context, body: Any, errors: list[str]) -> Reply:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise HttpError(400, f"invalid request body: {errors[0]}{more}", reason="bad-body")

    def destination(self, to: Any) -> str:
        """The `to` a call record shows: the number, SIP URI or user name of the target."""
        if not isinstance(to, dict):
            return ""
        value = to.get(TARGET_FIELDS.get(str(to.get("type")), "number"), "")
        return value if isinstance(value, str) else ""

    def plan_call(self, created_at: float, destination: str) -> Plan:
        return plan_call(created_at, self.settings.timings, destination)

    def new_record(self, ctx: Context, body: dict[str, Any]) -> CallRecord:
        assert ctx.account_sid is not None
        now = self.clock.now()
        to = self.destination(body.get("to"))
        caller_name = body.get("callerName")
        application_sid = body.get("application_sid")
        tag = body.get("tag")
        return CallRecord(
            call_sid=str(uuid.uuid4()), account_sid=ctx.account_sid, direction="outbound",
            from_=str(body.get("from", "")), to=to, call_id=new_call_id(), service_url=self.settings.service_url,
            plan=self.plan_call(now, to), created_at=now,
            caller_name=caller_name if isinstance(caller_name, str) else "",
            application_sid=application_sid if isinstance(application_sid, str) else None,
            tag=tag if isinstance(tag, dict) else None,
        )

    def on_create(self, ctx: Context, record: CallRecord) -> Reply:
        self.store.add(record)
        return Reply(201, self.create_body(record))

    def create_body(self, record: CallRecord) -> dict[str, Any]:
        return {"sid": record.call_sid}

    # -- get and list ------------------------------------------------------------------------------
    def find_call(self, ctx: Context) -> CallRecord | None:
        """The call of the path (for get and delete): visible, and of the path's account."""
        assert ctx.call_sid is not None
        record = self.store.get(ctx.call_sid)
        return record if record is not None and record.account_sid == ctx.account_sid else None

    def call_not_found(self, ctx: Context) -> Reply:
        raise HttpError(404, "call not found", reason="not-found")

    def list_calls(self, ctx: Context) -> list[CallRecord]:
        return self.store.calls(ctx.account_sid)

    def status_of(self, record: CallRecord, now: float) -> Status:
        stage = record.plan.stage_at(now)
        ended = stage.call_status in TERMINAL_STATUSES
        return Status(stage.call_status, stage.sip_status, record.plan.duration() if ended else None)

    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        """The JSON object of a call, in the field order of the document's examples."""
        status = self.status_of(record, self.clock.now())
        view: dict[str, Any] = {
            "service_url": record.service_url,
            "direction": record.direction,
            "caller_name": record.caller_name,
            "call_sid": record.call_sid,
            "account_sid": record.account_sid,
        }
        if record.application_sid is not None:
            view["application_sid"] = record.application_sid
        view.update({
            "call_status": status.call_status,
            "call_id": record.call_id,
            "sip_status": status.sip_status,
            "from": record.from_,
            "to": record.to,
        })
        if status.duration is not None:
            view["duration"] = status.duration
        view.update(record.extra)
        if record.tag is not None:
            view["tag"] = record.tag
        return view

    def retention(self, record: CallRecord) -> float | None:
        """Seconds an ended call stays visible after its end; None keeps it for ever."""
        return self.settings.window

    # -- delete ------------------------------------------------------------------------------------
    def delete_unknown(self, ctx: Context) -> Reply:
        raise HttpError(404, "call not found", reason="not-found")

    def on_delete(self, ctx: Context, record: CallRecord) -> Reply:
        if self.store.remove(record.call_sid) is None:  # gone meanwhile (another delete, expiry)
            return self.delete_unknown(ctx)
        return Reply(204, None, media_type=None)

    # -- answers -----------------------------------------------------------------------------------
    def error_reply(self, ctx: Context, error: HttpError) -> Reply:
        return Reply(error.status, {"msg": error.msg}, error.headers)

    def finish(self, ctx: Context, reply: Reply) -> Reply:
        """Last look at every answer, errors included."""
        return reply


def parse_authorization(header: str | None) -> tuple[str | None, str]:
    """(scheme, credentials) of an Authorization header; scheme None when the header is absent or blank."""
    parts = header.split(None, 1) if header is not None else []
    if not parts:
        return None, ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            return deepest
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return deepest
