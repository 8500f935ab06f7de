"""`newsmon sources ...`: manage what newsmon polls, and see how each source is doing.

The sources file and the `sources` table:
- The sources file (NEWSMON_SOURCES, or the packaged default) is synced into the table by
  every run and by these commands; its entries have origin `file`. Edit the file to change
  them; a changed URL there replaces the stored one (which a 301 may have moved).
- `add` and `import-opml` write to the table only (origin `cli`); they survive edits of
  the file. A run polls the file's sources plus these, whichever are due.
- `remove` disables a source of either origin (history stays for researchers); a removed
  or 410-disabled source stays off, even if the file lists it, until `enable`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import psycopg
from lxml import etree
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipeline.cli.database import pipeline_url
from pipeline.cli.output import printable
from pipeline.config import Settings
from pipeline.models import Source
from pipeline.store.sources import add_source, enable_source, list_sources, remove_source


@click.group("sources")
def sources_group() -> None:
    """The feeds and queries newsmon polls: add, remove, import/export, health, discovery."""


@contextmanager
def _database(settings: Settings) -> Iterator[psycopg.Connection]:
    from pipeline.store import connect

    with connect(pipeline_url(settings), autocommit=True) as conn:
        yield conn


def _file_sources(settings: Settings) -> list[Source]:
    from pipeline.sources import SourcesFileError, load_sources_file

    try:
        return load_sources_file(settings.sources_file)
    except SourcesFileError as exc:
        raise click.ClickException(str(exc)) from exc


def _registered(conn: psycopg.Connection, settings: Settings) -> list[Source]:
    from pipeline.store.sources import registered_sources

    return registered_sources(conn, _file_sources(settings))


def _parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--param")
        params[key.strip()] = value.strip()
    return params


@sources_group.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--kind", default="rss", show_default=True,
              help="rss, google_news, gdelt, sitemap or newsapi.")
@click.option("--language", help="Expected language (ISO 639-1), e.g. es.")
@click.option("--tag", "tags", multiple=True, help="A tag; repeat for more.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Adapter parameter, e.g. query=\"Tren de Aragua\"; repeat for more.")
@click.pass_obj
def add_command(settings: Settings, name: str, url: str, kind: str, language: str | None,
                tags: tuple[str, ...], params: tuple[str, ...]) -> None:
    """Add a source to the table (it is polled from the next run on)."""
    from pipeline.sources import source_problem

    source = Source(name=name.strip(), url=url.strip(), kind=kind, language=language,
                    tags=tags, params=_parse_params(params))
    problem = source_problem(source)
    if problem:
        raise click.ClickException(f"sources: {source.name!r} {problem}")
    with _database(settings) as conn:
        _registered(conn, settings)  # the file's names are taken
        if not add_source(conn, source):
            raise click.ClickException(f"sources: {source.name!r} already exists "
                                       "(see `newsmon sources list`)")
    click.echo(f"added {source.name} ({source.kind}) {source.url}")


@sources_group.command("list")
@click.pass_obj
def list_command(settings: Settings) -> None:
    """Every source in the table, with where it comes from and its state."""
    with _database(settings) as conn:
        in_file = {s.name for s in _file_sources(settings)}
        _registered(conn, settings)
        rows = list_sources(conn)
    table = Table(title=f"{len(rows)} sources")
    # `sources.status` is the scheduler's mode (active, failing: polled rarely, disabled);
    # the health verdict is `newsmon sources check`'s (pipeline/store/sources.py).
    for column in ("name", "kind", "origin", "schedule", "next poll", "url"):
        table.add_column(column)
    for name, kind, origin, status, url, next_poll_at, reason in rows:
        if origin == "file" and name not in in_file:
            status = "not in file (not polled)"
        elif reason:
            status = f"{status}: {reason}"
        table.add_row(*(escape(printable(cell)) for cell in (
            name, kind, origin, status, _when(next_poll_at), url)))
    Console(width=200).print(table)


@sources_group.command("remove")
@click.argument("name")
@click.pass_obj
def remove_command(settings: Settings, name: str) -> None:
    """Stop polling a source (its articles and history stay)."""
    with _database(settings) as conn:
        origin = remove_source(conn, name)
    if origin is None:
        raise click.ClickException(f"sources: no source named {name!r}")
    click.echo(f"removed {name}")
    if origin == "file" and name in {s.name for s in _file_sources(settings)}:
        click.echo(f"note: it is still listed in {settings.sources_file}; it stays off until "
                   f"`newsmon sources enable {name!r}`")


@sources_group.command("enable")
@click.argument("name")
@click.pass_obj
def enable_command(settings: Settings, name: str) -> None:
    """Poll a removed, disabled (410) or failing source again, from the next run."""
    with _database(settings) as conn:
        if not enable_source(conn, name):
            raise click.ClickException(f"sources: no source named {name!r}")
    click.echo(f"enabled {name}")


@sources_group.command("import-opml")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def import_opml_command(settings: Settings, file: Path) -> None:
    """Add every feed of an OPML file (folders become tags); known names are skipped."""
    from pipeline.sources import source_problem

    try:
        found = read_opml(file.read_bytes())
    except ValueError as exc:
        raise click.ClickException(f"sources: {file}: {exc}") from exc
    added = skipped = 0
    with _database(settings) as conn:
        _registered(conn, settings)
        for source in found:
            if source_problem(source) or not add_source(conn, source):
                skipped += 1
            else:
                added += 1
    click.echo(f"imported {added} sources from {file} ({skipped} skipped: already present "
               "or incomplete)")


@sources_group.command("export-opml")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.pass_obj
def export_opml_command(settings: Settings, file: Path | None) -> None:
    """Write the sources a run polls as OPML 2.0 to FILE (default: stdout)."""
    with _database(settings) as conn:
        sources = _registered(conn, settings)
    document = write_opml(sources)
    if file is None:
        click.echo(document.decode("utf-8"), nl=False)
    else:
        file.write_bytes(document)
        click.echo(f"exported {len(sources)} sources to {file}")


def read_opml(data: bytes) -> list[Source]:
    """Sources from OPML outlines with an xmlUrl; the enclosing folders' names become tags."""
    from pipeline.sources import ADAPTERS

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not an OPML file ({exc})") from exc
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise ValueError("not an OPML file (no <opml><body>)")
    sources, names = [], set()
    for outline in body.iter("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        if not url:
            continue
        name = (outline.get("title") or outline.get("text") or url).strip()
        if name in names:
            continue
        names.add(name)
        kind = outline.get("type", "rss").lower()
        folders = [a.get("text") or a.get("title") for a in outline.iterancestors("outline")]
        tags = [t.strip() for t in (outline.get("category") or "").split(",") if t.strip()]
        sources.append(Source(
            name=name, url=url, kind=kind if kind in ADAPTERS else "rss",
            language=outline.get("language") or None,
            tags=tuple(dict.fromkeys([*reversed([f for f in folders if f]), *tags])),
        ))
    return sources


def write_opml(sources: list[Source]) -> bytes:
    from pipeline.sources import request_url

    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = "newsmon sources"
    etree.SubElement(head, "dateCreated").text = datetime.now(UTC).strftime(
        "%a, %d %b %Y %H:%M:%S GMT")
    body = etree.SubElement(root, "body")
    for source in sources:
        outline = etree.SubElement(body, "outline", type=source.kind, text=source.name,
                                   title=source.name, xmlUrl=request_url(source))
        if source.language:
            outline.set("language", source.language)
        if source.tags:
            outline.set("category", ",".join(source.tags))
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


@sources_group.command("check")
@click.pass_obj
def check_command(settings: Settings) -> None:
    """Each source's health (worst first): last success, error streak, items/day, median
    poll latency over 7 days. The same verdict as the feed_health view and the maintenance
    report."""
    from pipeline.store.sources import source_health

    with _database(settings) as conn:
        _registered(conn, settings)
        rows = source_health(conn)
    table = Table(title="source health")
    for column in ("name", "health", "last success", "error streak", "items/day",
                   "median latency", "next poll", "last error"):
        table.add_column(column, justify="right" if column in (
            "error streak", "items/day", "median latency") else "left")
    for row in rows:
        table.add_row(*(escape(printable(cell)) for cell in (
            row.name, row.health, _when(row.last_success_at), str(row.error_streak),
            "-" if row.items_per_day is None else f"{row.items_per_day:.1f}",
            "-" if row.median_poll_ms is None else f"{row.median_poll_ms:.0f} ms",
            _when(row.next_poll_at) if row.health != "disabled" else "never",
            (row.problem or "")[:80],
        )))
    Console(width=220).print(table)


@sources_group.command("discover")
@click.argument("url")
@click.pass_obj
def discover_command(settings: Settings, url: str) -> None:
    """Find the feeds a site offers (<link rel=alternate>, then common paths)."""
    from pipeline.http import FetchError, HttpClient
    from pipeline.sources.discover import discover_feeds

    async def discover() -> list:
        async with HttpClient(settings) as client:
            return await discover_feeds(client, url)

    try:
        found = asyncio.run(discover())
    except FetchError as exc:
        raise click.ClickException(str(exc)) from exc
    if not found:
        raise click.ClickException(f"discover: no feed found at {url} (nor at the usual paths)")
    table = Table(title=f"feeds of {url}")
    for column in ("url", "title", "format", "items", "found by"):
        table.add_column(column)
    for feed in found:
        table.add_row(*(escape(printable(cell)) for cell in (
            feed.url, feed.problem or feed.title, feed.format, str(feed.items), feed.how)))
    Console(width=200).print(table)
    click.echo("add one with: newsmon sources add NAME URL")


@sources_group.command("try")
@click.argument("target")
@click.option("--kind", help="Source kind (rss, google_news, bing_news, gdelt, newsapi, "
              "guardian, sitemap); guessed from the URL or the file's content when omitted.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A source parameter, e.g. query=... for gdelt or newsapi (repeatable).")
@click.option("--language", help="The source's language (e.g. es), as in the sources file.")
@click.option("--url", "saved_url", help="With a FILE: the URL it was saved from "
              "(relative links resolve against it).")
@click.option("--sample", default=3, show_default=True,
              help="How many items' pages to fetch, extract and judge.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item, per line.")
@click.pass_obj
def try_command(settings: Settings, target: str, kind: str | None, params: tuple[str, ...],
                language: str | None, saved_url: str | None, sample: int,
                as_json: bool) -> None:
    """Dry-run a source before adding it: TARGET is its URL, or a FILE holding a saved
    response. Polls (or reads the file), parses, resolves links and fetches, extracts and
    judges the first few items' pages. Stores nothing; exits non-zero with the service's
    own message when it refuses (a rejected query, a missing API key)."""
    from pipeline.ingest.trial import TrialError, guess_kind, saved_response, try_source
    from pipeline.sources import ADAPTERS

    path = Path(target)
    saved = saved_response(path, url=saved_url) if path.is_file() else None
    if saved is None and not target.startswith(("http://", "https://")):
        raise click.BadParameter(f"{target!r} is neither a file nor an http(s) URL",
                                 param_hint="TARGET")
    kind = kind or guess_kind(saved_url or target, saved.body if saved else None)
    if kind not in ADAPTERS:
        raise click.BadParameter(f"unknown kind {kind!r} (known: {', '.join(sorted(ADAPTERS))})",
                                 param_hint="--kind")
    source = Source(name=f"try {target}"[:200], url=saved_url or target, kind=kind,
                    language=language, params=_parse_params(params))
    try:
        tried = asyncio.run(try_source(settings, source, saved=saved, sample=max(0, sample)))
    except TrialError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        for entry in tried:
            click.echo(json.dumps(entry.as_json(), ensure_ascii=False))
        return
    table = Table(title=f"{len(tried)} items from {target} ({kind}); nothing stored")
    for column in ("title", "url", "published", "page"):
        table.add_column(column)
    for entry in tried:
        row = entry.as_json()
        if entry.error:
            page = f"error: {entry.error}"
        elif entry.fetched:
            page = (f"{entry.fulltext_status}, {entry.chars:,} chars, "
                    f"{'relevant' if entry.relevant else 'not relevant'} ({entry.score})")
        else:
            page = "not fetched"
        table.add_row(*(escape(printable(cell)) for cell in (
            row["title"], row["url"] or f"unresolved: {row['unresolved_reason']}",
            row["published_at"] or "-", page)))
    Console(width=220).print(table)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    delta = moment - datetime.now(UTC)
    ago = delta < timedelta(0)
    seconds = abs(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            amount = f"{seconds / size:.0f} {unit}"
            break
    else:
        amount = f"{seconds:.0f} s"
    return f"{amount} ago" if ago else f"in {amount}"
