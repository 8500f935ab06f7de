"""Full-text search in English and Spanish, accents ignored, ranked, with snippets; fuzzy
headline search; and user input that tries to be SQL stays harmless."""

from __future__ import annotations

import json
import random
import string
from datetime import UTC, date, datetime

import psycopg
import pytest
from click.testing import CliRunner

from pipeline.cli.research import search_command
from pipeline.config import Settings
from pipeline.research import ResearchError, search_articles, search_titles

# key -> (lang, title, text, published, relevant, entities)
ARTICLES = {
    "sovereignty": ("es", "Defensa de la soberanía nacional",
                    ("El gobierno denunció ataques contra embarcaciones en el Caribe y habló "
                     "de la soberanía del país frente al despliegue naval."), "2026-11-03", True,
                    ["nicolas_maduro"]),
    "strikes": ("en", "Strikes on boats near Venezuela",
                ("The attacks on suspected drug boats continued, officials in São Paulo "
                 "and Washington said."), "2026-11-04", True, ["us_boat_strikes"]),
    "avocado": ("es", "Cómo saber si un aguacate está maduro",
                "Un aguacate maduro cede un poco al presionarlo.", "2026-11-01", False, []),
    "regime": ("es", "Ejercicios militares",
               "El régimen de Nicolás Maduro anunció ejercicios militares en la costa.",
               "2026-11-05", True, ["nicolas_maduro"]),
    "council": ("en", "Council approves bus routes", "A routine attack of paperwork.",
                "2026-11-02", False, []),
}


