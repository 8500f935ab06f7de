"""newsmon_digest: send the daily digests that are due, hourly.

Each subscriber chooses a local hour and a time zone; every hour this sends the
digests whose hour has come in their zone. The digest outbox (one row per
subscriber and local date) makes a second send impossible.
"""

from __future__ import annotations

from datetime import timedelta

import newsmon_airflow as nm
from airflow.sdk import CronTriggerTimetable, dag, task


@dag(
    dag_id="newsmon_digest",
    schedule=CronTriggerTimetable("0 * * * *", timezone="UTC"),
    start_date=nm.START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=50),
    default_args=nm.default_args(),
    tags=nm.TAGS,
    doc_md=__doc__,
)
def newsmon_digest() -> None:
    @task(pool=nm.NETWORK_POOL, priority_weight=5, execution_timeout=timedelta(minutes=30))
    def send_digests() -> dict:
        from pipeline import tasks

        return tasks.send_digests(nm.task_settings(smtp=True))

    send_digests()


newsmon_digest()
