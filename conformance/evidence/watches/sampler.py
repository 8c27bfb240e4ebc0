"""How one sample of a call is taken: a get or a list about it, and what the answer shows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from conformance.deployment.api import ApiClient
from conformance.deployment.exchange import Exchange
from conformance.deployment.failures import RateLimited, TargetUnavailable


@dataclass
class Sample:
    """One request about one call and what it showed."""

    kind: str  # "get" or "list"
    sent: float  # monotonic
    received: float  # monotonic
    status: int | None = None
    present: bool | None = None  # the call was in the answer (None: the answer could not tell)
    call_status: str | None = None
    exchange: Exchange | None = None
    error: str | None = None
    response: Any = None  # the Response, when there was one
    call: Any = None  # the decoded call object of a 2xx answer (a get's body, a list's item)

    @property
    def latency(self) -> float:
        return self.received - self.sent


class CallSampler:
    """Sends a get or a list about one call and says what the answer shows (the run's client records every
    status it sees in conformance.evidence.observed.SEEN)."""

    def __init__(self, client: ApiClient, sid: str) -> None:
        self.client = client
        self.sid = sid

    def _send(self, kind: str, action: Callable[[], Any]) -> tuple[Sample, Any]:
        sent = time.monotonic()
        try:
            response = action()
        except (TargetUnavailable, RateLimited) as error:
            return Sample(kind, sent, time.monotonic(), error=f"{type(error).__name__}: {error}"), None
        sample = Sample(kind, sent, time.monotonic(), response.status, exchange=response.exchange, response=response)
        return sample, response

    def get(self) -> Sample:
        sample, response = self._send("get", lambda: self.client.get_call(self.sid))
        if response is None:
            return sample
        if 200 <= response.status < 300:
            body = response.success_json()
            if not isinstance(body, dict):
                sample.error = f"the {response.status} answer is not a JSON object"
            elif body.get("call_sid") != self.sid:
                sample.error = f"the {response.status} answer is another call ({body.get('call_sid')!r})"
                sample.call = body
            else:
                sample.present, sample.call = True, body
                status = body.get("call_status")
                sample.call_status = status if isinstance(status, str) else None
        elif response.status in (404, 410):
            sample.present = False
        else:
            sample.error = f"answered {response.status}"
        return sample

    def list(self) -> Sample:
        sample, response = self._send("list", self.client.list_calls)
        if response is None:
            return sample
        body = response.success_json()
        if isinstance(body, list):
            match = [c for c in body if isinstance(c, dict) and c.get("call_sid") == self.sid]
            sample.present = bool(match)
            if match:
                sample.call = match[0]
                if isinstance(match[0].get("call_status"), str):
                    sample.call_status = match[0]["call_status"]
        else:
            sample.error = f"answered {response.status}" if response.status != 200 else "the 200 answer is not a JSON array"
        return sample
