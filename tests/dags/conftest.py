"""Fixtures for the DAG tests: an Airflow home with a migrated metadata DB, loopback feeds.

Airflow runs in subprocesses only (`airflow ...` next to this interpreter): importing
it sets up its own logging and configuration, which must not leak into other tests.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

REPO = Path(__file__).resolve().parents[2]
DAGS_DIR = REPO / "dags"
AIRFLOW = Path(sys.executable).parent / "airflow"
NETWORK_POOL = "newsmon_network"



def require_airflow() -> None:
    """Skip the calling module when Airflow is not installed next to this interpreter."""
    if importlib.util.find_spec("airflow") is None or not AIRFLOW.exists():
        pytest.skip("apache-airflow is not installed (pip install -e '.[airflow]')",
                    allow_module_level=True)


@dataclass(frozen=True, slots=True)
class AirflowRun:
    """One finished `airflow ...` command, its output kept in a file."""

    returncode: int
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-lines:])

    @property
    def dag_run_state(self) -> str | None:
        """The state `airflow dags test` reports for the run it made."""
        for line in reversed(self.output.splitlines()):
            if "DagRun Finished" in line and "state=" in line:
                return line.split("state=", 1)[1].split(",", 1)[0].strip()
        return None


def base_env(home: Path) -> dict[str, str]:
    """This process's environment without AIRFLOW_*/NEWSMON_*, plus an Airflow home."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "NEWSMON_"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "NEWSMON_HOME": str(home / "newsmon"),
        # A failing task must fail the test now, not after minutes of backoff.
        "NEWSMON_TASK_RETRIES": "0",
    })
    return env


def airflow(*args: str, env: dict[str, str], log: Path, timeout: float = 600) -> AirflowRun:
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run([str(AIRFLOW), *args], check=False, env=env, stdout=out,
                              stderr=subprocess.STDOUT, timeout=timeout, cwd=log.parent)
    return AirflowRun(returncode=done.returncode, log=log)


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An Airflow home whose SQLite metadata DB is migrated once per session."""
    home = tmp_path_factory.mktemp("airflow")
    env = base_env(home)
    migrated = airflow("db", "migrate", env=env, log=home / "db-migrate.log")
    assert migrated.returncode == 0, migrated.tail()
    pool = airflow("pools", "set", NETWORK_POOL, "4", "newsmon network work", env=env,
                   log=home / "pools.log")
    assert pool.returncode == 0, pool.tail()
    return env


@pytest.fixture(scope="module")
def module_db_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """A migrated database shared by the tests of one module (one ingest run feeds several)."""
    name = f"newsmon_dag_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template_db)))
    params = psycopg.conninfo.conninfo_to_dict(pg_admin_url)
    params["dbname"] = name
    try:
        yield psycopg.conninfo.make_conninfo(**params)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


@dataclass(frozen=True, slots=True)
class DemoFeeds:
    sources_file: Path
    hosts: tuple[str, ...]


@pytest.fixture(scope="module")
def demo_feeds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoFeeds]:
    """The demo site's three feeds on two loopback hosts, so a cycle has two shards."""
    from pipeline.demo import FEEDS, SITE_DIR
    from pipeline.demo.server import serve_directory

    directory = tmp_path_factory.mktemp("feeds")
    with ExitStack() as stack:
        first = stack.enter_context(serve_directory(SITE_DIR, host="127.0.0.1"))
        second = stack.enter_context(serve_directory(SITE_DIR, host="127.0.0.2"))
        bases = [first, first, second]
        path = directory / "sources.toml"
        path.write_text("".join(
            f'[[sources]]\nname = "{name}"\nurl = "{base}{feed}"\nlanguage = "{lang}"\n\n'
            for base, (name, feed, lang) in zip(bases, FEEDS, strict=True)
        ), encoding="utf-8")
        yield DemoFeeds(sources_file=path, hosts=(first, second))
