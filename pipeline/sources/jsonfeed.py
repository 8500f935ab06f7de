"""JSON Feed (jsonfeed.org, versions 1 and 1.1), which feedparser 6.0 does not read."""

from __future__ import annotations

import json
from datetime import datetime

from pipeline.dates import parse_iso_datetime
from pipeline.models import FeedItem
from pipeline.sources.errors import FeedParseError
from pipeline.sources.fields import absolute_http_url, checked_date, language_code
from pipeline.text import clean_author, clean_id, clean_summary, clean_title

VERSION_MARK = b"jsonfeed.org/version/"


def is_json_feed(body: bytes) -> bool:
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{") and VERSION_MARK in body


def read_json_feed(body: bytes) -> dict:
    try:
        data = json.loads(body.decode("utf-8-sig", errors="replace"))
    except json.JSONDecodeError as exc:
        raise FeedParseError(f"parse: broken JSON Feed ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
        raise FeedParseError("parse: not a usable feed (JSON Feed without an item list)")
    return data


def json_feed_items(data: dict, *, base_url: str, language: str | None,
                    now: datetime) -> list[FeedItem]:
    feed_language = language or language_code(data.get("language"))
    items = []
    for entry in data.get("items", []):
        if not isinstance(entry, dict):
            continue
        url = absolute_http_url(str(entry.get("url") or entry.get("external_url") or ""),
                                base_url)
        if not url:
            continue
        stated = str(entry.get("date_published") or entry.get("date_modified") or "")
        published_at, flags = checked_date(parse_iso_datetime(stated), now=now)
        if stated and published_at is None:
            published_at, flags = now, ("feed-date-unparseable",)
        items.append(FeedItem(
            url=url,
            guid=clean_id(entry.get("id")),
            title=clean_title(entry.get("title")),
            summary=clean_summary(entry.get("summary") or entry.get("content_text")),
            published_at=published_at,
            language=language_code(entry.get("language")) or feed_language,
            author=_author(entry) or _author(data),
            date_flags=flags,
            updated_at=_stated_date(entry.get("date_modified"), now=now),
        ))
    return items


def _stated_date(value: object, *, now: datetime) -> datetime | None:
    moment, flags = checked_date(parse_iso_datetime(str(value or "")), now=now)
    return None if flags else moment


def _author(obj: dict) -> str | None:
    authors = obj.get("authors") or ([obj["author"]] if obj.get("author") else [])
    for author in authors:
        if isinstance(author, dict) and author.get("name"):
            return clean_author(author["name"])
    return None

