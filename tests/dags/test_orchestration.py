"""The task bodies the DAGs call, run directly against a real PostgreSQL (no Airflow)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from pipeline import tasks
from pipeline.config import Settings
from pipeline.models import Source
from pipeline.store.sources import sync_sources

NOW = datetime.now(UTC)


@pytest.fixture
def task_settings(settings: Settings, db_url: str) -> Settings:
    return settings.replace(database_url=db_url)


def add_source(conn: psycopg.Connection, name: str, url: str = "http://127.0.0.1:9/feed") -> int:
    return sync_sources(conn, [Source(name=name, url=url)])[0].id


def add_poll(conn: psycopg.Connection, source_id: int, *, status: str, age: timedelta,
             error: str | None = None, error_class: str | None = None) -> None:
    conn.execute(
        """INSERT INTO fetch_log (source_id, started_at, duration_ms, status, error_message,
                                  error_class)
           VALUES (%s, %s, 5, %s, %s, %s)""", (source_id, NOW - age, status, error, error_class))


def test_failures_are_recorded_once_per_attempt(task_settings, db_url) -> None:
    attempt = {"dag_id": "newsmon_ingest", "task_id": "ingest_shard", "run_id": "scheduled__x",
               "map_index": 1, "log_url": "http://airflow/log"}
    tasks.record_task_failure(task_settings, **attempt, try_number=1, will_retry=True,
                                      error="FetchError: fetch: timed out")
    tasks.record_task_failure(task_settings, **attempt, try_number=1, will_retry=True,
                                      error="FetchError: fetch: timed out")
    tasks.record_task_failure(task_settings, **attempt, try_number=2, will_retry=False,
                                      error="FetchError: fetch: timed out again")
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("""SELECT try_number, will_retry, error, map_index, log_url
                               FROM task_failures ORDER BY try_number""").fetchall()
    assert rows == [(1, True, "FetchError: fetch: timed out", 1, "http://airflow/log"),
                    (2, False, "FetchError: fetch: timed out again", 1, "http://airflow/log")]


def test_retention_deletes_old_logs_only(task_settings, db_url) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        source = add_source(conn, "feed")
        add_poll(conn, source, status="ok", age=timedelta(days=40))
        add_poll(conn, source, status="ok", age=timedelta(days=2))
        old_run = conn.execute("INSERT INTO runs (started_at) VALUES (%s) RETURNING id",
                               (NOW - timedelta(days=40),)).fetchone()[0]
        new_run = conn.execute("INSERT INTO runs DEFAULT VALUES RETURNING id").fetchone()[0]
        for run in (old_run, new_run):
            conn.execute("INSERT INTO run_shards (run_id, shard, summary) VALUES (%s, '1/1', '{}')",
                         (run,))
        conn.execute("""INSERT INTO task_failures (dag_id, task_id, run_id, try_number,
                                                   will_retry, error, failed_at)
                        VALUES ('d', 't', 'old', 1, false, 'e', %s), ('d', 't', 'new', 1, false,
                                'e', now())""", (NOW - timedelta(days=40),))
        for age_days in (100, 1):  # raw pages: NEWSMON_RAW_RETENTION_DAYS, 90 by default
            article = conn.execute(
                """INSERT INTO articles (url, canonical_url, content_hash)
                   VALUES (%s, %s, 'h') RETURNING id""",
                (f"http://x.example/{age_days}",) * 2).fetchone()[0]
            conn.execute(
                """INSERT INTO article_raw (article_id, fetched_at, url, status, body, size)
                   VALUES (%s, now() - %s, 'http://x.example/', 200, 'x', 1)""",
                (article, timedelta(days=age_days)))

    deleted = tasks.apply_retention(task_settings, keep_days=30)

    assert deleted == {"fetch_log": 1, "task_failures": 1, "run_shards": 1, "article_raw": 1}
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM fetch_log").fetchone()[0] == 1
        assert conn.execute("SELECT run_id FROM run_shards").fetchall() == [(new_run,)]
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 2  # cycles stay
        assert conn.execute("SELECT run_id FROM task_failures").fetchall() == [("new",)]


def test_retention_refuses_to_keep_nothing(task_settings) -> None:
    with pytest.raises(ValueError, match="maintenance: retention must keep at least one day"):
        tasks.apply_retention(task_settings, keep_days=0)


def test_feed_health_report_names_failing_and_dead_feeds(task_settings, db_url,
                                                         caplog) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('feed_health')").fetchone()[0] is None:
            pytest.skip("the feed_health view (research store migration) is not in this build")
        fine = add_source(conn, "fine")
        add_poll(conn, fine, status="error", age=timedelta(hours=2), error="fetch: timed out")
        add_poll(conn, fine, status="ok", age=timedelta(hours=1))
        flaky = add_source(conn, "flaky")
        add_poll(conn, flaky, status="ok", age=timedelta(days=1))
        add_poll(conn, flaky, status="error", age=timedelta(hours=1), error="fetch: HTTP 503")
        gone = add_source(conn, "gone")
        add_poll(conn, gone, status="ok", age=timedelta(days=9))
        add_poll(conn, gone, status="error", age=timedelta(days=1), error="fetch: HTTP 404")
        add_poll(conn, gone, status="error", age=timedelta(hours=1), error="fetch: HTTP 404")
        add_source(conn, "new")
        keyless = add_source(conn, "keyless")  # a skipped poll requested nothing: no poll
        add_poll(conn, keyless, status="skipped", age=timedelta(hours=1), error="no API key")
        rejected = add_source(conn, "rejected")
        add_poll(conn, rejected, status="error", age=timedelta(hours=1),
                 error="gdelt: query rejected: keywords too short", error_class="misconfigured")
        throttled = add_source(conn, "throttled")
        add_poll(conn, throttled, status="ok", age=timedelta(hours=2))
        add_poll(conn, throttled, status="error", age=timedelta(hours=1),
                 error="gdelt: rate limited", error_class="rate-limited")
        removed = add_source(conn, "removed")
        add_poll(conn, removed, status="error", age=timedelta(days=1), error="fetch: HTTP 410")
        conn.execute("UPDATE sources SET enabled = false, status = 'disabled' WHERE id = %s",
                     (removed,))

    with caplog.at_level(logging.WARNING, logger="pipeline.tasks"):
        counts = tasks.report_feed_health(task_settings)

    # One vocabulary with `newsmon sources check` and the feed_health view: disabled
    # sources are counted now (they used to be left out), never warned about.
    assert counts == {"ok": 1, "failing": 1, "dead": 1, "never-polled": 2, "disabled": 1,
                      "misconfigured": 1, "rate-limited": 1}
    warnings = [r.getMessage() for r in caplog.records]
    assert any("flaky is failing" in w and "fetch: HTTP 503" in w for w in warnings)
    assert any("gone is dead (2 failed polls in a row" in w and "fetch: HTTP 404" in w
               for w in warnings)
    assert any("rejected is misconfigured" in w and "keywords too short" in w
               for w in warnings)
    # a rate limit heals by waiting: nobody needs to look
    assert not any(name in w for w in warnings
                   for name in ("fine", "keyless", "removed", "throttled"))


def test_finish_marks_the_cycle_failed_when_a_shard_never_finished(task_settings,
                                                                    db_url) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        run = conn.execute("INSERT INTO runs (external_id) VALUES ('x') RETURNING id").fetchone()[0]
        conn.execute("""INSERT INTO run_shards (run_id, shard, summary)
                        VALUES (%s, '1/2', '{"new_articles": 4, "relevant": 2}')""", (run,))

    partial = tasks.finish_ingest(task_settings, run_id=run, shards=["1/2", "2/2"])
    assert partial == {"run_id": run, "new_articles": 4, "relevant": 2, "missing_shards": 1}
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT status FROM runs WHERE id = %s", (run,)).fetchone() == \
            ("failed",)

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""INSERT INTO run_shards (run_id, shard, summary)
                        VALUES (%s, '2/2', '{"new_articles": 1, "relevant": 0}')""", (run,))
    complete = tasks.finish_ingest(task_settings, run_id=run, shards=["1/2", "2/2"])
    assert complete["new_articles"] == 5 and complete["missing_shards"] == 0
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT status, summary->>'relevant' FROM runs WHERE id = %s",
                            (run,)).fetchone() == ("completed", "2")


