"""Faults and conformant variants of the reference server.

A **fault** is a server that breaks exactly one requirement of `conformance/catalogue.yaml`, in a
way a black-box client can see. It is a subclass of the conformant `Behaviour` overriding one hook
(or two hooks that work together). `FAULTS[name]` tells which requirement it breaks
(`requirement`), how it shows (`description`), and which other requirements a client may also see
failing as a consequence (`also`), e.g. a list answering 201 also answers a status the contract
does not document.

A **variant** differs from the default server only in ways the vendor document allows; a suite
must find it conformant.

Switch one on with `ReferenceSettings(fault=...)` or `ReferenceSettings(variant=...)`, or with
`--fault NAME` / `--variant NAME` on the command line.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from conformance.reference.behaviour import (
    CREATE, DELETE, GET, HARD_BODY_LIMIT, LIST, Behaviour, Context, HttpError, Reply, Status,
    is_uuid, parse_authorization,
)
from conformance.reference.clock import Clock
from conformance.reference.lifecycle import TERMINAL_STATUSES, Plan, Stage, plan_call
from conformance.reference.settings import Account, ReferenceSettings
from conformance.reference.store import CallRecord

#: An account sid that belongs to no account of the server.
FOREIGN_ACCOUNT_SID = "2a59ac63-45c8-479d-b24c-621c7ac4ea10"


@dataclass(frozen=True)
class Fault:
    name: str
    requirement: str  # the catalogue id it breaks
    description: str  # how a client sees it, one sentence
    behaviour: type[Behaviour]
    also: tuple[str, ...] = ()  # requirements a client may see failing as a consequence


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    behaviour: type[Behaviour]


FAULTS: dict[str, Fault] = {}
VARIANTS: dict[str, Variant] = {}

B = TypeVar("B", bound=type[Behaviour])


def fault(name: str, requirement: str, description: str, also: tuple[str, ...] = ()) -> Callable[[B], B]:
    def register(cls: B) -> B:
        if name in FAULTS or name in VARIANTS:
            raise ValueError(f"duplicate name {name}")
        cls.name = name
        FAULTS[name] = Fault(name, requirement, description, cls, also)
        return cls
    return register


def variant(name: str, description: str) -> Callable[[B], B]:
    def register(cls: B) -> B:
        if name in FAULTS or name in VARIANTS:
            raise ValueError(f"duplicate name {name}")
        cls.name = name
        VARIANTS[name] = Variant(name, description, cls)
        return cls
    return register


def behaviour_for(settings: ReferenceSettings, clock: Clock) -> Behaviour:
    """The behaviour the settings ask for: a fault, a variant, or the conformant default."""
    if settings.fault is not None:
        if settings.fault not in FAULTS:
            raise ValueError(f"unknown fault {settings.fault!r}; known: {', '.join(sorted(FAULTS))}")
        return FAULTS[settings.fault].behaviour(settings, clock)
    if settings.variant is not None:
        if settings.variant not in VARIANTS:
            raise ValueError(f"unknown variant {settings.variant!r}; known: {', '.join(sorted(VARIANTS))}")
        return VARIANTS[settings.variant].behaviour(settings, clock)
    return Behaviour(settings, clock)


def _as_path_owner(ctx: Context) -> Account:
    """Act as the owner of the path's account, whoever asks."""
    return Account(sid=ctx.account_sid or "", token="")


# ================================================================================= authentication
@fault("list-ignores-auth", "CALLS-AUTH-REQUIRED",
       "Listing answers 200 with the account's calls with no token, an unknown token or another scheme.")
class ListIgnoresAuth(Behaviour):
    def authenticate(self, ctx: Context) -> Account:
        try:
            return super().authenticate(ctx)
        except HttpError as error:
            if ctx.operation == LIST and error.status == 401:
                return _as_path_owner(ctx)
            raise


@fault("any-token-accepted", "CALLS-AUTH-REQUIRED",
       "An unknown bearer token is accepted as a token of the path's account, on every operation.")
class AnyTokenAccepted(Behaviour):
    def authenticate(self, ctx: Context) -> Account:
        try:
            return super().authenticate(ctx)
        except HttpError as error:
            scheme, token = parse_authorization(ctx.headers.get("authorization"))
            if error.status == 401 and scheme is not None and scheme.lower() == "bearer" and token:
                return _as_path_owner(ctx)
            raise


@fault("other-scheme-accepted", "CALLS-AUTH-REQUIRED",
       "Any scheme other than Bearer (Basic, Token...) is accepted as the path's account, whatever its credentials.")
class OtherSchemeAccepted(Behaviour):
    def authenticate(self, ctx: Context) -> Account:
        scheme, _ = parse_authorization(ctx.headers.get("authorization"))
        if scheme is not None and scheme.lower() != "bearer":
            return _as_path_owner(ctx)
        return super().authenticate(ctx)


@fault("empty-bearer-gives-data", "CALLS-AUTH-MALFORMED",
       "An empty bearer token (`Authorization: Bearer`) is served as the path's account (200 with data).")
class EmptyBearerGivesData(Behaviour):
    def authenticate(self, ctx: Context) -> Account:
        try:
            return super().authenticate(ctx)
        except HttpError as error:
            if error.status == 400:
                return _as_path_owner(ctx)
            raise


