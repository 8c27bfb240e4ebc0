"""Running the reference server: uvicorn in a background thread, on a socket bound before it starts."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from conformance.reference.app import API_PREFIX, READY_CHECK_PATH, create_app
from conformance.reference.clock import Clock
from conformance.reference.settings import Account, ReferenceSettings
from conformance.reference.wire import WireProtocol

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


class ReferenceStartError(RuntimeError):
    """The server could not bind its address or did not come up in time."""


class RunningReference:
    """A reference server serving in a background thread. Stop it with `stop()` or a `with` block."""

    def __init__(self, settings: ReferenceSettings, app: Starlette, server: uvicorn.Server,
                 thread: threading.Thread, sock: socket.socket) -> None:
        self.settings = settings
        self.app = app
        self._server = server
        self._thread = thread
        self._socket = sock
        host, port = sock.getsockname()[:2]
        self.host: str = host
        self.port: int = port
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{port}{API_PREFIX}"

    @property
    def accounts(self) -> list[Account]:
        return list(self.settings.accounts)

    @property
    def unexpected_errors(self) -> int:
        """How many requests reached the last-resort 500 handler (always 0 for a sound server)."""
        return int(self.app.state.unexpected_errors)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop serving and wait for the thread to end. Safe to call more than once."""
        self._server.should_exit = True
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(STOP_TIMEOUT)
            if self._thread.is_alive():  # connections that will not close: do not wait for them
                self._server.force_exit = True
                self._thread.join(STOP_TIMEOUT)
        try:
            self._socket.close()
        except OSError:
            pass

    def __enter__(self) -> "RunningReference":
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        what = self.settings.fault or self.settings.variant or "conformant"
        return f"RunningReference({self.base_url}, {what})"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio turns Nagle off only on sockets that say they are TCP; without it every
    # keep-alive answer waits ~40 ms on the peer's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise ReferenceStartError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    sock.setblocking(False)
    return sock


def start_reference(settings: ReferenceSettings | None = None, clock: Clock | None = None) -> RunningReference:
    """Start a reference server and return once it answers requests."""
    settings = settings or ReferenceSettings()
    app = create_app(settings, clock)
    sock = _bind(settings.host, settings.port)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", http=WireProtocol,
                            ws="none", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as error:  # reported to the starting thread
            failure.append(error)

    thread = threading.Thread(target=serve, name=f"reference-server-{sock.getsockname()[1]}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if failure or not thread.is_alive():
            sock.close()
            raise ReferenceStartError(f"the reference server did not start: {failure[0] if failure else 'exited'}")
        if time.monotonic() > deadline:
            server.should_exit = True
            thread.join(STOP_TIMEOUT)
            sock.close()
            raise ReferenceStartError(f"the reference server did not start within {START_TIMEOUT:.0f} s")
        time.sleep(0.01)
    running = RunningReference(settings, app, server, thread, sock)
    _wait_until_answering(running, deadline)
    return running


def _wait_until_answering(running: RunningReference, deadline: float) -> None:
    """Ready check: a TCP connection and an HTTP answer from the server itself."""
    request = f"GET {READY_CHECK_PATH} HTTP/1.1\r\nHost: {running.host}\r\nConnection: close\r\n\r\n".encode()
    while True:
        try:
            with socket.create_connection((running.host, running.port), timeout=1.0) as conn:
                conn.sendall(request)
                if conn.recv(12).startswith(b"HTTP/1.1 "):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            running.stop()
            raise ReferenceStartError("the reference server does not answer")
        time.sleep(0.02)
