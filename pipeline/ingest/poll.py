"""Polling one source: a conditional request, the adapter's parse, and the bookkeeping.

The schedule, per source (columns of `sources`, see sql/0003_polling.sql):
- A healthy source is polled about once per new item: its interval is one day divided by
  its estimated items per day, kept within [poll_min_interval, poll_max_interval]. The
  estimate comes from the entry dates of the last successful poll; for feeds without dates
  from the new entries counted since the previous success. A 304, or a 200 that brought
  nothing new and no dates, stretches the interval by half, so a dead-quiet feed drifts
  to the maximum.
- A failed poll backs off exponentially from the minimum interval (5 min, 10, 20, ...,
  capped at the maximum). After `poll_failing_after` failures in a row the source is
  `failing` and polled once per `poll_failing_interval` until it answers again. (That is
  the scheduler's mode, `sources.status`; the health people read is another, single
  notion: pipeline/store/sources.py HEALTH_STATES.)
- A service that rejects the query or key (SourceMisconfigured: GDELT's "keywords too
  short", NewsAPI's apiKeyInvalid) makes the source `misconfigured`: asking again cannot
  help, so no backoff; it is polled once per `poll_failing_interval`, or from the next run
  once its entry in the sources file changes (or `newsmon sources enable`), and the
  service's words stay in `last_error` for `sources list` and `sources check`.
- A service's rate limit (SourceRateLimited) is no failure of the source: the next poll
  waits what the service asked (at least the minimum interval, at most
  `poll_failing_interval`), and the failure streak and mode stay as they were.
- `410 Gone` disables the source. A 301/308 chain from the polled URL moves its stored URL
  to the new home once the new home answers with a feed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial

import psycopg

from pipeline.config import Settings
from pipeline.http import FetchError, HttpClient
from pipeline.models import FeedItem, Response, Source
from pipeline.sources import (
    ADAPTERS,
    FeedParseError,
    Runner,
    SourceSkipped,
    collect_items,
    request_headers,
    request_url,
    run_here,
    source_problem,
)
from pipeline.sources.errors import SourceMisconfigured, SourceRateLimited
from pipeline.store.sources import PollRecord, SourceHealth, load_health, save_poll

log = logging.getLogger(__name__)

RATE_WINDOW = timedelta(days=7)  # entry dates older than this say nothing about the pace now
MIN_RATE_SPAN = timedelta(hours=1)  # a burst of entries within minutes is not 1000 a day
NOTHING_NEW_STRETCH = 1.5


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulePolicy:
    min_interval: timedelta = timedelta(minutes=5)
    max_interval: timedelta = timedelta(hours=6)
    failing_after: int = 10
    failing_interval: timedelta = timedelta(hours=24)
    max_items: int = 500

    @classmethod
    def from_settings(cls, settings: Settings) -> SchedulePolicy:
        return cls(
            min_interval=timedelta(seconds=settings.poll_min_interval_s),
            max_interval=timedelta(seconds=max(settings.poll_max_interval_s,
                                               settings.poll_min_interval_s)),
            failing_after=max(1, settings.poll_failing_after),
            failing_interval=timedelta(seconds=settings.poll_failing_interval_s),
            max_items=max(1, settings.poll_max_items),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PollResult:
    status: str  # "ok" | "not-modified" | "error" | "skipped"
    started: float
    items: list[FeedItem] = field(default_factory=list)
    response: Response | None = None  # also set when the body came but could not be parsed
    # FetchError, FeedParseError, SourceMisconfigured, SourceRateLimited, SourceSkipped or
    # ValueError (a source that cannot be polled as written)
    error: Exception | None = None
    url: str = ""  # the URL requested: source.url, or built from the source's params
    policy: SchedulePolicy = field(default_factory=SchedulePolicy)
    notes: tuple[str, ...] = ()  # entries the parse left out (ParsedFeed.notes)

    @property
    def duration_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


# -- one poll --------------------------------------------------------------------------

async def poll_source(client: HttpClient, source: Source, *, etag: str | None,
                      last_modified: str | None, run: Runner = run_here) -> PollResult:
    """Fetch and parse one source; never raises for a bad feed, host or configuration.

    The parse goes through `run`: a cycle passes its worker pool, so a huge feed costs a
    worker's time, not the event loop's (whose other requests would miss their deadlines).
    """
    started = time.monotonic()
    policy = SchedulePolicy.from_settings(client.settings)
    problem = source_problem(source)
    if problem:
        return PollResult(status="error", started=started, policy=policy, url=source.url,
                          error=ValueError(f"config: source {source.name!r} {problem}"))
    url = request_url(source)
    done = partial(PollResult, started=started, policy=policy, url=url)
    try:
        headers = request_headers(source, client.settings)
    except SourceSkipped as exc:
        return done(status="skipped", error=exc)
    try:
        response = await client.fetch(url, etag=etag, last_modified=last_modified,
                                      headers=headers)
    except FetchError as exc:
        return done(status="error", error=explain_fetch_error(source, exc))
    if response.is_not_modified:
        return done(status="not-modified", response=response)
    try:
        parsed = await collect_items(client, source, response, run=run)
    except (FetchError, FeedParseError, SourceMisconfigured, SourceRateLimited) as exc:
        return done(status="error", response=response, error=exc)
    except Exception as exc:  # a parser bug on one odd feed must not end the run
        log.exception("parse: unexpected failure on %s", url)
        error = FeedParseError(f"parse: unexpected {type(exc).__name__}: {exc}")
        return done(status="error", response=response, error=error)
    for note in parsed.notes:
        log.warning("%s: %s", source.name, note)
    return done(status="ok", response=response, notes=parsed.notes,
                items=newest_items(parsed.items, policy.max_items))


def explain_fetch_error(source: Source, error: FetchError) -> Exception:
    """The service's own error behind an HTTP error status, where its adapter can read it
    (NewsAPI's 401 apiKeyInvalid, GDELT's 429 notice); else the FetchError itself."""
    explain = ADAPTERS[source.kind].explain_error
    if explain is None or error.kind != "http-status" or error.status is None:
        return error
    answer = Response(url=error.url, status=error.status, headers=error.headers,
                      body=error.body)
    explained = explain(source, answer)
    if explained is None:
        return error
    explained.__cause__ = error
    return explained


def newest_items(items: list[FeedItem], limit: int) -> list[FeedItem]:
    """At most `limit` items, the newest by date; undated ones keep their feed order."""
    if len(items) <= limit:
        return items
    oldest = datetime.min.replace(tzinfo=UTC)
    ranked = sorted(range(len(items)),
                    key=lambda i: (items[i].published_at or oldest, -i), reverse=True)
    if all(item.published_at is None for item in items):
        ranked = list(range(len(items)))  # feeds list newest first
    keep = set(ranked[:limit])
    return [item for i, item in enumerate(items) if i in keep]


# -- bookkeeping -----------------------------------------------------------------------

def record_poll(conn: psycopg.Connection, source: Source, result: PollResult, *,
                run_id: int | None, items_new: int, now: datetime | None = None,
                health: SourceHealth | None = None) -> SourceHealth:
    """One fetch_log row per poll, the validators, the next poll time and the source's health.

    ``health`` is the source's state before this poll (``poll_states``), read here if not
    given. One source is polled by one cycle at a time (the cycle's advisory lock; shards
    never share a source), so nobody changes it in between. Returns the new health.
    """
    now = now or datetime.now(UTC)
    if health is None:
        health = load_health(conn, source.id)
    health = next_health(health, result, items_new=items_new, now=now)
    response, error = result.response, result.error
    redirect = response.permanent_redirect if response is not None else None
    moved = result.status in ("ok", "not-modified") and redirect
    save_poll(conn, source.id, run_id=run_id, health=health, poll=PollRecord(
        status=result.status, duration_ms=result.duration_ms,
        http_status=response.status if response else getattr(error, "status", None),
        bytes=len(response.body) if response else None,
        items_seen=len(result.items), items_new=items_new,
        error_class=error_class(error),
        # No column of its own: on a poll without error, the message says what was cut.
        error_message=str(error) if error else "; ".join(result.notes) or None,
    ), validators=(
        (response.headers.get("etag"), response.headers.get("last-modified"))
        if result.status == "ok" and response is not None else None
    ), moved_to=_new_home(source, result, redirect) if moved else None)
    return health


def error_class(error: Exception | None) -> str | None:
    if error is None:
        return None
    if isinstance(error, FetchError):
        return error.kind
    if isinstance(error, SourceSkipped):
        return "skipped"
    if isinstance(error, SourceMisconfigured):
        return "misconfigured"
    if isinstance(error, SourceRateLimited):
        return "rate-limited"
    if isinstance(error, FeedParseError):
        return "parse"
    if isinstance(error, ValueError):
        return "config"
    return "unexpected"  # a bug or a database refusal while ingesting the source's entries


def _new_home(source: Source, result: PollResult, target: str) -> str | None:
    # A URL built from params would carry them twice if stored; those sources keep theirs.
    if result.url != source.url or target == source.url:
        return None
    log.info("poll: %s moved permanently to %s; URL updated", source.name, target)
    return target


# -- the schedule ------------------------------------------------------------------------

def next_health(health: SourceHealth, result: PollResult, *, items_new: int,
                now: datetime) -> SourceHealth:
    """The source's schedule and health after this poll."""
    if result.status == "skipped":
        return health  # nothing was attempted: due again next run, health unchanged
    if result.status != "error":
        return _after_success(health, result, items_new=items_new, now=now)
    if isinstance(result.error, SourceRateLimited):
        return _after_rate_limit(health, result.error, policy=result.policy, now=now)
    return _after_failure(health, result.error, policy=result.policy, now=now)


