"""Feed discovery: which feeds a site offers, from its own page and the usual addresses.

Like Miniflux: the page's `<link rel="alternate">` feeds first; only a page that declares
none is probed at the common feed paths, so a well-behaved site costs one request per
declared feed. Every candidate is fetched and parsed, so what is reported is a feed that
works today, not a guess.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import lxml.html
from lxml import etree

from pipeline.http import FetchError, HttpClient
from pipeline.sources.errors import FeedParseError
from pipeline.sources.fields import absolute_http_url
from pipeline.sources.jsonfeed import is_json_feed, read_json_feed
from pipeline.sources.rss import parse_document

FEED_TYPES = frozenset({
    "application/rss+xml", "application/atom+xml", "application/rdf+xml",
    "application/feed+json", "application/json", "application/x.atom+xml", "text/xml",
    "application/xml",
})
COMMON_PATHS = ("/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml")


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundFeed:
    url: str
    how: str  # "the page itself", "<link rel=alternate>", "common path"
    title: str = ""
    format: str = ""  # feedparser's version: rss20, atom10, json11, ...
    items: int = 0
    problem: str | None = None  # a declared feed that does not work


async def discover_feeds(client: HttpClient, url: str) -> list[FoundFeed]:
    """The working feeds of the site at `url` (plus declared ones that fail, with why)."""
    response = await client.fetch(url)
    itself = _as_feed(response.body, url=response.url, headers=response.headers,
                      how="the page itself")
    if itself.problem is None:
        return [itself]
    declared = linked_feeds(response.body, base_url=response.url)
    if declared:
        return list(await asyncio.gather(*(_check(client, u, "<link rel=alternate>")
                                           for u in declared)))
    probed = [absolute_http_url(path, response.url) for path in COMMON_PATHS]
    found = await asyncio.gather(*(_check(client, u, "common path") for u in probed if u))
    return [feed for feed in found if feed.problem is None]


def linked_feeds(body: bytes, *, base_url: str) -> list[str]:
    """Feed URLs a page declares with `<link rel="alternate" type="...">`, in page order."""
    try:
        document = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return []
    urls: list[str] = []
    for link in document.iter("link"):
        rel = {part.lower() for part in (link.get("rel") or "").split()}
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        if not ({"alternate", "feed"} & rel) or kind not in FEED_TYPES:
            continue
        url = absolute_http_url(link.get("href") or "", base_url)
        if url and url not in urls:
            urls.append(url)
    return urls


async def _check(client: HttpClient, url: str, how: str) -> FoundFeed:
    try:
        response = await client.fetch(url)
    except FetchError as exc:
        return FoundFeed(url=url, how=how, problem=str(exc))
    return _as_feed(response.body, url=response.url, headers=response.headers, how=how)


def _as_feed(body: bytes, *, url: str, headers: dict[str, str], how: str) -> FoundFeed:
    try:
        if is_json_feed(body):
            data = read_json_feed(body)
            return FoundFeed(url=url, how=how, title=str(data.get("title") or ""),
                             format="json", items=len(data.get("items") or []))
        parsed = parse_document(body, base_url=url, headers=headers)
    except FeedParseError as exc:
        return FoundFeed(url=url, how=how, problem=str(exc))
    return FoundFeed(url=url, how=how, title=" ".join(str(parsed.feed.get("title", "")).split()),
                     format=str(parsed.get("version") or ""), items=len(parsed.entries))
