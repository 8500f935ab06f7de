"""Adapter pieces that need no network: URLs built from params, link resolution, formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline.models import Source
from pipeline.sources import request_url, source_problem
from pipeline.sources.google_news import decode_article_id, publisher_url
from pipeline.sources.rss import parse_feed
from pipeline.sources.sitemap import read_sitemap

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def test_google_news_article_ids_decode_only_when_they_embed_the_url() -> None:
    old = ("CBMiLmh0dHBzOi8vd3d3LmJiYy5jb20vbmV3cy9hcnRpY2xlcy9jampqbnhkdjE4OG_SATJodHRwczovL3"
           "d3dy5iYmMuY29tL25ld3MvYXJ0aWNsZXMvY2pqam54ZHYxODhvLmFtcA")
    new = ("CBMiVkFVX3lxTE4zaGU2bTY2ZGkzdTRkSkJ0cFpsTGlDUjkxU2FBRURaTWU0c3QzVWZ1MHZZNkZ5Vzk1ZV"
           "BnTDFHY2R6ZmdCUkpUTUJsS1pqQTlCRzlzbHV3")
    assert decode_article_id(old) == "https://www.bbc.com/news/articles/cjjjnxdv188o"
    assert decode_article_id(new) is None
    assert decode_article_id("%%%") is None


def test_publisher_links_are_left_alone() -> None:
    assert publisher_url("https://elpitazo.net/politica/x/") == "https://elpitazo.net/politica/x/"


@pytest.mark.parametrize("kind, source_url, params", [
    ("google_news", "https://news.google.com/rss/search",
     {"query": "Maduro", "hl": "en-US", "gl": "US"}),
    ("gdelt", "https://api.gdeltproject.org/api/v2/doc/doc", {"query": "Maduro"}),
    ("newsapi", "https://newsapi.org/v2/everything", {"query": "Maduro", "language": "es"}),
])
def test_a_url_built_from_params_can_stand_alone(kind, source_url, params) -> None:
    built = request_url(Source(name="s", url=source_url, kind=kind, params=params))
    # exported (OPML) without params, the URL polls the same query
    assert request_url(Source(name="s", url=built, kind=kind)) == built


def test_google_news_default_edition_id() -> None:
    url = request_url(Source(name="s", url="https://news.google.com/rss/search",
                             kind="google_news", params={"query": "x", "hl": "en-US", "gl": "US"}))
    assert url.endswith("ceid=US%3Aen")


def test_incomplete_sources_are_named_before_any_poll() -> None:
    problem = source_problem(Source(name="s", url="https://newsapi.org/v2/everything",
                                    kind="newsapi"))
    assert problem == "is incomplete: newsapi: needs params.query"


def test_a_sitemap_never_resolves_external_entities(tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top-secret")
    body = (f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file://{secret}">]>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            "<url><loc>https://site.example/a&x;</loc></url></urlset>").encode()
    items = read_sitemap(body, url="https://site.example/sitemap.xml", now=NOW).items
    assert all("top-secret" not in item.url for item in items)


def test_plain_sitemaps_give_urls_with_their_lastmod() -> None:
    body = (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            b"<url><loc>/a/1</loc><lastmod>2026-11-24</lastmod></url>"
            b"<url><loc>https://site.example/a/2</loc><lastmod>not a date</lastmod></url>"
            b"</urlset>")
    items = read_sitemap(body, url="https://site.example/sitemap.xml", now=NOW).items
    assert [(i.url, i.published_at, i.date_flags) for i in items] == [
        ("https://site.example/a/1", datetime(2026, 11, 24, tzinfo=UTC), ()),
        ("https://site.example/a/2", NOW, ("feed-date-unparseable",)),
    ]


def test_json_feed_items() -> None:
    body = json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "Cocuyo", "language": "es-VE",
        "authors": [{"name": "Redacción"}],
        "items": [
            {"id": "1", "url": "https://efectococuyo.example/a/1", "title": "Maduro",
             "content_text": "Texto", "date_published": "2026-11-24T10:00:00-04:00"},
            {"id": "2", "external_url": "/a/2", "title": "Lancha",
             "authors": [{"name": "Ana"}], "date_published": "2099-01-01T00:00:00Z"},
            {"id": "3", "title": "no link"},
        ],
    }).encode()
    items = parse_feed(body, base_url="https://efectococuyo.example/feed.json", now=NOW)
    assert [(i.guid, i.url, i.author, i.language, i.summary) for i in items] == [
        ("1", "https://efectococuyo.example/a/1", "Redacción", "es", "Texto"),
        ("2", "https://efectococuyo.example/a/2", "Ana", "es", ""),
    ]
    assert items[0].published_at == datetime(2026, 11, 24, 14, tzinfo=UTC)
    assert items[1].date_flags == ("feed-date-future",)


def test_a_padded_json_feed_date_is_a_date_not_unparseable() -> None:
    # Only the sitemap parser used to strip; every ISO date now goes through one parser.
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [
        {"id": "1", "url": "https://site.example/a/1",
         "date_published": " 2026-11-24T10:00:00Z\n"},
    ]}).encode()
    [entry] = parse_feed(body, base_url="https://site.example/feed.json", now=NOW)
    assert (entry.published_at, entry.date_flags) == (datetime(2026, 11, 24, 10, tzinfo=UTC), ())
