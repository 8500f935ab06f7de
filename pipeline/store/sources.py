"""The `sources` table: registering and loading sources, their schedule, and their health.

Two words describe a source's state, on purpose:
- `sources.status` (SCHEDULE_STATUSES) is the scheduler's working mode, written by every
  poll (pipeline/ingest/poll.py): how often to poll, not a verdict for people.
- health (HEALTH_STATES) is the one verdict people read: `newsmon sources check`, the
  maintenance task's report and the researchers' `feed_health` view. Its rule lives once,
  in that view (sql/0016_feed_health_status.sql), drawn from the poll record (`fetch_log`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from pipeline.models import Source

# The scheduler's mode: active (polled at its own pace); failing (many failures in a row:
# polled once per poll_failing_interval); misconfigured (the service rejected its query or
# key: polled once per poll_failing_interval, or as soon as its entry in the sources file
# changes); disabled (410 Gone or removed: not polled).
SCHEDULE_STATUSES = ("active", "failing", "misconfigured", "disabled")

# A source's health, worst first (the order `sources check` lists them in). The rule is the
# `health` column of the feed_health view; these are its values.
HEALTH_STATES = (
    "misconfigured",  # the service rejected its query or key: a human must fix the source
    "dead",  # polled, but no poll worked for 7 days (or ever): moved or gone; a human should look
    "failing",  # the last poll failed, one worked within 7 days: likely passing; backoff copes
    "rate-limited",  # the service asked us to slow down: the next poll waits as it asked
    "never-polled",  # enabled but not polled yet (new, or only skipped: e.g. no API key)
    "ok",  # the last poll worked (200 or 304)
    "disabled",  # not polled any more (410 Gone or removed by the user); its history stays
)


# -- registering and loading -------------------------------------------------------------

def sync_sources(conn: psycopg.Connection, sources: Iterable[Source]) -> list[Source]:
    """Register the sources (upsert by name); return the enabled ones with their ids."""
    sources = list(sources)
    with conn.transaction(), conn.cursor() as cur:
        # After a permanent redirect `url` is the feed's new home and `origin_url` what
        # the file says; only a changed URL in the file replaces the new home. A source
        # the service rejected as misconfigured is due again once its entry changes: the
        # edit is likely the fix, and nobody should wait a day to see it work.
        cur.executemany(
            """INSERT INTO sources (name, url, origin_url, kind, language, tags, params)
               VALUES (%s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (name) DO UPDATE SET
                   url = CASE WHEN sources.origin_url = EXCLUDED.origin_url
                              THEN sources.url ELSE EXCLUDED.url END,
                   origin_url = EXCLUDED.origin_url, kind = EXCLUDED.kind,
                   language = EXCLUDED.language, tags = EXCLUDED.tags,
                   params = EXCLUDED.params, updated_at = now(),
                   status = CASE WHEN sources.status = 'misconfigured'
                                 THEN 'active' ELSE sources.status END,
                   error_streak = CASE WHEN sources.status = 'misconfigured'
                                       THEN 0 ELSE sources.error_streak END,
                   next_poll_at = CASE WHEN sources.status = 'misconfigured'
                                       THEN NULL ELSE sources.next_poll_at END
               WHERE (sources.origin_url, sources.kind, sources.language, sources.tags,
                      sources.params)
                     IS DISTINCT FROM (EXCLUDED.origin_url, EXCLUDED.kind,
                                       EXCLUDED.language, EXCLUDED.tags, EXCLUDED.params)""",
            [(source.name, source.url, source.url, source.kind, source.language,
              list(source.tags), Jsonb(source.params)) for source in sources],
        )
        rows = conn.execute(
            "SELECT name, id, url FROM sources WHERE enabled AND name = ANY(%s)",
            ([s.name for s in sources],),
        ).fetchall()
    stored = {name: (source_id, url) for name, source_id, url in rows}
    return [replace(s, id=stored[s.name][0], url=stored[s.name][1])
            for s in sources if s.name in stored]


def enabled_sources(conn: psycopg.Connection, *, ids: list[int] | None = None,
                    added_only: bool = False) -> list[Source]:
    """The enabled sources as `Source` records, by id: those with `ids`, or with
    `added_only` those added with `newsmon sources add` / `import-opml` (origin cli)."""
    rows = conn.execute(
        """SELECT id, name, url, kind, language, tags, params FROM sources
           WHERE enabled AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s))
             AND (NOT %(added_only)s OR origin = 'cli')
           ORDER BY id""",
        {"ids": ids, "added_only": added_only},
    ).fetchall()
    return [Source(id=r[0], name=r[1], url=r[2], kind=r[3], language=r[4], tags=tuple(r[5]),
                   params=r[6]) for r in rows]


def registered_sources(conn: psycopg.Connection, file_sources: list[Source]) -> list[Source]:
    """Every enabled source a run covers: the sources file (synced first), then those added
    with `newsmon sources add` / `import-opml` that the file does not name."""
    stored = sync_sources(conn, file_sources)
    names = {source.name for source in stored}
    return stored + [s for s in enabled_sources(conn, added_only=True) if s.name not in names]


def due_sources(conn: psycopg.Connection, sources: list[Source], *,
                now: datetime | None = None) -> list[Source]:
    """The stored sources (with ids) whose next poll time has come, in the order given.

    Never-polled sources are due; disabled ones never are.
    """
    ids = [source.id for source in sources]
    if None in ids:
        raise ValueError("polling: due_sources needs stored sources (with ids); sync them first")
    rows = conn.execute(
        """SELECT id FROM sources
           WHERE id = ANY(%s) AND enabled AND (next_poll_at IS NULL OR next_poll_at <= %s)""",
        (ids, now or datetime.now(UTC)),
    ).fetchall()
    due = {row[0] for row in rows}
    return [source for source in sources if source.id in due]


# -- the schedule columns ----------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class SourceHealth:
    """The schedule columns of one `sources` row (the scheduler's state, see SCHEDULE_STATUSES)."""

    status: str = "active"
    next_poll_at: datetime | None = None
    poll_interval: timedelta | None = None
    error_streak: int = 0
    items_per_day: float | None = None
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    disabled_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PollState:
    """What polling a source needs from its row: its health and the feed's validators."""

    health: SourceHealth
    etag: str | None = None
    last_modified: str | None = None


def poll_states(conn: psycopg.Connection, source_ids: list[int]) -> dict[int, PollState]:
    """The poll state of many sources in one query (a cycle reads them all up front)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """SELECT id, etag, last_modified, status, next_poll_at, poll_interval,
                      error_streak, items_per_day, last_polled_at, last_success_at, last_error,
                      disabled_reason
               FROM sources WHERE id = ANY(%s)""",
            (source_ids,),
        ).fetchall()
    return {
        row.pop("id"): PollState(etag=row.pop("etag"), last_modified=row.pop("last_modified"),
                                 health=SourceHealth(**row))
        for row in rows
    }


def load_health(conn: psycopg.Connection, source_id: int) -> SourceHealth:
    state = poll_states(conn, [source_id]).get(source_id)
    return state.health if state else SourceHealth()


@dataclass(frozen=True, slots=True, kw_only=True)
class PollRecord:
    """One `fetch_log` row: what a poll did."""

    status: str  # ok, not-modified, error or skipped
    duration_ms: int
    http_status: int | None = None
    bytes: int | None = None
    items_seen: int = 0
    items_new: int = 0
    error_class: str | None = None
    error_message: str | None = None


def save_poll(conn: psycopg.Connection, source_id: int, *, run_id: int | None,
              health: SourceHealth, poll: PollRecord,
              validators: tuple[str | None, str | None] | None = None,
              moved_to: str | None = None) -> None:
    """The poll's `fetch_log` row and the source's new schedule, in one statement.

    `validators` (ETag, Last-Modified) replace the stored ones when given; `moved_to` is
    the feed's new home after a permanent redirect (then a transaction: both or neither).
    """
    etag, last_modified = validators or (None, None)
    params = {**asdict(health), **{f"poll_{key}": value for key, value in asdict(poll).items()},
              "source": source_id, "run": run_id, "new_validators": validators is not None,
              "etag": etag, "last_modified": last_modified}
    with conn.transaction() if moved_to else contextlib.nullcontext():
        conn.execute(_SAVE_POLL, params)
        if moved_to:
            conn.execute("UPDATE sources SET url = %s, updated_at = now() WHERE id = %s",
                         (moved_to, source_id))


_SAVE_POLL = """
    WITH saved AS (
        UPDATE sources SET status = %(status)s, next_poll_at = %(next_poll_at)s,
               poll_interval = %(poll_interval)s, error_streak = %(error_streak)s,
               items_per_day = %(items_per_day)s, last_polled_at = %(last_polled_at)s,
               last_success_at = %(last_success_at)s, last_error = %(last_error)s,
               disabled_reason = %(disabled_reason)s,
               enabled = enabled AND %(status)s <> 'disabled',
               etag = CASE WHEN %(new_validators)s THEN %(etag)s ELSE etag END,
               last_modified = CASE WHEN %(new_validators)s THEN %(last_modified)s
                                    ELSE last_modified END
        WHERE id = %(source)s
    )
    INSERT INTO fetch_log (source_id, run_id, status, duration_ms, http_status, bytes,
                           items_seen, items_new, error_class, error_message)
    VALUES (%(source)s, %(run)s, %(poll_status)s, %(poll_duration_ms)s, %(poll_http_status)s,
            %(poll_bytes)s, %(poll_items_seen)s, %(poll_items_new)s, %(poll_error_class)s,
            %(poll_error_message)s)
"""


# -- health ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class FeedHealth:
    """One source's health (a `feed_health` row) with the scheduler's view of it."""

    source_id: int
    name: str
    health: str  # one of HEALTH_STATES
    last_success_at: datetime | None
    error_streak: int
    last_error: str | None  # the most recent failed poll's message, however old
    median_poll_ms: float | None  # over the last 7 days
    items_per_day: float | None  # the scheduler's estimate of the publishing rate
    next_poll_at: datetime | None
    disabled_reason: str | None

    @property
    def problem(self) -> str | None:
        """Why it is not ok: the reason it was disabled, or its last error."""
        if self.health == "disabled":
            return self.disabled_reason
        return None if self.health == "ok" else self.last_error


def source_health(conn: psycopg.Connection) -> list[FeedHealth]:
    """Every source's health, worst first (HEALTH_STATES order), then by name."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """SELECT h.source_id, h.name, h.health, h.last_success_at, h.error_streak,
                      h.last_error, h.median_poll_ms_7d AS median_poll_ms, s.items_per_day,
                      s.next_poll_at, s.disabled_reason
               FROM feed_health h JOIN sources s ON s.id = h.source_id
               ORDER BY array_position(%s, h.health), lower(h.name)""",
            (list(HEALTH_STATES),),
        ).fetchall()
    return [FeedHealth(**row) for row in rows]


# --- what `newsmon sources` changes ---------------------------------------------------------


def add_source(conn: psycopg.Connection, source: Source) -> bool:
    """Insert a user-added source, or bring back a removed one; False if the name is in use."""
    row = conn.execute(
        """INSERT INTO sources (name, url, origin_url, kind, language, tags, params, origin)
           VALUES (%s, %s, %s, %s, %s, %s, %s, 'cli')
           ON CONFLICT (name) DO UPDATE SET
               url = EXCLUDED.url, origin_url = EXCLUDED.origin_url, kind = EXCLUDED.kind,
               language = EXCLUDED.language, tags = EXCLUDED.tags, params = EXCLUDED.params,
               origin = 'cli', enabled = true, status = 'active', error_streak = 0,
               next_poll_at = NULL, disabled_reason = NULL, etag = NULL,
               last_modified = NULL, updated_at = now()
           WHERE NOT sources.enabled
           RETURNING id""",
        (source.name, source.url, source.url, source.kind, source.language, list(source.tags),
         Jsonb(source.params)),
    ).fetchone()
    return row is not None


def list_sources(conn: psycopg.Connection) -> list[tuple]:
    """(name, kind, origin, status, url, next_poll_at, reason) of every source; the reason
    is why it is disabled, or for a misconfigured one what the service said."""
    return conn.execute(
        """SELECT name, kind, origin, status, url, next_poll_at,
                  CASE WHEN status = 'misconfigured' THEN last_error
                       ELSE disabled_reason END
           FROM sources ORDER BY lower(name)""").fetchall()


def remove_source(conn: psycopg.Connection, name: str) -> str | None:
    """Stop polling `name` (its articles and history stay); its origin, None if unknown."""
    row = conn.execute(
        """UPDATE sources SET enabled = false, status = 'disabled',
                  disabled_reason = 'removed with newsmon sources remove', updated_at = now()
           WHERE name = %s RETURNING origin""", (name,)).fetchone()
    return row[0] if row else None


def enable_source(conn: psycopg.Connection, name: str) -> bool:
    """Poll a removed, disabled, failing or misconfigured source again from the next run;
    False if unknown."""
    return conn.execute(
        """UPDATE sources SET enabled = true, status = 'active', error_streak = 0,
                  next_poll_at = NULL, disabled_reason = NULL, updated_at = now()
           WHERE name = %s RETURNING id""", (name,)).fetchone() is not None
