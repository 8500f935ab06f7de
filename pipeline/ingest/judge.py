"""Full text you can trust: the dates behind `published_at`, how complete the text is, and
the raw response kept for re-extraction.

`judge_fulltext` decides, just before a new article is stored, what its row says of these.
`reextract` re-runs extraction and matching over the raw archive when the extractor or a
watchlist improves; it updates articles in place and never creates revisions, because the
page did not change, only how we read it. `prune_raw` enforces the retention setting.
"""

from __future__ import annotations

import logging
import zlib
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from pipeline.config import Settings
from pipeline.dates import choose_published_at
from pipeline.extract.page import ExtractError, classify_fulltext, extract_article, summary_text
from pipeline.match import detect_language, load_watchlist, match_article
from pipeline.match.watchlist import Watchlist
from pipeline.models import Article, FeedItem, Match, Response, record
from pipeline.store import connect
from pipeline.store.articles import text_keys
from pipeline.store.queries import save_match

log = logging.getLogger(__name__)

BASELINE_MIN_ARTICLES = 5  # fewer full articles than this: the source has no baseline yet
BASELINE_RECENT = 200  # the median over a source's latest full articles, to stay cheap
COMPRESS_LEVEL = 6


@record
class Fulltext:
    """What judge_fulltext decided for one new article."""

    published_at: datetime
    date_source: str
    date_flags: tuple[str, ...]
    status: str
    match: Match  # the verdict kept (on the summary when matched_on is "summary")
    matched_on: str
    first_seen: datetime
    feed_published_at: datetime | None = None
    page_published_at: datetime | None = None
    feed_summary: str | None = None

    def columns(self, article: Article) -> dict[str, object]:
        """The articles columns a new row takes from this and from the page's metadata."""
        return {
            "discovered_at": self.first_seen,  # the instant a first-seen date comes from
            "feed_published_at": self.feed_published_at,
            "page_published_at": self.page_published_at,
            "published_at": self.published_at, "date_source": self.date_source,
            "date_flags": list(self.date_flags), "fulltext_status": self.status,
            "matched_on": self.matched_on, "feed_summary": self.feed_summary,
            "description": article.description, "image_url": article.image_url,
            "categories": list(article.categories), "tags": list(article.tags),
        }


def judge_fulltext(
    *,
    article: Article,
    item: FeedItem,
    page_date: datetime | None,
    match: Match,
    watchlist: Watchlist,
    baseline_chars: int | None,
    first_seen: datetime | None = None,
) -> Fulltext:
    """Dates, completeness and the verdict to keep for a page about to be stored as new.

    `page_date` is the date the page itself states (the article's `published_at` may
    already have been filled from the feed); `baseline_chars` is the source's usual text
    length (`source_baseline`). A teaser or paywalled text shorter than the feed's summary
    is matched on the summary instead. No I/O: the store writes the row once, with these.
    """
    first_seen = first_seen or datetime.now(UTC)
    feed_date = _feed_date(item)
    choice = choose_published_at(feed_date=feed_date, page_date=page_date,
                                 first_seen=first_seen)
    summary = summary_text(item.summary)
    status = classify_fulltext(text=article.text, feed_summary=summary,
                               baseline_chars=baseline_chars)
    match, matched_on = _verdict(match, watchlist=watchlist, article=article,
                                 summary=summary, status=status)
    return Fulltext(published_at=choice.published_at, date_source=choice.date_source,
                    date_flags=tuple(dict.fromkeys((*item.date_flags, *choice.flags))),
                    status=status, match=match, matched_on=matched_on,
                    feed_published_at=feed_date, page_published_at=page_date,
                    feed_summary=summary or None, first_seen=first_seen)


def _feed_date(item: FeedItem) -> datetime | None:
    # With flags, polling replaced an unusable feed date by the discovery time: not the feed's.
    return None if item.date_flags else item.published_at


def _verdict(match: Match, *, watchlist: Watchlist, article: Article, summary: str,
             status: str) -> tuple[Match, str]:
    """The verdict on the text, or on the feed's summary when that says more than a teaser."""
    if status in {"teaser", "paywalled", "failed"} and len(summary) > len(article.text.strip()):
        return match_article(watchlist, title=article.title, text=summary,
                             lang=article.lang), "summary"
    return match, "text"


def source_baseline(conn: psycopg.Connection, *, source_id: int | None,
                    exclude_id: int | None = None) -> int | None:
    """Median text length of the source's latest full articles (None: too few yet).

    It reads up to BASELINE_RECENT texts: a cycle asks once per source, not per article.
    """
    row = conn.execute(
        """SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY n) FROM (
               SELECT length(o.text) AS n FROM articles o
               WHERE o.source_id = %(source)s AND o.fulltext_status = 'full'
                 AND o.id IS DISTINCT FROM %(exclude)s
               ORDER BY o.id DESC LIMIT %(recent)s) recent""",
        {"source": source_id, "exclude": exclude_id, "recent": BASELINE_RECENT},
    ).fetchone()
    if row is None or row[0] < BASELINE_MIN_ARTICLES:
        return None
    return int(row[1])


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


def raw_body(compressed: bytes) -> bytes:
    return zlib.decompress(compressed)


