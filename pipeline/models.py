"""The small records that pass between stages.

Every stage takes and returns these frozen, slotted, keyword-only dataclasses;
third-party objects (feedparser entries, httpx responses, trafilatura output)
are converted to them at the edge of the stage that uses the library.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

record = dataclass(frozen=True, slots=True, kw_only=True)


@record
class Source:
    """One feed or API query from the sources file (or the `sources` table)."""

    name: str
    url: str
    kind: str = "rss"
    language: str | None = None
    tags: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


@record
class FeedItem:
    """One entry a source announced: enough to decide whether to fetch the page."""

    url: str
    guid: str | None = None
    title: str = ""
    summary: str = ""
    published_at: datetime | None = None
    language: str | None = None
    author: str | None = None
    # Why published_at is the discovery time instead of the feed's date
    # ("feed-date-future", "feed-date-unparseable", "feed-date-too-old").
    date_flags: tuple[str, ...] = ()
    # When the source says the entry last changed (Atom <updated>, JSON Feed date_modified,
    # sitemap <lastmod>): the hint that a stored page may have been revised.
    updated_at: datetime | None = None
    # The article's full text when the source delivers it (a full-text API): the cycle
    # then stores it as is, without fetching or extracting the page.
    body: str | None = None
    # Where the publisher is, when the source says (GDELT's sourcecountry): ISO 3166-1 alpha-2.
    country: str | None = None
    # The link exactly as the feed gave it, when `url` is another one: the publisher URL an
    # aggregator's link (Google News) stands for. Kept for the record, never fetched.
    link: str | None = None
    # Why the publisher URL is unknown; `url` is then the aggregator's own link, which is
    # never fetched: the entry settles as "unresolved", judged on its title and summary.
    unresolved: str | None = None
    # The publisher the feed names for the entry (Google News <source>), if it names one.
    publisher: str | None = None


@record
class ParsedFeed:
    """A source's entries as its adapter read them, and what the reading left out."""

    items: list[FeedItem]
    # Cuts made on hostile or oversized input, stage-prefixed for the poll's log
    # ("parse: feed lists 80000 entries; kept the first 1000 and the last 1000").
    notes: tuple[str, ...] = ()


@record
class Response:
    """A finished HTTP exchange, body already capped and decompressed."""

    url: str  # final URL after redirects
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_s: float = 0.0
    permanent_redirect: str | None = None  # target of a 301/308 seen on the way

    @property
    def is_not_modified(self) -> bool:
        return self.status == 304


@record
class Article:
    """A page's extracted full text and metadata."""

    url: str
    canonical_url: str
    title: str = ""
    text: str = ""
    author: str | None = None
    published_at: datetime | None = None
    lang: str | None = None
    site_name: str | None = None
    description: str | None = None
    image_url: str | None = None
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    page_canonical_url: str | None = None  # <link rel=canonical> / og:url, as the page states it
    # Which extraction path made `text`: "precision" or "balanced" (extract.page.main_text),
    # or "api" when the source delivered the text (FeedItem.body).
    extraction_mode: str | None = None


@record
class Evidence:
    """Why a watchlist matched: one entity or rule hit, located in the text."""

    kind: str  # "entity" or "rule"
    id: str  # entity id or rule id
    term: str  # the exact text that matched
    field: str  # "title" or "text"
    start: int  # character offsets into that field
    end: int
    snippet: str
    weight: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "term": self.term,
            "field": self.field,
            "start": self.start,
            "end": self.end,
            "snippet": self.snippet,
            "weight": self.weight,
        }


@record
class EntityMention:
    entity_id: str
    count: int
    first_offset: int


@record
class Match:
    """A watchlist's verdict on one article."""

    watchlist: str
    relevant: bool
    score: float
    evidence: tuple[Evidence, ...] = ()
    entities: tuple[EntityMention, ...] = ()


class Outcome(enum.StrEnum):
    """Exactly one of these per feed item; the run summary counts them."""

    NEW_RELEVANT = "new-relevant"
    NEW_IRRELEVANT = "new-irrelevant"
    DUPLICATE = "duplicate"
    REVISED = "revised"  # a stored page fetched again, its text changed: a new version
    ALREADY_SEEN = "already-seen"
    FAILED_FETCH = "failed-fetch"
    FAILED_EXTRACT = "failed-extract"
    FAILED_STORE = "failed-store"  # the database refused the article (a limit, a constraint)
    REJECTED = "rejected"  # refused where it entered, never fetched (a link over MAX_URL)
    # The publisher URL behind an aggregator's link is unknown (FeedItem.unresolved): never
    # fetched, judged on the entry alone, tried again when the lookup may succeed.
    UNRESOLVED = "unresolved"
