"""A real HTTP server on 127.0.0.0/8 for tests: canned replies, a request log, slow answers.

    with LoopbackServer({"/feed.xml": (200, {"content-type": "application/rss+xml"}, xml)}) as srv:
        ... fetch srv.url("/feed.xml") ...
        assert srv.count("/feed.xml") == 1

A route maps a path (or a path with its query string, which wins) to a `Reply`, a
`(status, headers, body)` tuple, or a handler `fn(request: RecordedRequest) -> Reply | tuple`.
Unknown paths answer 404. Each server records every request it received and the largest
number of requests it was answering at once; several servers can share one `InFlight`
counter to observe a global cap. Bind a second server to 127.0.0.2 to get a second "host".

For pytest, `loopback` is a factory fixture: register it with
`pytest_plugins = ["tests.support.loopback"]` in a conftest, or use the class directly.
"""

from __future__ import annotations

import itertools
import select
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import pytest


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """What the server sends for one request, and how slowly."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay_s: float = 0.0  # wait before the status line
    hang: bool = False  # never answer (until the client leaves or the server stops)
    trickle_s: float = 0.0  # pause between body chunks
    chunk_size: int = 1  # body chunk size when trickling
    send_length: bool = True  # False: no Content-Length, body ends when the connection closes


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str  # request target as sent, query string included
    headers: dict[str, str]  # lower-case names
    started_at: float  # time.monotonic() when the request line was read
    host: str  # the server address that received it
    body: bytes = b""  # what a POST or PUT sent (Content-Length bodies only)
    client_port: int = 0  # the client's end of the connection: same port, same connection


Route = Reply | tuple[int, Mapping[str, str], bytes] | Callable[[RecordedRequest], Any]


def as_reply(value: Reply | tuple[int, Mapping[str, str], bytes]) -> Reply:
    if isinstance(value, Reply):
        return value
    status, headers, body = value
    return Reply(status=status, headers=headers, body=body)


def replies_in_turn(*replies: Reply | tuple[int, Mapping[str, str], bytes]) -> Callable[..., Reply]:
    """A handler giving each reply in turn, then repeating the last (e.g. 503, 503, 200)."""
    counter = itertools.count()
    lock = threading.Lock()

    def handler(_request: RecordedRequest) -> Reply:
        with lock:
            n = next(counter)
        return as_reply(replies[min(n, len(replies) - 1)])

    return handler


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status=status, headers={"location": location})


class InFlight:
    """Counts requests being answered right now and remembers the peak."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current = 0
        self.peak = 0

    def __enter__(self) -> None:
        with self._lock:
            self.current += 1
            self.peak = max(self.peak, self.current)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.current -= 1


class LoopbackServer:
    def __init__(
        self,
        routes: Mapping[str, Route] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,  # 0: any free port
        in_flight: InFlight | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if not host.startswith("127."):
            raise ValueError("loopback: tests serve from 127.0.0.0/8 only")
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[RecordedRequest] = []
        self.in_flight = InFlight()
        self.shared_in_flight = in_flight
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._httpd = _QuietServer((host, port), _handler_class(self))
        self.scheme = "https" if tls else "http"
        if tls:  # every accepted connection speaks TLS (the handshake runs in accept)
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self.host, self.port = self._httpd.server_address[:2]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # releases hanging and trickling handlers
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests read -----------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    @property
    def max_in_flight(self) -> int:
        return self.in_flight.peak

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def count(self, path: str) -> int:
        return len(self.requests_to(path))

    # -- used by the handler -----------------------------------------------------------
    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def reply_for(self, request: RecordedRequest) -> Reply:
        route = self.routes.get(request.path) or self.routes.get(request.path.split("?")[0])
        if route is None:
            return Reply(status=404, body=b"not found")
        if callable(route):
            return as_reply(route(request))
        return as_reply(route)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # a client dropping a keep-alive connection is normal, not a test failure
        super().handle_error(request, client_address)


def _handler_class(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like real servers
        timeout = 30  # an idle keep-alive connection frees its thread eventually

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

        def do_GET(self) -> None:
            started_at = time.monotonic()
            length = self.headers.get("content-length", "")
            # Read before answering, or an unread body would be taken for the next request
            # on this keep-alive connection.
            body = self.rfile.read(int(length)) if length.isdigit() else b""
            request = RecordedRequest(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                started_at=started_at,
                host=server.host,
                body=body,
                client_port=self.client_address[1],
            )
            server.record(request)
            with server.in_flight, server.shared_in_flight or nullcontext():
                try:
                    self._answer(server.reply_for(request))
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    self.close_connection = True  # the client gave up; fine

        do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

        def _answer(self, reply: Reply) -> None:
            if reply.hang:
                self._wait(None)
                self.close_connection = True
                return
            if reply.delay_s and not self._wait(reply.delay_s):
                self.close_connection = True
                return
            self.send_response(reply.status)
            names = {k.lower() for k in reply.headers}
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if not reply.send_length:
                self.send_header("connection", "close")
                self.close_connection = True
            elif "content-length" not in names:
                self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            if self.command == "HEAD":
                return
            self._send_body(reply)

        def _send_body(self, reply: Reply) -> None:
            if not reply.trickle_s:
                self.wfile.write(reply.body)
                return
            for start in range(0, len(reply.body), reply.chunk_size):
                self.wfile.write(reply.body[start : start + reply.chunk_size])
                self.wfile.flush()
                if not self._wait(reply.trickle_s):
                    self.close_connection = True
                    return

        def _wait(self, seconds: float | None) -> bool:
            """Sleep; False as soon as the client hangs up or the server stops."""
            deadline = None if seconds is None else time.monotonic() + seconds
            while not server.stopping.is_set():
                left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
                if left <= 0:
                    return True
                if self._client_gone(left):
                    return False
            return False

        def _client_gone(self, wait_s: float) -> bool:
            readable, _, _ = select.select([self.connection], [], [], wait_s)
            if not readable:
                return False
            try:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                return True

    return Handler


@pytest.fixture
def loopback() -> Iterator[Callable[..., LoopbackServer]]:
    """Factory fixture: `srv = loopback(routes, host="127.0.0.2")`; all stopped at teardown."""
    servers: list[LoopbackServer] = []

    def start(routes: Mapping[str, Route] | None = None, **options: Any) -> LoopbackServer:
        server = LoopbackServer(routes, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
