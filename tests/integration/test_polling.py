"""Incremental polling against loopback servers and a real PostgreSQL.

Conditional requests on the second run, no article fetched twice, permanent redirects,
410 Gone, backoff and the failing state, skipped keyed sources, and which sources are due.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from pipeline.config import Settings
from pipeline.demo import FEEDS, SITE_DIR
from pipeline.http import HttpClient
from pipeline.ingest.cycle import run_cycle
from pipeline.ingest.poll import poll_source, record_poll
from pipeline.models import Source
from pipeline.store import connect
from pipeline.store.sources import (
    add_source,
    due_sources,
    poll_states,
    registered_sources,
    sync_sources,
)
from tests.support.loopback import LoopbackServer, RecordedRequest, Reply, redirect

EMPTY_FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
XML = {"content-type": "application/rss+xml; charset=utf-8"}
LAST_MODIFIED = "Tue, 24 Nov 2026 16:20:00 GMT"


def serve_demo_site(server: LoopbackServer, *, validators: bool) -> None:
    """The demo site on `server`; feeds answer conditional requests when `validators`."""
    for path in SITE_DIR.rglob("*"):
        if not path.is_file():
            continue
        route = "/" + path.relative_to(SITE_DIR).as_posix()
        body = path.read_bytes().replace(b"{BASE}", server.base_url.encode())
        kind = "application/xml" if path.suffix == ".xml" else "text/html; charset=utf-8"
        if path.suffix == ".txt":
            kind = "text/plain"
        if path.suffix == ".xml" and validators:
            server.routes[route] = _conditional(body, etag=f'"{route}-v1"')
        else:
            server.routes[route] = Reply(headers={"content-type": kind}, body=body)


def _conditional(body: bytes, *, etag: str) -> Callable[[RecordedRequest], Reply]:
    def answer(request: RecordedRequest) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(status=304, headers={"etag": etag})
        return Reply(headers={"content-type": "application/xml", "etag": etag,
                              "last-modified": LAST_MODIFIED}, body=body)
    return answer


def demo_sources(server: LoopbackServer) -> list[Source]:
    return [Source(name=name, url=server.url(path), language=lang) for name, path, lang in FEEDS]


def make_all_due(db_url: str) -> None:
    """Between runs: the sources' next poll times have come (as if time had passed)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE sources SET next_poll_at = now() - interval '1 second' WHERE enabled")


def feed_paths() -> set[str]:
    return {path for _name, path, _lang in FEEDS}


def article_requests(server: LoopbackServer) -> list[str]:
    return [r.path for r in server.requests if r.path.endswith(".html")]


# -- the "done when" runs ---------------------------------------------------------------

def test_second_run_on_unchanged_feeds_sends_only_conditional_requests(settings, db_url) -> None:
    with LoopbackServer() as server:
        serve_demo_site(server, validators=True)
        first = run_cycle(settings, sources=demo_sources(server), db_url=db_url)
        first_count = len(server.requests)
        make_all_due(db_url)
        second = run_cycle(settings, sources=demo_sources(server), db_url=db_url)
        later = server.requests[first_count:]

    assert first.sources_polled == 3 and first.new_articles >= 7
    assert {r.path for r in later} == feed_paths()  # the feeds and nothing else
    assert all(r.headers.get("if-none-match") == f'"{r.path}-v1"' for r in later)
    assert all(r.headers.get("if-modified-since") == LAST_MODIFIED for r in later)
    assert second.sources_not_modified == 3 and second.sources_polled == 0
    pages = article_requests(server)
    assert len(pages) == len(set(pages)) == 8  # every article page fetched exactly once
    with psycopg.connect(db_url) as conn:
        statuses = conn.execute(
            "SELECT status, count(*) FROM fetch_log GROUP BY status ORDER BY status").fetchall()
    assert statuses == [("not-modified", 3), ("ok", 3)]


