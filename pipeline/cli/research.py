"""Research commands: `newsmon sql`, `search`, `export`, `db schema-doc`, `db grant-reader`.

Thin like the rest of the CLI: parse options, call `pipeline.research`, print.
`pipeline.cli.main` mounts them.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

import click
import psycopg
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipeline import research
from pipeline.cli.database import pipeline_url
from pipeline.cli.output import printable
from pipeline.config import Settings

err = Console(stderr=True, soft_wrap=True)


def _connect(settings: Settings) -> psycopg.Connection:
    from pipeline.store import connect

    return connect(pipeline_url(settings), autocommit=True)


def _connect_reader(settings: Settings) -> psycopg.Connection:
    """A reader login's connection: what a researcher's SQL and searches run on."""
    from pipeline.store import DatabaseUnavailable, connect_reader

    if not settings.reader_url:
        pipeline_url(settings)  # start and migrate, as any command would; makes the embedded reader
    try:
        return connect_reader(settings, autocommit=True)
    except DatabaseUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


def _connect_admin(settings: Settings) -> psycopg.Connection:
    from pipeline.store import connect

    return connect(pipeline_url(settings, admin=True), autocommit=True)


def _date(_ctx: click.Context, _param: click.Parameter, value: datetime | None) -> date | None:
    return value.date() if value else None


_DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.command("sql")
@click.argument("query", required=False)
@click.option("-f", "--file", "query_file", type=click.File("r", encoding="utf-8"),
              help="Read the query from a file, e.g. sql/queries/first_outlet_per_story.sql.")
@click.option("--max-rows", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Show at most this many rows (the query is cancelled after them).")
@click.option("--timeout", "timeout_s", default=300.0, show_default=True,
              type=click.FloatRange(min=0), help="Cancel the query after this many seconds.")
@click.pass_obj
def sql_command(settings: Settings, query: str | None, query_file, max_rows: int,
                timeout_s: float) -> None:
    """Run one SQL query in a read-only transaction and print a table."""
    if query_file is not None:
        query = query_file.read()
    if not query or not query.strip():
        raise click.UsageError("give a QUERY or --file")
    with _connect_reader(settings) as conn:
        try:
            result = research.run_read_only(conn, query.strip().rstrip(";"), max_rows=max_rows,
                                            timeout_s=timeout_s or None)
        except psycopg.Error as exc:
            raise click.ClickException(f"sql: {str(exc).strip()}") from exc
    table = Table(*result.columns, show_lines=False)
    for row in result.rows:
        table.add_row(*(escape(_cell(value)) for value in row))
    Console(soft_wrap=False).print(table)
    more = " (more rows exist; use --max-rows or `newsmon export`)" if result.truncated else ""
    err.print(f"{len(result.rows)} row(s){more}")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, list | dict):
        return printable(json.dumps(value, ensure_ascii=False, default=str))
    return printable(str(value), keep="\t\n")  # a table cell may span lines


@click.command("search")
@click.argument("query")
@click.option("--lang", type=click.Choice(["en", "es"]),
              help="Only articles in this language (default: each in its own).")
@click.option("--since", type=_DATE, callback=_date, help="Published on or after (YYYY-MM-DD).")
@click.option("--entity", help="Only articles mentioning this watchlist entity id.")
@click.option("--relevant", is_flag=True, help="Only articles relevant to the watchlist.")
@click.option("--watchlist", help="Watchlist for --relevant (default: NEWSMON_WATCHLIST).")
@click.option("--titles", is_flag=True,
              help="Fuzzy search on headlines (typos welcome) instead of full text.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per hit on stdout.")
@click.pass_obj
def search_command(settings: Settings, query: str, lang: str | None, since: date | None,
                   entity: str | None, relevant: bool, watchlist: str | None, titles: bool,
                   limit: int, as_json: bool) -> None:
    """Search all stored articles, English and Spanish, accents ignored, best first.

    QUERY uses web-search syntax: words, "a quoted phrase", OR, -excluded.
    """
    find = research.search_titles if titles else research.search_articles
    with _connect_reader(settings) as conn:
        try:
            hits = find(conn, query, lang=lang, since=since, entity=entity, relevant=relevant,
                        watchlist=watchlist or settings.watchlist, limit=limit)
        except research.ResearchError as exc:
            raise click.ClickException(str(exc)) from exc
    if as_json:
        for hit in hits:
            click.echo(json.dumps(asdict(hit), ensure_ascii=False, default=_jsonable))
        return
    out = Console()
    for number, hit in enumerate(hits, start=1):
        when = hit.published_at.date().isoformat() if hit.published_at else "undated"
        out.print(f"[bold]{number}. {escape(printable(hit.title or '(no title)'))}[/bold]")
        out.print(f"   {when} · {escape(printable(hit.outlet))} · {hit.lang or '?'} · rank "
                  f"{hit.rank:.3f} · article {hit.article_id}", style="dim")
        out.print(f"   {escape(printable(hit.url))}", style="blue", soft_wrap=True)
        if not titles and hit.snippet:
            snippet = escape(printable(" ".join(hit.snippet.split())))
            snippet = snippet.replace("<b>", "[bold yellow]")
            out.print("   " + snippet.replace("</b>", "[/bold yellow]"))
    err.print(f"{len(hits)} hit(s)")


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@click.command("export")
@click.option("--since", type=_DATE, callback=_date, help="Published on or after (YYYY-MM-DD).")
@click.option("--until", type=_DATE, callback=_date, help="Published on or before (YYYY-MM-DD).")
@click.option("--format", "fmt", type=click.Choice(research.EXPORT_FORMATS), default="csv",
              show_default=True)
@click.option("--relevant", is_flag=True, help="Only articles relevant to the watchlist.")
@click.option("--watchlist", help="Watchlist for relevance columns (default: NEWSMON_WATCHLIST).")
@click.option("-o", "--output", default="-", show_default=True,
              type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="File to write, or - for stdout.")
@click.pass_obj
def export_command(settings: Settings, since: date | None, until: date | None, fmt: str,
                   relevant: bool, watchlist: str | None, output: Path) -> None:
    """Stream articles (with text, story, relevance, entities) as CSV, JSON Lines or Parquet."""
    if since and until and since > until:
        raise click.BadParameter("--since is after --until")
    to_stdout = str(output) == "-"
    if to_stdout and fmt == "parquet" and sys.stdout.isatty():
        raise click.ClickException("export: Parquet is binary; use --output FILE")
    with _connect_reader(settings) as conn, _output(output) as out:
        try:
            count = research.export_articles(
                conn, out, fmt=fmt, since=since, until=until, relevant=relevant,
                watchlist=watchlist or settings.watchlist)
        except research.ResearchError as exc:
            raise click.ClickException(str(exc)) from exc
        except psycopg.Error as exc:
            raise click.ClickException(f"export: {str(exc).strip()}") from exc
    err.print(f"exported {count} article(s)" + ("" if to_stdout else f" to {output}"))


@contextmanager
def _output(path: Path) -> Iterator[BinaryIO]:
    """stdout for -, else the file, removed again if the export fails half way."""
    if str(path) == "-":
        yield sys.stdout.buffer
        return
    handle = path.open("wb")
    try:
        yield handle
    except BaseException:
        handle.close()
        path.unlink(missing_ok=True)  # a partial export would look complete
        raise
    handle.close()


@click.command("schema-doc")
@click.option("--check", is_flag=True,
              help="Do not write; exit 1 if the document differs from the database.")
@click.option("-o", "--output", default=research.SCHEMA_DOC, show_default=True,
              type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def schema_doc_command(settings: Settings, check: bool, output: Path) -> None:
    """Write docs/schema.md from the database's COMMENT ONs (after migrating)."""
    with _connect(settings) as conn:
        text = research.render_schema_doc(conn)
    current = output.read_text(encoding="utf-8") if output.is_file() else None
    if check:
        if current != text:
            err.print(f"[red]{output} is out of date: run `newsmon db schema-doc`[/red]")
            sys.exit(1)
        err.print(f"{output} is up to date")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    err.print(f"wrote {output}" + (" (unchanged)" if current == text else ""))


