"""The one judge of a page about to be stored: its dates, how complete its text is, and
the verdict to keep (on the text, or on the feed's summary when the page is a teaser).

`judge_verdict` is the only place a stored verdict is decided: `judge_fulltext` asks it
for a new page in the cycle, re-extraction (`ingest.reextract`) for an archived one, and
an extraction worker computes its text verdict ahead (`early_verdict`) through the same
rule. `judge_entry` judges a feed entry no page will ever back (its publisher URL is
unknown) on the entry alone. No I/O: the store writes what these decide.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pipeline.dates import choose_published_at
from pipeline.extract.completeness import classify_fulltext, summary_text
from pipeline.match import load_watchlist, match_article
from pipeline.match.watchlist import Watchlist
from pipeline.models import Article, FeedItem, Match, record

log = logging.getLogger(__name__)


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
            "extraction_mode": article.extraction_mode,
        }


def judge_fulltext(
    *,
    article: Article,
    item: FeedItem,
    page_date: datetime | None,
    early_match: Match | None,
    watchlist: Watchlist,
    baseline_chars: int | None,
    first_seen: datetime | None = None,
) -> Fulltext:
    """Dates, completeness and the verdict to keep for a page about to be stored as new.

    `page_date` is the date the page itself states (the article's `published_at` may
    already have been filled from the feed); `baseline_chars` is the source's usual text
    length (`source_baseline`). A teaser or paywalled text shorter than the feed's summary
    is matched on the summary instead. `early_match` is the worker's `early_verdict`, if it
    gave one. No I/O: the store writes the row once, with these.
    """
    first_seen = first_seen or datetime.now(UTC)
    feed_date = _feed_date(item)
    choice = choose_published_at(feed_date=feed_date, page_date=page_date,
                                 first_seen=first_seen)
    summary = summary_text(item.summary)
    status = classify_fulltext(text=article.text, feed_summary=summary,
                               baseline_chars=baseline_chars)
    match, matched_on = judge_verdict(article, watchlist=watchlist, summary=summary,
                                      status=status, early_match=early_match)
    return Fulltext(published_at=choice.published_at, date_source=choice.date_source,
                    date_flags=tuple(dict.fromkeys((*item.date_flags, *choice.flags))),
                    status=status, match=match, matched_on=matched_on,
                    feed_published_at=feed_date, page_published_at=page_date,
                    feed_summary=summary or None, first_seen=first_seen)


def _feed_date(item: FeedItem) -> datetime | None:
    # With flags, polling replaced an unusable feed date by the discovery time: not the feed's.
    return None if item.date_flags else item.published_at


def judge_verdict(article: Article, *, watchlist: Watchlist, summary: str, status: str,
                  early_match: Match | None = None) -> tuple[Match, str]:
    """The verdict to keep for a completed article, and what it was matched on: the feed's
    summary ("summary") when the text is a teaser, paywalled or failed and the summary says
    more, else the text ("text"). `early_match` is the text verdict an extraction worker
    already computed (`early_verdict`); without it the text is matched here."""
    if status in {"teaser", "paywalled", "failed"} and len(summary) > len(article.text.strip()):
        return match_article(watchlist, title=article.title, text=summary,
                             lang=article.lang), "summary"
    return early_match or _text_verdict(article, watchlist), "text"


def early_verdict(article: Article, watchlist: Watchlist | str) -> Match | None:
    """The text verdict, computed in an extraction worker so the cycle's own process is
    spared the CPU, when the page states its title and language: the feed entry then
    changes neither (the cycle completes only what the page lacks), so this is what
    `judge_verdict` would compute on the text. None: the cycle matches the completed page.
    A watchlist given by name or path is loaded only then."""
    if not (article.title and article.lang):
        return None
    if isinstance(watchlist, str):
        watchlist = load_watchlist(watchlist)
    return _text_verdict(article, watchlist)


def _text_verdict(article: Article, watchlist: Watchlist) -> Match:
    return match_article(watchlist, title=article.title, text=article.text, lang=article.lang)


def judge_entry(item: FeedItem, watchlist: Watchlist) -> Match:
    """The verdict on a feed entry whose page is never fetched (an unresolved aggregator
    link): its title, and its summary with the publisher the feed names (unless the summary
    names it already: a name counted twice would weigh twice)."""
    text = summary_text(item.summary)
    if item.publisher and item.publisher not in text:
        text = f"{text}\n{item.publisher}".strip()
    return match_article(watchlist, title=item.title, text=text, lang=item.language)