# ====================================================================================== isolation
class _ForeignTokenAllowed(Behaviour):
    allowed_operation = ""

    def authorize(self, ctx: Context) -> None:
        if ctx.operation != self.allowed_operation:
            super().authorize(ctx)


@fault("foreign-token-lists", "CALLS-ISOLATION-READ",
       "Another account's token on this account's list answers 200 with this account's calls.")
class ForeignTokenLists(_ForeignTokenAllowed):
    allowed_operation = LIST


@fault("foreign-token-reads", "CALLS-ISOLATION-READ",
       "Another account's token on this account's get answers 200 with the call.")
class ForeignTokenReads(_ForeignTokenAllowed):
    allowed_operation = GET


@fault("foreign-token-creates", "CALLS-ISOLATION-CREATE",
       "Another account's token on this account's create answers 201 and creates a call in this account.")
class ForeignTokenCreates(_ForeignTokenAllowed):
    allowed_operation = CREATE


@fault("foreign-token-deletes", "CALLS-ISOLATION-DELETE",
       "Another account's token on this account's delete answers 204 and deletes the call.",
       also=("CALLS-WINDOW-VISIBLE",))
class ForeignTokenDeletes(_ForeignTokenAllowed):
    allowed_operation = DELETE


class _ForeignCallFound(Behaviour):
    foreign_operation = ""

    def find_call(self, ctx: Context) -> CallRecord | None:
        if ctx.operation == self.foreign_operation:
            assert ctx.call_sid is not None
            return self.store.get(ctx.call_sid)
        return super().find_call(ctx)


@fault("foreign-call-readable", "CALLS-ISOLATION-FOREIGN-CALL",
       "Another account's call sid under this account's path answers 200 with that other account's call.")
class ForeignCallReadable(_ForeignCallFound):
    foreign_operation = GET


@fault("foreign-call-deletable", "CALLS-ISOLATION-FOREIGN-CALL",
       "Another account's call sid under this account's path is deleted (204), and is gone for its owner.",
       also=("CALLS-WINDOW-VISIBLE",))
class ForeignCallDeletable(_ForeignCallFound):
    foreign_operation = DELETE


@fault("foreign-application-accepted", "CALLS-ISOLATION-FOREIGN-APPLICATION",
       "A create that names another account's application answers 201 and makes a call running it.")
class ForeignApplicationAccepted(Behaviour):
    def foreign_application(self, ctx: Context, body: dict[str, Any]) -> str | None:
        return None


@fault("list-foreign-calls", "CALLS-ISOLATION-LIST",
       "An account's list also shows every other account's calls, relabelled with this account's sid.",
       also=("CALLS-GET-200", "CALLS-SAME-EVERYWHERE"))
class ListForeignCalls(Behaviour):
    def list_calls(self, ctx: Context) -> list[CallRecord]:
        return [r if r.account_sid == ctx.account_sid else r.with_changes(account_sid=ctx.account_sid)
                for r in self.store.calls()]


# ========================================================================================== list
@fault("list-status-201", "CALLS-LIST-200", "Listing answers 201 instead of 200 (same body).",
       also=("CALLS-CONTRACT-STATUS",))
class ListStatus201(Behaviour):
    def finish(self, ctx: Context, reply: Reply) -> Reply:
        return reply.but(status=201) if ctx.operation == LIST and reply.status == 200 else reply


@fault("list-wrapped", "CALLS-LIST-200", 'Listing answers 200 with an object `{"calls": [...]}` instead of an array.')
class ListWrapped(Behaviour):
    def finish(self, ctx: Context, reply: Reply) -> Reply:
        return reply.but(body={"calls": reply.body}) if ctx.operation == LIST and reply.status == 200 else reply


@fault("list-account-sid-wrong", "CALLS-LIST-ACCOUNT",
       f"Listed calls carry the account_sid {FOREIGN_ACCOUNT_SID} (no account of the server); get is right.")
class ListAccountSidWrong(Behaviour):
    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        if ctx.operation == LIST:
            view["account_sid"] = FOREIGN_ACCOUNT_SID
        return view


@fault("list-omits-active", "CALLS-LIST-INCLUDES-ACTIVE",
       "The list shows ended calls only: a call is missing from it until it has ended.")
class ListOmitsActive(Behaviour):
    def list_calls(self, ctx: Context) -> list[CallRecord]:
        now = self.clock.now()
        return [r for r in super().list_calls(ctx) if r.plan.ended(now)]


@fault("list-truncated-after-5", "CALLS-LIST-INCLUDES-ACTIVE",
       "When an account has more than 5 calls, the list shows only the 5 oldest, so new calls are missing.")
class ListTruncatedAfter5(Behaviour):
    def list_calls(self, ctx: Context) -> list[CallRecord]:
        return super().list_calls(ctx)[:5]


@fault("list-missing-to", "CALLS-CALL-SCHEMA", "Listed calls lack the required `to` field; get is right.")
class ListMissingTo(Behaviour):
    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        if ctx.operation == LIST:
            view.pop("to", None)
        return view


@fault("list-empty-item", "CALLS-CALL-SCHEMA",
       "The list carries one `{}` item beside the account's calls (a record expired but still indexed); get is "
       "right.")
