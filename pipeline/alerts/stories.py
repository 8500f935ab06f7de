"""Reading an event for an email: its headline, lead, outlets, languages and entities.

An event is the stories that report one happening (stories.event_id); a story without
an event stands for one of its own. Both are read the same way, through the stories that
match `event_id OR story id`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from pipeline.alerts.render import (
    MAX_WHY,
    EventView,
    Piece,
    clean_text,
    entity_label,
    format_time,
    lead_of,
    safe_url,
)
from pipeline.dates import as_utc
from pipeline.urls import outlet_name

MAX_PIECES = 12  # outlets listed per event; the count says how many there are in all

# The stories of the event; when it has none (event_id NULL) the equality is NULL and only
# the story itself matches.
_EVENT_STORIES = "(st.event_id = %(event)s OR st.id = %(story)s)"
_IN_EVENT = f"a.story_id IN (SELECT st.id FROM stories st WHERE {_EVENT_STORIES})"


def event_state(conn: psycopg.Connection, *, event_id: int | None,
                story_id: int | None) -> tuple[frozenset[str], frozenset[str]]:
    """The event's outlets (as stories.outlets names them) and languages, as stored now:
    what an email records it showed, and what an update compares with."""
    outlets, languages = conn.execute(
        f"""SELECT (SELECT coalesce(array_agg(DISTINCT o), '{{}}')
                    FROM stories st, unnest(st.outlets) o WHERE {_EVENT_STORIES}),
                   (SELECT coalesce(array_agg(DISTINCT a.lang), '{{}}')
                    FROM articles a WHERE {_IN_EVENT} AND a.lang IS NOT NULL)""",
        {"event": event_id, "story": story_id}).fetchone()
    return frozenset(outlets), frozenset(languages)


def _outlet(site_name: str | None, url: str | None) -> str:
    """An outlet's name for an email: the page's site name, else the host, cleaned.

    A site name that cleans to nothing (markup only) falls back to the host.
    """
    return (clean_text(outlet_name(site_name, url), limit=80)
            or clean_text(outlet_name(None, url), limit=80) or "unknown")


def load_event(conn: psycopg.Connection, *, article_id: int, story_id: int | None,
               event_id: int | None, watchlist: str, timezone: str,
               headline_id: int | None = None, catch_up: bool = False) -> EventView:
    """The event of `article_id` as an email shows it; its headline is `headline_id`'s
    (default: the article's own) title, shown once, with the lead of its text."""
    headline_id = headline_id or article_id
    with conn.cursor(row_factory=dict_row) as cur:
        if story_id is None:
            row = cur.execute("SELECT story_id FROM articles WHERE id = %s",
                              (article_id,)).fetchone()
            if row is None:
                raise LookupError(f"alerts: article {article_id} is gone")
            story_id = row["story_id"]
        params = {"event": event_id, "story": story_id, "article": article_id,
                  "headline": headline_id, "watchlist": watchlist}
        articles = cur.execute(
            f"""SELECT a.id, a.url, a.title, a.site_name, a.lang, a.published_at,
                       a.discovered_at
                FROM articles a
                WHERE {_IN_EVENT} OR a.id IN (%(article)s, %(headline)s)
                ORDER BY a.discovered_at, a.id""", params).fetchall()
        headline = next((a for a in articles if a["id"] == headline_id), None) or \
            next((a for a in articles if a["id"] == article_id), None)
        if headline is None:
            raise LookupError(f"alerts: article {article_id} is gone")
        text = cur.execute("SELECT left(text, 4000) AS text FROM articles WHERE id = %s",
                           (headline["id"],)).fetchone()["text"]
        entities = cur.execute(
            f"""SELECT e.entity_id
                FROM article_entities e JOIN articles a ON a.id = e.article_id
                WHERE e.watchlist = %(watchlist)s AND ({_IN_EVENT} OR a.id = %(article)s)
                GROUP BY e.entity_id
                ORDER BY sum(e.mentions) DESC, min(e.first_offset), e.entity_id
                LIMIT {MAX_WHY}""", params).fetchall()
    outlet_keys, language_keys = event_state(conn, event_id=event_id, story_id=story_id)
    title = clean_text(headline["title"], limit=300) or "(untitled)"
    return EventView(
        title=title,
        url=safe_url(headline["url"]),
        published=format_time(_first_reported(articles), timezone),
        lead=lead_of(text, title=title),
        why=tuple(dict.fromkeys(entity_label(e["entity_id"]) for e in entities)),
        pieces=_pieces(headline, articles, outlet_keys),
        outlet_keys=outlet_keys,
        language_keys=language_keys | ({headline["lang"]} if headline["lang"] else set()),
        catch_up=catch_up,
        entity=entities[0]["entity_id"] if entities else None,
    )


def _first_reported(articles: list[dict[str, Any]]) -> datetime | None:
    """The earliest publication time among the pieces; a time after the piece was first
    seen is not trustworthy, so a piece counts from when it was seen at the latest."""
    times = [min(as_utc(a["published_at"]), as_utc(a["discovered_at"])) if a["published_at"]
             else as_utc(a["discovered_at"]) for a in articles]
    return min(times, default=None)


def _pieces(headline: dict[str, Any], articles: list[dict[str, Any]],
            outlet_keys: frozenset[str]) -> tuple[Piece, ...]:
    """One piece per outlet, the headline's outlet first, then in the order first seen.

    Copies folded into a stored article are known only by their outlet's name
    (stories.outlets): listed without a link.
    """
    pieces: dict[str, Piece] = {}
    for a in (headline, *articles):
        name = _outlet(a["site_name"], a["url"])
        pieces.setdefault(name, Piece(outlet=name, url=safe_url(a["url"]), lang=a["lang"]))
    for key in sorted(outlet_keys):
        name = clean_text(key, limit=80)
        if name:
            pieces.setdefault(name, Piece(outlet=name, url=None))
    return tuple(pieces.values())[:MAX_PIECES]
