"""RSS, Atom, RDF and JSON Feed, through feedparser (given bytes, never a URL).

feedparser already survives most of the open web's feed zoo (wrong or missing charsets,
byte-order marks, undeclared entities, unclosed tags). What it leaves to us is decided
here: HTML pages served as feeds, relative links, entries without a guid or with a guid
shared by different entries, dates in the future or in no known format, and text that
was encoded twice upstream.
"""

from __future__ import annotations

import calendar
import codecs
import json
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import feedparser

from pipeline.dedup.keys import canonical_url
from pipeline.encoding import decode_html
from pipeline.models import FeedItem, Response, Source
from pipeline.sources.errors import FeedParseError
from pipeline.sources.fields import absolute_http_url, checked_date, language_code
from pipeline.sources.jsonfeed import is_json_feed, json_feed_items, read_json_feed
from pipeline.text import clean_author, clean_id, clean_summary, clean_title

# An adapter's last word on an item, seeing the entry it came from (e.g. resolve a link).
Adjust = Callable[[feedparser.FeedParserDict, FeedItem], FeedItem]

_HTML_STARTS = (b"<!doctype html", b"<html")
_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF8, codecs.BOM_UTF16_LE,
         codecs.BOM_UTF16_BE)
_XML_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])[^"']*""")
_CHAR_REF = re.compile(rb"&#([xX][0-9a-fA-F]+|[0-9]+);")
# Where an RSS <item> or Atom <entry> starts (RSS 1.0's <rdf:li> lists and <items> do not match).
_ENTRY_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]")

# feedparser builds every entry of a feed before we can look at one, at about 0.2 ms an
# entry: an 80,000-entry feed took 15 s. News feeds carry 10-100 entries (69 at most in the
# shared corpus); a poll keeps the newest `poll_max_items` (500), so 2,000 leave that cut
# room to choose by date and cost feedparser well under a second.
MAX_ENTRIES = 2000

__all__ = ["FeedParseError", "cap_entries", "parse_feed", "parse_response"]


def parse_response(source: Source, response: Response) -> list[FeedItem]:
    return parse_feed(response.body, base_url=response.url, headers=response.headers,
                      language=source.language)


def parse_feed(body: bytes, *, base_url: str, headers: dict[str, str] | None = None,
               language: str | None = None, now: datetime | None = None) -> list[FeedItem]:
    """The feed's entries as FeedItems; `now` is the discovery time for unusable dates."""
    if is_json_feed(body):
        items = json_feed_items(read_json_feed(body), base_url=base_url, language=language,
                                now=now or datetime.now(UTC))
        return distinct_entries(items)
    parsed = parse_document(body, base_url=base_url, headers=headers)
    return feed_items(parsed, base_url=base_url, language=language, now=now)


def cap_entries(body: bytes, *, limit: int = MAX_ENTRIES) -> tuple[bytes, int]:
    """The feed with at most `limit` (at least 2) entries, before any parser builds them;
    and how many entries it listed.

    Feeds list newest first, some oldest first: the first and the last half of `limit`
    are kept so the newest survive either way. An XML feed is cut as bytes between the
    entries, so what is kept reaches feedparser exactly as served. (An entry start inside
    CDATA would misplace a cut; feedparser's lenient parser then reads what is left.)
    """
    limit = max(limit, 2)
    head, tail = limit - limit // 2, limit // 2
    if is_json_feed(body):
        data = read_json_feed(body)
        entries = data.get("items", [])
        if len(entries) <= limit:
            return body, len(entries)
        data["items"] = entries[:head] + entries[-tail:]
        return json.dumps(data, ensure_ascii=False).encode("utf-8"), len(entries)
    starts = [found.start() for found in _ENTRY_START.finditer(body)]
    if len(starts) <= limit:
        return body, len(starts)
    return body[:starts[head]] + body[starts[-tail]:], len(starts)


def parse_document(body: bytes, *, base_url: str,
                   headers: dict[str, str] | None = None) -> feedparser.FeedParserDict:
    """feedparser's result, or FeedParseError when the body holds no feed at all."""
    # Sanitising and URI resolution are feedparser's slowest steps; text is
    # sanitised later, only where it is rendered.
    body, headers = _without_bom(body, headers or {})
    options = {"response_headers": {"content-location": base_url, **headers},
               "sanitize_html": False, "resolve_relative_uris": False}
    try:
        parsed = feedparser.parse(body, **options)
    except (UnicodeError, ValueError, OverflowError):
        # feedparser's lenient parser dies on a reference to a surrogate (&#xD800;) or
        # beyond Unicode; one such entity must not cost the feed all its entries.
        try:
            parsed = feedparser.parse(_CHAR_REF.sub(_valid_char_ref, body), **options)
        except Exception as exc:  # see below
            raise FeedParseError(f"parse: feed parser failed: {exc}") from exc
    except Exception as exc:
        # The body is a stranger's: feedparser's lenient parser has bugs that mangled
        # markup reaches (a KeyError or AttributeError from a stray end tag, found by
        # tests/drills/test_fuzz.py). Whatever it raises, this feed failed to parse.
        raise FeedParseError(f"parse: feed parser failed: {type(exc).__name__}: {exc}") from exc
    if not parsed.entries and not parsed.get("version"):
        raise FeedParseError(f"parse: not a usable feed ({_why_not_a_feed(body, parsed)})")
    return parsed


