"""Daily digests: built once per subscriber and local date, at the subscriber's hour.

A digest lists every relevant story that no earlier digest of the subscriber listed,
each story in one digest only, shown one entry per event (its stories together, with
all its outlets); an event that grows after a digest comes back in the next one. It is not a time window: an
article is stored with the time its transaction began and becomes visible when that
commits, so one committed just after a digest was built can carry a time before it;
a window starting at the previous digest would skip it for good. What reaches back
is capped: seven days (`MAX_PERIOD`), and nothing before a subscriber's first digest,
which reaches back one day before its hour. So a watchlist added later brings its last
days once, as does a lowered min_score. Stories published before the previous digest
are marked catch-up: old news found late, which never triggers an immediate alert.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg.rows import dict_row

from pipeline.alerts.outbox import (
    ConnectionSource,
    Outgoing,
    SendReport,
    deliver,
    mailer_for,
    open_connection,
    recipient_from_row,
    utcnow,
)
from pipeline.alerts.render import EventView, group_by_entity, render_digest
from pipeline.alerts.smtp import Mailer
from pipeline.alerts.stories import load_event
from pipeline.config import Settings, check_link_settings
from pipeline.dates import as_utc

log = logging.getLogger(__name__)

# After a long silence (sender down, subscriber paused) a digest reaches back this far at most.
MAX_PERIOD = timedelta(days=7)


def due_date(*, now: datetime, digest_hour: int, timezone: str,
             joined_at: datetime) -> tuple[date, datetime] | None:
    """(local date, due time) when today's digest is due at `now`, else None.

    Due from the local hour on, so a sender that was down at that hour still sends
    later the same day; not due on a day whose hour passed before the subscriber joined.
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("alerts: unknown time zone %r; using UTC", timezone)
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    due = datetime.combine(local.date(), time(digest_hour), tzinfo=zone)
    if local < due or due < joined_at:
        return None
    return local.date(), due


def build_due_digests(conn: psycopg.Connection, *, now: datetime) -> int:
    """Create the digests due at `now`; returns how many were built (empty ones included)."""
    with conn.cursor(row_factory=dict_row) as cur:
        subscribers = cur.execute(
            """SELECT id, watchlists, digest_hour, timezone, min_score, languages, created_at
               FROM subscribers WHERE active AND mode = 'daily' ORDER BY id""").fetchall()
    built = 0
    for sub in subscribers:
        due = due_date(now=now, digest_hour=sub["digest_hour"], timezone=sub["timezone"],
                       joined_at=sub["created_at"])
        if due is not None and _build(conn, sub, local_date=due[0], due_at=due[1], now=now):
            built += 1
    return built


def _build(conn: psycopg.Connection, sub: dict[str, Any], *, local_date: date,
           due_at: datetime, now: datetime) -> bool:
    with conn.transaction():
        first_start, last_end = conn.execute(
            "SELECT min(period_start), max(period_end) FROM digests WHERE subscriber_id = %s",
            (sub["id"],)).fetchone()
        # Nothing from before the subscriber's first digest (a newcomer does not get a week
        # of backlog), nor older than the cap; the anti-join below keeps what was listed out.
        since = max(first_start or due_at - timedelta(days=1), now - MAX_PERIOD)
        start = max(last_end or due_at - timedelta(days=1), now - MAX_PERIOD)
        row = conn.execute(
            """INSERT INTO digests (subscriber_id, local_date, period_start, period_end,
                                    created_at, next_attempt_at)
               VALUES (%s, %s, %s, %s, %s, %s)
               ON CONFLICT (subscriber_id, local_date) DO NOTHING RETURNING id""",
            (sub["id"], local_date, start, now, now, now),
        ).fetchone()
        if row is None:
            return False  # already built (by us earlier, or by a concurrent sender)
        digest_id = row[0]
        count = conn.execute(
            """INSERT INTO digest_items (digest_id, subscriber_id, article_id, story_id,
                                         watchlist, catch_up)
               SELECT DISTINCT ON (coalesce(a.story_id, -a.id))
                      %(digest)s, %(sub)s, a.id, a.story_id, m.watchlist,
                      coalesce(a.published_at, a.discovered_at) < %(start)s
               FROM matches m JOIN articles a ON a.id = m.article_id
               WHERE m.relevant AND m.watchlist = ANY(%(watchlists)s)
                 AND m.score >= %(min_score)s
                 AND (cardinality(%(languages)s::text[]) = 0 OR a.lang IS NULL
                      OR a.lang = ANY(%(languages)s))
                 AND a.discovered_at >= %(since)s AND a.discovered_at < %(end)s
                 AND NOT EXISTS (SELECT 1 FROM digest_items listed
                                 WHERE listed.subscriber_id = %(sub)s
                                   AND listed.article_id = a.id)
                 AND NOT EXISTS (SELECT 1 FROM digest_items listed
                                 WHERE listed.subscriber_id = %(sub)s
                                   AND listed.story_id = a.story_id)
               ORDER BY coalesce(a.story_id, -a.id), a.discovered_at, a.id
               ON CONFLICT DO NOTHING""",
            {"digest": digest_id, "sub": sub["id"], "since": since, "start": start, "end": now,
             "watchlists": sub["watchlists"], "min_score": sub["min_score"],
             "languages": sub["languages"]},
        ).rowcount
        conn.execute(
            """UPDATE digests SET story_count = %s,
                      status = CASE WHEN %s = 0 THEN 'skipped' ELSE 'pending' END,
                      last_error = CASE WHEN %s = 0 THEN 'no new stories' END
               WHERE id = %s""",
            (count, count, count, digest_id),
        )
    return True


