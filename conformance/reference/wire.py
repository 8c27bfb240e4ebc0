"""Answers that break HTTP/1.1 framing, for the faults that need one.

h11 frames every answer right and will not send content a 204 cannot have, nor more content than its
Content-Length says. Such an answer is therefore framed right first, and its bytes are changed on their
way to the socket: a reply's `wire` (see `behaviour.Reply`) is applied to each write of that answer.
"""

from __future__ import annotations

import asyncio
import re
from contextvars import ContextVar
from typing import Any, Callable

from uvicorn.protocols.http.h11_impl import H11Protocol

Rewrite = Callable[[bytes, "_Rewritten"], bytes]

#: The rewrite of the answer the current request task is sending (set by the app, read by the transport).
WIRE: ContextVar[Rewrite | None] = ContextVar("wire", default=None)
_CONTENT_LENGTH = re.compile(rb"(?im)^(content-length:[ \t]*)(\d+)")


class WireProtocol(H11Protocol):
    """uvicorn's h11 protocol, writing through `_Rewritten`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_Rewritten(transport))  # type: ignore[arg-type]


class _Rewritten:
    """A transport whose writes go through the current answer's rewrite, if it has one; bytes a rewrite
    holds back (`held`) go out ahead of the next write on the connection."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self.held = b""

    def write(self, data: bytes) -> None:
        if data:
            data, self.held = self.held + data, b""
            rewrite = WIRE.get()
            data = rewrite(data, self) if rewrite is not None else data
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _is_head(data: bytes) -> bool:
    return data.startswith(b"HTTP/1.1 ")


def after_head(extra: bytes, *, late: bool = False) -> Rewrite:
    """The answer's header section, then `extra`: bytes its framing does not count. `late`: held back until
    the connection's next answer, ahead of it, as a server that writes the body after the head would."""
    def rewrite(data: bytes, connection: _Rewritten) -> bytes:
        if not _is_head(data):
            return data
        if late:
            connection.held = extra
            return data
        return data + extra
    return rewrite


def content_length(change: Callable[[int], int]) -> Rewrite:
    """The Content-Length of the header section through `change`; the content is sent as it is."""
    def rewrite(data: bytes, connection: _Rewritten) -> bytes:
        if not _is_head(data):
            return data
        return _CONTENT_LENGTH.sub(lambda m: m[1] + str(change(int(m[2]))).encode(), data, count=1)
    return rewrite
