"""A hostile Calls API target for the project's own tests: a small raw-socket HTTP server on a loopback
address whose misbehaviour is chosen per case.

It answers its first `good_first` requests like a plausible (empty) deployment, then turns bad the way
`behaviour` says: slow answers, a stall after the headers, a body dripped byte by byte or cut short,
connection resets, an endless body, garbage bodies, redirects, 503, 429, the token echoed back at
chosen offsets, or answers that break HTTP framing (content after a 204 or a 304, a short Content-Length). Raw sockets, because a well-behaved HTTP library will not misbehave on demand.
"""

from __future__ import annotations

import http.client
import json
import socket
import socketserver
import struct
import threading
from typing import Any

ACCOUNT = "6a0f1c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
UNKNOWN = json.dumps({"msg": "call not found"}).encode()

BEHAVIOURS = ("good", "slow", "stall", "drip", "drip-headers", "cut-short", "reset", "endless", "html", "text-type", "bad-utf8",
              "deep", "redirect", "unavailable", "rate-limited", "echo", "body-after-204", "body-on-304",
              "length-short")


class Hostile:
    """`Hostile("stall", good_first=1).start()`; `base_url`, `requests` (how many it received), `connections`
    (how many it accepted), `stop()`."""

    def __init__(self, behaviour: str, *, good_first: int = 0, host: str = "127.0.0.1", token: str = "",
                 every: int = 3, redirect_to: str = "", offsets: list[int] | None = None, delay: float = 30.0,
                 body_bytes: int = 2 * 1024**3, upstream: str = "", retry_after: int = 3600) -> None:
        assert behaviour in BEHAVIOURS, behaviour
        self.behaviour, self.good_first, self.token, self.every = behaviour, good_first, token, every
        self.redirect_to, self.offsets, self.delay, self.body_bytes = redirect_to, offsets or [0], delay, body_bytes
        self.retry_after = retry_after
        self.upstream = upstream  # a server whose answers are the good ones (else canned answers of an empty one)
        self.requests = 0
        self.connections = 0
        self.sent_bytes = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._local = threading.local()  # the body of the request a connection thread is answering
        hostile = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                hostile._serve(self.request)

        self._server = socketserver.ThreadingTCPServer((host, 0), Handler, bind_and_activate=False)
        self._server.daemon_threads = True
        self._server.allow_reuse_address = True
        self._server.server_bind()
        self._server.server_activate()
        self.host, self.port = host, self._server.server_address[1]
        self.base_url = f"http://{host}:{self.port}/v1"

    def start(self) -> "Hostile":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "Hostile":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- one connection: requests one after another (keep-alive) ---------------------------------------
    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        with self._lock:
            self.connections += 1
        buffer = b""
        try:
            while not self._closing.is_set():
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                    if buffer.startswith(b"\x16"):  # a TLS handshake: answered in plain HTTP, as such a port does
                        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                        return
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                length = int(headers.get("content-length", "0") or 0)
                while len(buffer) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                self._local.body, buffer = buffer[:length], buffer[length:]
                with self._lock:
                    index = self.requests
                    self.requests += 1
                if not self._answer(conn, index, method, path, headers):
                    return
        except OSError:
            return

    def _send(self, conn: socket.socket, status: int, body: bytes = b"", ctype: str = "application/json",
              extra: dict[str, str] | None = None, length: int | None = None) -> None:
        head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body) if length is None else length}"]
        if ctype:
            head.append(f"Content-Type: {ctype}")
        head += [f"{k}: {v}" for k, v in (extra or {}).items()]
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def _good(self, conn: socket.socket, method: str, path: str, headers: dict[str, str]) -> bool:
        """The upstream's answer; without one, those of an empty deployment (an empty list, no call known,
        every create refused)."""
        if self.upstream:
            return self._forward(conn, method, path, headers)
        if not headers.get("authorization", "").startswith("Bearer "):
            self._send(conn, 401, b'{"msg": "unauthorized"}')
        elif method == "GET" and path.split("?")[0].rstrip("/").endswith("/Calls"):
            self._send(conn, 200, b"[]")
        elif method == "POST":
            self._send(conn, 400, b'{"msg": "invalid request"}')
        else:
            self._send(conn, 404, UNKNOWN)
        return True

    def _forward(self, conn: socket.socket, method: str, path: str, headers: dict[str, str]) -> bool:
        host = self.upstream.split("//", 1)[1].split("/", 1)[0]
        upstream = http.client.HTTPConnection(host, timeout=30)
        sent = {k: v for k, v in headers.items() if k in ("authorization", "content-type", "accept")}
        upstream.request(method, path, body=self._local.body or None, headers=sent)
        answer = upstream.getresponse()
        body = answer.read()
        upstream.close()
        extra = {k: v for k, v in answer.getheaders() if k.lower() not in ("content-length", "content-type",
                                                                           "connection", "transfer-encoding")}
        self._send(conn, answer.status, body, answer.getheader("content-type") or "", extra)
        return True

    def _answer(self, conn: socket.socket, index: int, method: str, path: str, headers: dict[str, str]) -> bool:
        """Answer one request; False closes the connection."""
        bad = self.behaviour
        if index < self.good_first or bad == "good":
            return self._good(conn, method, path, headers)
        if bad == "slow":
            self._closing.wait(self.delay)
            return self._good(conn, method, path, headers)
        if bad == "stall":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n")
            self._closing.wait(600)
            return False
        if bad == "drip":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
            for _ in range(1000):
                if self._closing.wait(0.3):
                    return False
                conn.sendall(b" ")
            return False
        if bad == "drip-headers":
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"x" * 1000:
                if self._closing.wait(0.3):
                    return False
                conn.sendall(bytes([byte]))
            return False
        if bad == "cut-short":
            self._send(conn, 200, b'[{"call_sid": ', length=1000)
            return False
        if bad == "reset":
            if index % self.every == 0:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()  # RST: the connection reset by peer
                return False
            return self._good(conn, method, path, headers)
        if bad == "endless":
            return self._endless(conn)
        if bad == "body-after-204":
            return self._body_after_204(conn)
        if bad == "body-on-304":  # no Content-Length: the body follows the header section at once
            conn.sendall(b"HTTP/1.1 304 Not Modified\r\n\r\n" + UNKNOWN)
        elif bad == "length-short":
            self._send(conn, 200, b"[]", length=1)
            return True
        if bad == "html":
            self._send(conn, 200, b"<html><body>Please log in</body></html>", "text/html")
        elif bad == "text-type":
            self._send(conn, 200, b"[]" if method == "GET" else b"{}", "text/plain")
        elif bad == "bad-utf8":
            self._send(conn, 200, b'[{"call_sid": "\xff\xfe\xc3"}]')
        elif bad == "deep":
            self._send(conn, 200 if method == "GET" else 201, b"[" * 100_000 + b"]" * 100_000)
        elif bad == "redirect":
            self._send(conn, 307, b"", "", {"Location": self.redirect_to + path})
        elif bad == "unavailable":
            self._send(conn, 503, b'{"msg": "service unavailable"}')
        elif bad == "rate-limited":
            self._send(conn, 429, b'{"msg": "slow down"}', extra={"Retry-After": str(self.retry_after)})
        elif bad == "echo":
            self._echo(conn, index, method, path, headers)
        return True

    def _body_after_204(self, conn: socket.socket) -> bool:
        """A 204 announcing a body, whose body comes only when the client sends its next request on the same
        connection: it then reads that body where its next answer's status line should be."""
        conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 17\r\n\r\n")
        try:
            if not conn.recv(65536):
                return False  # the client closed the connection: nothing to poison
        except OSError:
            return False
        with self._lock:
            self.requests += 1
        conn.sendall(b'{"msg":"deleted"}HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]')
        return True

    def _endless(self, conn: socket.socket) -> bool:
        """A list answer of `body_bytes` (2 GB by default): sent until the client stops reading."""
        item = (json.dumps({"call_sid": "9f1c2e3b-4d5e-4f60-8a7b-8c9d0e1f2a3b", "call_status": "completed"})
                + ",").encode()
        chunk = item * (65536 // len(item))
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {self.body_bytes}\r\n\r\n[".encode())
        sent = 1
        while sent < self.body_bytes and not self._closing.is_set():
            conn.sendall(chunk)
            sent += len(chunk)
            self.sent_bytes += len(chunk)
        return False

    def _echo(self, conn: socket.socket, index: int, method: str, path: str, headers: dict[str, str]) -> None:
        """The caller's token echoed in a header and in the body, at the next of the chosen offsets."""
        token = headers.get("authorization", "").removeprefix("Bearer ") or self.token
        offset = self.offsets[index % len(self.offsets)]
        text = "x" * offset + token + "y" * 50
        extra = {"X-Echo": token, "Set-Cookie": f"session={token}"}
        if method == "GET" and path.split("?")[0].rstrip("/").endswith("/Calls"):
            body = json.dumps([{"call_sid": text, "call_status": text}]).encode()
            self._send(conn, 200, body, extra=extra)
        else:
            self._send(conn, 400 if method == "POST" else 404, json.dumps({"msg": text}).encode(), extra=extra)
