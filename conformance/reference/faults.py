"""Faults and conformant variants of the reference server.

A **fault** is a server that breaks exactly one requirement of `conformance/contract/catalogue.yaml`, in a
way a black-box client can see. `FAULTS[name]` tells which requirement it breaks (`requirement`),
how it shows (`description`), which other requirements a client may also see failing as a
consequence (`also`; e.g. a list answering 201 also answers a status the contract does not
document), and which `Behaviour` subclass serves it (`behaviour`).

A **variant** differs from the default server only in ways the vendor document allows; a suite
must find it conformant. It is an entry of `VARIANTS`, made the same way as a fault.

Most faults share a shape, so a fault is mostly data: an entry of the `FAULTS` table below, whose
behaviour is one of the parameterised hooks of `hooks.py` (a status, a field of the call object,
the list, the created record, a validation, an error, a foreign token...), e.g.

    Fault("list-missing-to", "CALLS-CALL-SCHEMA", "Listed calls lack the required `to` field; get is right.",
          FieldChange.of(field="to", change=DROP, operations=(LIST,))),

Adding a fault is adding such an entry (and a probe of its requirement in
`tests/test_reference_faults.py`). What no shape fits (a fault with state, or with logic of its
own) is a small `Behaviour` subclass below overriding the hook where it differs, named by its entry.

Switch one on with `ReferenceSettings(fault=...)` or `ReferenceSettings(variant=...)`, or with
`--fault NAME` / `--variant NAME` on the command line.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote

from conformance.reference.behaviour import (
    CREATE, DELETE, GET, HARD_BODY_LIMIT, LIST, TARGET_FIELDS, Behaviour, Context, HttpError, Reply, Status, is_uuid,
    parse_authorization,
)
from conformance.reference.clock import Clock
from conformance.reference.hooks import (
    DROP, SERVER_ERROR, AuthAccepted, Hook, CallHidden, ErrorChange, FieldChange, ForeignCallFound, ForeignTokenAllowed,
    ListChange, RecordChange, StatusOverride, SuccessChange, ValidationSkipped, always, fixed, swap,
)
from conformance.reference.lifecycle import TERMINAL_STATUSES, Plan, Stage, plan_call
from conformance.reference.settings import Account, ReferenceSettings
from conformance.reference.store import CallRecord
from conformance.reference.wire import after_head, content_length

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


# ================================================================== faults that no shape fits
class ListForeignCalls(Behaviour):
    def list_calls(self, ctx: Context) -> list[CallRecord]:
        return [r if r.account_sid == ctx.account_sid else r.with_changes(account_sid=ctx.account_sid)
                for r in self.store.calls()]


class QueryParam500(Behaviour):
    def find_call(self, ctx: Context) -> CallRecord | None:
        if ctx.query and ctx.operation == GET:
            raise HttpError(500, "internal server error", reason="server")
        return super().find_call(ctx)

    def list_calls(self, ctx: Context) -> list[CallRecord]:
        if ctx.query:
            raise HttpError(500, "internal server error", reason="server")
        return super().list_calls(ctx)


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


class GetUnknown400(Behaviour):
    def call_not_found(self, ctx: Context) -> Reply:
        assert ctx.call_sid is not None
        if not self.store.ever_held(ctx.call_sid):
            raise HttpError(400, "no such call sid", reason="bad-sid")
        return super().call_not_found(ctx)


class AcceptsMissingTo(Behaviour):
    def invalid_create(self, ctx: Context, body: Any, errors: list[str]) -> Reply:
        if isinstance(body, dict) and "to" not in body:
            return Reply(201, {"sid": str(uuid.uuid4())})
        return super().invalid_create(ctx, body, errors)


class RejectedCreatePersists(Behaviour):
    def invalid_create(self, ctx: Context, body: Any, errors: list[str]) -> Reply:
        if isinstance(body, dict):
            # The call it makes is a well-formed call (a malformed application_sid is left out): only the
            # refusal is wrong, and no call object breaks the schema.
            kept = {k: v for k, v in body.items() if k != "application_sid" or (isinstance(v, str) and is_uuid(v))}
            self.store.add(self.new_record(ctx, kept))
        return super().invalid_create(ctx, body, errors)


class BadAccountSidLists(Behaviour):
    def check_sids(self, ctx: Context) -> None:
        if ctx.account_sid is not None and not is_uuid(ctx.account_sid) and ctx.account is not None:
            ctx.account_sid = ctx.account.sid
        super().check_sids(ctx)


class AccountSidTrimmed(Behaviour):
    def check_sids(self, ctx: Context) -> None:
        if ctx.account_sid is not None:
            ctx.account_sid = ctx.account_sid.strip()
        super().check_sids(ctx)


class AccountSidDecodedTwice(Behaviour):
    def check_sids(self, ctx: Context) -> None:
        if ctx.account_sid is not None:
            ctx.account_sid = unquote(ctx.account_sid)
        super().check_sids(ctx)


class AccountSidLastDigitIgnored(Behaviour):
    def authorize(self, ctx: Context) -> None:
        assert ctx.account is not None and ctx.account_sid is not None
        if ctx.account_sid[:-1] == ctx.account.sid[:-1]:
            ctx.account_sid = ctx.account.sid
        super().authorize(ctx)


class UpperCaseAccountListsAll(Behaviour):
    @staticmethod
    def _recased(ctx: Context) -> bool:
        return ctx.account_sid is not None and ctx.account_sid != ctx.account_sid.lower()

    def authorize(self, ctx: Context) -> None:
        assert ctx.account is not None
        if not (self._recased(ctx) and str(ctx.account_sid).lower() == ctx.account.sid):
            super().authorize(ctx)

    def list_calls(self, ctx: Context) -> list[CallRecord]:
        return self.store.calls() if self._recased(ctx) else super().list_calls(ctx)


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


class DeleteRemovesSibling(Behaviour):
    def on_delete(self, ctx: Context, record: CallRecord) -> Reply:
        reply = super().on_delete(ctx, record)
        others = [r for r in self.store.calls(record.account_sid) if r.call_sid != record.call_sid]
        if reply.status == 204 and others:
            self.store.remove(max(others, key=lambda r: r.seq).call_sid)
        return reply


class Challenge(Hook):
    """Every 401 carries `challenge` as its WWW-Authenticate (None: no such header)."""

    challenge: str | None = None

    def error_reply(self, ctx: Context, error: HttpError) -> Reply:
        reply = super().error_reply(ctx, error)
        if reply.status != 401:
            return reply
        headers = {k: v for k, v in reply.headers.items() if k.lower() != "www-authenticate"}
        return reply.but(headers=headers if self.challenge is None else {**headers, "WWW-Authenticate": self.challenge})


def _create_answer(text: str, encoding: str = "utf-8") -> Any:
    """A create's successful answer whose body is `text` (the new call's sid in place of SID), encoded so."""
    return lambda reply: reply.but(body=text.replace("SID", reply.body["sid"]).encode(encoding), raw=True)


class ContentLengthShort(Behaviour):
    def error_reply(self, ctx: Context, error: HttpError) -> Reply:
        reply = super().error_reply(ctx, error)
        return reply.but(wire=content_length(lambda n: n - 6)) if reply.status == 404 else reply


def _body_after_204(reply: Reply) -> Reply:
    body = b'{"msg":"deleted"}'
    return reply.but(headers={**reply.headers, "Content-Length": str(len(body))}, wire=after_head(body, late=True))


class WindowHalf(Behaviour):
    def retention(self, record: CallRecord) -> float | None:
        return self.settings.window / 2


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


class NeverEnds(Behaviour):
    def plan_call(self, created_at: float, destination: str) -> Plan:
        plan = super().plan_call(created_at, destination)
        stages = tuple(s for s in plan.stages if s.call_status not in TERMINAL_STATUSES)
        return Plan(stages, plan.answered_at, None)


class EndedDurationGrows(Behaviour):
    def status_of(self, record: CallRecord, now: float) -> Status:
        status = super().status_of(record, now)
        if status.duration is None or record.plan.ended_at is None:
            return status
        return Status(status.call_status, status.sip_status, status.duration + int(now - record.plan.ended_at))


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


class SidLastDigitIgnored(Behaviour):
    def find_call(self, ctx: Context) -> CallRecord | None:
        found = super().find_call(ctx)
        if found is not None or ctx.operation != GET or ctx.call_sid is None:
            return found
        return next((r for r in self.store.calls(ctx.account_sid) if r.call_sid[:-1] == ctx.call_sid[:-1]), None)


class TokenLastCharacterIgnored(Behaviour):
    def account_for_token(self, token: str) -> Account | None:
        found = super().account_for_token(token)
        if found is not None:
            return found
        return next((a for a in self.settings.accounts if len(a.token) > 1 and abs(len(token) - len(a.token)) <= 1
                     and token[:len(a.token) - 1] == a.token[:-1]), None)


class SchemeCaseSensitive(Behaviour):
    def authenticate(self, ctx: Context) -> Account:
        scheme, _ = parse_authorization(ctx.headers.get("authorization"))
        if scheme is not None and scheme != "Bearer" and scheme.lower() == "bearer":
            raise HttpError(401, "unsupported authorization scheme", {"WWW-Authenticate": "Bearer"},
                            reason="auth-scheme")
        return super().authenticate(ctx)


# ============================================================================== variants' classes
_PHRASES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Entity", 429: "Too Many Requests"}
_SIP_REASONS = {100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 486: "Busy Here",
                487: "Request Terminated", 503: "Service Unavailable"}


class PlainTextErrors(Behaviour):
    def error_reply(self, ctx: Context, error: HttpError) -> Reply:
        if error.status == 401:
            return Reply(401, None, error.headers, media_type=None)
        phrase = _PHRASES.get(error.status, "Error")
        return Reply(error.status, phrase, error.headers, media_type="text/plain", raw=True)


class ExtraFields(Behaviour):
    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        view["sip_reason"] = _SIP_REASONS.get(view["sip_status"], "")
        view["trace_id"] = uuid.uuid5(uuid.NAMESPACE_URL, record.call_sid).hex
        view["fs_sip_address"] = "10.0.1.15:5070"
        return view

    def create_body(self, record: CallRecord) -> dict[str, Any]:
        return {**super().create_body(record), "callId": record.call_id}


class SparseFields(Behaviour):
    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        for name in ("application_sid", "originating_sip_ip", "originating_sip_trunk_name"):
            view.pop(name, None)
        return view


def _plus_dropped(record: CallRecord) -> CallRecord:
    return record.with_changes(from_=record.from_.removeprefix("+"), to=record.to.removeprefix("+"))


class SlowLifecycle(Behaviour):
    def plan_call(self, created_at: float, destination: str) -> Plan:
        timings = self.settings.timings.scaled(3)
        plan = plan_call(created_at, timings, destination)
        first, rest = plan.stages[0], plan.stages[1:]
        start_trying = created_at + timings.ring_after / 2
        stages = (Stage(created_at, "queued", 100), Stage(start_trying, first.call_status, first.sip_status)) + rest
        return Plan(stages, plan.answered_at, plan.ended_at)


_HTML_404 = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n"
             "</head>\n<body>\n<pre>Cannot {method} {path}</pre>\n</body>\n</html>\n")


class JambonzLike(ExtraFields):
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

    def new_record(self, ctx: Context, body: dict[str, Any]) -> CallRecord:
        return _plus_dropped(super().new_record(ctx, body))

    def list_calls(self, ctx: Context) -> list[CallRecord]:
        return sorted(super().list_calls(ctx), key=lambda r: r.call_sid)


class JambonzAsObserved(JambonzLike):
    """A jambonz server as it was seen answering, deviations included (see the jambonz notes)."""

    def finish(self, ctx: Context, reply: Reply) -> Reply:
        reply = super().finish(ctx, reply)
        if ctx.operation == LIST and reply.status == 200 and isinstance(reply.body, list):
            # An expired call's key still indexed until the next purge: listed as an empty object.
            return reply.but(body=reply.body[:1] + [{}] + reply.body[1:])
        return reply

    def invalid_create(self, ctx: Context, body: Any, errors: list[str]) -> Reply:
        # The api-server checks only that `from` is given and `to` has a known type; what else the media
        # server refuses comes back relayed as a bare 500.
        to = body.get("to") if isinstance(body, dict) else None
        if (isinstance(to, dict) and to.get("type") in TARGET_FIELDS and body.get("from") not in (None, "")
                and all(e.startswith(("from", "to")) for e in errors)):
            return Reply(500, "Internal Server Error", media_type="text/plain", raw=True)
        return super().invalid_create(ctx, body, errors)


class DurationFromAttempt(Behaviour):
    def status_of(self, record: CallRecord, now: float) -> Status:
        status = super().status_of(record, now)
        if status.duration is None or record.plan.ended_at is None:
            return status
        return Status(status.call_status, status.sip_status, math.ceil(record.plan.ended_at - record.created_at))


class SidsCaseInsensitive(Behaviour):
    def check_sids(self, ctx: Context) -> None:
        super().check_sids(ctx)
        ctx.account_sid = ctx.account_sid.lower() if ctx.account_sid is not None else None
        ctx.call_sid = ctx.call_sid.lower() if ctx.call_sid is not None else None


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


# ======================================================================================= registries
E = TypeVar("E", Fault, Variant)


def _registry(*entries: E) -> dict[str, E]:
    """The entries by name; each behaviour takes its entry's name (so each class serves one entry)."""
    registry: dict[str, E] = {}
    for entry in entries:
        if entry.name in registry or "name" in vars(entry.behaviour):
            raise ValueError(f"{entry.name}: duplicate name, or a behaviour serving two entries")
        entry.behaviour.name = entry.name
        registry[entry.name] = entry
    return registry


