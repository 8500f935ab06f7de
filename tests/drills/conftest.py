"""Shared parts of the drills: the demo site on loopback and a snapshot of what was stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pipeline.demo import SITE_DIR, write_sources_file
from pipeline.demo.server import serve_directory
from pipeline.models import Source
from pipeline.sources import load_sources_file

DEMO_ARTICLES = 7  # distinct pages behind the three demo feeds (one is announced twice)
DEMO_RELEVANT = 3


@pytest.fixture
def demo_site() -> Iterator[str]:
    with serve_directory(SITE_DIR) as base_url:
        yield base_url


def demo_sources(base_url: str, directory: Path, extra: str = "") -> list[Source]:
    """The demo feeds, plus any `[[sources]]` entries in `extra`."""
    path = write_sources_file(base_url, directory)
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return load_sources_file(path)


def source_entry(name: str, url: str) -> str:
    return f'[[sources]]\nname = "{name}"\nurl = "{url}"\n\n'


def snapshot(db_url: str) -> dict[str, list[tuple]]:
    """Everything a user would see, without ids or clocks: equal snapshots, equal stores."""
    queries = {
        "articles": "SELECT canonical_url, title, lang, content_hash FROM articles",
        "matches": """SELECT a.canonical_url, m.watchlist, m.relevant, m.score
                      FROM matches m JOIN articles a ON a.id = m.article_id""",
        "feed_items": """SELECT s.name, f.item_key, f.outcome, a.canonical_url, f.error
                         FROM feed_items f JOIN sources s ON s.id = f.source_id
                         LEFT JOIN articles a ON a.id = f.article_id""",
        "stories": """SELECT a.canonical_url, st.size FROM stories st
                      JOIN articles a ON a.id = st.representative_id""",
        "entities": """SELECT a.canonical_url, e.entity_id, e.mentions
                       FROM article_entities e JOIN articles a ON a.id = e.article_id""",
        "alerts": """SELECT s.email, a.canonical_url, al.status FROM alerts al
                     JOIN subscribers s ON s.id = al.subscriber_id
                     JOIN articles a ON a.id = al.article_id""",
    }
    with psycopg.connect(db_url) as conn:
        return {name: sorted(conn.execute(q).fetchall(), key=repr) for name, q in queries.items()}


def fetch_errors(db_url: str) -> dict[str, str]:
    """Source name -> error message of its failed polls."""
    with psycopg.connect(db_url) as conn:
        return dict(conn.execute(
            """SELECT s.name, f.error_message FROM fetch_log f
               JOIN sources s ON s.id = f.source_id WHERE f.status = 'error'""").fetchall())