_CLAIM_DIGEST = """
    SELECT d.id, d.attempts, d.created_at, d.local_date,
           s.id AS subscriber_id, s.email, s.name, s.timezone, s.token_version,
           s.active AS deliverable
    FROM digests d JOIN subscribers s ON s.id = d.subscriber_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= %(now)s
    ORDER BY d.next_attempt_at, d.id
    LIMIT 1
    FOR UPDATE OF d SKIP LOCKED"""


def send_digests(db: ConnectionSource, settings: Settings, *, now: datetime | None = None,
                 limit: int = 1000, mailer: Mailer | None = None) -> SendReport:
    """Build the digests due at `now`, then send every pending digest. Idempotent."""
    check_link_settings(settings)  # before building: a weak key must not send forgeable links
    now = as_utc(now or utcnow())
    cache: dict[tuple, EventView] = {}  # the day's events recur in many digests

    def event(conn: psycopg.Connection, item: dict[str, Any], timezone: str) -> EventView:
        key = (item["article_id"], item["story_id"], item["event_id"], item["watchlist"],
               item["catch_up"], timezone)
        if key not in cache:
            cache[key] = load_event(conn, article_id=item["article_id"],
                                    story_id=item["story_id"], event_id=item["event_id"],
                                    watchlist=item["watchlist"], timezone=timezone,
                                    catch_up=item["catch_up"])
        return cache[key]

    def render(conn: psycopg.Connection, rows: list[dict[str, Any]]) -> Outgoing:
        (row,) = rows
        recipient = recipient_from_row(row)
        with conn.cursor(row_factory=dict_row) as cur:
            items = cur.execute(
                """SELECT di.article_id, di.story_id, st.event_id, di.watchlist, di.catch_up
                   FROM digest_items di LEFT JOIN stories st ON st.id = di.story_id
                   WHERE di.digest_id = %s ORDER BY di.article_id""", (row["id"],)).fetchall()
        # One entry per event: its first listed story shows it, catch-up only if all are.
        by_event: dict[tuple, dict[str, Any]] = {}
        for item in items:
            key = ("event", item["event_id"]) if item["event_id"] else ("article", item["article_id"])
            first = by_event.setdefault(key, dict(item))
            first["catch_up"] = first["catch_up"] and item["catch_up"]
        events = [event(conn, item, recipient.timezone) for item in by_event.values()]
        return Outgoing(message=render_digest(
            settings, recipient=recipient, groups=group_by_entity(events),
            local_date=row["local_date"], digest_id=row["id"], created_at=row["created_at"],
            now=now))

    def claim(conn: psycopg.Connection) -> list[dict[str, Any]]:
        with conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(_CLAIM_DIGEST, {"now": now}).fetchall()

    with open_connection(db) as conn, mailer_for(settings, mailer) as smtp:
        report = SendReport(built=build_due_digests(conn, now=now))
        return deliver(conn, smtp, table="digests", claim=claim, render=render,
                       now=now, limit=limit, report=report)
