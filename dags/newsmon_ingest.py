"""newsmon_ingest: poll the sources, fetch and extract new articles, match, dedup, load.

Every 15 minutes (NEWSMON_INGEST_EVERY_MINUTES), one run at a time, no catch-up.
`open_run` registers the sources file and opens the cycle's `runs` row; `plan_shards`
groups the sources by host into at most NEWSMON_INGEST_SHARDS shards; one mapped
`ingest_shard` per shard does the network work (in the `newsmon_network` pool), so a
slow host holds up one shard and shards run on different workers; `finish_run` (a
teardown: it runs even when a shard failed) closes the cycle with the summed counts;
`announce_new_stories` emits the `newsmon_new_stories` asset when there is something
to alert. Between tasks only ids and counts travel; articles go through PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import newsmon_airflow as nm
from airflow.sdk import DeltaTriggerTimetable, dag, task


@dag(
    dag_id="newsmon_ingest",
    schedule=DeltaTriggerTimetable(nm.ingest_every()),
    start_date=nm.START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=1),
    default_args=nm.default_args(),
    tags=nm.TAGS,
    doc_md=__doc__,
)
def newsmon_ingest() -> None:
    @task(execution_timeout=timedelta(minutes=5))
    def open_run(dag_run=None) -> int:
        from pipeline import tasks

        return tasks.open_run(nm.task_settings(), external_id=nm.run_key(dag_run))

    @task(execution_timeout=timedelta(minutes=5))
    def plan_shards() -> list[dict]:
        from pipeline import tasks

        return tasks.plan_shards(nm.task_settings(), max_shards=nm.ingest_shards())

    @task(pool=nm.NETWORK_POOL, execution_timeout=timedelta(minutes=30),
          map_index_template="{{ task.op_kwargs['shard']['name'] }}",
          pre_execute=nm.prepare_process_pool)
    def ingest_shard(cycle: int, shard: dict) -> dict:
        from pipeline import tasks

        return tasks.ingest_shard(nm.task_settings(), run_id=cycle, shard=shard)

    @task(execution_timeout=timedelta(minutes=5))
    def finish_run(cycle: int, plan: list[dict]) -> dict:
        from pipeline import tasks

        return tasks.finish_ingest(nm.task_settings(), run_id=cycle,
                                           shards=[shard["name"] for shard in plan])

    @task(outlets=[nm.NEW_STORIES], execution_timeout=timedelta(minutes=1))
    def announce_new_stories(summary: dict, outlet_events=None) -> int:
        return nm.announce_new_stories(summary, outlet_events)

    cycle = open_run()
    plan = plan_shards()
    cycle >> plan
    shards = ingest_shard.partial(cycle=cycle).expand(shard=plan)
    summary = finish_run(cycle, plan)
    shards >> summary.as_teardown(setups=[cycle, plan])
    announce_new_stories(summary)


newsmon_ingest()
