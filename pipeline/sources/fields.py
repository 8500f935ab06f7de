"""Small field cleaners every adapter shares: links, dates, language codes.

Text fields go through `pipeline.text` (titles, authors, summaries, ids).
"""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urljoin

from pipeline.dates import as_utc, why_implausible
from pipeline.sources.errors import FeedParseError
from pipeline.text import strip_controls


def absolute_http_url(link: str, base_url: str) -> str | None:
    """`link` made absolute against `base_url`, if it is an http(s) URL."""
    link = strip_controls(str(link)).strip()  # a NUL or a lone surrogate would fail the store
    if not link:
        return None
    try:
        absolute = urljoin(base_url, link)
    except ValueError:  # e.g. an invalid IPv6 literal
        return None
    return absolute if absolute.startswith(("http://", "https://")) else None


def checked_date(moment: datetime | None, *,
                 now: datetime) -> tuple[datetime | None, tuple[str, ...]]:
    """A source's date if plausible, else the discovery time and why (future, too old)."""
    if moment is None:
        return None, ()
    moment = as_utc(moment)
    if (reason := why_implausible(moment, seen=now)) is not None:
        return now, (f"feed-date-{reason}",)
    return moment, ()


def language_code(value: object) -> str | None:
    """ISO 639-1 from a language tag ("es-VE", "en_US" -> "es", "en")."""
    if not value or not isinstance(value, str):
        return None
    code = value.split("-")[0].split("_")[0].strip().lower()
    return code if code.isascii() and code.isalpha() else None  # it is stored and matched on


def title_without_publisher(title: str, publisher: str) -> str:
    """`title` without the " - Publisher" that aggregators append to headlines.

    Only that exact suffix goes: splitting on the last " - " would cut headlines that
    hold one of their own ("Madrid - Barcelona: 2-1").
    """
    suffix = f" - {publisher}"
    if publisher and title.endswith(suffix) and len(title) > len(suffix):
        return title[: -len(suffix)].rstrip()
    return title


def json_object(body: bytes, *, service: str) -> dict:
    """A JSON API's answer as the object at its top; FeedParseError naming the service if
    the body is not JSON or its top is not an object."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FeedParseError(f"parse: {service} did not answer JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise FeedParseError(f"parse: {service} answered JSON without an object at the top")
    return data
