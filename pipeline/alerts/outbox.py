"""The outbox: alert rows written with the match, then claimed and sent in batches.

Queueing happens inside the cycle's transaction, so an alert exists exactly when its
match does. A subscriber gets one `first` alert per event (unique per subscriber and
event, or story when the story has no event); later pieces of the event queue nothing,
except an `update` when the event grew materially since the last email about it (a new
language, outlets doubled): at most one per sent email (unique `follows`) and per
`UPDATE_SPACING`. Every re-run, retry or syndicated copy is a no-op.

Sending waits `alert_batch_minutes` after a row was queued, then claims all of one
subscriber's pending rows (the subscriber row locked with SKIP LOCKED, so two senders
never split or repeat a batch) and sends ONE email covering their events, recording
every row's result with it. A crashed sender leaves the rows pending for the next one.
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

from pipeline.alerts.render import (
    AlertItem,
    EventView,
    Recipient,
    describe_change,
    is_material,
    render_alert,
)
from pipeline.alerts.smtp import Mailer, SmtpNotReached, SmtpRefused, SmtpUnavailable
from pipeline.alerts.stories import event_state, load_event
from pipeline.config import Settings, check_link_settings
from pipeline.dates import as_utc
from pipeline.models import Match
from pipeline.store import connect

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=6)
UPDATE_SPACING = timedelta(hours=6)  # at most one update per subscriber and event this often
MAX_EVENTS_PER_EMAIL = 20  # a longer backlog goes out in several emails

ConnectionSource = str | Callable[[], psycopg.Connection]


@dataclass(slots=True)
class SendReport:
    """What one sending pass did; `outage` says why it stopped early, if it did."""

    sent: int = 0  # rows sent (alerts or digests)
    emails: int = 0  # emails sent: one carries all of a subscriber's due alerts
    retrying: int = 0  # refused for now (4xx); tried again after a backoff
    failed: int = 0  # gave up: permanent refusal, too many attempts, or cannot render
    skipped: int = 0  # recipient unsubscribed or changed preferences since queueing
    built: int = 0  # digests built in this pass
    outage: str | None = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "emails": self.emails, "retrying": self.retrying, "failed": self.failed,
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


# Who may hear of an article at all (alias s: subscribers, a: articles). Eligibility counts
# from when newsmon first saw the article, not from its publication: a subscriber who
# joins at 16:42 hears of a piece published at 16:32 and found at 16:45.
_ELIGIBLE = """
    s.active AND s.mode = 'immediate'
    AND %(watchlist)s = ANY(s.watchlists)
    AND s.min_score <= %(score)s
    AND (cardinality(s.languages) = 0 OR a.lang IS NULL OR a.lang = ANY(s.languages))
    AND s.created_at <= a.discovered_at"""


def queue_alerts(conn: psycopg.Connection, *, article_id: int, story_id: int | None,
                 match: Match, published_at: datetime | None, now: datetime | None = None,
                 window_hours: float = 24.0) -> int:
    """Queue a first alert, or an update, per eligible subscriber; returns how many were new.

    Call it inside the transaction that saves the match. Eligible: active, mode
    immediate, follows the watchlist, min_score <= score, wants the article's
    language (or the language is unknown), and joined before newsmon first saw the
    article. Articles published outside the window alert nobody: a backfill or a new
    source's backlog goes to digests only.
    """
    now = as_utc(now or utcnow())
    if not match.relevant or not is_fresh(published_at, now=now, window_hours=window_hours):
        return 0
    row = conn.execute(
        """SELECT st.id, st.event_id FROM articles a LEFT JOIN stories st
               ON st.id = coalesce(%s, a.story_id)
           WHERE a.id = %s""", (story_id, article_id)).fetchone()
    if row is None:
        return 0
    story_id, event_id = row
    params = {"story": story_id, "event": event_id, "watchlist": match.watchlist,
              "now": now, "article": article_id, "score": match.score}
    queued = conn.execute(
        f"""INSERT INTO alerts (subscriber_id, article_id, story_id, event_id, watchlist, kind,
                                created_at, next_attempt_at)
            SELECT s.id, a.id, %(story)s, %(event)s, %(watchlist)s, 'first', %(now)s, %(now)s
            FROM subscribers s CROSS JOIN articles a
            WHERE a.id = %(article)s AND {_ELIGIBLE}
            ON CONFLICT DO NOTHING""", params).rowcount
    return queued + _queue_updates(conn, params)


def _queue_updates(conn: psycopg.Connection, params: dict[str, Any]) -> int:
    """Updates for the eligible subscribers whose last email about the event is sent and
    shows materially less than the event has now (see render.is_material)."""
    with conn.cursor(row_factory=dict_row) as cur:
        lasts = cur.execute(
            f"""SELECT s.id AS subscriber_id, last.id, last.kind, last.status, last.created_at,
                       last.shown_outlets, last.shown_languages
                FROM subscribers s CROSS JOIN articles a
                CROSS JOIN LATERAL (
                    SELECT al.* FROM alerts al
                    WHERE al.subscriber_id = s.id
                      AND (al.event_id = %(event)s
                           OR (al.event_id IS NULL AND al.story_id = %(story)s))
                    ORDER BY al.id DESC LIMIT 1) last
                WHERE a.id = %(article)s AND {_ELIGIBLE}
                  AND last.article_id <> %(article)s""", params).fetchall()
    # A pending row renders the event as it is when sent; a failed or skipped one means
    # the subscriber never read about it, and an update would make no sense alone.
    lasts = [r for r in lasts if r["status"] == "sent"
             and not (r["kind"] == "update" and r["created_at"] > params["now"] - UPDATE_SPACING)]
    if not lasts:
        return 0
    outlets, languages = event_state(conn, event_id=params["event"], story_id=params["story"])
    queued = 0
    for last in lasts:
        if not is_material(outlets=outlets, languages=languages,
                           shown_outlets=last["shown_outlets"],
                           shown_languages=last["shown_languages"]):
            continue
        queued += conn.execute(
            """INSERT INTO alerts (subscriber_id, article_id, story_id, event_id, watchlist,
                                   kind, follows, created_at, next_attempt_at)
               VALUES (%(sub)s, %(article)s, %(story)s, %(event)s, %(watchlist)s, 'update',
                       %(follows)s, %(now)s, %(now)s)
               ON CONFLICT DO NOTHING""",
            {**params, "sub": last["subscriber_id"], "follows": last["id"]}).rowcount
    return queued


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


# A subscriber with a due alert: due once its batch window has passed (and any retry
# backoff). NO KEY UPDATE, not UPDATE: the cycle may still queue alerts for them meanwhile
# (a foreign key check takes KEY SHARE), while a second sender skips them.
_CLAIM_SUBSCRIBER = """
    SELECT s.id FROM alerts al JOIN subscribers s ON s.id = al.subscriber_id
    WHERE al.status = 'pending' AND al.next_attempt_at <= %(now)s
      AND al.created_at <= %(now)s - %(batch)s
    ORDER BY al.next_attempt_at, al.id
    LIMIT 1
    FOR NO KEY UPDATE OF s SKIP LOCKED"""

# All of that subscriber's pending rows go in the one email, those still in their batch
# window included: the window opens with the first and gathers what comes within it.
_CLAIM_ALERTS = f"""
    SELECT al.id, al.article_id, al.story_id, al.event_id, al.watchlist, al.kind,
           al.attempts, al.created_at,
           f.shown_outlets AS base_outlets, f.shown_languages AS base_languages,
           coalesce((SELECT first.article_id FROM alerts first
                     WHERE first.subscriber_id = al.subscriber_id AND first.kind = 'first'
                       AND (first.event_id = al.event_id
                            OR (al.event_id IS NULL AND first.story_id = al.story_id))
                     ORDER BY first.id LIMIT 1), al.article_id) AS headline_id,
           s.id AS subscriber_id, s.email, s.name, s.timezone, s.token_version,
           (s.active AND s.mode = 'immediate' AND al.watchlist = ANY(s.watchlists))
               AS deliverable
    FROM alerts al JOIN subscribers s ON s.id = al.subscriber_id
    LEFT JOIN alerts f ON f.id = al.follows
    WHERE al.subscriber_id = %(subscriber)s AND al.status = 'pending'
    ORDER BY al.created_at, al.id
    LIMIT {MAX_EVENTS_PER_EMAIL}
    FOR UPDATE OF al SKIP LOCKED"""


def claim_alerts(conn: psycopg.Connection, *, now: datetime,
                 batch: timedelta) -> list[dict[str, Any]]:
    """Lock one subscriber with a due alert and all their pending alerts; [] if none is due."""
    with conn.cursor(row_factory=dict_row) as cur:
        sub = cur.execute(_CLAIM_SUBSCRIBER, {"now": now, "batch": batch}).fetchone()
        if sub is None:
            return []
        return cur.execute(_CLAIM_ALERTS, {"subscriber": sub["id"]}).fetchall()


def send_pending(db: ConnectionSource, settings: Settings, *, limit: int = 100,
                 now: datetime | None = None, mailer: Mailer | None = None) -> SendReport:
    """Send up to `limit` emails, each one subscriber's due alerts. Safe to run in several
    processes at once."""
    check_link_settings(settings)  # before claiming: a weak key must not send forgeable links
    now = as_utc(now or utcnow())
    batch = timedelta(minutes=max(settings.alert_batch_minutes, 0.0))
    events: dict[tuple, EventView] = {}  # one event goes to many subscribers in a pass

    def view(conn: psycopg.Connection, row: dict[str, Any], timezone: str) -> EventView:
        # The event, or the story standing for one; the headline fixes the rest.
        key = (row["event_id"], row["story_id"], row["headline_id"], row["watchlist"], timezone)
        if key not in events:
            events[key] = load_event(conn, article_id=row["article_id"],
                                     story_id=row["story_id"], event_id=row["event_id"],
                                     watchlist=row["watchlist"], timezone=timezone,
                                     headline_id=row["headline_id"])
        return events[key]

    def render(conn: psycopg.Connection, rows: list[dict[str, Any]]) -> Outgoing:
        recipient = recipient_from_row(rows[0])
        items, shown = [], {}
        for row in rows:
            event = view(conn, row, recipient.timezone)
            change = None
            if row["kind"] == "update":
                change = describe_change(event, shown_outlets=row["base_outlets"],
                                         shown_languages=row["base_languages"])
            items.append(AlertItem(event=event, watchlist=row["watchlist"], change=change))
            shown[row["id"]] = {"shown_outlets": sorted(event.outlet_keys),
                                "shown_languages": sorted(event.language_keys)}
        message = render_alert(settings, recipient=recipient, items=items,
                               alert_id=rows[0]["id"], created_at=rows[0]["created_at"],
                               now=now)
        return Outgoing(message=message, recorded=shown)

    with open_connection(db) as conn, mailer_for(settings, mailer) as smtp:
        return deliver(conn, smtp, table="alerts",
                       claim=lambda c: claim_alerts(c, now=now, batch=batch), render=render,
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


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A rendered email, and per row what to record with it once sent."""

    message: EmailMessage
    recorded: dict[int, dict[str, Any]] = field(default_factory=dict)


