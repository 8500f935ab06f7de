"""`HttpClient`: every request newsmon makes goes through `fetch` (or `post_form`).

One fetch = up to `max_redirects` hops, each checked by the SSRF guard (on every connection,
see `pipeline.http.transport`) and robots.txt (article pages), and retried on its own when
the failure looks temporary. The request deadline is a budget of network time for the
whole fetch (all hops and attempts); waiting for a free slot or sleeping between attempts
does not spend it, so a queue behind a slow host never turns into timeouts, yet a server
trickling one byte a second is cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Self
from urllib.parse import urlencode

import httpx

from pipeline.config import Settings
from pipeline.dates import as_utc
from pipeline.http.body import ACCEPT_ENCODING, drain, read_capped, read_start
from pipeline.http.errors import ERROR_BODY_MAX, FetchError, is_transient_status, status_text
from pipeline.http.guard import (
    AddressPolicy,
    RefusedAddress,
    check_url,
    parse_networks,
    parse_ports,
    parse_url,
)
from pipeline.http.hosts import Politeness
from pipeline.http.robots import RobotsCache
from pipeline.http.transport import GuardedTransport, Resolve, resolve_host
from pipeline.models import Response

log = logging.getLogger(__name__)

REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
MAX_BACKOFF_S = 30.0
RETRIED_KINDS = frozenset({"timeout", "connect"})
# A redirect's body is a line of HTML; beyond this, reconnecting is cheaper than reading on.
DRAIN_MAX_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Hop:
    """One HTTP exchange on the way to the final response."""

    url: httpx.URL
    status: int
    headers: dict[str, str]
    body: bytes


class Budget:
    """The request deadline: network time left for one fetch."""

    def __init__(self, seconds: float) -> None:
        self.total = seconds
        self.left = seconds

    @property
    def used(self) -> float:
        return self.total - self.left

    @contextlib.asynccontextmanager
    async def spend(self) -> AsyncIterator[None]:
        if self.left <= 0:
            raise TimeoutError
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.left):
                yield
        finally:
            self.left -= time.monotonic() - started


class HttpClient:
    """Polite, capped, SSRF-guarded GETs (and form POSTs) over one httpx.AsyncClient.

        async with HttpClient(settings) as client:
            response = await client.fetch(url, etag=etag, last_modified=last_modified)
    """

    def __init__(self, settings: Settings, *, resolve: Resolve = resolve_host) -> None:
        self.settings = settings
        self._policy = AddressPolicy(
            allow_private=settings.allow_private_networks,
            networks=parse_networks(settings.allowed_networks),
            ports=parse_ports(settings.allowed_ports),
        )
        self._politeness = Politeness(
            concurrency=settings.concurrency,
            per_host=settings.per_host_concurrency,
            delay_s=settings.per_host_delay_s,
        )
        self._robots = RobotsCache(self._load_robots_txt, user_agent=settings.user_agent)
        limits = httpx.Limits(max_connections=settings.concurrency)
        self._client = httpx.AsyncClient(
            # Every connection, whichever hop, retry or robots.txt it serves, is vetted here.
            transport=GuardedTransport(self._policy, limits=limits, resolve=resolve),
            headers={"user-agent": settings.user_agent, "accept-encoding": ACCEPT_ENCODING},
            timeout=httpx.Timeout(
                connect=settings.connect_timeout_s,
                read=settings.read_timeout_s,
                write=settings.read_timeout_s,
                pool=settings.connect_timeout_s,
            ),
            follow_redirects=False,  # each hop is checked (robots.txt, headers) on its own
            trust_env=False,  # no proxy or netrc from the environment: explicit settings only
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._robots.close()
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        robots: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """GET `url`; a 2xx or 304 `Response`, otherwise `FetchError`.

        `etag`/`last_modified` make the request conditional. `robots=True` (article pages)
        checks robots.txt first. `headers` (e.g. an API key) go to the first URL's origin
        only, never across a redirect to another site.
        """
        conditional = {}
        if etag:
            conditional["if-none-match"] = etag
        if last_modified:
            conditional["if-modified-since"] = last_modified
        budget = Budget(self.settings.request_deadline_s)
        hops, permanent = await self._follow(
            parse_url(url),
            headers=dict(headers or {}),
            conditional=conditional,
            robots=robots and self.settings.respect_robots,
            budget=budget,
            max_bytes=self.settings.max_response_bytes,
        )
        final = hops[-1]
        if not (200 <= final.status < 300 or final.status == 304):
            raise _status_error(status_text(final.status), final)
        return Response(url=str(final.url), status=final.status, headers=final.headers,
                        body=final.body, elapsed_s=round(budget.used, 6),
                        permanent_redirect=permanent)

    async def post_form(self, url: str, form: Mapping[str, str], *,
                        headers: Mapping[str, str] | None = None) -> Response:
        """POST `form` URL-encoded to `url`; a 2xx `Response`, otherwise `FetchError`.

        For the services that answer lookups only to a POST (Google News' batchexecute):
        the same guard, deadline, size cap, politeness and retries as `fetch`. No redirect
        is followed (it would turn the POST into a GET of something else), and robots.txt
        is not read: like a feed, this is a request a source makes, not a page crawled.
        """
        target = parse_url(url)
        await self._check_allowed(target, robots=False)
        budget = Budget(self.settings.request_deadline_s)
        sent = {**(headers or {}),
                "content-type": "application/x-www-form-urlencoded;charset=UTF-8"}
        hop = await self._send(target, sent, budget=budget,
                               max_bytes=self.settings.max_response_bytes,
                               method="POST", content=urlencode(form).encode())
        if not 200 <= hop.status < 300:
            raise FetchError(status_text(hop.status), kind="http-status", url=str(hop.url),
                             status=hop.status)
        return Response(url=str(hop.url), status=hop.status, headers=hop.headers,
                        body=hop.body, elapsed_s=round(budget.used, 6))

    def pace(self, host: str, seconds: float) -> None:
        """Start requests to `host` at least `seconds` apart, whoever makes them (a service
        that wants a slower rate than every host gets from `per_host_delay_s`)."""
        self._politeness.host(host).delay_s = seconds

    # -- redirects -----------------------------------------------------------------
    async def _follow(
        self, url: httpx.URL, *, headers: dict[str, str], conditional: dict[str, str],
        robots: bool, budget: Budget, max_bytes: int,
    ) -> tuple[list[Hop], str | None]:
        """Every hop, last one final, and where a caller should now point the URL.

        The new home is the end of the leading run of 301/308s: after A -301-> B -302-> C
        it is B, while after A -302-> B -301-> C it stays A (A only moved temporarily).
        """
        hops: list[Hop] = []
        seen = {str(url)}
        origin = _origin(url)
        permanent: str | None = None
        moved_for_good = True
        while True:
            await self._check_allowed(url, robots=robots)
            own = headers if _origin(url) == origin else {}
            hop = await self._send(url, {**own, **conditional}, budget=budget,
                                   max_bytes=max_bytes)
            hops.append(hop)
            if hop.status not in REDIRECTS:
                return hops, permanent
            target = self._redirect_target(hop)
            moved_for_good = moved_for_good and hop.status in PERMANENT_REDIRECTS
            if moved_for_good:
                permanent = str(target)
            if str(target) in seen:
                raise FetchError(f"redirect loop back to {target}", kind="redirect-loop",
                                 url=str(hops[0].url), status=hop.status)
            if len(hops) > self.settings.max_redirects:
                raise FetchError(f"more than {self.settings.max_redirects} redirects",
                                 kind="too-many-redirects", url=str(hops[0].url),
                                 status=hop.status)
            seen.add(str(target))
            url = target

    def _redirect_target(self, hop: Hop) -> httpx.URL:
        location = hop.headers.get("location")
        if not location:
            raise FetchError(f"{status_text(hop.status)} without a Location header",
                             kind="http-status", url=str(hop.url), status=hop.status)
        try:
            joined = hop.url.join(location.strip())
        except httpx.InvalidURL as exc:
            raise FetchError(f"redirect to an invalid URL {location!r}", kind="invalid-url",
                             url=str(hop.url), status=hop.status) from exc
        return parse_url(str(joined))

    async def _check_allowed(self, url: httpx.URL, *, robots: bool) -> None:
        check_url(url, self._policy)  # names are vetted when the connection is made
        if robots and not await self._robots.allows(url):
            raise FetchError("disallowed by robots.txt", kind="robots", url=str(url))

    # -- retries -------------------------------------------------------------------
    async def _send(
        self, url: httpx.URL, headers: dict[str, str], *, budget: Budget, max_bytes: int,
        method: str = "GET", content: bytes | None = None,
    ) -> Hop:
        """One hop, retried with backoff on timeouts, connection errors, 5xx and 429."""
        retries = self.settings.retries
        attempt = 0
        while True:
            last = attempt >= retries
            try:
                hop = await self._exchange(url, headers, budget=budget, max_bytes=max_bytes,
                                           method=method, content=content)
            except FetchError as exc:
                # A spent deadline is final: another attempt would have no time left.
                if last or exc.kind not in RETRIED_KINDS or budget.left <= 0:
                    raise
                log.debug("fetch: retrying %s after %s", url, exc.message)
                await asyncio.sleep(self._backoff(attempt))
                attempt += 1
                continue
            if not is_transient_status(hop.status):
                return hop
            wait = self._retry_after(hop)  # raises if the server asks for too long a wait
            if last:
                raise _status_error(_attempts(status_text(hop.status), attempt + 1), hop)
            log.debug("fetch: retrying %s after %s", url, status_text(hop.status))
            if wait is None:  # with Retry-After the host's next turn already waits
                await asyncio.sleep(self._backoff(attempt))
            attempt += 1

    def _retry_after(self, hop: Hop) -> float | None:
        """Honour Retry-After for the whole host; give up now if it asks for too long."""
        wait = parse_retry_after(hop.headers.get("retry-after"))
        if wait is None:
            return None
        host = self._politeness.host(hop.url.host)
        cap = self.settings.retry_after_max_s
        if wait > cap:
            message = (f"{status_text(hop.status)}; server asks to wait {wait:.0f} s "
                       f"(more than {cap:.0f} s)")
            host.block(wait, reason=message, status=hop.status)
            raise _status_error(message, hop, retryable=True)
        host.hold_off(wait)
        return wait

    def _backoff(self, attempt: int) -> float:
        base = self.settings.retry_backoff_s * 2**attempt
        return min(MAX_BACKOFF_S, base * random.uniform(0.5, 1.5))  # jitter spreads retries

    # -- one exchange ----------------------------------------------------------------
    async def _exchange(
        self, url: httpx.URL, headers: dict[str, str], *, budget: Budget, max_bytes: int,
        method: str = "GET", content: bytes | None = None,
    ) -> Hop:
        host = self._politeness.host(url.host)
        if host.is_blocked:
            raise FetchError(f"host still asked to wait: {host.blocked_reason}",
                             kind="http-status", url=str(url), status=host.blocked_status,
                             retryable=True)
        try:
            async with (
                self._politeness.turn(url.host),
                budget.spend(),
                self._client.stream(method, url, headers=headers, content=content) as response,
            ):
                body = b""
                if 200 <= response.status_code < 300:
                    body = await read_capped(response, max_bytes=max_bytes, url=str(url))
                elif response.status_code >= 400:  # only its start: an API's reason
                    body = await read_start(response, max_bytes=ERROR_BODY_MAX, url=str(url))
                else:  # 304 or a redirect: nothing to keep, but the connection is worth reusing
                    await drain(response, max_bytes=DRAIN_MAX_BYTES)
                return Hop(url=url, status=response.status_code,
                           headers=dict(response.headers.items()), body=body)
        except TimeoutError as exc:
            raise _deadline_error(self.settings, url) from exc
        except RefusedAddress as exc:
            raise FetchError(str(exc), kind="ssrf", url=str(url)) from exc
        except httpx.HTTPError as exc:
            raise _transport_error(exc, url) from exc

    # -- robots.txt ------------------------------------------------------------------
    async def _load_robots_txt(self, url: httpx.URL) -> Hop:
        budget = Budget(self.settings.request_deadline_s)
        hops, _ = await self._follow(url, headers={}, conditional={}, robots=False,
                                     budget=budget, max_bytes=ROBOTS_MAX_BYTES)
        return hops[-1]


ROBOTS_MAX_BYTES = 512 * 1024  # Google reads the first 500 KiB; larger files are not robots.txt


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (as_utc(when) - (now or datetime.now(UTC))).total_seconds())


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """Scheme, host and port: compared as they are, no URL rebuilt (this runs every hop)."""
    return url.scheme, url.host, url.port


def _status_error(message: str, hop: Hop, *, retryable: bool | None = None) -> FetchError:
    """An http-status FetchError carrying the answer's headers and the start of its body."""
    return FetchError(message, kind="http-status", url=str(hop.url), status=hop.status,
                      retryable=retryable, headers=hop.headers, body=hop.body)


def _attempts(message: str, attempts: int) -> str:
    return f"{message} after {attempts} attempts" if attempts > 1 else message


def _deadline_error(settings: Settings, url: httpx.URL) -> FetchError:
    return FetchError(f"no complete response within the {settings.request_deadline_s:g} s "
                      "request deadline", kind="timeout", url=str(url))


def _transport_error(exc: httpx.HTTPError, url: httpx.URL) -> FetchError:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        phase = {httpx.ConnectTimeout: "connect", httpx.ReadTimeout: "read",
                 httpx.WriteTimeout: "write", httpx.PoolTimeout: "pool"}.get(type(exc), "")
        return FetchError(f"{phase} timeout".strip(), kind="timeout", url=str(url))
    if isinstance(exc, httpx.ConnectError) and _is_tls(exc):
        return FetchError(f"TLS error: {detail}", kind="tls", url=str(url))
    if isinstance(exc, httpx.ConnectError):
        return FetchError(f"cannot connect: {detail}", kind="connect", url=str(url))
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return FetchError(f"invalid URL: {detail}", kind="invalid-url", url=str(url))
    if isinstance(exc, httpx.DecodingError):
        return FetchError(f"cannot decode body: {detail}", kind="decode", url=str(url))
    # Connection reset, a malformed response, a body cut short: the network's fault.
    return FetchError(f"connection failed: {detail}", kind="connect", url=str(url))


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError | ssl.CertificateError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
