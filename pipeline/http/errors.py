"""`FetchError`: why a fetch failed, grouped by what the caller should do next."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from pipeline.errors import NewsmonError

# kind -> retryable when the kind alone decides it ("http-status" depends on the status)
KINDS: dict[str, bool] = {
    "timeout": True,
    "connect": True,
    "http-status": False,
    "too-large": False,
    "ssrf": False,
    "robots": False,
    "redirect-loop": False,
    "too-many-redirects": False,
    "tls": False,
    "invalid-url": False,
    "decode": False,
}

# How much of an error answer's body an http-status FetchError keeps: enough for a
# service's own words (GDELT's plain-text notices, NewsAPI's JSON error), never a page.
ERROR_BODY_MAX = 4096


class FetchError(NewsmonError):
    """A fetch that produced no usable response.


    `kind` is one of `KINDS`; `retryable` tells whether a later run should try the URL again
    (a timeout or a 503 might pass, a 404 or a refused address will not). An
    "http-status" error carries the answer's headers and the start of its body (at most
    ERROR_BODY_MAX bytes), where an API says why it refused.
    """

    stage = "fetch"

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        url: str,
        status: int | None = None,
        retryable: bool | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"fetch: unknown error kind {kind!r}")
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.url = url
        self.status = status
        self.headers = dict(headers or {})
        self.body = body[:ERROR_BODY_MAX]
        self.retryable = _default_retryable(kind, status) if retryable is None else retryable

    def __str__(self) -> str:
        return f"fetch: {self.message} ({self.url})"

    def __repr__(self) -> str:
        return f"FetchError({self.message!r}, kind={self.kind!r}, status={self.status!r})"


def _default_retryable(kind: str, status: int | None) -> bool:
    if kind == "http-status" and status is not None:
        return is_transient_status(status)
    return KINDS[kind]


def is_transient_status(status: int) -> bool:
    """Statuses worth asking again about: the server is busy or briefly broken."""
    return status >= 500 or status in (408, 429)


def status_text(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def human_size(n: int) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"