def _after_failure(health: SourceHealth, error: Exception | None, *, policy: SchedulePolicy,
                   now: datetime) -> SourceHealth:
    streak = health.error_streak + 1
    failed = replace(health, error_streak=streak, last_polled_at=now, last_error=str(error))
    if is_gone(error):
        return replace(failed, status="disabled", next_poll_at=None,
                       disabled_reason=f"{error}: the server says the feed is gone for good")
    if isinstance(error, SourceMisconfigured):
        # The same request gets the same refusal: no backoff, a human fixes the source.
        return replace(failed, status="misconfigured",
                       next_poll_at=now + policy.failing_interval)
    if streak >= policy.failing_after:
        return replace(failed, status="failing", next_poll_at=now + policy.failing_interval)
    return replace(failed, status="active", next_poll_at=now + backoff_delay(streak, policy))


def _after_rate_limit(health: SourceHealth, error: SourceRateLimited, *,
                      policy: SchedulePolicy, now: datetime) -> SourceHealth:
    """The wait the service asked for, within [min_interval, failing_interval] (a Retry-After
    of weeks does not silence a source); streak and mode unchanged: the source is fine."""
    asked = timedelta(seconds=error.retry_after_s or 0)
    wait = min(max(asked, policy.min_interval), policy.failing_interval)
    return replace(health, last_polled_at=now, last_error=str(error), next_poll_at=now + wait)