def deliver(conn: psycopg.Connection, mailer: Mailer, *, table: str,
            claim: Callable[[psycopg.Connection], list[dict[str, Any]]],
            render: Callable[[psycopg.Connection, list[dict[str, Any]]], Outgoing],
            now: datetime, limit: int, report: SendReport | None = None) -> SendReport:
    """Claim, render, send and record batches of an outbox table: one email, one
    transaction, and one result for every row of the batch."""
    report = report or SendReport()
    for _ in range(limit):
        with conn.transaction():
            rows = claim(conn)
            if not rows:
                break
            for row in (r for r in rows if not r["deliverable"]):
                _record(conn, table, [row], status="skipped",
                        last_error="recipient unsubscribed or changed preferences")
                report.skipped += 1
            rows = [r for r in rows if r["deliverable"]]
            if not rows:
                continue
            try:
                outgoing = render(conn, rows)
            except Exception as exc:  # bad data must not stop the other alerts
                log.exception("alerts: cannot render %s %s", table, _ids(rows))
                error = f"render: {type(exc).__name__}: {exc}"
                _record(conn, table, rows, status="failed", last_error=error)
                report.failed += len(rows)
                report.errors.append(f"{table} {_ids(rows)}: {error}")
                continue
            message = outgoing.message
            try:
                reply = mailer.send(message)
            except SmtpNotReached as exc:
                report.outage = str(exc)  # nothing was sent: the rows stay as they were
                break
            except SmtpUnavailable as exc:
                # The connection died on this message: it counts as an attempt, so a
                # message that kills the server every time cannot block the queue.
                _record_failure(conn, table, rows, error=str(exc), permanent=False, now=now,
                                report=report)
                report.outage = str(exc)
                break
            except SmtpRefused as exc:
                _record_failure(conn, table, rows, error=str(exc), permanent=exc.permanent,
                                now=now, report=report)
                continue
            for row in rows:
                _record(conn, table, [row], status="sent", sent_at=now,
                        attempts=row["attempts"] + 1, message_id=message["Message-ID"],
                        smtp_response=reply[:500], last_error=None,
                        **outgoing.recorded.get(row["id"], {}))
            report.sent += len(rows)
            report.emails += 1
    return report


