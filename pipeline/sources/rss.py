"""RSS, Atom, RDF and JSON Feed, through feedparser (given bytes, never a URL)."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from urllib.parse import urljoin

import feedparser

from pipeline.models import FeedItem, Response, Source


class FeedParseError(ValueError):
    """Nothing usable in the body (not a feed, or broken beyond recovery)."""


def parse_response(source: Source, response: Response) -> list[FeedItem]:
    return parse_feed(response.body, base_url=response.url, headers=response.headers,
                      language=source.language)


def parse_feed(body: bytes, *, base_url: str, headers: dict[str, str] | None = None,
               language: str | None = None) -> list[FeedItem]:
    # Sanitising and URI resolution are feedparser's slowest steps; text is
    # sanitised later, only where it is rendered.
    parsed = feedparser.parse(
        body,
        response_headers={"content-location": base_url, **(headers or {})},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    if not parsed.entries and not parsed.get("version"):
        reason = parsed.get("bozo_exception")
        detail = f"{type(reason).__name__}: {reason}" if reason else "no feed elements found"
        raise FeedParseError(f"parse: not a usable feed ({detail})")
    feed_language = language or _language_code(parsed.feed.get("language"))
    items = []
    for entry in parsed.entries:
        link = _entry_link(entry, base_url)
        if not link:
            continue
        items.append(
            FeedItem(
                url=link,
                guid=(entry.get("id") or None),
                title=_clean(entry.get("title", "")),
                summary=_clean(entry.get("summary", "")),
                published_at=_entry_date(entry),
                language=feed_language,
                author=entry.get("author") or None,
            )
        )
    return items


def _entry_link(entry: feedparser.FeedParserDict, base_url: str) -> str | None:
    link = entry.get("link") or ""
    if not link:
        for candidate in entry.get("links", []):
            if candidate.get("href"):
                link = candidate["href"]
                break
    link = link.strip()
    if not link:
        return None
    absolute = urljoin(base_url, link)
    return absolute if absolute.startswith(("http://", "https://")) else None


def _entry_date(entry: feedparser.FeedParserDict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                return None
    return None


def _language_code(value: str | None) -> str | None:
    if not value:
        return None
    return value.split("-")[0].split("_")[0].strip().lower() or None


def _clean(value: str) -> str:
    return " ".join(str(value).split())