# Changes too long for a lambda in the table.
def _first_twice(reply: Reply) -> Reply:
    return reply.but(body=reply.body + [dict(reply.body[0])]) if reply.body else reply


def _to_altered(record: CallRecord) -> CallRecord:
    to = record.to
    return record.with_changes(to=to[:-1] + str((int(to[-1]) + 1) % 10) if to[-1:].isdigit() else to + "0")


FAULTS: dict[str, Fault] = _registry(
    # -- authentication
    Fault("list-ignores-auth", "CALLS-AUTH-REQUIRED",
          "Listing answers 200 with the account's calls with no token, an unknown token or another scheme.",
          AuthAccepted.of(reasons=("auth-missing", "auth-scheme", "auth-invalid"), operations=(LIST,))),
    Fault("any-token-accepted", "CALLS-AUTH-REQUIRED",
          "An unknown bearer token is accepted as a token of the path's account, on every operation.",
          AuthAccepted.of(reasons=("auth-invalid",))),
    Fault("other-scheme-accepted", "CALLS-AUTH-REQUIRED",
          "Any scheme other than Bearer (Basic, Token...) is accepted as the path's account, whatever its "
          "credentials.",
          AuthAccepted.of(reasons=("auth-scheme",))),
    Fault("empty-bearer-gives-data", "CALLS-AUTH-MALFORMED",
          "An empty bearer token (`Authorization: Bearer`) is served as the path's account (200 with data).",
          AuthAccepted.of(reasons=("auth-empty",))),
    Fault("401-without-challenge", "CALLS-AUTH-CHALLENGE",
          "Answers 401 carry no WWW-Authenticate header (no challenge): nothing tells a client to send a bearer "
          "token.",
          Challenge.of()),
    Fault("401-basic-challenge", "CALLS-AUTH-CHALLENGE",
          'Answers 401 challenge with the Basic scheme only (`WWW-Authenticate: Basic realm="Calls API"`), '
          "though the API takes bearer tokens.",
          Challenge.of(challenge='Basic realm="Calls API"')),
    Fault("401-challenge-attribute-twice", "CALLS-AUTH-CHALLENGE",
          'The Bearer challenge of 401 answers names its realm twice (`Bearer realm="Calls API", realm="calls"`).',
          Challenge.of(challenge='Bearer realm="Calls API", realm="calls"')),
    Fault("401-challenge-quoted-description", "CALLS-AUTH-CHALLENGE",
          "The Bearer challenge of 401 answers carries an error_description holding double quotes "
          '(`error_description="the \\"token\\" is unknown"`), characters RFC 6750 keeps out of it.',
          Challenge.of(challenge='Bearer realm="Calls API", error="invalid_token", '
                                 'error_description="the \\"token\\" is unknown"')),
    # -- isolation
    Fault("foreign-token-lists", "CALLS-ISOLATION-READ",
          "Another account's token on this account's list answers 200 with this account's calls.",
          ForeignTokenAllowed.of(operation=LIST)),
    Fault("foreign-token-reads", "CALLS-ISOLATION-READ",
          "Another account's token on this account's get answers 200 with the call.",
          ForeignTokenAllowed.of(operation=GET)),
    Fault("foreign-token-creates", "CALLS-ISOLATION-CREATE",
          "Another account's token on this account's create answers 201 and creates a call in this account.",
          ForeignTokenAllowed.of(operation=CREATE)),
    Fault("foreign-token-deletes", "CALLS-ISOLATION-DELETE",
          "Another account's token on this account's delete answers 204 and deletes the call.",
          ForeignTokenAllowed.of(operation=DELETE), also=("CALLS-WINDOW-VISIBLE",)),
    Fault("foreign-call-readable", "CALLS-ISOLATION-FOREIGN-CALL",
          "Another account's call sid under this account's path answers 200 with that other account's call.",
          ForeignCallFound.of(operation=GET)),
    Fault("foreign-call-deletable", "CALLS-ISOLATION-FOREIGN-CALL",
          "Another account's call sid under this account's path is deleted (204), and is gone for its owner.",
          ForeignCallFound.of(operation=DELETE), also=("CALLS-WINDOW-VISIBLE",)),
    Fault("foreign-application-accepted", "CALLS-ISOLATION-FOREIGN-APPLICATION",
          "A create that names another account's application answers 201 and makes a call running it.",
          fixed("foreign_application", None)),
    Fault("list-foreign-calls", "CALLS-ISOLATION-LIST",
          "An account's list also shows every other account's calls, relabelled with this account's sid.",
          ListForeignCalls, also=("CALLS-GET-200", "CALLS-SAME-EVERYWHERE")),
    # -- list
    Fault("list-status-201", "CALLS-LIST-200", "Listing answers 201 instead of 200 (same body).",
          StatusOverride.of(operations=(LIST,), status=201), also=("CALLS-CONTRACT-STATUS",)),
    Fault("list-wrapped", "CALLS-LIST-200",
          'Listing answers 200 with an object `{"calls": [...]}` instead of an array.',
          SuccessChange.of(operations=(LIST,), change=lambda reply: reply.but(body={"calls": reply.body}))),
    Fault("list-account-sid-wrong", "CALLS-LIST-ACCOUNT",
          f"Listed calls carry the account_sid {FOREIGN_ACCOUNT_SID} (no account of the server); get is right.",
          FieldChange.of(field="account_sid", change=always(FOREIGN_ACCOUNT_SID), operations=(LIST,))),
    Fault("list-omits-active", "CALLS-LIST-INCLUDES-ACTIVE",
          "The list shows ended calls only: a call is missing from it until it has ended.",
          ListChange.of(change=lambda calls, now: [r for r in calls if r.plan.ended(now)]),
          also=("CALLS-LIST-COMPLETE",)),
    Fault("list-truncated-after-5", "CALLS-LIST-INCLUDES-ACTIVE",
          "When an account has more than 5 calls, the list shows only the 5 oldest, so new calls are missing.",
          ListChange.of(change=lambda calls, now: calls[:5]), also=("CALLS-LIST-COMPLETE",)),
    Fault("list-missing-to", "CALLS-CALL-SCHEMA", "Listed calls lack the required `to` field; get is right.",
          FieldChange.of(field="to", change=DROP, operations=(LIST,))),
    Fault("list-empty-item", "CALLS-CALL-SCHEMA",
          "The list carries one `{}` item beside the account's calls (a record expired but still indexed); get "
          "is right.",
          SuccessChange.of(operations=(LIST,),
                           change=lambda reply: reply.but(body=reply.body[:1] + [{}] + reply.body[1:]))),
    Fault("jambonz-as-observed", "CALLS-CALL-SCHEMA",
          "As jambonz-like, with the two deviations seen on a jambonz server: the list carries one `{}` item (an "
          "expired call still indexed), and a create body that names a caller and a known target type but is "
          "otherwise invalid (an empty number, a `from` object, number or over 256 characters) answers a bare "
          "text/plain 500.",
          JambonzAsObserved, also=("CALLS-NO-SERVER-ERROR", "CALLS-CONTRACT-STATUS", "CALLS-CREATE-REJECTS-INVALID",
                                   "CALLS-CREATE-REJECTS-MISTYPED")),
    Fault("list-drops-beyond-2", "CALLS-LIST-COMPLETE",
          "When an account holds more than 2 calls, the list shows only the 2 most recently created (a page, newest "
          "first, with no way to ask for the next); get answers every call.",
          ListChange.of(change=lambda calls, now: calls[-2:]),
          also=("CALLS-LIST-INCLUDES-ACTIVE", "CALLS-WINDOW-VISIBLE")),
    Fault("list-duplicates-a-call", "CALLS-LIST-DISTINCT", "The list names its first call twice.",
          SuccessChange.of(operations=(LIST,), change=_first_twice)),
    Fault("query-param-500", "CALLS-NO-SERVER-ERROR",
          "A list or get carrying a query parameter (the API defines none, e.g. `?page=1`) answers 500.",
          QueryParam500, also=("CALLS-CONTRACT-STATUS",)),
    Fault("accept-list-406", "CALLS-COMMON-HEADERS",
          "A list or get whose Accept header lists several media types (`application/json, text/plain, */*`) "
          "answers 406, although application/json is among them.",
          SuccessChange.of(operations=(LIST, GET), when=lambda ctx: "," in (ctx.headers.get("accept") or ""),
                           change=lambda reply: Reply(406, {"msg": "not acceptable"}))),
    # -- get
    Fault("get-status-202", "CALLS-GET-200", "Getting a call answers 202 instead of 200 (same body).",
          StatusOverride.of(operations=(GET,), status=202), also=("CALLS-CONTRACT-STATUS",)),
    Fault("get-inbound-404", "CALLS-GET-200",
          "Getting an inbound call answers 404, though the list shows it; outbound calls are fine.",
          CallHidden.of(hides=lambda record, now: record.direction == "inbound")),
    Fault("get-second-time-other-call", "CALLS-GET-MATCHES-SID",
          "From the second get of a call on, the answer carries another call's call_sid (its other fields are "
          "right).",
          GetSecondTimeOtherCall),
    Fault("get-unknown-400", "CALLS-GET-UNKNOWN-404",
          "Getting a well-formed call sid the server never issued answers 400 instead of 404 (deleted and "
          "expired calls still answer 404).",
          GetUnknown400),
    # -- shape of a call object
    Fault("no-caller-name", "CALLS-CALL-CALLER-NAME", "Call objects omit the documented `caller_name` property.",
          FieldChange.of(field="caller_name", change=DROP)),
    Fault("sip-status-string", "CALLS-CALL-SCHEMA",
          'Call objects carry sip_status as a JSON string ("200") instead of an integer.',
          FieldChange.of(field="sip_status", change=str)),
    Fault("duration-string", "CALLS-CALL-SCHEMA",
          'Ended calls carry duration as a JSON string ("7") instead of an integer.',
          FieldChange.of(field="duration", change=str), also=("CALLS-CALL-DURATION-ENDED",)),
    Fault("status-unknown-value", "CALLS-CALL-STATUS-ENUM",
          'An answered call shows call_status "answered" (not a documented status) instead of "in-progress".',
          FieldChange.of(field="call_status", change=swap("in-progress", "answered"))),
    Fault("direction-outgoing-in-list", "CALLS-CALL-DIRECTION-ENUM",
          'Listed outbound calls show direction "outgoing"; get shows "outbound".',
          FieldChange.of(field="direction", change=swap("outbound", "outgoing"), operations=(LIST,))),
    Fault("no-service-url", "CALLS-CALL-DOCUMENTED-FIELDS", "Call objects lack the documented service_url field.",
          FieldChange.of(field="service_url", change=DROP)),
    Fault("completed-without-duration", "CALLS-CALL-DURATION-ENDED", "A completed call carries no duration.",
          FieldChange.of(field="duration", change=DROP, when=lambda view: view["call_status"] == "completed")),
    Fault("content-length-short", "CALLS-HTTP-FRAMING",
          "Answers 404 announce a Content-Length 6 bytes shorter than their JSON body, and send it all: the rest "
          "waits on the connection, where a client reusing it reads it as the start of its next answer.",
          ContentLengthShort),
    Fault("duration-inflated", "CALLS-CALL-DURATION-WITHIN-LIFE",
          "An ended call reports 30 seconds more than it lasted (the same inflated duration in every answer).",
          FieldChange.of(field="duration", change=lambda duration: duration + 30)),
    Fault("text-plain-json", "CALLS-CONTENT-TYPE-JSON",
          "Successful JSON answers (list, get, create) are labelled text/plain; the body is still JSON.",
          SuccessChange.of(operations=(LIST, GET, CREATE), change=lambda reply: reply.but(media_type="text/plain"))),
    # -- create
    Fault("create-no-sid", "CALLS-CREATE-SUCCESS",
          'A create answers 201 with {"call_sid": ...} instead of {"sid": ...}; the call is made.',
          SuccessChange.of(operations=(CREATE,), change=lambda reply: reply.but(body={"call_sid": reply.body["sid"]})),
          also=("CALLS-CREATE-VISIBLE",)),
    Fault("create-text-body", "CALLS-CREATE-SUCCESS",
          "A create answers 201 with the bare sid as text/plain instead of a JSON object; the call is made.",
          SuccessChange.of(operations=(CREATE,),
                           change=lambda reply: Reply(201, reply.body["sid"], media_type="text/plain", raw=True)),
          also=("CALLS-CONTENT-TYPE-JSON",)),
    Fault("create-json-bom", "CALLS-CREATE-SUCCESS",
          "A create answers 201 with its JSON object led by a UTF-8 byte order mark; the call is made.",
          SuccessChange.of(operations=(CREATE,), change=_create_answer('\ufeff{"sid":"SID"}'))),
    Fault("create-json-utf16", "CALLS-CREATE-SUCCESS",
          "A create answers 201 with its JSON object encoded in UTF-16 instead of UTF-8; the call is made.",
          SuccessChange.of(operations=(CREATE,),
                           change=_create_answer('{"sid":"SID"}', "utf-16"))),
    Fault("create-json-control-character", "CALLS-CREATE-SUCCESS",
          "A create answers 201 with a JSON object whose string holds a raw tab, a character JSON must escape; "
          "the call is made.",
          SuccessChange.of(operations=(CREATE,), change=_create_answer('{"sid":"SID","note":"new\tcall"}'))),
    Fault("create-json-nan", "CALLS-CREATE-SUCCESS",
          "A create answers 201 with a JSON object holding NaN, which is no JSON value; the call is made.",
          SuccessChange.of(operations=(CREATE,), change=_create_answer('{"sid":"SID","cost":NaN}'))),
    Fault("create-200", "CALLS-CREATE-201", "A create answers 200 instead of 201 (same body).",
          StatusOverride.of(operations=(CREATE,), status=200)),
    Fault("create-not-visible-at-once", "CALLS-CREATE-VISIBLE",
          "A created call answers 404 to get for its first 10 seconds (longer than any settle time); the list "
          "shows it.",
          CallHidden.of(hides=lambda record, now: record.direction == "outbound" and now - record.created_at < 10.0),
          also=("CALLS-GET-200",)),
    Fault("from-to-swapped", "CALLS-CREATE-RECORD", "A created call's record shows `from` and `to` swapped.",
          RecordChange.of(change=lambda record: record.with_changes(from_=record.to, to=record.from_))),
    Fault("to-altered", "CALLS-CREATE-RECORD", "A created call's record shows `to` with its last digit changed.",
          RecordChange.of(change=_to_altered)),
    Fault("record-account-wrong", "CALLS-CREATE-RECORD",
          f"Getting an outbound call shows the account_sid {FOREIGN_ACCOUNT_SID}; the list is right.",
          FieldChange.of(field="account_sid", change=always(FOREIGN_ACCOUNT_SID), operations=(GET,),
                         when=lambda view: view["direction"] == "outbound")),
    # -- input
    Fault("accepts-missing-to", "CALLS-CREATE-REJECTS-INVALID",
          "A create body without `to` answers 201 with a fresh sid (no call is made).",
          AcceptsMissingTo),
    Fault("accepts-unknown-to-type", "CALLS-CREATE-REJECTS-INVALID",
          "A create whose to.type is not phone/sip/user/teams answers 201 and makes a call with an empty `to`.",
          ValidationSkipped.of(prefix="to/type:")),
    Fault("accepts-object-from", "CALLS-CREATE-REJECTS-INVALID",
          "A create whose `from` is a JSON object (no caller number at all) answers 201 and makes a call.",
          ValidationSkipped.of(prefix="from:", when=lambda body: isinstance(body.get("from"), dict))),
    Fault("accepts-mistyped-from", "CALLS-CREATE-REJECTS-MISTYPED",
          "A create whose `from` is a JSON number instead of a string answers 201 and records it as a string.",
          ValidationSkipped.of(prefix="from:", when=lambda body: isinstance(body.get("from"), (int, float))
                               and not isinstance(body["from"], bool))),
    Fault("accepts-oversized", "CALLS-CREATE-REJECTS-MISTYPED",
          "A create body over the size limit (64 KiB, and 1 MiB too) is not refused: a valid one answers 201 and "
          "makes a call.",
          fixed("body_limit", HARD_BODY_LIMIT)),
    Fault("rejected-create-persists", "CALLS-CREATE-REJECT-NO-CALL",
          "An invalid create body (a JSON object) answers 400, yet a call is made from it (a well-formed one) and "
          "is listed.",
          RejectedCreatePersists, also=("CALLS-ISOLATION-FOREIGN-APPLICATION",)),
    Fault("malformed-json-500", "CALLS-NO-SERVER-ERROR", "A create with a malformed JSON body answers 500.",
          ErrorChange.of(reason="bad-json", becomes=SERVER_ERROR),
          also=("CALLS-CREATE-REJECTS-INVALID", "CALLS-CONTRACT-STATUS")),
    Fault("oversized-500", "CALLS-NO-SERVER-ERROR",
          "A create body over the size limit (64 KiB) answers 500 instead of 413.",
          ErrorChange.of(reason="too-large", becomes=SERVER_ERROR),
          also=("CALLS-CREATE-REJECTS-MISTYPED", "CALLS-CONTRACT-STATUS")),
    Fault("bad-sid-500", "CALLS-SID-FORMAT", "A malformed (non-UUID) account or call sid answers 500.",
          ErrorChange.of(reason="bad-sid", becomes=SERVER_ERROR),
          also=("CALLS-NO-SERVER-ERROR", "CALLS-CONTRACT-STATUS")),
    Fault("account-sid-trimmed", "CALLS-SID-FORMAT",
          "Spaces around the path's account sid are trimmed: ` SID` and `SID ` list and get the account's calls.",
          AccountSidTrimmed),
    Fault("account-sid-decoded-twice", "CALLS-SID-FORMAT",
          "The path's account sid is percent-decoded a second time: `%2538...` (`%38...` once decoded) lists the "
          "account whose sid starts with `8`.",
          AccountSidDecodedTwice),
    Fault("account-sid-last-digit-ignored", "CALLS-SID-EXACT",
          "A path account sid that differs from the token's account sid only in its last digit is taken for it: "
          "list and get answer the account's calls.",
          AccountSidLastDigitIgnored),
    Fault("account-sid-upper-case-lists-all", "CALLS-SID-EXACT",
          "The token's own account sid written in upper case misses the account index: its list shows the calls "
          "of every account.",
          UpperCaseAccountListsAll),
    Fault("bad-account-sid-lists", "CALLS-SID-FORMAT",
          "A malformed account sid is read as the token's own account: list and get answer 200 with data.",
          BadAccountSidLists),
    Fault("unsupported-method-200", "CALLS-METHOD-UNSUPPORTED",
          "Methods the API does not offer (PUT, PATCH, HEAD, OPTIONS...) answer 200 with {} instead of 405.",
          fixed("method_not_allowed", Reply(200, {}))),
    Fault("405-without-allow", "CALLS-METHOD-ALLOW",
          "Methods the API does not offer answer 405 without the Allow header that names the path's methods.",
          fixed("method_not_allowed", Reply(405, {"msg": "method not allowed"}))),
    # -- delete
    Fault("delete-200", "CALLS-DELETE-204",
          "Deleting a call answers 200 (empty body) instead of 204; the call is removed.",
          StatusOverride.of(operations=(DELETE,), status=200), also=("CALLS-CONTRACT-STATUS",)),
    Fault("delete-204-with-body", "CALLS-DELETE-EMPTY-BODY",
          "Deleting a call answers 204 announcing a 17-byte JSON body (Content-Length: 17, Content-Type: "
          "application/json); HTTP/1.1 framing keeps the bytes themselves off the wire.",
          SuccessChange.of(operations=(DELETE,), change=lambda reply: reply.but(
              headers={**reply.headers, "Content-Length": "17", "Content-Type": "application/json"})),
          also=("CALLS-HTTP-FRAMING",)),
    Fault("delete-204-body-sent", "CALLS-HTTP-FRAMING",
          "Deleting a call answers 204 with Content-Length: 17 and sends the 17-byte JSON body, which a 204 "
          "cannot carry, ahead of the next answer on the connection, where a client reads it as that answer.",
          SuccessChange.of(operations=(DELETE,), change=_body_after_204), also=("CALLS-DELETE-EMPTY-BODY",)),
    Fault("delete-not-removing", "CALLS-DELETE-REMOVES",
          "Deleting a call answers 204 but the call stays gettable and listed.",
          fixed("on_delete", Reply(204, None, media_type=None)), also=("CALLS-DELETE-UNKNOWN-404",)),
    Fault("deleted-reappears-in-list", "CALLS-DELETE-REMOVES",
          "A deleted call answers 404 to get but is still listed (until its retention ends).",
          DeletedReappearsInList),
    Fault("delete-removes-sibling", "CALLS-DELETE-ONLY-TARGET",
          "Deleting a call also removes the account's most recently created other call.",
          DeleteRemovesSibling, also=("CALLS-WINDOW-VISIBLE",)),
    Fault("delete-unknown-204", "CALLS-DELETE-UNKNOWN-404",
          "Deleting an unknown or already deleted call answers 204 instead of 404.",
          fixed("delete_unknown", Reply(204, None, media_type=None)), also=("CALLS-ISOLATION-FOREIGN-CALL",)),
    Fault("delete-unknown-200", "CALLS-CONTRACT-STATUS",
          "Deleting an unknown or already deleted call answers 200 (a status the contract does not document "
          "for delete) instead of 404.",
          fixed("delete_unknown", Reply(200, None, media_type=None)),
          also=("CALLS-DELETE-UNKNOWN-404", "CALLS-ISOLATION-FOREIGN-CALL")),
    # -- window
    Fault("window-half", "CALLS-WINDOW-VISIBLE", "Ended calls disappear half-way through the retention window.",
          WindowHalf),
    Fault("window-never-expires", "CALLS-WINDOW-EXPIRES",
          "Ended calls never disappear: they stay gettable and listed after the window.",
          fixed("retention", None)),
    # -- lifecycle
    Fault("completed-back-to-in-progress", "CALLS-LIFECYCLE-MONOTONIC",
          "Once a call has been reported completed, later gets and lists report it in-progress/200 again.",
          CompletedBackToInProgress, also=("CALLS-WINDOW-VISIBLE", "CALLS-DELETE-ONLY-TARGET")),
    Fault("never-ends", "CALLS-LIFECYCLE-ENDS",
          "Created calls never reach a terminal status (answered calls stay in-progress).",
          NeverEnds),
    # -- the whole run (judged by the oracle)
    Fault("list-shows-another-call-id", "CALLS-SAME-EVERYWHERE",
          "List items show a call_id of their own, not the one get shows for the same call.",
          FieldChange.of(field="call_id", change=lambda call_id: str(uuid.uuid5(uuid.NAMESPACE_OID, call_id)),
                         operations=(LIST,))),
    Fault("ended-duration-grows", "CALLS-ENDED-STAYS-FINAL",
          "An ended call's duration keeps growing after its end (by the seconds since it ended).",
          EndedDurationGrows),
    Fault("create-reuses-deleted-sid", "CALLS-CREATE-NEW-SID",
          "A create after a delete names the new call with the deleted call's sid.",
          # A concurrent test's create may take the sid before the deleting test looks again: the deleted
          # sid then answers get and delete as the new call.
          CreateReusesDeletedSid, also=("CALLS-DELETE-REMOVES", "CALLS-DELETE-UNKNOWN-404")),
    Fault("deleted-ended-call-returns", "CALLS-DELETED-STAYS-GONE",
          "A call deleted after it had ended answers 404 at once, but comes back to get and list a second later "
          "(and stays, whatever the window).",
          DeletedEndedCallReturns),
    Fault("sid-last-digit-ignored", "CALLS-SID-EXACT",
          "A get whose call sid differs from a call's only in its last digit answers that call.",
          SidLastDigitIgnored),
    Fault("token-last-character-ignored", "CALLS-AUTH-NEAR-MISS",
          "A bearer token is accepted when it matches an account's token but for its last character (changed, "
          "added or cut off).",
          TokenLastCharacterIgnored),
    Fault("scheme-case-sensitive", "CALLS-AUTH-SCHEME-CASE",
          "The scheme is matched case-sensitively: `bearer TOKEN` and `BEARER TOKEN` answer 401.",
          SchemeCaseSensitive),
)