@click.command("grant-reader")
@click.argument("name")
@click.option("--password", "password_mode", type=click.Choice(["generate", "prompt", "none"]),
              default="generate", show_default=True,
              help="generate: print a new random one; none: for trust/peer authentication.")
@click.option("--statement-timeout", help="e.g. 5min (default: newsmon_reader's, 60s).")
@click.pass_obj
def grant_reader_command(settings: Settings, name: str, password_mode: str,
                         statement_timeout: str | None) -> None:
    """Create or update NAME, a read-only login for a researcher (run with a superuser URL).

    Like `newsmon db grant-login NAME --role reader`, with a generated password by default.
    """
    password = {"generate": lambda: secrets.token_urlsafe(18),
                "prompt": lambda: click.prompt("Password", hide_input=True,
                                               confirmation_prompt=True),
                "none": lambda: None}[password_mode]()
    with _connect_admin(settings) as conn:
        try:
            research.grant_reader(conn, name, password, statement_timeout=statement_timeout)
        except research.ResearchError as exc:
            raise click.ClickException(str(exc)) from exc
        except psycopg.Error as exc:
            raise click.ClickException(f"grant-reader: {str(exc).strip()}") from exc
        conninfo = research.reader_conninfo(conn.info.dsn, name, password)
    err.print(f"{name} can now read the research tables and views (not subscribers).")
    click.echo(conninfo)
