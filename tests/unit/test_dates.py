"""Choosing published_at from the page's date, the feed's date and first-seen."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from pipeline.dates import choose_published_at

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
