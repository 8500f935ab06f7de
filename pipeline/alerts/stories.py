"""Reading a story for an email: the article, its evidence, the other outlets, its entity."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from pipeline.alerts.render import (
    OutletLink,
    StoryView,
    clean_text,
    evidence_snippets,
    format_time,
    safe_url,
)
from pipeline.urls import outlet_name

MAX_OTHER_OUTLETS = 8


def _outlet(row: dict[str, Any]) -> str:
    """The article's outlet as stories.outlets names it, cleaned for an email.

    Cleaning the stored name (not the raw site name) keeps the article's own outlet equal
    to its entry in stories.outlets, so it is not listed twice. A site name that cleans to
    nothing (markup only) falls back to the host.
    """
    url = row.get("url")
    return (clean_text(outlet_name(row.get("site_name"), url), limit=80)
            or clean_text(outlet_name(None, url), limit=80) or "unknown")


def load_story(conn: psycopg.Connection, *, article_id: int, story_id: int | None,
               watchlist: str, timezone: str, catch_up: bool = False) -> StoryView:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """SELECT a.id, a.url, a.title, a.site_name, a.published_at, a.discovered_at,
                      a.story_id, m.evidence, st.outlets
               FROM articles a
               LEFT JOIN matches m ON m.article_id = a.id AND m.watchlist = %s
               LEFT JOIN stories st ON st.id = coalesce(%s, a.story_id)
               WHERE a.id = %s""",
            (watchlist, story_id, article_id),
        )
        article = cur.fetchone()
        if article is None:
            raise LookupError(f"alerts: article {article_id} is gone")
        story_id = story_id or article["story_id"]
        copies: list[dict[str, Any]] = []
        if story_id is not None:
            cur.execute(
                """SELECT a.url, a.site_name FROM articles a
                   WHERE a.story_id = %s AND a.id <> %s
                   ORDER BY a.discovered_at, a.id""",
                (story_id, article_id),
            )
            copies = cur.fetchall()
        entity = _main_entity(cur, article_id=article_id, story_id=story_id, watchlist=watchlist)
    outlet = _outlet(article)
    # Copies stored as articles come with a link; verbatim copies folded into an
    # existing article are known only by name (stories.outlets).
    others: dict[str, OutletLink] = {}
    for copy in copies:
        others.setdefault(_outlet(copy), OutletLink(name=_outlet(copy), url=safe_url(copy["url"])))
    for name in article["outlets"] or ():
        name = clean_text(name, limit=80)
        if name:
            others.setdefault(name, OutletLink(name=name, url=None))
    others.pop(outlet, None)
    snippets, terms = evidence_snippets(article["evidence"])
    return StoryView(
        title=clean_text(article["title"], limit=300) or "(untitled)",
        url=safe_url(article["url"]),
        outlet=outlet,
        published=format_time(article["published_at"] or article["discovered_at"], timezone),
        snippets=snippets,
        terms=terms,
        other_outlets=tuple(others.values())[:MAX_OTHER_OUTLETS],
        outlets=(outlet, *others),
        catch_up=catch_up,
        entity=entity,
    )


def _main_entity(cur: psycopg.Cursor, *, article_id: int, story_id: int | None,
                 watchlist: str) -> str | None:
    """The entity mentioned most across the story's copies (ties: first mentioned)."""
    cur.execute(
        """SELECT e.entity_id
           FROM article_entities e JOIN articles a ON a.id = e.article_id
           WHERE e.watchlist = %s AND (a.id = %s OR a.story_id = %s)
           GROUP BY e.entity_id
           ORDER BY sum(e.mentions) DESC, min(e.first_offset), e.entity_id
           LIMIT 1""",
        (watchlist, article_id, story_id),
    )
    row = cur.fetchone()
    return row["entity_id"] if row else None
