"""Migrations apply on an empty database, re-apply as a no-op, and document every column."""

from __future__ import annotations

import psycopg
import pytest

from pipeline.store import apply_migrations, ensure_current
from pipeline.store.migrate import SchemaMismatch, available_migrations

FOUNDATION_TABLES = {"sources", "fetch_log", "articles", "matches", "subscribers", "alerts"}


def test_migrations_apply_once_and_then_are_a_no_op(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        with pytest.raises(SchemaMismatch, match="newsmon db migrate"):
            ensure_current(conn)
        first = apply_migrations(conn)
        second = apply_migrations(conn)
        ensure_current(conn)
        recorded = conn.execute("SELECT name FROM schema_migrations ORDER BY version").fetchall()
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    assert first == [m.name for m in available_migrations()]
    assert second == []
    assert [r[0] for r in recorded] == first
    assert FOUNDATION_TABLES <= tables


def test_every_table_and_column_has_a_comment(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        undocumented = conn.execute(
            """SELECT c.relname || coalesce('.' || a.attname, '')
               FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
               LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
                                       AND NOT a.attisdropped
               WHERE c.relkind IN ('r', 'v', 'm', 'p')
                 AND obj_description(c.oid, 'pg_class') IS NULL
                  OR (a.attname IS NOT NULL AND c.relkind IN ('r', 'v', 'm', 'p')
                      AND n.nspname = 'public'
                      AND col_description(c.oid, a.attnum) IS NULL)"""
        ).fetchall()
    assert undocumented == []


def test_an_edited_landed_migration_is_refused(empty_db_url: str, tmp_path) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE t (id int);")
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        apply_migrations(conn, tmp_path)
        (tmp_path / "0001_first.sql").write_text("CREATE TABLE t (id bigint);")
        with pytest.raises(SchemaMismatch, match="changed after it was applied"):
            apply_migrations(conn, tmp_path)
