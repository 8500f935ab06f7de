"""The store: PostgreSQL for the ingest path, and the only home of its SQL.

`connection` (where the database is, logins, errors translated: an outage into
`DatabaseUnavailable`, a refusal into `DatabaseError`), `migrate` (sql/, shipped in the
wheel), `roles` (least privilege), `sources` (sources, their polls and health), `queries`
(runs, shards, feed entries, verdicts), `articles` (the one article writer: new pages,
revisions, copies, stories, re-extraction), `raw` (the archive of responses) and `links`
(the Google News id cache).
"""

from __future__ import annotations

from pipeline.store.connection import (
    DatabaseError,
    DatabaseUnavailable,
    connect,
    connect_for_ingest,
    connect_reader,
    database_error,
    database_url,
    is_connection_lost,
    ready_database,
)
from pipeline.store.migrate import apply_migrations, ensure_current, pending_migrations

__all__ = [
    "DatabaseError",
    "DatabaseUnavailable",
    "apply_migrations",
    "connect",
    "connect_for_ingest",
    "connect_reader",
    "database_error",
    "database_url",
    "ensure_current",
    "is_connection_lost",
    "pending_migrations",
    "ready_database",
]
