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
