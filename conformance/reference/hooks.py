"""The shapes most faults share: `Behaviour` subclasses overriding one hook, steered by parameters.

A parameter is a class attribute; `Shape.of(**params)` makes the subclass an entry of `faults.py`
names, e.g. `FieldChange.of(field="to", change=DROP, operations=(LIST,))`: listed calls lack `to`.
A function given as a parameter is called as it is (not as a method), with the arguments its
comment names. `fixed(hook, value)` makes a behaviour whose hook answers a constant.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from conformance.reference.behaviour import (
    CREATE, DELETE, GET, LIST, OPERATIONS, Behaviour, Context, HttpError, Reply,
)
from conformance.reference.settings import Account
from conformance.reference.store import CallRecord

#: The status of each operation's successful answer.
SUCCESS = {LIST: 200, GET: 200, CREATE: 201, DELETE: 204}
#: What a fault answers where the server has "crashed".
SERVER_ERROR = HttpError(500, "internal server error", reason="server")
#: As the `change` of a FieldChange: remove the field.
DROP: Any = object()


class Hook(Behaviour):
    """A behaviour with parameters (its annotated class attributes; those without a value are required)."""

    @classmethod
    def of(cls, **params: Any) -> type[Behaviour]:
        declared = {name for klass in cls.__mro__ for name in inspect.get_annotations(klass)}
        unknown = set(params) - declared
        missing = {name for name in declared - set(params) if not hasattr(cls, name)}
        if unknown or missing:
            raise TypeError(f"{cls.__name__}: unknown parameters {sorted(unknown)}, missing {sorted(missing)}")
        # staticmethod: a function parameter must not be bound to the behaviour as a method
        return type(cls.__name__, (cls,), {k: staticmethod(v) if callable(v) else v for k, v in params.items()})


def fixed(hook: str, value: Any) -> type[Behaviour]:
    """A behaviour whose `hook` answers `value`, whatever it is asked."""
    if not callable(getattr(Behaviour, hook, None)):
        raise ValueError(f"Behaviour has no hook {hook!r}")
    return type(f"Fixed_{hook}", (Behaviour,), {hook: lambda self, *args: value})


def always(value: Any) -> Callable[[Any], Any]:
    return lambda _: value


def swap(old: Any, new: Any) -> Callable[[Any], Any]:
    """`old` becomes `new`; any other value stays."""
    return lambda value: new if value == old else value


def as_path_owner(ctx: Context) -> Account:
    """Act as the owner of the path's account, whoever asks."""
    return Account(sid=ctx.account_sid or "", token="")


class AuthAccepted(Hook):
    """A request `authenticate` refuses for one of `reasons` (see HttpError) is served as the path's account."""

    reasons: tuple[str, ...]
    operations: tuple[str, ...] = OPERATIONS

    def authenticate(self, ctx: Context) -> Account:
        try:
            return super().authenticate(ctx)
        except HttpError as error:
            if error.reason in self.reasons and ctx.operation in self.operations:
                return as_path_owner(ctx)
            raise


class ForeignTokenAllowed(Hook):
    """Another account's token is let through (no 403) on `operation`."""

    operation: str

    def authorize(self, ctx: Context) -> None:
        if ctx.operation != self.operation:
            super().authorize(ctx)


class ForeignCallFound(Hook):
    """On `operation`, the path's call sid finds the call whichever account it belongs to."""

    operation: str

    def find_call(self, ctx: Context) -> CallRecord | None:
        if ctx.operation == self.operation:
            assert ctx.call_sid is not None
            return self.store.get(ctx.call_sid)
        return super().find_call(ctx)


class CallHidden(Hook):
    """Getting a call that `hides(record, now)` picks answers 404."""

    hides: Callable[[CallRecord, float], bool]

    def find_call(self, ctx: Context) -> CallRecord | None:
        record = super().find_call(ctx)
        if ctx.operation == GET and record is not None and self.hides(record, self.clock.now()):
            return None
        return record


class ListChange(Hook):
    """The list shows `change(calls, now)` of the account's calls."""

    change: Callable[[list[CallRecord], float], list[CallRecord]]

    def list_calls(self, ctx: Context) -> list[CallRecord]:
        now = self.clock.now()
        return self.change(super().list_calls(ctx), now)


class RecordChange(Hook):
    """A created call is recorded as `change(record)` makes it."""

    change: Callable[[CallRecord], CallRecord]

    def new_record(self, ctx: Context, body: dict[str, Any]) -> CallRecord:
        return self.change(super().new_record(ctx, body))


class FieldChange(Hook):
    """The call objects `operations` show have `field` changed: its value through `change(value)`, or
    removed (DROP); only those `when(view)` picks, when given."""

    field: str
    change: Callable[[Any], Any]
    operations: tuple[str, ...] = (GET, LIST)
    when: Callable[[dict[str, Any]], bool] | None = None

    def view_call(self, ctx: Context, record: CallRecord) -> dict[str, Any]:
        view = super().view_call(ctx, record)
        if ctx.operation in self.operations and self.field in view and (self.when is None or self.when(view)):
            if self.change is DROP:
                del view[self.field]
            else:
                view[self.field] = self.change(view[self.field])
        return view


class SuccessChange(Hook):
    """The successful answer of `operations` becomes `change(reply)`; only for requests `when(ctx)` picks,
    when given."""

    operations: tuple[str, ...]
    change: Callable[[Reply], Reply]
    when: Callable[[Context], bool] | None = None

    def finish(self, ctx: Context, reply: Reply) -> Reply:
        if (ctx.operation in self.operations and reply.status == SUCCESS[ctx.operation]
                and (self.when is None or self.when(ctx))):
            return self.change(reply)
        return reply


class StatusOverride(SuccessChange):
    """The successful answer of `operations` carries `status` instead (same body)."""

    status: int

    def change(self, reply: Reply) -> Reply:  # type: ignore[override]
        return reply.but(status=self.status)


class ValidationSkipped(Hook):
    """A create body's contract errors starting with `prefix` are not raised, for the bodies `when(body)`
    picks, when given: such a body is accepted if nothing else is wrong with it."""

    prefix: str
    when: Callable[[dict[str, Any]], bool] | None = None

    def validate_create(self, ctx: Context, body: Any) -> list[str]:
        errors = super().validate_create(ctx, body)
        if isinstance(body, dict) and (self.when is None or self.when(body)):
            errors = [e for e in errors if not e.startswith(self.prefix)]
        return errors


class ErrorChange(Hook):
    """An error of `reason` (see HttpError) is answered as the error `becomes`."""

    reason: str
    becomes: HttpError

    def error_reply(self, ctx: Context, error: HttpError) -> Reply:
        return super().error_reply(ctx, self.becomes if error.reason == self.reason else error)
