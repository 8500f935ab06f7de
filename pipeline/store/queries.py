"""The ingestion cycle's queries, as plain SQL. Every write is an upsert on a natural key.

The `sources` table has its own module, pipeline/store/sources.py.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from pipeline.models import Match, Outcome

# A failed entry is tried again by later cycles until it has failed this often.
MAX_ITEM_ATTEMPTS = 3

# Any constants work; every newsmon process must use the same ones. Only newsmon_owner
# may take advisory locks (sql/0013_least_privilege.sql), so no reader can hold these.
CYCLE_LOCK = 7_140_002
SOURCE_LOCK = 7_140_003  # with the source id: (class, id), a key space apart from the above


def try_cycle_lock(conn: psycopg.Connection) -> bool:
    """Take the whole-cycle lock for this session, unless another cycle holds it."""
    return conn.execute("SELECT pg_try_advisory_lock(%s)", (CYCLE_LOCK,)).fetchone()[0]


def lock_free_sources(conn: psycopg.Connection, source_ids: list[int]) -> set[int]:
    """Lock, for this session, the sources no other cycle or shard is polling; returns
    their ids. One statement for all of them (a re-poll of a thousand unchanged feeds
    would otherwise pay a thousand round trips)."""
    rows = conn.execute(
        """SELECT id FROM unnest(%s::integer[]) AS id
           WHERE pg_try_advisory_lock(%s::integer, id)""", (source_ids, SOURCE_LOCK))
    return {row[0] for row in rows}


def release_locks(conn: psycopg.Connection) -> None:
    """Give back this session's locks now: a closed session's locks go only when its
    backend has exited, so a cycle started right after could still find them held."""
    conn.execute("SELECT pg_advisory_unlock_all()")


def start_run(conn: psycopg.Connection, external_id: str | None = None) -> int:
    """A new cycle row; with an external id, the same row on every retry."""
    if external_id is None:
        return conn.execute("INSERT INTO runs DEFAULT VALUES RETURNING id").fetchone()[0]
    return conn.execute(
        """INSERT INTO runs (external_id) VALUES (%s)
           ON CONFLICT (external_id) DO UPDATE SET status = 'running'
           RETURNING id""",
        (external_id,),
    ).fetchone()[0]


def close_interrupted_runs(conn: psycopg.Connection) -> int:
    """Mark failed the in-process cycles left 'running' by a crash or a lost database.

    Only called under the cycle lock, so no such cycle can still be alive; scheduler
    runs (with an external id) are closed by their own finishing task.
    """
    return conn.execute(
        """UPDATE runs SET status = 'failed', finished_at = now(),
                           error = 'interrupted: its process or database connection ended'
           WHERE status = 'running' AND external_id IS NULL"""
    ).rowcount


def save_shard(conn: psycopg.Connection, run_id: int, shard: str, summary: dict) -> None:
    conn.execute(
        """INSERT INTO run_shards (run_id, shard, summary) VALUES (%s, %s, %s)
           ON CONFLICT (run_id, shard) DO UPDATE SET summary = EXCLUDED.summary,
                                                     finished_at = now()""",
        (run_id, shard, Jsonb(summary)),
    )


def finish_run(conn: psycopg.Connection, run_id: int, *, status: str,
               error: str | None = None) -> dict:
    """Close the cycle with the sum of its shards' counts (and why it failed); returns that sum."""
    rows = conn.execute("SELECT summary FROM run_shards WHERE run_id = %s", (run_id,)).fetchall()
    total: dict = {}
    for (summary,) in rows:
        for key, value in summary.items():
            if isinstance(value, int):
                total[key] = total.get(key, 0) + value
    conn.execute(
        "UPDATE runs SET finished_at = now(), status = %s, summary = %s, error = %s WHERE id = %s",
        (status, Jsonb(total), error, run_id),
    )
    return total


