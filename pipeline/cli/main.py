"""`newsmon ...`: the command line. Thin: parse options, call a stage, print."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipeline.cli.alerts import alerts, serve, subscribers
from pipeline.cli.database import console, pipeline_url
from pipeline.cli.events import cluster_command, eval_events_command
from pipeline.cli.extract import eval_extract_command, prune_raw_command, reextract_command
from pipeline.cli.output import printable
from pipeline.cli.research import (
    export_command,
    grant_reader_command,
    schema_doc_command,
    search_command,
    sql_command,
)
from pipeline.cli.sources import sources_group
from pipeline.config import Settings, load_settings
from pipeline.store import DatabaseError, DatabaseUnavailable


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log progress details to stderr.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """newsmon: watch the news for one subject, store it in PostgreSQL, alert subscribers."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        ctx.obj = load_settings()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--sources", "sources_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Sources file (TOML) instead of NEWSMON_SOURCES or the default one.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--due-only", is_flag=True,
              help="Poll only the sources whose schedule says they are due (as the scheduler does).")
@click.pass_obj
def run(settings: Settings, sources_file: Path | None, as_json: bool, due_only: bool) -> None:
    """Run one ingestion cycle over the configured sources."""
    from pipeline.sources import SourcesFileError, load_sources_file

    if sources_file:
        settings = settings.replace(sources_file=sources_file)
    try:
        sources = load_sources_file(settings.sources_file)
    except SourcesFileError as exc:
        raise click.ClickException(str(exc)) from exc
    summary = _run_with_progress(settings, sources, pipeline_url(settings), due_only=due_only)
    if as_json:
        click.echo(json.dumps({"run_id": summary.run_id, **summary.as_dict()}))
    else:
        _print_summary(summary)


def _run_with_progress(settings: Settings, sources: list, db_url: str, *,
                       due_only: bool = False):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from pipeline.ingest.cycle import run_cycle

    progress = Progress(TextColumn("articles"), BarColumn(), MofNCompleteColumn(),
                        console=console, transient=True, disable=not console.is_terminal)
    with progress:
        task = progress.add_task("articles", total=0)

        def observe(event: str, count: int) -> None:
            if event == "items-found":
                progress.update(task, total=(progress.tasks[0].total or 0) + count)
            else:
                progress.advance(task, count)

        try:
            return run_cycle(settings, sources=sources, db_url=db_url, observer=observe,
                             due_only=due_only)
        except DatabaseUnavailable as exc:
            console.print(f"[red]{exc}[/red]")
            sys.exit(2)
        except DatabaseError as exc:  # refused, not unreachable: retrying soon will not help
            console.print(f"[red]{exc}[/red]")
            sys.exit(1)


def _print_summary(summary) -> None:
    if summary.skipped_locked:
        console.print("Another cycle is running; this one was skipped.")
        return
    table = Table(title=f"newsmon run {summary.run_id}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in summary.as_dict().items():
        table.add_row(key.replace("_", " "), str(value))
    Console().print(table)
    for line in summary.error_lines():  # URLs and messages from the sites polled
        console.print(f"[yellow]{escape(printable(line))}[/yellow]")


@main.command()
@click.argument("page", type=click.File("rb"))
@click.option("--url", default="http://localhost/", help="The page's URL (for relative links).")
def extract(page, url: str) -> None:
    """Print the article extracted from PAGE.html as JSON."""
    from pipeline.extract.page import ExtractError, extract_article

    try:
        article = extract_article(page.read(), url=url)
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({
        "title": article.title,
        "text": article.text,
        "author": article.author,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "lang": article.lang,
        "site_name": article.site_name,
    }, ensure_ascii=False))


@main.command("match")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--watchlist", help="Watchlist name or path (default: NEWSMON_WATCHLIST).")
@click.pass_obj
def match_command(settings: Settings, source, watchlist: str | None) -> None:
    """Judge JSONL lines {"id","title","text","lang"?}; print one verdict per line."""
    from pipeline.match import load_watchlist, match_article

    wl = load_watchlist(watchlist or settings.watchlist)
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            verdict = match_article(wl, title=item.get("title") or "", text=item.get("text") or "",
                                    lang=item.get("lang"))
        except (ValueError, AttributeError) as exc:
            console.print(f"[yellow]match: line {number} skipped: {exc}[/yellow]")
            continue
        click.echo(json.dumps({
            "id": item.get("id"),
            "relevant": verdict.relevant,
            "score": round(verdict.score, 4),
            "evidence": [e.as_json() for e in verdict.evidence],
        }, ensure_ascii=False))