VARIANTS: dict[str, Variant] = _registry(
    Variant("plain-text-errors",
            "Errors are text/plain reason phrases (`Not Found`, `Bad Request`...); 401 has no body at all.",
            PlainTextErrors),
    Variant("extra-fields",
            "Call objects carry sip_reason, trace_id and fs_sip_address; create also answers callId.",
            ExtraFields),
    Variant("sparse-fields",
            "Call objects omit what the document's property table does not list: application_sid, originating_*.",
            SparseFields),
    Variant("plus-dropped",
            "A created call's from/to are recorded without their leading `+`, as signalling carries them.",
            RecordChange.of(change=_plus_dropped)),
    Variant("slow-lifecycle", "Created calls start `queued`, then go through the usual stages three times slower.",
            SlowLifecycle),
    Variant("lenient-from",
            "A create's `from` may be any non-empty string, of any length (`anonymous`, 300 digits...): the "
            "document states no format and no limit.",
            ValidationSkipped.of(prefix="from:", when=lambda body: isinstance(body.get("from"), str)
                                 and body["from"] != "")),
    Variant("refuse-404",
            "Another account's token is refused with 404 (as if the account did not exist) instead of 403.",
            ErrorChange.of(reason="forbidden", becomes=HttpError(404, "not found", reason="not-found"))),
    Variant("duration-from-attempt",
            "A call's duration counts from its create, not from its answer, rounded up to the next whole second.",
            DurationFromAttempt),
    Variant("list-shuffled", "The list shows every call of the account, in another order at each list.",
            ListChange.of(change=lambda calls, now: random.sample(calls, len(calls)))),
    Variant("sids-case-insensitive",
            "Account and call sids are read case-insensitively (RFC 9562: a UUID in upper case is the same "
            "UUID): an upper-case call sid gets the call, an upper-case account sid lists the account.",
            SidsCaseInsensitive),
    Variant("no-tag", "Call objects do not echo the `tag` given at creation (the document does not promise it).",
            FieldChange.of(field="tag", change=DROP)),
    Variant("jambonz-like",
            "As close to a jambonz server as the notes tell: 404 as text/plain `Not Found`, 401 as bare "
            "`Unauthorized`, 400 `{\"msg\":\"Bad request\"}` for bad sids, HTML 404 for unknown routes and methods, "
            "an unordered list, extra fields, numbers without `+`, create answering sid and callId.",
            JambonzLike),
    Variant("open-ends",
            "Differs from the reference wherever the document leaves it open: call fields in reverse order and "
            "with extra ones, the list newest first, the lifecycle twice as slow, and a call deleted while live "
            "written again (listed and gettable) at its next status change (D-21).",
            OpenEnds),
)

if FAULTS.keys() & VARIANTS.keys():
    raise ValueError(f"names both a fault and a variant: {sorted(FAULTS.keys() & VARIANTS.keys())}")
