"""exchanges.har: every exchange of the run as a HAR 1.2 file, which browser developer tools, Burp, Charles
and Fiddler open. Each entry's `_id` is the exchange's number in the run: the "exchange #N" a failure names.

The exchanges are the run's History (conformance/evidence/history.py) as the run keeps them: secrets already
redacted, bodies already cut to MAX_BODY_CHARS. The whole file is scrubbed of the run's secrets once more
before it is written, like every other report file.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from conformance import __version__
from conformance.deployment.exchange import MAX_BODY_CHARS, Exchange
from conformance.evidence.history import History, Record

FILE = "exchanges.har"
HTTP_VERSION = "HTTP/1.1"  # the only version the client (requests) speaks


def write(reports_dir: Path, history: History, scrub: Callable[[str], str] = str) -> Path:
    """Write the run's exchanges into `reports_dir`; `scrub` takes the run's secrets out of the whole text."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / FILE
    text = json.dumps(har_document(history.records(), history.dropped), indent=1, ensure_ascii=False)
    path.write_text(scrub(text) + "\n", encoding="utf-8")
    return path


def har_document(records: list[Record], dropped: int = 0) -> dict[str, Any]:
    """The HAR 1.2 document of `records`, in the order they were sent; `dropped`: exchanges not kept."""
    log: dict[str, Any] = {"version": "1.2", "creator": {"name": "calls-conformance", "version": __version__}}
    if dropped:
        log["comment"] = (f"{dropped} later exchanges of the run are not in this file: the run keeps its first "
                          f"{len(records)}")
    # One offset from monotonic to wall-clock time for the whole run, so that the start times keep the
    # order the exchanges were sent in (each record's own `wall` would jitter by a fraction of a millisecond).
    offset = records[0].wall - records[0].received if records else 0.0
    log["entries"] = [_entry(r, r.sent + offset) for r in sorted(records, key=lambda r: r.sent)]
    return {"log": log}


def _entry(record: Record, started: float) -> dict[str, Any]:
    exchange = record.exchange
    elapsed = round(exchange.elapsed_ms, 3)
    entry = {
        "_id": record.index,
        "startedDateTime": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="milliseconds"),
        "time": elapsed,
        "request": _request(exchange),
        "response": _response(exchange),
        "cache": {},
        # HAR wants send, wait and receive non-negative; the run measures only the whole exchange.
        "timings": {"send": 0, "wait": elapsed, "receive": 0},
    }
    if exchange.status is None:
        entry["comment"] = f"failed: {exchange.error or 'no answer'}"
    return entry


def _request(exchange: Exchange) -> dict[str, Any]:
    body = exchange.request_body
    request = {
        "method": exchange.method,
        "url": exchange.url,
        "httpVersion": HTTP_VERSION,
        "cookies": [],
        "headers": _pairs(exchange.request_headers.items()),
        "queryString": _pairs(parse_qsl(urlsplit(exchange.url).query, keep_blank_values=True)),
        "headersSize": -1,
        "bodySize": 0 if body is None else -1 if _cut(body) else len(body.encode("utf-8")),
    }
    if body is not None:
        request["postData"] = {"mimeType": _header(exchange.request_headers, "content-type"), "text": body}
        if _cut(body):
            request["postData"]["comment"] = f"body cut: the run keeps its first {MAX_BODY_CHARS} characters"
    return request


def _response(exchange: Exchange) -> dict[str, Any]:
    body = exchange.response_body if exchange.status is not None else ""
    cut = exchange.over_cap is not None or _cut(body)
    size = len(body.encode("utf-8"))
    content: dict[str, Any] = {"size": size, "mimeType": _header(exchange.response_headers, "content-type"),
                               "text": body}
    if exchange.over_cap is not None:
        content["comment"] = f"body cut: over the {exchange.over_cap}-byte cap, not read to its end"
    elif cut:
        content["comment"] = f"body cut: the run keeps its first {MAX_BODY_CHARS} characters"
    response = {
        "status": exchange.status or 0,  # 0: no answer (HAR's convention for a failed request)
        "statusText": exchange.reason if exchange.status is not None else "",
        "httpVersion": HTTP_VERSION if exchange.status is not None else "",
        "cookies": [],
        "headers": _pairs(exchange.response_headers.items()),
        "content": content,
        "redirectURL": _header(exchange.response_headers, "location"),
        "headersSize": -1,
        "bodySize": -1 if cut else size,
    }
    if exchange.status is None:
        response["_error"] = exchange.error or "no answer"
    return response


def _cut(body: str) -> bool:
    """Whether the run cut this body: a kept body is at most MAX_BODY_CHARS long, a cut one carries a note."""
    return len(body) > MAX_BODY_CHARS


def _pairs(items: Any) -> list[dict[str, str]]:
    return [{"name": str(name), "value": str(value)} for name, value in items]


def _header(headers: dict[str, str], name: str) -> str:
    return next((value for key, value in headers.items() if key.lower() == name), "")
