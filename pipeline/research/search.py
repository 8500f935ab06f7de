"""Ranked full-text search over stored articles, English and Spanish, accent-insensitive
(the text search configurations and `newsmon_query()` come from sql/0009_research.sql)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

from pipeline.research.filters import ResearchError, article_filters, moment

_HEADLINE_OPTIONS = ('MaxFragments=2, MinWords=8, MaxWords=30, FragmentDelimiter=" … ", '
                     "StartSel=<b>, StopSel=</b>")

@dataclass(frozen=True, slots=True, kw_only=True)
class SearchHit:
    article_id: int
    title: str
    url: str
    outlet: str
    lang: str | None
    published_at: datetime | None
    story_id: int | None
    rank: float
    snippet: str  # matched words between <b> and </b>


def search_articles(conn: psycopg.Connection, query: str, *, lang: str | None = None,
                    since: date | datetime | None = None, entity: str | None = None,
                    relevant: bool = False, watchlist: str | None = None,
                    limit: int = 20) -> list[SearchHit]:
    """Full-text search (web-search syntax), stemmed and accent-insensitive, best first.

    Without `lang` every article is searched in its own language; `relevant` keeps the
    articles relevant to `watchlist` (to any watchlist when it is None).
    """
    if not conn.execute("SELECT numnode(newsmon_query(%s, %s))", (query, lang)).fetchone()[0]:
        raise ResearchError(f"search: {query!r} has no searchable words (only stop words?)")
    if lang is None:
        # The first test uses the GIN index; the second keeps only articles that match
        # in their own language (an English stem can collide with a Spanish one).
        match = sql.SQL("a.search_tsv @@ newsmon_query(%(q)s) AND a.search_tsv @@ "
                        "websearch_to_tsquery(newsmon_ts_config(a.lang), %(q)s)")
    else:
        match = sql.SQL("a.search_tsv @@ newsmon_query(%(q)s, %(lang)s) AND a.lang = %(lang)s")
    where = sql.SQL(" AND ").join([match, *article_filters(
        since=since, entity=entity, relevant=relevant, watchlist=watchlist)])
    statement = sql.SQL("""
        WITH hits AS (
            SELECT a.id, a.title, a.url, a.site_name, a.lang, a.text, a.published_at, a.story_id,
                   ts_rank(a.search_tsv,
                           websearch_to_tsquery(newsmon_ts_config(a.lang), %(q)s)) AS rank
            FROM articles a
            WHERE {where}
            ORDER BY rank DESC, a.published_at DESC NULLS LAST, a.id
            LIMIT %(limit)s)
        SELECT id, title, url, newsmon_outlet(site_name, url), lang, published_at, story_id, rank,
               ts_headline(newsmon_ts_config(lang), left(text, 200000),
                           websearch_to_tsquery(newsmon_ts_config(lang), %(q)s), %(options)s)
        FROM hits
        ORDER BY rank DESC, published_at DESC NULLS LAST, id""").format(where=where)
    params = {"q": query, "lang": lang, "since": moment(since), "entity": entity,
              "watchlist": watchlist, "limit": limit, "options": _HEADLINE_OPTIONS}
    return [_hit(row) for row in conn.execute(statement, params)]


def search_titles(conn: psycopg.Connection, text: str, *, lang: str | None = None,
                  since: date | datetime | None = None, entity: str | None = None,
                  relevant: bool = False, watchlist: str | None = None,
                  limit: int = 20) -> list[SearchHit]:
    """Fuzzy headline search (trigram word similarity, accents ignored): typos welcome."""
    if not text.strip():
        raise ResearchError("search: empty title query")
    filters = article_filters(since=since, entity=entity, relevant=relevant,
                               watchlist=watchlist)
    if lang is not None:
        filters.append(sql.SQL("a.lang = %(lang)s"))
    where = sql.SQL(" AND ").join(
        [sql.SQL("newsmon_unaccent(a.title) %%> newsmon_unaccent(%(q)s)"), *filters])
    statement = sql.SQL("""
        SELECT a.id, a.title, a.url, newsmon_outlet(a.site_name, a.url), a.lang,
               a.published_at, a.story_id,
               word_similarity(newsmon_unaccent(%(q)s), newsmon_unaccent(a.title)) AS rank,
               a.title
        FROM articles a
        WHERE {where}
        ORDER BY rank DESC, a.published_at DESC NULLS LAST, a.id
        LIMIT %(limit)s""").format(where=where)
    params = {"q": text, "lang": lang, "since": moment(since), "entity": entity,
              "watchlist": watchlist, "limit": limit}
    return [_hit(row) for row in conn.execute(statement, params)]


def _hit(row: Sequence[Any]) -> SearchHit:
    article_id, title, url, outlet, lang, published_at, story_id, rank, snippet = row
    return SearchHit(article_id=article_id, title=title, url=url, outlet=outlet, lang=lang,
                     published_at=published_at, story_id=story_id, rank=float(rank),
                     snippet=snippet or "")
