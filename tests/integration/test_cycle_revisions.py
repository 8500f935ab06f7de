"""Revisions through a real cycle: a feed marks a stored page as updated, the cycle fetches
it again, and an edited text becomes a new version of the same article.

Time is moved by back-dating the stored article (as if the first cycle ran hours ago),
since the re-fetch policy will not look at a page it fetched minutes ago.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from pipeline.alerts import add_subscriber
from pipeline.demo.server import serve_directory
from pipeline.ingest.cycle import run_cycle
from pipeline.models import Outcome
from pipeline.sources import load_sources_file

PARAGRAPHS = [
    ("Police in three states said on Monday that they had arrested eleven people suspected "
    "of belonging to the Tren de Aragua gang, the Venezuelan criminal network that federal "
    "prosecutors have accused of extortion and trafficking across the region."),
    ("Officers seized weapons, phones and ledgers during the raids, which followed a "
    "months-long investigation by a joint task force of local and federal agencies."),
    ("Prosecutors said the suspects would appear before a judge later this week and that "
    "more arrests were expected as the investigation continued in several cities."),
    ("Community leaders urged residents to report extortion attempts and said that many "
    "victims had been too afraid to come forward until the task force was formed."),
]
CORRECTION = ("Prosecutors said on Tuesday that fourteen people, not eleven, had been "
              "arrested, and that two of them had been released without charge.")
TITLE = "Police arrest suspected Tren de Aragua members"


def _page(paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{TITLE}"
            f"</title></head><body><article><h1>{TITLE}</h1>{body}</article></body></html>")


def _feed(base: str, *, updated: datetime) -> str:
    stamp = updated.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f"<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            f"<title>Test wire</title><id>{base}</id><updated>{stamp}</updated>"
            f"<entry><title>{TITLE}</title><id>urn:test:arrests</id>"
            f"<link href='{base}arrests.html'/><published>{stamp}</published>"
            f"<updated>{stamp}</updated></entry></feed>")


class Site:
    def __init__(self, root: Path, base: str) -> None:
        self.root, self.base = root, base

    def publish(self, paragraphs: list[str], *, updated: datetime) -> None:
        (self.root / "arrests.html").write_text(_page(paragraphs), encoding="utf-8")
        (self.root / "feed.atom").write_text(_feed(self.base, updated=updated), encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path):
    root = tmp_path / "site"
    root.mkdir()
    with serve_directory(root) as base_url:
        base = base_url.rstrip("/") + "/"
        sources = tmp_path / "sources.toml"
        sources.write_text(f'[[sources]]\nname = "wire"\nurl = "{base}feed.atom"\n')
        yield Site(root, base), load_sources_file(sources)


def _hours_pass(db_url: str, hours: float) -> None:
    """As if the article had been first stored and last fetched `hours` ago."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            """UPDATE articles SET discovered_at = discovered_at - make_interval(secs => %s),
                                   checked_at = checked_at - make_interval(secs => %s)""",
            (hours * 3600, hours * 3600))


def _state(db_url: str) -> dict:
    with psycopg.connect(db_url) as conn:
        article = conn.execute("SELECT id, story_id, version, text FROM articles").fetchall()
        versions = conn.execute(
            "SELECT article_id, version, text, words_added, diff FROM article_versions"
        ).fetchall()
        entries = conn.execute("SELECT outcome FROM feed_items").fetchall()
        stories = conn.execute("SELECT count(*) FROM stories").fetchone()[0]
        alerts = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
    return {"articles": article, "versions": versions, "entries": entries,
            "stories": stories, "alerts": alerts}


def test_an_updated_entry_whose_page_changed_becomes_a_revision(settings, db_url, site) -> None:
    server, sources = site
    with psycopg.connect(db_url, autocommit=True) as conn:
        add_subscriber(conn, email="analyst@example.org", watchlists=["venezuela"])
        conn.execute("UPDATE subscribers SET created_at = now() - interval '1 day'")
    server.publish(PARAGRAPHS, updated=datetime.now(UTC) - timedelta(hours=2))
    run_cycle(settings, sources=sources, db_url=db_url)
    before = _state(db_url)
    assert before["alerts"] == 1
    _hours_pass(db_url, 2)
    with psycopg.connect(db_url, autocommit=True) as conn:  # stored before modes were recorded
        conn.execute("UPDATE articles SET extraction_mode = NULL")

    server.publish([*PARAGRAPHS, CORRECTION], updated=datetime.now(UTC) - timedelta(minutes=1))
    summary = run_cycle(settings, sources=sources, db_url=db_url)

    after = _state(db_url)
    (article_id, story_id, version, text), = after["articles"]
    assert (article_id, story_id) == before["articles"][0][:2]  # same article, same story
    assert version == 2 and CORRECTION in text
    (versioned_id, old_version, old_text, words_added, diff), = after["versions"]
    assert (versioned_id, old_version) == (article_id, 1)
    assert CORRECTION not in old_text and words_added == len(CORRECTION.split())
    assert "fourteen people" in diff
    with psycopg.connect(db_url) as conn:  # the revised text says how it was extracted
        assert conn.execute("SELECT extraction_mode FROM articles").fetchone() == ("precision",)
    assert summary.as_dict()["revised"] == 1 and summary.new_articles == 0
    assert after["entries"] == before["entries"] == [("new-relevant",)]  # first outcome kept
    assert after["stories"] == before["stories"] == 1
    assert after["alerts"] == before["alerts"]  # a revision is not a new story: no alert


def test_a_revised_page_is_fetched_once_per_update_not_every_cycle(
    settings, db_url, site
) -> None:
    server, sources = site
    server.publish(PARAGRAPHS, updated=datetime.now(UTC) - timedelta(hours=2))
    run_cycle(settings, sources=sources, db_url=db_url)
    _hours_pass(db_url, 2)
    server.publish([*PARAGRAPHS, CORRECTION], updated=datetime.now(UTC) - timedelta(minutes=1))
    run_cycle(settings, sources=sources, db_url=db_url)

    again = run_cycle(settings, sources=sources, db_url=db_url)

    assert again.outcomes[Outcome.ALREADY_SEEN] == 1
    assert again.outcomes[Outcome.REVISED] == 0
    assert len(_state(db_url)["versions"]) == 1


def test_an_updated_stamp_on_an_unchanged_page_stores_no_version(settings, db_url, site) -> None:
    server, sources = site
    server.publish(PARAGRAPHS, updated=datetime.now(UTC) - timedelta(hours=2))
    run_cycle(settings, sources=sources, db_url=db_url)
    _hours_pass(db_url, 2)

    server.publish(PARAGRAPHS, updated=datetime.now(UTC) - timedelta(minutes=1))
    summary = run_cycle(settings, sources=sources, db_url=db_url)

    state = _state(db_url)
    assert summary.outcomes[Outcome.DUPLICATE] == 1  # fetched again, found unchanged
    assert state["versions"] == [] and state["articles"][0][2] == 1


def test_an_entry_without_an_update_is_not_fetched_again(settings, db_url, site) -> None:
    server, sources = site
    # The feed keeps the same stamp both times: the entry says nothing was updated. (Two
    # stamps taken "two hours ago" a cycle apart could straddle a second and say it was.)
    stamp = datetime.now(UTC) - timedelta(hours=2)
    server.publish(PARAGRAPHS, updated=stamp)
    run_cycle(settings, sources=sources, db_url=db_url)
    _hours_pass(db_url, 2)

    server.publish([*PARAGRAPHS, CORRECTION], updated=stamp)
    summary = run_cycle(settings, sources=sources, db_url=db_url)

    assert summary.outcomes[Outcome.ALREADY_SEEN] == 1
    assert _state(db_url)["versions"] == []
