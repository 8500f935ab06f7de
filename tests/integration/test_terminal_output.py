"""Hostile text stored in the database reaches the terminal as visible escapes.

A title, source name, error or subscriber name carrying an OSC 8 hyperlink and a
clear-screen sequence goes through every command that prints stored text; the output
holds neither ESC nor BEL, and shows what the text was.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from pipeline.cli.alerts import subscribers
from pipeline.cli.main import _print_summary
from pipeline.cli.research import search_command, sql_command
from pipeline.cli.sources import sources_group
from pipeline.config import Settings
from pipeline.ingest.cycle import RunSummary
from pipeline.models import Source
from pipeline.store.sources import add_source
from tests.support.newsrows import add_article, add_subscriber_row

LINK = "\x1b]8;;http://evil\x07click\x1b]8;;\x07"
CLEAR = "\x1b[2J"
# What the output shows instead: the same characters, the controls written as escapes.
LINK_SHOWN = "\\x1b]8;;http://evil\\x07click\\x1b]8;;\\x07"
CLEAR_SHOWN = "\\x1b[2J"


def assert_inert(output: str) -> None:
    assert "\x1b" not in output and "\x07" not in output, repr(output)
    assert LINK_SHOWN in output and CLEAR_SHOWN in output, output


@pytest.fixture
def cli_settings(settings: Settings, db_url: str, tmp_path: Path) -> Settings:
    sources_file = tmp_path / "sources.toml"
    sources_file.write_text("sources = []\n", encoding="utf-8")
    return settings.replace(database_url=db_url, sources_file=sources_file)


@pytest.fixture
def conn(db_url: str):
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


def run(command, settings: Settings, *args: str):
    done = CliRunner().invoke(command, list(args), obj=settings, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    return done


def test_sql_and_search_show_a_hostile_title_as_escapes(cli_settings, conn) -> None:
    add_article(conn, title=f"Maduro {LINK} {CLEAR}", url="https://a.example/1",
                site_name=f"Wire {CLEAR}", now=datetime(2026, 11, 14, tzinfo=UTC))

    table = run(sql_command, cli_settings, "SELECT title FROM articles")
    hits = run(search_command, cli_settings, "Maduro")

    assert_inert(table.output)
    assert_inert(hits.output)
    assert "Wire \\x1b[2J" in hits.output  # the outlet too


def test_sources_list_and_check_show_hostile_names_and_errors_as_escapes(
        cli_settings, conn) -> None:
    assert add_source(conn, Source(name=f"Evil {LINK}", url="http://127.0.0.1:9/feed"))
    conn.execute("UPDATE sources SET status = 'failing', last_error = %s, error_streak = 1",
                  (f"fetch: {CLEAR} bad",))
    conn.execute("""INSERT INTO fetch_log (source_id, status, duration_ms, error_message)
                    SELECT id, 'error', 5, %s FROM sources""", (f"fetch: {CLEAR} bad",))

    listed = run(sources_group, cli_settings, "list")
    checked = run(sources_group, cli_settings, "check")

    assert "\x1b" not in listed.output and LINK_SHOWN in listed.output, listed.output
    assert_inert(checked.output)


def test_subscribers_list_shows_a_hostile_name_as_escapes_in_its_own_column(
        cli_settings, conn) -> None:
    add_subscriber_row(conn, "ana@example.org", created_at=datetime(2026, 11, 1, tzinfo=UTC),
                       name=f"Ana\t{LINK}\n{CLEAR}")

    listed = run(subscribers, cli_settings, "list")

    assert_inert(listed.output)
    line, = listed.output.splitlines()  # a newline in the name does not start a row
    assert line.split("\t")[2] == f"Ana\\t{LINK_SHOWN}\\n{CLEAR_SHOWN}"


def test_run_summary_shows_hostile_errors_as_escapes(capsys) -> None:
    _print_summary(RunSummary(run_id=1, errors=[f"http://a.example/1: extract: {LINK}{CLEAR}",
                                                "[link=http://evil]markup[/link]"]))

    printed = capsys.readouterr().err
    assert_inert(printed)
    assert "[link=http://evil]markup[/link]" in printed  # rich markup shown, not obeyed
