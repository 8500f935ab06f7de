"""`newsmon serve`: the small web app behind the links in every email.

- `POST /unsubscribe/{token}`: one-click unsubscribe (RFC 8058). Mail clients
  POST `List-Unsubscribe=One-Click` here; no cookie, no confirmation needed.
- `GET /unsubscribe/{token}`: a confirmation page with a button that POSTs.
  A GET never unsubscribes, so link scanners that prefetch mail do no harm.
- `GET|POST /preferences/{token}`: change watchlists, mode, digest hour, or resume.

The token is the subscriber id signed with the secret key (see
`pipeline.alerts.tokens`); it is the only credential, so pages are never cached
and never send a Referer.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from pipeline.alerts.render import render_template
from pipeline.alerts.subscribers import (
    Subscriber,
    SubscriberError,
    get_subscriber,
    unsubscribe,
    update_subscriber,
)
from pipeline.alerts.tokens import read_token
from pipeline.config import PACKAGE_DIR, Settings
from pipeline.db import connect

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 64 * 1024
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'",
}


class _FormTooLarge(ValueError):
    pass


def create_app(settings: Settings, *, db_url: str) -> Starlette:
    def with_db(fn, *args: Any, **kwargs: Any) -> Any:
        with connect(db_url, autocommit=True) as conn:
            return fn(conn, *args, **kwargs)

    def page(template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(render_template(template, **context), status_code=status,
                            headers=_HEADERS)

    def invalid() -> HTMLResponse:
        return page("web_message.html", status=404, title="Link not valid",
                    message="This link is not valid. Use the link from your latest email.",
                    token=None)

    async def unsubscribe_endpoint(request: Request) -> Response:
        subscriber_id = read_token(settings.secret_key, request.path_params["token"])
        if subscriber_id is None:
            return invalid()
        if request.method == "POST":
            try:
                form = await _form(request)
            except _FormTooLarge:
                return PlainTextResponse("form too large", status_code=413)
            one_click = form.get("List-Unsubscribe") == ["One-Click"]
            await run_in_threadpool(with_db, unsubscribe, subscriber_id,
                                    via="one-click" if one_click else "web")
            sub = await run_in_threadpool(with_db, _get, subscriber_id)
            return page("web_message.html", title="Unsubscribed",
                        message=(f"{sub.email} will receive no more newsmon email."
                                 if sub else "This address receives no newsmon email."),
                        token=request.path_params["token"] if sub else None)
        sub = await run_in_threadpool(with_db, _get, subscriber_id)
        if sub is None:
            return invalid()
        return page("web_unsubscribe.html", sub=sub, token=request.path_params["token"])

    async def preferences_endpoint(request: Request) -> Response:
        token = request.path_params["token"]
        subscriber_id = read_token(settings.secret_key, token)
        sub = None if subscriber_id is None else await run_in_threadpool(with_db, _get,
                                                                         subscriber_id)
        if sub is None:
            return invalid()
        error, saved = None, False
        if request.method == "POST":
            try:
                form = await _form(request)
            except _FormTooLarge:
                return PlainTextResponse("form too large", status_code=413)
            try:
                sub = await run_in_threadpool(with_db, _save_preferences, sub, form)
                saved = True
            except SubscriberError as exc:
                error = str(exc).removeprefix("subscribers: ")
        return page("web_preferences.html", status=400 if error else 200, sub=sub, token=token,
                    error=error, saved=saved, choices=_watchlist_choices(settings, sub),
                    hours=range(24))

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
    """An urlencoded form body, capped (one-click POSTs and our own forms are tiny)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise _FormTooLarge()
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def _save_preferences(conn, sub: Subscriber, form: dict[str, list[str]]) -> Subscriber:
    def one(name: str) -> str:
        return (form.get(name) or [""])[0].strip()

    try:
        hour = int(one("digest_hour"))
    except ValueError:
        raise SubscriberError("subscribers: pick a digest hour") from None
    return update_subscriber(
        conn, subscriber_id=sub.id, watchlists=form.get("watchlist") or [], mode=one("mode"),
        digest_hour=hour, timezone=one("timezone") or "UTC", active=one("active") == "on",
        via="web",
    )


def _watchlist_choices(settings: Settings, sub: Subscriber) -> list[str]:
    """Watchlists offered on the page: those shipped with newsmon, the default, and theirs."""
    shipped = {p.stem for p in Path(PACKAGE_DIR / "watchlists").glob("*.toml")}
    return sorted(shipped | {settings.watchlist} | set(sub.watchlists))


def serve(settings: Settings, *, db_url: str, host: str = "127.0.0.1", port: int = 8025) -> None:
    import uvicorn

    uvicorn.run(create_app(settings, db_url=db_url), host=host, port=port, server_header=False,
                proxy_headers=True, log_level="info")