@pytest.fixture
def archive(db_url: str) -> dict[str, int]:
    ids = {}
    with psycopg.connect(db_url, autocommit=True) as conn:
        for key, (lang, title, text, published, relevant, entities) in ARTICLES.items():
            url = f"https://news.example/{key}"
            ids[key] = conn.execute(
                """INSERT INTO articles (url, canonical_url, title, text, lang, published_at,
                                         content_hash)
                   VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                (url, url, title, text, lang,
                 datetime.fromisoformat(published).replace(tzinfo=UTC), key)).fetchone()[0]
            conn.execute("INSERT INTO matches (article_id, watchlist, relevant, score) "
                         "VALUES (%s, 'venezuela', %s, 1)", (ids[key], relevant))
            for entity in entities:
                conn.execute("INSERT INTO article_entities VALUES (%s, 'venezuela', %s, 1, 0)",
                             (ids[key], entity))
    return ids


def found(db_url: str, query: str, **options) -> list[int]:
    with psycopg.connect(db_url) as conn:
        return [hit.article_id for hit in search_articles(conn, query, **options)]


@pytest.mark.parametrize("query", ["soberanía", "soberania", "SOBERANIA"])
def test_spanish_search_ignores_accents_and_case(db_url, archive, query) -> None:
    assert found(db_url, query) == [archive["sovereignty"]]


def test_spanish_stemming_finds_inflected_forms(db_url, archive) -> None:
    # "ataque" finds "ataques"; "anuncian" finds "anunció" (stem anunc).
    assert found(db_url, "ataque", lang="es") == [archive["sovereignty"]]
    assert found(db_url, "anuncian ejercicio") == [archive["regime"]]


def test_english_stemming_and_accents(db_url, archive) -> None:
    assert set(found(db_url, "attack")) == {archive["strikes"], archive["council"]}
    assert found(db_url, "Sao Paulo") == [archive["strikes"]]
    assert found(db_url, "attack", lang="es") == []


def test_language_filter_keeps_each_language_apart(db_url, archive) -> None:
    assert found(db_url, "ataque", lang="en") == []
    assert found(db_url, "maduro", lang="en") == []
    assert set(found(db_url, "maduro", lang="es")) == {archive["avocado"], archive["regime"]}


def test_results_are_ranked_and_carry_highlighted_snippets(db_url, archive) -> None:
    with psycopg.connect(db_url) as conn:
        hits = search_articles(conn, "maduro")
    # Both mention it; the avocado says it in the headline and twice, so it ranks first.
    assert [h.article_id for h in hits] == [archive["avocado"], archive["regime"]]
    assert hits[0].rank > hits[1].rank
    assert "Nicolás <b>Maduro</b> anunció" in hits[1].snippet
    with psycopg.connect(db_url) as conn:
        snippet = search_articles(conn, "soberania")[0].snippet
    assert "<b>soberanía</b>" in snippet  # highlighted in the original spelling


def test_relevant_entity_and_since_filters(db_url, archive) -> None:
    assert found(db_url, "maduro", relevant=True) == [archive["regime"]]
    assert found(db_url, "maduro", relevant=True, watchlist="other") == []
    assert found(db_url, "attack", entity="us_boat_strikes") == [archive["strikes"]]
    assert found(db_url, "maduro", since=date(2026, 11, 2)) == [archive["regime"]]


def test_a_naive_since_is_utc_whatever_the_session_zone(db_url, archive, monkeypatch) -> None:
    monkeypatch.setenv("PGTZ", "America/Caracas")  # UTC-4: 22:00 there is 02:00 UTC next day
    # "regime" was published 2026-11-05 00:00 UTC, after 22:00 UTC the day before.
    assert found(db_url, "maduro", since=datetime(2026, 11, 4, 22, 0)) == [archive["regime"]]


def test_web_search_syntax_phrases_or_and_exclusion(db_url, archive) -> None:
    assert found(db_url, '"ejercicios militares"') == [archive["regime"]]
    assert set(found(db_url, "aguacate or soberanía")) == {archive["avocado"],
                                                          archive["sovereignty"]}
    assert found(db_url, "maduro -aguacate") == [archive["regime"]]


def test_a_query_with_nothing_to_search_is_a_clear_error(db_url, archive) -> None:
    with psycopg.connect(db_url) as conn:
        with pytest.raises(ResearchError, match="no searchable words"):
            search_articles(conn, "?! ...")
        with pytest.raises(ResearchError, match="no searchable words"):
            search_articles(conn, "the of and", lang="en")  # English stop words


def test_fuzzy_title_search_forgives_typos_and_accents(db_url, archive) -> None:
    with psycopg.connect(db_url) as conn:
        hits = search_titles(conn, "soberania nacinal")
        assert [h.article_id for h in hits] == [archive["sovereignty"]]
        assert hits[0].snippet == "Defensa de la soberanía nacional"
        assert search_titles(conn, "ejercisios militares", lang="en") == []


INJECTIONS = ["'; DROP TABLE articles; --", "x') OR 1=1 --", "maduro' OR 'a'='a",
              "\\'; DELETE FROM matches; --", "$$; TRUNCATE articles; $$"]


@pytest.mark.parametrize("attempt", INJECTIONS)
def test_sql_in_search_input_is_only_text(db_url, archive, attempt) -> None:
    # As a query the input is words: only articles containing them can come back.
    containing = {archive["avocado"], archive["regime"]} if "maduro" in attempt else set()
    assert set(found(db_url, attempt)) == containing
    with psycopg.connect(db_url) as conn:
        assert search_titles(conn, attempt) == []
        # As a filter value it is compared, never executed: nothing matches.
        assert search_articles(conn, "maduro", entity=attempt) == []
        assert search_articles(conn, "maduro", lang=attempt) == []
        assert search_articles(conn, "maduro", relevant=True, watchlist=attempt) == []
        counts = conn.execute("SELECT (SELECT count(*) FROM articles), "
                              "(SELECT count(*) FROM matches)").fetchone()
    assert counts == (5, 5)


@pytest.fixture
def cli_settings(settings: Settings, db_url: str) -> Settings:
    return settings.replace(database_url=db_url)


def test_search_command_prints_hits_and_json(cli_settings, archive) -> None:
    runner = CliRunner()
    done = runner.invoke(search_command, ["soberania", "--lang", "es"], obj=cli_settings)
    assert done.exit_code == 0, done.output
    assert "Defensa de la soberanía nacional" in done.stdout
    assert "1 hit(s)" in done.stderr
    as_json = runner.invoke(search_command, ["maduro", "--relevant", "--json"], obj=cli_settings)
    hits = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [(h["article_id"], h["lang"]) for h in hits] == [(archive["regime"], "es")]
    assert hits[0]["published_at"].startswith("2026-11-05")


@pytest.mark.parametrize("attempt", INJECTIONS)
def test_search_command_with_sql_in_every_option(cli_settings, db_url, archive, attempt) -> None:
    done = CliRunner().invoke(search_command, [
        attempt, "--entity", attempt, "--watchlist", attempt, "--relevant", "--json"],
        obj=cli_settings)
    assert done.exit_code in (0, 1), done.output  # no hits, or "no searchable words"
    assert done.stdout == ""
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (5,)


def test_search_command_fuzzy_titles(cli_settings, archive) -> None:
    done = CliRunner().invoke(search_command, ["soberania nacinal", "--titles"],
                              obj=cli_settings)
    assert done.exit_code == 0, done.output
    assert "Defensa de la soberanía nacional" in done.stdout and "1 hit(s)" in done.stderr


def test_search_command_rejects_unknown_language(cli_settings, archive) -> None:
    done = CliRunner().invoke(search_command, ["maduro", "--lang", "fr'; --"], obj=cli_settings)
    assert done.exit_code == 2 and "--lang" in done.output


def test_a_huge_article_is_stored_and_found_by_its_beginning(db_url) -> None:
    # ~2.5 MB of distinct words: a tsvector of all of it would exceed PostgreSQL's 1 MB limit.
    rng = random.Random(7)
    words = " ".join("".join(rng.choices(string.ascii_lowercase, k=9)) for _ in range(250_000))
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""INSERT INTO articles (url, canonical_url, title, text, lang, content_hash)
                        VALUES ('https://x.example/huge', 'https://x.example/huge', 'Huge',
                                %s, 'en', 'huge')""", ("Zanzibar dispatch. " + words,))
    assert len(found(db_url, "zanzibar")) == 1
