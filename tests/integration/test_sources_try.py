"""`newsmon sources try`: a dry run of a source, on a URL (loopback) and on a saved file.

It polls, parses, resolves links and samples the first pages, and stores nothing: the
settings point at no database at all, so a write would fail the command.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli.sources import sources_group
from pipeline.config import Settings
from pipeline.urls import is_aggregator

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"
pytest_plugins = ["tests.support.loopback"]


def feed(base: str, count: int) -> bytes:
    items = "".join(
        f"<item><title>Noticia {i}</title><link>{base}/nota/{i}</link>"
        f"<guid>{base}/nota/{i}</guid><pubDate>Tue, 04 Mar 2025 1{i % 10}:00:00 GMT</pubDate>"
        f"<description>Resumen {i}</description></item>"
        for i in range(count)
    )
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Diario</title>'
            f"<link>{base}/</link>{items}</channel></rss>").encode()


@pytest.fixture
def offline(settings: Settings, tmp_path: Path) -> Settings:
    # No database anywhere: nothing may be stored, and nothing tries.
    return settings.replace(database_url="postgresql://nobody@127.0.0.1:1/none",
                            respect_robots=False)


def invoke(settings: Settings, *args: str):
    return CliRunner().invoke(sources_group, ["try", *args], obj=settings,
                              catch_exceptions=False)


def test_try_a_feed_url_samples_the_first_pages_and_stores_nothing(offline, loopback) -> None:
    page = (PAGES / "es_metadata.html").read_bytes()
    server = loopback({"/feed.xml": (200, {"content-type": "application/rss+xml"}, b"")})
    base = server.url("")
    server.routes["/feed.xml"] = (200, {"content-type": "application/rss+xml"}, feed(base, 5))
    for i in range(5):
        server.routes[f"/nota/{i}"] = (200, {"content-type": "text/html; charset=utf-8"}, page)

    done = invoke(offline, server.url("/feed.xml"), "--json", "--sample", "2")

    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in done.output.splitlines()]
    assert len(lines) == 5
    assert {"title", "link", "url", "published_at", "unresolved_reason", "teaser"} <= set(lines[0])
    assert [line["fetched"] for line in lines] == [True, True, False, False, False]
    assert lines[0]["url"] == lines[0]["link"] == f"{base}/nota/0"
    assert lines[0]["published_at"] == "2025-03-04T10:00:00+00:00"
    assert lines[0]["unresolved_reason"] is None
    # The page is a full article about Maduro and the Tren de Aragua: judged relevant.
    assert lines[0]["teaser"] is False and lines[0]["relevant"] is True
    assert lines[4]["teaser"] is True  # not fetched: newsmon holds only the feed's summary
    assert sum(server.count(f"/nota/{i}") for i in range(5)) == 2


def test_try_a_saved_google_news_file_resolves_the_older_links_offline(
        offline, shared_corpus) -> None:
    saved = shared_corpus / "wire" / "google-news" / "gn-topstories-en-US-2022-07-28.rss.xml"

    done = invoke(offline, str(saved), "--json", "--sample", "0")

    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in done.output.splitlines()]
    assert len(lines) == 38
    assert all("news.google.com" in line["link"] for line in lines)
    assert all(line["url"] and not is_aggregator(line["url"]) for line in lines)
    assert all(line["unresolved_reason"] is None for line in lines)


def test_try_reports_a_services_refusal_and_exits_non_zero(offline, shared_corpus,
                                                          tmp_path) -> None:
    saved = shared_corpus / "wire" / "gdelt" / "gdelt-doc-keyword-error.txt"

    done = invoke(offline, str(saved), "--kind", "gdelt", "--param", "query=x")

    assert done.exit_code != 0
    assert "too short, too long or too common" in done.output


def test_try_a_keyed_api_without_its_key_says_so(offline) -> None:
    done = invoke(offline.replace(newsapi_key=None), "https://newsapi.org/v2/everything",
                  "--param", "query=Maduro")

    assert done.exit_code != 0
    assert "NEWSMON_NEWSAPI_KEY" in done.output


def test_try_a_2026_google_news_file_without_google_reports_each_entry_unresolved(
        offline, shared_corpus) -> None:
    saved = shared_corpus / "wire" / "google-news" / "gn-search-en-GB-brent-crude-2026-08-05.xml"
    nowhere = offline.replace(google_news_url="http://127.0.0.1:9", retries=0)

    done = invoke(nowhere, str(saved), "--json")

    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in done.output.splitlines()]
    assert len(lines) == 6
    assert all(line["url"] is None and line["unresolved_reason"] for line in lines)
    assert all(line["fetched"] is False for line in lines)  # Google's interstitial never is
    assert not any(line["title"].endswith("OilPrice.com") for line in lines)
