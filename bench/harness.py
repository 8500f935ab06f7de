"""What every figure needs: a PostgreSQL to write to, cycles run in child processes, timing.

The database is the embedded server (under a temporary NEWSMON_HOME, stopped at the end)
unless NEWSMON_DATABASE_URL names one. Each measurement gets a fresh database cloned
from a template migrated once, and every database the bench created is dropped at exit.

A cycle runs in a child process (`bench.child`) so that its peak memory is its own and a
sampler can follow its whole process tree (the extraction workers are grandchildren).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import psycopg
from psycopg import sql

from pipeline.config import load_settings
from pipeline.store import apply_migrations
from pipeline.store.connection import admin_database_url, stop_embedded

ROOT = Path(__file__).resolve().parents[1]
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def with_dbname(url: str, name: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["dbname"] = name
    return psycopg.conninfo.make_conninfo(**params)


class Databases:
    """Fresh migrated databases on one server; all dropped (and the embedded server
    stopped) on close."""

    def __init__(self) -> None:
        self._home = tempfile.TemporaryDirectory(prefix="newsmon-bench-")
        self._settings = load_settings(env={"NEWSMON_HOME": self._home.name,
                                            **_env("NEWSMON_DATABASE_URL")})
        self.embedded = self._settings.database_url is None
        # Creating databases takes the superuser (the pipeline's own login may not).
        self.admin_url = with_dbname(admin_database_url(self._settings), "postgres")
        self.template = f"bench_tpl_{uuid.uuid4().hex[:8]}"
        self._created: list[str] = []
        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.template)))
        self._created.append(self.template)
        with psycopg.connect(with_dbname(self.admin_url, self.template), autocommit=True) as conn:
            apply_migrations(conn)
            self.server_version = conn.execute("SHOW server_version").fetchone()[0]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fresh(self, label: str) -> str:
        name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
        self._admin(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(self.template)))
        self._created.append(name)
        return with_dbname(self.admin_url, name)

    def drop(self, url: str) -> None:
        name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        with contextlib.suppress(ValueError):
            self._created.remove(name)

    def close(self) -> None:
        for name in reversed(self._created):
            with contextlib.suppress(psycopg.Error):
                self.drop(with_dbname(self.admin_url, name))
        if self.embedded:
            with contextlib.suppress(Exception):
                stop_embedded(self._settings)
        self._home.cleanup()

    def _admin(self, statement: sql.Composable) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(statement)


def _env(name: str) -> dict[str, str]:
    value = os.environ.get(name)
    return {name: value} if value else {}


# -- child processes ------------------------------------------------------------------------

@dataclass(slots=True)
class TreeSample:
    """What the sampler saw of a process tree: peaks, and CPU per process."""

    peak_rss_bytes: int = 0
    peak_pss_bytes: int = 0
    cpu_s: dict[int, float] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)

    postgres_cpu_s: dict[int, float] = field(default_factory=dict)

    def cpu_summary(self, root: int) -> dict[str, float]:
        main = self.cpu_s.get(root, 0.0)
        others = sum(cpu for pid, cpu in self.cpu_s.items() if pid != root)
        return {"main_process_cpu_s": round(main, 2), "worker_processes_cpu_s": round(others, 2),
                "postgres_backends_cpu_s": round(sum(self.postgres_cpu_s.values()), 2)}


class TreeSampler:
    """Samples RSS/PSS and CPU of a process and all its descendants every `interval_s`."""

    def __init__(self, root: int, *, interval_s: float = 0.25, dbname: str | None = None) -> None:
        self.root = root
        self.interval_s = interval_s
        self.backends = _Backends(dbname) if dbname else None
        self.sample = TreeSample()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.take()
            self._stop.wait(self.interval_s)

    def take(self) -> None:
        rss = pss = 0
        for pid in descendants(self.root):
            try:
                rss += _rss_bytes(pid)
                pss += _pss_bytes(pid)
                self.sample.cpu_s[pid] = _cpu_seconds(pid)
            except (OSError, ValueError, IndexError):
                continue  # the process ended between listing and reading
        for pid in self.backends.pids() if self.backends else ():
            with contextlib.suppress(OSError, ValueError, IndexError):
                self.sample.postgres_cpu_s[pid] = _cpu_seconds(pid)
        self.sample.peak_rss_bytes = max(self.sample.peak_rss_bytes, rss)
        self.sample.peak_pss_bytes = max(self.sample.peak_pss_bytes, pss)


class _Backends:
    """PostgreSQL server processes serving one database (same machine only): their CPU
    is part of what a cycle costs."""

    def __init__(self, dbname: str) -> None:
        self.marker = f" {dbname} ".encode()
        self.known: dict[int, bool] = {}

    def pids(self) -> list[int]:
        ours = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            if pid not in self.known:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        line = f.read()
                except OSError:
                    continue
                self.known[pid] = line.startswith(b"postgres: ") and self.marker in line
            if self.known[pid]:
                ours.append(pid)
        return ours


def descendants(root: int) -> list[int]:
    """The process and all its descendants (children files of every thread)."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as f:
                    queue.extend(int(child) for child in f.read().split())
    return found


def _rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE_SIZE


def _pss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def run_child(task: dict[str, Any], *, timeout_s: float = 3600) -> dict[str, Any]:
    """Run one task of `bench.child` in a fresh interpreter; its JSON result, plus the
    process tree's peak memory and CPU as sampled from outside."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.child"], cwd=ROOT, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    dbname = None
    if task.get("db_url"):
        dbname = psycopg.conninfo.conninfo_to_dict(task["db_url"]).get("dbname")
    with TreeSampler(process.pid, dbname=dbname) as sampler:
        out, err = process.communicate(json.dumps(task), timeout=timeout_s)
    if process.returncode != 0:
        raise RuntimeError(f"bench: child task {task['mode']} failed:\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    sample = sampler.sample
    result["tree_peak_rss_mb"] = round(sample.peak_rss_bytes / 2**20, 1)
    result["tree_peak_pss_mb"] = round(sample.peak_pss_bytes / 2**20, 1)
    result["cpu"] = sample.cpu_summary(process.pid)
    return result


# -- numbers ----------------------------------------------------------------------------------

def median(values: list[float]) -> float:
    return statistics.median(values)


class Stopwatch:
    def __enter__(self) -> Self:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = time.perf_counter() - self.started