class ListEmptyItem(Behaviour):
    def finish(self, ctx: Context, reply: Reply) -> Reply:
        if ctx.operation == LIST and reply.status == 200 and isinstance(reply.body, list):
            return reply.but(body=reply.body[:1] + [{}] + reply.body[1:])
        return reply


@fault("list-duplicates-a-call", "CALLS-LIST-DISTINCT", "The list names its first call twice.")
class ListDuplicatesACall(Behaviour):
    def finish(self, ctx: Context, reply: Reply) -> Reply:
        if ctx.operation == LIST and reply.status == 200 and isinstance(reply.body, list) and reply.body:
            return reply.but(body=reply.body + [dict(reply.body[0])])
        return reply


@fault("query-param-500", "CALLS-NO-SERVER-ERROR",
       "A list or get carrying a query parameter (the API defines none, e.g. `?page=1`) answers 500.")
class QueryParam500(Behaviour):
    def find_call(self, ctx: Context) -> CallRecord | None:
        if ctx.query and ctx.operation == GET:
            raise HttpError(500, "internal server error", reason="server")
        return super().find_call(ctx)

    def list_calls(self, ctx: Context) -> list[CallRecord]:
        if ctx.query:
            raise HttpError(500, "internal server error", reason="server")
        return super().list_calls(ctx)


@fault("accept-list-406", "CALLS-COMMON-HEADERS",
       "A list or get whose Accept header lists several media types (`application/json, text/plain, */*`) "
       "answers 406, although application/json is among them.")
class AcceptList406(Behaviour):
    def finish(self, ctx: Context, reply: Reply) -> Reply:
        if ctx.operation in (LIST, GET) and "," in (ctx.headers.get("accept") or "") and reply.status == 200:
            return Reply(406, {"msg": "not acceptable"})
        return reply


# =========================================================================================== get
@fault("get-status-202", "CALLS-GET-200", "Getting a call answers 202 instead of 200 (same body).",
       also=("CALLS-CONTRACT-STATUS",))
class GetStatus202(Behaviour):
    def finish(self, ctx: Context, reply: Reply) -> Reply:
        return reply.but(status=202) if ctx.operation == GET and reply.status == 200 else reply


@fault("get-inbound-404", "CALLS-GET-200",
       "Getting an inbound call answers 404, though the list shows it; outbound calls are fine.")
class GetInbound404(Behaviour):
    def find_call(self, ctx: Context) -> CallRecord | None:
        record = super().find_call(ctx)
        if ctx.operation == GET and record is not None and record.direction == "inbound":
            return None
        return record


@fault("get-second-time-other-call", "CALLS-GET-MATCHES-SID",
       "From the second get of a call on, the answer carries another call's call_sid (its other fields are right).")
