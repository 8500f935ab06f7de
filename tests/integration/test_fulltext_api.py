"""Sources that resolve or deliver the article themselves, through a real cycle.

A loopback server stands in for the Guardian content API (or for Bing News), another one
for the publishers' sites; the store is a real PostgreSQL. The Guardian delivers each
article's text, so its pages must never be requested; Bing's click-tracking links must
leave nothing but publisher URLs in the store.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import psycopg
import pytest
from psycopg.rows import dict_row

from pipeline.alerts import add_subscriber
from pipeline.dedup.keys import text_keys
from pipeline.ingest.cycle import run_cycle
from pipeline.ingest.reextract import reextract
from pipeline.models import Outcome, Source
from tests.support.loopback import LoopbackServer

KEY = "k-guardian-123"
ARRESTS = [
    ("Police in three states said on Monday that they had arrested eleven people suspected "
     "of belonging to the Tren de Aragua gang, the Venezuelan criminal network that federal "
     "prosecutors have accused of extortion and trafficking across the region."),
    ("Officers seized weapons, phones and ledgers during the raids, which followed a "
     "months-long investigation by a joint task force of local and federal agencies."),
    ("Prosecutors said the suspects would appear before a judge later this week and that "
     "more arrests were expected as the investigation continued in several cities."),
    ("Community leaders urged residents to report extortion attempts and said that many "
     "victims had been too afraid to come forward until the task force was formed."),
]
CORRECTION = ("Prosecutors said on Tuesday that fourteen people, not eleven, had been "
              "arrested, and that two of them had been released without charge.")
BUSES = [
    ("The city council approved three new bus routes on Tuesday night, connecting the "
     "northern suburbs with the hospital district and the central railway station."),
    ("Officials said the routes would start running in the spring and that fares would stay "
     "the same for at least another year, despite rising fuel costs."),
]
ARRESTS_TITLE = "Police arrest suspected Tren de Aragua members"
BUSES_TITLE = "City council approves three new bus routes"
ARRESTS_PATH = "/world/2026/nov/24/tren-de-aragua-arrests"
BUSES_PATH = "/uk-news/2026/nov/24/bus-routes"
HTML = {"content-type": "text/html; charset=utf-8"}
JSON = {"content-type": "application/json"}


def page(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"</head><body><article><h1>{title}</h1>{body}</article></body></html>").encode()


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def result(site: LoopbackServer, path: str, title: str, paragraphs: list[str], *,
           type_: str = "article", modified: datetime | None = None) -> dict:
    published = datetime.now(UTC) - timedelta(hours=2)
    return {"id": path.lstrip("/"), "type": type_, "sectionName": "World news",
            "webPublicationDate": stamp(published), "webTitle": title,
            "webUrl": site.url(path), "apiUrl": f"https://content.guardianapis.com{path}",
            "fields": {"headline": title, "trailText": f"<p>{paragraphs[0][:80]}</p>",
                       "byline": "Tom Phillips", "bodyText": "\n".join(paragraphs),
                       "lastModified": stamp(modified or published)}}


def answer(*results: dict) -> bytes:
    return json.dumps({"response": {"status": "ok", "userTier": "developer",
                                    "total": len(results), "results": list(results)}}).encode()


@pytest.fixture
def site():
    """The publishers' site: every article page exists, so a fetch would succeed."""
    with LoopbackServer({ARRESTS_PATH: (200, HTML, page(ARRESTS_TITLE, ARRESTS)),
                         BUSES_PATH: (200, HTML, page(BUSES_TITLE, BUSES))},
                        host="127.0.0.2") as server:
        yield server


def guardian_source(api: LoopbackServer) -> Source:
    return Source(name="guardian", url=api.url("/search"), kind="guardian", language="en",
                  params={"query": "Venezuela OR council"})


def rows(db_url: str, query: str, *params: object) -> list[dict]:
    with psycopg.connect(db_url) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def count(db_url: str, table: str) -> int:
    return rows(db_url, f"SELECT count(*) AS n FROM {table}")[0]["n"]


