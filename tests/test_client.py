"""The HTTP client: redaction, curl reproduction, 429 back-off, one-line transport errors."""

import http.server
import socket
import threading
import time

import pytest
import requests

from conformance.deployment.api import MAX_JSON_DEPTH, ApiClient, BodyUnusable, loads_bounded
from conformance.deployment.exchange import MAX_BODY_CHARS, ExchangeLog
from conformance.deployment.failures import RateLimited, TargetFailed, TargetUnavailable
from conformance.deployment.guard import Breaker
from conformance.deployment.pacing import Pacer
from conformance.deployment.redaction import REDACT, REDACTED, Redactor
from conformance.deployment.transport import KEPT_OVER_CAP, TargetSession
from hostile import Hostile

TOKEN = "secret-token-5b7e1c0a-93d4"


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers each request with the next (status, headers, body) of the server's script."""

    def _answer(self):
        status, headers, body = self.server.script.pop(0) if self.server.script else (200, {}, b"[]")
        self.server.seen.append((self.command, self.path, dict(self.headers)))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    httpd.script, httpd.seen = [], []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


def client_for(base_url, log=None, token=TOKEN):
    REDACT.add(TOKEN)
    session = TargetSession(timeout=2, verify=True, pacer=Pacer(), log=log or ExchangeLog(),
                            token_envs={TOKEN: "CALLS_API_TOKEN"}, max_429_retries=2)
    return ApiClient(base_url, "acct", token, session)


def test_exchange_redacts_the_token_everywhere_and_curl_names_its_variable(server):
    echo = ('{"msg": "bad token %s"}' % TOKEN).encode()
    server.script.append((400, {"Content-Type": "application/json", "X-Echo": TOKEN}, echo))
    response = client_for(f"http://127.0.0.1:{server.server_port}/v1").create_call({"from": "+1", "note": TOKEN})
    exchange = response.exchange
    text = exchange.as_text() + exchange.curl() + exchange.describe()
    assert TOKEN not in text
    assert "[REDACTED]" in text
    assert '"Authorization: Bearer $CALLS_API_TOKEN"' in exchange.curl()
    assert server.seen[0][2]["Authorization"] == f"Bearer {TOKEN}"  # the real token was sent


def test_a_made_up_token_is_shown_in_the_curl_command(server):
    client = client_for(f"http://127.0.0.1:{server.server_port}/v1")
    response = client.list_calls(authorization="Bearer not-a-real-token")
    assert "Authorization: Bearer not-a-real-token" in response.exchange.curl()


def test_429_is_retried_after_the_servers_retry_after(server):
    server.script += [(429, {"Retry-After": "0"}, b""), (429, {}, b""), (200, {"Content-Type": "application/json"}, b"[]")]
    log = ExchangeLog()
    response = client_for(f"http://127.0.0.1:{server.server_port}/v1", log=log).list_calls()
    assert response.status == 200
    assert log.total == 3


def test_persistent_429_is_reported_as_rate_limited_not_as_a_response(server):
    server.script += [(429, {"Retry-After": "0"}, b"")] * 5
    with pytest.raises(RateLimited):
        client_for(f"http://127.0.0.1:{server.server_port}/v1").list_calls()


def test_unreachable_target_is_one_line():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TargetUnavailable) as error:
        client_for(f"http://127.0.0.1:{port}/v1").list_calls()
    message = str(error.value)
    assert message.startswith(f"cannot connect to http://127.0.0.1:{port}")
    assert "\n" not in message and len(message) < 300


# --- hostile answers: bounded exchanges, one failure class, redaction that cannot be cut -------------


def hostile_client(target, *, timeout=1.0, budget=None, max_body_bytes=1024 * 1024, on_wait=None):
    REDACT.add(TOKEN)
    session = TargetSession(timeout=timeout, verify=True, pacer=Pacer(), log=ExchangeLog(),
                            token_envs={TOKEN: "CALLS_API_TOKEN"}, max_429_retries=2, max_body_bytes=max_body_bytes,
                            budget=budget, on_wait=on_wait)
    return ApiClient(target.base_url, "acct", TOKEN, session)


@pytest.mark.parametrize("behaviour", ["stall", "drip", "drip-headers"])
def test_a_stall_or_a_drip_is_a_timeout_within_the_exchange_deadline(behaviour):
    with Hostile(behaviour) as target:
        started = time.monotonic()
        with pytest.raises(TargetUnavailable) as error:
            hostile_client(target).list_calls()
        elapsed = time.monotonic() - started
    assert error.value.kind == "timeout"
    assert "cannot connect" not in str(error.value)
    assert ("headers were still arriving" if behaviour == "drip-headers" else "stalled: ") in str(error.value)
    assert elapsed < 10  # bounded by the one-second deadline, not by the 300 s of dripping


