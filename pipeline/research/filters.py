"""What the research queries filter on (dates, entity, relevance, watchlist), and the
error a request that cannot be served raises."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from psycopg import sql

from pipeline.dates import as_utc

log = logging.getLogger(__name__)

class ResearchError(ValueError):
    """A research command cannot do what was asked; the message says why."""


def article_filters(*, since: date | datetime | None, entity: str | None, relevant: bool,
                     watchlist: str | None) -> list[sql.Composable]:
    """WHERE clauses on `articles a`; the values are bound by name by the caller."""
    clauses: list[sql.Composable] = []
    if since is not None:
        # published_at is indexed; the few articles without one fall back to discovered_at.
        clauses.append(sql.SQL("(a.published_at >= %(since)s OR "
                               "(a.published_at IS NULL AND a.discovered_at >= %(since)s))"))
    if entity is not None:
        clauses.append(sql.SQL(
            "EXISTS (SELECT 1 FROM article_entities e WHERE e.article_id = a.id "
            "AND e.entity_id = %(entity)s)"))
    if relevant:
        clauses.append(sql.SQL(
            "EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.relevant "
            "AND (%(watchlist)s::text IS NULL OR m.watchlist = %(watchlist)s))"))
    return clauses


def moment(value: date | datetime | None) -> datetime | None:
    """A date means its start in UTC, whatever the session's time zone; so does a naive
    datetime (it used to mean the session's zone, unlike everywhere else in newsmon)."""
    return as_utc(value) if value is not None else None


def day_end(day: date | None) -> datetime | None:
    return None if day is None else moment(day) + timedelta(days=1)
