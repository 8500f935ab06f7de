"""An oversized feed polled from loopback: parsed in a worker while the event loop keeps
running, its entries capped before feedparser builds them, and the cut noted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from pipeline.extract.pool import ExtractPool
from pipeline.http import HttpClient
from pipeline.ingest.poll import PollResult, poll_source
from pipeline.models import Source
from pipeline.sources import run_here
from tests.support.loopback import LoopbackServer
from tests.support.oversized import rss_feed

ENTRIES = 80_000


async def poll_with_heartbeat(settings, source: Source,
                              run: Callable[..., Any]) -> tuple[PollResult, list[int]]:
    """Poll while a task ticks on every turn of the event loop; the ticks counted while
    each parse was under way (zero: the parse held the loop the whole time)."""
    ticks = 0
    during: list[int] = []

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    async def counted(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        before = ticks
        try:
            return await run(fn, *args, **kwargs)
        finally:
            during.append(ticks - before)

    beat = asyncio.create_task(heartbeat())
    try:
        async with HttpClient(settings) as client:
            result = await poll_source(client, source, etag=None, last_modified=None,
                                       run=counted)
    finally:
        beat.cancel()
    return result, during


@pytest.fixture(scope="module")
def big_feed() -> bytes:
    return rss_feed(ENTRIES, base_url="http://big.test/a/")


def test_a_huge_feed_is_parsed_in_a_worker_while_the_event_loop_runs(settings,
                                                                     big_feed) -> None:
    async def main() -> tuple[PollResult, list[int]]:
        async with ExtractPool(1, timeout_s=120, warm_up=False) as pool:
            await pool.wait_ready()
            return await poll_with_heartbeat(settings, source, pool.call)

    with LoopbackServer({"/feed.xml": (200, {"content-type": "application/rss+xml"},
                                       big_feed)}) as server:
        source = Source(name="big", url=server.url("/feed.xml"))
        result, during = asyncio.run(main())

    assert result.status == "ok"
    assert len(result.items) == settings.poll_max_items
    note = f"parse: feed lists {ENTRIES} entries; kept the first 1000 and the last 1000"
    assert result.notes == (note,)
    assert len(during) == 1 and during[0] > 0  # the loop kept turning during the parse


def test_parsing_on_the_loop_itself_holds_it(settings) -> None:
    # The contrast that makes the heartbeat meaningful: run_here (one-off polls) holds
    # the loop for the whole parse, so not a single tick gets in.
    feed = rss_feed(50, base_url="http://small.test/a/")
    with LoopbackServer({"/feed.xml": (200, {"content-type": "application/rss+xml"},
                                       feed)}) as server:
        source = Source(name="small", url=server.url("/feed.xml"))
        result, during = asyncio.run(poll_with_heartbeat(settings, source, run_here))
    assert (result.status, len(result.items), result.notes) == ("ok", 50, ())
    assert during == [0]


def test_an_unchanged_feed_never_asks_for_a_worker(settings) -> None:
    # A cycle starts its worker pool on the first call to its runner: a cycle of 304s
    # must not pay for starting (and warming up) worker processes.
    async def no_worker(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a 304 asked for a worker to run {fn.__name__}")

    async def main(url: str) -> PollResult:
        async with HttpClient(settings) as client:
            return await poll_source(client, Source(name="same", url=url), etag='"v1"',
                                     last_modified=None, run=no_worker)

    with LoopbackServer({"/feed.xml": (304, {"etag": '"v1"'}, b"")}) as server:
        result = asyncio.run(main(server.url("/feed.xml")))
    assert result.status == "not-modified"
