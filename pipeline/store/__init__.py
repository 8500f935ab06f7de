"""The store: where the database is, how to connect, and the migrations.

Queries live in `pipeline.store.queries`; every database error that callers must
act on is translated here: an outage into `DatabaseUnavailable`, a refusal into
`DatabaseError`.
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
