"""Small field cleaners every adapter shares: links, dates, text, language codes."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urljoin

from pipeline.dates import EARLIEST_PLAUSIBLE, FUTURE_SKEW
from pipeline.encoding import repair_mojibake


def absolute_http_url(link: str, base_url: str) -> str | None:
    """`link` made absolute against `base_url`, if it is an http(s) URL."""
    link = str(link).strip()
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
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment > now + FUTURE_SKEW:
        return now, ("feed-date-future",)
    if moment < EARLIEST_PLAUSIBLE:
        return now, ("feed-date-too-old",)
    return moment.astimezone(UTC), ()


def clean_text(value: object) -> str:
    """One line of text, with double-encoded UTF-8 repaired."""
    if not value:
        return ""
    return repair_mojibake(" ".join(str(value).split()))


def language_code(value: object) -> str | None:
    """ISO 639-1 from a language tag ("es-VE", "en_US" -> "es", "en")."""
    if not value or not isinstance(value, str):
        return None
    return value.split("-")[0].split("_")[0].strip().lower() or None
