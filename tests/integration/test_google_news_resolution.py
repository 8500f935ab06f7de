"""Google News ids resolved the way Google's own page does it, against a loopback stand-in
for news.google.com (article pages with a signature, batchexecute answering in Google's
format), through real cycles on the embedded PostgreSQL: found ids are stored under their
publisher URL and never asked again; ids Google will not resolve are recorded unresolved,
never fetched, and still judged on their headline."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import parse_qs

import psycopg
import pytest

from pipeline.config import Settings
from pipeline.demo import SITE_DIR
from pipeline.http import FetchError, HttpClient
from pipeline.ingest.cycle import run_cycle
from pipeline.match import load_watchlist, match_article
from pipeline.models import Article, Source
from pipeline.sources.google_news import BATCHEXECUTE_PATH, resolve_ids
from pipeline.store.articles import NotAnArticle, store_article
from tests.support.loopback import LoopbackServer, RecordedRequest, Reply, replies_in_turn

ARTICLE_PAGES = "/rss/articles/"
EDITION_QUERY = "hl=en-GB&gl=GB&ceid=GB%3Aen"
TREN = "/caribbean-wire/2026/11/tren-de-aragua-arrests.html"
SHORTSTOP = "/caribbean-wire/2026/11/shortstop-signs.html"
TREN_TITLE = "Police in three states arrest suspected Tren de Aragua members"
SHORTSTOP_TITLE = "Veteran shortstop signs one-year deal with Miami"


def opaque(token: str) -> str:
    """An article id built the way Google builds them since 2024: CBMi + an AU_yqL token."""
    payload = b"AU_yqL" + token.encode()
    raw = b"\x08\x13\x22" + bytes([len(payload)]) + payload
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


TREN_ID, SHORTSTOP_ID = opaque("tren-de-aragua-arrests"), opaque("shortstop-signs")


@pytest.fixture
def serve() -> Iterator[Callable[..., LoopbackServer]]:
    with ExitStack() as stack:
        yield lambda routes=None, **kw: stack.enter_context(LoopbackServer(routes, **kw))


class GoogleStandIn:
    """news.google.com on loopback: an article page per known id carrying a signature and a
    timestamp, and batchexecute answering a garturlreq that quotes them with the URL."""

    def __init__(self, serve: Callable[..., LoopbackServer], urls: dict[str, str]) -> None:
        self.urls = dict(urls)
        self.no_signature: set[str] = set()  # ids answered with a consent page instead
        self.refused: set[str] = set()  # ids batchexecute answers with an error row
        self.server = serve({BATCHEXECUTE_PATH: self.batchexecute}, host="127.0.0.3")
        for article_id in urls:
            self.server.routes[ARTICLE_PAGES + article_id] = self.page

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @staticmethod
    def signature(article_id: str) -> tuple[int, str]:
        return 1754380800, "AZ5r3e" + hashlib.sha256(article_id.encode()).hexdigest()[:20]

    def page(self, request: RecordedRequest) -> Reply:
        article_id = request.path.split("?")[0].rsplit("/", 1)[1]
        if article_id in self.no_signature:
            return Reply(body=b"<html><body><form action='https://consent.google.com/s'>"
                              b"Before you continue to Google</form></body></html>")
        timestamp, signature = self.signature(article_id)
        return Reply(headers={"content-type": "text/html; charset=utf-8"}, body=(
            f'<!doctype html><html><head><title>Google News</title></head><body>'
            f'<c-wiz jsrenderer="yT2Rk"><div jscontroller="aLI87" data-n-a-id="{article_id}" '
            f'data-n-a-sg="{signature}" data-n-a-ts="{timestamp}"></div></c-wiz>'
            f"<p>Opening the article on Google News...</p></body></html>").encode())

    def batchexecute(self, request: RecordedRequest) -> Reply:
        assert request.method == "POST"
        assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
        [[[rpc, inner, _, _]]] = json.loads(parse_qs(request.body.decode())["f.req"][0])
        name, _context, article_id, timestamp, signature = json.loads(inner)
        known = (rpc, name) == ("Fbv4je", "garturlreq") and article_id in self.urls
        if (not known or article_id in self.refused
                or (timestamp, signature) != self.signature(article_id)):
            rows = [["wrb.fr", "Fbv4je", None, None, None, [3], "generic"]]
        else:
            payload = json.dumps(["garturlres", self.urls[article_id], 1])
            rows = [["wrb.fr", "Fbv4je", payload, None, None, None, "generic"]]
        # the chunked form: each array of rows after its length
        chunks = [json.dumps(rows), json.dumps([["di", 41], ["af.httprm", 40, "-6", 1]])]
        body = ")]}'\n\n" + "".join(f"{len(chunk)}\n{chunk}\n" for chunk in chunks)
        return Reply(headers={"content-type": "application/json; charset=utf-8"},
                     body=body.encode())

    def pages_asked(self) -> list[str]:
        return [r.path for r in self.server.requests if r.path.startswith(ARTICLE_PAGES)]

    def lookups(self) -> int:
        return self.server.count(BATCHEXECUTE_PATH)


def publisher_site(serve: Callable[..., LoopbackServer]) -> LoopbackServer:
    """The demo site's article pages, as a publisher on its own host."""
    server = serve(host="127.0.0.2")
    for page in SITE_DIR.rglob("*.html"):
        body = page.read_bytes().replace(b"{BASE}", server.base_url.encode())
        server.routes["/" + page.relative_to(SITE_DIR).as_posix()] = Reply(
            headers={"content-type": "text/html; charset=utf-8"}, body=body)
    return server