def test_a_body_cut_short_is_a_transport_failure_not_a_crash():
    with Hostile("cut-short") as target, pytest.raises(TargetUnavailable) as error:
        hostile_client(target).list_calls()
    assert error.value.kind == "cut-short"
    assert "the body was cut short" in str(error.value)


@pytest.mark.parametrize("behaviour,framing", [
    ("body-after-204", "a 204 answer announces content (Content-Length: 17)"),
    ("body-on-304", "25 bytes came after its header section"),
    ("length-short", "1 bytes came after the content its Content-Length announces: b']'"),
])
def test_an_answer_that_breaks_framing_is_noted_and_the_next_request_gets_a_fresh_connection(behaviour, framing):
    with Hostile(behaviour) as target:
        api = hostile_client(target)
        first, second = api.delete_call("c1"), api.delete_call("c2")  # no answer is read from the rest of another
        connections = target.connections
    assert framing in first.exchange.framing
    assert second.status == first.status and second.exchange.framing == first.exchange.framing
    assert connections == 2


def test_well_framed_answers_keep_their_connection():
    with Hostile("good") as target:
        api = hostile_client(target)
        answers = [api.list_calls(), api.get_call("c1"), api.list_calls()]
        connections = target.connections
    assert [a.exchange.framing for a in answers] == [None, None, None]
    assert connections == 1


def test_a_reset_connection_is_one_line():
    with Hostile("reset", every=1) as target, pytest.raises(TargetUnavailable) as error:
        hostile_client(target).list_calls()
    assert error.value.kind == "reset"
    assert "\n" not in str(error.value) and "Error(" not in str(error.value)


def test_a_body_over_the_cap_is_not_read_further_and_is_no_usable_answer():
    with Hostile("endless") as target:
        response = hostile_client(target, max_body_bytes=256 * 1024).list_calls()
        sent = target.sent_bytes
    assert response.status == 200
    assert response.truncated == 256 * 1024 and len(response.content) == KEPT_OVER_CAP  # its start, for the report
    assert sent < 64 * 1024 * 1024  # the connection was dropped, not drained: 2 GB were on offer
    with pytest.raises(BodyUnusable, match="larger than 262144 bytes"):
        response.json()
    assert response.success_json() is None
    assert "cap" in response.exchange.response_body and len(response.exchange.response_body) < MAX_BODY_CHARS + 200


