"""`newsmon serve`: the small web app behind the links in every email.

- `POST /unsubscribe/{token}`: one-click unsubscribe (RFC 8058). Mail clients
  POST `List-Unsubscribe=One-Click` here; no cookie, no confirmation needed.
- `GET /unsubscribe/{token}`: a confirmation page with a button that POSTs.
  A GET never unsubscribes, so link scanners that prefetch mail do no harm.
- `GET|POST /preferences/{token}`: change watchlists, mode, digest hour, or resume.

A token is signed for one purpose and one token version (see
`pipeline.alerts.tokens`); it is the only credential, so pages are never cached,
never send a Referer, and the access log shows `/unsubscribe/<redacted>`. An
unsubscribe link never leads to the preferences page. The server closes
connections that do not deliver a whole request in time (slow-loris).
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import h11
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

from pipeline.alerts.render import render_template
from pipeline.alerts.subscribers import (
    Subscriber,
    SubscriberError,
    get_subscriber,
    unsubscribe,
    update_subscriber,
)
from pipeline.alerts.tokens import (
    PREFERENCES,
    UNSUBSCRIBE,
    TokenClaim,
    read_token,
    subscriber_token,
)
from pipeline.config import PACKAGE_DIR, Settings, check_link_settings
from pipeline.store import connect

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 64 * 1024
# Against slow-loris: a whole request (headers and form) within this time, idle keep-alive
# connections closed after a few seconds, at most this many connections at once (more get
# a 503), and request heads no larger than a browser ever sends.
REQUEST_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5
MAX_CONNECTIONS = 100
MAX_HEAD_BYTES = 16 * 1024
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'",
}


class _FormRefused(ValueError):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def create_app(settings: Settings, *, db_url: str) -> Starlette:
    check_link_settings(settings)  # refuse to start with a guessable key or an http URL

    def with_db(fn, *args: Any, **kwargs: Any) -> Any:
        with connect(db_url, autocommit=True) as conn:
            return fn(conn, *args, **kwargs)

    def page(template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(render_template(template, **context), status_code=status,
                            headers=_HEADERS)

    def invalid() -> HTMLResponse:
        return page("web_message.html", status=404, title="Link not valid",
                    message="This link is not valid. Use the link from your latest email.")

    def token_for(sub: Subscriber, purpose: str) -> str:
        return subscriber_token(settings.secret_key, sub, purpose=purpose)

    async def holder(token: str, purpose: str) -> tuple[TokenClaim | None, Subscriber | None]:
        claim = read_token(settings.secret_key, token, purpose=purpose)
        if claim is None:
            return None, None
        return claim, await run_in_threadpool(with_db, _get, claim.subscriber_id)

    async def unsubscribe_endpoint(request: Request) -> Response:
        claim, sub = await holder(request.path_params["token"], UNSUBSCRIBE)
        if claim is None or sub is None:
            return invalid()
        if claim.version != sub.token_version:
            # A link from before the last unsubscribe: it may change nothing, but a mail
            # client repeating its one-click POST deserves a calm answer (without the address).
            return invalid() if sub.active else page(
                "web_message.html", title="Unsubscribed",
                message="This address receives no newsmon email.")
        if request.method == "POST":
            try:
                form = await _form(request)
            except _FormRefused as exc:
                return PlainTextResponse(str(exc), status_code=exc.status)
            one_click = form.get("List-Unsubscribe") == ["One-Click"]
            await run_in_threadpool(with_db, unsubscribe, sub.id, token_version=claim.version,
                                    via="one-click" if one_click else "web")
            return page("web_message.html", title="Unsubscribed",
                        message=f"{sub.email} will receive no more newsmon email.")
        return page("web_unsubscribe.html", sub=sub, token=request.path_params["token"])

    async def preferences_endpoint(request: Request) -> Response:
        claim, sub = await holder(request.path_params["token"], PREFERENCES)
        if claim is None or sub is None or claim.version != sub.token_version:
            return invalid()
        error, saved = None, False
        if request.method == "POST":
            try:
                form = await _form(request)
            except _FormRefused as exc:
                return PlainTextResponse(str(exc), status_code=exc.status)
            try:
                sub = await run_in_threadpool(with_db, _save_preferences, sub, form,
                                              token_version=claim.version)
                saved = True
            except SubscriberError as exc:
                error = str(exc).removeprefix("subscribers: ")
        # Turning email off bumps the version: the page's own links must follow it.
        token = (request.path_params["token"] if sub.token_version == claim.version
                 else token_for(sub, PREFERENCES))
        return page("web_preferences.html", status=400 if error else 200, sub=sub, token=token,
                    unsubscribe_token=token_for(sub, UNSUBSCRIBE), error=error, saved=saved,
                    choices=_watchlist_choices(settings, sub), hours=range(24))

    async def health(_request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[
        Route("/unsubscribe/{token}", unsubscribe_endpoint, methods=["GET", "POST"]),
        Route("/preferences/{token}", preferences_endpoint, methods=["GET", "POST"]),
        Route("/healthz", health),
    ])


def _get(conn, subscriber_id: int) -> Subscriber | None:
    return get_subscriber(conn, subscriber_id=subscriber_id)


async def _form(request: Request) -> dict[str, list[str]]:
    """An urlencoded form body, capped (one-click POSTs and our own forms are tiny).

    A client gone before its whole form arrived (closed, or cut off by the request
    deadline) changes nothing.
    """
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise _FormRefused(413, "form too large")
    except ClientDisconnect:
        raise _FormRefused(400, "form incomplete") from None
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def _save_preferences(conn, sub: Subscriber, form: dict[str, list[str]], *,
                      token_version: int) -> Subscriber:
    def one(name: str) -> str:
        return (form.get(name) or [""])[0].strip()

    try:
        hour = int(one("digest_hour"))
    except ValueError:
        raise SubscriberError("subscribers: pick a digest hour") from None
    return update_subscriber(
        conn, subscriber_id=sub.id, watchlists=form.get("watchlist") or [], mode=one("mode"),
        digest_hour=hour, timezone=one("timezone") or "UTC", active=one("active") == "on",
        via="web", token_version=token_version,
    )


def _watchlist_choices(settings: Settings, sub: Subscriber) -> list[str]:
    """Watchlists offered on the page: those shipped with newsmon, the default, and theirs."""
    shipped = {p.stem for p in Path(PACKAGE_DIR / "watchlists").glob("*.toml")}
    return sorted(shipped | {settings.watchlist} | set(sub.watchlists))


class RequestDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for receiving each whole request.

    uvicorn has no header-read timeout (encode/uvicorn#157): its keep-alive timer restarts
    on every byte, so a client trickling a request one byte at a time holds a connection
    forever, and ASGI middleware only runs once the request is parsed. The deadline is armed
    when a connection opens and after each response, disarmed once the request is all in.
    """

    def __init__(self, *args: Any, request_timeout_s: float = REQUEST_TIMEOUT_S,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_timeout_s = request_timeout_s
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_deadline()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
            self._disarm_deadline()  # request received (or the connection is ending)

    def on_response_complete(self) -> None:
        self._arm_deadline()  # for the next request on a kept-alive connection
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_deadline()
        super().connection_lost(exc)

    def _arm_deadline(self) -> None:
        self._disarm_deadline()
        self._deadline = self.loop.call_later(self.request_timeout_s, self._deadline_passed)

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.logger.info("closing a connection that sent no whole request in %gs",
                             self.request_timeout_s)
            self.transport.close()


_TOKEN_IN_PATH = re.compile(r"/(unsubscribe|preferences)/[^/?#\s\"]+")


class RedactTokens(logging.Filter):
    """Access log lines show `/unsubscribe/<redacted>`: a token in a log is a credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _redact(record.msg)
        if isinstance(record.args, tuple):  # uvicorn's access formatter reads the args
            record.args = tuple(_redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def _redact(text: str) -> str:
    return _TOKEN_IN_PATH.sub(r"/\1/<redacted>", text)


def server_config(settings: Settings, *, db_url: str, host: str = "127.0.0.1",
                  port: int = 8025, request_timeout_s: float = REQUEST_TIMEOUT_S,
                  log_level: str = "info") -> uvicorn.Config:
    """The uvicorn configuration `newsmon serve` runs: limits, timeouts, redacted log."""
    protocol = functools.partial(RequestDeadlineProtocol, request_timeout_s=request_timeout_s)
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["filters"] = {"redact_tokens": {"()": RedactTokens}}
    for logger in ("uvicorn.access", "uvicorn.error"):  # before any handler sees the line
        log_config["loggers"][logger]["filters"] = ["redact_tokens"]
    return uvicorn.Config(
        create_app(settings, db_url=db_url), host=host, port=port, http=protocol,
        server_header=False, proxy_headers=True, log_level=log_level, log_config=log_config,
        timeout_keep_alive=KEEP_ALIVE_S, limit_concurrency=MAX_CONNECTIONS,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES, lifespan="off")


def serve(settings: Settings, *, db_url: str, host: str = "127.0.0.1", port: int = 8025) -> None:
    server = uvicorn.Server(server_config(settings, db_url=db_url, host=host, port=port))
    server.run()
    if not server.started:  # could not bind: uvicorn logged why
        raise SystemExit(2)