def test_second_run_on_a_server_without_validators_fetches_no_article_again(
    settings, db_url
) -> None:
    with LoopbackServer() as server:
        serve_demo_site(server, validators=False)
        run_cycle(settings, sources=demo_sources(server), db_url=db_url)
        make_all_due(db_url)
        second = run_cycle(settings, sources=demo_sources(server), db_url=db_url)

    pages = article_requests(server)
    assert len(pages) == len(set(pages))
    assert second.sources_polled == 3 and second.new_articles == 0
    assert second.outcomes["already-seen"] == second.items_seen


# -- permanent redirects and 410 ------------------------------------------------------------

def stored(db_url: str, name: str) -> dict:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            """SELECT url, origin_url, enabled, status, error_streak, disabled_reason,
                      next_poll_at, last_error FROM sources WHERE name = %s""",
            (name,),
        ).fetchone()
    keys = ("url", "origin_url", "enabled", "status", "error_streak", "disabled_reason",
            "next_poll_at", "last_error")
    return dict(zip(keys, row, strict=True))


def test_a_permanent_redirect_moves_the_stored_url_and_the_file_does_not_move_it_back(
    settings, db_url
) -> None:
    with LoopbackServer({"/new.xml": (200, XML, EMPTY_FEED)}) as server:
        server.routes["/old.xml"] = redirect(server.url("/new.xml"), 301)
        sources = [Source(name="moved", url=server.url("/old.xml"))]
        run_cycle(settings, sources=sources, db_url=db_url)
        make_all_due(db_url)
        run_cycle(settings, sources=sources, db_url=db_url)  # the same file, synced again

    assert stored(db_url, "moved")["url"] == server.url("/new.xml")
    assert stored(db_url, "moved")["origin_url"] == server.url("/old.xml")
    assert (server.count("/old.xml"), server.count("/new.xml")) == (1, 2)


def test_a_new_url_in_the_sources_file_replaces_a_redirected_one(settings, db_url) -> None:
    with LoopbackServer({"/new.xml": (200, XML, EMPTY_FEED),
                         "/newer.xml": (200, XML, EMPTY_FEED)}) as server:
        server.routes["/old.xml"] = redirect(server.url("/new.xml"), 308)
        poll_once(settings, db_url, Source(name="moved", url=server.url("/old.xml")))
        assert stored(db_url, "moved")["url"] == server.url("/new.xml")  # 308 is permanent too
        with connect(db_url, autocommit=True) as conn:
            sync_sources(conn, [Source(name="moved", url=server.url("/newer.xml"))])
    assert stored(db_url, "moved")["url"] == server.url("/newer.xml")


@pytest.mark.parametrize("target, status, why", [
    ("/new.xml", 302, "a temporary redirect"),
    ("/home.html", 301, "a permanent redirect to a page that is not a feed"),
])
def test_the_stored_url_stays_after(settings, db_url, target, status, why) -> None:
    page = b"<!DOCTYPE html><html><body>Welcome</body></html>"
    with LoopbackServer({"/new.xml": (200, XML, EMPTY_FEED),
                         "/home.html": (200, {"content-type": "text/html"}, page)}) as server:
        server.routes["/old.xml"] = redirect(server.url(target), status)
        poll_once(settings, db_url, Source(name="s", url=server.url("/old.xml")))
    assert stored(db_url, "s")["url"] == server.url("/old.xml"), why


def test_410_gone_disables_the_source_and_later_runs_leave_it_alone(settings, db_url) -> None:
    with LoopbackServer({"/gone.xml": Reply(status=410, body=b"gone"),
                         "/ok.xml": (200, XML, EMPTY_FEED)}) as server:
        sources = [Source(name="gone", url=server.url("/gone.xml")),
                   Source(name="fine", url=server.url("/ok.xml"))]
        first = run_cycle(settings, sources=sources, db_url=db_url)
        make_all_due(db_url)
        second = run_cycle(settings, sources=sources, db_url=db_url)

    gone = stored(db_url, "gone")
    assert first.sources_failed == 1 and second.sources_failed == 0
    assert server.count("/gone.xml") == 1 and server.count("/ok.xml") == 2
    assert (gone["enabled"], gone["status"], gone["next_poll_at"]) == (False, "disabled", None)
    assert "410 Gone" in gone["disabled_reason"]


