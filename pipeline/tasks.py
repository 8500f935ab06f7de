"""The bodies of the scheduled tasks, as plain functions: each DAG task calls one.

Arguments and results are plain values (ids, names, counts) that a scheduler can
pass between workers; the data itself stays in PostgreSQL. Nothing here knows
about Airflow: the DAG adapter resolves settings and connections and passes them
in. Stages are imported inside the functions, so a worker that only sends email
never loads the extraction stack.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from psycopg import sql

from pipeline.config import Settings
from pipeline.store import connect, database_url, ensure_current, ready_database, roles
from pipeline.store.raw import prune_raw
from pipeline.store.sources import HEALTH_STATES, source_health

log = logging.getLogger(__name__)

# Operational logs pruned by retention: table -> timestamp column. Articles, stories,
# feed items (the "already seen?" check) and alerts (the "already sent?" check) stay.
RETENTION_TABLES = {"fetch_log": "started_at", "task_failures": "failed_at"}


# --- ingestion ----------------------------------------------------------------------------


def open_run(settings: Settings, *, external_id: str) -> int:
    """Migrate, register the sources file, and open the cycle's `runs` row.

    The same external id (one per scheduler run) gives back the same row, so a
    retried or re-run cycle adds nothing.
    """
    from pipeline.ingest.cycle import prepare_run

    url = ready_database(settings)
    stop_overdue_readers(url)
    return prepare_run(settings, db_url=url, sources=_sources(settings), external_id=external_id)


def plan_shards(settings: Settings, *, max_shards: int) -> list[dict[str, Any]]:
    """The cycle's shards: `[{"name": "1/3", "source_ids": [...]}, ...]`, a host never split."""
    from pipeline.ingest.cycle import plan_shards as plan

    groups = plan(database_url(settings), sources=_sources(settings), max_shards=max_shards)
    return [{"name": f"{number}/{len(groups)}", "source_ids": ids}
            for number, ids in enumerate(groups, start=1)]


def ingest_shard(settings: Settings, *, run_id: int, shard: Mapping[str, Any]) -> dict[str, int]:
    """Poll, fetch, extract, match, dedup and load one shard's sources; returns its counts."""
    from pipeline.ingest.cycle import run_shard

    summary = run_shard(settings, db_url=database_url(settings), run_id=run_id,
                        source_ids=list(shard["source_ids"]), shard=str(shard["name"]))
    for line in summary.error_lines():
        log.warning("shard %s: %s", shard["name"], line)
    counts = summary.as_dict()
    log.info("shard %s: %s", shard["name"], counts)
    return counts


def finish_ingest(settings: Settings, *, run_id: int, shards: Sequence[str]) -> dict[str, int]:
    """Close the cycle with the sum of its shards' counts.

    The cycle is marked failed when a planned shard never saved its counts; the
    counts of the shards that did finish are kept either way.
    """
    from pipeline.ingest.cycle import finish_run

    url = database_url(settings)
    with connect(url, autocommit=True) as conn:
        saved = {row[0] for row in conn.execute(
            "SELECT shard FROM run_shards WHERE run_id = %s", (run_id,))}
    missing = sorted(set(shards) - saved)
    total = finish_run(url, run_id=run_id, status="failed" if missing else "completed")
    if missing:
        log.error("run %d: shards %s did not finish; the cycle is marked failed",
                  run_id, ", ".join(missing))
    log.info("run %d: %s", run_id, total)
    return {"run_id": run_id, **total, "missing_shards": len(missing)}


def new_relevant_count(summary: Mapping[str, Any]) -> int:
    """How many new relevant articles a finished cycle stored (what alerts care about)."""
    return int(summary.get("relevant", 0))


# --- alerts --------------------------------------------------------------------------------


def dispatch_alerts(settings: Settings) -> dict[str, int]:
    """Send the pending immediate alerts (the outbox makes a second send impossible)."""
    from pipeline.alerts import send_pending

    return _counts(send_pending(database_url(settings), settings))


def send_digests(settings: Settings) -> dict[str, int]:
    """Send the daily digests that are due in each subscriber's time zone."""
    from pipeline.alerts import send_digests as send

    return _counts(send(database_url(settings), settings))


# --- maintenance ---------------------------------------------------------------------------


