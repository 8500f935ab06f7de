"""Which date an article was published: the page's, the feed's, or when we first saw it.

Researchers sort by `published_at`, so a wrong date is worse than a late one. Each
candidate must be plausible: not after we first saw the article (beyond a skew for time
zone slips) and not before the web had news sites. The page's own date wins because it
is what the publisher prints on the article; feeds often restamp items when they are
edited or re-syndicated. A feed timestamp still refines a page date that carries no time
of day, and a large disagreement between the two is flagged for review, not resolved.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from pipeline.models import record

# A date-only value is midnight UTC, up to 14 hours ahead of the instant in UTC+14, and
# publishers routinely label local time as UTC; more than that is not a slip but a wrong
# date (an event date, an expiry, a copyright year).
FUTURE_SKEW = timedelta(hours=14)
EARLIEST_PLAUSIBLE = datetime(1995, 1, 1, tzinfo=UTC)  # before this, no news site existed
DISAGREEMENT = timedelta(days=2)  # beyond time zones and date-only rounding

DATE_SOURCES = ("page", "feed", "first-seen")


@record
class DateChoice:
    published_at: datetime
    date_source: str  # one of DATE_SOURCES
    flags: tuple[str, ...] = ()


def choose_published_at(
    *,
    feed_date: datetime | date | None,
    page_date: datetime | date | None,
    first_seen: datetime | None,
    now: datetime | None = None,
) -> DateChoice:
    """Pick `published_at` from the page's date, the feed's date, or first-seen, in that order.

    Naive datetimes are taken as UTC. Flags name each rejected candidate
    (`page-date-future`, `feed-date-too-old`, ...) and `dates-disagree` when page and
    feed are both plausible but more than two days apart.
    """
    now = as_utc(now) if now is not None else datetime.now(UTC)
    seen = as_utc(first_seen) if first_seen is not None else now
    seen_by = min(seen, now)
    flags: list[str] = []
    page = _plausible("page", page_date, seen=seen_by, flags=flags)
    feed = _plausible("feed", feed_date, seen=seen_by, flags=flags)
    if page is not None and feed is not None:
        if abs(page - feed) > DISAGREEMENT:
            flags.append("dates-disagree")
        elif is_date_only(page) and feed.date() == page.date():
            # Same day, and the feed knows the time of day that sorting within a day needs.
            return DateChoice(published_at=feed, date_source="feed", flags=tuple(flags))
    if page is not None:
        return DateChoice(published_at=page, date_source="page", flags=tuple(flags))
    if feed is not None:
        return DateChoice(published_at=feed, date_source="feed", flags=tuple(flags))
    return DateChoice(published_at=seen, date_source="first-seen", flags=tuple(flags))


def _plausible(
    name: str, value: datetime | date | None, *, seen: datetime, flags: list[str]
) -> datetime | None:
    if value is None:
        return None
    moment = as_utc(value)
    if (reason := why_implausible(moment, seen=seen)) is not None:
        flags.append(f"{name}-date-{reason}")
        return None
    return moment


def why_implausible(moment: datetime, *, seen: datetime) -> str | None:
    """Why `moment` cannot be when something first seen at `seen` was published, or None.

    "future": after `seen` by more than FUTURE_SKEW; "too-old": before EARLIEST_PLAUSIBLE.
    The one rule for the article's chosen date and every source adapter's stated dates;
    callers turn the reason into their flag (`feed-date-future`, `page-date-too-old`, ...).
    """
    if moment > seen + FUTURE_SKEW:
        return "future"
    if moment < EARLIEST_PLAUSIBLE:
        return "too-old"
    return None


def as_utc(value: datetime | date) -> datetime:
    """An aware UTC datetime; dates become midnight UTC, naive datetimes are taken as UTC."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0), tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_iso_datetime(value: str | None) -> datetime | None:
    """An ISO 8601 / RFC 3339 / W3C datetime string as an aware datetime; None if not one.

    "Z" and numeric offsets are kept as stated (a page's offset is evidence: see
    extract.page.page_date), no offset is taken as UTC and a date alone is midnight UTC
    (as `as_utc`). Surrounding whitespace is ignored: only the sitemap parser used to
    strip it, so a padded NewsAPI or JSON Feed date was "unparseable"; it is the same date.
    """
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    # Not `as_utc`: that would convert a stated offset away; only a missing one is filled in.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def is_date_only(value: datetime) -> bool:
    """True for midnight UTC, the shape a date without a time of day takes here."""
    return value.time() == time(0) and value.utcoffset() == timedelta(0)
