"""The per-source schedule: intervals follow the publishing pace, failures back off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.http import FetchError
from pipeline.ingest.poll import PollResult, SchedulePolicy, estimate_items_per_day, next_health
from pipeline.models import FeedItem
from pipeline.sources import FeedParseError, SourceSkipped
from pipeline.store.sources import SourceHealth

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = SchedulePolicy(min_interval=timedelta(minutes=5), max_interval=timedelta(hours=6),
                        failing_after=4, failing_interval=timedelta(hours=24))


def ok(*ages: timedelta, status: str = "ok") -> PollResult:
    items = [FeedItem(url=f"http://x.example/{n}", published_at=NOW - age)
             for n, age in enumerate(ages)]
    return PollResult(status=status, started=0.0, items=items, policy=POLICY)


def failed(error: Exception) -> PollResult:
    return PollResult(status="error", started=0.0, error=error, policy=POLICY)


def http_error(status: int) -> FetchError:
    return FetchError(f"HTTP {status}", kind="http-status", url="http://x.example/feed",
                      status=status)


def test_a_busy_feed_is_polled_often_and_a_slow_one_rarely() -> None:
    busy = next_health(SourceHealth(), ok(*(timedelta(minutes=30 * n) for n in range(1, 21))),
                       items_new=20, now=NOW)
    weekly = next_health(SourceHealth(), ok(timedelta(days=3), timedelta(days=6)),
                         items_new=2, now=NOW)

    assert busy.items_per_day == 48.0  # 20 entries over the last 10 hours
    assert busy.poll_interval == timedelta(minutes=30)
    assert busy.next_poll_at == NOW + timedelta(minutes=30)
    assert weekly.poll_interval == POLICY.max_interval


def test_the_interval_never_leaves_the_configured_bounds() -> None:
    flood = next_health(SourceHealth(), ok(*[timedelta(minutes=1)] * 50), items_new=50, now=NOW)
    stale = next_health(SourceHealth(), ok(timedelta(days=400)), items_new=1, now=NOW)

    assert flood.poll_interval == POLICY.min_interval
    assert stale.items_per_day == 0.0 and stale.poll_interval == POLICY.max_interval


def test_nothing_new_stretches_the_interval_up_to_the_maximum() -> None:
    health = SourceHealth(poll_interval=timedelta(hours=1))
    intervals = []
    for _ in range(6):
        health = next_health(health, ok(status="not-modified"), items_new=0, now=NOW)
        intervals.append(health.poll_interval)
    assert intervals[:3] == [timedelta(hours=1.5), timedelta(hours=2.25),
                             timedelta(hours=3.375)]
    assert intervals[-1] == POLICY.max_interval


def test_undated_feeds_learn_their_pace_from_new_items_between_polls() -> None:
    health = SourceHealth(last_success_at=NOW - timedelta(hours=2),
                          poll_interval=timedelta(hours=2))
    undated = PollResult(status="ok", started=0.0, policy=POLICY,
                         items=[FeedItem(url=f"http://x.example/{n}") for n in range(30)])
    after = next_health(health, undated, items_new=4, now=NOW)
    assert after.items_per_day == 48.0  # 4 new entries in 2 hours
    assert after.poll_interval == timedelta(minutes=30)


def test_failures_back_off_exponentially_then_mark_the_source_failing() -> None:
    health = SourceHealth(poll_interval=timedelta(minutes=30))
    delays, statuses = [], []
    for _ in range(5):
        health = next_health(health, failed(http_error(503)), items_new=0, now=NOW)
        delays.append(health.next_poll_at - NOW)
        statuses.append(health.status)

    assert delays[:3] == [timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20)]
    assert statuses == ["active", "active", "active", "failing", "failing"]
    assert delays[3:] == [POLICY.failing_interval] * 2
    assert health.error_streak == 5 and "HTTP 503" in health.last_error


def test_a_success_heals_a_failing_source() -> None:
    failing = SourceHealth(status="failing", error_streak=9, last_error="fetch: HTTP 500")
    healed = next_health(failing, ok(timedelta(hours=1)), items_new=1, now=NOW)
    assert (healed.status, healed.error_streak, healed.last_error) == ("active", 0, None)
    assert healed.last_success_at == NOW


def test_parse_errors_count_as_failures() -> None:
    after = next_health(SourceHealth(), failed(FeedParseError("parse: not a usable feed")),
                        items_new=0, now=NOW)
    assert after.error_streak == 1 and after.next_poll_at == NOW + POLICY.min_interval


def test_410_gone_disables_the_source_for_good() -> None:
    after = next_health(SourceHealth(), failed(http_error(410)), items_new=0, now=NOW)
    assert after.status == "disabled" and after.next_poll_at is None
    assert "410" in after.disabled_reason


def test_a_skipped_poll_changes_nothing() -> None:
    health = SourceHealth(error_streak=2, next_poll_at=NOW - timedelta(minutes=1))
    skipped = PollResult(status="skipped", started=0.0, policy=POLICY,
                         error=SourceSkipped("newsapi: no API key"))
    assert next_health(health, skipped, items_new=0, now=NOW) == health


def test_items_per_day_needs_dates_and_ignores_old_ones() -> None:
    assert estimate_items_per_day([], now=NOW) is None
    assert estimate_items_per_day([NOW - timedelta(days=30)], now=NOW) == 0.0
    # a burst within minutes counts over at least an hour, not as thousands a day
    assert estimate_items_per_day([NOW - timedelta(minutes=1)] * 3, now=NOW) == 72.0