def test_json_nested_too_deep_is_a_value_error_never_a_recursion_error():
    with pytest.raises(ValueError, match=f"not valid JSON for this API: nested deeper than {MAX_JSON_DEPTH}"):
        loads_bounded(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ValueError, match="nested deeper"):
        loads_bounded("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    assert loads_bounded("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None
    with Hostile("deep") as target:
        response = hostile_client(target).list_calls()
    with pytest.raises(ValueError, match="nested deeper"):
        response.json()


def test_five_failed_exchanges_in_a_row_trip_the_breaker_and_later_requests_fail_fast():
    said = []
    with Hostile("cut-short") as target:
        client = hostile_client(target, on_wait=said.append)
        for _ in range(Breaker.FAILURES):
            with pytest.raises(TargetUnavailable):
                client.list_calls()
        sent = target.requests
        with pytest.raises(TargetFailed) as error:
            client.list_calls()
        assert target.requests == sent  # nothing more was sent
    assert error.value.kind == "stopped-answering"
    assert str(error.value) == f"target stopped answering after {Breaker.FAILURES} requests: 5 failed exchanges in a row"
    assert said == [str(error.value)]  # said once, as it happened


def test_a_storm_of_503_trips_the_breaker_but_500_does_not():
    breaker = Breaker()
    assert not any(breaker.answered(500) for _ in range(100))
    assert [breaker.answered(503) for _ in range(Breaker.UNAVAILABLE)][-1] == "20 answers in a row of 429/502/503/504"


def test_the_run_budget_stops_the_session():
    with Hostile("good") as target:
        client = hostile_client(target, budget=0.5)
        assert client.list_calls().status == 200
        time.sleep(0.6)
        with pytest.raises(TargetFailed) as error:
            client.list_calls()
    assert error.value.kind == "run-budget"


def test_a_retry_after_beyond_the_run_budget_gives_up_at_once_and_a_wait_is_announced():
    with Hostile("rate-limited") as target:
        started = time.monotonic()
        with pytest.raises(RateLimited, match="would outlast the run budget"):
            hostile_client(target, budget=30).list_calls()
        assert time.monotonic() - started < 5
    said = []
    with Hostile("rate-limited", retry_after=1) as target, pytest.raises(RateLimited):
        hostile_client(target, on_wait=said.append).list_calls()
    assert said == ["rate limited, waiting 1 s (Retry-After), 2 tries left",
                    "rate limited, waiting 1 s (Retry-After), 1 try left"]


@pytest.mark.parametrize("limit", [600, MAX_BODY_CHARS])
def test_a_token_is_redacted_at_every_offset_around_every_cut(server, limit):
    """The token placed at each offset where a kept body or a described one is cut: no piece of it survives."""
    pieces = {TOKEN[i:i + 4] for i in range(len(TOKEN) - 3)}
    client = client_for(f"http://127.0.0.1:{server.server_port}/v1")
    offsets = range(limit - len(TOKEN) - 12, limit + 2)
    server.script += [(400, {"Content-Type": "application/json"}, ("x" * k + TOKEN + "y" * 40).encode())
                      for k in offsets]
    for _ in offsets:
        exchange = client.create_call({"from": "+1"}).exchange
        for text in (exchange.as_text(), exchange.describe(), exchange.curl()):
            assert not [p for p in pieces if p in text], text[-200:]


def test_cut_text_is_redacted_before_it_is_cut():
    redactor = Redactor()
    redactor.add("s3cr3t-token")
    for k in range(0, 30):
        text = redactor.cut("a" * k + "s3cr3t-token" + "b" * 30, 20)
        assert "s3cr" not in text and "3t-t" not in text


def test_a_secret_of_any_length_is_redacted_in_one_pass():
    redactor = Redactor()
    redactor.add("E", "abcd")
    # One pass: the short secret does not eat into the marker of the long one.
    assert redactor("xabcdyE") == f"x{REDACTED}y{REDACTED}"


def test_credential_headers_are_redacted_by_name(server):
    server.script.append((200, {"Content-Type": "application/json", "Set-Cookie": "session=abc123",
                                "WWW-Authenticate": "Bearer realm=x"}, b"[]"))
    exchange = client_for(f"http://127.0.0.1:{server.server_port}/v1").list_calls().exchange
    assert exchange.response_headers["set-cookie"] == REDACTED
    assert "abc123" not in exchange.as_text()


def test_a_long_transport_reason_is_cut_at_a_word_with_its_brackets_closed():
    from conformance.deployment.redaction import cut_words

    text = "TLS failure (" + " ".join(["word"] * 80) + ")"
    cut = cut_words(text, 100)
    assert len(cut) <= 105 and cut.endswith("...)") and not cut.endswith("wor...)")


def test_https_to_a_plain_http_port_says_so_in_one_line_with_a_hint():
    with Hostile("good") as target:
        target.base_url = target.base_url.replace("http://", "https://")
        with pytest.raises(TargetUnavailable) as error:
            hostile_client(target).list_calls()
    message = str(error.value)
    assert error.value.kind == "tls"
    assert message.endswith("(is the port plain http? try http://)") and "\n" not in message
    assert "SSLError(" not in message and "_ssl.c" not in message


def test_an_unknown_host_name_is_a_dns_failure():
    class Nowhere:
        base_url = "http://calls-api.invalid/v1"

    with pytest.raises(TargetUnavailable) as error:
        hostile_client(Nowhere).list_calls()
    assert error.value.kind == "dns"
    assert str(error.value).startswith("DNS: the name calls-api.invalid was not found")


def test_a_request_without_a_token_carries_no_netrc_credentials(server, tmp_path, monkeypatch):
    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login someone password netrc-secret\n")
    (tmp_path / ".netrc").chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
    client_for(f"http://127.0.0.1:{server.server_port}/v1", token=None).list_calls()
    assert "Authorization" not in server.seen[0][2]


def test_the_environment_proxy_is_used_and_read_once_per_origin(server, monkeypatch):
    # The scripted server plays the proxy: a request through a proxy names the whole URL.
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = client_for("http://calls.example.invalid/v1")
    reads = []
    original = requests.Session.merge_environment_settings
    monkeypatch.setattr(requests.Session, "merge_environment_settings",
                        lambda self, *args: reads.append(args[0]) or original(self, *args))
    client.list_calls()
    client.get_call("00000000-0000-4000-8000-000000000000")
    assert [path for _, path, _ in server.seen] == [
        "http://calls.example.invalid/v1/Accounts/acct/Calls",
        "http://calls.example.invalid/v1/Accounts/acct/Calls/00000000-0000-4000-8000-000000000000"]
    assert len(reads) == 1
