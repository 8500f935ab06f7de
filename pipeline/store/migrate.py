"""Forward-only SQL migrations from `sql/NNNN_name.sql`, one transaction each (sql/README.md
lists the rules, and why 0006 and 0007 do not exist)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Container
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from importlib.util import find_spec
from pathlib import Path

import psycopg
from psycopg import errors

from pipeline.errors import NewsmonError, StoreUnavailable
from pipeline.store import roles

log = logging.getLogger(__name__)



def _sql_dir() -> Traversable:
    """The migrations: the top-level sql/ folder, which a wheel carries as the pipeline.sql
    package (pyproject.toml maps it), or, in a source checkout, that folder itself."""
    if find_spec("pipeline.sql") is not None:
        return files("pipeline.sql")
    return Path(__file__).resolve().parents[2] / "sql"


SQL_DIR = _sql_dir()
_MIGRATION_NAME = re.compile(r"^(\d{4})_[\w-]+\.sql$")
# Any constant works; it only has to be the same for every newsmon process.
_MIGRATION_LOCK = 7_140_001
# From this migration on the schema belongs to newsmon_owner, and migrations run as it.
_OWNER_SINCE = 13
# A migration waits this long for a table lock, then stops the readers holding locks
# and tries again: waiting for ever would also queue every writer behind it.
_LOCK_TIMEOUT = "2s"
_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class SchemaMismatch(NewsmonError, RuntimeError):
    """The database schema is behind the code, or was changed under us: run
    `newsmon db migrate` (or restore the migration that was edited)."""

    stage = "db"


class MigrationBlocked(StoreUnavailable):
    """A migration could not get its locks: a session other than a reader holds them."""


def available_migrations(sql_dir: Traversable = SQL_DIR) -> list[Migration]:
    found = []
    for path in sorted(sql_dir.iterdir(), key=lambda p: p.name):
        m = _MIGRATION_NAME.match(path.name)
        if m:
            found.append(Migration(int(m.group(1)), path.name.removesuffix(".sql"),
                                   path.read_text(encoding="utf-8")))
    return found


def _ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version     integer PRIMARY KEY,
               name        text NOT NULL,
               checksum    text NOT NULL,
               applied_at  timestamptz NOT NULL DEFAULT now())"""
    )
    conn.execute("COMMENT ON TABLE schema_migrations IS 'Migrations applied to this database.'")
    for column, text in {
        "version": "Number from the file name (sql/NNNN_*.sql).",
        "name": "File name without .sql.",
        "checksum": "SHA-256 of the file as applied; a mismatch means it was edited after landing.",
        "applied_at": "When it was applied.",
    }.items():
        conn.execute(f"COMMENT ON COLUMN schema_migrations.{column} IS '{text}'")


def _applied(conn: psycopg.Connection) -> dict[int, str]:
    exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
    if not exists or exists[0] is None:
        return {}
    return dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())


def pending_migrations(conn: psycopg.Connection, sql_dir: Traversable = SQL_DIR) -> list[Migration]:
    applied = _applied(conn)
    for migration in available_migrations(sql_dir):
        recorded = applied.get(migration.version)
        if recorded is not None and recorded != migration.checksum:
            raise SchemaMismatch(
                f"db: migration {migration.name} was changed after it was applied; "
                "add a new migration instead of editing a landed one"
            )
    return [m for m in available_migrations(sql_dir) if m.version not in applied]


def apply_migrations(conn: psycopg.Connection, sql_dir: Traversable = SQL_DIR) -> list[str]:
    """Apply what is pending; a second call is a no-op. Returns the names applied.

    A reader's open transaction never holds a migration up for long: after
    `_LOCK_TIMEOUT` the readers holding locks are stopped and the migration retried.
    """
    with conn.transaction():
        _act_as_schema_owner(conn, _applied(conn))
        # Two processes migrating at once would both try to create the same tables.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        _ensure_table(conn)
    done = []
    for migration in pending_migrations(conn, sql_dir):
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                if _apply(conn, migration):
                    done.append(migration.name)
                break
            except errors.LockNotAvailable as exc:
                stopped = roles.stop_lock_holding_readers(conn)
                if attempt == _ATTEMPTS:
                    raise MigrationBlocked(
                        f"db: migration {migration.name} waited {_ATTEMPTS} times for a lock "
                        f"held by another session; see pg_stat_activity ({exc})".strip()
                    ) from exc
                log.warning("db: migration %s waited %s for a lock; stopped %d reader "
                            "session(s), trying again", migration.name, _LOCK_TIMEOUT,
                            len(stopped))
    return done


def _apply(conn: psycopg.Connection, migration: Migration) -> bool:
    """One migration in one transaction; False when another process applied it first."""
    with conn.transaction():
        applied = _applied(conn)
        _act_as_schema_owner(conn, applied)
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        if conn.execute(
            "SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)
        ).fetchone():
            return False
        # Set after the migration lock: a second migrator waits for the first to finish.
        conn.execute(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
        conn.execute(migration.sql)
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
            (migration.version, migration.name, migration.checksum),
        )
    return True


def _act_as_schema_owner(conn: psycopg.Connection, applied: Container[int]) -> None:
    """Run this transaction as newsmon_owner once it owns the schema, else as the session user.

    Objects belong to the role that creates them, so a migration run as the owner leaves
    nothing behind that only a superuser could change. Migrations before the owner
    existed run as the session user (a superuser on a new database: 0013 creates roles
    and changes system functions), even when the connection was opened as the owner.
    """
    as_owner = _OWNER_SINCE in applied and conn.execute(
        "SELECT pg_has_role(session_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = %s",
        (roles.OWNER_ROLE,)).fetchone() == (True,)
    conn.execute("SET LOCAL ROLE newsmon_owner" if as_owner else "SET LOCAL ROLE NONE")


def ensure_current(conn: psycopg.Connection, sql_dir: Traversable = SQL_DIR) -> None:
    """Refuse to run on a schema that is behind the code."""
    pending = pending_migrations(conn, sql_dir)
    if pending:
        names = ", ".join(m.name for m in pending)
        raise SchemaMismatch(f"db: schema is behind ({names} pending); run `newsmon db migrate`")
