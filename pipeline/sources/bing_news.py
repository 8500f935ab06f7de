"""Bing News search RSS: a keyless query feed, its click-tracking links unwrapped.

A source is either a full search URL (`https://www.bing.com/news/search?q=...&format=rss`)
or the search URL plus params `query` and optionally `mkt` (market, e.g. "es-XL", "en-US")
and `setlang` (interface language); `format=rss` is always asked for. The items' language
is the source's, else the market's ("es-XL" -> "es").

Every item link is a Bing redirect, `https://www.bing.com/news/apiclick.aspx?...&url=<the
percent-encoded publisher URL>&c=...&mkt=...`; the publisher URL is read from `url=`
offline. An item whose redirect holds no http(s) URL to another site (no `url=`, a bing.com
or a `javascript:` target) is dropped, and the poll's note says how many: fetching the
redirect would store a Bing page, or nothing, as the article.

The publisher's name is in `<News:Source>`, whose namespace is bound to the query URL
itself, so its prefix and feedparser's key for it (`<prefix>_source`) are read from the
feed. A headline ending in exactly " - <publisher>" loses that suffix.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import feedparser
import httpx

from pipeline.models import FeedItem, ParsedFeed, Response, Source
from pipeline.sources import rss
from pipeline.sources.fields import absolute_http_url, language_code, title_without_publisher
from pipeline.text import clean_title

SEARCH_URL = "https://www.bing.com/news/search"


def request_url(source: Source) -> str:
    params = source.params
    url = httpx.URL(source.url or SEARCH_URL)
    query = params.get("query")
    if not query and not url.params.get("q"):
        raise ValueError("bing_news: needs params.query or a q= search URL")
    extra = {"format": "rss"}
    if query:
        extra["q"] = str(query)
    for name in ("mkt", "setlang"):
        if params.get(name):
            extra[name] = str(params[name])
    return str(url.copy_merge_params(extra))


def parse_response(source: Source, response: Response) -> ParsedFeed:
    parsed = rss.parse_document(response.body, base_url=response.url, headers=response.headers)
    market = source.params.get("mkt") or httpx.URL(response.url).params.get("mkt")
    publisher_key = _publisher_key(parsed)

    def resolved(entry: feedparser.FeedParserDict, item: FeedItem) -> FeedItem:
        publisher = clean_title(entry.get(publisher_key))
        return replace(item, url=publisher_url(item.url) or item.url,
                       title=title_without_publisher(item.title, publisher))

    items = rss.feed_items(parsed, base_url=response.url,
                           language=source.language or language_code(market), adjust=resolved)
    kept = [item for item in items if not is_bing(urlsplit(item.url).hostname)]
    dropped = len(items) - len(kept)
    note = (f"parse: dropped {dropped} of {len(items)} entries whose Bing link leads to no "
            "publisher URL")
    return ParsedFeed(items=kept, notes=(note,) if dropped else ())


def publisher_url(link: str) -> str | None:
    """The publisher URL behind a Bing redirect (`url=`), the link itself when it is not
    Bing's, or None when the redirect leads nowhere usable."""
    parts = urlsplit(link)
    if not is_bing(parts.hostname):
        return link
    for value in parse_qs(parts.query).get("url", []):
        # A relative target resolves against Bing's own host, and is refused with it.
        target = absolute_http_url(value, link)
        if target and not is_bing(urlsplit(target).hostname):
            return target
    return None


def is_bing(host: str | None) -> bool:
    return bool(host) and (host == "bing.com" or host.endswith(".bing.com"))


def _publisher_key(parsed: feedparser.FeedParserDict) -> str:
    """feedparser's key for <News:Source>: the lower-cased prefix bound to a Bing URI."""
    for prefix, uri in parsed.get("namespaces", {}).items():
        if prefix and is_bing(urlsplit(str(uri)).hostname):
            return f"{prefix.lower()}_source"
    return "news_source"
