"""Secrets out of everything the run writes: one redactor, shared by every output, and text cut at a word."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"
# Headers that carry credentials, redacted by name whatever their value.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
                                "x-auth-token", "proxy-authenticate", "www-authenticate"})


class Redactor:
    """Replaces every registered secret in text, whatever its length, in one pass (a short secret cannot
    match inside the marker of a longer one). Shared by everything that writes output."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, *secrets: str | None) -> None:
        self._secrets.update(s for s in secrets if s)
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None

    def with_secrets(self, *secrets: str | None) -> "Redactor":
        """A redactor of these secrets and every one of this redactor's."""
        both = Redactor()
        both.add(*self._secrets, *secrets)
        return both

    def __call__(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern is not None else text

    def cut(self, text: str, limit: int) -> str:
        """Redacted, then cut to `limit` characters: a secret straddling the cut cannot survive in part."""
        text = self(text)
        return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


#: The run's redactor: the plugin registers the configured tokens before anything is sent.
REDACT = Redactor()


def redact_headers(headers: Any) -> dict[str, str]:
    """Header values with secrets redacted; credential headers redacted by name."""
    return {str(k): REDACTED if str(k).lower() in CREDENTIAL_HEADERS else REDACT(str(v)) for k, v in headers.items()}


def cut_words(text: str, limit: int) -> str:
    """At most `limit` characters (and a few more to close brackets), cut at a word boundary."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:([")
    opened = cut.count("(") - cut.count(")")
    return cut + "..." + ")" * max(opened, 0)
