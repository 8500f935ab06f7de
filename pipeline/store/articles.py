"""Stories: where each fetched article lands in the store (the one article writer).

One ``store_article`` call per fetched page, inside the cycle's transaction, decides what
the page is and writes it:

* a known page (its canonical URL, or a URL variant of the same site, is stored): a
  *revision* when the text or headline changed (the old version goes to
  ``article_versions`` with a diff summary; article id and story stay), else *unchanged*;
* a verbatim copy of a stored article (same text fingerprint): a *duplicate*, folded into
  that article (its URLs resolve to it; its outlet joins the story's outlets);
* otherwise a *new* article, which joins the story of its closest near-duplicate (LSH band
  keys in ``article_bands``, confirmed on the signature) or starts a story of its own.

A page on an aggregator's site (a Google News interstitial, a Bing redirect: see
``pipeline.urls.is_aggregator``) is never an article: ``store_article`` refuses it
(``NotAnArticle``), and an aggregator's link the feed gave is not kept among the URLs.

Concurrent writers: each call first takes transaction-scoped advisory locks, in sorted
order, on everything it looks up (canonical URL, text fingerprint, band keys). Copies of
one story share at least one key, so a second writer waits for the first to commit and
then finds its rows: no unique violation, no story split in two, and no deadlock between
two such calls.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from pipeline.dedup.keys import (
    NEAR_DUPLICATE_THRESHOLD,
    TextKeys,
    canonical_url,
    estimate_similarity,
    lsh_bands,
    text_keys,
)
from pipeline.dedup.revisions import diff_versions, is_material_change
from pipeline.errors import NewsmonError
from pipeline.models import Article, Match, record
from pipeline.store.events import place_story, story_grew
from pipeline.store.locks import lock, lock_key
from pipeline.store.queries import save_match
from pipeline.urls import is_aggregator, outlet_name, site_of

# Candidates verified per lookup, most shared bands first, then newest. Unrelated articles
# share a band at a rate of ~144 per million stored, almost always one band each; the cap
# keeps a lookup's cost nearly flat as the archive grows. A real copy shares two or more
# bands (69% of copies even at the threshold), or one band and is recent: at 1M articles
# over a year, 0.8 unrelated candidates on average are newer than a two-day-old original,
# so four slots find it 99% of the time (docs/decisions.md, "Lookup cost").
CANDIDATE_LIMIT = 4


class NotAnArticle(NewsmonError, ValueError):
    """The page is an aggregator's own (its URL or the canonical URL it states), not an
    article: storing it would file Google's interstitial text as news."""

    stage = "store"