@main.command("eval")
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--watchlist", help="Watchlist name or path (default: NEWSMON_WATCHLIST).")
@click.pass_obj
def eval_command(settings: Settings, dataset: Path, watchlist: str | None) -> None:
    """Score the matcher on labelled JSONL ({..., "label": "relevant"|"irrelevant"})."""
    from pipeline.match import evaluate_file, load_watchlist

    report = evaluate_file(dataset, load_watchlist(watchlist or settings.watchlist))
    click.echo(report.format())


@main.group()
def db() -> None:
    """The store: URL and migrations."""


@db.command("url")
@click.pass_obj
def db_url(settings: Settings) -> None:
    """Print the connection URL (starting the embedded server if needed)."""
    click.echo(pipeline_url(settings))


@db.command("migrate")
@click.pass_obj
def db_migrate(settings: Settings) -> None:
    """Apply pending migrations (a no-op when the schema is current)."""
    from pipeline.store import apply_migrations, connect, database_url

    with connect(database_url(settings), autocommit=True) as conn:
        applied = apply_migrations(conn)
    click.echo("\n".join(f"applied {name}" for name in applied) or "schema is current")


@db.command("grant-login")
@click.argument("name")
@click.option("--role", "role", required=True, type=click.Choice(["owner", "reader", "web"]),
              help="owner: runs the pipeline and migrations; reader: researchers' read-only "
                   "SQL; web: the subscriber pages.")
@click.option("--password-env", metavar="VAR",
              help="Set the password from environment variable VAR (at least 16 characters). "
                   "Without it a new login has no password (trust or peer authentication) "
                   "and an existing one keeps its own.")
@click.pass_obj
def db_grant_login(settings: Settings, name: str, role: str, password_env: str | None) -> None:
    """Create or update login NAME in one newsmon group (run with a superuser URL)."""
    import psycopg

    from pipeline.store import connect
    from pipeline.store.roles import GROUPS, MIN_PASSWORD_LENGTH, RoleError, grant_login

    password = None
    if password_env:
        password = os.environ.get(password_env, "")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise click.ClickException(
                f"grant-login: ${password_env} is unset, empty or shorter than "
                f"{MIN_PASSWORD_LENGTH} characters")
    admin_url = pipeline_url(settings, admin=True)  # migrated: the groups come from the migrations
    try:
        with connect(admin_url, autocommit=True) as conn:
            grant_login(conn, name, role=role, password=password)
    except RoleError as exc:
        raise click.ClickException(str(exc)) from exc
    except psycopg.Error as exc:
        raise click.ClickException(f"grant-login: {str(exc).strip()}") from exc
    console.print(f"{name} can now log in as a member of {GROUPS[role]}.")


@db.command("stop")
@click.pass_obj
def db_stop(settings: Settings) -> None:
    """Stop the embedded server (it otherwise keeps running between commands)."""
    from pipeline.store.connection import stop_embedded

    click.echo("stopped" if stop_embedded(settings) else "the embedded server was not running")


@main.command()
@click.pass_obj
def demo(settings: Settings) -> None:
    """Run the whole pipeline offline against bundled feeds served on loopback."""
    from pipeline.demo import demo_site, print_outcome

    # The demo creates a database of its own, which takes the superuser.
    admin_url = pipeline_url(settings, migrate=False, admin=True)
    with demo_site(settings, admin_url) as (demo_settings, sources, url):
        summary = _run_with_progress(demo_settings, sources, url)
    _print_summary(summary)
    print_outcome(url)



for command in (subscribers, alerts, serve, sql_command, search_command, export_command,
                sources_group, reextract_command, eval_extract_command, prune_raw_command,
                cluster_command, eval_events_command):
    main.add_command(command)
db.add_command(schema_doc_command)
db.add_command(grant_reader_command)

if __name__ == "__main__":
    main()
