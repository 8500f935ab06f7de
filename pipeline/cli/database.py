"""The database the CLI's commands use: started, migrated, and which login."""

from __future__ import annotations

import sys

from rich.console import Console

from pipeline.config import Settings
from pipeline.store import DatabaseUnavailable
from pipeline.store.migrate import SchemaMismatch

console = Console(stderr=True)


def pipeline_url(settings: Settings, *, migrate: bool = True, admin: bool = False) -> str:
    """The pipeline's URL (migrated), or with `admin` one that may create logins and
    databases: the embedded server's superuser, or NEWSMON_DATABASE_URL as given."""
    from pipeline.store import database_url, ready_database
    from pipeline.store.connection import admin_database_url

    try:
        url = ready_database(settings) if migrate else database_url(settings)
        return admin_database_url(settings) if admin else url
    except (DatabaseUnavailable, SchemaMismatch) as exc:
        console.print(f"[red]{exc}[/red]")
        sys.exit(2)


def require_current(url: str) -> None:
    """Exit with "run `newsmon db migrate`" when the store is behind this code: for the
    commands that never migrate (their login may not)."""
    from pipeline.store import connect, ensure_current

    try:
        with connect(url, autocommit=True) as conn:
            ensure_current(conn)
    except (DatabaseUnavailable, SchemaMismatch) as exc:
        console.print(f"[red]{exc}[/red]")
        sys.exit(2)