class StoreOutcome(enum.StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    REVISION = "revision"
    UNCHANGED = "unchanged"


@record
class Stored:
    """What store_article did with one page."""

    article_id: int
    story_id: int | None
    outcome: StoreOutcome
    new_story: bool = False


class NearDuplicate(NamedTuple):
    article_id: int
    story_id: int | None
    similarity: float


@record
class KnownArticle:
    """A stored article as the re-fetch policy sees it."""

    article_id: int
    story_id: int | None
    checked_at: datetime
    published_at: datetime | None
    discovered_at: datetime


# --- pure helpers ----------------------------------------------------------------------------


def _encode(signature: np.ndarray) -> bytes:
    return np.asarray(signature, dtype=np.uint64).astype("<u4").tobytes()


# --- the store -------------------------------------------------------------------------------


@record
class _Page:
    """One fetched page with what the lookups need, computed once."""

    article: Article
    canonical: str
    urls: list[str]
    fingerprint: str
    has_text: bool
    signature: np.ndarray | None
    bands: list[int]
    now: datetime | None  # the time the write stamps; None: the database's now()


def store_article(
    conn: psycopg.Connection,
    *,
    article: Article,
    source_id: int | None,
    match: Match,
    keys: TextKeys | None = None,
    feed_url: str | None = None,
    columns: Mapping[str, object] | None = None,
    now: datetime | None = None,
) -> Stored:
    """Store one fetched page: new article, revision, unchanged, or duplicate (module doc).

    ``keys`` are ``text_keys(article.text)`` if the caller computed them already.
    ``feed_url`` is the link the feed announced, kept as one more URL of the article.
    ``columns`` are more ``articles`` columns for a new article's row (judge.Fulltext).
    ``now`` is the time every stamp of this write takes (discovered, checked, revised,
    seen, matched); None, the default, is the database's now(), the transaction's start.
    Given, it lets a test or a replay write as of another moment.
    Idempotent: storing the same page again returns the same ids and changes nothing but
    ``articles.checked_at``. Runs in a transaction (a savepoint inside the caller's).
    Raises ``NotAnArticle``, writing nothing, for a page on an aggregator's site.
    """
    canonical = article.canonical_url or canonical_url(article.url)
    for url in (article.url, canonical, article.page_canonical_url):
        if url and is_aggregator(url):
            raise NotAnArticle(f"store: refused {url[:200]}: an aggregator's page, not an "
                               "article")
    if feed_url and is_aggregator(feed_url):
        feed_url = None  # the publisher's page it led to is the article; the link is not
    text = keys or text_keys(article.text)
    urls = list(dict.fromkeys(u for u in (canonical, article.url, feed_url) if u))
    page = _Page(article=article, canonical=canonical, urls=urls, fingerprint=text.fingerprint,
                 has_text=text.words > 0, signature=text.signature, bands=list(text.bands),
                 now=now)
    locks = [lock_key("url", canonical), *page.bands]
    if page.has_text:
        locks.append(lock_key("text", page.fingerprint))
    try:
        with conn.transaction():
            return _store_page(conn, page, locks, source_id, match, columns or {})
    except _StoredMeanwhile:  # rolled back; now a known page
        with conn.transaction():
            return _store_page(conn, page, locks, source_id, match, columns or {})


def _store_page(conn: psycopg.Connection, page: _Page, keys: list[int], source_id: int | None,
                match: Match, columns: Mapping[str, object]) -> Stored:
    lock(conn, keys)
    known = _known_article_id(conn, page)
    if known is not None:
        return _update_known(conn, known, page, match)
    if page.has_text:
        copy = conn.execute(
            "SELECT id, story_id FROM articles WHERE content_hash = %s ORDER BY id LIMIT 1",
            (page.fingerprint,),
        ).fetchone()
        if copy:
            return _fold_copy(conn, copy[0], copy[1], page)
    return _insert_new(conn, page, source_id, match, columns)


def _known_article_id(conn: psycopg.Connection, page: _Page) -> int | None:
    """The stored article this page is: by canonical URL, else by a URL variant on the same
    site. A variant that leads to another site's article is a verbatim copy folded into it;
    that copy's later edits must not rewrite the other outlet's text."""
    rows = conn.execute(
        """SELECT id, canonical_url, 0 AS rank FROM articles WHERE canonical_url = %s
           UNION ALL
           SELECT a.id, a.canonical_url, 1
           FROM article_urls u JOIN articles a ON a.id = u.article_id WHERE u.url = ANY(%s)
           ORDER BY rank, id""",
        (page.canonical, page.urls),
    ).fetchall()
    site = site_of(page.canonical)
    for article_id, stored_canonical, rank in rows:
        if rank == 0 or site_of(stored_canonical) == site:
            return article_id
    return None


def _update_known(conn: psycopg.Connection, article_id: int, page: _Page,
                  match: Match) -> Stored:
    with conn.cursor(row_factory=dict_row) as cur:
        # Row lock: two variants of one page may arrive under different lock keys.
        stored = cur.execute(
            """SELECT id, story_id, title, text, content_hash, version,
                      coalesce(revised_at, discovered_at) AS stored_at
               FROM articles WHERE id = %s FOR UPDATE""",
            (article_id,),
        ).fetchone()
    _record_urls(conn, article_id, page.urls, now=page.now)
    new = page.article
    if not is_material_change(old_title=stored["title"], old_text=stored["text"],
                              new_title=new.title, new_text=new.text):
        conn.execute("UPDATE articles SET checked_at = coalesce(%s::timestamptz, now()) "
                     "WHERE id = %s", (page.now, article_id))
        return Stored(article_id=article_id, story_id=stored["story_id"],
                      outcome=StoreOutcome.UNCHANGED)
    summary = diff_versions(old_title=stored["title"], old_text=stored["text"],
                            new_title=new.title, new_text=new.text)
    conn.execute(
        """INSERT INTO article_versions (article_id, version, title, text, content_hash,
                                         stored_at, replaced_at, title_changed, chars_added,
                                         chars_removed, words_added, words_removed,
                                         paragraphs_changed, diff)
           VALUES (%s, %s, %s, %s, %s, %s, coalesce(%s::timestamptz, now()), %s, %s, %s, %s,
                   %s, %s, %s)""",
        (article_id, stored["version"], stored["title"], stored["text"],
         stored["content_hash"], stored["stored_at"], page.now, summary.title_changed,
         summary.chars_added, summary.chars_removed, summary.words_added,
         summary.words_removed, summary.paragraphs_changed, summary.diff),
    )
    _rewrite_text(conn, article_id, title=new.title, text=new.text,
                  fingerprint=page.fingerprint, signature=page.signature, bands=page.bands)
    conn.execute("""UPDATE articles SET version = version + 1,
                           revised_at = coalesce(%(now)s::timestamptz, now()),
                           checked_at = coalesce(%(now)s::timestamptz, now()),
                           extraction_mode = %(mode)s
                    WHERE id = %(id)s""",
                 {"now": page.now, "id": article_id, "mode": page.article.extraction_mode})
    save_match(conn, article_id=article_id, match=match, now=page.now)
    return Stored(article_id=article_id, story_id=stored["story_id"],
                  outcome=StoreOutcome.REVISION)


def _fold_copy(conn: psycopg.Connection, article_id: int, story_id: int | None,
               page: _Page) -> Stored:
    _record_urls(conn, article_id, page.urls, now=page.now)
    if story_id is not None:
        # Only a new outlet changes the story, so a repeat stays a no-op.
        conn.execute(
            """UPDATE stories SET outlets = array_append(outlets, %(outlet)s::text),
                                  last_seen_at = coalesce(%(now)s::timestamptz, now())
               WHERE id = %(story)s AND NOT %(outlet)s::text = ANY(outlets)""",
            {"outlet": outlet_name(page.article.site_name, page.article.url), "story": story_id,
             "now": page.now},
        )
        story_grew(conn, story_id=story_id, outlet=outlet_name(page.article.site_name,
                                                                 page.article.url),
                   lang=page.article.lang, now=page.now)
    return Stored(article_id=article_id, story_id=story_id, outcome=StoreOutcome.DUPLICATE)


class _StoredMeanwhile(Exception):
    """The page's canonical URL was inserted by a writer that does not take our locks."""


def _insert_new(conn: psycopg.Connection, page: _Page, source_id: int | None,
                match: Match, columns: Mapping[str, object]) -> Stored:
    # The row is written once, story included: every later UPDATE of an article would
    # re-index its whole text (search vector, trigram title) for a one-field change.
    a = page.article
    near = find_near_duplicate(conn, page.signature) if page.signature is not None else None
    outlet = outlet_name(a.site_name, a.url)
    new_story = near is None or near.story_id is None
    if new_story:
        story_id = conn.execute(
            """INSERT INTO stories (outlets, first_seen_at, last_seen_at)
               VALUES (ARRAY[%(outlet)s::text], coalesce(%(now)s::timestamptz, now()),
                       coalesce(%(now)s::timestamptz, now())) RETURNING id""",
            {"outlet": outlet, "now": page.now},
        ).fetchone()[0]
    else:
        story_id = near.story_id
        conn.execute(
            """UPDATE stories SET size = size + 1,
                   last_seen_at = coalesce(%(now)s::timestamptz, now()),
                   outlets = CASE WHEN %(outlet)s::text = ANY(outlets) THEN outlets
                                  ELSE array_append(outlets, %(outlet)s::text) END
               WHERE id = %(story)s""",
            {"outlet": outlet, "story": story_id, "now": page.now},
        )
    values = {"url": a.url, "canonical_url": page.canonical, "source_id": source_id,
              "title": a.title, "text": a.text, "author": a.author,
              "published_at": a.published_at, "lang": a.lang, "site_name": a.site_name,
              "content_hash": page.fingerprint,
              "minhash": _encode(page.signature) if page.signature is not None else None,
              "story_id": story_id, **_stamps(page.now), **columns}
    row = conn.execute(_insert_article_sql(tuple(values)), list(values.values())).fetchone()
    if row is None:
        raise _StoredMeanwhile
    article_id = row[0]
    if new_story:
        conn.execute("UPDATE stories SET representative_id = %s WHERE id = %s",
                     (article_id, story_id))
        place_story(conn, story_id=story_id, article=a, match=match, outlet=outlet, now=page.now)
    else:
        story_grew(conn, story_id=story_id, outlet=outlet, lang=a.lang, now=page.now)
    save_match(conn, article_id=article_id, match=match, now=page.now)
    _record_urls(conn, article_id, page.urls, now=page.now)
    _insert_bands(conn, article_id, page.bands)
    return Stored(article_id=article_id, story_id=story_id, outcome=StoreOutcome.NEW,
                  new_story=new_story)


def _stamps(now: datetime | None) -> dict[str, datetime]:
    # Without a time of its own the new row keeps the columns' defaults, now().
    return {} if now is None else {"discovered_at": now, "checked_at": now}


@functools.cache
def _insert_article_sql(names: tuple[str, ...]) -> sql.Composed:
    return sql.SQL("""INSERT INTO articles ({}) VALUES ({})
                      ON CONFLICT (canonical_url) DO NOTHING RETURNING id""").format(
        sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL(", ").join(sql.Placeholder() * len(names)))


def rewrite_article(conn: psycopg.Connection, article_id: int, *, title: str, text: str,
                    keys: TextKeys, columns: Mapping[str, object], match: Match) -> bool:
    """Re-extraction's write: the article's text, keys, bands, `columns` and verdict, in
    place (no revision: the page did not change, only how it is read). True if the title
    or text changed."""
    changed = conn.execute(
        "SELECT title IS DISTINCT FROM %s OR text IS DISTINCT FROM %s FROM articles WHERE id = %s",
        (title, text, article_id)).fetchone()[0]
    if changed:
        _rewrite_text(conn, article_id, title=title, text=text, fingerprint=keys.fingerprint,
                      signature=keys.signature, bands=list(keys.bands))
    if columns:
        conn.execute(sql.SQL("UPDATE articles SET {} WHERE id = %s").format(
            sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(name))
                               for name in columns)), (*columns.values(), article_id))
    save_match(conn, article_id=article_id, match=match)
    return bool(changed)


