"""P7: does a big archive slow ingestion? The same cycle over the same new articles into
an empty store and into one holding a synthetic archive (1M articles at full size).

Seeding (`seed_archive`) follows `bench_near_dup.seed`: COPY into the archive tables with
their foreign keys, keys and plain indexes dropped during the load and rebuilt after (as
a backfill would), then VACUUM ANALYZE (autovacuum's job in production). Every seeded
article comes with what a stored article leaves behind:

- its `articles` row: title, language, outlet, dates, content hash, story, a 1 KB MinHash
  signature (no text: a production row keeps its text in TOAST, which a lookup by key
  never reads; the title feeds the search vector and the trigram index);
- 32 `article_bands` rows with the false-candidate rate of real articles
  (`bench_near_dup.Seeder`), so near-duplicate lookups meet the candidates a real archive
  gives them;
- two `article_urls` (as announced with a tracking parameter, and canonical), one
  `feed_items` entry, one `matches` verdict (a tenth relevant);
- `stories` of 1.3 articles on average and `events` of 2 stories, whose keys and profiles
  are those `pipeline.dedup.events` computes for real article texts;
- publication and discovery times spread evenly over the `SPAN_DAYS` before now, about
  1,400 articles a day at 1M: the event lookup's 4-day window holds what a live archive
  holds, its GIN posting lists what two years give.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from bench.bench_near_dup import CHUNK, Seeder, _copy_bands
from pipeline.dedup.events import Profile, feature_values, lookup_keys, story_features
from pipeline.models import Source

SPAN_DAYS = 730
OUTLETS = 500  # archive sources
ARTICLES_PER_STORY = 1.3
STORIES_PER_EVENT = 2
POOL = 300  # real texts whose event keys and profiles the seeded events reuse
# The tables a stored article writes; their keys, foreign keys and plain indexes are
# dropped for the load and rebuilt after it.
TABLES = ("articles", "article_bands", "article_urls", "stories", "events", "matches",
          "feed_items")

_MARKERS = re.compile(r"^Dispatch \d+\. |\nRef \d+\.$")  # added by figures.article_texts
_ARTICLE_COLUMNS = (
    ("id", "int8"), ("url", "text"), ("canonical_url", "text"), ("source_id", "int8"),
    ("title", "text"), ("published_at", "timestamptz"), ("discovered_at", "timestamptz"),
    ("checked_at", "timestamptz"), ("page_published_at", "timestamptz"), ("lang", "text"),
    ("site_name", "text"), ("content_hash", "text"), ("story_id", "int8"),
    ("minhash", "bytea"), ("date_source", "text"), ("fulltext_status", "text"),
    ("matched_on", "text"), ("extraction_mode", "text"),
)


def event_pool(texts: list[tuple[str, str, str]], now: datetime
               ) -> list[tuple[list[str], dict[str, Any]]]:
    """(keys, profile) of events started by each text at `now`, as
    `store.events.place_story` computes them. The bench's own markers ("Dispatch 12.",
    "Ref 12.") are cut first: in every event they would make one key that joins them all."""
    pool = []
    for title, text, lang in texts:
        text = _MARKERS.sub("", text)
        features = story_features(title=title, text=text, lang=lang, at=now)
        pool.append((lookup_keys(feature_values(features)), Profile.of(features).counts))
    return pool


def moved(event: tuple[list[str], dict[str, Any]], days: int
          ) -> tuple[list[str], dict[str, Any]]:
    """A pool event as if `days` earlier: the dates its text names move with it (read at
    `now`, "last Friday" is a date of this week; an event of last year has last year's)."""
    keys, profile = event

    def shift(value: str) -> str:
        return (date.fromisoformat(value) - timedelta(days=days)).isoformat()

    keys = sorted(f"d:{shift(k[2:])}" if k.startswith("d:") else k for k in keys)
    profile = {**profile, "dates": {shift(d): n for d, n in profile.get("dates", {}).items()}}
    return keys, profile


def seed_archive(conn: psycopg.Connection, size: int, texts: list[tuple[str, str, str]], *,
                 seed: int = 20261206, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Store `size` synthetic articles (module doc) in the migrated database of `conn`
    (autocommit); returns what was seeded and how long it took."""
    from pipeline.store.sources import sync_sources

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    pool = event_pool(texts[:POOL], now)
    sources = sync_sources(conn, [Source(name=f"archive outlet {k:03d}",
                                         url=f"https://outlet{k:03d}.invalid/feed.xml")
                                  for k in range(OUTLETS)])
    source_ids = [s.id for s in sources]
    seeder = Seeder(rng)
    log(f"P7: seeding {size:,} articles (band pool ready in "
        f"{time.perf_counter() - started:.0f} s)")
    conn.execute("SET maintenance_work_mem = '512MB'")
    restore = _drop_for_load(conn)
    step = timedelta(days=SPAN_DAYS) / max(size, 1)
    first = now - timedelta(days=SPAN_DAYS)
    stories = events = 0
    for start in range(1, size + 1, CHUNK):
        count = min(CHUNK, size - start + 1)
        ids = np.arange(start, start + count)
        sigs, keys = seeder.signatures(count)
        story_of = (ids / ARTICLES_PER_STORY).astype(np.int64) + 1  # 1-based, non-decreasing
        article_rows, story_rows, event_rows = [], [], []
        for offset, article_id in enumerate(ids.tolist()):
            at = first + step * (article_id - 1)
            outlet = article_id % OUTLETS
            title, _, lang = texts[article_id % len(texts)]
            story = int(story_of[offset])
            url = f"https://outlet{outlet:03d}.invalid/news/{article_id}.html"
            article_rows.append((
                article_id, url, url, source_ids[outlet], f"{title} ({article_id})", at, at,
                at, at, lang, f"Outlet {outlet:03d}", f"{article_id:032x}", story,
                sigs[offset].astype("<u4").tobytes(), "page", "full", "text", "precision"))
            if story > stories:  # the story's first article
                stories = story
                event = (story - 1) // STORIES_PER_EVENT + 1
                story_rows.append((story, article_id, at, at, 1, [f"Outlet {outlet:03d}"],
                                   event))
                if event > events:
                    events = event
                    keys_, profile = moved(pool[event % len(pool)], (now - at).days)
                    event_rows.append((event, at, at, 1, [f"Outlet {outlet:03d}"], [lang],
                                       at, at, Jsonb(profile), keys_))
        _copy_articles(conn, article_rows)
        _copy_bands(conn, ids, keys)
        _copy(conn, "stories (id, representative_id, first_seen_at, last_seen_at, size, "
              "outlets, event_id)", story_rows)
        _copy(conn, "events (id, first_seen_at, last_seen_at, story_count, outlets, languages, "
              "first_published_at, last_published_at, profile, keys)", event_rows)
        _copy(conn, "article_urls (url, article_id, first_seen_at)",
              [row for r in article_rows
               for row in ((r[1] + "?utm_source=rss", r[0], r[6]), (r[2], r[0], r[6]))])
        _copy(conn, "feed_items (source_id, item_key, url, title, first_seen_at, outcome, "
              "article_id)",
              [(r[3], f"archive-{r[0]}", r[2], r[4], r[6],
                "new-relevant" if r[0] % 10 == 0 else "new-irrelevant", r[0])
               for r in article_rows])
        _copy(conn, "matches (article_id, watchlist, relevant, score, matched_at)",
              [(r[0], "venezuela", r[0] % 10 == 0, 3.0 if r[0] % 10 == 0 else 0.5, r[6])
               for r in article_rows])
    loaded = time.perf_counter() - started
    log(f"P7: {size:,} articles loaded in {loaded:.0f} s; rebuilding keys and indexes")
    for statement in restore:
        conn.execute(statement)
    for table, last in (("articles", size), ("stories", stories), ("events", events)):
        conn.execute(sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'id'), {})").format(
            sql.Literal(table), sql.Literal(max(last, 1))))
    for table in TABLES:
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))
    counted = conn.execute(
        """SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM article_bands),
                  (SELECT count(*) FROM events)""").fetchone()
    return {"articles": size, "stored_articles": counted[0], "band_rows": counted[1],
            "stories": stories, "events": counted[2],
            "seed_s": round(time.perf_counter() - started, 1),
            "database_mb": conn.execute(
                "SELECT pg_database_size(current_database()) / 1048576").fetchone()[0]}


def _copy_articles(conn: psycopg.Connection, rows: list[tuple]) -> None:
    names = ", ".join(name for name, _ in _ARTICLE_COLUMNS)
    with conn.cursor().copy(f"COPY articles ({names}) FROM STDIN (FORMAT binary)") as copy:
        copy.set_types([kind for _, kind in _ARTICLE_COLUMNS])
        for row in rows:
            copy.write_row(row)


def _copy(conn: psycopg.Connection, target: str, rows: list[tuple]) -> None:
    with conn.cursor().copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _drop_for_load(conn: psycopg.Connection) -> list[str]:
    """Drop the foreign keys into and out of the archive tables, their primary and unique
    keys and their plain indexes; return the statements that rebuild them exactly, keys
    before the foreign keys that need them (which are validated again)."""
    tables = list(TABLES)
    foreign = conn.execute(
        """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
           FROM pg_constraint WHERE contype = 'f'
             AND (conrelid = ANY(%(t)s::regclass[]) OR confrelid = ANY(%(t)s::regclass[]))""",
        {"t": tables}).fetchall()
    keys = conn.execute(
        """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
           FROM pg_constraint WHERE contype IN ('p', 'u') AND conrelid = ANY(%(t)s::regclass[])""",
        {"t": tables}).fetchall()
    indexes = conn.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
           WHERE i.indrelid = ANY(%(t)s::regclass[])
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
        {"t": tables}).fetchall()
    for table, name, _ in foreign + keys:
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
            sql.SQL(table), sql.Identifier(name)))
    for name, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))
    return ([definition for _, definition in indexes]
            + [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
               for table, name, definition in keys + foreign])

