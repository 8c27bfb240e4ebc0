"""The Starlette application of the reference server.

Two API paths under `/v1`, every method routed to one dispatcher per path so that method checks,
authentication and errors are decided here, in the same order for every operation:

    route -> method (405) -> authentication (401/400) -> sid format (400) -> account (403)
          -> [create: content type (415), size (413), JSON (400), contract schema (400)]
          -> operation -> finish

What each step answers is delegated to the `Behaviour` (see `behaviour.py`). Any other path answers
404 in the same error format. An exception no step expected becomes a 500 as a last resort; it is
counted in `app.state.unexpected_errors` so tests can show that no input reaches it.

With a quota (`settings.quota`) every request is counted before all of that, whatever the behaviour: one
over the quota answers 429, and every answer carries the quota's headers (`quota.py`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conformance.reference.behaviour import (
    COLLECTION_METHODS, CREATE, DELETE, GET, HARD_BODY_LIMIT, ITEM_METHODS, LIST, Behaviour, Context, HttpError, Reply,
)
from conformance.reference.clock import Clock
from conformance.reference.faults import behaviour_for
from conformance.reference.quota import TOO_MANY_REQUESTS, FixedWindow, Take, quota_headers
from conformance.reference.settings import ReferenceSettings
from conformance.reference.wire import WIRE

log = logging.getLogger("conformance.reference")

API_PREFIX = "/v1"
#: What server.py asks to know that the server answers: never counted against a quota.
READY_CHECK_PATH = API_PREFIX + "/ready-check"


def create_app(settings: ReferenceSettings, clock: Clock | None = None) -> Starlette:
    """A reference server application; its store is seeded, its behaviour chosen by the settings."""
    clock = clock or Clock()
    behaviour = behaviour_for(settings, clock)
    behaviour.seed()

    async def collection(request: Request) -> Response:
        return await _dispatch(request, COLLECTION_METHODS)

    async def item(request: Request) -> Response:
        return await _dispatch(request, ITEM_METHODS)

    async def anything_else(request: Request) -> Response:
        ctx = Context(None, request.method, request.url.path, request.headers)
        return await _guarded(app, ctx, lambda: _route_not_found(behaviour, ctx))

    async def _dispatch(request: Request, methods: dict[str, str]) -> Response:
        params = request.path_params
        ctx = Context(methods.get(request.method), request.method, request.url.path, request.headers,
                      account_sid=params.get("account_sid"), call_sid=params.get("call_sid"), query=request.url.query)
        return await _guarded(app, ctx, lambda: _handle(behaviour, ctx, request, list(methods)))

    app = Starlette(routes=[  # every method reaches the endpoint: the dispatcher decides
        Route(API_PREFIX + "/Accounts/{account_sid}/Calls", _AnyMethod(collection)),
        Route(API_PREFIX + "/Accounts/{account_sid}/Calls/{call_sid}", _AnyMethod(item)),
        Route("/{rest:path}", _AnyMethod(anything_else)),
    ])
    app.router.redirect_slashes = False
    app.state.settings = settings
    app.state.clock = clock
    app.state.behaviour = behaviour
    app.state.store = behaviour.store
    app.state.unexpected_errors = 0
    app.state.quota_window = FixedWindow(settings.quota, clock) if settings.quota is not None else None
    return app


class _AnyMethod:
    """An ASGI endpoint for a request handler. Starlette routes a plain function for GET only; an ASGI
    endpoint receives every method, including ones Starlette has never heard of (e.g. QUERY)."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        response = await self.handler(Request(scope, receive))
        await response(scope, receive, send)


async def _route_not_found(behaviour: Behaviour, ctx: Context) -> Reply:
    return behaviour.route_not_found(ctx)


async def _guarded(app: Starlette, ctx: Context, handler: Any) -> Response:
    behaviour: Behaviour = app.state.behaviour
    window: FixedWindow | None = app.state.quota_window
    taken = window.take() if window is not None and ctx.path != READY_CHECK_PATH else None
    try:
        try:
            if taken is not None and not taken.allowed:  # refused before anything else, as a proxy would
                raise HttpError(429, TOO_MANY_REQUESTS, reason="rate-limited")
            reply = await handler()
        except HttpError as error:
            reply = behaviour.error_reply(ctx, error)
        reply = behaviour.finish(ctx, reply)
        if reply.wire is not None:
            WIRE.set(reply.wire)  # this request's task writes the answer: only its writes are rewritten
        return render(_with_quota(app, reply, taken))
    except Exception:  # last resort: never expected, counted, logged
        app.state.unexpected_errors += 1
        log.exception("unexpected error handling %s %s", ctx.method, ctx.path)
        return render(_with_quota(app, Reply(500, {"msg": "internal server error"}), taken))


def _with_quota(app: Starlette, reply: Reply, taken: Take | None) -> Reply:
    """The reply with the quota's headers added last, so that no behaviour can lose them."""
    if taken is None:
        return reply
    settings: ReferenceSettings = app.state.settings
    assert settings.quota is not None
    return reply.but(headers={**reply.headers, **quota_headers(settings.quota, taken, settings.quota_headers)})


async def _handle(behaviour: Behaviour, ctx: Context, request: Request, allowed: list[str]) -> Reply:
    if ctx.operation is None:
        return behaviour.method_not_allowed(ctx, allowed)
    ctx.account = behaviour.authenticate(ctx)
    behaviour.check_sids(ctx)
    behaviour.authorize(ctx)
    if ctx.operation == LIST:
        records = behaviour.list_calls(ctx)
        return Reply(200, [behaviour.view_call(ctx, r) for r in records])
    if ctx.operation == GET:
        record = behaviour.find_call(ctx)
        if record is None:
            return behaviour.call_not_found(ctx)
        return Reply(200, behaviour.view_call(ctx, record))
    if ctx.operation == DELETE:
        record = behaviour.find_call(ctx)
        if record is None:
            return behaviour.delete_unknown(ctx)
        return behaviour.on_delete(ctx, record)
    assert ctx.operation == CREATE
    raw = await _read_body(behaviour, ctx, request)
    body = behaviour.parse_create(ctx, raw)
    errors = behaviour.validate_create(ctx, body)
    if errors:
        return behaviour.invalid_create(ctx, body, errors)
    return behaviour.on_create(ctx, behaviour.new_record(ctx, body))


async def _read_body(behaviour: Behaviour, ctx: Context, request: Request) -> bytes:
    """The request body, read no further than the limit: a larger one goes to `oversized` (413)."""
    limit = min(behaviour.body_limit(ctx), HARD_BODY_LIMIT)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        behaviour.oversized(ctx)
        raise HttpError(413, "request body too large", reason="too-large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            behaviour.oversized(ctx)
            raise HttpError(413, "request body too large", reason="too-large")
    return bytes(body)


def render(reply: Reply) -> Response:
    headers = dict(reply.headers)
    if reply.body is None:
        content = b""
    elif reply.raw:
        content = reply.body if isinstance(reply.body, bytes) else str(reply.body).encode("utf-8")
    else:
        content = dumps(reply.body)
    return Response(content=content, status_code=reply.status, headers=headers, media_type=reply.media_type)


def dumps(value: Any) -> bytes:
    """Compact JSON; strings that UTF-8 cannot carry (lone surrogates) are sent as \\u escapes."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")
