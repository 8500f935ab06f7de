"""News sitemaps: `<urlset>` with `<news:news>` entries, and sitemap indexes pointing at them.

Publishers list their last two days of articles in a Google News sitemap, often behind a
sitemap index (`<sitemapindex>`) whose children are split by day or section. An index is
followed to its newest children (by `<lastmod>`), at most `params.max_sitemaps` (default
5) sitemaps per poll and two levels deep, so a site whose index lists years of monthly
archives costs a handful of requests, not thousands. A child that fails is skipped; the
poll fails only if none could be read.

Each document is read as a stream (gzipped ones, `.xml.gz` served without a
Content-Encoding, inflated as it is read) and refused past the protocol's 50 MB: every
entry leaves the tree once read and only the newest entries are kept: at most the
protocol's 50,000 per file, and no more than the poll keeps (`poll_max_items`). A 3 MB
gzipped index listing 1.25 million child sitemaps thus never holds more than those.
"""

from __future__ import annotations

import asyncio
import gzip
import heapq
import io
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lxml import etree

from pipeline.dates import parse_iso_datetime
from pipeline.http import FetchError
from pipeline.models import FeedItem, ParsedFeed, Response, Source
from pipeline.sources.errors import FeedParseError
from pipeline.sources.fields import absolute_http_url, checked_date, language_code
from pipeline.text import clean_title

if TYPE_CHECKING:
    from pipeline.http import HttpClient
    from pipeline.sources import Runner

MAX_SITEMAPS = 5  # child sitemaps fetched per poll
MAX_DEPTH = 2  # index -> index -> urlset
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemap protocol's own limit, uncompressed
MAX_URLS = 50_000  # the protocol's limit of URLs (or child sitemaps) in one file
_GZIP_MAGIC = b"\x1f\x8b"
_OLDEST = datetime.min.replace(tzinfo=UTC)
_ENTRY = {"urlset": "url", "sitemapindex": "sitemap"}  # root element -> its entries
# No entities, no network, no DTD: a sitemap has no use for them and they are attack surface.
_SAFE_XML = {"resolve_entities": False, "no_network": True, "load_dtd": False,
             "recover": True, "remove_comments": True, "remove_pis": True}


@dataclass(slots=True)
class Sitemap:
    items: list[FeedItem] = field(default_factory=list)
    children: list[tuple[str, datetime | None]] = field(default_factory=list)  # (url, lastmod)
    notes: list[str] = field(default_factory=list)  # entries left out, see ParsedFeed.notes


def parse_response(source: Source, response: Response) -> list[FeedItem]:
    """The URLs of one sitemap; an index's children need `collect_items` to be fetched."""
    return read_sitemap(response.body, url=response.url, language=source.language).items


