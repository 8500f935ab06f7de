"""Where Airflow meets newsmon: schedules, task defaults, connections and failure records.

The DAG files import this module when they are parsed, so it imports nothing but
`airflow.sdk` and does no I/O at module level; `pipeline` is imported inside the
functions that run in a task. It is the one place that reads Airflow connections:

- `newsmon_db`: the pipeline's PostgreSQL. Without it: NEWSMON_DATABASE_URL, else the
  embedded server under NEWSMON_HOME.
- `smtp_default`: where alert emails go (extras as in Airflow's SMTP provider:
  `disable_ssl`, `disable_tls`, `from_email`). Without it: the NEWSMON_SMTP_* variables.

Every other setting comes from the NEWSMON_* environment, as for the CLI.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, RetryDecision, RetryPolicy

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger(__name__)

DB_CONN_ID = "newsmon_db"
SMTP_CONN_ID = "smtp_default"
# Caps concurrent network work (feed and page fetching, SMTP) across all workers;
# create it with `airflow pools set newsmon_network 4 "..."`.
NETWORK_POOL = "newsmon_network"
NEW_STORIES = Asset(name="newsmon_new_stories", uri="x-newsmon://stories/new", group="newsmon")
START_DATE = datetime(2026, 1, 1, tzinfo=UTC)
TAGS = ["newsmon"]


# libpq parameters an Airflow Postgres connection may carry in its extras.
_LIBPQ_EXTRAS = {
    "sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "connect_timeout",
    "application_name", "options", "target_session_attrs", "keepalives", "keepalives_idle",
    "keepalives_interval", "keepalives_count", "gssencmode", "channel_binding",
}


# --- schedule knobs (environment, read when the DAG file is parsed) ------------------------


def env_int(name: str, default: int, *, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"dags: {name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ValueError(f"dags: {name} must be at least {minimum}, not {value}")
    return value


def ingest_every() -> timedelta:
    return timedelta(minutes=env_int("NEWSMON_INGEST_EVERY_MINUTES", 15))


def alerts_every() -> timedelta:
    """The alerts safety net: pending alerts go out at least this often."""
    return timedelta(minutes=env_int("NEWSMON_ALERTS_EVERY_MINUTES", 5))


def ingest_shards() -> int:
    """At most this many mapped ingest tasks per cycle (each one worth tens of seconds)."""
    return env_int("NEWSMON_INGEST_SHARDS", 4)


def retention_days() -> int:
    return env_int("NEWSMON_RETENTION_DAYS", 90)


def default_args(*, retries: int = 3) -> dict[str, Any]:
    """Retries with exponential backoff (30 s, 60 s, 120 s ... at most 10 min), a timeout
    on every task, and the failure record. NEWSMON_TASK_RETRIES overrides `retries`."""
    return {
        "owner": "newsmon",
        "retries": env_int("NEWSMON_TASK_RETRIES", retries, minimum=0),
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "retry_policy": FailFast(),
        "execution_timeout": timedelta(minutes=10),
        "on_failure_callback": record_failure,
        "on_retry_callback": record_retry,
    }


class FailFast(RetryPolicy):
    """Fail at once, without the retries, on a newsmon error that says a retry cannot fix
    it (`retryable` False: a bad configuration, a schema behind the code, a refusal).
    Anything else keeps the task's retries.

    Read from the error's own attributes (every `pipeline.errors.NewsmonError` has a
    `stage` and a `retryable`), not by importing the class: the DAG file imports nothing
    of the pipeline when it is parsed.
    """

    def evaluate(self, exception: BaseException, try_number: int, max_tries: int,
                 context: Any = None) -> RetryDecision:
        if hasattr(exception, "stage") and getattr(exception, "retryable", None) is False:
            return RetryDecision.fail(f"{exception.stage}: {type(exception).__name__}: "
                                      "a retry cannot fix it")
        return RetryDecision.default()


# --- inside a task ----------------------------------------------------------------------


def task_settings(*, smtp: bool = False) -> Settings:
    """The settings for a task: NEWSMON_* environment, then the Airflow connections.

    `smtp=True` also resolves `smtp_default` (only the alert tasks need it).
    """
    from pipeline.config import load_settings

    settings = load_settings()
    if (db := _connection(DB_CONN_ID)) is not None:
        settings = settings.replace(database_url=database_conninfo(db))
    if smtp and (mail := _connection(SMTP_CONN_ID)) is not None:
        from pipeline.alerts.smtp import smtp_settings_from_connection

        settings = smtp_settings_from_connection(
            settings, host=mail.host, port=mail.port, login=mail.login,
            password=mail.password, extra=mail.extra_dejson)
    return settings


def database_conninfo(conn: Any) -> str:
    """A libpq connection string from an Airflow Postgres connection."""
    from psycopg.conninfo import make_conninfo

    params = {"host": conn.host, "port": conn.port, "user": conn.login,
              "password": conn.password, "dbname": conn.schema}
    params.update({k: v for k, v in (conn.extra_dejson or {}).items() if k in _LIBPQ_EXTRAS})
    return make_conninfo(**{k: str(v) for k, v in params.items() if v not in (None, "")})


def _connection(conn_id: str) -> Any | None:
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


def run_key(dag_run: Any) -> str:
    """The cycle's external id: one per DAG run, the same on every retry and re-run.

    A re-run of a scheduled run keeps its logical date (not always its run id),
    so the logical date names it when there is one.
    """
    if dag_run.logical_date is not None:
        return f"{dag_run.dag_id}@{dag_run.logical_date.isoformat()}"
    return f"{dag_run.dag_id}:{dag_run.run_id}"


def announce_new_stories(summary: dict[str, Any], outlet_events: Any) -> int:
    """Emit the new-stories asset event, or skip (no event) when the cycle stored none."""
    from airflow.sdk.exceptions import AirflowSkipException

    from pipeline.tasks import new_relevant_count

    count = new_relevant_count(summary)
    if not count:
        raise AirflowSkipException("no new relevant articles: nothing to alert")
    outlet_events[NEW_STORIES].extra = {"run_id": summary.get("run_id"), "relevant": count}
    return count


def prepare_process_pool(context: Any = None) -> None:
    """Make a task process fit to start the extraction process pool.

    Two things in an Airflow task process get in the way of `multiprocessing`:

    - The main module is the `airflow` console script, which new pool workers
      would run again (forkserver and spawn re-run `__main__` by path): that
      imports and configures Airflow in every worker, slow at best, and fatal
      under Celery, whose task processes get no metadata-DB settings. Naming the
      module the script runs (`airflow.__main__`) makes the workers skip it.
    - Under Celery's prefork pool the task is forked from a billiard pool process,
      which made itself multiprocessing's current process: a daemon (no children
      allowed) with a key multiprocessing cannot hand to a forkserver child. The
      task process is the root of its own tree (Airflow supervises it, and the
      pool is closed before the task returns), so it gets a main process's settings.
    """
    import importlib.util
    import sys
    from multiprocessing import process

    main = sys.modules["__main__"]
    if getattr(main, "__spec__", None) is None and \
            os.path.basename(getattr(main, "__file__", "") or "") == "airflow":
        main.__spec__ = importlib.util.find_spec("airflow.__main__")
    current = process.current_process()
    if type(current).__module__.startswith("billiard"):
        current._config = {"authkey": process.AuthenticationString(os.urandom(32)),
                           "semprefix": "/mp"}


# --- failure callbacks --------------------------------------------------------------------


def record_failure(context: Any) -> None:
    _record(context, will_retry=False)


def record_retry(context: Any) -> None:
    _record(context, will_retry=True)


def _record(context: Any, *, will_retry: bool) -> None:
    """Log the failure and write it to `task_failures` in the pipeline database."""
    ti = context["ti"]
    error = context.get("exception")
    text = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
    log.error("newsmon: %s.%s (run %s, map %s, try %s) failed%s: %s", ti.dag_id, ti.task_id,
              ti.run_id, ti.map_index, ti.try_number, ", will retry" if will_retry else "", text)
    try:
        from pipeline.tasks import record_task_failure

        record_task_failure(
            task_settings(), dag_id=ti.dag_id, task_id=ti.task_id, run_id=ti.run_id,
            map_index=ti.map_index if ti.map_index is not None else -1,
            try_number=ti.try_number, will_retry=will_retry, error=text,
            log_url=getattr(ti, "log_url", None),
        )
    except Exception as exc:  # noqa: BLE001 (the database may be why the task failed)
        log.warning("newsmon: could not record the failure in task_failures: %s", exc)
