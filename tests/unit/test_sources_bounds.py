"""Oversized input is cut before it is materialised: feed entries as bytes, sitemaps streamed."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from datetime import UTC, datetime

import pytest
from lxml import etree

from pipeline.models import Response, Source
from pipeline.sources import FeedParseError, read_items
from pipeline.sources.rss import MAX_ENTRIES, cap_entries, parse_feed
from pipeline.sources.sitemap import MAX_URLS, read_sitemap
from tests.support.oversized import base36, rss_feed, sitemap_index

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
BASE = "http://f.test/"


def atom_feed(count: int) -> bytes:
    entries = "".join(f'<entry><id>urn:{n}</id><title>{n}</title><link href="{BASE}{n}"/>'
                      "<updated>2026-11-24T10:00:00Z</updated></entry>" for n in range(count))
    return (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
            f"<id>urn:feed</id><updated>2026-11-24T10:00:00Z</updated>{entries}</feed>").encode()


def json_feed(count: int) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t",
                       "items": [{"id": str(n), "url": f"{BASE}{n}"} for n in range(count)]
                       }).encode()


FEEDS = {"rss": lambda n: rss_feed(n, base_url=BASE), "atom": atom_feed, "json": json_feed}


@pytest.mark.parametrize("kind", FEEDS)
def test_a_feed_over_the_limit_keeps_its_first_and_last_entries(kind) -> None:
    capped, listed = cap_entries(FEEDS[kind](10), limit=4)
    items = parse_feed(capped, base_url=BASE, now=NOW)
    assert listed == 10
    assert [item.url for item in items] == [f"{BASE}{n}" for n in (0, 1, 8, 9)]
    if kind != "json":  # cut between entries: still well-formed XML
        assert etree.fromstring(capped) is not None


def test_a_feed_within_the_limit_is_left_as_served() -> None:
    body = rss_feed(4, base_url=BASE)
    capped, listed = cap_entries(body, limit=4)
    assert (capped is body, listed) == (True, 4)


def test_reading_an_oversized_feed_notes_the_cut() -> None:
    body = rss_feed(MAX_ENTRIES + 500, base_url=BASE)
    parsed = read_items(Source(name="big", url=BASE),
                        Response(url=BASE + "feed.xml", status=200, headers={}, body=body))
    assert len(parsed.items) == MAX_ENTRIES
    note = f"parse: feed lists {MAX_ENTRIES + 500} entries; kept the first 1000 and the last 1000"
    assert parsed.notes == (note,)
    assert {parsed.items[999].url, parsed.items[1000].url} == {f"{BASE}999", f"{BASE}1500"}


def test_a_sitemap_index_keeps_the_protocols_50000_newest_children() -> None:
    count = MAX_URLS + 10_000
    dated = {5: "2026-11-20", count - 2: "2026-11-01", count - 1: "2026-11-24"}
    url = "https://s.test/index.xml.gz"
    sitemap = read_sitemap(sitemap_index(count, dated=dated), url=url, now=NOW)

    kept = [loc.rsplit("/", 1)[1] for loc, _lastmod in sitemap.children]
    assert len(kept) == MAX_URLS
    # The dated children are the newest; undated ones count as oldest, earlier ones first,
    # and keep the file's order.
    assert {base36(count - 2), base36(count - 1), base36(5)} <= set(kept)
    assert kept[:3] == ["0", "1", "2"]
    assert base36(MAX_URLS - 3) in kept and base36(MAX_URLS - 2) not in kept
    note = f"parse: sitemap {url} lists {count} child sitemaps; kept the newest {MAX_URLS}"
    assert sitemap.notes == [note]


def test_a_news_sitemap_keeps_its_newest_urls_by_publication_date() -> None:
    dates = ["2026-11-20", "2026-11-24", "", "2026-11-21", "2026-11-23", "2026-11-19"]
    urls = "".join(
        f"<url><loc>{BASE}{n}</loc><lastmod>2026-11-01</lastmod><news:news>"
        f"<news:publication_date>{date}</news:publication_date><news:title>{n}</news:title>"
        "</news:news></url>" for n, date in enumerate(dates))
    body = ('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>')
    sitemap = read_sitemap(body.encode(), url=BASE, now=NOW, max_urls=3)
    assert [(item.url, item.title) for item in sitemap.items] == [
        (f"{BASE}1", "1"), (f"{BASE}3", "3"), (f"{BASE}4", "4")]
    assert sitemap.notes == [f"parse: sitemap {BASE} lists 6 URLs; kept the newest 3"]


def test_a_sitemap_is_streamed_its_memory_follows_the_entries_kept_not_the_file() -> None:
    count = 100_000
    body = sitemap_index(count)
    tracemalloc.start()
    try:
        sitemap = read_sitemap(body, url="https://s.test/index.xml.gz", now=NOW, max_urls=100)
        streamed = tracemalloc.get_traced_memory()[1]
        before = tracemalloc.get_traced_memory()[0]
        every_child = [(f"https://s.test/{base36(n)}", None) for n in range(count)]
        materialised = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(sitemap.children) == 100 and len(every_child) == count
    assert streamed < materialised / 10


def test_a_gzip_bomb_sitemap_is_refused_without_being_inflated_whole() -> None:
    body = gzip.compress(b"<urlset>" + b" " * (60 << 20) + b"</urlset>", compresslevel=9)
    tracemalloc.start()
    try:
        with pytest.raises(FeedParseError, match="sitemap exceeds 50 MB uncompressed"):
            read_sitemap(body, url="https://s.test/bomb.xml.gz", now=NOW)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(body) < 100_000 and peak < (5 << 20)