async def collect_items(client: HttpClient, source: Source, response: Response, *,
                        run: Runner) -> ParsedFeed:
    """The sitemap's items, and those of its newest child sitemaps if it is an index.

    Each document is parsed through `run` (a cycle's worker processes), fetched here.
    """
    # The poll keeps its newest `poll_max_items` in the end: a file's older URLs would
    # only cross the worker's pipe to be dropped. An index's children are fetched newest
    # first, a handful per poll, so the same number of them is plenty.
    max_urls = min(MAX_URLS, client.settings.poll_max_items)
    root = await run(read_sitemap, response.body, url=response.url, language=source.language,
                     max_urls=max_urls)
    items, notes = list(root.items), list(root.notes)
    limit = int(source.params.get("max_sitemaps") or MAX_SITEMAPS)
    pending, seen, fetched, errors = _newest(root.children), {response.url}, 0, []
    for _depth in range(MAX_DEPTH):
        batch = [url for url in pending if url not in seen][: max(0, limit - fetched)]
        if not batch:
            break
        seen.update(batch)
        fetched += len(batch)
        results = await asyncio.gather(
            *(_fetch_sitemap(client, url, language=source.language, run=run,
                             max_urls=max_urls) for url in batch),
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
                notes.extend(result.notes)
                pending.extend(_newest(result.children))
    if errors and not items:
        raise FeedParseError(f"parse: no child sitemap could be read (first: {errors[0]})")
    # children often overlap (today's and yesterday's)
    return ParsedFeed(items=_first_per_url(items), notes=tuple(notes))


def read_sitemap(body: bytes, *, url: str, language: str | None = None,
                 now: datetime | None = None, max_urls: int = MAX_URLS) -> Sitemap:
    """One sitemap document: its URL entries, or the child sitemaps of an index.

    Streamed: each entry is taken out of the tree once read, and a heap keeps the newest
    `max_urls` (by publication date or lastmod; undated ones count as oldest, earlier
    ones first), so memory follows `max_urls`, not the size of the file.
    """
    now = now or datetime.now(UTC)
    newest: list[tuple[datetime, int, etree._Element]] = []  # heap: the oldest kept on top
    listed, entry, root = 0, None, None
    events = etree.iterparse(_XmlStream(body), events=("end",),
                             tag=("{*}url", "{*}sitemap"), **_SAFE_XML)
    try:
        for _event, node in events:
            if root is None:
                root = node.getroottree().getroot()
                if _local(root) not in _ENTRY:
                    break
                entry = etree.QName(etree.QName(root).namespace, _ENTRY[_local(root)]).text
            if node.tag != entry or node.getparent() is not root:
                continue
            root.remove(node)
            listed += 1
            kept = (_entry_date(node) or _OLDEST, -listed, node)
            if len(newest) < max_urls:
                heapq.heappush(newest, kept)
            else:
                heapq.heappushpop(newest, kept)
    except etree.XMLSyntaxError as exc:
        raise FeedParseError(f"parse: not a sitemap ({exc})") from exc
    root = events.root if root is None else root
    if root is None:
        raise FeedParseError("parse: not a sitemap (no XML element found)")
    kind = _local(root)
    if kind not in _ENTRY:
        raise FeedParseError(f"parse: not a sitemap (root element <{kind}>)")
    nodes = [node for _date, _index, node in sorted(newest, key=lambda kept: -kept[1])]
    sitemap = Sitemap()
    if listed > len(nodes):
        what = "child sitemaps" if kind == "sitemapindex" else "URLs"
        sitemap.notes.append(f"parse: sitemap {url} lists {listed} {what}; "
                             f"kept the newest {len(nodes)}")
    if kind == "sitemapindex":
        for node in nodes:
            loc = absolute_http_url(_child_text(node, "loc"), url)
            if loc:
                sitemap.children.append((loc, parse_iso_datetime(_child_text(node, "lastmod"))))
        return sitemap
    for node in nodes:
        item = _url_item(node, base_url=url, language=language, now=now)
        if item is not None:
            sitemap.items.append(item)
    return sitemap


async def _fetch_sitemap(client: HttpClient, url: str, *, language: str | None, run: Runner,
                         max_urls: int) -> Sitemap:
    response = await client.fetch(url)
    return await run(read_sitemap, response.body, url=response.url, language=language,
                     max_urls=max_urls)


def _entry_date(node: etree._Element) -> datetime | None:
    """What the heap orders entries by: the date `_url_item` reads, before any checks.

    Read for every entry of a file, so lxml matches the tags (`iterchildren`).
    """
    for news in node.iterchildren("{*}news"):
        for published in news.iterchildren("{*}publication_date"):
            if (published.text or "").strip():
                return parse_iso_datetime(published.text)
            break
        break
    for lastmod in node.iterchildren("{*}lastmod"):
        return parse_iso_datetime(lastmod.text or "")
    return None


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
    video = _child(node, "video")
    if not title and video is not None:  # a video sitemap's entry is titled in its video
        title = clean_title(_child_text(video, "title"))
    moment = parse_iso_datetime(stated)
    published_at, flags = checked_date(moment, now=now)
    if stated and moment is None:
        published_at, flags = now, ("feed-date-unparseable",)
    updated_at, updated_flags = checked_date(parse_iso_datetime(_child_text(node, "lastmod")),
                                             now=now)
    return FeedItem(url=loc, title=title, published_at=published_at,
                    language=lang or language, date_flags=flags,
                    updated_at=None if updated_flags else updated_at)


class _XmlStream:
    """The document for lxml to read in chunks: inflated as it goes when gzipped, and
    refused once past MAX_SITEMAP_BYTES, so a gzip bomb never sits in memory whole."""

    def __init__(self, body: bytes) -> None:
        raw = io.BytesIO(body)
        self._source = gzip.GzipFile(fileobj=raw) if body.startswith(_GZIP_MAGIC) else raw
        self._read = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._source.read(size if size >= 0 else MAX_SITEMAP_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise FeedParseError(f"parse: cannot inflate gzipped sitemap ({exc})") from exc
        self._read += len(data)
        if self._read > MAX_SITEMAP_BYTES:
            raise FeedParseError("parse: sitemap exceeds 50 MB uncompressed")
        return data


def _first_per_url(items: list[FeedItem]) -> list[FeedItem]:
    kept: dict[str, FeedItem] = {}
    for item in items:
        kept.setdefault(item.url, item)
    return list(kept.values())


def _newest(children: list[tuple[str, datetime | None]]) -> list[str]:
    ordered = sorted(enumerate(children), key=lambda c: (c[1][1] or _OLDEST, -c[0]), reverse=True)
    return [url for _index, (url, _lastmod) in ordered]



def _local(node: etree._Element) -> str:
    # What etree.QName(node).localname says, without building a QName: read per entry.
    tag = node.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _child(node: etree._Element, name: str) -> etree._Element | None:
    for child in node:
        if _local(child) == name:
            return child
    return None


def _child_text(node: etree._Element, name: str) -> str:
    child = _child(node, name)
    return (child.text or "").strip() if child is not None else ""
