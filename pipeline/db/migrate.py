"""Forward-only SQL migrations from `sql/NNNN_name.sql`, one transaction each."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[\w-]+\.sql$")
# Any constant works; it only has to be the same for every newsmon process.
_MIGRATION_LOCK = 7_140_001


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class SchemaMismatch(RuntimeError):
    """The database schema is behind the code, or was changed under us."""


def available_migrations(sql_dir: Path = SQL_DIR) -> list[Migration]:
    found = []
    for path in sorted(sql_dir.glob("*.sql")):
        m = _MIGRATION_NAME.match(path.name)
        if m:
            found.append(Migration(int(m.group(1)), path.stem, path.read_text(encoding="utf-8")))
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


def pending_migrations(conn: psycopg.Connection, sql_dir: Path = SQL_DIR) -> list[Migration]:
    applied = _applied(conn)
    for migration in available_migrations(sql_dir):
        recorded = applied.get(migration.version)
        if recorded is not None and recorded != migration.checksum:
            raise SchemaMismatch(
                f"db: migration {migration.name} was changed after it was applied; "
                "add a new migration instead of editing a landed one"
            )
    return [m for m in available_migrations(sql_dir) if m.version not in applied]


def apply_migrations(conn: psycopg.Connection, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply what is pending; a second call is a no-op. Returns the names applied."""
    with conn.transaction():
        # Two processes migrating at once would both try to create the same tables.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        _ensure_table(conn)
    done = []
    for migration in pending_migrations(conn, sql_dir):
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            if conn.execute(
                "SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)
            ).fetchone():
                continue  # another process got there first
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
        done.append(migration.name)
    return done


def ensure_current(conn: psycopg.Connection, sql_dir: Path = SQL_DIR) -> None:
    """Refuse to run on a schema that is behind the code."""
    pending = pending_migrations(conn, sql_dir)
    if pending:
        names = ", ".join(m.name for m in pending)
        raise SchemaMismatch(f"db: schema is behind ({names} pending); run `newsmon db migrate`")
