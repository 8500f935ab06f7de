"""The `newsmon` console script as a user runs it: real processes, real servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from pipeline.demo import SITE_DIR, write_sources_file
from pipeline.demo.server import serve_directory
from pipeline.store.connection import huge_pages_advice, memory_settings, shared_buffers_mb

NEWSMON = [sys.executable, "-m", "pipeline.cli"]


def newsmon(*args: str, env: dict[str, str], stdin: str | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([*NEWSMON, *args], env=env, input=stdin, capture_output=True, check=False,
                          text=True, timeout=timeout)


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")},
        "NEWSMON_HOME": str(tmp_path / "home"),
        "NEWSMON_DATABASE_URL": db_url,
        "NEWSMON_ALLOW_PRIVATE_NETWORKS": "1",
        "NEWSMON_EXTRACT_WORKERS": "1",
    }


def test_run_exits_zero_with_a_summary_even_when_a_source_fails(env, tmp_path) -> None:
    with serve_directory(SITE_DIR) as base_url:
        sources = write_sources_file(base_url, tmp_path)
        sources.write_text(sources.read_text()
                           + '[[sources]]\nname = "dead"\nurl = "http://127.0.0.1:9/x"\n')
        done = newsmon("run", "--sources", str(sources), "--json", env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["sources_failed"] == 1
    assert summary["new_articles"] == 7
    assert summary["relevant"] == 3


def test_run_without_a_database_exits_non_zero(env, tmp_path) -> None:
    env["NEWSMON_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:9/none"
    done = newsmon("run", env=env)
    assert done.returncode == 2
    assert "db: cannot connect" in done.stderr


def test_run_rejects_a_broken_sources_file(env, tmp_path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[[sources]]\nurl = 'http://example.org/feed'\n")
    done = newsmon("run", "--sources", str(broken), env=env)
    assert done.returncode != 0
    assert "lacks 'name'" in done.stderr


def test_extract_prints_the_article_as_json(env) -> None:
    page = SITE_DIR / "diario-del-llano/2026/11/regimen-ejercicios-militares.html"
    done = newsmon("extract", str(page), "--url", "http://diario.example/x", env=env)
    assert done.returncode == 0, done.stderr
    article = json.loads(done.stdout)
    assert article["title"].startswith("El régimen de Maduro anuncia")
    assert "Padrino López" in article["text"]
    assert "Most read" not in article["text"]
    assert article["lang"] == "es"
    assert article["published_at"].startswith("2026-11-24")
    assert set(article) == {"title", "text", "author", "published_at", "lang", "site_name"}


def test_match_reads_jsonl_and_writes_one_verdict_per_line(env) -> None:
    lines = "\n".join(json.dumps(x) for x in [
        {"id": "a", "title": "Tren de Aragua leader arrested in Colombia",
         "text": "Police arrested a leader of the Tren de Aragua gang, the Venezuelan "
                 "criminal organisation, in Bogotá on Monday."},
        {"id": "b", "title": "Mango harvest", "text": "The mangoes are ripe this week."},
    ])
    done = newsmon("match", "-", env=env, stdin=lines)
    assert done.returncode == 0, done.stderr
    verdicts = [json.loads(line) for line in done.stdout.splitlines()]
    assert [v["id"] for v in verdicts] == ["a", "b"]
    assert verdicts[0]["relevant"] is True and verdicts[0]["evidence"]
    assert verdicts[1]["relevant"] is False


def test_db_url_starts_the_embedded_server_and_psql_can_use_it(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")}
    env["NEWSMON_HOME"] = str(tmp_path / "home")
    done = newsmon("db", "url", env=env)
    try:
        assert done.returncode == 0, done.stderr
        url = done.stdout.strip()
        with psycopg.connect(url) as conn:
            tables = {r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
            memory = memory_settings(conn)
            # the owner login, not the superuser: the pipeline cannot run programs
            role = conn.execute("""SELECT rolsuper, pg_has_role(oid, 'newsmon_owner', 'MEMBER')
                                   FROM pg_roles WHERE rolname = current_user""").fetchone()
        assert role == (False, True)
        assert {"articles", "sources", "matches"} <= tables
        # sized for this machine on first start, not PostgreSQL's 128 MB for any machine
        assert memory["shared_buffers_mb"] == shared_buffers_mb()
        advice = huge_pages_advice(**memory)
        assert (tmp_path / "home" / "pg" / "PG_VERSION").exists()
        # the operator hears how to add huge pages when the server starts without them
        # (whether it does depends on this machine's vm.nr_hugepages), and only then
        if advice:
            assert advice in done.stderr
        else:
            assert "huge pages" not in done.stderr
        again = newsmon("db", "url", env=env)
        assert again.stdout.strip() == url and "huge pages" not in again.stderr
        # researchers' SQL runs on the reader login the server was given
        who = newsmon("sql", "SELECT session_user", env=env)
        assert who.returncode == 0 and "newsmon_research" in who.stdout, who.stderr
    finally:
        stopped = newsmon("db", "stop", env=env)
    assert stopped.stdout.strip() == "stopped"
    assert not (tmp_path / "home" / "pg" / "postmaster.pid").exists()
