"""Run an ASGI app under a real uvicorn on 127.0.0.1, in a thread, for the length of a test.

    with serve_app(lambda base_url: create_app(settings.replace(public_url=base_url), ...)) as url:
        httpx.get(url + "/healthz")

The socket is bound before the app is built, so the app can know its own URL
(the links it puts in emails must point back at it). `make_app` may instead return
a whole `uvicorn.Config` (as `pipeline.alerts.web.server_config` builds for `newsmon serve`);
its host and port are ignored for the bound socket.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def serve_app(make_app: Callable[[str], Any], *, host: str = "127.0.0.1") -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    base_url = f"http://{host}:{sock.getsockname()[1]}"
    made = make_app(base_url)
    config = made if isinstance(made, uvicorn.Config) else uvicorn.Config(
        made, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="uvicorn-test")
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("web test server did not start")
            time.sleep(0.01)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