class GetSecondTimeOtherCall(Behaviour):
    def __init__(self, settings: ReferenceSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        self._gets: dict[str, int] = {}

    def find_call(self, ctx: Context) -> CallRecord | None:
        record = super().find_call(ctx)
        if ctx.operation != GET or record is None:
            return record
        with self.lock:
            self._gets[record.call_sid] = count = self._gets.get(record.call_sid, 0) + 1
        if count < 2:
            return record
        others = [r.call_sid for r in self.store.calls(record.account_sid) if r.call_sid != record.call_sid]
        return record.with_changes(call_sid=others[-1] if others else str(uuid.uuid4()))


@fault("get-unknown-400", "CALLS-GET-UNKNOWN-404",
       "Getting a well-formed call sid the server never issued answers 400 instead of 404 (deleted and "
       "expired calls still answer 404).")
class GetUnknown400(Behaviour):
    def call_not_found(self, ctx: Context) -> Reply:
        assert ctx.call_sid is not None
        if not self.store.ever_held(ctx.call_sid):
            raise HttpError(400, "no such call sid", reason="bad-sid")
        return super().call_not_found(ctx)


# ========================================================================================= shape
@fault("no-caller-name", "CALLS-CALL-CALLER-NAME", "Call objects omit the documented `caller_name` property.")
class NoCallerName(Behaviour):
    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        view.pop("caller_name", None)
        return view


@fault("sip-status-string", "CALLS-CALL-SCHEMA",
       'Call objects carry sip_status as a JSON string ("200") instead of an integer.')
class SipStatusString(Behaviour):
    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        view["sip_status"] = str(view["sip_status"])
        return view


@fault("duration-string", "CALLS-CALL-SCHEMA",
       'Ended calls carry duration as a JSON string ("7") instead of an integer.',
       also=("CALLS-CALL-DURATION-ENDED",))
class DurationString(Behaviour):
    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        if "duration" in view:
            view["duration"] = str(view["duration"])
        return view


@fault("status-unknown-value", "CALLS-CALL-STATUS-ENUM",
       'An answered call shows call_status "answered" (not a documented status) instead of "in-progress".')
class StatusUnknownValue(Behaviour):
    def status_of(self, record: CallRecord, now: float) -> Status:
        status = super().status_of(record, now)
        return Status("answered", status.sip_status, status.duration) if status.call_status == "in-progress" else status


@fault("direction-outgoing-in-list", "CALLS-CALL-DIRECTION-ENUM",
       'Listed outbound calls show direction "outgoing"; get shows "outbound".')
class DirectionOutgoingInList(Behaviour):
    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        if ctx.operation == LIST and view["direction"] == "outbound":
            view["direction"] = "outgoing"
        return view


@fault("no-service-url", "CALLS-CALL-DOCUMENTED-FIELDS", "Call objects lack the documented service_url field.")
class NoServiceUrl(Behaviour):
    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        view.pop("service_url", None)
        return view


@fault("completed-without-duration", "CALLS-CALL-DURATION-ENDED", "A completed call carries no duration.")
class CompletedWithoutDuration(Behaviour):
    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        if view["call_status"] == "completed":
            view.pop("duration", None)
        return view


@fault("text-plain-json", "CALLS-CONTENT-TYPE-JSON",
       "Successful JSON answers (list, get, create) are labelled text/plain; the body is still JSON.")
class TextPlainJson(Behaviour):
    def finish(self, ctx: Context, reply: Reply) -> Reply:
        if 200 <= reply.status < 300 and reply.body is not None and reply.media_type == "application/json":
            return reply.but(media_type="text/plain")
        return reply


# ======================================================================================== create
@fault("create-no-sid", "CALLS-CREATE-SUCCESS",
       'A create answers 201 with {"call_sid": ...} instead of {"sid": ...}; the call is made.',
       also=("CALLS-CREATE-VISIBLE",))
class CreateNoSid(Behaviour):
    def create_body(self, record: CallRecord) -> dict[str, Any]:
        return {"call_sid": record.call_sid}


@fault("create-text-body", "CALLS-CREATE-SUCCESS",
       "A create answers 201 with the bare sid as text/plain instead of a JSON object; the call is made.",
       also=("CALLS-CONTENT-TYPE-JSON",))
class CreateTextBody(Behaviour):
    def on_create(self, ctx: Context, record: CallRecord) -> Reply:
        self.store.add(record)
        return Reply(201, record.call_sid, media_type="text/plain", raw=True)


@fault("create-200", "CALLS-CREATE-201", "A create answers 200 instead of 201 (same body).")
class Create200(Behaviour):
    def finish(self, ctx: Context, reply: Reply) -> Reply:
        return reply.but(status=200) if ctx.operation == CREATE and reply.status == 201 else reply


@fault("create-not-visible-at-once", "CALLS-CREATE-VISIBLE",
       "A created call answers 404 to get for its first 10 seconds (longer than any settle time); the list shows it.",
       also=("CALLS-GET-200",))
class CreateNotVisibleAtOnce(Behaviour):
    hidden_for = 10.0

    def find_call(self, ctx: Context) -> CallRecord | None:
        record = super().find_call(ctx)
        if (ctx.operation == GET and record is not None and record.direction == "outbound"
                and self.clock.now() - record.created_at < self.hidden_for):
            return None
        return record


@fault("from-to-swapped", "CALLS-CREATE-RECORD", "A created call's record shows `from` and `to` swapped.")
class FromToSwapped(Behaviour):
    def new_record(self, ctx: Context, body: dict[str, Any]) -> CallRecord:
        record = super().new_record(ctx, body)
        return record.with_changes(from_=record.to, to=record.from_)


@fault("to-altered", "CALLS-CREATE-RECORD", "A created call's record shows `to` with its last digit changed.")
class ToAltered(Behaviour):
    def new_record(self, ctx: Context, body: dict[str, Any]) -> CallRecord:
        record = super().new_record(ctx, body)
        to = record.to
        altered = to[:-1] + str((int(to[-1]) + 1) % 10) if to[-1:].isdigit() else to + "0"
        return record.with_changes(to=altered)


@fault("record-account-wrong", "CALLS-CREATE-RECORD",
       f"Getting an outbound call shows the account_sid {FOREIGN_ACCOUNT_SID}; the list is right.")
class RecordAccountWrong(Behaviour):
    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        if ctx.operation == GET and record.direction == "outbound":
            view["account_sid"] = FOREIGN_ACCOUNT_SID
        return view


# ========================================================================================= input
@fault("accepts-missing-to", "CALLS-CREATE-REJECTS-INVALID",
       "A create body without `to` answers 201 with a fresh sid (no call is made).")
class AcceptsMissingTo(Behaviour):
    def invalid_create(self, ctx: Context, body: Any, errors: list[str]) -> Reply:
        if isinstance(body, dict) and "to" not in body:
            return Reply(201, {"sid": str(uuid.uuid4())})
        return super().invalid_create(ctx, body, errors)


@fault("accepts-unknown-to-type", "CALLS-CREATE-REJECTS-INVALID",
       "A create whose to.type is not phone/sip/user/teams answers 201 and makes a call with an empty `to`.")
class AcceptsUnknownToType(Behaviour):
    def validate_create(self, ctx: Context, body: Any) -> list[str]:
        return [e for e in super().validate_create(ctx, body) if not e.startswith("to/type:")]


@fault("accepts-object-from", "CALLS-CREATE-REJECTS-INVALID",
       "A create whose `from` is a JSON object (no caller number at all) answers 201 and makes a call.")
class AcceptsObjectFrom(Behaviour):
    def validate_create(self, ctx: Context, body: Any) -> list[str]:
        errors = super().validate_create(ctx, body)
        if isinstance(body, dict) and isinstance(body.get("from"), dict):
            errors = [e for e in errors if not e.startswith("from:")]
        return errors


@fault("accepts-mistyped-from", "CALLS-CREATE-REJECTS-MISTYPED",
       "A create whose `from` is a JSON number instead of a string answers 201 and records it as a string.")
class AcceptsMistypedFrom(Behaviour):
    def validate_create(self, ctx: Context, body: Any) -> list[str]:
        errors = super().validate_create(ctx, body)
        if isinstance(body, dict) and isinstance(body.get("from"), (int, float)) and not isinstance(body["from"], bool):
            errors = [e for e in errors if not e.startswith("from:")]
        return errors


@fault("accepts-oversized", "CALLS-CREATE-REJECTS-MISTYPED",
       "A create body over the size limit (64 KiB, and 1 MiB too) is not refused: a valid one answers 201 and "
       "makes a call.")
class AcceptsOversized(Behaviour):
    def body_limit(self, ctx: Context) -> int:
        return HARD_BODY_LIMIT


@fault("rejected-create-persists", "CALLS-CREATE-REJECT-NO-CALL",
       "An invalid create body (a JSON object) answers 400, yet a call is made from it (a well-formed one) and is "
       "listed.",
       also=("CALLS-ISOLATION-FOREIGN-APPLICATION",))
class RejectedCreatePersists(Behaviour):
    def invalid_create(self, ctx: Context, body: Any, errors: list[str]) -> Reply:
        if isinstance(body, dict):
            # The call it makes is a well-formed call (a malformed application_sid is left out): only the
            # refusal is wrong, and no call object breaks the schema.
            kept = {k: v for k, v in body.items() if k != "application_sid" or (isinstance(v, str) and is_uuid(v))}
            self.store.add(self.new_record(ctx, kept))
        return super().invalid_create(ctx, body, errors)


@fault("malformed-json-500", "CALLS-NO-SERVER-ERROR", "A create with a malformed JSON body answers 500.",
       also=("CALLS-CREATE-REJECTS-INVALID", "CALLS-CONTRACT-STATUS"))
class MalformedJson500(Behaviour):
    def parse_create(self, ctx: Context, raw: bytes) -> Any:
        try:
            return super().parse_create(ctx, raw)
        except HttpError as error:
            if error.status == 400:
                raise HttpError(500, "internal server error", reason="server") from None
            raise


@fault("oversized-500", "CALLS-NO-SERVER-ERROR",
       "A create body over the size limit (64 KiB) answers 500 instead of 413.",
       also=("CALLS-CREATE-REJECTS-MISTYPED", "CALLS-CONTRACT-STATUS"))
class Oversized500(Behaviour):
    def oversized(self, ctx: Context) -> None:
        raise HttpError(500, "internal server error", reason="server")


@fault("bad-sid-500", "CALLS-SID-FORMAT", "A malformed (non-UUID) account or call sid answers 500.",
       also=("CALLS-NO-SERVER-ERROR", "CALLS-CONTRACT-STATUS"))
class BadSid500(Behaviour):
    def check_sids(self, ctx: Context) -> None:
        try:
            super().check_sids(ctx)
        except HttpError:
            raise HttpError(500, "internal server error", reason="server") from None


@fault("bad-account-sid-lists", "CALLS-SID-FORMAT",
       "A malformed account sid is read as the token's own account: list and get answer 200 with data.")
class BadAccountSidLists(Behaviour):
    def check_sids(self, ctx: Context) -> None:
        if ctx.account_sid is not None and not is_uuid(ctx.account_sid) and ctx.account is not None:
            ctx.account_sid = ctx.account.sid
        super().check_sids(ctx)


@fault("unsupported-method-200", "CALLS-METHOD-UNSUPPORTED",
       "Methods the API does not offer (PUT, PATCH, HEAD, OPTIONS...) answer 200 with {} instead of 405.")
class UnsupportedMethod200(Behaviour):
    def method_not_allowed(self, ctx: Context, allowed: list[str]) -> Reply:
        return Reply(200, {})


# ======================================================================================== delete
@fault("delete-200", "CALLS-DELETE-204",
       "Deleting a call answers 200 (empty body) instead of 204; the call is removed.",
       also=("CALLS-CONTRACT-STATUS",))
class Delete200(Behaviour):
    def finish(self, ctx: Context, reply: Reply) -> Reply:
        return reply.but(status=200) if ctx.operation == DELETE and reply.status == 204 else reply


@fault("delete-204-with-body", "CALLS-DELETE-EMPTY-BODY",
       "Deleting a call answers 204 announcing a 17-byte JSON body (Content-Length: 17, Content-Type: "
       "application/json); HTTP/1.1 framing keeps the bytes themselves off the wire.")
class Delete204WithBody(Behaviour):
    def finish(self, ctx: Context, reply: Reply) -> Reply:
        if ctx.operation == DELETE and reply.status == 204:
            return reply.but(headers={**reply.headers, "Content-Length": "17", "Content-Type": "application/json"})
        return reply


@fault("delete-not-removing", "CALLS-DELETE-REMOVES",
       "Deleting a call answers 204 but the call stays gettable and listed.",
       also=("CALLS-DELETE-UNKNOWN-404",))
class DeleteNotRemoving(Behaviour):
    def on_delete(self, ctx: Context, record: CallRecord) -> Reply:
        return Reply(204, None, media_type=None)


@fault("deleted-reappears-in-list", "CALLS-DELETE-REMOVES",
       "A deleted call answers 404 to get but is still listed (until its retention ends).")
class DeletedReappearsInList(Behaviour):
    def __init__(self, settings: ReferenceSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        self._deleted: list[CallRecord] = []

    def on_delete(self, ctx: Context, record: CallRecord) -> Reply:
        reply = super().on_delete(ctx, record)
        with self.lock:
            self._deleted.append(record)
        return reply

    def list_calls(self, ctx: Context) -> list[CallRecord]:
        with self.lock:
            ghosts = [r for r in self._deleted if r.account_sid == ctx.account_sid and self.store.visible(r)]
        return super().list_calls(ctx) + ghosts


@fault("delete-removes-sibling", "CALLS-DELETE-ONLY-TARGET",
       "Deleting a call also removes the account's most recently created other call.",
       also=("CALLS-WINDOW-VISIBLE",))
class DeleteRemovesSibling(Behaviour):
    def on_delete(self, ctx: Context, record: CallRecord) -> Reply:
        reply = super().on_delete(ctx, record)
        others = [r for r in self.store.calls(record.account_sid) if r.call_sid != record.call_sid]
        if reply.status == 204 and others:
            self.store.remove(max(others, key=lambda r: r.seq).call_sid)
        return reply


@fault("delete-unknown-204", "CALLS-DELETE-UNKNOWN-404",
       "Deleting an unknown or already deleted call answers 204 instead of 404.",
       also=("CALLS-ISOLATION-FOREIGN-CALL",))
class DeleteUnknown204(Behaviour):
    def delete_unknown(self, ctx: Context) -> Reply:
        return Reply(204, None, media_type=None)


@fault("delete-unknown-200", "CALLS-CONTRACT-STATUS",
       "Deleting an unknown or already deleted call answers 200 (a status the contract does not document "
       "for delete) instead of 404.", also=("CALLS-DELETE-UNKNOWN-404", "CALLS-ISOLATION-FOREIGN-CALL"))
class DeleteUnknown200(Behaviour):
    def delete_unknown(self, ctx: Context) -> Reply:
        return Reply(200, None, media_type=None)


# ======================================================================================== window
@fault("window-half", "CALLS-WINDOW-VISIBLE", "Ended calls disappear half-way through the retention window.")
class WindowHalf(Behaviour):
    def retention(self, record: CallRecord) -> float | None:
        return self.settings.window / 2


@fault("window-never-expires", "CALLS-WINDOW-EXPIRES",
       "Ended calls never disappear: they stay gettable and listed after the window.")
class WindowNeverExpires(Behaviour):
    def retention(self, record: CallRecord) -> float | None:
        return None


# ===================================================================================== lifecycle
@fault("completed-back-to-in-progress", "CALLS-LIFECYCLE-MONOTONIC",
       "Once a call has been reported completed, later gets and lists report it in-progress/200 again.",
       also=("CALLS-WINDOW-VISIBLE", "CALLS-DELETE-ONLY-TARGET"))
class CompletedBackToInProgress(Behaviour):
    def __init__(self, settings: ReferenceSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        self._reported: set[str] = set()

    def status_of(self, record: CallRecord, now: float) -> Status:
        status = super().status_of(record, now)
        if status.call_status != "completed":
            return status
        with self.lock:
            if record.call_sid in self._reported:
                return Status("in-progress", 200, None)
            self._reported.add(record.call_sid)
        return status


@fault("never-ends", "CALLS-LIFECYCLE-ENDS",
       "Created calls never reach a terminal status (answered calls stay in-progress).")
class NeverEnds(Behaviour):
    def plan_call(self, created_at: float, destination: str) -> Plan:
        plan = super().plan_call(created_at, destination)
        stages = tuple(s for s in plan.stages if s.call_status not in TERMINAL_STATUSES)
        return Plan(stages, plan.answered_at, None)


# ============================================================= the whole run (judged by the oracle)
@fault("list-shows-another-call-id", "CALLS-SAME-EVERYWHERE",
       "List items show a call_id of their own, not the one get shows for the same call.")
class ListShowsAnotherCallId(Behaviour):
    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        if ctx.operation == LIST:
            view["call_id"] = str(uuid.uuid5(uuid.NAMESPACE_OID, record.call_id))
        return view


@fault("ended-duration-grows", "CALLS-ENDED-STAYS-FINAL",
       "An ended call's duration keeps growing after its end (by the seconds since it ended).")
class EndedDurationGrows(Behaviour):
    def status_of(self, record: CallRecord, now: float) -> Status:
        status = super().status_of(record, now)
        if status.duration is None or record.plan.ended_at is None:
            return status
        return Status(status.call_status, status.sip_status, status.duration + int(now - record.plan.ended_at))


@fault("create-reuses-deleted-sid", "CALLS-CREATE-NEW-SID",
       "A create after a delete names the new call with the deleted call's sid.")
class CreateReusesDeletedSid(Behaviour):
    def __init__(self, settings: ReferenceSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        self._free: list[str] = []

    def on_delete(self, ctx: Context, record: CallRecord) -> Reply:
        reply = super().on_delete(ctx, record)
        if reply.status == 204:
            with self.lock:
                self._free.append(record.call_sid)
        return reply

    def new_record(self, ctx: Context, body: dict[str, Any]) -> CallRecord:
        record = super().new_record(ctx, body)
        with self.lock:
            reused = self._free.pop() if self._free else None
        return record.with_changes(call_sid=reused) if reused else record


@fault("deleted-ended-call-returns", "CALLS-DELETED-STAYS-GONE",
       "A call deleted after it had ended answers 404 at once, but comes back to get and list a second later "
       "(and stays, whatever the window).")
class DeletedEndedCallReturns(Behaviour):
    RETURNS_AFTER = 1.0

    def __init__(self, settings: ReferenceSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        self._ghosts: list[tuple[float, CallRecord]] = []

    def on_delete(self, ctx: Context, record: CallRecord) -> Reply:
        reply = super().on_delete(ctx, record)
        now = self.clock.now()
        if reply.status == 204 and record.plan.ended_at is not None and record.plan.ended_at <= now:
            with self.lock:
                self._ghosts.append((now + self.RETURNS_AFTER, record))
        return reply

    def _returned(self, account_sid: str | None) -> list[CallRecord]:
        now = self.clock.now()
        with self.lock:
            return [r for due, r in self._ghosts if due <= now and r.account_sid == account_sid]

    def find_call(self, ctx: Context) -> CallRecord | None:
        found = super().find_call(ctx)
        return found or next((r for r in self._returned(ctx.account_sid) if r.call_sid == ctx.call_sid), None)

    def list_calls(self, ctx: Context) -> list[CallRecord]:
        listed = super().list_calls(ctx)
        return listed + [r for r in self._returned(ctx.account_sid) if r not in listed]


@fault("sid-last-digit-ignored", "CALLS-SID-EXACT",
       "A get whose call sid differs from a call's only in its last digit answers that call.")
class SidLastDigitIgnored(Behaviour):
    def find_call(self, ctx: Context) -> CallRecord | None:
        found = super().find_call(ctx)
        if found is not None or ctx.operation != GET or ctx.call_sid is None:
            return found
        return next((r for r in self.store.calls(ctx.account_sid) if r.call_sid[:-1] == ctx.call_sid[:-1]), None)


@fault("token-last-character-ignored", "CALLS-AUTH-NEAR-MISS",
       "A bearer token is accepted when it matches an account's token but for its last character (changed, "
       "added or cut off).")
class TokenLastCharacterIgnored(Behaviour):
    def account_for_token(self, token: str) -> Account | None:
        found = super().account_for_token(token)
        if found is not None:
            return found
        return next((a for a in self.settings.accounts if len(a.token) > 1 and abs(len(token) - len(a.token)) <= 1
                     and token[:len(a.token) - 1] == a.token[:-1]), None)


@fault("scheme-case-sensitive", "CALLS-AUTH-SCHEME-CASE",
       "The scheme is matched case-sensitively: `bearer TOKEN` and `BEARER TOKEN` answer 401.")
class SchemeCaseSensitive(Behaviour):
    def authenticate(self, ctx: Context) -> Account:
        scheme, _ = parse_authorization(ctx.headers.get("authorization"))
        if scheme is not None and scheme != "Bearer" and scheme.lower() == "bearer":
            raise HttpError(401, "unsupported authorization scheme", {"WWW-Authenticate": "Bearer"},
                            reason="auth-scheme")
        return super().authenticate(ctx)


# ====================================================================================== variants
_PHRASES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Entity"}
_SIP_REASONS = {100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 486: "Busy Here",
                487: "Request Terminated", 503: "Service Unavailable"}


@variant("plain-text-errors",
         "Errors are text/plain reason phrases (`Not Found`, `Bad Request`...); 401 has no body at all.")
class PlainTextErrors(Behaviour):
    def error_reply(self, ctx: Context, error: HttpError) -> Reply:
        if error.status == 401:
            return Reply(401, None, error.headers, media_type=None)
        phrase = _PHRASES.get(error.status, "Error")
        return Reply(error.status, phrase, error.headers, media_type="text/plain", raw=True)


class _ExtraFields(Behaviour):
    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        view["sip_reason"] = _SIP_REASONS.get(view["sip_status"], "")
        view["trace_id"] = uuid.uuid5(uuid.NAMESPACE_URL, record.call_sid).hex
        view["fs_sip_address"] = "10.0.1.15:5070"
        return view

    def create_body(self, record: CallRecord) -> dict[str, Any]:
        return {**super().create_body(record), "callId": record.call_id}


@variant("extra-fields",
         "Call objects carry sip_reason, trace_id and fs_sip_address; create also answers callId.")
class ExtraFields(_ExtraFields):
    pass


@variant("sparse-fields",
         "Call objects omit what the document's property table does not list: application_sid, originating_*.")
class SparseFields(Behaviour):
    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        for name in ("application_sid", "originating_sip_ip", "originating_sip_trunk_name"):
            view.pop(name, None)
        return view


class _PlusDropped(Behaviour):
    def new_record(self, ctx: Context, body: dict[str, Any]) -> CallRecord:
        record = super().new_record(ctx, body)
        return record.with_changes(from_=record.from_.removeprefix("+"), to=record.to.removeprefix("+"))


@variant("plus-dropped", "A created call's from/to are recorded without their leading `+`, as signalling carries them.")
class PlusDropped(_PlusDropped):
    pass


@variant("slow-lifecycle",
         "Created calls start `queued`, then go through the usual stages three times slower.")
class SlowLifecycle(Behaviour):
    def plan_call(self, created_at: float, destination: str) -> Plan:
        timings = self.settings.timings.scaled(3)
        plan = plan_call(created_at, timings, destination)
        first, rest = plan.stages[0], plan.stages[1:]
        start_trying = created_at + timings.ring_after / 2
        stages = (Stage(created_at, "queued", 100), Stage(start_trying, first.call_status, first.sip_status)) + rest
        return Plan(stages, plan.answered_at, plan.ended_at)


@variant("lenient-from",
         "A create's `from` may be any non-empty string, of any length (`anonymous`, 300 digits...): the document "
         "states no format and no limit.")
class LenientFrom(Behaviour):
    def validate_create(self, ctx: Context, body: Any) -> list[str]:
        errors = super().validate_create(ctx, body)
        if isinstance(body, dict) and isinstance(body.get("from"), str) and body["from"]:
            errors = [e for e in errors if not e.startswith("from:")]
        return errors


@variant("refuse-404", "Another account's token is refused with 404 (as if the account did not exist) instead of 403.")
class Refuse404(Behaviour):
    def authorize(self, ctx: Context) -> None:
        try:
            super().authorize(ctx)
        except HttpError as error:
            if error.status == 403:
                raise HttpError(404, "not found", reason="not-found") from None
            raise


@variant("no-tag", "Call objects do not echo the `tag` given at creation (the document does not promise it).")
class NoTag(Behaviour):
    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        view.pop("tag", None)
        return view


_HTML_404 = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n"
             "</head>\n<body>\n<pre>Cannot {method} {path}</pre>\n</body>\n</html>\n")


@variant("jambonz-like",
         "As close to a jambonz server as the notes tell: 404 as text/plain `Not Found`, 401 as bare `Unauthorized`, "
         "400 `{\"msg\":\"Bad request\"}` for bad sids, HTML 404 for unknown routes and methods, an unordered list, "
         "extra fields, numbers without `+`, create answering sid and callId.")
class JambonzLike(_ExtraFields, _PlusDropped):
    def error_reply(self, ctx: Context, error: HttpError) -> Reply:
        headers = dict(error.headers)
        if error.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="Users"'
            return Reply(401, "Unauthorized", headers, media_type=None, raw=True)
        if error.reason == "auth-empty":
            return Reply(400, "Bad Request", headers, media_type=None, raw=True)
        if error.reason == "bad-sid":
            return Reply(400, {"msg": "Bad request"}, headers)
        if error.reason in ("no-route", "method"):
            page = _HTML_404.format(method=ctx.method, path=ctx.path.replace("<", "&lt;").replace(">", "&gt;"))
            return Reply(404, page, media_type="text/html", raw=True)
        if error.status == 404:
            return Reply(404, "Not Found", headers, media_type="text/plain", raw=True)
        return Reply(error.status, {"msg": error.msg}, headers)

    def method_not_allowed(self, ctx: Context, allowed: list[str]) -> Reply:
        return self.error_reply(ctx, HttpError(404, "not found", reason="method"))

    def parse_create(self, ctx: Context, raw: bytes) -> Any:
        try:
            return super().parse_create(ctx, raw)
        except HttpError as error:
            if error.reason == "media-type":  # a JSON body parser that skips other types leaves an empty body
                return {}
            raise

    def list_calls(self, ctx: Context) -> list[CallRecord]:
        return sorted(super().list_calls(ctx), key=lambda r: r.call_sid)


@variant("open-ends",
         "Differs from the reference wherever the document leaves it open: call fields in reverse order and with "
         "extra ones, the list newest first, the lifecycle twice as slow, and a call deleted while live written "
         "again (listed and gettable) at its next status change (D-21).")
class OpenEnds(Behaviour):
    REWRITE_AFTER = 0.3  # the next status change comes at least this long after the delete

    def __init__(self, settings: ReferenceSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        self._rewrites: list[tuple[float, CallRecord]] = []

    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        view["region"] = "eu-west"
        view["updated_by"] = {"node": "fs-2", "sequence": record.seq}
        return dict(reversed(list(view.items())))

    def plan_call(self, created_at: float, destination: str) -> Plan:
        return plan_call(created_at, self.settings.timings.scaled(2), destination)

    def on_delete(self, ctx: Context, record: CallRecord) -> Reply:
        reply = super().on_delete(ctx, record)
        now = self.clock.now()
        if reply.status == 204:
            changes = [s.at for s in record.plan.stages if s.at >= now + self.REWRITE_AFTER]
            if changes:
                with self.lock:
                    self._rewrites.append((changes[0], record))
        return reply

    def _write_again(self) -> None:
        """The call's next status update writes it again, as a media server's does (D-21)."""
        now = self.clock.now()
        with self.lock:
            due = [r for at, r in self._rewrites if at <= now]
            self._rewrites = [(at, r) for at, r in self._rewrites if at > now]
        for record in due:
            try:
                self.store.add(record)
            except KeyError:
                pass

    def find_call(self, ctx: Context) -> CallRecord | None:
        self._write_again()
        return super().find_call(ctx)

    def list_calls(self, ctx: Context) -> list[CallRecord]:
        self._write_again()
        return list(reversed(super().list_calls(ctx)))
