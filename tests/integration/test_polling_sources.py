"""Each source kind polled from loopback, on responses shaped like the real services' ones."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from pipeline.config import Settings
from pipeline.http import HttpClient
from pipeline.ingest.poll import PollResult, poll_source
from pipeline.models import Source
from tests.support.loopback import LoopbackServer, Reply

# Real Google News article ids: the older kind embeds the publisher URL, the newer is opaque.
OLD_ID = ("CBMiLmh0dHBzOi8vd3d3LmJiYy5jb20vbmV3cy9hcnRpY2xlcy9jampqbnhkdjE4OG_SATJodHRwczovL3d3dy"
          "5iYmMuY29tL25ld3MvYXJ0aWNsZXMvY2pqam54ZHYxODhvLmFtcA")
NEW_ID = ("CBMiVkFVX3lxTE4zaGU2bTY2ZGkzdTRkSkJ0cFpsTGlDUjkxU2FBRURaTWU0c3QzVWZ1MHZZNkZ5Vzk1ZVBnTD"
          "FHY2R6ZmdCUkpUTUJsS1pqQTlCRzlzbHV3")


def poll(settings: Settings, source: Source, **validators: str | None) -> PollResult:
    async def go() -> PollResult:
        async with HttpClient(settings) as client:
            return await poll_source(client, source, etag=validators.get("etag"),
                                     last_modified=validators.get("last_modified"))
    return asyncio.run(go())


def query_of(server: LoopbackServer, path: str) -> dict[str, list[str]]:
    [request] = [r for r in server.requests if r.path.split("?")[0] == path]
    return parse_qs(urlsplit(request.path).query)


# -- Google News ---------------------------------------------------------------------------

def google_item(title: str, link: str, publisher: str, description_href: str) -> str:
    description = (f'&lt;a href="{description_href}" target="_blank"&gt;{title}&lt;/a&gt;'
                   f'&amp;nbsp;&amp;nbsp;&lt;font color="#6f6f6f"&gt;{publisher}&lt;/font&gt;')
    return (f"<item><title>{title} - {publisher}</title><link>{link}</link>"
            f'<guid isPermaLink="false">{link.rsplit("/", 1)[-1].split("?")[0]}</guid>'
            f"<pubDate>Tue, 24 Nov 2026 09:30:00 GMT</pubDate>"
            f"<description>{description}</description>"
            f'<source url="https://{publisher.lower()}.example">{publisher}</source></item>')


GOOGLE_NEWS_RSS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
    "<generator>NFE/5.0</generator><title>\"Tren de Aragua\" - Google News</title>"
    "<link>https://news.google.com/search?q=%22Tren+de+Aragua%22&amp;hl=en-US</link>"
    "<language>en-US</language><description>Google News</description>"
    + google_item("Police arrest suspected gang members",
                  f"https://news.google.com/rss/articles/{OLD_ID}?oc=5", "BBC",
                  f"https://news.google.com/rss/articles/{OLD_ID}?oc=5")
    + google_item("Strike on boat off Venezuela",
                  f"https://news.google.com/rss/articles/{NEW_ID}?oc=5", "Reuters",
                  f"https://news.google.com/rss/articles/{NEW_ID}?oc=5")
    + google_item("Maduro responds",
                  "https://news.google.com/news/url?sa=t&amp;fd=R&amp;ct2=us&amp;"
                  "url=https://www.elnacional.example/2026/11/maduro-responde/", "El Nacional",
                  "https://news.google.com/news/url?sa=t")
    + google_item("Gang leader extradited",
                  "https://news.google.com/rss/articles/not-base64!?oc=5", "Miami Herald",
                  "https://www.miamiherald.example/news/gang-leader-extradited.html")
    + "</channel></rss>"
).encode()


def test_google_news_query_becomes_the_search_url_and_links_lead_to_publishers(
    settings,
) -> None:
    with LoopbackServer({"/rss/search": (200, {"content-type": "application/rss+xml"},
                                         GOOGLE_NEWS_RSS)}) as server:
        source = Source(name="gn", url=server.url("/rss/search"), kind="google_news",
                        params={"query": '"Tren de Aragua"', "hl": "es-419", "gl": "ve"})
        result = poll(settings, source)

    assert query_of(server, "/rss/search") == {
        "q": ['"Tren de Aragua"'], "hl": ["es-419"], "gl": ["VE"], "ceid": ["VE:es-419"]}
    assert result.status == "ok"
    assert [(i.title, i.url) for i in result.items] == [
        ("Police arrest suspected gang members", "https://www.bbc.com/news/articles/cjjjnxdv188o"),
        # issued since 2024: only Google can resolve it, so the Google link stays
        ("Strike on boat off Venezuela", f"https://news.google.com/rss/articles/{NEW_ID}?oc=5"),
        ("Maduro responds", "https://www.elnacional.example/2026/11/maduro-responde/"),
        ("Gang leader extradited",
         "https://www.miamiherald.example/news/gang-leader-extradited.html"),
    ]
    assert result.items[0].summary == "Police arrest suspected gang members BBC"
    assert result.items[0].language == "en"


def test_google_news_without_a_query_is_a_configuration_error(settings) -> None:
    result = poll(settings, Source(name="gn", url="https://news.google.com/rss/search",
                                   kind="google_news"))
    assert result.status == "error"
    assert str(result.error).startswith("config:") and "query" in str(result.error)


# -- GDELT ------------------------------------------------------------------------------------

GDELT_ARTLIST = json.dumps({"articles": [
    {"url": "https://www.elnacional.example/venezuela/tren-de-aragua-captura/",
     "url_mobile": "", "title": "Capturan a líder del Tren de Aragua ",
     "seendate": "20261124T093000Z", "socialimage": "", "domain": "elnacional.example",
     "language": "Spanish", "sourcecountry": "Venezuela"},
    {"url": "https://www.miamiherald.example/news/nation-world/article1.html",
     "url_mobile": "", "title": "US strike on drug boat", "seendate": "20261124T120000Z",
     "socialimage": "", "domain": "miamiherald.example", "language": "English",
     "sourcecountry": "United States"},
    {"url": "", "title": "no link"},
]}, ensure_ascii=False).encode()


def test_gdelt_asks_for_an_article_list_and_reads_its_json(settings) -> None:
    with LoopbackServer({"/api/v2/doc/doc": (200, {"content-type": "application/json"},
                                             GDELT_ARTLIST)}) as server:
        source = Source(name="gdelt", url=server.url("/api/v2/doc/doc"), kind="gdelt",
                        params={"query": '"Tren de Aragua"', "timespan": "12h"})
        result = poll(settings, source)

    query = query_of(server, "/api/v2/doc/doc")
    assert query["mode"] == ["artlist"] and query["format"] == ["json"]
    assert query["query"] == ['"Tren de Aragua"'] and query["timespan"] == ["12h"]
    assert [(i.title, i.language, i.published_at) for i in result.items] == [
        ("Capturan a líder del Tren de Aragua", "es", datetime(2026, 11, 24, 9, 30, tzinfo=UTC)),
        ("US strike on drug boat", "en", datetime(2026, 11, 24, 12, tzinfo=UTC)),
    ]


@pytest.mark.parametrize("body, status, expected", [
    (b"", "ok", ""),
    (b"{}", "ok", ""),
    (b"The specified phrase is too short.\n", "error",
     "gdelt: query rejected: The specified phrase is too short."),
    (b"Service unavailable\n", "error", "GDELT did not answer JSON ('Service unavailable')"),
])
def test_gdelt_empty_answers_and_plain_text_errors(settings, body, status, expected) -> None:
    with LoopbackServer({"/doc": (200, {"content-type": "text/html"}, body)}) as server:
        result = poll(settings, Source(name="g", url=server.url("/doc"), kind="gdelt",
                                       params={"query": "ab"}))
    assert result.status == status and result.items == []
    assert expected in str(result.error or "")


# -- news sitemaps -------------------------------------------------------------------------

def news_urlset(*entries: tuple[str, str, str]) -> bytes:
    urls = "".join(
        f"<url><loc>{loc}</loc><news:news><news:publication><news:name>Diario</news:name>"
        f"<news:language>es</news:language></news:publication>"
        f"<news:publication_date>{date}</news:publication_date><news:title>{title}</news:title>"
        f"</news:news></url>"
        for loc, title, date in entries
    )
    return (b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            b'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            + urls.encode() + b"</urlset>")


def sitemap_index(base: str, children: list[tuple[str, str]]) -> bytes:
    body = "".join(f"<sitemap><loc>{base}{path}</loc><lastmod>{lastmod}</lastmod></sitemap>"
                   for path, lastmod in children)
    return ('<?xml version="1.0" encoding="UTF-8"?><sitemapindex '
            f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</sitemapindex>').encode()


def test_a_sitemap_index_is_followed_to_its_newest_children_only(settings) -> None:
    xml = {"content-type": "application/xml"}
    with LoopbackServer() as server:
        server.routes.update({
            "/sitemap_index.xml": (200, xml, sitemap_index(server.base_url, [
                (f"/archive-2025-{m:02d}.xml", f"2025-{m:02d}-28T00:00:00Z") for m in range(1, 9)
            ] + [("/news-today.xml.gz", "2026-11-24T10:00:00Z"),
                 ("/news-yesterday.xml", "2026-11-23T22:00:00+00:00")])),
            "/news-today.xml.gz": (200, {"content-type": "application/x-gzip"}, gzip.compress(
                news_urlset(("https://diario.example/a/1", "Maduro anuncia",
                             "2026-11-24T09:00:00-04:00"))
            )),
            "/news-yesterday.xml": (200, xml, news_urlset(
                ("https://diario.example/a/0", "Lancha atacada", "2026-11-23"),
                ("https://diario.example/a/1", "Maduro anuncia", "2026-11-24T09:00:00-04:00"),
            )),
        })
        source = Source(name="diario", url=server.url("/sitemap_index.xml"), kind="sitemap",
                        params={"max_sitemaps": 2})
        result = poll(settings, source)

    assert result.status == "ok"
    # a/1 is listed by both children: one item
    assert sorted((i.url, i.title, i.language) for i in result.items) == [
        ("https://diario.example/a/0", "Lancha atacada", "es"),
        ("https://diario.example/a/1", "Maduro anuncia", "es"),
    ]
    assert datetime(2026, 11, 24, 13, tzinfo=UTC) in {i.published_at for i in result.items}
    assert not any(r.path.startswith("/archive") for r in server.requests)


def test_a_sitemap_index_whose_children_all_fail_is_a_failed_poll(settings) -> None:
    with LoopbackServer() as server:
        server.routes["/index.xml"] = (200, {}, sitemap_index(server.base_url, [
            ("/gone-1.xml", "2026-11-24"), ("/gone-2.xml", "2026-11-23")]))
        result = poll(settings, Source(name="s", url=server.url("/index.xml"), kind="sitemap"))
    assert result.status == "error"
    assert "no child sitemap could be read" in str(result.error) and "404" in str(result.error)


def test_html_is_not_a_sitemap(settings) -> None:
    page = b"<!DOCTYPE html><html><body>hello</body></html>"
    with LoopbackServer({"/sitemap.xml": (200, {"content-type": "text/html"}, page)}) as server:
        result = poll(settings, Source(name="s", url=server.url("/sitemap.xml"), kind="sitemap"))
    assert result.status == "error" and "not a sitemap (root element <html>)" in str(result.error)


# -- keyed news API ----------------------------------------------------------------------------

NEWSAPI_EVERYTHING = json.dumps({"status": "ok", "totalResults": 3, "articles": [
    {"source": {"id": None, "name": "El Pitazo"}, "author": "Redacción",
     "title": "Detenidos miembros del Tren de Aragua", "description": "Operativo en Aragua.",
     "url": "https://elpitazo.example/sucesos/detenidos/", "urlToImage": None,
     "publishedAt": "2026-11-24T14:05:00Z", "content": "..."},
    {"source": {"id": None, "name": "[Removed]"}, "author": None, "title": "[Removed]",
     "description": "[Removed]", "url": "https://removed.com", "urlToImage": None,
     "publishedAt": "1970-01-01T00:00:00Z", "content": "[Removed]"},
    {"source": {"id": None, "name": "Efecto Cocuyo"}, "author": None,
     "title": "Maduro y la Fuerza Armada", "description": None,
     "url": "https://efectococuyo.example/politica/fanb/", "urlToImage": None,
     "publishedAt": "2026-11-24T11:00:00Z", "content": None},
]}).encode()


def test_newsapi_sends_its_key_in_a_header_never_in_the_url(settings) -> None:
    with LoopbackServer({"/v2/everything": (200, {"content-type": "application/json"},
                                            NEWSAPI_EVERYTHING)}) as server:
        source = Source(name="newsapi", url=server.url("/v2/everything"), kind="newsapi",
                        language="es", params={"query": '"Tren de Aragua" OR Maduro'})
        result = poll(settings.replace(newsapi_key="k-123"), source)

    [request] = server.requests
    assert request.headers["x-api-key"] == "k-123" and "k-123" not in request.path
    assert query_of(server, "/v2/everything")["language"] == ["es"]
    assert [(i.title, i.author, i.published_at.hour) for i in result.items] == [
        ("Detenidos miembros del Tren de Aragua", "Redacción", 14),
        ("Maduro y la Fuerza Armada", None, 11),
    ]


def test_newsapi_without_a_key_is_skipped_without_a_request(settings) -> None:
    with LoopbackServer({"/v2/everything": (200, {}, NEWSAPI_EVERYTHING)}) as server:
        source = Source(name="newsapi", url=server.url("/v2/everything"), kind="newsapi",
                        params={"query": "Maduro"})
        result = poll(settings.replace(newsapi_key=None), source)
    assert result.status == "skipped" and server.requests == []
    assert "NEWSMON_NEWSAPI_KEY" in str(result.error)


def test_newsapi_rejecting_the_key_is_a_misconfigured_source(settings) -> None:
    body = b'{"status":"error","code":"apiKeyInvalid","message":"Your API key is invalid."}'
    with LoopbackServer({"/v2/everything": Reply(status=401, body=body)}) as server:
        source = Source(name="n", url=server.url("/v2/everything"), kind="newsapi",
                        params={"query": "Maduro"})
        result = poll(settings.replace(newsapi_key="wrong"), source)
    assert result.status == "error" and result.error.status == 401
    assert str(result.error) == ("newsapi: API key rejected (apiKeyInvalid): Your API key is "
                                 "invalid. (check NEWSMON_NEWSAPI_KEY)")
