"""Dates, teaser flags, the raw archive and re-extraction, through a real cycle.

A loopback site with pages written for these tests, a real PostgreSQL.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from pipeline.cli.extract import reextract_command
from pipeline.demo.server import serve_directory
from pipeline.ingest.cycle import run_cycle
from pipeline.ingest.reextract import reextract
from pipeline.models import Response
from pipeline.sources import load_sources_file
from pipeline.store.raw import prune_raw, save_raw

PARAGRAPHS = [
    ("Police in three states said on Monday that they had arrested eleven people suspected "
    "of belonging to the Tren de Aragua gang, the Venezuelan criminal network that "
    "federal prosecutors have accused of extortion and trafficking."),
    ("Officers seized weapons, phones and ledgers during the raids, which followed a "
    "months-long investigation by a joint task force of local and federal agencies."),
    ("Prosecutors said the suspects would appear before a judge later this week and that "
    "more arrests were expected as the investigation continued across the region."),
    ("Community leaders urged residents to report extortion attempts and said that many "
    "victims had been too afraid to come forward until now."),
]
TEASER_SUMMARY = (
    "Venezuela's government under Nicolás Maduro denounced the deployment of US warships "
    "near its coast, after a US strike destroyed a boat the Pentagon said was carrying "
    "drugs for the Tren de Aragua gang. Caracas called the strike an act of aggression "
    "and ordered military exercises along the Caribbean coast, while Washington said more "
    "strikes on trafficking boats would follow if the gang kept operating from Venezuela."
)


def _page(title: str, paragraphs: list[str], *, date_meta: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"{date_meta}<meta property='og:description' content='About {title}'>"
            f"<meta property='og:image' content='https://img.example/{len(title)}.jpg'>"
            f"</head><body><article><h1>{title}</h1>{body}</article></body></html>")


def _item(base: str, path: str, title: str, *, pub: str | None, summary: str = "") -> str:
    date = f"<pubDate>{pub}</pubDate>" if pub else ""
    return (f"<item><title>{title}</title><link>{base}{path}</link><guid>{path}</guid>"
            f"{date}<description>{summary}</description></item>")


@pytest.fixture
def site(tmp_path: Path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "dated.html").write_text(_page(
        "Police arrest suspected Tren de Aragua members", PARAGRAPHS,
        date_meta="<meta property='article:published_time' content='2025-03-10T09:00:00Z'>"))
    (root / "undated.html").write_text(_page(
        "Task force widens Tren de Aragua inquiry", PARAGRAPHS[1:] + PARAGRAPHS[:1]))
    (root / "teaser.html").write_text(_page(
        "Caracas answers Washington", ["The government responded on Tuesday to the news."]))
    with serve_directory(root) as base_url:
        base = base_url.rstrip("/") + "/"
        feed = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
                "<title>Test wire</title><link>" + base + "</link>"
                + _item(base, "dated.html", "Arrests", pub="Sat, 15 Mar 2025 12:00:00 GMT")
                + _item(base, "undated.html", "Inquiry", pub="Tue, 11 Mar 2025 08:30:00 GMT")
                + _item(base, "teaser.html", "Caracas answers", pub=None,
                        summary=TEASER_SUMMARY)
                + "</channel></rss>")
        (root / "feed.xml").write_text(feed)
        sources = tmp_path / "sources.toml"
        sources.write_text(f'[[sources]]\nname = "wire"\nurl = "{base}feed.xml"\n'
                           'language = "en"\n')
        yield root, load_sources_file(sources)


def _articles(db_url: str) -> dict[str, dict]:
    with psycopg.connect(db_url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute(
            """SELECT a.*, m.relevant FROM articles a JOIN matches m ON m.article_id = a.id"""
        ).fetchall()
    return {row["url"].rsplit("/", 1)[1]: row for row in rows}


def test_dates_are_kept_apart_and_the_chosen_one_says_where_it_came_from(
    settings, db_url, site
) -> None:
    run_cycle(settings, sources=site[1], db_url=db_url)
    articles = _articles(db_url)

    dated = articles["dated.html"]
    assert dated["page_published_at"] == datetime(2025, 3, 10, 9, tzinfo=UTC)
    assert dated["feed_published_at"] == datetime(2025, 3, 15, 12, tzinfo=UTC)
    assert (dated["published_at"], dated["date_source"]) == (dated["page_published_at"], "page")
    assert dated["date_flags"] == ["dates-disagree"]

    undated = articles["undated.html"]
    assert undated["page_published_at"] is None
    assert (undated["published_at"], undated["date_source"]) == (
        datetime(2025, 3, 11, 8, 30, tzinfo=UTC), "feed")

    teaser = articles["teaser.html"]
    assert teaser["date_source"] == "first-seen"
    assert teaser["feed_published_at"] is None and teaser["page_published_at"] is None
    assert teaser["published_at"] >= teaser["discovered_at"]  # stamped when first seen
    assert dated["description"] == "About Police arrest suspected Tren de Aragua members"
    assert dated["image_url"].startswith("https://img.example/")


def test_a_teaser_is_flagged_and_matched_on_the_feed_summary(settings, db_url, site) -> None:
    run_cycle(settings, sources=site[1], db_url=db_url)
    articles = _articles(db_url)

    teaser = articles["teaser.html"]
    assert teaser["fulltext_status"] == "teaser"
    assert teaser["matched_on"] == "summary"
    assert teaser["relevant"]  # the page says nothing of Venezuela; the summary does
    assert teaser["feed_summary"].startswith("Venezuela's government")
    assert {articles[p]["fulltext_status"] for p in ("dated.html", "undated.html")} == {"full"}
    assert {articles[p]["matched_on"] for p in ("dated.html", "undated.html")} == {"text"}


def test_raw_pages_are_kept_compressed_and_reextract_restores_the_text_idempotently(
    settings, db_url, site
) -> None:
    root, sources = site
    run_cycle(settings, sources=sources, db_url=db_url)
    with psycopg.connect(db_url) as conn:
        raw = conn.execute(
            "SELECT url, body, size, content_type FROM article_raw WHERE url LIKE '%%dated.html'"
            " AND url NOT LIKE '%%undated%%'").fetchone()
        good = conn.execute("SELECT id, title, text FROM articles WHERE url = %s",
                            (raw[0],)).fetchone()
        # What an older, worse extractor might have stored.
        conn.execute("UPDATE articles SET text = 'Cookie settings', title = '' WHERE id = %s",
                     (good[0],))
        conn.execute("UPDATE matches SET relevant = false WHERE article_id = %s", (good[0],))
    served = (root / "dated.html").read_bytes()
    assert zlib.decompress(raw[1]) == served and raw[2] == len(served)
    assert len(raw[1]) < len(served)
    assert raw[3].startswith("text/html")

    first = reextract(db_url, settings)
    second = reextract(db_url, settings)

    assert first["articles"] == 3 and first["changed"] == 1
    assert second["articles"] == 3 and second["changed"] == 0
    assert first["relevant"] == second["relevant"] == 3
    with psycopg.connect(db_url) as conn:
        restored = conn.execute("SELECT id, title, text FROM articles WHERE id = %s",
                                (good[0],)).fetchone()
        relevant = conn.execute("SELECT relevant FROM matches WHERE article_id = %s",
                                (good[0],)).fetchone()[0]
        versions = conn.execute("SELECT (SELECT count(*) FROM article_versions), "
                                "(SELECT max(version) FROM articles)").fetchone()
    assert restored == good and relevant
    assert versions == (0, 1)  # re-extraction is not a revision


def test_reextract_command_honours_since(settings, db_url, site) -> None:
    run_cycle(settings, sources=site[1], db_url=db_url)
    runner = CliRunner()
    obj = settings.replace(database_url=db_url)

    later = runner.invoke(reextract_command, ["--since", "2999-01-01"], obj=obj)
    everything = runner.invoke(reextract_command, [], obj=obj)

    assert later.exit_code == 0, later.output
    assert '"articles": 0' in later.output
    assert '"articles": 3' in everything.output


def test_reextract_takes_a_naive_since_as_utc_whatever_the_session_zone(
    settings, db_url, site, monkeypatch
) -> None:
    run_cycle(settings, sources=site[1], db_url=db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE article_raw SET fetched_at = '2026-01-01 03:00+00'")
    monkeypatch.setenv("PGTZ", "America/Caracas")  # UTC-4: 02:00 there is 06:00 UTC

    # `--since` gives a naive datetime; it once meant the session's zone, so nothing came.
    counts = reextract(db_url, settings, since=datetime(2026, 1, 1, 2, 0))

    assert counts["articles"] == 3


def test_prune_raw_deletes_only_pages_past_retention(settings, db_url, site) -> None:
    run_cycle(settings, sources=site[1], db_url=db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""UPDATE article_raw SET fetched_at = now() - interval '100 days'
                        WHERE url LIKE '%%teaser.html'""")
        deleted = prune_raw(conn, keep_days=settings.raw_retention_days)
        left = [u for (u,) in conn.execute("SELECT url FROM article_raw ORDER BY url")]
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert settings.raw_retention_days == 90
    assert deleted == 1
    assert [u.rsplit("/", 1)[1] for u in left] == ["dated.html", "undated.html"]
    assert articles == 3  # the article stays; only its raw page goes


