"""Articles, matches and stories written into the store by the cycle's own writer
(`store_article`), as of a chosen moment.

    with psycopg.connect(db_url, autocommit=True) as conn:
        first = add_article(conn, title="Maduro ...", url="https://a.example/1", now=now)
        copy = add_article(conn, title="Maduro ...", url="https://b.example/1", now=now,
                           story_id=first.story_id)

`add_article` stores the article, its match and entities, and (with `queue=True`,
the default) queues alerts in the same transaction, exactly like the cycle. Events are
rows of their own (`add_event`); `add_article(event_id=...)` puts the article's story in
one before queueing, as the cycle's event assignment does.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from datetime import datetime

import psycopg

from pipeline.alerts import queue_alerts
from pipeline.models import Article, EntityMention, Evidence, Match
from pipeline.store.articles import StoreOutcome, store_article

FILLER_WORDS = 120  # over MIN_WORDS_FOR_NEAR_DUPLICATES, so a copy can join a story


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
                published_at: datetime | None = None, site_name: str | None = None,
                lang: str | None = "en", text: str = "", story_id: int | None = None,
                watchlist: str = "venezuela", score: float = 5.0, relevant: bool = True,
                evidence: tuple[Evidence, ...] | None = None,
                entities: dict[str, int] | None = None, queue: bool = True,
                window_hours: float = 24.0, event_id: int | None = None) -> Stored:
    """A new article discovered at `now`, in a story of its own or (`story_id`) as a
    near-duplicate that joins that story. Without `text` its body is the title and words
    of its own, so no two articles fold into one unless asked to."""
    if evidence is None:
        evidence = (evidence_in(title, title.split()[0]),)
    match = Match(watchlist=watchlist, relevant=relevant, score=score, evidence=evidence,
                  entities=tuple(EntityMention(entity_id=k, count=v, first_offset=0)
                                 for k, v in (entities or {}).items()))
    if not text:
        text = (f"{title}\n{_filler(url)}" if story_id is None
                else f"{_story_text(conn, story_id)}\n{_filler(url, words=1)}")
    article = Article(url=url, canonical_url=url, title=title, text=text,
                      published_at=published_at, lang=lang, site_name=site_name)
    with conn.transaction():
        stored = store_article(conn, article=article, source_id=None, match=match, now=now)
        if stored.outcome != StoreOutcome.NEW or story_id not in (None, stored.story_id):
            raise ValueError(f"add_article: {url} was stored as {stored.outcome} in story "
                             f"{stored.story_id}, not as a new article in {story_id}")
        if event_id is not None:
            set_event(conn, stored.story_id, event_id)
        queued = 0
        if queue:
            queued = queue_alerts(conn, article_id=stored.article_id, story_id=stored.story_id,
                                  match=match, published_at=published_at, now=now,
                                  window_hours=window_hours)
    return Stored(article_id=stored.article_id, story_id=stored.story_id, queued=queued)


def add_event(conn: psycopg.Connection, *, first_seen_at: datetime | None = None) -> int:
    """An event row; its stories join it through `set_event` or `add_article(event_id=)`."""
    return conn.execute(
        "INSERT INTO events (first_seen_at, last_seen_at) VALUES (coalesce(%s, now()), "
        "coalesce(%s, now())) RETURNING id", (first_seen_at, first_seen_at)).fetchone()[0]


def set_event(conn: psycopg.Connection, story_id: int, event_id: int) -> None:
    """Put a story in an event, keeping the event's counts and outlets as the assignment
    would (alerts read the stories themselves; the columns are for other readers)."""
    conn.execute("UPDATE stories SET event_id = %s WHERE id = %s", (event_id, story_id))
    conn.execute(
        """UPDATE events e SET
               story_count = (SELECT count(*) FROM stories WHERE event_id = e.id),
               outlets = (SELECT coalesce(array_agg(DISTINCT o), '{}')
                          FROM stories st, unnest(st.outlets) o WHERE st.event_id = e.id),
               languages = (SELECT coalesce(array_agg(DISTINCT a.lang), '{}')
                            FROM articles a JOIN stories st ON st.id = a.story_id
                            WHERE st.event_id = e.id AND a.lang IS NOT NULL)
           WHERE e.id = %s""", (event_id,))


def _filler(url: str, *, words: int = FILLER_WORDS) -> str:
    # Words no other URL's text shares: a near-duplicate only where one is meant.
    return " ".join(hashlib.blake2b(f"{url}:{i}".encode(), digest_size=4).hexdigest()
                    for i in range(words))


def _story_text(conn: psycopg.Connection, story_id: int) -> str:
    """The text of the story's first article, for a near-duplicate to join it."""
    row = conn.execute("SELECT text FROM articles WHERE story_id = %s ORDER BY id LIMIT 1",
                       (story_id,)).fetchone()
    if row is None:
        raise ValueError(f"add_article: no article in story {story_id}")
    return row[0]


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


def fold_verbatim_copy(conn: psycopg.Connection, story_id: int, outlet: str, *,
                       now: datetime | None = None) -> None:
    """An exact copy from another outlet: the writer folds it into the story's first article
    (no article row of its own) and adds its outlet to the story's outlets."""
    title, text = conn.execute(
        "SELECT title, text FROM articles WHERE story_id = %s ORDER BY id LIMIT 1",
        (story_id,)).fetchone()
    url = f"https://{hashlib.blake2b(outlet.encode(), digest_size=4).hexdigest()}.example/copy"
    with conn.transaction():
        stored = store_article(conn, article=Article(url=url, canonical_url=url, title=title,
                                                     text=text, site_name=outlet),
                               source_id=None, match=Match(watchlist="venezuela",
                                                           relevant=True, score=0.0), now=now)
    if stored.outcome != StoreOutcome.DUPLICATE or stored.story_id != story_id:
        raise ValueError(f"fold_verbatim_copy: stored as {stored.outcome}, not folded into "
                         f"story {story_id}")


def wait_until_blocked(probe: psycopg.Connection, pending, *, timeout_s: float = 30) -> None:
    """Return once a writer in another session waits on an advisory lock of this database;
    fails if `pending` (its future) finished first or nothing waits within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not probe.execute(
        """SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""
    ).fetchone()[0]:
        assert not pending.done(), f"the second writer did not wait: {pending.result()}"
        assert time.monotonic() < deadline, "the second writer never waited for the first"
        time.sleep(0.02)