def test_delivered_articles_are_stored_with_their_text_and_no_page_is_fetched(
    settings, db_url, site
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        add_subscriber(conn, email="analyst@example.org", watchlists=["venezuela"])
        conn.execute("UPDATE subscribers SET created_at = now() - interval '30 days'")
    body = answer(result(site, ARRESTS_PATH, ARRESTS_TITLE, ARRESTS),
                  result(site, BUSES_PATH, BUSES_TITLE, BUSES),
                  result(site, "/world/live/2026/nov/24/live", "Live", ARRESTS, type_="liveblog"))
    settings = settings.replace(guardian_key=KEY)
    with LoopbackServer({"/search": (200, JSON, body)}) as api:
        first = run_cycle(settings, sources=[guardian_source(api)], db_url=db_url)
        tables = {t: count(db_url, t) for t in ("articles", "feed_items", "matches", "alerts")}
        second = run_cycle(settings, sources=[guardian_source(api)], db_url=db_url)

    assert site.requests == []  # not one page, not even robots.txt
    assert [r.path.split("?")[0] for r in api.requests] == ["/search", "/search"]
    assert all(r.headers["api-key"] == KEY and KEY not in r.path for r in api.requests)
    assert first.outcomes == {Outcome.NEW_RELEVANT: 1, Outcome.NEW_IRRELEVANT: 1}
    assert first.errors == []

    articles = {a["url"]: a for a in rows(
        db_url, "SELECT a.*, m.relevant FROM articles a JOIN matches m ON m.article_id = a.id")}
    arrests, buses = articles[site.url(ARRESTS_PATH)], articles[site.url(BUSES_PATH)]
    assert arrests["text"] == "\n".join(ARRESTS) and buses["text"] == "\n".join(BUSES)
    assert (arrests["title"], arrests["author"], arrests["lang"]) == (
        ARRESTS_TITLE, "Tom Phillips", "en")
    assert {a["extraction_mode"] for a in articles.values()} == {"api"}
    assert {a["fulltext_status"] for a in articles.values()} == {"full"}
    assert {a["date_source"] for a in articles.values()} == {"feed"}
    assert arrests["description"] == ARRESTS[0][:80]
    assert (arrests["relevant"], buses["relevant"]) == (True, False)
    keys = text_keys(arrests["text"])  # the dedup keys a fetched page's text gets
    assert keys.bands and arrests["content_hash"] == keys.fingerprint
    bands = rows(db_url, "SELECT band_key FROM article_bands WHERE article_id = %s",
                 arrests["id"])
    assert {r["band_key"] for r in bands} == set(keys.bands)
    alerted = rows(db_url, "SELECT article_id FROM alerts WHERE status = 'pending'")
    assert [a["article_id"] for a in alerted] == [arrests["id"]]
    assert count(db_url, "article_raw") == 0  # no page, nothing for reextract to read

    # Idempotent: the second cycle settles both entries as seen and writes nothing.
    assert second.outcomes == {Outcome.ALREADY_SEEN: 2}
    assert {t: count(db_url, t) for t in tables} == tables
    assert KEY not in json.dumps(rows(db_url, "SELECT * FROM fetch_log"), default=str)

    assert reextract(db_url, settings)["articles"] == 0
    assert rows(db_url, "SELECT text FROM articles WHERE id = %s", arrests["id"]) == [
        {"text": "\n".join(ARRESTS)}]


def test_a_delivered_revision_replaces_the_archived_page(settings, db_url, site) -> None:
    feed = (f"<?xml version='1.0'?><rss version='2.0'><channel><title>wire</title>"
            f"<item><title>{ARRESTS_TITLE}</title><link>{site.url(ARRESTS_PATH)}</link>"
            "</item></channel></rss>").encode()
    site.routes["/feed.xml"] = (200, {"content-type": "application/rss+xml"}, feed)
    run_cycle(settings, sources=[Source(name="wire", url=site.url("/feed.xml"))],
              db_url=db_url)
    assert count(db_url, "article_raw") == 1  # the fetched page, kept for reextract
    with psycopg.connect(db_url, autocommit=True) as conn:  # as if stored two hours ago
        conn.execute("UPDATE articles SET discovered_at = discovered_at - interval '2 hours', "
                     "checked_at = checked_at - interval '2 hours'")

    corrected = result(site, ARRESTS_PATH, ARRESTS_TITLE, [*ARRESTS, CORRECTION],
                       modified=datetime.now(UTC) - timedelta(minutes=1))
    with LoopbackServer({"/search": (200, JSON, answer(corrected))}) as api:
        summary = run_cycle(settings.replace(guardian_key=KEY),
                            sources=[guardian_source(api)], db_url=db_url)

    assert summary.outcomes == {Outcome.REVISED: 1}
    [article] = rows(db_url, "SELECT text, version, extraction_mode FROM articles")
    assert (article["version"], article["extraction_mode"]) == (2, "api")
    assert article["text"].endswith(CORRECTION)
    # The archived page no longer holds the stored text: re-extracting it would undo the
    # revision, so it is gone and reextract leaves the article alone.
    assert count(db_url, "article_raw") == 0
    assert reextract(db_url, settings)["articles"] == 0
    assert rows(db_url, "SELECT text FROM articles")[0]["text"].endswith(CORRECTION)


def test_without_a_key_the_source_is_skipped_and_the_cycle_goes_on(
    settings, db_url, site
) -> None:
    feed = (f"<?xml version='1.0'?><rss version='2.0'><channel><title>wire</title>"
            f"<item><title>{BUSES_TITLE}</title><link>{site.url(BUSES_PATH)}</link>"
            "</item></channel></rss>").encode()
    site.routes["/feed.xml"] = (200, {"content-type": "application/rss+xml"}, feed)
    with LoopbackServer({"/search": (200, JSON, answer())}) as api:
        summary = run_cycle(settings.replace(guardian_key=None),
                            sources=[guardian_source(api),
                                     Source(name="wire", url=site.url("/feed.xml"))],
                            db_url=db_url)

    assert api.requests == []
    assert summary.sources_failed == 0 and summary.new_articles == 1
    [logged] = rows(db_url, """SELECT f.status, f.error_class, f.error_message FROM fetch_log f
                               JOIN sources s ON s.id = f.source_id
                               WHERE s.name = 'guardian'""")
    assert (logged["status"], logged["error_class"]) == ("skipped", "skipped")
    assert "NEWSMON_GUARDIAN_KEY" in logged["error_message"]


def bing_item(title: str, target: str) -> str:
    link = ("http://www.bing.com/news/apiclick.aspx?ref=FexRss&amp;aid=&amp;tid=12BE3CE2&amp;"
            f"url={quote(target, safe='')}&amp;c=4438839993362862681&amp;mkt=en-us")
    return (f"<item><title>{title} - The Wire</title><link>{link}</link>"
            "<description>Summary.</description><pubDate>"
            f"{(datetime.now(UTC) - timedelta(hours=1)).strftime('%a, %d %b %Y %H:%M:%S GMT')}"
            "</pubDate><News:Source>The Wire</News:Source></item>")


def test_a_bing_news_feed_stores_publisher_urls_only(settings, db_url, site) -> None:
    feed = ('<?xml version="1.0" encoding="utf-8" ?><rss xmlns:News='
            '"https://www.bing.com:443/news/search?q=venezuela&amp;format=rss" version="2.0">'
            "<channel><title>venezuela - BingNews</title>"
            + bing_item(ARRESTS_TITLE, site.url(ARRESTS_PATH))
            + bing_item(BUSES_TITLE, site.url(BUSES_PATH))
            + bing_item("Nowhere", "javascript:alert(1)")
            + "</channel></rss>").encode()
    with LoopbackServer({"/news/search": (200, {"content-type": "application/rss+xml"},
                                          feed)}) as bing:
        source = Source(name="bing", url=bing.url("/news/search"), kind="bing_news",
                        params={"query": "venezuela", "mkt": "en-US"})
        summary = run_cycle(settings, sources=[source], db_url=db_url)
    [request] = bing.requests
    assert "format=rss" in request.path and "q=venezuela" in request.path

    assert summary.new_articles == 2 and summary.errors == []
    assert sorted(r.path for r in site.requests if r.path != "/robots.txt") == sorted(
        [ARRESTS_PATH, BUSES_PATH])
    stored = rows(db_url, """SELECT url AS u FROM articles UNION ALL
                             SELECT canonical_url FROM articles UNION ALL
                             SELECT url FROM article_urls UNION ALL
                             SELECT url FROM feed_items""")
    assert stored and all(r["u"].startswith(site.base_url) for r in stored)
    titles = {r["title"] for r in rows(db_url, "SELECT title FROM feed_items")}
    assert titles == {ARRESTS_TITLE, BUSES_TITLE}  # " - The Wire" dropped
    [logged] = rows(db_url, "SELECT error_message FROM fetch_log")
    assert logged["error_message"] == ("parse: dropped 1 of 3 entries whose Bing link leads "
                                       "to no publisher URL")
