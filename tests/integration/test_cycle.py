"""A full cycle against loopback feeds and a real PostgreSQL, end to end."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from pipeline.demo import FEEDS, SITE_DIR, write_sources_file
from pipeline.demo.server import serve_directory
from pipeline.ingest.cycle import run_cycle
from pipeline.sources import load_sources_file

RELEVANT_TITLES = {
    "Police in three states arrest suspected Tren de Aragua members",
    "US military strikes another suspected drug boat in the Caribbean",
    "El régimen de Maduro anuncia ejercicios militares ante el despliegue naval de EE.UU.",
}
IRRELEVANT_TITLES = {
    "Veteran shortstop signs one-year deal with Miami",
    "Cómo saber si un aguacate está maduro y listo para comer",
    "Aragua FC vence 2-0 y sueña con la clasificación",
    "City council approves three new bus routes",
}


@pytest.fixture
def demo_site():
    with serve_directory(SITE_DIR) as base_url:
        yield base_url


def _sources(base_url: str, tmp_path: Path, extra: str = ""):
    path = write_sources_file(base_url, tmp_path)
    path.write_text(path.read_text() + extra)
    return load_sources_file(path)


def _table_counts(url: str) -> dict[str, int]:
    tables = ["sources", "articles", "matches", "feed_items", "article_entities", "fetch_log"]
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def test_cycle_stores_every_article_with_its_verdict_and_folds_the_copy(
    settings, db_url, demo_site, tmp_path
) -> None:
    summary = run_cycle(settings, sources=_sources(demo_site, tmp_path), db_url=db_url)

    assert summary.sources_polled == len(FEEDS)
    assert summary.as_dict()["new_articles"] == 7
    assert summary.as_dict()["duplicates"] == 1
    with psycopg.connect(db_url) as conn:
        verdicts = dict(conn.execute(
            "SELECT a.title, m.relevant FROM articles a JOIN matches m ON m.article_id = a.id"
        ).fetchall())
        copies = conn.execute(
            """SELECT count(*) FROM feed_items f JOIN articles a ON a.id = f.article_id
               WHERE a.title LIKE '%%drug boat%%'"""
        ).fetchone()[0]
        relevant_evidence = conn.execute(
            "SELECT evidence FROM matches WHERE relevant").fetchall()
        run = conn.execute("SELECT status, summary FROM runs").fetchone()
    assert {t for t, relevant in verdicts.items() if relevant} == RELEVANT_TITLES
    assert {t for t, relevant in verdicts.items() if not relevant} == IRRELEVANT_TITLES
    assert copies == 2  # two feed entries, one stored article
    assert all(evidence for (evidence,) in relevant_evidence)
    assert run[0] == "completed" and run[1]["relevant"] == 3


def test_second_cycle_adds_no_rows(settings, db_url, demo_site, tmp_path) -> None:
    sources = _sources(demo_site, tmp_path)
    run_cycle(settings, sources=sources, db_url=db_url)
    before = _table_counts(db_url)

    again = run_cycle(settings, sources=sources, db_url=db_url)

    after = _table_counts(db_url)
    assert again.new_articles == 0
    assert {k: v for k, v in after.items() if k != "fetch_log"} == {
        k: v for k, v in before.items() if k != "fetch_log"}
    assert after["fetch_log"] == before["fetch_log"] + len(FEEDS)  # one row per poll


def test_broken_sources_are_recorded_and_the_rest_goes_on(
    settings, db_url, demo_site, tmp_path
) -> None:
    extra = (
        f'[[sources]]\nname = "gone"\nurl = "{demo_site}/no-such-feed.xml"\n\n'
        f'[[sources]]\nname = "not a feed"\nurl = "{demo_site}/caribbean-wire/2026/11/'
        'shortstop-signs.html"\n\n'
        '[[sources]]\nname = "dead host"\nurl = "http://127.0.0.1:9/feed.xml"\n'
    )
    summary = run_cycle(settings, sources=_sources(demo_site, tmp_path, extra), db_url=db_url)

    assert summary.sources_failed == 3
    assert summary.new_articles == 7
    with psycopg.connect(db_url) as conn:
        failures = dict(conn.execute(
            """SELECT s.name, f.error_message FROM fetch_log f JOIN sources s ON s.id = f.source_id
               WHERE f.status = 'error'"""
        ).fetchall())
    assert set(failures) == {"gone", "not a feed", "dead host"}
    assert "404" in failures["gone"]
    assert failures["not a feed"].startswith("parse:")
    assert all(message for message in failures.values())


def test_cycle_queues_one_alert_per_relevant_story_and_reruns_queue_none(
    settings, db_url, demo_site, tmp_path
) -> None:
    from datetime import UTC, datetime

    from pipeline.alerts import add_subscriber

    with psycopg.connect(db_url, autocommit=True) as conn:
        add_subscriber(conn, email="analyst@example.org", watchlists=["venezuela"])
        # the demo articles are dated 2026-11-2x; let the subscriber predate them
        conn.execute("UPDATE subscribers SET created_at = %s",
                     (datetime(2026, 11, 1, tzinfo=UTC),))
    settings = settings.replace(alert_window_hours=24 * 365 * 100)  # the demo's dates are fixed
    sources = _sources(demo_site, tmp_path)
    run_cycle(settings, sources=sources, db_url=db_url)
    run_cycle(settings, sources=sources, db_url=db_url)

    with psycopg.connect(db_url) as conn:
        alerts = conn.execute(
            """SELECT a.title FROM alerts al JOIN articles a ON a.id = al.article_id
               WHERE al.status = 'pending'"""
        ).fetchall()
    assert sorted(t for (t,) in alerts) == sorted(RELEVANT_TITLES)
