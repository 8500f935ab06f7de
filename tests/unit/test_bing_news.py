"""Bing News search RSS: the request URL, links unwrapped to publishers, hostile entries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from pipeline.models import Response, Source
from pipeline.sources import read_items, request_url, source_problem
from pipeline.sources.bing_news import publisher_url

SEARCH = "https://www.bing.com/news/search?q=madrid&format=rss"
CAPTURE = Path("wire") / "bing-news" / "bing-news-search-madrid-2021.xml"


def bing(**params: object) -> Source:
    return Source(name="bing", url="https://www.bing.com/news/search", kind="bing_news",
                  params=dict(params))


def click(target: str) -> str:
    """A Bing click-tracking link, as the feeds carry them (XML-escaped)."""
    return ("http://www.bing.com/news/apiclick.aspx?ref=FexRss&amp;aid=&amp;tid=12BE&amp;"
            f"url={quote(target, safe='')}&amp;c=4438839993362862681&amp;mkt=es-xl")


def feed(*items: str, prefix: str = "News") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8" ?><rss xmlns:{prefix}='
            '"https://www.bing.com:443/news/search?q=maduro&amp;format=rss" version="2.0">'
            "<channel><title>maduro - BingNews</title>"
            "<link>https://www.bing.com:443/news/search?q=maduro&amp;format=rss</link>"
            + "".join(items) + "</channel></rss>").encode()


def item(title: str, link: str, publisher: str = "El Pitazo", prefix: str = "News") -> str:
    return (f"<item><title>{title}</title><link>{link}</link>"
            "<description>Resumen de la noticia.</description>"
            "<pubDate>Tue, 24 Nov 2026 09:30:00 GMT</pubDate>"
            f"<{prefix}:Source>{publisher}</{prefix}:Source></item>")


def read(body: bytes, source: Source | None = None):
    return read_items(source or bing(query="maduro"),
                      Response(url=SEARCH, status=200, headers={}, body=body))


def test_the_captured_feed_gives_the_publisher_url_and_its_date(shared_corpus: Path) -> None:
    parsed = read((shared_corpus / CAPTURE).read_bytes(), Source(name="b", url=SEARCH,
                                                                   kind="bing_news"))
    [only] = parsed.items
    assert only.url == ("https://www.dailymail.co.uk/sport/football/article-9554407/"
                        "Real-Madrid-Barcelona-Juventus-threaten-clubs-withdrawing-Super-League-"
                        "legal-action.html")
    assert only.title.startswith("Real Madrid, Barcelona and Juventus 'threaten clubs")
    assert "\n" not in only.title and "  " not in only.title
    assert only.published_at == datetime(2021, 5, 7, 12, tzinfo=UTC)
    assert only.summary.startswith("The three European giants")
    assert parsed.notes == ()


def test_links_are_unwrapped_and_the_exact_publisher_suffix_is_dropped() -> None:
    parsed = read(feed(
        item("Maduro anuncia ejercicios militares - El Pitazo",
             click("https://elpitazo.net/politica/ejercicios/?a=1&b=2")),
        item("Caracas - Miranda: nueva ruta", click("https://elpitazo.net/regiones/ruta/")),
        item("Direct link - El Pitazo", "https://elpitazo.net/direct/"),
    ), bing(query="maduro", mkt="es-XL"))

    assert [(i.url, i.title, i.language) for i in parsed.items] == [
        ("https://elpitazo.net/politica/ejercicios/?a=1&b=2",
         "Maduro anuncia ejercicios militares", "es"),
        ("https://elpitazo.net/regiones/ruta/", "Caracas - Miranda: nueva ruta", "es"),
        ("https://elpitazo.net/direct/", "Direct link", "es"),
    ]


def test_the_publisher_is_read_whatever_prefix_the_namespace_has() -> None:
    parsed = read(feed(item("Titular - Efecto Cocuyo", click("https://efectococuyo.com/a/"),
                            publisher="Efecto Cocuyo", prefix="b"), prefix="b"))
    assert [i.title for i in parsed.items] == ["Titular"]


def test_redirects_to_no_publisher_are_dropped_with_a_note() -> None:
    parsed = read(feed(
        item("Kept", click("https://elpitazo.net/kept/")),
        item("Back to Bing", click("https://www.bing.com/news/search?q=other")),
        item("Script", click("javascript:alert(document.cookie)")),
        item("No target", "http://www.bing.com/news/apiclick.aspx?ref=FexRss&amp;c=1"),
        item("Relative", click("/news/other")),
    ))
    assert [i.url for i in parsed.items] == ["https://elpitazo.net/kept/"]
    assert parsed.notes == (("parse: dropped 4 of 5 entries whose Bing link leads to no "
                            "publisher URL"),)


def test_hostile_text_is_cleaned() -> None:
    parsed = read(feed(item("Maduro&#0;\u202e habla\u0007 - El Pitazo",
                            click("https://elpitazo.net/x/\x00y"))))
    [only] = parsed.items
    assert only.title == "Maduro habla"
    assert "\x00" not in only.url and only.url.startswith("https://elpitazo.net/x/")


@pytest.mark.parametrize("link, expected", [
    ("https://www.bing.com/news/apiclick.aspx?url=https%3a%2f%2fa.example%2fx%3fy%3d1",
     "https://a.example/x?y=1"),
    ("https://bing.com/news/apiclick.aspx?url=http%3A%2F%2Fa.example%2F", "http://a.example/"),
    ("https://www.bing.com/news/apiclick.aspx?url=https%3a%2f%2fwww.bing.com%2fx", None),
    ("https://www.bing.com/news/apiclick.aspx?url=ftp%3a%2f%2fa.example%2f", None),
    ("https://www.bing.com/news/apiclick.aspx?c=1", None),
    ("https://notbing.com/x", "https://notbing.com/x"),
])
def test_publisher_url(link: str, expected: str | None) -> None:
    assert publisher_url(link) == expected


def test_the_request_asks_for_rss_with_the_query_and_market() -> None:
    url = request_url(bing(query="Tren de Aragua", mkt="es-XL", setlang="es"))
    assert url == ("https://www.bing.com/news/search?format=rss&q=Tren+de+Aragua&mkt=es-XL"
                   "&setlang=es")
    # exported (OPML) without params, the URL polls the same query
    assert request_url(Source(name="s", url=url, kind="bing_news")) == url
    assert request_url(Source(name="s", url=SEARCH, kind="bing_news")) == SEARCH


def test_a_source_without_a_query_is_named_before_any_poll() -> None:
    assert source_problem(bing()) == ("is incomplete: bing_news: needs params.query or a q= "
                                      "search URL")
