"""Distributed smoke test: Airflow with the CeleryExecutor, as separate local processes.

Runs when Redis answers on 127.0.0.1:6379 (CI provides one), skips otherwise. The
scheduler, dag-processor, api-server and one Celery worker start against a
PostgreSQL metadata database created for the test; `newsmon_ingest` is triggered
and must succeed, its shards executed by the worker, within a bounded time.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.dags.conftest import (
    AIRFLOW,
    NETWORK_POOL,
    DemoFeeds,
    airflow,
    base_env,
    require_airflow,
)

require_airflow()

REDIS = ("127.0.0.1", 6379)
STARTUP_TIMEOUT_S = 240
RUN_TIMEOUT_S = 420


def redis_answers() -> bool:
    try:
        with closing(socket.create_connection(REDIS, timeout=1)) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not redis_answers(),
                                reason="no Redis on 127.0.0.1:6379 for the Celery broker")


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, check: Callable[[], object], *, timeout: float,
             alive: Callable[[], None]) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive()
        if result := check():
            return result
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def forget_queue(queue: str) -> None:
    """Remove the broker's records of the test's queue (Celery leaves its bindings behind)."""
    import redis

    client = redis.Redis(host=REDIS[0], port=REDIS[1])
    keys = list(client.scan_iter(match=f"*{queue}*"))
    if keys:
        client.delete(*keys)
    client.close()


class Processes:
    """Airflow components started as local processes, each in its own process group."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str) -> None:
        log = (self.logs / f"{name}.log").open("w", encoding="utf-8")
        self.running[name] = subprocess.Popen(
            [str(AIRFLOW), *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def check_alive(self) -> None:
        for name, proc in self.running.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        text = (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        for proc in self.running.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.running.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def metadata_db(pg_admin_url: str) -> Iterator[dict[str, str]]:
    """A PostgreSQL database for Airflow's metadata (Celery needs more than SQLite)."""
    name = f"airflow_smoke_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = psycopg.conninfo.conninfo_to_dict(pg_admin_url)
    auth = params.get("user", "postgres") + (f":{params['password']}"
                                             if params.get("password") else "")
    host, port = params.get("host", "127.0.0.1"), params.get("port", 5432)
    if host.startswith("/"):  # a Unix socket directory (the embedded server)
        where = f"{auth}@/{name}?host={host}&port={port}"
    else:
        where = f"{auth}@{host}:{port}/{name}"
    try:
        yield {"sync": f"postgresql+psycopg://{where}", "async": f"postgresql+psycopg_async://{where}",
               "libpq": psycopg.conninfo.make_conninfo(pg_admin_url, dbname=name)}
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


def test_ingest_runs_on_celery_workers(tmp_path: Path, metadata_db: dict[str, str], db_url: str,
                                       demo_feeds: DemoFeeds) -> None:
    api_port = free_port()
    queue = f"newsmon-smoke-{uuid.uuid4().hex[:8]}"  # no other worker on this Redis takes it
    env = {
        **base_env(tmp_path / "airflow"),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_db["sync"],
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata_db["async"],
        "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS[0]}:{REDIS[1]}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_db["sync"],
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        # Only the triggered run: unpausing would otherwise start a scheduled one too.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "NEWSMON_DATABASE_URL": db_url,
        "NEWSMON_SOURCES": str(demo_feeds.sources_file),
        "NEWSMON_ALLOW_PRIVATE_NETWORKS": "1",
        "NEWSMON_EXTRACT_WORKERS": "1",
    }
    home = tmp_path / "airflow"
    home.mkdir()
    for step in (("db", "migrate"), ("pools", "set", NETWORK_POOL, "2", "newsmon network work")):
        done = airflow(*step, env=env, log=home / f"{step[0]}.log")
        assert done.returncode == 0, done.tail()

    procs = Processes(env, home)
    with ExitStack() as stack:
        stack.callback(forget_queue, queue)
        stack.callback(procs.stop)
        procs.start("api-server", "api-server", "--port", str(api_port))
        procs.start("scheduler", "scheduler")
        procs.start("dag-processor", "dag-processor")
        procs.start("worker", "celery", "worker", "--queues", queue, "--concurrency", "2")

        def meta(query: str, *args: object) -> list[tuple]:
            with psycopg.connect(metadata_db["libpq"]) as conn:
                return conn.execute(query, args).fetchall()

        wait_for("the dag-processor to serialize newsmon_ingest",
                 lambda: meta("SELECT 1 FROM serialized_dag WHERE dag_id = 'newsmon_ingest'"),
                 timeout=STARTUP_TIMEOUT_S, alive=procs.check_alive)
        run_id = f"smoke__{uuid.uuid4().hex[:8]}"
        for step in (("dags", "trigger", "newsmon_ingest", "--run-id", run_id),
                     ("dags", "unpause", "newsmon_ingest")):
            done = airflow(*step, env=env, log=home / f"{step[1]}.log")
            assert done.returncode == 0, done.tail()

        def finished() -> str | None:
            rows = meta("SELECT state FROM dag_run WHERE run_id = %s", run_id)
            return rows[0][0] if rows and rows[0][0] in ("success", "failed") else None

        try:
            state = wait_for(f"dag run {run_id} to finish", finished, timeout=RUN_TIMEOUT_S,
                             alive=procs.check_alive)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- worker\n{procs.tail('worker')}\n--- scheduler\n"
                                 f"{procs.tail('scheduler')}") from None
        tasks = meta("""SELECT task_id, map_index, state, queue, hostname FROM task_instance
                        WHERE run_id = %s ORDER BY task_id, map_index""", run_id)
        assert state == "success", f"{tasks}\n--- worker\n{procs.tail('worker', 80)}"

    shards = [t for t in tasks if t[0] == "ingest_shard"]
    assert [(t[1], t[2], t[3]) for t in shards] == [(0, "success", queue), (1, "success", queue)]
    assert all(t[4] for t in shards)  # a worker host took each shard
    with psycopg.connect(db_url) as conn:
        run = conn.execute("SELECT status, summary FROM runs WHERE external_id LIKE %s",
                           (f"newsmon_ingest%{run_id}",)).fetchall()
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert [status for status, _ in run] == ["completed"]
    assert articles == run[0][1]["new_articles"] == 7
