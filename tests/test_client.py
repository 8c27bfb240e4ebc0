"""The HTTP client: redaction, curl reproduction, 429 back-off, one-line transport errors."""

import http.server
import socket
import threading

import pytest

from conformance.client import REDACT, ApiClient, ExchangeLog, RateLimited, RateLimiter, TargetSession, TargetUnavailable

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
    session = TargetSession(timeout=2, verify=True, limiter=RateLimiter(0), log=log or ExchangeLog(),
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


def test_rate_limiter_spaces_requests():
    import time
    limiter = RateLimiter(50)
    started = time.monotonic()
    for _ in range(6):
        limiter.wait()
    assert time.monotonic() - started >= 5 / 50 * 0.9