def _valid_char_ref(found: re.Match[bytes]) -> bytes:
    ref = found.group(1)
    code = int(ref[1:], 16) if ref[:1] in (b"x", b"X") else int(ref)
    return b"&#xFFFD;" if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF else found.group(0)


def feed_items(parsed: feedparser.FeedParserDict, *, base_url: str,
               language: str | None = None, now: datetime | None = None,
               adjust: Adjust | None = None) -> list[FeedItem]:
    """One FeedItem per entry with a usable link, distinct entries only."""
    now = now or datetime.now(UTC)
    feed_language = language or language_code(parsed.feed.get("language"))
    items = []
    for entry in parsed.entries:
        url = entry_link(entry, base_url)
        if not url:
            continue
        published_at, flags = entry_date(entry, now=now)
        item = FeedItem(
            url=url,
            guid=clean_id(entry.get("id")),
            title=clean_title(entry.get("title")),
            summary=clean_summary(entry.get("summary")),
            published_at=published_at,
            language=language_code(entry.get("language")) or feed_language,
            author=clean_author(entry.get("author")),
            date_flags=flags,
            updated_at=entry_updated(entry, now=now),
        )
        items.append(adjust(entry, item) if adjust else item)
    return distinct_entries(items)


def entry_link(entry: feedparser.FeedParserDict, base_url: str) -> str | None:
    """The entry's absolute http(s) link; relative links resolve against the feed's URL."""
    link = entry.get("link") or ""
    if not link:
        for candidate in entry.get("links", []):
            if candidate.get("href"):
                link = candidate["href"]
                break
    if not link and entry.get("guidislink"):
        link = entry.get("id") or ""
    return absolute_http_url(link, base_url)


def entry_date(entry: feedparser.FeedParserDict, *,
               now: datetime) -> tuple[datetime | None, tuple[str, ...]]:
    """The entry's date, or the discovery time with a flag when the feed's date is unusable.

    No date at all is not a quirk (many feeds omit it): that gives None, no flag.
    """
    stated = False
    for key in ("published", "updated", "created"):
        stated = stated or bool(entry.get(key))
        value = entry.get(f"{key}_parsed")
        if not value:
            continue
        moment = _as_datetime(value)
        if moment is None:
            return now, ("feed-date-unparseable",)
        return checked_date(moment, now=now)
    return (now, ("feed-date-unparseable",)) if stated else (None, ())


def entry_updated(entry: feedparser.FeedParserDict, *, now: datetime) -> datetime | None:
    """When the entry says it last changed; None when it does not say, or says nonsense."""
    # dict.get: feedparser's own get() answers with the published date when there is none
    moment = _as_datetime(dict.get(entry, "updated_parsed"))
    updated, flags = checked_date(moment, now=now)
    return None if flags else updated


def _as_datetime(value: time.struct_time | None) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime; None when absent or out of range."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def distinct_entries(items: list[FeedItem]) -> list[FeedItem]:
    """One item per article; a guid that several different articles share is dropped.

    Entries listed twice, or once per tracking-parameter variant of the same link, are one
    article: fetching it twice would only produce a duplicate. A guid repeated with
    different links is a broken generator (one guid for every entry); keyed by that guid,
    all but one entry would be lost, so those entries fall back to their links.
    """
    articles_per_guid: dict[str, set[str]] = {}
    for item in items:
        if item.guid:
            articles_per_guid.setdefault(item.guid, set()).add(canonical_url(item.url))
    seen: set[str] = set()
    kept = []
    for item in items:
        article = canonical_url(item.url)
        if article in seen:
            continue
        seen.add(article)
        if item.guid and len(articles_per_guid[item.guid]) > 1:
            item = replace(item, guid=None)
        kept.append(item)
    return kept


def _without_bom(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """A byte-order mark decides the encoding (XML 1.0, appendix F); feedparser ignores a
    UTF-16 one unless the declaration repeats it, so such bodies are handed over as UTF-8."""
    if not body.startswith(_BOMS):
        return body, headers
    text = _XML_ENCODING.sub(r"\g<1>utf-8", decode_html(body, None), count=1)
    mime = headers.get("content-type", "").split(";")[0].strip() or "application/xml"
    return text.encode("utf-8"), {**headers, "content-type": f"{mime}; charset=utf-8"}


def _why_not_a_feed(body: bytes, parsed: feedparser.FeedParserDict) -> str:
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    content_type = str(parsed.get("headers", {}).get("content-type", "")).lower()
    if head.lower().startswith(_HTML_STARTS) or "html" in content_type.split(";")[0]:
        return "an HTML page; `newsmon sources discover URL` finds the site's feeds"
    if not head:
        return "empty body"
    if head.startswith((b"{", b"[")):
        return "JSON, but not a JSON Feed"
    if not head.startswith(b"<"):
        return f"not XML: starts with {head[:30].decode('utf-8', 'replace')!r}"
    reason = parsed.get("bozo_exception")
    return f"XML error: {reason}" if reason else "XML without feed elements"
