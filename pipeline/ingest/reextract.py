"""Re-extraction: extraction and matching run again over the raw archive when the extractor
or a watchlist improves. Articles are updated in place and never get revisions, because the
page did not change, only how we read it."""

from __future__ import annotations

import logging
import zlib
from datetime import date, datetime

import psycopg

from pipeline.config import Settings
from pipeline.dates import as_utc, choose_published_at
from pipeline.dedup.keys import text_keys
from pipeline.extract.completeness import classify_fulltext
from pipeline.extract.page import ExtractError, extract_article
from pipeline.ingest.judge import judge_verdict
from pipeline.match import detect_language, load_watchlist
from pipeline.match.watchlist import Watchlist
from pipeline.models import Article
from pipeline.store import connect
from pipeline.store.articles import is_relevant, rewrite_article, source_baseline
from pipeline.store.raw import archived_pages, raw_body

log = logging.getLogger(__name__)



def reextract(conn_url: str, settings: Settings, *, since: datetime | date | None = None,
              mode: str | None = None) -> dict[str, int]:
    """Re-run extraction and matching over the raw archive (fetched at or after `since`;
    only articles whose text came from extraction `mode`, see store.raw.EXTRACTION_MODES).

    Idempotent: a second run over the same archive changes nothing. Each article is
    updated in its own transaction, so an interrupted run keeps what it did. Returns
    counts: articles, changed (text or title differs), failed (no text now), relevant.
    """
    # A date is its midnight UTC and a naive datetime (`--since` gives one) is UTC, as
    # everywhere in newsmon; a naive one used to mean the session's time zone instead.
    since = as_utc(since) if since is not None else None
    watchlist = load_watchlist(settings.watchlist)
    counts = {"articles": 0, "changed": 0, "failed": 0, "relevant": 0}
    # The archive streams through a connection of its own; updates go through another.
    with connect(conn_url, autocommit=True) as conn, connect(conn_url) as reader:
        for row in archived_pages(reader, since=since, mode=mode):
            counts["articles"] += 1
            outcome = _reextract_one(conn, row, watchlist=watchlist)
            counts[outcome] = counts.get(outcome, 0) + 1
            if outcome != "failed":
                counts["relevant"] += is_relevant(conn, row[0], watchlist.name)
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
    completed = Article(url=url, canonical_url=url, title=title, text=article.text, lang=lang)
    match, matched_on = judge_verdict(completed, watchlist=watchlist, summary=summary or "",
                                      status=status)
    columns = {"author": article.author, "lang": lang, "site_name": article.site_name,
               "description": article.description, "image_url": article.image_url,
               "categories": list(article.categories), "tags": list(article.tags),
               "page_published_at": article.published_at,
               "published_at": choice.published_at, "date_source": choice.date_source,
               "date_flags": flags, "fulltext_status": status, "matched_on": matched_on,
               "extraction_mode": article.extraction_mode}
    with conn.transaction():
        changed = rewrite_article(conn, article_id, title=title, text=article.text,
                                  keys=text_keys(article.text), columns=columns, match=match)
    return "changed" if changed else "unchanged"