def test_a_newer_page_replaces_the_archived_one_and_reextract_reads_it(
    settings, db_url, site
) -> None:
    run_cycle(settings, sources=site[1], db_url=db_url)
    corrected = _page("Police arrest suspected Tren de Aragua members (corrected)",
                      PARAGRAPHS[:2]).encode()
    with psycopg.connect(db_url, autocommit=True) as conn:
        url, article_id = conn.execute(
            "SELECT url, article_id FROM article_raw WHERE url LIKE '%%/dated.html'").fetchone()
        save_raw(conn, article_id=article_id, response=Response(
            url=url, status=200, headers={"Content-Type": "text/html; charset=utf-8"},
            body=corrected))

    reextract(db_url, settings)

    with psycopg.connect(db_url) as conn:
        title, text = conn.execute("SELECT title, text FROM articles WHERE id = %s",
                                   (article_id,)).fetchone()
        archived = conn.execute("SELECT count(*) FROM article_raw WHERE article_id = %s",
                                (article_id,)).fetchone()[0]
    assert title.endswith("(corrected)") and PARAGRAPHS[2][:40] not in text
    assert archived == 1


def test_the_extraction_mode_is_stored_and_reextract_can_select_by_it(
    settings, db_url, site
) -> None:
    run_cycle(settings, sources=site[1], db_url=db_url)
    assert {a["extraction_mode"] for a in _articles(db_url).values()} == {"precision"}
    with psycopg.connect(db_url) as conn:  # an article stored before modes were recorded
        conn.execute("UPDATE articles SET extraction_mode = NULL WHERE url LIKE '%%/dated.html'")
    runner = CliRunner()
    obj = settings.replace(database_url=db_url)

    precision = runner.invoke(reextract_command, ["--mode", "precision"], obj=obj)
    balanced = runner.invoke(reextract_command, ["--mode", "balanced"], obj=obj)
    unrecorded = runner.invoke(reextract_command, ["--mode", "unrecorded"], obj=obj)
    again = runner.invoke(reextract_command, ["--mode", "unrecorded"], obj=obj)

    assert precision.exit_code == 0, precision.output
    assert '"articles": 2' in precision.output
    assert '"articles": 0' in balanced.output
    assert '"articles": 1' in unrecorded.output
    assert '"articles": 0' in again.output  # re-extraction recorded the mode
    assert _articles(db_url)["dated.html"]["extraction_mode"] == "precision"
