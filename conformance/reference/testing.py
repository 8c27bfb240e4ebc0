"""An in-process client of the reference app, for tests: Starlette's TestClient on a `FakeClock`.

    client = ReferenceClient(fault="delete-200")
    sid = client.new_call()
    client.delete(sid).status_code   # 200
    client.advance(700)              # past the window, without sleeping

Needs the `httpx2` package (Starlette's TestClient), a development dependency.
"""

from __future__ import annotations

import uuid
import weakref
from typing import Any

from conformance.reference.app import API_PREFIX, create_app
from conformance.reference.clock import FakeClock
from conformance.reference.settings import Account, ReferenceSettings

DEFAULT_FROM = "+15005550006"
DEFAULT_TO = "+15005550001"
_UNSET: Any = object()


class ReferenceClient:
    """The reference app with helpers for the four operations. By default every request carries the
    token of the path's account; `as_=` uses another account's token, `headers=` replaces them all."""

    def __init__(self, settings: ReferenceSettings | None = None, *, fault: str | None = None,
                 variant: str | None = None, clock: FakeClock | None = None) -> None:
        from starlette.testclient import TestClient  # a development dependency

        settings = settings or ReferenceSettings.fast()
        if fault is not None or variant is not None:
            settings = settings.replace(fault=fault, variant=variant)
        self.settings = settings
        self.clock = clock or FakeClock()
        self.app = create_app(settings, self.clock)
        self.http = TestClient(self.app, raise_server_exceptions=False)
        # Entered once: every request then reuses one event-loop thread instead of starting its own.
        self.http.__enter__()
        self._finalizer = weakref.finalize(self, self.http.__exit__, None, None, None)
        self.a: Account = settings.accounts[0]
        self.b: Account = settings.accounts[1] if len(settings.accounts) > 1 else settings.accounts[0]

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> "ReferenceClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------------------
    @staticmethod
    def auth(account: Account) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.token}"}

    @staticmethod
    def path(account_sid: str, call_sid: str | None = None) -> str:
        base = f"{API_PREFIX}/Accounts/{account_sid}/Calls"
        return base if call_sid is None else f"{base}/{call_sid}"

    def _headers(self, account: Account, as_: Account | None, headers: dict[str, str] | None) -> dict[str, str]:
        return dict(headers) if headers is not None else self.auth(as_ or account)

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        return self.http.request(method, url, **kwargs)

    @property
    def unexpected_errors(self) -> int:
        return int(self.app.state.unexpected_errors)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # -- operations --------------------------------------------------------------------------------
    def list(self, account: Account | None = None, *, account_sid: str | None = None,
             as_: Account | None = None, headers: dict[str, str] | None = None) -> Any:
        account = account or self.a
        return self.http.get(self.path(account_sid or account.sid), headers=self._headers(account, as_, headers))

    def get(self, call_sid: str, account: Account | None = None, *, account_sid: str | None = None,
            as_: Account | None = None, headers: dict[str, str] | None = None) -> Any:
        account = account or self.a
        return self.http.get(self.path(account_sid or account.sid, call_sid),
                             headers=self._headers(account, as_, headers))

    def delete(self, call_sid: str, account: Account | None = None, *, account_sid: str | None = None,
               as_: Account | None = None, headers: dict[str, str] | None = None) -> Any:
        account = account or self.a
        return self.http.delete(self.path(account_sid or account.sid, call_sid),
                                headers=self._headers(account, as_, headers))

    def create(self, body: Any = _UNSET, account: Account | None = None, *, account_sid: str | None = None,
               as_: Account | None = None, headers: dict[str, str] | None = None, content: bytes | None = None,
               content_type: str | None = "application/json") -> Any:
        """POST a create. `body` is sent as JSON (default: a valid body); `content` sends raw bytes."""
        account = account or self.a
        sent = self._headers(account, as_, headers)
        if content is None:
            import json
            content = json.dumps(call_body() if body is _UNSET else body).encode("utf-8")
        if content_type is not None:
            sent.setdefault("Content-Type", content_type)
        return self.http.post(self.path(account_sid or account.sid), headers=sent, content=content)

    def new_call(self, to: str = DEFAULT_TO, account: Account | None = None, **fields: Any) -> str:
        """Create a call and return its sid (the create must succeed)."""
        response = self.create(call_body(to=to, **fields), account)
        assert 200 <= response.status_code < 300, f"create answered {response.status_code}: {response.text}"
        return str(response.json()["sid"])


def call_body(to: str = DEFAULT_TO, from_: str = DEFAULT_FROM, **fields: Any) -> dict[str, Any]:
    """A valid create body calling the phone number `to`."""
    body: dict[str, Any] = {"from": from_, "to": {"type": "phone", "number": to}}
    body.update(fields)
    return body


def random_sid() -> str:
    return str(uuid.uuid4())


def record_stored_calls(store: Any) -> list[Any]:
    """From now on, every call record `store` takes is also appended to the returned list: what a test run
    made a server store (the seeded calls, stored before, are not in it)."""
    taken: list[Any] = []
    original = store.add

    def add(record: Any) -> Any:
        result = original(record)
        taken.append(record)
        return result

    store.add = add  # this instance only
    return taken
