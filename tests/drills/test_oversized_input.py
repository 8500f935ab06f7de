"""Drill: an 80,000-entry feed and a 1.25-million-entry gzipped sitemap index (3 MB) in the
same cycle as the demo site.

Both are parsed in the cycle's workers, cut before they are materialised, and the cuts
recorded on their polls; meanwhile the event loop keeps every other host's requests
moving, so the demo site's pages are all stored.
"""

from __future__ import annotations

import psycopg

from pipeline.demo import SITE_DIR
from pipeline.demo.server import serve_directory
from pipeline.ingest.cycle import run_cycle
from tests.drills.conftest import DEMO_ARTICLES, demo_sources, snapshot, source_entry
from tests.drills.test_bad_input import SPANISH
from tests.support.loopback import LoopbackServer
from tests.support.oversized import base36, rss_feed, sitemap_index

FEED_ENTRIES = 80_000
INDEX_ENTRIES = 1_250_000
# The two newest children of the index, by lastmod: the only ones worth fetching.
NEWEST = {600_000: "2026-11-24", INDEX_ENTRIES - 1: "2026-11-23"}


def article(title: str) -> bytes:
    return (f"<html lang='es'><head><title>{title}</title></head><body><article>"
            f"<h1>{title}</h1><p>{SPANISH}</p><p>{title}: {SPANISH}</p></article></body></html>"
            ).encode()


def urlset(url: str) -> bytes:
    return ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{url}</loc><lastmod>2026-11-24</lastmod></url></urlset>").encode()


def test_oversized_feed_and_sitemap_are_cut_off_the_loop_and_the_rest_goes_on(
        settings, db_url, tmp_path) -> None:
    # A 1.25M-entry parse takes seconds of a worker on a busy machine: not a page timeout.
    settings = settings.replace(extract_timeout_s=300.0)
    with serve_directory(SITE_DIR, host="127.0.0.2") as demo, \
            LoopbackServer(host="127.0.0.3") as big, LoopbackServer(host="127.0.0.4") as site:
        # The big feed's entries answer 404: fetching them is not what this drill is about.
        big.routes["/feed.xml"] = (200, {"content-type": "application/rss+xml"},
                                   rss_feed(FEED_ENTRIES, base_url=big.url("/a/")))
        site.routes["/index.xml.gz"] = (200, {"content-type": "application/x-gzip"},
                                        sitemap_index(INDEX_ENTRIES, dated=NEWEST))
        for n, title in zip(NEWEST, ("Uno", "Dos"), strict=True):
            site.routes[f"/{base36(n)}"] = (200, {"content-type": "application/xml"},
                                            urlset(site.url(f"/news/{title}")))
            site.routes[f"/news/{title}"] = (200, {"content-type": "text/html; charset=utf-8"},
                                             article(title))
        extra = (source_entry("oversized feed", big.url("/feed.xml"))
                 + source_entry("oversized index", site.url("/index.xml.gz"))
                 + 'kind = "sitemap"\nparams = { max_sitemaps = 2 }\n\n')
        summary = run_cycle(settings, sources=demo_sources(demo, tmp_path, extra), db_url=db_url)
        index_requests = sorted(r.path for r in site.requests if r.path != "/robots.txt")

    stored = snapshot(db_url)
    with psycopg.connect(db_url) as conn:
        polls = {name: rest for name, *rest in conn.execute(
            """SELECT s.name, f.status, f.items_seen, f.error_message FROM fetch_log f
               JOIN sources s ON s.id = f.source_id""").fetchall()}
        run_status = conn.execute("SELECT status FROM runs").fetchone()[0]
    big_entries = {key: outcome for name, key, outcome, *_ in stored["feed_items"]
                   if name == "oversized feed"}

    assert run_status == "completed"
    # Every demo page and both sitemap articles stored: nothing timed out behind the parses.
    assert summary.new_articles == len(stored["articles"]) == DEMO_ARTICLES + 2
    assert {url for url, *_ in stored["articles"]} >= {site.url("/news/Uno"),
                                                       site.url("/news/Dos")}
    # The first 500 of the entries kept (undated: the feed's order), each settled once.
    assert big_entries == {big.url(f"/a/{n}"): "failed-fetch"
                           for n in range(settings.poll_max_items)}
    assert polls["oversized feed"] == [
        "ok", settings.poll_max_items,
        f"parse: feed lists {FEED_ENTRIES} entries; kept the first 1000 and the last 1000"]
    # An index keeps no more children than the poll keeps items (a few are fetched).
    index_note = (f"parse: sitemap {site.url('/index.xml.gz')} lists {INDEX_ENTRIES} child "
                  f"sitemaps; kept the newest {settings.poll_max_items}")
    assert polls["oversized index"] == ["ok", 2, index_note]
    # Out of 1.25 million children, the two newest were fetched, and nothing else.
    assert index_requests == sorted(["/index.xml.gz", "/news/Uno", "/news/Dos",
                                     *(f"/{base36(n)}" for n in NEWEST)])
    assert all(status == "ok" for status, *_ in polls.values())
