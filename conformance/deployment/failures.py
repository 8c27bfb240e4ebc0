"""A target that fails an exchange: one exception class with a machine word (`kind`) and a one-line reason,
whatever broke (no connection, DNS, TLS, a timeout, a stall, a reset, a body cut short)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests

from conformance.deployment.redaction import REDACT, cut_words


class TargetUnavailable(Exception):
    """The target failed an exchange: no connection, DNS, TLS, a timeout, a reset, a body cut short.
    `kind` is a short machine word (e.g. "timeout", "dns"), the message one line."""

    def __init__(self, message: str, kind: str = "unreachable") -> None:
        super().__init__(message)
        self.kind = kind


class RateLimited(TargetUnavailable):
    """The target kept answering 429 after the suite backed off: not a failure of the operation."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "rate-limited")


class TargetFailed(TargetUnavailable):
    """The run stopped sending: the target stopped answering (circuit breaker) or the run budget ran out."""


class BodyStalled(Exception):
    """The exchange's total deadline passed while the body was still arriving."""


def transport_failure(error: BaseException, what: str, request: requests.PreparedRequest, total: float,
                      headers_in: bool, received: int) -> TargetUnavailable:
    """One `TargetUnavailable` with a precise one-line reason for whatever broke the exchange `what`
    ("GET /path") after `received` bytes of its body (`headers_in`: its headers had all come)."""
    parts = urlsplit(str(request.url))
    base = f"{parts.scheme}://{parts.netloc}"
    text = _reason(error)
    low = f"{type(error).__name__} {text} {error!r}".lower()
    if isinstance(error, BodyStalled) or (headers_in and "timed out" in low):
        if received:
            return TargetUnavailable(f"{what}: stalled: the body was not complete after {total:g} s "
                                     f"({received} bytes received)", "timeout")
        return TargetUnavailable(f"{what}: stalled: no byte of the body within {total:g} s after the headers",
                                 "timeout")
    plain_http = "wrong_version_number" in low or "record layer" in low
    if isinstance(error, requests.exceptions.SSLError) or plain_http or ("ssl" in low and "certificate" in low):
        hint = " (is the port plain http? try http://)" if plain_http else ""
        if "certificate" in low:
            hint = " (a self-signed or private CA? pass --ca-bundle, or --insecure)"
        # "[SSL: CODE] what it means", without the C source location and the nested reprs around it.
        found = re.search(r"\[SSL: \w+\] [^('\"]*?(?=\s*\(_ssl|['\"(]|$)", f"{error}")
        return TargetUnavailable(f"TLS failure talking to {base}: {found.group(0) if found else text}{hint}", "tls")
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return TargetUnavailable(f"cannot connect to {base}: no connection within {total:g} s", "timeout")
    if isinstance(error, requests.exceptions.Timeout) or "timed out" in low:
        return TargetUnavailable(f"{what}: no answer within {total:g} s (connected, no response headers)", "timeout")
    if "name or service not known" in low or "nodename nor servname" in low or "getaddrinfo" in low \
            or "name resolution" in low or "no address associated" in low:
        return TargetUnavailable(f"DNS: the name {parts.hostname} was not found "
                                 f"(is the host name in --base-url right?)", "dns")
    if headers_in:
        if "incompleteread" in low or "connection broken" in low or "ended prematurely" in low:
            return TargetUnavailable(f"{what}: the body was cut short ({received} bytes received, then the "
                                     f"connection ended)", "cut-short")
        if isinstance(error, requests.exceptions.ContentDecodingError) or "decode" in low:
            return TargetUnavailable(f"{what}: the body could not be decoded ({text})", "protocol")
        if "reset" in low:
            return TargetUnavailable(f"{what}: the connection was reset while the body was read "
                                     f"({received} bytes received)", "reset")
        return TargetUnavailable(f"{what}: the connection failed while the body was read: {text}", "reset")
    if "refused" in low:
        return TargetUnavailable(f"cannot connect to {base}: connection refused", "unreachable")
    if "reset" in low:
        return TargetUnavailable(f"{what}: the connection was reset (no answer)", "reset")
    if "aborted" in low or "remotedisconnected" in low or "without response" in low or "broken pipe" in low:
        return TargetUnavailable(f"{what}: the connection was closed without an answer", "reset")
    if isinstance(error, (requests.exceptions.ConnectionError, OSError)):
        return TargetUnavailable(f"cannot connect to {base}: {text}", "unreachable")
    return TargetUnavailable(f"{what}: the exchange failed: {text}", "protocol")


def _reason(error: BaseException) -> str:
    """The innermost readable reason of a transport error, one line, redacted, cut at a word boundary."""
    text = str(error) or type(error).__name__
    # requests nests the root cause; the innermost reason is the readable part.
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
    text = REDACT(text.strip(" ()'\"").splitlines()[0] if text.strip() else type(error).__name__)
    text = re.sub(r"<[^<>]*object at 0x[0-9a-f]+>:?\s*", "", text).strip(" ()'\":,")
    return cut_words(text, 160)
