"""The researchers' materialised views, refreshed by the maintenance task."""

from __future__ import annotations

import logging
import time

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

def refresh_views(conn: psycopg.Connection) -> dict[str, int]:
    """Refresh every materialised view (concurrently, so readers are never blocked) and
    record when in `view_refreshes`. Returns milliseconds per view.

    Maintenance calls this; any materialised view a later migration adds is included.
    """
    names = [row[0] for row in conn.execute(
        "SELECT matviewname FROM pg_matviews WHERE schemaname = current_schema() ORDER BY 1")]
    durations = {}
    for name in names:
        started = time.monotonic()
        with conn.transaction():
            conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {} {}").format(
                sql.SQL("CONCURRENTLY" if _has_unique_index(conn, name) else ""),
                sql.Identifier(name)))
            durations[name] = round((time.monotonic() - started) * 1000)
            conn.execute(
                """INSERT INTO view_refreshes (view_name, refreshed_at, duration_ms)
                   VALUES (%s, now(), %s)
                   ON CONFLICT (view_name) DO UPDATE
                   SET refreshed_at = EXCLUDED.refreshed_at, duration_ms = EXCLUDED.duration_ms""",
                (name, durations[name]))
        log.info("research: refreshed %s in %d ms", name, durations[name])
    return durations


def _has_unique_index(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute(
        """SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                          JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE n.nspname = current_schema() AND c.relname = %s
                            AND i.indisunique AND i.indpred IS NULL)""",
        (relation,)).fetchone()[0]