def _after_success(health: SourceHealth, result: PollResult, *, items_new: int,
                   now: datetime) -> SourceHealth:
    policy = result.policy
    current = health.poll_interval or policy.min_interval
    rate = None
    if result.status == "ok":
        dates = [i.published_at for i in result.items if i.published_at and not i.date_flags]
        rate = estimate_items_per_day(dates, now=now)
        if rate is None and items_new and health.last_success_at:
            rate = _blend(health.items_per_day,
                          items_new / max((now - health.last_success_at) / timedelta(days=1),
                                          policy.min_interval / timedelta(days=1)))
    if rate is not None:
        interval = interval_for(rate, policy)
    elif items_new:
        interval = current
    else:
        interval = _clamp(current * NOTHING_NEW_STRETCH, policy)
    return replace(
        health, status="active", error_streak=0, last_error=None,
        items_per_day=health.items_per_day if rate is None else round(rate, 3),
        poll_interval=interval, next_poll_at=now + interval,
        last_polled_at=now, last_success_at=now,
    )


def estimate_items_per_day(dates: Iterable[datetime], *, now: datetime) -> float | None:
    """Entries per day from the dates a feed shows: None without dates, 0 if all are old."""
    dates = list(dates)
    if not dates:
        return None
    recent = [d for d in dates if now - RATE_WINDOW <= d]
    if not recent:
        return 0.0
    span = max(now - min(recent), MIN_RATE_SPAN)
    return len(recent) / (span / timedelta(days=1))


def interval_for(items_per_day: float, policy: SchedulePolicy) -> timedelta:
    """About one new item per poll, within the configured bounds."""
    if items_per_day <= 0:
        return policy.max_interval
    return _clamp(timedelta(days=1) / items_per_day, policy)


def backoff_delay(error_streak: int, policy: SchedulePolicy) -> timedelta:
    exponent = min(max(error_streak - 1, 0), 30)
    return min(policy.max_interval, policy.min_interval * 2**exponent)


def is_gone(error: Exception | None) -> bool:
    return isinstance(error, FetchError) and error.status == 410


def _clamp(interval: timedelta, policy: SchedulePolicy) -> timedelta:
    return max(policy.min_interval, min(policy.max_interval, interval))


def _blend(previous: float | None, observed: float) -> float:
    # Counts between two polls are noisy; half of the old estimate steadies them.
    return observed if previous is None else (previous + observed) / 2
