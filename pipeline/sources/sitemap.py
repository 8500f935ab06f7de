"""News sitemaps: `<urlset>` with `<news:news>` entries, and sitemap indexes pointing at them.

Publishers list their last two days of articles in a Google News sitemap, often behind a
sitemap index (`<sitemapindex>`) whose children are split by day or section. An index is
followed to its newest children (by `<lastmod>`), at most `params.max_sitemaps` (default
5) sitemaps per poll and two levels deep, so a site whose index lists years of monthly
archives costs a handful of requests, not thousands. A child that fails is skipped; the
poll fails only if none could be read. Gzipped sitemaps (`.xml.gz`, served without a
Content-Encoding) are inflated with the same bounded decoder as HTTP bodies.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lxml import etree

from pipeline.http import FetchError
from pipeline.http.body import Inflater
from pipeline.models import FeedItem, Response, Source
from pipeline.sources.errors import FeedParseError
from pipeline.sources.fields import absolute_http_url, checked_date, language_code
from pipeline.text import clean_title

if TYPE_CHECKING:
    from pipeline.http import HttpClient

MAX_SITEMAPS = 5  # child sitemaps fetched per poll
MAX_DEPTH = 2  # index -> index -> urlset
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemap protocol's own limit, uncompressed
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(slots=True)
class Sitemap:
    items: list[FeedItem] = field(default_factory=list)
    children: list[tuple[str, datetime | None]] = field(default_factory=list)  # (url, lastmod)


def parse_response(source: Source, response: Response) -> list[FeedItem]:
    """The URLs of one sitemap; an index's children need `collect_items` to be fetched."""
    return read_sitemap(response.body, url=response.url, language=source.language).items


async def collect_items(client: HttpClient, source: Source, response: Response) -> list[FeedItem]:
    """The sitemap's items, and those of its newest child sitemaps if it is an index."""
    root = read_sitemap(response.body, url=response.url, language=source.language)
    items = list(root.items)
    limit = int(source.params.get("max_sitemaps") or MAX_SITEMAPS)
    pending, seen, fetched, errors = _newest(root.children), {response.url}, 0, []
    for _depth in range(MAX_DEPTH):
        batch = [url for url in pending if url not in seen][: max(0, limit - fetched)]
        if not batch:
            break
        seen.update(batch)
        fetched += len(batch)
        results = await asyncio.gather(
            *(_fetch_sitemap(client, url, language=source.language) for url in batch),
            return_exceptions=True,
        )
        pending = []
        for result in results:
            if isinstance(result, FetchError | FeedParseError):
                errors.append(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                items.extend(result.items)
                pending.extend(_newest(result.children))
    if errors and not items:
        raise FeedParseError(f"parse: no child sitemap could be read (first: {errors[0]})")
    return _first_per_url(items)  # children often overlap (today's and yesterday's)


def read_sitemap(body: bytes, *, url: str, language: str | None = None,
                 now: datetime | None = None) -> Sitemap:
    """One sitemap document: its URL entries, or the child sitemaps of an index."""
    now = now or datetime.now(UTC)
    root = _parse_xml(_inflated(body))
    kind = etree.QName(root).localname
    if kind == "sitemapindex":
        children = []
        for node in root:
            if _local(node) == "sitemap":
                loc = absolute_http_url(_child_text(node, "loc"), url)
                if loc:
                    children.append((loc, _w3c_date(_child_text(node, "lastmod"))))
        return Sitemap(children=children)
    if kind != "urlset":
        raise FeedParseError(f"parse: not a sitemap (root element <{kind}>)")
    items = []
    for node in root:
        if _local(node) == "url":
            item = _url_item(node, base_url=url, language=language, now=now)
            if item is not None:
                items.append(item)
    return Sitemap(items=items)


async def _fetch_sitemap(client: HttpClient, url: str, *, language: str | None) -> Sitemap:
    response = await client.fetch(url)
    return read_sitemap(response.body, url=response.url, language=language)


def _url_item(node: etree._Element, *, base_url: str, language: str | None,
              now: datetime) -> FeedItem | None:
    loc = absolute_http_url(_child_text(node, "loc"), base_url)
    if not loc:
        return None
    news = _child(node, "news")
    title, stated, lang = "", _child_text(node, "lastmod"), None
    if news is not None:
        title = clean_title(_child_text(news, "title"))
        stated = _child_text(news, "publication_date") or stated
        publication = _child(news, "publication")
        if publication is not None:
            lang = language_code(_child_text(publication, "language"))
    moment = _w3c_date(stated)
    published_at, flags = checked_date(moment, now=now)
    if stated and moment is None:
        published_at, flags = now, ("feed-date-unparseable",)
    updated_at, updated_flags = checked_date(_w3c_date(_child_text(node, "lastmod")), now=now)
    return FeedItem(url=loc, title=title, published_at=published_at,
                    language=lang or language, date_flags=flags,
                    updated_at=None if updated_flags else updated_at)


def _inflated(body: bytes) -> bytes:
    if not body.startswith(_GZIP_MAGIC):
        return body
    try:
        data = Inflater("gzip").decode(body, MAX_SITEMAP_BYTES + 1)
    except zlib.error as exc:
        raise FeedParseError(f"parse: cannot inflate gzipped sitemap ({exc})") from exc
    if len(data) > MAX_SITEMAP_BYTES:
        raise FeedParseError("parse: gzipped sitemap exceeds 50 MB uncompressed")
    return data


def _parse_xml(body: bytes) -> etree._Element:
    # No entities, no network, no DTD: a sitemap has no use for them and they are attack surface.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             recover=True, remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise FeedParseError(f"parse: not a sitemap ({exc})") from exc
    if root is None:
        raise FeedParseError("parse: not a sitemap (no XML element found)")
    return root


def _first_per_url(items: list[FeedItem]) -> list[FeedItem]:
    kept: dict[str, FeedItem] = {}
    for item in items:
        kept.setdefault(item.url, item)
    return list(kept.values())


def _newest(children: list[tuple[str, datetime | None]]) -> list[str]:
    oldest = datetime.min.replace(tzinfo=UTC)
    ordered = sorted(enumerate(children), key=lambda c: (c[1][1] or oldest, -c[0]), reverse=True)
    return [url for _index, (url, _lastmod) in ordered]


def _w3c_date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _child(node: etree._Element, name: str) -> etree._Element | None:
    for child in node:
        if _local(child) == name:
            return child
    return None


def _child_text(node: etree._Element, name: str) -> str:
    child = _child(node, name)
    return (child.text or "").strip() if child is not None else ""
