"""The wire corpus's real sitemaps and OPML export through their readers (skipped without it).

Counts, dates and the quirks the corpus README lists: spaces around <loc> and titles,
CDATA titles with padding, a lastmod with an offset, no news block at all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.cli.sources import read_opml
from pipeline.models import Response, Source
from pipeline.sources import sitemap

SOURCE = Source(name="sitemap", url="https://example.org/sitemap.xml", kind="sitemap")


@pytest.fixture
def wire(shared_corpus):
    return shared_corpus / "wire"


def parse(path):
    return sitemap.parse_response(SOURCE, Response(url=SOURCE.url, status=200, headers={},
                                                   body=path.read_bytes()))


def test_wordpress_news_sitemap(wire) -> None:
    items = parse(wire / "sitemaps" / "wordpresscom-news-sitemap-shinpaideshou-2017-04.xml")
    assert len(items) == 3
    first = items[0]
    assert first.url == ("https://shinpaideshou.wordpress.com/2017/04/25/"
                         "job-opening-reischauer-policy-research-fellow/")
    assert first.title == "Job Opening: Reischauer Policy Research Fellow"
    assert first.published_at == datetime(2017, 4, 25, 10, 0, 36, tzinfo=UTC)
    assert all(item.language == "en" for item in items)


def test_nytimes_excerpt_trims_padded_locations_and_titles(wire) -> None:
    items = parse(wire / "sitemaps" / "nytimes-news-sitemap-excerpt-2020-05-19.xml")
    assert len(items) == 6
    assert all(item.url.startswith("https://www.nytimes.com/") and item.url == item.url.strip()
               for item in items)
    assert all(item.title and item.title == item.title.strip() for item in items)
    assert all(item.language == "en" for item in items)  # news:language "en-US"
    assert max(item.updated_at for item in items) == datetime(2020, 5, 19, 21, 57, 45, tzinfo=UTC)


def test_local_paper_sitemap_without_a_news_block(wire) -> None:
    items = parse(wire / "sitemaps" / "hebdenbridgetimes-articles-sitemap-2015-05.xml")
    assert len(items) == 74
    assert all(item.url.startswith("http://www.hebdenbridgetimes.co.uk/") for item in items)
    assert all(item.published_at is not None for item in items)
    titled = [item for item in items if item.title]  # entries with a video block only
    assert 0 < len(titled) < len(items)
    newest = max(item.published_at for item in items)
    # lastmod carries +01:00; stored as the same instant in UTC
    assert newest.utcoffset() == timedelta(0)
    assert newest == datetime(2015, 5, 3, 18, 51, 50, tzinfo=timezone(timedelta(hours=1)))


def test_video_sitemap_entries_take_their_video_title(wire) -> None:
    items = parse(wire / "sitemaps" / "washingtonpost-video-sitemap-excerpt-2020-05.xml")
    assert len(items) == 6
    assert all(item.url.startswith("https://www.washingtonpost.com/") for item in items)
    # CDATA titles with padding spaces come out trimmed
    assert all(item.title and item.title == item.title.strip() for item in items)


def test_inoreader_opml_export(wire) -> None:
    sources = read_opml((wire / "exports" / "inoreader-export-tech.opml").read_bytes())
    assert len(sources) == 17
    assert all(source.kind == "rss" and source.url.startswith("http") for source in sources)
    assert sources[0].name == "JavaScript Weekly" and sources[0].tags == ("cs",)
    assert len({source.name for source in sources}) == 17