def settled_item_keys(conn: psycopg.Connection, source_id: int, keys: list[str]) -> set[str]:
    """Keys of entries already handled for good (stored, refused at the edge, or failed
    too often to retry). An unresolved entry is never settled: its lookup may succeed
    later, and the id cache (store.links), not the entry, decides when to try again."""
    rows = conn.execute(
        """SELECT item_key FROM feed_items
           WHERE source_id = %s AND item_key = ANY(%s)
             AND (article_id IS NOT NULL OR outcome = %s
                  OR (attempts >= %s AND outcome <> %s))""",
        (source_id, keys, str(Outcome.REJECTED), MAX_ITEM_ATTEMPTS, str(Outcome.UNRESOLVED)),
    ).fetchall()
    return {row[0] for row in rows}


def unresolved_item_keys(conn: psycopg.Connection, source_id: int, keys: list[str]) -> set[str]:
    """Keys of entries recorded as unresolved (no publisher URL yet)."""
    rows = conn.execute(
        """SELECT item_key FROM feed_items
           WHERE source_id = %s AND item_key = ANY(%s) AND outcome = %s""",
        (source_id, keys, str(Outcome.UNRESOLVED)),
    ).fetchall()
    return {row[0] for row in rows}


def record_item(conn: psycopg.Connection, *, source_id: int, item_key: str, url: str,
                title: str, outcome: Outcome, article_id: int | None = None,
                error: str | None = None) -> None:
    # An entry settled with an article keeps that first outcome: re-fetching it later for
    # a revision must not turn its "new-relevant" into "revised" or "duplicate".
    conn.execute(
        """INSERT INTO feed_items (source_id, item_key, url, title, outcome, article_id, error)
           VALUES (%s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (source_id, item_key) DO UPDATE SET
               outcome = EXCLUDED.outcome, article_id = EXCLUDED.article_id,
               error = EXCLUDED.error, attempts = feed_items.attempts + 1
           WHERE feed_items.article_id IS NULL""",
        (source_id, item_key, url, title, str(outcome), article_id, error),
    )


def save_match(conn: psycopg.Connection, *, article_id: int, match: Match,
               now: datetime | None = None) -> None:
    """The article's verdict for one watchlist, matched at `now` (None: the database's now())."""
    conn.execute(
        """INSERT INTO matches (article_id, watchlist, relevant, score, evidence, matched_at)
           VALUES (%s, %s, %s, %s, %s, coalesce(%s::timestamptz, now()))
           ON CONFLICT (article_id, watchlist) DO UPDATE SET
               relevant = EXCLUDED.relevant, score = EXCLUDED.score,
               evidence = EXCLUDED.evidence, matched_at = EXCLUDED.matched_at""",
        (article_id, match.watchlist, match.relevant, match.score,
         Jsonb([e.as_json() for e in match.evidence]), now),
    )
    conn.execute(
        "DELETE FROM article_entities WHERE article_id = %s AND watchlist = %s",
        (article_id, match.watchlist),
    )
    for mention in match.entities:
        conn.execute(
            """INSERT INTO article_entities (article_id, watchlist, entity_id, mentions,
                                             first_offset) VALUES (%s, %s, %s, %s, %s)""",
            (article_id, match.watchlist, mention.entity_id, mention.count,
             mention.first_offset),
        )


def record_unresolved(conn: psycopg.Connection, *, source_id: int, item_key: str, url: str,
                      title: str, reason: str, publisher: str | None, summary: str,
                      match: Match) -> None:
    """An entry whose publisher URL is unknown, and the verdict on its title and summary,
    in one transaction."""
    with conn.transaction():
        record_item(conn, source_id=source_id, item_key=item_key, url=url, title=title,
                    outcome=Outcome.UNRESOLVED, error=reason)
        conn.execute(
            """INSERT INTO feed_item_matches (source_id, item_key, watchlist, publisher, summary,
                                              relevant, score, evidence)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (source_id, item_key, watchlist) DO UPDATE SET
                   publisher = EXCLUDED.publisher, summary = EXCLUDED.summary,
                   relevant = EXCLUDED.relevant, score = EXCLUDED.score,
                   evidence = EXCLUDED.evidence, matched_at = now()""",
            (source_id, item_key, match.watchlist, publisher, summary, match.relevant,
             match.score, Jsonb([e.as_json() for e in match.evidence])),
        )
