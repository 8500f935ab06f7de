"""pipeline.http against real loopback servers: limits, politeness, redirects, guard, robots."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import socket
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from pipeline.config import Settings, load_settings
from pipeline.http import FetchError, HttpClient
from tests.support.loopback import (
    InFlight,
    LoopbackServer,
    RecordedRequest,
    Reply,
    redirect,
    replies_in_turn,
)

pytestmark = pytest.mark.anyio

MB = 1024 * 1024


def make_settings(**overrides: Any) -> Settings:
    """Small timeouts keep the slow-host tests short; loopback needs the guard lifted."""
    base: dict[str, Any] = {
        "allow_private_networks": True,
        "connect_timeout_s": 1.0,
        "read_timeout_s": 1.0,
        "request_deadline_s": 2.0,
        "retries": 1,
        "retry_backoff_s": 0.01,
        "respect_robots": True,
    }
    return load_settings(env={}, **{**base, **overrides})


@pytest.fixture
def serve() -> Iterator[Callable[..., LoopbackServer]]:
    with ExitStack() as stack:
        yield lambda routes=None, **kw: stack.enter_context(LoopbackServer(routes, **kw))


async def fetch(url: str, settings: Settings | None = None, **kwargs: Any):
    async with HttpClient(settings or make_settings()) as client:
        return await client.fetch(url, **kwargs)


async def fetch_error(url: str, settings: Settings | None = None, **kwargs: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetch(url, settings, **kwargs)
    return caught.value


# -- plain and conditional GET -------------------------------------------------------------
async def test_returns_body_lowercase_headers_and_sends_honest_user_agent(serve):
    server = serve({"/feed": (200, {"Content-Type": "application/rss+xml"}, b"<rss/>")})
    settings = make_settings()
    response = await fetch(server.url("/feed"), settings)
    assert (response.status, response.body, response.url) == (200, b"<rss/>", server.url("/feed"))
    assert response.headers["content-type"] == "application/rss+xml"
    assert response.permanent_redirect is None
    sent = server.requests_to("/feed")[0].headers
    assert sent["user-agent"] == settings.user_agent and "https://" in sent["user-agent"]


async def test_conditional_get_gets_304_without_body(serve):
    def feed(request: RecordedRequest) -> Reply:
        if (request.headers.get("if-none-match") == '"v1"'
                and request.headers.get("if-modified-since") == "Mon, 01 Dec 2025 10:00:00 GMT"):
            return Reply(status=304, headers={"etag": '"v1"'})
        return Reply(status=200, headers={"etag": '"v1"'}, body=b"<rss>full</rss>")

    server = serve({"/feed": feed})
    first = await fetch(server.url("/feed"))
    again = await fetch(server.url("/feed"), etag='"v1"',
                        last_modified="Mon, 01 Dec 2025 10:00:00 GMT")
    assert (first.status, first.body) == (200, b"<rss>full</rss>")
    assert again.is_not_modified and again.status == 304 and again.body == b""
    assert "if-none-match" not in server.requests_to("/feed")[0].headers


# -- politeness ----------------------------------------------------------------------------
async def test_per_host_cap_holds_while_another_host_proceeds(serve):
    busy = serve({"/page": Reply(body=b"a", delay_s=0.2)}, host="127.0.0.1")
    other = serve({"/page": Reply(body=b"b", delay_s=0.2)}, host="127.0.0.2")
    async with HttpClient(make_settings(per_host_concurrency=2)) as client:
        responses = await asyncio.gather(
            *(client.fetch(busy.url(f"/page?{i}")) for i in range(10)),
            *(client.fetch(other.url(f"/page?{i}")) for i in range(2)),
        )
    assert [r.body for r in responses] == [b"a"] * 10 + [b"b"] * 2
    assert busy.max_in_flight == 2 and len(busy.requests) == 10
    assert other.max_in_flight == 2  # both ran together, not queued behind the busy host
    last_busy_start = max(r.started_at for r in busy.requests)
    assert all(r.started_at < last_busy_start for r in other.requests)


async def test_global_cap_bounds_requests_across_hosts(serve):
    shared = InFlight()
    servers = [serve({"/p": Reply(delay_s=0.2)}, host=f"127.0.0.{n}", in_flight=shared)
               for n in (1, 2, 3)]
    async with HttpClient(make_settings(concurrency=3, per_host_concurrency=2)) as client:
        await asyncio.gather(*(client.fetch(s.url(f"/p?{i}")) for s in servers for i in range(4)))
    assert shared.peak == 3
    assert all(s.max_in_flight <= 2 for s in servers)


async def test_per_host_delay_spaces_request_starts(serve):
    server = serve({"/p": Reply(body=b"ok")})
    async with HttpClient(make_settings(per_host_delay_s=0.3)) as client:
        await asyncio.gather(*(client.fetch(server.url(f"/p?{i}")) for i in range(3)))
    starts = sorted(r.started_at for r in server.requests)
    assert len(starts) == 3
    assert all(later - earlier >= 0.25 for earlier, later in itertools.pairwise(starts))


async def test_hanging_and_trickling_hosts_are_cut_off_without_delaying_a_fast_one(serve):
    hanging = serve({"/": Reply(hang=True)}, host="127.0.0.1")
    trickling = serve({"/": Reply(body=b"x" * 200, trickle_s=0.05)}, host="127.0.0.2")
    fast = serve({"/": Reply(body=b"fast")}, host="127.0.0.3")
    finished: list[str] = []

    async def timed(name: str, client: HttpClient, url: str) -> Any:
        try:
            return await client.fetch(url)
        except FetchError as exc:
            return exc
        finally:
            finished.append(name)

    settings = make_settings(read_timeout_s=0.4, request_deadline_s=1.0, retries=1)
    async with HttpClient(settings) as client:
        hung, trickled, quick = await asyncio.gather(
            timed("hanging", client, hanging.url()),
            timed("trickling", client, trickling.url()),
            timed("fast", client, fast.url()),
        )
    assert quick.body == b"fast" and finished[0] == "fast"
    assert isinstance(hung, FetchError) and hung.kind == "timeout" and hung.retryable
    # bytes keep coming faster than the read timeout: only the overall deadline stops it
    assert isinstance(trickled, FetchError) and trickled.kind == "timeout"
    assert "deadline" in str(trickled)


# -- retries -------------------------------------------------------------------------------
async def test_429_with_retry_after_is_waited_out_then_succeeds(serve):
    server = serve({"/api": replies_in_turn(
        Reply(status=429, headers={"retry-after": "1"}), Reply(body=b"ok")
    )})
    response = await fetch(server.url("/api"), make_settings(retries=1))
    assert response.body == b"ok"
    first, second = server.requests_to("/api")
    assert second.started_at - first.started_at >= 0.9


async def test_retry_after_beyond_the_cap_gives_up_at_once_and_spares_the_host(serve):
    server = serve({"/a": Reply(status=429, headers={"retry-after": "3600"}), "/b": Reply()})
    async with HttpClient(make_settings(retries=2, retry_after_max_s=5)) as client:
        with pytest.raises(FetchError) as first:
            await client.fetch(server.url("/a"))
        with pytest.raises(FetchError) as second:
            await client.fetch(server.url("/b"))
    assert (first.value.status, first.value.retryable) == (429, True)
    assert "3600" in str(first.value)
    assert second.value.retryable and server.count("/b") == 0
    assert server.count("/a") == 1


async def test_503_is_retried_then_reported_as_retryable(serve):
    server = serve({"/feed": Reply(status=503)})
    error = await fetch_error(server.url("/feed"), make_settings(retries=2))
    assert (error.kind, error.status, error.retryable) == ("http-status", 503, True)
    assert server.count("/feed") == 3
    assert str(error).startswith("fetch: HTTP 503 Service Unavailable after 3 attempts (")


@pytest.mark.parametrize("status", [404, 410])
async def test_client_errors_are_final_and_not_retried(serve, status):
    server = serve({"/gone": Reply(status=status)})
    error = await fetch_error(server.url("/gone"), make_settings(retries=2))
    assert (error.kind, error.status, error.retryable) == ("http-status", status, False)
    assert server.count("/gone") == 1


async def test_connection_refused_is_a_retryable_connect_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the fetch: nobody listens
    error = await fetch_error(f"http://127.0.0.1:{port}/", make_settings(retries=0))
    assert (error.kind, error.retryable) == ("connect", True)


# -- redirects -----------------------------------------------------------------------------
async def test_permanent_redirect_is_recorded_and_temporary_one_is_not(serve):
    server = serve({
        "/old": redirect("/new", 301),
        "/moved": redirect("/new", 308),
        "/today": redirect("/new", 302),
        "/chain": redirect("/hop", 301),
        "/hop": redirect("/new", 307),
        "/new": Reply(body=b"here"),
    })
    for path, expected in [("/old", "/new"), ("/moved", "/new"), ("/today", None),
                           ("/chain", "/hop")]:
        response = await fetch(server.url(path))
        assert (response.url, response.body) == (server.url("/new"), b"here")
        assert response.permanent_redirect == (expected and server.url(expected))


async def test_redirect_loop_is_detected(serve):
    server = serve({"/a": redirect("/b"), "/b": redirect("/a")})
    error = await fetch_error(server.url("/a"), make_settings(max_redirects=10))
    assert (error.kind, error.retryable) == ("redirect-loop", False)
    assert server.count("/a") == 1 and server.count("/b") == 1


async def test_too_many_redirects(serve):
    server = serve({f"/r{i}": redirect(f"/r{i + 1}") for i in range(10)})
    error = await fetch_error(server.url("/r0"), make_settings(max_redirects=3))
    assert error.kind == "too-many-redirects" and "more than 3 redirects" in str(error)
    assert len(server.requests) == 4


async def test_caller_headers_do_not_follow_a_redirect_to_another_site(serve):
    other = serve({"/land": Reply(body=b"ok")}, host="127.0.0.2")
    origin = serve({"/start": redirect(other.url("/land"))})
    await fetch(origin.url("/start"), headers={"x-api-key": "secret"})
    assert origin.requests_to("/start")[0].headers["x-api-key"] == "secret"
    assert "x-api-key" not in other.requests_to("/land")[0].headers


# -- size caps and decoding ---------------------------------------------------------------
@pytest.mark.parametrize("send_length", [True, False], ids=["declared", "undeclared"])
async def test_oversized_body_is_refused(serve, send_length):
    server = serve({"/big": Reply(body=b"x" * (2 * MB), send_length=send_length)})
    error = await fetch_error(server.url("/big"), make_settings(max_response_bytes=MB))
    assert (error.kind, error.retryable) == ("too-large", False)
    assert str(error) == f"fetch: body exceeds 1 MB ({server.url('/big')})"


async def test_gzip_bomb_is_stopped_at_the_cap(serve):
    bomb = gzip.compress(bytes(50 * MB), compresslevel=9)
    assert len(bomb) < 100 * 1024
    server = serve({"/bomb": Reply(headers={"content-encoding": "gzip"}, body=bomb)})
    error = await fetch_error(server.url("/bomb"), make_settings(max_response_bytes=MB))
    assert error.kind == "too-large"


@pytest.mark.parametrize("encoding, encode", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, no zlib header
])
async def test_compressed_bodies_are_decoded(serve, encoding, encode):
    text = "<p>Caracas, Venezuela — año nuevo</p>".encode() * 100
    server = serve({"/page": Reply(headers={"content-encoding": encoding}, body=encode(text))})
    response = await fetch(server.url("/page"))
    assert response.body == text
    assert "gzip" in server.requests_to("/page")[0].headers["accept-encoding"]


async def test_unknown_content_encoding_is_a_decode_error(serve):
    server = serve({"/page": Reply(headers={"content-encoding": "br"}, body=b"\x1b\x00")})
    error = await fetch_error(server.url("/page"))
    assert error.kind == "decode" and "br" in str(error)


# -- SSRF guard ----------------------------------------------------------------------------
async def test_guard_refuses_loopback_and_private_addresses(serve):
    server = serve({"/": Reply(body=b"secret")})
    guarded = make_settings(allow_private_networks=False, connect_timeout_s=0.2)
    targets = [server.url(), f"http://localhost:{server.port}/",
               f"http://2130706433:{server.port}/",  # 127.0.0.1 spelled as one number
               "http://10.0.0.1/", "http://[::1]/"]
    for url in targets:
        error = await fetch_error(url, guarded)
        assert (error.kind, error.retryable) == ("ssrf", False), url
        assert "NEWSMON_ALLOW_PRIVATE_NETWORKS" in str(error)
    assert server.requests == []
    assert (await fetch(server.url(), make_settings(allow_private_networks=True))).body == b"secret"


async def test_guard_checks_every_redirect_hop(serve):
    internal = serve({"/admin": Reply(body=b"secret")}, host="127.0.0.1")
    # 127.0.0.2 stands in for a public site: the only network the guard is told to allow
    public = serve({"/go": redirect(internal.url("/admin")), "/ok": Reply(body=b"fine")},
                   host="127.0.0.2")
    guarded = make_settings(allow_private_networks=False, allowed_networks=("127.0.0.2/32",))
    assert (await fetch(public.url("/ok"), guarded)).body == b"fine"
    error = await fetch_error(public.url("/go"), guarded)
    assert error.kind == "ssrf" and "127.0.0.1" in str(error)
    assert public.count("/go") == 1 and internal.requests == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/feed.xml",
                                 "javascript:alert(1)", "/relative/path", "http:///nohost"])
async def test_non_http_urls_are_refused(url):
    error = await fetch_error(url)
    assert (error.kind, error.retryable) == ("invalid-url", False)


async def test_redirect_to_a_file_url_is_refused(serve):
    server = serve({"/go": redirect("file:///etc/passwd")})
    error = await fetch_error(server.url("/go"))
    assert error.kind == "invalid-url" and "'file'" in str(error)


# -- robots.txt ----------------------------------------------------------------------------
async def test_robots_disallow_is_respected_for_pages_and_fetched_once(serve):
    server = serve({"/robots.txt": (200, {}, b"User-agent: *\nDisallow: /private/\n"),
                    "/private/a": Reply(body=b"p"), "/news/a": Reply(body=b"article")})
    async with HttpClient(make_settings()) as client:
        with pytest.raises(FetchError) as caught:
            await client.fetch(server.url("/private/a"), robots=True)
        pages = await asyncio.gather(
            *(client.fetch(server.url(f"/news/a?{i}"), robots=True) for i in range(5))
        )
        feed_like = await client.fetch(server.url("/private/a"))  # robots=False: feeds, APIs
    assert (caught.value.kind, caught.value.retryable) == ("robots", False)
    assert [p.body for p in pages] == [b"article"] * 5 and feed_like.body == b"p"
    assert server.count("/robots.txt") == 1
    assert server.count("/private/a") == 1  # only the robots=False fetch


async def test_robots_group_naming_our_bot_wins_over_the_wildcard(serve):
    robots = b"User-agent: *\nDisallow: /\n\nUser-agent: newsmon\nDisallow: /no-bots/\n"
    server = serve({"/robots.txt": (200, {}, robots), "/news/a": Reply(body=b"article"),
                    "/no-bots/a": Reply(body=b"hidden")})
    async with HttpClient(make_settings()) as client:
        assert (await client.fetch(server.url("/news/a"), robots=True)).body == b"article"
        with pytest.raises(FetchError) as caught:
            await client.fetch(server.url("/no-bots/a"), robots=True)
    assert caught.value.kind == "robots" and server.count("/no-bots/a") == 0


@pytest.mark.parametrize("status", [404, 500])
async def test_missing_or_broken_robots_txt_allows_everything(serve, status):
    server = serve({"/robots.txt": Reply(status=status), "/news/a": Reply(body=b"article")})
    response = await fetch(server.url("/news/a"), make_settings(retries=0), robots=True)
    assert response.body == b"article" and server.count("/robots.txt") == 1


async def test_respect_robots_off_skips_robots_txt(serve):
    server = serve({"/robots.txt": (200, {}, b"User-agent: *\nDisallow: /\n"),
                    "/news/a": Reply(body=b"article")})
    response = await fetch(server.url("/news/a"), make_settings(respect_robots=False),
                           robots=True)
    assert response.body == b"article" and server.count("/robots.txt") == 0
