"""`newsmon demo`: the whole pipeline offline, against feeds served on loopback.

The feeds and pages under `site/` were written for this project. Feeds refer
to their pages as `{BASE}/...`; the server fills in its own address.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

from pipeline.config import Settings
from pipeline.demo.server import serve_directory
from pipeline.store import connect

SITE_DIR = Path(__file__).resolve().parent / "site"
DEMO_DATABASE = "newsmon_demo"
FEEDS = [
    ("Demo: Caribbean Wire (en)", "/caribbean-wire/feed.xml", "en"),
    ("Demo: Diario del Llano (es)", "/diario-del-llano/rss.xml", "es"),
    ("Demo: Gulf Coast Times (en)", "/gulf-coast-times/atom.xml", "en"),
]
TRY_SQL = (
    "SELECT a.title, m.relevant, round(m.score::numeric, 2) AS score, a.lang "
    "FROM articles a JOIN matches m ON m.article_id = a.id ORDER BY m.score DESC;"
)


def demo_database_url(db_url: str) -> str:
    """A fresh database beside the configured one, so the demo never mixes with real data."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        ident = psycopg.sql.Identifier(DEMO_DATABASE)
        conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(ident))
    params = psycopg.conninfo.conninfo_to_dict(db_url)
    params["dbname"] = DEMO_DATABASE
    return psycopg.conninfo.make_conninfo(**params)


def write_sources_file(base_url: str, directory: Path) -> Path:
    path = directory / "demo-sources.toml"
    path.write_text("".join(
        f'[[sources]]\nname = "{name}"\nurl = "{base_url}{feed}"\nlanguage = "{lang}"\n\n'
        for name, feed, lang in FEEDS
    ), encoding="utf-8")
    return path


@contextlib.contextmanager
def demo_site(settings: Settings, admin_url: str) -> Iterator[tuple[Settings, list, str]]:
    """A fresh, migrated demo database and the demo feeds served on loopback: yields the
    settings to run with, the sources and the database URL. The CLI runs the cycle."""
    from pipeline.sources import load_sources_file
    from pipeline.store import apply_migrations

    url = demo_database_url(admin_url)
    with connect(url, autocommit=True) as conn:
        apply_migrations(conn)
    settings = settings.replace(allow_private_networks=True, respect_robots=True)
    with serve_directory(SITE_DIR) as base_url, tempfile.TemporaryDirectory() as tmp:
        sources = load_sources_file(write_sources_file(base_url, Path(tmp)))
        print(f"Serving {len(sources)} demo feeds at {base_url}\n")
        yield settings, sources, url


def print_outcome(url: str) -> None:
    """What the demo stored, and a query to try."""
    _print_articles(url)
    print(f"\nTry it yourself:\n  psql '{url}' -c \"{TRY_SQL}\"")


def _print_articles(url: str) -> None:
    with connect(url) as conn:
        rows = conn.execute(
            """SELECT m.relevant, a.title, a.lang,
                      (SELECT count(*) FROM feed_items f WHERE f.article_id = a.id) AS copies
               FROM articles a JOIN matches m ON m.article_id = a.id
               ORDER BY m.relevant DESC, a.title"""
        ).fetchall()
    print("\nArticles stored:")
    for relevant, title, lang, copies in rows:
        mark = "RELEVANT  " if relevant else "irrelevant"
        folded = f"  (announced {copies}x, stored once)" if copies > 1 else ""
        print(f"  {mark} [{lang}] {title}{folded}")
