"""The Guardian's Open Platform content API (`/search`): a query, the newest articles, each
with its full text, so the cycle stores them without fetching a page.

Params: `query` (required), `section` (e.g. "world"), `lang` (default: the source's
language). The request asks for `show-fields=bodyText,byline,headline,trailText,
lastModified`, `order-by=newest` and `page-size=50` (the API's maximum).

The key comes from NEWSMON_GUARDIAN_KEY and travels in the `api-key` header, never in the
URL (URLs end up in fetch_log, logs and error messages): the API's keys are checked by a
Kong gateway, whose key-auth reads the key from a header or a query parameter of the same
name. A source URL holding an `api-key` parameter is refused. Without a key the source is
skipped and the skip is recorded; nothing fails.

Only results of type "article" are kept: a liveblog's text changes every few minutes (each
poll would store a revision), and galleries, interactives, video and audio have no text to
match. A result without `bodyText` (a key not entitled to it) keeps `body` None, and the
cycle fetches its page like any feed entry's.
"""

from __future__ import annotations

import json
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
from pipeline.sources.fields import absolute_http_url, checked_date, json_object, language_code
from pipeline.text import clean_author, clean_id, clean_summary, clean_text, clean_title

API_URL = "https://content.guardianapis.com/search"
FIELDS = "bodyText,byline,headline,trailText,lastModified"
PAGE_SIZE = 50  # the API's maximum
KEY_PARAM = "api-key"  # the key's name, as a header here (as a query parameter elsewhere)
MAX_MESSAGE = 300  # characters of the service's error message kept
# The developer key's quota is per day; without Retry-After, look again in a few hours.
RATE_LIMIT_WAIT_S = 6 * 3600.0


def request_url(source: Source) -> str:
    params = source.params
    url = httpx.URL(source.url or API_URL)
    if KEY_PARAM in url.params:
        raise ValueError(f"guardian: the URL holds an {KEY_PARAM}, which would be logged; "
                         "set NEWSMON_GUARDIAN_KEY instead")
    query = params.get("query") or url.params.get("q")
    if not query:
        raise ValueError("guardian: needs params.query")
    extra = {"q": str(query), "show-fields": FIELDS, "order-by": "newest",
             "page-size": url.params.get("page-size") or str(PAGE_SIZE)}
    lang = params.get("lang") or url.params.get("lang") or source.language
    if lang:
        extra["lang"] = str(lang)
    if params.get("section"):
        extra["section"] = str(params["section"])
    return str(url.copy_merge_params(extra))


def request_headers(source: Source, settings: Settings) -> dict[str, str]:
    if not settings.guardian_key:
        raise SourceSkipped(f"guardian: no API key configured (set NEWSMON_GUARDIAN_KEY); "
                            f"source {source.name!r} not polled")
    return {KEY_PARAM: settings.guardian_key}


def parse_response(source: Source, response: Response) -> list[FeedItem]:
    data = json_object(response.body, service="the Guardian API")
    answer = data.get("response")
    if not isinstance(answer, dict):  # the gateway's own errors: {"message": "..."}
        raise api_error(data.get("message") or "no response object", status=response.status)
    if answer.get("status") != "ok":
        raise api_error(answer.get("message") or f"status {answer.get('status')!r}",
                        status=response.status)
    results = answer.get("results", [])
    if not isinstance(results, list):
        raise FeedParseError("parse: the Guardian API's results are not a list")
    now = datetime.now(UTC)
    language = language_code(source.params.get("lang") or source.language)
    items = (_item(result, language=language, now=now) for result in results)
    return [item for item in items if item is not None]


def api_error(message: object, *, status: int | None = None,
              retry_after_s: float | None = None) -> Exception:
    """The error the Guardian API reported, as what the operator must do.

    The one place its failures are classified: a refused key (401, 403, "API key",
    "credentials") is a misconfigured source (fix NEWSMON_GUARDIAN_KEY, then `newsmon
    sources enable`); 429 or "rate limit" means the key's quota is spent until its next
    period, a rate limit (next poll after Retry-After, else RATE_LIMIT_WAIT_S); anything
    else is a failed parse that backs off as usual.
    """
    text = clean_text(message, limit=MAX_MESSAGE) or "no message"
    lowered = text.lower()
    if status in (401, 403) or "api key" in lowered or "credentials" in lowered:
        return SourceMisconfigured(
            f"guardian: API key refused (check NEWSMON_GUARDIAN_KEY): {text}", status=status)
    if status == 429 or "rate limit" in lowered:
        return SourceRateLimited(
            f"guardian: rate limited (the key's quota is spent until its next period): {text}",
            retry_after_s=RATE_LIMIT_WAIT_S if retry_after_s is None else retry_after_s,
            status=status)
    return FeedParseError(f"parse: Guardian API error: {text}")


def explain_error(source: Source, response: Response) -> Exception | None:
    """A non-2xx answer's JSON message (401, 403, 429) as the error it means; None when
    the body says nothing usable and the HTTP status stands."""
    try:
        data = json.loads(response.body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    answer = data.get("response", data) if isinstance(data, dict) else None
    message = answer.get("message") if isinstance(answer, dict) else None
    if response.status not in (401, 403, 429) and not message:
        return None
    error = api_error(message or f"HTTP {response.status}", status=response.status,
                      retry_after_s=parse_retry_after(response.headers.get("retry-after")))
    return None if isinstance(error, FeedParseError) else error


def _item(result: object, *, language: str | None, now: datetime) -> FeedItem | None:
    if not isinstance(result, dict) or result.get("type") != "article":
        return None
    url = absolute_http_url(_text(result.get("webUrl")), "")  # absolute URLs only
    if not url:
        return None
    fields = result.get("fields")
    fields = fields if isinstance(fields, dict) else {}
    stated = _text(result.get("webPublicationDate"))
    published_at, flags = checked_date(parse_iso_datetime(stated), now=now)
    if stated and published_at is None:
        published_at, flags = now, ("feed-date-unparseable",)
    updated_at, updated_flags = checked_date(
        parse_iso_datetime(_text(fields.get("lastModified"))), now=now)
    return FeedItem(
        url=url,
        guid=clean_id(_text(result.get("id"))),
        title=clean_title(_text(fields.get("headline")) or _text(result.get("webTitle"))),
        summary=clean_summary(_text(fields.get("trailText"))),
        published_at=published_at,
        language=language,
        author=clean_author(_text(fields.get("byline"))),
        date_flags=flags,
        updated_at=None if updated_flags else updated_at,
        body=body_text(fields.get("bodyText")),
    )


def body_text(value: object) -> str | None:
    """The article's text, cleaned line by line so its paragraphs stay apart; None if empty."""
    if not isinstance(value, str):
        return None
    paragraphs = (clean_text(line) for line in value.splitlines())
    return "\n".join(p for p in paragraphs if p) or None


def _text(value: object) -> str:
    # A field of another JSON type (a list, an object) is not the text it should be.
    return value if isinstance(value, str) else ""
