"""The raw archive: each stored article's last response, compressed, kept for
re-extraction (`newsmon reextract`) and pruned by the retention setting."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from pipeline.models import Response

COMPRESS_LEVEL = 6


def save_raw(conn: psycopg.Connection, *, article_id: int, response: Response) -> None:
    """Keep the response, compressed, in place of any earlier one for the article.

    A revised page replaces the archived one: re-extraction must read the page whose text
    is stored, or it would quietly undo the revision.
    """
    conn.execute(
        """INSERT INTO article_raw (article_id, url, status, content_type, headers, body, size)
           VALUES (%s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (article_id) DO UPDATE SET fetched_at = now(), url = EXCLUDED.url,
               status = EXCLUDED.status, content_type = EXCLUDED.content_type,
               headers = EXCLUDED.headers, body = EXCLUDED.body, size = EXCLUDED.size""",
        (article_id, response.url, response.status, response.headers.get("content-type"),
         Jsonb({k.lower(): v for k, v in response.headers.items()}),
         zlib.compress(response.body, COMPRESS_LEVEL), len(response.body)),
    )


def drop_raw(conn: psycopg.Connection, *, article_id: int) -> None:
    """Forget the article's archived response (its text no longer comes from that page)."""
    conn.execute("DELETE FROM article_raw WHERE article_id = %s", (article_id,))


def raw_body(compressed: bytes) -> bytes:
    return zlib.decompress(compressed)


def prune_raw(conn: psycopg.Connection, *, keep_days: float) -> int:
    """Delete raw responses fetched more than `keep_days` ago; returns how many."""
    cur = conn.execute("DELETE FROM article_raw WHERE fetched_at < now() - %s",
                       (timedelta(days=keep_days),))
    return cur.rowcount


_ARCHIVED = """
    SELECT r.article_id, r.url, r.content_type, r.body, a.title, a.lang, a.feed_summary,
           a.feed_published_at, a.discovered_at, a.date_flags, a.source_id
    FROM article_raw r JOIN articles a ON a.id = r.article_id
    WHERE (%(since)s::timestamptz IS NULL OR r.fetched_at >= %(since)s::timestamptz)
      AND (%(mode)s::text IS NULL
           OR a.extraction_mode IS NOT DISTINCT FROM nullif(%(mode)s::text, 'unrecorded'))
    ORDER BY r.article_id
"""
# The --mode values: an articles.extraction_mode, or "unrecorded" for its NULL (pre-0017).
EXTRACTION_MODES = ("precision", "balanced", "unrecorded")


def archived_pages(conn: psycopg.Connection, *, since: datetime | None,
                   mode: str | None = None) -> Iterator[tuple]:
    """The archived pages fetched at or after `since` (and whose text came from extraction
    `mode`, one of EXTRACTION_MODES), with what re-extraction keeps of their articles,
    streamed through a server-side cursor (a transaction of `conn`'s)."""
    if mode is not None and mode not in EXTRACTION_MODES:
        raise ValueError(f"reextract: unknown extraction mode {mode!r}")
    with conn.cursor(name="newsmon_reextract") as rows:
        rows.execute(_ARCHIVED, {"since": since, "mode": mode})
        yield from rows
