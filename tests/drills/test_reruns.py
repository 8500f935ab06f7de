"""Drill: the same cycle run again and again, and two cycles started at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import psycopg

from pipeline.alerts import add_subscriber
from pipeline.ingest.cycle import RunSummary, run_cycle
from tests.drills.conftest import DEMO_ARTICLES, DEMO_RELEVANT, demo_sources, snapshot


def _subscribe(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        add_subscriber(conn, email="analyst@example.org", watchlists=["venezuela"])
        # the demo articles are dated 2026-11-2x; the subscriber predates them
        conn.execute("UPDATE subscribers SET created_at = %s",
                     (datetime(2026, 11, 1, tzinfo=UTC),))


def test_three_runs_of_the_same_cycle_store_the_same_rows(settings, db_url, demo_site,
                                                          tmp_path) -> None:
    _subscribe(db_url)
    settings = settings.replace(alert_window_hours=24 * 365 * 100)  # the demo's dates are fixed
    sources = demo_sources(demo_site, tmp_path)

    first = run_cycle(settings, sources=sources, db_url=db_url)
    after_first = snapshot(db_url)
    later = [run_cycle(settings, sources=sources, db_url=db_url) for _ in range(2)]

    assert first.new_articles == DEMO_ARTICLES
    assert [s.new_articles for s in later] == [0, 0]
    assert snapshot(db_url) == after_first
    assert len(after_first["articles"]) == DEMO_ARTICLES
    assert len(after_first["alerts"]) == DEMO_RELEVANT  # one per relevant story, never again
    with psycopg.connect(db_url) as conn:
        runs = conn.execute("SELECT status FROM runs ORDER BY id").fetchall()
    assert runs == [("completed",)] * 3


def test_two_cycles_at_once_one_skips_and_rows_match_a_single_cycle(
    settings, db_url, demo_site, tmp_path
) -> None:
    _subscribe(db_url)
    settings = settings.replace(alert_window_hours=24 * 365 * 100)
    sources = demo_sources(demo_site, tmp_path)
    second: list[RunSummary] = []
    second_done = threading.Event()

    def start_second_while_first_runs(event: str, _count: int) -> None:
        # Called from inside the first cycle, which holds the lock until it returns.
        if event == "items-found" and not second:
            thread = threading.Thread(target=lambda: second.append(
                run_cycle(settings, sources=sources, db_url=db_url)))
            thread.start()
            thread.join(timeout=60)
            second_done.set()

    first: list[RunSummary] = []
    thread = threading.Thread(target=lambda: first.append(run_cycle(
        settings, sources=sources, db_url=db_url, observer=start_second_while_first_runs)))
    thread.start()
    thread.join(timeout=120)

    assert second_done.is_set()
    assert second[0].skipped_locked and second[0].new_articles == 0
    assert not first[0].skipped_locked and first[0].new_articles == DEMO_ARTICLES
    stored = snapshot(db_url)
    assert len(stored["articles"]) == DEMO_ARTICLES
    assert len(stored["alerts"]) == DEMO_RELEVANT
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1  # the skip left none