def _rewrite_text(conn: psycopg.Connection, article_id: int, *, title: str, text: str,
                  fingerprint: str, signature: np.ndarray | None, bands: list[int]) -> None:
    """The one place an article's text changes after it was stored (a revision, a
    re-extraction): its lookup keys and LSH bands change with it."""
    conn.execute(
        """UPDATE articles SET title = %s, text = %s, content_hash = %s, minhash = %s
           WHERE id = %s""",
        (title, text, fingerprint, _encode(signature) if signature is not None else None,
         article_id))
    conn.execute("DELETE FROM article_bands WHERE article_id = %s", (article_id,))
    _insert_bands(conn, article_id, bands)


def _record_urls(conn: psycopg.Connection, article_id: int, urls: list[str], *,
                 now: datetime | None = None) -> None:
    # First mapping wins: a URL never moves to another article.
    conn.execute(
        """INSERT INTO article_urls (url, article_id, first_seen_at)
           SELECT u, %s, coalesce(%s::timestamptz, now()) FROM unnest(%s::text[]) u
           ON CONFLICT (url) DO NOTHING""",
        (article_id, now, urls),
    )


def _insert_bands(conn: psycopg.Connection, article_id: int, bands: list[int]) -> None:
    if bands:
        conn.execute(
            """INSERT INTO article_bands (band_key, article_id)
               SELECT k, %s FROM unnest(%s::bigint[]) k ON CONFLICT DO NOTHING""",
            (article_id, bands),
        )


