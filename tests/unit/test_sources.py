"""The sources file and the RSS/Atom adapter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.config import DEFAULT_SOURCES_FILE
from pipeline.demo import SITE_DIR
from pipeline.sources import SourcesFileError, load_sources_file
from pipeline.sources.rss import FeedParseError, parse_feed


def test_default_sources_cover_both_languages_and_search_queries() -> None:
    sources = load_sources_file(DEFAULT_SOURCES_FILE)
    assert len(sources) >= 15
    assert {s.language for s in sources} == {"en", "es"}
    assert any("Tren+de+Aragua" in s.url for s in sources)
    assert len({s.name for s in sources}) == len(sources)
    # the keyless search services, each queried in both languages
    for kind in ("google_news", "bing_news", "gdelt"):
        assert {s.language for s in sources if s.kind == kind} == {"en", "es"}, kind


@pytest.mark.parametrize("text, message", [
    ("[[sources]]\nurl = 'http://a/'\n", "lacks 'name'"),
    ("[[sources]]\nname = 'a'\nurl = 'http://a/'\nkind = 'carrier-pigeon'\n", "unknown kind"),
    ("[[sources]]\nname = 'a'\nurl = 'http://a/'\n[[sources]]\nname = 'a'\nurl = 'http://b/'\n",
     "appears twice"),
    ("[[sources]\n", "cannot read"),
])
def test_bad_sources_files_get_a_clear_error(tmp_path, text, message) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(text)
    with pytest.raises(SourcesFileError, match=message):
        load_sources_file(path)


def test_rss_entries_become_feed_items_with_dates_and_language() -> None:
    body = (SITE_DIR / "diario-del-llano" / "rss.xml").read_bytes().replace(
        b"{BASE}", b"http://diario.example")
    items = parse_feed(body, base_url="http://diario.example/rss.xml")
    assert len(items) == 3
    first = items[0]
    assert first.url.startswith("http://diario.example/diario-del-llano/2026/11/")
    assert first.guid and first.title and first.summary
    assert first.language == "es"
    assert first.published_at.tzinfo is not None


def test_atom_entries_and_relative_links_resolve_against_the_feed_url() -> None:
    body = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><title>One</title><link href="/news/1.html"/><id>urn:1</id>
      <updated>2026-11-20T10:00:00Z</updated></entry></feed>"""
    items = parse_feed(body, base_url="http://site.example/feeds/atom.xml")
    assert [i.url for i in items] == ["http://site.example/news/1.html"]
    assert items[0].published_at == datetime(2026, 11, 20, 10, tzinfo=UTC)


def test_html_is_not_a_feed() -> None:
    with pytest.raises(FeedParseError, match="^parse: not a usable feed"):
        parse_feed(b"<html><body><p>Hello</p></body></html>", base_url="http://x.example/")


def test_an_empty_but_valid_feed_has_no_items() -> None:
    body = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"
    assert parse_feed(body, base_url="http://x.example/") == []


NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def test_an_entry_update_stamp_is_kept_apart_from_its_publication_date() -> None:
    body = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><title>Edited</title><link href="http://s.example/1"/><id>urn:1</id>
      <published>2026-11-24T08:00:00Z</published><updated>2026-11-25T09:30:00Z</updated>
      </entry>
      <entry><title>Never edited</title><link href="http://s.example/2"/><id>urn:2</id>
      <published>2026-11-24T08:00:00Z</published></entry>
      <entry><title>From the future</title><link href="http://s.example/3"/><id>urn:3</id>
      <published>2026-11-24T08:00:00Z</published><updated>2027-01-01T00:00:00Z</updated>
      </entry></feed>"""
    edited, plain, future = parse_feed(body, base_url="http://s.example/atom", now=NOW)
    assert edited.published_at == datetime(2026, 11, 24, 8, tzinfo=UTC)
    assert edited.updated_at == datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    assert plain.updated_at is None  # not feedparser's fallback to the published date
    assert future.updated_at is None  # no signal, so no re-fetch


def test_json_feeds_and_sitemaps_state_updates_too() -> None:
    from pipeline.sources.sitemap import read_sitemap

    feed = (b'{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1",'
            b' "url": "http://s.example/1", "date_published": "2026-11-24T08:00:00Z",'
            b' "date_modified": "2026-11-25T09:30:00Z"}]}')
    sitemap = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
               b"<url><loc>http://s.example/2</loc><lastmod>2026-11-25T09:30:00Z</lastmod></url>"
               b"</urlset>")
    (item,) = parse_feed(feed, base_url="http://s.example/feed.json", now=NOW)
    (entry,) = read_sitemap(sitemap, url="http://s.example/sitemap.xml", now=NOW).items
    assert item.updated_at == entry.updated_at == datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
