"""Events: the SQL that puts each new story into an event (pipeline/dedup/events.py judges).

``place_story`` runs inside ``store_article``'s transaction when an article starts a story:
it takes the story's features, finds the events active within ``WINDOW`` of its time that
share a distinctive key (GIN index on ``events.keys``, at most ``CANDIDATE_LIMIT``), and
joins the best one that ``choose_event`` accepts, or starts an event. The reason goes to
``stories.event_reason``. ``story_grew`` keeps an event's outlets and languages current when
an article or a verbatim copy joins one of its stories.

Concurrent writers: before looking, a writer takes transaction-scoped advisory locks on the
story's keys (sorted, one statement). Two stories of one event share a key, so the second
waits for the first to commit and then finds its event instead of starting a twin. The
chosen event's row is re-read FOR UPDATE, so two stories joining it at once both count.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from pipeline.dedup.events import (
    CANDIDATE_LIMIT,
    WINDOW,
    Profile,
    choose_event,
    feature_values,
    lookup_keys,
    story_features,
)
from pipeline.models import Article, Match
from pipeline.store.locks import lock, lock_key

log = logging.getLogger(__name__)

# A publication time this far past the write's own is a wrong date, not news from the future.
_FUTURE_SKEW = timedelta(days=1)

_CANDIDATES = """
    SELECT id, profile, story_count, first_published_at, last_published_at
    FROM events
    WHERE keys && %(keys)s::text[]
      AND last_published_at >= %(since)s AND first_published_at <= %(until)s
    ORDER BY cardinality(ARRAY(SELECT unnest(keys) INTERSECT SELECT unnest(%(keys)s::text[])))
             DESC, id DESC
    LIMIT %(limit)s
"""


def place_story(conn: psycopg.Connection, *, story_id: int, article: Article, match: Match,
                outlet: str, now: datetime | None) -> int | None:
    """Put a new story (``article`` is its first) into an event; returns the event id
    (None: its features could not be read, the story stays without an event, logged)."""
    at = _article_time(article, now)
    try:
        features = story_features(title=article.title, text=article.text, lang=article.lang,
                                  at=at, entities=[m.entity_id for m in match.entities])
    except (ValueError, ArithmeticError) as exc:
        # The article and its story still count; only its event waits for a fix.
        log.warning("events: story %s left without an event: features failed: %s",
                    story_id, exc)
        return None
    keys = lookup_keys(feature_values(features))
    lock(conn, [lock_key("event", key) for key in keys])
    rows = conn.execute(_CANDIDATES, {"keys": keys, "since": at - WINDOW, "until": at + WINDOW,
                                      "limit": CANDIDATE_LIMIT}).fetchall() if keys else []
    candidates = [(row[0], _profile(row)) for row in rows]
    event_id, reason = choose_event(features, candidates)
    lang = [article.lang] if article.lang else []
    params = {"outlet": outlet, "lang": lang, "now": now, "at": at}
    if event_id is None:
        profile = Profile.of(features)
        event_id = conn.execute(
            """INSERT INTO events (first_seen_at, last_seen_at, outlets, languages,
                                   first_published_at, last_published_at, profile, keys)
               VALUES (coalesce(%(now)s::timestamptz, now()), coalesce(%(now)s::timestamptz, now()),
                       ARRAY[%(outlet)s::text], %(lang)s::text[], %(at)s, %(at)s, %(profile)s,
                       %(keys)s)
               RETURNING id""",
            {**params, "profile": Jsonb(profile.counts), "keys": keys}).fetchone()[0]
    else:
        row = conn.execute(
            """SELECT id, profile, story_count, first_published_at, last_published_at
               FROM events WHERE id = %s FOR UPDATE""", (event_id,)).fetchone()
        profile = _profile(row).joined(features)
        conn.execute(
            """UPDATE events SET
                   story_count = story_count + 1,
                   last_seen_at = coalesce(%(now)s::timestamptz, now()),
                   first_published_at = least(first_published_at, %(at)s),
                   last_published_at = greatest(last_published_at, %(at)s),
                   outlets = CASE WHEN %(outlet)s::text = ANY(outlets) THEN outlets
                                  ELSE array_append(outlets, %(outlet)s::text) END,
                   languages = ARRAY(SELECT DISTINCT l FROM unnest(languages || %(lang)s::text[]) l
                                     ORDER BY l),
                   profile = %(profile)s, keys = %(keys)s
               WHERE id = %(event)s""",
            {**params, "event": event_id, "profile": Jsonb(profile.counts),
             "keys": lookup_keys(profile.counts)})
    conn.execute("UPDATE stories SET event_id = %s, event_reason = %s WHERE id = %s",
                  (event_id, Jsonb(reason), story_id))
    return event_id


def story_grew(conn: psycopg.Connection, *, story_id: int, outlet: str, lang: str | None,
               now: datetime | None) -> None:
    """An article or a verbatim copy joined the story: its event gains the outlet and the
    language (a no-op for a story without an event, or when both are known)."""
    conn.execute(
        """UPDATE events e SET
               last_seen_at = coalesce(%(now)s::timestamptz, now()),
               outlets = CASE WHEN %(outlet)s::text = ANY(e.outlets) THEN e.outlets
                              ELSE array_append(e.outlets, %(outlet)s::text) END,
               languages = ARRAY(SELECT DISTINCT l FROM unnest(e.languages || %(lang)s::text[]) l
                                 ORDER BY l)
           FROM stories s
           WHERE s.id = %(story)s AND e.id = s.event_id""",
        {"now": now, "outlet": outlet, "lang": [lang] if lang else [], "story": story_id})


def _article_time(article: Article, now: datetime | None) -> datetime:
    """When the story happened as far as the store knows: the article's publication time,
    else the write's time."""
    written = now or datetime.now(UTC)
    at = article.published_at
    if at is None:
        return written
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return written if at > written + _FUTURE_SKEW else at


def _profile(row: tuple) -> Profile:
    _, counts, stories, first_at, last_at = row
    return Profile(counts={k: dict(v) for k, v in (counts or {}).items()},
                   first_at=first_at, last_at=last_at, stories=stories)


