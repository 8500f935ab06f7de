"""The outbox: alert rows written with the match, then claimed and sent.

Queueing happens inside the cycle's transaction, so an alert exists exactly
when its match does; the unique (subscriber, story) and (subscriber, article)
constraints turn every re-run, retry or syndicated copy into a no-op.

Sending claims one row at a time with `FOR UPDATE SKIP LOCKED` and keeps the
row locked until its result is recorded, so two senders never mail the same
row and a crashed sender leaves the row pending for the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from pipeline.alerts.render import Recipient, StoryView, render_alert
from pipeline.alerts.smtp import Mailer, SmtpNotReached, SmtpRefused, SmtpUnavailable
from pipeline.alerts.stories import load_story
from pipeline.config import Settings, check_link_settings
from pipeline.dates import as_utc
from pipeline.models import Match
from pipeline.store import connect

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=6)

ConnectionSource = str | Callable[[], psycopg.Connection]


@dataclass(slots=True)
class SendReport:
    """What one sending pass did; `outage` says why it stopped early, if it did."""

    sent: int = 0
    retrying: int = 0  # refused for now (4xx); tried again after a backoff
    failed: int = 0  # gave up: permanent refusal, too many attempts, or cannot render
    skipped: int = 0  # recipient unsubscribed or changed preferences since queueing
    built: int = 0  # digests built in this pass
    outage: str | None = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "retrying": self.retrying, "failed": self.failed,
                "skipped": self.skipped, "built": self.built, "outage": self.outage}


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: 1 min, 2, 4, ... capped at 6 h."""
    return min(FIRST_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


# --- queueing ------------------------------------------------------------------------------

def is_fresh(published_at: datetime | None, *, now: datetime, window_hours: float) -> bool:
    """Recent enough for an immediate alert: published (or, undated, first seen) in the window."""
    if published_at is None:
        return True  # no trustworthy date: first seen now
    return as_utc(published_at) >= now - timedelta(hours=window_hours)


def queue_alerts(conn: psycopg.Connection, *, article_id: int, story_id: int | None,
                 match: Match, published_at: datetime | None, now: datetime | None = None,
                 window_hours: float = 24.0) -> int:
    """Queue one immediate alert per eligible subscriber; returns how many were new.

    Call it inside the transaction that saves the match. Eligible: active, mode
    immediate, follows the watchlist, min_score <= score, wants the article's
    language (or the language is unknown), and joined before the article was
    published. Articles published outside the window alert nobody: a backfill
    or a new source's backlog goes to digests only.
    """
    now = as_utc(now or utcnow())
    if not match.relevant or not is_fresh(published_at, now=now, window_hours=window_hours):
        return 0
    # A date in the future is not trustworthy either; the article is new to us now.
    event_time = min(as_utc(published_at), now) if published_at else now
    cur = conn.execute(
        """INSERT INTO alerts (subscriber_id, article_id, story_id, watchlist, created_at,
                               next_attempt_at)
           SELECT s.id, a.id, coalesce(%(story_id)s, a.story_id), %(watchlist)s, %(now)s, %(now)s
           FROM subscribers s CROSS JOIN articles a
           WHERE a.id = %(article_id)s
             AND s.active AND s.mode = 'immediate'
             AND %(watchlist)s = ANY(s.watchlists)
             AND s.min_score <= %(score)s
             AND (cardinality(s.languages) = 0 OR a.lang IS NULL OR a.lang = ANY(s.languages))
             AND s.created_at <= %(event_time)s
           ON CONFLICT DO NOTHING""",
        {"story_id": story_id, "watchlist": match.watchlist, "now": now,
         "article_id": article_id, "score": match.score, "event_time": event_time},
    )
    return cur.rowcount


# --- sending -------------------------------------------------------------------------------

@contextmanager
def open_connection(source: ConnectionSource):
    if callable(source):
        conn = source()
        try:
            yield conn
        finally:
            conn.close()
    else:
        with connect(source, autocommit=True) as conn:
            yield conn


_CLAIM_ALERT = """
    SELECT al.id, al.article_id, al.story_id, al.watchlist, al.attempts, al.created_at,
           s.id AS subscriber_id, s.email, s.name, s.timezone, s.token_version,
           (s.active AND s.mode = 'immediate' AND al.watchlist = ANY(s.watchlists))
               AS deliverable
    FROM alerts al JOIN subscribers s ON s.id = al.subscriber_id
    WHERE al.status = 'pending' AND al.next_attempt_at <= %(now)s
    ORDER BY al.next_attempt_at, al.id
    LIMIT 1
    FOR UPDATE OF al SKIP LOCKED"""


def send_pending(db: ConnectionSource, settings: Settings, *, limit: int = 100,
                 now: datetime | None = None, mailer: Mailer | None = None) -> SendReport:
    """Send up to `limit` due alerts. Safe to run in several processes at once."""
    check_link_settings(settings)  # before claiming: a weak key must not send forgeable links
    now = as_utc(now or utcnow())
    stories: dict[tuple, StoryView] = {}  # one story goes to many subscribers in a batch

    def render(conn: psycopg.Connection, row: dict[str, Any]) -> EmailMessage:
        recipient = recipient_from_row(row)
        key = (row["article_id"], row["story_id"], row["watchlist"], recipient.timezone)
        if key not in stories:
            stories[key] = load_story(conn, article_id=row["article_id"],
                                      story_id=row["story_id"], watchlist=row["watchlist"],
                                      timezone=recipient.timezone)
        story = stories[key]
        return render_alert(settings, recipient=recipient, story=story,
                            watchlist=row["watchlist"], alert_id=row["id"],
                            created_at=row["created_at"], now=now)

    with open_connection(db) as conn, mailer_for(settings, mailer) as smtp:
        return deliver(conn, smtp, table="alerts", claim_sql=_CLAIM_ALERT, render=render,
                       now=now, limit=limit)


@contextmanager
def mailer_for(settings: Settings, given: Mailer | None):
    if given is not None:
        yield given
        return
    with Mailer(settings) as mailer:
        yield mailer


def recipient_from_row(row: dict[str, Any]) -> Recipient:
    return Recipient(id=row["subscriber_id"], email=row["email"], name=row["name"],
                     timezone=row["timezone"], token_version=row["token_version"])


def deliver(conn: psycopg.Connection, mailer: Mailer, *, table: str, claim_sql: str,
            render: Callable[[psycopg.Connection, dict[str, Any]], EmailMessage],
            now: datetime, limit: int, report: SendReport | None = None) -> SendReport:
    """Claim, render, send and record rows of an outbox table, one transaction each."""
    report = report or SendReport()
    for _ in range(limit):
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(claim_sql, {"now": now}).fetchone()
            if row is None:
                break
            if not row["deliverable"]:
                _record(conn, table, row["id"], status="skipped",
                        last_error="recipient unsubscribed or changed preferences")
                report.skipped += 1
                continue
            try:
                message = render(conn, row)
            except Exception as exc:  # bad data must not stop the other alerts
                log.exception("alerts: cannot render %s %s", table, row["id"])
                error = f"render: {type(exc).__name__}: {exc}"
                _record(conn, table, row["id"], status="failed", last_error=error)
                report.failed += 1
                report.errors.append(f"{table} {row['id']}: {error}")
                continue
            try:
                reply = mailer.send(message)
            except SmtpNotReached as exc:
                report.outage = str(exc)  # nothing was sent: the row stays as it was
                break
            except SmtpUnavailable as exc:
                # The connection died on this message: it counts as an attempt, so a
                # message that kills the server every time cannot block the queue.
                _record_failure(conn, table, row, error=str(exc), permanent=False, now=now,
                                report=report)
                report.outage = str(exc)
                break
            except SmtpRefused as exc:
                _record_failure(conn, table, row, error=str(exc), permanent=exc.permanent,
                                now=now, report=report)
                continue
            _record(conn, table, row["id"], status="sent", sent_at=now,
                    attempts=row["attempts"] + 1, message_id=message["Message-ID"],
                    smtp_response=reply[:500], last_error=None)
            report.sent += 1
    return report


def _record_failure(conn: psycopg.Connection, table: str, row: dict[str, Any], *, error: str,
                    permanent: bool, now: datetime, report: SendReport) -> None:
    attempts = row["attempts"] + 1
    report.errors.append(f"{table} {row['id']}: {error}")
    if permanent or attempts >= MAX_ATTEMPTS:
        _record(conn, table, row["id"], status="failed", attempts=attempts, last_error=error)
        report.failed += 1
        log.warning("alerts: gave up on %s %s after %d attempts: %s", table, row["id"],
                    attempts, error)
    else:
        _record(conn, table, row["id"], attempts=attempts, last_error=error,
                next_attempt_at=now + backoff(attempts))
        report.retrying += 1


def _record(conn: psycopg.Connection, table: str, row_id: int, **values: Any) -> None:
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in values
    )
    conn.execute(
        sql.SQL("UPDATE {} SET {} WHERE id = {}").format(
            sql.Identifier(table), assignments, sql.Placeholder("row_id")),
        {**values, "row_id": row_id},
    )


def delivery_status(conn: psycopg.Connection, *, failures: int = 20
                    ) -> tuple[dict[str, list[tuple[str, int]]], list[tuple]]:
    """Alerts and digests counted by status, and the latest failures
    (kind, id, email, attempts, last error): what `newsmon alerts status` shows."""
    counts = {table: conn.execute(
        sql.SQL("SELECT status, count(*) FROM {} GROUP BY status ORDER BY status").format(
            sql.Identifier(table))).fetchall() for table in ("alerts", "digests")}
    failed = conn.execute(
        """SELECT 'alert', a.id, s.email, a.attempts, a.last_error FROM alerts a
           JOIN subscribers s ON s.id = a.subscriber_id WHERE a.status = 'failed'
           UNION ALL
           SELECT 'digest', d.id, s.email, d.attempts, d.last_error FROM digests d
           JOIN subscribers s ON s.id = d.subscriber_id WHERE d.status = 'failed'
           ORDER BY 2 DESC LIMIT %s""", (failures,)).fetchall()
    return counts, failed
