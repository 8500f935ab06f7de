"""NewsAPI-style keyed search API (`/v2/everything`): a query, the newest matching articles.

The key comes from NEWSMON_NEWSAPI_KEY and travels in the `X-Api-Key` header, never in
the URL (URLs end up in fetch_log, logs and error messages). Without a key the source is
skipped and the skip is recorded; nothing fails. Params: `query` (required), `language`
(default: the source's language), `page_size` (default and API maximum 100),
`domains`, `search_in` (e.g. "title,description").
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from pipeline.config import Settings
from pipeline.dates import parse_iso_datetime
from pipeline.models import FeedItem, Response, Source
from pipeline.sources.errors import FeedParseError, SourceSkipped
from pipeline.sources.fields import absolute_http_url, checked_date
from pipeline.text import clean_author, clean_summary, clean_title

API_URL = "https://newsapi.org/v2/everything"
REMOVED_URL = "https://removed.com"  # NewsAPI's placeholder for withdrawn articles


def request_url(source: Source) -> str:
    params = source.params
    url = httpx.URL(source.url or API_URL)
    query = params.get("query") or url.params.get("q")
    if not query:
        raise ValueError("newsapi: needs params.query")
    extra = {"q": str(query), "sortBy": "publishedAt",
             "pageSize": str(params.get("page_size") or url.params.get("pageSize") or 100)}
    language = params.get("language") or url.params.get("language") or source.language
    if language:
        extra["language"] = str(language)
    for param, name in (("domains", "domains"), ("search_in", "searchIn")):
        if params.get(param):
            extra[name] = str(params[param])
    return str(url.copy_merge_params(extra))


def request_headers(source: Source, settings: Settings) -> dict[str, str]:
    if not settings.newsapi_key:
        raise SourceSkipped(f"newsapi: no API key configured (set NEWSMON_NEWSAPI_KEY); "
                            f"source {source.name!r} not polled")
    return {"x-api-key": settings.newsapi_key}


def parse_response(source: Source, response: Response) -> list[FeedItem]:
    try:
        data = json.loads(response.body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FeedParseError(f"parse: NewsAPI did not answer JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise FeedParseError("parse: NewsAPI answered JSON without an object at the top")
    if data.get("status") != "ok":
        raise FeedParseError(f"parse: NewsAPI error {data.get('code')!r}: "
                             f"{data.get('message') or 'no message'}")
    now = datetime.now(UTC)
    items = []
    for article in data.get("articles") or []:
        item = _item(article, base_url=response.url, now=now,
                     language=source.params.get("language") or source.language)
        if item is not None:
            items.append(item)
    return items


def _item(article: object, *, base_url: str, language: str | None,
          now: datetime) -> FeedItem | None:
    if not isinstance(article, dict):
        return None
    url = absolute_http_url(str(article.get("url") or ""), base_url)
    if not url or url.rstrip("/") == REMOVED_URL:
        return None
    stated = str(article.get("publishedAt") or "")
    published_at, flags = checked_date(parse_iso_datetime(stated), now=now)
    if stated and published_at is None:
        published_at, flags = now, ("feed-date-unparseable",)
    return FeedItem(
        url=url,
        title=clean_title(article.get("title")),
        summary=clean_summary(article.get("description")),
        published_at=published_at,
        language=language,
        author=clean_author(article.get("author")),
        date_flags=flags,
    )

