"""The four operations of one account (`ApiClient`), and an answer as the checks read it (`Response`):
its body decoded as JSON only within the size cap and a bounded depth."""

from __future__ import annotations

import json as jsonlib
from typing import Any

import requests

from conformance.deployment.exchange import Exchange

MAX_JSON_DEPTH = 64  # a call object is 3 levels deep; far deeper is no answer of this API
_DEFAULT = object()


class BodyUnusable(ValueError):
    """A body that cannot be an answer of this API whatever it holds: over the size cap, nested too deep, not
    UTF-8 or led by a byte order mark."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is no JSON value (RFC 8259 section 6)")


def loads_bounded(data: bytes | str) -> Any:
    """json.loads, strict as RFC 8259 (no NaN or Infinity), with nesting bounded: too deep is a ValueError,
    never a RecursionError."""
    too_deep = BodyUnusable(f"not valid JSON for this API: nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = jsonlib.loads(data, parse_constant=_no_constant)
    except RecursionError:
        raise too_deep from None
    stack = [(value, 1)]
    while stack:  # iterative: checking the depth must not recurse either
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise too_deep
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return value


class Response:
    """A response with its redacted exchange: what checks look at."""

    def __init__(self, raw: requests.Response, exchange: Exchange) -> None:
        self.raw = raw
        self.exchange = exchange
        self.status = raw.status_code
        self.headers = raw.headers
        self.content = raw.content
        self.truncated: int | None = getattr(raw, "truncated", None)  # the cap, when the body went over it

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The decoded body, or raises ValueError (BodyUnusable: over the size cap or nested too deep)."""
        if self.truncated is not None:
            raise BodyUnusable(f"the body is larger than {self.truncated} bytes (--max-body-bytes): "
                               f"not read to its end")
        if self.content.startswith(b"\xef\xbb\xbf"):
            raise BodyUnusable("the JSON text starts with a byte order mark (RFC 8259 section 8.1: none is added)")
        try:
            text = self.content.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BodyUnusable(f"the JSON text is not UTF-8 (RFC 8259 section 8.1): {error.reason} at byte "
                               f"{error.start}") from None
        return loads_bounded(text)

    def success_json(self) -> Any:
        """The decoded body of a 2xx answer; None for another status or a body that is not JSON."""
        if not 200 <= self.status < 300:
            return None
        try:
            return self.json()
        except ValueError:
            return None

    def created_sid(self) -> str | None:
        """The `sid` a 2xx create answer carries, if it carries one."""
        body = self.success_json()
        sid = body.get("sid") if isinstance(body, dict) else None
        return sid if isinstance(sid, str) and sid else None


class ApiClient:
    """Talks to one account of the target over a `TargetSession`. Paths are relative to the base URL (which
    ends in /v1)."""

    def __init__(self, base_url: str, account_sid: str, token: str | None, session: Any) -> None:
        self.base_url = base_url.rstrip("/")
        self.account_sid = account_sid
        self.token = token
        self.session = session

    def calls_path(self, account_sid: str | None = None) -> str:
        return f"/Accounts/{account_sid or self.account_sid}/Calls"

    def call_path(self, call_sid: str, account_sid: str | None = None) -> str:
        return f"{self.calls_path(account_sid)}/{call_sid}"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token is not None else {}

    def list_calls(self, **kwargs: Any) -> Response:
        return self.request("GET", self.calls_path(), **kwargs)

    def get_call(self, call_sid: str, **kwargs: Any) -> Response:
        return self.request("GET", self.call_path(call_sid), **kwargs)

    def create_call(self, body: Any, **kwargs: Any) -> Response:
        return self.request("POST", self.calls_path(), json=body, **kwargs)

    def delete_call(self, call_sid: str, **kwargs: Any) -> Response:
        return self.request("DELETE", self.call_path(call_sid), **kwargs)

    def request(self, method: str, path: str, *, json: Any = _DEFAULT, data: bytes | str | None = None,
                headers: dict[str, str] | None = None, authorization: Any = _DEFAULT) -> Response:
        """Send one request. `authorization=None` sends no Authorization header; a string replaces it."""
        all_headers = {"Accept": "application/json"}
        if authorization is _DEFAULT:
            all_headers.update(self.auth_headers())
        elif authorization is not None:
            all_headers["Authorization"] = authorization
        if json is not _DEFAULT:
            data = jsonlib.dumps(json)
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        raw = self.session.request(method, self.base_url + path, data=data, headers=all_headers)
        return Response(raw, raw.exchange)
