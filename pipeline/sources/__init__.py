"""Sources: the sources file, and one adapter per kind turning a response into FeedItems.

Kinds: `rss` (RSS, Atom, RDF, JSON Feed), `google_news` and `bing_news` (keyless search
RSS, links resolved to publisher URLs), `gdelt` (DOC 2.0 API), `sitemap` (news sitemaps and
sitemap indexes), `newsapi` (keyed search API), `guardian` (keyed full-text API: its items
carry the article's text, so the cycle fetches no page for them).
"""

from __future__ import annotations

import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import Settings
from pipeline.errors import ConfigurationError
from pipeline.models import FeedItem, ParsedFeed, Response, Source
from pipeline.sources import bing_news, gdelt, google_news, guardian, newsapi, rss, sitemap
from pipeline.sources.errors import FeedParseError, SourceSkipped

if TYPE_CHECKING:
    from pipeline.http import HttpClient

__all__ = ["ADAPTERS", "PARSERS", "FeedParseError", "Runner", "SourceSkipped",
           "SourcesFileError", "collect_items", "load_sources_file", "parse_items",
           "read_items", "request_headers", "request_url", "run_here"]

# `await run(fn, *args, **kwargs)`: fn's result (or exception), computed wherever the
# runner chooses. Parsing is CPU work: a cycle runs it in its worker processes, so the
# event loop keeps every other source's requests moving meanwhile.
Runner = Callable[..., Awaitable[Any]]


async def run_here(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run `fn` on the event loop itself: for a one-off poll (the CLI, tests) only."""
    return fn(*args, **kwargs)


# A response's items; or a ParsedFeed when the adapter also notes what it left out.
Parse = Callable[[Source, Response], list[FeedItem] | ParsedFeed]


@dataclass(frozen=True, slots=True, kw_only=True)
class Adapter:
    parse: Parse
    # Builds the URL polled from the source's params (default: source.url as is).
    request_url: Callable[[Source], str] | None = None
    # Extra request headers, e.g. an API key; raises SourceSkipped when one is missing.
    request_headers: Callable[[Source, Settings], dict[str, str]] | None = None
    # Replaces `parse` when reading the items takes more requests (sitemap indexes).
    collect: Callable[..., Awaitable[ParsedFeed]] | None = None
    # The body is an RSS, Atom, RDF or JSON feed: its entries are capped before parsing.
    feed: bool = False
    # Reads an API's own words in an error answer (status, headers, start of the body) as
    # SourceMisconfigured or SourceRateLimited; None leaves the HTTP error as it is.
    explain_error: Callable[[Source, Response], Exception | None] | None = None


ADAPTERS: dict[str, Adapter] = {
    "rss": Adapter(parse=rss.parse_response, feed=True),
    "google_news": Adapter(parse=google_news.parse_response,
                           request_url=google_news.request_url, feed=True),
    "gdelt": Adapter(parse=gdelt.parse_response, request_url=gdelt.request_url,
                     explain_error=gdelt.explain_error),
    "sitemap": Adapter(parse=sitemap.parse_response, collect=sitemap.collect_items),
    "newsapi": Adapter(parse=newsapi.parse_response, request_url=newsapi.request_url,
                       request_headers=newsapi.request_headers,
                       explain_error=newsapi.explain_error),
    "bing_news": Adapter(parse=bing_news.parse_response, request_url=bing_news.request_url,
                         feed=True),
    "guardian": Adapter(parse=guardian.parse_response, request_url=guardian.request_url,
                        request_headers=guardian.request_headers,
                        explain_error=guardian.explain_error),
}

# kind -> parser of a fetched response.
PARSERS: dict[str, Parse] = {kind: adapter.parse for kind, adapter in ADAPTERS.items()}


class SourcesFileError(ConfigurationError):
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
    return _as_parsed(PARSERS[source.kind](source, response)).items


def _as_parsed(parsed: list[FeedItem] | ParsedFeed) -> ParsedFeed:
    return parsed if isinstance(parsed, ParsedFeed) else ParsedFeed(items=parsed)


def request_url(source: Source) -> str:
    """The URL to poll: source.url, or the adapter's URL built from source.params."""
    build = ADAPTERS[source.kind].request_url
    return build(source) if build else source.url


def request_headers(source: Source, settings: Settings) -> dict[str, str]:
    build = ADAPTERS[source.kind].request_headers
    return build(source, settings) if build else {}


def read_items(source: Source, response: Response) -> ParsedFeed:
    """The items of one response, a feed's entries capped first (`rss.cap_entries`).

    A pure function of its arguments, so a worker process can run it.
    """
    notes: tuple[str, ...] = ()
    if ADAPTERS[source.kind].feed:
        body, listed = rss.cap_entries(response.body, limit=rss.MAX_ENTRIES)
        if listed > rss.MAX_ENTRIES:
            response = replace(response, body=body)
            tail = rss.MAX_ENTRIES // 2
            note = (f"parse: feed lists {listed} entries; kept the first "
                    f"{rss.MAX_ENTRIES - tail} and the last {tail}")
            notes = (note,)
    parsed = _as_parsed(PARSERS[source.kind](source, response))
    return ParsedFeed(items=parsed.items, notes=notes + parsed.notes)


async def collect_items(client: HttpClient, source: Source, response: Response, *,
                        run: Runner = run_here) -> ParsedFeed:
    """The items in a fetched response, fetching more where the kind needs it; parsing
    goes through `run`."""
    collect = ADAPTERS[source.kind].collect
    if collect is not None:
        return await collect(client, source, response, run=run)
    return await run(read_items, source, response)
