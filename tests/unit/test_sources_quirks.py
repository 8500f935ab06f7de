"""Feed quirks from the open web, through the RSS/Atom adapter (bytes in, FeedItems out)."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.dedup.keys import canonical_url
from pipeline.ingest.poll import newest_items
from pipeline.sources.rss import FeedParseError, parse_feed

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
FEED_URL = "http://news.example/feeds/main.xml"


def rss(items: str, *, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return (f'{declaration}<rss version="2.0"><channel><title>Noticias</title>'
            f"<link>http://news.example/</link>{items}</channel></rss>")


def item(title: str = "Maduro habla", link: str = "http://news.example/a/1",
         guid: str | None = None, date: str | None = "Tue, 24 Nov 2026 09:30:00 +0000") -> str:
    parts = [f"<title>{title}</title>", f"<link>{link}</link>" if link else ""]
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if date is not None:
        parts.append(f"<pubDate>{date}</pubDate>")
    return "<item>" + "".join(parts) + "</item>"


def parse(body: bytes, content_type: str | None = "application/rss+xml") -> list:
    headers = {"content-type": content_type} if content_type else {}
    return parse_feed(body, base_url=FEED_URL, headers=headers, now=NOW)


# -- charsets --------------------------------------------------------------------------

@pytest.mark.parametrize("body, content_type", [
    # the server says UTF-8, the bytes are Latin-1
    (rss(item("Soberanía"), declaration='<?xml version="1.0"?>').encode("latin-1"),
     "application/rss+xml; charset=utf-8"),
    # the server's default Latin-1 on a UTF-8 feed
    (rss(item("Soberanía")).encode("utf-8"), "text/xml; charset=iso-8859-1"),
    # text/xml without a charset (RFC 3023 says us-ascii) on UTF-8 bytes
    (rss(item("Soberanía"), declaration='<?xml version="1.0"?>').encode("utf-8"), "text/xml"),
    # no Content-Type at all, Latin-1 declared in the document
    (rss(item("Soberanía"), declaration='<?xml version="1.0" encoding="iso-8859-1"?>')
     .encode("latin-1"), None),
])
def test_wrong_or_missing_charsets_still_give_the_right_text(body, content_type) -> None:
    assert [i.title for i in parse(body, content_type)] == ["Soberanía"]


def test_text_encoded_twice_upstream_is_repaired() -> None:
    twice = "Soberanía".encode().decode("latin-1")  # what a broken CMS stores
    assert [i.title for i in parse(rss(item(twice)).encode("utf-8"))] == ["Soberanía"]


@pytest.mark.parametrize("prefix, encoding", [
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF8 + b"\n  ", "utf-8"),  # BOM, then whitespace before the declaration
    (codecs.BOM_UTF16_LE, "utf-16-le"),
])
def test_byte_order_marks_are_read(prefix, encoding) -> None:
    text = rss(item("Caracas"), declaration='<?xml version="1.0"?>')
    assert [i.title for i in parse(prefix + text.encode(encoding))] == ["Caracas"]


# -- not a feed ------------------------------------------------------------------------

def test_an_html_page_served_as_a_feed_says_so_and_points_to_discovery() -> None:
    page = b"<!DOCTYPE html><html><head><title>Home</title></head><body>News</body></html>"
    with pytest.raises(FeedParseError, match=r"^parse: .*HTML page.*sources discover"):
        parse(page, "text/html; charset=utf-8")


def test_an_empty_body_is_not_a_feed() -> None:
    with pytest.raises(FeedParseError, match="empty body"):
        parse(b"")


# -- links and guids -------------------------------------------------------------------

def test_relative_links_resolve_against_the_feed_url() -> None:
    items = parse(rss(item(link="/a/2.html") + item(link="../b/3.html")).encode())
    assert [i.url for i in items] == ["http://news.example/a/2.html",
                                      "http://news.example/b/3.html"]


def test_entries_without_guid_are_kept_and_a_permalink_guid_serves_as_link() -> None:
    body = rss(item(link="http://news.example/a/1")
               + '<item><title>Solo guid</title><guid>http://news.example/a/2</guid></item>')
    items = parse(body.encode())
    assert [(i.url, i.guid) for i in items] == [
        ("http://news.example/a/1", None),
        ("http://news.example/a/2", "http://news.example/a/2"),
    ]


def test_an_entry_listed_twice_counts_once() -> None:
    same = item(link="http://news.example/a/1", guid="g-1")
    assert len(parse(rss(same + same).encode())) == 1


def test_a_guid_shared_by_different_entries_is_not_trusted() -> None:
    body = rss(item(title="Uno", link="http://news.example/a/1", guid="same")
               + item(title="Dos", link="http://news.example/a/2", guid="same")
               + item(title="Tres", link="http://news.example/a/3", guid="own"))
    items = parse(body.encode())
    # Keyed by the shared guid, two of the three entries would be lost as "already seen".
    assert [(i.title, i.guid) for i in items] == [("Uno", None), ("Dos", None), ("Tres", "own")]


def test_tracking_parameter_variants_of_one_link_are_one_article() -> None:
    body = rss(item(link="http://news.example/a/1?utm_source=rss", guid="g-1")
               + item(link="http://news.example/a/1?utm_source=twitter&fbclid=x", guid="g-2")
               + item(link="http://news.example/a/2", guid="g-3"))
    assert [i.guid for i in parse(body.encode())] == ["g-1", "g-3"]


def test_tracking_parameters_do_not_survive_canonicalisation() -> None:
    body = rss(item(link="http://news.example/a/1?utm_source=rss&utm_medium=feed&id=7"))
    [entry] = parse(body.encode())
    assert canonical_url(entry.url) == "http://news.example/a/1?id=7"


# -- dates -------------------------------------------------------------------------------

def test_plausible_dates_are_kept_unflagged() -> None:
    [entry] = parse(rss(item(date="Tue, 24 Nov 2026 09:30:00 +0000")).encode())
    assert entry.published_at == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert entry.date_flags == ()


@pytest.mark.parametrize("date, flag", [
    ("Sat, 01 Jan 2028 00:00:00 +0000", "feed-date-future"),
    ("next Tuesday, probably", "feed-date-unparseable"),
    ("Mon, 01 Jan 1990 00:00:00 +0000", "feed-date-too-old"),
])
def test_unusable_dates_fall_back_to_discovery_time_with_a_flag(date, flag) -> None:
    [entry] = parse(rss(item(date=date)).encode())
    assert entry.published_at == NOW
    assert entry.date_flags == (flag,)


def test_a_missing_date_stays_missing() -> None:
    [entry] = parse(rss(item(date=None)).encode())
    assert entry.published_at is None and entry.date_flags == ()


# -- size --------------------------------------------------------------------------------

def test_thousands_of_entries_parse_and_a_poll_keeps_the_newest() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    entries = "".join(
        item(title=f"n{n}", link=f"http://news.example/a/{n}", guid=f"g{n}",
             date=(start + timedelta(minutes=n)).strftime("%a, %d %b %Y %H:%M:%S +0000"))
        for n in range(5000)
    )
    items = parse(rss(entries).encode())
    assert len(items) == 5000

    kept = newest_items(items, 500)
    assert len(kept) == 500
    assert {i.title for i in kept} == {f"n{n}" for n in range(4500, 5000)}
