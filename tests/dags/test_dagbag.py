"""The DAG folder as Airflow's parser sees it: ids, schedules, retries, timeouts, wiring.

Parsing runs in a fresh interpreter (tests/dags/dag_report.py) that makes any
network connection fail, so a DAG file doing I/O at import shows up as an error.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dags.conftest import DAGS_DIR, base_env, require_airflow

require_airflow()

REPORT_SCRIPT = Path(__file__).with_name("dag_report.py")
DAG_IDS = {"newsmon_ingest", "newsmon_alerts", "newsmon_digest", "newsmon_maintenance"}


def parse_dags(tmp_path: Path, **env_changes: str) -> dict:
    env = base_env(tmp_path / "airflow")
    env.pop("NEWSMON_TASK_RETRIES")  # the DAGs' own defaults
    # A DAG file that connects to the database at import would fail here.
    env["NEWSMON_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:9/nothing"
    env.update(env_changes)
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, str(REPORT_SCRIPT), str(DAGS_DIR), str(out)],
                          check=False, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return parse_dags(tmp_path_factory.mktemp("dagbag"))


def all_tasks(report: dict):
    for dag_id, dag in report["dags"].items():
        for task_id, task in dag["tasks"].items():
            yield f"{dag_id}.{task_id}", task


def test_dag_files_parse_without_errors_network_or_pipeline_imports(report) -> None:
    assert report["import_errors"] == {}
    assert report["connect_attempts"] == []
    # The pipeline and its heavy dependencies load inside tasks, never while parsing.
    assert report["heavy_modules_imported"] == []
    assert set(report["dags"]) == DAG_IDS
    assert report["files"] == sorted(f"{dag_id}.py" for dag_id in DAG_IDS)


def test_schedules(report) -> None:
    dags = report["dags"]
    assert dags["newsmon_ingest"]["schedule"] == {"timetable": "DeltaTriggerTimetable",
                                                  "delta_seconds": 15 * 60}
    alerts = dags["newsmon_alerts"]["schedule"]
    assert alerts["timetable"] == "AssetOrTimeSchedule"
    assert alerts["assets"] == ["newsmon_new_stories"]
    assert alerts["delta_seconds"] == 5 * 60
    assert dags["newsmon_digest"]["schedule"]["cron"] == "0 * * * *"
    maintenance = dags["newsmon_maintenance"]["schedule"]["cron"].split()
    assert maintenance[2:] == ["*", "*", "*"]  # once a day
    for dag_id, dag in dags.items():
        assert dag["max_active_runs"] == 1, dag_id
        assert dag["catchup"] is False, dag_id
        assert dag["dagrun_timeout"], dag_id
        assert dag["tags"] == ["newsmon"], dag_id


def test_every_task_retries_with_backoff_has_a_timeout_and_records_failures(report) -> None:
    for name, task in all_tasks(report):
        assert task["retries"] >= 2, name
        assert task["retry_exponential_backoff"] >= 2, name
        assert 0 < task["retry_delay"] < task["max_retry_delay"], name
        assert task["has_retry_policy"], name
        assert task["execution_timeout"], name
        assert task["on_failure_callback"] == ["record_failure"], name
        assert task["on_retry_callback"] == ["record_retry"], name


def test_ingest_fans_out_over_shards_and_announces_new_stories(report) -> None:
    tasks = report["dags"]["newsmon_ingest"]["tasks"]
    assert set(tasks) == {"open_run", "plan_shards", "ingest_shard", "finish_run",
                          "announce_new_stories"}
    shard = tasks["ingest_shard"]
    assert shard["mapped"] and shard["pool"] == "newsmon_network"
    assert shard["upstream"] == ["open_run", "plan_shards"]
    # finish_run closes the cycle's row even when a shard failed.
    assert tasks["finish_run"]["is_teardown"]
    assert tasks["open_run"]["is_setup"] and tasks["plan_shards"]["is_setup"]
    assert tasks["announce_new_stories"]["outlets"] == ["newsmon_new_stories"]
    assert tasks["announce_new_stories"]["upstream"] == ["finish_run"]
    # Only the shards and the senders touch the network, all inside the pool.
    for name, task in all_tasks(report):
        networked = name.endswith(("ingest_shard", "dispatch_alerts", "send_digests"))
        assert (task["pool"] == "newsmon_network") == networked, name


def test_maintenance_analyzes_after_the_other_chores(report) -> None:
    tasks = report["dags"]["newsmon_maintenance"]["tasks"]
    assert tasks["analyze"]["upstream"] == ["feed_health", "refresh_views", "retention"]


def test_schedule_and_retries_follow_the_environment(tmp_path) -> None:
    report = parse_dags(tmp_path, NEWSMON_INGEST_EVERY_MINUTES="7",
                        NEWSMON_ALERTS_EVERY_MINUTES="2", NEWSMON_TASK_RETRIES="1")
    assert report["dags"]["newsmon_ingest"]["schedule"]["delta_seconds"] == 7 * 60
    assert report["dags"]["newsmon_alerts"]["schedule"]["delta_seconds"] == 2 * 60
    assert {task["retries"] for _, task in all_tasks(report)} == {1}


def test_a_bad_schedule_setting_is_an_import_error_naming_it(tmp_path) -> None:
    report = parse_dags(tmp_path, NEWSMON_INGEST_EVERY_MINUTES="soon")
    assert "NEWSMON_INGEST_EVERY_MINUTES='soon' is not a whole number" in \
        report["import_errors"]["newsmon_ingest.py"]
    assert "newsmon_alerts" in report["dags"]  # the other DAGs still load
