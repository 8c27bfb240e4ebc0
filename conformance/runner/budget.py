"""The run's call budget: calls are created only when allowed, within --max-calls, each tagged with the run
id and remembered, so that the cleanup deletes it in the account it was made in."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from conformance.deployment import config as configuration
from conformance.deployment.api import ApiClient
from conformance.deployment.config import TargetConfig


@dataclass
class CreatedCall:
    sid: str
    body: dict[str, Any]
    created_at: float
    account_sid: str | None = None  # the account it was made in (None: the tested account)


class CallBudget:
    """Creates the calls of a run: only when allowed, within --max-calls, each tagged and remembered."""

    def __init__(self, config: TargetConfig, api: ApiClient) -> None:
        self.config = config
        self.api = api  # the tested account's client, the default of `create`
        self.created: list[CreatedCall] = []
        self.attempts = 0
        self._spent: dict[str, int] = {}

    def count(self, purpose: str, call: bool = True) -> None:
        """Count one request on behalf of `purpose` (e.g. the generated tests); with `call`, a create taken
        from the budget (without: e.g. an invalid create naming the destination, which places no call)."""
        if call:
            self.attempts += 1
        self._spent[purpose] = self._spent.get(purpose, 0) + 1

    def spent(self, purpose: str) -> int:
        return self._spent.get(purpose, 0)

    def skip_reason(self) -> str | None:
        cfg = self.config
        if not cfg.allow_create:
            return ("creating calls is disabled on an external target: "
                    + configuration.ways_to_give("allow-create", "from-number", "to-number"))
        if self.attempts >= cfg.max_calls:
            return f"the run's call budget is spent (--max-calls {cfg.max_calls})"
        return None

    def reserve(self) -> None:
        """Take one create from the budget, or skip the calling test."""
        reason = self.skip_reason()
        if reason:
            pytest.skip(reason)
        self.count("scenario")

    def payload(self, other_account: bool = False, **overrides: Any) -> dict[str, Any]:
        body = self.config.create_payload(other_account)
        body.update(overrides)
        return body

    def remember(self, sid: Any, body: dict[str, Any], account_sid: str | None = None) -> None:
        """Note a call the run made (in `account_sid`, by default the tested account): the cleanup deletes it."""
        if isinstance(sid, str) and sid and all(c.sid != sid for c in self.created):
            account = None if account_sid == self.config.account_sid else account_sid
            self.created.append(CreatedCall(sid, body, time.time(), account))

    def create(self, client: ApiClient | None = None, **overrides: Any):
        """POST a create with the configured payload; returns the response (the caller checks it)."""
        self.reserve()
        client = client or self.api
        other = client.account_sid == self.config.other_account_sid != self.config.account_sid
        body = self.payload(other, **overrides)
        response = client.create_call(body)
        if 200 <= response.status < 300:
            try:
                self.remember(response.json().get("sid"), body, client.account_sid)
            except (ValueError, AttributeError):
                pass
        return response
