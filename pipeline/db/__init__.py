"""The store: where the database is, how to connect, and the migrations.

Queries live in `pipeline.db.queries`; every database error that callers must
act on is translated here into `DatabaseUnavailable`.
"""

from __future__ import annotations

from pipeline.db.connection import (
    DatabaseUnavailable,
    connect,
    connect_async,
    connect_for_ingest,
    connect_reader,
    database_url,
)
from pipeline.db.migrate import apply_migrations, ensure_current, pending_migrations

__all__ = [
    "DatabaseUnavailable",
    "apply_migrations",
    "connect",
    "connect_async",
    "connect_for_ingest",
    "connect_reader",
    "database_url",
    "ensure_current",
    "pending_migrations",
]
