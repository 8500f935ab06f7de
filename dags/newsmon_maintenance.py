"""newsmon_maintenance: daily upkeep of the store.

- `feed_health`: logs every failing or dead source (from the `feed_health` view);
- `retention`: deletes operational logs (fetch_log, task_failures, per-shard counts)
  older than NEWSMON_RETENTION_DAYS (90); articles, stories and outboxes stay;
- `refresh_views`: refreshes the researchers' materialised views;
- `analyze`: refreshes the planner's statistics once the day's deletes are done.
"""

from __future__ import annotations

from datetime import timedelta

import newsmon_airflow as nm
from airflow.sdk import CronTriggerTimetable, dag, task


@dag(
    dag_id="newsmon_maintenance",
    schedule=CronTriggerTimetable("17 3 * * *", timezone="UTC"),
    start_date=nm.START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=3),
    default_args=nm.default_args(retries=2),
    tags=nm.TAGS,
    doc_md=__doc__,
)
def newsmon_maintenance() -> None:
    @task(execution_timeout=timedelta(minutes=10))
    def feed_health() -> dict:
        from pipeline import tasks

        return tasks.report_feed_health(nm.task_settings())

    @task(execution_timeout=timedelta(minutes=30))
    def retention() -> dict:
        from pipeline import tasks

        return tasks.apply_retention(nm.task_settings(), keep_days=nm.retention_days())

    @task(execution_timeout=timedelta(minutes=60))
    def refresh_views() -> dict:
        from pipeline import tasks

        return tasks.refresh_views(nm.task_settings())

    @task(execution_timeout=timedelta(minutes=60), trigger_rule="all_done")
    def analyze() -> None:
        from pipeline import tasks

        tasks.analyze(nm.task_settings())

    [feed_health(), retention(), refresh_views()] >> analyze()


newsmon_maintenance()
