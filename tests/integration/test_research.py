"""The researcher's views, worked queries, exports, `newsmon sql` and the schema document,
on a small newsroom seeded with plain SQL into a real PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipeline import research
from pipeline.cli.research import export_command, schema_doc_command, sql_command
from pipeline.config import Settings

QUERIES = Path(__file__).resolve().parents[2] / "sql" / "queries"

# (key, source, site_name, url, lang, published_at, story, relevant, {entity: mentions}, title)
ARTICLES = [
    ("a1", "El Pitazo", "El Pitazo", "https://elpitazo.net/sucesos/tda-capturados", "es",
     "2026-11-02 08:00", "tda", True, {"tren_de_aragua": 3}, "Capturan a cabecillas del TdA"),
    ("a2", "Miami Herald", "Miami Herald", "https://www.miamiherald.com/news/tda-arrests", "en",
     "2026-11-02 10:00", "tda", True, {"tren_de_aragua": 2}, "Tren de Aragua leaders arrested"),
    ("a3", "Reuters", "Reuters", "https://www.reuters.com/world/us-strike-boat", "en",
     "2026-11-03 09:00", "strike", True, {"us_boat_strikes": 2, "nicolas_maduro": 1},
     "US strike kills four aboard boat"),
    ("a4", "Miami Herald", "Miami Herald", "https://www.miamiherald.com/news/strike-boat", "en",
     "2026-11-03 07:30", "strike", True, {"us_boat_strikes": 1}, "Strike on boat off Venezuela"),
    ("a5", "El Pitazo", "El Pitazo", "https://elpitazo.net/politica/ejercicios", "es",
     "2026-11-04 12:00", "drills", True, {"nicolas_maduro": 4},
     "El régimen de Maduro anuncia ejercicios militares"),
    ("a6", "Efecto Cocuyo", None, "https://www.efectococuyo.com/politica/despliegue", "es",
     "2026-11-05 16:00", "drills", True, {"nicolas_maduro": 1, "tren_de_aragua": 1},
     "Maduro ordena despliegue; acusa al Tren de Aragua"),
    ("a7", "El Pitazo", "El Pitazo", "https://elpitazo.net/cocina/aguacate", "es",
     "2026-11-04 09:00", "avocado", False, {}, "Cómo saber si un aguacate está maduro"),
    ("a8", "Reuters", "Reuters", "https://www.reuters.com/world/tda-chile", "en",
     "2026-11-10 11:00", None, True, {"tren_de_aragua": 1}, "Chile extradites Tren de Aragua member"),
    ("a9", "Miami Herald", "Miami Herald", "https://www.miamiherald.com/local/bus", "en",
     None, None, False, {}, "Council approves new bus routes"),
]
# a9 has no publication time: discovered (and so dated) on 2026-11-04.
A9_DISCOVERED = "2026-11-04 15:00"
SOURCES = {"El Pitazo": "es", "Miami Herald": "en", "Reuters": "en", "Efecto Cocuyo": "es"}
TRICKY_TEXT = 'Dijo: "basta, ya"; y luego —\nsegunda línea, ñandú, 100% €'


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None


def seed_newsroom(conn: psycopg.Connection) -> dict[str, int]:
    """Insert the newsroom; return article ids by key."""
    source_ids = {name: conn.execute(
        "INSERT INTO sources (name, url, origin_url, language) VALUES (%s, %s, %s, %s) "
        "RETURNING id", (name, f"https://feeds.example/{name.replace(' ', '-')}",
                         f"https://feeds.example/{name.replace(' ', '-')}", lang)).fetchone()[0]
        for name, lang in SOURCES.items()}
    ids: dict[str, int] = {}
    stories: dict[str, int] = {}
    for key, source, site, url, lang, published, story, relevant, entities, title in ARTICLES:
        text = f"{title}. {TRICKY_TEXT}" if key == "a1" else f"{title}. Cuerpo del artículo."
        article_id = conn.execute(
            """INSERT INTO articles (url, canonical_url, source_id, title, text, lang, site_name,
                                     published_at, discovered_at, content_hash)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (url, url, source_ids[source], title, text, lang, site, _ts(published),
             _ts(published or A9_DISCOVERED), f"hash-{key}")).fetchone()[0]
        ids[key] = article_id
        if story and story not in stories:
            stories[story] = conn.execute(
                "INSERT INTO stories (representative_id, first_seen_at) VALUES (%s, %s) "
                "RETURNING id", (article_id, _ts(published))).fetchone()[0]
        if story:
            conn.execute("UPDATE articles SET story_id = %s WHERE id = %s",
                         (stories[story], article_id))
        conn.execute(
            "INSERT INTO matches (article_id, watchlist, relevant, score) VALUES (%s, %s, %s, %s)",
            (article_id, "venezuela", relevant, 3.5 if relevant else 0.4))
        for offset, (entity, mentions) in enumerate(entities.items()):
            conn.execute(
                """INSERT INTO article_entities (article_id, watchlist, entity_id, mentions,
                                                 first_offset) VALUES (%s, %s, %s, %s, %s)""",
                (article_id, "venezuela", entity, mentions, offset * 10))
    conn.execute("""UPDATE stories s SET size = (SELECT count(*) FROM articles a
                                             WHERE a.story_id = s.id),
                                      outlets = (SELECT array_agg(DISTINCT newsmon_outlet(
                                                     a.site_name, a.url))
                                                 FROM articles a WHERE a.story_id = s.id)""")
    # Runrunes ran a verbatim copy of a5: dedup folded it into a5, naming only the outlet.
    conn.execute("UPDATE stories SET outlets = outlets || '{Runrunes}' WHERE id = %s",
                 (stories["drills"],))
    return ids


