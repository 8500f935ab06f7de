-- 0008: what the scheduler leaves for an operator to look at, next to the data it concerns:
-- every failed task attempt. (Feed health is the feed_health view of 0009.)

CREATE TABLE task_failures (
    id           bigserial PRIMARY KEY,
    dag_id       text NOT NULL,
    task_id      text NOT NULL,
    run_id       text NOT NULL,
    map_index    integer NOT NULL DEFAULT -1,
    try_number   integer NOT NULL,
    will_retry   boolean NOT NULL,
    failed_at    timestamptz NOT NULL DEFAULT now(),
    error        text NOT NULL,
    log_url      text,
    UNIQUE (dag_id, task_id, run_id, map_index, try_number)
);
CREATE INDEX task_failures_failed_at ON task_failures (failed_at DESC);
COMMENT ON TABLE task_failures IS 'One row per failed attempt of a scheduled task (Airflow failure and retry callbacks).';
COMMENT ON COLUMN task_failures.id IS 'Surrogate key.';
COMMENT ON COLUMN task_failures.dag_id IS 'DAG of the task (newsmon_ingest, newsmon_alerts, ...).';
COMMENT ON COLUMN task_failures.task_id IS 'Task that failed.';
COMMENT ON COLUMN task_failures.run_id IS 'Airflow DAG run id (runs.external_id names the same cycle for newsmon_ingest).';
COMMENT ON COLUMN task_failures.map_index IS 'Shard index of a mapped task; -1 for an unmapped one.';
COMMENT ON COLUMN task_failures.try_number IS 'Attempt number, from 1.';
COMMENT ON COLUMN task_failures.will_retry IS 'True when the scheduler will try again; false when it gave up.';
COMMENT ON COLUMN task_failures.failed_at IS 'When the attempt failed.';
COMMENT ON COLUMN task_failures.error IS 'The exception, prefixed with the stage that raised it.';
COMMENT ON COLUMN task_failures.log_url IS 'Link to the attempt''s log in the Airflow UI.';