_CANDIDATES = """
    WITH candidates AS (
        SELECT article_id, count(*) AS shared
        FROM article_bands
        WHERE band_key = ANY(%(keys)s::bigint[])
        GROUP BY article_id
        ORDER BY shared DESC, article_id DESC
        LIMIT %(limit)s
    )
    SELECT a.id, a.story_id, a.minhash
    FROM candidates c JOIN articles a ON a.id = c.article_id
    WHERE a.minhash IS NOT NULL
    ORDER BY c.shared DESC, a.id DESC
"""


def find_near_duplicate(
    conn: psycopg.Connection,
    signature: Sequence[int] | np.ndarray,
    *,
    threshold: float = NEAR_DUPLICATE_THRESHOLD,
    limit: int = CANDIDATE_LIMIT,
) -> NearDuplicate | None:
    """The stored article most similar to the signature, if any reaches ``threshold``.

    LSH candidates come from the band table's primary key (32 probes), at most ``limit``
    of them (most shared bands first, then newest); each is confirmed on its stored
    signature. Ties go to the candidate sharing more bands, then the newest.
    """
    keys = lsh_bands(signature)
    if not keys:
        return None
    rows = conn.execute(_CANDIDATES, {"keys": keys, "limit": limit}).fetchall()
    if not rows:
        return None
    # One comparison for all candidates; estimate_similarity then scores the winner, so
    # the figure returned is exactly the one is_near_duplicate would judge.
    stored = np.frombuffer(b"".join(row[2] for row in rows), dtype="<u4").reshape(len(rows), -1)
    best = int(np.argmax((stored == np.asarray(signature, dtype=np.uint64)).sum(axis=1)))
    similarity = estimate_similarity(signature, stored[best])
    if similarity < threshold:
        return None
    return NearDuplicate(rows[best][0], rows[best][1], similarity)