@pytest.fixture
def newsroom(db_url: str) -> dict[str, int]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        ids = seed_newsroom(conn)
        research.refresh_views(conn)
    return ids


@pytest.fixture
def cli_settings(settings: Settings, db_url: str) -> Settings:
    return settings.replace(database_url=db_url)


def query(db_url: str, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(statement, params).fetchall()


# --- views -----------------------------------------------------------------------------------


def test_relevant_articles_carry_source_outlet_story_and_entities(db_url, newsroom) -> None:
    rows = query(db_url, """SELECT article_id, source, outlet, lang, entities, story_size,
                                   is_story_representative
                            FROM relevant_articles ORDER BY article_id""")
    by_id = {row[0]: row[1:] for row in rows}
    assert newsroom["a7"] not in by_id and newsroom["a9"] not in by_id  # irrelevant
    assert len(by_id) == 7
    assert by_id[newsroom["a3"]] == ("Reuters", "Reuters", "en", ["us_boat_strikes", "nicolas_maduro"], 2,
                                     True)
    # No site name: the outlet is the host without www.
    assert by_id[newsroom["a6"]][:2] == ("Efecto Cocuyo", "efectococuyo.com")
    assert by_id[newsroom["a6"]][3] == ["nicolas_maduro", "tren_de_aragua"]
    assert by_id[newsroom["a6"]][5] is False  # a5 represents the story


def test_daily_coverage_by_outlet_language_and_entity(db_url, newsroom) -> None:
    outlet = query(db_url, """SELECT day, outlet, articles, relevant_articles, relevant_stories
                              FROM coverage_by_outlet_daily WHERE watchlist = 'venezuela'
                              ORDER BY day, outlet""")
    assert (date(2026, 11, 4), "El Pitazo", 2, 1, 1) in outlet  # the avocado is not relevant
    assert (date(2026, 11, 4), "Miami Herald", 1, 0, 0) in outlet  # undated: its discovery day
    assert sum(row[2] for row in outlet) == 9
    assert sum(row[3] for row in outlet) == 7

    language = query(db_url, """SELECT lang, sum(articles), sum(relevant_articles)
                                FROM coverage_by_language_daily GROUP BY lang ORDER BY lang""")
    assert language == [("en", 5, 4), ("es", 4, 3)]

    entity = query(db_url, """SELECT day, articles, relevant_articles, mentions, outlets
                              FROM coverage_by_entity_daily
                              WHERE entity_id = 'tren_de_aragua' ORDER BY day""")
    assert entity == [(date(2026, 11, 2), 2, 2, 5, 2), (date(2026, 11, 5), 1, 1, 1, 1),
                      (date(2026, 11, 10), 1, 1, 1, 1)]


def test_story_views_name_outlets_and_the_first_to_report(db_url, newsroom) -> None:
    stories = query(db_url, """SELECT title, articles, outlet_count, outlets, languages,
                                      first_outlet, relevant_to
                               FROM story_overview ORDER BY first_published_at""")
    # Lists are sorted in the server's collation; compare them as sets.
    assert [(t, n, c, set(o), set(lang), f, r) for t, n, c, o, lang, f, r in stories] == [
        ("Capturan a cabecillas del TdA", 2, 2, {"El Pitazo", "Miami Herald"}, {"en", "es"},
         "El Pitazo", ["venezuela"]),
        # a4 (Miami Herald) was published before a3 (Reuters), though a3 represents it.
        ("US strike kills four aboard boat", 2, 2, {"Miami Herald", "Reuters"}, {"en"},
         "Miami Herald", ["venezuela"]),
        ("Cómo saber si un aguacate está maduro", 1, 1, {"El Pitazo"}, {"es"}, "El Pitazo", []),
        # Runrunes' folded verbatim copy counts as an outlet, without an article of its own.
        ("El régimen de Maduro anuncia ejercicios militares", 2, 3,
         {"El Pitazo", "efectococuyo.com", "Runrunes"}, {"es"}, "El Pitazo", ["venezuela"]),
    ]
    outlets = query(db_url, """SELECT outlet, first_published_at FROM story_outlets
                               WHERE story_id = (SELECT story_id FROM articles WHERE id = %s)
                               ORDER BY first_published_at""", (newsroom["a3"],))
    assert outlets == [("Miami Herald", _ts("2026-11-03 07:30")),
                       ("Reuters", _ts("2026-11-03 09:00"))]


def test_materialised_views_show_new_rows_after_a_refresh(db_url, newsroom) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""INSERT INTO articles (url, canonical_url, title, lang, published_at,
                                              content_hash)
                        VALUES ('https://x.example/n', 'https://x.example/n', 'New', 'pt',
                                '2026-11-20 10:00+00', 'new')""")
        before = conn.execute("SELECT count(*) FROM coverage_by_language_daily "
                              "WHERE lang = 'pt'").fetchone()[0]
        durations = research.refresh_views(conn)
        after = conn.execute("SELECT articles FROM coverage_by_language_daily "
                             "WHERE lang = 'pt'").fetchall()
        recorded = conn.execute("SELECT view_name FROM view_refreshes ORDER BY 1").fetchall()
    assert before == 0 and after == [(1,)]
    assert set(durations) == {"coverage_by_entity_daily", "coverage_by_language_daily",
                              "coverage_by_outlet_daily", "story_outlets", "story_overview"}
    assert [r[0] for r in recorded] == sorted(durations)


def test_feed_health_reports_streaks_volume_and_latency(db_url) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        flaky, steady, _silent = (conn.execute(
            "INSERT INTO sources (name, url, origin_url) VALUES (%s, %s, %s) RETURNING id",
            (name, f"https://{name}.example/feed", f"https://{name}.example/feed")).fetchone()[0]
            for name in ("flaky", "steady", "silent"))
        polls = [  # source, hours ago, status, ms, new items, error
            (flaky, 3, "ok", 200, 5, None), (flaky, 2, "error", 300, 0, "fetch: timeout"),
            (flaky, 1, "error", 400, 0, "fetch: HTTP 503"),
            (steady, 240, "error", 900, 0, "fetch: old failure"),
            (steady, 2, "ok", 100, 7, None), (steady, 1, "not-modified", 50, 0, None),
            (steady, 0, "skipped", 0, 0, "skipped: no API key")]  # requested nothing: no poll
        for source, hours, status, ms, new, error in polls:
            conn.execute(
                """INSERT INTO fetch_log (source_id, started_at, status, duration_ms, items_new,
                                          error_message)
                   VALUES (%s, now() - make_interval(hours => %s), %s, %s, %s, %s)""",
                (source, hours, status, ms, new, error))
    rows = query(db_url, """SELECT name, last_status, error_streak, last_error, polls_7d,
                                   errors_7d, new_items_per_day_7d, median_poll_ms_7d,
                                   last_success_at IS NOT NULL, health
                            FROM feed_health ORDER BY name""")
    assert rows == [
        ("flaky", "error", 2, "fetch: HTTP 503", 3, 2, Decimal("0.71"), 300.0, True, "failing"),
        ("silent", None, 0, None, 0, 0, 0, None, False, "never-polled"),
        ("steady", "not-modified", 0, "fetch: old failure", 2, 0, 1, 75.0, True, "ok"),
    ]


# --- worked queries --------------------------------------------------------------------------


def run_query_file(db_url: str, name: str) -> list[tuple]:
    return query(db_url, (QUERIES / name).read_text(encoding="utf-8"))


def test_tren_de_aragua_coverage_by_outlet_per_week(db_url, newsroom) -> None:
    rows = run_query_file(db_url, "tren_de_aragua_by_outlet_weekly.sql")
    assert [row[0] for row in rows] == sorted(row[0] for row in rows)  # by week
    assert set(rows) == {  # within a week, outlets tie at one article each
        (date(2026, 11, 2), "El Pitazo", 1, 1),
        (date(2026, 11, 2), "Miami Herald", 1, 1),
        (date(2026, 11, 2), "efectococuyo.com", 1, 1),
        (date(2026, 11, 9), "Reuters", 1, 1),
    }
    assert len(rows) == 4


def test_first_outlet_to_report_each_story(db_url, newsroom) -> None:
    rows = run_query_file(db_url, "first_outlet_per_story.sql")
    assert [(title, first, followers) for _, title, first, _, followers, _ in rows] == [
        ("Capturan a cabecillas del TdA", "El Pitazo", 1),
        ("US strike kills four aboard boat", "Miami Herald", 1),
        ("El régimen de Maduro anuncia ejercicios militares", "El Pitazo", 2),
    ]  # the avocado story is not relevant; Runrunes followed with a verbatim copy
    assert rows[1][5] == _ts("2026-11-03 09:00") - _ts("2026-11-03 07:30")


def test_stories_covered_in_spanish_but_not_english(db_url, newsroom) -> None:
    rows = run_query_file(db_url, "stories_spanish_not_english.sql")
    assert [(title, set(outlets)) for _, title, outlets, _, _ in rows] == [
        ("El régimen de Maduro anuncia ejercicios militares",
         {"El Pitazo", "efectococuyo.com", "Runrunes"})]


def test_maduro_mentions_over_time_ignore_the_ripe_avocado(db_url, newsroom) -> None:
    # a3 (1 mention) + a5 (4) + a6 (1); a7 ("maduro" = ripe) is irrelevant.
    assert run_query_file(db_url, "maduro_mentions_weekly.sql") == [(date(2026, 11, 2), 3, 2, 6)]


def test_outlet_speed_and_entity_pairs(db_url, newsroom) -> None:
    speed = {row[0]: row[1:] for row in run_query_file(db_url, "outlet_speed.sql")}
    assert speed["El Pitazo"] == (2, 2, 0.0)
    assert speed["Reuters"] == (1, 0, 1.5)
    assert speed["efectococuyo.com"] == (1, 0, 28.0)
    pairs = run_query_file(db_url, "entity_pairs.sql")
    assert pairs == [("nicolas_maduro", "tren_de_aragua", 1, 1),
                     ("nicolas_maduro", "us_boat_strikes", 1, 1)]


def test_the_search_example_runs(db_url, newsroom) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE articles SET text = 'Denuncian ataques contra la soberanía.' "
                     "WHERE id = %s", (newsroom["a5"],))
    rows = run_query_file(db_url, "search_example.sql")
    assert [row[0] for row in rows] == [newsroom["a5"]]
    assert "<b>ataques</b>" in rows[0][4] and "<b>soberanía</b>" in rows[0][4]


def test_every_worked_query_is_tested() -> None:
    tested = {"tren_de_aragua_by_outlet_weekly.sql", "first_outlet_per_story.sql",
              "stories_spanish_not_english.sql", "maduro_mentions_weekly.sql",
              "outlet_speed.sql", "entity_pairs.sql", "search_example.sql"}
    assert {p.name for p in QUERIES.glob("*.sql")} == tested


# --- exports ---------------------------------------------------------------------------------


def expected_rows(db_url: str, ids: list[int]) -> list[dict]:
    """What an export must contain, read straight from the tables."""
    rows = query(db_url, """
        SELECT a.id, a.title, a.text, a.lang, a.url, a.published_at, m.relevant,
               coalesce((SELECT array_agg(entity_id ORDER BY entity_id) FROM article_entities e
                         WHERE e.article_id = a.id), '{}')
        FROM articles a JOIN matches m ON m.article_id = a.id
        WHERE a.id = ANY(%s) ORDER BY a.published_at, a.id""", (ids,))
    keys = ("article_id", "title", "text", "lang", "url", "published_at", "relevant", "entities")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def normalise(record: dict) -> dict:
    """The compared fields of an exported record, typed like the database's."""
    published = record["published_at"]
    if isinstance(published, str):
        published = datetime.fromisoformat(published) if published else None
    entities = record["entities"]
    if isinstance(entities, str):
        entities = entities.split(";") if entities else []
    relevant = record["relevant"]
    if isinstance(relevant, str):
        relevant = relevant == "True"
    return {"article_id": int(record["article_id"]), "title": record["title"],
            "text": record["text"], "lang": record["lang"], "url": record["url"],
            "published_at": published, "relevant": relevant, "entities": list(entities)}


def read_back(fmt: str, data: bytes) -> list[dict]:
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    if fmt == "jsonl":
        return [json.loads(line) for line in data.decode("utf-8").splitlines()]
    return pq.read_table(io.BytesIO(data)).to_pylist()


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_export_reads_back_equal_to_the_database(db_url, newsroom, fmt) -> None:
    out = io.BytesIO()
    with psycopg.connect(db_url) as conn:
        # A batch smaller than the result: several round trips through the server cursor.
        count = research.export_articles(conn, out, fmt=fmt, batch_size=2)
    records = read_back(fmt, out.getvalue())
    assert count == len(records) == 9
    assert [normalise(r) for r in records] == expected_rows(db_url, list(newsroom.values()))
    tricky = next(r for r in records if int(r["article_id"]) == newsroom["a1"])
    assert TRICKY_TEXT in tricky["text"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_export_window_and_relevance_through_the_command(cli_settings, db_url, newsroom,
                                                        tmp_path, fmt) -> None:
    target = tmp_path / f"out.{fmt}"
    done = CliRunner().invoke(export_command, [
        "--since", "2026-11-03", "--until", "2026-11-04", "--format", fmt, "--relevant",
        "--output", str(target)], obj=cli_settings)
    assert done.exit_code == 0, done.output
    records = [normalise(r) for r in read_back(fmt, target.read_bytes())]
    # a7 is irrelevant, a9 (undated, discovered on the 4th) too; a6 is on the 5th.
    wanted = [newsroom[k] for k in ("a3", "a4", "a5")]
    assert records == expected_rows(db_url, wanted)
    assert "exported 3 article(s)" in done.stderr


def test_export_to_stdout_and_its_errors(cli_settings, newsroom) -> None:
    runner = CliRunner()
    done = runner.invoke(export_command, ["--format", "jsonl", "--since", "2026-11-10"],
                         obj=cli_settings)
    assert done.exit_code == 0, done.output
    assert [json.loads(line)["title"] for line in done.stdout.splitlines()] == [
        "Chile extradites Tren de Aragua member"]
    backwards = runner.invoke(export_command, ["--since", "2026-11-10", "--until", "2026-11-01"],
                              obj=cli_settings)
    assert backwards.exit_code != 0 and "--since is after --until" in backwards.output
    bad_date = runner.invoke(export_command, ["--since", "yesterday"], obj=cli_settings)
    assert bad_date.exit_code != 0 and "yesterday" in bad_date.output


# --- newsmon sql -----------------------------------------------------------------------------


def test_sql_prints_a_table_and_runs_query_files(cli_settings, newsroom) -> None:
    runner = CliRunner()
    done = runner.invoke(sql_command, ["SELECT title, lang FROM articles ORDER BY id LIMIT 2"],
                         obj=cli_settings)
    assert done.exit_code == 0, done.output
    assert "Capturan a cabecillas del TdA" in done.stdout and "title" in done.stdout
    assert "2 row(s)" in done.stderr
    from_file = runner.invoke(sql_command, ["--file", str(QUERIES / "entity_pairs.sql")],
                              obj=cli_settings)
    assert from_file.exit_code == 0, from_file.output
    assert "us_boat_strikes" in from_file.stdout
    capped = runner.invoke(sql_command, ["SELECT id FROM articles", "--max-rows", "3"],
                           obj=cli_settings)
    assert "3 row(s) (more rows exist" in capped.stderr


@pytest.mark.parametrize("statement", [
    "DELETE FROM articles",
    "SELECT 1; DELETE FROM articles",
    "WITH gone AS (DELETE FROM articles RETURNING id) SELECT count(*) FROM gone",
    "SET TRANSACTION READ WRITE",
    "COMMIT",
])
def test_sql_cannot_write(cli_settings, db_url, newsroom, statement) -> None:
    done = CliRunner().invoke(sql_command, [statement], obj=cli_settings)
    assert done.exit_code != 0
    assert "sql:" in done.output
    assert query(db_url, "SELECT count(*) FROM articles") == [(9,)]


def test_sql_reports_a_syntax_error_clearly(cli_settings) -> None:
    done = CliRunner().invoke(sql_command, ["SELEC 1"], obj=cli_settings)
    assert done.exit_code == 1
    assert 'sql: syntax error at or near "SELEC"' in done.output


# --- schema document -------------------------------------------------------------------------


def test_docs_schema_md_is_generated_from_the_current_schema(cli_settings, tmp_path) -> None:
    regenerated = tmp_path / "schema.md"
    done = CliRunner().invoke(schema_doc_command, ["--output", str(regenerated)],
                              obj=cli_settings)
    assert done.exit_code == 0, done.output
    assert regenerated.read_text(encoding="utf-8") == research.SCHEMA_DOC.read_text(
        encoding="utf-8"), "docs/schema.md is stale: run `newsmon db schema-doc`"


def test_schema_doc_check_fails_on_a_stale_document(cli_settings, tmp_path) -> None:
    doc = tmp_path / "schema.md"
    runner = CliRunner()
    assert runner.invoke(schema_doc_command, ["-o", str(doc)], obj=cli_settings).exit_code == 0
    assert runner.invoke(schema_doc_command, ["--check", "-o", str(doc)],
                         obj=cli_settings).exit_code == 0
    doc.write_text(doc.read_text().replace("Surrogate key.", "Edited by hand."))
    stale = runner.invoke(schema_doc_command, ["--check", "-o", str(doc)], obj=cli_settings)
    assert stale.exit_code == 1 and "out of date" in stale.stderr


def test_schema_doc_documents_views_and_reader_access(db_url) -> None:
    with psycopg.connect(db_url) as conn:
        text = research.render_schema_doc(conn)
    assert "| [subscribers](#subscribers) | table | no |" in text
    assert "| [relevant_articles](#relevant_articles) | view | yes |" in text
    assert "| is_story_representative | boolean | True for the one article" in text
    assert "newsmon_query(q text, lang text DEFAULT NULL::text) → tsquery" in text