def google_feed(entries: list[tuple[str, str, str]]) -> bytes:
    """A 2026 Google News search feed: (title, id, publisher) per item."""
    items = "".join(
        f"<item><title>{title} - {publisher}</title>"
        f"<link>https://news.google.com/rss/articles/{article_id}?oc=5</link>"
        f'<guid isPermaLink="false">{article_id}</guid>'
        f"<pubDate>Wed, 05 Aug 2026 07:00:00 GMT</pubDate>"
        f'<description>&lt;a href="https://news.google.com/rss/articles/{article_id}?oc=5" '
        f'target="_blank"&gt;{title}&lt;/a&gt;&amp;nbsp;&amp;nbsp;&lt;font color="#6f6f6f"&gt;'
        f"{publisher}&lt;/font&gt;</description>"
        f'<source url="https://caribbean-wire.example">{publisher}</source></item>'
        for title, article_id, publisher in entries)
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<rss xmlns:media="http://search.yahoo.com/mrss/" version="2.0"><channel>'
            "<generator>NFE/5.0</generator><title>\"Tren de Aragua\" - Google News</title>"
            "<link>https://news.google.com/search?q=Tren+de+Aragua&amp;hl=en-GB</link>"
            "<language>en-GB</language><description>Google News</description>"
            f"{items}</channel></rss>").encode()


FEED = google_feed([(TREN_TITLE, TREN_ID, "Caribbean Wire"),
                    (SHORTSTOP_TITLE, SHORTSTOP_ID, "Caribbean Wire")])


def feed_source(server: LoopbackServer, path: str = "/rss/search", name: str = "gn") -> Source:
    return Source(name=name, url=server.url(path), kind="google_news", language="en",
                  params={"query": "Tren de Aragua", "hl": "en-GB", "gl": "GB"})


def resolving(settings: Settings, base_url: str, **changes: Any) -> Settings:
    return settings.replace(google_news_url=base_url, google_news_interval_s=0.0, **changes)


def rows(db_url: str, query: str, *params: object) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(query, params).fetchall()