def _ids(rows: list[dict[str, Any]]) -> str:
    return ",".join(str(r["id"]) for r in rows)


def _record_failure(conn: psycopg.Connection, table: str, rows: list[dict[str, Any]], *,
                    error: str, permanent: bool, now: datetime, report: SendReport) -> None:
    """One failed email: every row of it fails or retries alike (attempts: the batch's most)."""
    attempts = max(r["attempts"] for r in rows) + 1
    report.errors.append(f"{table} {_ids(rows)}: {error}")
    if permanent or attempts >= MAX_ATTEMPTS:
        _record(conn, table, rows, status="failed", attempts=attempts, last_error=error)
        report.failed += len(rows)
        log.warning("alerts: gave up on %s %s after %d attempts: %s", table, _ids(rows),
                    attempts, error)
    else:
        _record(conn, table, rows, attempts=attempts, last_error=error,
                next_attempt_at=now + backoff(attempts))
        report.retrying += len(rows)


def _record(conn: psycopg.Connection, table: str, rows: list[dict[str, Any]],
            **values: Any) -> None:
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in values
    )
    conn.execute(
        sql.SQL("UPDATE {} SET {} WHERE id = ANY({})").format(
            sql.Identifier(table), assignments, sql.Placeholder("row_ids")),
        {**values, "row_ids": [r["id"] for r in rows]},
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