def prune_raw(conn: psycopg.Connection, *, keep_days: float) -> int:
    """Delete raw responses fetched more than `keep_days` ago; returns how many."""
    cur = conn.execute("DELETE FROM article_raw WHERE fetched_at < now() - %s",
                       (timedelta(days=keep_days),))
    return cur.rowcount


# --- re-extraction ------------------------------------------------------------------------

_ARCHIVED = """
    SELECT r.article_id, r.url, r.content_type, r.body, a.title, a.lang, a.feed_summary,
           a.feed_published_at, a.discovered_at, a.date_flags, a.source_id
    FROM article_raw r JOIN articles a ON a.id = r.article_id
    WHERE %(since)s::timestamptz IS NULL OR r.fetched_at >= %(since)s::timestamptz
    ORDER BY r.article_id
"""


def reextract(conn_url: str, settings: Settings, *, since: datetime | date | None = None
              ) -> dict[str, int]:
    """Re-run extraction and matching over the raw archive (fetched at or after `since`).

    Idempotent: a second run over the same archive changes nothing. Each article is
    updated in its own transaction, so an interrupted run keeps what it did. Returns
    counts: articles, changed (text or title differs), failed (no text now), relevant.
    """
    if isinstance(since, date) and not isinstance(since, datetime):
        since = datetime.combine(since, datetime.min.time(), tzinfo=UTC)
    watchlist = load_watchlist(settings.watchlist)
    counts = {"articles": 0, "changed": 0, "failed": 0, "relevant": 0}
    # A server-side cursor streams the archive; updates go through a second connection.
    with (connect(conn_url, autocommit=True) as conn, connect(conn_url) as reader,
          reader.cursor(name="newsmon_reextract") as rows):
        rows.execute(_ARCHIVED, {"since": since})
        for row in rows:
            counts["articles"] += 1
            outcome = _reextract_one(conn, row, watchlist=watchlist)
            counts[outcome] = counts.get(outcome, 0) + 1
            if outcome != "failed":
                counts["relevant"] += _is_relevant(conn, row[0], watchlist.name)
    return counts


def _reextract_one(conn: psycopg.Connection, row: tuple, *, watchlist: Watchlist) -> str:
    article_id, url, content_type, body, old_title, old_lang, summary, feed_date, seen, \
        old_flags, source_id = row
    try:
        article = extract_article(raw_body(body), url=url, content_type=content_type)
    except (ExtractError, zlib.error) as exc:
        log.warning("reextract: article %s: %s", article_id, exc)
        return "failed"
    lang = article.lang or detect_language(article.text) or old_lang
    title = article.title or old_title
    choice = choose_published_at(feed_date=feed_date, page_date=article.published_at,
                                 first_seen=seen)
    # Flags from polling (an unusable feed date) survive; date flags are recomputed.
    polled = [f for f in old_flags if f.startswith("feed-date-") and feed_date is None]
    flags = list(dict.fromkeys((*polled, *choice.flags)))
    baseline = source_baseline(conn, source_id=source_id, exclude_id=article_id)
    status = classify_fulltext(text=article.text, feed_summary=summary, baseline_chars=baseline)
    full = Article(url=url, canonical_url=url, title=title, text=article.text, lang=lang)
    match = match_article(watchlist, title=title, text=article.text, lang=lang)
    match, matched_on = _verdict(match, watchlist=watchlist, article=full,
                                 summary=summary or "", status=status)
    keys = text_keys(article.text)
    with conn.transaction():
        changed = conn.execute(
            """SELECT title IS DISTINCT FROM %s OR text IS DISTINCT FROM %s
               FROM articles WHERE id = %s""", (title, article.text, article_id),
        ).fetchone()[0]
        conn.execute(
            """UPDATE articles SET title = %s, text = %s, content_hash = %s, minhash = %s,
                   author = %s, lang = %s, site_name = %s, description = %s, image_url = %s,
                   categories = %s, tags = %s, page_published_at = %s, published_at = %s,
                   date_source = %s, date_flags = %s, fulltext_status = %s, matched_on = %s
               WHERE id = %s""",
            (title, article.text, keys.fingerprint, _encoded(keys.signature),
             article.author, lang, article.site_name, article.description, article.image_url,
             list(article.categories), list(article.tags), article.published_at,
             choice.published_at, choice.date_source, flags, status, matched_on, article_id),
        )
        if changed:
            conn.execute("DELETE FROM article_bands WHERE article_id = %s", (article_id,))
            if keys.bands:
                conn.execute(
                    """INSERT INTO article_bands (band_key, article_id)
                       SELECT k, %s FROM unnest(%s::bigint[]) k ON CONFLICT DO NOTHING""",
                    (article_id, list(keys.bands)),
                )
        save_match(conn, article_id=article_id, match=match)
    return "changed" if changed else "unchanged"


def _encoded(signature) -> bytes | None:  # the storage format of stories.store_article
    if signature is None:
        return None
    return signature.astype("uint64").astype("<u4").tobytes()


def _is_relevant(conn: psycopg.Connection, article_id: int, watchlist: str) -> int:
    row = conn.execute("SELECT relevant FROM matches WHERE article_id = %s AND watchlist = %s",
                       (article_id, watchlist)).fetchone()
    return int(bool(row and row[0]))
