"""Sources: the sources file, and one adapter per kind turning a response into FeedItems."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

from pipeline.models import FeedItem, Response, Source
from pipeline.sources import rss

# kind -> parser of a fetched response. Adapters that need to build their own
# request URL from params expose `request_url(source)`.
PARSERS: dict[str, Callable[[Source, Response], list[FeedItem]]] = {
    "rss": rss.parse_response,
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
        if source.kind not in PARSERS:
            raise SourcesFileError(f"sources: entry {source.name!r} has unknown kind {source.kind!r}")
        if source.name in names:
            raise SourcesFileError(f"sources: name {source.name!r} appears twice in {path}")
        names.add(source.name)
        sources.append(source)
    return sources


def parse_items(source: Source, response: Response) -> list[FeedItem]:
    return PARSERS[source.kind](source, response)
