"""Sources: the sources file, and one adapter per kind turning a response into FeedItems.

Kinds: `rss` (RSS, Atom, RDF, JSON Feed), `google_news` (search RSS), `gdelt` (DOC 2.0
API), `sitemap` (news sitemaps and sitemap indexes), `newsapi` (keyed search API).
"""

from __future__ import annotations

import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import Settings
from pipeline.models import FeedItem, Response, Source
from pipeline.sources import gdelt, google_news, newsapi, rss, sitemap
from pipeline.sources.errors import FeedParseError, SourceSkipped

if TYPE_CHECKING:
    from pipeline.http import HttpClient

__all__ = ["ADAPTERS", "PARSERS", "FeedParseError", "SourceSkipped", "SourcesFileError",
           "collect_items", "load_sources_file", "parse_items", "request_headers",
           "request_url"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Adapter:
    parse: Callable[[Source, Response], list[FeedItem]]
    # Builds the URL polled from the source's params (default: source.url as is).
    request_url: Callable[[Source], str] | None = None
    # Extra request headers, e.g. an API key; raises SourceSkipped when one is missing.
    request_headers: Callable[[Source, Settings], dict[str, str]] | None = None
    # Replaces `parse` when reading the items takes more requests (sitemap indexes).
    collect: Callable[[HttpClient, Source, Response], Awaitable[list[FeedItem]]] | None = None


ADAPTERS: dict[str, Adapter] = {
    "rss": Adapter(parse=rss.parse_response),
    "google_news": Adapter(parse=google_news.parse_response,
                           request_url=google_news.request_url),
    "gdelt": Adapter(parse=gdelt.parse_response, request_url=gdelt.request_url),
    "sitemap": Adapter(parse=sitemap.parse_response, collect=sitemap.collect_items),
    "newsapi": Adapter(parse=newsapi.parse_response, request_url=newsapi.request_url,
                       request_headers=newsapi.request_headers),
}

# kind -> parser of a fetched response.
PARSERS: dict[str, Callable[[Source, Response], list[FeedItem]]] = {
    kind: adapter.parse for kind, adapter in ADAPTERS.items()
}


class SourcesFileError(ValueError):
    """The sources file cannot be used at all."""


def load_sources_file(path: Path) -> list[Source]:
    """Read `[[sources]]` tables (name, url, kind='rss', language?, tags?, params?)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SourcesFileError(f"sources: cannot read {path}: {exc}") from exc
    sources, names = [], set()
    for index, entry in enumerate(data.get("sources", []), start=1):
        try:
            source = Source(
                name=str(entry["name"]).strip(),
                url=str(entry["url"]).strip(),
                kind=str(entry.get("kind", "rss")),
                language=entry.get("language"),
                tags=tuple(entry.get("tags", ())),
                params=dict(entry.get("params", {})),
            )
        except (KeyError, TypeError) as exc:
            raise SourcesFileError(f"sources: entry {index} in {path} lacks {exc}") from exc
        problem = source_problem(source)
        if problem:
            raise SourcesFileError(f"sources: entry {source.name!r} {problem}")
        if source.name in names:
            raise SourcesFileError(f"sources: name {source.name!r} appears twice in {path}")
        names.add(source.name)
        sources.append(source)
    return sources


def source_problem(source: Source) -> str | None:
    """Why the source cannot be polled as written (unknown kind, missing query), or None."""
    if source.kind not in ADAPTERS:
        return f"has unknown kind {source.kind!r} (known: {', '.join(sorted(ADAPTERS))})"
    try:
        request_url(source)
    except ValueError as exc:
        return f"is incomplete: {exc}"
    return None


def parse_items(source: Source, response: Response) -> list[FeedItem]:
    return PARSERS[source.kind](source, response)


def request_url(source: Source) -> str:
    """The URL to poll: source.url, or the adapter's URL built from source.params."""
    build = ADAPTERS[source.kind].request_url
    return build(source) if build else source.url


def request_headers(source: Source, settings: Settings) -> dict[str, str]:
    build = ADAPTERS[source.kind].request_headers
    return build(source, settings) if build else {}


async def collect_items(client: HttpClient, source: Source, response: Response) -> list[FeedItem]:
    """The items in a fetched response, fetching more where the kind needs it."""
    collect = ADAPTERS[source.kind].collect
    if collect is not None:
        return await collect(client, source, response)
    return parse_items(source, response)
