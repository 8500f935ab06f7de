"""GDELT DOC 2.0 API, article list mode: what the world's news published on a query lately.

A source gives params `query` (GDELT query syntax, e.g. '"Tren de Aragua" OR Maduro') and
optionally `timespan` (default "1d"; e.g. "90min", "12h", "3d"), `maxrecords` (default and
API maximum 250) and `sourcelang` (e.g. "spanish", added to the query). `url` may be the API
endpoint or a full query URL.

GDELT answers some mistakes (a too-short phrase, a bad operator) with HTTP 200 and a line
of plain text instead of JSON; that becomes a parse error carrying GDELT's message.
"""

from __future__ import annotations

import json
from datetime import datetime

import httpx

from pipeline.dates import as_utc
from pipeline.models import FeedItem, Response, Source
from pipeline.sources.errors import FeedParseError
from pipeline.sources.fields import absolute_http_url
from pipeline.text import clean_title

API_URL = "https://api.gdeltproject.org/api/v2/doc/doc"

# GDELT names languages in English; the ones it covers most, as ISO 639-1.
LANGUAGES = {
    "english": "en", "spanish": "es", "portuguese": "pt", "french": "fr", "german": "de",
    "italian": "it", "russian": "ru", "chinese": "zh", "arabic": "ar", "japanese": "ja",
    "korean": "ko", "dutch": "nl", "turkish": "tr", "polish": "pl", "ukrainian": "uk",
    "indonesian": "id", "hindi": "hi", "catalan": "ca", "romanian": "ro", "greek": "el",
}


def request_url(source: Source) -> str:
    params = source.params
    url = httpx.URL(source.url or API_URL)
    query = params.get("query") or url.params.get("query")
    if not query:
        raise ValueError("gdelt: needs params.query (GDELT query syntax)")
    if params.get("sourcelang"):
        query = f"{query} sourcelang:{params['sourcelang']}"
    return str(url.copy_merge_params({
        "query": str(query),
        "mode": "artlist",
        "format": "json",
        "timespan": str(params.get("timespan") or url.params.get("timespan") or "1d"),
        "maxrecords": str(params.get("maxrecords") or url.params.get("maxrecords") or 250),
        "sort": "datedesc",
    }))


def parse_response(source: Source, response: Response) -> list[FeedItem]:
    text = response.body.decode("utf-8", errors="replace").strip()
    if not text:
        return []  # GDELT sends an empty body when nothing matched the time span
    try:
        # strict=False: GDELT titles sometimes carry raw control characters.
        data = json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        first_line = text.splitlines()[0][:200]
        raise FeedParseError(f"parse: GDELT did not answer JSON ({first_line!r})") from exc
    if not isinstance(data, dict):
        raise FeedParseError("parse: GDELT answered JSON without an object at the top")
    articles = data.get("articles") or []
    if not isinstance(articles, list):
        raise FeedParseError("parse: GDELT answer has no article list")
    items = []
    for article in articles:
        item = _item(article, base_url=response.url, language=source.language)
        if item is not None:
            items.append(item)
    return items


def _item(article: object, *, base_url: str, language: str | None) -> FeedItem | None:
    if not isinstance(article, dict):
        return None
    url = absolute_http_url(str(article.get("url") or ""), base_url)
    if not url:
        return None
    lang = LANGUAGES.get(str(article.get("language") or "").strip().lower())
    return FeedItem(
        url=url,
        title=clean_title(article.get("title")),
        published_at=parse_seendate(article.get("seendate")),
        language=lang or language,
    )


def parse_seendate(value: object) -> datetime | None:
    """GDELT's `seendate` ("20251105T143000Z"): when GDELT first saw the article, in UTC."""
    try:
        # Not parse_iso_datetime: GDELT sends this one compact shape; any other is not a seendate.
        return as_utc(datetime.strptime(str(value), "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return None