# -- schedule and backoff ---------------------------------------------------------------------

def poll_and_record(settings: Settings, conn: psycopg.Connection, source: Source,
                    now: datetime) -> None:
    async def go():
        async with HttpClient(settings) as client:
            state = poll_states(conn, [source.id])[source.id]
            return await poll_source(client, source, etag=state.etag,
                                     last_modified=state.last_modified)
    record_poll(conn, source, asyncio.run(go()), run_id=None, items_new=0, now=now)


def poll_once(settings: Settings, db_url: str, source: Source) -> None:
    with connect(db_url, autocommit=True) as conn:
        [source] = sync_sources(conn, [source])
        poll_and_record(settings, conn, source, datetime.now(UTC))


def test_failures_back_off_then_mark_the_source_failing_until_it_answers(
    settings, db_url
) -> None:
    settings = settings.replace(poll_min_interval_s=60, poll_failing_after=3,
                                poll_failing_interval_s=86400, retries=0)
    answers = [Reply(status=500)] * 4 + [Reply(headers=XML, body=EMPTY_FEED)]
    with LoopbackServer({"/feed.xml": lambda _r: answers.pop(0)}) as server, \
            connect(db_url, autocommit=True) as conn:
        [source] = sync_sources(conn, [Source(name="flaky", url=server.url("/feed.xml"))])
        now = datetime.now(UTC)
        waits, statuses = [], []
        for _ in range(5):
            assert due_sources(conn, [source], now=now) == [source]
            poll_and_record(settings, conn, source, now)
            after = stored(db_url, "flaky")
            assert due_sources(conn, [source], now=now) == []  # not again before its time
            waits.append(after["next_poll_at"] - now)
            statuses.append((after["status"], after["error_streak"]))
            now = after["next_poll_at"]

    assert waits[:4] == [timedelta(minutes=1), timedelta(minutes=2), timedelta(days=1),
                         timedelta(days=1)]
    assert statuses == [("active", 1), ("active", 2), ("failing", 3), ("failing", 4),
                        ("active", 0)]
    assert stored(db_url, "flaky")["last_error"] is None


def test_a_source_without_api_key_is_recorded_as_skipped_and_the_run_goes_on(
    settings, db_url
) -> None:
    with LoopbackServer({"/ok.xml": (200, XML, EMPTY_FEED)}) as server:
        sources = [Source(name="newsapi", url=server.url("/v2/everything"), kind="newsapi",
                          params={"query": "Maduro"}),
                   Source(name="feed", url=server.url("/ok.xml"))]
        summary = run_cycle(settings.replace(newsapi_key=None), sources=sources, db_url=db_url)

    assert summary.sources_failed == 0 and server.count("/v2/everything") == 0
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            """SELECT f.status, f.error_class, f.error_message FROM fetch_log f
               JOIN sources s ON s.id = f.source_id WHERE s.name = 'newsapi'""").fetchone()
    assert row[:2] == ("skipped", "skipped") and "NEWSMON_NEWSAPI_KEY" in row[2]
    assert stored(db_url, "newsapi")["error_streak"] == 0


def test_a_run_covers_the_file_and_the_added_sources_that_are_due(db_url, tmp_path: Path) -> None:
    with connect(db_url, autocommit=True) as conn:
        assert add_source(conn, Source(name="added", url="http://127.0.0.1:9/added.xml"))
        file_sources = [Source(name="from file", url="http://127.0.0.1:9/file.xml")]
        everything = registered_sources(conn, file_sources)
        assert [s.name for s in everything] == ["from file", "added"]

        conn.execute("UPDATE sources SET next_poll_at = now() + interval '1 hour' "
                     "WHERE name = 'added'")
        assert [s.name for s in due_sources(conn, everything)] == ["from file"]
        later = datetime.now(UTC) + timedelta(hours=2)
        assert [s.name for s in due_sources(conn, everything, now=later)] == ["from file",
                                                                              "added"]
