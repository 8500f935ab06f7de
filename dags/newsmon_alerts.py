"""newsmon_alerts: send the pending immediate alerts.

Runs as soon as newsmon_ingest announces new stories (the `newsmon_new_stories`
asset), and every 5 minutes anyway (NEWSMON_ALERTS_EVERY_MINUTES) so alerts whose
SMTP delivery failed, or whose announcing run failed, still go out. The outbox
makes a second send of the same alert impossible, so overlapping triggers are safe.
"""

from __future__ import annotations

from datetime import timedelta

import newsmon_airflow as nm
from airflow.sdk import AssetOrTimeSchedule, DeltaTriggerTimetable, dag, task


@dag(
    dag_id="newsmon_alerts",
    schedule=AssetOrTimeSchedule(timetable=DeltaTriggerTimetable(nm.alerts_every()),
                                 assets=nm.NEW_STORIES),
    start_date=nm.START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    default_args=nm.default_args(),
    tags=nm.TAGS,
    doc_md=__doc__,
)
def newsmon_alerts() -> None:
    @task(pool=nm.NETWORK_POOL, priority_weight=10, execution_timeout=timedelta(minutes=15))
    def dispatch_alerts() -> dict:
        from pipeline import tasks

        return tasks.dispatch_alerts(nm.task_settings(smtp=True))

    dispatch_alerts()


newsmon_alerts()
