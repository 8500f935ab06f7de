"""NewsAPI-style keyed search API (`/v2/everything`): a query, the newest matching articles.

The key comes from NEWSMON_NEWSAPI_KEY and travels in the `X-Api-Key` header, never in
the URL (URLs end up in fetch_log, logs and error messages). Without a key the source is
skipped and the skip is recorded; nothing fails. Params: `query` (required), `language`
(default: the source's language), `page_size` (default and API maximum 100),
`domains`, `search_in` (e.g. "title,description").

Errors come as JSON bodies, `{"status": "error", "code": ..., "message": ...}`, with HTTP
400/401/429/500 (`explain_error`): a rejected key or parameter makes the source
misconfigured, `rateLimited` a rate limit, anything else an ordinary failed poll.
`content` is cut at ~200 characters ending "… [+7835 chars]": a teaser, never the
article (the page is fetched as for every item); with no description it is the summary.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import httpx

from pipeline.config import Settings
from pipeline.dates import parse_iso_datetime
from pipeline.http import parse_retry_after
from pipeline.models import FeedItem, Response, Source
from pipeline.sources.errors import (
    FeedParseError,
    SourceMisconfigured,
    SourceRateLimited,
    SourceSkipped,
)
from pipeline.sources.fields import absolute_http_url, checked_date, json_object
from pipeline.text import clean_author, clean_summary, clean_text, clean_title

API_URL = "https://newsapi.org/v2/everything"
REMOVED_URL = "https://removed.com"  # NewsAPI's placeholder for withdrawn articles

# Error codes (newsapi.org/docs/errors) that asking again the same way cannot cure.
KEY_REJECTED = frozenset({"apiKeyInvalid", "apiKeyMissing", "apiKeyDisabled",
                          "apiKeyExhausted"})
QUERY_REJECTED = frozenset({"parameterInvalid", "parametersMissing", "sourcesTooMany",
                            "sourceDoesNotExist"})
# The developer plan allows 100 requests a day. A rateLimited answer without Retry-After
# waits half a day: part of a day's quota has come back by then, and a source polled every
# few minutes would otherwise spend each new request on another refusal.
RATE_LIMIT_WAIT_S = 12 * 3600.0
TEASER_MARK = re.compile(r"\s*\[\+\d+ chars\]\s*$")  # "… [+7835 chars]" ends a cut content
MESSAGE_MAX = 300  # characters of NewsAPI's own message quoted in an error


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
    data = json_object(response.body, service="NewsAPI")
    if data.get("status") != "ok":
        raise explain_error(source, response) or FeedParseError(
            f"parse: NewsAPI error {_code(data)!r}: {_message(data)}")
    now = datetime.now(UTC)
    items = []
    for article in data.get("articles") or []:
        item = _item(article, base_url=response.url, now=now,
                     language=source.params.get("language") or source.language)
        if item is not None:
            items.append(item)
    return items


def explain_error(source: Source, response: Response) -> Exception | None:
    """NewsAPI's error body as the error it means: SourceMisconfigured for a rejected key or
    parameter, SourceRateLimited for rateLimited (or any 429), None otherwise (e.g.
    unexpectedError: the HTTP status stands and the poll backs off as usual)."""
    data = _json_object(response.body)
    code = _code(data)
    # The code decides before the status: apiKeyExhausted may come with a 429, yet only a
    # new key or plan cures it.
    if code in KEY_REJECTED:
        return SourceMisconfigured(f"newsapi: API key rejected ({code}): {_message(data)} "
                                   "(check NEWSMON_NEWSAPI_KEY)", status=response.status)
    if code in QUERY_REJECTED:
        return SourceMisconfigured(f"newsapi: query rejected ({code}): {_message(data)}",
                                   status=response.status)
    if code == "rateLimited" or response.status == 429:
        wait = parse_retry_after(response.headers.get("retry-after"))
        return SourceRateLimited(f"newsapi: rate limited ({code or 'HTTP 429'}): "
                                 f"{_message(data)}",
                                 retry_after_s=RATE_LIMIT_WAIT_S if wait is None else wait,
                                 status=response.status)
    return None


def _json_object(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _code(data: dict) -> str | None:
    """The error code of an error body (`{"status": "error", "code": ...}`), else None."""
    code = data.get("code") if data.get("status") == "error" else None
    if not isinstance(code, str):
        return None
    return clean_text(code, limit=50) or None


def _message(data: dict) -> str:
    return clean_text(data.get("message"), limit=MESSAGE_MAX) or "no message"


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
        summary=clean_summary(article.get("description")) or _teaser(article.get("content")),
        published_at=published_at,
        language=language,
        author=clean_author(article.get("author")),
        date_flags=flags,
    )


def _teaser(content: object) -> str:
    """`content` as a summary: without the "[+N chars]" mark (its "…" stays, saying the text
    is cut). Only a summary: the article text always comes from the page."""
    return TEASER_MARK.sub("", clean_summary(content)) if isinstance(content, str) else ""