def report_feed_health(settings: Settings) -> dict[str, int]:
    """Log every source that is misconfigured, failing or dead; returns how many are in each
    health state.

    The states and their rule are the one notion `newsmon sources check` and the
    researchers' `feed_health` view show (pipeline/store/sources.py HEALTH_STATES).
    """
    with connect(database_url(settings), autocommit=True) as conn:
        ensure_current(conn)  # the health column is 0016's: behind, say so, not a SQL error
        rows = source_health(conn)
    counts = dict.fromkeys(HEALTH_STATES, 0)
    for row in rows:
        counts[row.health] += 1
        if row.health in ("misconfigured", "failing", "dead"):
            since = (row.last_success_at.isoformat(timespec="minutes")
                     if row.last_success_at else "never")
            log.warning("feed health: %s is %s (%d failed polls in a row, last ok %s): %s",
                        row.name, row.health, row.error_streak, since, row.last_error)
    log.info("feed health: %s", counts)
    return counts


def apply_retention(settings: Settings, *, keep_days: int) -> dict[str, int]:
    """Delete operational log rows older than `keep_days`; returns rows deleted per table."""
    if keep_days < 1:
        raise ValueError(f"maintenance: retention must keep at least one day, not {keep_days}")
    cutoff = timedelta(days=keep_days)
    deleted = {}
    with connect(database_url(settings), autocommit=True) as conn:
        for table, column in RETENTION_TABLES.items():
            cursor = conn.execute(
                sql.SQL("DELETE FROM {} WHERE {} < now() - %s").format(
                    sql.Identifier(table), sql.Identifier(column)), (cutoff,))
            deleted[table] = cursor.rowcount
        # Per-shard counts of old cycles; the cycle's own row keeps their sum.
        deleted["run_shards"] = conn.execute(
            """DELETE FROM run_shards USING runs
               WHERE runs.id = run_shards.run_id AND runs.started_at < now() - %s""",
            (cutoff,)).rowcount
        # Raw pages have their own, usually shorter, retention (NEWSMON_RAW_RETENTION_DAYS).
        deleted["article_raw"] = prune_raw(conn, keep_days=settings.raw_retention_days)
    log.info("retention (%d days): deleted %s", keep_days, deleted)
    return deleted


def refresh_views(settings: Settings) -> dict[str, int]:
    """Refresh the researchers' materialised views; returns milliseconds per view."""
    from pipeline.research import refresh_views as refresh

    with connect(database_url(settings), autocommit=True) as conn:
        return _counts(refresh(conn))


def analyze(settings: Settings) -> None:
    """Refresh the planner's statistics after the day's inserts and deletes, and stop
    researchers' sessions that lifted their own limits."""
    url = database_url(settings)
    with connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    stop_overdue_readers(url)


def stop_overdue_readers(url: str) -> int:
    """End reader sessions over their statement or idle limits; returns how many."""
    with connect(url, autocommit=True) as conn:
        return len(roles.stop_overdue_readers(conn))


# --- failures ------------------------------------------------------------------------------


def record_task_failure(settings: Settings, *, dag_id: str, task_id: str, run_id: str,
                        map_index: int, try_number: int, will_retry: bool, error: str,
                        log_url: str | None = None) -> None:
    """Write a failed task attempt to `task_failures`, where an operator's query finds it.

    Idempotent: the same attempt recorded twice is one row.
    """
    with connect(database_url(settings), autocommit=True) as conn:
        conn.execute(
            """INSERT INTO task_failures (dag_id, task_id, run_id, map_index, try_number,
                                          will_retry, error, log_url)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (dag_id, task_id, run_id, map_index, try_number) DO UPDATE SET
                   will_retry = EXCLUDED.will_retry, error = EXCLUDED.error,
                   log_url = EXCLUDED.log_url, failed_at = now()""",
            (dag_id, task_id, run_id, map_index, try_number, will_retry, error[:4000], log_url),
        )


# --- helpers -------------------------------------------------------------------------------


def _sources(settings: Settings) -> list:
    from pipeline.sources import load_sources_file

    return load_sources_file(settings.sources_file)


def _counts(report: Any) -> dict[str, int]:
    """The integer counts of a stage's report (dataclass, dict or `.as_dict()`), for XCom."""
    if hasattr(report, "as_dict"):
        report = report.as_dict()
    elif dataclasses.is_dataclass(report) and not isinstance(report, type):
        report = dataclasses.asdict(report)
    if not isinstance(report, Mapping):
        return {}
    return {str(k): int(v) for k, v in report.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}