def test_shards_never_split_a_host(task_settings, db_url, tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text("".join(
        f'[[sources]]\nname = "{name}"\nurl = "{url}"\n\n' for name, url in [
            ("a1", "http://127.0.0.1:8001/a.xml"), ("a2", "http://127.0.0.1:8001/b.xml"),
            ("b1", "http://127.0.0.2:8001/a.xml"), ("c1", "http://127.0.0.3:8001/a.xml"),
        ]), encoding="utf-8")
    settings = task_settings.replace(sources_file=sources)

    plan = tasks.plan_shards(settings, max_shards=2)

    assert [shard["name"] for shard in plan] == ["1/2", "2/2"]
    with psycopg.connect(db_url) as conn:
        ids = dict(conn.execute("SELECT name, id FROM sources").fetchall())
    groups = sorted(sorted(shard["source_ids"]) for shard in plan)
    assert sorted(i for group in groups for i in group) == sorted(ids.values())
    assert any({ids["a1"], ids["a2"]} <= set(group) for group in groups)


def test_open_run_reuses_the_row_of_the_same_scheduler_run(task_settings, db_url,
                                                           tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text('[[sources]]\nname = "a"\nurl = "http://127.0.0.1:9/a.xml"\n',
                       encoding="utf-8")
    settings = task_settings.replace(sources_file=sources)
    first = tasks.open_run(settings, external_id="newsmon_ingest@2026-03-01T00:00:00")
    again = tasks.open_run(settings, external_id="newsmon_ingest@2026-03-01T00:00:00")
    other = tasks.open_run(settings, external_id="newsmon_ingest@2026-03-01T00:15:00")
    assert first == again != other


