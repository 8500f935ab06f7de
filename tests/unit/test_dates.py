"""Choosing published_at from the page's date, the feed's date and first-seen."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from pipeline.dates import (
    EARLIEST_PLAUSIBLE,
    FUTURE_SKEW,
    as_utc,
    choose_published_at,
    parse_iso_datetime,
    why_implausible,
)

SEEN = datetime(2025, 3, 4, 16, 0, tzinfo=UTC)
CARACAS = timezone(timedelta(hours=-4))


def test_page_date_wins_when_plausible() -> None:
    page = datetime(2025, 3, 4, 10, 15, tzinfo=CARACAS)
    choice = choose_published_at(
        feed_date=datetime(2025, 3, 4, 15, 0, tzinfo=UTC), page_date=page, first_seen=SEEN
    )
    assert choice.published_at == page
    assert choice.published_at.tzinfo is UTC
    assert (choice.date_source, choice.flags) == ("page", ())


def test_future_page_date_is_rejected_and_the_feed_date_used() -> None:
    feed = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
    choice = choose_published_at(feed_date=feed, page_date=SEEN + timedelta(days=3),
                                 first_seen=SEEN)
    assert (choice.published_at, choice.date_source) == (feed, "feed")
    assert choice.flags == ("page-date-future",)


def test_small_future_skew_from_time_zones_is_tolerated() -> None:
    page = SEEN + timedelta(hours=8)  # local time labelled as UTC, east of Greenwich
    choice = choose_published_at(feed_date=None, page_date=page, first_seen=SEEN)
    assert (choice.published_at, choice.date_source, choice.flags) == (page, "page", ())


def test_future_is_measured_from_first_seen_not_from_a_later_reextraction() -> None:
    later = SEEN + timedelta(days=30)
    choice = choose_published_at(feed_date=None, page_date=SEEN + timedelta(days=10),
                                 first_seen=SEEN, now=later)
    assert (choice.published_at, choice.date_source) == (SEEN, "first-seen")
    assert choice.flags == ("page-date-future",)


def test_implausibly_old_dates_are_rejected() -> None:
    feed = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)  # a CMS that stores 0 for "unknown"
    choice = choose_published_at(feed_date=feed, page_date=epoch, first_seen=SEEN)
    assert (choice.published_at, choice.flags) == (feed, ("page-date-too-old",))


def test_large_disagreement_is_flagged_and_the_page_still_wins() -> None:
    page = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
    choice = choose_published_at(feed_date=datetime(2025, 3, 4, 15, 0, tzinfo=UTC),
                                 page_date=page, first_seen=SEEN)
    assert (choice.published_at, choice.date_source) == (page, "page")
    assert choice.flags == ("dates-disagree",)


def test_a_day_apart_is_not_a_disagreement() -> None:
    choice = choose_published_at(feed_date=datetime(2025, 3, 3, 23, 0, tzinfo=UTC),
                                 page_date=datetime(2025, 3, 4, 18, 0, tzinfo=CARACAS),
                                 first_seen=SEEN)
    assert choice.flags == ()


def test_feed_time_of_day_refines_a_date_only_page_date() -> None:
    feed = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
    choice = choose_published_at(feed_date=feed, page_date=date(2025, 3, 4), first_seen=SEEN)
    assert (choice.published_at, choice.date_source) == (feed, "feed")


def test_falls_back_to_first_seen_when_no_date_is_usable() -> None:
    choice = choose_published_at(feed_date=datetime(2031, 1, 1, tzinfo=UTC),
                                 page_date=datetime(1900, 1, 1), first_seen=SEEN)
    assert (choice.published_at, choice.date_source) == (SEEN, "first-seen")
    assert set(choice.flags) == {"page-date-too-old", "feed-date-future"}


def test_no_dates_at_all_gives_first_seen_without_flags() -> None:
    choice = choose_published_at(feed_date=None, page_date=None, first_seen=SEEN)
    assert (choice.published_at, choice.date_source, choice.flags) == (SEEN, "first-seen", ())


def test_naive_datetimes_are_taken_as_utc() -> None:
    choice = choose_published_at(feed_date=datetime(2025, 3, 4, 12, 0), page_date=None,
                                 first_seen=SEEN)
    assert choice.published_at == datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


# -- the shared pieces ------------------------------------------------------------------

def test_as_utc_converts_aware_takes_naive_as_utc_and_dates_as_midnight() -> None:
    assert as_utc(datetime(2025, 3, 4, 10, 0, tzinfo=CARACAS)) == datetime(2025, 3, 4, 14, 0,
                                                                            tzinfo=UTC)
    assert as_utc(datetime(2025, 3, 4, 10, 0, tzinfo=CARACAS)).tzinfo is UTC
    assert as_utc(datetime(2025, 3, 4, 10, 0)) == datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
    assert as_utc(date(2025, 3, 4)) == datetime(2025, 3, 4, tzinfo=UTC)


@pytest.mark.parametrize("value, expected", [
    ("2025-03-04T10:15:00Z", datetime(2025, 3, 4, 10, 15, tzinfo=UTC)),
    ("2025-03-04T10:15:00-04:00", datetime(2025, 3, 4, 10, 15, tzinfo=CARACAS)),
    ("2025-03-04T10:15:00-0400", datetime(2025, 3, 4, 10, 15, tzinfo=CARACAS)),  # htmldate's %z
    ("2025-03-04T10:15:00.250Z", datetime(2025, 3, 4, 10, 15, 0, 250000, tzinfo=UTC)),
    ("2025-03-04T10:15", datetime(2025, 3, 4, 10, 15, tzinfo=UTC)),  # no offset: UTC
    ("2025-03-04", datetime(2025, 3, 4, tzinfo=UTC)),  # a date alone: midnight UTC
    # Padded: once "unparseable" from NewsAPI and JSON Feed, though sitemaps read it.
    ("  2025-03-04T10:15:00Z\n", datetime(2025, 3, 4, 10, 15, tzinfo=UTC)),
])
def test_iso_datetimes_parse_to_aware_datetimes(value, expected) -> None:
    moment = parse_iso_datetime(value)
    assert moment == expected
    assert moment is not None and moment.utcoffset() == expected.utcoffset()  # offset kept


@pytest.mark.parametrize("value", [None, "", "   ", "next Tuesday", "2025-13-01",
                                   "Tue, 04 Mar 2025 10:15:00 +0000"])
def test_what_is_not_an_iso_datetime_parses_to_none(value) -> None:
    assert parse_iso_datetime(value) is None


def test_why_implausible_names_future_and_too_old_dates_only() -> None:
    assert why_implausible(SEEN + FUTURE_SKEW, seen=SEEN) is None
    assert why_implausible(SEEN + FUTURE_SKEW + timedelta(seconds=1), seen=SEEN) == "future"
    assert why_implausible(EARLIEST_PLAUSIBLE, seen=SEEN) is None
    assert why_implausible(EARLIEST_PLAUSIBLE - timedelta(seconds=1), seen=SEEN) == "too-old"
