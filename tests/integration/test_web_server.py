"""`newsmon serve` as configured for production: slow clients cut off, tokens kept out of logs.

The server runs `pipeline.alerts.web.server_config` (the configuration `newsmon serve` uses) on
127.0.0.1; the attackers are raw loopback sockets. Deadlines below only bound the test.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pipeline.alerts import add_subscriber
from pipeline.alerts.tokens import UNSUBSCRIBE, subscriber_token
from pipeline.alerts.web import server_config
from pipeline.store import connect
from tests.support.webserver import serve_app

TEST_DEADLINE_S = 30.0  # how long the test waits for a close; not a performance claim


@pytest.fixture
def server(settings, db_url):
    """(settings, base URL) of the production configuration with a 1 s request deadline."""
    with serve_app(lambda url: server_config(settings.replace(public_url=url), db_url=db_url,
                                             request_timeout_s=1.0, log_level="info")) as url:
        yield settings.replace(public_url=url), url


def _connect(base_url: str) -> socket.socket:
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.settimeout(0.2)
    return sock


def _is_closed_by_server(sock: socket.socket, drip: bytes) -> bool:
    """Send `drip` a byte at a time, as a slow-loris client does, until the server hangs up."""
    deadline = time.monotonic() + TEST_DEADLINE_S
    position = 0
    while time.monotonic() < deadline:
        try:
            sock.sendall(drip[position % len(drip):][:1])
            position += 1
            if sock.recv(65536) == b"":
                return True
        except TimeoutError:
            continue  # nothing to read yet: keep dripping
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def test_a_slow_loris_is_cut_off_while_others_are_served(server) -> None:
    _, base_url = server
    lorises = [_connect(base_url) for _ in range(5)]
    for sock in lorises:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers never end

    served = httpx.get(f"{base_url}/healthz", timeout=10)
    closed = [_is_closed_by_server(sock, b"X-Slow: yes\r\n") for sock in lorises]
    for sock in lorises:
        sock.close()

    assert served.status_code == 200 and served.text == "ok"
    assert closed == [True] * 5


def test_a_kept_alive_connection_that_trickles_its_next_request_is_cut_off(server) -> None:
    _, base_url = server
    with _connect(base_url) as sock:
        sock.settimeout(10)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = sock.recv(65536)
        sock.settimeout(0.2)
        closed = _is_closed_by_server(sock, b"GET /healthz HTTP/1.1\r\nX-Slow: yes\r\n")

    assert first.startswith(b"HTTP/1.1 200")
    assert closed


def test_a_body_trickled_after_the_headers_is_cut_off(server) -> None:
    _, base_url = server
    with _connect(base_url) as sock:
        sock.sendall(b"POST /unsubscribe/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 100000\r\n\r\n")
        assert _is_closed_by_server(sock, b"a")


def test_an_unfinished_head_may_not_grow_past_the_cap(server) -> None:
    _, base_url = server
    with _connect(base_url) as sock:
        sock.settimeout(10)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 64 * 1024)
        reply = sock.recv(65536)  # well before the request deadline

    assert reply.startswith(b"HTTP/1.1 400")


def test_the_access_log_shows_no_token(server, db_url) -> None:
    settings, base_url = server
    with connect(db_url, autocommit=True) as conn:
        sub = add_subscriber(conn, email="ana@example.org", watchlists=["venezuela"])
    token = subscriber_token(settings.secret_key, sub, purpose=UNSUBSCRIBE)
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    access = logging.getLogger("uvicorn.access")
    access.addHandler(handler)
    try:
        page = httpx.get(f"{base_url}/unsubscribe/{token}?utm=1", timeout=10)
        httpx.get(f"{base_url}/preferences/{token}", timeout=10)
    finally:
        access.removeHandler(handler)

    assert page.status_code == 200
    assert any('"GET /unsubscribe/<redacted>?utm=1 HTTP/1.1" 200' in line for line in lines)
    assert any('"GET /preferences/<redacted> HTTP/1.1" 404' in line for line in lines)
    assert not [line for line in lines if token in line]


@pytest.mark.parametrize("args", [["alerts", "check"], ["alerts", "send"], ["serve", "--port", "0"]])
@pytest.mark.parametrize("key", ["change-me", "test-secret", "x" * 40])
def test_commands_that_sign_or_read_links_refuse_a_weak_key(tmp_path: Path, db_url: str,
                                                             args: list[str], key: str) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")},
           "NEWSMON_HOME": str(tmp_path / "home"), "NEWSMON_DATABASE_URL": db_url,
           "NEWSMON_SECRET_KEY": key}
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == 1
    assert "NEWSMON_SECRET_KEY is" in done.stderr and "forge" in done.stderr


def test_alerts_check_passes_a_strong_key_and_refuses_an_http_url(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")},
           "NEWSMON_HOME": str(tmp_path / "home"), "NEWSMON_PUBLIC_URL": "https://news.example"}

    def check(**extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pipeline.cli", "alerts", "check"],
                              env={**env, **extra}, capture_output=True, text=True, timeout=120,
                              check=False)

    ok = check()
    http = check(NEWSMON_PUBLIC_URL="http://news.example")

    assert ok.returncode == 0, ok.stderr
    assert http.returncode == 1 and "is http; unsubscribe links must be https" in http.stderr
