"""GDELT DOC 2.0 API, article list mode: what the world's news published on a query lately.

A source gives params `query` (GDELT query syntax, e.g. '"Tren de Aragua" OR Maduro') and
optionally `timespan` (default "1d"; e.g. "90min", "12h", "3d"), `maxrecords` (default and
API maximum 250) and `sourcelang` (e.g. "spanish", added to the query). `url` may be the API
endpoint or a full query URL.

GDELT answers errors as a line of plain text instead of JSON, mostly with HTTP 200
(`explain_error`): a query it rejects ("One or more of your keywords were too short, too
long or too common") makes the source misconfigured, its throttle ("Please limit requests
to one every 5 seconds", also sent with 429) a rate limit; any other text is a parse
error quoting it. `seendate` and the English names of `language` and `sourcecountry`
become a UTC timestamp and ISO codes (`gdelt_names`).
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import httpx

from pipeline.dates import as_utc
from pipeline.http import parse_retry_after
from pipeline.models import FeedItem, Response, Source
from pipeline.sources.errors import FeedParseError, SourceMisconfigured, SourceRateLimited
from pipeline.sources.fields import absolute_http_url
from pipeline.sources.gdelt_names import country_code, language_code
from pipeline.text import clean_text, clean_title

API_URL = "https://api.gdeltproject.org/api/v2/doc/doc"

# GDELT's throttle notice: "Please limit requests to one every 5 seconds or contact ...".
RATE_LIMIT = re.compile(r"limit requests to one every (\d+) seconds?", re.IGNORECASE)
# Its notices about the query itself, e.g. "One or more of your keywords were too short,
# too long or too common: (locationcc:br)", "The specified phrase is too short.",
# "Invalid/Unsupported Country.", "Parentheses may only be used around OR'd statements."
# Words about the query, never about the server's state: a timeout notice is no verdict.
QUERY_ERROR = re.compile(
    r"\b(?:keywords?|phrase|too (?:short|long|common)|invalid|unsupported|parenthes[ie]s"
    r"|OR'd)\b", re.IGNORECASE)
MESSAGE_MAX = 200  # characters of GDELT's own words quoted in an error


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
    text = _text(response.body)
    if not text:
        return []  # GDELT sends an empty body when nothing matched the time span
    if not text.startswith(("{", "[")):
        # Checked before any JSON parse: GDELT's errors are plain text, even with format=json.
        raise explain_error(source, response) or FeedParseError(
            f"parse: GDELT did not answer JSON ({_quote(text)!r})")
    try:
        # strict=False: GDELT titles sometimes carry raw control characters.
        data = json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        raise FeedParseError(f"parse: GDELT answered broken JSON ({exc})") from exc
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


def explain_error(source: Source, response: Response) -> Exception | None:
    """GDELT's own words in a response (an error status's body, or a 200's plain text) as
    the error they mean: SourceRateLimited, SourceMisconfigured, or None if they say
    neither (the HTTP status or a parse error stands)."""
    text = _text(response.body)
    throttle = RATE_LIMIT.search(text)
    if throttle or response.status == 429:
        # Retry-After, if sent, is exact; the notice's "one every N seconds" is the rule.
        wait = parse_retry_after(response.headers.get("retry-after"))
        if wait is None and throttle:
            wait = float(throttle.group(1))
        words = _quote(text) or f"HTTP {response.status}"
        return SourceRateLimited(f"gdelt: rate limited: {words}", retry_after_s=wait,
                                 status=response.status)
    if text and not text.startswith(("{", "<")) and QUERY_ERROR.search(_first_line(text)):
        return SourceMisconfigured(f"gdelt: query rejected: {_quote(text)}",
                                   status=response.status)
    return None


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace").strip()


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def _quote(text: str) -> str:
    """GDELT's notice, cleaned and short: its first sentence (the rest of the throttle
    notice is advertising and links)."""
    sentence = re.split(r"(?<=[.!?])\s+", _first_line(text), maxsplit=1)[0]
    return clean_text(sentence, limit=MESSAGE_MAX)


def _item(article: object, *, base_url: str, language: str | None) -> FeedItem | None:
    if not isinstance(article, dict):
        return None
    url = absolute_http_url(str(article.get("url") or ""), base_url)
    if not url:
        return None
    return FeedItem(
        url=url,
        title=clean_title(article.get("title")),
        published_at=parse_seendate(article.get("seendate")),
        language=language_code(article.get("language")) or language,
        country=country_code(article.get("sourcecountry")),
    )


def parse_seendate(value: object) -> datetime | None:
    """GDELT's `seendate` ("20251105T143000Z"): when GDELT first saw the article, in UTC."""
    try:
        # Not parse_iso_datetime: GDELT sends this one compact shape; any other is not a seendate.
        return as_utc(datetime.strptime(str(value), "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return None