def known_articles(conn: psycopg.Connection, urls: list[str]) -> dict[str, KnownArticle]:
    """Stored articles by any URL they were seen under (canonical or variant): the cycle's
    "already stored?" check, with what ``should_refetch`` needs."""
    rows = conn.execute(
        """SELECT k.url, a.id, a.story_id, a.checked_at, a.published_at, a.discovered_at
           FROM (SELECT canonical_url AS url, id FROM articles WHERE canonical_url = ANY(%(u)s)
                 UNION
                 SELECT url, article_id FROM article_urls WHERE url = ANY(%(u)s)) AS k
           JOIN articles a ON a.id = k.id""",
        {"u": urls},
    ).fetchall()
    return {
        url: KnownArticle(article_id=i, story_id=s, checked_at=c, published_at=p,
                          discovered_at=d)
        for url, i, s, c, p, d in rows
    }


# --- what a source's articles usually look like ------------------------------------------

BASELINE_MIN_ARTICLES = 5  # fewer full articles than this: the source has no baseline yet
BASELINE_RECENT = 200  # the median over a source's latest full articles, to stay cheap


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


def is_relevant(conn: psycopg.Connection, article_id: int, watchlist: str) -> int:
    """1 if the article's stored verdict for `watchlist` is relevant, else 0."""
    row = conn.execute("SELECT relevant FROM matches WHERE article_id = %s AND watchlist = %s",
                       (article_id, watchlist)).fetchone()
    return int(bool(row and row[0]))
