"""Articles, matches and stories written straight into the store, as the cycle would.

    with psycopg.connect(db_url, autocommit=True) as conn:
        first = add_article(conn, title="Maduro ...", url="https://a.example/1", now=now)
        copy = add_article(conn, title="Maduro ...", url="https://b.example/1", now=now,
                           story_id=first.story_id)

`add_article` stores the article, its match and entities, and (with `queue=True`,
the default) queues alerts in the same transaction, exactly like the cycle.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from pipeline.alerts import queue_alerts
from pipeline.models import EntityMention, Evidence, Match
from pipeline.urls import outlet_name


@dataclass(frozen=True, slots=True)
class Stored:
    article_id: int
    story_id: int
    queued: int


def evidence_in(text: str, term: str, *, field: str = "title", kind: str = "entity",
                entity: str = "maduro", weight: float = 1.0) -> Evidence:
    """Evidence for the first occurrence of `term` in `text`, with the text as snippet."""
    found = re.search(re.escape(term), text, re.IGNORECASE)
    start = found.start() if found else 0
    return Evidence(kind=kind, id=entity, term=term, field=field, start=start,
                    end=start + len(term), snippet=text, weight=weight)


def add_article(conn: psycopg.Connection, *, title: str, url: str, now: datetime,
                published_at: datetime | None = None, discovered_at: datetime | None = None,
                site_name: str | None = None, lang: str | None = "en", text: str = "",
                story_id: int | None = None, watchlist: str = "venezuela", score: float = 5.0,
                relevant: bool = True, evidence: tuple[Evidence, ...] | None = None,
                entities: dict[str, int] | None = None, queue: bool = True,
                window_hours: float = 24.0) -> Stored:
    discovered_at = discovered_at or now
    if evidence is None:
        evidence = (evidence_in(title, title.split()[0]),)
    match = Match(watchlist=watchlist, relevant=relevant, score=score, evidence=evidence,
                  entities=tuple(EntityMention(entity_id=k, count=v, first_offset=0)
                                 for k, v in (entities or {}).items()))
    with conn.transaction():
        article_id = conn.execute(
            """INSERT INTO articles (url, canonical_url, title, text, published_at,
                                     discovered_at, lang, site_name, content_hash)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (url, url, title, text or title, published_at, discovered_at, lang, site_name,
             hashlib.sha256(url.encode()).hexdigest()),
        ).fetchone()[0]
        outlet = outlet_name(site_name, url)
        if story_id is None:
            story_id = conn.execute(
                """INSERT INTO stories (representative_id, first_seen_at, last_seen_at, outlets)
                   VALUES (%s, %s, %s, %s) RETURNING id""",
                (article_id, discovered_at, discovered_at, [outlet])).fetchone()[0]
        else:
            conn.execute(
                """UPDATE stories SET size = size + 1, last_seen_at = %s,
                          outlets = CASE WHEN %s::text = ANY(outlets) THEN outlets
                                         ELSE array_append(outlets, %s::text) END
                   WHERE id = %s""",
                (discovered_at, outlet, outlet, story_id))
        conn.execute("UPDATE articles SET story_id = %s WHERE id = %s", (story_id, article_id))
        conn.execute(
            """INSERT INTO matches (article_id, watchlist, relevant, score, evidence, matched_at)
               VALUES (%s, %s, %s, %s, %s, %s)""",
            (article_id, watchlist, relevant, score, Jsonb([e.as_json() for e in evidence]),
             discovered_at),
        )
        for mention in match.entities:
            conn.execute(
                """INSERT INTO article_entities (article_id, watchlist, entity_id, mentions,
                                                 first_offset) VALUES (%s, %s, %s, %s, %s)""",
                (article_id, watchlist, mention.entity_id, mention.count, mention.first_offset),
            )
        queued = 0
        if queue:
            queued = queue_alerts(conn, article_id=article_id, story_id=story_id, match=match,
                                  published_at=published_at, now=now, window_hours=window_hours)
    return Stored(article_id=article_id, story_id=story_id, queued=queued)


def requeue(conn: psycopg.Connection, stored: Stored, *, now: datetime,
            watchlist: str = "venezuela", score: float = 5.0,
            published_at: datetime | None = None) -> int:
    """Queue alerts for an already stored article again (a re-run or retried task)."""
    match = Match(watchlist=watchlist, relevant=True, score=score)
    with conn.transaction():
        return queue_alerts(conn, article_id=stored.article_id, story_id=stored.story_id,
                            match=match, published_at=published_at, now=now)


def add_subscriber_row(conn: psycopg.Connection, email: str, *, created_at: datetime,
                       name: str | None = None, watchlists: tuple[str, ...] = ("venezuela",),
                       mode: str = "immediate", digest_hour: int = 7, timezone: str = "UTC",
                       min_score: float = 0.0, languages: tuple[str, ...] = ()) -> int:
    """A subscriber who joined at `created_at` (the add command always uses the clock)."""
    return conn.execute(
        """INSERT INTO subscribers (email, name, watchlists, mode, digest_hour, timezone,
                                    min_score, languages, created_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (email, name, list(watchlists), mode, digest_hour, timezone, min_score,
         list(languages), created_at),
    ).fetchone()[0]


def fold_verbatim_copy(conn: psycopg.Connection, story_id: int, outlet: str) -> None:
    """An exact copy from another outlet, folded into the story without an article row."""
    conn.execute("UPDATE stories SET outlets = array_append(outlets, %s::text) WHERE id = %s",
                 (outlet, story_id))
