"""Drill: property-based fuzzing of what strangers' bytes reach first.

canonical_url's idempotence and the matcher's offsets on watchlist words are covered in
tests/unit (test_dedup, test_match_evidence, test_match_scanner); these add arbitrary
Unicode for the matcher and arbitrary or mangled bytes for the feed normaliser.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.match import load_watchlist, match_article
from pipeline.sources.rss import FeedParseError, parse_feed

NOW = datetime(2026, 11, 25, tzinfo=UTC)
FEED = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Maduro &amp; Tren de Aragua</title><link>/a?utm_source=x</link>"
        b"<guid>g1</guid><pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate>"
        b"<description>&lt;p&gt;texto&lt;/p&gt;</description></item>"
        b'<entry xmlns="http://www.w3.org/2005/Atom"><title>x</title></entry>'
        b"</channel></rss>")
FRAGMENTS = [b"<", b">", b"</item>", b"<item>", b"&", b"&#0;", b"&#xD800;", b"]]>", b"<![CDATA[",
             b"<!DOCTYPE x [<!ENTITY a 'b'>]>", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"{",
             b'{"version": "https://jsonfeed.org/version/1.1", "items": [', b"<link>",
             b"javascript:", b"<pubDate>99 Foo 99999</pubDate>", b"\xc3", b"\r\n"]


@pytest.fixture(scope="module")
def watchlist():
    return load_watchlist("venezuela")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=st.text(max_size=200), text=st.text(max_size=2000),
       lang=st.none() | st.sampled_from(["en", "es", "pt", "", "xx", "EN-us"]))
def test_matcher_never_raises_and_every_offset_is_inside_its_field(watchlist, title, text, lang):
    verdict = match_article(watchlist, title=title, text=text, lang=lang)
    for evidence in verdict.evidence:
        field = title if evidence.field == "title" else text
        assert 0 <= evidence.start <= evidence.end <= len(field)


def _mangle(data: st.DataObject) -> bytes:
    body = bytearray(FEED)
    for _ in range(data.draw(st.integers(0, 6))):
        at = data.draw(st.integers(0, len(body)))
        if data.draw(st.booleans()):
            body[at:at] = data.draw(st.sampled_from(FRAGMENTS) | st.binary(max_size=8))
        else:
            del body[at:at + data.draw(st.integers(1, 40))]
    return bytes(body)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_feed_normaliser_returns_items_or_feed_parse_error_only(data):
    body = data.draw(st.binary(max_size=400)) if data.draw(st.booleans()) else _mangle(data)
    try:
        items = parse_feed(body, base_url="http://feeds.example/rss", now=NOW)
    except FeedParseError as exc:
        assert str(exc).startswith("parse: ")
        return
    for item in items:
        assert isinstance(item.url, str) and isinstance(item.title, str)


def test_a_reference_to_a_surrogate_costs_one_character_not_the_feed():
    # Found by the fuzzer above: feedparser's lenient parser raised UnicodeEncodeError.
    body = FEED.replace(b"Maduro &amp;", b"Maduro &#xD800;&#55296;")
    items = parse_feed(body, base_url="http://feeds.example/rss", now=NOW)
    assert [item.title for item in items][:1] == ["Maduro \ufffd\ufffd Tren de Aragua"]
