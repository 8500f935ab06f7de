"""A dry run of one source for someone adding it: poll, parse, resolve, sample, store nothing.

`try_source` goes the way a cycle goes (`ingest.poll.poll_source`, the adapter, link
resolution, the page fetch, `extract.page`, `ingest.judge`) for one source, without a
database: nothing is stored, no schedule changes, and a second try sees the same items.
Only the first few items' pages are fetched, so a try is quick and polite.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.config import Settings
from pipeline.dedup.keys import canonical_url
from pipeline.errors import NewsmonError
from pipeline.extract.page import ExtractError
from pipeline.http import FetchError, HttpClient
from pipeline.ingest.cycle import complete_article, delivered_page, extract_page
from pipeline.ingest.judge import judge_fulltext
from pipeline.ingest.poll import poll_source
from pipeline.match import Watchlist, load_watchlist
from pipeline.models import FeedItem, Response, Source
from pipeline.sources import FeedParseError, collect_items, google_news, request_url
from pipeline.sources.errors import SourceMisconfigured, SourceRateLimited
from pipeline.urls import host_of

log = logging.getLogger(__name__)

SAMPLE_PAGES = 3


class TrialError(NewsmonError):
    """The source gave nothing to try: its service refused, it is skipped, or unreadable."""

    stage = "poll"


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialItem:
    """One entry as the cycle would see it; `fetched` only for the first few."""

    item: FeedItem
    fetched: bool = False
    teaser: bool = True  # what newsmon holds of it is only the feed's teaser
    relevant: bool | None = None
    score: float | None = None
    fulltext_status: str | None = None
    chars: int | None = None
    error: str | None = None

    def as_json(self) -> dict[str, object]:
        item = self.item
        unresolved = item.unresolved
        return {
            "title": item.title,
            "link": item.link or item.url,
            "url": None if unresolved else item.url,
            "published_at": item.published_at.isoformat() if item.published_at else None,
            "unresolved_reason": unresolved,
            "teaser": self.teaser,
            "fetched": self.fetched,
            "fulltext_status": self.fulltext_status,
            "relevant": self.relevant,
            "score": self.score,
            "error": self.error,
        }


def guess_kind(target: str, body: bytes | None = None) -> str:
    """The source kind a URL (or a saved response's bytes) most likely is; "rss" otherwise."""
    host = (urlsplit(target).hostname or "").lower()
    by_host = {"news.google.com": "google_news", "api.gdeltproject.org": "gdelt",
               "newsapi.org": "newsapi", "content.guardianapis.com": "guardian"}
    if host in by_host:
        return by_host[host]
    if host.endswith("bing.com") and "/news" in urlsplit(target).path:
        return "bing_news"
    if body is None:
        return "rss"
    head = body[:4096].lstrip()
    if head.startswith((b"{", b"[")):
        if b'"response"' in body[:200_000] and b'"results"' in body[:200_000]:
            return "guardian"
        return "newsapi" if b'"status"' in head else "gdelt"
    if b"<urlset" in head or b"<sitemapindex" in head:
        return "sitemap"
    if b"news.google.com" in body[:200_000]:
        return "google_news"
    if b"bing.com/news/apiclick" in body[:200_000]:
        return "bing_news"
    if not head.startswith(b"<"):
        return "gdelt"  # GDELT's plain-text error answers
    return "rss"


def saved_response(path: Path, *, url: str | None = None) -> Response:
    """A response saved to a file, as the poller would have received it."""
    return Response(url=url or path.resolve().as_uri(), status=200, headers={},
                    body=path.read_bytes())


async def try_source(settings: Settings, source: Source, *, saved: Response | None = None,
                     sample: int = SAMPLE_PAGES) -> list[TrialItem]:
    """Every item the source gives now; the first `sample` fetched, extracted and judged.

    Raises TrialError when the source gives nothing to try (the service's own message).
    """
    async with HttpClient(settings) as client:
        items = await _items(client, source, saved)
        items = await resolve_links(client, settings, source, items)
        watchlist = load_watchlist(settings.watchlist)
        tried = []
        for index, item in enumerate(items):
            if index < sample and not item.unresolved:
                tried.append(await _sample(client, item, source, settings, watchlist))
            else:
                tried.append(TrialItem(item=item, teaser=not item.body))
        return tried


async def _items(client: HttpClient, source: Source, saved: Response | None) -> list[FeedItem]:
    if saved is None:
        result = await poll_source(client, source, etag=None, last_modified=None)
        if result.status in ("error", "skipped"):
            raise TrialError(str(result.error))
        return result.items
    try:
        return (await collect_items(client, source, saved)).items
    except (FetchError, FeedParseError, SourceMisconfigured, SourceRateLimited) as exc:
        raise TrialError(str(exc)) from exc


async def resolve_links(client: HttpClient, settings: Settings, source: Source,
                        items: list[FeedItem]) -> list[FeedItem]:
    """Google News ids only Google can resolve, asked of Google as a cycle asks (same
    budget, pace and base URL), but without the cycle's id cache: a try keeps nothing."""
    ids = {index: article_id for index, item in enumerate(items)
           if (article_id := google_news.opaque_id(item.url))}
    if not ids:
        return items
    client.pace(host_of(settings.google_news_url), settings.google_news_interval_s)
    ask = list(dict.fromkeys(ids.values()))[: max(0, settings.google_news_resolve_per_cycle)]
    try:
        edition = google_news.edition(request_url(source))
    except ValueError:  # a saved file tried without its search URL: Google's default edition
        edition = None
    lookups = await google_news.resolve_ids(client, ask, base_url=settings.google_news_url,
                                            edition=edition)
    resolved = list(items)
    for index, article_id in ids.items():
        item, lookup = items[index], lookups.get(article_id)
        if lookup is not None and lookup.url:
            resolved[index] = replace(item, url=canonical_url(lookup.url),
                                      link=item.link or item.url, unresolved=None)
        else:
            resolved[index] = replace(item, unresolved=lookup.reason if lookup else (
                "resolve: not looked up: over NEWSMON_GOOGLE_NEWS_RESOLVE_PER_CYCLE"))
    return resolved


async def _sample(client: HttpClient, item: FeedItem, source: Source, settings: Settings,
                  watchlist: Watchlist) -> TrialItem:
    """One item as the cycle takes it: the delivered text or the fetched page, extracted
    and completed (`ingest.cycle`), then judged (`ingest.judge`); nothing stored."""
    page_date = None
    if item.body:
        page = delivered_page(item, source_language=source.language, watchlist=settings.watchlist)
    else:
        try:
            response = await client.fetch(item.url, robots=True)
            page = extract_page(response.body, url=response.url, watchlist=settings.watchlist,
                                content_type=response.headers.get("content-type"))
        except (FetchError, ExtractError) as exc:
            return TrialItem(item=item, fetched=True, error=str(exc))
        page_date = page.article.published_at
    article = complete_article(page.article, item, source)
    full = judge_fulltext(article=article, item=item, page_date=page_date,
                          early_match=page.match, watchlist=watchlist, baseline_chars=None)
    return TrialItem(item=item, fetched=True,
                     teaser=full.status in ("teaser", "paywalled", "failed"),
                     relevant=full.match.relevant, score=round(full.match.score, 3),
                     fulltext_status=full.status, chars=len(article.text))