def no_google_in_articles(db_url: str) -> None:
    """Neither an article nor any URL it is known by is Google's, nor its text the
    interstitial's."""
    assert rows(db_url, """SELECT url FROM articles WHERE url ~ '(google|bing)\\.com'
                           OR canonical_url ~ '(google|bing)\\.com'
                           UNION ALL SELECT url FROM article_urls
                           WHERE url ~ '(google|bing)\\.com'
                           UNION ALL SELECT url FROM articles
                           WHERE text ILIKE '%%Google News%%'""") == []


def closed_port() -> int:
    """A loopback port nothing listens on: Google unreachable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.3", 0))
        return probe.getsockname()[1]


# -- found ids: stored under the publisher's URL, asked once -----------------------------------

def test_ids_resolve_through_the_stand_in_and_are_never_asked_again(settings, db_url, serve):
    publisher = publisher_site(serve)
    google = GoogleStandIn(serve, {TREN_ID: publisher.url(TREN),
                                   SHORTSTOP_ID: publisher.url(SHORTSTOP)})
    feeds = serve({"/rss/search": Reply(body=FEED), "/rss/other": Reply(body=FEED)})
    settings = resolving(settings, google.base_url)

    first = run_cycle(settings, sources=[feed_source(feeds)], db_url=db_url)

    assert (first.new_articles, first.outcomes["new-relevant"]) == (2, 1)
    assert first.as_dict()["unresolved"] == 0
    assert sorted(google.pages_asked()) == sorted(
        f"{ARTICLE_PAGES}{i}?{EDITION_QUERY}" for i in (TREN_ID, SHORTSTOP_ID))
    assert google.lookups() == 2
    assert publisher.count(TREN) == 1 and publisher.count(SHORTSTOP) == 1
    stored = dict(rows(db_url, "SELECT canonical_url, title FROM articles"))
    assert stored == {publisher.url(TREN): TREN_TITLE, publisher.url(SHORTSTOP): SHORTSTOP_TITLE}
    assert dict(rows(db_url, "SELECT id, url FROM google_news_links")) == {
        TREN_ID: publisher.url(TREN), SHORTSTOP_ID: publisher.url(SHORTSTOP)}
    assert sorted(rows(db_url, "SELECT item_key, outcome, url FROM feed_items")) == sorted([
        (TREN_ID, "new-relevant", publisher.url(TREN)),
        (SHORTSTOP_ID, "new-irrelevant", publisher.url(SHORTSTOP))])
    no_google_in_articles(db_url)

    # the same feed again, then a second feed listing the same ids: Google is asked nothing
    again = run_cycle(settings, sources=[feed_source(feeds)], db_url=db_url)
    other = run_cycle(settings, sources=[feed_source(feeds), feed_source(feeds, "/rss/other",
                                                                         "gn other")],
                      db_url=db_url)
    assert again.outcomes["already-seen"] == 2 and again.new_articles == 0
    assert other.outcomes["duplicate"] == 2
    assert (len(google.pages_asked()), google.lookups()) == (2, 2)
    assert rows(db_url, "SELECT count(*) FROM articles") == [(2,)]


def test_the_real_2026_ids_resolve_through_the_stand_in(settings, db_url, serve, shared_corpus):
    capture = shared_corpus / "wire" / "google-news" / "gn-search-en-GB-brent-crude-2026-08-05.xml"
    if not capture.is_file():
        pytest.skip("the wire corpus has no 2026 Google News capture")
    body = capture.read_bytes()
    ids = [line.split(b">")[1].split(b"<")[0].decode() for line in body.split(b"<guid")[1:]]
    publisher = publisher_site(serve)
    pages = sorted(publisher.routes)[:len(ids)]
    google = GoogleStandIn(serve, {i: publisher.url(p) for i, p in zip(ids, pages, strict=True)})
    feeds = serve({"/rss/search": Reply(body=body)})

    summary = run_cycle(resolving(settings, google.base_url), sources=[feed_source(feeds)],
                        db_url=db_url)

    assert len(ids) == 6 and google.lookups() == 6
    assert summary.new_articles + summary.outcomes["duplicate"] == 6  # one demo page is a copy
    assert sorted(url for (url,) in rows(db_url, "SELECT url FROM feed_items")) == sorted(
        publisher.url(p) for p in pages)
    no_google_in_articles(db_url)


# -- ids Google does not resolve: recorded, never fetched, still judged ------------------------

def test_without_google_entries_are_unresolved_judged_and_never_fetched(settings, db_url,
                                                                        serve):
    publisher = publisher_site(serve)
    feeds = serve({"/rss/search": Reply(body=FEED)})
    settings = resolving(settings, f"http://127.0.0.3:{closed_port()}")

    summary = run_cycle(settings, sources=[feed_source(feeds)], db_url=db_url)

    counts = summary.as_dict()
    assert (counts["unresolved"], counts["unresolved_relevant"]) == (2, 1)
    assert summary.new_articles == 0 and publisher.requests == []
    assert rows(db_url, "SELECT count(*) FROM articles") == [(0,)]
    reasons = dict(rows(db_url, "SELECT item_key, error FROM feed_items "
                                "WHERE outcome = 'unresolved'"))
    # the first id meets the closed port; the next is not even tried
    assert reasons[TREN_ID].startswith("resolve: fetch: cannot connect")
    assert reasons[SHORTSTOP_ID].startswith("resolve: not asked: Google News failed an earlier")
    # a relevant headline is found by SQL, with its publisher and the verdict's evidence
    [(title, publisher_name, link, evidence)] = rows(
        db_url, "SELECT title, publisher, link, evidence FROM unresolved_items WHERE relevant")
    assert (title, publisher_name) == (TREN_TITLE, "Caribbean Wire")
    assert link == f"https://news.google.com/rss/articles/{TREN_ID}?oc=5"
    assert {e["id"] for e in evidence} == {"tren_de_aragua"}
    watchlist = load_watchlist("venezuela")
    [(score,)] = rows(db_url, "SELECT score FROM feed_item_matches WHERE item_key = %s", TREN_ID)
    assert score == pytest.approx(match_article(
        watchlist, title=TREN_TITLE, text=f"{TREN_TITLE} Caribbean Wire", lang="en").score)
    # only the id Google was asked about waits in the cache
    [(cached, reason, waits)] = rows(
        db_url, "SELECT id, reason, next_try_at > now() FROM google_news_links")
    assert (cached, waits) == (TREN_ID, True) and reason == reasons[TREN_ID]


def test_a_busy_google_stops_the_cycles_lookups_for_every_source(settings, db_url, serve):
    google = GoogleStandIn(serve, {})
    ids = [opaque(f"story-{n}") for n in range(4)]
    for article_id in ids:
        google.server.routes[ARTICLE_PAGES + article_id] = Reply(status=503)
    feeds = serve({"/rss/search": Reply(body=google_feed([(f"Story {n}", i, "Wire")
                                                          for n, i in enumerate(ids[:2])])),
                   "/rss/other": Reply(body=google_feed([(f"Story {n}", i, "Wire")
                                                         for n, i in enumerate(ids[2:])]))})
    sources = [feed_source(feeds), feed_source(feeds, "/rss/other", "gn other")]

    summary = run_cycle(resolving(settings, google.base_url), sources=sources, db_url=db_url)

    assert summary.outcomes["unresolved"] == 4
    assert len(google.pages_asked()) == 2  # one id: the first try and the client's retry
    reasons = sorted(error for (error,) in rows(db_url, "SELECT error FROM feed_items"))
    assert reasons[0].startswith("resolve: fetch: HTTP 503 Service Unavailable after 2 attempts")
    halted = ("resolve: not asked: Google News failed an earlier lookup "
              "(HTTP 503 Service Unavailable after 2 attempts)")
    assert reasons[1:] == [halted] * 3


def test_failed_ids_wait_for_their_retry_time_then_resolve(settings, db_url, serve):
    publisher = publisher_site(serve)
    google = GoogleStandIn(serve, {TREN_ID: publisher.url(TREN),
                                   SHORTSTOP_ID: publisher.url(SHORTSTOP)})
    google.no_signature.add(TREN_ID)
    google.refused.add(SHORTSTOP_ID)
    feeds = serve({"/rss/search": Reply(body=FEED)})
    settings = resolving(settings, google.base_url)
    source = feed_source(feeds)

    first = run_cycle(settings, sources=[source], db_url=db_url)
    reasons = dict(rows(db_url, "SELECT item_key, error FROM feed_items"))
    assert first.outcomes["unresolved"] == 2 and publisher.requests == []
    assert "carries no data-n-a-sg and data-n-a-ts" in reasons[TREN_ID]
    assert reasons[SHORTSTOP_ID] == "resolve: batchexecute gave no URL for the id (status [3])"

    # within the backoff nothing is asked and nothing recorded again
    waiting = run_cycle(settings, sources=[source], db_url=db_url)
    assert waiting.outcomes["already-seen"] == 2 and waiting.outcomes["unresolved"] == 0
    assert (len(google.pages_asked()), google.lookups()) == (2, 1)
    assert rows(db_url, "SELECT DISTINCT attempts FROM feed_items") == [(1,)]

    # Google answers again and the retry time has come: both are stored, nothing unresolved
    google.no_signature.clear()
    google.refused.clear()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE google_news_links SET next_try_at = now() - interval '1 minute'")
    later = run_cycle(settings, sources=[source], db_url=db_url)
    assert later.new_articles == 2 and later.outcomes["new-relevant"] == 1
    assert rows(db_url, "SELECT count(*) FROM unresolved_items") == [(0,)]
    assert sorted(rows(db_url, "SELECT outcome, error FROM feed_items")) == [
        ("new-irrelevant", None), ("new-relevant", None)]
    assert rows(db_url, "SELECT count(*) FROM google_news_links WHERE url IS NULL") == [(0,)]
    no_google_in_articles(db_url)


def test_lookups_per_cycle_are_capped_and_the_rest_wait_for_the_next(settings, db_url, serve):
    publisher = publisher_site(serve)
    google = GoogleStandIn(serve, {TREN_ID: publisher.url(TREN),
                                   SHORTSTOP_ID: publisher.url(SHORTSTOP)})
    feeds = serve({"/rss/search": Reply(body=FEED)})
    settings = resolving(settings, google.base_url, google_news_resolve_per_cycle=1)
    source = feed_source(feeds)

    first = run_cycle(settings, sources=[source], db_url=db_url)
    assert (first.new_articles, first.outcomes["unresolved"], google.lookups()) == (1, 1, 1)
    [(reason,)] = rows(db_url, "SELECT error FROM feed_items WHERE outcome = 'unresolved'")
    assert reason.startswith("resolve: not looked up yet: this cycle's 1 Google News lookups")

    second = run_cycle(settings, sources=[source], db_url=db_url)
    assert (second.new_articles, google.lookups()) == (1, 2)
    assert rows(db_url, "SELECT count(*) FROM feed_items WHERE article_id IS NULL") == [(0,)]


# -- the HTTP client's part ---------------------------------------------------------------------

def run(coroutine_fn: Callable[[HttpClient], Any], settings: Settings) -> Any:
    async def go() -> Any:
        async with HttpClient(settings) as client:
            return await coroutine_fn(client)
    return asyncio.run(go())


def test_a_form_post_goes_through_the_guard_retries_and_cap(settings, serve):
    server = serve({"/form": replies_in_turn(Reply(status=503), Reply(body=b"done")),
                    "/moved": Reply(status=302, headers={"location": "/form"}),
                    "/big": Reply(body=b"x" * 2048)})

    answer = run(lambda c: c.post_form(server.url("/form"), {"f.req": '[["a b"]]'}), settings)
    assert answer.body == b"done"
    sent = server.requests_to("/form")
    assert [r.method for r in sent] == ["POST", "POST"]  # the 503 was retried
    assert parse_qs(sent[1].body.decode()) == {"f.req": ['[["a b"]]']}

    for path, settings_now, kind in [
        ("/moved", settings, "http-status"),  # a POST's redirect is not followed
        ("/big", settings.replace(max_response_bytes=1024), "too-large"),
        ("/form", settings.replace(allow_private_networks=False), "ssrf"),
    ]:
        with pytest.raises(FetchError) as caught:
            run(lambda c, p=path: c.post_form(server.url(p), {"a": "b"}), settings_now)
        assert caught.value.kind == kind, path
    assert server.count("/form") == 2 and server.count("/moved") == 1


def test_requests_to_a_paced_host_start_apart(settings, serve):
    google = GoogleStandIn(serve, {TREN_ID: "https://www.example.org/a",
                                   SHORTSTOP_ID: "https://www.example.org/b"})

    async def lookups(client: HttpClient) -> dict:
        client.pace("127.0.0.3", 0.3)
        return await resolve_ids(client, [TREN_ID, SHORTSTOP_ID], base_url=google.base_url)

    found = run(lookups, settings)
    assert {i: lookup.url for i, lookup in found.items()} == {
        TREN_ID: "https://www.example.org/a", SHORTSTOP_ID: "https://www.example.org/b"}
    starts = [r.started_at for r in google.server.requests]
    assert len(starts) == 4
    assert all(later - earlier >= 0.25 for earlier, later in itertools.pairwise(starts))


def test_an_unknown_id_fails_alone_and_a_busy_google_stops_the_lookups(settings, serve):
    google = GoogleStandIn(serve, {TREN_ID: "https://www.example.org/a"})
    unknown = opaque("never-issued")

    found = run(lambda c: resolve_ids(c, [unknown, TREN_ID], base_url=google.base_url),
                settings)
    assert found[unknown].reason.startswith("resolve: fetch: HTTP 404 Not Found")
    assert found[TREN_ID].url == "https://www.example.org/a"

    google.server.routes[ARTICLE_PAGES + TREN_ID] = Reply(status=429)
    found = run(lambda c: resolve_ids(c, [TREN_ID, unknown], base_url=google.base_url),
                settings.replace(retries=0))
    assert found[TREN_ID].asked and "429" in found[TREN_ID].reason
    assert not found[unknown].asked and google.pages_asked().count(
        f"{ARTICLE_PAGES}{unknown}") == 1  # only from the first round


# -- the store's guard --------------------------------------------------------------------------

def page(url: str, **fields: Any) -> Article:
    return Article(url=url, canonical_url=url, title="Sorry", text="Before you continue " * 20,
                   **fields)


@pytest.mark.parametrize("article", [
    page("https://news.google.com/rss/articles/CBMi"),
    page("http://www.bing.com/news/apiclick.aspx?url=x"),
    page("https://www.publisher.example/a",
         page_canonical_url="https://news.google.com/articles/CBMi"),
])
def test_the_store_refuses_an_aggregators_page(db_url, article):
    match = match_article(load_watchlist("venezuela"), title=article.title, text=article.text)
    with psycopg.connect(db_url) as conn, pytest.raises(NotAnArticle, match="^store: refused"):
        store_article(conn, article=article, source_id=None, match=match)
    assert rows(db_url, "SELECT count(*) FROM articles") == [(0,)]


def test_an_aggregators_feed_link_is_not_kept_as_an_article_url(db_url):
    article = Article(url="https://www.publisher.example/a", canonical_url="",
                      title="Maduro", text="Nicolás Maduro habló hoy en Caracas. " * 20)
    match = match_article(load_watchlist("venezuela"), title=article.title, text=article.text)
    with psycopg.connect(db_url) as conn:
        store_article(conn, article=article, source_id=None, match=match,
                      feed_url="http://www.bing.com/news/apiclick.aspx?url=x")
        conn.commit()
    assert rows(db_url, "SELECT url FROM article_urls") == [("https://www.publisher.example/a",)]

