"""The Google News id cache (`google_news_links`): each opaque article id is asked of Google
once.

A publisher URL found is kept for good: an id always names the same article. A failed
lookup keeps its reason and waits before the next one (an hour, doubling per failure, at
most a day), so an id Google will not answer costs a request or two a day, not two per
poll of every feed that lists it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

import psycopg

from pipeline.models import record

FIRST_RETRY = timedelta(hours=1)
MAX_RETRY = timedelta(days=1)
_MAX_DOUBLINGS = 10  # 2**10 hours is past MAX_RETRY already; keeps the interval in range


@record
class CachedLink:
    """What the cache knows of one id."""

    id: str
    url: str | None  # the publisher URL, once found
    reason: str | None  # why the last lookup found none
    attempts: int
    next_try_at: datetime | None  # a failed id waits until then

    def is_due(self, now: datetime) -> bool:
        """Whether the id should be looked up (again) now."""
        return self.url is None and (self.next_try_at is None or self.next_try_at <= now)


def cached_links(conn: psycopg.Connection, ids: Collection[str]) -> dict[str, CachedLink]:
    """The cache rows of these ids, by id (ids never looked up are absent)."""
    rows = conn.execute(
        """SELECT id, url, reason, attempts, next_try_at FROM google_news_links
           WHERE id = ANY(%s)""", (list(ids),)).fetchall()
    return {row[0]: CachedLink(id=row[0], url=row[1], reason=row[2], attempts=row[3],
                               next_try_at=row[4]) for row in rows}


def save_links(conn: psycopg.Connection, *, found: Mapping[str, str],
               failed: Mapping[str, str]) -> None:
    """Record lookups just made: `found` id -> publisher URL, `failed` id -> reason.

    One statement. An id already resolved is never changed; a failure pushes the id's next
    lookup out by the backoff.
    """
    ids = [*found, *failed]
    if not ids:
        return
    urls = [*found.values(), *([None] * len(failed))]
    reasons = [*([None] * len(found)), *failed.values()]
    conn.execute(
        """INSERT INTO google_news_links AS l (id, url, reason, resolved_at, next_try_at)
           SELECT id, url, reason, CASE WHEN url IS NOT NULL THEN now() END,
                  CASE WHEN url IS NULL THEN now() + %(first)s END
           FROM unnest(%(ids)s::text[], %(urls)s::text[], %(reasons)s::text[])
                AS t(id, url, reason)
           ON CONFLICT (id) DO UPDATE SET
               url = EXCLUDED.url, reason = EXCLUDED.reason,
               resolved_at = EXCLUDED.resolved_at, attempts = l.attempts + 1,
               tried_at = now(),
               next_try_at = CASE WHEN EXCLUDED.url IS NULL THEN now() + least(
                   %(max)s, %(first)s * power(2, least(l.attempts, %(doublings)s))) END
           WHERE l.url IS NULL""",
        {"ids": ids, "urls": urls, "reasons": reasons, "first": FIRST_RETRY,
         "max": MAX_RETRY, "doublings": _MAX_DOUBLINGS},
    )
